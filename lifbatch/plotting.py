"""HoloViews figures of sweep results, labelled in the user's units.

Every function takes a results Dataset (``lifbatch.open_results(store)`` or
``lifbatch.simulate(workflow)``) or a store path, and returns a HoloViews object
(rendered by the bokeh backend; in a notebook run ``hv.extension("bokeh")`` or
``import hvplot.xarray`` first). Coordinates and values are stored in SI; the
figures convert them to ``attrs["display_units"]`` (what the workflow was written
in: ms, mV, pA, ...). Where a variable has no ``display_units`` the defaults are
mV for volts, ms for seconds and SI otherwise.

Closed-form theory (:mod:`lifbatch.theory`) is drawn as black dashed lines wherever it
applies: the Siegert rate and ISI CV for constant and white-noise input ("theory
(Siegert)"), and for a neuron without threshold the Ornstein-Uhlenbeck mean, variance and
autocovariance of V ("theory (OU)"). Where it does not apply there is no overlay, and a
neuron model without theory (every model but the LIF) gets none.

The figures follow the store's neuron model: the line on V is its spike rule's parameter
(``v_th``, ``v_spike``, ``v_peak``), and ``state_traces`` / ``input_traces`` draw the state
variables and inputs it records (``record.state``, ``record.inputs``).

Selection keyword arguments (``tau_m=0.02, I=2.5e-10``) are SI coordinate values,
matched with ``method="nearest"``. Summary figures (``rate_curve``, ``isi_cv``, ...)
take the axes they plot as arguments; any other sweep axis with more than one value
that is not selected becomes a HoloMap dimension (a slider in a notebook). Figures of
one point (``raster``, ``v_ensemble``, ...) need every axis with more than one value
selected.

A sampled design (a workflow's ``sample`` section: the store's ``sample`` dimension, with
the sampled parameters as coordinates along it) is drawn as scatter plots:
``sample_scatter`` (a summary as colour over two sampled parameters) and
``sample_projection`` (a summary against one parameter), points added by refinement
marked with their round; its points' own figures take ``sample=NUMBER`` with the grid
axes (``raster(ds, sample=5, tref=2e-3)``).

Examples
--------
>>> import lifbatch.plotting as lp                                # doctest: +SKIP
>>> lp.rate_curve("results/pypet.zarr", "I", by="t_ref")          # doctest: +SKIP
>>> lp.raster(ds, t_ref=5e-3, I=0.5e3)                            # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from os import PathLike
from typing import Any

import numpy as np
import xarray as xr

from .figures import (
    Axis,
    PALETTE,
    WIDTH,
    HEIGHT,
    free_axes,
    free_points,
    TITLE_SIZE,
    open_dataset,
    sweep_axes,
    display_scale,
    axis_of,
    square_attrs,
    select,
    figure_title,
    model_name,
    neuron_model,
    curve_groups,
    THEORY_STYLE,
    OU_LABEL,
    theory_values,
    theory_ou,
    theory_label,
    theory_lines,
    grid_labels,
    is_regular,
    cell_edges,
    select_point,
    point_note,
    isi_hist_data,
    ensemble_data,
    spike_raster_times,
    raster_xmax,
    is_trace,
    recorded_state,
    trace_vars,
    TracePanel,
    trace_panels,
    trace_curves,
    trace_title,
    SUMMARY_TITLES,
    NAN_COLOR,
    is_sampled,
    grid_axes,
    log_scale,
    SampleLayer,
    select_samples,
    check_sampled_param,
    check_summary,
    SampleData,
    sample_data,
    theory_at_samples,
    thin_axis,
)
from .layout import ROUND, SAMPLE, sampled_params

__all__ = [
    "rate_curve",
    "rate_heatmap",
    "cv_heatmap",
    "isi_histogram",
    "isi_errorbar",
    "isi_cv",
    "v_ensemble",
    "v_variance",
    "v_autocov",
    "raster",
    "state_traces",
    "input_traces",
    "traces",
    "overview",
    "sample_scatter",
    "sample_projection",
    "sample_projections",
    "sample_overview",
    "sampled_params",
    "is_sampled",
    "open_dataset",
    "sweep_axes",
    "display_scale",
]


# --------------------------------------------------------------------------- imports
def _hv():
    """Import HoloViews with the bokeh backend loaded, or explain how to install it."""
    try:
        import holoviews as hv
        import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh backend)
    except ImportError as err:  # (the `review` extra)
        from .errors import missing_extra

        raise missing_extra("lifbatch.plotting", "review", "HoloViews, hvplot and Bokeh") from err
    if hv.Store.current_backend != "bokeh":
        hv.Store.set_current_backend("bokeh")
    return hv


def _dimension(ax: Axis):
    """The ``holoviews.Dimension`` of a figure axis."""
    return _hv().Dimension(ax.name, label=ax.label, unit=ax.unit)


def _dim(name: str, attrs: Mapping[str, Any], *, label: str | None = None,
         default: str | None = None) -> tuple[float, Any]:
    """(SI-to-display factor, hv.Dimension) of a coordinate or variable."""
    ax = axis_of(name, attrs, label=label, default=default)
    return ax.factor, _dimension(ax)


def _over_free_axes(ds: xr.Dataset, fixed: dict[str, float], plotted: list[str],
                    build: Callable[[xr.Dataset, dict[str, float]], Any], func: str):
    """Call ``build`` on ``ds``, or build a HoloMap over the sweep axes left unselected
    (:func:`lifbatch.figures.free_axes`)."""
    hv = _hv()
    free = free_axes(ds, plotted, func)
    if not free:
        return build(ds, fixed)
    kdims, factors = [], []
    for a in free:
        factor, dim = _dim(a, ds[a].attrs)
        kdims.append(dim)
        factors.append(factor)
    frames = {}
    for point in free_points(ds, free):
        key = tuple(point[a] * f for a, f in zip(free, factors))
        frames[key] = build(ds.sel(point), {**fixed, **point})
    return hv.HoloMap(frames, kdims=kdims)


def _finish(overlay, title: str):
    """Common size, grid, title font and an outside legend (curves often fill the frame)."""
    return overlay.opts(title=title, width=WIDTH + 140, height=HEIGHT, show_grid=True,
                        legend_position="right", fontsize={"title": TITLE_SIZE})


# --------------------------------------------------------------------------- summary figures
def rate_curve(ds: xr.Dataset | str | PathLike, x: str, *, by: str | None = None,
               theory: bool | xr.DataArray = True, **sel: float):
    """Firing rate vs one sweep axis, with a ±1 std band over trials.

    Parameters
    ----------
    ds : Dataset or store path
        Results (``rate``, ``rate_std``).
    x : str
        Sweep axis on the horizontal axis.
    by : str, optional
        Second sweep axis: one curve per value (the pypet figure).
    theory : bool or DataArray
        Draw the closed-form rate (``lifbatch.theory.theory_rate``) as black dashed
        lines where it applies; or a DataArray of the theoretical rate (Hz) over the
        sweep axes to draw instead; False for none.
    **sel : float
        SI values of other sweep axes (nearest match).

    Returns
    -------
    holoviews.Overlay (or HoloMap over unselected axes)
    """
    hv = _hv()
    full = open_dataset(ds)
    ds, fixed = select(full, sel)
    theory_da = theory_values(full, theory)
    plotted = [x] + ([by] if by else [])

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[["rate", "rate_std"]].compute()
        xfac, xdim = _dim(x, d[x].attrs)
        yfac, ydim = _dim("rate", d["rate"].attrs, default="Hz")
        xs = d[x].values * xfac
        layers = []
        for i, (label, g) in enumerate(curve_groups(d, by)):
            color = PALETTE[i % len(PALETTE)]
            rate = g["rate"].values * yfac
            std = g["rate_std"].values * yfac
            if np.isfinite(std).any() and np.isfinite(rate).any():
                band = hv.Spread((xs, rate, np.nan_to_num(std)), [xdim], [ydim, "rate_std"],
                                 label=label)
                layers.append(band.opts(color=color, alpha=0.2, line_alpha=0))
            curve = hv.Curve((xs, rate), [xdim], [ydim], label=label or "simulation")
            layers.append(curve.opts(color=color, line_width=2, tools=["hover", "tap"]))
        if theory_da is not None:
            layers.extend(_theory_layers(theory_da, d, x, by, where, xfac, xdim, ydim))
        return _finish(hv.Overlay(layers), figure_title("Firing rate", full, where))

    return _over_free_axes(ds, fixed, plotted, build, "rate_curve")


def _theory_layers(theory: xr.DataArray, d: xr.Dataset, x: str, by: str | None,
                   where: Mapping[str, float], xfac: float, xdim, ydim) -> list:
    hv = _hv()
    label = theory_label(theory)
    return [hv.Curve((xs * xfac, values), [xdim], [ydim], label=label).opts(**THEORY_STYLE)
            for xs, values in theory_lines(theory, d, x, by, where) if np.isfinite(values).any()]


# --------------------------------------------------------------------------- heatmaps
def rate_heatmap(ds: xr.Dataset | str | PathLike, x: str, y: str, **sel: float):
    """Firing rate as a heatmap over two sweep axes (irregular grids allowed).

    Parameters
    ----------
    ds : Dataset or store path
    x, y : str
        Sweep axes on the horizontal and vertical axis.
    **sel : float
        SI values of other sweep axes (nearest match).

    Returns
    -------
    holoviews.Image (evenly spaced axes), or HeatMap (one equal cell per grid value,
    categorical axes labelled with the values); or a HoloMap over unselected axes
    """
    return _heatmap(ds, "rate", x, y, sel, title="Firing rate", default="Hz", func="rate_heatmap")


def cv_heatmap(ds: xr.Dataset | str | PathLike, x: str, y: str, **sel: float):
    """ISI coefficient of variation as a heatmap over two sweep axes (see :func:`rate_heatmap`).

    Points with fewer than two ISIs have no CV (grey).
    """
    return _heatmap(ds, "isi_cv", x, y, sel, title="ISI CV", default=None, func="cv_heatmap")


def _heatmap(ds, var: str, x: str, y: str, sel: Mapping[str, float], *, title: str,
             default: str | None, func: str):
    hv = _hv()
    full = open_dataset(ds)
    ds, fixed = select(full, sel)

    def build(d: xr.Dataset, where: dict[str, float]):
        z = np.asarray(d[var].transpose(y, x).values, dtype=float)
        xfac, xdim = _dim(x, d[x].attrs)
        yfac, ydim = _dim(y, d[y].attrs)
        zfac, zdim = _dim(var, d[var].attrs, default=default)
        xs, ys = d[x].values * xfac, d[y].values * yfac
        if is_regular(xs) and is_regular(ys):
            # one image glyph instead of n_x*n_y quads: much lighter for 10^4-point grids
            xe, ye = cell_edges(np.sort(xs)), cell_edges(np.sort(ys))
            order_x, order_y = np.argsort(xs), np.argsort(ys)
            img = z[order_y][:, order_x][::-1] * zfac  # Image rows run from the top
            mesh = hv.Image(img, bounds=(xe.min(), ye.min(), xe.max(), ye.max()),
                            kdims=[xdim, ydim], vdims=[zdim])
        else:
            # Cells sized by the gaps between uneven values (sigma = 1, 4, 8 mV) would give
            # the values very different areas (a numeric HeatMap does that too): one equal
            # cell per grid value instead, on categorical axes of the values' labels
            # (which the tooltip shows), in increasing order (categories keep the order
            # of their first appearance)
            order_x, order_y = np.argsort(xs), np.argsort(ys)
            gx, gy = np.meshgrid(grid_labels(xs[order_x]), grid_labels(ys[order_y]))
            cells = z[order_y][:, order_x].ravel() * zfac
            mesh = hv.HeatMap((gx.ravel(), gy.ravel(), cells), [xdim, ydim], [zdim])
        return mesh.opts(title=figure_title(title, full, where), width=WIDTH + 80,
                         height=HEIGHT, fontsize={"title": TITLE_SIZE}, colorbar=True,
                         cmap="viridis",
                         tools=["hover", "tap"], clipping_colors={"NaN": "#dddddd"})

    return _over_free_axes(ds, fixed, [x, y], build, func)


# --------------------------------------------------------------------------- ISI summaries
def isi_errorbar(ds: xr.Dataset | str | PathLike, x: str, *, by: str | None = None,
                 **sel: float):
    """ISI mean ± std vs a sweep axis (the Brian2 errorbar figure).

    Parameters
    ----------
    ds : Dataset or store path
    x : str
        Sweep axis on the horizontal axis.
    by : str, optional
        One curve per value of this axis.
    **sel : float
        SI values of other sweep axes.

    Returns
    -------
    holoviews.Overlay (or HoloMap)
    """
    hv = _hv()
    full = open_dataset(ds)
    ds, fixed = select(full, sel)

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[["isi_mean", "isi_std"]].compute()
        xfac, xdim = _dim(x, d[x].attrs)
        yfac, ydim = _dim("isi_mean", d["isi_mean"].attrs)
        xs = d[x].values * xfac
        layers = []
        for i, (label, g) in enumerate(curve_groups(d, by)):
            color = PALETTE[i % len(PALETTE)]
            mean = g["isi_mean"].values * yfac
            std = g["isi_std"].values * yfac
            if np.isfinite(mean).any():  # (all-NaN error bars make HoloViews warn)
                layers.append(hv.ErrorBars((xs, mean, np.nan_to_num(std)), [xdim],
                                           [ydim, "isi_std"], label=label).opts(color=color))
            layers.append(hv.Curve((xs, mean), [xdim], [ydim], label=label or "ISI mean")
                          .opts(color=color, tools=["hover"]))
        return _finish(hv.Overlay(layers), figure_title("ISI mean ± std", full, where))

    return _over_free_axes(ds, fixed, [x] + ([by] if by else []), build, "isi_errorbar")


def isi_cv(ds: xr.Dataset | str | PathLike, x: str, *, by: str | None = None,
           theory: bool | xr.DataArray = True, **sel: float):
    """Coefficient of variation of the ISIs vs a sweep axis.

    Parameters
    ----------
    ds : Dataset or store path
    x : str
        Sweep axis on the horizontal axis.
    by : str, optional
        One curve per value of this axis.
    theory : bool or DataArray
        Draw the Siegert CV (``lifbatch.theory.theory_cv``, constant and white-noise
        input) as black dashed lines where it applies; or a DataArray of the CV over
        the sweep axes to draw instead; False for none.
    **sel : float
        SI values of other sweep axes.

    Returns
    -------
    holoviews.Overlay (or HoloMap)
    """
    hv = _hv()
    full = open_dataset(ds)
    ds, fixed = select(full, sel)
    # (over the points drawn only: the CV integral costs ~1 ms a point)
    theory_da = theory_values(ds, theory, "cv")

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[["isi_cv"]].compute()
        xfac, xdim = _dim(x, d[x].attrs)
        _, ydim = _dim("isi_cv", d["isi_cv"].attrs)
        xs = d[x].values * xfac
        layers = []
        for i, (label, g) in enumerate(curve_groups(d, by)):
            color = PALETTE[i % len(PALETTE)]
            cv = g["isi_cv"].values
            layers.append(hv.Curve((xs, cv), [xdim], [ydim], label=label or "ISI CV")
                          .opts(color=color, tools=["hover"]))
        if theory_da is not None:
            layers.extend(_theory_layers(theory_da, d, x, by, where, xfac, xdim, ydim))
        return _finish(hv.Overlay(layers), figure_title("ISI CV", full, where))

    return _over_free_axes(ds, fixed, [x] + ([by] if by else []), build, "isi_cv")


def _note(text: str, x: float, y: float):
    """A text in the middle of an empty figure (at data coordinates x, y)."""
    return _hv().Text(x, y, text).opts(color="#555555", text_font_size="11pt")


def isi_histogram(ds: xr.Dataset | str | PathLike, **sel: float):
    """Histogram of the pooled ISIs of one point.

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Overlay
        A ``Histogram``, and a ``Text`` saying why when there is no ISI.
    """
    hv = _hv()
    full, d, fixed = select_point(ds, sel, "isi_histogram")
    ax, edges, counts = isi_hist_data(d)
    xdim = _dimension(ax)
    hist = hv.Histogram((edges, counts), kdims=[xdim],
                        vdims=[hv.Dimension("count", label="ISI count")])
    n = int(np.nansum(counts))
    layers = [hist.opts(color=PALETTE[0], tools=["hover"])]
    note = point_note(d, "isi")
    opts = {}
    if note:
        layers.append(_note(note, (edges[0] + edges[-1]) / 2, 0.5))
        opts["ylim"] = (0, 1)
    return hv.Overlay(layers).opts(title=figure_title(f"ISI histogram, {n} ISIs", full, fixed), width=WIDTH,
                                   height=HEIGHT, show_grid=True, fontsize={"title": TITLE_SIZE},
                                   show_legend=False, **opts)


def v_ensemble(ds: xr.Dataset | str | PathLike, **sel: float):
    """Membrane potential mean ± std over trials vs time, recorded traces behind it.

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Overlay
        ``Path`` (recorded traces, grey), ``Spread`` (mean ± std), ``Curve`` (mean),
        an ``HLine`` at the parameter of the model's spike rule at this point (swept or
        not): ``v_th`` ("threshold") of the LIF when finite, ``v_spike`` of hh_traub,
        ``v_peak`` of adex, eif and izhikevich (labelled with its name); without threshold
        the Ornstein-Uhlenbeck mean (``Curve``, "theory (OU)") and mean ± std (``Path``,
        "theory (OU) ± std"), dashed, where :func:`lifbatch.theory.theory_ou` applies.
    """
    hv = _hv()
    full, d, fixed = select_point(ds, sel, "v_ensemble")
    e = ensemble_data(full, d)
    tdim = _dimension(e.t)
    vdim = _dimension(e.v)
    layers = []
    if e.traces is not None:
        paths = [np.column_stack([e.trace_time, tr]) for tr in e.traces]
        layers.append(hv.Path(paths, [tdim, vdim], label="recorded trials")
                      .opts(color="#888888", alpha=0.5, line_width=1))
    if np.isfinite(e.mean).any():  # (a pending point has no moments yet)
        layers.append(hv.Spread((e.time, e.mean, np.nan_to_num(e.std)), [tdim],
                                [vdim, "v_std"], label="mean ± std")
                      .opts(color=PALETTE[0], alpha=0.3, line_alpha=0))
    layers.append(hv.Curve((e.time, e.mean), [tdim], [vdim], label="mean")
                  .opts(color=PALETTE[0], line_width=2, tools=["hover"]))
    if e.theory_mean is not None:
        layers.append(hv.Curve((e.time, e.theory_mean), [tdim], [vdim], label=OU_LABEL)
                      .opts(**THEORY_STYLE))
        band = [np.column_stack([e.time, e.theory_mean + sign * e.theory_std]) for sign in (-1, 1)]
        layers.append(hv.Path(band, [tdim, vdim], label=f"{OU_LABEL} ± std")
                      .opts(color="black", line_dash="dotted", line_width=1))
    if e.spike is not None:
        layers.append(hv.HLine(e.spike, label=e.spike_label)
                      .opts(color=PALETTE[3], line_dash="dashed", line_width=1))
    note = point_note(d, "mean")
    if note:
        layers.append(_note(note, float(np.mean(e.time[[0, -1]])), e.spike or 0.0))
    return _finish(hv.Overlay(layers), figure_title("Membrane potential", full, fixed))


def _moment_figure(ds, sel, func: str, var: str, coord: str, title: str, color: str):
    """Variance vs time or autocovariance vs lag of one point, with the OU theory."""
    hv = _hv()
    full, d, fixed = select_point(ds, sel, func)
    xfac, xdim = _dim(coord, d[coord].attrs, default="ms")
    vfac, vdim = _dim(var, square_attrs(full, var))
    xs = d[coord].values * xfac
    values = np.asarray(d[var].values, dtype=float) * vfac
    layers = [hv.Curve((xs, values), [xdim], [vdim], label="simulation")
              .opts(color=color, line_width=2, tools=["hover"])]
    th = theory_ou(d)
    if th is not None:
        layers.append(hv.Curve((xs, th[var].values * vfac), [xdim], [vdim], label=OU_LABEL)
                      .opts(**THEORY_STYLE))
    opts = {}
    note = point_note(d, "moments")
    if note is None and not np.isfinite(values).any():
        note = "no values at this point"
    if note:
        layers.append(_note(note, float(np.mean(xs[[0, -1]])) if xs.size else 0.0, 0.0))
        opts["ylim"] = (-1, 1)
    return _finish(hv.Overlay(layers), figure_title(title, full, fixed)).opts(**opts)


def v_variance(ds: xr.Dataset | str | PathLike, **sel: float):
    """Variance of the membrane potential over trials vs time.

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Overlay
        The simulated variance (``Curve``, "simulation"), and the Ornstein-Uhlenbeck
        variance ("theory (OU)", dashed) where it applies (no threshold, constant and
        white-noise input); a ``Text`` saying why when there is nothing to draw.
    """
    return _moment_figure(ds, sel, "v_variance", "v_var", "time", "V variance", PALETTE[1])


def v_autocov(ds: xr.Dataset | str | PathLike, **sel: float):
    """Ensemble autocovariance of the membrane potential vs lag.

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Overlay
        As :func:`v_variance`: simulation, and "theory (OU)" where it applies.
    """
    return _moment_figure(ds, sel, "v_autocov", "v_autocov", "lag", "V autocovariance", PALETTE[2])


def raster(ds: xr.Dataset | str | PathLike, **sel: float):
    """Spike raster of all trials of one point.

    Returns
    -------
    holoviews.Overlay
        ``Segments``, one vertical tick per spike: x = spike time, y = trial index;
        a ``Text`` saying why when there is no spike.
    """
    hv = _hv()
    full, d, fixed = select_point(ds, sel, "raster")
    times, trials = spike_raster_times(full, d)
    tfac, tdim = _dim("time", {"units": "s"}, default="ms")
    seg = hv.Segments((times * tfac, trials - 0.4, times * tfac, trials + 0.4),
                      [tdim, hv.Dimension("trial"), "x1", "y1"])
    n_trials = d.sizes.get("trial", 1)
    xmax = raster_xmax(full, times) * tfac
    layers = [seg.opts(color="black", line_width=1)]
    note = point_note(d, "spikes")
    if note:
        layers.append(_note(note, xmax / 2, (n_trials - 1) / 2))
    return hv.Overlay(layers).opts(
        title=figure_title(f"Spike raster, {times.size} spikes", full, fixed), width=WIDTH,
        height=HEIGHT, xlim=(0, xmax), ylim=(-0.6, n_trials - 0.4), show_legend=False,
        fontsize={"title": TITLE_SIZE})


def _trace_overlay(hv, panel: TracePanel, where: Mapping[str, float], full: xr.Dataset):
    tdim, ydim = _dimension(panel.t), _dimension(panel.y)
    layers = []
    for i, (label, traces) in enumerate(panel.lines):
        paths = [np.column_stack([panel.time, tr]) for tr in traces]
        layers.append(hv.Path(paths, [tdim, ydim], label=label)
                      .opts(color=PALETTE[i % len(PALETTE)], line_width=1.5,
                            alpha=1.0 if len(traces) == 1 else 0.6))
    opts = {}
    if panel.note:
        layers.append(_note(panel.note, float(np.mean(panel.time[[0, -1]])) if panel.time.size else 0.0, 0.5))
        opts["ylim"] = (0, 1)
    return _finish(hv.Overlay(layers), figure_title(panel.title, full, where)).opts(**opts)


def _trace_layout(ds, sel, kind: str, func: str):
    hv = _hv()
    full, d, fixed = select_point(ds, sel, func)
    panels = trace_panels(full, d, kind)
    if not panels:
        model = neuron_model(full)
        if kind == "state":
            names = [s.name for s in model.state if s.name != "v"] if model is not None else []
            fix = (f"record.state: [{', '.join(names)}] in the workflow" if names
                   else f"model {model_name(full)} has no state variable besides v")
            raise ValueError(f"{func}: this store records no state variable ({fix})")
        raise ValueError(f"{func}: this store records no input (record.inputs: [NAME] in the workflow, "
                         "a drive with one value per step)")
    return hv.Layout([_trace_overlay(hv, p, fixed, full) for p in panels]).cols(2)


def state_traces(ds: xr.Dataset | str | PathLike, **sel: float):
    """The recorded state variables of one point vs time (``record.state``): hh_traub's
    gates m, n, h (dimensionless, one panel), adex's w, izhikevich's u (currents).

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Layout
        One ``Overlay`` per unit: a ``Path`` per variable (its colour, one line per
        recorded trial, labelled with its name), and a ``Text`` saying why when there is
        nothing to draw. A store that records no state variable raises ValueError.
    """
    return _trace_layout(ds, sel, "state", "state_traces")


def input_traces(ds: xr.Dataset | str | PathLike, **sel: float):
    """The recorded inputs of one point vs time (``record.inputs``; the Brian2 tutorial's
    I(t), in the unit the workflow wrote the drive in: nA).

    Returns
    -------
    holoviews.Layout
        One ``Overlay`` per unit, as :func:`state_traces`. A store that records no input
        raises ValueError.
    """
    return _trace_layout(ds, sel, "inputs", "input_traces")


def traces(ds: xr.Dataset | str | PathLike, x: str, *, var: str = "v", trial: int | None = None,
           **sel: float):
    """A recorded variable of one trial vs time at the points along one sweep axis: one
    curve per value of ``x`` (at most 8, evenly spaced); the Brian2 tutorial's v (and I)
    of its three cells (``traces(ds, "C")``, ``traces(ds, "C", var="input_I")``).

    Parameters
    ----------
    ds : Dataset or store path
        Results with recorded traces (``record.v``, ``record.state``, ``record.inputs``).
    x : str
        Sweep axis: one curve per value.
    var : str
        ``v``, a recorded state variable (``m``, ``w``) or input (``input_I``).
    trial : int, optional
        The recorded trial drawn (default: the first recorded).
    **sel : float
        SI values of other sweep axes; any left becomes a HoloMap dimension.

    Returns
    -------
    holoviews.Overlay (or HoloMap over unselected axes)
    """
    hv = _hv()
    full = open_dataset(ds)
    if var not in full.data_vars or not is_trace(full, var):
        raise ValueError(f"traces: {var!r} is not a recorded trace of this store; recorded: "
                         f"{trace_vars(full) + recorded_state(full)}")
    ds, fixed = select(full, sel)

    def build(d: xr.Dataset, where: dict[str, float]):
        c = trace_curves(full, thin_axis(d, x, 8), x, var, trial)
        tdim, ydim = _dimension(c.t), _dimension(c.y)
        layers = [hv.Curve((c.time, values), [tdim], [ydim], label=label)
                  .opts(color=PALETTE[i % len(PALETTE)], line_width=1.5, tools=["hover"])
                  for i, (label, values) in enumerate(c.curves)]
        return _finish(hv.Overlay(layers), figure_title(trace_title(var, c.trial), full, where))

    return _over_free_axes(ds, fixed, [x], build, "traces")


def _hv_points(hv, data: SampleData, layer: SampleLayer, *, colour: bool, colorbar: bool,
               fill: str = PALETTE[0]):
    """One layer of a sampled figure as ``hv.Points`` (kdims x, y; vdims colour, sample, round)."""
    i = layer.index
    cols = [data.xs[i], data.ys[i]]
    vdims = []
    if data.z is not None:
        cols.append(data.zs[i])
        vdims.append(_dimension(data.z))
    cols += [data.sample[i], data.rounds[i]]
    vdims += [hv.Dimension(SAMPLE), hv.Dimension(ROUND, label="round")]
    pts = hv.Points(tuple(cols), [_dimension(data.x), _dimension(data.y)], vdims, label=layer.label)
    style = dict(layer.style)
    line = style.pop("line_color", None)
    if line is None:  # (the design's points: no outline)
        style["line_alpha"] = 0.0
    else:
        style["line_color"] = line
    if layer.state == "done" and colour:
        style.update(color=data.z.name, cmap="viridis", clim=data.clim, colorbar=colorbar,
                     clipping_colors={"NaN": NAN_COLOR})
    elif layer.state == "done":
        style["fill_color"] = fill
    return pts.opts(tools=["hover", "tap"], **style)


def sample_scatter(ds: xr.Dataset | str | PathLike, x: str | None = None, y: str | None = None, *,
                   var: str = "rate", **sel: float):
    """A summary as colour over two sampled parameters: one point per sample.

    Parameters
    ----------
    ds : Dataset or store path
        Results of a sampled design (a ``sample`` section).
    x, y : str, optional
        Sampled parameters on the horizontal and vertical axis (default: the first two);
        an axis is logarithmic where the parameter was sampled with ``scale: log``.
    var : str
        The summary shown as colour: ``rate``, ``isi_cv``, ``isi_mean``, ``isi_std`` or
        ``rate_std`` (display units; NaN grey).
    **sel : float
        SI values of grid axes (nearest match); any grid axis left becomes a HoloMap
        dimension.

    Returns
    -------
    holoviews.Overlay (or HoloMap over unselected grid axes)
        One ``Points`` per round and status: the design's points (circles, "design"),
        each refinement round's ("added in round k": its own marker, black outline),
        pending points (hollow, grey: "pending") and failed ones (red crosses).
    """
    hv = _hv()
    full = open_dataset(ds)
    d0, fixed = select_samples(full, sel, "sample_scatter")
    params = sampled_params(full)
    if len(params) < 2 and (x is None or y is None):
        raise ValueError(f"sample_scatter needs two sampled parameters; this design samples only "
                         f"{params}: use sample_projection(ds, {params[0]!r})")
    x = x or params[0]
    y = y or next(p for p in params if p != x)
    for name in (x, y):
        check_sampled_param(full, name, "sample_scatter")
    if x == y:
        raise ValueError(f"sample_scatter: x and y are both {x!r}; choose two of {params}")
    check_summary(full, var, "sample_scatter")

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[[v for v in (var, "status") if v in d]].compute()
        data = sample_data(d, x, y, var)
        layers, bar = [], True
        for layer in data.layers:
            layers.append(_hv_points(hv, data, layer, colour=True, colorbar=bar and layer.state == "done"))
            bar = bar and layer.state != "done"
        return hv.Overlay(layers).opts(
            title=figure_title(SUMMARY_TITLES.get(var, var), full, where), width=WIDTH + 220,
            height=HEIGHT, show_grid=True, legend_position="right", logx=log_scale(full, x),
            logy=log_scale(full, y), fontsize={"title": TITLE_SIZE})

    return _over_free_axes(d0, fixed, [SAMPLE], build, "sample_scatter")


def sample_projection(ds: xr.Dataset | str | PathLike, param: str, *, var: str = "rate",
                      theory: bool | xr.DataArray = True, **sel: float):
    """A summary against one sampled parameter: one point per sample (the other parameters
    vary along with it).

    Parameters
    ----------
    ds : Dataset or store path
    param : str
        The sampled parameter on the horizontal axis (logarithmic for ``scale: log``).
    var : str
        The summary on the vertical axis (as :func:`sample_scatter`).
    theory : bool or DataArray
        For ``rate`` and ``isi_cv``: the closed-form value at each sample (Siegert), black
        dashes, where it applies; or a DataArray over the sweep axes to draw instead; False
        for none.
    **sel : float
        SI values of grid axes.

    Returns
    -------
    holoviews.Overlay (or HoloMap)
        One ``Points`` per round and status, marked as in :func:`sample_scatter` (points
        with no value yet, pending or failed, have no place on the vertical axis), and the
        theory's ``Points``.
    """
    hv = _hv()
    full = open_dataset(ds)
    d0, fixed = select_samples(full, sel, "sample_projection")
    check_sampled_param(full, param, "sample_projection")
    check_summary(full, var, "sample_projection")
    kind = {"rate": "rate", "isi_cv": "cv"}.get(var)
    # (the CV over the slice only: its integral costs ~1 ms a point)
    theory_da = theory_values(full if kind == "rate" else d0, theory, kind) if kind else None

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[[v for v in (var, "status") if v in d]].compute()
        data = sample_data(d, param, var, None)
        layers = [_hv_points(hv, data, layer, colour=False, colorbar=False) for layer in data.layers]
        th = theory_at_samples(theory_da, d, where)
        if th is not None:
            layers.append(hv.Points((data.xs, th), [_dimension(data.x), _dimension(data.y)],
                                    label=theory_label(theory_da))
                          .opts(marker="dash", size=14, color="black", line_width=2))
        return hv.Overlay(layers).opts(
            title=figure_title(f"{SUMMARY_TITLES.get(var, var)} vs {param}", full, where),
            width=WIDTH + 120, height=HEIGHT - 40, show_grid=True, legend_position="right",
            logx=log_scale(full, param), fontsize={"title": TITLE_SIZE})

    return _over_free_axes(d0, fixed, [SAMPLE], build, "sample_projection")


def sample_projections(ds: xr.Dataset | str | PathLike, *, var: str = "rate",
                       theory: bool | xr.DataArray = True, **sel: float):
    """:func:`sample_projection` of ``var`` against every sampled parameter.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    full = open_dataset(ds)
    select_samples(full, sel, "sample_projections")
    return hv.Layout([sample_projection(full, p, var=var, theory=theory, **sel)
                      for p in sampled_params(full)]).cols(2)


def sample_overview(ds: xr.Dataset | str | PathLike, **sel: float):
    """Rate and ISI-CV scatters over the first two sampled parameters and the rate's
    projections on every parameter; grid axes not selected take their first value.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    full = open_dataset(ds)
    sel = {**{a: float(full[a].values[0]) for a in grid_axes(full) if full.sizes[a] > 1}, **sel}
    params = sampled_params(full)
    figs = []
    if len(params) >= 2:
        figs += [sample_scatter(full, var=v, **sel) for v in ("rate", "isi_cv") if v in full]
    figs += [sample_projection(full, p, var="rate", **sel) for p in params]
    return hv.Layout(figs).cols(2)


def point_figures(ds: xr.Dataset | str | PathLike, **sel: float) -> list:
    """The figures of one point: V ensemble, raster, ISI histogram, V variance, autocovariance."""
    return [v_ensemble(ds, **sel), raster(ds, **sel), isi_histogram(ds, **sel),
            v_variance(ds, **sel), v_autocov(ds, **sel)]


def overview(ds: xr.Dataset | str | PathLike):
    """A Layout of the main figures for a sweep of any number of axes.

    - no sweep axis (or all of length 1): V ensemble, raster, ISI histogram, V variance
      and autocovariance (:func:`point_figures`);
    - one axis: rate (with theory), ISI mean ± std and CV (with theory) vs the axis;
    - two or more: the last two axes; heatmaps of the rate and of the ISI CV, and curves
      vs the last axis with one curve per (at most 6) value of the other; further axes at
      their first value;
    - a sampled design (a ``sample`` section): :func:`sample_overview`.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    full = open_dataset(ds)
    if is_sampled(full):
        return sample_overview(full)
    axes = [a for a in sweep_axes(full) if full.sizes[a] > 1]
    if not axes:
        point = {a: float(full[a].values.ravel()[0]) for a in sweep_axes(full)}
        return hv.Layout(point_figures(full, **point)).cols(2)
    if len(axes) == 1:
        x = axes[0]
        return hv.Layout([rate_curve(full, x), isi_errorbar(full, x), isi_cv(full, x)]).cols(2)
    x, y = axes[-1], axes[-2]
    rest = {a: float(full[a].values[0]) for a in axes[:-2]}
    return summary_layout(full, x, y, **rest)


def summary_layout(ds: xr.Dataset | str | PathLike, x: str, y: str, **sel: float):
    """Rate and ISI-CV heatmaps over ``x`` and ``y``, and rate, ISI and CV curves vs ``x``
    with one curve per (at most 6) value of ``y``; HoloMaps over unselected axes.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    full = open_dataset(ds)
    thin = thin_axis(full, y)
    figs = [rate_heatmap(full, x, y, **sel), cv_heatmap(full, x, y, **sel),
            rate_curve(thin, x, by=y, **sel), isi_errorbar(thin, x, by=y, **sel),
            isi_cv(thin, x, by=y, **sel)]
    return hv.Layout(figs).cols(2)
