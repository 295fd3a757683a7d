"""``lifbatch review STORE``: a Panel app to browse a sweep in the browser.

Layout: a side bar with the plot-axis choices (x axis, curves/heatmap axis), one
slider for every other sweep axis, a Refresh button and the store's progress; the
overview figures of the selected slice (rate and ISI-CV heatmaps, rate / ISI curves);
and the drill-down figures of one point (V ensemble with the line of the model's spike
rule, spike raster, ISI histogram, V variance and autocovariance, and the recorded state
variables and inputs where the store has them). A Traces tab draws the recorded V and
inputs across the x axis (the Brian2 tutorial's v and I of its three cells). Tapping a
heatmap cell or a curve point selects the drill-down point. Closed-form theory is drawn dashed where it applies (Siegert rate and
CV; without threshold the Ornstein-Uhlenbeck mean, variance and autocovariance), and a
panel with nothing to show says why.

A sampled design (a workflow's ``sample`` section) gets :class:`SampledReviewApp`: a
scatter of the chosen summary as colour over two chosen sampled parameters, one
projection per parameter, sliders for the grid axes, points added by refinement or
fitting marked with their round, pending points hollow; tapping a point (or typing its
number) drills down to that sample.

The store is read lazily: a slice's summaries and one point's traces are read when
shown, so the app opens quickly on large grids and on a store still being written
(Refresh re-opens it and shows the points finished since).

The figures are the ones of :mod:`lifbatch.plotting` (same data, units, labels and
titles: both draw :mod:`lifbatch.figures`), drawn with Bokeh directly
(:mod:`lifbatch.bokeh_figures`) rather than through HoloViews: converting
HoloViews overlays to Bokeh took most of a page's time on a 10^4-point store.
"""

from __future__ import annotations

from functools import partial
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lifbatch import figures
from lifbatch.bokeh_figures import (
    MAX_CURVES,
    curves_figure,
    heat_cells,
    heatmap_figure,
    mark_sample,
    nearest_sample,
    on_tap,
    point_figures,
    projection_figure,
    scatter_figure,
    traces_figure,
)
from lifbatch.layout import SAMPLE
from lifbatch.review_http import check_port, free_port, prepare, run_server, session_app
from lifbatch.review_store import read_slice, theory_cv, theory_rate

__all__ = ["make_app", "serve"]

#: a sampled store's projections of the ISI CV show the Siegert CV up to this many samples
#: (about 1 ms a point to compute)
MAX_THEORY_CV_SAMPLES = 2000
_NONE = "(none)"
#: the overview's tab of recorded traces (after Firing rate and ISI), where the store has them
_TRACES_TAB = 2
#: summaries read for the first tab (and the progress), and for the ISI tab when opened
_RATE_VARS = ("rate", "rate_std", "isi_cv", "status")
_ISI_VARS = ("isi_mean", "isi_std", "isi_cv", "status")  # (status names the sweep axes)


def _pn():
    """Import Panel (and Bokeh), or explain how to install them."""
    try:
        # (here: Panel and Bokeh are the `review` extra; missing, they are said in one line)
        import bokeh  # noqa: F401
        import panel as pn
    except ImportError as err:  # (the `review` extra)
        from lifbatch.errors import missing_extra

        raise missing_extra("lifbatch review", "review", "Panel and Bokeh") from err
    return pn


def _label(cls, text: str) -> dict:
    """Widget title keyword: ``label`` in Panel >= 1.9 (``name`` is deprecated there)."""
    return {"label": text} if "label" in cls.param else {"name": text}


def _open(source: xr.Dataset | str | PathLike) -> xr.Dataset:
    """The results Dataset; a store is opened lazily without Dask (small reads are faster)."""
    return figures.label_positions(figures.open_dataset(source, chunks=None))  # (a labelled axis: by positions)


# --------------------------------------------------------------------------- the app
class ReviewApp:
    """State and widgets of one browser session of the review app.

    Parameters
    ----------
    source : Dataset or store path
        A path is re-opened by :meth:`refresh`; a Dataset is shown as is.
    """

    def __init__(self, source: xr.Dataset | str | PathLike, ds: xr.Dataset | None = None):
        pn = _pn()
        self._pn = pn
        self.source = source
        self.ds = _open(source) if ds is None else ds
        self._store = Path(source) if isinstance(source, (str, PathLike)) and Path(source).is_dir() else None
        self.axes = figures.sweep_axes(self.ds)
        self.varying = [a for a in self.axes if self.ds.sizes[a] > 1]
        self.point: dict[str, float] = {a: float(self.ds[a].values[self.ds.sizes[a] // 2]) for a in self.axes}
        self.sliders: dict[str, Any] = {}
        for axis in self._slider_axes():
            options = {figures.axis_text(self.ds, axis, v): float(v) for v in self.ds[axis].values}
            slider = pn.widgets.DiscreteSlider(
                **_label(pn.widgets.DiscreteSlider, axis),
                options=options,
                value=self.point[axis],
                css_classes=[f"lb-slider-{axis}"],
                sizing_mode="stretch_width",
            )
            slider.param.watch(lambda event, _axis=axis: self._on_slider(_axis, event.new), "value")
            self.sliders[axis] = slider
        style = {"color": "primary"} if "color" in pn.widgets.Button.param else {"button_type": "primary"}
        self.refresh_button = pn.widgets.Button(
            **_label(pn.widgets.Button, "Refresh"), **style, css_classes=["lb-refresh"], sizing_mode="stretch_width"
        )
        self.refresh_button.on_click(lambda event: self.refresh())
        self.status_md = pn.pane.Markdown("", css_classes=["lb-status"])
        self.point_md = pn.pane.Markdown("", css_classes=["lb-point"])
        self.slider_box = pn.Column(sizing_mode="stretch_width")
        self.message = pn.pane.Alert("", alert_type="warning", visible=False, css_classes=["lb-message"])
        self.point_builders = point_figures(self.ds)
        self.point_panes = {
            name: pn.pane.Bokeh(None, css_classes=[f"lb-{name.replace('_', '-')}"]) for name in self.point_builders
        }
        self.trace_panes: dict[str, Any] = {}  # the overview's Traces tab (a grid's app)
        self._traces_args: tuple | None = None
        self.drill_box = pn.FlexBox(*self.point_panes.values(), css_classes=["lb-drilldown"])
        self._widgets()
        self._update_sliders()
        self._render_overview()
        self._render_drilldown()

    def _slider_axes(self) -> list[str]:
        """The axes that get a slider (every sweep axis: the plotted ones are hidden)."""
        return list(self.axes)

    def _widgets(self) -> None:
        """The overview's selectors and panes."""
        pn = self._pn
        varying = self.varying
        # (widgets stretch to the side bar's width: their default 300 px plus margins
        # overflowed its 300 px column)
        self.x_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "x axis"),
            options=varying or [_NONE],
            value=varying[-1] if varying else _NONE,
            css_classes=["lb-x-select"],
            sizing_mode="stretch_width",
        )
        y_options = [_NONE] + varying
        self.y_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "curves / heatmap axis"),
            options=y_options,
            value=varying[-2] if len(varying) >= 2 else _NONE,
            css_classes=["lb-y-select"],
            sizing_mode="stretch_width",
        )
        self.x_select.param.watch(self._on_axes, "value")
        self.y_select.param.watch(self._on_axes, "value")
        pane = pn.pane.Bokeh
        self.heat_pane = pane(None, css_classes=["lb-heatmap"])
        self.cv_heat_pane = pane(None, css_classes=["lb-cv-heatmap"])
        self.rate_pane = pane(None, css_classes=["lb-rate-curve"])
        self.isi_pane = pane(None, css_classes=["lb-isi-errorbar"])
        self.cv_pane = pane(None, css_classes=["lb-isi-cv"])
        # recorded V and inputs of the first recorded trial at the points along x (the
        # Brian2 tutorial's v and I of its three cells)
        self.trace_panes = {
            v: pane(None, css_classes=[f"lb-traces-{v.replace('_', '-')}"])
            for v in (figures.trace_vars(self.ds) if varying else [])
        }
        tabs = [
            ("Firing rate", pn.FlexBox(self.heat_pane, self.cv_heat_pane, self.rate_pane)),
            ("ISI", pn.FlexBox(self.isi_pane, self.cv_pane)),
        ]
        if self.trace_panes:
            tabs.append(("Traces", pn.FlexBox(*self.trace_panes.values())))
        # a store recording a model's state or its inputs was written to look at traces: it
        # opens on them
        first = (
            _TRACES_TAB
            if self.trace_panes and (figures.recorded_state(self.ds) or figures.recorded_inputs(self.ds))
            else 0
        )
        # dynamic tabs render only the visible tab: a fast first page on big stores
        self.overview_tabs = pn.Tabs(*tabs, active=first, dynamic=True, css_classes=["lb-overview"])
        self.overview_tabs.param.watch(self._on_tab, "active")
        self._isi_args: tuple | None = None  # what the ISI tab shows once opened

    # ------------------------------------------------------------------ layout
    def view(self):
        """The Panel layout of the app."""
        pn = self._pn
        name = self.ds.attrs.get("name", "lifbatch sweep")
        head = [
            pn.pane.Markdown(f"### {name}\n\nfingerprint `{self.ds.attrs.get('fingerprint', '?')}`"),
            self.status_md,
            self.refresh_button,
        ]
        overview = [
            pn.pane.Markdown("## Overview  \n*tap a heatmap cell or a curve to drill down*"),
            self.message,
            self.overview_tabs,
        ]
        if self.varying:
            head += [self.x_select, self.y_select, pn.pane.Markdown("**Other sweep axes**"), self.slider_box]
        else:  # a single point: no axis to choose, no overview (and no empty selectors)
            head.append(pn.pane.Markdown("*a single point: no sweep axis*", css_classes=["lb-single"]))
            overview = [self.message]
        sidebar = pn.Column(*head, width=300, css_classes=["lb-sidebar"])
        main = pn.Column(
            *overview, pn.pane.Markdown("## Point"), self.point_md, self.drill_box, sizing_mode="stretch_width"
        )
        return pn.Row(sidebar, main, sizing_mode="stretch_width")

    # ------------------------------------------------------------------ state changes
    def _plot_axes(self) -> tuple[str | None, str | None]:
        x = self.x_select.value if self.x_select.value != _NONE else None
        y = self.y_select.value if self.y_select.value not in (_NONE, x) else None
        return x, y

    def _fixed(self) -> dict[str, float]:
        """Slider values of the sweep axes that are not plotted."""
        x, y = self._plot_axes()
        return {a: float(self.sliders[a].value) for a in self.axes if a not in (x, y) and self.ds.sizes[a] > 1}

    def _slice(self, names: tuple[str, ...]) -> xr.Dataset:
        """The summaries ``names`` over the plotted axes, at the sliders' values."""
        index = {a: figures.nearest_index(self.ds[a].values, v) for a, v in self._fixed().items()}
        return read_slice(self.ds, self._store, [n for n in names if n in self.ds], index)

    def _update_sliders(self) -> None:
        x, y = self._plot_axes()
        self.slider_box.objects = [self.sliders[a] for a in self.axes if a not in (x, y) and self.ds.sizes[a] > 1]
        if not self.slider_box.objects:
            self.slider_box.objects = [self._pn.pane.Markdown("*none: every axis is plotted*")]

    def _hold(self):
        """Send the changes of one user action to the browser together (one redraw)."""
        return self._pn.io.hold()

    def _on_axes(self, event) -> None:
        with self._hold():
            self._update_sliders()
            self._render_overview()

    def _on_tab(self, event) -> None:
        with self._hold():
            self._render_isi()
            self._render_traces()

    def _on_slider(self, axis: str, value: float) -> None:
        self.point[axis] = float(value)
        with self._hold():
            self._render_overview()
            self._render_drilldown()

    def select_point(self, **coords: float) -> None:
        """Set the drill-down point (SI values, nearest grid value) and redraw it."""
        for axis, value in coords.items():
            labels = self.ds[axis].attrs.get("labels") if axis in self.axes else None
            if labels is not None and isinstance(value, str):  # a labelled axis: its label
                value = float(labels.index(value))
            if axis in self.axes and value is not None and not np.isnan(value):  # (inf is a value)
                values = self.ds[axis].values
                self.point[axis] = float(values[figures.nearest_index(values, value)])
        with self._hold():
            self._render_drilldown()
            x, y = self._plot_axes()
            if self.trace_panes and x is not None and y is not None:  # (traces at the point's y)
                self._traces_args = (x, y)
                self._render_traces()

    def refresh(self) -> None:
        """Re-open the store (new points of a running sweep) and redraw everything."""
        if not isinstance(self.source, xr.Dataset):
            self.ds = _open(self.source)
        with self._hold():
            self._render_overview()
            self._render_drilldown()

    # ------------------------------------------------------------------ rendering
    def _status_text(self, status: np.ndarray | None) -> str:
        n_total = int(np.prod([self.ds.sizes[a] for a in self.axes])) if self.axes else 1
        if status is None:
            return f"{n_total} points"
        done, failed = int((status == 1).sum()), int((status == 2).sum())
        text = f"**{done} / {n_total} points done**"
        if failed:
            text += f", {failed} failed"
        if done + failed < n_total:
            text += f", {n_total - done - failed} pending (press Refresh)"
        return text

    def _render_overview(self) -> None:
        self._apply_overview(self._overview())

    def _overview(self) -> dict[str, Any]:
        """Read the slice shown and build the overview figures (no widget changes)."""
        x, y = self._plot_axes()
        fixed = self._fixed()
        # the slice's summaries, read once (the fixed axes stay as length-1 dims, so titles
        # still name them); the progress counts the whole grid
        summary = self._slice(_RATE_VARS) if x is not None else None
        status: np.ndarray | None = None
        if "status" in self.ds:
            whole = not fixed
            src = summary if whole and summary is not None else read_slice(self.ds, self._store, ["status"], {})
            status = src["status"].values
        out: dict[str, Any] = {"status": self._status_text(status), "x": x, "y": y}
        if x is None or summary is None:  # a single point: the drill-down is the whole story
            return out
        try:
            d, where = figures.select(summary, {})
            if y is not None:
                for key, var in (("heat", "rate"), ("cv_heat", "isi_cv")):
                    if var not in d:
                        continue
                    heat = heatmap_figure(d, x, y, where, summary, var=var)
                    on_tap(heat, partial(self._tap_heatmap, d, x, y))
                    out[key] = heat
                curves = figures.thin_axis(d, y, MAX_CURVES)
            else:
                curves = d
            rate = curves_figure("rate", curves, x, y, where, summary, theory_rate(self.ds))
            on_tap(rate, partial(self._tap_curve, curves, x, y))
            out["rate"] = rate
        except Exception as err:  # keep the app alive; say what failed
            out["error"] = f"Could not draw the overview: {err}"
        return out

    def _apply_overview(self, out: dict[str, Any]) -> None:
        self.status_md.object = out["status"]
        x, y = out["x"], out["y"]
        if x is None:
            self.overview_tabs.visible = False
            return
        self.message.visible = "error" in out
        if "error" in out:
            self.message.object = out["error"]
            return
        if y is not None:
            self.heat_pane.object = out["heat"]
            self.cv_heat_pane.object = out.get("cv_heat")
        self.heat_pane.visible = y is not None
        self.cv_heat_pane.visible = y is not None and out.get("cv_heat") is not None
        self.rate_pane.object = out["rate"]
        # the ISI tab is read and drawn when opened (dynamic tabs do not show it before)
        self._isi_args = (x, y)
        self.isi_pane.object = self.cv_pane.object = None
        if self.overview_tabs.active == 1:
            self._render_isi()
        self._traces_args = (x, y)
        for pane in self.trace_panes.values():
            pane.object = None
        self._render_traces()

    def _render_isi(self) -> None:
        if self.overview_tabs.active != 1 or self._isi_args is None:
            return
        x, y = self._isi_args
        self._isi_args = None
        try:
            summary = self._slice(_ISI_VARS)
            curves, where = figures.select(summary, {})
            if y is not None:
                curves = figures.thin_axis(curves, y, MAX_CURVES)
            self.isi_pane.object = curves_figure("isi", curves, x, y, where, summary)
            self.cv_pane.object = curves_figure("cv", curves, x, y, where, summary, theory_cv(curves))
        except Exception as err:  # keep the app alive; say what failed
            self.message.object = f"Could not draw the ISI figures: {err}"
            self.message.visible = True

    def _render_traces(self) -> None:
        """The Traces tab, when it is shown: the first recorded trial of V and of each
        recorded input at (at most MAX_CURVES) values of x, at the sliders' values and the
        drill-down point's value of the curves axis."""
        if not self.trace_panes or self.overview_tabs.active != _TRACES_TAB or self._traces_args is None:
            return
        x, y = self._traces_args
        self._traces_args = None
        try:
            index = {a: figures.nearest_index(self.ds[a].values, v) for a, v in self._fixed().items()}
            if y is not None:
                index[y] = figures.nearest_index(self.ds[y].values, self.point[y])
            index["trace_trial"] = 0
            names = list(self.trace_panes) + (["status"] if "status" in self.ds else [])  # (status: the axes)
            read = read_slice(self.ds, self._store, names, index)
            d, where = figures.select(read, {})
            d = figures.thin_axis(d, x, MAX_CURVES)
            for var, pane in self.trace_panes.items():
                pane.object = traces_figure(d, x, var, where, read)
        except Exception as err:  # keep the app alive; say what failed
            self.message.object = f"Could not draw the traces: {err}"
            self.message.visible = True

    def _tap_heatmap(self, d: xr.Dataset, xname: str, yname: str, x: float | None, y: float | None) -> None:
        """Select the grid point of the heatmap cell at (x, y) (axis positions, :func:`heat_cells`)."""
        if x is None or y is None:
            return
        coords = dict(self._fixed())
        for name, pos in ((xname, x), (yname, y)):
            values = d[name].values
            cells = heat_cells(values * figures.display_scale(d[name].attrs)[0])
            coords[name] = float(values[cells.index(pos)])
        self.select_point(**coords)

    def _tap_curve(self, d: xr.Dataset, xname: str, by: str | None, x: float | None, y: float | None) -> None:
        if x is None:
            return
        xfac = figures.display_scale(self.ds[xname].attrs)[0]
        coords = {xname: x / xfac, **self._fixed()}
        if by is not None and y is not None:
            # which curve was tapped: the one whose rate at that x is closest to the tap
            xi = figures.nearest_index(d[xname].values, x / xfac)
            rfac = figures.display_scale(d["rate"].attrs, default="Hz")[0]
            rates = d["rate"].isel({xname: xi}).values * rfac  # (the fixed axes are squeezed out)
            if np.isfinite(rates).any():
                coords[by] = float(d[by].values[int(np.nanargmin(np.abs(rates - y)))])
        self.select_point(**coords)

    def _render_drilldown(self) -> None:
        self._apply_point(self._point_figures())

    def _point_figures(self) -> dict[str, Any]:
        """Read the selected point and build its figures (no widget changes)."""
        sel = {a: v for a, v in self.point.items() if self.ds.sizes[a] > 1}
        label = self._point_label() or "the only point"
        state, notes, figs = "", "", {}
        try:
            full, d, where = figures.select_point(self.ds, sel, "review")
            if "status" in d:
                state = {0: " (pending)", 1: "", 2: " (failed)"}.get(int(d["status"].values), "")
        except Exception as err:
            d = None
            notes += f"  \n*{err}*"
        for name, build in self.point_builders.items():
            try:
                figs[name] = None if d is None else build(full, d, where)
            except Exception as err:
                figs[name] = None
                notes += f"  \n*{name}: {err}*"
        return {"text": f"**Selected point:** {label}{state}{notes}", "figs": figs}

    def _point_label(self) -> str:
        """The selected point's values, for its heading ('tau_m = 20 ms, I = 250 pA')."""
        return figures.point_label(self.ds, self.point)

    def _apply_point(self, out: dict[str, Any]) -> None:
        for name, pane in self.point_panes.items():
            pane.object = out["figs"][name]
        self.point_md.object = out["text"]


class SampledReviewApp(ReviewApp):
    """The review app of a sampled design (a workflow's ``sample`` section).

    The overview is a scatter of the chosen summary as colour over two chosen sampled
    parameters and one projection per parameter (the summary against it); grid axes
    have sliders as in a grid's app; tapping a point (or typing its number) drills down
    to that sample, ringed on every figure.
    """

    def _slider_axes(self) -> list[str]:
        return figures.grid_axes(self.ds)

    def _widgets(self) -> None:
        pn = self._pn
        self.params = figures.sampled_params(self.ds)
        params = self.params
        self.x_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "x parameter"),
            options=params,
            value=params[0],
            css_classes=["lb-x-select"],
            sizing_mode="stretch_width",
        )
        self.y_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "y parameter"),
            options=params,
            value=params[1] if len(params) > 1 else params[0],
            visible=len(params) > 1,
            css_classes=["lb-y-select"],
            sizing_mode="stretch_width",
        )
        names = figures.summaries(self.ds)
        options = {figures.summary_axis(self.ds, v).label: v for v in names}
        self.var_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "summary (colour)"),
            options=options,
            value="rate" if "rate" in names else names[0],
            css_classes=["lb-var-select"],
            sizing_mode="stretch_width",
        )
        samples = self.ds[SAMPLE].values
        self.sample_input = pn.widgets.IntInput(
            **_label(pn.widgets.IntInput, "sample"),
            value=int(self.point[SAMPLE]),
            start=int(samples.min()),
            end=int(samples.max()),
            css_classes=["lb-sample-input"],
            sizing_mode="stretch_width",
        )
        for widget in (self.x_select, self.y_select, self.var_select):
            widget.param.watch(self._on_axes, "value")
        self.sample_input.param.watch(self._on_sample_input, "value")
        pane = pn.pane.Bokeh
        self.scatter_pane = pane(None, css_classes=["lb-scatter"])
        self.projection_panes = {p: pane(None, css_classes=[f"lb-projection-{p}"]) for p in params}
        self.overview_box = pn.FlexBox(self.scatter_pane, *self.projection_panes.values(), css_classes=["lb-overview"])
        self._marks: list[tuple[Any, figures.SampleData]] = []  # (figure, its data): rings

    # ------------------------------------------------------------------ layout
    def view(self):
        pn = self._pn
        name = self.ds.attrs.get("name", "lifbatch sweep")
        head = [
            pn.pane.Markdown(f"### {name}\n\nfingerprint `{self.ds.attrs.get('fingerprint', '?')}`"),
            self.status_md,
            self.refresh_button,
            self.var_select,
            self.x_select,
            self.y_select,
        ]
        if any(self.ds.sizes[a] > 1 for a in self._slider_axes()):
            head += [pn.pane.Markdown("**Grid axes**"), self.slider_box]
        head.append(self.sample_input)
        sidebar = pn.Column(*head, width=300, css_classes=["lb-sidebar"])
        main = pn.Column(
            pn.pane.Markdown(
                "## Overview  \n*tap a point to drill down; ● the design, ▲ ■ ◆ points "
                "added by later rounds of refine or fit (black outline), ○ pending*"
            ),
            self.message,
            self.overview_box,
            pn.pane.Markdown("## Point"),
            self.point_md,
            self.drill_box,
            sizing_mode="stretch_width",
        )
        return pn.Row(sidebar, main, sizing_mode="stretch_width")

    # ------------------------------------------------------------------ state changes
    def _plot_axes(self) -> tuple[str, str | None]:
        x = self.x_select.value
        y = self.y_select.value if len(self.params) > 1 and self.y_select.value != x else None
        return x, y

    def _fixed(self) -> dict[str, float]:
        """Slider values of the grid axes."""
        return {a: float(self.sliders[a].value) for a in self._slider_axes() if self.ds.sizes[a] > 1}

    def _update_sliders(self) -> None:
        self.slider_box.objects = [self.sliders[a] for a in self._slider_axes() if self.ds.sizes[a] > 1]

    def _point_label(self) -> str:
        return figures.sample_point_label(self.ds, self.point)

    def refresh(self) -> None:
        """Re-open the store (new points, and samples added by refinement) and redraw."""
        if not isinstance(self.source, xr.Dataset):
            self.ds = _open(self.source)
        samples = self.ds[SAMPLE].values
        self.sample_input.end = int(samples.max())
        with self._hold():
            self._render_overview()
            self._render_drilldown()

    def _status_text(self, status: np.ndarray | None) -> str:
        text = super()._status_text(status)
        rounds = figures.sample_rounds(self.ds)
        parts = [f"{int((rounds == k).sum())} {figures.round_label(int(k))}" for k in np.unique(rounds)]
        grid = [f"{self.ds.sizes[a]} {a}" for a in self._slider_axes() if self.ds.sizes[a] > 1]
        return f"{text}  \n{rounds.size} samples ({', '.join(parts)})" + (f" x {' x '.join(grid)}" if grid else "")

    # ------------------------------------------------------------------ rendering
    def _overview(self) -> dict[str, Any]:
        """Read the slice shown and build the scatter and the projections (no widget changes)."""
        x, y = self._plot_axes()
        var = self.var_select.value
        fixed = self._fixed()
        summary = self._slice((var, "status"))
        status: np.ndarray | None = None
        if "status" in self.ds:
            src = summary if not fixed else read_slice(self.ds, self._store, ["status"], {})
            status = src["status"].values
        out: dict[str, Any] = {"status": self._status_text(status), "marks": []}
        try:
            d, where = figures.select_samples(summary, {}, "review")
            if y is not None:
                fig, data = scatter_figure(d, x, y, var, where, summary)
                self._tap_to_sample(fig, data, figures.log_scale(self.ds, x), figures.log_scale(self.ds, y))
                out["scatter"] = fig
                out["marks"].append((fig, data))
            kind = {"rate": "rate", "isi_cv": "cv"}.get(var)
            if kind == "cv" and d.sizes[SAMPLE] > MAX_THEORY_CV_SAMPLES:
                kind = None  # (the CV integral costs about 1 ms a point)
            theory = theory_rate(self.ds) if kind == "rate" else theory_cv(d) if kind == "cv" else None
            out["projections"] = {}
            for p in self.params:
                fig, data = projection_figure(d, p, var, where, summary, theory, legend=y is None)
                self._tap_to_sample(fig, data, figures.log_scale(self.ds, p), False)
                out["projections"][p] = fig
                out["marks"].append((fig, data))
        except Exception as err:  # keep the app alive; say what failed
            out["error"] = f"Could not draw the overview: {err}"
        return out

    def _on_sample_input(self, event) -> None:
        if event.new is not None and float(event.new) != self.point[SAMPLE]:  # (not our echo)
            self.select_point(**{SAMPLE: float(event.new)})

    def _tap_to_sample(self, fig, data: figures.SampleData, xlog: bool, ylog: bool) -> None:
        def tapped(tx, ty):
            sample = nearest_sample(data, tx, ty, xlog=xlog, ylog=ylog, aspect=fig.width / max(fig.height, 1))
            if sample is not None:
                self.select_point(**{SAMPLE: float(sample), **self._fixed()})

        on_tap(fig, tapped)

    def _apply_overview(self, out: dict[str, Any]) -> None:
        self.status_md.object = out["status"]
        self.message.visible = "error" in out
        if "error" in out:
            self.message.object = out["error"]
            return
        self.scatter_pane.object = out.get("scatter")
        self.scatter_pane.visible = out.get("scatter") is not None
        for p, pane in self.projection_panes.items():
            pane.object = out["projections"][p]
        self._marks = out["marks"]
        self._mark()

    def _render_drilldown(self) -> None:
        super()._render_drilldown()
        self._mark()
        self.sample_input.value = int(self.point[SAMPLE])

    def _mark(self) -> None:
        """Ring the drill-down sample on every overview figure."""
        for fig, data in self._marks:
            mark_sample(fig, data, self.point[SAMPLE])


def make_app(store_or_ds: xr.Dataset | str | PathLike):
    """Build the review app for a store path or a results Dataset.

    Parameters
    ----------
    store_or_ds : Dataset or store path
        Results to review; a path is read lazily and re-read on Refresh.

    Returns
    -------
    panel.viewable.Viewable
        Serve it with :func:`serve`, ``panel.serve`` or show it in a notebook.

    Examples
    --------
    >>> app = make_app("results/pypet-firing-rate.zarr")   # doctest: +SKIP
    >>> app.servable()                                      # doctest: +SKIP
    """
    pn = _pn()
    pn.extension(notifications=False)
    return _build(store_or_ds)


def _build(store_or_ds: xr.Dataset | str | PathLike):
    ds = _open(store_or_ds)
    app = (SampledReviewApp if figures.is_sampled(ds) else ReviewApp)(store_or_ds, ds)
    layout = app.view()
    layout._lifbatch_app = app  # handle for tests and notebooks
    return layout


# --------------------------------------------------------------------------- serving
def _warm_up(store: xr.Dataset | str | PathLike) -> None:
    """Build one page before serving (imports, unit registry, theory, Bokeh models), and
    start preparing the first session's app (:func:`lifbatch.review_http.prepare`): the first page a browser
    opens is then as fast as the next ones."""
    # (here: Bokeh is the `review` extra, loaded by _pn() before)
    from bokeh.document import Document

    make_app(store).server_doc(Document())  # (models once: Bokeh's and Panel's first uses)
    if not isinstance(store, xr.Dataset):
        prepare(store, _build)


def serve(
    store: xr.Dataset | str | PathLike,
    *,
    port: int = 0,
    open_browser: bool = True,
    address: str = "127.0.0.1",
    **kwargs: Any,
) -> None:
    """Serve the review app on ``http://address:port/`` until interrupted (blocking).

    Parameters
    ----------
    store : store path or Dataset
    port : int
        TCP port; 0 picks a free one.
    open_browser : bool
        Open the page in the default browser.
    address : str
        Interface to listen on; the default serves this machine only.
    **kwargs
        Passed to ``panel.serve``.
    """
    pn = _pn()
    if isinstance(store, (str, PathLike)):
        figures.open_dataset(store)  # fail now, with the store's error, not in the browser
    if port:
        check_port(address, port)  # before the warm-up: a busy port is said at once
    port = port or free_port(address)
    print(f"lifbatch review: preparing {store if not isinstance(store, xr.Dataset) else 'dataset'} ...", flush=True)
    _warm_up(store)
    run_server(pn, lambda: session_app(store, _build), address=address, port=port, open_browser=open_browser, **kwargs)
