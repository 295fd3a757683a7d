"""Stores on object storage (issue 22): ``--store s3://BUCKET/PATH.zarr`` against a real
S3-compatible server, SeaweedFS, started on 127.0.0.1 by the tests (tests/_seaweed.py).

Real ``lifbatch`` subprocesses, real signals, real conditional writes (If-None-Match,
If-Match); the results compared array by array with the same sweep on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import lifbatch

from conftest import assert_identical
from test_store_trust import SLOW, WF, _cli, _start, _wait_for, _write

from _seaweed import Seaweed

#: a sweep of many one-point blocks that runs for seconds: still running when a signal or a
#: second run comes
MID = {
    **SLOW,
    "name": "s3-mid",
    "trials": 100,
    "duration": "1 s",
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 12], "unit": "pA"}},
}


@pytest.fixture(autouse=True)
def _reads_in_this_process():
    """This process reads the stores it checks with dask's threads, as a user's session without
    a cluster does: the session's shared Client (conftest's ``local_client``), once an earlier
    test file has used it, is dask's default and would read them in its workers, which were
    started before this module gave the process its AWS_* variables and so have no credentials."""
    import dask

    with dask.config.set(scheduler="threads"):
        yield


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A real SeaweedFS on 127.0.0.1 (its own ports and directory) with a bucket; this process
    uses it through the AWS_* variables, as lifbatch's subprocesses do."""
    from _seaweed import _free_ports

    server = Seaweed(str(tmp_path_factory.mktemp("seaweed")), metrics=_free_ports(1)[0])  # (metrics: its requests)
    server.start()
    server.bucket("lifbatch")
    saved = {
        k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")
    }
    os.environ.update({k: v for k, v in server.env().items() if k in saved})
    yield server
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()


def _url(name: str = "") -> str:
    return f"s3://lifbatch/{name or uuid.uuid4().hex[:12]}.zarr"


def _keys(store) -> set[str]:
    """Every object of a store (its files, on disk), but the run's own lease."""
    from lifbatch import storage

    st = storage.of(store)
    keys = (
        st.list("")
        if not st.local
        else [p.relative_to(store).as_posix() for p in Path(store).rglob("*") if p.is_file()]
    )
    return {k for k in keys if not k.startswith("_lifbatch/lease.json")}


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory):
    """The tiny sweep and MID, run on disk by `lifbatch run`: what the same runs to S3 must equal."""
    d = tmp_path_factory.mktemp("disk")
    out = {}
    for raw in (WF, MID):
        store = d / f"{raw['name']}.zarr"
        r = _cli("run", _write(d, raw), "--store", store, "--no-progress")
        assert r.returncode == 0, r.stderr
        out[raw["name"]] = store
    return out


# --------------------------------------------------------------------------- #
# an unsupported URL is refused in one line, and nothing is made locally
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("url", ["gs://bucket/x.zarr", "https://host/x.zarr", "file://tmp/x.zarr"])
def test_unsupported_url_refused_in_one_line(tmp_path, url):
    wf = _write(tmp_path, WF)
    out = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "run", str(wf), "--store", url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    scheme = url.split(":")[0]
    assert out.stderr.strip() == (
        f"lifbatch: error: store '{url}': lifbatch cannot write to '{scheme}://' URLs; "
        "give a path on a file system, or an S3-compatible object store as "
        "s3://BUCKET/PATH.zarr (docs/store-layout.md)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [wf.name]  # no local `gs:` directory
    for command in ("status", "query"):
        out = _cli(command, url)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "cannot write to" in out.stderr
    with pytest.raises(lifbatch.StoreError, match="cannot write to"):
        lifbatch.open_results(url)


def test_without_the_s3_extra_an_s3_store_names_it_in_one_line(tmp_path):
    """A process in which obstore cannot be imported (lifbatch installed without its `s3` extra)."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text("import sys\nsys.modules['obstore'] = None\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    r = _cli("status", "s3://lifbatch/x.zarr", env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        "lifbatch: error: the store 's3://lifbatch/x.zarr' needs obstore, which this "
        "environment lacks: install lifbatch's `s3` extra: pip install 'lifbatch[s3]' (from a "
        "clone: pip install -e '.[s3]')"
    )


def test_s3_url_without_a_path_refused(tmp_path):
    out = _cli("status", "s3://bucket-only")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "lifbatch: error: store 's3://bucket-only' names no path in its bucket: give "
        "s3://BUCKET/PATH.zarr, e.g. s3://results/quickstart.zarr"
    )


# --------------------------------------------------------------------------- #
# the same sweep to S3 and to disk: the same arrays, bit for bit, the same objects
# --------------------------------------------------------------------------- #
def test_sweep_to_s3_is_identical_to_disk(s3, on_disk, tmp_path):
    url = _url()
    r = _cli("run", _write(tmp_path, WF), "--store", url, "--no-progress", env=s3.env())
    assert r.returncode == 0, r.stderr
    assert f"results: {url}" in r.stdout
    disk = on_disk[WF["name"]]
    got, want = lifbatch.open_results(url).load(), lifbatch.open_results(disk).load()
    assert_identical(got, want)
    assert got.attrs["fingerprint"] == want.attrs["fingerprint"]
    assert int((got["status"] == 1).sum()) == 8  # done
    assert _keys(url) == _keys(disk)  # the same arrays, chunks, markers: one object per file
    # status and query read it as they read the disk's
    status = _cli("status", url, env=s3.env())
    assert status.returncode == 0, status.stderr
    assert "points    8: 8 done, 0 failed, 0 pending (100%)" in status.stdout
    assert (
        _cli("query", url, "--var", "rate", "--format", "csv", env=s3.env()).stdout
        == _cli("query", disk, "--var", "rate", "--format", "csv").stdout
    )
    # a re-run has nothing to do, and takes no lease
    again = _cli("run", _write(tmp_path, WF), "--store", url, "--no-progress", env=s3.env())
    assert again.returncode == 0 and "(0 blocks run, 8 already done)" in again.stdout, again.stdout


# --------------------------------------------------------------------------- #
# the requests of a sweep, counted by the server: per block and once per run, bounded
# --------------------------------------------------------------------------- #
def _sweep_requests(s3, raw: dict) -> tuple[dict[str, float], int]:
    """The requests (by type, from the server's metrics) of a sweep of ``raw`` in this
    process's threads to a new store in the bucket, one point per block; and its blocks."""
    before = s3.requests()
    res = lifbatch.run_sweep(raw, _url(), workers=2, points_per_task=1, progress=False, log=lambda m: None)
    after = s3.requests()
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}, res.blocks


def test_requests_per_block_and_per_store_creation_are_bounded(s3):
    """docs/store-layout.md, "Requests per block": a block is one PUT per data variable and one
    of its marker, two GETs of the lease (the fence before its data and before its marker)
    and the run's final reading of its marker; no listing, no HEAD of the template or of the
    arrays. A run that creates its store costs a fixed number besides (its lease, recovery,
    the template in one batch, the arrays opened once): 25 blocks against 1 tell them apart."""
    import dask

    from lifbatch.layout import variable_specs

    one = {**WF, "name": "s3-requests", "sweep": {"I": {**WF["sweep"]["I"], "linspace": [100, 300, 1]}}}
    many = {**one, "sweep": {"I": {**WF["sweep"]["I"], "linspace": [100, 300, 25]}}}
    n_vars = len(variable_specs(lifbatch.load_workflow(one)))
    # (no lease renewal during these sub-second sweeps: its GET and PUT would be counted)
    with dask.config.set({"lifbatch.lease.heartbeat": "25s"}):
        lifbatch.run_sweep(one, _url(), progress=False, log=lambda m: None)  # (compiled, imported)
        small, one_block = _sweep_requests(s3, one)
        large, blocks = _sweep_requests(s3, many)
    assert (one_block, blocks) == (1, 25)
    per_block = {k: (large[k] - small[k]) / 24 for k in large if large[k] != small[k]}
    assert set(per_block) == {"PUT", "GET"} and per_block["PUT"] == n_vars + 1, per_block  # (no LIST, no DELETE)
    # 3 GETs; the first blocks' HEADs while the template is being written (every 5-100 ms, once
    # per run) vary from run to run by a few: over 24 blocks, a few hundredths
    assert abs(per_block["GET"] - 3) <= 0.25, per_block
    once = sum(small.values()) - sum(per_block.values())
    assert once <= 2 * n_vars + 55, (once, small)  # (75 for 13 variables: README, Performance)


def test_a_store_created_again_in_this_process_is_never_written_with_the_old_arrays(s3, tmp_path):
    """The arrays a process opened are kept under the fence it wrote with (store, lease token,
    generation, epoch): a store created again at the same URL with other arrays (more trials,
    other chunks) is written with its own, identical to the same sweep on disk."""
    url = _url()
    opts = dict(workers=2, progress=False, log=lambda m: None)
    lifbatch.run_sweep(WF, url, points_per_task=2, **opts)
    other = {**WF, "trials": 6, "sweep": {"I": {**WF["sweep"]["I"], "linspace": [100, 300, 9]}}}
    lifbatch.run_sweep(other, url, points_per_task=3, overwrite=True, **opts)
    lifbatch.run_sweep(other, tmp_path / "disk.zarr", points_per_task=3, **opts)
    got = lifbatch.open_results(url).load()
    assert got.sizes["trial"] == 6 and int((got["status"] == 1).sum()) == 9
    assert_identical(got, lifbatch.open_results(tmp_path / "disk.zarr").load())


@pytest.mark.slow
@pytest.mark.cluster
def test_processes_workers_write_to_s3(s3, on_disk, tmp_path):
    url = _url()
    r = _cli(
        "run", _write(tmp_path, WF), "--store", url, "--processes", "--workers", "2", "--no-progress", env=s3.env()
    )
    assert r.returncode == 0, r.stderr
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(on_disk[WF["name"]]).load())
    assert not [k for k in _keys(url) if "visible-" in k]  # the workers' probe, through S3, left nothing


#: A Dask worker preload (``distributed.worker.preload``, given to the `--processes` workers by
#: DASK_DISTRIBUTED__WORKER__PRELOAD, which they read with the rest of Dask's configuration when
#: they start): the worker's main thread, before the worker starts, leaves the machine's mount
#: namespace for one of its own (libc unshare(CLONE_NEWNS) through ctypes: Python 3.11 has no
#: os.unshare), makes its mounts private and mounts an empty tmpfs over LIFBATCH_TEST_HIDE, then
#: makes that its working directory. The threads that run the worker's tasks are started later, by
#: that thread, and so share its namespace; dask_setup asks one of them what it sees and writes
#: that to LIFBATCH_TEST_EVIDENCE (a directory outside the hidden one).
HIDING_PRELOAD = """
import ctypes
import json
import os
import threading

CLONE_NEWNS, MS_REC, MS_PRIVATE = 0x00020000, 0x4000, 0x40000
HIDDEN = os.environ["LIFBATCH_TEST_HIDE"]
libc = ctypes.CDLL(None, use_errno=True)


def _ok(rc, what):
    if rc != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


_ok(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
_ok(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
_ok(libc.mount(b"tmpfs", HIDDEN.encode(), b"tmpfs", 0, b"size=1m"), "mount tmpfs " + HIDDEN)
os.chdir(HIDDEN)  # (a working directory in the hidden one would still reach what is under the tmpfs)


def _seen():
    return {
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "mnt": os.readlink("/proc/thread-self/ns/mnt"),
        "listing": os.listdir(HIDDEN),
        "workflow": os.path.exists(os.environ["LIFBATCH_TEST_WORKFLOW"]),
        "cwd": os.getcwd(),
    }


def dask_setup(worker):
    seen = worker.executors["default"].submit(_seen).result()
    path = os.path.join(os.environ["LIFBATCH_TEST_EVIDENCE"], str(os.getpid()) + ".json")
    with open(path, "w") as f:
        json.dump(seen, f)
"""


@pytest.mark.slow
@pytest.mark.cluster
def test_processes_workers_that_cannot_see_the_clients_directory_write_to_s3(s3, on_disk, tmp_path_factory):
    """`run --processes` workers that have no access to the client's directory (its working
    directory, where the workflow file is): each worker process, as it starts, is given a mount
    namespace of its own with an empty tmpfs over that directory (HIDING_PRELOAD, a Dask worker
    preload, which `--processes` workers honour: they read DASK_DISTRIBUTED__WORKER__PRELOAD).
    Each worker's task thread says it sees the directory empty and the workflow file absent; the
    sweep still writes through the object store alone, identical to the same sweep on disk."""
    from lifbatch.store import read_markers

    if os.geteuid() != 0:
        pytest.skip("not root: the workers' preload mounts a tmpfs in a mount namespace of their own")
    client_dir = tmp_path_factory.mktemp("client")  # the client's working directory: hidden from the workers
    outside = tmp_path_factory.mktemp("outside")  # the preload and the workers' evidence
    (outside / "evidence").mkdir()
    (outside / "hide_client_dir.py").write_text(HIDING_PRELOAD)
    wf = _write(client_dir, WF)
    url = _url()
    env = s3.env(
        DASK_DISTRIBUTED__WORKER__PRELOAD=json.dumps([str(outside / "hide_client_dir.py")]),
        LIFBATCH_TEST_HIDE=str(client_dir),
        LIFBATCH_TEST_WORKFLOW=str(wf),
        LIFBATCH_TEST_EVIDENCE=str(outside / "evidence"),
    )
    r = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "run", wf.name, "--store", url, "--processes", "--workers", "2"]
        + ["--no-progress"],
        cwd=client_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    seen = [json.loads(p.read_text()) for p in sorted((outside / "evidence").glob("*.json"))]
    assert len({s["pid"] for s in seen}) == 2, seen  # both workers started under the preload
    mine = os.readlink("/proc/self/ns/mnt")
    for s in seen:
        assert s["mnt"] != mine and "Dask-Default-Threads" in s["thread"], s  # a task thread, elsewhere
        assert s["listing"] == [] and not s["workflow"] and s["cwd"] == str(client_dir), s
    assert wf.exists() and sorted(p.name for p in client_dir.iterdir()) == [wf.name]  # (the client's, untouched)
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(on_disk[WF["name"]]).load())
    assert _keys(url) == _keys(on_disk[WF["name"]])
    assert len(read_markers(url)) == 8  # (the sweep's 8 blocks, each written by a worker)


# --------------------------------------------------------------------------- #
# killed mid-sweep, then a plain re-run: identical
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_is_identical(s3, on_disk, tmp_path):
    from lifbatch.store import done_blocks

    url = _url()
    path = _write(tmp_path, MID)
    proc = _start(
        "run", path, "--store", url, "--points-per-task", "1", "--workers", "1", "--no-progress", env=s3.env()
    )
    deadline = time.time() + 120
    while len(done_blocks(url)) < 3:
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    done = len(done_blocks(url))
    assert 3 <= done < 12  # killed mid-sweep
    # the dead run's lease is stale (its process is gone, this host): a plain re-run takes it over
    r = _cli("run", path, "--store", url, "--points-per-task", "1", "--no-progress", env=s3.env())
    assert r.returncode == 0, r.stderr
    assert f"{12 - done} blocks run, {done} already done" in r.stdout
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(on_disk[MID["name"]]).load())
    from lifbatch.lease import read_lease

    assert read_lease(url) is None


# --------------------------------------------------------------------------- #
# one writer: two runs at the same instant, and two takers of a stale lease
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_two_runs_at_the_same_instant_one_is_refused(s3, on_disk, tmp_path):
    url = _url()
    path = _write(tmp_path, MID)
    procs = [
        _start("run", path, "--store", url, "--points-per-task", "1", "--no-progress", env=s3.env()) for _ in range(2)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2).strip().splitlines()
    assert len(refused) == 1 and f"store '{url}' is being written by another run" in refused[0], refused
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(on_disk[MID["name"]]).load())


def test_a_stale_lease_taken_over_by_two_at_once_exactly_one_wins(s3):
    """Two takers of one stale lease at the same instant (threads released by a barrier, each
    with its own conditional replace on the ETag it read): one holds the store, the other is
    refused naming it; ten times over."""
    import json
    import threading

    from lifbatch import storage
    from lifbatch.errors import StoreBusyError
    from lifbatch.lease import acquire, read_lease

    for _ in range(10):
        url = _url()
        st = storage.of(url)
        stale = {
            "owner": "gone@elsewhere",
            "host": "elsewhere",
            "pid": 1,
            "command": "lifbatch run",
            "token": "old",
            "started": time.time() - 3600,
            "heartbeat": time.time() - 3600,
        }
        st.create("_lifbatch/lease.json", json.dumps(stale).encode())
        barrier = threading.Barrier(2)
        won, refused = [], []

        def take(barrier=barrier, url=url, won=won, refused=refused):
            barrier.wait()
            try:
                won.append(acquire(url, command="taker"))
            except StoreBusyError as exc:
                refused.append(str(exc))

        threads = [threading.Thread(target=take) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(won) == 1 and len(refused) == 1, (won, refused)
        assert read_lease(url)["token"] == won[0].record["token"]
        assert "is being written by another run" in refused[0]
        won[0].release()
        assert read_lease(url) is None


def test_lease_renewal_is_conditional_on_its_etag(s3):
    """A holder whose lease object was replaced under it (taken over) does not write it again:
    its renewal's If-Match fails, and it knows it lost the store."""
    import json

    from lifbatch import storage
    from lifbatch.lease import acquire, read_lease

    url = _url()
    held = acquire(url, command="holder")
    held.hand_over()  # (no background beats: this test renews by hand)
    assert held.refresh()
    st = storage.of(url)
    data, version = st.read_versioned("_lifbatch/lease.json")
    other = dict(json.loads(data), token="other")
    st.replace("_lifbatch/lease.json", json.dumps(other).encode(), version)
    assert held.refresh() is False
    assert read_lease(url)["token"] == "other"  # not overwritten by the loser


def _objects(url: str) -> dict[str, bytes]:
    """Every object of a store, name and bytes (its lease aside)."""
    from lifbatch import storage

    st = storage.of(url)
    keys = sorted(_keys(url))
    return dict(zip(keys, st.read_many(keys)))


@pytest.mark.slow
def test_a_writer_stopped_past_its_lease_on_s3_writes_nothing_after_a_takeover(s3, tmp_path):
    """Run A (a block computed, not yet written) is stopped with SIGSTOP past its lease's timeout;
    run B takes the stale lease over through the bucket (a conditional replace on its ETag),
    replaces the store (--overwrite, another seed) and finishes it; A, woken with SIGCONT, exits 1
    in one line and writes nothing: the bucket's objects, names and bytes, are B's as it left
    them, and the same objects as B's command run uninterrupted into another prefix (every
    array chunk byte for byte; the block markers and root attributes differ only in times, hosts
    and workers, the generation). tests/test_fencing.py does the same on disk."""
    from test_fencing import FAST, MEDIUM, _env

    from lifbatch.store import read_markers, store_generation

    path = _write(tmp_path, MEDIUM)
    url, whole = _url(), _url()
    a = _start(
        "run",
        path,
        "--store",
        url,
        "--points-per-task",
        "1",
        "--workers",
        "1",
        "--no-progress",
        env=_env(**s3.env(LIFBATCH_TEST_PAUSE_AT="block-computed", LIFBATCH_TEST_PAUSE_SECONDS="1")),
    )
    b_args = ("run", path, "--overwrite", "--set", "seed=99", "--set", "trials=4", "--no-progress")
    try:
        _wait_for(a, "paused at block-computed")
        os.killpg(a.pid, signal.SIGSTOP)
        time.sleep(4)  # past the lease's timeout + margin (FAST: 2 s + 1 s)
        b = _cli(*b_args, "--store", url, env=_env(**s3.env()))
        assert b.returncode == 0, b.stderr
        assert f"took over a stale lease on '{url}'" in b.stderr, b.stderr
        generation = store_generation(url)
        before = _objects(url)
    finally:
        os.killpg(a.pid, signal.SIGCONT)
    out, err = a.communicate(timeout=120)
    assert a.returncode == 1, err
    lines = [ln for ln in err.strip().splitlines() if "paused at" not in ln]
    assert len(lines) == 1 and f"lost its lease on the store '{url}'" in lines[0], err
    assert "writes nothing more" in lines[0] and "Traceback" not in err, err
    assert _objects(url) == before  # not one object written, replaced or deleted by A after it woke
    assert {m["generation"] for m in read_markers(url)} == {generation}
    assert FAST["DASK_LIFBATCH__LEASE__TIMEOUT"] == "2s"
    # the same command uninterrupted, into another prefix: the same objects; every chunk the same bytes
    r = _cli(*b_args, "--store", whole, env=_env(**s3.env()))
    assert r.returncode == 0, r.stderr
    uninterrupted = _objects(whole)
    assert set(before) == set(uninterrupted)
    differ = sorted(k for k in before if before[k] != uninterrupted[k])
    # (the root's provenance, the markers' times and workers, the store's generation: nothing else)
    assert differ and all(k == "zarr.json" or k.startswith("_lifbatch/blocks/") for k in differ), differ
    expected = lifbatch.simulate(lifbatch.load_workflow({**MEDIUM, "seed": 99, "trials": 4}))
    assert_identical(lifbatch.open_results(url).load(), expected)
    assert_identical(lifbatch.open_results(whole).load(), expected)
    assert "verified" in _cli("status", url, "--verify", env=s3.env()).stdout


# --------------------------------------------------------------------------- #
# the object store refusing: one line each
# --------------------------------------------------------------------------- #
def test_bad_credentials_one_line(s3, tmp_path):
    url = _url()
    r = _cli(
        "run", _write(tmp_path, WF), "--store", url, "--no-progress", env=s3.env(AWS_SECRET_ACCESS_KEY="wrong-secret")
    )
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert line.startswith(
        f"lifbatch: error: store '{url}' at {s3.endpoint}: the object store refused the credentials"
    ), line
    assert "wrong-secret" not in line and "lifbatch-test" not in line  # never printed
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in line
    assert _keys(url) == set()  # nothing written


def test_missing_bucket_one_line(s3, tmp_path):
    url = "s3://no-such-bucket/x.zarr"
    for args in (("run", _write(tmp_path, WF), "--store", url, "--no-progress"), ("status", url)):
        r = _cli(*args, env=s3.env())
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip() == (
            f"lifbatch: error: store '{url}' at {s3.endpoint}: the bucket 'no-such-bucket' "
            "does not exist; create it first (e.g. `aws s3 mb s3://no-such-bucket`), or give "
            "another s3://BUCKET/PATH"
        )


# --------------------------------------------------------------------------- #
# the server stopped mid-sweep: one line, exit 1, resumable once it is back
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_server_stopped_mid_sweep_then_back_resumes_identical(s3, on_disk, tmp_path):
    from lifbatch.store import done_blocks

    url = _url()
    path = _write(tmp_path, MID)
    proc = _start(
        "run", path, "--store", url, "--points-per-task", "1", "--workers", "1", "--no-progress", env=s3.env()
    )
    try:
        deadline = time.time() + 120
        while len(done_blocks(url)) < 2:
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
            time.sleep(0.05)
        os.killpg(s3.proc.pid, signal.SIGKILL)  # the server, at once
        s3.proc.wait()
        out, err = proc.communicate(timeout=180)
    finally:
        s3.start()  # back, on the same ports and directory
    assert proc.returncode == 1, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"lifbatch: error: store '{url}' at {s3.endpoint}: the object store did not complete "), err
    assert last.endswith("nothing finished is lost: run the same command again once it answers"), last
    done = len(done_blocks(url))
    assert 2 <= done < 12
    r = _cli("run", path, "--store", url, "--points-per-task", "1", "--no-progress", env=s3.env())
    assert r.returncode == 0, r.stderr
    assert f"{12 - done} blocks run, {done} already done" in r.stdout
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(on_disk[MID["name"]]).load())


# --------------------------------------------------------------------------- #
# a remote cluster: workers that share no file system with the client
# --------------------------------------------------------------------------- #
@pytest.mark.slow
@pytest.mark.cluster
def test_detached_sweep_on_a_cluster_to_s3(s3, tmp_path):
    """`dask scheduler` and `dask worker` processes reaching the store through the object store
    only: --detach, the scheduler keeps the lease in the bucket, `status` follows, the lease
    goes when the sweep ends, identical to the threaded sweep on disk."""
    from test_remote import WF as REMOTE, Cluster

    from lifbatch.lease import read_lease
    from lifbatch.store import done_blocks

    cluster = Cluster(2, tmp_path)
    try:
        url = _url()
        path = _write(tmp_path, REMOTE)
        r = _cli(
            "run",
            path,
            "--store",
            url,
            "--scheduler",
            cluster.address,
            "--detach",
            "--points-per-task",
            "4",
            env=s3.env(),
        )
        assert r.returncode == 0, r.stderr
        assert "submitted: 6 blocks" in r.stdout and f"lifbatch status {url}" in r.stdout
        deadline = time.time() + 120
        while time.time() < deadline and (len(done_blocks(url)) < 6 or read_lease(url)):
            time.sleep(0.2)
        assert read_lease(url) is None  # released by the scheduler once the sweep's tasks are gone
        st = _cli("status", url, env=s3.env())
        assert "24: 24 done, 0 failed, 0 pending" in st.stdout, st.stdout
        disk = tmp_path / "disk.zarr"
        assert _cli("run", path, "--store", disk, "--no-progress").returncode == 0
        assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(disk).load())
    finally:
        cluster.close()


@pytest.mark.slow
@pytest.mark.cluster
def test_workers_without_the_credentials_are_named_before_anything_is_submitted(s3, tmp_path, monkeypatch):
    from test_remote import WF as REMOTE, Cluster

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")  # (the workers' environment only)
    cluster = Cluster(2, tmp_path)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.env()["AWS_SECRET_ACCESS_KEY"])
    try:
        url = _url()
        with pytest.raises(lifbatch.StoreError, match=r"workers \[.*\] cannot read the store 's3://lifbatch/"):
            lifbatch.run_sweep(lifbatch.load_workflow(REMOTE), url, scheduler=cluster.address, progress=False)
        assert _keys(url) == set()  # the probe left nothing, nor did the refused run
    finally:
        cluster.close()


# --------------------------------------------------------------------------- #
# a chunk deleted or corrupted in the bucket: found by status --verify, repaired
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_a_chunk_deleted_and_one_corrupted_found_by_verify_and_repaired(s3, on_disk, tmp_path):
    import shutil

    from lifbatch import storage

    url = _url()
    path = _write(tmp_path, WF)
    assert _cli("run", path, "--store", url, "--no-progress", env=s3.env()).returncode == 0
    disk = tmp_path / "disk.zarr"
    shutil.copytree(on_disk[WF["name"]], disk)
    rate = sorted(k for k in _keys(url) if k.startswith("rate/c/"))[1]
    bits = sorted(k for k in _keys(url) if k.startswith("spike_bits/c/"))[-1]
    st = storage.of(url)
    st.delete(rate)
    (disk / rate).unlink()
    data = bytearray(st.read_bytes(bits))
    data[len(data) // 2] ^= 0xFF
    st.write_bytes(bits, bytes(data))
    (disk / bits).write_bytes(bytes(data))
    found = _cli("status", url, "--verify", env=s3.env())
    assert found.returncode == 1, found.stderr
    on_the_disk = _cli("status", disk, "--verify")
    assert on_the_disk.returncode == 1
    report = found.stdout[found.stdout.index("verify:") :]
    assert report == on_the_disk.stdout[on_the_disk.stdout.index("verify:") :].replace(str(disk), url)
    assert "verify: 2 of 8 done blocks have missing or corrupt data" in report, report
    assert f"rate: missing chunk {rate[len('rate/') :]}" in report and "fails its checksum" in report, report
    fixed = _cli("run", path, "--store", url, "--repair", "--no-progress", env=s3.env())
    assert fixed.returncode == 0, fixed.stderr
    assert "(2 blocks run, 6 already done)" in fixed.stdout, fixed.stdout
    again = _cli("status", url, "--verify", env=s3.env())
    assert again.returncode == 0 and "verified: 8 of 8 blocks done" in again.stdout, again.stdout
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(on_disk[WF["name"]]).load())


# --------------------------------------------------------------------------- #
# an interrupted creation, at each of its steps: a plain re-run finishes it identical
# --------------------------------------------------------------------------- #
@pytest.mark.slow
@pytest.mark.parametrize("phase", ["lease", "prepared", "template-begun", "template-written"])
def test_creation_killed_at_each_step_resumes_identical(s3, on_disk, tmp_path, phase):
    url = _url()
    path = _write(tmp_path, WF)
    proc = _start(
        "run", path, "--store", url, "--points-per-task", "2", "--no-progress", env=s3.env(LIFBATCH_TEST_PAUSE_AT=phase)
    )
    _wait_for(proc, f"paused at {phase}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    for command in ("status", "query"):
        r = _cli(command, url, env=s3.env())
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr, r.stderr
        if r.returncode == 2:
            assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = _cli("run", path, "--store", url, "--points-per-task", "2", "--no-progress", env=s3.env())
    assert r.returncode == 0, r.stderr
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(on_disk[WF["name"]]).load())


# --------------------------------------------------------------------------- #
# --overwrite replaces only lifbatch stores
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_overwrite_in_a_bucket_replaces_only_a_lifbatch_store(s3, tmp_path):
    from lifbatch import storage

    path = _write(tmp_path, WF)
    foreign = _url()
    storage.of(foreign).write_bytes("thesis.tex", b"\\chapter{Results}")
    for extra in ([], ["--overwrite"]):
        r = _cli("run", path, "--store", foreign, *extra, "--no-progress", env=s3.env())
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "thesis.tex" in r.stderr and "replaces only its own stores" in r.stderr
    assert _keys(foreign) == {"thesis.tex"}
    assert storage.of(foreign).read_bytes("thesis.tex") == b"\\chapter{Results}"
    url = _url()
    assert _cli("run", path, "--store", url, "--no-progress", env=s3.env()).returncode == 0
    other = _write(tmp_path, {**WF, "name": "other", "seed": 99})
    refused = _cli("run", other, "--store", url, "--no-progress", env=s3.env())
    assert refused.returncode == 2 and "holds another workflow" in refused.stderr
    r = _cli("run", other, "--store", url, "--overwrite", "--no-progress", env=s3.env())
    assert r.returncode == 0, r.stderr
    disk = tmp_path / "other.zarr"
    assert _cli("run", other, "--store", disk, "--no-progress").returncode == 0
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(disk).load())
    assert _keys(url) == _keys(disk)  # nothing of the old store is left


# --------------------------------------------------------------------------- #
# readers: report and review open an s3:// store as open_results does
# --------------------------------------------------------------------------- #
def _page(text: str, store) -> str:
    """A report's HTML without what differs between two writes of one sweep: the store's
    location, Bokeh's random element ids, the creation time."""
    import re

    text = text.replace(str(store), "STORE")
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", text)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", "TIME", text)


@pytest.mark.slow
def test_report_and_review_of_an_s3_store_as_of_the_same_on_disk(s3, on_disk, tmp_path):
    import urllib.request

    url = _url()
    assert _cli("run", _write(tmp_path, WF), "--store", url, "--no-progress", env=s3.env()).returncode == 0
    disk = on_disk[WF["name"]]
    got = _cli("report", url, "-o", tmp_path / "s3.html", env=s3.env())
    assert got.returncode == 0, got.stderr
    assert _cli("report", disk, "-o", tmp_path / "disk.html").returncode == 0
    s3_page, disk_page = (tmp_path / "s3.html").read_text(), (tmp_path / "disk.html").read_text()
    assert url in s3_page and "Firing rate" in s3_page
    assert _page(s3_page, url) == _page(disk_page, disk)  # the same figures, data, workflow and provenance
    # review serves it (its warm-up builds a page from the bucket) and answers a page request
    proc = _start("review", url, "--no-browser", env=s3.env())
    try:
        line = ""
        while "serving at" not in line:  # (review prints to stdout)
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
        address = line.split("serving at ", 1)[1].split()[0]
        for _ in range(2):  # (each request makes a session: its app built from the bucket)
            with urllib.request.urlopen(address, timeout=60) as page:
                assert page.status == 200 and "<html" in page.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    errors = proc.stderr.read()
    assert "Traceback" not in errors and "Error" not in errors, errors
    # each page reads the bucket as it is then: no page is prepared from a snapshot of it
    from lifbatch import review, review_http

    review_http.prepare(url, review._build)
    assert url not in review_http._SPARE and str(Path(url)) not in review_http._SPARE


# --------------------------------------------------------------------------- #
# summarize: the new arrays under its work prefix, a conditional commit object, then copied into place
# --------------------------------------------------------------------------- #
SUMMARIES = ["rate", "rate_std", "isi_mean", "isi_std", "isi_cv", "isi_hist"]


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["summarize-written", "summarize-committed", "summarize-swapped"])
def test_summarize_to_s3_equals_disk_and_a_kill_at_its_commit_recovers(s3, on_disk, tmp_path, phase):
    """summarize of an s3:// store equals the same on disk (every array, the attributes);
    SIGKILLed before its commit (the old summaries stand), at it, or with some arrays copied
    into place, a re-run finishes or discards it: identical to the uninterrupted one."""
    import shutil

    wf = _write(tmp_path, WF)
    disk = tmp_path / "disk.zarr"
    shutil.copytree(on_disk[WF["name"]], disk)
    url = _url()
    assert _cli("run", wf, "--store", url, "--no-progress", env=s3.env()).returncode == 0
    before = lifbatch.open_results(url).load()
    p = _start("summarize", url, "--set", "summaries.warmup=30 ms", env=s3.env(LIFBATCH_TEST_PAUSE_AT=phase))
    _wait_for(p, f"paused at {phase}")
    os.killpg(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)
    assert any(k.startswith("_lifbatch/summarize/") for k in _keys(url))  # (its work is in the bucket)
    if phase == "summarize-written":  # not committed: a reader sees the old summaries whole
        assert_identical(lifbatch.open_results(url).load(), before)
    else:  # committed: readers say it is unfinished, in one line
        r = _cli("status", url, env=s3.env())
        assert r.returncode == 2 and "interrupted after its commit" in r.stderr.strip(), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    again = _cli("summarize", url, "--set", "summaries.warmup=30 ms", env=s3.env())
    assert again.returncode == 0, again.stderr
    assert _cli("summarize", disk, "--set", "summaries.warmup=30 ms").returncode == 0
    got, want = lifbatch.open_results(url).load(), lifbatch.open_results(disk).load()
    assert_identical(got, want)
    assert not np.array_equal(got["rate"].values, before["rate"].values, equal_nan=True)  # (it did change them)
    for key in ("fingerprint", "canonical", "simulation"):
        assert got.attrs[key] == want.attrs[key], key
    assert _keys(url) == _keys(disk)
    assert _cli("status", url, "--verify", env=s3.env()).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["summarize-begun", "summarize-written", "summarize-committed", "summarize-swapped"])
def test_server_killed_while_summarize_writes_one_line_then_summarize_again_equals_disk(s3, on_disk, tmp_path, phase):
    """The object store SIGKILLed while `lifbatch summarize` is paused at a phase (before its arrays
    are read and staged, after, after its commit object, with some arrays copied into place),
    then summarize let go: one line naming the store and what to do, exit 1, no traceback;
    with the server back, `summarize` again gives the store the uninterrupted one gives on disk."""
    import shutil

    wf = _write(tmp_path, WF)
    disk = tmp_path / "disk.zarr"
    shutil.copytree(on_disk[WF["name"]], disk)
    assert _cli("summarize", disk, "--set", "summaries.warmup=30 ms").returncode == 0
    url = _url()
    assert _cli("run", wf, "--store", url, "--no-progress", env=s3.env()).returncode == 0
    p = _start(
        "summarize",
        url,
        "--set",
        "summaries.warmup=30 ms",
        env=s3.env(LIFBATCH_TEST_PAUSE_AT=phase, LIFBATCH_TEST_PAUSE_SECONDS="2"),
    )
    try:
        _wait_for(p, f"paused at {phase}")
        os.killpg(s3.proc.pid, signal.SIGKILL)  # the server, at once, while summarize sleeps
        s3.proc.wait()
        out, err = p.communicate(timeout=180)
    finally:
        s3.start()  # back, on the same ports and directory
    assert p.returncode == 1, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"lifbatch: error: store '{url}' at {s3.endpoint}: the object store did not complete "
    ), err
    assert lines[0].endswith("nothing finished is lost: run the same command again once it answers"), err
    again = _cli("summarize", url, "--set", "summaries.warmup=30 ms", env=s3.env())
    assert again.returncode == 0, again.stderr
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(disk).load())
    assert lifbatch.open_results(url).attrs["fingerprint"] == lifbatch.open_results(disk).attrs["fingerprint"]
    assert _keys(url) == _keys(disk)
    assert _cli("status", url, "--verify", env=s3.env()).returncode == 0


# --------------------------------------------------------------------------- #
# refine and fit: points added by grow.json as a conditional commit object
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_refine_to_s3_killed_after_its_commit_recovers_identical_to_disk(s3, tmp_path):
    """A refine of an s3:// store SIGKILLed after its growth's commit: readers say so in one
    line; `lifbatch run` of the workflow finishes the growth and its points; a second refine
    round; all identical to the same on disk, object for file."""
    from test_designs import WF as SAMPLED

    wf = _write(tmp_path, SAMPLED)
    disk, url = tmp_path / "disk.zarr", _url()
    for store, env in ((disk, None), (url, s3.env())):
        r = _cli("run", wf, "--store", store, "--points-per-task", "4", "--no-progress", env=env)
        assert r.returncode == 0, r.stderr
    assert _cli("refine", disk, "--add", "3", "--no-progress").returncode == 0
    p = _start("refine", url, "--add", "3", "--no-progress", env=s3.env(LIFBATCH_TEST_PAUSE_AT="grow-committed"))
    _wait_for(p, "paused at grow-committed")
    os.killpg(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)
    assert "_lifbatch/grow.json" in _keys(url)
    r = _cli("query", url, "--var", "rate", env=s3.env())
    assert (
        r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "interrupted after its commit" in r.stderr
    ), r.stderr
    r = _cli("run", wf, "--store", url, "--no-progress", env=s3.env())
    assert r.returncode == 0 and "finished adding 3 points" in r.stderr, r.stderr
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(disk).load())
    for store, env in ((disk, None), (url, s3.env())):  # a second round, uninterrupted
        r = _cli("refine", store, "--add", "2", "--no-progress", env=env)
        assert r.returncode == 0, r.stderr
    got, want = lifbatch.open_results(url).load(), lifbatch.open_results(disk).load()
    assert got.sizes["sample"] == want.sizes["sample"] == SAMPLED["sample"]["n"] + 5
    assert_identical(got, want)
    assert got.attrs["fingerprint"] == want.attrs["fingerprint"]
    assert _keys(url) == _keys(disk)
    assert _cli("status", url, "--verify", env=s3.env()).returncode == 0


@pytest.mark.slow
def test_fit_to_s3_equals_the_same_fit_on_disk(s3, tmp_path):
    """`lifbatch fit --store s3://...`: its rounds grow the bucket's store as they grow one on
    disk; the same evaluations, best point and store."""
    import json

    from test_designs import FIT

    wf = _write(tmp_path, {**FIT, "duration": "300 ms", "trials": 4})
    out = {}
    disk, url = tmp_path / "f.zarr", _url()
    for store, env in ((disk, None), (url, s3.env())):
        r = _cli(
            "fit",
            wf,
            "--target",
            "rate=10 Hz",
            "--free",
            "inputs.current.value=50..300",
            "--budget",
            "12",
            "--batch",
            "4",
            "--store",
            store,
            "--format",
            "json",
            "--no-progress",
            env=env,
        )
        assert r.returncode == 0, r.stderr
        out[str(store)] = json.loads(r.stdout)
    got, want = out[url], out[str(disk)]
    assert got["store"] == url and got["evaluations"] == want["evaluations"] == 12
    assert got["best"] == want["best"] and got["targets"] == want["targets"]
    assert_identical(lifbatch.open_results(url).load(), lifbatch.open_results(disk).load())
    assert _keys(url) == _keys(disk)


@pytest.mark.slow
def test_bench_sweep_to_s3_against_disk_leaves_nothing(s3):
    """`lifbatch bench --sweep --store s3://...`: each round's sweep to the bucket and to local
    disk (alternating), their ratio per round; every store it wrote removed after."""
    import json

    from lifbatch import storage

    r = _cli(
        "bench",
        "--sweep",
        "--store",
        "s3://lifbatch/bench",
        "--points",
        "8",
        "--tiny-points",
        "16",
        "--repeat",
        "2",
        "--json",
        env=s3.env(),
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["store"] == "s3://lifbatch/bench" and len(out["store_over_disk"]) == 2
    assert all(0 < x < 10 for x in out["store_over_disk"]) and out["disk_seconds"] > 0
    assert storage.of("s3://lifbatch/bench").list("") == []


# --------------------------------------------------------------------------- #
# credentials from AWS profiles and lifbatch.yaml, in the documented order; never printed
# --------------------------------------------------------------------------- #
def _bare(tmp_path, **extra) -> dict:
    """An environment with no AWS_* variable, its profile files under tmp_path (none written yet:
    not the user's ~/.aws), its dask config directory tmp_path/dask."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DASK_LIFBATCH__S3"))}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        DASK_CONFIG=str(tmp_path / "dask"),
    )
    env.update(extra)
    return env


def _profiles(tmp_path, s3, *, key="lifbatch-test", secret="lifbatch-test-secret") -> None:
    """Profile 'lab' with the server's keys in the credentials file and its endpoint and region in
    the config file; the default profile with keys the server refuses."""
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = nobody\naws_secret_access_key = "
        f"default-secret\n\n[lab]\naws_access_key_id = {key}\n"
        f"aws_secret_access_key = {secret}\n"
    )
    (tmp_path / "config").write_text(
        f"[default]\nregion = us-east-1\n\n[profile lab]\nregion = us-east-1\nendpoint_url = {s3.endpoint}\n"
    )


def test_credentials_and_endpoint_only_in_a_profile_file(s3, tmp_path):
    _profiles(tmp_path, s3)
    url, env = _url(), _bare(tmp_path, AWS_PROFILE="lab")
    r = _cli("run", _write(tmp_path, WF), "--store", url, "--no-progress", env=env)
    assert r.returncode == 0, r.stderr
    status = _cli("status", url, env=env)
    assert status.returncode == 0, status.stderr
    assert "8: 8 done, 0 failed, 0 pending (100%)" in status.stdout
    for out in (r.stdout, r.stderr, status.stdout, status.stderr):
        assert "lifbatch-test-secret" not in out and "default-secret" not in out  # never printed
    # the default profile's keys (no AWS_PROFILE) are refused by the server: the profile was what worked
    refused = _cli("status", url, env=_bare(tmp_path, AWS_ENDPOINT_URL=s3.endpoint))
    assert refused.returncode == 2, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "refused the credentials (from the AWS profile 'default')" in refused.stderr
    assert "default-secret" not in refused.stderr and "lifbatch-test-secret" not in refused.stderr


def test_credentials_only_in_lifbatch_yaml_win_over_the_environment_and_profiles(s3, tmp_path):
    _profiles(tmp_path, s3)
    (tmp_path / "dask").mkdir()
    (tmp_path / "dask" / "lifbatch.yaml").write_text(
        f"lifbatch:\n  s3:\n    endpoint: {s3.endpoint}\n    access-key-id: lifbatch-test\n"
        "    secret-access-key: lifbatch-test-secret\n"
    )
    url = _url()
    # wrong keys in the environment and in the default profile: lifbatch.yaml's keys are used
    env = _bare(tmp_path, AWS_ACCESS_KEY_ID="nobody", AWS_SECRET_ACCESS_KEY="env-secret")
    r = _cli("run", _write(tmp_path, WF), "--store", url, "--no-progress", env=env)
    assert r.returncode == 0, r.stderr
    status = _cli("status", url, env=env)
    assert status.returncode == 0, status.stderr
    assert "lifbatch-test-secret" not in status.stdout + status.stderr + r.stdout + r.stderr
    # a wrong secret in lifbatch.yaml: refused in one line naming where the keys came from, not the secret
    (tmp_path / "dask" / "lifbatch.yaml").write_text(
        f"lifbatch:\n  s3:\n    endpoint: {s3.endpoint}\n    access-key-id: lifbatch-test\n"
        "    secret-access-key: yaml-wrong-secret\n"
    )
    bad = _cli("status", url, env=env)
    assert bad.returncode == 2, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert bad.stderr.startswith(
        f"lifbatch: error: store '{url}' at {s3.endpoint}: the object store refused the "
        "credentials (from lifbatch.s3.access-key-id)"
    ), bad.stderr
    assert "yaml-wrong-secret" not in bad.stderr and "env-secret" not in bad.stderr


def test_environment_keys_win_over_the_profile_unless_lifbatch_names_the_profile(s3, tmp_path):
    _profiles(tmp_path, s3)
    url = _url()
    assert _cli("run", _write(tmp_path, WF), "--store", url, "--no-progress", env=s3.env()).returncode == 0
    # AWS_PROFILE=lab (good keys) but wrong keys in the environment: the environment's win, as the AWS CLI
    env = _bare(tmp_path, AWS_PROFILE="lab", AWS_ACCESS_KEY_ID="nobody", AWS_SECRET_ACCESS_KEY="env-secret")
    r = _cli("status", url, env=env)
    assert r.returncode == 2, r.stderr
    assert "refused the credentials (from AWS_ACCESS_KEY_ID)" in r.stderr and "env-secret" not in r.stderr
    # lifbatch.s3.profile=lab names it explicitly (as `aws --profile`): the environment's keys are skipped
    r = _cli("status", url, env={**env, "DASK_LIFBATCH__S3__PROFILE": "lab"})
    assert r.returncode == 0, r.stderr
    # the environment's keys beat the default profile's wrong ones
    assert (
        _cli(
            "status", url, env=_bare(tmp_path, **{k: v for k, v in s3.env().items() if k.startswith("AWS_")})
        ).returncode
        == 0
    )


@pytest.mark.parametrize("named_by", ["AWS_PROFILE", "lifbatch.s3.profile"])
def test_a_named_profile_that_does_not_exist_one_line(s3, tmp_path, named_by):
    _profiles(tmp_path, s3)
    url = _url()
    env = _bare(
        tmp_path, **({"AWS_PROFILE": "nope"} if named_by == "AWS_PROFILE" else {"DASK_LIFBATCH__S3__PROFILE": "nope"})
    )
    for args in (("status", url), ("run", _write(tmp_path, WF), "--store", url, "--no-progress")):
        r = _cli(*args, env=env)
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip() == (
            f"lifbatch: error: store '{url}': the AWS profile 'nope' (from {named_by}) is in neither "
            f"{tmp_path / 'credentials'} nor {tmp_path / 'config'}; name a profile of those files, or set "
            "AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE to the files that have it"
        )
    assert _keys(url) == set()


def test_a_key_id_in_lifbatch_yaml_without_its_secret_one_line(s3, tmp_path):
    url = _url()
    r = _cli(
        "status",
        url,
        env=_bare(
            tmp_path,
            DASK_LIFBATCH__S3__ACCESS_KEY_ID="lifbatch-test",
            AWS_ACCESS_KEY_ID="lifbatch-test",
            AWS_SECRET_ACCESS_KEY="lifbatch-test-secret",
        ),
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        f"lifbatch: error: store '{url}': lifbatch.s3.secret-access-key is not set but its "
        "pair is; set both (or neither, to use the environment or an AWS profile)"
    )


# --------------------------------------------------------------------------- #
# session tokens: passed on with their keys, never printed; profiles lifbatch does not read
# --------------------------------------------------------------------------- #
TOKEN = "lifbatch-test-session-token-0123456789"


@pytest.mark.parametrize("source", ["AWS_SESSION_TOKEN", "profile", "lifbatch.s3.session-token"])
def test_a_session_token_reaches_the_server_with_its_keys_and_is_never_printed(s3, tmp_path, source):
    """The server's keys with a session token, from each place a token is read: SeaweedFS checks
    session tokens and refuses this one (it issued none), while the same keys without it are
    accepted, so the refusal shows the token went with the requests. The refusal is one line
    (exit 2) that says a session token came along, and nothing prints the key, secret or token."""
    url = _url()
    assert _cli("run", _write(tmp_path, WF), "--store", url, "--no-progress", env=s3.env()).returncode == 0
    key, secret = s3.env()["AWS_ACCESS_KEY_ID"], s3.env()["AWS_SECRET_ACCESS_KEY"]
    if source == "AWS_SESSION_TOKEN":
        good = _bare(tmp_path, AWS_ENDPOINT_URL=s3.endpoint, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
        token, named = {**good, "AWS_SESSION_TOKEN": TOKEN}, "AWS_ACCESS_KEY_ID"
    elif source == "profile":
        _profiles(tmp_path, s3)
        good = _bare(tmp_path, AWS_PROFILE="lab")
        token, named = (
            _bare(tmp_path, AWS_PROFILE="lab", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "t")),
            "the AWS profile 'lab'",
        )
        (tmp_path / "t").write_text((tmp_path / "credentials").read_text() + f"aws_session_token = {TOKEN}\n")
    else:
        good = _bare(
            tmp_path,
            DASK_LIFBATCH__S3__ENDPOINT=s3.endpoint,
            DASK_LIFBATCH__S3__ACCESS_KEY_ID=key,
            DASK_LIFBATCH__S3__SECRET_ACCESS_KEY=secret,
        )
        token, named = {**good, "DASK_LIFBATCH__S3__SESSION_TOKEN": TOKEN}, "lifbatch.s3.access-key-id"
    ok = _cli("status", url, env=good)
    assert ok.returncode == 0 and "8: 8 done" in ok.stdout, ok.stderr
    for args in (("status", url), ("status", url, "--verify"), ("run", _write(tmp_path, WF), "--store", url)):
        r = _cli(*args, env=token)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith(
            f"lifbatch: error: store '{url}' at {s3.endpoint}: the object store refused the credentials "
            f"(from {named}), with a session token (temporary keys expire: get new ones) for "
        ), r.stderr
        for out in (r.stdout, r.stderr, ok.stdout, ok.stderr):
            assert TOKEN not in out and secret not in out and key not in out, out


def test_a_session_token_in_the_environment_does_not_go_with_other_keys(s3, tmp_path):
    """Keys from lifbatch.yaml (lifbatch.s3.*) with a stray AWS_SESSION_TOKEN in the environment
    (which the server would refuse): the token is not mixed into the other keys, the sweep runs;
    neither the outputs nor any object of the store hold the secret or the token."""
    (tmp_path / "dask").mkdir()
    (tmp_path / "dask" / "lifbatch.yaml").write_text(
        f"lifbatch:\n  s3:\n    endpoint: {s3.endpoint}\n    access-key-id: lifbatch-test\n"
        "    secret-access-key: lifbatch-test-secret\n"
    )
    url, env = _url(), _bare(tmp_path, AWS_SESSION_TOKEN=TOKEN)
    r = _cli("run", _write(tmp_path, WF), "--store", url, "--no-progress", env=env)
    assert r.returncode == 0, r.stderr
    st = _cli("status", url, env=env)
    assert st.returncode == 0 and "8: 8 done" in st.stdout, st.stderr
    for out in (r.stdout, r.stderr, st.stdout, st.stderr, *(v.decode("latin-1") for v in _objects(url).values())):
        assert TOKEN not in out and "lifbatch-test-secret" not in out


@pytest.mark.parametrize(
    "setting",
    [
        "role_arn = arn:aws:iam::123456789012:role/lab\nsource_profile = default",
        "sso_session = lab\nsso_account_id = 123456789012\nsso_role_name = lab",
        "sso_start_url = https://lab.awsapps.com/start\nsso_region = us-east-1",
        "web_identity_token_file = /var/run/secrets/token\nrole_arn = arn:aws:iam::123456789012:role/lab",
        "credential_process = /usr/local/bin/lab-credentials",
    ],
    ids=["role_arn", "sso_session", "sso_start_url", "web_identity", "credential_process"],
)
def test_a_profile_whose_keys_come_from_elsewhere_is_refused_in_one_line(s3, tmp_path, setting):
    """A profile that gets its keys by a role, IAM Identity Center, a web identity or a program
    (which lifbatch does not read, nor obstore without boto3): one line naming the profile, the
    setting and what to set instead, exit 2, nothing written; the key, not silently the next
    source's (the instance's, or none)."""
    (tmp_path / "config").write_text(
        f"[default]\nregion = us-east-1\n\n[profile lab]\nregion = us-east-1\nendpoint_url = {s3.endpoint}\n{setting}\n"
    )
    url = _url()
    first = setting.split(" =", 1)[0]
    for args in (("status", url), ("run", _write(tmp_path, WF), "--store", url, "--no-progress")):
        r = _cli(*args, env=_bare(tmp_path, AWS_PROFILE="lab"))
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip() == (
            f"lifbatch: error: store '{url}': the AWS profile 'lab' (from AWS_PROFILE) gets its keys by "
            f"{first}, which lifbatch does not read (only a profile's aws_access_key_id, aws_secret_access_key "
            "and aws_session_token); set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (e.g. "
            "`eval $(aws configure export-credentials --profile lab --format env)`), or "
            "lifbatch.s3.access-key-id, secret-access-key and session-token"
        )
    assert _keys(url) == set()
    # the fixes it names: the environment's keys (the profile's endpoint still read), or a profile's own keys
    env = _bare(
        tmp_path,
        AWS_PROFILE="lab",
        **{k: v for k, v in s3.env().items() if k.startswith("AWS_") and k != "AWS_ENDPOINT_URL"},
    )
    assert (
        _cli("status", url, env=env).stderr.strip()
        == f"lifbatch: error: no store at '{url}'. Run `lifbatch run WORKFLOW --store {url}` first."
    )
    if first == "credential_process":  # (a profile's own keys come before its credential_process, as for the AWS CLI)
        _profiles(tmp_path, s3)
        (tmp_path / "config").write_text((tmp_path / "config").read_text() + f"{setting}\n")
        r = _cli("run", _write(tmp_path, WF), "--store", url, "--no-progress", env=_bare(tmp_path, AWS_PROFILE="lab"))
        assert r.returncode == 0, r.stderr
