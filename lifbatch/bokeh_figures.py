"""The figures of the review app and the static report, drawn with Bokeh directly.

The same data, units, labels and titles as :mod:`lifbatch.plotting` (both draw what
:mod:`lifbatch.figures` computes); Bokeh rather than HoloViews because converting
HoloViews overlays took most of a page's time on a 10^4-point store. Few glyphs and few
models: each costs time on the server, in the page's JSON and in the browser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr

# (Bokeh at the top: only the review app and the report import this module, and both draw with it;
# the annotations from bokeh.models.annotations, whose names mypy finds, not bokeh.models' re-export)
from bokeh.events import Tap
from bokeh.layouts import row
from bokeh.models import (
    ColumnDataSource,
    CustomJSHover,
    FixedTicker,
    HoverTool,
    Image,
    Line,
    LinearColorMapper,
    LogAxis,
    LogTicker,
    MultiLine,
    PrintfTickFormatter,
    Quad,
    Range1d,
    Scatter,
    Segment,
    VArea,
)
from bokeh.models.annotations import ColorBar, Label, Legend, LegendItem, Title
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from lifbatch import figures

if TYPE_CHECKING:
    #: HoverTool's ``formatters`` (a dict is invariant: its value type must be exactly Bokeh's)
    _Formatters = dict[str, Literal["numeral", "datetime", "printf"] | CustomJSHover]

__all__ = [
    "MAX_CURVES",
    "heat_cells",
    "heatmap_figure",
    "curves_figure",
    "ensemble_figure",
    "raster_figure",
    "isi_histogram_figure",
    "variance_figure",
    "autocov_figure",
    "state_figure",
    "input_figure",
    "traces_figure",
    "point_figures",
    "on_tap",
    "log_axis_ticks",
    "scatter_figure",
    "mark_sample",
    "projection_figure",
    "nearest_sample",
]

#: at most this many curves in the overview (evenly spaced values of the second axis)
MAX_CURVES = 8
_TOOLS = "pan,wheel_zoom,box_zoom,save,reset"
_CURVE_WIDTH = figures.WIDTH + 140  # room for a legend outside the frame


# --------------------------------------------------------------------------- Bokeh figures
# The figures of lifbatch.plotting, built with Bokeh: few glyphs, few models (each model
# costs time on the server, in the page's JSON and in the browser).
def _figure(
    title: str,
    x: figures.Axis | str,
    y: figures.Axis | str,
    *,
    width: int = figures.WIDTH,
    grid: bool = True,
    **kwargs: Any,
):
    fig = figure(
        title=title,
        width=width,
        height=figures.HEIGHT,
        tools=_TOOLS,
        toolbar_location="right",
        x_axis_label=x if isinstance(x, str) else x.text,
        y_axis_label=y if isinstance(y, str) else y.text,
        **kwargs,
    )
    # (Bokeh makes a Title of the title's str; its stubs type the attribute as what it accepts)
    assert isinstance(fig.title, Title)
    fig.title.text_font_size = figures.TITLE_SIZE
    if not grid:
        fig.grid.visible = False
    return fig


def _source(**columns: Any):
    return ColumnDataSource(data={k: v if isinstance(v, list) else np.asarray(v) for k, v in columns.items()})


def _legend(fig, items: list[tuple], *, above: bool = False) -> None:
    """A legend outside the frame, right (or in one row above it); clicking an entry hides it.

    ``items``: (label, renderers) or (label, renderers, index of the point its swatch shows).
    """
    entries = [
        LegendItem(
            label=item[0], renderers=item[1], **({"index": item[2]} if len(item) > 2 and item[2] is not None else {})
        )
        for item in items
        if item[1]
    ]
    if not entries:
        return
    if above:
        fig.add_layout(
            Legend(
                items=entries,
                click_policy="hide",
                orientation="horizontal",
                padding=2,  # type: ignore[arg-type]  # (Bokeh's stubs type it as its Property, not the value)
                margin=2,
                border_line_alpha=0,
            ),
            "above",
        )
    else:
        fig.add_layout(Legend(items=entries, click_policy="hide"), "right")


def _hover(fig, renderers: list, tooltips: list[tuple[str, str]]) -> None:
    if renderers:
        fig.add_tools(HoverTool(renderers=renderers, tooltips=tooltips))


@dataclass(frozen=True)
class _Cells:
    """Where the cells of one heatmap axis sit: one equal cell per grid value."""

    values: np.ndarray  # grid values in display units, in the Dataset's order
    centres: np.ndarray  # each value's cell centre on the axis (same order)
    categorical: bool  # cells at 0, 1, 2, ... labelled with the values (uneven axis)

    @property
    def labels(self) -> list[str]:
        """Labels of the values in increasing order (as the cells sit)."""
        return figures.grid_labels(np.sort(self.values))

    def index(self, position: float) -> int:
        """Index (Dataset order) of the cell at an axis position."""
        return int(np.argmin(np.abs(self.centres - position)))


def _label_ticks(axis, coord: xr.DataArray) -> None:
    """Ticks of a labelled sweep axis (:func:`lifbatch.figures.label_positions`) at its
    points, showing its labels."""
    labels = coord.attrs.get("labels")
    if labels is not None:
        ticks = [float(v) for v in np.asarray(coord.values)]
        axis.ticker = FixedTicker(ticks=ticks)
        axis.major_label_overrides = {t: str(labels[int(t)]) for t in ticks}


def heat_cells(values: np.ndarray) -> _Cells:
    """Cells of a heatmap axis with these grid values (display units).

    An evenly spaced axis keeps its numbers (cells centred on the values); an uneven
    one (sigma = 1, 4, 8 mV, or one with inf) gets one equal cell per value at
    0, 1, 2, ...: cells sized by the gaps would give the values very different areas.
    """
    v = np.asarray(values, dtype=float)
    if v.size < 2 or figures.is_regular(v):
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


def heatmap_figure(d: xr.Dataset, x: str, y: str, where: Mapping[str, float], full: xr.Dataset, var: str = "rate"):
    """``var`` (rate, or isi_cv) over two axes (``plotting.rate_heatmap`` / ``cv_heatmap``).

    One image glyph with one equal cell per grid value; an uneven axis is drawn with
    equal cells labelled with its values (:func:`heat_cells`), and the tooltip shows
    the grid values of the cell under the cursor, not the cursor's position.
    """
    title, default = {"rate": ("Firing rate", "Hz"), "isi_cv": ("ISI CV", None)}[var]
    xa, ya = figures.axis_of(x, d[x].attrs), figures.axis_of(y, d[y].attrs)
    za = figures.axis_of(
        var, d[var].attrs, default=default, label="ISI CV" if var == "isi_cv" else None
    )  # (fits the colour bar)
    z = np.asarray(d[var].transpose(y, x).values, dtype=float) * za.factor
    cx, cy = heat_cells(d[x].values * xa.factor), heat_cells(d[y].values * ya.factor)
    finite = z[np.isfinite(z)]
    mapper = LinearColorMapper(
        palette=Viridis256,
        nan_color="#dddddd",
        low=float(finite.min()) if finite.size else 0.0,
        high=float(finite.max()) if finite.size else 1.0,
    )
    ox, oy = np.argsort(cx.centres, kind="stable"), np.argsort(cy.centres, kind="stable")
    xe, ye = figures.cell_edges(cx.centres[ox]), figures.cell_edges(cy.centres[oy])
    fig = _figure(
        figures.figure_title(title, full, where),
        xa,
        ya,
        width=figures.WIDTH + 80,
        grid=False,
        x_range=Range1d(xe[0], xe[-1]),
        y_range=Range1d(ye[0], ye[-1]),
    )
    for cells, axis in ((cx, fig.xaxis[0]), (cy, fig.yaxis[0])):
        if cells.categorical:  # ticks on the cells, labelled with the grid values
            n = cells.values.size
            ticks = np.unique(np.round(np.linspace(0, n - 1, min(n, 10))).astype(int))
            axis.ticker = FixedTicker(ticks=[float(t) for t in ticks])
            axis.major_label_overrides = {float(t): cells.labels[t] for t in ticks}
    _label_ticks(fig.xaxis[0], d[x])
    _label_ticks(fig.yaxis[0], d[y])
    # rows run from the bottom; cells in increasing order of the values on both axes
    r = fig.add_glyph(
        _source(image=[z[oy][:, ox]]),
        Image(image="image", x=xe[0], y=ye[0], dw=xe[-1] - xe[0], dh=ye[-1] - ye[0], color_mapper=mapper),
    )
    snap: _Formatters = {
        name: CustomJSHover(
            args={"centres": [float(c) for c in np.sort(cells.centres)], "labels": cells.labels}, code=_SNAP_JS
        )
        for name, cells in (("$x", cx), ("$y", cy))
    }
    tips = [
        (xa.text, "$x{custom}"),
        (ya.text, "$y{custom}"),
        (za.text, "@image{0.[00]}" if var == "rate" else "@image{0.[000]}"),
    ]
    fig.add_tools(HoverTool(renderers=[r], tooltips=tips, formatters=snap))
    fig.add_layout(ColorBar(color_mapper=mapper, title=za.text), "right")
    return fig


def curves_figure(
    kind: str,
    d: xr.Dataset,
    x: str,
    by: str | None,
    where: Mapping[str, float],
    full: xr.Dataset,
    theory: xr.DataArray | None = None,
):
    """Rate with ±std band (``rate``), ISI mean ± std (``isi``) or ISI CV (``cv``) vs ``x``.

    One curve per value of ``by``; ``plotting.rate_curve``, ``isi_errorbar``, ``isi_cv``.
    """
    var, err, title, single, default = {
        "rate": ("rate", "rate_std", "Firing rate", "simulation", "Hz"),
        "isi": ("isi_mean", "isi_std", "ISI mean ± std", "ISI mean", None),
        "cv": ("isi_cv", None, "ISI CV", "ISI CV", None),
    }[kind]
    xa = figures.axis_of(x, d[x].attrs)
    ya = figures.axis_of(var, d[var].attrs, default=default)
    xs = d[x].values * xa.factor
    fig = _figure(figures.figure_title(title, full, where), xa, ya, width=_CURVE_WIDTH)
    _label_ticks(fig.xaxis[0], d[x])
    items, lines = [], []
    for i, (label, g) in enumerate(figures.curve_groups(d, by)):
        color = figures.PALETTE[i % len(figures.PALETTE)]
        y = np.asarray(g[var].values, dtype=float) * ya.factor
        cols: dict[str, Any] = {"x": xs, "y": y, "label": [label or single] * xs.size}
        band = err is not None and np.isfinite(y).any()
        if band:
            e = np.nan_to_num(np.asarray(g[err].values, dtype=float) * ya.factor)
            cols.update(lower=y - e, upper=y + e)
        src = _source(**cols)
        rs = []
        if band and kind == "rate":
            rs.append(fig.add_glyph(src, VArea(x="x", y1="lower", y2="upper", fill_color=color, fill_alpha=0.2)))
        elif band:
            rs.append(
                fig.add_glyph(src, Segment(x0="x", y0="lower", x1="x", y1="upper", line_color=color, line_width=1))
            )
        rs.append(fig.add_glyph(src, Line(x="x", y="y", line_color=color, line_width=2)))
        lines.append(rs[-1])
        items.append((label or single, rs))
    if theory is not None:
        th = [
            fig.add_glyph(_source(x=tx * xa.factor, y=ty), Line(x="x", y="y", **_THEORY_LINE))
            for tx, ty in figures.theory_lines(theory, d, x, by, where)
            if np.isfinite(ty).any()
        ]
        items.append((figures.theory_label(theory), th))
    _legend(fig, items)
    tips = [(by, "@label")] if by else []
    _hover(fig, lines, tips + [(xa.text, "@x{0.[000]}"), (ya.text, "@y{0.[000]}")])
    return fig


#: closed-form overlays (``figures.THEORY_STYLE``)
_THEORY_LINE: dict[str, Any] = {"line_color": "black", "line_dash": "dashed", "line_width": 1.5}


def _note(fig, text: str | None, x_range: tuple[float, float] | None = None) -> None:
    """Write why a panel is empty in the middle of its frame (``figures.point_note``).

    ``x_range`` (display units) fixes a data range for figures whose ranges would
    otherwise come from glyphs with no data.
    """
    if not text:
        return
    if x_range is not None:
        fig.x_range = Range1d(start=x_range[0], end=x_range[1])
    if not isinstance(fig.y_range, Range1d):
        fig.y_range = Range1d(start=0, end=1)
    x0, x1 = _ends(fig.x_range)
    y0, y1 = _ends(fig.y_range)
    fig.add_layout(
        Label(
            x=(x0 + x1) / 2,
            y=(y0 + y1) / 2,
            text=text,
            text_align="center",
            text_baseline="middle",
            text_color="#555555",
            text_font_size="11pt",
            name="lb-note",
        )
    )


def _ends(r: Range1d) -> tuple[float, float]:
    """A range's start and end: numbers, on these figures' axes (a Range1d may hold times)."""
    start, end = r.start, r.end
    assert not isinstance(start, (datetime, timedelta)) and not isinstance(end, (datetime, timedelta))
    return start, end


def ensemble_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """V traces, mean ± std over trials, the spike rule's line (threshold, ``v_spike``,
    ``v_peak``) and OU theory (``plotting.v_ensemble``)."""
    e = figures.ensemble_data(full, d)
    fig = _figure(figures.figure_title("Membrane potential", full, where), e.t, e.v, width=_CURVE_WIDTH)
    items = []
    if e.traces is not None:
        src = _source(xs=[e.trace_time] * len(e.traces), ys=list(e.traces))
        items.append(
            (
                "recorded trials",
                [fig.add_glyph(src, MultiLine(xs="xs", ys="ys", line_color="#888888", line_alpha=0.5, line_width=1))],
            )
        )
    std = np.nan_to_num(e.std)
    src = _source(x=e.time, y=e.mean, lower=e.mean - std, upper=e.mean + std)
    if np.isfinite(e.mean).any():  # (a pending point has no moments yet)
        items.append(
            (
                "mean ± std",
                [
                    fig.add_glyph(
                        src, VArea(x="x", y1="lower", y2="upper", fill_color=figures.PALETTE[0], fill_alpha=0.3)
                    )
                ],
            )
        )
    mean = fig.add_glyph(src, Line(x="x", y="y", line_color=figures.PALETTE[0], line_width=2))
    items.append(("mean", [mean]))
    if e.theory_mean is not None:
        items.append(
            (figures.OU_LABEL, [fig.add_glyph(_source(x=e.time, y=e.theory_mean), Line(x="x", y="y", **_THEORY_LINE))])
        )
        band = _source(xs=[e.time, e.time], ys=[e.theory_mean - e.theory_std, e.theory_mean + e.theory_std])
        items.append(
            (
                f"{figures.OU_LABEL} ± std",
                [
                    fig.add_glyph(
                        band, MultiLine(xs="xs", ys="ys", line_color="black", line_dash="dotted", line_width=1)
                    )
                ],
            )
        )
    if e.spike is not None:
        t = e.time if e.trace_time is None else np.concatenate([e.time, e.trace_time])
        t0, t1 = (float(np.nanmin(t)), float(np.nanmax(t))) if t.size else (0.0, 1.0)
        items.append(
            (
                e.spike_label,
                [
                    fig.add_glyph(
                        _source(x=[t0, t1], y=[e.spike, e.spike]),
                        Line(x="x", y="y", line_color=figures.PALETTE[3], line_dash="dashed", line_width=1),
                    )
                ],
            )
        )
    _legend(fig, items)
    _hover(fig, [mean], [(e.t.text, "@x{0.[000]}"), (e.v.text, "@y{0.[000]}")])
    if e.time.size:
        _note(fig, figures.point_note(d, "mean"), (float(e.time[0]), float(e.time[-1])))
    return fig


def raster_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """One tick per spike, trials on the y axis (``plotting.raster``)."""
    times, trials = figures.spike_raster_times(full, d)
    ta = figures.axis_of("time", {"units": "s"}, default="ms")
    t = times * ta.factor
    fig = _figure(
        figures.figure_title(f"Spike raster, {times.size} spikes", full, where),
        ta,
        "trial",
        grid=False,
        x_range=Range1d(start=0, end=figures.raster_xmax(full, times) * ta.factor),
        y_range=Range1d(start=-0.6, end=d.sizes.get("trial", 1) - 0.4),
    )
    fig.add_glyph(
        _source(x0=t, y0=trials - 0.4, x1=t, y1=trials + 0.4),
        Segment(x0="x0", y0="y0", x1="x1", y1="y1", line_color="black", line_width=1),
    )
    _note(fig, figures.point_note(d, "spikes"))
    return fig


def isi_histogram_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """Pooled ISI histogram of one point (``plotting.isi_histogram``)."""
    ax, edges, counts = figures.isi_hist_data(d)
    n = int(np.nansum(counts))
    fig = _figure(
        figures.figure_title(f"ISI histogram, {n} ISIs", full, where),
        ax,
        "ISI count",
        x_range=Range1d(edges[0], edges[-1]),
    )
    bars = np.nan_to_num(counts) > 0  # (no outline along the axis for empty bins)
    r = fig.add_glyph(
        _source(left=edges[:-1][bars], right=edges[1:][bars], top=counts[bars]),
        Quad(
            left="left",
            right="right",
            bottom=0,
            top="top",
            fill_color=figures.PALETTE[0],
            line_color="black",
            line_width=0.5,
        ),
    )
    _hover(fig, [r], [(ax.text, "@left{0.[00]} .. @right{0.[00]}"), ("count", "@top")])
    _note(fig, figures.point_note(d, "isi"))
    return fig


def _moment_figure(
    full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float], var: str, coord: str, title: str, color: str
):
    """Variance vs time or autocovariance vs lag, with the OU theory (``plotting.v_variance``, ``v_autocov``)."""
    ca = figures.axis_of(coord, d[coord].attrs, default="ms")
    va = figures.axis_of(var, figures.square_attrs(full, var))
    xs = d[coord].values * ca.factor
    values = np.asarray(d[var].values, dtype=float) * va.factor
    th = figures.theory_ou(d)
    fig = _figure(
        figures.figure_title(title, full, where), ca, va, width=_CURVE_WIDTH if th is not None else figures.WIDTH
    )
    r = fig.add_glyph(_source(x=xs, y=values), Line(x="x", y="y", line_color=color, line_width=2))
    if th is not None:
        t = fig.add_glyph(_source(x=xs, y=th[var].values * va.factor), Line(x="x", y="y", **_THEORY_LINE))
        _legend(fig, [("simulation", [r]), (figures.OU_LABEL, [t])])
    _hover(fig, [r], [(ca.text, "@x{0.[000]}"), (va.text, "@y{0.[000]}")])
    note = figures.point_note(d, "moments")
    if note is None and not np.isfinite(values).any():
        note = "no values at this point"
    if xs.size:
        _note(fig, note, (float(xs[0]), float(xs[-1])))
    return fig


def variance_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """Variance of V over trials vs time (``plotting.v_variance``)."""
    return _moment_figure(full, d, where, "v_var", "time", "V variance", figures.PALETTE[1])


def autocov_figure(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float]):
    """Ensemble autocovariance of V vs lag (``plotting.v_autocov``)."""
    return _moment_figure(full, d, where, "v_autocov", "lag", "V autocovariance", figures.PALETTE[2])


def _trace_panel_figure(panel: figures.TracePanel, full: xr.Dataset, where: Mapping[str, float]):
    """One panel of recorded traces: a MultiLine per variable (its colour, one line per
    recorded trial), a legend of the variables."""
    fig = _figure(figures.figure_title(panel.title, full, where), panel.t, panel.y, width=_CURVE_WIDTH)
    items, renderers = [], []
    trials = [int(k) for k in panel.trials]
    for i, (label, traces) in enumerate(panel.lines):
        src = _source(xs=[panel.time] * len(traces), ys=list(traces), trial=trials[: len(traces)])
        r = fig.add_glyph(
            src,
            MultiLine(
                xs="xs",
                ys="ys",
                line_color=figures.PALETTE[i % len(figures.PALETTE)],
                line_width=1.5,
                line_alpha=1.0 if len(traces) == 1 else 0.6,
            ),
        )
        items.append((label, [r]))
        renderers.append(r)
    _legend(fig, items)
    _hover(fig, renderers, [("trial", "@trial"), (panel.t.text, "$x{0.[000]}"), (panel.y.text, "$y{0.[000]}")])
    if panel.time.size:
        _note(fig, panel.note, (float(panel.time[0]), float(panel.time[-1])))
    return fig


def _trace_figures(full: xr.Dataset, d: xr.Dataset, where: Mapping[str, float], kind: str):
    panels = figures.trace_panels(full, d, kind)
    if not panels:
        return None
    figs = [_trace_panel_figure(p, full, where) for p in panels]
    if len(figs) == 1:
        return figs[0]
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
    c = figures.trace_curves(full, d, x, var)
    fig = _figure(figures.figure_title(figures.trace_title(var, c.trial), full, where), c.t, c.y, width=_CURVE_WIDTH)
    items, lines = [], []
    for i, (label, values) in enumerate(c.curves):
        src = _source(x=c.time, y=values, label=[label] * c.time.size)
        r = fig.add_glyph(src, Line(x="x", y="y", line_color=figures.PALETTE[i % len(figures.PALETTE)], line_width=1.5))
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
    skip = {
        name
        for name, has in (("state", figures.recorded_state(ds)), ("inputs", figures.recorded_inputs(ds)))
        if not has
    }
    return {name: build for name, build in POINT_FIGURES.items() if name not in skip}


def on_tap(fig, callback: Callable[[float | None, float | None], None]) -> None:
    """Call ``callback(x, y)`` (display units) when the plot is tapped."""
    fig.on_event(Tap, lambda event: callback(event.x, event.y))


# --------------------------------------------------------------------------- sampled designs
#: the scatter over two parameters: room for its colour bar and legend beside the frame
_SCATTER_WIDTH = figures.WIDTH + 320
#: the selected sample's ring on the scatter figures
_SELECTED = {"marker": "circle", "size": 20, "fill_alpha": 0.0, "line_color": figures.PALETTE[3], "line_width": 2.5}
#: hover formats of values in display units (4 significant digits)
_G4 = "{%.4g}"


def log_axis_ticks(fig, x: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
    """Every decade labelled on log axes (:func:`figures.log_ticks` over the values ``x``
    and ``y`` drawn, in display units), as plain numbers; without values, Bokeh's ticker
    at 1, 2 and 5 per decade (its default labels every mantissa of a decade, which overlap)."""
    for axes, values in ((fig.below, x), (fig.left, y)):
        for axis in axes:
            if not isinstance(axis, LogAxis):
                continue
            finite = np.asarray(values, float)[np.isfinite(values)] if values is not None else np.empty(0)
            ticks = figures.log_ticks(float(finite.min()), float(finite.max())) if finite.size else []
            if ticks:
                # (Bokeh's stubs type a LogAxis's ticker and formatter as their defaults' classes; any will do)
                axis.ticker = FixedTicker(ticks=ticks)  # type: ignore[assignment]
                axis.formatter = PrintfTickFormatter(format="%g")  # type: ignore[assignment]
            else:
                axis.ticker = LogTicker(mantissas=[1, 2, 5])


def _axis_span(full: xr.Dataset, name: str, shown: np.ndarray) -> np.ndarray:
    """What a log axis of ``name`` spans, in display units: the values ``shown`` and, for a
    sampled parameter, its bounds (the axis does not shrink to a slice's points)."""
    bounds = full[name].attrs.get("bounds") if name in full else None
    if not bounds:
        return np.asarray(shown, float)
    factor, _ = figures.display_scale(full[name].attrs)
    return np.concatenate([np.asarray(shown, float), np.asarray(bounds, float) * factor])


def _sample_glyphs(fig, data: figures.SampleData, mapper=None) -> tuple[list, list]:
    """One Scatter glyph per layer of ``data`` (:func:`figures.sample_layers`): the design's
    points, each round's added points (their marker, a black outline), pending (hollow grey)
    and failed (red crosses); done points filled by ``mapper`` of the colour, or blue.

    Returns the legend items and the renderers to hover.
    """
    items, renderers = [], []
    for layer in data.layers:
        i = layer.index
        cols: dict[str, Any] = {
            "x": data.xs[i],
            "y": data.ys[i],
            "sample": data.sample[i],
            "round": data.rounds[i],
            "label": [layer.label] * i.size,
        }
        style = dict(layer.style)
        if data.zs is not None:
            cols["z"] = data.zs[i]
        if layer.state == "done":
            style["fill_color"] = {"field": "z", "transform": mapper} if mapper is not None else figures.PALETTE[0]
        r = fig.add_glyph(_source(**cols), Scatter(x="x", y="y", **style), name=f"lb-{layer.state}")
        # (the legend draws its swatch from one point: one with a colour, not a grey NaN)
        finite = np.flatnonzero(np.isfinite(cols["z"])) if "z" in cols else np.empty(0, int)
        items.append((layer.label, [r], int(finite[0]) if finite.size else None))
        renderers.append(r)
    return items, renderers


def _sample_hover(fig, renderers: list, data: figures.SampleData) -> None:
    if not renderers:
        return
    tips = [("sample", "@sample (@label)"), (data.x.text, "@x" + _G4), (data.y.text, "@y" + _G4)]
    formatters: _Formatters = {"@x": "printf", "@y": "printf"}
    if data.z is not None:
        tips.append((data.z.text, "@z" + _G4))
        formatters["@z"] = "printf"
    fig.add_tools(HoverTool(renderers=renderers, tooltips=tips, formatters=formatters))


def _selected_glyph(fig):
    """An empty ring glyph that marks the drill-down sample (:meth:`SampledReviewApp._mark`)."""
    return fig.add_glyph(_source(x=np.empty(0), y=np.empty(0)), Scatter(x="x", y="y", **_SELECTED), name="lb-selected")


def scatter_figure(
    d: xr.Dataset, x: str, y: str, var: str, where: Mapping[str, float], full: xr.Dataset, *, selected: str = "selected"
):
    """``var`` as colour over two sampled parameters (``plotting.sample_scatter``).

    Returns the figure and its :class:`figures.SampleData` (what a tap picks from); the
    figure's ``lb-selected`` glyph (legend ``selected``) rings the drill-down sample
    (:func:`mark_sample`).
    """
    data = figures.sample_data(d, x, y, var)
    assert data.z is not None  # (sample_data gives the colour's axis when given one, var)
    mapper = LinearColorMapper(palette=Viridis256, nan_color=figures.NAN_COLOR, low=data.clim[0], high=data.clim[1])
    fig = _figure(
        figures.figure_title(figures.SUMMARY_TITLES.get(var, var), full, where),
        data.x,
        data.y,
        width=_SCATTER_WIDTH,
        x_axis_type="log" if figures.log_scale(full, x) else "linear",
        y_axis_type="log" if figures.log_scale(full, y) else "linear",
    )
    log_axis_ticks(fig, _axis_span(full, x, data.xs), _axis_span(full, y, data.ys))
    items, renderers = _sample_glyphs(fig, data, mapper)
    mark = _selected_glyph(fig)
    fig.add_layout(ColorBar(color_mapper=mapper, title=data.z.text), "right")
    _legend(fig, items + [(selected, [mark])])
    _sample_hover(fig, renderers, data)
    return fig, data


def mark_sample(fig, data: figures.SampleData, sample: float | None) -> None:
    """Ring ``sample`` (its number) on a scatter or projection figure (no ring for None, or
    where the sample has no value to place it at)."""
    glyph = fig.select_one({"name": "lb-selected"})
    if glyph is None:
        return
    i = np.flatnonzero((data.sample == sample) & np.isfinite(data.xs) & np.isfinite(data.ys))
    glyph.data_source.data = {"x": data.xs[i], "y": data.ys[i]}


def projection_figure(
    d: xr.Dataset,
    param: str,
    var: str,
    where: Mapping[str, float],
    full: xr.Dataset,
    theory: xr.DataArray | None = None,
    *,
    legend: bool = True,
    selected: str = "selected",
):
    """``var`` against one sampled parameter (``plotting.sample_projection``), with the
    closed-form value at each sample (black dashes) where it applies.

    ``legend=False`` (beside a scatter whose legend explains the markers) names only the
    theory, in one line above the frame.

    Returns the figure and its :class:`figures.SampleData`.
    """
    data = figures.sample_data(d, param, var, None)
    title = f"{figures.SUMMARY_TITLES.get(var, var)} vs {param}"
    fig = _figure(
        figures.figure_title(title, full, where),
        data.x,
        data.y,
        width=_SCATTER_WIDTH - 100 if legend else figures.WIDTH,
        x_axis_type="log" if figures.log_scale(full, param) else "linear",
    )
    log_axis_ticks(fig, _axis_span(full, param, data.xs))
    items, renderers = _sample_glyphs(fig, data)
    th = figures.theory_at_samples(theory, d, where)
    if th is not None:
        r = fig.add_glyph(
            _source(x=data.xs, y=th), Scatter(x="x", y="y", marker="dash", size=14, line_color="black", line_width=2)
        )
        assert theory is not None  # (theory_at_samples gives None without a theory)
        items.append((figures.theory_label(theory), [r]))
    mark = _selected_glyph(fig)
    if legend:
        _legend(fig, items + [(selected, [mark])])
    elif th is not None:
        _legend(fig, items[-1:], above=True)
    _sample_hover(fig, renderers, data)
    return fig, data


def nearest_sample(
    data: figures.SampleData,
    x: float | None,
    y: float | None,
    *,
    xlog: bool = False,
    ylog: bool = False,
    aspect: float = figures.WIDTH / figures.HEIGHT,
) -> int | None:
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
