"""Sampled designs in the review layer: the scatter figures of ``lifbatch.plotting``, the
review app (in-process, and served to a real headless Chromium) and the static report.

The store is real: ``lifbatch.run_sweep`` of a workflow with a ``sample`` section (16 Sobol
points of the current I in pA and of the noise sigma in mV, log-scaled, with 3 points
added in rounds 1 and 2) times a grid axis t_ref (2, 5 ms). Two of its blocks are then
taken back to the state of a run that has not written them yet (no marker, no chunks):
design samples 8 and 9 and the round-2 sample 18 are pending.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

hv = pytest.importorskip("holoviews", reason="plotting needs holoviews (a dependency of lifbatch)")
pytest.importorskip("panel", reason="the review app needs panel (a dependency of lifbatch)")

import lifbatch  # noqa: E402
from lifbatch import figures, plotting  # noqa: E402

try:  # tests/ may or may not be a package
    from tests._stores import lif_workflow, run_store, simulated, unwrite_blocks
    from tests.test_review_browser import (
        PLOT_DETAILS_JS,
        PLOTS_JS,
        Server,
        browser,  # noqa: F401
        needs_chromium,  # noqa: F401
        open_page,
        plots,
        point_text,
        wait_titles,
    )
except ImportError:  # pragma: no cover
    from _stores import lif_workflow, run_store, simulated, unwrite_blocks
    from test_review_browser import (
        PLOT_DETAILS_JS,
        PLOTS_JS,
        Server,
        browser,  # noqa: F401
        needs_chromium,  # noqa: F401
        open_page,
        plots,
        point_text,
        wait_titles,
    )

WORKFLOW = """\
name: sampled-review
seed: 7
trials: 4
duration: 300 ms
dt: 0.1 ms
neuron: {tau_m: 20 ms, e_l: -65 mV, v_th: -50 mV, v_reset: -65 mV, t_ref: 2 ms, r_m: 100 Mohm}
inputs:
  current: {kind: constant, value: 150 pA}
  noise: {kind: white_noise, sigma: 2 mV}
sweep:
  t_ref: {param: neuron.t_ref, values: [2, 5], unit: ms}
sample:
  method: sobol
  n: 16
  params:
    I: {param: inputs.current.value, bounds: [100, 300], unit: pA}
    sigma: {param: inputs.noise.sigma, bounds: [1, 8], unit: mV, scale: log}
  added: {round: [1, 1, 2], I: [2.0e-10, 2.5e-10, 1.5e-10], sigma: [0.002, 0.004, 0.003]}
record:
  v: {trials: [0, 1], every: 0.5 ms}
summaries:
  warmup: 50 ms
"""
N_DESIGN, ADDED_ROUNDS = 16, [1, 1, 2]
PENDING = [8, 9, 18]  # the samples of the two blocks not written (2 samples a block)
T_REF = 0.005  # (SI) the grid value most tests look at


@pytest.fixture(scope="module")
def sampled_store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sampled")
    (root / "sampled.yaml").write_text(WORKFLOW)
    store = root / "sampled.zarr"
    lifbatch.run_sweep(
        lifbatch.load_workflow(root / "sampled.yaml"), store, workers=2, points_per_task=4, progress=False
    )
    unwrite_blocks(store, [s * 2 + j for s in PENDING for j in range(2)])  # (sample, t_ref): 2 t_ref values
    return store


@pytest.fixture(scope="module")
def ds(sampled_store):
    return lifbatch.open_results(sampled_store).load()


def test_the_store_is_a_sampled_design_with_pending_and_refined_points(ds):
    assert figures.sampled_params(ds) == ["I", "sigma"] and figures.is_sampled(ds)
    assert figures.grid_axes(ds) == ["t_ref"]
    assert ds["sample_round"].values.tolist() == [0] * N_DESIGN + ADDED_ROUNDS
    status = ds.status.transpose("sample", "t_ref").values
    assert (status[PENDING] == 0).all() and np.isnan(ds.rate.isel(sample=PENDING).values).all()
    assert (np.delete(status, PENDING, axis=0) == 1).all()
    assert not figures.is_sampled(simulated(n_x=2, n_y=2, trials=2, duration=0.05))


# ----------------------------------------------------------------------------- plotting
def label_text(label) -> str:
    return label if isinstance(label, str) else getattr(label, "value", None) or label["value"]


def layers(fig) -> dict[str, hv.Points]:
    return {p.label: p for p in fig.traverse(lambda e: e, [hv.Points])}


def test_sample_scatter_points_are_the_samples_in_display_units(ds, sampled_store):
    fig = plotting.sample_scatter(str(sampled_store), "I", "sigma", var="rate", t_ref=T_REF)
    assert isinstance(fig, hv.Overlay)
    assert fig.opts.get().kwargs["title"] == "Firing rate (t_ref = 5 ms)"
    by = layers(fig)
    assert list(by) == ["design", "pending", "added in round 1", "added in round 2, pending"]
    d = ds.sel(t_ref=T_REF)
    drawn = []
    for label, pts in by.items():
        (xd, yd), vd = pts.kdims, pts.vdims
        assert (xd.name, xd.unit, yd.name, yd.unit) == ("I", "pA", "sigma", "mV")
        assert (vd[0].name, vd[0].unit, vd[0].label) == ("rate", "Hz", "firing rate")
        samples = pts.dimension_values("sample").astype(int)
        drawn += samples.tolist()
        np.testing.assert_allclose(pts.dimension_values("I"), d.I.values[samples] * 1e12, rtol=1e-13)
        np.testing.assert_allclose(pts.dimension_values("sigma"), d.sigma.values[samples] * 1e3, rtol=1e-13)
        # the colour is the store's rate, in Hz, exactly
        np.testing.assert_array_equal(pts.dimension_values("rate"), d.rate.values[samples])
        np.testing.assert_array_equal(pts.dimension_values("sample_round"), d.sample_round.values[samples])
    assert sorted(drawn) == list(range(N_DESIGN + len(ADDED_ROUNDS)))
    assert sorted(by["pending"].dimension_values("sample").astype(int).tolist()) == [8, 9]
    assert by["added in round 1"].dimension_values("sample").tolist() == [16, 17]
    assert by["added in round 2, pending"].dimension_values("sample").tolist() == [18]
    # the exact SI values written in the workflow's `added` block, shown in pA and mV
    np.testing.assert_allclose(by["added in round 1"].dimension_values("I"), [200.0, 250.0])
    np.testing.assert_allclose(by["added in round 1"].dimension_values("sigma"), [2.0, 4.0])

    # sigma was sampled with scale: log, so its axis is logarithmic; refined points marked
    plot = hv.render(fig, backend="bokeh")
    assert type(plot.y_scale).__name__ == "LogScale" and type(plot.x_scale).__name__ == "LinearScale"
    glyphs = {label_text(item.label): item.renderers[0].glyph for item in plot.legend[0].items}
    assert list(glyphs) == list(by)
    assert {k: g.marker for k, g in glyphs.items()} == {
        "design": "circle",
        "pending": "circle",
        "added in round 1": "triangle",
        "added in round 2, pending": "square",
    }
    assert glyphs["added in round 1"].line_color == "black" and glyphs["added in round 1"].line_width == 1.5
    assert glyphs["design"].line_alpha == 0.0  # (the design's points: no outline)
    assert glyphs["pending"].fill_alpha == 0.0 and glyphs["pending"].line_color == "#777777"


def test_sample_scatter_colours_by_the_chosen_summary_over_any_grid_value(ds):
    fig = plotting.sample_scatter(ds, var="isi_cv")  # t_ref not selected: one frame per value
    assert isinstance(fig, hv.HoloMap)
    assert (fig.kdims[0].name, fig.kdims[0].unit) == ("t_ref", "ms")
    np.testing.assert_allclose(sorted(fig.keys()), [2.0, 5.0])
    frame = layers(fig[2.0])["design"]
    samples = frame.dimension_values("sample").astype(int)
    np.testing.assert_array_equal(frame.dimension_values("isi_cv"), ds.isi_cv.sel(t_ref=0.002).values[samples])
    isi = layers(plotting.sample_scatter(ds, "sigma", "I", var="isi_mean", t_ref=T_REF))["design"]
    assert [k.name for k in isi.kdims] == ["sigma", "I"]
    samples = isi.dimension_values("sample").astype(int)
    assert (isi.vdims[0].name, isi.vdims[0].unit) == ("isi_mean", "ms")
    np.testing.assert_allclose(
        isi.dimension_values("isi_mean"), ds.isi_mean.sel(t_ref=T_REF).values[samples] * 1e3, rtol=1e-13
    )


def test_sample_projection_against_each_parameter_with_the_siegert_values(ds):
    from lifbatch.theory import theory_cv, theory_rate

    fig = plotting.sample_projection(ds, "sigma", var="rate", t_ref=T_REF)
    assert fig.opts.get().kwargs["title"] == "Firing rate vs sigma (t_ref = 5 ms)"
    assert fig.opts.get().kwargs["logx"] is True
    by = layers(fig)
    assert list(by) == ["design", "pending", "added in round 1", "added in round 2, pending", "theory (Siegert)"]
    d = ds.sel(t_ref=T_REF)
    design = by["design"]
    samples = design.dimension_values("sample").astype(int)
    assert [(k.name, k.unit) for k in design.kdims] == [("sigma", "mV"), ("rate", "Hz")]
    np.testing.assert_allclose(design.dimension_values("sigma"), d.sigma.values[samples] * 1e3, rtol=1e-13)
    np.testing.assert_array_equal(design.dimension_values("rate"), d.rate.values[samples])
    # the closed-form rate at every sample, at this t_ref
    theory = by["theory (Siegert)"]
    np.testing.assert_allclose(theory.dimension_values("sigma"), d.sigma.values * 1e3, rtol=1e-13)
    np.testing.assert_allclose(theory.dimension_values("rate"), theory_rate(ds).sel(t_ref=T_REF).values, rtol=1e-12)
    cv = layers(plotting.sample_projection(ds, "I", var="isi_cv", t_ref=T_REF))
    np.testing.assert_allclose(
        cv["theory (Siegert)"].dimension_values("isi_cv"), theory_cv(ds.sel(t_ref=T_REF)).values, rtol=1e-12
    )
    assert not figures.log_scale(ds, "I")
    lay = plotting.sample_projections(ds, var="rate", t_ref=T_REF)
    assert [o.opts.get().kwargs["title"] for o in lay] == [
        "Firing rate vs I (t_ref = 5 ms)",
        "Firing rate vs sigma (t_ref = 5 ms)",
    ]


def test_overview_of_a_sampled_store_and_its_points(ds, sampled_store):
    lay = plotting.overview(ds)
    titles = [o.opts.get().kwargs["title"] for o in lay]
    assert titles == [
        "Firing rate (t_ref = 2 ms)",
        "ISI CV (t_ref = 2 ms)",
        "Firing rate vs I (t_ref = 2 ms)",
        "Firing rate vs sigma (t_ref = 2 ms)",
    ]
    # one sample's own figures, as a grid point's
    fig = plotting.raster(str(sampled_store), sample=17, t_ref=T_REF)
    n = int(ds.spike_count.sel(sample=17, t_ref=T_REF).sum())
    assert fig.opts.get().kwargs["title"] == f"Spike raster, {n} spikes (sample = 17, t_ref = 5 ms)"
    assert len(fig.traverse(lambda e: e, [hv.Segments])[0]) == n
    assert (
        figures.sample_point_label(ds, {"sample": 17, "t_ref": T_REF})
        == "sample 17 (I = 250 pA, sigma = 4 mV; added in round 1), t_ref = 5 ms"
    )
    pending = plotting.isi_histogram(ds, sample=8, t_ref=T_REF)
    (note,) = pending.traverse(lambda e: e, [hv.Text])
    assert note.text.startswith("pending point")


def test_failed_points_are_red_crosses_in_both_renderings(ds):
    from lifbatch.review import scatter_figure

    failed = ds.copy(deep=True)
    failed["status"].loc[{"sample": [3, 17]}] = 2
    by = layers(plotting.sample_scatter(failed, t_ref=T_REF))
    assert list(by) == [
        "design",
        "pending",
        "failed",
        "added in round 1",
        "added in round 1, failed",
        "added in round 2, pending",
    ]
    assert by["failed"].dimension_values("sample").tolist() == [3]
    d, where = figures.select_samples(failed, {"t_ref": T_REF}, "test")
    fig, _ = scatter_figure(d, "I", "sigma", "rate", where, failed)
    crosses = [r for r in fig.renderers if r.name == "lb-failed"]
    assert [list(r.data_source.data["sample"]) for r in crosses] == [[3], [17]]
    assert {r.glyph.marker for r in crosses} == {"x"}


def test_sampled_figures_refuse_what_they_cannot_draw(ds):
    grid = simulated(n_x=2, n_y=2, trials=2, duration=0.05)
    with pytest.raises(ValueError, match="grid over"):
        plotting.sample_scatter(grid)
    with pytest.raises(ValueError, match="not a sampled parameter"):
        plotting.sample_scatter(ds, "I", "tau")
    with pytest.raises(ValueError, match="both 'I'"):
        plotting.sample_scatter(ds, "I", "I")
    with pytest.raises(ValueError, match="not a grid axis"):
        plotting.sample_scatter(ds, sample=3)
    with pytest.raises(ValueError, match="not a summary"):
        plotting.sample_projection(ds, "I", var="spike_bits")


# ----------------------------------------------------------------------------- the app
def renderer(fig, name: str):
    return [r for r in fig.renderers if r.name == name]


def test_app_draws_the_sampled_store(ds, sampled_store):
    from lifbatch.review import SampledReviewApp, make_app

    app = make_app(str(sampled_store))._lifbatch_app
    assert isinstance(app, SampledReviewApp)
    assert (app.x_select.value, app.y_select.value, app.var_select.value) == ("I", "sigma", "rate")
    assert list(app.var_select.options) == ["firing rate", "ISI CV", "ISI mean", "ISI std", "rate std"]
    assert list(app.sliders) == ["t_ref"]
    assert app.status_md.object.startswith("**32 / 38 points done**, 6 pending")
    assert "19 samples (16 design, 2 added in round 1, 1 added in round 2) x 2 t_ref" in app.status_md.object
    fig = app.scatter_pane.object
    t = float(app.sliders["t_ref"].value)
    assert fig.title.text == f"Firing rate (t_ref = {t * 1e3:g} ms)"
    assert (fig.xaxis[0].axis_label, fig.yaxis[0].axis_label) == ("I (pA)", "sigma (mV)")
    assert type(fig.y_scale).__name__ == "LogScale" and type(fig.x_scale).__name__ == "LinearScale"
    d = ds.sel(t_ref=t)
    (design, added1), (pending, pending2) = renderer(fig, "lb-done")[:2], renderer(fig, "lb-pending")
    for r in (design, added1, pending, pending2):
        data = r.data_source.data
        s = np.asarray(data["sample"]).astype(int)
        np.testing.assert_allclose(data["x"], d.I.values[s] * 1e12, rtol=1e-13)
        np.testing.assert_allclose(data["y"], d.sigma.values[s] * 1e3, rtol=1e-13)
        np.testing.assert_array_equal(data["z"], d.rate.values[s])
    assert list(added1.data_source.data["sample"]) == [16, 17]
    assert added1.glyph.marker == "triangle" and added1.glyph.line_color == "black"
    assert list(pending.data_source.data["sample"]) == [8, 9] and pending.glyph.fill_alpha == 0
    assert list(pending2.data_source.data["sample"]) == [18] and pending2.glyph.marker == "square"
    assert [i.label.value for i in fig.legend[0].items] == [
        "design",
        "pending",
        "added in round 1",
        "added in round 2, pending",
        "selected",
    ]
    proj = app.projection_panes["I"].object
    assert proj.title.text == f"Firing rate vs I (t_ref = {t * 1e3:g} ms)"
    (pd,) = renderer(proj, "lb-done")[:1]
    s = np.asarray(pd.data_source.data["sample"]).astype(int)
    np.testing.assert_array_equal(pd.data_source.data["y"], d.rate.values[s])

    # the summary selector recolours the scatter and changes the projections' y
    app.var_select.value = "isi_cv"
    fig = app.scatter_pane.object
    assert fig.title.text.startswith("ISI CV (")
    (design,) = renderer(fig, "lb-done")[:1]
    s = np.asarray(design.data_source.data["sample"]).astype(int)
    np.testing.assert_array_equal(design.data_source.data["z"], d.isi_cv.values[s])
    assert app.projection_panes["sigma"].object.yaxis[0].axis_label == "ISI CV"

    # drill-down to one sample: its figures, heading, and a ring on every figure
    app.select_point(sample=17)
    assert app.point_md.object.endswith(
        f"sample 17 (I = 250 pA, sigma = 4 mV; added in round 1), t_ref = {t * 1e3:g} ms"
    )
    assert app.sample_input.value == 17
    (ticks,) = app.point_panes["raster"].object.renderers
    assert len(ticks.data_source.data["x0"]) == int(ds.spike_count.sel(sample=17, t_ref=t).sum())
    (ring,) = renderer(app.scatter_pane.object, "lb-selected")
    np.testing.assert_allclose(ring.data_source.data["x"], [250.0])
    np.testing.assert_allclose(ring.data_source.data["y"], [4.0])
    app.select_point(sample=8)
    assert app.point_md.object.endswith("(pending)")
    # the grid axis' slider moves the overview and the point together
    app.sliders["t_ref"].value = 0.002
    assert app.scatter_pane.object.title.text == "ISI CV (t_ref = 2 ms)"
    assert app.point_md.object.endswith("t_ref = 2 ms (pending)")


def test_tap_picks_the_nearest_sample_on_screen(ds):
    from lifbatch.review import nearest_sample

    d, _ = figures.select_samples(ds, {"t_ref": T_REF}, "test")
    data = figures.sample_data(d, "I", "sigma", "rate")
    for s in (0, 5, 17):
        x, y = float(ds.I[s]) * 1e12, float(ds.sigma[s]) * 1e3
        assert nearest_sample(data, x * 1.001, y * 1.01, ylog=True) == s
    assert nearest_sample(data, None, 1.0) is None


def test_grid_stores_still_get_the_grid_app(tmp_path):
    from lifbatch.review import ReviewApp, SampledReviewApp, make_app

    path = run_store(tmp_path / "grid.zarr", lif_workflow(n_x=3, n_y=3, trials=2, duration=0.05), points_per_task=3)
    app = make_app(str(path))._lifbatch_app
    assert type(app) is ReviewApp and not isinstance(app, SampledReviewApp)
    assert app.heat_pane.object.title.text == "Firing rate"


# ----------------------------------------------------------------------------- the browser
#: page coordinates of data point (x, y) (display units) in the plot whose title starts with prefix
POSITION_JS = """([prefix, x, y]) => { let out = null;
  const walk = (v) => {
    if (!out && v.frame && v.model.title && v.model.title.text.startsWith(prefix)) {
      const r = v.canvas_view.el.getBoundingClientRect();
      out = {x: r.left + v.frame.x_scale.compute(x), y: r.top + v.frame.y_scale.compute(y)};
    }
    for (const c of (v.child_views || [])) walk(c);
  };
  for (const v of Bokeh.index.roots) walk(v);
  return out; }"""

#: {renderer name: [{sample, x, y, marker}]} of the plot whose title starts with prefix, as the browser has them
GLYPHS_JS = """(prefix) => { let out = null;
  const walk = (v) => {
    if (!out && v.frame && v.model.title && v.model.title.text.startsWith(prefix)) {
      out = {scales: [String(v.model.x_scale).split('(')[0], String(v.model.y_scale).split('(')[0]], glyphs: []};
      for (const r of v.model.renderers) {
        if (!r.glyph || !r.name) continue;
        const d = r.data_source.data;
        const m = r.glyph.marker;
        out.glyphs.push({name: r.name, marker: m && m.value !== undefined ? m.value : m, x: Array.from(d.x), y: Array.from(d.y),
                         sample: d.sample ? Array.from(d.sample) : null});
      }
    }
    for (const c of (v.child_views || [])) walk(c);
  };
  for (const v of Bokeh.index.roots) walk(v);
  return out; }"""


@pytest.fixture(scope="module")
def sampled_server(sampled_store):
    srv = Server(sampled_store)
    yield srv
    log = srv.stop()
    # (tornado logs closed-websocket noise when a page closes; our code must not fail)
    assert not re.search(r'File "[^"]*lifbatch/', log), log


def wait_point(page, predicate, timeout: float = 60) -> str:
    end = time.time() + timeout
    while time.time() < end:
        text = point_text(page)
        if predicate(text):
            return text
        page.wait_for_timeout(200)
    raise AssertionError(f"the point never matched; now: {point_text(page)}")


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_review_app_renders_a_sampled_store_and_drills_down_to_a_sample(sampled_server, browser, ds):
    # the overview (scatter, two projections) and the five figures of the middle sample
    page = open_page(browser, sampled_server.url, n_plots=8)
    state = plots(page)
    t = "t_ref = 5 ms"
    assert state["titles"][:3] == [f"Firing rate ({t})", f"Firing rate vs I ({t})", f"Firing rate vs sigma ({t})"]
    for label in ("I (pA)", "sigma (mV)", "firing rate (Hz)", "V (mV)", "time (ms)"):
        assert label in state["axes"], label
    assert page.locator(".lb-status p").first.inner_text().startswith("32 / 38 points done, 6 pending")
    # what the browser draws: the samples at their values in pA and mV, sigma on a log axis,
    # refined points with their rounds' markers, pending points hollow
    scatter = page.evaluate(GLYPHS_JS, "Firing rate (")
    assert scatter["scales"] == ["LinearScale", "LogScale"]
    by = {}
    for g in scatter["glyphs"]:
        by.setdefault(g["name"], []).append(g)
    assert [g["marker"] for g in by["lb-done"]] == ["circle", "triangle"]
    assert [g["sample"] for g in by["lb-pending"]] == [[8, 9], [18]]
    for g in by["lb-done"] + by["lb-pending"]:
        s = np.asarray(g["sample"], int)
        np.testing.assert_allclose(g["x"], ds.I.values[s] * 1e12, rtol=1e-12)
        np.testing.assert_allclose(g["y"], ds.sigma.values[s] * 1e3, rtol=1e-12)
    details = {v["title"]: v for v in page.evaluate(PLOT_DETAILS_JS)}
    assert details[f"Firing rate ({t})"]["legend"] == [
        "design",
        "pending",
        "added in round 1",
        "added in round 2, pending",
        "selected",
    ]
    assert details[f"Firing rate vs I ({t})"]["legend"] == ["theory (Siegert)"]

    # tap the round-1 sample 17 on the scatter: its traces, raster and ISI histogram
    at = page.evaluate(POSITION_JS, ["Firing rate (", 250.0, 4.0])
    page.mouse.click(at["x"], at["y"])
    text = wait_point(page, lambda s: "sample 17" in s)
    assert text.endswith(f"sample 17 (I = 250 pA, sigma = 4 mV; added in round 1), {t}")
    n = int(ds.spike_count.sel(sample=17, t_ref=T_REF).sum())
    titles = wait_titles(page, lambda ts: f"Spike raster, {n} spikes (sample = 17, {t})" in ts)["titles"]
    assert f"Membrane potential (sample = 17, {t})" in titles
    assert any(x.startswith("ISI histogram") and x.endswith(f"(sample = 17, {t})") for x in titles)
    ring = [g for g in page.evaluate(GLYPHS_JS, "Firing rate (")["glyphs"] if g["name"] == "lb-selected"]
    assert [(g["x"], g["y"]) for g in ring] == [([pytest.approx(250.0)], [pytest.approx(4.0)])]

    # tap a point of a projection: the design's sample 3 there
    s3 = (float(ds.sigma[3]) * 1e3, float(ds.rate.sel(sample=3, t_ref=T_REF)))
    at = page.evaluate(POSITION_JS, ["Firing rate vs sigma", *s3])
    page.mouse.click(at["x"], at["y"])
    assert "sample 3 (" in wait_point(page, lambda s: "sample 3 (" in s)

    # a pending sample (hollow on the scatter) is flagged, its panels say why
    at = page.evaluate(POSITION_JS, ["Firing rate (", float(ds.I[8]) * 1e12, float(ds.sigma[8]) * 1e3])
    page.mouse.click(at["x"], at["y"])
    assert wait_point(page, lambda s: "sample 8" in s).endswith("(pending)")
    wait_titles(page, lambda ts: f"V variance (sample = 8, {t})" in ts)
    notes = {v["title"]: v["notes"] for v in page.evaluate(PLOT_DETAILS_JS)}
    assert notes[f"Spike raster, 0 spikes (sample = 8, {t})"][0].startswith("pending point")

    # the summary selector, the grid axis' slider and the sample number
    page.locator(".lb-var-select select").select_option(label="ISI CV")
    wait_titles(page, lambda ts: f"ISI CV ({t})" in ts and f"ISI CV vs I ({t})" in ts)
    handle = page.locator(".lb-slider-t_ref .noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowLeft")
    wait_titles(page, lambda ts: "ISI CV (t_ref = 2 ms)" in ts)
    assert wait_point(page, lambda s: "t_ref = 2 ms" in s).endswith("t_ref = 2 ms (pending)")
    box = page.locator(".lb-sample-input input")
    box.fill("16")
    box.press("Enter")
    assert wait_point(page, lambda s: "sample 16" in s).endswith(
        "sample 16 (I = 200 pA, sigma = 2 mV; added in round 1), t_ref = 2 ms"
    )
    assert page.errors == []
    local = (sampled_server.url, f"ws://127.0.0.1:{sampled_server.port}/", "blob:", "data:")
    assert [u for u in page.requests if not u.startswith(local)] == []
    page.close()


# ----------------------------------------------------------------------------- the report
@pytest.mark.browser
@needs_chromium
def test_static_report_of_a_sampled_store(sampled_store, browser, tmp_path, ds):
    from lifbatch.report import external_urls, write_report

    out = write_report(sampled_store, tmp_path / "report.html")
    text = out.read_text(encoding="utf-8")
    assert external_urls(text) == []
    assert "Sampled parameters" in text and "inputs.noise.sigma" in text
    assert "19 samples (sobol: 16 design, 2 added in round 1, 1 added in round 2)" in text
    for t in ("t_ref = 2 ms", "t_ref = 5 ms"):  # a frame per grid value, each with its figures
        for title in (f"Firing rate ({t})", f"ISI CV ({t})", f"Firing rate vs sigma ({t})", f"ISI CV vs I ({t})"):
            assert title in text, title
    # the point shown: the middle of the samples done at every t_ref (8 and 9 are pending)
    assert "Point: sample 10 (I = " in text
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    page.wait_for_function(f"() => ({PLOTS_JS})().finished >= 11", timeout=120_000)
    titles = plots(page)["titles"]
    assert "Firing rate (t_ref = 2 ms)" in titles
    assert any(x.startswith("Spike raster") and "sample = 10" in x for x in titles)
    ring = [g for g in page.evaluate(GLYPHS_JS, "Firing rate (")["glyphs"] if g["name"] == "lb-selected"]
    np.testing.assert_allclose(ring[0]["x"], [float(ds.I[10]) * 1e12])
    assert errors == []
    page.close()
