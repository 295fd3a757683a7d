"""lifbatch's spike summaries against Elephant's, computed from ``lifbatch.to_neo`` of real stores.

Where the definitions agree (docs/workflow.md, "summaries": after the warmup means t > warmup,
ISIs pooled over trials, std and CV with ddof=1) the numbers agree to the last digit: rates
bit for bit, ISI statistics within a few units in the last place of float64 (:data:`ULPS`:
lifbatch measures ISIs in whole steps, then multiplies by dt; Elephant subtracts spike times
in seconds: the same numbers rounded differently).
Where they differ by convention the test pins the difference: Elephant's ``cv`` (ddof=0),
its ``fanofactor`` (ddof=0), its inclusive ``t_start`` (a spike exactly at the warmup),
``isi`` of a whole train (the interval across the warmup), and ISIs on a bin edge.
"""

from __future__ import annotations

import elephant.statistics as elephant_stats  # (the export extra: .[test] installs it)
import numpy as np
import pytest
import quantities as pq

import lifbatch

# (quantities 0.16 deprecates an argument Elephant 1.2 still passes: not lifbatch's)
pytestmark = pytest.mark.filterwarnings("ignore:The 'copy' argument in Quantity is deprecated")

BASE = {
    "seed": 5,
    "trials": 8,
    "duration": "400 ms",
    "dt": "0.1 ms",
    "summaries": {"warmup": "50 ms", "isi_bins": {"linspace": [0, 100, 51], "unit": "ms"}},
}
LIF = {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "t_ref": "2 ms", "r_m": "100 Mohm"}
STORES = {
    "white_noise": {
        **BASE,
        "name": "el-wn",
        "neuron": LIF,
        "inputs": {"i": {"kind": "constant", "value": "150 pA"}, "n": {"kind": "white_noise", "sigma": "4 mV"}},
        "sweep": {
            "sigma": {"param": "inputs.n.sigma", "values": [2, 5], "unit": "mV"},
            "I": {"param": "inputs.i.value", "linspace": [150, 250, 3], "unit": "pA"},
        },
        "record": {"v": {"trials": [0, 3], "every": "1 ms"}},
    },
    "poisson": {
        **BASE,
        "name": "el-poisson",
        "neuron": LIF,
        "inputs": {
            "exc": {"kind": "poisson", "rate": "2 kHz", "weight": "0.5 mV", "n": 2},
            "inh": {"kind": "poisson", "rate": "1 kHz", "weight": "-0.5 mV"},
        },
        "sweep": {"w": {"param": "inputs.exc.weight", "values": [0.5, 0.8], "unit": "mV"}},
    },
    "sampled": {
        **BASE,
        "name": "el-sobol",
        "neuron": LIF,
        "inputs": {"i": {"kind": "constant", "value": "150 pA"}, "n": {"kind": "white_noise", "sigma": "3 mV"}},
        "sample": {
            "method": "sobol",
            "n": 4,
            "params": {
                "mu": {"param": "inputs.i.value", "bounds": [150, 300], "unit": "pA"},
                "sig": {"param": "inputs.n.sigma", "bounds": [1, 6], "unit": "mV"},
            },
        },
    },
    "adex": {
        **BASE,
        "name": "el-adex",
        "neuron": {"model": "adex"},
        "inputs": {"i": {"kind": "constant", "value": "600 pA"}, "n": {"kind": "white_noise", "sigma": "2 mV"}},
        "sweep": {"I": {"param": "inputs.i.value", "values": [600, 900], "unit": "pA"}},
        "record": {"v": {"trials": [1], "every": "0.5 ms"}, "state": ["w"]},
    },
}


#: the most units in the last place each summary may differ by. Rates: the same operations
#: (counts / window, then numpy's mean and std over trials). ISIs: lifbatch sums whole steps
#: exactly (integers) and multiplies by dt once; Elephant's ISIs are differences of float spike
#: times, each off by up to an ulp, and the std amplifies that by about mean / std (1 / CV):
#: measured worst 0 (rate, rate_std), 1 (isi_mean), 9 (isi_std), 8 (isi_cv) over these stores
ULPS = {"rate": 0, "rate_std": 0, "isi_mean": 2, "isi_std": 16, "isi_cv": 16}


def _ulps(a, b) -> float:
    """|a - b| in units in the last place of the larger (0 for equal numbers, NaN == NaN)."""
    a, b = float(a), float(b)
    if np.isnan(a) and np.isnan(b):
        return 0.0
    return abs(a - b) / np.spacing(max(abs(a), abs(b)))


@pytest.fixture(scope="module", params=list(STORES))
def store(request, tmp_path_factory):
    wf = lifbatch.load_workflow(STORES[request.param])
    path = tmp_path_factory.mktemp(request.param) / "s.zarr"
    lifbatch.run_sweep(wf, path, workers=1, progress=False, log=lambda msg: None)
    return request.param, wf, lifbatch.open_results(path)


def _point(ds, group):
    """The store's summaries at a Neo group's point (its flat index)."""
    axes = list(ds["status"].dims)
    idx = np.unravel_index(group.annotations["point"], [ds.sizes[a] for a in axes])
    return ds.isel(dict(zip(axes, idx)))


def test_rate_and_isi_statistics_agree_with_elephant_to_the_last_digit(store):
    kind, wf, ds = store
    block = lifbatch.to_neo(ds)
    w, T = wf.warmup, wf.duration
    assert len(block.groups) == int(ds["status"].size) and len(block.segments) == ds["status"].size * wf.trials
    worst, pooled_isis, checked = dict.fromkeys(ULPS, 0.0), 0, 0
    for group in block.groups:
        here = _point(ds, group)
        trains = group.spiketrains
        assert [st.annotations["trial"] for st in trains] == list(range(wf.trials))
        # lifbatch's "after the warmup": t > warmup (Elephant's t_start is inclusive: pinned below)
        after = [st[st.magnitude > w] for st in trains]
        rates = [
            float(elephant_stats.mean_firing_rate(a, t_start=w * pq.s, t_stop=T * pq.s).rescale("Hz")) for a in after
        ]
        isis = np.concatenate([elephant_stats.isi(a).rescale("s").magnitude for a in after])
        theirs = {"rate": np.mean(rates), "rate_std": np.std(rates, ddof=1)}
        if len(isis) >= 2:
            theirs.update(isi_mean=isis.mean(), isi_std=isis.std(ddof=1), isi_cv=elephant_stats.cv(isis, ddof=1))
            # Elephant's cv is scipy.stats.variation: ddof=0 (docs/workflow.md says so)
            n = len(isis)
            assert elephant_stats.cv(isis) == pytest.approx(float(here.isi_cv) * np.sqrt((n - 1) / n), rel=1e-14)
            checked += 1
        else:
            assert np.isnan(here.isi_mean) and np.isnan(here.isi_cv)
        for name, value in theirs.items():
            worst[name] = max(worst[name], _ulps(value, here[name]))
        pooled_isis += len(isis)
    print(f"{kind}: worst differences in ulp {worst}")
    assert all(worst[name] <= ULPS[name] for name in ULPS), (kind, worst)
    assert checked >= 1 and pooled_isis >= 20, (kind, checked, pooled_isis)  # the comparison compared something


def test_isi_histogram_is_elephants_isis_binned_in_whole_steps(store):
    """lifbatch bins each ISI as a whole number of steps (exact) against the edges in steps;
    Elephant's ISIs are differences of float spike times, so an ISI exactly on a bin edge (a
    whole number of steps, as edges often are) lands a rounding error above or below it. Off
    the edges the two histograms are the same; on them lifbatch's is Elephant's ISIs rounded
    to whole steps."""
    kind, wf, ds = store
    block = lifbatch.to_neo(ds)
    edges, dt = np.asarray(wf.isi_edges), wf.dt
    on_edges = moved = 0
    for group in block.groups:
        here = _point(ds, group)
        isis = np.concatenate([elephant_stats.isi(st[st.magnitude > wf.warmup]).magnitude for st in group.spiketrains])
        steps = np.rint(isis / dt)
        assert np.allclose(steps * dt, isis, rtol=0, atol=1e-12)  # ISIs are whole steps
        hist = np.asarray(here.isi_hist.values)
        assert np.array_equal(np.histogram(steps, edges / dt)[0], hist)
        on = np.isclose(isis[:, None], edges[None, :], rtol=0, atol=1e-12).any(axis=1)
        off = np.histogram(isis[~on], edges)[0] + np.histogram(steps[on], edges / dt)[0]
        assert np.array_equal(off, hist)
        on_edges += int(on.sum())
        moved += int((np.histogram(isis, edges)[0] != hist).any())
    if kind == "white_noise":  # (this store's ISIs do land on edges, and some cross them in seconds)
        assert on_edges > 0 and moved > 0, (on_edges, moved)


def test_fano_factor_follows_from_rate_and_rate_std(store):
    """The Fano factor of the spike counts after the warmup is rate_std**2 * (duration - warmup)
    / rate with lifbatch's ddof=1; Elephant's fanofactor uses ddof=0: (n - 1) / n of it."""
    kind, wf, ds = store
    block = lifbatch.to_neo(ds)
    n = wf.trials
    for group in block.groups:
        here = _point(ds, group)
        if float(here.rate) == 0:
            continue
        theirs = elephant_stats.fanofactor([st[st.magnitude > wf.warmup] for st in group.spiketrains])
        ours = float(here.rate_std) ** 2 * (wf.duration - wf.warmup) / float(here.rate)
        assert abs(theirs - ours * (n - 1) / n) <= 1e-12 * max(ours, 1e-300), (kind, theirs, ours)


def test_a_spike_at_the_warmup_is_before_it_for_lifbatch_and_in_for_elephant():
    """lifbatch counts spikes with t > warmup, in whole steps (a spike in the step ending at the
    warmup is before it), and only ISIs whose both spikes are after it; Elephant's t_start is
    inclusive (t >= t_start), and ``isi`` of a whole train keeps the interval across the warmup."""
    raw = {
        "name": "el-edge",
        "duration": "200 ms",
        "dt": "0.1 ms",
        "neuron": LIF,
        "inputs": {"i": {"kind": "constant", "value": "250 pA"}},
    }
    first = lifbatch.simulate(lifbatch.load_workflow(raw))
    times = lifbatch.spike_times(first, trial=0)
    # a spike whose time in seconds is the warmup's float exactly (k dt == the decimal k/10 ms)
    spike = next(t for t in times[2:] if t == float(f"{t * 1e3:.1f}") * 1e-3)
    wf = lifbatch.load_workflow({**raw, "summaries": {"warmup": f"{spike * 1e3:.1f} ms"}})
    assert wf.warmup == spike
    ds = lifbatch.simulate(wf)
    st = lifbatch.to_neo(ds).segments[0].spiketrains[0]
    T, w = wf.duration, wf.warmup
    n_after = int((st.magnitude > w).sum())
    assert float(ds.rate) == pytest.approx(n_after / (T - w), rel=1e-15)
    theirs = float(elephant_stats.mean_firing_rate(st, t_start=w * pq.s, t_stop=T * pq.s).rescale("Hz"))
    assert theirs == pytest.approx((n_after + 1) / (T - w), rel=1e-15)  # the spike at the warmup counts
    # ISIs: lifbatch's pool has n_after - 1; Elephant's of the sliced train one more (from the
    # spike at the warmup), of the whole train every interval, the ones before the warmup too
    assert len(elephant_stats.isi(st.time_slice(w * pq.s, T * pq.s))) == n_after
    assert len(elephant_stats.isi(st)) == len(st) - 1 > n_after
    lif_isis = np.diff(st.magnitude[st.magnitude > w])
    assert float(ds.isi_mean) == pytest.approx(lif_isis.mean(), rel=1e-14)
