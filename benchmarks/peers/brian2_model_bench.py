"""Brian2 2.9 on `lifbatch bench --model NAME`'s workload: N identical neurons of one model under a constant current.

The models are lifbatch's (docs/workflow.md, "Neuron models") written as Brian2
equations, with the parameters lifbatch's bench workflow gives (``--params``:
a JSON object of SI floats, from ``harness.bench_models``), so that both sides
simulate the same numbers:

- ``hh_traub``: the Brian2 tutorial's HH equations (part 3, "Changing things
  during a run"), verbatim but for the names of the constants; threshold and
  refractory ``v > v_spike``; ``method='exponential_euler'``; v = El, m = n = h = 0
  (the tutorial's start);
- ``adex``: the equations of Brian2's example of Naud et al. 2008
  (``examples/frompapers/Naud_et_al_2008_adex_firing_patterns.py``): threshold
  ``vm > v_peak``, reset ``vm = v_reset; w += b``, ``method='euler'``; vm = e_l, w = 0;
- ``eif``: the same without w;
- ``izhikevich``: Izhikevich (2007)'s dimensional model, threshold ``v >= v_peak``,
  reset ``v = c; u += d``, euler; v = v_r, u = 0;
- ``lif``: ``dv/dt = (e_l - v + r_m*I)/tau_m`` with threshold, reset and a
  refractory period (v clamped), euler.

The current ``I`` is a constant of the namespace. A ``SpikeMonitor(G,
record=False)`` keeps each neuron's spike count (no spike times): the mean
rate shows that both sides did the same work. Brian2 runs single-threaded (its
default), with its default compiler flags.

Used by ``lifbatch bench --model`` (benchmarks/harness/bench_models.py), with the peer venv's Python:

    python brian2_model_bench.py --model M --params JSON --target cpp_standalone --project-dir D \\
            --neurons N --steps S --dt DT
        # generate and compile D/main (not run): the excluded build step; writes D/lifbatch_peers.json
    (cd D && ./main)
        # one timed run; Brian2 writes D/results/last_run_info.txt ("<run time> <completed fraction>":
        # its own network run time, std::clock, CPU time of the loop) and the spike counts
    python brian2_model_bench.py --model M --params JSON --target cython|numpy --neurons N --steps S --dt DT \\
            --counts-out F.npy [--cython-cache C]
        # runtime mode: prints "TIME <loop s>" (device._last_run_time: the network run, code
        # generation excluded), "RUN <s>" (perf_counter around run()), "STEPS <n>", last "RATE <Hz>"
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

INFO = "lifbatch_peers.json"  # written into the standalone project directory by the build
MODELS = ("hh_traub", "adex", "eif", "izhikevich", "lif")

# The tutorial's eqs_HH (Brian2 tutorial part 3), its constants named as there.
HH_EQS = """
dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt
dm/dt = 0.32*(mV**-1)*(13.*mV-v+VT)/
    (exp((13.*mV-v+VT)/(4.*mV))-1.)/ms*(1-m)-0.28*(mV**-1)*(v-VT-40.*mV)/
    (exp((v-VT-40.*mV)/(5.*mV))-1.)/ms*m : 1
dn/dt = 0.032*(mV**-1)*(15.*mV-v+VT)/
    (exp((15.*mV-v+VT)/(5.*mV))-1.)/ms*(1.-n)-.5*exp((10.*mV-v+VT)/(40.*mV))/ms*n : 1
dh/dt = 0.128*exp((17.*mV-v+VT)/(18.*mV))/ms*(1.-h)-4./(1+exp((40.*mV-v+VT)/(5.*mV)))/ms*h : 1
"""
# Brian2's example of Naud et al. 2008 (its names; v_reset for its v_r).
ADEX_EQS = """
dvm/dt = (g_l*(e_l - vm) + g_l*d_t*exp((vm-v_t)/d_t) + I - w)/c_m : volt
dw/dt  = (a*(vm - e_l) - w)/tau_w : amp
"""
EIF_EQS = """
dvm/dt = (g_l*(e_l - vm) + g_l*d_t*exp((vm-v_t)/d_t) + I)/c_m : volt
"""
IZH_EQS = """
dv/dt = (k*(v - v_r)*(v - v_t) - u + I)/C : volt
du/dt = a*(b*(v - v_r) - u) : amp
"""
LIF_EQS = "dv/dt = (e_l - v + r_m*I)/tau_m : volt (unless refractory)"


def build_network(model: str, p: dict, neurons: int, steps: int, dt: float, seed: int):
    """The NeuronGroup, its SpikeMonitor and the duration (Brian2 quantities); ``p``: lifbatch's
    parameters of the model (SI floats, names without ``neuron.``) and ``I`` (A)."""
    from brian2 import Hz, NeuronGroup, SpikeMonitor, amp, defaultclock, farad, ohm, second, siemens, volt
    from brian2 import seed as brian_seed

    defaultclock.dt = dt * second
    brian_seed(seed)
    V, A, S, F, s = volt, amp, siemens, farad, second
    if model == "hh_traub":
        ns = {
            "Cm": p["c_m"] * F,
            "gl": p["g_l"] * S,
            "g_na": p["g_na"] * S,
            "g_kd": p["g_k"] * S,
            "El": p["e_l"] * V,
            "ENa": p["e_na"] * V,
            "EK": p["e_k"] * V,
            "VT": p["v_t"] * V,
            "v_spike": p["v_spike"] * V,
            "I": p["I"] * A,
        }
        group = NeuronGroup(
            neurons,
            HH_EQS,
            threshold="v > v_spike",
            refractory="v > v_spike",
            method="exponential_euler",
            namespace=ns,
            name="hh",
        )
        group.v = p["v_init"] * V  # m, n, h stay 0: the tutorial's start (lifbatch's gates_init: zero)
    elif model in ("adex", "eif"):
        ns = {
            "c_m": p["c_m"] * F,
            "g_l": p["g_l"] * S,
            "e_l": p["e_l"] * V,
            "v_t": p["v_t"] * V,
            "d_t": p["delta_t"] * V,
            "v_reset": p["v_reset"] * V,
            "v_peak": p["v_peak"] * V,
            "I": p["I"] * A,
        }
        if model == "adex":
            ns.update(a=p["a"] * S, tau_w=p["tau_w"] * s, b=p["b"] * A)
        group = NeuronGroup(
            neurons,
            ADEX_EQS if model == "adex" else EIF_EQS,
            threshold="vm > v_peak",
            reset="vm = v_reset; w += b" if model == "adex" else "vm = v_reset",
            method="euler",
            namespace=ns,
            name=model,
        )
        group.vm = p["v_init"] * V
        if model == "adex":
            group.w = p["w_init"] * A
    elif model == "izhikevich":
        ns = {
            "C": p["c_m"] * F,
            "k": p["k"] * S / V,
            "v_r": p["v_r"] * V,
            "v_t": p["v_t"] * V,
            "v_peak": p["v_peak"] * V,
            "a": p["a"] * Hz,
            "b": p["b"] * S,
            "c": p["c"] * V,
            "d": p["d"] * A,
            "I": p["I"] * A,
        }
        group = NeuronGroup(
            neurons,
            IZH_EQS,
            threshold="v >= v_peak",
            reset="v = c; u += d",
            method="euler",
            namespace=ns,
            name="izhikevich",
        )
        group.v = p["v_init"] * V
        group.u = p["u_init"] * A
    elif model == "lif":
        ns = {
            "tau_m": p["tau_m"] * s,
            "e_l": p["e_l"] * V,
            "v_th": p["v_th"] * V,
            "v_reset": p["v_reset"] * V,
            "r_m": p["r_m"] * ohm,
            "I": p["I"] * A,
        }
        group = NeuronGroup(
            neurons,
            LIF_EQS,
            threshold="v > v_th",
            reset="v = v_reset",
            refractory=p["t_ref"] * s,
            method="euler",
            namespace=ns,
            name="lif",
        )
        group.v = p["v_init"] * V
    else:  # pragma: no cover - argparse's choices
        raise ValueError(model)
    monitor = SpikeMonitor(group, record=False, name="counts")
    return group, monitor, steps * defaultclock.dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=MODELS, required=True)
    ap.add_argument("--params", required=True, help="JSON object: the model's parameters and I, SI floats")
    ap.add_argument("--target", choices=["cpp_standalone", "cython", "numpy"], required=True)
    ap.add_argument("--neurons", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--dt", type=float, default=1e-4, help="seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--project-dir", help="cpp_standalone: the project directory to generate and compile")
    ap.add_argument("--cython-cache", help="runtime cython: prefs.codegen.runtime.cython.cache_dir")
    ap.add_argument("--counts-out", help="runtime: write the spike counts (int64 .npy) here")
    args = ap.parse_args(argv)
    if args.target == "cpp_standalone" and not args.project_dir:
        ap.error("--target cpp_standalone needs --project-dir")
    if args.neurons < 1 or args.steps < 1 or not args.dt > 0:
        ap.error("--neurons and --steps must be at least 1, --dt positive")
    try:
        params = json.loads(args.params)
    except ValueError as exc:
        ap.error(f"--params is not JSON: {exc}")

    import numpy as np
    from brian2 import defaultclock, device, prefs, run, set_device

    if args.target == "cpp_standalone":
        set_device("cpp_standalone", directory=args.project_dir, build_on_run=False)
        prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]  # a shared 2-core machine
        group, monitor, duration = build_network(args.model, params, args.neurons, args.steps, args.dt, args.seed)
        run(duration)
        device.build(directory=args.project_dir, compile=True, run=False, with_output=False)
        info = {
            "count_file": device.get_array_filename(monitor.variables["count"]),
            "count_dtype": np.dtype(monitor.variables["count"].dtype).str,
            "timestep_file": device.get_array_filename(defaultclock.variables["timestep"]),
            "timestep_dtype": np.dtype(defaultclock.variables["timestep"].dtype).str,
            "model": args.model,
            "neurons": args.neurons,
            "steps": args.steps,
            "dt": args.dt,
            "seed": args.seed,
        }
        with open(os.path.join(args.project_dir, INFO), "w") as f:
            json.dump(info, f)
        return 0

    prefs.codegen.target = args.target
    if args.cython_cache:
        prefs.codegen.runtime.cython.cache_dir = args.cython_cache
    group, monitor, duration = build_network(args.model, params, args.neurons, args.steps, args.dt, args.seed)
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
