"""The ISI adaptation index of Naud et al. (2008), for every model: derived from a results
Dataset's spike rasters when it is opened (:func:`lifbatch.open_results`) or simulated, never
stored, so that every store, also one written before the index existed, has it.

Its own module, below both :mod:`lifbatch.store` (which derives it when a store is opened)
and :mod:`lifbatch.summaries` (which lists it among the summaries): numpy and the layout only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .layout import STATUS_DONE

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["ADAPTATION_SKIP", "isi_adaptation_values", "isi_adaptation", "with_isi_adaptation"]


#: the most leading ISIs of a trial the adaptation index leaves out (Naud et al. 2008, after
#: Druckmann et al. 2007: k = min(4, n // 5) of n ISIs, the transient)
ADAPTATION_SKIP = 4


def isi_adaptation_values(bits: np.ndarray, *, dt: float, n_steps: int, warmup: float) -> np.ndarray:
    """The ISI adaptation index of Naud et al. (2008) from packed spike rasters (numpy).

    Per trial, with ISI_0 .. ISI_{n-1} its ISIs after warmup (both spikes after it) and
    k = min(4, n // 5) of them left out as the transient::

        A = 1 / (n - k - 1) * sum_{i=k}^{n-2} (ISI_{i+1} - ISI_i) / (ISI_{i+1} + ISI_i)

    (the mean of the normalized differences of the n - k - 1 consecutive pairs left; NaN
    when there is none, i.e. n - k < 2). A > 0: the ISIs lengthen (adaptation), A < 0: they
    shorten (acceleration), 0: regular. The result is the mean of A over the trials where it
    is defined, NaN where it is in none.

    Parameters
    ----------
    bits : (..., trial, spike_byte) uint8  packed rasters
    dt, warmup : float  (s)
    n_steps : int

    Returns
    -------
    (...) float64
    """
    bits = np.ascontiguousarray(bits)
    lead = bits.shape[:-2]
    flat = bits.reshape((int(np.prod(lead, dtype=np.int64)),) + bits.shape[-2:])
    n_points, n_trials = flat.shape[:2]
    rows = flat.reshape(n_points * n_trials, -1)
    warmup_steps = round(warmup / dt)
    per_row = np.full(len(rows), np.nan)
    # rows in slices of ~16 MiB of unpacked raster
    step = max(1, (1 << 24) // max(n_steps, 1))
    for start in range(0, len(rows), step):
        raster = np.unpackbits(rows[start : start + step], axis=-1, count=n_steps)
        row, s = np.nonzero(raster)  # sorted by row, then step
        after = s + 1 > warmup_steps  # bit s: a spike at (s + 1) dt
        row, s = row[after], s[after]
        same = row[1:] == row[:-1]
        isi = np.diff(s)[same].astype(float)  # in steps: the ratios need no dt
        isi_row = row[1:][same]
        m = len(raster)
        n = np.bincount(isi_row, minlength=m)
        k = np.minimum(ADAPTATION_SKIP, n // 5)
        pos = np.arange(len(isi)) - (np.cumsum(n) - n)[isi_row]  # each ISI's index in its trial
        pair = (isi_row[1:] == isi_row[:-1]) & (pos[:-1] >= k[isi_row[:-1]])
        ratio = ((isi[1:] - isi[:-1]) / (isi[1:] + isi[:-1]))[pair]
        total = np.bincount(isi_row[:-1][pair], weights=ratio, minlength=m)
        pairs = n - k - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            per_row[start : start + m] = np.where(pairs >= 1, total / pairs, np.nan)
    per_trial = per_row.reshape(n_points, n_trials)
    defined = np.isfinite(per_trial)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(defined.any(axis=1), np.nansum(per_trial, axis=1) / defined.sum(axis=1), np.nan)
    return out.reshape(lead)


def isi_adaptation(ds: xr.Dataset, *, lazy: bool = False) -> xr.DataArray | None:
    """:func:`isi_adaptation_values` of a results Dataset's ``spike_bits`` (lazily on Dask
    arrays; ``lazy``: also when they are not, chunked as stored, so that nothing is read
    before the index is), with the store's warmup (its canonical ``summaries.warmup``); NaN
    at the points not done. None when ``ds`` has no ``spike_bits``."""
    import json

    # (deferred: the store's writer and a block's tasks import this module without xarray)
    import xarray as xr

    if "spike_bits" not in ds or "dt" not in ds.attrs or "n_steps" not in ds.attrs:
        return None
    try:
        warmup = float(json.loads(ds.attrs["canonical"])["summaries"]["warmup"])
    except (KeyError, TypeError, ValueError):
        warmup = 0.0
    dt, n_steps = float(ds.attrs["dt"]), int(ds.attrs["n_steps"])
    bits = ds["spike_bits"]
    if lazy and bits.chunks is None:
        bits = bits.chunk(dict(zip(bits.dims, bits.encoding.get("chunks") or bits.shape)))
    out = xr.apply_ufunc(
        lambda bits: isi_adaptation_values(bits, dt=dt, n_steps=n_steps, warmup=warmup),
        bits,
        input_core_dims=[["trial", "spike_byte"]],
        dask="parallelized",
        output_dtypes=[float],
    )
    if "status" in ds:
        out = out.where(ds["status"] == STATUS_DONE)
    return out.assign_attrs(units="1", long_name="ISI adaptation index (Naud et al. 2008), mean over trials")


def with_isi_adaptation(ds: xr.Dataset, *, lazy: bool = False) -> xr.Dataset:
    """``ds`` with ``isi_adaptation`` (:func:`isi_adaptation`): derived from the spikes when a
    results Dataset is opened or simulated, never stored, so that every store, also one
    written before the index existed, has it, and resumes as ever."""
    var = isi_adaptation(ds, lazy=lazy)
    return ds if var is None else ds.assign(isi_adaptation=var)
