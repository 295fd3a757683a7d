"""Fencing and one control plane (docs/store-layout.md, "One writer"): a command that lost
its lease writes nothing more, readers never write, a refused run removes nothing of the
winner's, two fits on one store never corrupt it, a lease file that cannot be trusted is
stale, a detached sweep without workers gives its store up.

Real `lifbatch` processes stopped with SIGSTOP past the lease timeout and woken with
SIGCONT, killed with SIGKILL, started concurrently; real `dask scheduler` / `dask worker`
processes. The lease's times are shortened through Dask's configuration variables.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lifbatch
from lifbatch.layout import LEASE
from lifbatch.lease import read_lease
from lifbatch.store import done_blocks, read_markers, store_generation

from conftest import assert_identical
from test_store_trust import SLOW, WF, _cli, _start, _wait_for, _write

#: a lease that lapses in 2 s (a taker waits 2 + 1 s), renewed every 0.3 s
FAST = {
    "DASK_LIFBATCH__LEASE__TIMEOUT": "2s",
    "DASK_LIFBATCH__LEASE__MARGIN": "1s",
    "DASK_LIFBATCH__LEASE__HEARTBEAT": "0.3s",
}
#: a sweep of ~1 s blocks (one point each): still running when the tests stop it
MEDIUM = {
    **SLOW,
    "name": "fence-medium",
    "trials": 150,
    "duration": "1 s",
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 10], "unit": "pA"}},
}


def _env(**extra) -> dict:
    return {**os.environ, **FAST, **extra}


def _files(store: Path) -> dict:
    """Every file of a store with its size and modification time: what a reader must not change."""
    return {
        str(p.relative_to(store)): (p.stat().st_size, p.stat().st_mtime_ns) for p in store.rglob("*") if p.is_file()
    }


def _one_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# --------------------------------------------------------------------------- #
# item 2: a run stopped past its lease writes nothing when it wakes
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_a_run_stopped_past_its_lease_writes_nothing_into_the_store_that_replaced_it(tmp_path):
    """Run A is stopped (SIGSTOP) with a block computed and not yet written; run B takes the
    stale lease over, replaces the store (--overwrite, another seed) and finishes it; A, woken
    (SIGCONT), exits 1 in one line having written nothing: the store is B's, bit for bit, and
    every marker is of B's generation."""
    path = _write(tmp_path, MEDIUM)
    store = tmp_path / "s.zarr"
    a = _start(
        "run",
        path,
        "--store",
        store,
        "--points-per-task",
        "1",
        "--workers",
        "1",
        "--no-progress",
        env=_env(LIFBATCH_TEST_PAUSE_AT="block-computed", LIFBATCH_TEST_PAUSE_SECONDS="1"),
    )
    _wait_for(a, "paused at block-computed")
    os.killpg(a.pid, signal.SIGSTOP)
    try:
        time.sleep(4)  # past timeout + margin
        b = _cli(
            "run",
            path,
            "--store",
            store,
            "--overwrite",
            "--set",
            "seed=99",
            "--set",
            "trials=4",
            "--no-progress",
            env=_env(),
        )
        assert b.returncode == 0, b.stderr
        assert "took over a stale lease" in b.stderr, b.stderr
        generation = store_generation(store)
        before = _files(store)
    finally:
        os.killpg(a.pid, signal.SIGCONT)
    out, err = a.communicate(timeout=120)
    assert a.returncode == 1, err
    lines = [ln for ln in err.strip().splitlines() if "paused at" not in ln]
    assert len(lines) == 1 and "lost its lease" in lines[0] and "writes nothing more" in lines[0], err
    assert _files(store) == before  # not one byte written by A after it woke
    expected = lifbatch.simulate(lifbatch.load_workflow({**MEDIUM, "seed": 99, "trials": 4}))
    assert_identical(lifbatch.open_results(store).load(), expected)
    assert {m["generation"] for m in read_markers(store)} == {generation}
    assert "verified" in _cli("status", store, "--verify").stdout


@pytest.mark.slow
def test_a_marker_of_an_older_generation_does_not_count(tmp_path):
    """The window fencing leaves (a writer stopped between its check and its write) cannot
    make a replaced store count another store's block: its marker has the old generation."""
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    assert _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress").returncode == 0
    old = (store / "_lifbatch" / "blocks" / "0" / "zarr.json").read_text()
    assert (
        _cli(
            "run", path, "--store", store, "--points-per-task", "2", "--overwrite", "--set", "seed=3", "--no-progress"
        ).returncode
        == 0
    )
    assert len(done_blocks(store)) == 4
    (store / "_lifbatch" / "blocks" / "0" / "zarr.json").write_text(old)  # the old writer's late marker
    assert done_blocks(store) == {1, 2, 3}
    st = _cli("status", store)
    assert "2 pending" in st.stdout, st.stdout
    r = _cli("run", path, "--store", store, "--set", "seed=3", "--no-progress")
    assert r.returncode == 0 and "3 of 4 blocks already done" in r.stderr, r.stderr
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow({**WF, "seed": 3})))


# --------------------------------------------------------------------------- #
# item 3: a summarize that lost its lease commits nothing
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_a_summarize_stopped_past_its_lease_does_not_commit(tmp_path):
    """summarize is stopped with its new arrays written, a run takes the store over (discarding
    the uncommitted summarize) and finishes it; summarize, woken, exits 1 in one line and
    commits nothing: the store equals an uninterrupted run."""
    raw = {**MEDIUM, "name": "fence-summ", "trials": 20, "duration": "300 ms"}
    path = _write(tmp_path, raw)
    store = tmp_path / "s.zarr"
    first = _start(
        "run", path, "--store", store, "--points-per-task", "1", "--workers", "1", "--no-progress", env=_env()
    )
    while len(done_blocks(store)) < 3:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate(timeout=60)
    s = _start(
        "summarize",
        store,
        "--set",
        "summaries.warmup=100 ms",
        env=_env(LIFBATCH_TEST_PAUSE_AT="summarize-written", LIFBATCH_TEST_PAUSE_SECONDS="1"),
    )
    _wait_for(s, "paused at summarize-written")
    os.killpg(s.pid, signal.SIGSTOP)
    try:
        time.sleep(4)
        r = _cli("run", path, "--store", store, "--no-progress", env=_env())
        assert r.returncode == 0, r.stderr
        assert "discarded an unfinished summarize" in r.stderr, r.stderr
        before = _files(store)
    finally:
        os.killpg(s.pid, signal.SIGCONT)
    out, err = s.communicate(timeout=120)
    assert s.returncode == 1, err
    assert "lost its lease" in err.strip().splitlines()[-1], err
    assert _files(store) == before
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(raw)))


# --------------------------------------------------------------------------- #
# item 4: two fits on one store
# --------------------------------------------------------------------------- #
FIT = {
    "name": "fence-fit",
    "seed": 5,
    "trials": 6,
    "duration": "300 ms",
    "dt": "0.1 ms",
    "neuron": {
        "tau_m": "20 ms",
        "e_l": "-65 mV",
        "v_th": "-50 mV",
        "v_reset": "-65 mV",
        "t_ref": "2 ms",
        "r_m": "100 Mohm",
    },
    "inputs": {"current": {"kind": "constant", "value": "150 pA"}, "noise": {"kind": "white_noise", "sigma": "4 mV"}},
    "summaries": {"warmup": "50 ms"},
}


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.7, 1.1])
def test_two_fits_on_one_store_never_corrupt_it(tmp_path, delay):
    """A second `lifbatch fit` started 0.7-1.1 s after the first on the same store: each ends
    with exit 0 or one line (refused); every done point of the store holds what simulating its
    own coordinates gives, bit for bit, and no point is NaN."""
    path = _write(tmp_path, FIT)
    store = tmp_path / "f.zarr"
    args = [
        "fit",
        path,
        "--target",
        "rate=15 Hz",
        "--free",
        "inputs.current.value=100..300",
        "--budget",
        "20",
        "--batch",
        "4",
        "--store",
        store,
        "--no-progress",
        "--workers",
        "1",
    ]
    a = _start(*args)
    time.sleep(delay)
    b = _start(*args)
    results = [(p.returncode, *p.communicate(timeout=600)) for p in (a, b)]
    results = [(p.returncode, out, err) for p, (_, out, err) in zip((a, b), results)]
    assert any(rc == 0 for rc, _, _ in results), results
    for rc, out, err in results:
        if rc != 0:
            # One line of refusal. A second fit that found the first one's round pending while
            # the first was between its run and its growth computes it first (a resumed fit
            # does that, with the same results) and says where it runs before being refused.
            lines = err.strip().splitlines()
            assert rc == 2 and all(line.startswith("running in ") for line in lines[:-1]), err
            assert "being written by another run" in lines[-1] or "grown by another command" in lines[-1], err
    # whatever was refused, the store is the simulation of its own workflow, point for point
    ds = lifbatch.open_results(store).load()
    assert (ds["status"].values == 1).all()
    wf = lifbatch.load_workflow(json.loads(ds.attrs["workflow"]))
    assert_identical(ds, lifbatch.simulate(wf), ["spike_bits", "spike_count", "rate", "isi_cv"])
    assert np.isfinite(ds["rate"].values).all()


# --------------------------------------------------------------------------- #
# item 5: readers never write
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_readers_never_write_after_an_interrupted_refine(tmp_path):
    """A refine killed after its growth's commit: six readers at once (status, query, and the
    Python API) each read nothing half-grown (one line each, exit 2) and change no file; then
    `lifbatch run` of the store's workflow (under the lease) finishes the growth and its
    points, identical to an uninterrupted refine."""
    raw = {
        **FIT,
        "name": "fence-refine",
        "sample": {
            "method": "sobol",
            "n": 8,
            "params": {"current": {"param": "inputs.current.value", "bounds": [100, 300], "unit": "pA"}},
        },
    }
    path = _write(tmp_path, raw)
    whole, store = tmp_path / "whole.zarr", tmp_path / "s.zarr"
    for s in (whole, store):
        assert _cli("run", path, "--store", s, "--points-per-task", "3", "--no-progress").returncode == 0
    assert _cli("refine", whole, "--add", "4", "--no-progress").returncode == 0
    p = _start(
        "refine", store, "--add", "4", "--no-progress", env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "grow-committed"}
    )
    _wait_for(p, "paused at grow-committed")
    os.killpg(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)
    before = _files(store)
    readers = [
        _start("status", store),
        _start("query", store, "--var", "rate"),
        _start("status", store, "--verify"),
        _start("query", store, "--var", "isi_cv", "--format", "csv"),
        _start("status", store),
        _start("query", store, "--var", "rate"),
    ]
    for r in readers:
        out, err = r.communicate(timeout=120)
        assert r.returncode == 2, (out, err)
        assert len(err.strip().splitlines()) == 1 and "interrupted after its commit" in err, err
    with pytest.raises(lifbatch.StoreError, match="adding points"):
        lifbatch.open_results(store)
    assert _files(store) == before
    src = tmp_path / "store-workflow.yaml"
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0 and "finished adding 4 points" in r.stderr, r.stderr
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(whole).load())
    del src


@pytest.mark.slow
def test_six_readers_after_a_summarize_killed_at_its_commit(tmp_path):
    """Readers at once after a summarize killed at its commit: none crashes, none writes, no
    variable is lost; the next summarize finishes it."""
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    assert _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress").returncode == 0
    p = _start(
        "summarize",
        store,
        "--set",
        "summaries.warmup=30 ms",
        env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "summarize-swapped"},
    )
    _wait_for(p, "paused at summarize-swapped")
    os.killpg(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)
    before = _files(store)
    readers = [_start("status", store) if i % 2 else _start("query", store, "--var", "rate") for i in range(6)]
    for r in readers:
        out, err = r.communicate(timeout=120)
        assert r.returncode == 2 and "interrupted after its commit" in _one_line(
            subprocess.CompletedProcess([], r.returncode, out, err)
        ), err
    assert _files(store) == before
    assert _cli("summarize", store).returncode == 0
    direct = tmp_path / "direct.zarr"
    assert (
        _cli(
            "run", path, "--store", direct, "--points-per-task", "2", "--no-progress", "--set", "summaries.warmup=30 ms"
        ).returncode
        == 0
    )
    # (V of trial 0 only: summarize keeps the V moments, so the spike summaries are compared)
    assert_identical(
        lifbatch.open_results(store).load(),
        lifbatch.open_results(direct).load(),
        ["rate", "rate_std", "isi_mean", "isi_std", "isi_cv", "isi_hist"],
    )


# --------------------------------------------------------------------------- #
# item 6: a refused run removes nothing of the winner's
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_a_refused_run_does_not_remove_the_store_the_winner_creates(tmp_path):
    """Run A makes the store's directory and stalls before taking the lease; run B takes it and
    creates the store; A is refused in one line and removes nothing: B finishes."""
    path = _write(tmp_path, {**MEDIUM, "trials": 40})
    store = tmp_path / "new" / "s.zarr"
    a = _start(
        "run",
        path,
        "--store",
        store,
        "--no-progress",
        env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "store-dir", "LIFBATCH_TEST_PAUSE_SECONDS": "12"},
    )
    _wait_for(a, "paused at store-dir")
    # B holds the store from before A wakes until after A has been refused: it stalls 20 s with its
    # template written
    b = _start(
        "run",
        path,
        "--store",
        store,
        "--no-progress",
        env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "template-written", "LIFBATCH_TEST_PAUSE_SECONDS": "20"},
    )
    deadline = time.time() + 10  # (A stalls 12 s: B, however slow to start, takes the lease first)
    while read_lease(store) is None and time.time() < deadline:
        time.sleep(0.05)
    assert read_lease(store) is not None and read_lease(store)["pid"] == b.pid
    out, err = a.communicate(timeout=120)
    assert a.returncode == 2, err
    assert "being written by another run" in err.strip().splitlines()[-1], err
    out, err = b.communicate(timeout=300)
    assert b.returncode == 0, err
    assert_identical(
        lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow({**MEDIUM, "trials": 40}))
    )


def test_a_refused_run_on_a_new_path_leaves_no_directory(tmp_path):
    """The other half of the rule: directories a refused run made and nobody used are gone."""
    from lifbatch.execute import _make_store_dir, _remove_if_empty

    store = tmp_path / "a" / "b" / "s.zarr"
    made = _make_store_dir(store)
    assert made == [store, store.parent, store.parent.parent]
    (store / "_lifbatch").mkdir()
    _remove_if_empty(store, made)
    assert not (tmp_path / "a").exists()
    made = _make_store_dir(store)
    (store / "zarr.json").write_text("{}")  # another run's store
    _remove_if_empty(store, made)
    assert (store / "zarr.json").exists()


# --------------------------------------------------------------------------- #
# item 11: a lease file that cannot be trusted
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "lease, why",
    [
        ({"heartbeat": "FUTURE", "host": "other-host", "pid": 1}, "in the future"),
        ({"heartbeat": float("nan"), "host": "other-host", "pid": 1}, "is not a time"),
        ({"heartbeat": "yesterday", "host": 3, "pid": "x", "owner": ["a"]}, "is not a time"),
        ({"heartbeat": "NOW", "host": "other-host", "pid": "x"}, "is not a process id"),
        ({"heartbeat": "NOW", "token": 7}, "no token"),
        ("[1, 2", "unreadable"),
    ],
    ids=["an-hour-ahead", "nan", "wrong-types", "pid-not-int", "token-not-str", "not-json"],
)
def test_a_lease_file_that_cannot_be_trusted_is_stale_with_a_one_line_note(tmp_path, lease, why):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    assert _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress").returncode == 0
    (store / "_lifbatch" / "blocks" / "3").rename(tmp_path / "block-3")  # one block left to run
    if isinstance(lease, dict):
        lease = {"token": "t" * 32, "owner": "someone@other-host", **lease}
        lease["heartbeat"] = {"FUTURE": time.time() + 3600, "NOW": time.time()}.get(
            lease["heartbeat"], lease["heartbeat"]
        )
        text = json.dumps(lease)  # (NaN as JSON writes it)
    else:
        text = lease
    (store / "_lifbatch" / "lease.json").write_text(text)
    st = _cli("status", store)
    assert st.returncode == 0, st.stderr
    assert "none is live" in st.stdout and "cannot be trusted" in st.stdout and why in st.stdout, st.stdout
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert f"took over a stale lease on '{store}'" in r.stderr and why in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert read_lease(store) is None
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(WF)))


# --------------------------------------------------------------------------- #
# item 10: a detached sweep whose workers died
# --------------------------------------------------------------------------- #
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.cluster
def test_a_detached_sweep_whose_workers_died_gives_the_store_up(tmp_path):
    """`run --detach` on a real scheduler with one worker; the worker is killed: `status` says
    the scheduler has no workers (no time left is promised), and once the lease lapses a local
    `lifbatch run` takes the store over and finishes it, bit-identical."""
    port = _free_port()
    env = _env()
    sched = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            "127.0.0.1:0",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"tcp://127.0.0.1:{port}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            address,
            "--host",
            "127.0.0.1",
            "--nthreads",
            "1",
            "--no-nanny",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        path = _write(tmp_path, MEDIUM)
        store = tmp_path / "s.zarr"
        r = _cli(
            "run",
            path,
            "--store",
            store,
            "--scheduler",
            address,
            "--detach",
            "--points-per-task",
            "1",
            "--no-progress",
            env=env,
        )
        assert r.returncode == 0, r.stderr
        deadline = time.time() + 120
        while len(done_blocks(store)) < 2 and time.time() < deadline:
            time.sleep(0.1)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        deadline = time.time() + 60
        while time.time() < deadline:
            st = _cli("status", store, env=env).stdout
            if "has no workers" in st:
                break
            time.sleep(0.5)
        assert "has no workers" in st and "remaining" not in st, st
        r = _cli("run", path, "--store", store, "--no-progress", env=env, timeout=600)
        deadline = time.time() + 60
        while r.returncode == 2 and "being written by another run" in r.stderr and time.time() < deadline:
            time.sleep(1)  # the lease lapses timeout + margin after the scheduler's last renewal
            r = _cli("run", path, "--store", store, "--no-progress", env=env, timeout=600)
        assert r.returncode == 0, r.stderr
        assert "took over a stale lease" in r.stderr, r.stderr
        assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(MEDIUM)))
    finally:
        for p in (worker, sched):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.mark.slow
def test_refine_after_an_interrupted_refine_finishes_it_first(tmp_path):
    """A refine killed after its growth's commit; the next `lifbatch refine` (holding the lease)
    finishes that growth and its points, then adds its own round: the store equals one refined
    twice without interruption."""
    raw = {
        **FIT,
        "name": "fence-refine2",
        "sample": {
            "method": "sobol",
            "n": 8,
            "params": {"current": {"param": "inputs.current.value", "bounds": [100, 300], "unit": "pA"}},
        },
    }
    path = _write(tmp_path, raw)
    whole, store = tmp_path / "whole.zarr", tmp_path / "s.zarr"
    for s in (whole, store):
        assert _cli("run", path, "--store", s, "--points-per-task", "3", "--no-progress").returncode == 0
    for _ in range(2):
        assert _cli("refine", whole, "--add", "3", "--no-progress").returncode == 0
    p = _start(
        "refine", store, "--add", "3", "--no-progress", env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "grow-committed"}
    )
    _wait_for(p, "paused at grow-committed")
    os.killpg(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)
    r = _cli("refine", store, "--add", "3", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "finished adding 3 points" in r.stderr, r.stderr
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(whole).load())


@pytest.mark.slow
def test_readers_during_a_live_summarize_commit_never_mix_old_and_new(tmp_path):
    """A summarize holding its lease, paused between two of its swaps (some arrays new, some
    old): readers meanwhile say in one line that a live summarize is changing the store and
    change no file; once it finishes, the store equals a sweep run with the new settings."""
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    assert _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress").returncode == 0
    s = _start(
        "summarize",
        store,
        "--set",
        "summaries.warmup=30 ms",
        env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "summarize-swapped", "LIFBATCH_TEST_PAUSE_SECONDS": "8"},
    )
    _wait_for(s, "paused at summarize-swapped")

    # The live summarize renews its lease meanwhile (lease.json is the writer's, and its heartbeat
    # rewrites it every few seconds on a busy machine); every other file is the readers' to leave alone.
    def unchanged_by_readers():
        return {k: v for k, v in _files(store).items() if k != str(LEASE)}

    before = unchanged_by_readers()
    readers = [_start("status", store), _start("query", store, "--var", "rate"), _start("status", store, "--verify")]
    for r in readers:
        out, err = r.communicate(timeout=120)
        assert r.returncode == 2 and out == "", (out, err)
        assert "being changed by a `lifbatch summarize` that is live" in _one_line(
            subprocess.CompletedProcess([], r.returncode, out, err)
        ), err
    with pytest.raises(lifbatch.StoreError, match="that is live"):
        lifbatch.open_results(store)
    assert unchanged_by_readers() == before
    s.communicate(timeout=120)
    assert s.returncode == 0
    direct = tmp_path / "direct.zarr"
    assert (
        _cli(
            "run", path, "--store", direct, "--points-per-task", "2", "--no-progress", "--set", "summaries.warmup=30 ms"
        ).returncode
        == 0
    )
    assert_identical(
        lifbatch.open_results(store).load(),
        lifbatch.open_results(direct).load(),
        ["rate", "rate_std", "isi_mean", "isi_std", "isi_cv", "isi_hist"],
    )
