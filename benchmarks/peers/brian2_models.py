#!/usr/bin/env python
"""Brian2 reference data for lifbatch's neuron models (issue 20): spike steps and sampled state traces.

    python benchmarks/peers/brian2_models.py              # all models, writes reference/*.json here
    python benchmarks/peers/brian2_models.py --only adex  # one model (hh_traub, adex, eif, izhikevich)
    python benchmarks/peers/brian2_models.py --out DIR    # write elsewhere (e.g. to compare a rebuild)

Run it with any Python 3.10+: without Brian2 it re-runs itself with the peer
venv's Python (~/.cache/lifbatch-peers/venv, or $LIFBATCH_PEERS_CACHE/venv;
created once as ``peer_venv.py --create`` does: numpy 1.26, Brian2 2.9).
Brian2 runs in runtime mode, numpy target, float64. The script prints the
versions it used and the wall time of every case.

What it simulates (the cases of issue 20's "Acceptance"):

- ``hh_traub.json``: the Hodgkin-Huxley neuron of Brian2's tutorial part 3
  ("Changing things during a run"), its equations, parameters, threshold and
  refractory ``v > -40*mV``, method exponential_euler, v = El, m = n = h = 0:
  the current re-drawn every 10 ms replaced by a fixed sequence
  (``default_rng(0).random(5) * 50 nA``, set by ``run_regularly`` as the
  tutorial does) at dt 0.01 and 0.1 ms; the tutorial's three capacitances with
  the shared current; constant currents for 1 s with the gates at 0 and at
  their steady state at El; an f(I) curve 0-50 nA over 1 s.
- ``adex.json``: the eight firing patterns of Naud et al. 2008 with the
  equations and parameter sets of Brian2's example
  ``examples/frompapers/Naud_et_al_2008_adex_firing_patterns.py`` (threshold
  ``vm > 0*mV``, reset ``vm = v_r; w += b``, euler, 0.6 s) at dt 0.1 and 0.01 ms.
- ``eif.json``: the same equation without w (a = b = 0), the tonic-spiking
  parameters, an f(I) curve 0-1000 pA over 1 s at dt 0.1 and 0.01 ms.
- ``izhikevich.json``: Izhikevich (2007)'s dimensional model (NeuroML's
  izhikevich2007Cell) with his regular-spiking parameters, constant currents
  over 1 s, euler, at dt 0.1 and 0.01 ms.

Each model gets ``reference/<model>.json`` (all but the runs) and its runs
in ``reference/<model>.runs-<k>.json`` (at most ~100 kB each). They hold:
the Brian2 equations, threshold, reset and refractory strings; the SI values
of every constant the generated code used; the generated numpy code of the
state update, threshold and reset (what Brian2 runs, operation for
operation); the step order with a few steps printed step by step as
evidence; and per run: dt, number of steps, the input, the initial state,
every spike's step index round(t/dt) (f(I) runs: the counts, the first 5 and
the last), and the state at about 200 sampled steps (the state at the start
of step k, i.e. at t = k*dt, after step k-1's reset) plus the final state,
all in SI units as floats with full precision. Each run also records how
close it came to its threshold (``threshold_margin``) and what moving the
capacitance by one ulp (one rounding) does to its spikes and states
(``perturbation``): the scale of the differences another implementation's
rounding will cause.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = 201  # evenly spaced sampled steps per trace (plus a few around the first spike)
PERTURB_ULPS = (1,)  # the perturbation check moves the capacitance by these many ulps
ADEX_PERTURB_ULPS = (-2, -1, 1, 2)  # AdEx: its patterns amplify differences (bursts, the chaotic one)
FIRST_SPIKES = 10  # how many first spikes are stored for the chaotic pattern
MODELS = ("hh_traub", "adex", "eif", "izhikevich")
RUN_FILE_BUDGET = 100_000  # bytes per run file (reference/<model>.runs-<k>.json)
SENSITIVE_V = 1e-9  # volts (1e-6 mV): samples whose v moves more than this in the perturbation check


# --------------------------------------------------------------------------- running in the peer venv


def _reexec(argv, peer: bool) -> None:
    """Run this script again, with PYTHONHASHSEED=0 and (peer) the peer venv's Python; does not return.

    The hash seed fixes the order in which Brian2's code generator emits the array loads (a set), so that a
    rebuild writes byte-identical files; the numbers do not depend on it.
    """
    py = sys.executable
    env = dict(os.environ, PYTHONHASHSEED="0")
    if peer:
        spec = importlib.util.spec_from_file_location("lifbatch_peers_run", HERE / "run.py")
        run = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = run
        spec.loader.exec_module(run)
        try:
            py = str(run.peer_python())
        except run.BenchError as exc:
            raise SystemExit(f"error: {exc}")
        for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(key, None)
        print(f"(re-running with the peer venv's Python: {py})", flush=True)
    os.execve(py, [py, str(Path(__file__).resolve()), *argv], env)


def _have_brian2() -> bool:
    try:
        import brian2  # noqa: F401
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------- the models, as Brian2 strings

# The tutorial's eqs_HH (part 3, "Changing things during a run"), verbatim.
HH_EQS = """
dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt
dm/dt = 0.32*(mV**-1)*(13.*mV-v+VT)/
    (exp((13.*mV-v+VT)/(4.*mV))-1.)/ms*(1-m)-0.28*(mV**-1)*(v-VT-40.*mV)/
    (exp((v-VT-40.*mV)/(5.*mV))-1.)/ms*m : 1
dn/dt = 0.032*(mV**-1)*(15.*mV-v+VT)/
    (exp((15.*mV-v+VT)/(5.*mV))-1.)/ms*(1.-n)-.5*exp((10.*mV-v+VT)/(40.*mV))/ms*n : 1
dh/dt = 0.128*exp((17.*mV-v+VT)/(18.*mV))/ms*(1.-h)-4./(1+exp((40.*mV-v+VT)/(5.*mV)))/ms*h : 1
I : amp
"""
# The tutorial's eqs_HH_3: a capacitance per neuron, the current shared.
HH_EQS_C = """
dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/C : volt
dm/dt = 0.32*(mV**-1)*(13.*mV-v+VT)/
    (exp((13.*mV-v+VT)/(4.*mV))-1.)/ms*(1-m)-0.28*(mV**-1)*(v-VT-40.*mV)/
    (exp((v-VT-40.*mV)/(5.*mV))-1.)/ms*m : 1
dn/dt = 0.032*(mV**-1)*(15.*mV-v+VT)/
    (exp((15.*mV-v+VT)/(5.*mV))-1.)/ms*(1.-n)-.5*exp((10.*mV-v+VT)/(40.*mV))/ms*n : 1
dh/dt = 0.128*exp((17.*mV-v+VT)/(18.*mV))/ms*(1.-h)-4./(1+exp((40.*mV-v+VT)/(5.*mV)))/ms*h : 1
I : amp (shared)
C : farad
"""
HH_THRESHOLD = "v > -40*mV"
HH_REFRACTORY = "v > -40*mV"

# Brian2's example of Naud et al. 2008 (examples/frompapers/Naud_et_al_2008_adex_firing_patterns.py,
# brian-team/brian2 commit 303290939a8e): its equations, threshold, reset and method.
ADEX_EQS = """
dvm/dt = (g_l*(e_l - vm) + g_l*d_t*exp((vm-v_t)/d_t) + i_stim - w)/c_m : volt
dw/dt  = (a*(vm - e_l) - w)/tau_w : amp
"""
ADEX_THRESHOLD = "vm > 0*mV"
ADEX_RESET = "vm = v_r; w += b"
ADEX_DURATION_S = 0.6  # the example's run(0.6 * second)
# The example's eight parameter sets (c_m pF, g_l nS, e_l mV, v_t mV, d_t mV, a nS, tau_w ms, b pA, v_r mV, i_stim pA).
ADEX_PATTERNS = {
    "tonic spiking": (200, 10, -70.0, -50.0, 2.0, 2.0, 30.0, 0.0, -58.0, 500),
    "adaptation": (200, 12, -70.0, -50.0, 2.0, 2.0, 300.0, 60.0, -58.0, 500),
    "initial burst": (130, 18, -58.0, -50.0, 2.0, 4.0, 150.0, 120.0, -50.0, 400),
    "regular bursting": (200, 10, -58.0, -50.0, 2.0, 2.0, 120.0, 100.0, -46.0, 210),
    "delayed accelerating": (200, 12, -70.0, -50.0, 2.0, -10.0, 300.0, 0.0, -58.0, 300),
    "delayed regular bursting": (100, 10, -65.0, -50.0, 2.0, -10.0, 90.0, 30.0, -47.0, 110),
    "transient spiking": (100, 10, -65.0, -50.0, 2.0, 10.0, 90.0, 100.0, -47.0, 180),
    "irregular spiking": (100, 12, -60.0, -50.0, 2.0, -11.0, 130.0, 30.0, -48.0, 160),
}
CHAOTIC = "irregular spiking"

# EIF: the AdEx equation without w, a per-neuron constant current.
EIF_EQS = """
dvm/dt = (g_l*(e_l - vm) + g_l*d_t*exp((vm-v_t)/d_t) + i_stim)/c_m : volt
i_stim : amp
"""
EIF_RESET = "vm = v_r"
EIF_CURRENTS_PA = [50 * i for i in range(21)]  # 0, 50, ..., 1000 pA

# Izhikevich 2007 (eq. 8.5-8.6; NeuroML's izhikevich2007Cell), regular spiking (ch. 8.2.1).
IZH_EQS = """
dv/dt = (k*(v - v_r)*(v - v_t) - u + I)/C : volt
du/dt = a*(b*(v - v_r) - u) : amp
I : amp
"""
IZH_THRESHOLD = "v >= v_peak"
IZH_RESET = "v = c; u += d"
IZH_CURRENTS_PA = [0, 70, 100, 200, 400]


# --------------------------------------------------------------------------- helpers


def _f(x) -> float:
    """A Brian2 quantity or number as a plain SI float."""
    import numpy as np

    return float(np.asarray(x, dtype=float))


def _floats(a) -> list:
    import numpy as np

    return [float(x) for x in np.asarray(a, dtype=float).ravel()]


def _sample_steps(n_steps: int, first_spike: int | None) -> list[int]:
    """About SAMPLES evenly spaced steps in [0, n_steps), plus steps first_spike-2 .. first_spike+6."""
    import numpy as np

    steps = set(int(k) for k in np.round(np.linspace(0, n_steps - 1, SAMPLES)))
    if first_spike is not None:
        steps.update(k for k in range(first_spike - 2, first_spike + 7) if 0 <= k < n_steps)
    return sorted(steps)


def _code_of(obj) -> dict:
    """The abstract code and the generated numpy code ('run' block) of a code runner, and the SI constants it used."""
    import numpy as np

    co = obj.codeobj
    consts = {}
    for name, value in sorted(co.namespace.items()):
        # the numpy runtime executes the code in this namespace: skip the group's variables (v, t, ...)
        if name.startswith("_") or name == "N" or name in obj.group.variables:  # dt too: it is per run
            continue
        if isinstance(value, (bool, np.bool_)):
            continue
        if isinstance(value, (int, float, np.integer, np.floating)):
            consts[name] = float(value)
        elif isinstance(value, np.ndarray) and value.ndim == 0:
            consts[name] = float(value)
    return {"abstract_code": obj.abstract_code.strip(), "numpy_code": str(co.code.run).strip(), "constants_si": consts}


class Monitors:
    """A StateMonitor at the start of each step, one after the state update, and a SpikeMonitor."""

    def __init__(self, group, variables, theta_vars):
        from brian2 import SpikeMonitor, StateMonitor

        self.start = StateMonitor(group, variables, record=True, when="start", order=0)
        # after the state update, before the threshold (thresholds slot, before the thresholder's order 0)
        self.updated = StateMonitor(group, theta_vars, record=True, when="thresholds", order=-1)
        self.spikes = SpikeMonitor(group)
        self.objects = [self.start, self.updated, self.spikes]


def _spike_steps(mon, n, dt) -> list[list[int]]:
    import numpy as np

    steps = np.round(np.asarray(mon.t_) / dt).astype(np.int64)
    idx = np.asarray(mon.i)
    return [[int(k) for k in steps[idx == j]] for j in range(n)]


def _margin(v_updated, theta, armed=None):
    """min |v after the update - theta| (volts) over the steps where a spike was possible, and the step."""
    import numpy as np

    d = np.abs(np.asarray(v_updated, dtype=float) - theta)
    if armed is not None:
        d = np.where(np.asarray(armed, dtype=bool), d, np.inf)
    k = int(np.argmin(d))
    return {"volts": float(d[k]), "step": k}


# --------------------------------------------------------------------------- one run of one group


def simulate(spec: dict) -> dict:
    """Build and run one NeuronGroup as spec says; the spike steps, samples, margins and wall time.

    spec: eqs, n, namespace (name -> quantity), threshold, reset, refractory, method, dt (quantity),
    duration (quantity), init (var -> quantity or array), per_neuron (var -> quantity array),
    state (recorded variable names), theta (SI float), theta_var, armed_var (or None),
    run_regularly (code, dt) or None, record_var (extra variable recorded after the update, e.g. I),
    traces (bool).
    """
    import numpy as np
    from brian2 import Network, NeuronGroup, defaultclock

    defaultclock.dt = spec["dt"]
    kwargs = dict(threshold=spec["threshold"], method=spec["method"], namespace=dict(spec["namespace"]))
    if spec.get("reset"):
        kwargs["reset"] = spec["reset"]
    if spec.get("refractory"):
        kwargs["refractory"] = spec["refractory"]
    group = NeuronGroup(spec["n"], spec["eqs"], **kwargs)
    for var, value in spec.get("per_neuron", {}).items():
        setattr(group, var, value)
    for var, value in spec["init"].items():
        setattr(group, var, value)
    theta_vars = [spec["theta_var"]] + ([spec["armed_var"]] if spec.get("armed_var") else [])
    theta_vars += [spec["record_var"]] if spec.get("record_var") else []
    mons = Monitors(group, spec["state"], theta_vars)
    objects = [group, *mons.objects]
    if spec.get("run_regularly"):
        code, rr_dt = spec["run_regularly"]
        objects.append(group.run_regularly(code, dt=rr_dt))
    net = Network(*objects)
    t0 = time.perf_counter()
    net.run(spec["duration"])
    wall = time.perf_counter() - t0
    dt = _f(spec["dt"])
    n_steps = int(round(_f(spec["duration"]) / dt))
    t_start = np.asarray(mons.start.t_)
    assert t_start.shape[0] == n_steps, (t_start.shape, n_steps)
    # t of step k is k*dt (Brian2's clock: timestep * dt); check, so round(t/dt) is the step index
    assert np.all(np.round(t_start / dt).astype(np.int64) == np.arange(n_steps))
    spikes = _spike_steps(mons.spikes, spec["n"], dt)
    out = {"n_steps": n_steps, "wall_s": wall, "spikes": spikes, "group": group}
    upd = getattr(mons.updated, spec["theta_var"])
    armed = getattr(mons.updated, spec["armed_var"]) if spec.get("armed_var") else [None] * spec["n"]
    out["margins"] = [_margin(upd[j], spec["theta"], armed[j]) for j in range(spec["n"])]
    if spec.get("record_var"):
        out["recorded_after_update"] = np.asarray(getattr(mons.updated, spec["record_var"] + "_"))
    if spec.get("traces", True):
        out["traces"] = []
        for j in range(spec["n"]):
            steps = _sample_steps(n_steps, spikes[j][0] if spikes[j] else None)
            tr = {"steps": steps}
            for var in spec["state"]:
                values = np.asarray(getattr(mons.start, var + "_")[j])
                tr[var] = _floats(values[steps])
            tr["final"] = {var: float(np.asarray(getattr(group, var + "_"))[j]) for var in spec["state"]}
            out["traces"].append(tr)
    out["full_start"] = {var: np.asarray(getattr(mons.start, var + "_")) for var in spec["state"]}
    return out


def _ulps(q, n: int):
    """A float or quantity (or array of them) moved by n ulps, same units."""
    import numpy as np
    from brian2 import Quantity

    x = np.asarray(q, dtype=float)
    for _ in range(abs(n)):
        x = np.nextafter(x, np.inf if n > 0 else -np.inf)
    dim = getattr(q, "dim", None)
    return Quantity(x, dim=dim) if dim is not None else x


def perturbed(spec: dict, cap_name: str, ulps: int, per_neuron: bool = False) -> dict:
    """simulate(spec) with the capacitance moved by `ulps` ulps (nextafter)."""
    s = dict(spec, traces=False)
    if per_neuron:
        s["per_neuron"] = dict(spec["per_neuron"])
        s["per_neuron"][cap_name] = _ulps(spec["per_neuron"][cap_name], ulps)
    else:
        s["namespace"] = dict(spec["namespace"])
        s["namespace"][cap_name] = _ulps(spec["namespace"][cap_name], ulps)
    return simulate(s)


def perturbation_report(base: dict, other: dict, ulps: int, cap_name: str) -> dict:
    """Do the spikes survive? The largest state difference (SI) over all steps and over the sampled steps."""
    import numpy as np

    same = base["spikes"] == other["spikes"]
    first_diff = []
    for a, b in zip(base["spikes"], other["spikes"]):
        k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
        first_diff.append(k if k is not None or len(a) == len(b) else min(len(a), len(b)))
    rep = {
        "capacitance": cap_name,
        "ulps": ulps,
        "spike_steps_identical": same,
        "spike_counts": [len(b) for b in other["spikes"]],
        "first_differing_spike": first_diff,
        "max_abs_state_difference_si": {},
        "max_abs_state_difference_at_samples_si": {},
    }
    for var in base["full_start"]:
        d = np.abs(base["full_start"][var] - other["full_start"][var])
        d = d.reshape(-1, d.shape[-1])
        rep["max_abs_state_difference_si"][var] = float(np.max(d))
        if "traces" in base:
            rep["max_abs_state_difference_at_samples_si"][var] = float(
                max(np.max(d[j][tr["steps"]]) for j, tr in enumerate(base["traces"]))
            )
    if "traces" not in base:
        del rep["max_abs_state_difference_at_samples_si"]
    else:
        v = "vm" if "vm" in base["full_start"] else "v"
        dv = np.abs(base["full_start"][v] - other["full_start"][v]).reshape(-1, base["n_steps"])
        rep["samples_where_v_moved_over_1e-6_mV"] = [
            [j, int(k), float(dv[j][k])]
            for j, tr in enumerate(base["traces"])
            for k in tr["steps"]
            if dv[j][k] > SENSITIVE_V
        ]
    return rep


def perturbations(spec: dict, res: dict, cap_name: str, ulps=PERTURB_ULPS, per_neuron: bool = False) -> list:
    """perturbation_report for each number of ulps."""
    return [perturbation_report(res, perturbed(spec, cap_name, u, per_neuron), u, cap_name) for u in ulps]


def run_record(name: str, spec: dict, res: dict, extra: dict | None = None) -> dict:
    """The JSON record of one run."""
    rec = {
        "name": name,
        "dt": _f(spec["dt"]),
        "n_steps": res["n_steps"],
        "duration": _f(spec["duration"]),
        "n_neurons": spec["n"],
    }
    rec.update(extra or {})
    rec["spike_steps"] = res["spikes"]
    rec["spike_counts"] = [len(s) for s in res["spikes"]]
    if "perturbation" in rec:
        # per neuron: how many leading spikes every perturbation left in place
        rec["robust_leading_spikes"] = [
            min(
                [len(s)]
                + [
                    p["first_differing_spike"][j]
                    for p in rec["perturbation"]
                    if p["first_differing_spike"][j] is not None
                ]
            )
            for j, s in enumerate(res["spikes"])
        ]
    rec["threshold_margin"] = res["margins"]
    if "traces" in res:
        rec["traces"] = res["traces"]
    return rec


def fi_record(rec: dict) -> dict:
    """An f(I) run keeps the spike counts, the first 5 and the last spike step of each neuron, not every step."""
    steps = rec.pop("spike_steps")
    rec["first_5_spike_steps"] = [s[:5] for s in steps]
    rec["last_spike_step"] = [s[-1] if s else None for s in steps]
    return rec


def timing_line(label: str, res: dict, n: int) -> str:
    ns = res["n_steps"] * n
    return (
        f"  {label:<52s} {res['wall_s']:8.2f} s  ({res['n_steps']} steps x {n} neurons, "
        f"{ns / res['wall_s']:.3g} neuron-steps/s)"
    )


# --------------------------------------------------------------------------- step-order probes


def probe(spec: dict, n_steps: int, variables: list[str], extra_end: list[str] = ()) -> list[dict]:
    """A few steps printed step by step: the state at the start, after the update, spiked?, at the end of each step."""
    import numpy as np
    from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, defaultclock

    defaultclock.dt = spec["dt"]
    kwargs = dict(threshold=spec["threshold"], method=spec["method"], namespace=dict(spec["namespace"]))
    if spec.get("reset"):
        kwargs["reset"] = spec["reset"]
    if spec.get("refractory"):
        kwargs["refractory"] = spec["refractory"]
    group = NeuronGroup(1, spec["eqs"], **kwargs)
    for var, value in spec.get("per_neuron", {}).items():
        setattr(group, var, value)
    for var, value in spec["init"].items():
        setattr(group, var, value)
    m_start = StateMonitor(group, variables, record=True, when="start", order=0)
    m_upd = StateMonitor(group, variables, record=True, when="thresholds", order=-1)
    m_end = StateMonitor(group, [*variables, *extra_end], record=True, when="end", order=0)
    sm = SpikeMonitor(group)
    net = Network(group, m_start, m_upd, m_end, sm)
    net.run(n_steps * spec["dt"])
    dt = _f(spec["dt"])
    spiked = set(int(k) for k in np.round(np.asarray(sm.t_) / dt))
    rows = []
    for k in range(n_steps):

        def vals(mon, names):
            return {
                v: (
                    bool(getattr(mon, v)[0][k])
                    if getattr(mon, v)[0].dtype == bool
                    else float(getattr(mon, v + "_")[0][k])
                )
                for v in names
            }

        rows.append(
            {
                "step": k,
                "t": float(m_start.t_[k]),
                "start": vals(m_start, variables),
                "after_update": vals(m_upd, variables),
                "spike_recorded_at_this_step": k in spiked,
                "end_of_step": vals(m_end, [*variables, *extra_end]),
            }
        )
    return rows


def print_probe(title: str, rows: list[dict]) -> None:
    print(f"  probe: {title}")
    for r in rows:

        def fmt(d):
            return ", ".join(f"{k}={v!r}" if isinstance(v, bool) else f"{k}={v:.9g}" for k, v in d.items())

        print(
            f"    step {r['step']} t={r['t']:.6g}: start [{fmt(r['start'])}] -> update [{fmt(r['after_update'])}]"
            f" spike={r['spike_recorded_at_this_step']} -> end [{fmt(r['end_of_step'])}]"
        )


# --------------------------------------------------------------------------- the models


def hh_namespace():
    """The tutorial's parameters, computed as the tutorial computes them (Brian2 quantities)."""
    from brian2 import cm, msiemens, mV, siemens, ufarad, umetre

    area = 20000 * umetre**2
    return {
        "area": area,
        "Cm": 1 * ufarad * cm**-2 * area,
        "gl": 5e-5 * siemens * cm**-2 * area,
        "El": -65 * mV,
        "EK": -90 * mV,
        "ENa": 50 * mV,
        "g_na": 100 * msiemens * cm**-2 * area,
        "g_kd": 30 * msiemens * cm**-2 * area,
        "VT": -63 * mV,
    }


def hh_steady_gates(v: float, vt: float) -> dict:
    """m, n, h at their steady state x_inf = alpha/(alpha + beta) at v (volts), the tutorial's rate functions (1/ms)."""
    u = (v - vt) * 1e3  # v - VT in mV
    a_m = 0.32 * (13.0 - u) / (math.exp((13.0 - u) / 4.0) - 1.0)
    b_m = 0.28 * (u - 40.0) / (math.exp((u - 40.0) / 5.0) - 1.0)
    a_n = 0.032 * (15.0 - u) / (math.exp((15.0 - u) / 5.0) - 1.0)
    b_n = 0.5 * math.exp((10.0 - u) / 40.0)
    a_h = 0.128 * math.exp((17.0 - u) / 18.0)
    b_h = 4.0 / (1.0 + math.exp((40.0 - u) / 5.0))
    return {"m": a_m / (a_m + b_m), "n": a_n / (a_n + b_n), "h": a_h / (a_h + b_h)}


HH_STEP_ORDER = (
    "Brian2's schedule per step k (t_k = k*dt): start (run_regularly: I set here), groups (state update), "
    "thresholds (threshold, SpikeMonitor), synapses, resets, end. (1) The state updater first runs the "
    "refractory code Brian2 generates for a boolean refractory expression: not_refractory = not_refractory or "
    "not (v > -40*mV), with v at the start of the step (v_k); not_refractory is True before the first step. "
    "(2) It then updates v, m, n, h by exponential Euler, every variable from the values at the start of the "
    "step (v_k, m_k, n_k, h_k) and the current I of step k: each x relaxes exactly toward its fixed point "
    "given the others, x_{k+1} = -BA + (BA + x_k)*exp(dt*A) with A, BA (= B/A) from the start values (the "
    "generated code is in 'generated_code'). (3) Threshold: _cond = (v_{k+1} > -40*mV) and not_refractory; "
    "a spike is recorded with t = t_k, i.e. spike step k is the step whose update carried v above -40 mV; "
    "the spiking neuron gets not_refractory = False and lastspike = t_k. (4) No reset. So a spike needs "
    "the neuron armed (v <= -40 mV at the start of some step since its last spike, the current step "
    "included) and v after the update > -40 mV; an upward crossing between two steps. A neuron started "
    "above -40 mV is armed (not_refractory starts True) and spikes at step 0 if v stays above -40 mV. "
    "The state traces are v, m, n, h at the start of step k (t_k). The current of step k is the value "
    "run_regularly set at its last tick t <= t_k: for a 10 ms sequence, values[k*dt // 10 ms]."
)


def hh_model(dts_ms=(0.01, 0.1)):
    import numpy as np
    from brian2 import TimedArray, amp, mV, ms, nA, second

    ns = hh_namespace()
    base_ns = {k: v for k, v in ns.items() if k != "area"}
    rng_values = np.random.default_rng(0).random(5) * 50  # nA
    seq_values_a = rng_values * 1e-9  # A, what TimedArray(rng_values*nA) holds
    runs, timings = [], []
    el = _f(ns["El"])
    common = dict(
        eqs=HH_EQS,
        threshold=HH_THRESHOLD,
        refractory=HH_REFRACTORY,
        method="exponential_euler",
        state=["v", "m", "n", "h"],
        theta=-40e-3,
        theta_var="v",
        armed_var="not_refractory",
    )
    lif_params = {
        "c_m": _f(ns["Cm"]),
        "g_l": _f(ns["gl"]),
        "g_na": _f(ns["g_na"]),
        "g_k": _f(ns["g_kd"]),
        "e_l": _f(ns["El"]),
        "e_na": _f(ns["ENa"]),
        "e_k": _f(ns["EK"]),
        "v_t": _f(ns["VT"]),
        "v_spike": -40e-3,
    }

    # (a) the tutorial's current sequence, fixed
    I_seq = TimedArray(rng_values * nA, dt=10 * ms)
    assert np.array_equal(np.asarray(I_seq.values), seq_values_a)
    seq_input = {
        "kind": "steps every 10 ms, set by run_regularly('I = I_seq(t)', dt=10*ms) as the tutorial's "
        "run_regularly('I = rand()*50*nA', dt=10*ms)",
        "values_A": _floats(I_seq.values),
        "step_duration": 0.01,
        "values_made_as": "numpy.random.default_rng(0).random(5) * 50, times nA (1e-9 A)",
        "checked": "the I recorded after each step's update equals values_A[k // (10 ms / dt)] for "
        "every step k (Brian2's warning that the TimedArray's 10 ms and dt 0.01 ms are "
        "'not aligned' (ratio 999.9999999999999) is harmless: it upsamples to avoid that)",
    }
    code = {}
    for dt_ms in dts_ms:
        spec = dict(
            common,
            n=1,
            namespace=dict(base_ns, I_seq=I_seq),
            dt=dt_ms * ms,
            duration=50 * ms,
            init={"v": ns["El"]},
            run_regularly=("I = I_seq(t)", 10 * ms),
            record_var="I",
        )
        res = simulate(spec)
        per = round(0.01 / _f(spec["dt"]))
        used = res["recorded_after_update"][0]
        switch = [int(k) for k in np.flatnonzero(np.diff(used) != 0) + 1]
        assert np.all(used == seq_values_a[np.arange(res["n_steps"]) // per]), "I per step is not values[k // per]"
        pert = perturbations(spec, res, "Cm")
        runs.append(
            run_record(
                f"tutorial_steps_dt{dt_ms}ms",
                spec,
                res,
                {
                    "case": "a: the tutorial's HH, the current re-drawn every 10 ms replaced by a fixed sequence",
                    "params": lif_params,
                    "input": dict(seq_input, current_changes_at_steps=switch),
                    "initial": {"v": el, "m": 0.0, "n": 0.0, "h": 0.0, "gates_init": "zero"},
                    "perturbation": pert,
                },
            )
        )
        timings.append(timing_line(f"hh (a) tutorial steps, dt {dt_ms} ms, 50 ms", res, 1))
        print(timings[-1], flush=True)
        if not code:
            g = res["group"]
            code["hh_eqs_HH"] = {
                "equations": HH_EQS.strip(),
                "threshold": HH_THRESHOLD,
                "refractory": HH_REFRACTORY,
                "reset": None,
                "method": "exponential_euler",
                "state_update": _code_of(g.state_updater),
                "threshold_code": _code_of(g.thresholder["spike"]),
            }

    # (b) the three capacitances, the shared current
    caps_rel = [0.8, 1, 1.2]
    from brian2 import cm, ufarad

    caps = np.array(caps_rel) * ufarad * cm**-2 * ns["area"]
    for dt_ms in dts_ms:
        spec = dict(
            common,
            eqs=HH_EQS_C,
            n=3,
            namespace={k: v for k, v in dict(base_ns, I_seq=I_seq).items() if k != "Cm"},
            dt=dt_ms * ms,
            duration=50 * ms,
            init={"v": ns["El"]},
            per_neuron={"C": caps},
            run_regularly=("I = I_seq(t)", 10 * ms),
            record_var="I",
        )
        res = simulate(spec)
        per = round(0.01 / _f(spec["dt"]))
        used = res["recorded_after_update"]
        assert np.all(used == seq_values_a[np.arange(res["n_steps"]) // per][None, :])
        switch = [int(k) for k in np.flatnonzero(np.diff(used[0]) != 0) + 1]
        pert = perturbations(spec, res, "C", per_neuron=True)
        params = {k: v for k, v in lif_params.items() if k != "c_m"}
        runs.append(
            run_record(
                f"capacitances_dt{dt_ms}ms",
                spec,
                res,
                {
                    "case": "b: the tutorial's three cells, C = [0.8, 1, 1.2] uF/cm**2 * area, the shared current",
                    "params": dict(params, c_m_per_neuron=_floats(caps)),
                    "capacitance_factors": caps_rel,
                    "input": dict(seq_input, current_changes_at_steps=switch, shared=True),
                    "initial": {"v": el, "m": 0.0, "n": 0.0, "h": 0.0, "gates_init": "zero"},
                    "perturbation": pert,
                },
            )
        )
        timings.append(timing_line(f"hh (b) three capacitances, dt {dt_ms} ms, 50 ms", res, 3))
        print(timings[-1], flush=True)
        if "hh_eqs_HH_3" not in code:
            g = res["group"]
            code["hh_eqs_HH_3"] = {
                "equations": HH_EQS_C.strip(),
                "threshold": HH_THRESHOLD,
                "refractory": HH_REFRACTORY,
                "reset": None,
                "method": "exponential_euler",
                "state_update": _code_of(g.state_updater),
            }

    # (c) constant currents for 1 s, gates at zero and at steady state
    steady = hh_steady_gates(el, _f(ns["VT"]))
    for dt_ms in dts_ms:
        for i_na in (1, 5):
            for gates in ("zero", "steady_state"):
                init = {"v": ns["El"]}
                if gates == "steady_state":
                    init.update(steady)
                spec = dict(
                    common,
                    n=1,
                    namespace=base_ns,
                    dt=dt_ms * ms,
                    duration=1 * second,
                    init=init,
                    per_neuron={"I": i_na * nA},
                )
                res = simulate(spec)
                pert = perturbations(spec, res, "Cm")
                runs.append(
                    run_record(
                        f"constant_{i_na}nA_{gates}_dt{dt_ms}ms",
                        spec,
                        res,
                        {
                            "case": "c: a constant current for 1 s",
                            "params": lif_params,
                            "input": {"kind": "constant", "I_A": _f(i_na * nA)},
                            "initial": {
                                "v": el,
                                "m": float(init.get("m", 0.0)),
                                "n": float(init.get("n", 0.0)),
                                "h": float(init.get("h", 0.0)),
                                "gates_init": gates,
                            },
                            "perturbation": pert,
                        },
                    )
                )
                timings.append(timing_line(f"hh (c) {i_na} nA, gates {gates}, dt {dt_ms} ms, 1 s", res, 1))
                print(timings[-1], flush=True)

    # (d) f(I): 0, 2.5, ..., 50 nA over 1 s, one group of 21 neurons
    currents = np.arange(21) * 2.5
    for dt_ms in dts_ms:
        spec = dict(
            common,
            n=len(currents),
            namespace=base_ns,
            dt=dt_ms * ms,
            duration=1 * second,
            init={"v": ns["El"]},
            per_neuron={"I": currents * nA},
            traces=False,
        )
        res = simulate(spec)
        pert = perturbations(spec, res, "Cm")
        rec = run_record(
            f"fI_dt{dt_ms}ms",
            spec,
            res,
            {
                "case": "d: f(I), a constant current per neuron for 1 s (one group, neuron j gets I_A[j])",
                "params": lif_params,
                "input": {"kind": "constant per neuron", "I_A": _floats(currents * nA)},
                "initial": {"v": el, "m": 0.0, "n": 0.0, "h": 0.0, "gates_init": "zero"},
                "perturbation": pert,
            },
        )
        runs.append(fi_record(rec))
        timings.append(timing_line(f"hh (d) f(I) 21 currents, dt {dt_ms} ms, 1 s", res, len(currents)))
        print(timings[-1], flush=True)

    # step-order probes
    probes = []
    p1 = dict(common, n=1, namespace=base_ns, dt=0.01 * ms, init={"v": -40.3 * mV}, per_neuron={"I": 20 * nA})
    probes.append(
        {
            "what": "v starts at -40.3 mV, I = 20 nA, gates 0, dt 0.01 ms: the upward crossing",
            "steps": probe(p1, 4, ["v", "m", "not_refractory"], ["lastspike"]),
        }
    )
    p2 = dict(p1, init={"v": -39 * mV}, per_neuron={"I": 0 * amp})
    probes.append(
        {
            "what": "v starts at -39 mV (above -40 mV), I = 0: armed at the start (not_refractory "
            "starts True), spike at step 0, then not armed while v > -40 mV",
            "steps": probe(p2, 3, ["v", "not_refractory"], ["lastspike"]),
        }
    )
    p3 = dict(p1, init={"v": -40.001 * mV, "not_refractory": False}, per_neuron={"I": 20 * nA})
    probes.append(
        {
            "what": "v starts at -40.001 mV with not_refractory False, I = 20 nA: re-armed by the "
            "start value in the same step, so the crossing in step 0 is a spike",
            "steps": probe(p3, 2, ["v", "not_refractory"], ["lastspike"]),
        }
    )
    for p in probes:
        print_probe(p["what"], p["steps"])
    doc = {
        "model": "hh_traub",
        "brian2_source": "Brian2 tutorial part 3, 'Changing things during a run' (its eqs_HH and eqs_HH_3)",
        "units": {"v": "V", "m": "1", "n": "1", "h": "1", "I": "A", "C": "F", "t": "s", "dt": "s"},
        "step_order": {"text": HH_STEP_ORDER, "probes": probes},
        "steady_state_gates_at_El": steady,
        "steady_state_formula": "x_inf = alpha_x/(alpha_x + beta_x) with the tutorial's rate functions at "
        "v = El (plain float64 Python math, as hh_steady_gates in the script)",
        "generated_code": code,
        "runs": runs,
    }
    return doc, timings


ADEX_STEP_ORDER = (
    "Per step k (t_k = k*dt), Brian2's schedule start, groups, thresholds, synapses, resets, end: (1) state "
    "update, forward Euler, both variables from the values at the start of the step: vm_{k+1} = vm_k + "
    "dt*f(vm_k, w_k), w_{k+1} = w_k + dt*(a*(vm_k - e_l) - w_k)/tau_w (generated code in 'generated_code'); "
    "(2) threshold vm_{k+1} > 0 mV: the spike is recorded with t = t_k (spike step k); (3) reset of the "
    "spiking neuron: vm = v_r, then w += b (on the updated w_{k+1}). No refractory period. The state traces "
    "are vm, w at the start of step k (after step k-1's reset), so a spike's peak value is not in the traces."
)


def adex_params(pattern: str) -> dict:
    from brian2 import mV, ms, nS, pA, pF

    c_m, g_l, e_l, v_t, d_t, a, tau_w, b, v_r, i_stim = ADEX_PATTERNS[pattern]
    return {
        "c_m": c_m * pF,
        "g_l": g_l * nS,
        "e_l": e_l * mV,
        "v_t": v_t * mV,
        "d_t": d_t * mV,
        "a": a * nS,
        "tau_w": tau_w * ms,
        "b": b * pA,
        "v_r": v_r * mV,
        "i_stim": i_stim * pA,
    }


def _adex_lifbatch_params(p: dict) -> dict:
    return {
        "c_m": _f(p["c_m"]),
        "g_l": _f(p["g_l"]),
        "e_l": _f(p["e_l"]),
        "v_t": _f(p["v_t"]),
        "delta_t": _f(p["d_t"]),
        "a": _f(p["a"]),
        "tau_w": _f(p["tau_w"]),
        "b": _f(p["b"]),
        "v_reset": _f(p["v_r"]),
        "v_peak": 0.0,
        "t_ref": 0.0,
        "I": _f(p["i_stim"]),
    }


def adex_model(dts_ms=(0.1, 0.01)):
    from brian2 import mV, ms, second

    runs, timings, code = [], [], {}
    for dt_ms in dts_ms:
        for pattern in ADEX_PATTERNS:
            p = adex_params(pattern)
            chaotic = pattern == CHAOTIC
            spec = dict(
                eqs=ADEX_EQS,
                n=1,
                namespace=p,
                threshold=ADEX_THRESHOLD,
                reset=ADEX_RESET,
                method="euler",
                dt=dt_ms * ms,
                duration=ADEX_DURATION_S * second,
                init={"vm": p["e_l"], "w": 0},
                state=["vm", "w"],
                theta=0.0,
                theta_var="vm",
                traces=not chaotic,
            )
            res = simulate(spec)
            extra = {
                "pattern": pattern,
                "params": _adex_lifbatch_params(p),
                "brian2_namespace_si": {k: _f(v) for k, v in p.items()},
                "input": {"kind": "constant", "I_A": _f(p["i_stim"])},
                "initial": {"v": _f(p["e_l"]), "w": 0.0},
            }
            extra["perturbation"] = perturbations(spec, res, "c_m", ADEX_PERTURB_ULPS)
            rec = run_record(f"{pattern.replace(' ', '_')}_dt{dt_ms}ms", spec, res, extra)
            if chaotic:
                rec["compare_only"] = "spike count and first spikes (chaotic: the trace is not a reference)"
                rec["first_spike_steps"] = [s[:FIRST_SPIKES] for s in rec.pop("spike_steps")]
            rec["brian2_variable_names"] = {"v": "vm", "w": "w"}
            if "traces" in rec:
                for tr in rec["traces"]:
                    tr["v"] = tr.pop("vm")
                    tr["final"]["v"] = tr["final"].pop("vm")
            runs.append(rec)
            timings.append(timing_line(f"adex {pattern}, dt {dt_ms} ms, 0.6 s", res, 1))
            print(timings[-1], flush=True)
            if not code:
                g = res["group"]
                code["adex"] = {
                    "equations": ADEX_EQS.strip(),
                    "threshold": ADEX_THRESHOLD,
                    "reset": ADEX_RESET,
                    "method": "euler",
                    "state_update": _code_of(g.state_updater),
                    "threshold_code": _code_of(g.thresholder["spike"]),
                    "reset_code": _code_of(g.resetter["spike"]),
                    "note": "generated with the 'tonic spiking' namespace; the constants_si differ "
                    "per pattern (see each run's brian2_namespace_si), the code does not",
                }
    p = adex_params("adaptation")
    pr = dict(
        eqs=ADEX_EQS,
        n=1,
        namespace=p,
        threshold=ADEX_THRESHOLD,
        reset=ADEX_RESET,
        method="euler",
        dt=0.1 * ms,
        init={"vm": -36 * mV, "w": 0},
    )
    probes = [
        {
            "what": "'adaptation' parameters (b = 60 pA), vm starts at -36 mV, w = 0, dt 0.1 ms: the "
            "blow-up, the spike and the reset (w += b on the updated w)",
            "steps": probe(pr, 4, ["vm", "w"]),
        }
    ]
    for q in probes:
        print_probe(q["what"], q["steps"])
    doc = {
        "model": "adex",
        "brian2_source": "brian-team/brian2 examples/frompapers/"
        "Naud_et_al_2008_adex_firing_patterns.py (commit 303290939a8e): "
        "its equations, threshold, reset, method, 0.6 s, vm = e_l, w = 0",
        "units": {"v": "V", "w": "A", "t": "s", "dt": "s"},
        "step_order": {"text": ADEX_STEP_ORDER, "probes": probes},
        "generated_code": code,
        "runs": runs,
    }
    return doc, timings


EIF_STEP_ORDER = (
    "Per step k (t_k = k*dt), Brian2's schedule start, groups, thresholds, synapses, resets, end: (1) state "
    "update, forward Euler from the value at the start of the step: vm_{k+1} = vm_k + dt*(g_l*(e_l - vm_k) + "
    "g_l*d_t*exp((vm_k - v_t)/d_t) + i_stim)/c_m (generated code in 'generated_code'); (2) threshold "
    "vm_{k+1} > 0 mV: the spike is recorded with t = t_k (spike step k); (3) reset of the spiking neuron: "
    "vm = v_r. No refractory period. The state traces are vm at the start of step k (after step k-1's "
    "reset), so a spike's peak value is not in the traces."
)


def eif_model(dts_ms=(0.1, 0.01)):
    import numpy as np
    from brian2 import mV, ms, pA, second

    p = {k: v for k, v in adex_params("tonic spiking").items() if k not in ("a", "tau_w", "b", "i_stim")}
    currents = np.array(EIF_CURRENTS_PA, dtype=float)
    runs, timings, code = [], [], {}
    params = {
        "c_m": _f(p["c_m"]),
        "g_l": _f(p["g_l"]),
        "e_l": _f(p["e_l"]),
        "v_t": _f(p["v_t"]),
        "delta_t": _f(p["d_t"]),
        "v_reset": _f(p["v_r"]),
        "v_peak": 0.0,
        "t_ref": 0.0,
    }
    for dt_ms in dts_ms:
        spec = dict(
            eqs=EIF_EQS,
            n=len(currents),
            namespace=p,
            threshold=ADEX_THRESHOLD,
            reset=EIF_RESET,
            method="euler",
            dt=dt_ms * ms,
            duration=1 * second,
            init={"vm": p["e_l"]},
            per_neuron={"i_stim": currents * pA},
            state=["vm"],
            theta=0.0,
            theta_var="vm",
            traces=False,
        )
        res = simulate(spec)
        pert = perturbations(spec, res, "c_m")
        rec = run_record(
            f"fI_dt{dt_ms}ms",
            spec,
            res,
            {
                "case": "f(I): a constant current per neuron for 1 s (one group, neuron j gets I_A[j])",
                "params": params,
                "brian2_namespace_si": {k: _f(v) for k, v in p.items()},
                "input": {"kind": "constant per neuron", "I_A": _floats(currents * pA)},
                "initial": {"v": _f(p["e_l"])},
                "perturbation": pert,
                "brian2_variable_names": {"v": "vm"},
            },
        )
        runs.append(fi_record(rec))
        timings.append(timing_line(f"eif f(I) {len(currents)} currents, dt {dt_ms} ms, 1 s", res, len(currents)))
        print(timings[-1], flush=True)
        if not code:
            g = res["group"]
            code["eif"] = {
                "equations": EIF_EQS.strip(),
                "threshold": ADEX_THRESHOLD,
                "reset": EIF_RESET,
                "method": "euler",
                "state_update": _code_of(g.state_updater),
                "threshold_code": _code_of(g.thresholder["spike"]),
                "reset_code": _code_of(g.resetter["spike"]),
            }
    pr = dict(
        eqs=EIF_EQS,
        n=1,
        namespace=p,
        threshold=ADEX_THRESHOLD,
        reset=EIF_RESET,
        method="euler",
        dt=0.1 * ms,
        init={"vm": -36 * mV},
        per_neuron={"i_stim": 500 * pA},
    )
    probes = [
        {
            "what": "vm starts at -36 mV, I = 500 pA, dt 0.1 ms: the blow-up, the spike and the reset",
            "steps": probe(pr, 4, ["vm"]),
        }
    ]
    for q in probes:
        print_probe(q["what"], q["steps"])
    doc = {
        "model": "eif",
        "brian2_source": "the AdEx equation of Brian2's Naud et al. 2008 example without w "
        "(a = b = 0), its 'tonic spiking' parameters",
        "units": {"v": "V", "t": "s", "dt": "s"},
        "step_order": {"text": EIF_STEP_ORDER, "probes": probes},
        "generated_code": code,
        "runs": runs,
    }
    return doc, timings


IZH_STEP_ORDER = (
    "Per step k (t_k = k*dt), Brian2's schedule start, groups, thresholds, synapses, resets, end: (1) state "
    "update, forward Euler, both variables from the values at the start of the step: v_{k+1} = v_k + "
    "dt*(k*(v_k - v_r)*(v_k - v_t) - u_k + I)/C, u_{k+1} = u_k + dt*a*(b*(v_k - v_r) - u_k) (generated code in "
    "'generated_code'); (2) threshold v_{k+1} >= v_peak: the spike is recorded with t = t_k (spike step k); "
    "(3) reset: v = c, then u += d (on the updated u_{k+1}). No refractory period. The state traces are v, u "
    "at the start of step k (after step k-1's reset)."
)


def izh_model(dts_ms=(0.1, 0.01)):
    import numpy as np
    from brian2 import mV, ms, nS, pA, pF, second

    p = {
        "C": 100 * pF,
        "k": 0.7 * nS / mV,
        "v_r": -60 * mV,
        "v_t": -40 * mV,
        "v_peak": 35 * mV,
        "a": 0.03 / ms,
        "b": -2 * nS,
        "c": -50 * mV,
        "d": 100 * pA,
    }
    params = {
        "c_m": _f(p["C"]),
        "k": _f(p["k"]),
        "v_r": _f(p["v_r"]),
        "v_t": _f(p["v_t"]),
        "v_peak": _f(p["v_peak"]),
        "a": _f(p["a"]),
        "b": _f(p["b"]),
        "c": _f(p["c"]),
        "d": _f(p["d"]),
    }
    currents = np.array(IZH_CURRENTS_PA, dtype=float)
    runs, timings, code = [], [], {}
    for dt_ms in dts_ms:
        spec = dict(
            eqs=IZH_EQS,
            n=len(currents),
            namespace=p,
            threshold=IZH_THRESHOLD,
            reset=IZH_RESET,
            method="euler",
            dt=dt_ms * ms,
            duration=1 * second,
            init={"v": p["v_r"], "u": 0 * pA},
            per_neuron={"I": currents * pA},
            state=["v", "u"],
            theta=_f(p["v_peak"]),
            theta_var="v",
        )
        res = simulate(spec)
        pert = perturbations(spec, res, "C")
        runs.append(
            run_record(
                f"constant_dt{dt_ms}ms",
                spec,
                res,
                {
                    "case": "constant currents for 1 s (one group, neuron j gets I_A[j])",
                    "params": params,
                    "brian2_namespace_si": {k: _f(v) for k, v in p.items()},
                    "input": {"kind": "constant per neuron", "I_A": _floats(currents * pA)},
                    "initial": {"v": _f(p["v_r"]), "u": 0.0},
                    "perturbation": pert,
                },
            )
        )
        timings.append(timing_line(f"izhikevich {len(currents)} currents, dt {dt_ms} ms, 1 s", res, len(currents)))
        print(timings[-1], flush=True)
        if not code:
            g = res["group"]
            code["izhikevich"] = {
                "equations": IZH_EQS.strip(),
                "threshold": IZH_THRESHOLD,
                "reset": IZH_RESET,
                "method": "euler",
                "state_update": _code_of(g.state_updater),
                "threshold_code": _code_of(g.thresholder["spike"]),
                "reset_code": _code_of(g.resetter["spike"]),
            }
    pr = dict(
        eqs=IZH_EQS,
        n=1,
        namespace=p,
        threshold=IZH_THRESHOLD,
        reset=IZH_RESET,
        method="euler",
        dt=0.1 * ms,
        init={"v": 20 * mV, "u": 0 * pA},
        per_neuron={"I": 100 * pA},
    )
    probes = [{"what": "v starts at 20 mV, u = 0, I = 100 pA, dt 0.1 ms", "steps": probe(pr, 4, ["v", "u"])}]
    for q in probes:
        print_probe(q["what"], q["steps"])
    doc = {
        "model": "izhikevich",
        "brian2_source": "Izhikevich (2007), Dynamical Systems in Neuroscience, eq. 8.5-8.6 (NeuroML "
        "izhikevich2007Cell), regular-spiking parameters of ch. 8.2.1, written for Brian2",
        "units": {"v": "V", "u": "A", "t": "s", "dt": "s"},
        "step_order": {"text": IZH_STEP_ORDER, "probes": probes},
        "generated_code": code,
        "runs": runs,
    }
    return doc, timings


# --------------------------------------------------------------------------- main


def _dump(obj) -> str:
    return json.dumps(obj, indent=None, separators=(",", ":")) + "\n"


def write_model(out: Path, name: str, doc: dict) -> list[Path]:
    """<name>.json (everything but the runs, and 'run_files') and <name>.runs-<k>.json (the runs, in order).

    Runs are packed into run files of at most RUN_FILE_BUDGET bytes each (one run per file if it is larger).
    """
    for old in out.glob(f"{name}.runs-*.json"):
        old.unlink()
    runs = doc.pop("runs")
    files, current, size = [], [], 0
    for run in runs:
        n = len(_dump(run))
        if current and size + n > RUN_FILE_BUDGET:
            files.append(current)
            current, size = [], 0
        current.append(run)
        size += n
    if current:
        files.append(current)
    names = [f"{name}.runs-{k + 1}.json" for k in range(len(files))]
    doc["run_files"] = names
    doc["run_names"] = {fname: [r["name"] for r in chunk] for fname, chunk in zip(names, files)}
    paths = [out / f"{name}.json"]
    paths[0].write_text(_dump(doc))
    for fname, chunk in zip(names, files):
        path = out / fname
        path.write_text(_dump({"model": name, "model_file": f"{name}.json", "runs": chunk}))
        paths.append(path)
    return paths


def versions() -> dict:
    import brian2
    import numpy as np
    import sympy

    try:
        from numpy.core._multiarray_umath import __cpu_features__ as feats

        simd = sorted(k for k, v in feats.items() if v and k.startswith("AVX512"))
    except Exception:  # pragma: no cover - other numpy layouts
        simd = []
    return {
        "brian2": brian2.__version__,
        "numpy": np.__version__,
        "sympy": sympy.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numpy_avx512_features": simd,
    }


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=MODELS, action="append", help="build only this model (repeatable)")
    ap.add_argument("--out", default=str(HERE / "reference"), help="output directory (default: %(default)s)")
    args = ap.parse_args(argv)
    if not _have_brian2():
        _reexec(argv, peer=True)
    if os.environ.get("PYTHONHASHSEED") != "0":
        _reexec(argv, peer=False)

    from brian2 import prefs

    prefs.codegen.target = "numpy"
    prefs.core.default_float_dtype = __import__("numpy").float64

    ver = versions()
    print(
        f"brian2 {ver['brian2']}, numpy {ver['numpy']}, sympy {ver['sympy']}, python {ver['python']} "
        f"({sys.executable}); runtime mode, numpy target, float64",
        flush=True,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    builders = {"hh_traub": hh_model, "adex": adex_model, "eif": eif_model, "izhikevich": izh_model}
    all_timings = []
    for name in args.only or MODELS:
        print(f"{name}:", flush=True)
        t0 = time.perf_counter()
        doc, timings = builders[name]()
        all_timings += timings
        doc = {
            "generated_by": "benchmarks/peers/brian2_models.py",
            "versions": ver,
            "brian2_settings": {"device": "runtime", "codegen.target": "numpy", "default_float_dtype": "float64"},
            "conventions": {
                "spike_steps": "round(t/dt) of every spike Brian2's SpikeMonitor records; t of step k is "
                "k*dt (the clock's timestep times dt), the time at the START of the step "
                "whose update carried v over the threshold",
                "traces": "the state at the start of step k (t = k*dt), after step k-1's reset; "
                "'steps' are the sampled k (about 200 evenly spaced in [0, n_steps) plus the "
                "steps first_spike-2 .. first_spike+6); 'final' is the state after the last step",
                "units": "SI (V, A, F, S, s); floats with full precision (shortest repr)",
                "robust_leading_spikes": "per neuron, how many leading spike steps every perturbation "
                "left unchanged (the spike count if none moved): spikes after "
                "that can move by a step with any other rounding",
                "threshold_margin": "min |v after the update - threshold| in volts over the steps where a "
                "spike was possible (HH: armed steps only), and that step: a spike step "
                "can move only if another implementation's v differs by more",
                "perturbation": "a list, one entry per check: the same run with the capacitance moved by "
                "'ulps' ulps (numpy.nextafter): "
                "whether the spike steps stay identical and the largest difference of each "
                "state variable over all steps and over the sampled steps (SI): the scale "
                "of the differences one rounding more or less causes; the perturbed run's "
                "spike_counts and per neuron the index of its first_differing_spike (null: "
                "none); "
                "samples_where_v_moved_over_1e-6_mV lists [neuron, step, |dv| in V] of the "
                "sampled steps where v moved by more than 1e-9 V (e.g. AdEx's step before "
                "a spike, where the exponential amplifies any difference)",
                "files": "<model>.json holds everything but the runs; its run_files hold the runs "
                "({'model', 'model_file', 'runs': [...]}), in the order they were simulated",
                "exp_note": "numpy 1.26's float64 exp on a CPU with AVX512F (versions.numpy_avx512_features) "
                "runs its own SIMD code: on the machine that built these files it differed from "
                "libm's exp (math.exp) by up to 2 ulp for 24 % of arguments in [-30, 30], and "
                "numpy's x**4 differed from math.pow(x, 4) for 14 % and from x*x*x*x for 38 %: "
                "bit-identical results to another implementation are not to be expected, "
                "agreement within rounding is (see perturbation)",
            },
            **doc,
        }
        for path in write_model(out, name, doc):
            print(f"  written: {path} ({path.stat().st_size / 1e3:.1f} kB)", flush=True)
        print(f"  {name}: {time.perf_counter() - t0:.1f} s with the perturbation runs and probes", flush=True)
    print("wall time of each case (net.run, Brian2 runtime numpy target, monitors included):")
    for line in all_timings:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
