"""lifbatch's helpers for the peer benchmark (run with lifbatch's own Python).

    python lifbatch_side.py inprocess WORKFLOW [--set KEY=VALUE ...]
        lifbatch.simulate(WORKFLOW) once to warm up (imports, numba's compiled
        kernels), then once timed with time.perf_counter: prints
        ``TIME <seconds>`` and, last, ``RATE <mean rate in Hz>``.
    python lifbatch_side.py store-rate STORE
        ``RATE <mean rate in Hz>`` of a finished `lifbatch run` store (read
        after the timed process, not timed).

The mean rate is the mean spike count over all points and trials divided by
the duration, the same definition as the peers' scripts.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings


def mean_rate(ds) -> float:
    return float(ds["spike_count"].mean()) / float(ds.attrs["duration"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("inprocess")
    p.add_argument("workflow")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p = sub.add_parser("store-rate")
    p.add_argument("store")
    args = ap.parse_args(argv)

    import lifbatch

    if args.cmd == "store-rate":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # zarr: no consolidated metadata
            ds = lifbatch.open_results(args.store)
            print(f"RATE {mean_rate(ds):.6f}")
        return 0

    overrides = args.set or None
    lifbatch.simulate(args.workflow, overrides=overrides)  # warm-up, not timed
    t0 = time.perf_counter()
    ds = lifbatch.simulate(args.workflow, overrides=overrides)
    elapsed = time.perf_counter() - t0
    print(f"TIME {elapsed:.6f}")
    print(f"RATE {mean_rate(ds):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
