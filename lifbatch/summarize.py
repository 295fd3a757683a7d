"""``lifbatch summarize``: recompute summaries from a store's spikes and traces.

Uses the same functions as the sweep tasks (:mod:`lifbatch.summaries`), with
Dask over the Zarr arrays, so new ISI bins or a new warmup need no new
simulation. Only ``summaries.*`` may change; the store's simulation identity
(what ``lifbatch run`` compares to resume) stays, and its summary settings are
recorded as their own part (``status`` shows them).

All summaries and their attributes change in one atomic step. The new arrays
are written beside the old ones (``_lifbatch/summarize/<token>/new``, the token of this
command's lease: a summarize stopped past its lease and woken writes only into its
own directory); then one file, ``_lifbatch/summarize/commit.json``, is written
atomically: it names that directory, the arrays to swap in and the new root
attributes. Only then are the arrays renamed into place and the attributes written.
The next command to hold the store's lease (:func:`lifbatch.control.recover`, which calls
:func:`lifbatch.swap.recover`: ``run``,
``summarize``, ``refine``, ``fit``) finishes a swap that has a commit file and discards
one that has none, so a kill at any point leaves all-old or all-new summaries; readers
never do it. Every write is fenced by the lease (:mod:`lifbatch.lease`): a summarize
that lost its lease commits nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from . import control, lease, storage, swap
from .summaries import moment_summary, spike_summary
from .errors import StoreError, WorkflowError
from .identity import describe_summaries, summary_settings, with_summaries
from .layout import MOMENT_SUMMARIES, SPIKE_SUMMARIES, STATUS_DONE, SUMMARIZE, SUMMARIZE_COMMIT, coords, variable_specs
from .pause import pause
from .store import compressors_for, inspect_store, open_results
from .workflow import load_workflow

__all__ = ["summarize_store"]


def summarize_store(store, overrides=None, *, log=None) -> list[str]:
    """Recompute the summary variables of ``store`` in place; returns their names.

    ``overrides`` may only touch ``summaries.*`` (e.g. ``["summaries.warmup=200 ms"]``).
    V moments are recomputed only when every trial's trace is recorded on the
    moments grid (``record.v``); otherwise they are kept, with the warmup they were
    computed with (recorded as ``summaries.moments_warmup`` when it is not the new
    one), and a new ``moments_every`` or ``max_lag`` is refused. Points not done (pending,
    or failed) get NaN (0 for counts). Refused while a run holds the store's lease.
    """

    log = log or (lambda msg: None)

    st = storage.of(store)
    path = Path(store) if st.local else st.location  # (an object store: its arrays and commit by key)
    asked = list(overrides) if isinstance(overrides, dict) else [o.split("=", 1)[0] for o in (overrides or [])]
    for key in asked:
        if not key.startswith("summaries."):
            raise WorkflowError(
                f"`--set {key}`: summarize can only change summaries.* (spikes and traces are "
                "fixed); run the sweep again for other changes.",
                key,
                None,
            )
    if inspect_store(path).kind != "store":
        open_results(path)  # one-line errors for what is not a finished store
        raise StoreError(f"'{path}' is not a finished lifbatch store; nothing to summarize.")
    held = lease.acquire(path, command="lifbatch summarize", log=log)
    fence = held.fence()
    try:
        finished = control.recover(path, fence, log)
        if not overrides and any(what.startswith("finished") for what in finished):
            return []  # the interrupted summarize was this one: its summaries stand now
        ds = open_results(path)
        raw = json.loads(ds.attrs["workflow"])
        wf = load_workflow(raw, overrides, limits=False)  # the store's own workflow: it ran already
        before = summary_settings(ds.attrs["canonical"])
        moments = _moments_recomputable(ds, wf)
        if not moments:
            wf = _keep_moments(wf, before, set(asked))
        names, new_ds = _summaries(ds, wf, xr, moments)
        own = held.record["token"]
        work = f"{SUMMARIZE.as_posix()}/{own}"
        staged = storage.of(f"{st.location}/{work}/new").zarr_store()  # (a directory, or a prefix in the bucket)
        # the store's own codecs (checksums included), so that the blocks still to run, and
        # workers that kept the old arrays open, write what these arrays say; every chunk
        # written, also all-NaN or all-zero ones, as a block writes them (a missing chunk of a
        # done block is damage to `status --verify`)
        enc = {
            n: {
                "compressors": compressors_for(new_ds[n].dtype),
                **({"_FillValue": np.nan} if new_ds[n].dtype.kind == "f" else {}),
            }
            for n in names
        }
        fence.check()
        pause("summarize-begun")  # (tests stop here: nothing staged yet; the next line reads and writes the arrays)
        try:
            new_ds.to_zarr(staged, mode="w", consolidated=False, encoding=enc, write_empty_chunks=True)
        except Exception as exc:  # (an object store's failure, raised inside Zarr or Dask: one line, as run's)
            failed = st.failure(exc, "reading the spikes and writing the new summaries")
            if failed is None:
                raise
            raise failed from None
        pause("summarize-written")
        written = {k.split("/")[4] for k in st.list(f"{work}/new/")}  # (_lifbatch/summarize/<own>/new/<array>/...)
        arrays = [n for n in list(new_ds.data_vars) + list(new_ds.coords) if n in written]
        attributes = json.loads(st.read_bytes("zarr.json") or b"")["attributes"]  # (there: the store opened)
        attributes.update({"workflow": wf.source, "canonical": wf.canonical, "fingerprint": wf.fingerprint})
        fence.check()  # a summarize that lost its lease commits nothing
        st.commit(
            SUMMARIZE_COMMIT.as_posix(), json.dumps({"work": own, "arrays": arrays, "attributes": attributes}).encode()
        )
        pause("summarize-committed")
        swap.recover(path, fence)
    finally:
        held.release()
    after = summary_settings(wf.canonical)
    changed = [k for k in after if k != "moments_warmup" and after[k] != before.get(k)]
    log(
        f"summaries: {describe_summaries(after)}"
        + (f" (changed: {', '.join(changed)}; were {describe_summaries(before)})" if changed else " (unchanged)")
    )
    if "moments_warmup" in after:
        log(_why_moments_kept(ds, wf, after["moments_warmup"]))
    return names


def _why_moments_kept(ds, wf, kept: float) -> str:
    """Why the V moments kept their warmup (:func:`_moments_recomputable` said no), and what
    recomputes them."""
    if "v" not in ds:
        recorded = "this store records no V (no `record.v`)"
    elif list(ds["trace_trial"].values) != list(range(wf.trials)):
        n = int(ds.sizes["trace_trial"])
        recorded = (
            f"this store records V of {n} of {wf.trials} trials (record.v.trials: "
            f"{[int(t) for t in ds['trace_trial'].values]})"
        )
    else:
        recorded = (
            f"this store records V every {1e3 * wf.record_every:g} ms, which does not divide the moments "
            f"grid ({1e3 * wf.moments_every:g} ms)"
        )
    return (
        f"note: v_mean, v_var and v_autocov keep their warmup of {1e3 * kept:g} ms (the spike summaries take "
        f"the new one): recomputing them needs V of every trial on the moments grid, and {recorded}. To "
        "recompute them, run the workflow into a new store with --set record.v.trials=all (record.v.every "
        "dividing summaries.moments.every)."
    )


def _moments_recomputable(ds, wf) -> bool:
    """Whether the store's V traces hold every trial on the moments grid of ``wf``."""
    if "v" not in ds or list(ds["trace_trial"].values) != list(range(wf.trials)):
        return False
    stride = wf.moments_every / wf.record_every
    return abs(stride - round(stride)) < 1e-9


def _keep_moments(wf, before: dict, asked):
    """``wf`` with the settings the store's V moments were computed with, when summarize
    cannot recompute them: a new warmup then applies to the spike summaries only
    (``summaries.moments_warmup`` records the moments' own, for the blocks still to run and
    for readers); a new moments grid or autocovariance range asked for (``asked``: the keys
    given) would change nothing but the record, so it is refused, and one that follows
    from a new warmup (the default max_lag) keeps the store's."""
    after = summary_settings(wf.canonical)
    for key, field in (("moments_every", "summaries.moments.every"), ("max_lag", "summaries.autocov.max_lag")):
        if after[key] == before[key]:
            continue
        if field in asked:
            raise WorkflowError(
                f"`{field}` {1e3 * after[key]:g} ms: summarize cannot recompute this store's V moments (they need V "
                f"of every trial on the moments grid, `record.v: {{trials: all}}`), computed with "
                f"{1e3 * before[key]:g} ms. Run the sweep again into a new store (lifbatch run WORKFLOW --set "
                f"{field}=... --store NEW), or leave {field} as it is.",
                field,
                after[key],
            )
        after[key] = before[key]
    kept = before.get("moments_warmup", before["warmup"])
    after.pop("moments_warmup", None)
    return with_summaries(wf, {**after, **({"moments_warmup": kept} if kept != after["warmup"] else {})})


def _summaries(ds, wf, xr, moments: bool):
    """The new summary variables as one Dataset (chunked like the store), and their names;
    the V moments among them when ``moments`` (:func:`_moments_recomputable`)."""

    new = spike_summary(ds["spike_bits"], dt=wf.dt, n_steps=wf.n_steps, warmup=wf.warmup, isi_edges=wf.isi_edges)
    done = ds["status"] == STATUS_DONE  # from the block markers: pending and failed points get no summaries
    out = {}
    for name in SPIKE_SUMMARIES:
        var = new[name]
        out[name] = var.where(done) if var.dtype.kind == "f" else var.where(done, 0).astype(var.dtype)
    names = list(SPIKE_SUMMARIES)
    if moments:
        v = ds["v"].isel(trace_time=slice(None, None, int(round(wf.moments_every / wf.record_every))))
        v = v.rename(trace_trial="trial", trace_time="time").assign_coords(
            time=np.asarray(coords(wf)["time"][1]), trial=np.arange(wf.trials)
        )
        mom = moment_summary(v, warmup=wf.warmup, every=wf.moments_every, max_lag=wf.max_lag)
        for name in MOMENT_SUMMARIES:
            out[name] = mom[name].where(done)
        names += list(MOMENT_SUMMARIES)
    c = coords(wf)
    new_ds = xr.Dataset(out)
    for name in ("isi_bin", "isi_bin_lower", "isi_bin_upper", "lag", "time"):
        if any(name in (d for d in new_ds[v].dims) or name in ("isi_bin_lower", "isi_bin_upper") for v in new_ds):
            dim, vals, *attrs = c[name]
            new_ds = new_ds.assign_coords({name: (dim, vals, *attrs)}) if dim in new_ds.dims else new_ds
    specs = variable_specs(wf)
    for name in names:
        new_ds[name].attrs = dict(specs[name][3])
    # the coordinates along the sweep axes (a zipped axis's other parameters, a design's parameters
    # and rounds) do not change: they are not written again
    sweep_dims = set(ds["status"].dims)
    new_ds = new_ds.drop_vars(
        [k for k in new_ds.coords if k == "trial" or sweep_dims & set(new_ds[k].dims)], errors="ignore"
    )
    axes = ds["status"].dims
    # chunked as the template chunks its arrays: the blocks along the sweep axes, whole along the rest
    chunks = {**{dim: -1 for dim in new_ds.dims}, **dict(zip(axes, json.loads(ds.attrs["chunks"])))}
    return names, new_ds.chunk(chunks)
