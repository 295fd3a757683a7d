"""``izhikevich``: Izhikevich's simple model in its dimensional form (Izhikevich 2007,
"Dynamical systems in neuroscience", ch. 8; NeuroML's ``izhikevich2007Cell``).

Equations (docs/workflow.md, "izhikevich")::

    c_m dv/dt = k (v - v_r) (v - v_t) - u + I
    du/dt = a (b (v - v_r) - u)

One step (``euler``): v and u from their values at the start of the step; white noise and
Poisson jumps added to v; a spike when v >= ``v_peak``, then v = ``c``, u += ``d``.
The classic dimensionless a, b, c, d sets (``0.04 v^2 + 5 v + 140 - u + I``, v in mV, t in
ms) are this model with c_m = 1 pF... see docs/workflow.md for the mapping.
"""

from __future__ import annotations

import numpy as np

from .base import POSITIVE, NeuronModel, ParamSpec, StateVar, as_array, register_model


class Izhikevich(NeuronModel):
    name = "izhikevich"
    # regular spiking (Izhikevich 2007, ch. 8)
    params = {
        "c_m": ParamSpec("F", "100 pF", POSITIVE, "membrane capacitance (C)"),
        "k": ParamSpec("S/V", "0.7 nS/mV", POSITIVE, "scale of the quadratic term"),
        "v_r": ParamSpec("V", "-60 mV", None, "resting potential"),
        "v_t": ParamSpec("V", "-40 mV", None, "instantaneous threshold potential"),
        "v_peak": ParamSpec("V", "35 mV", None, "spike cut-off: a spike when v >= v_peak"),
        "a": ParamSpec("1/s", "0.03 / ms", POSITIVE, "recovery rate"),
        "b": ParamSpec("S", "-2 nS", None, "sensitivity of u to v"),
        "c": ParamSpec("V", "-50 mV", None, "reset potential"),
        "d": ParamSpec("A", "100 pA", None, "jump of u at a spike"),
        "v_init": ParamSpec("V", "=v_r", None, "initial v"),
        "u_init": ParamSpec("A", "0 pA", None, "initial u"),
    }
    state = (StateVar("v", "V"), StateVar("u", "A"))
    methods = ("euler",)
    default_method = "euler"
    spike_param = "v_peak"
    spike_rule = "v >= v_peak, then v = c, u += d"
    cost = 1.8
    max_dt = 0.1e-3

    def check(self, p, dt):
        if not p["neuron.v_t"] > p["neuron.v_r"]:
            return [("neuron.v_t", "must be above neuron.v_r", "Example: v_r: -60 mV, v_t: -40 mV")]
        if not p["neuron.c"] < p["neuron.v_peak"]:
            return [("neuron.c", "must be below neuron.v_peak", "Example: c: -50 mV with v_peak: 35 mV")]
        return []

    def rheobase(self, p):
        """The maximum of the steady-state I-V curve (u = b (v - v_r)): I_ss(v) = -k (v - v_r)
        (v - v_t) + b (v - v_r), at v* = (v_r + v_t + b / k) / 2."""
        k, v_r, v_t, b = p["neuron.k"], p["neuron.v_r"], p["neuron.v_t"], p["neuron.b"]
        v = (v_r + v_t + b / k) / 2
        return -k * (v - v_r) * (v - v_t) + b * (v - v_r)

    def noise_tau(self, p):
        return p["neuron.c_m"] / (p["neuron.k"] * (p["neuron.v_t"] - p["neuron.v_r"]))

    def run(self, p, dt, method, inputs, out, options=None):
        arr = np.append(as_array(p, ["c_m", "k", "v_r", "v_t", "v_peak", "a", "b", "c", "d", "v_init", "u_init"]), [dt])
        # (deferred: the numba loop; reading a workflow (`lifbatch validate`) imports no numba)
        from .izhikevich_loop import izhikevich_trials
        from .loops import call

        call(izhikevich_trials, arr, inputs, out)


register_model(Izhikevich())
