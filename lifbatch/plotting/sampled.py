"""Figures of sampled designs (HoloViews): a summary as colour over two sampled parameters,
against each parameter, and their overview (see :mod:`lifbatch.plotting`).
"""

from __future__ import annotations

from os import PathLike

import xarray as xr

from ..figures import (
    HEIGHT,
    NAN_COLOR,
    PALETTE,
    SUMMARY_TITLES,
    TITLE_SIZE,
    WIDTH,
    SampleData,
    SampleLayer,
    check_sampled_param,
    check_summary,
    figure_title,
    grid_axes,
    log_scale,
    open_dataset,
    sample_data,
    sampled_params,
    select_samples,
    theory_at_samples,
    theory_label,
    theory_values,
)
from ..layout import ROUND, SAMPLE
from .base import dimension, hv_backend, over_free_axes

__all__ = ["sample_scatter", "sample_projection", "sample_projections", "sample_overview"]


def _hv_points(hv, data: SampleData, layer: SampleLayer, *, colour: bool, colorbar: bool, fill: str = PALETTE[0]):
    """One layer of a sampled figure as ``hv.Points`` (kdims x, y; vdims colour, sample, round)."""
    i = layer.index
    cols = [data.xs[i], data.ys[i]]
    vdims = []
    if data.z is not None and data.zs is not None:  # (set together)
        cols.append(data.zs[i])
        vdims.append(dimension(data.z))
    cols += [data.sample[i], data.rounds[i]]
    vdims += [hv.Dimension(SAMPLE), hv.Dimension(ROUND, label="round")]
    pts = hv.Points(tuple(cols), [dimension(data.x), dimension(data.y)], vdims, label=layer.label)
    style = dict(layer.style)
    line = style.pop("line_color", None)
    if line is None:  # (the design's points: no outline)
        style["line_alpha"] = 0.0
    else:
        style["line_color"] = line
    if layer.state == "done" and colour and data.z is not None:  # (colour: a scatter, z set)
        style.update(
            color=data.z.name, cmap="viridis", clim=data.clim, colorbar=colorbar, clipping_colors={"NaN": NAN_COLOR}
        )
    elif layer.state == "done":
        style["fill_color"] = fill
    return pts.opts(tools=["hover", "tap"], **style)


def sample_scatter(
    ds: xr.Dataset | str | PathLike, x: str | None = None, y: str | None = None, *, var: str = "rate", **sel: float
):
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
    hv = hv_backend()
    full = open_dataset(ds)
    d0, fixed = select_samples(full, sel, "sample_scatter")
    params = sampled_params(full)
    if len(params) < 2 and (x is None or y is None):
        raise ValueError(
            f"sample_scatter needs two sampled parameters; this design samples only "
            f"{params}: use sample_projection(ds, {params[0]!r})"
        )
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
            title=figure_title(SUMMARY_TITLES.get(var, var), full, where),
            width=WIDTH + 220,
            height=HEIGHT,
            show_grid=True,
            legend_position="right",
            logx=log_scale(full, x),
            logy=log_scale(full, y),
            fontsize={"title": TITLE_SIZE},
        )

    return over_free_axes(d0, fixed, [SAMPLE], build, "sample_scatter")


def sample_projection(
    ds: xr.Dataset | str | PathLike, param: str, *, var: str = "rate", theory: bool | xr.DataArray = True, **sel: float
):
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
    hv = hv_backend()
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
        if th is not None and theory_da is not None:  # (th: from theory_da)
            layers.append(
                hv.Points((data.xs, th), [dimension(data.x), dimension(data.y)], label=theory_label(theory_da)).opts(
                    marker="dash", size=14, color="black", line_width=2
                )
            )
        return hv.Overlay(layers).opts(
            title=figure_title(f"{SUMMARY_TITLES.get(var, var)} vs {param}", full, where),
            width=WIDTH + 120,
            height=HEIGHT - 40,
            show_grid=True,
            legend_position="right",
            logx=log_scale(full, param),
            fontsize={"title": TITLE_SIZE},
        )

    return over_free_axes(d0, fixed, [SAMPLE], build, "sample_projection")


def sample_projections(
    ds: xr.Dataset | str | PathLike, *, var: str = "rate", theory: bool | xr.DataArray = True, **sel: float
):
    """:func:`sample_projection` of ``var`` against every sampled parameter.

    Returns
    -------
    holoviews.Layout
    """
    hv = hv_backend()
    full = open_dataset(ds)
    select_samples(full, sel, "sample_projections")
    return hv.Layout([sample_projection(full, p, var=var, theory=theory, **sel) for p in sampled_params(full)]).cols(2)


def sample_overview(ds: xr.Dataset | str | PathLike, **sel: float):
    """Rate and ISI-CV scatters over the first two sampled parameters and the rate's
    projections on every parameter; grid axes not selected take their first value.

    Returns
    -------
    holoviews.Layout
    """
    hv = hv_backend()
    full = open_dataset(ds)
    sel = {**{a: float(full[a].values[0]) for a in grid_axes(full) if full.sizes[a] > 1}, **sel}
    params = sampled_params(full)
    figs = []
    if len(params) >= 2:
        figs += [
            sample_scatter(full, var=v, **sel)  # type: ignore[arg-type]  # (**sel: axes, never x= nor y=)
            for v in ("rate", "isi_cv")
            if v in full
        ]
    figs += [
        sample_projection(full, p, var="rate", **sel)  # type: ignore[arg-type]  # (**sel: axes, never theory=)
        for p in params
    ]
    return hv.Layout(figs).cols(2)
