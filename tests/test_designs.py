"""Beyond the grid: sampled designs, refinement and fitting, on real stores.

Sampled designs are bit-identical between `simulate`, `run`, any block size and
resume; a refined store's added points equal simulating them alone, its earlier
points are unchanged, and refining a copy again picks the same points; `fit`
recovers a known answer, and a fit killed mid-way resumes to the same result.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import lifbatch
from lifbatch.errors import WorkflowError
from lifbatch.point import simulate_point
from lifbatch.refine import choose_points
from lifbatch.store import done_blocks

from conftest import assert_identical
from test_store_trust import _start, _wait_for

WF = {
    "name": "designs",
    "seed": 5,
    "trials": 4,
    "duration": "150 ms",
    "dt": "0.1 ms",
    "neuron": {"tau_m": "20 ms", "v_th": 1, "v_reset": 0, "t_ref": "2 ms"},
    "inputs": {
        "mu": {"kind": "constant", "value": 1.1},
        "noise": {"kind": "white_noise", "sigma": 0.3},
        "p": {"kind": "poisson", "rate": "100 Hz", "weight": 0.02, "n": 5},
    },
    "sweep": {"tref": {"param": "neuron.t_ref", "values": [1, 3], "unit": "ms"}},
    "sample": {
        "method": "sobol",
        "n": 7,
        "params": {
            "mu": {"param": "inputs.mu.value", "bounds": [0.6, 1.4]},
            "sigma": {"param": "inputs.noise.sigma", "bounds": [0.1, 1.0], "scale": "log"},
        },
    },
    "record": {"v": {"trials": [0], "every": "1 ms"}},
}


def _cli(*args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def reference():
    return lifbatch.simulate(lifbatch.load_workflow(WF))


# --------------------------------------------------------------------------- #
# the design
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("method", ["sobol", "lhs", "random"])
def test_the_design_is_scipys_qmc_seeded_by_the_workflow_seed(method):
    from scipy.stats import qmc

    raw = {**WF, "sample": {**WF["sample"], "method": method}}
    wf = lifbatch.load_workflow(raw)
    rng = np.random.default_rng([5, 0x5A4D])
    if method == "sobol":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            u = qmc.Sobol(2, scramble=True, rng=rng).random(7)
    elif method == "lhs":
        u = qmc.LatinHypercube(2, rng=rng).random(7)
    else:
        u = rng.random((7, 2))
    mu = 0.6 + u[:, 0] * (1.4 - 0.6)
    sigma = np.exp(math.log(0.1) + u[:, 1] * (math.log(1.0) - math.log(0.1)))
    ax = wf.sweep[0]
    assert wf.axis_names == ("sample", "tref") and wf.shape == (7, 2)
    assert ax.params == ("inputs.mu.value", "inputs.noise.sigma")
    assert np.array_equal(ax.values[0], mu) and np.array_equal(ax.values[1], sigma)
    # the same workflow gives the same points; another seed others
    assert lifbatch.load_workflow(raw).fingerprint == wf.fingerprint
    other = lifbatch.load_workflow({**raw, "seed": 6})
    assert not np.array_equal(other.sweep[0].values[0], ax.values[0])


def test_the_store_labels_the_design(tmp_path, reference):
    ds = reference
    assert ds["rate"].dims == ("sample", "tref")
    assert ds["sample"].values.tolist() == list(range(7))
    wf = lifbatch.load_workflow(WF)
    assert np.array_equal(ds["mu"].values, wf.sweep[0].values[0])
    assert ds["mu"].dims == ("sample",) and ds["mu"].attrs["scale"] == "linear"
    assert ds["sigma"].attrs["scale"] == "log" and ds["sigma"].attrs["bounds"] == [0.1, 1.0]
    assert ds["sample_round"].values.tolist() == [0] * 7
    # each point is its parameters: simulate_point of sample 3 at tref 3 ms is that point of the grid
    p = wf.point_params((3, 1))
    assert p["inputs.mu.value"] == ds["mu"].values[3] and p["neuron.t_ref"] == 0.003
    one = simulate_point(wf, p)
    assert np.array_equal(one.counts, ds["spike_count"].values[3, 1])


@pytest.mark.slow
@pytest.mark.parametrize("ppt", [1, 3, 14])
def test_run_equals_simulate_at_any_block_size(tmp_path, reference, ppt):
    store = tmp_path / "s.zarr"
    lifbatch.run_sweep(WF, store, points_per_task=ppt, progress=False, log=lambda m: None)
    assert_identical(lifbatch.open_results(store).load(), reference)


@pytest.mark.slow
def test_a_resumed_sampled_run_is_identical(tmp_path, reference):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    r = _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    for flat in (1, 4, 6):  # blocks lost: a re-run computes only them
        shutil.rmtree(store / "_lifbatch" / "blocks" / str(flat))
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0 and "3 blocks run" in r.stdout, r.stdout + r.stderr
    assert_identical(lifbatch.open_results(store).load(), reference)


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"method": "halton"}, "sample.method", "must be one of sobol, lhs, random"),
        ({"n": -1}, "sample.n", "whole number of points"),
        ({"n": None}, "sample.n", "is required"),
        ({"colour": 1}, "sample.colour", "is not a known key"),
        (
            {"params": {"mu": {"param": "inputs.mu.value", "bounds": [1.4, 0.6]}}},
            "sample.params.mu.bounds",
            "low < high",
        ),
        (
            {"params": {"mu": {"param": "inputs.mu.value", "bounds": [0, 1], "scale": "log"}}},
            "sample.params.mu.bounds",
            "positive with scale: log",
        ),
        (
            {"params": {"mu": {"param": "inputs.mu.value", "bounds": [0.6, 1.4], "scale": "ln"}}},
            "sample.params.mu.scale",
            "linear or log",
        ),
        (
            {"params": {"t": {"param": "neuron.t_ref", "bounds": [1, 2]}}},
            "sample.params.t.param",
            "already swept by axis 'tref'",
        ),
        (
            {"params": {"t": {"param": "neuron.tau", "bounds": [1, 2]}}},
            "sample.params.t.param",
            "not a numeric parameter",
        ),
        ({"params": {"t": {"param": "neuron.tau_m", "bounds": [10, 30]}}}, "sample.params.t.bounds.unit", "a time"),
        (
            {"params": {"rate": {"param": "inputs.mu.value", "bounds": [0.6, 1.4]}}},
            "sample.params.rate",
            "name of a variable",
        ),
        (
            {"params": {"t": {"param": "neuron.tau_m", "bounds": [-10, 30], "unit": "ms"}}},
            "sample.params.t.bounds",
            "neuron.tau_m",
        ),
    ],
)
def test_a_bad_sample_section_is_one_line_naming_the_field(change, field, words):
    raw = {**WF, "sample": {**WF["sample"], **change}}
    if change.get("n", 0) is None:
        raw["sample"].pop("n")
    with pytest.raises(WorkflowError) as exc:
        lifbatch.load_workflow(raw)
    msg = str(exc.value)
    assert field in msg and words in msg and "\n" not in msg, msg


def test_a_sample_may_share_its_noise_across_points():
    # common random numbers across the design: without a threshold V is linear in its inputs, so
    # with the noise shared two points differ exactly as they do without noise, and not otherwise
    def run(shared, sigma):
        raw = {
            **WF,
            "sweep": {},
            "noise": {"shared_across": ["sample"] if shared else []},
            "neuron": {"tau_m": "20 ms", "v_th": "inf", "v_reset": 0},
            "inputs": {"mu": {"kind": "constant", "value": 0.0}, "noise": {"kind": "white_noise", "sigma": sigma}},
            "sample": {"method": "sobol", "n": 4, "params": {"mu": {"param": "inputs.mu.value", "bounds": [0, 1]}}},
        }
        return lifbatch.simulate(lifbatch.load_workflow(raw))["v"].values[:, 0, :]  # (sample, time)

    quiet = np.diff(run(True, 0.0), axis=0)
    assert np.allclose(np.diff(run(True, 0.3), axis=0), quiet, rtol=0, atol=1e-12)
    assert not np.allclose(np.diff(run(False, 0.3), axis=0), quiet, rtol=0, atol=1e-3)


# --------------------------------------------------------------------------- #
# refinement
# --------------------------------------------------------------------------- #
def test_choose_points_is_pure_and_goes_where_the_summary_jumps():
    x = np.linspace(0, 1, 11)[:, None]
    f = np.where(x[:, 0] < 0.55, 0.0, 10.0)[:, None]  # a step between 0.5 and 0.6
    got = choose_points(x, f, 3)
    assert np.array_equal(got, choose_points(x.copy(), f.copy(), 3))
    assert abs(got[0, 0] - 0.55) < 1e-12  # the edge across the step first
    # NaN next to a number is the largest change (the border of where an ISI exists)
    g = np.where(x[:, 0] < 0.25, np.nan, 1.0)[:, None]
    assert abs(choose_points(x, g, 1)[0, 0] - 0.25) < 1e-12
    # an edge split before is not split again
    x2 = np.vstack([x, [[0.55]]])
    f2 = np.vstack([f, [[5.0]]])
    assert all(abs(p - 0.55) > 0.01 for p in choose_points(x2, f2, 3)[:, 0])


def _refine(store, *args):
    r = _cli("refine", store, *args, "--no-progress")
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.slow
def test_refine_appends_points_bit_identical_to_simulating_them_alone(tmp_path, reference):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    assert _cli("run", path, "--store", store, "--points-per-task", "4", "--no-progress").returncode == 0
    before = lifbatch.open_results(store).load()
    copy = tmp_path / "copy.zarr"
    shutil.copytree(store, copy)
    r = _refine(store, "--var", "rate", "--add", "3", "--rounds", "2")
    assert (
        "round 1: added 3 points (samples 7-9)" in r.stdout and "round 2: added 3 points (samples 10-12)" in r.stdout
    ), r.stdout
    ds = lifbatch.open_results(store).load()
    assert ds.sizes["sample"] == 13 and ds["sample_round"].values.tolist() == [0] * 7 + [1] * 3 + [2] * 3
    assert (ds["status"].values == 1).all()
    # earlier points unchanged
    assert_identical(ds.isel(sample=slice(0, 7)), before)
    # the store is its grown workflow, simulated
    wf = lifbatch.load_workflow(json.loads(ds.attrs["workflow"]))
    assert_identical(ds, lifbatch.simulate(wf))
    # an added point alone: a workflow of that one point (a zipped axis of one value each) gives the same
    i = 11
    single = {k: v for k, v in WF.items() if k != "sample"}
    single["sweep"] = {
        "pt": {
            "zip": {
                "inputs.mu.value": {"values": [float(ds["mu"].values[i])]},
                "inputs.noise.sigma": {"values": [float(ds["sigma"].values[i])]},
            }
        },
        **WF["sweep"],
    }
    alone = lifbatch.simulate(lifbatch.load_workflow(single))
    for name in ("spike_bits", "rate", "isi_cv", "v_mean", "v"):
        assert np.array_equal(alone[name].values[0], ds[name].values[i], equal_nan=True), name
    # the same store refined again (a copy) gets the same points, and the same results
    _refine(copy, "--var", "rate", "--add", "3", "--rounds", "2")
    again = lifbatch.open_results(copy).load()
    for name in ("mu", "sigma", "sample_round"):
        assert np.array_equal(again[name].values, ds[name].values), name
    assert_identical(again, ds)
    # the original workflow resumes the refined store: nothing to do, the added points kept
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0 and "0 blocks run" in r.stdout, r.stdout + r.stderr
    assert lifbatch.open_results(store).sizes["sample"] == 13


@pytest.mark.slow
def test_refine_against_theory_and_its_errors(tmp_path):
    raw = {**WF, "inputs": {"mu": WF["inputs"]["mu"], "noise": WF["inputs"]["noise"]}}
    path = _write(tmp_path, raw)
    store = tmp_path / "s.zarr"
    assert _cli("run", path, "--store", store, "--no-progress").returncode == 0
    r = _refine(store, "--against", "theory", "--add", "2")
    assert "where rate and theory disagree most" in r.stdout
    for args, words in [
        (("--var", "v_mean"), "--var v_mean` is not a summary"),
        (("--var", "isi_std", "--against", "theory"), "theory gives rate and isi_cv only"),
        (("--add", "0"), "`--add` must be a whole number >= 1"),
    ]:
        r = _cli("refine", store, *args)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    # a grid is refused in one line
    grid = {k: v for k, v in WF.items() if k != "sample"}
    gpath = _write(tmp_path, {**grid, "name": "grid"})
    gstore = tmp_path / "g.zarr"
    assert _cli("run", gpath, "--store", gstore, "--no-progress").returncode == 0
    r = _cli("refine", gstore)
    assert r.returncode == 2 and "is a grid" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    # the Poisson drive: no theory
    ppath = _write(tmp_path, {**WF, "name": "poisson"})
    pstore = tmp_path / "p.zarr"
    assert _cli("run", ppath, "--store", pstore, "--no-progress").returncode == 0
    r = _cli("refine", pstore, "--against", "theory")
    assert r.returncode == 2 and "the theory does not apply" in r.stderr, r.stderr


@pytest.mark.slow
def test_a_refinement_killed_after_its_commit_is_finished_by_the_next_command(tmp_path):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    assert _cli("run", path, "--store", store, "--points-per-task", "4", "--no-progress").returncode == 0
    copy = tmp_path / "copy.zarr"
    shutil.copytree(store, copy)
    proc = _start("refine", store, "--add", "3", env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "grow-committed"})
    _wait_for(proc, "paused at grow-committed")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    # status reads it; a run of the original workflow finishes the growth and computes the new points
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "finished adding 3 points" in r.stderr, r.stderr
    _refine(copy, "--add", "3")
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(copy).load())
    n_blocks = len(done_blocks(store))
    assert n_blocks == len(done_blocks(copy))


# --------------------------------------------------------------------------- #
# fitting
# --------------------------------------------------------------------------- #
FIT = {
    "name": "fit",
    "seed": 2,
    "trials": 12,
    "duration": "1 s",
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
    "summaries": {"warmup": "100 ms"},
}


@pytest.mark.slow
def test_fit_recovers_a_known_answer_within_the_sampling_error(tmp_path):
    from lifbatch.theory import siegert_rate

    # theory: the rate at I* = 160 pA (V_inf = -65 mV + 16 mV), sigma 4 mV
    i_star = 160e-12
    want = siegert_rate(-0.065 + 100e6 * i_star, 0.004, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002)
    path = _write(tmp_path, FIT)
    r = _cli(
        "fit",
        path,
        "--target",
        f"rate={want!r} Hz",
        "--free",
        "inputs.current.value=50..300",
        "--budget",
        "24",
        "--batch",
        "8",
        "--store",
        tmp_path / "f.zarr",
        "--format",
        "json",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    got = out["targets"]["rate"]
    assert out["evaluations"] == 24 and out["store"].endswith("f.zarr")
    assert abs(got["got"] - want) < 3 * got["sem"], got
    # the current found is the known one, within what the rate's error allows (d rate / dI ~ 0.2 Hz/pA here)
    assert abs(out["best"]["inputs.current.value"] - i_star) < 3 * got["sem"] / 0.15 * 1e-12, out["best"]
    ds = lifbatch.open_results(tmp_path / "f.zarr")
    assert ds["sample_round"].values.tolist()[:9] == [0] * 8 + [1]  # the design, then the theory's solution
    # the reported best is the store's point of least objective, and its sem the per-trial one
    k = out["sample"]
    assert ds["rate"].values[k] == got["got"]
    # spikes after warmup (bit s: a spike at (s+1) dt > 100 ms) per trial / 0.9 s
    bits = np.unpackbits(ds["spike_bits"].values[k], axis=-1)[:, :10000]
    rates = bits[:, 1000:].sum(axis=1) / 0.9
    assert got["sem"] == pytest.approx(rates.std(ddof=1) / math.sqrt(12), rel=1e-12)


@pytest.mark.slow
def test_a_fit_killed_mid_way_resumes_to_the_same_result(tmp_path):
    path = _write(tmp_path, FIT)
    args = [
        "fit",
        path,
        "--target",
        "rate=10 Hz",
        "--target",
        "isi_cv=0.8",
        "--free",
        "inputs.current.value=50..300",
        "--free",
        "inputs.noise.sigma=1..10 log",
        "--budget",
        "25",
        "--batch",
        "6",
        "--format",
        "json",
        "--no-progress",
    ]
    whole = _cli(*args, "--store", tmp_path / "whole.zarr")
    assert whole.returncode == 0, whole.stderr
    store = tmp_path / "killed.zarr"
    env = {**os.environ, "LIFBATCH_TEST_PAUSE_AT": "grow-committed"}
    proc = _start(*args, "--store", store, env=env)
    _wait_for(proc, "paused at grow-committed")  # round 1 committed, not computed
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    again = _cli(*args, "--store", store)
    assert again.returncode == 0, again.stderr
    a, b = json.loads(whole.stdout), json.loads(again.stdout)
    assert a["best"] == b["best"] and a["targets"] == b["targets"] and a["sample"] == b["sample"]
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(tmp_path / "whole.zarr").load())
    text = _cli(*[x for x in args if x not in ("--format", "json")], "--store", store)
    assert text.returncode == 0, text.stderr
    assert "best of 25 evaluations" in text.stdout and "want 10 Hz" in text.stdout, text.stdout
    assert f"lifbatch run {path} --set inputs.current.value=" in text.stdout, text.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["--target", "rate=10 Hz"], "needs at least one --free"),
        (["--free", "inputs.current.value=50..300"], "needs at least one --target"),
        (["--target", "rate=10 mV", "--free", "inputs.current.value=50..300"], "must be in Hz"),
        (["--target", "speed=1", "--free", "inputs.current.value=50..300"], "not a target fit knows"),
        (["--target", "rate=10", "--free", "inputs.current.value=50"], "expects PARAM=LOW..HIGH"),
        (["--target", "rate=10", "--free", "inputs.nope.value=1..2"], "not a numeric parameter"),
        (["--target", "rate=10", "--free", "inputs.current.value=300..50"], "low < high"),
        (["--target", "rate=10", "--free", "inputs.current.value=50..300", "--budget", "4"], "smaller than the first"),
    ],
)
def test_bad_fit_input_is_one_line(tmp_path, args, words):
    path = _write(tmp_path, FIT)
    r = _cli("fit", path, *args, "--store", tmp_path / "f.zarr")
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "f.zarr").exists()


def test_the_design_cache_gives_scipys_points_and_survives_damage(tmp_path, monkeypatch):
    from lifbatch import design

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    design._cached.cache_clear()
    fresh = design._draw("sobol", 16, 3, 9)
    first = design.unit_points("sobol", 16, 3, 9)
    files = list((tmp_path / "lifbatch" / "designs").glob("sobol-n16-d3-seed9-*.npy"))
    assert len(files) == 1 and np.array_equal(first, fresh)
    design._cached.cache_clear()
    assert np.array_equal(design.unit_points("sobol", 16, 3, 9), fresh)  # read back
    files[0].write_bytes(b"not a numpy file")
    design._cached.cache_clear()
    assert np.array_equal(design.unit_points("sobol", 16, 3, 9), fresh)  # damaged: drawn again
    np.save(files[0], np.full((16, 3), 2.0))  # the right shape, impossible values
    design._cached.cache_clear()
    assert np.array_equal(design.unit_points("sobol", 16, 3, 9), fresh)
    design._cached.cache_clear()


# --------------------------------------------------------------------------- #
# the seeds' workflows of sampled designs
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_pypet_refine_bisects_the_threshold_and_matches_the_seed(workflows_dir, tmp_path):
    """The pypet tutorial's rate(I), refined: each round halves the interval around the threshold
    current 1/12 per ms (the neuron is silent below it), and every point's rate is the seed's
    euler_neuron's up to one spike per second (see test_seeds.test_pypet_rate_table)."""
    from test_seeds import euler_neuron

    store = tmp_path / "p.zarr"
    assert _cli("run", workflows_dir / "pypet-refine.yaml", "--store", store, "--no-progress").returncode == 0

    def bracket():
        ds = lifbatch.open_results(store)
        i, rate = ds["I"].values * 1e-3, ds["rate"].values  # 1/ms
        return i[rate == 0].max(), i[rate > 0].min(), ds

    lo, hi, _ = bracket()
    widths = [hi - lo]
    for _ in range(3):
        _refine(store, "--var", "rate", "--add", "4")
        lo, hi, ds = bracket()
        widths.append(hi - lo)
        assert lo < 1 / 12 < hi
    np.testing.assert_allclose(widths[1:], [widths[0] / 2, widths[0] / 4, widths[0] / 8], rtol=1e-9)
    ref = [len(euler_neuron(0.0, float(i), 12.0, 5.0, 0.1, 1000.0)[1]) for i in ds["I"].values * 1e-3]
    assert np.abs(ds["rate"].values - ref).max() <= 1.0


@pytest.mark.slow
def test_ccnss_sobol_rates_follow_the_siegert_theory(workflows_dir):
    from lifbatch.theory import theory_rate

    wf = lifbatch.load_workflow(workflows_dir / "ccnss-sobol.yaml")
    assert wf.shape == (256,) and wf.sample.labels == ("mu", "sigma", "tau_m")
    ds = lifbatch.simulate(wf)
    th = theory_rate(ds).values
    sem = ds["rate_std"].values / math.sqrt(wf.trials)
    firing = th > 5
    # the continuous-time formula against steps of 0.1 ms (an error of order sqrt(dt/tau_m)) and
    # 20 trials of 450 ms: within 4 standard errors plus 10 % almost everywhere
    close = np.abs(ds["rate"].values - th) <= 4 * sem + 0.1 * th
    assert firing.sum() > 50 and close[firing].mean() >= 0.95, close[firing].mean()
    assert (ds["rate"].values[th < 1e-3] < 1).all()


@pytest.mark.slow
def test_quickstart_fit_as_its_header_says(workflows_dir, tmp_path):
    r = _cli(
        "fit",
        workflows_dir / "quickstart-fit.yaml",
        "--target",
        "rate=10 Hz",
        "--target",
        "isi_cv=0.8",
        "--free",
        "inputs.current.value=50..300",
        "--free",
        "inputs.noise.sigma=1..10 log",
        "--budget",
        "16",
        "--store",
        tmp_path / "f.zarr",
        "--format",
        "json",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for name, want in (("rate", 10.0), ("isi_cv", 0.8)):
        t = out["targets"][name]
        assert t["want"] == want and abs(t["got"] - want) < 3 * t["sem"], (name, t)


@pytest.mark.slow
def test_summarize_and_refine_a_sampled_store_in_any_order(tmp_path):
    """summarize rewrites only summaries (the coordinates along sample stay as the store has them,
    grown or not), and a refinement after it summarizes its new points with the store's settings:
    the new warmup for the spike summaries, and for the V moments, which summarize cannot
    recompute here (V of trial 0 only), the warmup the store's V moments were computed with."""
    from lifbatch.store import summary_settings, with_summaries

    from lifbatch.summarize import summarize_store

    store = tmp_path / "s.zarr"
    quiet = dict(progress=False, log=lambda m: None)
    lifbatch.run_sweep(WF, store, points_per_task=4, **quiet)
    lifbatch.refine_store(store, add=3, **quiet)
    for warmup in ("30 ms", "60 ms"):
        summarize_store(store, [f"summaries.warmup={warmup}"])
        lifbatch.refine_store(store, add=2, **quiet)
    ds = lifbatch.open_results(store).load()
    assert ds.sizes["sample"] == 14
    wf = with_summaries(
        lifbatch.load_workflow(json.loads(ds.attrs["workflow"])), summary_settings(ds.attrs["canonical"])
    )
    assert wf.warmup == pytest.approx(0.06) and wf.v_warmup == 0  # V of trial 0 only: its moments are kept
    assert_identical(ds, lifbatch.simulate(wf))  # every point's V moments after the warmup they were made with


@pytest.mark.slow
def test_refine_a_store_with_a_relative_input_file_from_anywhere_and_refuse_a_changed_file(tmp_path):
    """A timed_array file given relative to the workflow file: refine, run from another directory,
    grows the store as simulating the grown workflow; once the file has changed, refine and run
    both refuse with the field, the two sha256 and the fix, and the store is left as it was."""
    wf_dir, elsewhere = tmp_path / "wf", tmp_path / "elsewhere"
    (wf_dir / "data").mkdir(parents=True)
    elsewhere.mkdir()
    np.savetxt(wf_dir / "data" / "drive.csv", 0.8 + 0.3 * np.sin(np.arange(150) / 10))
    raw = {
        "name": "recorded",
        "seed": 3,
        "trials": 3,
        "duration": "150 ms",
        "dt": "0.1 ms",
        "neuron": {"tau_m": "20 ms", "v_th": 1, "v_reset": 0, "t_ref": "2 ms"},
        "inputs": {
            "rec": {"kind": "timed_array", "file": "data/drive.csv", "dt": "1 ms", "unit": "1"},
            "mu": {"kind": "constant", "value": 0.3},
            "noise": {"kind": "white_noise", "sigma": 0.3},
        },
        "sample": {"method": "sobol", "n": 6, "params": {"mu": {"param": "inputs.mu.value", "bounds": [0.0, 0.6]}}},
    }
    path = _write(wf_dir, raw)
    store = tmp_path / "s.zarr"
    r = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "run", path.name, "--store", str(store), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=wf_dir,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "refine", str(store), "--add", "2", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        timeout=300,
    )
    assert r.returncode == 0 and "added 2 points" in r.stdout, r.stdout + r.stderr
    ds = lifbatch.open_results(store).load()
    assert ds.sizes["sample"] == 8
    assert_identical(ds, lifbatch.simulate(lifbatch.load_workflow(json.loads(ds.attrs["workflow"]))))
    old_sha = ds.attrs["fingerprint"]
    np.savetxt(wf_dir / "data" / "drive.csv", np.ones(150))
    for args, cwd in (
        (["refine", str(store), "--add", "2"], elsewhere),
        (["run", path.name, "--store", str(store)], wf_dir),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "lifbatch.cli", *args, "--no-progress"],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=300,
        )
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        msg = r.stderr.strip()
        assert "\n" not in msg and msg.startswith(
            f"lifbatch: error: store '{store}' was computed with another "
            f"`inputs.rec.file`: '{wf_dir / 'data' / 'drive.csv'}' now has "
            "sha256 "
        ), msg
        assert "Restore the file the store was made with" in msg and "--overwrite" in msg, msg
    after = lifbatch.open_results(store).load()
    assert after.attrs["fingerprint"] == old_sha
    assert_identical(after, ds)
