"""Firing rates against closed-form LIF theory (lifbatch.theory)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lifbatch
from lifbatch.theory import lif_isi_steps, lif_rate, siegert_rate, theory_rate

NEURON = {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "t_ref": "2 ms",
          "r_m": "100 Mohm"}


def constant_workflow(method: str, dt: str = "0.1 ms") -> dict:
    return {"name": "const", "duration": "2 s", "dt": dt, "method": method, "neuron": dict(NEURON),
            "inputs": {"i": {"kind": "constant", "value": "200 pA"}},
            "sweep": {"I": {"param": "inputs.i.value", "values": [140, 151, 160, 200, 300, 500], "unit": "pA"},
                      "t_ref": {"param": "neuron.t_ref", "values": [0, 2, 5], "unit": "ms"}}}


@pytest.mark.parametrize("method", ["euler", "exact"])
def test_constant_input_isi_is_the_discrete_time_solution(method):
    """Constant input: every ISI equals the exact discrete-time period (not just approximately)."""
    wf = lifbatch.load_workflow(constant_workflow(method))
    ds = lifbatch.simulate(wf)
    for i, I in enumerate(ds.I.values):
        for j, t_ref in enumerate(ds.t_ref.values):
            v_inf = -0.065 + 1e8 * I
            k = lif_isi_steps(v_inf, tau_m=0.02, v_th=-0.05, v_reset=-0.065, dt=wf.dt,
                              ref_steps=int(round(t_ref / wf.dt)), method=method)
            point = ds.isel(I=i, t_ref=j)
            if k == 0:  # below rheobase (150 pA): silent
                assert int(point.spike_count.sum()) == 0
                continue
            assert float(point.isi_mean) == pytest.approx(k * wf.dt, rel=1e-12)
            assert float(point.isi_std) == 0.0


@pytest.mark.parametrize("method", ["euler", "exact"])
def test_constant_input_rate_matches_closed_form(method):
    """Against the continuous-time rate 1/(t_ref + tau ln((V_inf - v_r)/(V_inf - v_th))).

    Tolerance: the discrete model fires on the first step past threshold, which
    lengthens a period by less than one step dt; Euler additionally integrates
    with q = 1 - dt/tau instead of exp(-dt/tau), a relative error of dt/(2 tau)
    in the period. Over 2 s the spike count is also off by at most one. So
    |1/rate_sim - T| <= dt + T*dt/tau (+ one spike).
    """
    wf = lifbatch.load_workflow(constant_workflow(method))
    ds = lifbatch.simulate(wf)
    v_inf = -0.065 + 1e8 * ds.I.values[:, None]
    theory = lif_rate(v_inf, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=ds.t_ref.values[None, :])
    sim = ds.rate.transpose("I", "t_ref").values
    firing = theory > 0
    assert np.array_equal(sim > 0, firing)
    T = 1 / theory[firing]
    T_sim = 1 / sim[firing]
    tol = wf.dt + (T * wf.dt / 0.02 if method == "euler" else 0) + T * (T / 2.0)  # + one spike in 2 s
    assert np.all(np.abs(T_sim - T) <= tol)
    # the analytic overlay used by the plots gives the same numbers
    np.testing.assert_allclose(theory_rate(ds).transpose("I", "t_ref").values, theory, rtol=1e-12)


def test_no_leak_linear_integrator_rate():
    """tau_m = inf with a constant dV/dt = r: period = ceil((v_th - v_reset)/(r dt)) steps + refractory."""
    wf = lifbatch.load_workflow({"name": "lin", "duration": "1 s", "dt": "0.1 ms",
                                 "neuron": {"tau_m": "inf", "v_th": 1, "t_ref": "1 ms"},
                                 "inputs": {"r": {"kind": "constant", "value": "0.033 / ms"}}})
    ds = lifbatch.simulate(wf)
    steps = math.floor(1 / (33.0 * 1e-4)) + 1 + 10
    assert float(ds.isi_mean) == pytest.approx(steps * 1e-4, rel=1e-12)


def test_siegert_reduces_to_deterministic_rate_without_noise():
    assert siegert_rate(-0.045, 0.0, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002) == \
        pytest.approx(lif_rate(-0.045, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002))
    # small noise: close to the deterministic rate above rheobase
    assert siegert_rate(-0.045, 1e-4, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002) == \
        pytest.approx(lif_rate(-0.045, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002), rel=1e-2)


@pytest.mark.slow
def test_white_noise_rate_approaches_siegert_as_dt_shrinks():
    """Euler-discretized white noise misses threshold crossings between steps, so the
    simulated rate is below the Siegert rate by an amount that shrinks like sqrt(dt)
    (Brunel & Hakim 1999): about 3 % at dt = 0.1 ms here, about 1 % at 0.01 ms.

    Tolerances: 400 trials of 0.9 s give a relative standard error of the rate of
    at most 1 %; at dt = 0.01 ms we allow the ~1 % bias plus 2 standard errors
    (3 %), and require the error to shrink by at least 1.8x from 0.1 ms (sqrt(10) = 3.2
    expected).
    """
    base = {"name": "siegert", "seed": 3, "trials": 400, "duration": "1 s", "neuron": dict(NEURON),
            "inputs": {"c": {"kind": "constant", "value": "140 pA"}, "n": {"kind": "white_noise", "sigma": "4 mV"}},
            "sweep": {"I": {"param": "inputs.c.value", "values": [120, 150, 180], "unit": "pA"}},
            "summaries": {"warmup": "100 ms"}}
    theory = siegert_rate(-0.065 + np.array([0.012, 0.015, 0.018]), 0.004, tau_m=0.02, v_th=-0.05,
                          v_reset=-0.065, t_ref=0.002)
    err = {}
    for dt in ("0.1 ms", "0.01 ms"):
        ds = lifbatch.simulate(lifbatch.load_workflow(base, overrides={"dt": dt}))
        rel = (ds.rate.values - theory) / theory
        se = ds.rate_std.values / np.sqrt(400) / theory
        assert np.all(se < 0.012)
        err[dt] = rel
    assert np.all(err["0.1 ms"] < 0)  # the discretization bias has a sign
    assert np.all(np.abs(err["0.01 ms"]) < 0.03)
    assert np.abs(err["0.1 ms"]).mean() > 1.8 * np.abs(err["0.01 ms"]).mean()
    # the plots' overlay is the same formula
    np.testing.assert_allclose(theory_rate(ds).values, theory, rtol=1e-12)
