"""Labelled sweep axes (docs/workflow.md, "Labelled axes"): ``sweep.<axis>: {labels, zip}``.

The labels are the axis' coordinate (strings), every zipped parameter a coordinate along it
whose values may repeat; the axis combines with grid axes, is in the canonical identity only
when used, and goes through a real store (run, kill, resume, verify, query, ``lifbatch.sel``).
"""

from __future__ import annotations

import copy
import json
import os
import signal
import time

import numpy as np
import pytest

import lifbatch
from lifbatch.errors import WorkflowError
from lifbatch.store import done_blocks
from lifbatch.workflow import LabelledAxis, load_workflow

from conftest import assert_identical
from test_store_trust import _cli, _start, _write

WF = {
    "name": "labelled",
    "seed": 3,
    "trials": 2,
    "duration": "100 ms",
    "dt": "0.1 ms",
    "neuron": {"model": "adex", "v_t": "-50 mV", "delta_t": "2 mV", "v_peak": "0 mV"},
    "inputs": {"I": {"kind": "constant", "value": "500 pA"}, "noise": {"kind": "white_noise", "sigma": "1 mV"}},
    "sweep": {
        "pattern": {
            "labels": ["tonic", "adapting", "bursting"],
            "zip": {
                "neuron.c_m": {"values": [200, 200, 200], "unit": "pF"},
                "neuron.g_l": {"values": [10, 12, 10], "unit": "nS"},
                "neuron.tau_w": {"values": [30, 300, 120], "unit": "ms"},
                "neuron.b": {"values": [0, 60, 100], "unit": "pA"},
            },
        },
        "I": {"param": "inputs.I.value", "values": [400, 500], "unit": "pA"},
    },
    "record": {"v": {"trials": [0], "every": "1 ms"}},
}


def _with(path: str, value) -> dict:
    raw = copy.deepcopy(WF)
    node = raw
    *head, last = path.split("/")
    for key in head:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return raw


def test_labels_are_the_coordinate_and_the_parameters_coordinates_along_it():
    wf = load_workflow(WF)
    ax = wf.sweep[0]
    assert isinstance(ax, LabelledAxis) and wf.shape == (3, 2)
    assert ax.point_labels == ("tonic", "adapting", "bursting")
    # values may repeat (c_m is the same for every label), exactly in SI
    assert ax.values[ax.params.index("neuron.c_m")] == (2e-10, 2e-10, 2e-10)
    assert wf.point_params((1, 1))["neuron.tau_w"] == 0.3 and wf.point_params((1, 1))["inputs.I.value"] == 5e-10
    ds = lifbatch.simulate(wf)
    assert ds["pattern"].values.tolist() == ["tonic", "adapting", "bursting"]
    assert ds["pattern"].dtype == np.dtypes.StringDType()
    assert ds["neuron.g_l"].dims == ("pattern",) and ds["neuron.g_l"].values.tolist() == [1e-8, 1.2e-8, 1e-8]
    assert ds["neuron.b"].attrs == {"units": "A", "display_units": "pA", "param": "neuron.b"}
    assert ds["rate"].dims == ("pattern", "I")
    # without noise (whose streams depend on the swept values), a point of the labelled grid is
    # the point a workflow with those parameters written out simulates, bit for bit
    quiet = _with("inputs/noise", None)
    alone = copy.deepcopy(quiet)
    del alone["sweep"]["pattern"]
    alone["neuron"].update({"c_m": "200 pF", "g_l": "12 nS", "tau_w": "300 ms", "b": "60 pA"})
    one, grid = lifbatch.simulate(alone), lifbatch.simulate(quiet)
    assert one["spike_count"].values.sum() > 0
    assert np.array_equal(one["spike_bits"].values, grid["spike_bits"].sel(pattern="adapting").values)


def test_identity_has_the_labels_only_when_used():
    wf = load_workflow(WF)
    axis = json.loads(wf.canonical)["sweep"][0]
    assert axis["labels"] == ["tonic", "adapting", "bursting"]
    assert "labels" not in json.loads(wf.canonical)["sweep"][1]  # a plain axis: as before
    renamed = load_workflow(_with("sweep/pattern/labels", ["tonic", "adapting", "burst"]))
    assert renamed.fingerprint != wf.fingerprint
    # the same parameters as a plain zipped axis (distinct first values): another identity, no labels
    plain = _with("sweep/pattern", {"zip": {k: WF["sweep"]["pattern"]["zip"][k] for k in ("neuron.tau_w", "neuron.b")}})
    assert all("labels" not in a for a in json.loads(load_workflow(plain).canonical)["sweep"])
    assert load_workflow(plain).fingerprint != wf.fingerprint
    assert load_workflow(WF).fingerprint == wf.fingerprint
    assert wf.prune(2).sweep[0].point_labels == ("tonic", "adapting")


BAD = {
    "labels not distinct": (
        _with("sweep/pattern/labels", ["tonic", "adapting", "tonic"]),
        (
            r"^`sweep\.pattern\.labels` is given twice \(labels 0 and 2\), got 'tonic'\. "
            r"Each label must be distinct"
        ),
    ),
    "a list of the wrong length": (
        _with("sweep/pattern/zip/neuron.b", {"values": [0, 60], "unit": "pA"}),
        (
            r"^`sweep\.pattern\.zip\.neuron\.b` has 2 values for 3 labels, got '\[0, 60\]'\. "
            r"Give one value per label, in the order of sweep\.pattern\.labels\.$"
        ),
    ),
    "zipped and swept": (
        _with("sweep/I", {"param": "neuron.b", "values": [1, 2], "unit": "pA"}),
        r"^`sweep\.I\.param` is already swept by axis 'pattern', got 'neuron\.b'\.",
    ),
    "swept, then zipped": (
        {
            **_with("sweep/I", None),
            "sweep": {"b": {"param": "neuron.b", "values": [1, 2], "unit": "pA"}, "pattern": WF["sweep"]["pattern"]},
        },
        (
            r"^`sweep\.pattern\.zip\.neuron\.b` is already swept by axis 'b', got 'neuron\.b'\. "
            r"Sweep each parameter on one axis"
        ),
    ),
    "zipped and sampled": (
        _with("sample", {"n": 4, "params": {"b": {"param": "neuron.b", "bounds": [0, 50], "unit": "pA"}}}),
        r"^`sample\.params\.b\.param` is already swept by axis 'pattern', got 'neuron\.b'\.",
    ),
    "a label that is no name": (
        _with("sweep/pattern/labels", ["tonic", 5, "bursting"]),
        r"^`sweep\.pattern\.labels` is not a name \(label 1\): .*, got '5'\. Example: ",
    ),
    "labels not a list": (
        _with("sweep/pattern/labels", "tonic"),
        (
            r"^`sweep\.pattern\.labels` must be a list of names, one per point of the axis, got "
            r"'tonic'\. Example: "
        ),
    ),
    "no zip": (_with("sweep/pattern/zip", None), r"^`sweep\.pattern\.zip` is required with `labels`"),
    "a param key": (
        _with("sweep/pattern/param", "neuron.b"),
        r"^`sweep\.pattern\.param` is not a known key \(value 'neuron\.b'\)\. Allowed here: labels, zip\.$",
    ),
    "two labels, one point": (
        _with("sweep/pattern/zip", {"neuron.b": {"values": [0, 0, 100], "unit": "pA"}}),
        (
            r"^`sweep\.pattern\.labels` sets the same values as label 'tonic' \(neuron\.b\), "
            r"got 'adapting'\. Give each label other values"
        ),
    ),
    "an unknown parameter": (
        _with("sweep/pattern/zip/neuron.tau_m", {"values": [1, 2, 3], "unit": "ms"}),
        r"^`sweep\.pattern\.zip\.neuron\.tau_m` is not a numeric parameter of this workflow",
    ),
    "a bad value, by its label": (
        _with("sweep/pattern/zip/neuron.tau_w", {"values": [30, -1, 120], "unit": "ms"}),
        r"^`sweep\.pattern\.zip\.neuron\.tau_w` .*must be positive, got '-1 ms \(adapting\)'",
    ),
    "a bad combination, by its label": (
        _with("sweep/pattern/zip/neuron.delta_t", {"values": [2, 0.01, 2], "unit": "mV"}),
        (
            r"^`sweep\.pattern\.labels` gives neuron\.v_peak .* overflow .*, got "
            r"'adapting'\. Lower v_peak or raise delta_t\.$"
        ),
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_labelled_axes_are_one_line_errors(case):
    raw, message = BAD[case]
    with pytest.raises(WorkflowError, match=message) as info:
        load_workflow(raw)
    assert "\n" not in str(info.value)


def test_cli_refuses_repeated_labels_in_one_line(tmp_path):
    path = _write(tmp_path, _with("sweep/pattern/labels", ["tonic", "tonic", "bursting"]))
    out = _cli("validate", path)
    assert out.returncode == 2 and out.stdout == "", out.stdout
    assert out.stderr.count("\n") == 1 and "`sweep.pattern.labels` is given twice" in out.stderr, out.stderr


@pytest.mark.slow
def test_a_labelled_store_resumes_verifies_and_selects_by_label(tmp_path):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    # killed with two of its six blocks done (each held 0.3 s after it is computed), resumed:
    # the same store as simulate's
    proc = _start(
        "run",
        path,
        "--store",
        store,
        "--points-per-task",
        "1",
        "--workers",
        "1",
        "--no-progress",
        env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "block-computed", "LIFBATCH_TEST_PAUSE_SECONDS": "0.3"},
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store)) < 2:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    before = len(done_blocks(store))
    assert 2 <= before < 6
    resumed = _cli("run", path, "--store", store, "--no-progress")
    assert resumed.returncode == 0 and f"{6 - before} blocks run, {before} already done" in resumed.stdout, (
        resumed.stdout + resumed.stderr
    )
    ds = lifbatch.open_results(store)
    reference = lifbatch.simulate(load_workflow(path))
    assert_identical(ds.load(), reference)
    assert ds["pattern"].values.tolist() == ["tonic", "adapting", "bursting"]
    assert ds["neuron.tau_w"].values.tolist() == [0.03, 0.3, 0.12]
    verified = _cli("status", store, "--verify")
    assert verified.returncode == 0 and "every coordinate intact" in verified.stdout, verified.stdout
    # selections by label: xarray's, lifbatch.sel's (with the grid axis in units), query's
    picked = lifbatch.sel(ds, pattern="adapting", I="500 pA")
    assert float(picked.rate) == float(reference.rate.sel(pattern="adapting", I=5e-10))
    times = lifbatch.spike_times(ds, pattern="bursting", I="400 pA", trial=1)
    bits = reference.spike_bits.sel(pattern="bursting", I=4e-10, trial=1).values
    assert np.array_equal(times, (np.flatnonzero(np.unpackbits(bits)[:1000]) + 1) * 1e-4)
    csv = _cli("query", store, "--sel", "pattern=tonic", "--var", "spike_count", "--format", "csv")
    assert csv.returncode == 0, csv.stderr
    rows = csv.stdout.splitlines()
    assert rows[0] == "I [pA],trial,spike_count"
    want = reference.spike_count.sel(pattern="tonic").values
    assert [int(r.split(",")[-1]) for r in rows[1:]] == want.ravel().tolist()
    where = _cli("query", store, "--where", "neuron.tau_w>100 ms", "--format", "csv")
    header, *rows = where.stdout.splitlines()
    assert header == "I [pA],pattern,rate [Hz]", where.stdout
    assert sorted(tuple(r.split(",")[:2]) for r in rows) == [
        ("400.0", "adapting"),
        ("400.0", "bursting"),
        ("500.0", "adapting"),
        ("500.0", "bursting"),
    ]
    bad = _cli("query", store, "--sel", "pattern=tonik")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert (
        "`--sel pattern=tonik` is not a label of the axis pattern (its labels: tonic, adapting, bursting). "
        "Pick one of those, e.g. --sel pattern=tonic"
    ) in bad.stderr
    with pytest.raises(WorkflowError, match=r"^`pattern=tonik` is not a label of the axis pattern"):
        lifbatch.sel(ds, pattern="tonik")


@pytest.mark.slow
def test_review_and_report_show_labels(tmp_path):
    pytest.importorskip("panel", reason="the review app needs panel (a dependency of lifbatch)")
    from lifbatch.report import write_report
    from lifbatch.review import make_app

    ds = lifbatch.simulate(_with("inputs/noise", None))
    app = make_app(ds)._lifbatch_app
    assert list(app.sliders["pattern"].options) == ["tonic", "adapting", "bursting"]
    app.select_point(pattern="bursting", I=4e-10)
    assert app._point_label() == "pattern = bursting, I = 400 pA"
    assert app.point_md.object.startswith("**Selected point:** pattern = bursting, I = 400 pA")
    raster = app.point_panes["raster"].object
    spikes = int(ds.spike_count.sel(pattern="bursting", I=4e-10).sum())
    assert raster.title.text == f"Spike raster, {spikes} spikes (pattern = bursting, I = 400 pA)"
    # pattern on the x axis: ticks at its points, labelled; curves over I named by their label
    app.x_select.value, app.y_select.value = "pattern", "I"
    rate = app.rate_pane.object
    assert rate.xaxis[0].major_label_overrides == {0.0: "tonic", 1.0: "adapting", 2.0: "bursting"}
    assert rate.xaxis[0].ticker.ticks == [0.0, 1.0, 2.0]
    app.x_select.value, app.y_select.value = "I", "pattern"
    legend = [item.label.value for lg in app.rate_pane.object.legend for item in lg.items]
    assert legend[:3] == ["pattern = tonic", "pattern = adapting", "pattern = bursting"]
    html = write_report(ds, tmp_path / "r.html").read_text()
    assert "bursting" in html and "pattern = 2" not in html
