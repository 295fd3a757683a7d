"""The drive kinds' registry (lifbatch.drives) and what the kinds hand the kernel."""

from __future__ import annotations

import numpy as np
import pytest

import lifbatch
from lifbatch.drives import DRIVES, DriveKind, PointInputs
from lifbatch.inputs import STREAMS, drive_values
from lifbatch.workflow import DRIVE_KINDS


def test_every_registered_kind_names_a_stream_it_can_draw_from():
    for name, kind in DRIVES.items():
        assert kind.name == name
        assert kind.stream is None or kind.stream in STREAMS
        assert not kind.stochastic or kind.stream is not None  # drawn afresh: needs a stream


class Ramp(DriveKind):
    """A toy kind, registered by the test below only: a current rising linearly from
    ``start`` at t = 0 to ``end`` at the last step."""

    name = "ramp"
    fields = {"start": ("drive", 0), "end": ("drive", None)}

    def apply(self, acc, drive, get, scale, point):
        acc.add_trace(scale * np.linspace(get("start"), get("end"), point.n))


RAMP_YAML = """
name: toy-ramp
seed: 4
trials: 2
duration: 60 ms  # (no noise: a point's random streams are keyed by its workflow)
dt: 0.1 ms
neuron: {{tau_m: 10 ms, e_l: -65 mV, v_th: -55 mV, v_reset: -70 mV, t_ref: 2 ms, r_m: 100 Mohm}}
inputs:
  {drive}
sweep:
  {sweep}
record: {{v: {{trials: all, every: 0.1 ms}}, inputs: [{name}]}}
summaries: {{moments: {{every: 0.5 ms}}}}
"""


@pytest.fixture
def ramp_kind(monkeypatch):
    """The toy kind in the registry. (``workflow.DRIVE_KINDS``, the parser's table of the
    kinds' fields, is a copy of the registry taken at import: a kind registered later
    goes into it too.)"""
    monkeypatch.setitem(DRIVES, "ramp", Ramp())
    monkeypatch.setitem(DRIVE_KINDS, "ramp", dict(Ramp.fields))
    return DRIVES["ramp"]


def test_a_toy_kind_registered_here_goes_from_yaml_through_simulate(ramp_kind, tmp_path):
    """A kind registered by a test (its fields, dimension roles and apply: nothing else) is
    parsed from YAML (its current in pA, swept), simulated, recorded and summarized; every
    point is, bit for bit, the same ramp written out as a ``timed_array``."""
    path = tmp_path / "ramp.yaml"
    path.write_text(
        RAMP_YAML.format(
            drive="I: {kind: ramp, start: 50 pA, end: 200 pA}",
            sweep="end: {param: inputs.I.end, values: [200, 400], unit: pA}",
            name="I",
        )
    )
    wf = lifbatch.load_workflow(path)
    (drive,) = [d for d in wf.drives if d.kind == "ramp"]
    assert drive.role == "current" and wf.params["inputs.I.start"] == 5e-11
    ds = lifbatch.simulate(wf)
    assert ds["end"].attrs["display_units"] == "pA" and ds["status"].values.tolist() == [1, 1]
    # the recorded input is the kind's own trace, in A
    for end in (2e-10, 4e-10):
        ramp = np.linspace(5e-11, end, wf.n_steps)
        recorded = ds["input_I"].sel(end=end).values
        assert np.array_equal(recorded[:, : wf.n_steps], [ramp, ramp])  # (every step, both trials)
        # the same current as a timed_array drive (an inline table in A, one sample per step)
        table = "[" + ", ".join(f"{v:.17e}" for v in ramp) + "]"  # (YAML reads 5e-11 as text)
        twin = tmp_path / "twin.yaml"
        twin.write_text(
            RAMP_YAML.format(
                drive=f"J: {{kind: timed_array, values: {table}, dt: 0.1 ms, unit: A}}", sweep="{}", name="J"
            )
        )
        ref = lifbatch.simulate(lifbatch.load_workflow(twin))
        point = ds.sel(end=end)
        for name in ("spike_count", "spike_bits", "v_mean", "v_var", "v_autocov", "v", "rate"):
            assert np.array_equal(point[name].values, ref[name].values, equal_nan=True), name
        assert np.array_equal(point["input_I"].values, ref["input_J"].values, equal_nan=True)
    assert ds["rate"].sel(end=4e-10) > ds["rate"].sel(end=2e-10) > 0  # (the ramp drives it: it fires more)


def test_a_toy_kinds_fields_are_checked_by_the_parser(ramp_kind):
    raw = {
        "name": "toy",
        "trials": 1,
        "duration": "10 ms",
        "neuron": {"tau_m": "10 ms", "e_l": "-65 mV", "v_th": "-55 mV", "v_reset": "-70 mV", "r_m": "100 Mohm"},
        "inputs": {"I": {"kind": "ramp", "start": "50 pA"}},
    }
    with pytest.raises(lifbatch.WorkflowError, match=r"inputs\.I\.end"):
        lifbatch.load_workflow(raw)
    raw["inputs"]["I"]["end"] = "3 ms"
    with pytest.raises(lifbatch.WorkflowError, match=r"inputs\.I\.end"):
        lifbatch.load_workflow(raw)


def test_constants_add_as_into_an_array_of_zeros():
    """The shared drive stays a scalar while only constants are added: the same sums, bit for bit,
    also for -0.0 and once a trace follows."""
    rng = np.random.default_rng(3)
    for values in ([-0.0], [1e-300, -1e-300, 0.1], list(rng.normal(size=7)), [0.1, 0.2, 0.3]):
        acc, ref = PointInputs(5), np.zeros(5)
        for v in values:
            acc.add_constant(v)
            ref += v
        assert np.array_equal(acc.shared_drive().view(np.uint64), ref.view(np.uint64))
        trace = rng.normal(size=5)
        acc.add_trace(trace)
        acc.add_constant(0.7)
        ref += trace
        ref += 0.7
        assert np.array_equal(acc.shared_drive().view(np.uint64), ref.view(np.uint64))


def test_drive_values_of_each_deterministic_kind(workflows_dir):
    wf = lifbatch.load_workflow(workflows_dir / "brian-random-steps.yaml")
    name = next(d.name for d in wf.drives if d.kind == "random_steps")
    t, v = drive_values(wf, name)
    assert t.shape == v.shape == (wf.n_steps,) and len(np.unique(v)) > 1
    wf = lifbatch.load_workflow(workflows_dir / "nma-lif-sine.yaml")
    name = next(d.name for d in wf.drives if d.kind == "sine")
    t, v = drive_values(wf, name)
    i_mean = wf.params[f"inputs.{name}.mean"]
    assert np.array_equal(v, i_mean * (1 + np.sin((t * 2 * np.pi) / 0.01)))  # the NMA tutorial's expression
    noisy = next(
        d.name for d in lifbatch.load_workflow(workflows_dir / "quickstart.yaml").drives if DRIVES[d.kind].stochastic
    )
    with pytest.raises(ValueError, match="drawn afresh every step"):
        drive_values(lifbatch.load_workflow(workflows_dir / "quickstart.yaml"), noisy)
