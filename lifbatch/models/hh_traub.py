"""``hh_traub``: the Hodgkin-Huxley neuron of the Brian2 tutorial, part 3 ("Changing things
during a run"): Traub-Miles rate functions shifted by ``v_t``.

Equations (docs/workflow.md, "hh_traub")::

    c_m dv/dt = g_l (e_l - v) - g_na m^3 h (v - e_na) - g_k n^4 (v - e_k) + I
    dm/dt = alpha_m (1 - m) - beta_m m,   and the same for n, h

with, in mV and ms, u = v - v_t:
alpha_m = 0.32 (13 - u) / (exp((13 - u)/4) - 1), beta_m = 0.28 (u - 40) / (exp((u - 40)/5) - 1),
alpha_n = 0.032 (15 - u) / (exp((15 - u)/5) - 1), beta_n = 0.5 exp((10 - u)/40),
alpha_h = 0.128 exp((17 - u)/18), beta_h = 4 / (1 + exp((40 - u)/5)).
Their removable singularities (u = 13, 15 and 40 mV exactly) take their limits.

One step (``exponential_euler``, Brian2's scheme): every variable from the values at the
start of the step; v is affine given the gates (it relaxes exactly toward
``(g_l e_l + g_na m^3 h e_na + g_k n^4 e_k + I) / g_total`` with rate ``g_total / c_m``), each
gate relaxes exactly toward ``alpha / (alpha + beta)`` with rate ``alpha + beta``. Then white
noise and Poisson jumps are added to v. A spike is recorded when v > ``v_spike`` and the
neuron is armed: armed at the start, disarmed by a spike, re-armed at the start of a step
with v <= ``v_spike`` (Brian2's ``threshold`` and ``refractory`` ``v > -40*mV``: its
``not_refractory = not_refractory or not (v > -40*mV)``); there is no reset.
"""

from __future__ import annotations

import numpy as np

from .base import NON_NEGATIVE, POSITIVE, NeuronModel, ParamSpec, StateVar, as_array, register_model

_AREA = " * 20000 um**2"


class HHTraub(NeuronModel):
    name = "hh_traub"
    params = {
        "c_m": ParamSpec("F", "1 uF/cm**2" + _AREA, POSITIVE, "membrane capacitance"),
        "g_l": ParamSpec("S", "5e-5 S/cm**2" + _AREA, POSITIVE, "leak conductance"),
        "g_na": ParamSpec("S", "100 mS/cm**2" + _AREA, NON_NEGATIVE, "sodium conductance"),
        "g_k": ParamSpec("S", "30 mS/cm**2" + _AREA, NON_NEGATIVE, "potassium (delayed rectifier) conductance"),
        "e_l": ParamSpec("V", "-65 mV", None, "leak reversal potential"),
        "e_na": ParamSpec("V", "50 mV", None, "sodium reversal potential"),
        "e_k": ParamSpec("V", "-90 mV", None, "potassium reversal potential"),
        "v_t": ParamSpec("V", "-63 mV", None, "shift of the rate functions (VT)"),
        "v_spike": ParamSpec("V", "-40 mV", None, "spike detection level (an upward crossing)"),
        "v_init": ParamSpec("V", "=e_l", None, "initial v"),
    }
    options = {"gates_init": ("zero", "steady_state")}
    state = (StateVar("v", "V"), StateVar("m", "1"), StateVar("n", "1"), StateVar("h", "1"))
    methods = ("exponential_euler", "euler")
    default_method = "exponential_euler"
    spike_param = "v_spike"
    spike_rule = (
        "v > v_spike when armed (armed at the start, disarmed by a spike, re-armed at a step starting "
        "at v <= v_spike): an upward crossing; no reset"
    )
    cost = 5.7
    max_dt = 0.05e-3

    def rheobase(self, p):
        """The first local maximum above e_l of the steady-state I-V curve, I_ss(v) = g_l (v - e_l)
        + g_na m_inf^3 h_inf (v - e_na) + g_k n_inf^4 (v - e_k) (its saddle node; a current
        above it leaves no resting state near e_l), or None where I_ss rises monotonically."""
        # (deferred: scipy and the numba loop only for the rheobase; validate imports no numba)
        from scipy.optimize import minimize_scalar

        from .hh_traub_loop import rates

        v_t = p["neuron.v_t"]

        def i_ss(v):
            am, bm, an, bn, ah, bh = rates(v, v_t)
            m, n, h = am / (am + bm), an / (an + bn), ah / (ah + bh)
            return (
                p["neuron.g_l"] * (v - p["neuron.e_l"])
                + p["neuron.g_na"] * m**3 * h * (v - p["neuron.e_na"])
                + p["neuron.g_k"] * n**4 * (v - p["neuron.e_k"])
            )

        grid = np.linspace(p["neuron.e_l"], p["neuron.e_na"], 2001)
        values = np.array([i_ss(v) for v in grid])
        peaks = np.flatnonzero((values[1:-1] > values[:-2]) & (values[1:-1] >= values[2:])) + 1
        if not peaks.size:
            return None
        k = peaks[0]
        best = minimize_scalar(
            lambda v: -i_ss(v), bounds=(grid[k - 1], grid[k + 1]), method="bounded", options={"xatol": 1e-9}
        )
        return float(-best.fun)

    def run(self, p, dt, method, inputs, out, options=None):
        steady = 1.0 if (options or {}).get("gates_init") == "steady_state" else 0.0
        arr = np.append(
            as_array(p, ["c_m", "g_l", "g_na", "g_k", "e_l", "e_na", "e_k", "v_t", "v_spike", "v_init"]), [steady, dt]
        )
        # (deferred: the numba loop; reading a workflow (`lifbatch validate`) imports no numba)
        from .hh_traub_loop import hh_trials
        from .loops import call

        call(hh_trials, arr, inputs, out, (method == "exponential_euler",))


register_model(HHTraub())
