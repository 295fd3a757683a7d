"""The review app and the report per neuron model (issue 20, item 7): the spike rule's line,
the recorded state variables and inputs, the Brian2 tutorial's v and I of its three cells,
no theory where a model has none. Stores made by ``lifbatch.simulate`` and, for the
browser, by a real ``lifbatch run`` of workflows/brian-hh.yaml."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

pytest.importorskip("panel", reason="the review app needs panel (a dependency of lifbatch)")

import lifbatch  # noqa: E402
from test_review_browser import (  # noqa: E402,F401  (browser: the module's fixture)
    PLOT_DETAILS_JS,
    ROOT,
    Server,
    browser,
    needs_chromium,
    open_page,
    plots,
)
from test_store_trust import _cli  # noqa: E402

BRIAN_HH = ROOT / "workflows" / "brian-hh.yaml"
CAPACITANCES = (1.6e-10, 2e-10, 2.4e-10)


def _brian_hh(**changes) -> dict:
    """workflows/brian-hh.yaml, shorter and with two trials (seconds to simulate)."""
    raw = yaml.safe_load(BRIAN_HH.read_text())
    raw.update({"duration": "20 ms", "trials": 2, "dt": "0.02 ms"}, **changes)
    raw["record"] = {**raw["record"], "v": {"trials": "all", "every": "0.1 ms"}}
    return raw


@pytest.fixture(scope="module")
def hh():
    return lifbatch.simulate(_brian_hh())


@pytest.fixture(scope="module")
def hh_plain():
    """The same neuron and sweep recording V only."""
    raw = _brian_hh()
    raw["record"] = {"v": raw["record"]["v"]}
    return lifbatch.simulate(raw)


def _legend(fig) -> list[str]:
    return [item.label.value for legend in fig.legend for item in legend.items]


def _figures(app) -> list:
    panes = [
        *app.point_panes.values(),
        *app.trace_panes.values(),
        app.heat_pane,
        app.cv_heat_pane,
        app.rate_pane,
        app.isi_pane,
        app.cv_pane,
    ]
    return [p.object for p in panes if p.object is not None]


def test_app_of_an_hh_store_draws_its_state_inputs_and_spike_rule(hh):
    from lifbatch.review import make_app

    app = make_app(hh)._lifbatch_app
    assert list(app.point_panes) == [
        "v_ensemble",
        "raster",
        "isi_histogram",
        "v_variance",
        "v_autocov",
        "state",
        "inputs",
    ]
    point = hh.sel(C=2e-10)
    # V: the line of hh_traub's spike rule, v_spike (its default, -40 mV)
    ens = app.point_panes["v_ensemble"].object
    assert "v_spike" in _legend(ens) and "threshold" not in _legend(ens)
    (line,) = [r for item in ens.legend[0].items if item.label.value == "v_spike" for r in item.renderers]
    assert list(line.data_source.data["y"]) == pytest.approx([-40.0, -40.0])
    # the gates: one dimensionless panel, a MultiLine per gate, one line per recorded trial
    state = app.point_panes["state"].object
    assert state.title.text == "State m, n, h (C = 200 pF)"
    assert state.yaxis[0].axis_label == "m, n, h" and state.xaxis[0].axis_label == "time (ms)"
    assert _legend(state) == ["m", "n", "h"]
    for r, name in zip(state.renderers, "mnh"):
        ys = r.data_source.data["ys"]
        assert len(ys) == 2
        for k in range(2):
            np.testing.assert_array_equal(ys[k], point[name].isel(trace_trial=k).values)
    # the input, in nA as the workflow writes it
    inputs = app.point_panes["inputs"].object
    assert inputs.title.text == "Input I (C = 200 pF)" and inputs.yaxis[0].axis_label == "I (nA)"
    np.testing.assert_allclose(
        inputs.renderers[0].data_source.data["ys"][0], point["input_I"].isel(trace_trial=0).values * 1e9
    )
    # the overview opens on the Traces tab: v and I of the three cells (the tutorial's plots)
    assert app.overview_tabs.active == 2 and list(app.trace_panes) == ["v", "input_I"]
    v, current = app.trace_panes["v"].object, app.trace_panes["input_I"].object
    assert (v.title.text, current.title.text) == ("Membrane potential, trial 0", "Input I, trial 0")
    assert (v.yaxis[0].axis_label, current.yaxis[0].axis_label) == ("V (mV)", "I (nA)")
    assert _legend(v) == _legend(current) == ["C = 160 pF", "C = 200 pF", "C = 240 pF"]
    for r, c in zip(v.renderers, CAPACITANCES):
        np.testing.assert_allclose(r.data_source.data["y"], hh["v"].sel(C=c).isel(trace_trial=0).values * 1e3)
    # another point: its own traces
    app.select_point(C=1.6e-10)
    assert app.point_panes["state"].object.title.text == "State m, n, h (C = 160 pF)"
    np.testing.assert_array_equal(
        app.point_panes["state"].object.renderers[0].data_source.data["ys"][1],
        hh["m"].sel(C=1.6e-10).isel(trace_trial=1).values,
    )
    # no theory anywhere (hh_traub has none), the ISI tab included
    app.overview_tabs.active = 1
    assert app.cv_pane.object is not None
    labels = [label for fig in _figures(app) for label in _legend(fig)]
    assert labels and not [label for label in labels if "theory" in label], labels
    assert app.message.visible is False


def test_app_of_a_store_without_state_or_inputs_has_no_such_figures(hh_plain):
    from lifbatch.review import make_app

    app = make_app(hh_plain)._lifbatch_app
    assert list(app.point_panes) == ["v_ensemble", "raster", "isi_histogram", "v_variance", "v_autocov"]
    # V is recorded: the Traces tab shows it, but the app opens on the rates as for a LIF store
    assert list(app.trace_panes) == ["v"] and app.overview_tabs.active == 0
    assert app.trace_panes["v"].object is None  # (drawn when the tab is opened)
    app.overview_tabs.active = 2
    assert app.trace_panes["v"].object.title.text == "Membrane potential, trial 0"


@pytest.mark.slow
def test_report_of_an_hh_store_shows_the_tutorials_plots(hh, hh_plain, tmp_path):
    from lifbatch.report import external_urls, write_report

    text = write_report(hh, tmp_path / "hh.html").read_text(encoding="utf-8")
    assert external_urls(text) == []
    for title in (
        "Membrane potential, trial 0",
        "Input I, trial 0",
        "State m, n, h (C = 200 pF)",
        "Input I (C = 200 pF)",
        "Membrane potential (C = 200 pF)",
    ):
        assert f'"text":"{title}"' in text, title
    assert '"axis_label":"m, n, h"' in text and '"axis_label":"I (nA)"' in text
    assert '"label":{"type":"value","value":"v_spike"}' in text
    assert "theory" not in text  # (no overlay: a LIF report names "theory (Siegert)")
    plain = write_report(hh_plain, tmp_path / "plain.html").read_text(encoding="utf-8")
    assert '"text":"Membrane potential, trial 0"' in plain
    assert "State m, n, h" not in plain and '"text":"Input I' not in plain


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_review_of_brian_hh_in_a_browser(browser, tmp_path):
    """`lifbatch run workflows/brian-hh.yaml`, then its review in Chromium: v and I of the three
    cells, the gates and the input of the selected cell, v_spike's line, no theory."""
    store = tmp_path / "brian-hh.zarr"
    run = _cli("run", BRIAN_HH, "--store", store, "--no-progress", timeout=600)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "done" in run.stdout.lower(), (run.stdout, run.stderr)
    srv = Server(store)
    try:
        page = open_page(browser, srv.url, n_plots=9)
        state = plots(page)
        titles = state["titles"]
        for title in (
            "Membrane potential, trial 0",
            "Input I, trial 0",
            "Membrane potential (C = 200 pF)",
            "State m, n, h (C = 200 pF)",
            "Input I (C = 200 pF)",
        ):
            assert title in titles, titles
        for label in ("m, n, h", "I (nA)", "V (mV)", "time (ms)"):
            assert label in state["axes"], state["axes"]
        details = {d["title"]: d for d in page.evaluate(PLOT_DETAILS_JS)}
        cells = ["C = 160 pF", "C = 200 pF", "C = 240 pF"]
        assert details["Membrane potential, trial 0"]["legend"] == cells
        assert details["Input I, trial 0"]["legend"] == cells
        assert details["State m, n, h (C = 200 pF)"]["legend"] == ["m", "n", "h"]
        assert "v_spike" in details["Membrane potential (C = 200 pF)"]["legend"]
        assert not [t for d in details.values() for t in d["legend"] if "theory" in t]
        assert page.locator("canvas").count() >= 9
        assert page.errors == [], page.errors
        page.close()
    finally:
        log = srv.stop()
    assert not re.search(r'File "[^"]*lifbatch/', log), log
