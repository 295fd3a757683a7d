"""Summary figures over sweep axes (HoloViews): rate and ISI curves, rate and CV heatmaps, with
the closed-form theory where it applies (see :mod:`lifbatch.plotting`).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import numpy as np
import xarray as xr

from ..figures import (
    HEIGHT,
    PALETTE,
    THEORY_STYLE,
    TITLE_SIZE,
    WIDTH,
    cell_edges,
    curve_groups,
    figure_title,
    grid_labels,
    is_regular,
    open_dataset,
    select,
    theory_label,
    theory_lines,
    theory_values,
    thin_axis,
)
from .base import finish, hv_backend, over_free_axes, scaled_dimension

__all__ = ["rate_curve", "rate_heatmap", "cv_heatmap", "isi_errorbar", "isi_cv", "summary_layout"]


# --------------------------------------------------------------------------- summary figures
def rate_curve(
    ds: xr.Dataset | str | PathLike, x: str, *, by: str | None = None, theory: bool | xr.DataArray = True, **sel: float
):
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
    hv = hv_backend()
    full = open_dataset(ds)
    ds, fixed = select(full, sel)
    theory_da = theory_values(full, theory)
    plotted = [x] + ([by] if by else [])

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[["rate", "rate_std"]].compute()
        xfac, xdim = scaled_dimension(x, d[x].attrs)
        yfac, ydim = scaled_dimension("rate", d["rate"].attrs, default="Hz")
        xs = d[x].values * xfac
        layers = []
        for i, (label, g) in enumerate(curve_groups(d, by)):
            color = PALETTE[i % len(PALETTE)]
            rate = g["rate"].values * yfac
            std = g["rate_std"].values * yfac
            if np.isfinite(std).any() and np.isfinite(rate).any():
                band = hv.Spread((xs, rate, np.nan_to_num(std)), [xdim], [ydim, "rate_std"], label=label)
                layers.append(band.opts(color=color, alpha=0.2, line_alpha=0))
            curve = hv.Curve((xs, rate), [xdim], [ydim], label=label or "simulation")
            layers.append(curve.opts(color=color, line_width=2, tools=["hover", "tap"]))
        if theory_da is not None:
            layers.extend(_theory_layers(theory_da, d, x, by, where, xfac, xdim, ydim))
        return finish(hv.Overlay(layers), figure_title("Firing rate", full, where))

    return over_free_axes(ds, fixed, plotted, build, "rate_curve")


def _theory_layers(
    theory: xr.DataArray, d: xr.Dataset, x: str, by: str | None, where: Mapping[str, float], xfac: float, xdim, ydim
) -> list:
    hv = hv_backend()
    label = theory_label(theory)
    return [
        hv.Curve((xs * xfac, values), [xdim], [ydim], label=label).opts(**THEORY_STYLE)
        for xs, values in theory_lines(theory, d, x, by, where)
        if np.isfinite(values).any()
    ]


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


def _heatmap(ds, var: str, x: str, y: str, sel: Mapping[str, float], *, title: str, default: str | None, func: str):
    hv = hv_backend()
    full = open_dataset(ds)
    ds, fixed = select(full, sel)

    def build(d: xr.Dataset, where: dict[str, float]):
        z = np.asarray(d[var].transpose(y, x).values, dtype=float)
        xfac, xdim = scaled_dimension(x, d[x].attrs)
        yfac, ydim = scaled_dimension(y, d[y].attrs)
        zfac, zdim = scaled_dimension(var, d[var].attrs, default=default)
        xs, ys = d[x].values * xfac, d[y].values * yfac
        if is_regular(xs) and is_regular(ys):
            # one image glyph instead of n_x*n_y quads: much lighter for 10^4-point grids
            xe, ye = cell_edges(np.sort(xs)), cell_edges(np.sort(ys))
            order_x, order_y = np.argsort(xs), np.argsort(ys)
            img = z[order_y][:, order_x][::-1] * zfac  # Image rows run from the top
            mesh = hv.Image(img, bounds=(xe.min(), ye.min(), xe.max(), ye.max()), kdims=[xdim, ydim], vdims=[zdim])
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
        return mesh.opts(
            title=figure_title(title, full, where),
            width=WIDTH + 80,
            height=HEIGHT,
            fontsize={"title": TITLE_SIZE},
            colorbar=True,
            cmap="viridis",
            tools=["hover", "tap"],
            clipping_colors={"NaN": "#dddddd"},
        )

    return over_free_axes(ds, fixed, [x, y], build, func)


# --------------------------------------------------------------------------- ISI summaries
def isi_errorbar(ds: xr.Dataset | str | PathLike, x: str, *, by: str | None = None, **sel: float):
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
    hv = hv_backend()
    full = open_dataset(ds)
    ds, fixed = select(full, sel)

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[["isi_mean", "isi_std"]].compute()
        xfac, xdim = scaled_dimension(x, d[x].attrs)
        yfac, ydim = scaled_dimension("isi_mean", d["isi_mean"].attrs)
        xs = d[x].values * xfac
        layers = []
        for i, (label, g) in enumerate(curve_groups(d, by)):
            color = PALETTE[i % len(PALETTE)]
            mean = g["isi_mean"].values * yfac
            std = g["isi_std"].values * yfac
            if np.isfinite(mean).any():  # (all-NaN error bars make HoloViews warn)
                layers.append(
                    hv.ErrorBars((xs, mean, np.nan_to_num(std)), [xdim], [ydim, "isi_std"], label=label).opts(
                        color=color
                    )
                )
            layers.append(
                hv.Curve((xs, mean), [xdim], [ydim], label=label or "ISI mean").opts(color=color, tools=["hover"])
            )
        return finish(hv.Overlay(layers), figure_title("ISI mean ± std", full, where))

    return over_free_axes(ds, fixed, [x] + ([by] if by else []), build, "isi_errorbar")


def isi_cv(
    ds: xr.Dataset | str | PathLike, x: str, *, by: str | None = None, theory: bool | xr.DataArray = True, **sel: float
):
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
    hv = hv_backend()
    full = open_dataset(ds)
    ds, fixed = select(full, sel)
    # (over the points drawn only: the CV integral costs ~1 ms a point)
    theory_da = theory_values(ds, theory, "cv")

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[["isi_cv"]].compute()
        xfac, xdim = scaled_dimension(x, d[x].attrs)
        _, ydim = scaled_dimension("isi_cv", d["isi_cv"].attrs)
        xs = d[x].values * xfac
        layers = []
        for i, (label, g) in enumerate(curve_groups(d, by)):
            color = PALETTE[i % len(PALETTE)]
            cv = g["isi_cv"].values
            layers.append(
                hv.Curve((xs, cv), [xdim], [ydim], label=label or "ISI CV").opts(color=color, tools=["hover"])
            )
        if theory_da is not None:
            layers.extend(_theory_layers(theory_da, d, x, by, where, xfac, xdim, ydim))
        return finish(hv.Overlay(layers), figure_title("ISI CV", full, where))

    return over_free_axes(ds, fixed, [x] + ([by] if by else []), build, "isi_cv")


def summary_layout(ds: xr.Dataset | str | PathLike, x: str, y: str, **sel: float):
    """Rate and ISI-CV heatmaps over ``x`` and ``y``, and rate, ISI and CV curves vs ``x``
    with one curve per (at most 6) value of ``y``; HoloMaps over unselected axes.

    Returns
    -------
    holoviews.Layout
    """
    hv = hv_backend()
    full = open_dataset(ds)
    thin = thin_axis(full, y)
    figs = [
        rate_heatmap(full, x, y, **sel),
        cv_heatmap(full, x, y, **sel),
        # (mypy: **sel might fill by= or theory=; it holds sweep axes only)
        rate_curve(thin, x, by=y, **sel),  # type: ignore[arg-type]
        isi_errorbar(thin, x, by=y, **sel),
        isi_cv(thin, x, by=y, **sel),  # type: ignore[arg-type]
    ]
    return hv.Layout(figs).cols(2)
