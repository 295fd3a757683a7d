"""What Dask's own monitoring costs an embedded cluster: Dask's defaults against
``lifbatch.cluster.dask-config`` (lifbatch/lifbatch.yaml), measured in the same run.

    python benchmarks/dask_settings.py [--rounds 3] [--points 1000]

For each setting, in alternating rounds, on a fresh 2-worker ``embedded_cluster``
warmed up by a small sweep:

- idle: CPU time of all the cluster's processes over 5 s with nothing to do, in
  % of one core;
- sweep: one sweep of POINTS x 20 trials x 10^4 steps; the CPU time of the two
  task threads, and of every other thread of every process (Dask's event loops
  and monitors, Zarr's I/O threads, the client), as a share of all CPU time used.

CPU times are the threads' own (``psutil``), so they do not depend on how fast the
shared host happens to be; wall times are printed for reference only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

import dask
import psutil
from distributed import Client

from harness.bench_sweep import _warm_up, _workflow
from lifbatch.execute import embedded_cluster, run_sweep
from lifbatch.workflow import load_workflow

SETTINGS = {"dask defaults": {}, "lifbatch": None}  # None: lifbatch.yaml's own


def _thread_cpu() -> dict[tuple[int, int], float]:
    me = psutil.Process()
    out = {}
    for proc in [me] + me.children(recursive=True):
        try:
            for t in proc.threads():
                out[(proc.pid, t.id)] = t.user_time + t.system_time
        except psutil.NoSuchProcess:
            pass
    return out


def _measure(settings, wf, tmp: str) -> dict:
    override = {} if settings is None else {"lifbatch.cluster.dask-config": settings}
    with dask.config.set(override):
        cluster = embedded_cluster(2, dashboard_address=None)
    with cluster, Client(cluster) as client:
        _warm_up(tmp, client)
        time.sleep(1)
        a = sum(_thread_cpu().values())
        time.sleep(5)
        idle = (sum(_thread_cpu().values()) - a) / 5
        a = _thread_cpu()
        t = time.perf_counter()
        run_sweep(wf, os.path.join(tmp, "s.zarr"), client=client, progress=False, log=lambda m: None)
        wall = time.perf_counter() - t
        b = _thread_cpu()
    shutil.rmtree(os.path.join(tmp, "s.zarr"), ignore_errors=True)
    used = sorted((b[k] - a.get(k, 0.0) for k in b), reverse=True)
    tasks, total = sum(used[:2]), sum(used)  # the two busiest threads: the workers' task threads
    return {"idle": idle, "wall": wall, "tasks": tasks, "other": total - tasks, "other_share": (total - tasks) / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()
    wf = load_workflow(_workflow(args.points, 20, 10_000, "dask-settings"))
    tmp = tempfile.mkdtemp(prefix="lifbatch-dask-settings-")
    runs = {name: [] for name in SETTINGS}
    try:
        for _ in range(args.rounds):
            for name, settings in SETTINGS.items():
                runs[name].append(_measure(settings, wf, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"embedded cluster of 2 workers; {args.rounds} rounds; sweep of {args.points} points x 20 trials x 10^4 steps"
    )
    for name, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        shares = ", ".join(f"{100 * r['other_share']:.0f}" for r in rs)
        print(
            f"  {name:14s} idle {100 * med['idle']:5.1f} % of a core | sweep: task threads {med['tasks']:.2f} s CPU, "
            f"other threads {med['other']:.2f} s = {100 * med['other_share']:.0f} % of CPU used "
            f"(rounds {shares} %); wall {med['wall']:.2f} s"
        )


if __name__ == "__main__":
    main()
