"""``lifbatch bench --sweep``: end-to-end sweep throughput, worker memory and per-point overhead.

Three measurements, each on a fresh embedded LocalCluster (so that a worker's
peak RSS belongs to that run alone), against baselines measured in the same run:

1. throughput: a grid of ``points`` x 20 trials x 10^4 steps (white-noise LIF)
   end to end (simulation, summaries, Zarr writes, scheduling), in
   neuron-steps/s, against the kernel's own single-core figure x workers;
2. memory: the peak RSS of the workers for that grid and for a grid 10x
   smaller (same per-task budget): flat when memory is bounded by the block;
3. overhead: a 10^4-point sweep of tiny simulations (1 trial x 10 steps): wall
   time per point minus the kernel's own time per point.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time

__all__ = ["sweep_bench", "main"]


def _workflow(points: int, trials: int, steps: int, name: str) -> dict:
    return {
        "name": name, "seed": 1, "trials": trials, "duration": f"{steps * 0.1} ms", "dt": "0.1 ms",
        "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "t_ref": "2 ms",
                   "r_m": "100 Mohm"},
        "inputs": {"i": {"kind": "constant", "value": "150 pA"}, "n": {"kind": "white_noise", "sigma": "4 mV"}},
        "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, points], "unit": "pA"}},
        "summaries": {"moments": {"every": "1 ms"}},
    }


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _kernel_rate(wf) -> float:
    """Single-core neuron-steps/s of the real per-point code path (in this process)."""
    from .inputs import simulate_point

    simulate_point(wf, wf.point_params((0,)))  # compile / warm up
    t = time.perf_counter()
    n = 0
    for i in range(min(5, wf.n_points)):
        simulate_point(wf, wf.point_params((i,)))
        n += wf.trials * wf.n_steps
    return n / (time.perf_counter() - t)


def _warm_up() -> None:
    from .execute import simulate_block
    from .workflow import load_workflow

    simulate_block(load_workflow(_workflow(2, 2, 100, "warm-up")), (slice(0, 2),))


def _run(wf, workers: int, tmp: str, **kw) -> dict:
    from distributed import Client, LocalCluster

    from .execute import run_sweep

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        # warm the workers (imports, numba compilation or cache) outside the timed region
        client.run(_warm_up)
        store = os.path.join(tmp, f"{wf.name}.zarr")
        t = time.perf_counter()
        res = run_sweep(wf, store, client=client, progress=False, log=lambda m: None, **kw)
        elapsed = time.perf_counter() - t
        rss = client.run(_peak_rss)
    finally:
        client.close()
        cluster.close()
    shutil.rmtree(store, ignore_errors=True)
    return {"seconds": elapsed, "blocks": res.blocks, "peak_worker_rss": max(rss.values()), "ok": res.ok}


def sweep_bench(points: int = 1000, trials: int = 20, steps: int = 10_000, workers: int = 2,
                tiny_points: int = 10_000) -> dict:
    from .workflow import load_workflow

    tmp = tempfile.mkdtemp(prefix="lifbatch-bench-")
    try:
        wf = load_workflow(_workflow(points, trials, steps, "bench-sweep"))
        kernel = _kernel_rate(wf)
        big = _run(wf, workers, tmp)
        small_wf = load_workflow(_workflow(max(2, points // 10), trials, steps, "bench-small"))
        small = _run(small_wf, workers, tmp)
        neuron_steps = wf.n_points * trials * steps
        e2e = neuron_steps / big["seconds"]

        tiny = load_workflow(_workflow(tiny_points, 1, 10, "bench-tiny"))
        tiny_kernel = _kernel_rate(tiny)
        tiny_run = _run(tiny, workers, tmp)
        per_point = tiny_run["seconds"] / tiny_points
        kernel_per_point = 10 / tiny_kernel
        # the workers share the points, so the overhead a point costs is wall x workers
        overhead = per_point * workers - kernel_per_point
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "points": points, "trials": trials, "steps": steps, "workers": workers,
        "kernel_single_core": kernel, "end_to_end": e2e, "efficiency": e2e / (kernel * workers),
        "seconds": big["seconds"], "blocks": big["blocks"],
        "peak_worker_rss": big["peak_worker_rss"], "peak_worker_rss_small": small["peak_worker_rss"],
        "memory_growth": big["peak_worker_rss"] / small["peak_worker_rss"],
        "tiny_points": tiny_points, "tiny_seconds": tiny_run["seconds"], "tiny_blocks": tiny_run["blocks"],
        "overhead_per_point_s": overhead,
    }


def main(args) -> int:
    r = sweep_bench(points=args.points, workers=args.workers or 2, tiny_points=args.tiny_points)
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    mib = 1 / 2 ** 20
    print(f"end-to-end sweep: {r['points']} points x {r['trials']} trials x {r['steps']} steps on "
          f"{r['workers']} local workers, {r['blocks']} tasks, {r['seconds']:.1f} s")
    print(f"  kernel, one core        {r['kernel_single_core']:.3e} neuron-steps/s")
    print(f"  end to end              {r['end_to_end']:.3e} neuron-steps/s = {100 * r['efficiency']:.0f}% "
          f"of kernel x {r['workers']} workers (target >= 80%)")
    print(f"  peak worker RSS         {r['peak_worker_rss'] * mib:.0f} MiB; with a 10x smaller grid "
          f"{r['peak_worker_rss_small'] * mib:.0f} MiB (ratio {r['memory_growth']:.2f}, flat = 1)")
    print(f"tiny sweep: {r['tiny_points']} points x 1 trial x 10 steps, {r['tiny_blocks']} tasks, "
          f"{r['tiny_seconds']:.1f} s")
    print(f"  overhead per point      {1e3 * r['overhead_per_point_s']:.3f} ms (target < 1 ms)")
    return 0
