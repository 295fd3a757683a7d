"""``lifbatch bench --model NAME``: one neuron model's loop per neuron-step, against Brian2 on the same model.

The workload: ``neurons`` identical neurons of the model (the trials of one grid
point), a constant current where the model fires regularly, no noise, ``steps``
steps of 0.1 ms (:data:`WORKLOADS`). In each of ``repeat`` interleaved rounds
(the order of lifbatch and Brian2 alternates from round to round) it measures:

- ``lifbatch``: :func:`lifbatch.point.simulate_point` on the workflow, i.e. the
  model's numba loop (``lifbatch/models/<name>_loop.py``), one thread, compilation
  excluded: CPU time (``time.process_time``) and wall time;
- with the peer venv (``python benchmarks/peers/peer_venv.py --create``), Brian2 2.9 on
  the same equations and parameters (``benchmarks/peers/brian2_model_bench.py``, given
  lifbatch's parameter values): ``cpp_standalone``, built once (timed apart,
  excluded), its network loop by Brian2's own clock (``results/last_run_info.txt``:
  ``std::clock``, CPU time) and the whole ``./main`` process (wall); runtime mode with
  the ``cython`` and ``numpy`` targets, their loop by Brian2's clock
  (``device._last_run_time``, wall time).

Ratios are taken within a round (Brian2's time / lifbatch's: above 1, lifbatch is
faster), CPU time against CPU time for the standalone loop (on a shared machine a
process's wall time includes the time it waited for a core), wall time against
wall time otherwise; the table gives their median and range over the rounds. Every
contender's mean rate is checked against lifbatch's: the neurons are identical and
deterministic, so both sides count the same spikes up to rounding (within 3 %).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time

from lifbatch.errors import WorkflowError

from .bench import BRIAN2_RATE_TOLERANCE, Brian2Peer, brian2_unavailable

__all__ = ["WORKLOADS", "TARGETS", "model_workflow", "model_bench", "main"]

_SCRIPT = "brian2_model_bench.py"
#: per model: its ``neuron`` section and the constant current (regular firing at dt 0.1 ms)
WORKLOADS = {
    # the Brian2 tutorial's HH neuron (the model's defaults), ~300 Hz
    "hh_traub": ({}, "5 nA"),
    # Naud et al. 2008's tonic spiking (Brian2's example), ~100 Hz
    "adex": (
        {
            "c_m": "200 pF",
            "g_l": "10 nS",
            "e_l": "-70 mV",
            "v_t": "-50 mV",
            "delta_t": "2 mV",
            "a": "2 nS",
            "tau_w": "30 ms",
            "b": "0 pA",
            "v_reset": "-58 mV",
            "v_peak": "0 mV",
        },
        "500 pA",
    ),
    # the same without adaptation, ~110 Hz
    "eif": (
        {
            "c_m": "200 pF",
            "g_l": "10 nS",
            "e_l": "-70 mV",
            "v_t": "-50 mV",
            "delta_t": "2 mV",
            "v_reset": "-58 mV",
            "v_peak": "0 mV",
        },
        "500 pA",
    ),
    # Izhikevich 2007's regular-spiking cell (the model's defaults), ~50 Hz
    "izhikevich": ({}, "300 pA"),
    # lifbatch bench's LIF without its noise, ~33 Hz
    "lif": (
        {
            "tau_m": "20 ms",
            "e_l": "-65 mV",
            "v_th": "-50 mV",
            "v_reset": "-65 mV",
            "v_init": "-65 mV",
            "t_ref": "2 ms",
            "r_m": "100 Mohm",
        },
        "200 pA",
    ),
}
#: the wanted ratio Brian2 cpp_standalone's loop / lifbatch's loop, by model (issue 20, item 8)
TARGETS = {"hh_traub": 1.5, "adex": 2.0}
_CONTENDERS = ("cpp_standalone", "cpp_standalone_wall", "cython", "numpy")
_LABELS = {
    "lifbatch": "lifbatch {model} loop (CPU time)",
    "lifbatch_wall": "lifbatch {model} loop (wall)",
    "cpp_standalone": "Brian2 cpp_standalone loop (CPU)",
    "cpp_standalone_wall": "Brian2 ./main process (wall)",
    "cython": "Brian2 runtime cython loop (wall)",
    "numpy": "Brian2 runtime numpy loop (wall)",
}


def model_workflow(model: str, neurons: int = 1000, steps: int = 10_000):
    """The benchmark's workflow of ``model``: one grid point, ``neurons`` trials, a constant current."""
    from lifbatch.workflow import load_workflow

    if model not in WORKLOADS:
        raise WorkflowError(
            f"`lifbatch bench --model` must be one of {', '.join(WORKLOADS)}, got '{model}'. "
            "Example: lifbatch bench --model adex",
            "--model",
            model,
        )
    neuron, current = WORKLOADS[model]
    return load_workflow(
        {
            "name": f"bench-{model.replace('_', '-')}",
            "description": f"lifbatch bench --model {model}",
            "seed": 1,
            "trials": int(neurons),
            "duration": f"{int(steps) / 10!r} ms",
            "dt": "0.1 ms",
            "neuron": dict(neuron) if model == "lif" else {"model": model, **neuron},
            "inputs": {"current": {"kind": "constant", "value": current}},
        }
    )


def _spread(values: list[float]) -> dict:
    """The median, min and max of ``values`` (not empty: a contender without figures has none)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": len(values)}


def _summarize(rounds: list[dict], work: float) -> tuple[dict, dict]:
    """Per contender: its seconds in every round, their median and range, the median ns per
    neuron-step; and per Brian2 contender the ratio Brian2 / lifbatch taken within each round
    (CPU time against CPU time for the standalone loop, wall against wall otherwise), its
    median and range. A round without a contender's figure (it failed) has no ratio for it."""
    figures, ratios = {}, {}
    for key in ("lifbatch", "lifbatch_wall", *_CONTENDERS):
        values = [r[key] for r in rounds if key in r]
        if values:
            figures[key] = {
                **_spread(values),
                "seconds": values,
                "ns_per_neuron_step": statistics.median(values) / work * 1e9,
            }
    for key in _CONTENDERS:
        base = "lifbatch" if key == "cpp_standalone" else "lifbatch_wall"
        values = [r[key] / r[base] for r in rounds if key in r and r[base] > 0]
        if values:
            ratios[key] = _spread(values)
    return figures, ratios


def model_bench(model: str, neurons: int = 1000, steps: int = 10_000, repeat: int = 3, brian2: bool = True) -> dict:
    """Measure the model's loop and, if asked and possible, Brian2 on the same model, in interleaved rounds.

    Returns a dict: the settings, ``load_average`` (before, after), ``lifbatch`` and, per Brian2
    contender, the seconds of every round (``rounds``), their median, min and max and the median
    nanoseconds per neuron-step; ``ratios`` (per contender: Brian2's time / lifbatch's in each
    round, median, min, max); ``rates`` (Hz) and whether each agrees with lifbatch's; ``brian2``:
    availability, versions, excluded build times, errors.
    """
    from lifbatch.point import simulate_point

    wf = model_workflow(model, neurons, steps)
    params = wf.point_params(())
    n, dt = wf.n_steps, wf.dt
    work = float(neurons) * n
    small = model_workflow(model, 2, min(n, 100))
    simulate_point(small, small.point_params(()))  # compiles, or loads numba's cache
    load = [os.getloadavg()[0]]

    note = brian2_unavailable(_SCRIPT) if brian2 else None
    peer = None
    if brian2 and note is None:
        p = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith("neuron.")}
        p["I"] = params["inputs.current.value"]
        peer = Brian2Peer(
            neurons,
            n,
            dt,
            script=_SCRIPT,
            runtime=("cython", "numpy"),
            extra=("--model", model, "--params", json.dumps(p), "--dt", repr(dt)),
        )
    rounds: list[dict] = []
    try:
        if peer is not None:
            peer.setup()
        for i in range(max(1, repeat)):
            row: dict[str, float] = {}

            def lifbatch_run():
                c0, t0 = time.process_time(), time.perf_counter()
                res = simulate_point(wf, params)
                row.update(lifbatch=time.process_time() - c0, lifbatch_wall=time.perf_counter() - t0)
                return res

            order = [lifbatch_run, peer.run_round] if peer is not None else [lifbatch_run]
            if i % 2:
                order.reverse()
            for fn in order:
                out = fn()
                if fn is lifbatch_run:
                    result = out
            if peer is not None:
                row.update(peer.last)
            rounds.append(row)
    finally:
        if peer is not None:
            peer.close()
    load.append(os.getloadavg()[0])

    duration = n * dt
    figures, ratios = _summarize(rounds, work)
    rate = float(result.counts.mean() / duration)
    rates = {"lifbatch": rate}
    agree = {}
    if peer is not None:
        for target, counts in peer.counts.items():
            rates[target] = float(counts.mean() / duration)
            rel = (rates[target] - rate) / rate if rate else (0.0 if rates[target] == 0 else math.inf)
            agree[target] = {"relative_difference": rel, "agree": bool(abs(rel) <= BRIAN2_RATE_TOLERANCE)}
    neuron, current = WORKLOADS[model]
    return {
        "model": model,
        "neurons": int(neurons),
        "steps": int(n),
        "dt": dt,
        "repeat": len(rounds),
        "current": current,
        "neuron": neuron,
        "method": wf.method,
        "threads": 1,
        "load_average": load,
        "figures": figures,
        "ratios": ratios,
        "rates": rates,
        "rate_check": agree,
        "rate_tolerance": BRIAN2_RATE_TOLERANCE,
        "target": TARGETS.get(model),
        "brian2": (
            {"available": False, "note": note}
            if peer is None and brian2
            else None
            if peer is None
            else {
                "available": True,
                "versions": peer.versions,
                "build_seconds": dict(peer.build),
                "errors": dict(peer.errors),
            }
        ),
    }


def _table(r: dict) -> str:
    model = r["model"]
    lines = [
        f"{model}: {r['neurons']} neurons x {r['steps']} steps of {r['dt'] * 1e3:g} ms, constant current "
        f"{r['current']}, method {r['method']}, one thread, {r['repeat']} interleaved rounds "
        f"(load average {r['load_average'][0]:.1f} -> {r['load_average'][1]:.1f})",
        f"{'':36}{'ns/neuron-step':>15}{'seconds, median (min-max)':>30}{'rate (Hz)':>11}",
    ]
    rates = r["rates"]
    for key in ("lifbatch", "lifbatch_wall", *_CONTENDERS):
        fig = r["figures"].get(key)
        if not fig:
            continue
        rate = rates.get("lifbatch" if key.startswith("lifbatch") else key.replace("_wall", ""))
        spread = f"{fig['median']:.4g} ({fig['min']:.4g}-{fig['max']:.4g})"
        lines.append(
            f"{_LABELS[key].format(model=model):36}{fig['ns_per_neuron_step']:>15.1f}{spread:>30}"
            + (f"{rate:>11.3f}" if rate is not None else "")
        )
    labels = {
        "cpp_standalone": "Brian2 cpp_standalone loop / lifbatch loop, CPU time",
        "cpp_standalone_wall": "Brian2 ./main process / lifbatch loop, wall",
        "cython": "Brian2 cython loop / lifbatch loop, wall",
        "numpy": "Brian2 numpy loop / lifbatch loop, wall",
    }
    for key, label in labels.items():
        q = r["ratios"].get(key)
        if not q:
            continue
        line = f"{label:54} {q['median']:.2f}x ({q['min']:.2f}-{q['max']:.2f})"
        if key == "cpp_standalone":
            line += "  (> 1: lifbatch faster)"
            if r["target"] is not None:
                line += f"; target >= {r['target']:g}x: {'met' if q['median'] >= r['target'] else 'NOT met'}"
        lines.append(line)
    checks = [
        f"{t} {c['relative_difference'] * 100:+.2f}% ({'agree' if c['agree'] else 'DISAGREE'})"
        for t, c in r["rate_check"].items()
    ]
    if checks:
        lines.append(f"rates vs lifbatch's (within {r['rate_tolerance'] * 100:g} %): " + ", ".join(checks))
    b = r["brian2"]
    if b and not b["available"]:
        lines.append(b["note"])
    elif b:
        build = b["build_seconds"]
        excluded = [f"{k} {build[k]:.1f} s" for k in ("cpp_standalone", "cython", "numpy") if build.get(k) is not None]
        v = b["versions"]
        vs = ", ".join(f"{k} {v[k]}" for k in ("brian2", "numpy", "Cython", "g++") if k in v)
        lines.append(
            "Brian2 excluded (standalone build; runtime targets' first run): "
            + ", ".join(excluded)
            + (f" ({vs}, one thread)" if vs else "")
        )
        for target, err in b["errors"].items():
            lines.append(f"Brian2 {target} FAILED: {err}")
    return "\n".join(lines)


def main(args) -> int:
    """Entry point of ``lifbatch bench --model``. Exit 1 if a rate disagrees or Brian2, with its
    venv there, could not be measured."""
    r = model_bench(
        args.model, neurons=args.neurons, steps=args.steps, repeat=args.repeat, brian2=getattr(args, "brian2", True)
    )
    print(json.dumps(r, indent=2) if args.json else _table(r))
    b = r["brian2"]
    ok = all(c["agree"] for c in r["rate_check"].values()) and not (b and b.get("errors"))
    return 0 if ok else 1
