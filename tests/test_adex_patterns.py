"""workflows/adex-patterns.yaml: the eight AdEx firing patterns of Naud et al. (2008) as one
labelled axis, spike for spike with Brian2's example (its references in
benchmarks/peers/reference/adex.runs-*.json, compared as tests/test_models_brian2.py does:
the spike steps identical up to the first spike a rounding moves in Brian2 itself; the
chaotic irregular pattern by its spike count and first spikes only), and the signs of the
ISI adaptation index on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lifbatch

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows" / "adex-patterns.yaml"
REFERENCE = ROOT / "benchmarks" / "peers" / "reference"
#: the workflow's labels and Brian2's names of the patterns, in the example's order
PATTERNS = {
    "tonic": "tonic spiking",
    "adapting": "adaptation",
    "initial_burst": "initial burst",
    "regular_bursting": "regular bursting",
    "delayed_accelerating": "delayed accelerating",
    "delayed_regular_bursting": "delayed regular bursting",
    "transient_spiking": "transient spiking",
    "irregular": "irregular spiking",
}


def _references(dt: float) -> dict[str, dict]:
    for path in sorted(REFERENCE.glob("adex.runs-*.json")):
        runs = [r for r in json.loads(path.read_text())["runs"] if r["dt"] == dt and "pattern" in r]
        if runs:
            return {r["pattern"]: r for r in runs}
    raise AssertionError(f"no AdEx references at dt {dt}")


@pytest.fixture(scope="module")
def patterns():
    return lifbatch.simulate(WORKFLOW)


@pytest.mark.parametrize("dt", ["0.1 ms", pytest.param("0.01 ms", marks=pytest.mark.slow)])
def test_the_eight_patterns_spike_for_spike_with_brian2(dt, patterns):
    ds = patterns if dt == "0.1 ms" else lifbatch.simulate(WORKFLOW, overrides=[f"dt={dt}", "record.v.every=1 ms"])
    refs = _references(float(ds.attrs["dt"]))
    assert ds["pattern"].values.tolist() == list(PATTERNS)
    n_steps = int(ds.attrs["n_steps"])
    written = lifbatch.load_workflow(WORKFLOW).params
    for label, name in PATTERNS.items():
        run = refs[name]
        assert run["n_steps"] == n_steps
        # the workflow's parameters are Brian2's (up to the last bit of 12 nS and -11 nS: Brian2
        # multiplies floats, lifbatch reads decimals)
        point = ds.sel(pattern=label)
        for key, value in run["params"].items():
            path = "inputs.I.value" if key == "I" else f"neuron.{key}"
            got = float(point[path]) if path in point.coords else written[path]
            assert got == pytest.approx(value, rel=1e-15, abs=0), (label, key)
        got = np.flatnonzero(np.unpackbits(point["spike_bits"].values[0])[:n_steps]).tolist()
        robust = run["robust_leading_spikes"][0]
        if "first_spike_steps" in run:  # chaotic: its count (with either rounding) and first spikes
            first = run["first_spike_steps"][0]
            counts = {run["spike_counts"][0]} | {
                q["spike_counts"][0] for q in run.get("perturbation", []) if q.get("spike_counts")
            }
            assert got[: len(first)] == first and len(got) in counts, (label, got[: len(first)], len(got))
            continue
        want = run["spike_steps"][0]
        if robust == len(want):
            assert got == want, (label, got, want)
        else:  # a rounding moves a later spike in Brian2 itself: the leading ones, and that many at least
            assert got[:robust] == want[:robust] and len(got) > robust, (label, got, want)


def test_the_adaptation_index_has_naud_s_signs(patterns):
    a = patterns["isi_adaptation"]
    assert float(a.sel(pattern="adapting")) > 0.05  # the ISIs lengthen
    assert float(a.sel(pattern="delayed_accelerating")) < 0  # they shorten
    assert abs(float(a.sel(pattern="tonic"))) < 1e-3  # regular
    assert np.isnan(float(a.sel(pattern="transient_spiking")))  # one spike: no ISI
    assert a.attrs["units"] == "1"
