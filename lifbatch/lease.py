"""One writer per store: the run lease.

A run takes a lease on its store before it creates, replaces or writes anything:
the file ``<store>/_lifbatch/lease.json`` (inside the store's own ``_lifbatch``
group, where Zarr and xarray do not look; JSON: owner, host, pid, command, a random
token, when it started and its last heartbeat), created atomically
(``O_CREAT | O_EXCL``). The run refreshes the heartbeat every
``lifbatch.lease.heartbeat`` (each refresh first checks that the lease is still
its own) and removes the file when it ends. A second run on the store is refused
while the lease is live; a lease whose heartbeat is older than
``lifbatch.lease.timeout``, or whose process is gone (same host), is stale and
taken over. A sweep submitted with ``--detach`` keeps its lease from the Dask
scheduler (:func:`keep_on_scheduler`): the scheduler refreshes it while the
sweep's tasks exist and removes it once they are gone.

``lifbatch status`` reads the lease to tell whether a run is live.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import config
from .errors import StoreBusyError

__all__ = ["Lease", "acquire", "read_lease", "lease_state", "LEASE_FILE"]

LEASE_FILE = "_lifbatch/lease.json"


def _seconds(key: str) -> float:
    from dask.utils import parse_timedelta

    return float(parse_timedelta(config.get(f"lease.{key}")))


def read_lease(store) -> dict | None:
    """The store's lease as written (None when there is none or it cannot be read)."""
    return read_lease_file(Path(store) / LEASE_FILE)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lease_state(lease: dict | None, now: float | None = None) -> str:
    """"none", "live" or "stale" (heartbeat too old, or its process gone on this host)."""
    if not lease:
        return "none"
    now = time.time() if now is None else now
    if now - float(lease.get("heartbeat", 0)) > _seconds("timeout"):
        return "stale"
    if lease.get("host") == socket.gethostname() and lease.get("pid") and not lease.get("detached") \
            and not _pid_alive(int(lease["pid"])):
        return "stale"
    return "live"


def describe(lease: dict, now: float | None = None) -> str:
    """One phrase for messages: who holds the lease and how recently it was refreshed."""
    now = time.time() if now is None else now
    where = "the Dask scheduler" if lease.get("detached") else f"pid {lease.get('pid')}"
    return (f"{lease.get('owner', '?')} ({where} on {lease.get('host', '?')}, heartbeat "
            f"{max(0.0, now - float(lease.get('heartbeat', 0))):.0f} s ago)")


def _write_atomic(path: Path, data: dict) -> None:
    from .store import _write_json_atomic

    _write_json_atomic(path, data)


@dataclass
class Lease:
    """A lease this process holds; refreshed by a daemon thread until :meth:`release`."""

    store: Path
    record: dict

    def __post_init__(self):
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._beat, name="lifbatch-lease", daemon=True)
        self._thread.start()

    @property
    def path(self) -> Path:
        return self.store / LEASE_FILE

    def _beat(self) -> None:
        period = _seconds("heartbeat")
        while not self._stop.wait(period):
            if not self.refresh():
                self.lost = True
                return

    def refresh(self) -> bool:
        """Renew the heartbeat; False when the lease is no longer this run's."""
        current = read_lease(self.store)
        if not current or current.get("token") != self.record["token"]:
            return False
        self.record["heartbeat"] = time.time()
        try:
            _write_atomic(self.path, self.record)
        except OSError:  # a full or read-only disk: the next beat tries again
            pass
        return True

    def hand_over(self) -> None:
        """Stop refreshing here (the scheduler keeps the lease of a detached sweep)."""
        self._stop.set()

    def release(self) -> None:
        self._stop.set()
        current = read_lease(self.store)
        if current and current.get("token") == self.record["token"]:
            try:
                self.path.unlink()
            except OSError:
                pass


def acquire(store, *, command: str | None = None) -> Lease:
    """Take the lease on ``store`` (its directory must exist), or raise StoreBusyError
    naming the live run that holds it. A stale lease is taken over."""
    store = Path(store)
    (store / LEASE_FILE).parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    record = {"owner": f"{getpass.getuser()}@{socket.gethostname()}", "host": socket.gethostname(),
              "pid": os.getpid(), "command": command or " ".join(sys.argv)[:200], "token": uuid.uuid4().hex,
              "started": now, "heartbeat": now}
    path = store / LEASE_FILE
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            current = read_lease(store)
            if current is None:
                # being written this very moment (or unreadable): look again shortly
                time.sleep(0.05)
                current = read_lease(store)
            if current is not None and lease_state(current) == "live":
                raise StoreBusyError(
                    f"store '{store}' is being written by another run: {describe(current)}. Follow it with "
                    f"`lifbatch status {store}`, or wait for it to end.") from None
            # stale (or unreadable): move it aside under a unique name, then create ours
            aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex}")
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue
            moved = read_lease_file(aside)
            if current is not None and moved is not None and moved.get("token") != current.get("token"):
                # another run took it over in between: give its lease back
                try:
                    os.link(aside, path)
                except FileExistsError:
                    pass
            aside.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record))
        return Lease(store, record)
    raise StoreBusyError(f"store '{store}': could not take its lease (another run keeps taking it). "
                         f"Follow it with `lifbatch status {store}`.")


def read_lease_file(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def keep_on_scheduler(store: str, record: dict, key_prefix: str, period: float, dask_scheduler=None) -> None:
    """Run on the Dask scheduler (``Client.run_on_scheduler``): refresh the lease of a
    detached sweep while any task whose key starts with ``key_prefix`` exists, then
    remove it. The scheduler must see the store's file system."""
    from tornado.ioloop import PeriodicCallback

    record = dict(record, detached=True, host=socket.gethostname(), pid=os.getpid())
    name = f"lifbatch-lease-{record['token']}"
    path = Path(store) / LEASE_FILE

    def tick():
        current = read_lease(store)
        if not current or current.get("token") != record["token"]:
            pc.stop()  # taken over (stale) or removed: not ours any more
            dask_scheduler.periodic_callbacks.pop(name, None)
            return
        if any(str(k).startswith(key_prefix) for k in dask_scheduler.tasks):
            record["heartbeat"] = time.time()
            try:
                _write_atomic(path, record)
            except OSError:
                pass
            return
        try:
            path.unlink()
        except OSError:
            pass
        pc.stop()
        dask_scheduler.periodic_callbacks.pop(name, None)

    record["heartbeat"] = time.time()
    _write_atomic(path, record)
    pc = PeriodicCallback(tick, period * 1000)
    dask_scheduler.periodic_callbacks[name] = pc
    pc.start()
