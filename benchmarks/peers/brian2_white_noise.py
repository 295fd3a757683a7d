"""Brian2 2.9 on `lifbatch bench`'s model: an LIF ensemble with white noise, the network loop timed.

The model of ``harness.bench.bench_workflow`` / ``numpy_lif``: N independent
neurons, tau_m 20 ms, e_l -65 mV, v_th -50 mV, v_reset -65 mV, v_init -65 mV,
t_ref 2 ms (v clamped during refractoriness), r_m 100 Mohm, a constant
160 pA, white noise sigma 4 mV entering as sigma*sqrt(tau_m)*xi, method euler,
dt 0.1 ms, ``--steps`` steps:

    dv/dt = (e_l - v + r_m*I)/tau + sigma*xi*tau**-0.5 : volt (unless refractory)
    threshold 'v > v_th', reset 'v = v_reset', refractory 2*ms

A ``SpikeMonitor(G, record=False)`` keeps the spike count of each neuron (no
spike times), so that the mean rate shows the work is lifbatch's. Brian2 runs
single-threaded (its default), with its default compiler flags.

Used by ``lifbatch bench`` (benchmarks/harness/bench.py), with the peer venv's Python
(see peer_venv.py here):

    python brian2_white_noise.py --target cpp_standalone --project-dir D --neurons N --steps S
        # generate and compile D/main (not run): the excluded build step; writes
        # D/lifbatch_peers.json naming the result files
    (cd D && ./main)
        # one timed run: Brian2 writes D/results/last_run_info.txt, "<run time> <completed fraction>",
        # its own network run time (the loop only, std::clock of the process: CPU time), and the
        # count array read by harness.bench
    python brian2_white_noise.py --target cython --neurons N --steps S --counts-out F.npy [--cython-cache C]
        # runtime mode: build the network, run() it; prints "TIME <loop s>" (Brian2's own network
        # run time, device._last_run_time: wall time of the loop, code generation and loading the
        # compiled extensions excluded), "RUN <s>" (perf_counter around run()), "STEPS <n>" and
        # last "RATE <Hz>"; F.npy gets the spike counts

Refractoriness: Brian2's ``refractory=2*ms`` holds v for the 19 steps after the
spike's step (not_refractory = timestep(t - lastspike) >= 20), lifbatch's
``t_ref: 2 ms`` for 20 (round(t_ref / dt) steps after it, docs/workflow.md):
Brian2's dead time is one step (0.1 ms) shorter, +0.2 % in rate at ~23 Hz.
Brian2 also draws its own normals (Mersenne Twister, polar method) where
lifbatch draws SFC64 ziggurat normals: rates agree statistically, not bit for bit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

INFO = "lifbatch_peers.json"  # written into the standalone project directory by the build


def build_network(neurons: int, steps: int, seed: int):
    """The NeuronGroup, its SpikeMonitor and the duration (Brian2 quantities)."""
    from brian2 import Mohm, NeuronGroup, SpikeMonitor, defaultclock, mV, ms, pA
    from brian2 import seed as brian_seed

    defaultclock.dt = 0.1 * ms
    brian_seed(seed)
    namespace = {
        "tau": 20 * ms,
        "e_l": -65 * mV,
        "v_th": -50 * mV,
        "v_reset": -65 * mV,
        "r_m": 100 * Mohm,
        "I": 160 * pA,
        "sigma": 4 * mV,
    }
    eqs = "dv/dt = (e_l - v + r_m*I)/tau + sigma*xi*tau**-0.5 : volt (unless refractory)"
    group = NeuronGroup(
        neurons,
        eqs,
        threshold="v > v_th",
        reset="v = v_reset",
        refractory=2 * ms,
        method="euler",
        namespace=namespace,
        name="lif",
    )
    group.v = -65 * mV  # v_init
    monitor = SpikeMonitor(group, record=False, name="counts")
    return group, monitor, steps * defaultclock.dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", choices=["cpp_standalone", "cython", "numpy"], required=True)
    ap.add_argument("--neurons", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--project-dir", help="cpp_standalone: the project directory to generate and compile")
    ap.add_argument("--cython-cache", help="runtime cython: prefs.codegen.runtime.cython.cache_dir")
    ap.add_argument("--counts-out", help="runtime: write the spike counts (int64 .npy) here")
    args = ap.parse_args(argv)
    if args.target == "cpp_standalone" and not args.project_dir:
        ap.error("--target cpp_standalone needs --project-dir")
    if args.neurons < 1 or args.steps < 1:
        ap.error("--neurons and --steps must be at least 1")

    import numpy as np
    from brian2 import defaultclock, device, prefs, run, set_device

    if args.target == "cpp_standalone":
        set_device("cpp_standalone", directory=args.project_dir, build_on_run=False)
        prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]  # a shared 2-core machine
        group, monitor, duration = build_network(args.neurons, args.steps, args.seed)
        run(duration)
        device.build(directory=args.project_dir, compile=True, run=False, with_output=False)
        info = {
            "count_file": device.get_array_filename(monitor.variables["count"]),
            "count_dtype": np.dtype(monitor.variables["count"].dtype).str,
            "timestep_file": device.get_array_filename(defaultclock.variables["timestep"]),
            "timestep_dtype": np.dtype(defaultclock.variables["timestep"].dtype).str,
            "neurons": args.neurons,
            "steps": args.steps,
            "dt": float(defaultclock.dt_),
            "seed": args.seed,
        }
        with open(os.path.join(args.project_dir, INFO), "w") as f:
            json.dump(info, f)
        return 0

    prefs.codegen.target = args.target
    if args.cython_cache:
        prefs.codegen.runtime.cython.cache_dir = args.cython_cache
    group, monitor, duration = build_network(args.neurons, args.steps, args.seed)
    t0 = time.perf_counter()
    run(duration)
    run_call = time.perf_counter() - t0
    counts = np.asarray(monitor.count[:], dtype=np.int64)
    if args.counts_out:
        np.save(args.counts_out, counts)
    print(f"TIME {device._last_run_time:.6f}")
    print(f"RUN {run_call:.6f}")
    print(f"STEPS {int(defaultclock.timestep[:])}")
    print(f"RATE {counts.sum() / (args.neurons * args.steps * float(defaultclock.dt_)):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
