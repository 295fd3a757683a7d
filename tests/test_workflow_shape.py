"""The workflow parser's shape (issue 15, "Shape"): one parse function per section, each
given what it is checked against and returning a frozen spec, composed by
``workflow.parse``; and the identity it gives a workflow, pinned.

The pinned fingerprints (sha256 of the canonical JSON) and source hashes were computed
by the parser before it was split into section functions (the ``_Parser`` class): a
change to the parser that changes either would make every existing store of such a
workflow a different simulation (``store.simulation_identity``), so it must be
deliberate, and this test updated with it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

import lifbatch.workflow as wfmod
from lifbatch.sections.inputs import parse_inputs
from lifbatch.sections.neuron import parse_neuron
from lifbatch.sections.outputs import parse_record, parse_summaries
from lifbatch.sections.sweep import parse_noise, parse_sweep
from lifbatch.workflow import InputsSpec, NeuronSpec, Param, ParamTable, RecordSpec, Run, SummarySpec, load_workflow

MV_NEURON = {
    "tau_m": "20 ms",
    "e_l": "-65 mV",
    "v_th": "-50 mV",
    "v_reset": "-70 mV",
    "v_init": "-60 mV",
    "t_ref": "2 ms",
    "r_m": "100 Mohm",
}

#: workflows covering every section, each drive kind but timed_array (below), zipped axes,
#: a sampled design with added points, and the defaults of every optional key
CASES = {
    "minimal": {
        "name": "minimal",
        "duration": "100 ms",
        "neuron": {"tau_m": "10 ms", "v_th": 1},
        "inputs": {"drive": {"kind": "constant", "value": "0.12 / ms"}},
    },
    "defaults-mv": {
        "name": "defaults-mv",
        "duration": "50 ms",
        "neuron": {"tau_m": "20 ms", "v_th": "10 mV"},
        "inputs": {"drive": {"kind": "constant", "value": "12 mV"}},
    },
    "every-section": {
        "name": "every-section",
        "description": "all sections",
        "seed": 7,
        "trials": 3,
        "duration": "40 ms",
        "dt": "0.05 ms",
        "method": "exact",
        "neuron": MV_NEURON,
        "inputs": {
            "current": {"kind": "constant", "value": "250 pA"},
            "noise": {"kind": "white_noise", "sigma": "2 mV"},
        },
        "sweep": {
            "tau": {
                "zip": {
                    "neuron.tau_m": {"values": [10, 20], "unit": "ms"},
                    "neuron.t_ref": {"values": ["1 ms", "2 ms"]},
                }
            },
            "sigma": {"param": "inputs.noise.sigma", "linspace": [0.5, 2, 4], "unit": "mV"},
            "current": {"param": "inputs.current.value", "range": [100, 300, 50], "unit": "pA"},
        },
        "noise": {"shared_across": ["sigma", "tau"]},
        "record": {"v": {"trials": "all", "every": "0.5 ms"}},
        "summaries": {
            "warmup": "5 ms",
            "isi_bins": {"logspace": [0.1, 30, 12], "unit": "ms"},
            "moments": {"every": "0.25 ms"},
            "autocov": {"max_lag": "5 ms"},
        },
    },
    "drive-kinds": {
        "name": "drive-kinds",
        "duration": "20 ms",
        "trials": 2,
        "neuron": MV_NEURON,
        "inputs": {
            "sine": {"kind": "sine", "amplitude": "50 pA", "frequency": "10 Hz"},
            "sine2": {"kind": "sine", "mean": "1 mV", "amplitude": "0.5 mV", "frequency": "5 Hz", "phase": 0.5},
            "uniform": {"kind": "uniform", "mean": "100 pA", "half_width": "20 pA"},
            "poisson": {"kind": "poisson", "rate": "800 Hz", "weight": "0.5 mV", "n": 3},
            "steps": {"kind": "random_steps", "low": "0 nA", "high": "0.2 nA", "interval": "5 ms", "shared": True},
        },
        "sweep": {"n": {"param": "inputs.poisson.n", "values": [1, 10]}},
        "record": {"v": {"trials": [1]}},
    },
    "voltage-rate": {
        "name": "voltage-rate",
        "duration": "10 ms",
        "neuron": {"tau_m": "inf", "v_th": 1},
        "inputs": {"drive": {"kind": "constant", "value": "0.2 / ms"}},
        "sweep": {"th": {"param": "neuron.v_th", "values": [1, "inf"]}},
    },
    "sampled": {
        "name": "sampled",
        "duration": "20 ms",
        "neuron": MV_NEURON,
        "inputs": {"mu": {"kind": "constant", "value": "150 pA"}, "noise": {"kind": "white_noise", "sigma": "1 mV"}},
        "sweep": {"t_ref": {"param": "neuron.t_ref", "values": [1, 3], "unit": "ms"}},
        "sample": {
            "method": "sobol",
            "n": 8,
            "params": {
                "mu": {"param": "inputs.mu.value", "bounds": [100, 300], "unit": "pA"},
                "sigma": {"param": "inputs.noise.sigma", "bounds": ["0.1 mV", "2 mV"], "scale": "log"},
            },
            "added": {"round": [1, 1, 2], "mu": [1.5e-10, 2e-10, 2.5e-10], "sigma": [0.001, 0.0005, 0.0002]},
        },
    },
    "lhs": {
        "name": "lhs",
        "duration": "10 ms",
        "seed": 3,
        "neuron": MV_NEURON,
        "inputs": {"mu": {"kind": "constant", "value": "150 pA"}},
        "sample": {
            "method": "lhs",
            "n": 5,
            "params": {"mu": {"param": "inputs.mu.value", "bounds": [100, 300], "unit": "pA"}},
        },
    },
}

#: name -> (fingerprint, sha256 of source), from the parser before the split
PINNED = {
    "minimal": ("e8d293466d8e4fef", "7a90a8ba5040b2e426e945ba4fefca1e6a1357816a086dbc227f2f9b8cf8f555"),
    "defaults-mv": ("06c298c4f13da90f", "f09f663213ddc792157d80b38d17f83bf816d7ea685434b1a3f615c7f0312b00"),
    "every-section": ("000642de6b39843a", "6f4d654cebce9e1b2de6d9307aee7063271d1a487998c3b6ff84e4f5a61b6a01"),
    "drive-kinds": ("ee21c105515dd191", "fe6bda14ba7c62a2a3510d209d85f807e69701e0fbddc0d3a28c8d683b169c53"),
    "voltage-rate": ("594d7117598899f5", "926c92bc09acf1a02e62fa787fdf1a02392d2e3663167b625d4813f3c8e0e93d"),
    "sampled": ("4b2f05edd0a7c223", "383c07310634ab860d55a1413c976d70ef14bd1e3840d917e19c4c36dce4a654"),
    "lhs": ("678a0ebfb12dbfef", "a6ebf9e708f7f6e36d4374a3977e3629d87b53d28212b06b75640e05ad705b2b"),
}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("name", list(CASES))
def test_identity_is_pinned(name):
    wf = load_workflow(CASES[name])
    assert (wf.fingerprint, _sha(wf.source)) == PINNED[name]


TIMED = {
    "name": "timed",
    "duration": "10 ms",
    "trials": 2,
    "neuron": MV_NEURON,
    "inputs": {"rec": {"kind": "timed_array", "file": "rec.csv", "dt": "1 ms", "unit": "pA"}},
}
TIMED_CSV = "0,10\n50,60\n100,110\n150,160\n"
TIMED_FINGERPRINT = "6d57fc11e01a8b88"


def test_timed_array_identity_and_no_mutation(tmp_path, monkeypatch):
    """The file's content (sha256) is in the identity, its resolved path in the source;
    the raw workflow handed in is left as it was (the parser copies, never writes)."""
    (tmp_path / "rec.csv").write_text(TIMED_CSV)
    monkeypatch.chdir(tmp_path)
    raw = copy.deepcopy(TIMED)
    wf = load_workflow(raw)
    assert wf.fingerprint == TIMED_FINGERPRINT
    assert json.loads(wf.source)["inputs"]["rec"]["file"] == str((tmp_path / "rec.csv").resolve())
    assert wf.drives[0].option("file") == str((tmp_path / "rec.csv").resolve())
    assert raw == TIMED
    raw = copy.deepcopy(TIMED)
    assert wfmod.parse(raw, tmp_path).canonical == wf.canonical
    assert raw == TIMED, "parse wrote into the raw workflow"


@pytest.mark.parametrize("name", list(CASES))
def test_parse_leaves_its_input_alone(name, tmp_path):
    raw = copy.deepcopy(CASES[name])
    wf = wfmod.parse(raw, tmp_path)
    assert raw == CASES[name]
    assert wf.canonical == load_workflow(CASES[name]).canonical


def _run(**kw) -> Run:
    base = dict(trials=3, duration=0.04, dt=5e-5, method="exact", duration_written="40 ms", dt_written="0.05 ms")
    return Run(**{**base, **kw})


def test_specs_are_frozen():
    run = _run()
    neuron = parse_neuron(MV_NEURON)
    specs = [
        run,
        neuron,
        parse_record({}, run),
        parse_summaries({}, run),
        neuron.params["neuron.v_th"],
        parse_inputs({"c": {"kind": "constant", "value": "1 mV"}}, run, neuron, base_dir=Path(".")),
    ]
    for spec in specs:
        field = dataclasses.fields(spec)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(spec, field, None)
    with pytest.raises(TypeError):
        neuron.params["neuron.v_th"] = Param(0.0, "dimensionless")  # type: ignore[index]
    wf = load_workflow(CASES["every-section"])
    for ax in wf.sweep:
        with pytest.raises(dataclasses.FrozenInstanceError):
            ax.name = "x"  # type: ignore[misc]


def test_neuron_alone():
    """parse_neuron needs nothing but its section: the table in its order, defaults filled
    (v_reset and v_init at e_l, e_l at 0, in v_th's unit) and written values kept for messages."""
    neuron = parse_neuron({"tau_m": "20 ms", "v_th": "15 mV", "e_l": "0 mV"})
    assert isinstance(neuron, NeuronSpec)
    assert list(neuron.params) == [
        "neuron.tau_m",
        "neuron.v_th",
        "neuron.e_l",
        "neuron.v_reset",
        "neuron.v_init",
        "neuron.t_ref",
        "neuron.r_m",
    ]
    assert neuron.params["neuron.v_reset"] == Param(0.0, neuron.voltage_dim, "mV")
    assert neuron.params["neuron.v_th"] == Param(0.015, neuron.voltage_dim, "mV", "15 mV")
    assert neuron.params.written("neuron.v_init", "default") == "default"
    assert (neuron.voltage_display, neuron.r_m_given, neuron.params["neuron.r_m"].value) == ("mV", False, 1.0)


def test_sections_take_what_they_need():
    """Each section function is given the run (and the neuron, the table, the axes) and
    returns a frozen spec; the same values the whole workflow holds."""
    raw = CASES["every-section"]
    wf = load_workflow(raw)
    run = _run()
    neuron = parse_neuron(raw["neuron"])
    inputs = parse_inputs(raw["inputs"], run, neuron, base_dir=Path("."))
    assert isinstance(inputs, InputsSpec) and inputs.drives == wf.drives and inputs.files == ()
    table = neuron.params.plus(inputs.params)
    assert isinstance(table, ParamTable) and "inputs.noise.sigma" not in neuron.params
    assert {k: p.value for k, p in table.items()} == dict(wf.params)
    assert list(wf.params) == list(wf.param_units) == list(wf.display_units) == list(table)
    sweep = parse_sweep(raw["sweep"], run, table)
    assert sweep == wf.sweep
    assert parse_noise(raw["noise"], sweep) == wf.shared_across == ("tau", "sigma")
    assert (
        parse_record(raw["record"], run) == RecordSpec(wf.record_trials, wf.record_every) == RecordSpec((0, 1, 2), 5e-4)
    )
    assert parse_summaries(raw["summaries"], run) == SummarySpec(wf.warmup, wf.isi_edges, wf.moments_every, wf.max_lag)


def test_section_errors_come_from_the_section():
    """A section's function raises its own one-line error, with the run it is given."""
    from lifbatch.errors import WorkflowError

    with pytest.raises(WorkflowError, match=r"`record.v.trials` must be within 0..2"):
        parse_record({"v": {"trials": [3]}}, _run())
    with pytest.raises(WorkflowError, match=r"`summaries.warmup` must be shorter than duration \(40 ms\)"):
        parse_summaries({"warmup": "50 ms"}, _run())
    with pytest.raises(WorkflowError, match=r"`record.v.every` must be a positive multiple of dt \(0.05 ms\)"):
        parse_record({"v": {"every": "0.07 ms"}}, _run())
