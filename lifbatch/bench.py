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

Examples
--------
>>> from lifbatch.bench import kernel_bench
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
import time  # noqa: E402

import numpy as np  # noqa: E402

__all__ = ["kernel_bench", "bench_workflow", "poisson_workflow", "numpy_lif", "main"]

# Agreement of the two implementations: |rate difference| below this many
# standard errors of the difference (it is a statistical check, not a bit check).
_AGREE_SIGMAS = 4.0
_RNG_CHUNK = 1 << 16


def bench_workflow(neurons: int = 10_000, steps: int = 10_000):
    """The benchmark's workflow: one grid point, ``neurons`` trials, ``steps`` steps of 0.1 ms."""
    from .workflow import load_workflow

    return load_workflow({
        "name": "bench",
        "description": "lifbatch bench: LIF ensemble with white noise",
        "seed": 1,
        "trials": int(neurons),
        "duration": f"{int(steps) / 10!r} ms",
        "dt": "0.1 ms",
        "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV",
                   "v_init": "-65 mV", "t_ref": "2 ms", "r_m": "100 Mohm"},
        "inputs": {"current": {"kind": "constant", "value": "160 pA"},
                   "noise": {"kind": "white_noise", "sigma": "4 mV"}},
    })


def poisson_workflow(neurons: int = 10_000, steps: int = 10_000):
    """The Poisson-input figure's workflow: the Brian2 tutorial part 3 neuron (dv/dt = -v/tau,
    exact integration, threshold 1) with 100 Poisson inputs at 10 Hz of weight 0.1."""
    from .workflow import load_workflow

    return load_workflow({
        "name": "bench-poisson", "seed": 3, "trials": int(neurons), "duration": f"{int(steps) / 10!r} ms",
        "dt": "0.1 ms", "method": "exact", "neuron": {"tau_m": "10 ms", "v_th": 1, "v_reset": 0},
        "inputs": {"poisson": {"kind": "poisson", "rate": "10 Hz", "weight": 0.1, "n": 100}},
    })


def numpy_lif(neurons: int, steps: int, *, dt: float, tau_m: float, e_l: float, v_th: float,
              v_reset: float, v_init: float, ref_steps: int, x: float, noise_scale: float,
              rng: np.random.Generator) -> np.ndarray:
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
        np.subtract(v_drive, v, out=dv)      # leak + drive
        dv *= a
        z *= noise_scale
        dv += z
        v += dv
        np.greater(ref, 0, out=refractory)   # clamped neurons stay at v_reset and count down
        np.copyto(v, v_reset, where=refractory)
        ref -= refractory
        np.greater(v, v_th, out=spike)
        np.copyto(v, v_reset, where=spike)
        np.copyto(ref, ref_steps, where=spike)
        counts += spike
    return counts


def _timed(fn) -> tuple[float, object]:
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


def kernel_bench(neurons: int = 10_000, steps: int = 10_000, repeat: int = 3) -> dict:
    """Measure the kernel, the numpy baseline and the random-number bound in one run.

    Parameters
    ----------
    neurons, steps : int     ensemble size and number of 0.1 ms steps
    repeat : int             timings are the best of ``repeat`` calls

    Returns
    -------
    dict with, for ``numpy``, ``kernel`` and ``rng``: ``seconds`` and
    ``neuron_steps_per_s``; ``ratio_kernel_numpy`` and ``ratio_kernel_rng``;
    ``rate`` (Hz, mean and standard error of both models, the Siegert rate and
    whether the models agree); and the run's settings.
    """
    from .inputs import point_streams, simulate_point
    from .theory import siegert_rate

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
    x = params["neuron.r_m"] * params["inputs.current.value"]
    model = dict(dt=wf.dt, tau_m=tau, e_l=params["neuron.e_l"], v_th=params["neuron.v_th"],
                 v_reset=params["neuron.v_reset"], v_init=params["neuron.v_init"], ref_steps=wf.ref_steps,
                 x=x, noise_scale=sigma * math.sqrt(wf.dt / tau))

    # Rounds interleave the three measurements, so that load from other
    # processes hits all of them alike; each figure is its best round.
    t_kernel = t_numpy = t_rng = t_poisson = math.inf
    for i in range(max(1, repeat)):
        t, res = _timed(lambda: simulate_point(wf, params))
        t_kernel = min(t_kernel, t)
        t, pres = _timed(lambda: simulate_point(pwf, pparams))
        t_poisson = min(t_poisson, t)
        rng = np.random.Generator(np.random.SFC64(i + 1))
        t, counts_np = _timed(lambda: numpy_lif(neurons, n, rng=rng, **model))
        t_numpy = min(t_numpy, t)
        gen = point_streams(wf, params)["noise"]
        t, _ = _timed(lambda: _rng_bound(gen, int(work)))
        t_rng = min(t_rng, t)

    rate_k, sem_k = _rate_stats(res.counts, duration)
    rate_n, sem_n = _rate_stats(counts_np, duration)
    sem = math.hypot(sem_k, sem_n)
    z = abs(rate_k - rate_n) / sem if sem > 0 else (0.0 if rate_k == rate_n else math.inf)
    theory = siegert_rate(params["neuron.e_l"] + x, sigma, tau_m=tau, v_th=params["neuron.v_th"],
                          v_reset=params["neuron.v_reset"], t_ref=params["neuron.t_ref"])

    def fig(seconds):
        return {"seconds": seconds, "neuron_steps_per_s": work / seconds}

    return {
        "neurons": int(neurons), "steps": int(n), "dt": wf.dt, "repeat": int(repeat),
        "numpy": fig(t_numpy), "kernel": fig(t_kernel), "rng": fig(t_rng), "poisson": fig(t_poisson),
        "poisson_rate": float(pres.counts.mean() / duration),
        "ratio_kernel_numpy": t_numpy / t_kernel,
        "ratio_poisson_white_noise": t_poisson / t_kernel,
        "ratio_kernel_rng": t_rng / t_kernel,
        "rate": {"kernel": rate_k, "kernel_sem": sem_k, "numpy": rate_n, "numpy_sem": sem_n,
                 "relative_difference": (rate_k - rate_n) / rate_n if rate_n else math.nan,
                 "z": z, "agree": bool(z < _AGREE_SIGMAS), "siegert": float(theory)},
        "threads": 1, "numpy_version": np.__version__, "machine": platform.processor() or platform.machine(),
    }


def _table(r: dict) -> str:
    lines = [f"LIF ensemble with white noise: {r['neurons']} neurons x {r['steps']} steps of "
             f"{r['dt'] * 1e3:g} ms, one thread, best of {r['repeat']}",
             f"{'':28}{'neuron-steps/s':>16}{'seconds':>10}"]
    for key, label in (("numpy", "numpy vectorized (baseline)"), ("kernel", "lifbatch kernel"),
                       ("rng", "RNG bound (normals only)"), ("poisson", "kernel, 100 Poisson inputs")):
        lines.append(f"{label:28}{r[key]['neuron_steps_per_s']:>16.3e}{r[key]['seconds']:>10.3f}")
    lines.append(f"kernel / numpy   {r['ratio_kernel_numpy']:.2f}x")
    lines.append(f"kernel / RNG     {r['ratio_kernel_rng']:.2f}x  (> 1: faster than drawing the normals with numpy)")
    lines.append(f"Poisson / white noise per neuron-step  {r['ratio_poisson_white_noise']:.2f}x "
                 f"(target <= 1.5x; Brian2 tutorial part 3 neuron, 100 inputs at 10 Hz: "
                 f"{r['poisson_rate']:.2f} Hz)")
    q = r["rate"]
    verdict = "agree" if q["agree"] else "DISAGREE"
    lines.append(f"rate (Hz)        kernel {q['kernel']:.3f} +- {q['kernel_sem']:.3f}, "
                 f"numpy {q['numpy']:.3f} +- {q['numpy_sem']:.3f} "
                 f"({q['relative_difference'] * 100:+.2f}%, {q['z']:.1f} s.e.: {verdict}); "
                 f"Siegert (continuous time) {q['siegert']:.3f}")
    return "\n".join(lines)


def main(args) -> int:
    """Entry point of ``lifbatch bench`` (``args``: neurons, steps, repeat, json)."""
    r = kernel_bench(neurons=args.neurons, steps=args.steps, repeat=args.repeat)
    print(json.dumps(r, indent=2) if args.json else _table(r))
    return 0 if r["rate"]["agree"] else 1
