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
from lifbatch.models.lanes import LANES
from lifbatch.point import PointModel

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_models_pinned import digest, outputs, workflows

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
    streams' order makes a trial's inputs independent of how many follow it): groups of lanes
    full, partial and more than one, the vectorized loops' main part and their remainder."""
    raw = copy.deepcopy(CASES[case])
    raw["record"]["v"]["trials"] = [0]
    raw["duration"] = "20 ms"
    ref = None
    for trials in (2 * LANES + 11, 1, 3, 8, LANES - 1, LANES, LANES + 1, 2 * LANES + 3):
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


def test_the_lanes_exp_is_the_c_librarys_bit_for_bit():
    """exp_lane equals math.exp (the C library's exp, which numba calls) wherever exp_special is
    false, on arguments over every range a model meets, random bit patterns, and the table's edges."""
    import math

    import numba

    from lifbatch.models.lanes import exp_lane, exp_special

    @numba.njit
    def both(x, lane, ref, special):
        for i in range(x.shape[0]):  # (a loop LLVM vectorizes: the lanes' code)
            lane[i] = exp_lane(x[i])
        for i in range(x.shape[0]):
            ref[i] = math.exp(x[i])
            special[i] = exp_special(x[i])

    rng = np.random.default_rng(20)
    n = 1_000_000
    edges = np.array(
        [
            0.0,
            -0.0,
            2.0**-54,
            -(2.0**-54),
            2.0**-55,
            511.9999,
            -511.9999,
            512.0,
            -512.0,
            709.7,
            -745.2,
            1e-300,
            np.inf,
            -np.inf,
            np.nan,
        ]
    )
    k = np.arange(-512 * 128, 512 * 128)
    x = np.concatenate(
        [
            edges,
            k * (math.log(2) / 128),
            (k + 0.5) * (math.log(2) / 128),
            rng.uniform(-20, 20, n),
            rng.uniform(-745, 710, n),
            rng.normal(0, 1e-3, n),
            np.exp(rng.uniform(-60, 7, n)) * rng.choice([-1.0, 1.0], n),
            rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64),
        ]
    )
    lane, ref, special = np.empty_like(x), np.empty_like(x), np.empty(x.shape, np.bool_)
    both(x, lane, ref, special)
    # its own path: 2^-54 <= |x| < 512 (and exp_lane gives glibc's 1 + x below)
    assert special[[0, 1, 4]].all() and not special[[2, 3, 5, 6]].any() and special[7:15].all()
    assert special.sum() > n
    same = lane.view(np.uint64) == ref.view(np.uint64)
    assert np.all(same | special), x[~(same | special)][:5]
    assert np.all(same[np.abs(x) < 512])


def _first_steps(neuron: dict, current: str, steps: int = 4):
    raw = {
        "name": "special",
        "seed": 1,
        "trials": 3,
        "duration": f"{steps * 0.1!r} ms",
        "dt": "0.1 ms",
        "neuron": neuron,
        "inputs": {"i": {"kind": "constant", "value": current}},
        "record": {"v": {"trials": "all", "every": "0.1 ms"}},
    }
    wf = lifbatch.load_workflow(raw)
    res = PointModel(wf).simulate(wf.point_params(()))
    return wf.point_params(()), res.traces


def test_adex_far_below_threshold_takes_the_c_librarys_exp():
    """v started 1.5 V below v_t: (v - v_t) / delta_t < -512, where exp_lane leaves its path; the
    steps equal the equations computed here with Python's floats (the same operations, math.exp)."""
    import math

    p, traces = _first_steps({"model": "adex", "v_init": "-1.55 V"}, "500 pA")
    c_m, g_l, e_l, v_t, d, a, tau_w = (p[f"neuron.{k}"] for k in ("c_m", "g_l", "e_l", "v_t", "delta_t", "a", "tau_w"))
    i, dt = p["inputs.i.value"], 1e-4
    v, w = p["neuron.v_init"], 0.0
    assert (v - v_t) / d < -512
    want = [v]
    for _ in range(traces.shape[1] - 1):
        w_new = w + dt * (a * (v - e_l) - w) / tau_w
        v = v + dt * (g_l * (e_l - v) + g_l * d * math.exp((v - v_t) / d) - w + i) / c_m
        v += 0.0 * 0.0
        w = w_new
        want.append(v)
    for row in traces:
        assert np.array_equal(row, want)


def test_hh_far_above_its_range_takes_the_c_librarys_exp():
    """v started at +5 V: the rate functions' exponentials get arguments beyond 1000, where
    exp_lane leaves its path; the steps equal the equations computed here with Python's floats."""
    import math

    from lifbatch.models.hh_traub_loop import rates

    p, traces = _first_steps({"model": "hh_traub", "v_init": "5 V"}, "1 nA", steps=2)
    c_m, g_l, g_na, g_k, e_l, e_na, e_k, v_t = (
        p[f"neuron.{k}"] for k in ("c_m", "g_l", "g_na", "g_k", "e_l", "e_na", "e_k", "v_t")
    )
    i, dt = p["inputs.i.value"], 1e-4
    v, m, n, h = p["neuron.v_init"], 0.0, 0.0, 0.0
    assert (40e-3 - v + v_t) / 5e-3 < -1000
    want = [v]
    for _ in range(traces.shape[1] - 1):
        am, bm, an, bn, ah, bh = rates(v, v_t)
        gna, gk = g_na * (m * m * m) * h, g_k * (n * n * n * n)
        g_tot = g_l + gna + gk
        v_inf = (g_l * e_l + gna * e_na + gk * e_k + i) / g_tot
        v_new = v_inf + (v - v_inf) * math.exp(-g_tot / c_m * dt)
        sm, sn, sh = am + bm, an + bn, ah + bh
        m_inf, n_inf, h_inf = am / sm, an / sn, ah / sh
        m = m_inf + (m - m_inf) * math.exp(-sm * dt)
        n = n_inf + (n - n_inf) * math.exp(-sn * dt)
        h = h_inf + (h - h_inf) * math.exp(-sh * dt)
        v = v_new + 0.0 * 0.0
        want.append(v)
    assert np.all(np.isfinite(want))
    for row in traces:
        assert np.array_equal(row, want)
