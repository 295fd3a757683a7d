"""`lifbatch run / status / query` through the real command line, with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import lifbatch
from lifbatch.store import done_blocks

from conftest import assert_identical

SMALL = {
    "name": "cli-small",
    "seed": 5,
    "trials": 3,
    "duration": "200 ms",
    "dt": "0.1 ms",
    "neuron": {
        "tau_m": "20 ms",
        "e_l": "-65 mV",
        "v_th": "-50 mV",
        "v_reset": "-65 mV",
        "t_ref": "2 ms",
        "r_m": "100 Mohm",
    },
    "inputs": {"i": {"kind": "constant", "value": "150 pA"}, "n": {"kind": "white_noise", "sigma": "3 mV"}},
    "sweep": {
        "I": {"param": "inputs.i.value", "linspace": [100, 300, 6], "unit": "pA"},
        "sigma": {"param": "inputs.n.sigma", "values": [1, 4], "unit": "mV"},
    },
    "record": {"v": {"trials": [0], "every": "1 ms"}},
}


def lifbatch_cli(*args, cwd=None, timeout=300, **kw):
    return subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        **kw,
    )


@pytest.fixture
def small_yaml(tmp_path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump(SMALL))
    return p


@pytest.mark.slow
def test_run_status_query_and_resume(small_yaml, tmp_path):
    store = tmp_path / "out.zarr"
    r = lifbatch_cli("run", small_yaml, "--store", store, "--workers", "2", "--points-per-task", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "done: 12 of 12 points" in r.stdout and "6 blocks run, 0 already done" in r.stdout
    assert f"lifbatch review {store}" in r.stdout
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(small_yaml)))

    st = lifbatch_cli("status", store)
    assert st.returncode == 0
    assert "12: 12 done, 0 failed, 0 pending (100%)" in st.stdout

    q = lifbatch_cli("query", store, "--var", "rate", "--sel", "sigma=4 mV", "--sel", "I=185 pA", "--format", "json")
    assert q.returncode == 0, q.stderr
    out = json.loads(q.stdout)
    assert out["notes"] == ["note: I=185 pA is not on the grid; nearest is 180 pA"]
    ds = lifbatch.open_results(store)
    assert out["rows"][0]["rate [Hz]"] == pytest.approx(float(ds.rate.sel(I=180e-12, sigma=0.004, method="nearest")))
    csv = lifbatch_cli("query", store, "--var", "rate", "--var", "isi_cv", "--sel", "sigma=1", "--format", "csv")
    lines = csv.stdout.strip().splitlines()
    assert lines[0] == "I [pA],rate [Hz],isi_cv" and len(lines) == 7
    assert lines[1].startswith("100.0,")

    # resume: nothing to do
    r2 = lifbatch_cli("run", small_yaml, "--store", store, "--workers", "1", "--no-progress")
    assert r2.returncode == 0 and "0 blocks run, 6 already done" in r2.stdout

    # the same workflow with other values on the same store is refused (exit 2) with the --set that
    # resumes it (never --overwrite, which would discard its points), unless --overwrite
    r3 = lifbatch_cli("run", small_yaml, "--store", store, "--set", "seed=6", "--no-progress")
    assert r3.returncode == 2
    assert r3.stderr.startswith("lifbatch: error: store") and "add `--set seed=5` to resume it" in r3.stderr
    assert "--overwrite" not in r3.stderr
    assert "Traceback" not in r3.stderr and len(r3.stderr.strip().splitlines()) == 1
    r4 = lifbatch_cli(
        "run", small_yaml, "--store", store, "--set", "seed=6", "--overwrite", "--workers", "1", "--no-progress"
    )
    assert r4.returncode == 0
    assert lifbatch.open_results(store).attrs["seed"] == 6


@pytest.mark.slow
def test_killed_run_resumes_to_identical_store(tmp_path):
    """SIGKILL the whole `lifbatch run` (client and its local workers) mid-sweep, run again."""
    # 64 one-point blocks of ~40 ms each: the run is still going when the signal comes
    wf = dict(SMALL, trials=400, duration="1 s")
    wf["sweep"] = {"I": {"param": "inputs.i.value", "linspace": [100, 300, 64], "unit": "pA"}}
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(wf))
    store = tmp_path / "long.zarr"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lifbatch.cli",
            "run",
            str(path),
            "--store",
            str(store),
            "--workers",
            "1",
            "--points-per-task",
            "1",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store)) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(done_blocks(store))
    assert 3 <= before < 16, before
    status = lifbatch_cli("status", store)
    assert f"{before} done" in status.stdout and "pending" in status.stdout

    r = lifbatch_cli("run", path, "--store", store, "--workers", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    # only the missing blocks were computed
    assert f"{64 - before} blocks run, {before} already done" in r.stdout
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(path)))


@pytest.mark.slow
def test_failing_point_is_isolated(tmp_path):
    """One point blows up numerically: it is recorded as failed with its message, the rest complete.

    Without a threshold, Poisson jumps of 1e308 overflow V to inf, then inf - inf = NaN.
    """
    wf = {
        "name": "fail",
        "duration": "10 ms",
        "dt": "0.1 ms",
        "neuron": {"tau_m": "5 ms", "v_th": "inf"},
        "inputs": {"p": {"kind": "poisson", "rate": "5 kHz", "weight": 0.1}},
        "sweep": {"w": {"param": "inputs.p.weight", "values": [0.1, 0.2, 1e308, 0.4]}},
    }
    path = tmp_path / "fail.yaml"
    path.write_text(yaml.safe_dump(wf))
    store = tmp_path / "fail.zarr"
    r = lifbatch_cli("run", path, "--store", store, "--workers", "1", "--points-per-task", "2", "--no-progress")
    assert r.returncode == 1, r.stderr
    assert "1 point failed" in r.stderr and "w=1e+308" in r.stderr and "FloatingPointError" in r.stderr
    assert "--retry-failed" in r.stderr
    ds = lifbatch.open_results(store)
    assert ds.status.values.tolist() == [1, 1, 2, 1]
    assert np.isnan(ds.v_mean.values[2]).all() and np.isfinite(ds.v_mean.values[[0, 1, 3]]).all()
    st = lifbatch_cli("status", store)
    assert "3 done, 1 failed, 0 pending" in st.stdout and "FloatingPointError" in st.stdout
    # the other points are exactly what a run without the bad point gives
    ok = lifbatch.simulate(lifbatch.load_workflow(wf, overrides={"sweep.w.values": [0.1, 0.2, 0.4]}))
    assert_identical(ds.isel(w=[0, 1, 3]).load(), ok)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resumes(tmp_path):
    """SIGINT (Ctrl-C) to `lifbatch run`: exit 130 with a resume hint; the store resumes to the full result."""
    # 64 one-point blocks of ~40 ms each: the run is still going when the signal comes
    wf = dict(SMALL, trials=400, duration="1 s")
    wf["sweep"] = {"I": {"param": "inputs.i.value", "linspace": [100, 300, 64], "unit": "pA"}}
    path = tmp_path / "int.yaml"
    path.write_text(yaml.safe_dump(wf))
    store = tmp_path / "int.zarr"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lifbatch.cli",
            "run",
            str(path),
            "--store",
            str(store),
            "--workers",
            "1",
            "--points-per-task",
            "1",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell's background job ignores SIGINT, and so would its children
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store)) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    before = len(done_blocks(store))
    assert 2 <= before < 64
    r = lifbatch_cli("run", path, "--store", store, "--workers", "2", "--no-progress")
    assert r.returncode == 0 and f"{64 - before} blocks run, {before} already done" in r.stdout
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(path)))
