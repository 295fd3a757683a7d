"""Firing rates against closed-form LIF theory (lifbatch.theory)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lifbatch
from lifbatch.theory import lif_isi_steps, lif_rate, siegert_cv, siegert_rate, theory_cv, theory_ou, theory_rate

NEURON = {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "t_ref": "2 ms", "r_m": "100 Mohm"}


def constant_workflow(method: str, dt: str = "0.1 ms") -> dict:
    return {
        "name": "const",
        "duration": "2 s",
        "dt": dt,
        "method": method,
        "neuron": dict(NEURON),
        "inputs": {"i": {"kind": "constant", "value": "200 pA"}},
        "sweep": {
            "I": {"param": "inputs.i.value", "values": [140, 151, 160, 200, 300, 500], "unit": "pA"},
            "t_ref": {"param": "neuron.t_ref", "values": [0, 2, 5], "unit": "ms"},
        },
    }


@pytest.mark.parametrize("method", ["euler", "exact"])
def test_constant_input_isi_is_the_discrete_time_solution(method):
    """Constant input: every ISI equals the exact discrete-time period (not just approximately)."""
    wf = lifbatch.load_workflow(constant_workflow(method))
    ds = lifbatch.simulate(wf)
    for i, I in enumerate(ds.I.values):
        for j, t_ref in enumerate(ds.t_ref.values):
            v_inf = -0.065 + 1e8 * I
            k = lif_isi_steps(
                v_inf,
                tau_m=0.02,
                v_th=-0.05,
                v_reset=-0.065,
                dt=wf.dt,
                ref_steps=int(round(t_ref / wf.dt)),
                method=method,
            )
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
    wf = lifbatch.load_workflow(
        {
            "name": "lin",
            "duration": "1 s",
            "dt": "0.1 ms",
            "neuron": {"tau_m": "inf", "v_th": 1, "t_ref": "1 ms"},
            "inputs": {"r": {"kind": "constant", "value": "0.033 / ms"}},
        }
    )
    ds = lifbatch.simulate(wf)
    steps = math.floor(1 / (33.0 * 1e-4)) + 1 + 10
    assert float(ds.isi_mean) == pytest.approx(steps * 1e-4, rel=1e-12)


def test_siegert_reduces_to_deterministic_rate_without_noise():
    assert siegert_rate(-0.045, 0.0, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002) == pytest.approx(
        lif_rate(-0.045, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002)
    )
    # small noise: close to the deterministic rate above rheobase
    assert siegert_rate(-0.045, 1e-4, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002) == pytest.approx(
        lif_rate(-0.045, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002), rel=1e-2
    )


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
    base = {
        "name": "siegert",
        "seed": 3,
        "trials": 400,
        "duration": "1 s",
        "neuron": dict(NEURON),
        "inputs": {"c": {"kind": "constant", "value": "140 pA"}, "n": {"kind": "white_noise", "sigma": "4 mV"}},
        "sweep": {"I": {"param": "inputs.c.value", "values": [120, 150, 180], "unit": "pA"}},
        "summaries": {"warmup": "100 ms"},
    }
    theory = siegert_rate(
        -0.065 + np.array([0.012, 0.015, 0.018]), 0.004, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=0.002
    )
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


# ----------------------------------------------------------------------------- ISI CV
def test_siegert_cv_single_integral_equals_the_double_integral():
    """The implementation swaps the order of integration (one closed-form inner integral,
    Dawson's function): against the textbook double integral by nested quadrature, where
    the latter does not overflow."""
    from scipy.integrate import quad
    from scipy.special import erfcx

    def nested(mu, s, t_ref):
        yr, yt = (-0.065 - mu) / s, (-0.05 - mu) / s
        # e^{y^2} (1 + erf y)^2 = erfcx(-y)^2 e^{-y^2}
        inner = lambda x: quad(lambda y: erfcx(-y) ** 2 * math.exp(-y * y), -np.inf, x)[0]  # noqa: E731
        double = quad(lambda x: math.exp(x * x) * inner(x), yr, yt, limit=200)[0]
        nu = siegert_rate(mu, s, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=t_ref)
        return math.sqrt(2 * math.pi * (nu * 0.02) ** 2 * double)

    for mu, s, t_ref in [
        (-0.055, 0.004, 0.002),
        (-0.05, 0.002, 0.0),
        (-0.045, 0.004, 0.005),
        (-0.04, 0.01, 0.002),
        (-0.065, 0.004, 0.002),
    ]:
        cv = siegert_cv(mu, s, tau_m=0.02, v_th=-0.05, v_reset=-0.065, t_ref=t_ref)
        assert cv == pytest.approx(nested(mu, s, t_ref), rel=1e-7)


def test_siegert_cv_limits():
    kw = dict(tau_m=0.02, v_th=-0.05, v_reset=-0.065)
    # far below threshold, no refractory period: rare independent crossings, Poisson (CV = 1),
    # also where e^{y_th^2} is far beyond the range of a double (y_th = 75)
    assert siegert_cv(-0.08, 0.002, t_ref=0.0, **kw) == pytest.approx(1.0, abs=1e-9)
    assert siegert_cv(-0.2, 0.002, t_ref=0.0, **kw) == pytest.approx(1.0, abs=1e-9)
    # weak noise above threshold: the passage-time jitter is V's OU spread at the
    # deterministic passage time T divided by the slope of the mean there,
    # CV = sigma sqrt((1 - e^{-2T/tau})/2) / ((V_inf - v_th)/tau) / (T + t_ref)
    mu, t_ref = -0.04, 0.002
    T = 0.02 * math.log((mu + 0.065) / (mu + 0.05))
    per_sigma = math.sqrt((1 - math.exp(-2 * T / 0.02)) / 2) / ((mu + 0.05) / 0.02) / (T + t_ref)
    for s in (1e-5, 1e-6):
        assert siegert_cv(mu, s, t_ref=t_ref, **kw) == pytest.approx(per_sigma * s, rel=1e-4)
    # no noise: regular firing above threshold, silence (no ISIs) below; no threshold: silence
    assert siegert_cv(-0.04, 0.0, t_ref=t_ref, **kw) == 0.0
    assert math.isnan(siegert_cv(-0.06, 0.0, t_ref=t_ref, **kw))
    assert math.isnan(siegert_cv(-0.04, 0.004, t_ref=t_ref, tau_m=0.02, v_th=math.inf, v_reset=-0.065))
    assert siegert_rate(-0.04, 0.004, t_ref=t_ref, tau_m=0.02, v_th=math.inf, v_reset=-0.065) == 0.0


def _cv_batch_se(ds, wf, n_batches=20):
    """Standard error of the pooled ISI CV of each point: batch means over groups of trials."""
    out = []
    for I in ds.I.values:
        spikes = lifbatch.spike_times(ds, I=float(I))
        cvs = []
        for group in np.array_split(np.arange(wf.trials), n_batches):
            isi = np.concatenate([np.diff(spikes[k][spikes[k] > wf.warmup]) for k in group])
            cvs.append(isi.std(ddof=1) / isi.mean())
        out.append(np.std(cvs, ddof=1) / math.sqrt(n_batches))
    return np.array(out)


def test_white_noise_isi_cv_matches_siegert_cv():
    """Simulated ISI CV against the Siegert CV at rheobase and around it.

    200 trials of 4.9 s after warmup give 14 000 - 27 000 ISIs a point, a standard
    error of the CV of 0.4 - 0.6 % (estimated by batch means over trials). At dt =
    0.01 ms Euler's missed crossings bias the rate by about 1 % (see the test above);
    we allow the CV that much bias plus 3 standard errors (2 - 4 % in all).
    """
    base = {
        "name": "cv",
        "seed": 5,
        "trials": 200,
        "duration": "5 s",
        "dt": "0.01 ms",
        "neuron": dict(NEURON),
        "inputs": {"c": {"kind": "constant", "value": "150 pA"}, "n": {"kind": "white_noise", "sigma": "4 mV"}},
        "sweep": {"I": {"param": "inputs.c.value", "values": [130, 150, 170], "unit": "pA"}},
        "summaries": {"warmup": "100 ms"},
    }
    wf = lifbatch.load_workflow(base)
    ds = lifbatch.simulate(wf)
    v_inf = -0.065 + 1e8 * ds.I.values
    kw = dict(tau_m=0.02, v_th=-0.05, v_reset=-0.065)
    theory = siegert_cv(v_inf, 0.004, t_ref=0.002, **kw)
    se = _cv_batch_se(ds, wf)
    assert np.all(se / theory < 0.01)
    assert np.all(np.abs(ds.isi_cv.values - theory) <= 0.01 * theory + 3 * se)
    # the plots' overlay is the same formula
    np.testing.assert_allclose(theory_cv(ds).values, theory, rtol=1e-12)


# ----------------------------------------------------------------------------- OU process
def _gaussian_var_se(var: np.ndarray, n: int) -> np.ndarray:
    """Standard error of a ddof=1 sample variance of n Gaussian values: var sqrt(2/(n-1))."""
    return var * math.sqrt(2.0 / (n - 1))


@pytest.mark.parametrize("method", ["exact", "euler"])
def test_no_threshold_moments_match_ou_theory(workflows_dir, method):
    """ccnss-white-noise (v_th = inf): v_mean, v_var and v_autocov against theory_ou.

    V is Gaussian, so with N = 400 trials the standard errors are known: sqrt(var/N)
    for the mean, var sqrt(2/(N-1)) for a variance, sqrt((var^2 + c^2)/(N-1)) for a
    covariance c; a time average of such estimates has at most the largest of their
    standard errors. We allow 4 standard errors at each of the 151 sample times and 3
    for the autocovariance.
    """
    wf = lifbatch.load_workflow(workflows_dir / "ccnss-white-noise.yaml", overrides={"method": method})
    ds = lifbatch.simulate(wf)
    th = theory_ou(ds)
    n = wf.trials
    tau, sigma = wf.params["neuron.tau_m"], wf.params["inputs.noise.sigma"]
    v_inf = wf.params["neuron.e_l"] + wf.params["neuron.r_m"] * wf.params["inputs.mean.value"]
    t = ds.time.values
    var = th.v_var.values
    assert np.all(np.abs(ds.v_mean.values - th.v_mean.values) <= 4 * np.sqrt(var / n) + 1e-15)
    assert np.all(np.abs(ds.v_var.values - var) <= 4 * _gaussian_var_se(var, n) + 1e-15)
    c = th.v_autocov.values
    var_inf = sigma**2 / 2
    assert np.all(np.abs(ds.v_autocov.values - c) <= 3 * np.sqrt((var_inf**2 + c**2) / (n - 1)))
    # the formulas: continuous OU at the sample times for `exact`, O(dt/tau) from it for Euler
    cont = dict(rtol=1e-12) if method == "exact" else dict(rtol=wf.dt / tau)
    np.testing.assert_allclose(th.v_mean.values, v_inf + (-0.06 - v_inf) * np.exp(-t / tau), **cont)
    np.testing.assert_allclose(var[1:], var_inf * (1 - np.exp(-2 * t[1:] / tau)), **cont)
    np.testing.assert_allclose(
        c,
        var_inf * np.exp(-ds.lag.values / tau),
        rtol=2 * math.exp(-2 * 0.1 / tau) + (wf.dt / tau if method == "euler" else 0),
    )


def test_euler_variance_is_the_discrete_time_one():
    """With dt = tau/10 Euler's stationary variance is sigma^2/(2 - dt/tau), 5 % above the
    continuous sigma^2/2: the simulation resolves the difference, and agrees with the
    discrete-time formula of theory_ou.

    The standard error of the variance averaged over the n late sample times follows
    from V being Gaussian: Var = 2/(N-1) mean_{j,k} C(t_j, t_k)^2.
    """
    wf = lifbatch.load_workflow(
        "workflows/ccnss-white-noise.yaml",
        overrides={
            "method": "euler",
            "dt": "2 ms",
            "duration": "1 s",
            "summaries.moments.every": "2 ms",
            "summaries.autocov.max_lag": "10 ms",
            "record.v.every": "2 ms",
        },
    )
    ds = lifbatch.simulate(wf)
    th = theory_ou(ds)
    late = ds.time.values >= 0.1
    sim = ds.v_var.values[late].mean()
    a = 0.1
    sigma = wf.params["inputs.noise.sigma"]
    euler, continuous = sigma**2 / (2 - a), sigma**2 / 2
    assert th.v_var.values[late].mean() == pytest.approx(euler, rel=1e-6)
    k = np.arange(late.sum())
    cov = euler * (1 - a) ** np.abs(k[:, None] - k[None, :])
    se = math.sqrt(2 / (wf.trials - 1) * np.mean(cov**2))
    assert abs(sim - euler) < 3 * se
    assert abs(sim - continuous) > 3 * se


def test_ou_theory_only_where_it_applies(workflows_dir):
    """A threshold (swept from inf to a finite value), a non-white-noise input or no leak:
    no OU overlay (NaN at those points, None when it applies nowhere)."""
    wf = lifbatch.load_workflow(
        workflows_dir / "ccnss-white-noise.yaml",
        overrides={
            "trials": 20,
            "duration": "50 ms",
            "summaries.warmup": "10 ms",
            "summaries.autocov.max_lag": "10 ms",
            "sweep": {"v_th": {"param": "neuron.v_th", "values": ["inf mV", -40], "unit": "mV"}},
        },
    )
    ds = lifbatch.simulate(wf)
    th = theory_ou(ds)
    assert np.isfinite(th.v_var.sel(v_th=np.inf).values).all()
    assert np.isnan(th.v_var.sel(v_th=-0.04).values).all()
    assert theory_ou(ds.sel(v_th=[-0.04])) is None
    # a selection of the grid gets the theory of its own points
    np.testing.assert_array_equal(theory_ou(ds.isel(v_th=0)).v_var.values, th.v_var.isel(v_th=0).values)
    finite = lifbatch.simulate(
        lifbatch.load_workflow(
            workflows_dir / "ccnss-white-noise.yaml",
            overrides={
                "trials": 4,
                "duration": "20 ms",
                "summaries.warmup": "5 ms",
                "summaries.autocov.max_lag": "10 ms",
                "neuron.v_th": "-40 mV",
            },
        )
    )
    assert theory_ou(finite) is None
    other = lifbatch.simulate(lifbatch.load_workflow(workflows_dir / "nma-lif-random.yaml"))
    assert theory_ou(other) is None
