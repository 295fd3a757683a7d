"""Neuron models as plug-ins (lifbatch.models): contract tests over the registry, a toy model
registered here from YAML to a store, and each model's own properties."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import lifbatch
from lifbatch.errors import WorkflowError
from lifbatch.inputs import point_streams
from lifbatch.models import MODELS, NeuronModel, ParamSpec, StateVar, register_model
from lifbatch.point import PointModel

from conftest import assert_identical

#: every model's inputs: a current swept, white noise, Poisson jumps and a uniform drive
BASE = {
    "name": "models",
    "seed": 3,
    "trials": 3,
    "duration": "100 ms",
    "dt": "0.05 ms",
    "inputs": {
        "i": {"kind": "constant", "value": "300 pA"},
        "u": {"kind": "uniform", "mean": "50 pA", "half_width": "20 pA"},
        "n": {"kind": "white_noise", "sigma": "1 mV"},
        "p": {"kind": "poisson", "rate": "200 Hz", "weight": "0.3 mV", "n": 4},
        "g": {
            "kind": "poisson_conductance",
            "rate": "50 Hz",
            "n": 20,
            "weight": "0.5 nS",
            "tau": "5 ms",
            "e_rev": "0 mV",
        },
    },
    "sweep": {"I": {"param": "inputs.i.value", "values": [100, 400, 800, 1600], "unit": "pA"}},
    "record": {"v": {"trials": [0, 2], "every": "0.5 ms"}},
    "summaries": {"warmup": "20 ms", "moments": {"every": "0.5 ms"}},
}
LIF_NEURON = {
    "tau_m": "20 ms",
    "v_th": "-50 mV",
    "e_l": "-65 mV",
    "v_reset": "-65 mV",
    "t_ref": "2 ms",
    "r_m": "100 Mohm",
}
#: every registered model (the contract tests run over the registry: a model added to it is tested)
BUILT_IN = ["lif"] + sorted(m for m in MODELS if m != "lif")


def _wf(model: str, **changes) -> dict:
    raw = copy.deepcopy(BASE)
    raw["name"] = f"models-{model.replace('_', '-')}"
    raw["neuron"] = dict(LIF_NEURON) if model == "lif" else {"model": model}
    raw.update(changes)
    return raw


@pytest.mark.parametrize("model", BUILT_IN)
def test_every_model_parses_with_its_defaults_and_names_itself_in_its_identity(model):
    wf = lifbatch.load_workflow(_wf(model))
    assert wf.model == model and wf.method == MODELS[model].default_method
    assert ('"model"' in wf.canonical) == (model != "lif")  # lif keeps the identity of stores made before models
    for key in MODELS[model].params:
        assert f"neuron.{key}" in wf.params
    # round trip: the workflow as written loads to the same identity
    assert lifbatch.load_workflow(wf.to_dict()).fingerprint == wf.fingerprint


def test_models_have_distinct_identities():
    prints = {lifbatch.load_workflow(_wf(m)).fingerprint for m in BUILT_IN}
    assert len(prints) == len(BUILT_IN)


@pytest.mark.slow
@pytest.mark.parametrize("model", BUILT_IN)
def test_run_equals_simulate_at_any_block_size(model, tmp_path):
    raw = _wf(model)
    direct = lifbatch.simulate(raw)
    assert int(direct["spike_count"].sum()) > 0, "a model that never fires tests nothing"
    for ppt, workers in ((1, 2), (3, 1)):
        store = tmp_path / f"s{ppt}.zarr"
        lifbatch.run_sweep(raw, store, points_per_task=ppt, workers=workers, progress=False, log=lambda m: None)
        assert_identical(lifbatch.open_results(store).load(), direct)


@pytest.mark.parametrize("model", BUILT_IN[1:])
def test_every_model_draws_the_same_numbers_as_the_lif(model):
    """Common random numbers across models: after one point, every stream has advanced by the
    same draws (one normal, one uniform per uniform drive, one Poisson count per Poisson drive
    per trial and step), so the same workflow under another model sees the same inputs."""
    states = {}
    for m in ("lif", model):
        wf = lifbatch.load_workflow(_wf(m))
        pm = PointModel(wf)
        params = wf.point_params((1,))
        streams = point_streams(wf, params)
        pm.simulate(params, streams=streams)
        states[m] = {name: streams.state(name).copy() for name in ("noise", "uniform", "poisson")}
    for name in ("noise", "uniform", "poisson"):
        assert np.array_equal(states["lif"][name], states[model][name]), name


def test_the_poisson_input_is_the_same_realization_for_every_model():
    """Poisson jumps alone, no other drive, v far below any threshold: v - v_init is the sum of
    the jumps so far, the same for a LIF without leak and for... every model's first steps: the
    jump counts come from one stream, drawn in one order."""
    raw = {
        "name": "jumps",
        "seed": 9,
        "trials": 2,
        "duration": "2 ms",
        "dt": "0.1 ms",
        "inputs": {"p": {"kind": "poisson", "rate": "2 kHz", "weight": "0.01 mV", "n": 10}},
        "record": {"v": {"trials": "all", "every": "0.1 ms"}},
    }
    lif = lifbatch.simulate({**raw, "neuron": {"tau_m": "inf", "v_th": "0 mV", "e_l": "-65 mV"}})
    jumps = np.diff(lif["v"].values, axis=-1)
    assert np.any(jumps > 0)
    izh = lifbatch.simulate({**raw, "neuron": {"model": "izhikevich", "v_init": "-60 mV", "u_init": "0 pA"}})
    # izhikevich at rest (v = v_r, u = 0) has dv = 0 but for the jumps at first; the jumps' steps agree
    got = np.diff(izh["v"].values, axis=-1)
    assert np.array_equal(got[..., 0] > 0, jumps[..., 0] > 0)
    assert np.allclose(got[..., 0], jumps[..., 0], rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- #
# a toy model registered here: nothing else needs to know it
# --------------------------------------------------------------------------- #
class PerfectIntegrator(NeuronModel):
    """c_m dv/dt = I; a spike when v > v_th, then v = 0 (numpy, constant drives only)."""

    name = "toy_pif"
    params = {"c_m": ParamSpec("F", "100 pF"), "v_th": ParamSpec("V", "10 mV")}
    state = (StateVar("v", "V"),)
    methods = ("euler",)
    default_method = "euler"
    spike_param = "v_th"
    spike_rule = "v > v_th, then v = 0"

    def noise_tau(self, p):
        return 1.0

    def run(self, p, dt, method, inputs, out, options=None):
        x = inputs["x_base"]
        for tr in range(out.bits.shape[0]):
            v, spikes = 0.0, []
            out.moments[tr, 0] = v
            for s in range(x.shape[0]):
                v = v + dt * x[s] / p["neuron.c_m"]
                if v > p["neuron.v_th"]:
                    spikes.append(s)
                    v = 0.0
                if (s + 1) % inputs["mom_stride"] == 0:
                    out.moments[tr, (s + 1) // inputs["mom_stride"]] = v
            for s in spikes:
                out.bits[tr, s >> 3] |= np.uint8(128 >> (s & 7))
            out.counts[tr] = len(spikes)


@pytest.fixture
def toy():
    model = register_model(PerfectIntegrator())
    yield model
    del MODELS[model.name]


def test_a_model_registered_in_a_test_goes_from_yaml_to_a_store(toy, tmp_path):
    import yaml

    path = tmp_path / "toy.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "toy",
                "duration": "100 ms",
                "dt": "0.1 ms",
                "neuron": {"model": "toy_pif", "v_th": "10 mV"},
                "inputs": {"i": {"kind": "constant", "value": "1 nA"}},
                "sweep": {"c": {"param": "neuron.c_m", "values": [100, 200], "unit": "pF"}},
            }
        )
    )
    store = tmp_path / "toy.zarr"
    lifbatch.run_sweep(str(path), store, progress=False, log=lambda m: None)
    ds = lifbatch.open_results(store)
    # dv/dt = 1 nA / 100 pF = 10 V/s: 1 mV a step, and ten steps of 0.001 add up to 0.010000000000000002
    # > v_th: a spike every 10 steps of the 1000 (every 20 at 200 pF)
    assert sum([0.001] * 10) > 0.01
    assert ds["spike_count"].values.ravel().tolist() == [1000 // 10, 1000 // 20]
    with pytest.raises(ValueError, match="registered already"):
        register_model(PerfectIntegrator())


# --------------------------------------------------------------------------- #
# one-line errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "neuron, words",
    [
        (
            {"model": "hh_traub", "tau_m": "10 ms"},
            r"`neuron.tau_m` is not a parameter of model hh_traub; did you mean `c_m`\?",
        ),
        ({"model": "adex", "v_th": "-50 mV"}, r"`neuron.v_th` is not a parameter of model adex; did you mean `v_t`\?"),
        ({"model": "hh_traub", "c_m": "10 mV"}, r"`neuron.c_m` must be a capacitance|`neuron.c_m` must be in F"),
        ({"model": "hh_traub", "c_m": "-1 pF"}, r"`neuron.c_m` must be positive"),
        ({"model": "hh_traub", "gates_init": "half"}, r"`neuron.gates_init` must be one of zero, steady_state"),
        (
            {"model": "adex", "delta_t": "0.01 mV", "v_peak": "20 mV"},
            r"`neuron.v_peak` makes exp\(\(v_peak - v_t\) / delta_t\) overflow",
        ),
        ({"model": "izhikevich", "v_t": "-70 mV"}, r"`neuron.v_t` must be above neuron.v_r"),
        ({"model": "lfi"}, r"`neuron.model` must be one of .*lif.*Did you mean `lif`\?"),
    ],
)
def test_a_models_bad_fields_are_one_line(neuron, words):
    raw = _wf("lif")
    raw["neuron"] = neuron
    with pytest.raises(WorkflowError, match=words) as err:
        lifbatch.load_workflow(raw)
    assert "\n" not in str(err.value)


def test_a_voltage_drive_on_a_conductance_model_names_what_is_allowed():
    raw = _wf("hh_traub")
    raw["inputs"]["i"]["value"] = "15 mV"
    with pytest.raises(
        WorkflowError,
        match=r"`inputs.i.value` must be a current for model hh_traub \(it enters as "
        r"I / c_m",
    ):
        lifbatch.load_workflow({**raw, "sweep": {}})


def test_a_swept_parameter_breaking_a_models_check_names_the_axis():
    raw = _wf("adex", sweep={"vp": {"param": "neuron.v_peak", "values": [0, -80], "unit": "mV"}})
    with pytest.raises(
        WorkflowError,
        match=r"`sweep.vp` gives neuron.v_reset \(-70.6 mV\), which must be below neuron.v_peak, "
        r"got '-80 mV'",
    ):
        lifbatch.load_workflow(raw)


def test_method_is_the_models():
    with pytest.raises(WorkflowError, match=r"`method` must be one of exponential_euler, euler for model hh_traub"):
        lifbatch.load_workflow(_wf("hh_traub", method="exact"))
    assert lifbatch.load_workflow(_wf("hh_traub", method="euler")).method == "euler"


def test_the_theory_applies_to_the_lif_only():
    from lifbatch import theory

    for model in BUILT_IN:
        raw = _wf(model)
        raw["inputs"] = {k: v for k, v in raw["inputs"].items() if k in ("i", "n")}
        assert theory.applies(lifbatch.load_workflow(raw)) == (model == "lif")


# --------------------------------------------------------------------------- #
# hh_traub's numerics
# --------------------------------------------------------------------------- #
def test_hh_rate_functions_are_finite_on_their_singularities():
    from lifbatch.models.hh_traub_loop import rates

    v_t = -0.063
    for u_mv in (13.0, 15.0, 40.0):
        got = rates(v_t + u_mv * 1e-3, v_t)
        assert all(math.isfinite(x) and x >= 0 for x in got), (u_mv, got)
    # the limits: alpha_m -> 0.32 * 4 /ms at 13 mV, beta_m -> 0.28 * 5 /ms at 40 mV, alpha_n -> 0.032 * 5 /ms at 15 mV
    assert rates(v_t + 0.013, v_t)[0] == pytest.approx(1280.0, rel=1e-12)
    assert rates(v_t + 0.040, v_t)[1] == pytest.approx(1400.0, rel=1e-12)
    assert rates(v_t + 0.015, v_t)[2] == pytest.approx(160.0, rel=1e-12)
    # and continuous there: a step of 1 nV away changes them by far less than a percent
    for u_mv, k in ((13.0, 0), (40.0, 1), (15.0, 2)):
        assert rates(v_t + u_mv * 1e-3 + 1e-9, v_t)[k] == pytest.approx(rates(v_t + u_mv * 1e-3, v_t)[k], rel=1e-3)


@pytest.mark.parametrize("u_mv", [13.0, 15.0, 40.0])
def test_hh_started_on_a_singularity_stays_finite(u_mv):
    raw = {
        "name": "hh-sing",
        "duration": "20 ms",
        "dt": "0.01 ms",
        "neuron": {"model": "hh_traub", "v_init": f"{-63 + u_mv} mV", "gates_init": "steady_state"},
        "inputs": {"i": {"kind": "constant", "value": "1 nA"}},
        "record": {"v": {"trials": "all", "every": "0.01 ms"}},
    }
    ds = lifbatch.simulate(raw)
    assert np.isfinite(ds["v"].values).all()


@pytest.mark.slow
def test_hh_spike_counts_converge_to_a_tight_ode_solution_as_dt_shrinks():
    """The spike count of 200 ms at a constant 2 nA under exponential Euler approaches that of
    scipy's solve_ivp (LSODA, rtol 1e-10): the error does not grow as dt shrinks and is at
    most one spike at dt 5 us."""
    from scipy.integrate import solve_ivp

    from lifbatch.models.hh_traub_loop import rates

    wf = lifbatch.load_workflow(
        {
            "name": "hh-conv",
            "duration": "200 ms",
            "dt": "0.1 ms",
            "neuron": {"model": "hh_traub"},
            "inputs": {"i": {"kind": "constant", "value": "2 nA"}},
        }
    )
    p = wf.params
    c_m, g_l, g_na, g_k = p["neuron.c_m"], p["neuron.g_l"], p["neuron.g_na"], p["neuron.g_k"]
    e_l, e_na, e_k, v_t, v_spike = (p[f"neuron.{k}"] for k in ("e_l", "e_na", "e_k", "v_t", "v_spike"))

    def f(t, y):
        v, m, n, h = y
        am, bm, an, bn, ah, bh = rates(v, v_t)
        dv = (g_l * (e_l - v) - g_na * m**3 * h * (v - e_na) - g_k * n**4 * (v - e_k) + 2e-9) / c_m
        return [dv, am * (1 - m) - bm * m, an * (1 - n) - bn * n, ah * (1 - h) - bh * h]

    def crossing(t, y):
        return y[0] - v_spike

    crossing.direction = 1
    sol = solve_ivp(f, (0, 0.2), [e_l, 0, 0, 0], method="LSODA", rtol=1e-10, atol=1e-12, events=crossing)
    want = len(sol.t_events[0])
    assert want > 5
    errors = []
    for dt in ("0.1 ms", "0.05 ms", "0.01 ms", "0.005 ms"):
        ds = lifbatch.simulate({**wf.to_dict(), "dt": dt})
        errors.append(abs(int(ds["spike_count"].values.sum()) - want))
    assert errors == sorted(errors, reverse=True) and errors[-1] <= 1, (want, errors)


# --------------------------------------------------------------------------- #
# theory where it exists
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("model", ["eif", "izhikevich", "hh_traub"])
def test_the_rheobase_separates_silence_from_firing(model):
    """1 s of a constant current 1 % below the model's rheobase (its steady-state I-V curve's
    saddle node) gives no spike from rest; 3 % above, at least one."""
    from lifbatch.theory import rheobase

    wf = lifbatch.load_workflow(
        {
            "name": "rh",
            "duration": "1 s",
            "dt": "0.01 ms",
            "neuron": {"model": model, **({"gates_init": "steady_state"} if model == "hh_traub" else {})},
            "inputs": {"i": {"kind": "constant", "value": "1 pA"}},
        }
    )
    i_rh = rheobase(wf, dict(wf.params))
    assert i_rh is not None and i_rh > 0
    raw = wf.to_dict()
    raw["sweep"] = {"I": {"param": "inputs.i.value", "values": [0.99 * i_rh * 1e12, 1.03 * i_rh * 1e12], "unit": "pA"}}
    counts = lifbatch.simulate(raw)["spike_count"].values.ravel()
    assert counts[0] == 0 and counts[1] >= 1, (i_rh, counts)


def test_adex_rheobase_is_the_maximum_of_its_steady_state_iv_curve():
    from lifbatch.theory import rheobase

    wf = lifbatch.load_workflow({"name": "rh", "duration": "10 ms", "neuron": {"model": "adex"}})
    p = dict(wf.params)
    v = np.linspace(p["neuron.e_l"], p["neuron.v_t"] + 5 * p["neuron.delta_t"], 200001)
    i_ss = (p["neuron.g_l"] + p["neuron.a"]) * (v - p["neuron.e_l"]) - p["neuron.g_l"] * p["neuron.delta_t"] * np.exp(
        (v - p["neuron.v_t"]) / p["neuron.delta_t"]
    )
    assert rheobase(wf, p) == pytest.approx(i_ss.max(), rel=1e-9)


@pytest.mark.slow
def test_eif_rate_follows_its_quadrature():
    """The EIF's rate under constant currents: 1 / (the quadrature of c_m dv / F(v) from v_reset
    to v_peak + t_ref) within 1.5 % of the simulation at dt 10 us, and 0 below the rheobase;
    drawn by the rate figures as theory (lifbatch.theory.theory_rate)."""
    from lifbatch.theory import theory_rate

    raw = {
        "name": "eif-fi",
        "duration": "2 s",
        "dt": "0.01 ms",
        "neuron": {"model": "eif", "t_ref": "2 ms"},
        "inputs": {"i": {"kind": "constant", "value": "1 pA"}},
        "sweep": {"I": {"param": "inputs.i.value", "values": [400, 600, 800, 1200, 2000], "unit": "pA"}},
    }
    ds = lifbatch.simulate(raw)
    th = theory_rate(ds)
    assert th is not None and th.attrs["long_name"] == "theory (eif, constant input)"
    rate = ds["rate"].values
    assert th.values[0] == 0 and rate[0] == 0
    assert np.allclose(rate[1:], th.values[1:], rtol=0.015), (rate, th.values)
    # one spike fewer or more in 2 s is 0.5 Hz: the agreement is not an accident of rounding
    assert (rate[1:] > 10).all()


def test_no_theory_for_models_without_one():
    from lifbatch.theory import theory_cv, theory_ou, theory_rate

    ds = lifbatch.simulate(
        {
            "name": "hh",
            "duration": "20 ms",
            "dt": "0.01 ms",
            "neuron": {"model": "hh_traub"},
            "inputs": {"i": {"kind": "constant", "value": "1 nA"}},
        }
    )
    assert theory_rate(ds) is None and theory_cv(ds) is None and theory_ou(ds) is None


def test_timed_array_values_inline_equal_the_same_samples_from_a_file(tmp_path):
    """`timed_array.values` (inline samples) drive a model exactly as the same numbers in a file
    do; one list per trial too; the recorded input is the samples, held for their dt."""
    samples = [[36.9, 6.9, 11.5, 48.3, 30.7], [0.0, 10.0, 20.0, 30.0, 40.0]]
    np.save(tmp_path / "i.npy", np.array(samples).T)
    base = {
        "name": "ta",
        "trials": 2,
        "duration": "50 ms",
        "dt": "0.01 ms",
        "neuron": {"model": "hh_traub"},
        "record": {"v": {"trials": "all", "every": "0.1 ms"}, "inputs": ["I"]},
    }
    inline = lifbatch.simulate(
        {**base, "inputs": {"I": {"kind": "timed_array", "values": samples, "dt": "10 ms", "unit": "nA"}}}
    )
    filed = lifbatch.load_workflow(
        {**base, "inputs": {"I": {"kind": "timed_array", "file": str(tmp_path / "i.npy"), "dt": "10 ms", "unit": "nA"}}}
    )
    assert_identical(inline, lifbatch.simulate(filed), ["spike_bits", "v", "input_I"])
    got = inline["input_I"].values[:, ::100] * 1e9  # every 10 ms
    assert np.allclose(got[:, :5], samples, rtol=1e-12) and np.isnan(got[:, 5]).all()
    with pytest.raises(WorkflowError, match="needs exactly one of file and values"):
        lifbatch.load_workflow({**base, "inputs": {"I": {"kind": "timed_array", "dt": "10 ms", "unit": "nA"}}})


# --------------------------------------------------------------------------- #
# conductance input (poisson_conductance) for every model
# --------------------------------------------------------------------------- #
@pytest.mark.slow
@pytest.mark.parametrize("model", BUILT_IN)
def test_conductance_input_follows_shot_noise_theory(model):
    """The conductance of an exponential synapse driven by n Poisson sources (Campbell's theorem,
    in the discrete form the step order gives: g <- g exp(-dt/tau) + w c, c ~ Poisson(n rate dt)):
    mean n rate dt w / (1 - exp(-dt/tau)) (~ n rate w tau) and variance n rate dt w^2 / (1 -
    exp(-2 dt/tau)) (~ n rate w^2 tau / 2), within 4 standard errors over 40 trials x 2 s,
    whatever the neuron does with it."""
    n, rate, w, tau, dt = 200, 10.0, 1e-9, 5e-3, 1e-4
    neuron = dict(LIF_NEURON) if model == "lif" else {"model": model}
    ds = lifbatch.simulate(
        {
            "name": "campbell",
            "seed": 11,
            "trials": 40,
            "duration": "2 s",
            "dt": "0.1 ms",
            "neuron": neuron,
            "inputs": {
                "e": {
                    "kind": "poisson_conductance",
                    "rate": "10 Hz",
                    "n": n,
                    "weight": "1 nS",
                    "tau": "5 ms",
                    "e_rev": "0 mV",
                }
            },
            "record": {"v": {"trials": "all", "every": "1 ms"}, "state": ["g_e"]},
        }
    )
    g = ds["g_e"].values[..., 100:]  # after 100 ms (20 tau)
    lam, decay = n * rate * dt, math.exp(-dt / tau)
    mean, var = lam * w / (1 - decay), lam * w * w / (1 - decay * decay)
    # (the discrete mean is the continuous one times (dt/tau) / (1 - exp(-dt/tau)) ~ 1 + dt / (2 tau))
    assert mean == pytest.approx(n * rate * w * tau * (1 + dt / (2 * tau)), rel=1e-4)
    # (samples 1 ms = 0.2 tau apart are correlated: the standard error counts independent trials)
    per_trial = g.mean(axis=-1).ravel()
    assert abs(per_trial.mean() - mean) < 4 * per_trial.std(ddof=1) / math.sqrt(per_trial.size) + 1e-3 * mean
    assert g.var() == pytest.approx(var, rel=0.05)


def test_conductance_and_voltage_poisson_drives_draw_the_same_counts():
    """A poisson_conductance drive draws its counts where a poisson drive would (common random
    numbers): the counts recovered from its g (c = (g(t+dt) - g(t) exp(-dt/tau)) / w) are those
    recovered from a no-leak LIF's voltage jumps (c = dV / weight)."""
    base = {
        "name": "crn",
        "seed": 2,
        "trials": 3,
        "duration": "50 ms",
        "dt": "0.1 ms",
        "record": {"v": {"trials": "all", "every": "0.1 ms"}},
    }
    jumps = lifbatch.simulate(
        {
            **base,
            "neuron": {"tau_m": "inf", "v_th": "inf mV", "e_l": "0 mV"},
            "inputs": {"p": {"kind": "poisson", "rate": "400 Hz", "n": 5, "weight": "1 mV"}},
        }
    )
    counts_v = np.rint(np.diff(jumps["v"].values, axis=-1) / 1e-3)
    cond = lifbatch.simulate(
        {
            **base,
            "neuron": {"model": "izhikevich"},
            "inputs": {
                "p": {
                    "kind": "poisson_conductance",
                    "rate": "400 Hz",
                    "n": 5,
                    "weight": "1 nS",
                    "tau": "2 ms",
                    "e_rev": "0 mV",
                }
            },
            "record": {**base["record"], "state": ["g_p"]},
        }
    )
    g = cond["g_p"].values
    counts_g = np.rint((g[..., 1:] - g[..., :-1] * math.exp(-0.05)) / 1e-9)
    assert counts_v.sum() > 100
    assert np.array_equal(counts_v, counts_g)


def test_a_conductance_weight_needs_its_dimension():
    raw = _wf("hh_traub")
    raw["inputs"]["g"]["weight"] = "0.5 mV"
    with pytest.raises(WorkflowError, match=r"`inputs.g.weight` must be a conductance"):
        lifbatch.load_workflow({**raw, "sweep": {}})
    raw = _wf("lif")
    raw["neuron"] = {k: v for k, v in LIF_NEURON.items() if k != "r_m"}
    raw["inputs"] = {"g": raw["inputs"]["g"]}
    with pytest.raises(WorkflowError, match=r"`inputs.g.weight` must be dimensionless.*set neuron.r_m"):
        lifbatch.load_workflow({**raw, "sweep": {}})
