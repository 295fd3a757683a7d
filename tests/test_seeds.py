"""The seed tutorials' printed sample outputs, reproduced by their workflows (docs/workflow.md, "The seed workflows")."""

from __future__ import annotations

import numpy as np
import pytest

import lifbatch
from lifbatch.inputs import drive_values

# NMA LIF part I, exercise 1: the parameters as printed
EX1 = "0.15 0.001 0.02 -0.06 -0.07 -0.05 100000000.0 2.5e-10"

# exercise 2: print(i) for step in range(10)
EX2 = """2.5e-10
3.969463130731183e-10
4.877641290737885e-10
4.877641290737885e-10
3.9694631307311837e-10
2.5000000000000007e-10
1.0305368692688176e-10
1.2235870926211617e-11
1.223587092621159e-11
1.0305368692688186e-10"""

# exercise 3: print(f"{t:.3f} {i:.4e}")
EX3 = """0.000 2.5000e-10
0.001 3.9695e-10
0.002 4.8776e-10
0.003 4.8776e-10
0.004 3.9695e-10
0.005 2.5000e-10
0.006 1.0305e-10
0.007 1.2236e-11
0.008 1.2236e-11
0.009 1.0305e-10"""

# exercise 4: print(f"{t:.3f} {v:.4e}") with v after the step that starts at t
EX4 = """0.000 -5.8750e-02
0.001 -5.6828e-02
0.002 -5.4548e-02
0.003 -5.2381e-02
0.004 -5.0778e-02
0.005 -4.9989e-02
0.006 -4.9974e-02
0.007 -5.0414e-02
0.008 -5.0832e-02
0.009 -5.0775e-02"""


@pytest.fixture(scope="module")
def nma_sine(workflows_dir):
    return lifbatch.load_workflow(workflows_dir / "nma-lif-sine.yaml")


def test_nma_ex1_parameters_exact_si(nma_sine):
    p = nma_sine.params
    i_mean = p["inputs.sine.mean"]
    printed = " ".join(
        repr(x)
        for x in (
            nma_sine.duration,
            nma_sine.dt,
            p["neuron.tau_m"],
            p["neuron.e_l"],
            p["neuron.v_reset"],
            -0.05,
            p["neuron.r_m"],
            i_mean,
        )
    )
    assert printed == EX1


def test_nma_ex2_input_current_to_the_last_digit(nma_sine):
    t, i = drive_values(nma_sine, "sine")
    assert "\n".join(repr(float(x)) for x in i[:10]) == EX2


def test_nma_ex3_pretty_printed(nma_sine):
    t, i = drive_values(nma_sine, "sine")
    assert "\n".join(f"{a:.3f} {b:.4e}" for a, b in zip(t[:10], i[:10])) == EX3


def test_nma_ex4_membrane_potential(nma_sine):
    ds = lifbatch.simulate(nma_sine)
    v = ds.v.isel(trace_trial=0)
    # v(t = (k+1) dt) is printed next to the step's start time k dt
    lines = [
        f"{t:.3f} {float(v.sel(trace_time=t + nma_sine.dt, method='nearest')):.4e}" for t in np.arange(10) * nma_sine.dt
    ]
    assert "\n".join(lines) == EX4
    assert float(v.isel(trace_time=0)) == -0.06  # v(0) = v_init = e_l
    assert int(ds.spike_count.sum()) == 0  # no spiking mechanism in this tutorial


def test_nma_ex4_matches_the_tutorial_loop_bit_for_bit(nma_sine):
    """The tutorial's own loop (exercise 6 solution), all 150 steps, exactly."""
    t_max, dt, tau, el, r, i_mean = 150e-3, 1e-3, 20e-3, -60e-3, 100e6, 25e-11
    v, ref = el, []
    for step in range(int(t_max / dt)):
        t = step * dt
        i = i_mean * (1 + np.sin((t * 2 * np.pi) / 0.01))
        v = v + dt / tau * (el - v + r * i)
        ref.append(v)
    ds = lifbatch.simulate(nma_sine)
    assert np.array_equal(ds.v.isel(trace_trial=0).values[1:], np.array(ref))


def euler_neuron(V_init, I, tau_V, tau_ref, dt, duration):
    """The pypet tutorial's simulator, verbatim (the pypet tutorial, "firing rate of a LIF neuron")."""
    times = np.arange(0, duration, dt)
    steps = len(times)
    V_array = np.zeros(steps)
    V_array[0] = V_init
    spiketimes = []
    for step in range(1, steps):
        if V_array[step - 1] >= 1:
            V_array[step] = 0
            spiketimes.append(times[step - 1])
        elif spiketimes and times[step] - spiketimes[-1] <= tau_ref:
            V_array[step] = 0
        else:
            dV = -1.0 / tau_V * V_array[step - 1] + I
            V_array[step] = V_array[step - 1] + dV * dt
    return V_array, spiketimes, times


@pytest.mark.slow
def test_pypet_rate_table(workflows_dir):
    """Our table vs the seed's euler_neuron: equal up to one spike per second.

    Tolerance: the two differ only in discrete-time conventions. pypet tests
    V >= 1 (we: V > v_th), runs 9999 updates in 1000 ms (we: 10000), and ends
    the refractory period by comparing float times (t - t_spike <= tau_ref),
    which rounds 7.5 or 10 ms to either side. Each shifts a spike by at most
    one step, so over 1 s the counts may differ by one spike: 1 Hz.
    """
    ds = lifbatch.simulate(workflows_dir / "pypet-firing-rate.yaml")
    I_range = np.arange(0, 1.01, 0.05).tolist()
    ref = np.array([[len(euler_neuron(0.0, I, 12.0, tr, 0.1, 1000.0)[1]) for I in I_range] for tr in (5.0, 7.5, 10.0)])
    ours = ds.rate.transpose("t_ref", "I").values
    assert ds.rate.dims == ("t_ref", "I")
    np.testing.assert_allclose(ds["I"].values * 1e-3, I_range, rtol=1e-12)  # 1/ms
    diff = np.abs(ours - ref)
    assert diff.max() <= 1.0
    assert np.count_nonzero(diff) <= 5  # almost all identical
    # the tutorial's example trace: run 13 = tau_ref 5 ms, I = 0.65
    v = ds.v.isel(t_ref=0, I=13, trace_trial=0).values
    V_ref = euler_neuron(0.0, I_range[13], 12.0, 5.0, 0.1, 1000.0)[0]
    first_spike = int(np.argmax(V_ref >= 1))  # pypet stores the suprathreshold value, we the reset
    np.testing.assert_allclose(v[1:first_spike], V_ref[1:first_spike], rtol=1e-12)
    assert v[first_spike] == 0.0 and V_ref[first_spike] > 1


def test_nma_random_input_statistics(workflows_dir):
    """Exercises 7-14: 50 realizations; the sample mean follows the mean input.

    With uniform input of mean I and half-width h, <V(t)> = e_l + R I (1 - (1-dt/tau)^k)
    exactly for the Euler map, and the stationary variance is
    (dt/tau)^2 R^2 h^2/3 / (1 - (1-dt/tau)^2). Tolerances are 4 standard errors.
    """
    wf = lifbatch.load_workflow(workflows_dir / "nma-lif-random.yaml")
    ds = lifbatch.simulate(wf)
    assert ds.sizes["trial"] == 50 and ds.sizes["trace_trial"] == 50
    a = wf.dt / wf.params["neuron.tau_m"]
    R, I = wf.params["neuron.r_m"], wf.params["inputs.random.mean"]
    h = wf.params["inputs.random.half_width"]
    assert h == pytest.approx(250e-12 * 0.1 * 150**0.5, rel=1e-15)
    k = np.arange(ds.sizes["time"])
    mean_theory = -0.06 + R * I * (1 - (1 - a) ** k)
    var_stat = a**2 * (R * h) ** 2 / 3 / (1 - (1 - a) ** 2)
    se = np.sqrt(var_stat / 50)
    assert np.all(np.abs(ds.v_mean.values - mean_theory) < 4 * se + 1e-12)
    late = ds.v_var.sel(time=slice(0.06, None)).values
    # the mean over 90 correlated samples of the variance estimate: within 25 %
    assert late.mean() == pytest.approx(var_stat, rel=0.25)
    # v_mean/v_var are the sample mean and ddof=1 variance of the recorded traces
    np.testing.assert_allclose(ds.v_mean.values, ds.v.mean("trace_trial").values, rtol=1e-12)
    np.testing.assert_allclose(ds.v_var.values, ds.v.var("trace_trial", ddof=1).values, rtol=1e-9, atol=1e-30)


def test_nma_autocovariance_is_eq6(workflows_dir):
    """v_autocov(lag) = mean over t >= warmup of the ddof=1 ensemble covariance C(t, t+lag)."""
    wf = lifbatch.load_workflow(workflows_dir / "nma-lif-random.yaml")
    ds = lifbatch.simulate(wf)
    v = ds.v.values  # (50 trials, 151 times), every 1 ms = the moments grid
    j0 = int(round(wf.warmup / wf.moments_every))
    dev = v - v.mean(axis=0)
    for lag in (0, 1, 10, 50):
        c = [(dev[:, j] * dev[:, j + lag]).sum() / 49 for j in range(j0, v.shape[1] - lag)]
        assert ds.v_autocov.isel(lag=lag).item() == pytest.approx(np.mean(c), rel=1e-12)


@pytest.mark.slow
def test_ccnss_white_noise_matches_ou_theory(workflows_dir):
    """The CCNSS validation: ensemble statistics of V under white noise (OU process).

    The exact integrator samples the OU process without discretization error, so
    the only error is sampling: with N = 400 trials the mean has standard error
    sd/20 and the variance a relative error of sqrt(2/399) = 7 %; we allow 4
    standard errors pointwise and 10 % for the time-averaged variance.
    """
    wf = lifbatch.load_workflow(workflows_dir / "ccnss-white-noise.yaml")
    ds = lifbatch.simulate(wf)
    tau = wf.params["neuron.tau_m"]
    sigma = wf.params["inputs.noise.sigma"]
    mu = wf.params["neuron.r_m"] * wf.params["inputs.mean.value"]
    t = ds.time.values
    mean = -0.06 + mu * (1 - np.exp(-t / tau))
    var = sigma**2 / 2 * (1 - np.exp(-2 * t / tau))
    assert np.all(np.abs(ds.v_mean.values - mean) <= 4 * np.sqrt(var / 400) + 1e-15)
    late = ds.v_var.sel(time=slice(0.1, None)).mean().item()
    assert late == pytest.approx(sigma**2 / 2, rel=0.10)
    lags = ds.lag.values
    ac = ds.v_autocov.values
    theory = sigma**2 / 2 * np.exp(-lags / tau)
    assert np.all(np.abs(ac - theory) <= 0.15 * sigma**2 / 2)
    assert ac[0] > ac[10] > ac[-1] > 0  # decays with the lag


def test_every_seed_workflow_runs_pruned(workflows_dir):
    """Every workflow simulates (pruned to 2 values per axis) with its summaries in place."""
    for path in sorted(workflows_dir.glob("*.yaml")):
        wf = lifbatch.load_workflow(path).prune(2)
        ds = lifbatch.simulate(wf)
        assert (ds.status.values == 1).all(), path.name
        for name in ("rate", "rate_std", "isi_mean", "isi_hist", "v_mean", "v_var", "v_autocov", "spike_count"):
            assert name in ds, (path.name, name)


def test_brian_shared_noise_makes_rate_monotonic(workflows_dir):
    """Brian2's frozen input: with noise shared across tau the rate grows with tau (trial by trial)."""
    wf = lifbatch.load_workflow(workflows_dir / "brian-tau-sweep.yaml", overrides={"trials": 2})
    ds = lifbatch.simulate(wf)
    counts = ds.spike_count.transpose("trial", "tau").values
    assert np.all(np.diff(counts, axis=1) >= 0)
    assert counts[:, -1].min() > 0
    # the same input for every tau: a neuron with larger tau spikes at (a superset of) ...
    # ... at least every time the fastest one does not miss; and trials differ from each other
    assert not np.array_equal(counts[0], counts[1])


def test_brian_random_steps_shared_by_trials_and_tau(workflows_dir):
    wf = lifbatch.load_workflow(workflows_dir / "brian-random-steps.yaml")
    ds = lifbatch.simulate(wf)
    v = ds.v.values  # (tau, trial, time)
    # shared: true -> all trials of a point identical (no other noise)
    assert np.array_equal(v[:, 0], v[:, 1]) and np.array_equal(v[:, 0], v[:, 2])
    # shared_across tau -> the same current for every tau: the input steps line up
    t, i0 = drive_values(wf, "steps", wf.point_params((0,)))
    _, i2 = drive_values(wf, "steps", wf.point_params((2,)))
    assert np.array_equal(i0, i2)
    assert len(np.unique(i0)) == 5  # 50 ms / 10 ms intervals
    assert np.all((i0 >= 0) & (i0 <= 0.5e-9))


def test_timed_array_2d_image_raster(workflows_dir):
    """Brian's closing example: the raster of the 2-D TimedArray draws the picture."""
    wf = lifbatch.load_workflow(workflows_dir / "brian-image.yaml")
    ds = lifbatch.simulate(wf)
    img = np.loadtxt(workflows_dir / "data" / "brian-image.csv", delimiter=",")  # (time, trial)
    bits = np.unpackbits(ds.spike_bits.values, axis=-1, count=wf.n_steps)  # (trial, step)
    spikes_per_ms = bits.reshape(wf.trials, -1, 10).sum(-1).T  # (ms, trial)
    lit = img > 0
    assert spikes_per_ms[lit].mean() > 5 * max(spikes_per_ms[~lit].mean(), 1e-3)
