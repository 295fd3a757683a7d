"""The models' loops advance several trials in lockstep (lanes); a trial's results must not
depend on it: every model's outputs on randomized-drive workflows equal, bit for bit, those of
the loops that ran one trial after another (tests/data/models_pinned.npz, written by
tests/data/make_models_pinned.py at commit 42baee5), and equal themselves at any trial count."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

import lifbatch
from lifbatch.point import PointModel

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_models_pinned import digest, outputs, workflows  # noqa: E402

PINNED = Path(__file__).parent / "data" / "models_pinned.npz"
CASES = dict(workflows())


@pytest.fixture(scope="module")
def pinned():
    with np.load(PINNED) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_model_equals_its_one_trial_at_a_time_outputs_bit_for_bit(case, pinned):
    got = outputs(CASES[case])
    assert int(sum(a.sum() for k, a in got.items() if k.endswith("counts"))) > 0, "no spikes: tests nothing"
    for name, a in got.items():
        want = pinned[f"{case}/{name}"]
        assert a.shape == want.shape and a.dtype == want.dtype, (case, name)
        assert np.array_equal(a, want), (case, name)


@pytest.mark.parametrize("case", ["random/adex", "random/hh_traub", "steps/eif", "random/izhikevich"])
def test_a_trial_is_the_same_whatever_the_trial_count(case):
    """Trial k of a point with n trials equals trial k of the same point with fewer trials (the
    streams' order makes a trial's inputs independent of how many follow it): 1..9 trials cover
    every lane count of a group and groups that are full, partial and more than one."""
    raw = copy.deepcopy(CASES[case])
    raw["record"]["v"]["trials"] = [0]
    ref = None
    for trials in (9, 1, 2, 3, 4, 5, 7, 8):
        raw["trials"] = trials
        wf = lifbatch.load_workflow(raw)
        res = PointModel(wf).simulate(wf.point_params((1,)))
        if ref is None:
            ref = res
            assert ref.counts.sum() > 0
            continue
        assert np.array_equal(res.counts, ref.counts[:trials]), trials
        assert np.array_equal(res.bits, ref.bits[:trials]), trials
        assert np.array_equal(res.moments, ref.moments[:trials]), trials
        assert digest(res.traces) == digest(ref.traces) and digest(res.states) == digest(ref.states), trials
