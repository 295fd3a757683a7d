#!/usr/bin/env python
"""What the chunks' checksums cost: `lifbatch bench --sweep`'s workload with and without them.

    python benchmarks/checksums.py [--rounds 7] [--points 1000] [--workers 2] [--json out.json]

The sweep of ``lifbatch bench --sweep`` (1000 points x 20 trials x 10^4 steps of
white-noise LIF, 8 tasks, ``run``'s default execution: threads of this process),
after its warm-up sweep, in interleaved rounds on the same warm execution: in each
round one sweep whose data variables carry a CRC-32C (Zarr 3's ``crc32c`` codec after
the compressor: what ``lifbatch run`` writes) and one without it (the compressor
alone: what lifbatch wrote before), their order alternating from round to round,
each into a fresh store, then ``status --verify`` of that store (every chunk read
back) timed. The codecs are chosen by ``lifbatch.template.compressors_for``, which this
script replaces for the sweeps without. Reported: the medians of the per-round
ratios (with / without) of the sweep's wall time, of the workers' time in the
Zarr write (from the block markers) and of verify's time, and the store's size.

Run it with lifbatch's Python. The exit code is 1 when a sweep failed or a store
made with checksums did not carry them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time


def _du(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _without_checksums(compressors):
    def plain(dtype):
        return [c for c in compressors(dtype) if type(c).__name__ != "Crc32cCodec"]

    return plain


def _crc_seconds(store: str) -> float:
    """The CPU time of one CRC-32C pass over every chunk of the store's data variables (what a
    sweep with checksums adds to its writes, and verify to its reads): best of 3, one thread."""
    import google_crc32c

    from lifbatch.layout import VARIABLES

    chunks = [
        open(os.path.join(d, f), "rb").read()
        for name in VARIABLES
        for d, _, files in os.walk(os.path.join(store, name, "c"))
        for f in files
    ]
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for chunk in chunks:
            google_crc32c.value(chunk)
        best = min(best, time.perf_counter() - t)
    return best


def _sweep(wf, ex, store: str) -> dict:
    from lifbatch.store import read_markers, verify_store

    t = time.perf_counter()
    res = ex.run(wf, store)
    seconds = time.perf_counter() - t
    if not res.ok:
        raise RuntimeError(f"benchmark sweep failed: {res.failures}")
    markers = read_markers(store)
    t = time.perf_counter()
    report = verify_store(store)
    verify = time.perf_counter() - t
    if not report.ok:
        raise RuntimeError(report.format())
    out = {
        "seconds": seconds,
        "write_seconds": sum(m["write_seconds"] for m in markers),
        "task_seconds": sum(m["seconds"] for m in markers),
        "verify_seconds": verify,
        "bytes": _du(store),
        "checksums": report.checksums,
        "crc_seconds": _crc_seconds(store),
    }
    shutil.rmtree(store, ignore_errors=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)

    from lifbatch import template as template_mod
    from harness.bench_sweep import _execution, _workflow
    from lifbatch.workflow import load_workflow

    with_sums = template_mod.compressors_for
    without = _without_checksums(with_sums)
    wf = load_workflow(_workflow(args.points, 20, 10_000, "bench-checksums"))
    tmp = tempfile.mkdtemp(prefix="lifbatch-checksums-")
    rounds = []
    try:
        with _execution(args.workers, tmp, processes=False) as ex:
            for i in range(args.rounds):
                pair = {}
                for kind in ("with", "without") if i % 2 == 0 else ("without", "with"):
                    template_mod.compressors_for = with_sums if kind == "with" else without
                    try:
                        pair[kind] = _sweep(wf, ex, os.path.join(tmp, f"{kind}-{i}.zarr"))
                    finally:
                        template_mod.compressors_for = with_sums
                rounds.append(pair)
                w, wo = pair["with"], pair["without"]
                print(
                    f"round {i + 1}: sweep {w['seconds']:.2f} s with checksums, {wo['seconds']:.2f} s without; "
                    f"Zarr write {w['write_seconds']:.3f} / {wo['write_seconds']:.3f} s of workers' time; "
                    f"verify {w['verify_seconds']:.2f} / {wo['verify_seconds']:.2f} s",
                    flush=True,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not all(r["with"]["checksums"] and not r["without"]["checksums"] for r in rounds):
        print("error: a store did not carry the codecs asked for", file=sys.stderr)
        return 1

    def med(key, kind):
        return statistics.median(r[kind][key] for r in rounds)

    def ratio(key):
        values = [r["with"][key] / r["without"][key] for r in rounds]
        return statistics.median(values), min(values), max(values)

    figures = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg(),
        "points": args.points,
        "workers": args.workers,
        "rounds": args.rounds,
        **{
            f"{key}_{kind}": med(key, kind)
            for key in ("seconds", "write_seconds", "task_seconds", "verify_seconds", "bytes", "crc_seconds")
            for kind in ("with", "without")
        },
        **{f"{key}_ratio": ratio(key) for key in ("seconds", "write_seconds", "verify_seconds", "bytes")},
    }
    s, lo, hi = figures["seconds_ratio"]
    print(
        f"sweep wall time       with / without checksums: {s:.3f}x (rounds {lo:.3f}-{hi:.3f}); medians "
        f"{figures['seconds_with']:.2f} / {figures['seconds_without']:.2f} s"
    )
    s, lo, hi = figures["write_seconds_ratio"]
    print(
        f"Zarr write (workers)  {s:.3f}x (rounds {lo:.3f}-{hi:.3f}); medians {figures['write_seconds_with']:.3f} / "
        f"{figures['write_seconds_without']:.3f} s, of {figures['task_seconds_with']:.1f} s in tasks"
    )
    s, lo, hi = figures["verify_seconds_ratio"]
    print(
        f"status --verify       {s:.3f}x (rounds {lo:.3f}-{hi:.3f}); medians {figures['verify_seconds_with']:.2f} / "
        f"{figures['verify_seconds_without']:.2f} s"
    )
    print(f"store size            {figures['bytes_with'] / 2**20:.2f} / {figures['bytes_without'] / 2**20:.2f} MiB")
    crc = figures["crc_seconds_with"]
    print(
        f"one CRC-32C pass      over the store's chunks: {1e3 * crc:.1f} ms on one core "
        f"({figures['bytes_with'] / 2**30 / crc:.1f} GiB/s) = {100 * crc / figures['task_seconds_with']:.2f} % of "
        f"the workers' {figures['task_seconds_with']:.1f} s in tasks, "
        f"{100 * crc / (figures['seconds_with'] * args.workers):.2f} % of the sweep's wall time x {args.workers} workers"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
