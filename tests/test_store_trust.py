"""A store you can trust: one writer per store, every kill point resumable, done means on disk.

Real `lifbatch run` processes, killed with real signals at each phase of a store's
creation; real concurrent runs; chunks deleted and truncated on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import lifbatch
from lifbatch.lease import read_lease
from lifbatch.plan import StoreState, plan_sweep
from lifbatch.store import done_blocks, inspect_store

from conftest import assert_identical

WF = {
    "name": "trust",
    "seed": 8,
    "trials": 4,
    "duration": "100 ms",
    "dt": "0.1 ms",
    "neuron": {
        "tau_m": "20 ms",
        "e_l": "-65 mV",
        "v_th": "-50 mV",
        "v_reset": "-65 mV",
        "t_ref": "2 ms",
        "r_m": "100 Mohm",
    },
    "inputs": {
        "i": {"kind": "constant", "value": "150 pA"},
        "n": {"kind": "white_noise", "sigma": "3 mV"},
        "p": {"kind": "poisson", "rate": "200 Hz", "weight": "0.5 mV", "n": 10},
    },
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 8], "unit": "pA"}},
    "record": {"v": {"trials": [0], "every": "1 ms"}},
}
# seconds of work, in many blocks: still running when a second run or a signal comes
SLOW = {
    **WF,
    "name": "trust-slow",
    "trials": 300,
    "duration": "2 s",
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 32], "unit": "pA"}},
}


def _cli(*args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _start(*args, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "lifbatch.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def reference():
    return lifbatch.simulate(lifbatch.load_workflow(WF))


def _wait_for(proc, text: str, timeout: float = 120) -> str:
    """Read the process's stderr until ``text`` appears (the process keeps running)."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"never saw {text!r}: {''.join(seen)}")


# --------------------------------------------------------------------------- #
# every kill point of a store's creation: a plain re-run finishes it identical
# --------------------------------------------------------------------------- #
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
@pytest.mark.parametrize("phase", ["lease", "prepared", "template-begun", "template-written"])
def test_interrupted_creation_resumes_to_identical(tmp_path, reference, phase, sig):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    env = {**os.environ, "LIFBATCH_TEST_PAUSE_AT": phase}
    proc = _start("run", path, "--store", store, "--points-per-task", "2", "--no-progress", env=env)
    _wait_for(proc, f"paused at {phase}")
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in err, err
    # whatever was left: status and query say something sensible in one line, and a plain re-run finishes
    for cmd in ("status", "query"):
        r = _cli(cmd, store)
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr, r.stderr
        if r.returncode == 2:
            assert len(r.stderr.strip().splitlines()) == 1 and "try again in a moment" not in r.stderr, r.stderr
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert_identical(lifbatch.open_results(store).load(), reference)
    assert read_lease(store) is None


@pytest.mark.slow
def test_ctrl_c_does_not_wait_for_the_blocks_running_in_threads(tmp_path, reference):
    """SIGINT while the run's first blocks wait for a template that never comes (the run is
    stopped writing it): the run exits at once, its block threads with it (daemon threads),
    not after the blocks' wait for the template (lifbatch.task.template-wait, 120 s), as it
    did on a ``ThreadPoolExecutor``, whose threads Python joins at exit. The store resumes."""
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    env = {**os.environ, "LIFBATCH_TEST_PAUSE_AT": "template-begun"}
    proc = _start("run", path, "--store", store, "--points-per-task", "2", "--workers", "2", "--no-progress", env=env)
    _wait_for(proc, "paused at template-begun")
    time.sleep(2)  # the first blocks (2 points of 100 ms) computed: waiting for the template
    signalled = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert time.monotonic() - signalled < 30, err
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert_identical(lifbatch.open_results(store).load(), reference)


@pytest.mark.slow
@pytest.mark.cluster
def test_killed_during_the_workers_visibility_probe(tmp_path, reference):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    env = {**os.environ, "LIFBATCH_TEST_PAUSE_AT": "probe"}
    proc = _start("run", path, "--store", store, "--processes", "--workers", "1", "--no-progress", env=env)
    _wait_for(proc, "paused at probe")
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes
    proc.communicate(timeout=60)
    assert inspect_store(store).kind == "empty"  # only the dead run's lease and probe are left
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert_identical(lifbatch.open_results(store).load(), reference)


# --------------------------------------------------------------------------- #
# one writer per store
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_two_runs_on_a_new_store(tmp_path):
    path = _write(tmp_path, SLOW)
    store = tmp_path / "s.zarr"
    first = _start("run", path, "--store", store, "--points-per-task", "1", "--no-progress")
    _wait_for(first, " of this process")
    second = _cli("run", path, "--store", store, "--no-progress")
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "being written by another run" in lines[0] and "lifbatch status" in lines[0]
    assert "done: 32 of 32 points" in out
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(path)))


@pytest.mark.slow
def test_two_runs_on_a_partial_store_and_a_dead_runs_status(tmp_path):
    path = _write(tmp_path, SLOW)
    store = tmp_path / "s.zarr"
    proc = _start("run", path, "--store", store, "--points-per-task", "1", "--workers", "1", "--no-progress")
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store)) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    before = len(done_blocks(store))
    assert 3 <= before < 32
    # the dead run: no run is live, no time left is promised
    st = _cli("status", store)
    assert "none is live" in st.stdout and "remaining" not in st.stdout, st.stdout
    a = _start("run", path, "--store", store, "--no-progress")
    _wait_for(a, "resuming")
    b = _cli("run", path, "--store", store, "--no-progress")
    out, err = a.communicate(timeout=300)
    assert a.returncode == 0 and f"{32 - before} blocks run, {before} already done" in out, err
    assert b.returncode == 2 and "being written by another run" in b.stderr, b.stderr
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(path)))


# --------------------------------------------------------------------------- #
# done means on disk: verify and repair
# --------------------------------------------------------------------------- #
def test_deleted_and_truncated_chunks_are_found_and_repaired(tmp_path, reference):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    assert _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress").returncode == 0
    ok = _cli("status", store, "--verify")
    assert ok.returncode == 0 and "verified: 4 of 4 blocks" in ok.stdout
    (store / "rate" / "c" / "1").unlink()  # block 1's rates deleted
    chunk = store / "v_mean" / "c" / "3" / "0"  # block 3's V means truncated
    chunk.write_bytes(chunk.read_bytes()[:20])
    bad = _cli("status", store, "--verify")
    assert bad.returncode == 1
    assert "2 of 4 done blocks have missing or corrupt data (4 points)" in bad.stdout
    assert "block 1: rate: missing chunk" in bad.stdout and "block 3: v_mean: chunk" in bad.stdout
    plain = _cli("run", path, "--store", store, "--no-progress")
    assert "0 blocks run" in plain.stdout  # their markers still say done: --repair is what reads the data
    fixed = _cli("run", path, "--store", store, "--repair", "--no-progress")
    assert fixed.returncode == 0 and "2 blocks run, 2 already done" in fixed.stdout, fixed.stderr
    assert _cli("status", store, "--verify").returncode == 0
    assert_identical(lifbatch.open_results(store).load(), reference)


def test_status_counts_only_blocks_with_a_marker(tmp_path):
    """The per-point status array is written with the data, before the block's marker: a block
    whose marker is missing is pending, whatever its status chunk says."""
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    assert _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress").returncode == 0
    (store / "_lifbatch" / "blocks" / "2" / "zarr.json").unlink()
    st = _cli("status", store)
    assert "8: 6 done, 0 failed, 2 pending" in st.stdout, st.stdout
    ds = lifbatch.open_results(store)
    assert int((ds.status == 1).sum()) == 6 and list(ds.status.values[4:6]) == [0, 0]
    r = _cli("run", path, "--store", store, "--no-progress")
    assert "1 blocks run, 3 already done" in r.stdout


# --------------------------------------------------------------------------- #
# --overwrite replaces only lifbatch stores
# --------------------------------------------------------------------------- #
def test_overwrite_refuses_a_directory_it_did_not_make(tmp_path):
    path = _write(tmp_path, WF)
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "thesis.tex").write_text("\\chapter{Results}")
    for extra in ([], ["--overwrite"]):
        r = _cli("run", path, "--store", thesis, *extra, "--no-progress")
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "thesis.tex" in r.stderr and "replaces only its own stores" in r.stderr
    assert (thesis / "thesis.tex").read_text() == "\\chapter{Results}" and sorted(os.listdir(thesis)) == ["thesis.tex"]
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    r = _cli("run", path, "--store", a_file, "--overwrite", "--no-progress")
    assert r.returncode == 2 and "is a file" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert a_file.read_text() == "keep me"


def test_overwrite_replaces_a_lifbatch_store_and_an_empty_directory(tmp_path, reference):
    path = _write(tmp_path, WF)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _cli("run", path, "--store", empty, "--no-progress").returncode == 0
    other = _write(tmp_path, {**WF, "name": "other", "seed": 99})
    refused = _cli("run", other, "--store", empty, "--no-progress")
    assert refused.returncode == 2 and "holds another workflow" in refused.stderr
    r = _cli("run", other, "--store", empty, "--overwrite", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert lifbatch.open_results(empty).attrs["name"] == "other"


# --------------------------------------------------------------------------- #
# the plan, without a cluster or a store
# --------------------------------------------------------------------------- #
def test_the_plan_decides_from_the_store_state_alone():
    from lifbatch.errors import StoreError, WorkflowError

    wf = lifbatch.load_workflow(WF)
    assert plan_sweep(wf, StoreState("s", "absent")).new
    assert plan_sweep(wf, StoreState("s", "empty")) == plan_sweep(wf, StoreState("s", "absent"))
    p = plan_sweep(wf, StoreState("s", "creating", fingerprint=wf.fingerprint))
    assert p.new and p.replace and "interrupted" in p.note
    with pytest.raises(StoreError, match="unfinished store of another workflow"):
        plan_sweep(wf, StoreState("s", "creating", fingerprint="0" * 16, name="x"))
    store = StoreState(
        "s", "store", fingerprint=wf.fingerprint, chunks=(2,), done=frozenset({0, 1, 3}), failed=frozenset({1})
    )
    p = plan_sweep(wf, store)
    assert not p.new and p.blocks == (2,) and p.skipped == 3 and p.chunks == (2,)
    assert plan_sweep(wf, store, retry_failed=True).blocks == (1, 2)
    assert plan_sweep(wf, store, repair={3}).blocks == (2, 3)
    assert plan_sweep(wf, store, overwrite=True).replace
    with pytest.raises(WorkflowError, match="differs from the existing store's blocks"):
        plan_sweep(wf, store, points_per_task=3)
    with pytest.raises(StoreError, match="holds another workflow"):
        plan_sweep(wf, StoreState("s", "store", fingerprint="0" * 16, chunks=(2,)))
    for kind in ("foreign", "zarr"):
        with pytest.raises(StoreError, match="replaces only its own stores"):
            plan_sweep(wf, StoreState("s", kind, contents=("a.txt",)), overwrite=True)
    with pytest.raises(StoreError, match="is a file"):
        plan_sweep(wf, StoreState("s", "file"), overwrite=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 600 KiB tmpfs (needs root, as CI has); unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root needed): {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.slow
def test_disk_full_and_read_only_store_are_one_line_and_resumable(tmp_path, small_disk):
    raw = {
        **WF,
        "name": "full",
        "trials": 20,
        "duration": "500 ms",
        "record": {"v": {"trials": "all"}},
        "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 40], "unit": "pA"}},
    }
    path = _write(tmp_path, raw)
    store = small_disk / "s.zarr"
    r = _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress")
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("lifbatch:")]
    assert r.returncode == 1 and len(lines) == 1 and "the disk is full" in lines[0], r.stderr
    assert "Traceback" not in r.stderr and "run the same command again" in lines[0]
    done = len(done_blocks(store))
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr, r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("lifbatch:")]) == 1, r.stderr
    assert "read-only" in r.stderr, r.stderr
    subprocess.run(["mount", "-o", "remount,rw,size=64m", str(small_disk)], check=True)
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0 and "already done" in r.stdout, r.stderr
    assert len(done_blocks(store)) == 20 and done < 20
    assert _cli("status", store, "--verify").returncode == 0
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(path)))
