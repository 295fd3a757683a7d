"""``lifbatch.to_neo`` and ``lifbatch.as_timed_array`` on real stores (docs/export.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import neo
import numpy as np
import pytest
import quantities as pq

import lifbatch
from lifbatch.errors import LifbatchWarning, MissingExtraError, StoreError, WorkflowError
from lifbatch.layout import MARKERS

#: a LIF under a shared random-steps current and white noise, V and the input recorded
STEPS = {
    "name": "neo-steps",
    "seed": 11,
    "trials": 4,
    "duration": "120 ms",
    "dt": "0.1 ms",
    "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "t_ref": "2 ms", "r_m": "100 Mohm"},
    "inputs": {
        "I": {"kind": "random_steps", "low": "100 pA", "high": "400 pA", "interval": "10 ms", "shared": True},
        "noise": {"kind": "white_noise", "sigma": "2 mV"},
    },
    "sweep": {
        "sigma": {"param": "inputs.noise.sigma", "values": [1, 3], "unit": "mV"},
        "tau": {"param": "neuron.tau_m", "values": [10, 20, 30], "unit": "ms"},
    },
    "record": {"v": {"trials": [0, 2], "every": "0.1 ms"}, "inputs": ["I"]},
    "summaries": {"warmup": "20 ms"},
}
#: AdEx with its adaptation current recorded
ADEX = {
    "name": "neo-adex",
    "seed": 2,
    "trials": 2,
    "duration": "150 ms",
    "dt": "0.1 ms",
    "neuron": {"model": "adex"},
    "inputs": {"i": {"kind": "constant", "value": "700 pA"}},
    "sweep": {"I": {"param": "inputs.i.value", "values": [600, 800], "unit": "pA"}},
    "record": {"v": {"trials": "all", "every": "1 ms"}, "state": ["w"]},
}


@pytest.fixture(scope="module")
def steps_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("neo") / "steps.zarr"
    lifbatch.run_sweep(
        lifbatch.load_workflow(STEPS), path, workers=1, points_per_task=2, progress=False, log=lambda msg: None
    )
    return path


def test_to_neo_holds_every_spike_and_trace_of_every_point(steps_store):
    ds = lifbatch.open_results(steps_store)
    block = lifbatch.to_neo(ds)
    assert isinstance(block, neo.Block)
    assert block.name == "neo-steps" and block.annotations["fingerprint"] == ds.attrs["fingerprint"]
    assert block.annotations["warmup"] == 0.02 * pq.s and block.annotations["model"] == "lif"
    assert block.annotations["workflow"] == ds.attrs["workflow"]
    assert len(block.groups) == 6 and len(block.segments) == 6 * 4
    n_spikes = 0
    for k, seg in enumerate(block.segments):
        point, trial = divmod(k, 4)
        sigma, tau = ds.sigma.values[point // 3], ds.tau.values[point % 3]
        assert seg.annotations["point"] == point and seg.annotations["trial"] == trial
        assert seg.annotations["sigma"] == sigma * pq.V and seg.annotations["tau"] == tau * pq.s
        (st,) = seg.spiketrains
        ours = lifbatch.spike_times(ds, sigma=sigma, tau=tau, trial=trial)
        assert st.units == pq.s and st.dtype == np.float64
        assert np.array_equal(st.magnitude, ours)  # bit for bit
        # t_stop: the last step's end, n_steps * dt (0.12000000000000001 s: a spike there is inside)
        assert st.t_start == 0 * pq.s and st.t_stop.magnitude == 1200 * 1e-4 == max(0.12, 1200 * 1e-4)
        assert st.annotations["tau"] == tau * pq.s
        n_spikes += len(st)
        if trial in (0, 2):
            v, inp = seg.analogsignals
            assert (v.name, inp.name) == ("v", "input_I")
            assert v.units == pq.V and inp.units == pq.A
            assert v.sampling_period == 0.1 * pq.ms and v.t_start == 0 * pq.s and v.shape == (1201, 1)
            j = [0, 2].index(trial)
            here = ds.sel(sigma=sigma, tau=tau)
            assert np.array_equal(v.magnitude[:, 0], here.v.values[j])
            assert np.array_equal(inp.magnitude[:, 0], here.input_I.values[j], equal_nan=True)
        else:
            assert len(seg.analogsignals) == 0
    assert n_spikes == int(ds.spike_count.sum()) > 50
    group = block.groups[4]
    assert group.name == "sigma=3 mV, tau=20 ms" and len(group.spiketrains) == 4 and len(group.analogsignals) == 4


def test_to_neo_selects_points_and_trials_in_your_units(steps_store):
    block = lifbatch.to_neo(steps_store, sigma="3 mV", tau="20 ms", trial=[1, 2])
    assert [s.annotations["trial"] for s in block.segments] == [1, 2]
    assert [s.annotations["point"] for s in block.segments] == [4, 4]
    assert len(block.segments[0].analogsignals) == 0 and len(block.segments[1].analogsignals) == 2
    with pytest.warns(LifbatchWarning, match="tau=21 ms is not on the grid; nearest is 20 ms"):
        near = lifbatch.to_neo(steps_store, tau="21 ms", trial=0)
    assert [s.annotations["point"] for s in near.segments] == [1, 4]
    with pytest.raises(WorkflowError, match=r"trial 7 is not a trial of this store \(it has trials 0..3\)"):
        lifbatch.to_neo(steps_store, trial=7)


def test_a_non_lif_model_gives_its_state_traces():
    ds = lifbatch.simulate(lifbatch.load_workflow(ADEX))
    block = lifbatch.to_neo(ds, I=8e-10)
    assert block.annotations["model"] == "adex"
    for seg in block.segments:
        v, w = seg.analogsignals
        assert (v.name, w.name, w.units) == ("v", "w", pq.A)
        assert np.array_equal(w.magnitude[:, 0], ds.w.sel(I=8e-10).values[seg.annotations["trial"]])
        assert len(seg.spiketrains[0]) > 3


def test_a_sampled_design_annotates_the_sample_and_its_parameters(tmp_path):
    raw = {
        **STEPS,
        "name": "neo-sobol",
        "sweep": {},
        "record": {},
        "sample": {"n": 4, "params": {"mu": {"param": "inputs.I.low", "bounds": [50, 150], "unit": "pA"}}},
    }
    ds = lifbatch.simulate(lifbatch.load_workflow(raw))
    block = lifbatch.to_neo(ds, sample=2)
    seg = block.segments[0]
    assert seg.annotations["sample"] == 2 and seg.annotations["sample_round"] == 0
    assert seg.annotations["mu"] == float(ds.mu.values[2]) * pq.A
    assert block.groups[0].name.startswith("sample 2 (mu=")


def test_pending_points_are_refused_in_one_line(steps_store, tmp_path):
    store = tmp_path / "partial.zarr"
    shutil.copytree(steps_store, store)
    shutil.rmtree(store / MARKERS / "1")  # (a run killed between block 1's data and its marker)
    with pytest.raises(
        StoreError,
        match=r"^1 of 6 selected points is not done \(sigma=1 mV, tau=30 ms is "
        r"pending\): their spikes are not in the store\. Finish the sweep",
    ):
        lifbatch.to_neo(store)
    assert len(lifbatch.to_neo(store, sigma="3 mV").segments) == 12  # the done ones


def test_a_recorded_input_replays_as_a_timed_array_bit_for_bit(steps_store, tmp_path):
    """The random-steps current a store recorded, read back through Neo into a timed_array,
    drives the same neuron to the same spikes and V, bit for bit (the white noise's stream does
    not depend on the steps drive's). The control: the store's other noise level differs."""
    ds = lifbatch.open_results(steps_store)
    sig = lifbatch.to_neo(ds, sigma="3 mV", tau="20 ms", trial=0).segments[0].analogsignals[1]
    assert np.isnan(sig.magnitude[-1, 0])  # (recorded inputs end with NaN: no step starts at t = duration)
    inline = lifbatch.as_timed_array(sig)
    assert inline["kind"] == "timed_array" and inline["dt"] == "0.0001 s" and inline["unit"] == "A"
    assert len(inline["values"]) == 1200
    on_file = lifbatch.as_timed_array(sig, file=tmp_path / "recorded.npy")
    assert on_file["file"] == str(tmp_path / "recorded.npy")
    assert np.array_equal(np.load(on_file["file"]), np.asarray(inline["values"]))
    for drive in (inline, on_file):
        # (the same point: its swept values key its random streams)
        raw = {
            **STEPS,
            "inputs": {**STEPS["inputs"], "I": drive},
            "sweep": {
                "sigma": {**STEPS["sweep"]["sigma"], "values": [3]},
                "tau": {**STEPS["sweep"]["tau"], "values": [20]},
            },
        }
        replay = lifbatch.simulate(lifbatch.load_workflow(raw)).isel(sigma=0, tau=0)
        orig = ds.sel(sigma=0.003, tau=0.02)
        assert np.array_equal(replay.spike_bits.values, orig.spike_bits.values)
        assert np.array_equal(replay.v.values, orig.v.values)
        assert int(replay.spike_count.sum()) > 5
        assert not np.array_equal(replay.v.values, ds.sel(sigma=0.001, tau=0.02).v.values)


def test_as_timed_array_refuses_what_a_timed_array_cannot_hold():
    sig = neo.AnalogSignal(np.array([[1.0], [np.nan], [2.0]]), units="pA", sampling_period=1 * pq.ms, name="rec")
    with pytest.raises(WorkflowError, match=r"as_timed_array: rec has NaN or inf at sample 1 .* Clean the recording"):
        lifbatch.as_timed_array(sig)
    two = neo.AnalogSignal(np.array([[1.0, 3.0], [2.0, 4.0]]), units="mV", sampling_period=0.5 * pq.ms)
    assert lifbatch.as_timed_array(two) == {
        "kind": "timed_array",
        "values": [[1.0, 2.0], [3.0, 4.0]],
        "dt": "0.0005 s",
        "unit": "mV",
    }
    with pytest.raises(WorkflowError, match=r"`file` must be a \.npy file"):
        lifbatch.as_timed_array(two, file="x.csv")


BLOCK_NEO = """
import importlib.abc, sys
class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("neo", "quantities", "elephant", "pynwb", "hdmf", "nwbinspector"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled())
"""


def test_without_the_export_extra_to_neo_says_which_extra(steps_store):
    code = BLOCK_NEO + (
        f"import lifbatch\ntry:\n    lifbatch.to_neo({str(steps_store)!r})\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == (
        f"{MissingExtraError.__name__} lifbatch.to_neo needs Neo, which this environment lacks: install lifbatch's "
        "`export` extra: pip install 'lifbatch[export]' (from a clone: pip install -e '.[export]')"
    ), out.stderr
