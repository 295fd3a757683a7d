"""`lifbatch summarize`: the same numbers as a sweep with those settings, one atomic swap, the
store's simulation identity kept."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import yaml

import lifbatch
from lifbatch.layout import MOMENT_SUMMARIES as MOMENT_VARS, SPIKE_SUMMARIES as SPIKE_VARS

from conftest import assert_identical

WF = {
    "name": "summ",
    "seed": 4,
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
    "inputs": {"i": {"kind": "constant", "value": "200 pA"}, "n": {"kind": "white_noise", "sigma": "4 mV"}},
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [150, 300, 6], "unit": "pA"}},
    "record": {"v": {"trials": "all", "every": "1 ms"}},
    "summaries": {"warmup": "50 ms", "moments": {"every": "1 ms"}},
}
SUMMARIES = SPIKE_VARS + MOMENT_VARS


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", *map(str, args)], capture_output=True, text=True, timeout=300, env=env
    )


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A finished store, and the same workflow run with warmup 100 ms from the start."""
    d = tmp_path_factory.mktemp("summ")
    wf = d / "w.yaml"
    wf.write_text(yaml.safe_dump(WF))
    base = d / "base.zarr"
    assert _cli("run", wf, "--store", base, "--points-per-task", "2", "--no-progress").returncode == 0
    direct = d / "direct.zarr"
    assert (
        _cli(
            "run", wf, "--store", direct, "--points-per-task", "2", "--no-progress", "--set", "summaries.warmup=100 ms"
        ).returncode
        == 0
    )
    return wf, base, direct


def test_summarize_equals_a_sweep_with_those_settings_and_keeps_the_identity(stores, tmp_path):
    wf, base, direct = stores
    store = tmp_path / "s.zarr"
    shutil.copytree(base, store)
    r = _cli("summarize", store, "--set", "summaries.warmup=100 ms")
    assert r.returncode == 0, r.stderr
    # the default ISI bins span duration - warmup: they change with it
    assert "(changed: isi_edges, warmup; were warmup 50 ms, 50 ISI bins over 0-250 ms" in r.stdout, r.stdout
    assert "summaries: warmup 100 ms, 50 ISI bins over 0-200 ms" in r.stdout
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(direct).load(), SUMMARIES)
    st = _cli("status", store)
    assert "summaries warmup 100 ms" in st.stdout
    # the simulation's identity is unchanged: the original workflow resumes the store
    again = _cli("run", wf, "--store", store, "--no-progress")
    assert again.returncode == 0 and "0 blocks run, 3 already done" in again.stdout, again.stderr


def test_a_partial_store_resumes_with_its_recomputed_summary_settings(stores, tmp_path):
    """Blocks still to run are summarized as the store's others were, after summarize changed them."""
    wf, base, direct = stores
    store = tmp_path / "s.zarr"
    shutil.copytree(base, store)
    assert _cli("summarize", store, "--set", "summaries.warmup=100 ms").returncode == 0
    for block in ("1", "2"):
        (store / "_lifbatch" / "blocks" / block / "zarr.json").unlink()
    r = _cli("run", wf, "--store", store, "--no-progress")
    assert r.returncode == 0 and "2 blocks run, 1 already done" in r.stdout, r.stderr
    assert "recomputed with other settings" in r.stderr and "warmup 100 ms" in r.stderr
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(direct).load())


def test_summarize_gives_pending_points_nan_not_zero(stores, tmp_path):
    wf, base, _ = stores
    store = tmp_path / "s.zarr"
    shutil.copytree(base, store)
    (store / "_lifbatch" / "blocks" / "1" / "zarr.json").unlink()  # points 2, 3: pending
    assert _cli("summarize", store).returncode == 0
    ds = lifbatch.open_results(store)
    assert np.isnan(ds.rate.values[2:4]).all() and np.isfinite(ds.rate.values[[0, 1, 4, 5]]).all()
    assert (ds.isi_hist.values[2:4] == 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["summarize-written", "summarize-committed", "summarize-swapped"])
def test_summarize_killed_at_any_point_leaves_all_old_or_all_new(stores, tmp_path, phase):
    wf, base, direct = stores
    store = tmp_path / "s.zarr"
    shutil.copytree(base, store)
    env = {**os.environ, "LIFBATCH_TEST_PAUSE_AT": phase}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lifbatch.cli", "summarize", str(store), "--set", "summaries.warmup=100 ms"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    for line in proc.stderr:
        if f"paused at {phase}" in line:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    committed = phase != "summarize-written"
    before = sorted(str(p) for p in store.rglob("*"))
    # readers never write: they read the old summaries (nothing committed), or say in one line
    # that a committed summarize is unfinished
    if committed:
        with pytest.raises(lifbatch.StoreError, match="interrupted after its commit.*lifbatch summarize"):
            lifbatch.open_results(store)
        r = _cli("status", store)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "interrupted after its commit" in r.stderr
    else:
        assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(base).load(), SUMMARIES)
        assert "warmup 50 ms" in _cli("status", store).stdout
    assert sorted(str(p) for p in store.rglob("*")) == before
    # the next command holding the lease finishes (or discards) it: `summarize` alone
    r = _cli("summarize", store)
    assert r.returncode == 0, r.stderr
    expected = direct if committed else base
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(expected).load(), SUMMARIES)
    want = "warmup 100 ms" if committed else "warmup 50 ms"
    assert want in _cli("status", store).stdout
    assert not (store / "_lifbatch" / "summarize").exists()


def test_summarize_refuses_a_store_with_a_live_run(stores, tmp_path):
    from lifbatch import lease

    wf, base, _ = stores
    store = tmp_path / "s.zarr"
    shutil.copytree(base, store)
    held = lease.acquire(store, command="a sweep")
    try:
        r = _cli("summarize", store)
    finally:
        held.release()
    assert r.returncode == 2 and "being written by another run" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_v_moments_summarize_cannot_recompute_keep_their_warmup_through_resume(tmp_path):
    """V of trial 0 only: summarize cannot recompute the V moments. A new warmup applies to the
    spike summaries, the V moments keep the warmup they were computed with, and say so (the
    store's settings, status); the blocks a resume computes follow the same split, so the store
    equals the spike summaries of a sweep with the new warmup and the V moments of one with the
    old; a new moments grid is refused in one line and nothing is written."""
    raw = {**WF, "name": "summ-partial", "record": {"v": {"trials": [0], "every": "1 ms"}}}
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(raw))
    base, direct, store = tmp_path / "base.zarr", tmp_path / "direct.zarr", tmp_path / "s.zarr"
    for out, extra in ((base, []), (direct, ["--set", "summaries.warmup=100 ms"])):
        assert _cli("run", path, "--store", out, "--points-per-task", "2", "--no-progress", *extra).returncode == 0
    shutil.copytree(base, store)
    r = _cli("summarize", store, "--set", "summaries.warmup=100 ms")
    assert r.returncode == 0, r.stderr
    kept = (
        "warmup 100 ms (V moments after 50 ms: summarize could not recompute them without V of every trial on "
        "the moments grid)"
    )
    assert f"summaries: {kept}" in r.stdout and "(changed: isi_edges, warmup;" in r.stdout, r.stdout
    assert kept in _cli("status", store).stdout
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(direct).load(), SPIKE_VARS)
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(base).load(), MOMENT_VARS)
    before = sorted(str(p.relative_to(store)) for p in store.rglob("*"))
    for args, field in (
        (["summaries.moments.every=2 ms"], "summaries.moments.every"),
        (["summaries.autocov.max_lag=10 ms"], "summaries.autocov.max_lag"),
    ):
        bad = _cli("summarize", store, "--set", *args)
        msg = bad.stderr.strip()
        assert bad.returncode == 2 and "\n" not in msg and f"`{field}`" in msg, msg
        assert "summarize cannot recompute this store's V moments" in msg and "--store NEW" in msg, msg
    assert sorted(str(p.relative_to(store)) for p in store.rglob("*")) == before
    for block in ("1", "2"):
        (store / "_lifbatch" / "blocks" / block / "zarr.json").unlink()
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0 and "2 blocks run, 1 already done" in r.stdout, r.stderr
    ds = lifbatch.open_results(store).load()
    assert_identical(ds, lifbatch.open_results(direct).load(), SPIKE_VARS)
    assert_identical(ds, lifbatch.open_results(base).load(), MOMENT_VARS)
