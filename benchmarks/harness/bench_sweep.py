"""``lifbatch bench --sweep``: end-to-end sweep throughput, worker memory and per-point overhead.

Three measurements, each on a fresh embedded execution as ``lifbatch run`` starts
it (threads of this process, or with ``processes=True`` a LocalCluster of worker
processes), against baselines measured in the same run:

1. throughput: a grid of ``points`` x 20 trials x 10^4 steps (white-noise LIF)
   end to end (simulation, summaries, Zarr writes, scheduling), in
   neuron-steps/s, against the kernel's own single-core figure x workers;
2. memory: the peak RSS of the workers for that grid and for a grid 10x
   smaller (same per-task budget): flat when memory is bounded by the block;
3. overhead: a 10^4-point sweep of tiny simulations (1 trial x 10 steps): wall
   time per point minus the kernel's own time per point.

Every execution is warmed up by a small sweep first (imports, numba's cache and
Zarr's codecs load once per process). Throughput is measured in rounds, each a
sweep right after its own baselines; the tiny sweep is timed best of ``repeat``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import shutil
import tempfile
import time

from lifbatch.grid import Blocking, block_chunks

__all__ = ["sweep_bench", "main"]


def _workflow(points: int, trials: int, steps: int, name: str) -> dict:
    return {
        "name": name,
        "seed": 1,
        "trials": trials,
        "duration": f"{steps * 0.1} ms",
        "dt": "0.1 ms",
        "neuron": {
            "tau_m": "20 ms",
            "e_l": "-65 mV",
            "v_th": "-50 mV",
            "v_reset": "-65 mV",
            "t_ref": "2 ms",
            "r_m": "100 Mohm",
        },
        "inputs": {"i": {"kind": "constant", "value": "150 pA"}, "n": {"kind": "white_noise", "sigma": "4 mV"}},
        "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, points], "unit": "pA"}},
        "summaries": {"moments": {"every": "1 ms"}},
    }


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _kernel_rate(wf, seconds: float = 1.0, start_at: float | None = None) -> float:
    """Single-core neuron-steps/s of the sweep's own kernel loop (in this process).

    Blocks of 16 of the grid's points in turn for about ``seconds``, through the
    task's code (``block.block_values``), counting only the time its kernel
    loop reports: the kernel with its buffers, as in a task, without the random
    streams' set-up, the summaries and the store. ``start_at`` (a ``time.time()``)
    makes processes measuring together start together.
    """
    from lifbatch.block import block_values

    blocking = Blocking(shape=wf.shape, chunks=block_chunks(wf.shape, 16))
    block_values(wf, blocking.slices(blocking.block_id(0)))  # compile / warm up
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))
    steps = kernel = 0.0
    i = 0
    t = time.perf_counter()
    while time.perf_counter() - t < seconds:
        slices = blocking.slices(blocking.block_id(i % blocking.n_blocks))
        kernel += block_values(wf, slices)[2]["kernel"]
        steps += math.prod(s.stop - s.start for s in slices) * wf.trials * wf.n_steps
        i += 1
    return steps / kernel


def _current_rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Threads:
    """The default embedded execution: ``workers`` threads of this process (as ``lifbatch run``)."""

    kind = "threads"

    def __init__(self, workers: int):
        self.workers = workers
        self._peak = 0

    def run(self, wf, store: str, **kwargs):
        import threading

        from lifbatch.execute import run_sweep

        # the process's resident memory, sampled while the sweep runs (its peak over the
        # whole process would include earlier sweeps)
        self._peak = _current_rss()
        done = threading.Event()

        def sample():
            while not done.wait(0.01):
                self._peak = max(self._peak, _current_rss())

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        try:
            return run_sweep(
                wf, store, workers=self.workers, processes=False, progress=False, log=lambda m: None, **kwargs
            )
        finally:
            done.set()
            t.join()

    def parallel_kernel(self, wf) -> float:
        from concurrent.futures import ThreadPoolExecutor

        start_at = time.time() + 0.5
        with ThreadPoolExecutor(self.workers) as pool:
            return sum(pool.map(lambda _: _kernel_rate(wf, 2.0, start_at), range(self.workers)))

    def peak_rss(self) -> int:
        return self._peak


class _Processes:
    """An embedded LocalCluster of worker processes (``lifbatch run --processes``)."""

    kind = "processes"

    def __init__(self, client):
        self.client = client
        self.workers = len(client.scheduler_info()["workers"])

    def run(self, wf, store: str, **kwargs):
        from lifbatch.execute import run_sweep

        return run_sweep(wf, store, client=self.client, progress=False, log=lambda m: None, **kwargs)

    def parallel_kernel(self, wf) -> float:
        """Sum of :func:`_kernel_rate` measured at the same time on every worker."""
        start_at = time.time() + 1.0
        return sum(self.client.run(_kernel_rate, wf, 2.0, start_at).values())

    def peak_rss(self) -> int:
        return max(self.client.run(_peak_rss).values())


def _warm_up(tmp: str, ex) -> None:
    """One small sweep through every code path (imports, numba cache, Zarr codecs) on every worker."""
    from lifbatch.workflow import load_workflow

    wf = load_workflow(_workflow(4 * ex.workers, 4, 100, "warm-up"))
    store = _join(tmp, "warm-up.zarr")
    ex.run(wf, store, points_per_task=1)
    _remove(store)


def _join(root: str, name: str) -> str:
    """The store ``name`` under ``root``: a directory, or an ``s3://BUCKET/PATH`` prefix."""
    from lifbatch import storage

    return f"{root.rstrip('/')}/{name}" if storage.is_url(root) else os.path.join(root, name)


def _remove(store: str) -> None:
    from lifbatch import storage

    if storage.is_url(store):
        storage.of(store).delete_prefix("")
    else:
        shutil.rmtree(store, ignore_errors=True)


@contextlib.contextmanager
def _execution(workers: int, tmp: str, processes: bool):
    """A fresh embedded execution (as ``lifbatch run`` starts it), warmed up (see :func:`_warm_up`)."""
    ex: _Threads | _Processes
    if not processes:
        ex = _Threads(workers)
        _warm_up(tmp, ex)
        yield ex
        return
    from distributed import Client

    from lifbatch.cluster import embedded_cluster

    with embedded_cluster(workers, dashboard_address=None) as cluster, Client(cluster) as client:
        ex = _Processes(client)
        _warm_up(tmp, ex)
        yield ex


def _sweep_once(wf, ex, store: str) -> dict:
    """One sweep of ``wf`` into a fresh store: its seconds, and the workers' time from its block markers."""
    from lifbatch.store import read_markers

    t = time.perf_counter()
    res = ex.run(wf, store)
    seconds = time.perf_counter() - t
    if not res.ok:
        raise RuntimeError(f"benchmark sweep failed: {res.failures}")
    markers = read_markers(store)
    _remove(store)
    return {
        "seconds": seconds,
        "blocks": res.blocks,
        # worker time, from the block markers: in tasks, and by phase within them
        "task_seconds": sum(m["seconds"] for m in markers),
        **{
            f"{phase}_seconds": sum(m[f"{phase}_seconds"] for m in markers)
            for phase in ("kernel", "summaries", "write")
        },
    }


def _run(wf, ex, tmp: str, repeat: int = 1) -> dict:
    """Best of ``repeat`` sweeps of ``wf``, and the workers' peak RSS."""
    best = min(
        (_sweep_once(wf, ex, os.path.join(tmp, f"{wf.name}-{i}.zarr")) for i in range(max(1, repeat))),
        key=lambda r: r["seconds"],
    )
    return {**best, "peak_worker_rss": ex.peak_rss()}


def _rounds(wf, ex, tmp: str, repeat: int, disk: str | None = None) -> list[dict]:
    """``repeat`` rounds of: the kernel on one core, the kernel on every worker at once, one sweep.

    On a shared host the speed of the machine changes from minute to minute; a
    sweep compared with baselines measured seconds before it gives a ratio that
    means something, where a best-of over the whole run would mix moments.
    """
    rounds = []
    for i in range(max(1, repeat)):
        kernel = _kernel_rate(wf)
        parallel = ex.parallel_kernel(wf)
        if disk is not None and i % 2:  # (to disk too, in alternating order: `--store` against the disk)
            on_disk = _sweep_once(wf, ex, _join(disk, f"{wf.name}-disk-{i}.zarr"))["seconds"]
        rounds.append(
            {"kernel": kernel, "parallel": parallel, **_sweep_once(wf, ex, _join(tmp, f"{wf.name}-{i}.zarr"))}
        )
        if disk is not None and not i % 2:
            on_disk = _sweep_once(wf, ex, _join(disk, f"{wf.name}-disk-{i}.zarr"))["seconds"]
        if disk is not None:
            rounds[-1]["disk_seconds"] = on_disk
    return rounds


def sweep_bench(
    points: int = 1000,
    trials: int = 20,
    steps: int = 10_000,
    workers: int = 2,
    tiny_points: int = 10_000,
    repeat: int = 3,
    processes: bool = False,
    store: str | None = None,
) -> dict:
    """End-to-end sweep figures against kernel baselines measured in the same run.

    Each grid runs on its own fresh cluster (so that the workers' peak RSS is that
    grid's), warmed up by a small sweep first. The throughput is measured in
    ``repeat`` rounds, each a sweep right after its own baselines:

    - ``kernel_single_core``: :func:`_kernel_rate` in this process: the issue's
      baseline, times workers;
    - ``kernel_parallel``: the same, run at the same time on every worker of the
      cluster (``Client.run``), summed: what this machine delivers when all
      workers compute at once (on a shared or throttled host, less than
      single core x workers).

    The round of median efficiency is reported, with the range over rounds. From
    its block markers, where the workers' time went: the share of wall time x
    workers spent in tasks, and the shares of task time spent in the kernel
    loop, the summaries and the Zarr write; kernel share x task share is the
    sweep's efficiency measured on the workers' own clock, whatever the host's
    speed. The efficiency is that share times ``kernel_speed_in_sweep``, the
    kernel's speed inside the tasks over its one-core baseline: the host's part
    (below 1 when the cores slow each other down or the host is busier during
    the sweep, above 1 when it was busier during the baseline). The 10x smaller
    grid (memory) is one sweep; the tiny sweep (overhead) is best of ``repeat``.
    """
    from lifbatch.workflow import load_workflow

    local = tempfile.mkdtemp(prefix="lifbatch-bench-")
    # ``store``: where the sweeps' stores go (a directory, or s3://BUCKET/PATH), each round's
    # sweep then also run to local disk, in alternating order
    tmp = _join(store, f"lifbatch-bench-{os.getpid()}-{int(time.time())}") if store else local
    try:
        wf = load_workflow(_workflow(points, trials, steps, "bench-sweep"))
        with _execution(workers, tmp, processes) as ex:
            rounds = _rounds(wf, ex, tmp, repeat, local if store else None)
            rss = ex.peak_rss()

        small_wf = load_workflow(_workflow(max(2, points // 10), trials, steps, "bench-small"))
        with _execution(workers, tmp, processes) as ex:
            small = _run(small_wf, ex, tmp, 1)

        tiny = load_workflow(_workflow(tiny_points, 1, 10, "bench-tiny"))
        tiny_kernel = _kernel_rate(tiny)
        with _execution(workers, tmp, processes) as ex:
            tiny_run = _run(tiny, ex, tmp, repeat)
        tiny_kernel = max(tiny_kernel, _kernel_rate(tiny))
    finally:
        shutil.rmtree(local, ignore_errors=True)
        if store:
            _remove(tmp)
    neuron_steps = wf.n_points * trials * steps
    for r in rounds:
        r["end_to_end"] = neuron_steps / r["seconds"]
        r["efficiency"] = r["end_to_end"] / (r["kernel"] * workers)
        r["efficiency_parallel"] = r["end_to_end"] / r["parallel"]
    # the round of median efficiency is reported (its own baselines and breakdown)
    med = sorted(rounds, key=lambda r: r["efficiency"])[(len(rounds) - 1) // 2]
    per_point = tiny_run["seconds"] / tiny_points
    kernel_per_point = 10 / tiny_kernel
    # the workers share the points, so the overhead a point costs is wall x workers
    overhead = per_point * workers - kernel_per_point
    return {
        "points": points,
        "trials": trials,
        "steps": steps,
        "workers": workers,
        "repeat": len(rounds),
        "execution": "processes" if processes else "threads",
        "kernel_single_core": med["kernel"],
        "kernel_parallel": med["parallel"],
        "end_to_end": med["end_to_end"],
        "efficiency": med["efficiency"],
        "efficiency_parallel": med["efficiency_parallel"],
        "efficiency_range": [min(r["efficiency"] for r in rounds), max(r["efficiency"] for r in rounds)],
        "efficiency_parallel_range": [
            min(r["efficiency_parallel"] for r in rounds),
            max(r["efficiency_parallel"] for r in rounds),
        ],
        "seconds": med["seconds"],
        "blocks": med["blocks"],
        # where the workers' time went (hardware-independent: shares of the same clock)
        "kernel_share_of_tasks": med["kernel_seconds"] / med["task_seconds"],
        "summaries_share_of_tasks": med["summaries_seconds"] / med["task_seconds"],
        "write_share_of_tasks": med["write_seconds"] / med["task_seconds"],
        "task_share_of_workers": med["task_seconds"] / (med["seconds"] * workers),
        "kernel_share_of_workers": med["kernel_seconds"] / (med["seconds"] * workers),
        # the kernel's speed inside the sweep's tasks over its one-core baseline: the
        # host's part of the efficiency (= kernel share of the workers' time x this)
        "kernel_speed_in_sweep": neuron_steps / med["kernel_seconds"] / med["kernel"],
        "peak_worker_rss": rss,
        "peak_worker_rss_small": small["peak_worker_rss"],
        "memory_growth": rss / small["peak_worker_rss"],
        "tiny_points": tiny_points,
        "tiny_seconds": tiny_run["seconds"],
        "tiny_blocks": tiny_run["blocks"],
        "overhead_per_point_s": overhead,
        **(
            {
                "store": store,
                "disk_seconds": med["disk_seconds"],
                "store_over_disk": [r["disk_seconds"] / r["seconds"] for r in rounds],
            }
            if store
            else {}
        ),
    }


def baseline_caveat(r: dict) -> str | None:
    """A warning when the one-core baseline cannot have been measured at the sweep's speed.

    A kernel cannot run faster inside a sweep (or on all workers at once) than alone
    on one core; when the figures say it did, the host was busier while the baseline
    was measured, and the efficiency against it overstates. The workers' own clock
    (their share of time in the kernel loop) does not depend on the baseline.
    """
    w = r["workers"]
    parallel = r["kernel_parallel"] / (r["kernel_single_core"] * w)
    if r["kernel_speed_in_sweep"] <= 1.02 and parallel <= 1.02:
        return None
    return (
        f"note: the kernel ran {r['kernel_speed_in_sweep']:.2f}x as fast in the sweep as on one core "
        f"(and {w} workers at once {parallel * w:.2f}x one core): the one-core baseline was measured "
        f"at a slower moment of this host, so the {100 * r['efficiency']:.0f}% overstates; the workers' "
        f"own clock says {100 * r['kernel_share_of_workers']:.0f}% of their time in the kernel"
    )


def main(args) -> int:
    r = sweep_bench(
        points=args.points,
        workers=args.workers or 2,
        tiny_points=args.tiny_points,
        repeat=args.repeat,
        processes=args.processes,
        store=getattr(args, "store", None),
    )
    if args.json:
        print(json.dumps({**r, "baseline_caveat": baseline_caveat(r)}, indent=1))
        return 0
    mib = 1 / 2**20
    w = r["workers"]
    print(
        f"end-to-end sweep: {r['points']} points x {r['trials']} trials x {r['steps']} steps on "
        f"{w} local {'worker processes' if r['execution'] == 'processes' else 'threads'}, {r['blocks']} tasks, {r['seconds']:.2f} s (the median of {r['repeat']} rounds, "
        f"each after its own baselines)"
    )
    print(f"  kernel, one core            {r['kernel_single_core']:.3e} neuron-steps/s")
    print(
        f"  kernel, {w} workers at once   {r['kernel_parallel']:.3e} neuron-steps/s "
        f"(= {r['kernel_parallel'] / r['kernel_single_core']:.2f} x one core)"
    )
    print(f"  end to end                  {r['end_to_end']:.3e} neuron-steps/s")
    lo, hi = r["efficiency_range"]
    print(f"    = {100 * r['efficiency']:.0f}% of kernel x {w} workers (rounds {100 * lo:.0f}-{100 * hi:.0f}%)")
    lo, hi = r["efficiency_parallel_range"]
    print(
        f"    = {100 * r['efficiency_parallel']:.0f}% of the kernel on {w} workers at once "
        f"(target >= 75%; rounds {100 * lo:.0f}-{100 * hi:.0f}%)"
    )
    print(
        f"    = {100 * r['kernel_share_of_workers']:.0f}% of the workers' time in the kernel x "
        f"{r['kernel_speed_in_sweep']:.2f}, the kernel's speed in the sweep over its one-core figure "
        f"(the host's part: 1 with a steady core per worker)"
    )
    caveat = baseline_caveat(r)
    if caveat:
        print(f"    {caveat}")
    if r.get("store"):
        ratios = sorted(r["store_over_disk"])
        print(
            f"  to {r['store']}: {r['seconds']:.2f} s, to local disk {r['disk_seconds']:.2f} s in the same round "
            f"({100 * r['disk_seconds'] / r['seconds']:.0f}% of the disk's speed; rounds "
            f"{100 * ratios[0]:.0f}-{100 * ratios[-1]:.0f}%)"
        )
    print(
        f"  workers' time               {100 * r['kernel_share_of_workers']:.0f}% in the kernel: "
        f"{100 * r['task_share_of_workers']:.0f}% in tasks x {100 * r['kernel_share_of_tasks']:.0f}% "
        f"of a task in the kernel"
    )
    rest = 1 - r["kernel_share_of_tasks"] - r["summaries_share_of_tasks"] - r["write_share_of_tasks"]
    print(
        f"  a task's time               kernel {100 * r['kernel_share_of_tasks']:.0f}%, summaries "
        f"{100 * r['summaries_share_of_tasks']:.0f}%, Zarr write {100 * r['write_share_of_tasks']:.0f}%, "
        f"other {100 * rest:.0f}% (streams, buffers, checks)"
    )
    print(
        f"  peak worker RSS             {r['peak_worker_rss'] * mib:.0f} MiB; with a 10x smaller grid "
        f"{r['peak_worker_rss_small'] * mib:.0f} MiB (ratio {r['memory_growth']:.2f}, flat = 1)"
    )
    print(
        f"tiny sweep: {r['tiny_points']} points x 1 trial x 10 steps, {r['tiny_blocks']} tasks, "
        f"{r['tiny_seconds']:.2f} s"
    )
    print(f"  end to end per point        {1e6 * r['tiny_seconds'] / r['tiny_points']:.0f} us (target <= 100 us)")
    print(
        f"  overhead per point          {1e3 * r['overhead_per_point_s']:.3f} ms of a worker's time "
        f"(wall x {w}, less the kernel's)"
    )
    return 0
