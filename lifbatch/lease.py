"""One writer per store: the run lease, and the fence every commit passes.

A command takes a lease on its store before it creates, replaces or writes anything:
the file ``<store>/_lifbatch/lease.json`` (inside the store's own ``_lifbatch``
group, where Zarr and xarray do not look; JSON: owner, host, pid, command, a random
token, when it started and its last heartbeat), created atomically
(``O_CREAT | O_EXCL``). The holder renews the heartbeat every
``lifbatch.lease.heartbeat`` and removes the file when it ends.

Fencing (docs/store-layout.md, "One writer"): a lease only protects the store if
every commit checks it. Before each commit (a block's data and its marker, a
template, summarize's and a growth's commits and swaps) the writer calls
:meth:`Fence.check`: the lease file still holds its token, and the holder renewed
it within ``lifbatch.lease.timeout`` by its own clock (``CLOCK_BOOTTIME``, which
counts a suspended laptop's sleep and a SIGSTOP alike; a worker process checks the
heartbeat's age instead). Another command takes a lease over only when its
heartbeat is older than ``timeout + margin`` (or its process is gone, on this
host), so a holder that passed its check has ``margin`` seconds to finish the
commit it began. A process stopped past the timeout therefore writes nothing
more when it wakes: its check fails (:class:`~lifbatch.errors.LeaseLostError`).
A replaced store (``--overwrite``) also gets a new *generation*; a block marker
written under an old one is not counted (store.read_markers), which closes the
window of a writer stopped between its check and its write.

A sweep submitted with ``--detach`` keeps its lease from the Dask scheduler
(:func:`keep_on_scheduler`) while the sweep's tasks exist and the scheduler has
workers. ``lifbatch status`` reads the lease to tell whether a run is live.

A lease file that cannot be trusted (a heartbeat in the future by more than the
timeout, as another host's wrong clock writes it; NaN; fields of the wrong type;
unreadable JSON) is stale: :func:`stale_reason` says why in one line.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import config, storage
from .errors import LeaseLostError, StoreBusyError
from .layout import LEASE

__all__ = ["Lease", "Fence", "acquire", "read_lease", "lease_state", "stale_reason", "describe", "LEASE_FILE"]

LEASE_FILE = LEASE  # (the name callers used before layout.LEASE)
_KEY = LEASE.as_posix()  # (its key in the store's storage: lifbatch.storage)


def _seconds(key: str) -> float:
    from dask.utils import parse_timedelta  # (deferred: dask loads when a lease is taken, not for --help)

    return float(parse_timedelta(config.get(f"lease.{key}")))


def clock() -> float:
    """Seconds on a clock that never goes back and counts suspended time (CLOCK_BOOTTIME
    on Linux: a laptop's sleep and a SIGSTOP alike), for a holder's own renewals."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):  # not Linux
        return time.monotonic()


def read_lease(store) -> dict | None:
    """The store's lease as written (None when there is none; ``{}`` when it is there but
    unreadable: not JSON, or not an object)."""
    st = storage.of(store)
    if st.local:
        return read_lease_file(Path(store) / LEASE_FILE)
    found = st.read_versioned(_KEY)
    return None if found is None else _parsed(found[0])


def _read_versioned(st) -> tuple[dict | None, object]:
    """(the lease as :func:`read_lease` gives it, its version for a conditional replace)."""
    try:
        found = st.read_versioned(_KEY)
    except OSError:
        return {}, None
    return (None, None) if found is None else (_parsed(found[0]), found[1])


def _parsed(data: bytes) -> dict:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def read_lease_file(path: Path) -> dict | None:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _heartbeat(lease: dict) -> float | None:
    beat = lease.get("heartbeat")
    if isinstance(beat, bool) or not isinstance(beat, (int, float)) or not math.isfinite(beat):
        return None
    return float(beat)


def stale_reason(lease: dict | None, now: float | None = None) -> str | None:
    """Why a lease file is stale regardless of its age (None when it can be trusted):
    unreadable, a heartbeat that is not a finite number, or one in the future by more
    than the timeout (another host's clock), or fields of the wrong type."""
    if lease is None:
        return None
    if not lease or not isinstance(lease.get("token"), str):
        return "the lease file is unreadable or has no token"
    beat = _heartbeat(lease)
    if beat is None:
        return f"its heartbeat {lease.get('heartbeat')!r} is not a time"
    now = time.time() if now is None else now
    if beat - now > _seconds("timeout"):
        return f"its heartbeat is {beat - now:.0f} s in the future (the clock of {_text(lease.get('host'))} is wrong?)"
    if lease.get("pid") is not None and (isinstance(lease.get("pid"), bool) or not isinstance(lease.get("pid"), int)):
        return f"its pid {lease.get('pid')!r} is not a process id"
    return None


def _text(value) -> str:
    return value if isinstance(value, str) else "?"


def lease_state(lease: dict | None, now: float | None = None) -> str:
    """ "none", "live" or "stale": a lease is stale when it cannot be trusted
    (:func:`stale_reason`), its heartbeat is older than ``timeout + margin``, or its
    process is gone (same host)."""
    if lease is None:
        return "none"
    now = time.time() if now is None else now
    if stale_reason(lease, now) is not None:
        return "stale"
    beat = _heartbeat(lease)  # (a number: stale_reason said so)
    if beat is None or now - beat > _seconds("timeout") + _seconds("margin"):
        return "stale"
    if (
        lease.get("host") == socket.gethostname()
        and lease.get("pid")
        and not lease.get("detached")
        and not _pid_alive(int(lease["pid"]))
    ):
        return "stale"
    return "live"


def describe(lease: dict, now: float | None = None) -> str:
    """One phrase for messages: who holds the lease and how recently it was refreshed."""
    now = time.time() if now is None else now
    where = "the Dask scheduler" if lease.get("detached") else f"pid {_text(str(lease.get('pid', '?')))}"
    beat = _heartbeat(lease)
    ago = f"heartbeat {max(0.0, now - beat):.0f} s ago" if beat is not None else "no valid heartbeat"
    workers = lease.get("workers")
    if lease.get("detached") and isinstance(workers, int) and not isinstance(workers, bool):
        ago += f", {workers} worker{'s' if workers != 1 else ''}"
    return f"{_text(lease.get('owner'))} ({where} on {_text(lease.get('host'))}, {ago})"


@dataclass
class Fence:
    """What a writer checks before each commit: that the lease with ``token`` still holds
    the store (the lease file has the token, and its heartbeat is within the timeout),
    and, in the process holding the lease, that it renewed the lease itself within the
    timeout by its own clock. Picklable (sent with the blocks' tasks to Dask workers);
    ``generation`` is the store's, recorded in every block marker. ``epoch`` is new for each
    fence a lease gives (:meth:`Lease.fence`): what a process keeps of the store while it
    writes under one fence (its opened arrays, lifbatch.store) is kept under the store, the
    token, the generation and the epoch, and is never used under another fence."""

    store: str
    token: str
    generation: str | None = None
    _holder: "Lease | None" = field(default=None, repr=False, compare=False)
    epoch: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __getstate__(self):
        return {
            "store": self.store,
            "token": self.token,
            "generation": self.generation,
            "epoch": self.epoch,
            "_holder": None,
        }

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        """What identifies this fence in any process (its store, token, generation and epoch)."""
        return self.store, self.token, self.generation, self.epoch

    def check(self, *, read: bool = True) -> None:
        """Raise LeaseLostError unless this writer may still commit to the store.

        ``read=False``: the holder's own part only (lost, or not renewed within the timeout by
        its own clock), no request; nothing in a process that does not hold the lease. For a
        step that writes nothing (a block about to be computed); every write is checked
        with the lease read."""
        holder = self._holder
        timeout = _seconds("timeout")
        if holder is not None:
            if holder.lost or clock() - holder.renewed > timeout:
                holder.lost = True
                raise _lost(self.store, "it was not renewed in time: was this process stopped?")
        if not read:
            return
        current = read_lease(self.store)
        if not current or current.get("token") != self.token:
            if holder is not None:
                holder.lost = True
            raise _lost(self.store, "another command took it over")
        if holder is None:
            beat = _heartbeat(current)
            if beat is None or time.time() - beat > timeout:
                raise _lost(self.store, "its holder has not renewed it within lifbatch.lease.timeout")


def _lost(store, why: str) -> LeaseLostError:
    return LeaseLostError(
        f"this command lost its lease on the store '{store}' ({why}); it writes nothing more. "
        "What it finished is kept: run the same command again (`lifbatch status` shows "
        "who holds the store now)."
    )


@dataclass
class Lease:
    """A lease this process holds; renewed by a daemon thread until :meth:`release`."""

    store: Path
    record: dict
    renewed: float = 0.0  # clock() before the last write of the heartbeat that succeeded
    note: str | None = None  # what taking it over found (a stale lease's holder, or why it was stale)

    def __post_init__(self):
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._beat, name="lifbatch-lease", daemon=True)
        self._thread.start()

    @property
    def path(self) -> Path:
        return self.store / LEASE_FILE

    def fence(self, generation: str | None = None) -> Fence:
        return Fence(str(self.store), self.record["token"], generation, self)

    def check(self) -> None:
        """:meth:`Fence.check` for this holder."""
        self.fence().check()

    def _beat(self) -> None:
        period = _seconds("heartbeat")
        while not self._stop.wait(period):
            if not self.refresh():
                self.lost = True
                return

    def refresh(self) -> bool:
        """Renew the heartbeat; False when the lease is no longer this process's: taken over,
        or not renewed within the timeout by this process's clock (it was stopped: another
        command may be taking it over this instant, so it must not write it again)."""
        t = clock()
        if self.lost or t - self.renewed > _seconds("timeout"):
            return False
        st = storage.of(self.store)
        try:
            current, version = _read_versioned(st)
        except storage.Unavailable:  # an object store that does not answer: the next beat tries again
            return True
        if not current or current.get("token") != self.record["token"]:
            return False
        self.record["heartbeat"] = time.time()
        try:
            # a conditional replace of the version just read (docs/store-layout.md, "What each
            # guarantee rests on"): on an object store If-Match on its ETag
            st.replace(_KEY, json.dumps(self.record).encode(), version)
        except storage.Conflict:
            return False  # taken over between the read and the write
        except (OSError, storage.Unavailable):  # a full or read-only disk: the next beat tries again
            return True
        self.renewed = t
        return True

    def hand_over(self) -> None:
        """Stop refreshing here (the scheduler keeps the lease of a detached sweep)."""
        self._stop.set()

    def release(self) -> None:
        self._stop.set()
        try:
            current = read_lease(self.store)
            if current and current.get("token") == self.record["token"]:
                storage.of(self.store).delete(_KEY)
        except (OSError, storage.Unavailable):
            pass


def acquire(store, *, command: str | None = None, log=None) -> Lease:
    """Take the lease on ``store`` (its directory must exist), or raise StoreBusyError
    naming the live command that holds it. A stale lease is taken over (``log`` is told
    whose, and why it was stale when its file could not be trusted)."""
    st = storage.of(store)
    store = Path(store) if st.local else st.location
    now = time.time()
    record = {
        "owner": f"{getpass.getuser()}@{socket.gethostname()}",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": command or " ".join(sys.argv)[:200],
        "token": uuid.uuid4().hex,
        "started": now,
        "heartbeat": now,
    }
    data = json.dumps(record).encode()
    note = None
    for _ in range(3):
        renewed = clock()
        try:
            # a conditional create: O_CREAT | O_EXCL on disk, If-None-Match: * on an object store
            st.create(_KEY, data)
        except storage.Conflict:
            current, version = _read_versioned(st)
            if current == {}:
                # being written this very moment (or unreadable): look again shortly
                time.sleep(0.05)
                current, version = _read_versioned(st)
            if current is None:
                continue  # released meanwhile: create it
            if lease_state(current) == "live":
                raise StoreBusyError(
                    f"store '{store}' is being written by another run: {describe(current)}. Follow it with "
                    f"`lifbatch status {store}`, or wait for it to end."
                ) from None
            why = stale_reason(current)
            note = f"took over a stale lease on '{store}'" + (
                f": {why}" if why else f" of {describe(current)}" if current else ""
            )
            # stale (or unreadable): replaced only if it is still the version read (on disk moved
            # aside under a unique name, then created anew; on an object store If-Match on its
            # ETag): of two takers exactly one wins, the other looks again
            try:
                st.take_over(_KEY, data, version)
            except storage.Conflict:
                continue
        held = Lease(store, record, renewed=renewed, note=note)
        if note and log is not None:
            log(note)
        return held
    raise StoreBusyError(
        f"store '{store}': could not take its lease (another run keeps taking it). "
        f"Follow it with `lifbatch status {store}`."
    )


def keep_on_scheduler(store: str, record: dict, key_prefix: str, period: float, dask_scheduler=None) -> None:
    """Run on the Dask scheduler (``Client.run_on_scheduler``): refresh the lease of a
    detached sweep while any task whose key starts with ``key_prefix`` exists and the
    scheduler has workers, then remove it. The scheduler must see the store's file system.

    With no workers for longer than the timeout, the scheduler stops renewing the lease
    for good (the sweep cannot progress; its tasks, should workers return, fail their
    fence): after ``timeout + margin`` a local ``lifbatch run`` takes the store over. The
    lease records the number of workers, which ``lifbatch status`` shows."""
    from tornado.ioloop import PeriodicCallback  # (deferred: runs on a Dask scheduler, which has it)

    record = dict(record, detached=True, host=socket.gethostname(), pid=os.getpid())
    name = f"lifbatch-lease-{record['token']}"
    st = storage.of(store)  # (the scheduler reaches the store as the workers do: a path, or the object store)

    def write(rec):
        st.write_bytes(_KEY, json.dumps(rec).encode())

    timeout = _seconds("timeout")
    state = {"renewed": clock(), "workers_seen": clock()}

    def stop():
        pc.stop()
        dask_scheduler.periodic_callbacks.pop(name, None)

    def tick():
        t = clock()
        try:
            current = read_lease(store)
        except storage.Unavailable:  # (an object store that does not answer: the next tick tries again)
            return
        if not current or current.get("token") != record["token"] or t - state["renewed"] > timeout:
            stop()  # taken over, removed, or not renewed in time (the scheduler was stopped): not ours
            return
        if not any(str(k).startswith(key_prefix) for k in dask_scheduler.tasks):
            try:
                st.delete(_KEY)
            except (OSError, storage.Unavailable):
                pass
            stop()
            return
        workers = len(dask_scheduler.workers)
        if workers:
            state["workers_seen"] = t
        elif t - state["workers_seen"] > timeout:
            record["workers"] = 0
            record["abandoned"] = True  # status: the sweep has no workers; a local run may take over
            try:
                write(record)  # (its heartbeat stays as it was: the lease lapses)
            except (OSError, storage.Unavailable):
                pass
            stop()
            return
        record["heartbeat"] = time.time()
        record["workers"] = workers
        try:
            write(record)
            state["renewed"] = t
        except (OSError, storage.Unavailable):
            pass

    record["heartbeat"] = time.time()
    record["workers"] = len(dask_scheduler.workers)
    write(record)
    pc = PeriodicCallback(tick, period * 1000)
    dask_scheduler.periodic_callbacks[name] = pc
    pc.start()
