"""The drive kinds' registry (lifbatch.drives) and what the kinds hand the kernel."""

from __future__ import annotations

import numpy as np
import pytest

import lifbatch
from lifbatch.drives import DRIVES, PointInputs
from lifbatch.inputs import STREAMS, drive_values
from lifbatch.workflow import DRIVE_KINDS


def test_the_parser_reads_the_kinds_fields_from_the_registry():
    assert list(DRIVE_KINDS) == list(DRIVES)
    for name, kind in DRIVES.items():
        assert DRIVE_KINDS[name] == kind.fields and kind.name == name
        assert kind.stream is None or kind.stream in STREAMS
        assert not kind.stochastic or kind.stream is not None  # drawn afresh: needs a stream


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
    noisy = next(d.name for d in lifbatch.load_workflow(workflows_dir / "quickstart.yaml").drives
                 if DRIVES[d.kind].stochastic)
    with pytest.raises(ValueError, match="drawn afresh every step"):
        drive_values(lifbatch.load_workflow(workflows_dir / "quickstart.yaml"), noisy)
