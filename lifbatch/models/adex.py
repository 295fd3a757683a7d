"""``adex`` and ``eif``: the adaptive exponential integrate-and-fire neuron (Brette and
Gerstner 2005; Naud et al. 2008) and its non-adapting special case.

Equations (docs/workflow.md, "adex")::

    c_m dv/dt = g_l (e_l - v) + g_l delta_t exp((v - v_t) / delta_t) - w + I
    tau_w dw/dt = a (v - e_l) - w

One step (``euler``, as Brian2 takes it): v and w from their values at the start of the step
(while refractory, v stays at ``v_reset`` and w goes on); then white noise and Poisson jumps
are added to v; a spike is recorded when v > ``v_peak``, then v = ``v_reset``, w += ``b``, and
v is held for ``t_ref``. ``eif`` is the same loop with a = b = 0 and no w.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .base import NON_NEGATIVE, POSITIVE, NeuronModel, ParamSpec, StateVar, as_array, register_model

#: the largest (v_peak - v_t) / delta_t whose exponential a float holds (exp(709) ~ 8e307)
MAX_EXPONENT = 700.0


def _exponent_check(p, dt):
    ratio = (p["neuron.v_peak"] - p["neuron.v_t"]) / p["neuron.delta_t"]
    if not ratio <= MAX_EXPONENT:
        return [
            (
                "neuron.v_peak",
                f"makes exp((v_peak - v_t) / delta_t) overflow ((v_peak - v_t) / delta_t = "
                f"{ratio:.3g} > {MAX_EXPONENT:g})",
                "Lower v_peak or raise delta_t.",
            )
        ]
    if not p["neuron.v_reset"] < p["neuron.v_peak"]:
        return [("neuron.v_reset", "must be below neuron.v_peak", "Example: v_reset: -70.6 mV with v_peak: 0 mV")]
    if not p["neuron.v_init"] < p["neuron.v_peak"]:
        return [("neuron.v_init", "must be below neuron.v_peak", "Example: v_init: -70.6 mV")]
    return []


class AdEx(NeuronModel):
    name = "adex"
    params = {
        "c_m": ParamSpec("F", "281 pF", POSITIVE, "membrane capacitance"),
        "g_l": ParamSpec("S", "30 nS", POSITIVE, "leak conductance"),
        "e_l": ParamSpec("V", "-70.6 mV", None, "leak reversal potential"),
        "v_t": ParamSpec("V", "-50.4 mV", None, "threshold slope factor's midpoint (V_T)"),
        "delta_t": ParamSpec("V", "2 mV", POSITIVE, "slope factor (Delta_T)"),
        "a": ParamSpec("S", "4 nS", None, "subthreshold adaptation"),
        "tau_w": ParamSpec("s", "144 ms", POSITIVE, "adaptation time constant"),
        "b": ParamSpec("A", "80.5 pA", None, "spike-triggered adaptation"),
        "v_reset": ParamSpec("V", "-70.6 mV", None, "reset potential"),
        "v_peak": ParamSpec("V", "0 mV", None, "spike cut-off: a spike when v > v_peak"),
        "t_ref": ParamSpec("s", "0 ms", NON_NEGATIVE, "v held at v_reset this long after a spike"),
        "v_init": ParamSpec("V", "=e_l", None, "initial v"),
        "w_init": ParamSpec("A", "0 pA", None, "initial w"),
    }
    # the base class's type, not the inferred pair: EIF overrides it with v alone
    state: ClassVar[tuple[StateVar, ...]] = (StateVar("v", "V"), StateVar("w", "A"))
    methods = ("euler",)
    default_method = "euler"
    spike_param = "v_peak"
    spike_rule = "v > v_peak, then v = v_reset, w += b, v held for t_ref"
    state_has_w = True
    cost = 2.1
    max_dt = 0.1e-3

    def check(self, p, dt):
        return _exponent_check(p, dt)

    def rheobase(self, p):
        """The saddle node of the steady-state I-V curve (w = a (v - e_l)): with g = g_l + a,
        I_rh = g (v_t - e_l - delta_t + delta_t ln(g / g_l)) (Touboul 2008; g_l (v_t - e_l -
        delta_t) without adaptation)."""
        g_l, a = p["neuron.g_l"], p.get("neuron.a", 0.0)
        g = g_l + a
        if not g > 0:
            return None
        d = p["neuron.delta_t"]
        return g * (p["neuron.v_t"] - p["neuron.e_l"] - d + d * math.log(g / g_l))

    def run(self, p, dt, method, inputs, out, options=None):
        arr = np.append(
            as_array(
                p, ["c_m", "g_l", "e_l", "v_t", "delta_t", "a", "tau_w", "b", "v_reset", "v_peak", "v_init", "w_init"]
            ),
            [dt, 1.0 if self.state_has_w else 0.0],
        )
        # (deferred: the numba loop; reading a workflow (`lifbatch validate`) imports no numba)
        from .adex_loop import adex_trials
        from .loops import call

        call(adex_trials, arr, inputs, out, (int(round(p["neuron.t_ref"] / dt)),))


class EIF(AdEx):
    name = "eif"
    params = {k: v for k, v in AdEx.params.items() if k not in ("a", "tau_w", "b", "w_init")}
    state = (StateVar("v", "V"),)
    spike_rule = "v > v_peak, then v = v_reset, held for t_ref"
    state_has_w = False
    cost = 2.1
    theory = True

    def rate(self, p, current):
        """1 / (the time from v_reset to v_peak + t_ref) under a constant current, by quadrature
        of dt = c_m dv / (g_l (e_l - v) + g_l delta_t exp((v - v_t) / delta_t) + I); 0 at or
        below the rheobase (v settles at its stable fixed point)."""
        if not current > self.rheobase(p):
            return 0.0
        from scipy.integrate import quad  # (deferred: scipy only for the theory line)

        c_m, g_l, e_l, v_t, d = (p[f"neuron.{k}"] for k in ("c_m", "g_l", "e_l", "v_t", "delta_t"))
        period, _ = quad(
            lambda v: c_m / (g_l * (e_l - v) + g_l * d * math.exp((v - v_t) / d) + current),
            p["neuron.v_reset"],
            p["neuron.v_peak"],
            limit=200,
            epsabs=0,
            epsrel=1e-10,
        )
        return 1.0 / (period + p["neuron.t_ref"])

    def run(self, p, dt, method, inputs, out, options=None):
        q = dict(p, **{"neuron.a": 0.0, "neuron.tau_w": 1.0, "neuron.b": 0.0, "neuron.w_init": 0.0})
        super().run(q, dt, method, inputs, out, options)


register_model(AdEx())
register_model(EIF())
