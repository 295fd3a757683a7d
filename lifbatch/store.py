"""The Zarr store of a sweep: template written once, one region write per block.

Layout: docs/store-layout.md. Besides the Zarr arrays, the store directory
holds ``_lifbatch/blocks/<n>/zarr.json``, one marker per finished block: an
empty Zarr group whose attributes hold the block's failures and timing, written
atomically (rename) after the block's region write, so the store stays a valid
Zarr hierarchy. A block is done when its marker exists; ``status`` in the arrays
says the same per point and is readable while the sweep runs.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Hashable, cast

import numpy as np

from . import config, storage
from .adaptation import with_isi_adaptation
from .atomic import write_json_atomic
from .errors import StoreError
from .grid import Blocking
from .identity import simulation_identity, summary_settings, with_summaries
from .layout import GROW, LEASE, MARKERS, STATUS_DONE, STATUS_FAILED, STATUS_PENDING, SUMMARIZE_COMMIT, VARIABLES

# the store's other jobs, in modules of their own (their names re-exported: callers import them from here)
from .markers import done_blocks, marker_status, read_marker, read_markers, store_generation
from .state import (
    inspect_store,
    refuse_dangling_link,
    store_workflow,
    store_workflow_of,
    unfinished_commit,
    unfinished_template,
)
from .template import (
    begin_creation,
    compressors_for,
    coordinate_array,
    create_store,
    gather_on_group,
    root_attrs,
    variable_array,
    write_group_at,
)
from .verify import VerifyReport, restore_arrays, verify_store

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "open_results",
    "create_store",
    "write_block",
    "done_blocks",
    "read_markers",
    "store_workflow",
    "inspect_store",
    "begin_creation",
    "clear_store",
    "verify_store",
    "VerifyReport",
    "restore_arrays",
    "marker_status",
    "write_group_at",
    "compressors_for",
    "simulation_identity",
    "summary_settings",
    "with_summaries",
    "STATUS_PENDING",
    "STATUS_DONE",
    "STATUS_FAILED",
    # (re-exported as well: imported from here by the package's modules and tests)
    "MARKERS",
    "root_attrs",
    "coordinate_array",
    "variable_array",
    "read_marker",
    "store_generation",
    "store_workflow_of",
    "unfinished_commit",
    "refuse_dangling_link",
]


def _open_zarr(path: Path | str, unreadable: str, **kwargs) -> "xr.Dataset":
    """``xarray.open_zarr``, its failures as one-line StoreErrors.

    ``unreadable`` is the message (``{path}``, ``{type}`` and ``{exc}`` filled in) for a path
    that is not a Zarr store; a store whose template ``run_sweep`` is still
    writing (while the first tasks compute) says so instead.
    """
    import xarray as xr  # (deferred: xarray loads when a store is opened, not for a run's tasks)

    state = inspect_store(path)
    if state.kind in ("creating", "empty"):
        raise StoreError(unfinished_template(path))  # type: ignore[arg-type]  # (state's annotation: a URL too)
    try:
        return xr.open_zarr(storage.of(path).zarr_store(read_only=True), consolidated=False, **kwargs)
    except Exception as exc:
        raise StoreError(unreadable.format(path=path, type=type(exc).__name__, exc=exc)) from None


_write_json_atomic = write_json_atomic  # (the name the modules that grow and summarize a store use)


def clear_store(store) -> None:
    """Remove everything at a store's path but the run's own lease (the caller holds it)."""

    storage.of(store).clear(LEASE.as_posix())


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return False  # there, but unreadable


def write_block(
    wf, store, blocking: Blocking, block_id, data, *, failures=None, started=None, timing=None, worker=None, fence=None
) -> dict:
    """Write one block's variables into their region of every array, then its done-marker.

    ``data`` is the block's Dataset, or a mapping of variable name -> array;
    ``started`` (a ``time.time()``) and ``timing`` (seconds by phase, e.g.
    ``{"kernel": ..., "summaries": ...}``) go into the marker, with the write's own.

    The template fixed every array's shape, chunks, dtype, fill value and
    attributes, so the block's values go straight to Zarr: all arrays at once in
    one asyncio batch (``xarray.Dataset.to_zarr(region=...)`` does the same
    writes one array after the other, after re-reading and checking the
    store's metadata, at twice the CPU cost per task). The region of a block
    is whole chunks along the sweep axes, so no chunk is shared with another task.

    ``fence`` (:class:`lifbatch.lease.Fence`) is checked before the data and again before
    the marker, which records its ``generation``: a writer that lost the store's lease
    writes nothing (LeaseLostError).
    """
    region = tuple(blocking.slices(block_id))
    if hasattr(data, "data_vars"):  # an xarray.Dataset
        data = {name: var.values for name, var in data.data_vars.items()}
    t0 = time.perf_counter()
    if fence is not None:
        fence.check()
    _write_region(store, region, data, fence)
    timing = {**(timing or {}), "write": time.perf_counter() - t0}
    flat = blocking.flat_index(block_id)
    marker = {
        "block": flat,
        "index": list(block_id),
        "points": int(np.prod([s.stop - s.start for s in region] or [1])),
        "failures": failures or {},
        "finished": time.time(),
        "worker": worker,
        "seconds": (time.time() - started) if started else None,
        **{f"{phase}_seconds": t for phase, t in timing.items()},
    }
    if fence is not None:
        marker["generation"] = fence.generation
        fence.check()
    write_group_at(storage.of(store), f"{MARKERS.as_posix()}/{flat}", marker)
    return marker


# The store's opened Zarr arrays, kept in each worker process from one block to the next
# (opening them is a request per array on an object store, and cost a quarter of a block's
# write on disk): store -> (the key of the fence they were opened under, {name: array}).
# Used only under that same fence (lease.Fence.key: the store, the lease's token, the
# store's generation, the fence's epoch), without a request per block: a block-writing
# fence is made after its run's recovery and repair, and while it lives nothing replaces or
# resizes an array (`lifbatch summarize`'s swap, a growth, `run --repair` writing a lost
# array again and a store created again with --overwrite all happen under another lease, or
# before that fence was made), so a long-lived worker never writes with a replaced array's
# codecs or shape. Without a fence the arrays are opened for each block.
_ARRAYS: dict[str, tuple[tuple, dict]] = {}
_OPENING = threading.Lock()


def _template_id(store) -> tuple:
    """Identity of the store's template, waiting for it if it is being written.

    ``run_sweep`` writes a new store's template while the first tasks compute;
    its marker group is written last, so a task finding it may write.
    """
    from dask.utils import parse_timedelta  # (deferred: dask loads when a store is written, not for --help)

    st = storage.of(store)
    key = (MARKERS / "zarr.json").as_posix()
    deadline = None
    delay = 0.005
    while True:
        ident = st.identity(key)
        if ident is not None:
            return (str(store),) + ident
        now = time.monotonic()
        if deadline is None:
            wait = parse_timedelta(config.get("task.template-wait"))
            deadline = now + wait
        if now >= deadline:
            raise StoreError(
                f"store '{store}' has no template after {wait:g} s: this machine does not see "
                "the store, or it was removed (see cluster/README.md)"
            )
        time.sleep(delay)
        delay = min(0.1, 2 * delay)


def _opened_arrays(store, names, fence=None) -> dict:
    """The store's arrays ``names``, opened (once per fence and process: ``_ARRAYS``) after its
    template is complete (:func:`_template_id`)."""
    key = fence.key if fence is not None else None
    with _OPENING:  # (the threads of a process open them once, not each)
        cached_key, cached = _ARRAYS.get(str(store), (None, {}))
        if key is not None and cached_key == key and all(name in cached for name in names):
            return cached
        _template_id(store)

        async def open_array(group, name, _):
            # write_empty_chunks: a block's chunks are all written (also when all zeros,
            # e.g. no spikes), which spares zarr comparing every chunk with the fill value
            return name, (await group.getitem(name)).with_config({"write_empty_chunks": True})

        arrays = dict(gather_on_group(store, open_array, dict.fromkeys(names)))
        if key is not None:
            _ARRAYS.clear()  # one store at a time: a worker serves one sweep's blocks in turn
            _ARRAYS[str(store)] = (key, arrays)
        return arrays


def _write_region(store, region: tuple[slice, ...], values: dict[str, np.ndarray], fence=None) -> None:
    """``array[region] = value`` for every array of the store, concurrently: one request per
    array on an object store (its chunk's ``PUT``), once its arrays are open."""
    selection = region if region else Ellipsis
    arrays = _opened_arrays(store, list(values), fence)

    async def write(_, name, value):
        array = arrays[name]
        if array.dtype != value.dtype or array.shape[len(region) :] != value.shape[len(region) :]:
            raise StoreError(
                f"block variable '{name}' {value.dtype}{value.shape} does not match the store's "
                f"{array.dtype}{array.shape}; the store is not this workflow's"
            )
        await array.setitem(selection, value)

    gather_on_group(store, write, values, open_group=False)


def add_run(store, provenance: dict) -> None:
    """Append a resuming run's provenance to the store's ``runs`` attribute (under the lease)."""
    st = storage.of(store)
    meta = json.loads(cast(bytes, st.read_bytes("zarr.json")))
    runs = json.loads(meta["attributes"].get("runs") or "[]")
    meta["attributes"]["runs"] = json.dumps((runs + [provenance])[-100:])
    st.write_bytes("zarr.json", json.dumps(meta).encode())


class StoredArrays:
    """A sampled store's arrays by name, read with Zarr alone (no xarray, dask or pandas to
    import): ``arrays[name].values`` as numpy, like a Dataset's; ``status`` from the block
    markers, as :func:`open_results` has it; ``point(name, i)``: sample ``i`` only. What
    ``lifbatch refine`` and ``lifbatch fit`` read every round."""

    def __init__(self, store):
        import zarr  # (deferred: zarr loads when a store is opened, not for --help or validate)

        self._root = zarr.open_group(storage.of(store).zarr_store(read_only=True), mode="r", zarr_format=3)
        shape = tuple(self._root["status"].shape)
        self.sizes = {"sample": shape[0]}
        self._status = marker_status(store, shape, tuple(json.loads(self._root.attrs["chunks"])))

    def __getitem__(self, name: str):

        return SimpleNamespace(values=np.asarray(self._status if name == "status" else self._root[name][...]))

    def point(self, name: str, index: int) -> np.ndarray:
        return np.asarray(self._root[name][index])


def open_results(store: str | os.PathLike, **kwargs) -> "xr.Dataset":
    """Open a sweep's store lazily (Dask-backed ``xarray.Dataset``).

    Works while the sweep is running: ``status`` tells which points are done.

    Examples
    --------
    >>> ds = open_results("results/quickstart.zarr")        # doctest: +SKIP
    >>> ds.rate.sel(tau_m=0.02, method="nearest").values     # doctest: +SKIP
    """
    st = storage.of(store)
    path = Path(store) if st.local else st.location
    if not st.root_exists():
        raise StoreError(f"no store at '{path}'. Run `lifbatch run WORKFLOW --store {path}` first.")
    unfinished = unfinished_commit(path)
    if unfinished:
        raise StoreError(unfinished)
    ds = _open_zarr(path, "'{path}' is not a readable Zarr store ({type}: {exc}).", **kwargs)
    if "fingerprint" not in ds.attrs:
        raise StoreError(f"'{path}' is not a lifbatch store (no fingerprint attribute).")
    # the contract's order (a directory listing has none)
    order: dict[Hashable, int] = {name: i for i, name in enumerate(VARIABLES)}
    ds = ds[sorted(ds.data_vars, key=lambda n: (order.get(n, len(order)), n))]
    # done means on disk: a point is done when its block's marker, written after all of
    # the block's data, exists (the status array is written with the data, before it)
    if "chunks" in ds.attrs and "status" in ds:
        status = marker_status(path, ds["status"].shape, tuple(json.loads(ds.attrs["chunks"])))
        ds["status"] = ds["status"].copy(data=status)
    # isi_adaptation: derived from the spikes, not stored (old stores have it as well)

    ds = with_isi_adaptation(ds, lazy=True)
    ds = ds[sorted(ds.data_vars, key=lambda n: (order.get(n, len(order)), n))]
    ds.encoding["source"] = str(path)
    return ds


def commit_stamp(store) -> tuple:
    """What changes when a summarize or a growth commits (the root metadata file, a commit
    pending): readers compare it before and after an eager read (:func:`read_consistently`)."""

    st = storage.of(store)
    try:
        root = st.identity("zarr.json")
    except OSError:
        root = None
    return root, st.exists(SUMMARIZE_COMMIT.as_posix()), st.exists(GROW.as_posix())


def read_consistently(store, read, *, tries: int = 3):
    """``read()`` (an eager read of the store) with the store's commits unchanged during it:
    a reader never mixes arrays of before and after a summarize's swap. Tried again when
    a commit happened meanwhile; one line when it keeps happening."""
    for _ in range(tries):
        before = commit_stamp(store)
        out = read()
        if commit_stamp(store) == before:
            return out
    raise StoreError(
        f"store '{store}' kept changing while it was read (a summarize or refine is committing): try again in a moment."
    )
