"""HoloViews figures of sweep results, labelled in the user's units.

Every function takes a results Dataset (``lifbatch.open_results(store)`` or
``lifbatch.simulate(workflow)``) or a store path, and returns a HoloViews object
(rendered by the bokeh backend; in a notebook run ``hv.extension("bokeh")`` or
``import hvplot.xarray`` first). Coordinates and values are stored in SI; the
figures convert them to ``attrs["display_units"]`` (what the workflow was written
in: ms, mV, pA, ...). Where a variable has no ``display_units`` the defaults are
mV for volts, ms for seconds and SI otherwise.

What each figure shows (selection, units, titles, theory lines) is computed by
:mod:`lifbatch.figures`, which the review app and the report draw from too.

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

from os import PathLike

import xarray as xr

from ..figures import display_scale, is_sampled, open_dataset, sampled_params, sweep_axes
from .base import hv_backend
from .point import (
    input_traces,
    isi_histogram,
    point_figures,
    raster,
    state_traces,
    traces,
    v_autocov,
    v_ensemble,
    v_variance,
)
from .sampled import sample_overview, sample_projection, sample_projections, sample_scatter
from .summary import cv_heatmap, isi_cv, isi_errorbar, rate_curve, rate_heatmap, summary_layout

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
    hv = hv_backend()
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
