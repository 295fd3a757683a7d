"""Summaries of simulated ensembles: pure functions, numpy in and out
(:func:`spike_values`, :func:`moment_values`), or xarray in and out
(:func:`spike_summary`, :func:`moment_summary`, the same numbers).

The same numpy functions run inside each sweep task (on a block's raw output,
without xarray) and, through the xarray ones, in ``lifbatch summarize`` (on a store). Conventions (docs/store-layout.md):

- a spike at time t counts after warmup when t > warmup;
- ``rate`` is the trial mean of (spikes after warmup) / (duration - warmup),
  ``rate_std`` their standard deviation (ddof=1);
- ISIs are intervals between consecutive spikes of one trial, both after
  warmup, pooled over trials; ``isi_std`` has ddof=1 and NaN below 2 ISIs;
- ``isi_adaptation`` (Naud et al. 2008) is computed per trial from its ISIs after
  warmup, the first k = min(4, n // 5) of its n ISIs left out, then averaged over
  the trials where it is defined (:func:`isi_adaptation_values`);
- ``v_var`` is the sample variance over trials (ddof=1);
- ``v_autocov(lag)`` is the ensemble autocovariance C(t, t+lag) (NMA eq. 6,
  ddof=1) averaged over all sample times t >= warmup with t+lag <= duration.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from .adaptation import ADAPTATION_SKIP, isi_adaptation, isi_adaptation_values, with_isi_adaptation  # noqa: F401
from .errors import LifbatchWarning, WorkflowError
from .kernel import ensemble_moments, spike_train_stats
from .layout import (
    SAMPLE,
    SPIKE_SUMMARIES,  # the outputs of spike_values, in order (moment_values: MOMENT_SUMMARIES)
)
from .query import format_coord, parse_selection

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "spike_values",
    "moment_values",
    "spike_summary",
    "moment_summary",
    "spike_times",
    "sel",
    "selection",
    "isi_adaptation_values",
    "isi_adaptation",
]


def _as_points(a: np.ndarray, core: int) -> tuple[np.ndarray, tuple[int, ...]]:
    lead = a.shape[: a.ndim - core]
    return a.reshape((int(np.prod(lead, dtype=np.int64)),) + a.shape[a.ndim - core :]), lead


def spike_values(bits: np.ndarray, *, dt: float, n_steps: int, warmup: float, isi_edges) -> tuple[np.ndarray, ...]:
    """Rate and ISI statistics from packed spike rasters (numpy).

    Parameters
    ----------
    bits : (..., trial, spike_byte) uint8  packed rasters
    dt, warmup : float  (s)
    n_steps : int
    isi_edges : (n_bins + 1,) array  ISI histogram edges (s)

    Returns
    -------
    rate, rate_std (Hz), isi_mean, isi_std (s), isi_cv : (...) float;
    isi_hist : (..., n_bins) int64 (the order of ``SPIKE_SUMMARIES``)
    """
    edges = np.asarray(isi_edges, float)
    warmup_steps = int(round(warmup / dt))
    window = (n_steps - warmup_steps) * dt
    flat, lead = _as_points(np.ascontiguousarray(bits), 2)
    counts, n, s, ss, hist = spike_train_stats(flat, n_steps, warmup_steps, edges / dt)
    rates = counts / window
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rate = rates.mean(axis=1)
        rate_std = rates.std(axis=1, ddof=1) if rates.shape[1] > 1 else np.full(len(rate), np.nan)
        mean_steps = s / n
        var_steps = (n * ss - s.astype(float) ** 2) / (n * (n - 1.0))
    ok = n >= 2
    isi_mean = np.where(ok, mean_steps * dt, np.nan)
    isi_std = np.where(ok, np.sqrt(np.maximum(var_steps, 0)) * dt, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        isi_cv = np.where(ok, isi_std / isi_mean, np.nan)
    shape = lead
    return (
        rate.reshape(shape),
        rate_std.reshape(shape),
        isi_mean.reshape(shape),
        isi_std.reshape(shape),
        isi_cv.reshape(shape),
        hist.reshape(shape + (hist.shape[-1],)),
    )


def moment_values(v: np.ndarray, *, warmup: float, every: float, max_lag: float) -> tuple[np.ndarray, ...]:
    """V mean / variance over trials and ensemble autocovariance after warmup (numpy).

    Parameters
    ----------
    v : (..., trial, time) float  V sampled every ``every`` seconds from t=0
    warmup, every, max_lag : float (s)

    Returns
    -------
    v_mean, v_var : (..., time); v_autocov : (..., lag) (the order of ``MOMENT_SUMMARIES``)
    """
    n_lag = int(round(max_lag / every)) + 1
    j0 = int(np.ceil(warmup / every - 1e-9))
    flat, lead = _as_points(np.ascontiguousarray(v, dtype=float), 2)
    mean, var, ac = ensemble_moments(flat, j0, n_lag)
    return mean.reshape(lead + mean.shape[-1:]), var.reshape(lead + var.shape[-1:]), ac.reshape(lead + (n_lag,))


def spike_summary(spike_bits: xr.DataArray, *, dt: float, n_steps: int, warmup: float, isi_edges) -> xr.Dataset:
    """:func:`spike_values` of a DataArray (..., trial, spike_byte), lazily on Dask arrays.

    Returns
    -------
    Dataset with rate, rate_std (Hz), isi_mean, isi_std (s), isi_cv, isi_hist (..., isi_bin)
    """
    # (deferred: a block's tasks compute summaries with numpy only, without xarray)
    import xarray as xr

    n_bins = len(np.asarray(isi_edges)) - 1
    out = xr.apply_ufunc(
        lambda bits: spike_values(bits, dt=dt, n_steps=n_steps, warmup=warmup, isi_edges=isi_edges),
        spike_bits,
        input_core_dims=[["trial", "spike_byte"]],
        output_core_dims=[[], [], [], [], [], ["isi_bin"]],
        dask="parallelized",
        output_dtypes=[float, float, float, float, float, np.int64],
        dask_gufunc_kwargs={"output_sizes": {"isi_bin": n_bins}},
    )
    attrs = [
        {"units": "Hz", "long_name": "firing rate (mean over trials)"},
        {"units": "Hz", "long_name": "std of per-trial firing rates (ddof=1)"},
        {"units": "s", "display_units": "ms", "long_name": "mean ISI (pooled over trials)"},
        {"units": "s", "display_units": "ms", "long_name": "ISI standard deviation (ddof=1)"},
        {"units": "1", "long_name": "ISI coefficient of variation"},
        {"units": "1", "long_name": "ISI histogram (counts)"},
    ]
    return xr.Dataset({n: o.assign_attrs(a) for n, o, a in zip(SPIKE_SUMMARIES, out, attrs)})


def moment_summary(v_samples: xr.DataArray, *, warmup: float, every: float, max_lag: float) -> xr.Dataset:
    """:func:`moment_values` of a DataArray (..., trial, time), lazily on Dask arrays."""
    # (deferred: a block's tasks compute summaries with numpy only, without xarray)
    import xarray as xr

    n_lag = int(round(max_lag / every)) + 1
    mean, var, ac = xr.apply_ufunc(
        lambda v: moment_values(v, warmup=warmup, every=every, max_lag=max_lag),
        v_samples,
        input_core_dims=[["trial", "time"]],
        output_core_dims=[["time"], ["time"], ["lag"]],
        dask="parallelized",
        output_dtypes=[float, float, float],
        dask_gufunc_kwargs={"output_sizes": {"lag": n_lag}},
    )
    units = v_samples.attrs.get("units", "1")
    disp = v_samples.attrs.get("display_units", units)
    sq = f"{units}**2" if units != "1" else "1"
    return xr.Dataset(
        {
            "v_mean": mean.assign_attrs(units=units, display_units=disp, long_name="V mean over trials"),
            "v_var": var.assign_attrs(units=sq, long_name="V variance over trials (ddof=1)"),
            "v_autocov": ac.assign_attrs(units=sq, long_name="ensemble autocovariance of V after warmup"),
        }
    )


def selection(ds: xr.Dataset, **where) -> dict:
    """``where`` (axis -> value) as the exact coordinate values to ``.sel`` with: a value with
    units as text (``I="200 pA"``; bare text in the axis' unit as the workflow wrote it, as
    ``lifbatch query --sel`` reads it), or a number in SI (``I=200e-12``, what ``ds.sel`` takes);
    the nearest grid value, with a :class:`~lifbatch.errors.LifbatchWarning` saying which when
    it is not exact. On a sampled design, sampled parameters pick the nearest sample
    (``{"sample": number}``), as ``query --sel`` does."""

    items, shown = [], {}
    for axis, value in where.items():
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            unit = ds[axis].attrs.get("units", "") if axis in ds.variables else ""
            text = (
                repr(float(value)) if unit not in ("", "1") else repr(value.item() if hasattr(value, "item") else value)
            )
            if unit not in ("", "1") and not np.issubdtype(np.asarray(ds[axis].values).dtype, np.integer):
                text = f"{text} {unit}"
                shown[f"{axis}={text}"] = f"{axis}={format_coord(ds[axis], float(value))}"
            items.append(f"{axis}={text}")
        else:
            items.append(f"{axis}={value}")
    try:
        picked, notes = parse_selection(ds, items)
    except WorkflowError as exc:  # the same checks as --sel, said for Python
        raise WorkflowError(str(exc).replace("`--sel ", "`").replace("--sel ", ""), exc.field, exc.value) from None
    for note in notes:
        text = note.removeprefix("note: ")
        for given, nice in shown.items():
            text = text.replace(given, nice)
        warnings.warn(text, LifbatchWarning, stacklevel=3)
    return picked


def sel(ds: xr.Dataset, **where) -> xr.Dataset:
    """``ds`` at coordinate values given in your units (``ds.sel`` takes SI floats only).

    Examples
    --------
    >>> ds = lifbatch.open_results("results/quickstart.zarr")   # doctest: +SKIP
    >>> lifbatch.sel(ds, I="200 pA", sigma="4 mV").rate          # doctest: +SKIP

    Values as :func:`selection` reads them: text with units (bare text in the unit the
    workflow wrote the axis in), or SI numbers; the nearest grid value, with a
    LifbatchWarning when it is not exact (``I=203 pA is not on the grid; nearest is 200 pA``).
    """
    picked = selection(ds, **where)
    points = {k: v for k, v in picked.items() if k != SAMPLE}
    out = ds.sel(points) if points else ds
    return out.sel({SAMPLE: picked[SAMPLE]}) if SAMPLE in picked else out


def spike_times(ds: xr.Dataset, **sel) -> dict[int, np.ndarray] | np.ndarray:
    """Spike times (s) of one grid point, decoded losslessly from ``spike_bits``.

    ``sel`` picks the point by coordinate value, as :func:`lifbatch.sel` reads it: SI numbers
    (``tau=0.005``) or text with units (``I="200 pA"``); the nearest grid value, with a
    LifbatchWarning when it is not exact. With ``trial=k`` an array is returned, otherwise a
    dict trial -> array. A value off an axis (beyond its range by more than half a grid step,
    NaN, an infinity it does not hold) is refused, as ``lifbatch query --sel`` refuses it.
    """
    dt = float(ds.attrs["dt"])
    n_steps = int(ds.attrs["n_steps"])
    trial = sel.pop("trial", None)
    bits = ds["spike_bits"]
    unknown = [k for k in sel if k not in bits.dims or k in ("trial", "spike_byte")]
    if unknown:
        axes = [d for d in bits.dims if d not in ("trial", "spike_byte")]
        raise ValueError(f"spike_times: {unknown[0]!r} is not an axis of this store; its axes are {axes}")
    if sel:
        picked = selection(ds, **sel)
        points = {k: v for k, v in picked.items() if k != SAMPLE}
        bits = bits.sel(points) if points else bits
        bits = bits.sel({SAMPLE: picked[SAMPLE]}) if SAMPLE in picked else bits
    extra = [d for d in bits.dims if d not in ("trial", "spike_byte")]
    if extra:
        raise ValueError(f"select one grid point: give a value for {extra}")
    raw = np.asarray(bits.values, dtype=np.uint8)
    steps = np.unpackbits(raw, axis=-1, count=n_steps)
    times = {int(t): (np.nonzero(steps[i])[0] + 1) * dt for i, t in enumerate(bits["trial"].values)}
    return times[int(trial)] if trial is not None else times
