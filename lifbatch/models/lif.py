"""``lif``: the leaky integrate-and-fire neuron, lifbatch's first model (the default).

Its parameters, checks and messages are the workflow parser's own (they predate the
registry, and every store and pinned fingerprint depends on them), and its loops are in
``lif_loop.py`` beside it (``lif_trials`` and its specializations, bit for bit as they were in
the kernel, and ``lif_syn_trials`` for conductance inputs), run by
:class:`lifbatch.point.PointModel`; this entry makes it a model like the others for
everything that asks the registry (validate, docs, figures, theory).
"""

from __future__ import annotations

from .base import NeuronModel, ParamSpec, StateVar, register_model


class LIF(NeuronModel):
    name = "lif"
    params = {
        "tau_m": ParamSpec("s", None, None, "membrane time constant (or inf: no leak)"),
        "v_th": ParamSpec("V", None, None, "threshold (or inf: no spikes)"),
        "e_l": ParamSpec("V", "0", None, "leak reversal potential"),
        "v_reset": ParamSpec("V", "=e_l", None, "reset potential"),
        "v_init": ParamSpec("V", "=e_l", None, "initial V"),
        "t_ref": ParamSpec("s", "0 ms", None, "refractory period (V held at v_reset)"),
        "r_m": ParamSpec("ohm", "1", None, "membrane resistance (a current enters as r_m I)"),
    }
    state = (StateVar("v", "V"),)
    methods = ("euler", "exact")
    default_method = "euler"
    spike_param = "v_th"
    spike_rule = "v > v_th, then v = v_reset, held for t_ref"
    roles = {"current": "r_m I / tau_m", "voltage": "mu / tau_m", "voltage_rate": "r"}
    theory = True

    def noise_tau(self, params):
        return params["neuron.tau_m"]


register_model(LIF())
