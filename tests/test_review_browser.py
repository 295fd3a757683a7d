"""The review app and the static report in a real headless Chromium.

A real Panel server (``lifbatch.review.serve`` in a subprocess on 127.0.0.1) serves a
real Zarr store; Debian's ``chromium`` driven by playwright loads the page. Plots are
read back from Bokeh's live views (titles, axis labels), not from screenshots.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lifbatch

pytest.importorskip("panel", reason="the review app needs panel (a dependency of lifbatch)")

try:  # tests/ may or may not be a package
    from tests._stores import lif_workflow, resume, run_store, simulated
except ImportError:  # pragma: no cover
    from _stores import lif_workflow, resume, run_store, simulated

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium: run .ci/install-browser.sh (Debian package 'chromium')"
)

#: titles and axis labels of the plots currently on the page (live Bokeh views only)
PLOTS_JS = """() => { const out = {titles: [], axes: [], finished: 0};
  if (!(window.Bokeh && Bokeh.index)) return out;
  const walk = (v) => {
    if (v.frame && v.model.title) {
      out.titles.push(v.model.title.text);
      if (v.has_finished()) out.finished++;
      for (const a of [...v.model.below, ...v.model.left]) if (a.axis_label) out.axes.push(a.axis_label);
    }
    for (const c of (v.child_views || [])) walk(c);
  };
  for (const v of Bokeh.index.roots) walk(v);
  return out; }"""

#: page coordinates of the rate heatmap's data frame (the first plot with a colour bar)
HEATMAP_FRAME_JS = """() => { let found = null;
  const walk = (v) => {
    if (!found && v.frame && v.model.right && v.model.right.some(m => String(m).startsWith('ColorBar'))) {
      const r = v.canvas_view.el.getBoundingClientRect(); const b = v.frame.bbox;
      found = {left: r.left + b.left, top: r.top + b.top, width: b.width, height: b.height};
    }
    for (const c of (v.child_views || [])) walk(c);
  };
  for (const v of Bokeh.index.roots) walk(v);
  return found; }"""


#: [{title, legend: [labels], notes: [texts of the empty-panel notes], ...}] of the live plots
PLOT_DETAILS_JS = """() => { const out = [];
  const text = (l) => (l == null ? null : (typeof l === 'string' ? l : (l.value !== undefined ? l.value : String(l))));
  const walk = (v) => {
    if (v.frame && v.model.title) {
      const m = v.model, info = {title: m.title.text, legend: [], notes: [], x_range: [m.x_range.start, m.x_range.end],
                                 x_labels: null, glyphs: []};
      for (const a of [...m.center, ...m.right, ...m.left, ...m.above, ...m.below]) {
        const name = String(a);
        if (name.startsWith('Legend(')) for (const it of a.items) info.legend.push(text(it.label));
        if (name.startsWith('Label(') && a.name === 'lb-note') info.notes.push(a.text);
      }
      const ov = m.below.length ? m.below[0].major_label_overrides : null;
      if (ov && ov.size) info.x_labels = [...ov.entries()].sort((a, b) => Number(a[0]) - Number(b[0])).map(e => e[1]);
      for (const r of m.renderers) if (r.glyph) info.glyphs.push(String(r.glyph).split('(')[0]);
      out.push(info);
    }
    for (const c of (v.child_views || [])) walk(c);
  };
  for (const v of Bokeh.index.roots) walk(v);
  return out; }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``lifbatch.review.serve(store)`` in a subprocess; stopped by its own pid."""

    def __init__(self, store: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from lifbatch.review import serve; "
                f"serve(sys.argv[1], port={self.port}, open_browser=False)",
                str(store),
            ],
            env=env,
            cwd=str(ROOT),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        end = time.time() + 120
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"review server exited: {self.proc.stdout.read()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        self.stop()
        raise TimeoutError("review server did not start within 120 s")

    def stop(self) -> str:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


#: the sweep of the module's store (``store``)
STORE_WF = lif_workflow(n_x=5, n_y=4, trials=6, duration=0.2, seed=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    # the last row of points (one block) not written yet: pending
    return run_store(tmp_path_factory.mktemp("review") / "sweep.zarr", STORE_WF, pending=4)


@pytest.fixture(scope="module")
def server(store):
    srv = Server(store)
    yield srv
    log = srv.stop()
    # (tornado logs closed-websocket noise when a page closes; our code must not fail)
    assert not re.search(r'File "[^"]*lifbatch/', log), log


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("no /usr/bin/chromium: run .ci/install-browser.sh (Debian package 'chromium')")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, url: str, n_plots: int = 6):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.errors = []  # console errors and uncaught exceptions
    page.requests = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(url)
    page.wait_for_function(f"() => ({PLOTS_JS})().finished >= {n_plots}", timeout=120_000)
    return page


def plots(page) -> dict:
    return page.evaluate(PLOTS_JS)


def wait_titles(page, predicate, timeout: float = 60) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        state = plots(page)
        if predicate(state["titles"]):
            return state
        page.wait_for_timeout(200)
    raise AssertionError(f"plots never matched; titles now: {plots(page)['titles']}")


def point_text(page) -> str:
    return page.locator(".lb-point p").inner_text()


# ----------------------------------------------------------------------------- tests
@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_review_serves_and_renders_plots_without_errors(server, browser):
    page = open_page(browser, server.url)
    state = plots(page)
    titles = state["titles"]
    # overview (first tab: rate and CV heatmaps, rate curves) and the drill-down of the middle point
    assert titles[:3] == ["Firing rate", "ISI CV", "Firing rate"]
    assert any(t.startswith("Membrane potential (tau_m = 20 ms, I = ") for t in titles)
    assert any(t.startswith("Spike raster") for t in titles)
    assert any(t.startswith("ISI histogram") for t in titles)
    assert any(t.startswith("V variance (tau_m = 20 ms, I = ") for t in titles)
    for label in (
        "I (pA)",
        "tau_m (ms)",
        "firing rate (Hz)",
        "V (mV)",
        "time (ms)",
        "ISI (ms)",
        "V autocovariance (mV²)",
    ):
        assert label in state["axes"]
    assert page.locator(".lb-status p").inner_text().startswith("16 / 20 points done")
    assert page.errors == []
    # everything the page loaded came from the local server
    local = (server.url, f"ws://127.0.0.1:{server.port}/", "blob:", "data:")
    assert [u for u in page.requests if not u.startswith(local)] == []
    page.close()


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_changing_widgets_changes_the_plots(server, browser):
    page = open_page(browser, server.url)
    # no second plot axis: one curve, and a slider appears for tau_m
    page.locator(".lb-y-select select").select_option("(none)")
    state = wait_titles(page, lambda t: "Firing rate (tau_m = 20 ms)" in t)
    assert "Firing rate (tau_m = 20 ms)" in state["titles"]
    page.wait_for_timeout(500)
    assert not page.locator(".lb-heatmap").is_visible()  # no heatmap without a second axis
    handle = page.locator(".lb-slider-tau_m .noUi-handle")
    assert handle.count() == 1
    handle.focus()
    page.keyboard.press("ArrowRight")
    wait_titles(page, lambda t: "Firing rate (tau_m = 25 ms)" in t)
    # the slider also moves the drill-down point
    assert "tau_m = 25 ms" in point_text(page)
    # x axis switch: curves over tau_m, labelled in ms
    page.locator(".lb-x-select select").select_option("tau_m")
    state = wait_titles(page, lambda t: any(x.startswith("Firing rate (I = ") for x in t))
    assert "tau_m (ms)" in state["axes"]
    assert page.errors == []
    page.close()


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_tapping_the_heatmap_drills_down(server, browser):
    page = open_page(browser, server.url)
    assert point_text(page).endswith("tau_m = 20 ms, I = 283.3 pA")
    frame = page.evaluate(HEATMAP_FRAME_JS)
    assert frame is not None
    # bottom-left cell: smallest tau_m (y) and smallest I (x)
    page.mouse.click(frame["left"] + 0.1 * frame["width"], frame["top"] + 0.9 * frame["height"])
    wait_titles(page, lambda t: any(x.startswith("Spike raster") and "tau_m = 10 ms, I = 50 pA" in x for x in t))
    assert point_text(page).endswith("tau_m = 10 ms, I = 50 pA")
    titles = plots(page)["titles"]
    assert any(t.startswith("Membrane potential (tau_m = 10 ms, I = 50 pA)") for t in titles)
    assert any(t.startswith("ISI histogram") and "tau_m = 10 ms, I = 50 pA" in t for t in titles)
    # top-right cell: the pending points of the store still being written
    page.mouse.click(frame["left"] + 0.9 * frame["width"], frame["top"] + 0.1 * frame["height"])
    page.wait_for_function("() => true")
    end = time.time() + 60
    while "(pending)" not in point_text(page) and time.time() < end:
        page.wait_for_timeout(200)
    assert point_text(page).endswith("tau_m = 30 ms, I = 400 pA (pending)")
    assert page.errors == []
    page.close()


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_refresh_shows_points_written_since(tmp_path, browser):
    wf = lif_workflow(n_x=3, n_y=3, trials=3, duration=0.1, seed=4)
    path = run_store(tmp_path / "live.zarr", wf, points_per_task=1, pending=4)
    srv = Server(path)
    try:
        page = open_page(browser, srv.url)
        assert page.locator(".lb-status p").inner_text().startswith("5 / 9 points done")
        # the sweep goes on: the remaining points land in the store (lifbatch run resumes)
        resume(path, wf)
        page.locator(".lb-refresh button").click()
        end = time.time() + 60
        while not page.locator(".lb-status p").inner_text().startswith("9 / 9 points done"):
            assert time.time() < end, page.locator(".lb-status p").inner_text()
            page.wait_for_timeout(200)
        assert page.errors == []
        page.close()
    finally:
        log = srv.stop()
    # (tornado logs closed-websocket noise when a page closes; our code must not fail)
    assert not re.search(r'File "[^"]*lifbatch/', log), log


@pytest.mark.browser
@needs_chromium
def test_static_report_opens_from_disk_offline(store, browser, tmp_path):
    from lifbatch.report import external_urls, write_report

    out = write_report(store, tmp_path / "report.html")
    text = out.read_text(encoding="utf-8")
    assert external_urls(text) == []
    assert "cdn.holoviz.org" not in text
    assert "review-nma" in text and "neuron.tau_m" in text and "white_noise" in text
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, external = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
    page.goto(out.as_uri())
    page.wait_for_function(f"() => ({PLOTS_JS})().finished >= 8", timeout=120_000)
    titles = plots(page)["titles"]
    assert "Firing rate" in titles
    assert any(t.startswith("Membrane potential (tau_m = 20 ms") for t in titles)
    assert any(t.startswith("Spike raster") for t in titles)
    assert errors == [] and external == []
    page.close()


def stacked_dataset(**axes: list[float]):
    """Simulated sweeps of different seeds stacked along further axes (first = slowest),
    so that every frame of the report has its own data."""
    import itertools

    import xarray as xr

    names = list(axes)
    seeds = itertools.count(10)

    def build(level: int):
        if level == len(names):
            return simulated(n_x=3, n_y=3, trials=2, duration=0.05, record_trials=(0,), seed=next(seeds))
        parts = [build(level + 1) for _ in axes[names[level]]]
        return xr.concat(
            parts,
            dim=xr.DataArray(axes[names[level]], dims=names[level], name=names[level]),
            data_vars="all",
            coords="minimal",
            compat="override",
        )

    ds = build(0).transpose(*names, ...)
    for a in names:
        ds[a].attrs.update({"units": "1", "param": f"inputs.{a}"})
    return ds


def frame_titles(ds, **frame) -> list[str]:
    """Titles the report must show at one frame of the slider axes (middle point, own spike count)."""
    pt = {"tau_m": 0.02, "I": float(ds.I[1])}
    where = ", ".join(f"{a} = {v:g}" for a, v in frame.items())
    n_spikes = int(ds.spike_count.sel(**frame, **pt).sum())
    return [
        f"Firing rate ({where})",
        f"ISI CV ({where})",
        f"Spike raster, {n_spikes} spikes ({where}, tau_m = 20 ms, I = 225 pA)",
    ]


def test_report_embeds_every_frame_of_a_third_axis(tmp_path):
    """Every value of the slider axis has its overview and point figures in the file (the
    report used to store the first frame only, and the middle point of the third axis)."""
    from lifbatch.report import external_urls, write_report

    three = stacked_dataset(seed_axis=[1.0, 2.0, 3.0])
    counts = {
        v: int(three.spike_count.sel(seed_axis=v, tau_m=0.02, I=float(three.I[1])).sum()) for v in (1.0, 2.0, 3.0)
    }
    assert len(set(counts.values())) > 1  # (the frames differ)
    text = write_report(three, tmp_path / "r.html").read_text(encoding="utf-8")
    assert external_urls(text) == []
    for v in (1.0, 2.0, 3.0):
        for title in frame_titles(three, seed_axis=v):
            assert title in text, title
        assert f"Point: seed_axis = {v:g}, tau_m = 20 ms, I = 225 pA" in text  # (the heading follows too)
    assert "frames are embedded" not in text  # (all of them are)


def test_report_thins_frames_beyond_its_limit_and_says_so(tmp_path, monkeypatch):
    from lifbatch import report

    monkeypatch.setattr(report, "MAX_EMBEDDED_FRAMES", 4)
    four = stacked_dataset(seed_axis=[1.0, 2.0, 3.0], rep=[1.0, 2.0])
    text = report.write_report(four, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "4 of the 6 frames are embedded" in text
    for seed in (1.0, 3.0):  # evenly spaced: the ends of seed_axis, both values of rep
        for rep in (1.0, 2.0):
            for title in frame_titles(four, seed_axis=seed, rep=rep):
                assert title in text, title
    assert frame_titles(four, seed_axis=2.0, rep=1.0)[0] not in text


@pytest.mark.browser
@needs_chromium
def test_report_slider_moves_the_overview_and_the_point_together(browser, tmp_path):
    from lifbatch.report import write_report

    three = stacked_dataset(seed_axis=[1.0, 2.0, 3.0])
    out = write_report(three, tmp_path / "r.html")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, external = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
    page.goto(out.as_uri())
    page.wait_for_function(f"() => ({PLOTS_JS})().finished >= 10", timeout=120_000)
    for v in (1.0, 2.0, 3.0):
        if v > 1:
            handle = page.locator(".lb-report-sliders .noUi-handle")
            assert handle.count() == 1
            handle.focus()
            page.keyboard.press("ArrowRight")
        expected = frame_titles(three, seed_axis=v)
        titles = wait_titles(page, lambda t, e=expected: all(x in t for x in e))["titles"]
        # every figure, overview and point, shows this frame; none is left at another
        assert all(f"seed_axis = {v:g}" in t for t in titles), titles
    assert errors == [] and external == []
    page.close()


def test_make_app_state_without_a_browser(store):
    from lifbatch.review import make_app

    app = make_app(str(store))._lifbatch_app
    assert app.x_select.value == "I" and app.y_select.value == "tau_m"
    assert "16 / 20 points done" in app.status_md.object
    app.select_point(tau_m=0.0101, I=4e-10)
    assert app.point_md.object.endswith("tau_m = 10 ms, I = 400 pA")
    ds = lifbatch.simulate(STORE_WF)  # (the store's run: the same numbers)
    (ticks,) = app.point_panes["raster"].object.renderers
    assert len(ticks.data_source.data["x0"]) == int(ds.spike_count.sel(tau_m=0.01, I=4e-10).sum())


def test_app_figures_show_the_plotting_figures_data(store):
    """The app draws with Bokeh directly: same values, units and titles as lifbatch.plotting."""
    import holoviews as hv

    from lifbatch import figures, plotting
    from lifbatch.review import make_app

    ds = figures.open_dataset(str(store))
    app = make_app(str(store))._lifbatch_app
    rate = app.rate_pane.object
    assert rate.title.text == "Firing rate"
    assert (rate.xaxis[0].axis_label, rate.yaxis[0].axis_label) == ("I (pA)", "firing rate (Hz)")
    lines = [r for r in rate.renderers if type(r.glyph).__name__ == "Line" and "label" in r.data_source.data]
    expected = [c for c in plotting.rate_curve(ds, "I", by="tau_m", theory=False).traverse(lambda e: e, [hv.Curve])]
    assert [r.data_source.data["label"][0] for r in lines] == [c.label for c in expected]
    for r, c in zip(lines, expected):
        np.testing.assert_allclose(r.data_source.data["x"], c.dimension_values(0))
        np.testing.assert_allclose(r.data_source.data["y"], c.dimension_values(1))
    heat = app.heat_pane.object
    (image,) = [r for r in heat.renderers]
    np.testing.assert_allclose(image.data_source.data["image"][0], ds.rate.transpose("tau_m", "I").values)
    # the ISI tab is read and drawn when it is opened
    assert app.isi_pane.object is None
    app.overview_tabs.active = 1
    assert app.isi_pane.object.title.text == "ISI mean ± std"
    assert app.cv_pane.object.yaxis[0].axis_label == "ISI CV"
    # drill-down: V ensemble in mV with the threshold of the workflow
    ens = app.point_panes["v_ensemble"].object
    assert ens.yaxis[0].axis_label == "V (mV)"
    threshold = [r for item in ens.legend[0].items if item.label.value == "threshold" for r in item.renderers]
    assert threshold and threshold[0].data_source.data["y"][0] == pytest.approx(-50.0)


def test_slices_are_cached_until_the_store_changes(tmp_path, monkeypatch):
    """Pages share what they read, and still see the points a running sweep writes."""
    from lifbatch import review, review_store

    wf = lif_workflow(n_x=3, n_y=3, trials=2, duration=0.05, seed=5)
    path = run_store(tmp_path / "live.zarr", wf, points_per_task=1, pending=4)
    monkeypatch.setattr(review_store, "_SETTLE_S", 0.0)
    ds = review._open(path)
    first = review_store.read_slice(ds, path, ["status", "rate"], {})
    again = review_store.read_slice(ds, path, ["status", "rate"], {})
    assert again["status"].values is first["status"].values  # from the cache
    assert int((first["status"].values == 1).sum()) == 5
    resume(path, wf)
    now = review_store.read_slice(review._open(path), path, ["status", "rate"], {})
    assert int((now["status"].values == 1).sum()) == 9
    np.testing.assert_allclose(now["rate"].values, lifbatch.simulate(wf).rate.values)
    # files younger than the settle time are read every time
    monkeypatch.setattr(review_store, "_SETTLE_S", 3600.0)
    assert review_store.chunk_signature(path, "rate") is None


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_isi_tab_is_drawn_when_opened(server, browser):
    page = open_page(browser, server.url)
    assert not any(t.startswith("ISI mean") for t in plots(page)["titles"])
    page.locator(".lb-overview .bk-tab").filter(has_text="ISI").click()
    state = wait_titles(page, lambda t: "ISI mean ± std" in t and "ISI CV" in t)
    assert "ISI mean (ms)" in state["axes"] and "ISI CV" in state["axes"]
    assert page.errors == []
    page.close()


def test_next_page_app_is_prepared_and_used_only_if_the_store_is_unchanged(tmp_path, monkeypatch):
    from lifbatch import review, review_http, review_store

    wf = lif_workflow(n_x=3, n_y=3, trials=2, duration=0.05, seed=6)
    path = run_store(tmp_path / "live.zarr", wf, points_per_task=1, pending=4)
    build = review._build
    monkeypatch.setattr(review_store, "_SETTLE_S", 0.0)
    monkeypatch.setattr(review_http, "_prepare_next", lambda store, build: None)  # (no thread here)
    review_http.prepare(path, build)
    spare = review_http._SPARE[str(path)][1]
    assert review_http.session_app(path, build) is spare  # unchanged store: the prepared app
    review_http.prepare(path, build)
    resume(path, wf)
    layout = review_http.session_app(path, build)  # the store changed since: a new app, new points
    assert layout is not spare
    assert "9 / 9 points done" in layout._lifbatch_app.status_md.object
    # a store being written (files younger than the settle time) gets no prepared app
    monkeypatch.setattr(review_store, "_SETTLE_S", 3600.0)
    review_http.prepare(path, build)
    assert str(path) not in review_http._SPARE


# ----------------------------------------------------------------------------- theory, cells, notes
def simulated_store(path: Path, overrides: dict) -> Path:
    """A store of ``lifbatch run`` of ccnss-white-noise (no threshold: an OU process)."""
    return run_store(path, lifbatch.load_workflow(ROOT / "workflows" / "ccnss-white-noise.yaml", overrides=overrides))


@pytest.fixture(scope="module")
def ou_server(tmp_path_factory):
    """No threshold next to a threshold, over an uneven sigma axis (1, 4, 8 mV)."""
    path = simulated_store(
        tmp_path_factory.mktemp("ou") / "ou.zarr",
        {
            "trials": 40,
            "sweep": {
                "v_th": {"param": "neuron.v_th", "values": ["inf mV", -45], "unit": "mV"},
                "sigma": {"param": "inputs.noise.sigma", "values": [1, 4, 8], "unit": "mV"},
            },
        },
    )
    srv = Server(path)
    yield srv
    log = srv.stop()
    assert not re.search(r'File "[^"]*lifbatch/', log), log


def details(page) -> list[dict]:
    return page.evaluate(PLOT_DETAILS_JS)


def of(state: list[dict], prefix: str) -> dict:
    (info,) = [v for v in state if v["title"].startswith(prefix)]
    return info


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_theory_cv_heatmap_equal_cells_and_empty_panels_in_the_browser(ou_server, browser):
    page = open_page(browser, ou_server.url, n_plots=8)
    state = details(page)
    # the CV heatmap beside the rate heatmap; the Siegert CV and rate beside the simulation
    rate_heat, cv_heat, rate = state[:3]
    assert [rate_heat["title"], cv_heat["title"], rate["title"]] == ["Firing rate", "ISI CV", "Firing rate"]
    assert "theory (Siegert)" in rate["legend"]
    # an uneven axis (sigma = 1, 4, 8 mV): one equal cell per value, labelled with it
    for heat in (rate_heat, cv_heat):
        assert heat["glyphs"] == ["Image"]
        assert heat["x_range"] == [-0.5, 2.5] and heat["x_labels"] == ["1", "4", "8"]
    # the tooltip shows the grid values of the cell under the cursor (not the cursor's position)
    frame = page.evaluate(HEATMAP_FRAME_JS)
    page.mouse.move(frame["left"] + 0.6 * frame["width"], frame["top"] + 0.3 * frame["height"])
    tip = page.locator(".bk-tooltip-content").first
    tip.wait_for(state="visible", timeout=10_000)
    assert re.search(r"sigma \(mV\):\s*4\s+v_th \(mV\):\s*inf\s+firing rate .*:\s*0\b", tip.inner_text()), (
        tip.inner_text()
    )
    # tap that cell: the point without threshold, drawn with the OU theory; no spikes, and
    # the empty panels say why
    page.mouse.click(frame["left"] + 0.6 * frame["width"], frame["top"] + 0.3 * frame["height"])
    wait_titles(page, lambda t: any(x.startswith("V variance (v_th = inf mV, sigma = 4 mV)") for x in t))
    state = details(page)
    for prefix in ("Membrane potential", "V variance", "V autocovariance"):
        assert "theory (OU)" in of(state, prefix)["legend"], (prefix, of(state, prefix))
    assert of(state, "Spike raster")["notes"] == ["no spikes at this point"]
    assert of(state, "ISI histogram")["notes"][0].startswith("no ISIs")
    assert of(state, "V variance")["notes"] == []
    # a point with a threshold: no OU overlay
    page.mouse.click(frame["left"] + 0.6 * frame["width"], frame["top"] + 0.8 * frame["height"])
    wait_titles(page, lambda t: any(x.startswith("V variance (v_th = -45 mV, sigma = 4 mV)") for x in t))
    state = details(page)
    assert "theory (OU)" not in of(state, "Membrane potential")["legend"]
    assert "theory (OU)" not in of(state, "V variance")["legend"]
    assert of(state, "Spike raster")["notes"] == []
    # the side bar's selectors fit their column
    bar = page.locator(".lb-sidebar").first.bounding_box()
    for sel in (".lb-x-select select", ".lb-y-select select", ".lb-refresh button"):
        box = page.locator(sel).first.bounding_box()
        assert bar["x"] <= box["x"] and box["x"] + box["width"] <= bar["x"] + bar["width"] + 0.5, (sel, box, bar)
    assert page.errors == []
    page.close()


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_single_point_one_trial_store_in_the_browser(tmp_path, browser):
    """No sweep axis: no axis selectors; one trial: the variance and autocovariance say why
    they are empty."""
    path = simulated_store(tmp_path / "one.zarr", {"trials": 1, "record.v.trials": [0]})
    srv = Server(path)
    try:
        page = open_page(browser, srv.url, n_plots=5)
        assert page.locator(".lb-x-select").count() == 0
        assert page.locator(".lb-y-select").count() == 0
        assert page.locator("text=Other sweep axes").count() == 0
        assert page.locator(".lb-single").first.is_visible()
        state = details(page)
        for prefix in ("V variance", "V autocovariance"):
            (note,) = of(state, prefix)["notes"]
            assert note.startswith("one trial"), note
        assert of(state, "Spike raster")["notes"] == ["no spikes at this point"]
        assert page.errors == []
        page.close()
    finally:
        log = srv.stop()
    assert not re.search(r'File "[^"]*lifbatch/', log), log


@pytest.mark.slow
def test_review_listens_on_127_0_0_1_and_refuses_foreign_hosts(server):
    """DNS rebinding: a page on a host name that resolves to 127.0.0.1 sends that name as Host
    (and as the websocket's Origin): refused; this machine's own names are served."""
    import http.client

    from conftest import listening

    sockets = listening([server.proc.pid])
    assert sockets and {host for host, _ in sockets} == {"127.0.0.1"}, sockets

    def get(host: str, path: str = "/", headers=None) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        status = conn.getresponse().status
        conn.close()
        return status

    assert get(f"127.0.0.1:{server.port}") == 200 and get(f"localhost:{server.port}") == 200
    assert get(f"evil.example:{server.port}") == 403
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Origin": f"http://evil.example:{server.port}",
    }
    assert get(f"evil.example:{server.port}", "/ws", upgrade) == 403
