"""``lifbatch bench``: kernel throughput against a numpy baseline, in one run.

The model is the issue's LIF ensemble with white noise: ``neurons`` independent
trials of one grid point, ``steps`` steps of 0.1 ms, tau_m 20 ms, t_ref 2 ms, a
constant current plus white noise giving a moderate firing rate (~23 Hz).
Three figures are measured in the same process, one thread each, best of
``repeat`` (the machine may be shared and noisy; ratios between figures of the
same run are what to compare):

- ``numpy``: a plain numpy implementation, one Python loop over steps,
  vectorized over neurons, in-place, normals from ``numpy.random.Generator``;
- ``kernel``: :func:`lifbatch.inputs.simulate_point`, the code path of a sweep
  (random numbers, packed spike raster, moments), numba compilation excluded;
- ``rng``: drawing ``neurons * steps`` standard normals with numpy's Generator
  on the same bit generator (SFC64), the cost a model drawing its noise from
  numpy cannot go below;
- ``poisson``: the kernel on the Brian2 tutorial part 3 neuron driven by 100
  Poisson inputs at 10 Hz instead of white noise (:func:`poisson_workflow`),
  the same ensemble size: the Poisson path's cost per neuron-step.

Both models are checked to agree statistically (mean rates within a few
standard errors, and close to the Siegert rate); a benchmark of a wrong model
is worthless.

When the peer venv exists (~/.cache/lifbatch-peers/venv, or
$LIFBATCH_PEERS_CACHE/venv; created by ``python benchmarks/peers/peer_venv.py
--create`` or ``python benchmarks/peers/run.py``; never a dependency of
lifbatch), the same white-noise model also runs in Brian2 2.9
(``benchmarks/peers/brian2_white_noise.py``, in that venv's Python), in the same
rounds, best of ``repeat`` (otherwise one line says how to create the venv):

- ``brian2.cpp_standalone``: the project is generated and compiled once per
  call (timed apart, excluded), then each round runs its ``main``; the figure is
  Brian2's own network run time from ``results/last_run_info.txt``: the loop
  only, measured by Brian2 with ``std::clock`` (CPU time of the process; the
  kernel's figure is wall time, so the CPU time of the kernel call is given
  too, and the wall time of the whole ``main`` process);
- ``brian2.cython``: runtime mode with ``prefs.codegen.target = 'cython'``, one
  process per round; the figure is Brian2's network run time of its ``run()``
  (``device._last_run_time``: wall time of the loop, code generation and
  loading the compiled extensions excluded; a first run, which compiles them
  unless cached, is timed apart).

Their mean rates are checked against the kernel's: within 4 standard errors or
within 3 %, since Brian2 draws its own normals and its ``refractory=2*ms``
holds v one step (0.1 ms) less than lifbatch's ``t_ref`` (about +0.2 % in rate).

Examples
--------
>>> from harness.bench import kernel_bench
>>> r = kernel_bench(neurons=200, steps=500, repeat=1)      # doctest: +SKIP
>>> r["kernel"]["neuron_steps_per_s"] > 0                   # doctest: +SKIP
True
"""

from __future__ import annotations

import os

# One thread everywhere: the figures are per core (multi-core speed comes from
# Dask workers). Takes effect for libraries not loaded yet; numpy's ufuncs and
# Generator and the kernel are single-threaded in any case.
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import numpy as np  # noqa: E402

__all__ = [
    "kernel_bench",
    "bench_workflow",
    "poisson_workflow",
    "numpy_lif",
    "numpy_model",
    "brian2_unavailable",
    "main",
]

T = TypeVar("T")  # (what a timed call returns)

# Agreement of the two implementations: |rate difference| below this many
# standard errors of the difference (it is a statistical check, not a bit check).
_AGREE_SIGMAS = 4.0
_RNG_CHUNK = 1 << 16
# Brian2's rates agree with the kernel's when within this many standard errors,
# or within this relative difference (its own normals, and one refractory step less).
BRIAN2_RATE_TOLERANCE = 0.03
_BRIAN2_TARGET = 3.0  # the wanted ratio kernel / Brian2 cpp_standalone
_BRIAN2_BUILD_TIMEOUT = 1800.0
_BRIAN2_RUN_TIMEOUT = 900.0


def bench_workflow(neurons: int = 10_000, steps: int = 10_000):
    """The benchmark's workflow: one grid point, ``neurons`` trials, ``steps`` steps of 0.1 ms."""
    from lifbatch.workflow import load_workflow

    return load_workflow(
        {
            "name": "bench",
            "description": "lifbatch bench: LIF ensemble with white noise",
            "seed": 1,
            "trials": int(neurons),
            "duration": f"{int(steps) / 10!r} ms",
            "dt": "0.1 ms",
            "neuron": {
                "tau_m": "20 ms",
                "e_l": "-65 mV",
                "v_th": "-50 mV",
                "v_reset": "-65 mV",
                "v_init": "-65 mV",
                "t_ref": "2 ms",
                "r_m": "100 Mohm",
            },
            "inputs": {
                "current": {"kind": "constant", "value": "160 pA"},
                "noise": {"kind": "white_noise", "sigma": "4 mV"},
            },
        }
    )


def poisson_workflow(neurons: int = 10_000, steps: int = 10_000):
    """The Poisson-input figure's workflow: the Brian2 tutorial part 3 neuron (dv/dt = -v/tau,
    exact integration, threshold 1) with 100 Poisson inputs at 10 Hz of weight 0.1."""
    from lifbatch.workflow import load_workflow

    return load_workflow(
        {
            "name": "bench-poisson",
            "seed": 3,
            "trials": int(neurons),
            "duration": f"{int(steps) / 10!r} ms",
            "dt": "0.1 ms",
            "method": "exact",
            "neuron": {"tau_m": "10 ms", "v_th": 1, "v_reset": 0},
            "inputs": {"poisson": {"kind": "poisson", "rate": "10 Hz", "weight": 0.1, "n": 100}},
        }
    )


def numpy_lif(
    neurons: int,
    steps: int,
    *,
    dt: float,
    tau_m: float,
    e_l: float,
    v_th: float,
    v_reset: float,
    v_init: float,
    ref_steps: int,
    x: float,
    noise_scale: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The same model in plain numpy (Euler, lifbatch's step order); spike counts, shape (neurons,).

    One loop over steps, vectorized over neurons, every operation in place on
    preallocated arrays. ``x`` is the constant drive in volts (``r_m * I``),
    ``noise_scale`` multiplies one standard normal per neuron and step.
    """
    a = dt / tau_m
    v_drive = e_l + x
    v = np.full(neurons, v_init)
    ref = np.zeros(neurons, np.int64)
    counts = np.zeros(neurons, np.int64)
    z = np.empty(neurons)
    dv = np.empty(neurons)
    refractory = np.empty(neurons, bool)
    spike = np.empty(neurons, bool)
    for _ in range(steps):
        rng.standard_normal(out=z)
        np.subtract(v_drive, v, out=dv)  # leak + drive
        dv *= a
        z *= noise_scale
        dv += z
        v += dv
        np.greater(ref, 0, out=refractory)  # clamped neurons stay at v_reset and count down
        np.copyto(v, v_reset, where=refractory)
        ref -= refractory
        np.greater(v, v_th, out=spike)
        np.copyto(v, v_reset, where=spike)
        np.copyto(ref, ref_steps, where=spike)
        counts += spike
    return counts


def numpy_model(wf) -> dict:
    """The keyword arguments of :func:`numpy_lif` for the bench workflow ``wf``
    (:func:`bench_workflow`): its neuron, drive and noise at its one point, in SI."""
    params = wf.point_params(())
    tau = params["neuron.tau_m"]
    return dict(
        dt=wf.dt,
        tau_m=tau,
        e_l=params["neuron.e_l"],
        v_th=params["neuron.v_th"],
        v_reset=params["neuron.v_reset"],
        v_init=params["neuron.v_init"],
        ref_steps=wf.ref_steps,
        x=params["neuron.r_m"] * params["inputs.current.value"],
        noise_scale=params["inputs.noise.sigma"] * math.sqrt(wf.dt / tau),
    )


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _rng_bound(gen: np.random.Generator, n: int) -> None:
    buf = np.empty(min(n, _RNG_CHUNK))
    for start in range(0, n, buf.shape[0]):
        gen.standard_normal(out=buf[: min(buf.shape[0], n - start)])


def _rate_stats(counts: np.ndarray, duration: float) -> tuple[float, float]:
    """Mean rate (Hz) and its standard error over neurons."""
    n = counts.shape[0]
    sem = counts.std(ddof=1) / math.sqrt(n) if n > 1 else math.inf
    return float(counts.mean() / duration), float(sem / duration)


# ---------------------------------------------------------------- Brian2 (peer venv)

_PEER_SCRIPT = "brian2_white_noise.py"
_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"


def _peers_dir() -> Path:
    """benchmarks/peers/, beside this harness."""
    return Path(__file__).resolve().parents[1] / "peers"


def _peer_venv() -> Path:
    """The peer venv of benchmarks/peers/run.py: $LIFBATCH_PEERS_CACHE/venv or ~/.cache/lifbatch-peers/venv."""
    cache = os.environ.get("LIFBATCH_PEERS_CACHE") or Path.home() / ".cache" / "lifbatch-peers"
    return Path(cache) / "venv"


def _peer_env() -> dict:
    """The environment of a peer process: lifbatch's Python settings removed, the venv first on PATH."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(key, None)
    env["PATH"] = os.pathsep.join([str(_peer_venv() / "bin"), env.get("PATH", "")])
    return env


def brian2_unavailable(script: str = _PEER_SCRIPT) -> str | None:
    """Why Brian2 cannot be measured here (one line), or None when it can (``script``: the
    benchmark's Brian2 script in benchmarks/peers/)."""
    path = _peers_dir() / script
    if not path.exists():
        return (
            f"Brian2: not measured: {path} not found (benchmarks/peers/ of the lifbatch checkout "
            f"this harness is in, {Path(__file__).resolve().parent})"
        )
    venv = _peer_venv()
    if not (venv / "bin" / "python").exists():
        return (
            f"Brian2: not measured: no peer venv at {venv}; create it with "
            f"`python benchmarks/peers/peer_venv.py --create` (or `python benchmarks/peers/run.py`): "
            f"numpy 1.26, Brian2 2.9, Cython, never a dependency of lifbatch"
        )
    return None


def _tail(text: str, n: int = 4) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return " | ".join(lines[-n:])[-400:]


class Brian2Peer:
    """Brian2 on the bench model, in the peer venv: built once, then run once per round.

    Failures are recorded per target (``errors``), never raised: the kernel's
    figures stand without them.
    """

    def __init__(self, neurons: int, steps: int, dt: float, script: str = _PEER_SCRIPT, extra=(), runtime=("cython",)):
        self.neurons, self.steps, self.dt = int(neurons), int(steps), float(dt)
        self.python = _peer_venv() / "bin" / "python"
        self.script = _peers_dir() / script
        self.extra = tuple(map(str, extra))  # the script's own arguments (lifbatch bench --model: the model)
        self.runtime = tuple(runtime)  # the runtime targets measured besides cpp_standalone
        self.work = Path(tempfile.mkdtemp(prefix="lifbatch-bench-brian2-"))
        self.project = self.work / "standalone"
        # Compiled Cython extensions are cached across invocations (Brian2's own
        # habit; keyed by their code), next to the peer venv.
        self.cython_cache = _peer_venv().parent / "cython-cache"
        self.env = _peer_env()
        self.errors: dict[str, str] = {}
        self.build: dict[str, float] = {}
        self.versions: dict[str, str] = {}
        self.best = {"cpp_standalone": math.inf, "cpp_standalone_wall": math.inf}
        self.rounds = {"cpp_standalone": 0}
        for target in self.runtime:
            self.best.update({target: math.inf, f"{target}_run_call": math.inf})
            self.rounds[target] = 0
        self.counts: dict[str, np.ndarray] = {}
        self.last: dict[str, float] = {}  # the figures of the latest round (those that succeeded)

    def _args(self, *extra) -> list[str]:
        return [
            str(self.python),
            str(self.script),
            *self.extra,
            "--neurons",
            str(self.neurons),
            "--steps",
            str(self.steps),
            *map(str, extra),
        ]

    def _run(self, cmd, cwd=None, timeout=_BRIAN2_RUN_TIMEOUT):
        return subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def setup(self) -> None:
        """Versions, the standalone build and cython's first run (compiles unless cached), timed apart;
        then one untimed run of the standalone binary (checks it and warms the file cache)."""
        p = self._run(
            [
                self.python,
                "-c",
                "import brian2, numpy, Cython; print(brian2.__version__, numpy.__version__, Cython.__version__)",
            ],
            timeout=300,
        )
        if p.returncode != 0:
            msg = f"the peer venv's Python cannot import brian2: {_tail(p.stderr)}"
            self.errors.update({target: msg for target in ("cpp_standalone", *self.runtime)})
            return
        self.versions = dict(zip(("brian2", "numpy", "Cython"), p.stdout.split()))
        gxx = shutil.which("g++")
        if gxx:
            self.versions["g++"] = subprocess.run(
                [gxx, "-dumpfullversion"], capture_output=True, text=True
            ).stdout.strip()
        try:
            t, p = _timed(
                lambda: self._run(
                    self._args("--target", "cpp_standalone", "--project-dir", self.project),
                    timeout=_BRIAN2_BUILD_TIMEOUT,
                )
            )
            self.build["cpp_standalone"] = t
            if p.returncode != 0:
                self.errors["cpp_standalone"] = f"build failed (exit {p.returncode}): {_tail(p.stderr)}"
            else:
                with open(self.project / "lifbatch_peers.json") as f:
                    self.info = json.load(f)
                self._standalone(timed=False)
        except Exception as exc:  # noqa: BLE001 (a peer never stops the kernel figures)
            self.errors["cpp_standalone"] = f"build failed: {exc}"
        for target in self.runtime:
            try:
                t0 = time.perf_counter()
                self._runtime(target, timed=False)
                self.build[target] = time.perf_counter() - t0
            except Exception as exc:  # noqa: BLE001 (a peer never stops the kernel figures)
                self.errors[target] = f"first run failed: {exc}"

    def _standalone(self, timed: bool) -> None:
        results = self.project / "results"
        info_file = results / "last_run_info.txt"
        info_file.unlink(missing_ok=True)  # never read a previous run's
        wall, p = _timed(lambda: self._run(["./main"], cwd=self.project))
        if p.returncode != 0:
            raise RuntimeError(f"./main exit {p.returncode}: {_tail(p.stderr) or _tail(p.stdout)}")
        fields = info_file.read_text().split()
        run_time, fraction = float(fields[0]), float(fields[1])
        if fraction != 1.0:
            raise RuntimeError(f"last_run_info.txt: completed fraction {fraction}, not 1")
        timestep = np.fromfile(results / self.info["timestep_file"], dtype=self.info["timestep_dtype"])
        if timestep.size != 1 or int(timestep[0]) != self.steps:
            raise RuntimeError(f"the standalone run ended at time step {timestep}, not {self.steps}")
        counts = np.fromfile(results / self.info["count_file"], dtype=self.info["count_dtype"])
        if counts.size != self.neurons:
            raise RuntimeError(f"{self.info['count_file']}: {counts.size} counts, expected {self.neurons}")
        self.counts["cpp_standalone"] = counts.astype(np.int64)
        if timed:
            self.best["cpp_standalone"] = min(self.best["cpp_standalone"], run_time)
            self.best["cpp_standalone_wall"] = min(self.best["cpp_standalone_wall"], wall)
            self.last.update(cpp_standalone=run_time, cpp_standalone_wall=wall)
            self.rounds["cpp_standalone"] += 1

    def _runtime(self, target: str, timed: bool) -> None:
        out = self.work / f"{target}-counts.npy"
        out.unlink(missing_ok=True)
        cache = ("--cython-cache", self.cython_cache) if target == "cython" else ()
        p = self._run(
            self._args("--target", target, *cache, "--counts-out", out),
            cwd=self.work,
            timeout=_BRIAN2_BUILD_TIMEOUT if not timed else _BRIAN2_RUN_TIMEOUT,
        )
        if p.returncode != 0:
            raise RuntimeError(f"exit {p.returncode}: {_tail(p.stderr) or _tail(p.stdout)}")
        found = {}
        for key in ("TIME", "RUN", "STEPS", "RATE"):
            m = re.search(rf"^{key} {_NUM}\s*$", p.stdout, re.MULTILINE)
            if not m:
                raise RuntimeError(f"no '{key} <number>' line in its output: {_tail(p.stdout)}")
            found[key] = float(m.group(1))
        if int(found["STEPS"]) != self.steps:
            raise RuntimeError(f"it ran {found['STEPS']:g} steps, not {self.steps}")
        counts = np.load(out)
        if counts.shape != (self.neurons,):
            raise RuntimeError(f"{counts.shape} counts, expected {self.neurons}")
        self.counts[target] = counts.astype(np.int64)
        if timed:
            self.best[target] = min(self.best[target], found["TIME"])
            self.best[f"{target}_run_call"] = min(self.best[f"{target}_run_call"], found["RUN"])
            self.last.update({target: found["TIME"], f"{target}_run_call": found["RUN"]})
            self.rounds[target] += 1

    def run_round(self) -> None:
        """One timed run of each target that has not failed (their figures in ``last``)."""
        self.last = {}
        for target in ("cpp_standalone", *self.runtime):
            if target in self.errors:
                continue
            try:
                if target == "cpp_standalone":
                    self._standalone(timed=True)
                else:
                    self._runtime(target, timed=True)
            except Exception as exc:  # noqa: BLE001 (a peer never stops the kernel figures)
                self.errors[target] = f"round {self.rounds[target] + 1} failed: {exc}"

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def _brian2_result(
    peer: Brian2Peer, work: float, rate_k: float, sem_k: float, t_kernel: float, cpu_kernel: float
) -> dict:
    """Brian2's figures: per target seconds (best round), neuron-steps/s and the rate check."""
    duration = peer.steps * peer.dt
    out = {
        "available": True,
        "versions": peer.versions,
        "python": str(peer.python),
        "build_seconds": {
            "cpp_standalone": peer.build.get("cpp_standalone"),
            "cython_first_run": peer.build.get("cython"),
        },
        "errors": dict(peer.errors),
        "kernel_cpu_seconds": cpu_kernel,
        "rate_tolerance": BRIAN2_RATE_TOLERANCE,
        "target_ratio_cpp_standalone": _BRIAN2_TARGET,
    }
    for target in ("cpp_standalone", "cython"):
        seconds = peer.best[target]
        if target in peer.errors or not math.isfinite(seconds):
            out[target] = None
            continue
        rate, sem = _rate_stats(peer.counts[target], duration)
        d = math.hypot(sem, sem_k)
        z = abs(rate - rate_k) / d if d > 0 else (0.0 if rate == rate_k else math.inf)
        rel = (rate - rate_k) / rate_k if rate_k else math.nan
        fig: dict[str, Any] = {
            "seconds": seconds,
            "neuron_steps_per_s": work / seconds,
            "rounds": peer.rounds[target],
            "rate": rate,
            "rate_sem": sem,
            "relative_difference": rel,
            "z": z,
            "agree": bool(z < _AGREE_SIGMAS or abs(rel) <= BRIAN2_RATE_TOLERANCE),
        }
        if target == "cpp_standalone":
            fig["clock"] = "Brian2's std::clock: CPU time of the loop (results/last_run_info.txt)"
            fig["process_wall_seconds"] = peer.best["cpp_standalone_wall"]
            fig["ratio_kernel_cpu_time"] = seconds / cpu_kernel if cpu_kernel > 0 else None
            fig["ratio_kernel_process_wall"] = peer.best["cpp_standalone_wall"] / t_kernel
        else:
            fig["clock"] = "Brian2's device._last_run_time: wall time of the loop in run()"
            fig["run_call_seconds"] = peer.best["cython_run_call"]
        out[target] = fig
    return out


def _brian2_lines(r: dict) -> tuple[list[str], list[str]]:
    """The table's Brian2 lines: its figure rows, and the lines below the table (ratios, rates,
    excluded steps, failures; or the one-line note of a missing peer venv)."""
    b = r.get("brian2")
    if not b:
        return [], []
    if not b.get("available"):
        return [], [b["note"]]
    rows, lines = [], []
    labels = {"cpp_standalone": "Brian2 cpp_standalone (loop)", "cython": "Brian2 runtime cython (loop)"}
    for target, label in labels.items():
        fig = b.get(target)
        if fig:
            rows.append(f"{label:34}{fig['neuron_steps_per_s']:>16.3e}{fig['seconds']:>10.3f}")
    s = b.get("cpp_standalone")
    if s:

        def met(x):
            return "met" if x is not None and x >= _BRIAN2_TARGET else "NOT met"

        cpu = s["ratio_kernel_cpu_time"]
        lines.append(
            f"kernel / Brian2 cpp_standalone  {r['ratio_kernel_brian2_cpp_standalone']:.2f}x  "
            f"(target >= {_BRIAN2_TARGET:g}x: {met(r['ratio_kernel_brian2_cpp_standalone'])} on these "
            f"figures; CPU time of both: " + (f"{cpu:.2f}x, {met(cpu)})" if cpu else "n/a)")
        )
        lines.append(
            f"    Brian2 times its loop in CPU time (std::clock), the kernel figure is wall time (its CPU "
            f"time {b['kernel_cpu_seconds']:.3f} s); the whole ./main process, wall "
            f"{s['process_wall_seconds']:.3f} s: {s['ratio_kernel_process_wall']:.2f}x"
        )
    c = b.get("cython")
    if c:
        lines.append(
            f"kernel / Brian2 runtime cython  {r['ratio_kernel_brian2_cython']:.2f}x  "
            f"(its whole run() call, code generation included: {c['run_call_seconds']:.3f} s)"
        )
    rates = []
    for target, fig in (("cpp_standalone", s), ("cython", c)):
        if fig:
            verdict = "agree" if fig["agree"] else "DISAGREE"
            rates.append(
                f"{target} {fig['rate']:.3f} +- {fig['rate_sem']:.3f} "
                f"({fig['relative_difference'] * 100:+.2f}% vs kernel, {fig['z']:.1f} s.e.: {verdict})"
            )
    if rates:
        lines.append("rate (Hz) Brian2  " + ", ".join(rates))
    build = b.get("build_seconds") or {}
    excluded = []
    if build.get("cpp_standalone") is not None:
        excluded.append(f"cpp_standalone build (code generation + g++) {build['cpp_standalone']:.1f} s")
    if build.get("cython_first_run") is not None:
        excluded.append(f"cython first run (compiles its extensions unless cached) {build['cython_first_run']:.1f} s")
    v = b.get("versions") or {}
    vs = ", ".join(f"{k} {v[k]}" for k in ("brian2", "numpy", "Cython", "g++") if k in v)
    if excluded or vs:
        lines.append("Brian2 excluded: " + "; ".join(excluded) + (f" ({vs}, one thread)" if vs else ""))
    for target, err in (b.get("errors") or {}).items():
        lines.append(f"Brian2 {target} FAILED: {err}")
    return rows, lines


def kernel_bench(neurons: int = 10_000, steps: int = 10_000, repeat: int = 3, brian2: bool = False, peer=None) -> dict:
    """Measure the kernel, the numpy baseline and the random-number bound in one run.

    Parameters
    ----------
    neurons, steps : int     ensemble size and number of 0.1 ms steps
    repeat : int             timings are the best of ``repeat`` calls
    brian2 : bool            also measure Brian2 (cpp_standalone and runtime cython) in the
                             same rounds, if the peer venv exists
    peer : callable, optional
        ``peer(neurons, steps, dt)`` makes the peer runner measured in Brian2's place (and
        with ``brian2`` implied): an object with ``setup()`` (once, untimed), ``run_round()``
        (once per round, after the kernel's), ``close()`` (always), and the figures
        :func:`_brian2_result` reads (``steps``, ``dt``, ``versions``, ``python``, ``build``,
        ``errors``, ``best``, ``counts``, ``rounds``), as Brian2's in the peer venv has

    Returns
    -------
    dict with, for ``numpy``, ``kernel`` and ``rng``: ``seconds`` and
    ``neuron_steps_per_s``; ``ratio_kernel_numpy`` and ``ratio_kernel_rng``;
    ``rate`` (Hz, mean and standard error of both models, the Siegert rate and
    whether the models agree); and the run's settings. ``brian2`` is None
    unless asked for; then ``{"available": False, "note": ...}`` without the
    peer venv, else the figures (see :func:`_brian2_result`), with
    ``ratio_kernel_brian2_cpp_standalone`` and ``ratio_kernel_brian2_cython``
    (None when not measured).
    """
    from lifbatch.inputs import point_streams, simulate_point
    from lifbatch.theory import siegert_rate

    wf = bench_workflow(neurons, steps)
    params = wf.point_params(())
    n = wf.n_steps
    work = float(neurons) * n
    duration = n * wf.dt

    # Warm-up: compiles (or loads from cache) the kernel specializations used below.
    small = bench_workflow(2, min(n, 100))
    simulate_point(small, small.point_params(()))
    pwf = poisson_workflow(neurons, steps)
    pparams = pwf.point_params(())
    simulate_point(poisson_workflow(2, min(n, 100)), pparams)

    tau = params["neuron.tau_m"]
    sigma = params["inputs.noise.sigma"]
    model = numpy_model(wf)
    x = model["x"]

    note = None
    brian2 = brian2 or peer is not None
    if peer is not None:
        peer = peer(neurons, n, wf.dt)
    elif brian2:
        note = brian2_unavailable()
        peer = Brian2Peer(neurons, n, wf.dt) if note is None else None
    try:
        if peer is not None:
            peer.setup()  # the excluded one-off steps: standalone build, cython's first run

        # Rounds interleave the measurements, so that load from other
        # processes hits all of them alike; each figure is its best round.
        t_kernel = t_numpy = t_rng = t_poisson = cpu_kernel = math.inf
        for i in range(max(1, repeat)):
            c0 = time.process_time()
            t, res = _timed(lambda: simulate_point(wf, params))
            cpu_kernel = min(cpu_kernel, time.process_time() - c0)
            t_kernel = min(t_kernel, t)
            t, pres = _timed(lambda: simulate_point(pwf, pparams))
            t_poisson = min(t_poisson, t)
            rng = np.random.Generator(np.random.SFC64(i + 1))
            t, counts_np = _timed(lambda: numpy_lif(neurons, n, rng=rng, **model))
            t_numpy = min(t_numpy, t)
            gen = point_streams(wf, params)["noise"]
            t, _ = _timed(lambda: _rng_bound(gen, int(work)))
            t_rng = min(t_rng, t)
            if peer is not None:
                peer.run_round()
    finally:
        if peer is not None:
            peer.close()

    rate_k, sem_k = _rate_stats(res.counts, duration)
    rate_n, sem_n = _rate_stats(counts_np, duration)
    sem = math.hypot(sem_k, sem_n)
    z = abs(rate_k - rate_n) / sem if sem > 0 else (0.0 if rate_k == rate_n else math.inf)
    theory = siegert_rate(
        params["neuron.e_l"] + x,
        sigma,
        tau_m=tau,
        v_th=params["neuron.v_th"],
        v_reset=params["neuron.v_reset"],
        t_ref=params["neuron.t_ref"],
    )

    def fig(seconds):
        return {"seconds": seconds, "neuron_steps_per_s": work / seconds}

    peer_r = None
    if brian2:
        peer_r = (
            {"available": False, "note": note}
            if peer is None
            else _brian2_result(peer, work, rate_k, sem_k, t_kernel, cpu_kernel)
        )

    def ratio(target):
        fig_ = (peer_r or {}).get(target)
        return fig_["seconds"] / t_kernel if fig_ and fig_.get("seconds") else None

    return {
        "neurons": int(neurons),
        "steps": int(n),
        "dt": wf.dt,
        "repeat": int(repeat),
        "numpy": fig(t_numpy),
        "kernel": fig(t_kernel),
        "rng": fig(t_rng),
        "poisson": fig(t_poisson),
        "poisson_rate": float(pres.counts.mean() / duration),
        "ratio_kernel_numpy": t_numpy / t_kernel,
        "ratio_poisson_white_noise": t_poisson / t_kernel,
        "ratio_kernel_rng": t_rng / t_kernel,
        "rate": {
            "kernel": rate_k,
            "kernel_sem": sem_k,
            "numpy": rate_n,
            "numpy_sem": sem_n,
            "relative_difference": (rate_k - rate_n) / rate_n if rate_n else math.nan,
            "z": z,
            "agree": bool(z < _AGREE_SIGMAS),
            "siegert": float(theory),
        },
        "threads": 1,
        "numpy_version": np.__version__,
        "machine": platform.processor() or platform.machine(),
        "brian2": peer_r,
        "ratio_kernel_brian2_cpp_standalone": ratio("cpp_standalone"),
        "ratio_kernel_brian2_cython": ratio("cython"),
    }


def _table(r: dict) -> str:
    lines = [
        f"LIF ensemble with white noise: {r['neurons']} neurons x {r['steps']} steps of "
        f"{r['dt'] * 1e3:g} ms, one thread, best of {r['repeat']}",
        f"{'':34}{'neuron-steps/s':>16}{'seconds':>10}",
    ]
    for key, label in (
        ("numpy", "numpy vectorized (baseline)"),
        ("kernel", "lifbatch kernel"),
        ("rng", "RNG bound (normals only)"),
        ("poisson", "kernel, 100 Poisson inputs"),
    ):
        lines.append(f"{label:34}{r[key]['neuron_steps_per_s']:>16.3e}{r[key]['seconds']:>10.3f}")
    brian_rows, brian_lines = _brian2_lines(r)
    lines += brian_rows
    lines.append(f"kernel / numpy   {r['ratio_kernel_numpy']:.2f}x")
    lines.append(f"kernel / RNG     {r['ratio_kernel_rng']:.2f}x  (> 1: faster than drawing the normals with numpy)")
    lines.append(
        f"Poisson / white noise per neuron-step  {r['ratio_poisson_white_noise']:.2f}x "
        f"(target <= 1.5x; Brian2 tutorial part 3 neuron, 100 inputs at 10 Hz: "
        f"{r['poisson_rate']:.2f} Hz)"
    )
    q = r["rate"]
    verdict = "agree" if q["agree"] else "DISAGREE"
    lines.append(
        f"rate (Hz)        kernel {q['kernel']:.3f} +- {q['kernel_sem']:.3f}, "
        f"numpy {q['numpy']:.3f} +- {q['numpy_sem']:.3f} "
        f"({q['relative_difference'] * 100:+.2f}%, {q['z']:.1f} s.e.: {verdict}); "
        f"Siegert (continuous time) {q['siegert']:.3f}"
    )
    lines += brian_lines
    return "\n".join(lines)


def main(args) -> int:
    """Entry point of ``lifbatch bench`` (``args``: neurons, steps, repeat, json; optional ``brian2``,
    default True: Brian2 too when the peer venv exists). Exit 1 if a rate check fails or Brian2,
    with its venv there, could not be measured."""
    r = kernel_bench(neurons=args.neurons, steps=args.steps, repeat=args.repeat, brian2=getattr(args, "brian2", True))
    print(json.dumps(r, indent=2) if args.json else _table(r))
    ok = r["rate"]["agree"]
    b = r.get("brian2")
    if b and b.get("available"):
        ok = ok and not b["errors"] and all(b[t]["agree"] for t in ("cpp_standalone", "cython") if b.get(t))
    return 0 if ok else 1
