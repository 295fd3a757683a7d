"""Every neuron model spike for spike with Brian2 (runtime mode, numpy target, float64).

The references are Brian2's own runs, built by ``benchmarks/peers/brian2_models.py`` in the
peers' virtual environment (Brian2 needs numpy < 2.4) and committed as small JSON files in
``benchmarks/peers/reference/``: for each case the parameters, the input, the spike steps of
every neuron (``round(t / dt)`` as Brian2 records them: the step whose update carried v over
the threshold, which is lifbatch's bit s, a spike at (s + 1) dt) and v (and the other state
variables) at a few hundred sampled steps. Each run is rebuilt here as a lifbatch workflow
and simulated; the spike steps must be identical and v within 1e-6 mV at every sample.

Where one rounding more or less in Brian2 itself moves a spike (the reference measured it by
moving the capacitance by one ulp: ``robust_leading_spikes``), only the spikes before that one
are compared, and v only before it (the chaotic AdEx pattern is compared by its first spikes).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import lifbatch

REFERENCE = Path(__file__).resolve().parents[1] / "benchmarks" / "peers" / "reference"
#: the SI unit of each parameter a reference names, per model
UNITS = {
    "c_m": "F",
    "g_l": "S",
    "g_na": "S",
    "g_k": "S",
    "e_l": "V",
    "e_na": "V",
    "e_k": "V",
    "v_t": "V",
    "v_spike": "V",
    "delta_t": "V",
    "tau_w": "s",
    "v_reset": "V",
    "v_peak": "V",
    "t_ref": "s",
    "k": "S/V",
    "v_r": "V",
    "c": "V",
    "d": "A",
}
MODEL_UNITS = {"adex": {"a": "S", "b": "A"}, "izhikevich": {"a": "1/s", "b": "S"}}
#: v within 1e-6 mV of Brian2's
V_TOLERANCE = 1e-9


def _runs() -> list:
    cases = []
    for path in sorted(REFERENCE.glob("*.runs-*.json")):
        data = json.loads(path.read_text())
        for run in data["runs"]:
            cases.append(pytest.param(data["model"], run, id=f"{data['model']}-{run['name']}"))
    return cases


def _quantity(name: str, value, model: str) -> str:
    unit = MODEL_UNITS.get(model, {}).get(name) or UNITS[name]
    return f"{value!r} {unit}"


def workflow_of(model: str, run: dict) -> tuple[dict, str | None]:
    """The lifbatch workflow of a reference run; the sweep axis of its neurons (None for one)."""
    params = {k: v for k, v in run["params"].items() if k != "I"}  # (the input is run["input"])
    n = run["n_neurons"]
    axis = None
    sweep = {}
    per_neuron = {k.removesuffix("_per_neuron"): v for k, v in params.items() if isinstance(v, list)}
    neuron = {"model": model}
    neuron.update(
        {k: _quantity(k, v, model) for k, v in params.items() if not isinstance(v, list) and k not in per_neuron}
    )
    for key, values in per_neuron.items():  # (the three capacitances: one neuron per value)
        axis = "neuron"
        sweep[axis] = {"param": f"neuron.{key}", "values": [_quantity(key, v, model) for v in values]}
    initial = run.get("initial") or {}
    if "v" in initial:
        neuron["v_init"] = f"{initial['v']!r} V"
    if model == "adex" and "w" in initial:
        neuron["w_init"] = f"{initial['w']!r} A"
    if model == "izhikevich" and "u" in initial:
        neuron["u_init"] = f"{initial['u']!r} A"
    if model == "hh_traub":
        neuron["gates_init"] = initial.get("gates_init", "zero")
    spec = run["input"]
    if "values_A" in spec:  # a current re-drawn every step_duration from a fixed sequence
        drive = {
            "kind": "timed_array",
            "values": list(spec["values_A"]),
            "dt": f"{spec['step_duration']!r} s",
            "unit": "A",
        }
    elif isinstance(spec.get("I_A"), list):  # one constant current per neuron
        drive = {"kind": "constant", "value": "0 A"}
        axis = "neuron"
        sweep[axis] = {"param": "inputs.I.value", "values": [f"{x!r} A" for x in spec["I_A"]]}
    else:
        drive = {"kind": "constant", "value": f"{spec['I_A']!r} A"}
    assert len(sweep) <= 1 and (n == 1) == (axis is None), run["name"]
    raw = {
        "name": "brian2-" + run["name"].lower().replace(".", "p").replace("_", "-"),
        "trials": 1,
        "duration": f"{run['n_steps'] * run['dt']!r} s",
        "dt": f"{run['dt']!r} s",
        "neuron": neuron,
        "inputs": {"I": drive},
        "sweep": sweep,
        "record": {"v": {"trials": "all", "every": f"{run['dt']!r} s"}},
        "summaries": {"moments": {"every": f"{run['dt']!r} s"}},
    }
    if run.get("method"):
        raw["method"] = run["method"]
    return raw, axis


def _spike_steps(bits: np.ndarray, n_steps: int) -> list[int]:
    return np.flatnonzero(np.unpackbits(bits)[:n_steps]).tolist()


@pytest.mark.slow
@pytest.mark.parametrize("model, run", _runs())
def test_spike_for_spike_with_brian2(model, run):
    if not REFERENCE.is_dir():  # pragma: no cover
        pytest.fail(f"no Brian2 references in {REFERENCE}: build them with benchmarks/peers/brian2_models.py")
    raw, axis = workflow_of(model, run)
    if "spike_steps" not in run:
        del raw["record"]  # (an f(I) curve: spikes only)
    ds = lifbatch.simulate(raw)
    n_steps = run["n_steps"]
    bits = ds["spike_bits"].values.reshape(-1, ds.sizes["spike_byte"])
    v = ds["v"].values.reshape(-1, ds.sizes["trace_time"]) if "v" in ds else None
    traces = run.get("traces") or [None] * run["n_neurons"]
    compared = 0
    counts = run["spike_counts"]
    robust_all = run.get("robust_leading_spikes", counts)
    for j in range(run["n_neurons"]):
        got = _spike_steps(bits[j], n_steps)
        robust = robust_all[j]
        if "spike_steps" in run:
            want = run["spike_steps"][j]
        elif "first_spike_steps" in run:  # (chaotic: the count, as Brian2 gives it with either rounding, and
            # the first spikes, all before the first one a rounding moves)
            first = run["first_spike_steps"][j]
            assert len(first) <= robust and got[: len(first)] == first, (j, got[: len(first)], first)
            counts_seen = {counts[j]} | {
                c[j] for c in (q.get("spike_counts") for q in run.get("perturbation", [])) if c is not None
            }
            assert len(got) in counts_seen, (j, len(got), counts_seen)
            continue
        else:  # (an f(I) curve: its counts, first five and last spike steps)
            first = run["first_5_spike_steps"][j]
            want = None
            assert got[: len(first)] == first[:robust], (j, got[:5], first)
            if robust == counts[j]:
                assert len(got) == counts[j], (j, len(got), counts[j])
                assert (got[-1] if got else None) == run["last_spike_step"][j], j
            continue
        if robust == len(want):
            assert got == want, (
                j,
                len(got),
                len(want),
                next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None),
            )
        else:  # a rounding moves a later spike in Brian2 itself: the leading ones, and that many at least
            assert got[:robust] == want[:robust], (j, robust, got[: robust + 2], want[: robust + 2])
            assert len(got) > robust
        # v at Brian2's samples, up to its first spike that a rounding can move
        trace = traces[j]
        if trace is None:
            continue
        limit = want[robust] if robust < len(want) else math.inf
        steps = np.asarray(trace["steps"])
        keep = steps <= limit
        # (and not where one rounding more or less moved Brian2's own v by more than the tolerance)
        moved = {
            int(step)
            for q in run.get("perturbation", [])
            for neuron, step, _ in q.get("samples_where_v_moved_over_1e-6_mV", [])
            if neuron == j
        }
        keep &= ~np.isin(steps, sorted(moved))
        diff = np.abs(v[j, steps[keep]] - np.asarray(trace["v"])[keep])
        assert diff.max(initial=0.0) < V_TOLERANCE, (j, float(diff.max()), int(steps[keep][np.argmax(diff)]))
        compared += int(keep.sum())
    assert sum(counts) == 0 or bits.any()
    if "spike_steps" in run and any(t is not None for t in traces):
        assert compared > 0
