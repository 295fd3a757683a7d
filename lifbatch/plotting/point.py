"""Figures of one point (HoloViews): V ensemble, raster, ISI histogram, V variance and
autocovariance, recorded state and inputs, traces across an axis (see :mod:`lifbatch.plotting`).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import numpy as np
import xarray as xr

from ..figures import (
    HEIGHT,
    OU_LABEL,
    PALETTE,
    THEORY_STYLE,
    TITLE_SIZE,
    WIDTH,
    TracePanel,
    ensemble_data,
    figure_title,
    is_trace,
    isi_hist_data,
    model_name,
    neuron_model,
    open_dataset,
    point_note,
    raster_xmax,
    recorded_state,
    select,
    select_point,
    spike_raster_times,
    square_attrs,
    theory_ou,
    thin_axis,
    trace_curves,
    trace_panels,
    trace_title,
    trace_vars,
)
from .base import dimension, empty_note, finish, hv_backend, over_free_axes, scaled_dimension

__all__ = [
    "isi_histogram",
    "v_ensemble",
    "v_variance",
    "v_autocov",
    "raster",
    "state_traces",
    "input_traces",
    "traces",
    "point_figures",
]


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
    hv = hv_backend()
    full, d, fixed = select_point(ds, sel, "isi_histogram")
    ax, edges, counts = isi_hist_data(d)
    xdim = dimension(ax)
    hist = hv.Histogram((edges, counts), kdims=[xdim], vdims=[hv.Dimension("count", label="ISI count")])
    n = int(np.nansum(counts))
    layers = [hist.opts(color=PALETTE[0], tools=["hover"])]
    note = point_note(d, "isi")
    opts = {}
    if note:
        layers.append(empty_note(note, (edges[0] + edges[-1]) / 2, 0.5))
        opts["ylim"] = (0, 1)
    return hv.Overlay(layers).opts(
        title=figure_title(f"ISI histogram, {n} ISIs", full, fixed),
        width=WIDTH,
        height=HEIGHT,
        show_grid=True,
        fontsize={"title": TITLE_SIZE},
        show_legend=False,
        **opts,
    )


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
    hv = hv_backend()
    full, d, fixed = select_point(ds, sel, "v_ensemble")
    e = ensemble_data(full, d)
    tdim = dimension(e.t)
    vdim = dimension(e.v)
    layers = []
    if e.traces is not None and e.trace_time is not None:  # (set together)
        paths = [np.column_stack([e.trace_time, tr]) for tr in e.traces]
        layers.append(
            hv.Path(paths, [tdim, vdim], label="recorded trials").opts(color="#888888", alpha=0.5, line_width=1)
        )
    if np.isfinite(e.mean).any():  # (a pending point has no moments yet)
        layers.append(
            hv.Spread((e.time, e.mean, np.nan_to_num(e.std)), [tdim], [vdim, "v_std"], label="mean ± std").opts(
                color=PALETTE[0], alpha=0.3, line_alpha=0
            )
        )
    layers.append(
        hv.Curve((e.time, e.mean), [tdim], [vdim], label="mean").opts(color=PALETTE[0], line_width=2, tools=["hover"])
    )
    if e.theory_mean is not None and e.theory_std is not None:  # (set together)
        layers.append(hv.Curve((e.time, e.theory_mean), [tdim], [vdim], label=OU_LABEL).opts(**THEORY_STYLE))
        band = [np.column_stack([e.time, e.theory_mean + sign * e.theory_std]) for sign in (-1, 1)]
        layers.append(
            hv.Path(band, [tdim, vdim], label=f"{OU_LABEL} ± std").opts(color="black", line_dash="dotted", line_width=1)
        )
    if e.spike is not None:
        layers.append(hv.HLine(e.spike, label=e.spike_label).opts(color=PALETTE[3], line_dash="dashed", line_width=1))
    note = point_note(d, "mean")
    if note:
        layers.append(empty_note(note, float(np.mean(e.time[[0, -1]])), e.spike or 0.0))
    return finish(hv.Overlay(layers), figure_title("Membrane potential", full, fixed))


def _moment_figure(ds, sel, func: str, var: str, coord: str, title: str, color: str):
    """Variance vs time or autocovariance vs lag of one point, with the OU theory."""
    hv = hv_backend()
    full, d, fixed = select_point(ds, sel, func)
    xfac, xdim = scaled_dimension(coord, d[coord].attrs, default="ms")
    vfac, vdim = scaled_dimension(var, square_attrs(full, var))
    xs = d[coord].values * xfac
    values = np.asarray(d[var].values, dtype=float) * vfac
    layers = [
        hv.Curve((xs, values), [xdim], [vdim], label="simulation").opts(color=color, line_width=2, tools=["hover"])
    ]
    th = theory_ou(d)
    if th is not None:
        layers.append(hv.Curve((xs, th[var].values * vfac), [xdim], [vdim], label=OU_LABEL).opts(**THEORY_STYLE))
    opts = {}
    note = point_note(d, "moments")
    if note is None and not np.isfinite(values).any():
        note = "no values at this point"
    if note:
        layers.append(empty_note(note, float(np.mean(xs[[0, -1]])) if xs.size else 0.0, 0.0))
        opts["ylim"] = (-1, 1)
    return finish(hv.Overlay(layers), figure_title(title, full, fixed)).opts(**opts)


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
    hv = hv_backend()
    full, d, fixed = select_point(ds, sel, "raster")
    times, trials = spike_raster_times(full, d)
    tfac, tdim = scaled_dimension("time", {"units": "s"}, default="ms")
    seg = hv.Segments(
        (times * tfac, trials - 0.4, times * tfac, trials + 0.4), [tdim, hv.Dimension("trial"), "x1", "y1"]
    )
    n_trials = d.sizes.get("trial", 1)
    xmax = raster_xmax(full, times) * tfac
    layers = [seg.opts(color="black", line_width=1)]
    note = point_note(d, "spikes")
    if note:
        layers.append(empty_note(note, xmax / 2, (n_trials - 1) / 2))
    return hv.Overlay(layers).opts(
        title=figure_title(f"Spike raster, {times.size} spikes", full, fixed),
        width=WIDTH,
        height=HEIGHT,
        xlim=(0, xmax),
        ylim=(-0.6, n_trials - 0.4),
        show_legend=False,
        fontsize={"title": TITLE_SIZE},
    )


def _trace_overlay(hv, panel: TracePanel, where: Mapping[str, float], full: xr.Dataset):
    tdim, ydim = dimension(panel.t), dimension(panel.y)
    layers = []
    for i, (label, traces) in enumerate(panel.lines):
        paths = [np.column_stack([panel.time, tr]) for tr in traces]
        layers.append(
            hv.Path(paths, [tdim, ydim], label=label).opts(
                color=PALETTE[i % len(PALETTE)], line_width=1.5, alpha=1.0 if len(traces) == 1 else 0.6
            )
        )
    opts = {}
    if panel.note:
        layers.append(empty_note(panel.note, float(np.mean(panel.time[[0, -1]])) if panel.time.size else 0.0, 0.5))
        opts["ylim"] = (0, 1)
    return finish(hv.Overlay(layers), figure_title(panel.title, full, where)).opts(**opts)


def _trace_layout(ds, sel, kind: str, func: str):
    hv = hv_backend()
    full, d, fixed = select_point(ds, sel, func)
    panels = trace_panels(full, d, kind)
    if not panels:
        model = neuron_model(full)
        if kind == "state":
            names = [s.name for s in model.state if s.name != "v"] if model is not None else []
            fix = (
                f"record.state: [{', '.join(names)}] in the workflow"
                if names
                else f"model {model_name(full)} has no state variable besides v"
            )
            raise ValueError(f"{func}: this store records no state variable ({fix})")
        raise ValueError(
            f"{func}: this store records no input (record.inputs: [NAME] in the workflow, "
            "a drive with one value per step)"
        )
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


def traces(ds: xr.Dataset | str | PathLike, x: str, *, var: str = "v", trial: int | None = None, **sel: float):
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
    hv = hv_backend()
    full = open_dataset(ds)
    if var not in full.data_vars or not is_trace(full, var):
        raise ValueError(
            f"traces: {var!r} is not a recorded trace of this store; recorded: "
            f"{trace_vars(full) + recorded_state(full)}"
        )
    ds, fixed = select(full, sel)

    def build(d: xr.Dataset, where: dict[str, float]):
        c = trace_curves(full, thin_axis(d, x, 8), x, var, trial)
        tdim, ydim = dimension(c.t), dimension(c.y)
        layers = [
            hv.Curve((c.time, values), [tdim], [ydim], label=label).opts(
                color=PALETTE[i % len(PALETTE)], line_width=1.5, tools=["hover"]
            )
            for i, (label, values) in enumerate(c.curves)
        ]
        return finish(hv.Overlay(layers), figure_title(trace_title(var, c.trial), full, where))

    return over_free_axes(ds, fixed, [x], build, "traces")


def point_figures(ds: xr.Dataset | str | PathLike, **sel: float) -> list:
    """The figures of one point: V ensemble, raster, ISI histogram, V variance, autocovariance."""
    return [
        v_ensemble(ds, **sel),
        raster(ds, **sel),
        isi_histogram(ds, **sel),
        v_variance(ds, **sel),
        v_autocov(ds, **sel),
    ]
