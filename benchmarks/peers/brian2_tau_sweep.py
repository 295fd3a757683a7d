"""Brian2 tutorial part 3, "Multiple runs": firing rate vs tau, vectorized over neurons.

The tutorial's last variant ("we can simply duplicate that output neuron and
make the time constant a parameter of the group"), scaled to the benchmark's
workload: 30 tau values (linspace 1..10 ms) x 200 trials = 6000 neurons in
one NeuronGroup, tau a per-neuron parameter, driven by a PoissonInput of 100
inputs at 10 Hz with weight 0.1 (independent per neuron), threshold v > 1,
reset v = 0, method exact, dt 0.1 ms, 1 s. The last stdout line is
``RATE <mean rate over all neurons in Hz>``.

    python brian2_tau_sweep.py --target numpy|cython       # runtime mode, whole run
    python brian2_tau_sweep.py --target cpp_standalone --project-dir D --build-only
        # generate and compile D/main, do not run it (the excluded build step)
    D/main                                                 # (run in D) the compiled simulation
    python brian2_tau_sweep.py --read-results D            # RATE of D's last run (numpy only)
    python brian2_tau_sweep.py --target cpp_standalone --project-dir D
        # the whole script with D kept: code generation (unchanged files are not
        # rewritten, so make compiles nothing), then run D/main, then read results

Needs the peer venv (brian2 2.9, numpy < 2); --read-results needs only numpy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

INFO = "lifbatch_peers.json"  # written into the project directory by the build


def read_results(project_dir: str) -> float:
    """Mean rate of the last run of a built standalone project, without Brian2."""
    import numpy as np

    with open(os.path.join(project_dir, INFO)) as f:
        info = json.load(f)
    count = np.fromfile(os.path.join(project_dir, "results", info["count_file"]), dtype=info["count_dtype"])
    if count.size != info["n"]:
        raise SystemExit(f"{info['count_file']}: {count.size} counts, expected {info['n']}")
    return float(count.sum()) / (info["n"] * info["duration"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", choices=["numpy", "cython", "cpp_standalone"], default="cython")
    ap.add_argument("--project-dir", help="cpp_standalone project directory (kept between runs)")
    ap.add_argument("--build-only", action="store_true", help="cpp_standalone: compile, do not run")
    ap.add_argument("--read-results", metavar="DIR", help="print RATE of DIR's last standalone run and exit")
    ap.add_argument("--cython-cache", help="prefs.codegen.runtime.cython.cache_dir")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--n-tau", type=int, default=30)
    ap.add_argument("--duration", type=float, default=1.0, help="seconds")
    args = ap.parse_args(argv)

    if args.read_results:
        print(f"RATE {read_results(args.read_results):.6f}")
        return 0

    import numpy as np
    from brian2 import (
        Hz,
        NeuronGroup,
        PoissonInput,
        SpikeMonitor,
        defaultclock,
        device,
        linspace,
        ms,
        prefs,
        repeat,
        run,
        second,
        set_device,
    )

    standalone = args.target == "cpp_standalone"
    if standalone:
        if not args.project_dir:
            ap.error("--target cpp_standalone needs --project-dir")
        set_device("cpp_standalone", directory=args.project_dir, build_on_run=False)
    else:
        prefs.codegen.target = args.target
        if args.cython_cache:
            prefs.codegen.runtime.cython.cache_dir = args.cython_cache

    # the tutorial's parameters
    num_inputs = 100
    input_rate = 10 * Hz
    weight = 0.1
    tau_range = linspace(1, 10, args.n_tau) * ms
    defaultclock.dt = 0.1 * ms

    # We make tau a parameter of the group: one neuron per (tau, trial)
    eqs = """
    dv/dt = -v/tau : 1
    tau : second
    """
    n = args.n_tau * args.trials
    G = NeuronGroup(n, eqs, threshold="v>1", reset="v=0", method="exact")
    G.tau = repeat(tau_range, args.trials)
    P = PoissonInput(G, "v", num_inputs, input_rate, weight=weight)  # noqa: F841 (part of the network)
    M = SpikeMonitor(G)
    run(args.duration * second)

    if standalone:
        device.build(directory=args.project_dir, compile=True, run=not args.build_only, with_output=False)
        info = {
            "count_file": device.get_array_filename(M.variables["count"]),
            "count_dtype": np.dtype(M.variables["count"].dtype).str,
            "n": n,
            "duration": args.duration,
        }
        with open(os.path.join(args.project_dir, INFO), "w") as f:
            json.dump(info, f)
        if args.build_only:
            return 0
    print(f"RATE {M.num_spikes / (n * args.duration):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
