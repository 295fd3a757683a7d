"""``lifbatch bench`` and the kernel's fused normals (no timing assertions: the machine is shared)."""

from __future__ import annotations

import json
import math
import time
import types

import numpy as np
import pytest

from harness import bench
from harness.bench import bench_workflow, kernel_bench, poisson_workflow
from lifbatch import cli, inputs, point, streams
from lifbatch.kernel import FUSED_NORMALS, sfc64_double, sfc64_normal, sfc64_poisson

numba = pytest.importorskip("numba")


@pytest.fixture(scope="module")
def tiny() -> dict:
    return kernel_bench(neurons=200, steps=500, repeat=1)


def test_kernel_bench_figures_are_its_measurements(tiny):
    """Every figure is what it says: throughputs and ratios from the same best times, the
    rates those of the kernel's own (deterministic) runs of the two workflows."""
    for key in ("numpy", "kernel", "rng", "poisson"):
        assert tiny[key]["seconds"] > 0
        assert tiny[key]["neuron_steps_per_s"] == 200 * 500 / tiny[key]["seconds"]
    assert tiny["ratio_kernel_numpy"] == tiny["numpy"]["seconds"] / tiny["kernel"]["seconds"]
    assert tiny["ratio_kernel_rng"] == tiny["rng"]["seconds"] / tiny["kernel"]["seconds"]
    assert tiny["ratio_poisson_white_noise"] == tiny["poisson"]["seconds"] / tiny["kernel"]["seconds"]
    assert (tiny["neurons"], tiny["steps"], tiny["dt"], tiny["repeat"]) == (200, 500, 1e-4, 1)
    for wf, rate in (
        (bench_workflow(200, 500), tiny["rate"]["kernel"]),
        (poisson_workflow(200, 500), tiny["poisson_rate"]),
    ):
        counts = inputs.simulate_point(wf, wf.point_params(())).counts
        assert rate == counts.mean() / 0.05 and rate > 0
    assert tiny["rate"]["kernel_sem"] == counts_sem(bench_workflow(200, 500))


def counts_sem(wf) -> float:
    counts = inputs.simulate_point(wf, wf.point_params(())).counts
    return float(counts.std(ddof=1) / math.sqrt(counts.size) / (wf.n_steps * wf.dt))


def test_kernel_and_numpy_rates_agree(tiny):
    q = tiny["rate"]
    assert q["kernel"] > 0 and q["numpy"] > 0
    assert q["agree"], q
    assert abs(q["kernel"] - q["numpy"]) < 4 * np.hypot(q["kernel_sem"], q["numpy_sem"])


def test_rates_agree_closely_on_a_larger_ensemble():
    q = kernel_bench(neurons=2000, steps=2000, repeat=1)["rate"]
    assert q["agree"], q
    assert abs(q["relative_difference"]) < 0.05
    # discrete time (dt = 0.1 ms) fires a little less than the continuous-time Siegert rate
    assert 0.85 < q["kernel"] / q["siegert"] < 1.02


@pytest.fixture
def no_peer_venv(monkeypatch, tmp_path):
    """`lifbatch bench` without the peer venv (so that no Brian2 is built here)."""
    monkeypatch.setenv("LIFBATCH_PEERS_CACHE", str(tmp_path / "no-peers"))
    return tmp_path / "no-peers" / "venv"


def test_cli_bench_json(capsys, no_peer_venv):
    assert cli.main(["bench", "--neurons", "100", "--steps", "300", "--repeat", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["kernel"]["neuron_steps_per_s"] > 0 and r["rate"]["agree"]
    assert r["brian2"]["available"] is False and str(no_peer_venv) in r["brian2"]["note"]
    assert r["ratio_kernel_brian2_cpp_standalone"] is None and r["ratio_kernel_brian2_cython"] is None


def test_cli_bench_table(capsys, no_peer_venv):
    assert cli.main(["bench", "--neurons", "100", "--steps", "300", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "numpy vectorized (baseline)" in out and "kernel / numpy" in out and "agree" in out
    # one line says how to create the peer venv, and nothing else of Brian2's is printed
    brian = [line for line in out.splitlines() if "Brian2" in line and "Poisson" not in line]
    assert len(brian) == 1, brian
    assert brian[0].startswith("Brian2: not measured: no peer venv at " + str(no_peer_venv))
    assert "python benchmarks/peers/peer_venv.py --create" in brian[0]
    assert "python benchmarks/peers/run.py" in brian[0]


def test_no_peer_venv_message(no_peer_venv):
    note = bench.brian2_unavailable()
    assert note is not None and str(no_peer_venv) in note and "--create" in note
    no_peer_venv.joinpath("bin").mkdir(parents=True)
    no_peer_venv.joinpath("bin", "python").touch()
    assert bench.brian2_unavailable() is None


def test_kernel_bench_leaves_brian2_out_unless_asked(tiny):
    assert tiny["brian2"] is None
    assert tiny["ratio_kernel_brian2_cpp_standalone"] is None and tiny["ratio_kernel_brian2_cython"] is None
    assert "Brian2 cpp" not in bench._table(tiny) and "Brian2:" not in bench._table(tiny)


class NumpyPeer:
    """A peer runner measured in Brian2's place (``kernel_bench(peer=...)``): the numpy baseline
    (:func:`bench.numpy_lif`, the same model written apart from the kernel, its own random
    numbers) for both targets, CPU time as the loop's time (as Brian2's std::clock), wall
    time as the process's. ``v_th_shift`` (V) makes a peer that simulates another neuron;
    ``fail`` ({target: message}) fails targets at setup, as a failed build does; ``boom``
    raises in its second round."""

    def __init__(self, neurons, steps, dt, *, v_th_shift=0.0, fail=None, boom=False):
        self.neurons, self.steps, self.dt = neurons, steps, dt
        self.model = bench.numpy_model(bench_workflow(neurons, steps))
        self.model["v_th"] += v_th_shift
        self.fail, self.boom = dict(fail or {}), boom
        self.calls: list[str] = []
        self.versions = {"brian2": "2.9.0", "numpy": np.__version__, "Cython": "3.3.1", "g++": "12.2.0"}
        self.python = "/peer/venv/bin/python"
        self.build: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.best = {
            "cpp_standalone": math.inf,
            "cpp_standalone_wall": math.inf,
            "cython": math.inf,
            "cython_run_call": math.inf,
        }
        self.counts: dict[str, np.ndarray] = {}
        self.rounds = {"cpp_standalone": 0, "cython": 0}
        self.times: dict[str, list[float]] = {"cpp_standalone": [], "cython": []}

    def _run(self, seed: int) -> tuple[float, float, np.ndarray]:
        c0, w0 = time.process_time(), time.perf_counter()
        counts = bench.numpy_lif(self.neurons, self.steps, rng=np.random.Generator(np.random.SFC64(seed)), **self.model)
        return time.process_time() - c0, time.perf_counter() - w0, counts

    def setup(self):
        self.calls.append("setup")
        self.errors.update(self.fail)
        for target in ("cpp_standalone", "cython"):
            if target not in self.errors:
                self.build[target] = self._run(100)[1]

    def run_round(self):
        self.calls.append("round")
        if self.boom and self.calls.count("round") == 2:
            raise RuntimeError("the peer broke")
        for i, target in enumerate(("cpp_standalone", "cython")):
            if target in self.errors:
                continue
            cpu, wall, counts = self._run(10 * len(self.calls) + i)
            self.best[target] = min(self.best[target], cpu)
            other = "cpp_standalone_wall" if target == "cpp_standalone" else "cython_run_call"
            self.best[other] = min(self.best[other], wall)
            self.counts[target] = counts
            self.rounds[target] += 1
            self.times[target].append(cpu)

    def close(self):
        self.calls.append("close")


@pytest.fixture(scope="module")
def peers() -> list:
    made = []

    def make(neurons, steps, dt):
        made.append(NumpyPeer(neurons, steps, dt))
        return made[-1]

    r = kernel_bench(neurons=200, steps=500, repeat=2, peer=make)
    return r, made


def test_kernel_bench_measures_an_injected_peer_in_its_rounds(peers):
    """The peer is made with the bench's size and dt, set up once, run once per round, closed;
    its figures are its best round's, its rate checked against the kernel's."""
    r, made = peers
    (peer,) = made
    assert (peer.neurons, peer.steps, peer.dt) == (200, 500, 1e-4)
    assert peer.calls == ["setup", "round", "round", "close"]
    b = r["brian2"]
    assert b["available"] and b["errors"] == {} and b["python"] == "/peer/venv/bin/python"
    q = r["rate"]
    for target in ("cpp_standalone", "cython"):
        fig = b[target]
        assert fig["rounds"] == 2 and fig["seconds"] == min(peer.times[target]) > 0
        assert fig["neuron_steps_per_s"] == 200 * 500 / fig["seconds"]
        rate, sem = peer.counts[target].mean() / 0.05, peer.counts[target].std(ddof=1) / math.sqrt(200) / 0.05
        assert fig["rate"] == pytest.approx(rate, rel=1e-12) and fig["rate_sem"] == pytest.approx(sem, rel=1e-12)
        assert fig["z"] == pytest.approx(abs(rate - q["kernel"]) / math.hypot(sem, q["kernel_sem"]))
        assert fig["agree"], (fig, q)  # numpy's neuron is the kernel's: the same rate, statistically
        assert r[f"ratio_kernel_brian2_{target}"] == fig["seconds"] / r["kernel"]["seconds"]
    assert b["cpp_standalone"]["process_wall_seconds"] == peer.best["cpp_standalone_wall"]
    assert b["cython"]["run_call_seconds"] == peer.best["cython_run_call"]
    assert b["build_seconds"] == {
        "cpp_standalone": peer.build["cpp_standalone"],
        "cython_first_run": peer.build["cython"],
    }


def test_table_and_json_with_brian2_figures(peers):
    r, (peer,) = peers
    b = r["brian2"]
    s, kernel = b["cpp_standalone"]["seconds"], r["kernel"]["seconds"]
    table = bench._table(r)
    lines = table.splitlines()
    # Brian2's rows are in the table, after the existing four rows, the ratios below it
    labels = [line[:34].strip() for line in lines[2:8]]
    assert labels == [
        "numpy vectorized (baseline)",
        "lifbatch kernel",
        "RNG bound (normals only)",
        "kernel, 100 Poisson inputs",
        "Brian2 cpp_standalone (loop)",
        "Brian2 runtime cython (loop)",
    ]
    assert f"{200 * 500 / s:.3e}" in lines[6] and f"{s:.3f}" in lines[6]
    ratio = r["ratio_kernel_brian2_cpp_standalone"]
    assert f"kernel / Brian2 cpp_standalone  {ratio:.2f}x  (target >= 3x: " in table
    assert ("target >= 3x: met" in table) == (ratio >= 3)
    # Brian2's loop time is CPU time: the like-for-like ratio and the process's wall time are given too
    assert f"CPU time of both: {s / b['kernel_cpu_seconds']:.2f}x" in table
    wall = peer.best["cpp_standalone_wall"]
    assert f"the whole ./main process, wall {wall:.3f} s: {wall / kernel:.2f}x" in table
    assert "kernel / Brian2 runtime cython" in table
    assert "rate (Hz) Brian2  cpp_standalone" in table and "DISAGREE" not in table
    assert f"cpp_standalone build (code generation + g++) {peer.build['cpp_standalone']:.1f} s" in table
    assert "brian2 2.9.0" in table and "FAILED" not in table
    # the existing lines are unchanged
    alone = bench._table({**r, "brian2": None})
    assert alone.splitlines()[:6] == lines[:6]
    assert all(line in lines for line in alone.splitlines()[6:])
    doc = json.loads(json.dumps(r))
    assert doc["brian2"]["cpp_standalone"]["agree"] is True
    assert doc["ratio_kernel_brian2_cython"] == pytest.approx(b["cython"]["seconds"] / kernel)


def test_table_with_a_brian2_failure_and_a_disagreeing_rate():
    """A peer whose neuron is another (v_th 5 mV lower: it fires more) disagrees, and says so;
    a target that failed at setup has no row, no ratio, and its message."""
    r = kernel_bench(
        neurons=200,
        steps=500,
        repeat=1,
        peer=lambda n, s, dt: NumpyPeer(n, s, dt, v_th_shift=-5e-3, fail={"cython": "first run failed: exit 1: boom"}),
    )
    assert r["brian2"]["cython"] is None and r["ratio_kernel_brian2_cython"] is None
    fig = r["brian2"]["cpp_standalone"]
    assert fig["agree"] is False and fig["rate"] > 1.5 * r["rate"]["kernel"]
    table = bench._table(r)
    assert "Brian2 cpp_standalone (loop)" in table and "Brian2 runtime cython (loop)" not in table
    assert "DISAGREE" in table and "Brian2 cython FAILED: first run failed: exit 1: boom" in table


def test_kernel_bench_closes_a_peer_that_raises():
    made = []

    def make(n, s, dt):
        made.append(NumpyPeer(n, s, dt, boom=True))
        return made[-1]

    with pytest.raises(RuntimeError, match="the peer broke"):
        kernel_bench(neurons=50, steps=100, repeat=3, peer=make)
    assert made[0].calls == ["setup", "round", "round", "close"]


_PEER_NOTE = bench.brian2_unavailable()


@pytest.mark.skipif(_PEER_NOTE is not None, reason=f"needs the peer venv with Brian2 ({_PEER_NOTE})")
def test_brian2_tiny_run_agrees_with_the_kernel(capsys):
    """A real Brian2 build and run (cpp_standalone and runtime cython) through `lifbatch bench --json`:
    500 neurons x 3000 steps (the first spikes come after ~50 ms), its rates the kernel's statistically."""
    args = types.SimpleNamespace(neurons=500, steps=3000, repeat=1, json=True)
    assert bench.main(args) == 0
    r = json.loads(capsys.readouterr().out)
    b = r["brian2"]
    assert b["available"] and b["errors"] == {}, b
    assert b["versions"]["brian2"].startswith("2.9")
    assert b["build_seconds"]["cpp_standalone"] > 0 and b["build_seconds"]["cython_first_run"] > 0
    q = r["rate"]
    for target in ("cpp_standalone", "cython"):
        fig = b[target]
        assert fig["rounds"] == 1 and fig["seconds"] > 0
        assert fig["neuron_steps_per_s"] == pytest.approx(500 * 3000 / fig["seconds"])
        assert fig["rate"] > 5 and fig["agree"]
        assert abs(fig["rate"] - q["kernel"]) < 4 * math.hypot(fig["rate_sem"], q["kernel_sem"]), (fig, q)
        assert r[f"ratio_kernel_brian2_{target}"] == pytest.approx(fig["seconds"] / r["kernel"]["seconds"])
    assert b["cpp_standalone"]["process_wall_seconds"] >= b["cpp_standalone"]["seconds"] * 0.5
    assert b["cython"]["run_call_seconds"] >= b["cython"]["seconds"]


@numba.njit
def _fill(state, out):  # pragma: no cover - compiled
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for i in range(out.shape[0]):
        out[i], s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


@pytest.mark.skipif(not FUSED_NORMALS, reason="this numba has no ziggurat tables matching numpy's")
@pytest.mark.parametrize("seed", [0, 12345])
def test_fused_normals_are_numpys_bit_for_bit(seed):
    # 2e6 draws: ~14000 wedge tests (exp) and ~500 tail draws (log1p)
    n = 2_000_000
    gen = np.random.Generator(np.random.SFC64(seed))
    state = np.array(gen.bit_generator.state["state"]["state"], np.uint64)
    ours = np.empty(n)
    _fill(state, ours)
    ref = gen.standard_normal(n)
    assert np.array_equal(ours.view(np.uint64), ref.view(np.uint64))
    assert np.array_equal(state, gen.bit_generator.state["state"]["state"])
    assert (np.abs(ref) > 3.6541528853610087).sum() > 100  # the tail was exercised


@pytest.mark.parametrize(
    "overrides",
    [
        {"trials": 37},
        {"trials": 5, "record": {"v": {"trials": [1, 4], "every": "0.3 ms"}}},
        {"trials": 9, "method": "exact"},
        # two whole groups of the white-noise loop, recorded trials in both
        {"trials": 8, "record": {"v": {"trials": [0, 3, 6], "every": "0.5 ms"}}},
        # groups with a recorded trial and groups without (which skip the recording countdown)
        {"trials": 14, "record": {"v": {"trials": [5, 13], "every": "0.2 ms"}}},
    ],
)
def test_fused_and_numpy_drawn_noise_give_identical_points(monkeypatch, overrides):
    from lifbatch.workflow import load_workflow

    raw = bench_workflow(2, 1000).to_dict()
    raw.update(overrides)
    wf = load_workflow(raw)
    params = wf.point_params(())
    fused = inputs.simulate_point(wf, params)
    monkeypatch.setattr(point, "FUSED_NORMALS", False)
    drawn = inputs.simulate_point(wf, params)
    for name in ("bits", "counts", "moments", "traces"):
        assert np.array_equal(getattr(fused, name), getattr(drawn, name)), name
    assert fused.counts.sum() > 0


@pytest.mark.parametrize(
    "n_t, j0, n_lag, trials",
    [
        (1001, 0, 51, 6),
        (1001, 37, 51, 6),
        (60, 3, 51, 6),
        (54, 0, 51, 6),
        (50, 0, 51, 6),
        (10, 0, 1, 6),
        (9, 9, 4, 6),
        (30, 2, 7, 6),
        # the eight-sample-time passes: none (57), exactly one (58), one and a tail (59, 66), two (66, j0 0)
        (57, 0, 51, 5),
        (58, 0, 51, 5),
        (59, 1, 51, 5),
        (66, 0, 51, 5),
        (66, 1, 51, 5),
        # the benchmark's shape (1001 samples, 51 lags), more trials; one trial (no variance)
        (1001, 0, 51, 40),
        (40, 0, 5, 1),
    ],
)
def test_ensemble_moments_sums_in_the_documented_order(n_t, j0, n_lag, trials):
    """The kernel's moments (one pass for the mean, one for the deviations, eight sample times
    per pass over the lags) are bit for bit the plain two-pass loops', NaN included."""
    from lifbatch.kernel import ensemble_moments

    v = np.random.default_rng(n_t + j0).normal(-0.06, 2e-3, size=(3, trials, n_t))
    v[2, trials // 2, n_t // 3] = np.nan  # a NaN sample spreads as in the plain loops
    mean, var, ac = ensemble_moments(v, j0, n_lag)
    assert np.isnan(mean[2, n_t // 3]) and np.isfinite(mean[:2]).all()
    for p in range(v.shape[0]):
        m = np.zeros(n_t)
        for row in v[p]:
            m += row
        m /= v.shape[1]
        dev = v[p] - m
        sq = np.zeros(n_t)
        acc = np.zeros(n_lag)
        for d in dev:  # trials, then sample times, each adding to every lag at once
            sq += d * d
            for j in range(j0, n_t):
                k = min(n_lag, n_t - j)
                acc[:k] += d[j] * d[j : j + k]
        count = n_t - np.arange(n_lag) - j0
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = np.where(count > 0, acc / (v.shape[1] - 1) / count, np.nan)
            expected_var = sq / (v.shape[1] - 1)
        if trials < 2:
            expected[:] = np.nan
            expected_var[:] = np.nan
        np.testing.assert_array_equal(mean[p], m)
        np.testing.assert_array_equal(var[p], expected_var)
        np.testing.assert_array_equal(ac[p], expected)
    if trials > 1:
        assert np.isfinite(ac[:2, count > 0]).all() and np.isnan(ac[2, 0])


@pytest.mark.parametrize("processes", [False, True])
def test_sweep_bench_accounts_for_the_workers_time(processes):
    """``lifbatch bench --sweep`` on a small grid, in threads (as ``run``) and in worker
    processes (as ``run --processes``): its figures are consistent with each other."""
    from harness.bench_sweep import sweep_bench

    r = sweep_bench(points=16, trials=2, steps=200, workers=2, tiny_points=40, repeat=3, processes=processes)
    assert r["execution"] == ("processes" if processes else "threads")
    assert r["blocks"] == 8 and r["points"] == 16 and r["workers"] == 2 and r["repeat"] == 3
    assert r["efficiency_range"][0] <= r["efficiency"] <= r["efficiency_range"][1]
    lo, hi = r["efficiency_parallel_range"]
    assert lo <= r["efficiency_parallel"] <= hi
    assert r["end_to_end"] == pytest.approx(16 * 2 * 200 / r["seconds"])
    assert r["efficiency"] == pytest.approx(r["end_to_end"] / (2 * r["kernel_single_core"]))
    assert r["efficiency_parallel"] == pytest.approx(r["end_to_end"] / r["kernel_parallel"])
    shares = [r[f"{p}_share_of_tasks"] for p in ("kernel", "summaries", "write")]
    assert all(0 < s < 1 for s in shares) and sum(shares) <= 1
    assert 0 < r["task_share_of_workers"] <= 1
    assert r["kernel_share_of_workers"] == pytest.approx(r["task_share_of_workers"] * r["kernel_share_of_tasks"])
    # the efficiency splits into the workers' own clock and the host's speed during the sweep
    assert r["efficiency"] == pytest.approx(r["kernel_share_of_workers"] * r["kernel_speed_in_sweep"])
    assert r["peak_worker_rss"] > 50 * 2**20 and r["memory_growth"] > 0
    assert r["tiny_points"] == 40 and np.isfinite(r["overhead_per_point_s"])


@pytest.mark.parametrize(
    "speed, parallel, flagged",
    [(0.93, 1.84, False), (1.0, 2.0, False), (1.40, 2.58, True), (0.95, 2.3, True), (1.1, 1.9, True)],
)
def test_sweep_bench_flags_a_baseline_slower_than_the_sweep(speed, parallel, flagged):
    """A kernel faster in the sweep than alone means the baseline met a busier host: said, not hidden."""
    from harness.bench_sweep import baseline_caveat

    r = {
        "workers": 2,
        "kernel_single_core": 1e8,
        "kernel_parallel": parallel * 1e8,
        "kernel_speed_in_sweep": speed,
        "kernel_share_of_workers": 0.72,
        "efficiency": 0.72 * speed,
    }
    caveat = baseline_caveat(r)
    assert (caveat is not None) == flagged
    if flagged:
        assert f"{100 * 0.72 * speed:.0f}% overstates" in caveat and "own clock says 72%" in caveat


@numba.njit
def _fill_poisson(lam, state, out):  # pragma: no cover - compiled
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    enlam = math.exp(-lam)
    for i in range(out.shape[0]):
        out[i], s0, s1, s2, s3 = sfc64_poisson(lam, enlam, s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


@numba.njit
def _fill_double(state, out):  # pragma: no cover - compiled
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for i in range(out.shape[0]):
        out[i], s0, s1, s2, s3 = sfc64_double(s0, s1, s2, s3)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


# 0: nothing drawn; < 10: the multiplication method; >= 10: PTRS (with loggam below 7 and above)
@pytest.mark.parametrize("lam", [0.0, 1e-4, 0.1, 1.0, 9.999999, 10.0, 13.7, 250.0, 1e6])
def test_kernel_poisson_is_numpys_bit_for_bit(lam):
    gen = np.random.Generator(np.random.SFC64(int(lam * 1000) + 1))
    state = np.array(gen.bit_generator.state["state"]["state"], np.uint64)
    ours = np.empty(300_000, np.int64)
    _fill_poisson(lam, state, ours)
    assert np.array_equal(ours, gen.poisson(lam, ours.shape[0]))
    assert np.array_equal(state, gen.bit_generator.state["state"]["state"])  # as many numbers consumed
    # and they are Poisson counts: mean lam within 5 standard errors
    assert abs(ours.mean() - lam) <= 5 * math.sqrt(lam / ours.shape[0])


def test_kernel_uniform_is_numpys_bit_for_bit():
    gen = np.random.Generator(np.random.SFC64(5))
    state = np.array(gen.bit_generator.state["state"]["state"], np.uint64)
    ours = np.empty(100_000)
    _fill_double(state, ours)
    assert np.array_equal(ours.view(np.uint64), gen.random(ours.shape[0]).view(np.uint64))


def _reference_point(wf, streams) -> tuple[np.ndarray, np.ndarray]:
    """The contract's step order in plain Python, its random numbers drawn by numpy into
    whole (trial, step, drive) arrays, as lifbatch did before the kernel drew them: V
    samples and spike counts of every trial."""
    p = wf.point_params(())
    n, dt = wf.n_steps, wf.dt
    drives = {d.kind: [] for d in wf.drives}
    for d in wf.drives:
        drives[d.kind].append(d.name)
    pois = drives.get("poisson", [])
    unis = drives.get("uniform", [])
    lam = np.array([p[f"inputs.{k}.n"] * p[f"inputs.{k}.rate"] * dt for k in pois])
    w = [p[f"inputs.{k}.weight"] for k in pois]
    r_m, tau = p["neuron.r_m"], p["neuron.tau_m"]
    umean = [r_m * p[f"inputs.{k}.mean"] for k in unis]
    uhalf = [r_m * p[f"inputs.{k}.half_width"] for k in unis]
    x0 = sum(r_m * p[f"inputs.{d.name}.value"] for d in wf.drives if d.kind == "constant")
    cnt = streams["poisson"].poisson(lam, (wf.trials, n, len(pois)))
    uni = streams["uniform"].random((wf.trials, n, len(unis)))
    ref_steps = int(round(p["neuron.t_ref"] / dt))
    vs = np.empty((wf.trials, n + 1))
    counts = np.zeros(wf.trials, np.int64)
    for tr in range(wf.trials):
        v, ref = p["neuron.v_init"], 0
        vs[tr, 0] = v
        for s in range(n):
            if ref > 0:
                ref -= 1
                v = p["neuron.v_reset"]
            else:
                x = x0
                for k in range(len(unis)):
                    x += umean[k] + uhalf[k] * (2.0 * uni[tr, s, k] - 1.0)
                v = v + dt / tau * (1.0 * (p["neuron.e_l"] - v) + x)
                for k in range(len(pois)):
                    if cnt[tr, s, k] != 0:
                        v += w[k] * cnt[tr, s, k]
                if v > p["neuron.v_th"]:
                    counts[tr] += 1
                    v = p["neuron.v_reset"]
                    ref = ref_steps
            vs[tr, s + 1] = v
    return vs, counts


@pytest.mark.parametrize(
    "inputs_",
    [
        {"e": {"kind": "poisson", "rate": "800 Hz", "weight": "2 mV", "n": 10}},
        {
            "e": {"kind": "poisson", "rate": "800 Hz", "weight": "2 mV", "n": 10},
            "i": {"kind": "poisson", "rate": "120 kHz", "weight": "-0.01 mV", "n": 1},  # lam = 12: PTRS
            "u": {"kind": "uniform", "mean": "100 pA", "half_width": "80 pA"},
        },
        {
            "u": {"kind": "uniform", "mean": "200 pA", "half_width": "150 pA"},
            "u2": {"kind": "uniform", "mean": "-20 pA", "half_width": "40 pA"},
        },
    ],
)
def test_kernel_draws_poisson_and_uniform_inputs_as_numpy_buffers_did(inputs_):
    """Bit for bit the numbers (and V) of numpy's samplers filling (trial, step, drive)
    buffers, also through refractory steps."""
    from lifbatch.workflow import load_workflow

    wf = load_workflow(
        {
            "name": "in-kernel",
            "seed": 9,
            "trials": 3,
            "duration": "30 ms",
            "dt": "0.1 ms",
            "neuron": {
                "tau_m": "10 ms",
                "e_l": "-65 mV",
                "v_th": "-55 mV",
                "v_reset": "-70 mV",
                "t_ref": "2 ms",
                "r_m": "100 Mohm",
            },
            "inputs": {"c": {"kind": "constant", "value": "50 pA"}, **inputs_},
            "summaries": {"moments": {"every": "0.1 ms"}},
        }
    )
    out = inputs.simulate_point(wf, wf.point_params(()))
    vs, counts = _reference_point(wf, inputs.point_streams(wf, wf.point_params(())))
    assert np.array_equal(out.moments.view(np.uint64), vs.view(np.uint64))
    assert np.array_equal(out.counts, counts) and counts.min() > 2  # spikes and refractory steps happened


@pytest.mark.parametrize("stream", [0, 1, 2, 3])
def test_stream_seeding_is_numpys_bit_for_bit(stream):
    """kernel.sfc64_seed_states == SFC64(SeedSequence(key, spawn_key=(stream,))).state, for keys of
    every length (one word for 0, short keys padded to the pool size, 256-bit digests)."""
    rng = np.random.default_rng(stream)
    keys = [0, 1, 2**32 - 1, 2**32, 2**64 + 3, 2**96 - 1, 2**96, 2**128, 2**255 + 12345, 2**300 + 7]
    keys += [int.from_bytes(rng.bytes(32), "little") for _ in range(300)]
    ours = streams._seed_states(keys, stream)
    ref = [np.random.SFC64(np.random.SeedSequence(k, spawn_key=(stream,))).state["state"]["state"] for k in keys]
    assert np.array_equal(ours, np.array(ref, np.uint64))


def test_streams_states_and_generators_agree():
    """A point's stream state is its Generator's, before and after the kernel advanced it."""
    from lifbatch.workflow import load_workflow

    wf = load_workflow(bench_workflow(2, 200).to_dict())
    params = wf.point_params(())
    streams = inputs.point_streams(wf, params, make=True)
    state = streams.state("noise")
    assert np.array_equal(state, inputs.point_streams(wf, params)["noise"].bit_generator.state["state"]["state"])
    inputs.simulate_point(wf, params, streams=streams)
    advanced = streams.state("noise")
    gen = streams["noise"]  # made now, in the advanced state
    ref = inputs.point_streams(wf, params)["noise"]
    ref.standard_normal(wf.trials * wf.n_steps)
    assert not np.array_equal(advanced, state)
    assert np.array_equal(gen.bit_generator.state["state"]["state"], ref.bit_generator.state["state"]["state"])


def test_bench_without_the_source_checkout_says_so_in_one_line(tmp_path):
    """lifbatch installed without its checkout (the package alone, as in site-packages: no
    benchmarks/harness/ beside it): `lifbatch bench`, with any option, names what is missing
    and the fix in one line, exit 2, and `lifbatch bench --help` still answers."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    package = Path(cli.__file__).resolve().parent
    shutil.copytree(package, tmp_path / "lifbatch", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    for args in ([], ["--model", "adex"], ["--sweep", "--points", "4"]):
        p = subprocess.run(
            [sys.executable, "-m", "lifbatch.cli", "bench", "--steps", "10", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 2 and p.stdout == "", (args, p.stdout, p.stderr)
        assert p.stderr.splitlines() == [
            "lifbatch: error: `lifbatch bench` runs the harness in benchmarks/harness/ of lifbatch's source "
            f"checkout, which is not installed with the package and is not beside this lifbatch "
            f"({tmp_path / 'lifbatch'}): install lifbatch from a clone of its repository (pip install -e . in "
            "the clone, as the README's first command does)"
        ], args
    p = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "bench", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0 and "--sweep" in p.stdout and p.stderr == ""


# ---------------------------------------------------------------- lifbatch bench --model


def _bench_cli(*args, env_cache=None, timeout=900):
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    if env_cache is not None:
        env["LIFBATCH_PEERS_CACHE"] = str(env_cache)
    return subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "bench", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_model_bench_runs_tiny_and_prints_its_figures(tmp_path):
    """`lifbatch bench --model hh_traub` on 10 neurons x 100 steps, without the peers' venv: the
    loop's figures, its rate (the spikes lifbatch counts on that workload), one line on Brian2."""
    from harness.bench_models import model_workflow

    p = _bench_cli("--model", "hh_traub", "--neurons", 10, "--steps", 100, "--repeat", 1, env_cache=tmp_path / "none")
    assert p.returncode == 0 and p.stderr == "", p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith(
        "hh_traub: 10 neurons x 100 steps of 0.1 ms, constant current 5 nA, method "
        "exponential_euler, one thread, 1 interleaved rounds (load average "
    )
    wf = model_workflow("hh_traub", 10, 100)
    rate = point.simulate_point(wf, wf.point_params(())).counts.mean() / 0.01
    assert rate > 100  # it fires: 3 spikes in 10 ms
    for label in ("lifbatch hh_traub loop (CPU time)", "lifbatch hh_traub loop (wall)"):
        row = next(line for line in lines if line.startswith(label))
        ns, seconds, rate_shown = float(row[36:51]), float(row[51:].split()[0]), float(row.split()[-1])
        assert ns > 0 and seconds > 0 and ns == pytest.approx(seconds / 1000 * 1e9, rel=2e-3)
        assert rate_shown == pytest.approx(rate, abs=5e-4)
    brian = [line for line in lines if "Brian2" in line]
    assert len(brian) == 1 and brian[0].startswith(f"Brian2: not measured: no peer venv at {tmp_path / 'none'}")


def test_model_bench_refuses_an_unknown_model_in_one_line():
    p = _bench_cli("--model", "hh", "--neurons", 10, "--steps", 10, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [
        "lifbatch: error: `lifbatch bench --model` must be one of hh_traub, adex, eif, izhikevich, lif, got 'hh'. "
        "Example: lifbatch bench --model adex"
    ]
    p = _bench_cli("--model", "adex", "--sweep", timeout=120)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [
        "lifbatch: error: `lifbatch bench`: --model and --sweep do not go together; run one, then the other"
    ]


@pytest.mark.parametrize("model", ["hh_traub", "adex", "eif", "izhikevich", "lif"])
def test_model_bench_workloads_fire_regularly(model):
    """Each workload fires (>= 20 Hz) and regularly: its last inter-spike intervals agree to a step."""
    from harness.bench_models import model_workflow

    wf = model_workflow(model, 2, 5000)
    res = point.simulate_point(wf, wf.point_params(()))
    assert res.counts[0] == res.counts[1] >= 10  # identical neurons, >= 20 Hz in 0.5 s
    steps = np.flatnonzero(np.unpackbits(res.bits[0])[:5000])
    isi = np.diff(steps)[-4:]
    assert isi.max() - isi.min() <= 1, isi


def test_model_bench_takes_ratios_within_a_round():
    """Brian2 / lifbatch per round (CPU time against CPU time for the standalone loop, wall against wall
    otherwise), then their median: not the ratio of medians; a round a contender missed has no ratio."""
    from harness.bench_models import _summarize

    rounds = [
        {
            "lifbatch": 1.0,
            "lifbatch_wall": 2.0,
            "cpp_standalone": 0.5,
            "cpp_standalone_wall": 3.0,
            "cython": 4.0,
            "numpy": 8.0,
        },
        {"lifbatch": 2.0, "lifbatch_wall": 3.0, "cpp_standalone": 3.0, "cpp_standalone_wall": 6.0},
        {"lifbatch": 4.0, "lifbatch_wall": 4.0, "cpp_standalone": 4.0, "cpp_standalone_wall": 4.0, "cython": 2.0},
    ]
    figures, ratios = _summarize(rounds, work=1e6)
    assert figures["lifbatch"]["seconds"] == [1.0, 2.0, 4.0] and figures["lifbatch"]["median"] == 2.0
    assert figures["lifbatch"]["ns_per_neuron_step"] == pytest.approx(2000.0)
    assert ratios["cpp_standalone"] == {"median": 1.0, "min": 0.5, "max": 1.5, "rounds": 3}
    assert ratios["cpp_standalone_wall"] == {"median": 1.5, "min": 1.0, "max": 2.0, "rounds": 3}
    assert ratios["cython"] == {"median": 1.25, "min": 0.5, "max": 2.0, "rounds": 2}
    assert ratios["numpy"]["rounds"] == 1 and figures["numpy"]["median"] == 8.0


def test_model_bench_table_says_when_a_target_is_missed_and_a_rate_disagrees():
    from harness.bench_models import _table, model_bench

    r = model_bench("adex", neurons=4, steps=200, repeat=1, brian2=False)
    assert r["brian2"] is None and r["target"] == 2.0 and r["rates"]["lifbatch"] > 0
    r["figures"]["cpp_standalone"] = dict(r["figures"]["lifbatch"])
    r["ratios"] = {"cpp_standalone": {"median": 1.9, "min": 1.5, "max": 2.5, "rounds": 1}}
    r["rate_check"] = {"cpp_standalone": {"relative_difference": 0.05, "agree": False}}
    table = _table(r)
    assert "Brian2 cpp_standalone loop / lifbatch loop, CPU time   1.90x (1.50-2.50)" in table
    assert "target >= 2x: NOT met" in table
    assert "rates vs lifbatch's (within 3 %): cpp_standalone +5.00% (DISAGREE)" in table
    r["ratios"]["cpp_standalone"]["median"] = 2.0
    assert "target >= 2x: met" in _table(r)


@pytest.mark.slow
@pytest.mark.skipif(
    bench.brian2_unavailable("brian2_model_bench.py") is not None,
    reason=f"needs the peer venv with Brian2 ({bench.brian2_unavailable('brian2_model_bench.py')})",
)
@pytest.mark.parametrize("model", ["hh_traub", "adex"])
def test_model_bench_against_brian2_counts_the_same_spikes(model):
    """A real Brian2 build and runs (cpp_standalone, cython, numpy) through `lifbatch bench --model
    --json`: every contender measured, its mean rate lifbatch's (the same deterministic neurons)."""
    p = _bench_cli("--model", model, "--neurons", 10, "--steps", 2000, "--repeat", 1, "--json")
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout)
    assert r["brian2"]["available"] and r["brian2"]["errors"] == {}, r["brian2"]
    assert r["brian2"]["versions"]["brian2"].startswith("2.9")
    assert r["rates"]["lifbatch"] > 50
    assert set(r["rate_check"]) == {"cpp_standalone", "cython", "numpy"}
    for target, check in r["rate_check"].items():
        assert check["agree"] and abs(r["rates"][target] / r["rates"]["lifbatch"] - 1) <= 0.03, (target, r["rates"])
    for key in ("cpp_standalone", "cpp_standalone_wall", "cython", "numpy"):
        assert r["figures"][key]["rounds"] == 1 and r["figures"][key]["median"] > 0
        assert r["ratios"][key]["median"] > 0
    assert r["ratios"]["cpp_standalone"]["median"] == pytest.approx(
        r["figures"]["cpp_standalone"]["median"] / r["figures"]["lifbatch"]["median"]
    )
