"""``lifbatch summarize``: recompute summaries from a store's spikes and traces.

Uses the same functions as the sweep tasks (:mod:`lifbatch.analysis`), with
Dask over the Zarr arrays, so new ISI bins or a new warmup need no new
simulation. Only ``summaries.*`` may change. The new arrays are written to a
scratch group inside the store and then swapped in with directory renames, so a
crash leaves either the old or the new summaries, never a mix.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from .analysis import moment_summary, spike_summary
from .errors import WorkflowError
from .grid import coords
from .store import STATUS_FAILED, open_results, variable_specs
from .workflow import load_workflow

__all__ = ["summarize_store"]

SPIKE_VARS = ("rate", "rate_std", "isi_mean", "isi_std", "isi_cv", "isi_hist")
MOMENT_VARS = ("v_mean", "v_var", "v_autocov")


def summarize_store(store, overrides=None) -> list[str]:
    """Recompute the summary variables of ``store`` in place; returns their names.

    ``overrides`` may only touch ``summaries.*`` (e.g. ``["summaries.warmup=200 ms"]``).
    V moments are recomputed only when every trial's trace is recorded on the
    moments grid (``record.v``); otherwise they are kept.
    """
    path = Path(store)
    ds = open_results(path)
    raw = json.loads(ds.attrs["workflow"])
    items = overrides.items() if isinstance(overrides, dict) else [o.split("=", 1)[0] for o in (overrides or [])]
    for item in items:
        key = item[0] if isinstance(item, tuple) else item
        if not key.startswith("summaries."):
            raise WorkflowError(f"`--set {key}`: summarize can only change summaries.* (spikes and traces are "
                                "fixed); run the sweep again for other changes.", key, None)
    wf = load_workflow(raw, overrides)
    new = spike_summary(ds["spike_bits"], dt=wf.dt, n_steps=wf.n_steps, warmup=wf.warmup, isi_edges=wf.isi_edges)
    failed = ds["status"] == STATUS_FAILED
    out = {}
    for name in SPIKE_VARS:
        var = new[name]
        out[name] = var.where(~failed) if var.dtype.kind == "f" else var.where(~failed, 0).astype(var.dtype)
    names = list(SPIKE_VARS)
    if "v" in ds and list(ds["trace_trial"].values) == list(range(wf.trials)):
        stride = wf.moments_every / wf.record_every
        if abs(stride - round(stride)) < 1e-9:
            v = ds["v"].isel(trace_time=slice(None, None, int(round(stride))))
            v = v.rename(trace_trial="trial", trace_time="time").assign_coords(
                time=np.asarray(coords(wf)["time"][1]), trial=np.arange(wf.trials))
            mom = moment_summary(v, warmup=wf.warmup, every=wf.moments_every, max_lag=wf.max_lag)
            for name in MOMENT_VARS:
                out[name] = mom[name]
            names += list(MOMENT_VARS)
    c = coords(wf)
    new_ds = xr.Dataset(out)
    for name in ("isi_bin", "isi_bin_lower", "isi_bin_upper", "lag", "time"):
        if any(name in (d for d in new_ds[v].dims) or name in ("isi_bin_lower", "isi_bin_upper") for v in new_ds):
            dim, vals, *attrs = c[name]
            new_ds = new_ds.assign_coords({name: (dim, vals, *attrs)}) if dim in new_ds.dims else new_ds
    specs = variable_specs(wf)
    for name in names:
        new_ds[name].attrs = dict(specs[name][3])
    new_ds = new_ds.drop_vars([k for k in new_ds.coords if k in ds["status"].dims or k == "trial"], errors="ignore")
    axes = ds["status"].dims
    chunks = {ax: ds["status"].chunks[i][0] for i, ax in enumerate(axes)} if axes else {}
    new_ds = new_ds.chunk(chunks) if chunks else new_ds
    scratch = path / "_lifbatch" / "summarize"
    if scratch.exists():
        shutil.rmtree(scratch)
    enc = {n: {"_FillValue": np.nan} for n in names if new_ds[n].dtype.kind == "f"}
    new_ds.to_zarr(scratch, mode="w", consolidated=False, encoding=enc)
    # swap every replaced array (variables and the coordinates they use)
    replaced = [n for n in list(new_ds.data_vars) + list(new_ds.coords) if (scratch / n).is_dir()]
    backup = path / "_lifbatch" / "summarize-old"
    if backup.exists():
        shutil.rmtree(backup)
    backup.mkdir(parents=True)
    for n in replaced:
        if (path / n).exists():
            os.replace(path / n, backup / n)
        os.replace(scratch / n, path / n)
    root = zarr.open_group(str(path), mode="r+")
    root.attrs.update({"workflow": wf.source, "canonical": wf.canonical, "fingerprint": wf.fingerprint})
    shutil.rmtree(backup)
    shutil.rmtree(scratch)
    return names
