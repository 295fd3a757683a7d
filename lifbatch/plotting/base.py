"""HoloViews with the bokeh backend, and what every figure of :mod:`lifbatch.plotting` shares:
axes as HoloViews dimensions, frames over the axes left free, size, title and notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import xarray as xr

from ..figures import HEIGHT, TITLE_SIZE, WIDTH, Axis, axis_of, free_axes, free_points

__all__ = ["hv_backend", "dimension", "scaled_dimension", "over_free_axes", "finish", "empty_note"]


def hv_backend():
    """Import HoloViews with the bokeh backend loaded, or explain how to install it."""
    try:
        # (here: HoloViews is the `review` extra; missing, it is said in one line)
        import holoviews as hv
        import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh backend)
    except ImportError as err:  # (the `review` extra)
        from ..errors import missing_extra

        raise missing_extra("lifbatch.plotting", "review", "HoloViews, hvplot and Bokeh") from err
    if hv.Store.current_backend != "bokeh":
        hv.Store.set_current_backend("bokeh")
    return hv


def dimension(ax: Axis):
    """The ``holoviews.Dimension`` of a figure axis."""
    return hv_backend().Dimension(ax.name, label=ax.label, unit=ax.unit)


def scaled_dimension(
    name: str, attrs: Mapping[str, Any], *, label: str | None = None, default: str | None = None
) -> tuple[float, Any]:
    """(SI-to-display factor, hv.Dimension) of a coordinate or variable."""
    ax = axis_of(name, attrs, label=label, default=default)
    return ax.factor, dimension(ax)


def over_free_axes(
    ds: xr.Dataset,
    fixed: dict[str, float],
    plotted: list[str],
    build: Callable[[xr.Dataset, dict[str, float]], Any],
    func: str,
):
    """Call ``build`` on ``ds``, or build a HoloMap over the sweep axes left unselected
    (:func:`lifbatch.figures.free_axes`)."""
    hv = hv_backend()
    free = free_axes(ds, plotted, func)
    if not free:
        return build(ds, fixed)
    kdims, factors = [], []
    for a in free:
        factor, dim = scaled_dimension(a, ds[a].attrs)
        kdims.append(dim)
        factors.append(factor)
    frames = {}
    for point in free_points(ds, free):
        key = tuple(point[a] * f for a, f in zip(free, factors))
        frames[key] = build(ds.sel(point), {**fixed, **point})
    return hv.HoloMap(frames, kdims=kdims)


def finish(overlay, title: str):
    """Common size, grid, title font and an outside legend (curves often fill the frame)."""
    return overlay.opts(
        title=title,
        width=WIDTH + 140,
        height=HEIGHT,
        show_grid=True,
        legend_position="right",
        fontsize={"title": TITLE_SIZE},
    )


def empty_note(text: str, x: float, y: float):
    """A text in the middle of an empty figure (at data coordinates x, y)."""
    return hv_backend().Text(x, y, text).opts(color="#555555", text_font_size="11pt")
