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
titles), drawn with Bokeh directly rather than through HoloViews: converting
HoloViews overlays to Bokeh took most of a page's time on a 10^4-point store.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from lifbatch import plotting

__all__ = ["make_app", "serve"]

#: at most this many curves in the overview (evenly spaced values of the second axis)
MAX_CURVES = 8
#: a sampled store's projections of the ISI CV show the Siegert CV up to this many samples
#: (about 1 ms a point to compute)
MAX_THEORY_CV_SAMPLES = 2000
_NONE = "(none)"
#: the overview's tab of recorded traces (after Firing rate and ISI), where the store has them
_TRACES_TAB = 2
#: summaries read for the first tab (and the progress), and for the ISI tab when opened
_RATE_VARS = ("rate", "rate_std", "isi_cv", "status")
_ISI_VARS = ("isi_mean", "isi_std", "isi_cv", "status")  # (status names the sweep axes)
_TOOLS = "pan,wheel_zoom,box_zoom,save,reset"
_CURVE_WIDTH = plotting._WIDTH + 140  # room for a legend outside the frame


def _pn():
    """Import Panel (and Bokeh), or explain how to install them."""
    try:
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
    return _label_positions(plotting.open_dataset(source, chunks=None))


def _label_positions(ds: xr.Dataset) -> xr.Dataset:
    """A labelled axis (its coordinate the labels, strings) as the positions 0, 1, ... that the
    figures place points by, its labels in the coordinate's ``labels`` attribute: the sliders,
    the point's heading and :meth:`ReviewApp.select_point` speak labels."""
    for axis in plotting.sweep_axes(ds):
        values = np.asarray(ds[axis].values)
        if values.dtype.kind in "TUO":
            ds = ds.assign_coords({axis: (axis, np.arange(values.size, dtype=float),
                                          {**ds[axis].attrs, "labels": [str(v) for v in values]})})
    return ds


def _label_ticks(axis, coord: xr.DataArray) -> None:
    """Ticks of a labelled sweep axis (:func:`_label_positions`) at its points, showing its labels."""
    from bokeh.models import FixedTicker

    labels = coord.attrs.get("labels")
    if labels is not None:
        ticks = [float(v) for v in np.asarray(coord.values)]
        axis.ticker = FixedTicker(ticks=ticks)
        axis.major_label_overrides = {t: str(labels[int(t)]) for t in ticks}


def _axis_text(ds: xr.Dataset, axis: str, value: float) -> str:
    """A sweep axis's value as the user reads it: a labelled axis's label, else in its unit."""
    labels = ds[axis].attrs.get("labels")
    if labels is not None:
        return str(labels[int(value)])
    factor, unit = plotting.display_scale(ds[axis].attrs)
    return plotting._fmt_value(float(value), factor, unit)


#: closed-form rate per workflow JSON (it depends on the workflow only), and ISI CV per
#: workflow and slice
_THEORY: dict[Any, Any] = {}


def _theory(ds: xr.Dataset) -> xr.DataArray | None:
    """The theoretical rate over the whole grid (Hz), computed once per workflow."""
    key = ds.attrs.get("workflow")
    if not isinstance(key, str):
        return plotting._theory(ds, True)
    if key not in _THEORY:
        if len(_THEORY) >= 64:
            _THEORY.clear()
        _THEORY[key] = plotting._theory(ds, True)
    return _THEORY[key]


def _theory_cv(d: xr.Dataset) -> xr.DataArray | None:
    """The Siegert ISI CV at the points of a slice ``d``, cached per workflow and slice.

    Over the slice only, unlike the rate: the CV integral costs about 1 ms a point,
    10 s on a 10^4-point grid.
    """
    raw = d.attrs.get("workflow")
    if not isinstance(raw, str):
        return plotting._theory(d, True, "cv")
    axes = [a for a in plotting.sweep_axes(d) if a in d.coords] + [
        a for a in d.coords if a not in d.dims and d[a].size == 1]
    key = ("cv", raw, tuple((a, tuple(np.atleast_1d(d[a].values).tolist())) for a in axes))
    if key not in _THEORY:
        if len(_THEORY) >= 64:
            _THEORY.clear()
        _THEORY[key] = plotting._theory(d, True, "cv")
    return _THEORY[key]


# --------------------------------------------------------------------------- reading
#: {(store, variable, selection): (chunk files signature, values)} shared by the sessions
_SLICES: dict[tuple, tuple[tuple, np.ndarray]] = {}
_SLICES_MAX = 64
#: chunk files modified this recently are not trusted to show a later change (mtime steps)
_SETTLE_S = 2.0


def _chunk_signature(store: Path, name: str) -> tuple | None:
    """(path, mtime, size, inode) of every file of one variable; None when not cacheable.

    Zarr rewrites a chunk by writing a new file and renaming it over the old one, so a
    point finished since shows as a new signature. Files written in the last couple of
    seconds make the variable uncacheable (coarse file-system clocks).
    """
    root = store / name
    if not root.is_dir():
        return None
    sig = _store_signature(root)
    if name == "status" and sig is not None:
        # a point's status comes from its block's marker, written after the block's data
        # (open_results): a marker written since makes a new signature too
        from lifbatch.layout import MARKERS

        markers = _store_signature(store / MARKERS) if (store / MARKERS).is_dir() else ()
        sig = None if markers is None else sig + tuple(markers)
    return sig


def _read(ds: xr.Dataset, store: Path | None, names: list[str],
          index: Mapping[str, int]) -> xr.Dataset:
    """``ds[names]`` at the given positions of some axes (kept as length-1 dims), in memory.

    A store's variables are cached across sessions and pages while their chunk files are
    unchanged, so a reload does not read the store again, and Refresh does read the
    points finished since.
    """
    sub = ds[names].isel({a: [i] for a, i in index.items()})
    out = {}
    for name in names:
        var = sub[name]
        sig = _chunk_signature(store, name) if store is not None else None
        key = (str(store), name, tuple(sorted(index.items())))
        hit = _SLICES.get(key)
        if sig is not None and hit is not None and hit[0] == sig:
            values = hit[1]
        else:
            values = np.array(var.values)
            values.flags.writeable = False  # (shared by the sessions)
            if sig is not None:
                if len(_SLICES) >= _SLICES_MAX:
                    _SLICES.clear()
                _SLICES[key] = (sig, values)
        out[name] = xr.Variable(var.dims, values, var.attrs)
    return xr.Dataset(out, coords=sub.coords, attrs=ds.attrs)


# --------------------------------------------------------------------------- Bokeh figures
# The figures of lifbatch.plotting, built with Bokeh: few glyphs, few models (each model
# costs time on the server, in the page's JSON and in the browser).
def _figure(title: str, x: plotting._Axis | str, y: plotting._Axis | str, *,
            width: int = plotting._WIDTH, grid: bool = True, **kwargs: Any):
    from bokeh.plotting import figure

    fig = figure(title=title, width=width, height=plotting._HEIGHT, tools=_TOOLS,
                 toolbar_location="right",
                 x_axis_label=x if isinstance(x, str) else x.text,
                 y_axis_label=y if isinstance(y, str) else y.text, **kwargs)
    fig.title.text_font_size = plotting._TITLE_SIZE
    if not grid:
        fig.grid.visible = False
    return fig


def _source(**columns: Any):
    from bokeh.models import ColumnDataSource

    return ColumnDataSource(data={k: v if isinstance(v, list) else np.asarray(v)
                                  for k, v in columns.items()})


def _legend(fig, items: list[tuple], *, above: bool = False) -> None:
    """A legend outside the frame, right (or in one row above it); clicking an entry hides it.

    ``items``: (label, renderers) or (label, renderers, index of the point its swatch shows).
    """
    from bokeh.models import Legend, LegendItem

    items = [LegendItem(label=item[0], renderers=item[1],
                        **({"index": item[2]} if len(item) > 2 and item[2] is not None else {}))
             for item in items if item[1]]
    if not items:
        return
    if above:
        fig.add_layout(Legend(items=items, click_policy="hide", orientation="horizontal",
                              padding=2, margin=2, border_line_alpha=0), "above")
    else:
        fig.add_layout(Legend(items=items, click_policy="hide"), "right")


def _hover(fig, renderers: list, tooltips: list[tuple[str, str]]) -> None:
    from bokeh.models import HoverTool

    if renderers:
        fig.add_tools(HoverTool(renderers=renderers, tooltips=tooltips))


class _Cells(NamedTuple):
    """Where the cells of one heatmap axis sit: one equal cell per grid value."""

    values: np.ndarray    # grid values in display units, in the Dataset's order
    centres: np.ndarray   # each value's cell centre on the axis (same order)
    categorical: bool     # cells at 0, 1, 2, ... labelled with the values (uneven axis)

    @property
    def labels(self) -> list[str]:
        """Labels of the values in increasing order (as the cells sit)."""
        return plotting.grid_labels(np.sort(self.values))

    def index(self, position: float) -> int:
        """Index (Dataset order) of the cell at an axis position."""
        return int(np.argmin(np.abs(self.centres - position)))


def heat_cells(values: np.ndarray) -> _Cells:
    """Cells of a heatmap axis with these grid values (display units).

    An evenly spaced axis keeps its numbers (cells centred on the values); an uneven
    one (sigma = 1, 4, 8 mV, or one with inf) gets one equal cell per value at
    0, 1, 2, ...: cells sized by the gaps would give the values very different areas.
    """
    v = np.asarray(values, dtype=float)
    if v.size < 2 or plotting._regular(v):
        return _Cells(v, v, False)
    centres = np.empty(v.size)
    centres[np.argsort(v, kind="stable")] = np.arange(v.size)
    return _Cells(v, centres, True)


#: the grid value (label) of the cell under the cursor: Bokeh's $x / $y are the cursor position
_SNAP_JS = """
let best = 0, dist = Infinity;
for (let i = 0; i < centres.length; i++) {
  const e = Math.abs(centres[i] - value);
  if (e < dist) { dist = e; best = i; }
}
return labels[best];
"""


def heatmap_figure(d: xr.Dataset, x: str, y: str, where: Mapping[str, float], full: xr.Dataset,
                   var: str = "rate"):
    """``var`` (rate, or isi_cv) over two axes (``plotting.rate_heatmap`` / ``cv_heatmap``).

    One image glyph with one equal cell per grid value; an uneven axis is drawn with
    equal cells labelled with its values (:func:`heat_cells`), and the tooltip shows
    the grid values of the cell under the cursor, not the cursor's position.
    """
    from bokeh.models import ColorBar, CustomJSHover, FixedTicker, Image, LinearColorMapper, Range1d
    from bokeh.palettes import Viridis256

    title, default = {"rate": ("Firing rate", "Hz"), "isi_cv": ("ISI CV", None)}[var]
    xa, ya = plotting._axis(x, d[x].attrs), plotting._axis(y, d[y].attrs)
    za = plotting._axis(var, d[var].attrs, default=default,
                        label="ISI CV" if var == "isi_cv" else None)  # (fits the colour bar)
    z = np.asarray(d[var].transpose(y, x).values, dtype=float) * za.factor
    cx, cy = heat_cells(d[x].values * xa.factor), heat_cells(d[y].values * ya.factor)
    finite = z[np.isfinite(z)]
    mapper = LinearColorMapper(palette=Viridis256, nan_color="#dddddd",
                               low=float(finite.min()) if finite.size else 0.0,
                               high=float(finite.max()) if finite.size else 1.0)
    ox, oy = np.argsort(cx.centres, kind="stable"), np.argsort(cy.centres, kind="stable")
    xe, ye = plotting._edges(cx.centres[ox]), plotting._edges(cy.centres[oy])
    fig = _figure(plotting._title(title, full, where), xa, ya,
                  width=plotting._WIDTH + 80, grid=False,
                  x_range=Range1d(xe[0], xe[-1]), y_range=Range1d(ye[0], ye[-1]))
    for cells, axis in ((cx, fig.xaxis[0]), (cy, fig.yaxis[0])):
        if cells.categorical:  # ticks on the cells, labelled with the grid values
            n = cells.values.size
            ticks = np.unique(np.round(np.linspace(0, n - 1, min(n, 10))).astype(int))
            axis.ticker = FixedTicker(ticks=[float(t) for t in ticks])
            axis.major_label_overrides = {float(t): cells.labels[t] for t in ticks}
    _label_ticks(fig.xaxis[0], d[x])
    _label_ticks(fig.yaxis[0], d[y])
    # rows run from the bottom; cells in increasing order of the values on both axes
    r = fig.add_glyph(_source(image=[z[oy][:, ox]]),
                      Image(image="image", x=xe[0], y=ye[0], dw=xe[-1] - xe[0], dh=ye[-1] - ye[0],
                            color_mapper=mapper))
    snap = {
        name: CustomJSHover(args={"centres": [float(c) for c in np.sort(cells.centres)],
                                  "labels": cells.labels}, code=_SNAP_JS)
        for name, cells in (("$x", cx), ("$y", cy))}
    tips = [(xa.text, "$x{custom}"), (ya.text, "$y{custom}"),
            (za.text, "@image{0.[00]}" if var == "rate" else "@image{0.[000]}")]
    from bokeh.models import HoverTool

    fig.add_tools(HoverTool(renderers=[r], tooltips=tips, formatters=snap))
    fig.add_layout(ColorBar(color_mapper=mapper, title=za.text), "right")
    return fig


def curves_figure(kind: str, d: xr.Dataset, x: str, by: str | None,
                  where: Mapping[str, float], full: xr.Dataset,
                  theory: xr.DataArray | None = None):
    """Rate with ±std band (``rate``), ISI mean ± std (``isi``) or ISI CV (``cv``) vs ``x``.

    One curve per value of ``by``; ``plotting.rate_curve``, ``isi_errorbar``, ``isi_cv``.
    """
    from bokeh.models import Line, Segment, VArea

    var, err, title, single, default = {
        "rate": ("rate", "rate_std", "Firing rate", "simulation", "Hz"),
        "isi": ("isi_mean", "isi_std", "ISI mean ± std", "ISI mean", None),
        "cv": ("isi_cv", None, "ISI CV", "ISI CV", None),
    }[kind]
    xa = plotting._axis(x, d[x].attrs)
    ya = plotting._axis(var, d[var].attrs, default=default)
    xs = d[x].values * xa.factor
    fig = _figure(plotting._title(title, full, where), xa, ya, width=_CURVE_WIDTH)
    _label_ticks(fig.xaxis[0], d[x])
    items, lines = [], []
    for i, (label, g) in enumerate(plotting._groups(d, by)):
        color = plotting.PALETTE[i % len(plotting.PALETTE)]
        y = np.asarray(g[var].values, dtype=float) * ya.factor
        cols: dict[str, Any] = {"x": xs, "y": y, "label": [label or single] * xs.size}
        band = err is not None and np.isfinite(y).any()
        if band:
            e = np.nan_to_num(np.asarray(g[err].values, dtype=float) * ya.factor)
            cols.update(lower=y - e, upper=y + e)
        src = _source(**cols)
        rs = []
        if band and kind == "rate":
            rs.append(fig.add_glyph(src, VArea(x="x", y1="lower", y2="upper", fill_color=color,
                                               fill_alpha=0.2)))
        elif band:
            rs.append(fig.add_glyph(src, Segment(x0="x", y0="lower", x1="x", y1="upper",
                                                 line_color=color, line_width=1)))
        rs.append(fig.add_glyph(src, Line(x="x", y="y", line_color=color, line_width=2)))
        lines.append(rs[-1])
        items.append((label or single, rs))
    if theory is not None:
        th = [fig.add_glyph(_source(x=tx * xa.factor, y=ty), Line(x="x", y="y", **_THEORY_LINE))
              for tx, ty in plotting._theory_lines(theory, d, x, by, where) if np.isfinite(ty).any()]
        items.append((plotting._theory_label(theory), th))
    _legend(fig, items)
    tips = [(by, "@label")] if by else []
    _hover(fig, lines, tips + [(xa.text, "@x{0.[000]}"), (ya.text, "@y{0.[000]}")])
    return fig


#: closed-form overlays (``plotting._THEORY_STYLE``)
_THEORY_LINE = {"line_color": "black", "line_dash": "dashed", "line_width": 1.5}


def _note(fig, text: str | None, x_range: tuple[float, float] | None = None) -> None:
    """Write why a panel is empty in the middle of its frame (``plotting.point_note``).

    ``x_range`` (display units) fixes a data range for figures whose ranges would
    otherwise come from glyphs with no data.
    """
    from bokeh.models import Label, Range1d

    if not text:
        return
    if x_range is not None:
        fig.x_range = Range1d(*x_range)
    if not isinstance(fig.y_range, Range1d):
        fig.y_range = Range1d(0, 1)
    x0, x1 = fig.x_range.start, fig.x_range.end
    y0, y1 = fig.y_range.start, fig.y_range.end
    fig.add_layout(Label(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=text, text_align="center",
                         text_baseline="middle", text_color="#555555", text_font_size="11pt",
                         name="lb-note"))


def ensemble_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """V traces, mean ± std over trials, the spike rule's line (threshold, ``v_spike``,
    ``v_peak``) and OU theory (``plotting.v_ensemble``)."""
    from bokeh.models import Line, MultiLine, VArea

    e = plotting._ensemble_data(full, d)
    fig = _figure(plotting._title("Membrane potential", full, where), e.t, e.v,
                  width=_CURVE_WIDTH)
    items = []
    if e.traces is not None:
        src = _source(xs=[e.trace_time] * len(e.traces), ys=list(e.traces))
        items.append(("recorded trials", [fig.add_glyph(src, MultiLine(
            xs="xs", ys="ys", line_color="#888888", line_alpha=0.5, line_width=1))]))
    std = np.nan_to_num(e.std)
    src = _source(x=e.time, y=e.mean, lower=e.mean - std, upper=e.mean + std)
    if np.isfinite(e.mean).any():  # (a pending point has no moments yet)
        items.append(("mean ± std", [fig.add_glyph(src, VArea(
            x="x", y1="lower", y2="upper", fill_color=plotting.PALETTE[0], fill_alpha=0.3))]))
    mean = fig.add_glyph(src, Line(x="x", y="y", line_color=plotting.PALETTE[0], line_width=2))
    items.append(("mean", [mean]))
    if e.theory_mean is not None:
        items.append((plotting.OU_LABEL, [fig.add_glyph(_source(x=e.time, y=e.theory_mean),
                                                        Line(x="x", y="y", **_THEORY_LINE))]))
        band = _source(xs=[e.time, e.time], ys=[e.theory_mean - e.theory_std, e.theory_mean + e.theory_std])
        items.append((f"{plotting.OU_LABEL} ± std", [fig.add_glyph(band, MultiLine(
            xs="xs", ys="ys", line_color="black", line_dash="dotted", line_width=1))]))
    if e.spike is not None:
        t = e.time if e.trace_time is None else np.concatenate([e.time, e.trace_time])
        t0, t1 = (float(np.nanmin(t)), float(np.nanmax(t))) if t.size else (0.0, 1.0)
        items.append((e.spike_label, [fig.add_glyph(_source(x=[t0, t1], y=[e.spike, e.spike]), Line(
            x="x", y="y", line_color=plotting.PALETTE[3], line_dash="dashed", line_width=1))]))
    _legend(fig, items)
    _hover(fig, [mean], [(e.t.text, "@x{0.[000]}"), (e.v.text, "@y{0.[000]}")])
    if e.time.size:
        _note(fig, plotting.point_note(d, "mean"), (float(e.time[0]), float(e.time[-1])))
    return fig


def raster_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """One tick per spike, trials on the y axis (``plotting.raster``)."""
    from bokeh.models import Range1d, Segment

    times, trials = plotting.spike_raster_times(full, d)
    ta = plotting._axis("time", {"units": "s"}, default="ms")
    t = times * ta.factor
    fig = _figure(plotting._title(f"Spike raster, {times.size} spikes", full, where), ta,
                  "trial", grid=False,
                  x_range=Range1d(0, plotting._raster_xmax(full, times) * ta.factor),
                  y_range=Range1d(-0.6, d.sizes.get("trial", 1) - 0.4))
    fig.add_glyph(_source(x0=t, y0=trials - 0.4, x1=t, y1=trials + 0.4),
                  Segment(x0="x0", y0="y0", x1="x1", y1="y1", line_color="black", line_width=1))
    _note(fig, plotting.point_note(d, "spikes"))
    return fig


def isi_histogram_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """Pooled ISI histogram of one point (``plotting.isi_histogram``)."""
    from bokeh.models import Quad, Range1d

    ax, edges, counts = plotting._isi_hist_data(d)
    n = int(np.nansum(counts))
    fig = _figure(plotting._title(f"ISI histogram, {n} ISIs", full, where), ax, "ISI count",
                  x_range=Range1d(edges[0], edges[-1]))
    bars = np.nan_to_num(counts) > 0  # (no outline along the axis for empty bins)
    r = fig.add_glyph(_source(left=edges[:-1][bars], right=edges[1:][bars], top=counts[bars]),
                      Quad(left="left", right="right", bottom=0, top="top",
                           fill_color=plotting.PALETTE[0], line_color="black", line_width=0.5))
    _hover(fig, [r], [(ax.text, "@left{0.[00]} .. @right{0.[00]}"), ("count", "@top")])
    _note(fig, plotting.point_note(d, "isi"))
    return fig


def _moment_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float], var: str,
                   coord: str, title: str, color: str):
    """Variance vs time or autocovariance vs lag, with the OU theory (``plotting._moment_figure``)."""
    from bokeh.models import Line

    ca = plotting._axis(coord, d[coord].attrs, default="ms")
    va = plotting._axis(var, plotting._square_attrs(full, var))
    xs = d[coord].values * ca.factor
    values = np.asarray(d[var].values, dtype=float) * va.factor
    th = plotting.theory_ou(d)
    fig = _figure(plotting._title(title, full, where), ca, va,
                  width=_CURVE_WIDTH if th is not None else plotting._WIDTH)
    r = fig.add_glyph(_source(x=xs, y=values), Line(x="x", y="y", line_color=color, line_width=2))
    if th is not None:
        t = fig.add_glyph(_source(x=xs, y=th[var].values * va.factor), Line(x="x", y="y", **_THEORY_LINE))
        _legend(fig, [("simulation", [r]), (plotting.OU_LABEL, [t])])
    _hover(fig, [r], [(ca.text, "@x{0.[000]}"), (va.text, "@y{0.[000]}")])
    note = plotting.point_note(d, "moments")
    if note is None and not np.isfinite(values).any():
        note = "no values at this point"
    if xs.size:
        _note(fig, note, (float(xs[0]), float(xs[-1])))
    return fig


def variance_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """Variance of V over trials vs time (``plotting.v_variance``)."""
    return _moment_figure(full, d, where, "v_var", "time", "V variance", plotting.PALETTE[1])


def autocov_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """Ensemble autocovariance of V vs lag (``plotting.v_autocov``)."""
    return _moment_figure(full, d, where, "v_autocov", "lag", "V autocovariance", plotting.PALETTE[2])


def _trace_panel_figure(panel: plotting.TracePanel, full: xr.Dataset, where: Mapping[str, float]):
    """One panel of recorded traces: a MultiLine per variable (its colour, one line per
    recorded trial), a legend of the variables."""
    from bokeh.models import MultiLine

    fig = _figure(plotting._title(panel.title, full, where), panel.t, panel.y, width=_CURVE_WIDTH)
    items, renderers = [], []
    trials = [int(k) for k in panel.trials]
    for i, (label, traces) in enumerate(panel.lines):
        src = _source(xs=[panel.time] * len(traces), ys=list(traces), trial=trials[:len(traces)])
        r = fig.add_glyph(src, MultiLine(xs="xs", ys="ys", line_color=plotting.PALETTE[i % len(plotting.PALETTE)],
                                         line_width=1.5, line_alpha=1.0 if len(traces) == 1 else 0.6))
        items.append((label, [r]))
        renderers.append(r)
    _legend(fig, items)
    _hover(fig, renderers, [("trial", "@trial"), (panel.t.text, "$x{0.[000]}"), (panel.y.text, "$y{0.[000]}")])
    if panel.time.size:
        _note(fig, panel.note, (float(panel.time[0]), float(panel.time[-1])))
    return fig


def _trace_figures(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float], kind: str):
    panels = plotting.trace_panels(full, d, kind)
    if not panels:
        return None
    figs = [_trace_panel_figure(p, full, where) for p in panels]
    if len(figs) == 1:
        return figs[0]
    from bokeh.layouts import row

    return row(*figs)


def state_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """The recorded state variables of one point, one panel per unit (``plotting.state_traces``);
    None when the store records none."""
    return _trace_figures(full, d, where, "state")


def input_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """The recorded inputs of one point (``plotting.input_traces``); None when the store
    records none."""
    return _trace_figures(full, d, where, "inputs")


def traces_figure(d: xr.Dataset, x: str, var: str, where: Mapping[str, float], full: xr.Dataset):
    """A recorded variable of the first recorded trial vs time, one curve per value of ``x``
    (``plotting.traces``: the Brian2 tutorial's v and I of its three cells)."""
    from bokeh.models import Line

    c = plotting.trace_curves(full, d, x, var)
    fig = _figure(plotting._title(plotting.trace_title(var, c.trial), full, where), c.t, c.y,
                  width=_CURVE_WIDTH)
    items, lines = [], []
    for i, (label, values) in enumerate(c.curves):
        src = _source(x=c.time, y=values, label=[label] * c.time.size)
        r = fig.add_glyph(src, Line(x="x", y="y", line_color=plotting.PALETTE[i % len(plotting.PALETTE)],
                                    line_width=1.5))
        items.append((label, [r]))
        lines.append(r)
    _legend(fig, items)
    _hover(fig, lines, [(x, "@label"), (c.t.text, "@x{0.[000]}"), (c.y.text, "@y{0.[000]}")])
    return fig


#: drill-down figures, in page order (``state`` and ``inputs`` only for a store that
#: records them: :func:`point_figures`)
POINT_FIGURES: dict[str, Callable] = {
    "v_ensemble": ensemble_figure,
    "raster": raster_figure,
    "isi_histogram": isi_histogram_figure,
    "v_variance": variance_figure,
    "v_autocov": autocov_figure,
    "state": state_figure,
    "inputs": input_figure,
}


def point_figures(ds: xr.Dataset) -> dict[str, Callable]:
    """The drill-down figures of a store: :data:`POINT_FIGURES`, without the state figure
    where it records no state variable (``record.state``) nor the input figure where it
    records no input (``record.inputs``)."""
    skip = {name for name, has in (("state", plotting.recorded_state(ds)),
                                   ("inputs", plotting.recorded_inputs(ds))) if not has}
    return {name: build for name, build in POINT_FIGURES.items() if name not in skip}


def _on_tap(fig, callback: Callable[[float | None, float | None], None]) -> None:
    """Call ``callback(x, y)`` (display units) when the plot is tapped."""
    from bokeh.events import Tap

    fig.on_event(Tap, lambda event: callback(event.x, event.y))


# --------------------------------------------------------------------------- sampled designs
#: the scatter over two parameters: room for its colour bar and legend beside the frame
_SCATTER_WIDTH = plotting._WIDTH + 320
#: the selected sample's ring on the scatter figures
_SELECTED = {"marker": "circle", "size": 20, "fill_alpha": 0.0, "line_color": plotting.PALETTE[3],
             "line_width": 2.5}
#: hover formats of values in display units (4 significant digits)
_G4 = "{%.4g}"


def _log_ticks(fig, x: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
    """Every decade labelled on log axes (:func:`plotting.log_ticks` over the values ``x``
    and ``y`` drawn, in display units), as plain numbers; without values, Bokeh's ticker
    at 1, 2 and 5 per decade (its default labels every mantissa of a decade, which overlap)."""
    from bokeh.models import FixedTicker, LogAxis, LogTicker, PrintfTickFormatter

    for axes, values in ((fig.below, x), (fig.left, y)):
        for axis in axes:
            if not isinstance(axis, LogAxis):
                continue
            finite = np.asarray(values, float)[np.isfinite(values)] if values is not None else np.empty(0)
            ticks = plotting.log_ticks(float(finite.min()), float(finite.max())) if finite.size else []
            if ticks:
                axis.ticker = FixedTicker(ticks=ticks)
                axis.formatter = PrintfTickFormatter(format="%g")
            else:
                axis.ticker = LogTicker(mantissas=[1, 2, 5])


def _axis_span(full: xr.Dataset, name: str, shown: np.ndarray) -> np.ndarray:
    """What a log axis of ``name`` spans, in display units: the values ``shown`` and, for a
    sampled parameter, its bounds (the axis does not shrink to a slice's points)."""
    bounds = full[name].attrs.get("bounds") if name in full else None
    if not bounds:
        return np.asarray(shown, float)
    factor, _ = plotting.display_scale(full[name].attrs)
    return np.concatenate([np.asarray(shown, float), np.asarray(bounds, float) * factor])


def _sample_glyphs(fig, data: plotting.SampleData, mapper=None) -> tuple[list, list]:
    """One Scatter glyph per layer of ``data`` (:func:`plotting.sample_layers`): the design's
    points, each round's added points (their marker, a black outline), pending (hollow grey)
    and failed (red crosses); done points filled by ``mapper`` of the colour, or blue.

    Returns the legend items and the renderers to hover.
    """
    from bokeh.models import Scatter

    items, renderers = [], []
    for layer in data.layers:
        i = layer.index
        cols: dict[str, Any] = {"x": data.xs[i], "y": data.ys[i], "sample": data.sample[i],
                                "round": data.rounds[i], "label": [layer.label] * i.size}
        style = dict(layer.style)
        if data.zs is not None:
            cols["z"] = data.zs[i]
        if layer.state == "done":
            style["fill_color"] = ({"field": "z", "transform": mapper} if mapper is not None
                                   else plotting.PALETTE[0])
        r = fig.add_glyph(_source(**cols), Scatter(x="x", y="y", **style), name=f"lb-{layer.state}")
        # (the legend draws its swatch from one point: one with a colour, not a grey NaN)
        finite = np.flatnonzero(np.isfinite(cols["z"])) if "z" in cols else np.empty(0, int)
        items.append((layer.label, [r], int(finite[0]) if finite.size else None))
        renderers.append(r)
    return items, renderers


def _sample_hover(fig, renderers: list, data: plotting.SampleData) -> None:
    from bokeh.models import HoverTool

    if not renderers:
        return
    tips = [("sample", "@sample (@label)"), (data.x.text, "@x" + _G4), (data.y.text, "@y" + _G4)]
    formatters = {"@x": "printf", "@y": "printf"}
    if data.z is not None:
        tips.append((data.z.text, "@z" + _G4))
        formatters["@z"] = "printf"
    fig.add_tools(HoverTool(renderers=renderers, tooltips=tips, formatters=formatters))


def _selected_glyph(fig):
    """An empty ring glyph that marks the drill-down sample (:meth:`SampledReviewApp._mark`)."""
    from bokeh.models import Scatter

    return fig.add_glyph(_source(x=np.empty(0), y=np.empty(0)), Scatter(x="x", y="y", **_SELECTED),
                         name="lb-selected")


def scatter_figure(d: xr.Dataset, x: str, y: str, var: str, where: Mapping[str, float],
                   full: xr.Dataset, *, selected: str = "selected"):
    """``var`` as colour over two sampled parameters (``plotting.sample_scatter``).

    Returns the figure and its :class:`plotting.SampleData` (what a tap picks from); the
    figure's ``lb-selected`` glyph (legend ``selected``) rings the drill-down sample
    (:func:`mark_sample`).
    """
    from bokeh.models import ColorBar, LinearColorMapper
    from bokeh.palettes import Viridis256

    data = plotting.sample_data(d, x, y, var)
    mapper = LinearColorMapper(palette=Viridis256, nan_color=plotting.NAN_COLOR,
                               low=data.clim[0], high=data.clim[1])
    fig = _figure(plotting._title(plotting.SUMMARY_TITLES.get(var, var), full, where), data.x, data.y,
                  width=_SCATTER_WIDTH,
                  x_axis_type="log" if plotting.log_scale(full, x) else "linear",
                  y_axis_type="log" if plotting.log_scale(full, y) else "linear")
    _log_ticks(fig, _axis_span(full, x, data.xs), _axis_span(full, y, data.ys))
    items, renderers = _sample_glyphs(fig, data, mapper)
    mark = _selected_glyph(fig)
    fig.add_layout(ColorBar(color_mapper=mapper, title=data.z.text), "right")
    _legend(fig, items + [(selected, [mark])])
    _sample_hover(fig, renderers, data)
    return fig, data


def mark_sample(fig, data: plotting.SampleData, sample: float | None) -> None:
    """Ring ``sample`` (its number) on a scatter or projection figure (no ring for None, or
    where the sample has no value to place it at)."""
    glyph = fig.select_one({"name": "lb-selected"})
    if glyph is None:
        return
    i = np.flatnonzero((data.sample == sample) & np.isfinite(data.xs) & np.isfinite(data.ys))
    glyph.data_source.data = {"x": data.xs[i], "y": data.ys[i]}


def projection_figure(d: xr.Dataset, param: str, var: str, where: Mapping[str, float],
                      full: xr.Dataset, theory: xr.DataArray | None = None, *, legend: bool = True,
                      selected: str = "selected"):
    """``var`` against one sampled parameter (``plotting.sample_projection``), with the
    closed-form value at each sample (black dashes) where it applies.

    ``legend=False`` (beside a scatter whose legend explains the markers) names only the
    theory, in one line above the frame.

    Returns the figure and its :class:`plotting.SampleData`.
    """
    from bokeh.models import Scatter

    data = plotting.sample_data(d, param, var, None)
    title = f"{plotting.SUMMARY_TITLES.get(var, var)} vs {param}"
    fig = _figure(plotting._title(title, full, where), data.x, data.y,
                  width=_SCATTER_WIDTH - 100 if legend else plotting._WIDTH,
                  x_axis_type="log" if plotting.log_scale(full, param) else "linear")
    _log_ticks(fig, _axis_span(full, param, data.xs))
    items, renderers = _sample_glyphs(fig, data)
    th = plotting._theory_at_samples(theory, d, where)
    if th is not None:
        r = fig.add_glyph(_source(x=data.xs, y=th), Scatter(x="x", y="y", marker="dash", size=14,
                                                            line_color="black", line_width=2))
        items.append((plotting._theory_label(theory), [r]))
    mark = _selected_glyph(fig)
    if legend:
        _legend(fig, items + [(selected, [mark])])
    elif th is not None:
        _legend(fig, items[-1:], above=True)
    _sample_hover(fig, renderers, data)
    return fig, data


def nearest_sample(data: plotting.SampleData, x: float | None, y: float | None, *,
                   xlog: bool = False, ylog: bool = False,
                   aspect: float = plotting._WIDTH / plotting._HEIGHT) -> int | None:
    """The number of the drawn sample nearest to a tap at (x, y) (display units), measured
    on the screen: each axis scaled to its extent (in the logarithm on a log axis), x
    stretched by the frame's ``aspect``; None when nothing is drawn."""
    if x is None or y is None:
        return None

    def scaled(values, at, log):
        values = np.asarray(values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            if log:
                values, at = np.log10(values), np.log10(at)
        ok = np.isfinite(values)
        span = float(np.ptp(values[ok])) if ok.any() else 0.0
        return (values - at) / (span or 1.0)

    dx = scaled(data.xs, x, xlog) * aspect
    dy = scaled(data.ys, y, ylog)
    dist = np.hypot(dx, dy)
    if not np.isfinite(dist).any():
        return None
    return int(data.sample[int(np.nanargmin(dist))])


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
        self._store = (Path(source) if isinstance(source, (str, PathLike))
                       and Path(source).is_dir() else None)
        self.axes = plotting.sweep_axes(self.ds)
        self.varying = [a for a in self.axes if self.ds.sizes[a] > 1]
        self.point: dict[str, float] = {
            a: float(self.ds[a].values[self.ds.sizes[a] // 2]) for a in self.axes
        }
        self.sliders: dict[str, Any] = {}
        for axis in self._slider_axes():
            options = {_axis_text(self.ds, axis, v): float(v) for v in self.ds[axis].values}
            slider = pn.widgets.DiscreteSlider(
                **_label(pn.widgets.DiscreteSlider, axis), options=options, value=self.point[axis],
                css_classes=[f"lb-slider-{axis}"], sizing_mode="stretch_width")
            slider.param.watch(lambda event, _axis=axis: self._on_slider(_axis, event.new),
                               "value")
            self.sliders[axis] = slider
        style = ({"color": "primary"} if "color" in pn.widgets.Button.param
                 else {"button_type": "primary"})
        self.refresh_button = pn.widgets.Button(**_label(pn.widgets.Button, "Refresh"), **style,
                                                css_classes=["lb-refresh"], sizing_mode="stretch_width")
        self.refresh_button.on_click(lambda event: self.refresh())
        self.status_md = pn.pane.Markdown("", css_classes=["lb-status"])
        self.point_md = pn.pane.Markdown("", css_classes=["lb-point"])
        self.slider_box = pn.Column(sizing_mode="stretch_width")
        self.message = pn.pane.Alert("", alert_type="warning", visible=False,
                                     css_classes=["lb-message"])
        self.point_builders = point_figures(self.ds)
        self.point_panes = {name: pn.pane.Bokeh(None, css_classes=[f"lb-{name.replace('_', '-')}"])
                            for name in self.point_builders}
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
            **_label(pn.widgets.Select, "x axis"), options=varying or [_NONE],
            value=varying[-1] if varying else _NONE,
            css_classes=["lb-x-select"], sizing_mode="stretch_width")
        y_options = [_NONE] + varying
        self.y_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "curves / heatmap axis"), options=y_options,
            value=varying[-2] if len(varying) >= 2 else _NONE, css_classes=["lb-y-select"],
            sizing_mode="stretch_width")
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
        self.trace_panes = {v: pane(None, css_classes=[f"lb-traces-{v.replace('_', '-')}"])
                            for v in (plotting.trace_vars(self.ds) if varying else [])}
        tabs = [("Firing rate", pn.FlexBox(self.heat_pane, self.cv_heat_pane, self.rate_pane)),
                ("ISI", pn.FlexBox(self.isi_pane, self.cv_pane))]
        if self.trace_panes:
            tabs.append(("Traces", pn.FlexBox(*self.trace_panes.values())))
        # a store recording a model's state or its inputs was written to look at traces: it
        # opens on them
        first = (_TRACES_TAB if self.trace_panes and (plotting.recorded_state(self.ds)
                                                       or plotting.recorded_inputs(self.ds)) else 0)
        # dynamic tabs render only the visible tab: a fast first page on big stores
        self.overview_tabs = pn.Tabs(*tabs, active=first, dynamic=True, css_classes=["lb-overview"])
        self.overview_tabs.param.watch(self._on_tab, "active")
        self._isi_args: tuple | None = None  # what the ISI tab shows once opened

    # ------------------------------------------------------------------ layout
    def view(self):
        """The Panel layout of the app."""
        pn = self._pn
        name = self.ds.attrs.get("name", "lifbatch sweep")
        head = [pn.pane.Markdown(f"### {name}\n\nfingerprint `{self.ds.attrs.get('fingerprint', '?')}`"),
                self.status_md, self.refresh_button]
        overview = [pn.pane.Markdown("## Overview  \n*tap a heatmap cell or a curve to drill down*"),
                    self.message, self.overview_tabs]
        if self.varying:
            head += [self.x_select, self.y_select, pn.pane.Markdown("**Other sweep axes**"),
                     self.slider_box]
        else:  # a single point: no axis to choose, no overview (and no empty selectors)
            head.append(pn.pane.Markdown("*a single point: no sweep axis*", css_classes=["lb-single"]))
            overview = [self.message]
        sidebar = pn.Column(*head, width=300, css_classes=["lb-sidebar"])
        main = pn.Column(*overview, pn.pane.Markdown("## Point"), self.point_md, self.drill_box,
                         sizing_mode="stretch_width")
        return pn.Row(sidebar, main, sizing_mode="stretch_width")

    # ------------------------------------------------------------------ state changes
    def _plot_axes(self) -> tuple[str | None, str | None]:
        x = self.x_select.value if self.x_select.value != _NONE else None
        y = self.y_select.value if self.y_select.value not in (_NONE, x) else None
        return x, y

    def _fixed(self) -> dict[str, float]:
        """Slider values of the sweep axes that are not plotted."""
        x, y = self._plot_axes()
        return {a: float(self.sliders[a].value) for a in self.axes if a not in (x, y)
                and self.ds.sizes[a] > 1}

    def _slice(self, names: tuple[str, ...]) -> xr.Dataset:
        """The summaries ``names`` over the plotted axes, at the sliders' values."""
        index = {a: plotting._nearest_index(self.ds[a].values, v) for a, v in self._fixed().items()}
        return _read(self.ds, self._store, [n for n in names if n in self.ds], index)

    def _update_sliders(self) -> None:
        x, y = self._plot_axes()
        self.slider_box.objects = [self.sliders[a] for a in self.axes
                                   if a not in (x, y) and self.ds.sizes[a] > 1]
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
                self.point[axis] = float(values[plotting._nearest_index(values, value)])
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
        status = None
        if "status" in self.ds:
            whole = not fixed and summary is not None
            status = (summary if whole else _read(self.ds, self._store, ["status"], {}))
            status = status["status"].values
        out: dict[str, Any] = {"status": self._status_text(status), "x": x, "y": y}
        if x is None:  # a single point: the drill-down is the whole story
            return out
        try:
            d, where = plotting._select(summary, {})
            if y is not None:
                for key, var in (("heat", "rate"), ("cv_heat", "isi_cv")):
                    if var not in d:
                        continue
                    heat = heatmap_figure(d, x, y, where, summary, var=var)
                    _on_tap(heat, lambda tx, ty, _x=x, _y=y, _d=d: self._tap_heatmap(_d, _x, _y, tx, ty))
                    out[key] = heat
                curves = plotting._thin(d, y, MAX_CURVES)
            else:
                curves = d
            rate = curves_figure("rate", curves, x, y, where, summary, _theory(self.ds))
            _on_tap(rate, lambda tx, ty, _x=x, _by=y, _d=curves:
                    self._tap_curve(_d, _x, _by, tx, ty))
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
            curves, where = plotting._select(summary, {})
            if y is not None:
                curves = plotting._thin(curves, y, MAX_CURVES)
            self.isi_pane.object = curves_figure("isi", curves, x, y, where, summary)
            self.cv_pane.object = curves_figure("cv", curves, x, y, where, summary, _theory_cv(curves))
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
            index = {a: plotting._nearest_index(self.ds[a].values, v) for a, v in self._fixed().items()}
            if y is not None:
                index[y] = plotting._nearest_index(self.ds[y].values, self.point[y])
            index["trace_trial"] = 0
            names = list(self.trace_panes) + (["status"] if "status" in self.ds else [])  # (status: the axes)
            read = _read(self.ds, self._store, names, index)
            d, where = plotting._select(read, {})
            d = plotting._thin(d, x, MAX_CURVES)
            for var, pane in self.trace_panes.items():
                pane.object = traces_figure(d, x, var, where, read)
        except Exception as err:  # keep the app alive; say what failed
            self.message.object = f"Could not draw the traces: {err}"
            self.message.visible = True

    def _tap_heatmap(self, d: xr.Dataset, xname: str, yname: str, x: float | None,
                     y: float | None) -> None:
        """Select the grid point of the heatmap cell at (x, y) (axis positions, :func:`heat_cells`)."""
        if x is None or y is None:
            return
        coords = dict(self._fixed())
        for name, pos in ((xname, x), (yname, y)):
            values = d[name].values
            cells = heat_cells(values * plotting.display_scale(d[name].attrs)[0])
            coords[name] = float(values[cells.index(pos)])
        self.select_point(**coords)

    def _tap_curve(self, d: xr.Dataset, xname: str, by: str | None,
                   x: float | None, y: float | None) -> None:
        if x is None:
            return
        xfac = plotting.display_scale(self.ds[xname].attrs)[0]
        coords = {xname: x / xfac, **self._fixed()}
        if by is not None and y is not None:
            # which curve was tapped: the one whose rate at that x is closest to the tap
            xi = plotting._nearest_index(d[xname].values, x / xfac)
            rfac = plotting.display_scale(d["rate"].attrs, default="Hz")[0]
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
            full, d, where = plotting._point(self.ds, sel, "review")
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
        return ", ".join(f"{a} = {_axis_text(self.ds, a, v)}" for a, v in self.point.items())

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
        return plotting.grid_axes(self.ds)

    def _widgets(self) -> None:
        pn = self._pn
        self.params = plotting.sampled_params(self.ds)
        params = self.params
        self.x_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "x parameter"), options=params, value=params[0],
            css_classes=["lb-x-select"], sizing_mode="stretch_width")
        self.y_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "y parameter"), options=params,
            value=params[1] if len(params) > 1 else params[0], visible=len(params) > 1,
            css_classes=["lb-y-select"], sizing_mode="stretch_width")
        names = plotting.summaries(self.ds)
        options = {plotting.summary_axis(self.ds, v).label: v for v in names}
        self.var_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "summary (colour)"), options=options,
            value="rate" if "rate" in names else names[0], css_classes=["lb-var-select"],
            sizing_mode="stretch_width")
        samples = self.ds[plotting.SAMPLE].values
        self.sample_input = pn.widgets.IntInput(
            **_label(pn.widgets.IntInput, "sample"), value=int(self.point[plotting.SAMPLE]),
            start=int(samples.min()), end=int(samples.max()), css_classes=["lb-sample-input"],
            sizing_mode="stretch_width")
        for widget in (self.x_select, self.y_select, self.var_select):
            widget.param.watch(self._on_axes, "value")
        self.sample_input.param.watch(self._on_sample_input, "value")
        pane = pn.pane.Bokeh
        self.scatter_pane = pane(None, css_classes=["lb-scatter"])
        self.projection_panes = {p: pane(None, css_classes=[f"lb-projection-{p}"]) for p in params}
        self.overview_box = pn.FlexBox(self.scatter_pane, *self.projection_panes.values(),
                                       css_classes=["lb-overview"])
        self._marks: list[tuple[Any, plotting.SampleData]] = []  # (figure, its data): rings

    # ------------------------------------------------------------------ layout
    def view(self):
        pn = self._pn
        name = self.ds.attrs.get("name", "lifbatch sweep")
        head = [pn.pane.Markdown(f"### {name}\n\nfingerprint `{self.ds.attrs.get('fingerprint', '?')}`"),
                self.status_md, self.refresh_button, self.var_select, self.x_select, self.y_select]
        if any(self.ds.sizes[a] > 1 for a in self._slider_axes()):
            head += [pn.pane.Markdown("**Grid axes**"), self.slider_box]
        head.append(self.sample_input)
        sidebar = pn.Column(*head, width=300, css_classes=["lb-sidebar"])
        main = pn.Column(
            pn.pane.Markdown("## Overview  \n*tap a point to drill down; ● the design, ▲ ■ ◆ points "
                             "added by later rounds of refine or fit (black outline), ○ pending*"),
            self.message, self.overview_box, pn.pane.Markdown("## Point"), self.point_md,
            self.drill_box, sizing_mode="stretch_width")
        return pn.Row(sidebar, main, sizing_mode="stretch_width")

    # ------------------------------------------------------------------ state changes
    def _plot_axes(self) -> tuple[str | None, str | None]:
        x = self.x_select.value
        y = self.y_select.value if len(self.params) > 1 and self.y_select.value != x else None
        return x, y

    def _fixed(self) -> dict[str, float]:
        """Slider values of the grid axes."""
        return {a: float(self.sliders[a].value) for a in self._slider_axes() if self.ds.sizes[a] > 1}

    def _update_sliders(self) -> None:
        self.slider_box.objects = [self.sliders[a] for a in self._slider_axes()
                                   if self.ds.sizes[a] > 1]

    def _point_label(self) -> str:
        return plotting.sample_point_label(self.ds, self.point)

    def refresh(self) -> None:
        """Re-open the store (new points, and samples added by refinement) and redraw."""
        if not isinstance(self.source, xr.Dataset):
            self.ds = _open(self.source)
        samples = self.ds[plotting.SAMPLE].values
        self.sample_input.end = int(samples.max())
        with self._hold():
            self._render_overview()
            self._render_drilldown()

    def _status_text(self, status: np.ndarray | None) -> str:
        text = super()._status_text(status)
        rounds = plotting.sample_rounds(self.ds)
        parts = [f"{int((rounds == k).sum())} {plotting.round_label(int(k))}" for k in np.unique(rounds)]
        grid = [f"{self.ds.sizes[a]} {a}" for a in self._slider_axes() if self.ds.sizes[a] > 1]
        return (f"{text}  \n{rounds.size} samples ({', '.join(parts)})"
                + (f" x {' x '.join(grid)}" if grid else ""))

    # ------------------------------------------------------------------ rendering
    def _overview(self) -> dict[str, Any]:
        """Read the slice shown and build the scatter and the projections (no widget changes)."""
        x, y = self._plot_axes()
        var = self.var_select.value
        fixed = self._fixed()
        summary = self._slice((var, "status"))
        status = None
        if "status" in self.ds:
            status = (summary if not fixed else _read(self.ds, self._store, ["status"], {}))
            status = status["status"].values
        out: dict[str, Any] = {"status": self._status_text(status), "marks": []}
        try:
            d, where = plotting._sample_select(summary, {}, "review")
            if y is not None:
                fig, data = scatter_figure(d, x, y, var, where, summary)
                self._tap_to_sample(fig, data, plotting.log_scale(self.ds, x),
                                    plotting.log_scale(self.ds, y))
                out["scatter"] = fig
                out["marks"].append((fig, data))
            kind = {"rate": "rate", "isi_cv": "cv"}.get(var)
            if kind == "cv" and d.sizes[plotting.SAMPLE] > MAX_THEORY_CV_SAMPLES:
                kind = None  # (the CV integral costs about 1 ms a point)
            theory = (_theory(self.ds) if kind == "rate" else _theory_cv(d) if kind == "cv" else None)
            out["projections"] = {}
            for p in self.params:
                fig, data = projection_figure(d, p, var, where, summary, theory, legend=y is None)
                self._tap_to_sample(fig, data, plotting.log_scale(self.ds, p), False)
                out["projections"][p] = fig
                out["marks"].append((fig, data))
        except Exception as err:  # keep the app alive; say what failed
            out["error"] = f"Could not draw the overview: {err}"
        return out

    def _on_sample_input(self, event) -> None:
        if event.new is not None and float(event.new) != self.point[plotting.SAMPLE]:  # (not our echo)
            self.select_point(**{plotting.SAMPLE: float(event.new)})

    def _tap_to_sample(self, fig, data: plotting.SampleData, xlog: bool, ylog: bool) -> None:
        def tapped(tx, ty):
            sample = nearest_sample(data, tx, ty, xlog=xlog, ylog=ylog,
                                    aspect=fig.width / max(fig.height, 1))
            if sample is not None:
                self.select_point(**{plotting.SAMPLE: float(sample), **self._fixed()})

        _on_tap(fig, tapped)

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
        self.sample_input.value = int(self.point[plotting.SAMPLE])

    def _mark(self) -> None:
        """Ring the drill-down sample on every overview figure."""
        for fig, data in self._marks:
            mark_sample(fig, data, self.point[plotting.SAMPLE])


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
    app = (SampledReviewApp if plotting.is_sampled(ds) else ReviewApp)(store_or_ds, ds)
    layout = app.view()
    layout._lifbatch_app = app  # handle for tests and notebooks
    return layout


def _check_port(address: str, port: int) -> None:
    """Refuse ``port`` in one line when this machine cannot listen on it (in use, or
    reserved), bound as tornado binds it (SO_REUSEADDR: a port in TIME_WAIT is free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as exc:
            raise _port_error(address, port, exc) from None


def _port_error(address: str, port: int, exc: OSError):
    from lifbatch.errors import WorkflowError

    why = "it is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc)).lower()
    return WorkflowError(f"`--port` {port}: cannot serve on {address}:{port}, {why}. Choose another port, or "
                         "leave out --port to take a free one.", "--port", port)


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- serving
#: {store path: (store signature, app layout)}: the app of the next browser session,
#: built in advance (before serving, then after each page has loaded)
_SPARE: dict[str, tuple[tuple, Any]] = {}
_SPARE_LOCK = threading.Lock()
#: {store path: thread building its next app}
_PREPARING: dict[str, threading.Thread] = {}


def _store_signature(store: Path) -> tuple | None:
    """(path, mtime, size, inode) of every file of a store; None while it is being written."""
    now = time.time_ns()
    sig = []
    for dirpath, _, files in os.walk(store):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            if now - st.st_mtime_ns < _SETTLE_S * 1e9:
                return None
            sig.append((dirpath, f, st.st_mtime_ns, st.st_size, st.st_ino))
    sig.sort()
    return tuple(sig)


def _prepare(store: str | PathLike) -> None:
    """Build the app of the next session now, if the store is not being written."""
    path = Path(store)
    try:
        sig = _store_signature(path)
        if sig is None:
            return
        layout = _build(store)
        if _store_signature(path) != sig:  # (changed while reading it)
            return
    except Exception:  # (the session then builds its own app, and shows what fails)
        return
    with _SPARE_LOCK:
        _SPARE[str(path)] = (sig, layout)


def _session_app(store: xr.Dataset | str | PathLike):
    """The app of a new browser session (called by the server for each page).

    A store's app is built in advance while the browser of the previous page is idle, and
    used if the store has not changed since (every file's modification time, size and
    inode); otherwise, and for a Dataset, it is built now. Either way the page shows the
    store as it is when the page is requested.
    """
    pn = _pn()
    if isinstance(store, xr.Dataset):
        return _build(store)
    path = Path(store)
    preparing = _PREPARING.pop(str(path), None)
    if preparing is not None:  # nearly ready: finishing it is quicker than starting again
        preparing.join()
    with _SPARE_LOCK:
        spare = _SPARE.pop(str(path), None)
    layout = None
    if spare is not None and _store_signature(path) == spare[0]:
        layout = spare[1]
    if layout is None:
        layout = _build(store)
    pn.state.onload(lambda: _prepare_next(store))
    return layout


def _prepare_next(store: str | PathLike) -> None:
    """Build the next page's app in a thread, once this page is drawn (the server is idle)."""
    key = str(Path(store))
    if key in _PREPARING:
        return
    thread = threading.Thread(target=_prepare, args=(store,), name="lifbatch-review-next-page",
                              daemon=True)
    _PREPARING[key] = thread
    thread.start()


def _warm_up(store: xr.Dataset | str | PathLike) -> None:
    """Build one page before serving (imports, unit registry, theory, Bokeh models), and
    start preparing the first session's app (:func:`_prepare`): the first page a browser
    opens is then as fast as the next ones."""
    from bokeh.document import Document

    make_app(store).server_doc(Document())  # (models once: Bokeh's and Panel's first uses)
    if not isinstance(store, xr.Dataset):
        _prepare(store)


def serve(store: xr.Dataset | str | PathLike, *, port: int = 0, open_browser: bool = True,
          address: str = "127.0.0.1", **kwargs: Any) -> None:
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
        plotting.open_dataset(store)  # fail now, with the store's error, not in the browser
    if port:
        _check_port(address, port)  # before the warm-up: a busy port is said at once
    port = port or _free_port(address)
    origins = {f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"}
    url = f"http://{address}:{port}/"
    print(f"lifbatch review: preparing {store if not isinstance(store, xr.Dataset) else 'dataset'}"
          " ...", flush=True)
    _warm_up(store)
    try:
        server = pn.serve({"/": lambda: _session_app(store)}, port=port, address=address,
                          websocket_origin=sorted(origins), show=False, start=False, title="lifbatch review",
                          verbose=False, **kwargs)
    except OSError as exc:  # taken meanwhile
        raise _port_error(address, port, exc) from None
    _only_hosts(server._tornado, origins)
    server.start()
    print(f"lifbatch review: serving at {url} (Ctrl+C to stop)", flush=True)
    if open_browser:
        server.show("/")
    server.io_loop.start()
    sys.stdout.flush()


def _only_hosts(app, hosts: set[str]) -> None:
    """Answer only requests whose Host header names this server (``hosts``): 403 otherwise.

    The websocket's Origin check alone lets a page on any host name that resolves to
    127.0.0.1 (DNS rebinding) drive the app, since its Origin then equals its Host.
    """
    import tornado.web

    allowed = {h.lower() for h in hosts}
    find = app.find_handler

    def find_handler(request, **kwargs):
        if (request.host or "").lower() not in allowed:
            return app.get_handler_delegate(request, tornado.web.ErrorHandler, {"status_code": 403})
        return find(request, **kwargs)

    app.find_handler = find_handler
