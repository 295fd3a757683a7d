"""Growing a sampled store: points added along ``sample`` by ``lifbatch refine`` and
``lifbatch fit``.

The design is the store's first dimension (design.py), so added points make new
blocks at the end and the blocks that exist keep their numbers. A store grows in
one recoverable step, under the run lease:

1. ``_lifbatch/grow.json`` is written atomically: the grown workflow and the old size
   (the commit point: from here the growth is finished by whoever opens the store);
2. the markers of the blocks the new points share with old ones (the last, partly
   filled block along ``sample``, when the design's size is not a multiple of the
   block) are removed: those blocks are computed again with their new points, and
   their old points come out bit-identical (a point's random numbers depend on its
   parameter values and the seed only);
3. every array along ``sample`` is resized, the coordinates along it written;
4. the root attributes take the grown workflow (its fingerprint changes, its
   simulation identity does not); grow.json is removed.

Steps 2 to 4 are idempotent, so :func:`recover` repeats them after a kill (only a command
holding the lease does: :func:`lifbatch.control.recover`; every write is fenced). The new
points are then computed as any pending blocks are: by ``lifbatch run`` (of the
store's workflow or the original one: both resume it) or by the command that
grew it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import storage
from .errors import StoreError
from .grid import Blocking
from .identity import simulation_identity, with_store_summaries
from .layout import GROW, MARKERS, coords
from .pause import pause
from .design import add_to_section
from .store import coordinate_array, store_generation, store_workflow, write_group_at
from .workflow import load_workflow

__all__ = ["add_unit_points", "grow_store", "recover", "check_unchanged"]


def check_unchanged(store, wf) -> None:
    """StoreError unless ``store`` still holds the design of ``wf`` (the same points, added ones
    included): a command that chose points from what it read grows the store only if no other
    command grew it meanwhile (two ``lifbatch fit`` on one store). Under the lease."""

    attrs = store_workflow(store) or {}
    try:
        held = json.loads(attrs["canonical"]).get("sample_added")
    except (KeyError, TypeError, ValueError):
        held = None
    if held != json.loads(wf.canonical).get("sample_added"):
        raise StoreError(
            f"store '{store}' was grown by another command meanwhile (another `lifbatch fit` or "
            "`refine` on the same store?): nothing was added. Run one at a time on a store; the same "
            "command again goes on from what the store holds."
        )


def add_unit_points(store, wf, unit, round_: int, fence):
    """Grow ``store`` (of workflow ``wf``) by the points ``unit`` (rows in the design's unit
    cube, clipped to it) as round ``round_``; the caller holds the lease (``fence``). Returns
    the grown Workflow."""

    spec = wf.sample.spec
    points = np.stack([p.from_unit(np.clip(unit[:, j], 0.0, 1.0)) for j, p in enumerate(spec.params)], axis=1)
    return grow_store(store, wf, add_to_section(wf.to_dict()["sample"], spec, points, round_), fence)


def grow_store(store, wf, raw_sample: dict, fence):
    """Grow ``store`` (of workflow ``wf``) to the ``sample`` section ``raw_sample`` (as
    written, its ``added`` points extended); the caller holds the lease (``fence``), and has
    checked that the store still holds ``wf`` (:func:`check_unchanged`). Returns the grown
    Workflow, with the store's summary settings."""

    raw = wf.to_dict()
    raw["sample"] = raw_sample
    grown = load_workflow(raw, limits=False)
    path = _location(store)
    check_unchanged(path, wf)
    fence.check()
    storage.of(path).commit(
        GROW.as_posix(), json.dumps({"workflow": grown.source, "old_size": wf.sample.size}).encode()
    )
    pause("grow-committed")
    return _apply(path, grown, wf.sample.size, fence)


def _location(store):
    """A store's path, or an object store's URL as it is (a Path would lose its ``//``)."""
    return store if storage.is_url(store) else Path(store)


def recover(store, fence) -> str | None:
    """Finish a growth that was interrupted after its commit (grow.json); what was done.
    Only under the store's lease (``fence``)."""
    path = _location(store)
    data = storage.of(path).read_bytes(GROW.as_posix())
    if data is None:
        return None
    intent = json.loads(data)

    grown = load_workflow(json.loads(intent["workflow"]), limits=False)
    assert grown.sample is not None  # (grow_store writes grow.json for a sampled store only)
    _apply(path, grown, int(intent["old_size"]), fence)
    return f"finished adding {grown.sample.size - int(intent['old_size'])} points to the store"


def _apply(path, grown, old_size: int, fence):
    """Steps 2-4 of a growth (each idempotent); ``grown`` with the store's summary settings."""
    # (deferred: zarr loads when a store is grown, not when refine or fit only plan)
    import zarr
    from zarr.core.metadata import ArrayV3Metadata

    st = storage.of(path)
    meta = _root_metadata(st)
    attrs = meta["attributes"]
    chunks = tuple(json.loads(attrs["chunks"]))
    if simulation_identity(grown.canonical) != attrs.get("simulation"):
        raise ValueError("a grown workflow must be the store's simulation")  # (a bug, not bad input)
    grown = with_store_summaries(grown, attrs["canonical"])  # (grow.json holds the source only)
    new_size = grown.sample.size
    # 2. the partly filled last block along sample is computed again with its new points
    fence.check()
    if old_size % chunks[0] and new_size > old_size:
        blocking = Blocking(shape=(old_size,) + tuple(grown.shape[1:]), chunks=chunks)
        row = old_size // chunks[0]
        for block_id in blocking.block_ids():
            if block_id[0] == row:
                marker = f"{MARKERS.as_posix()}/{blocking.flat_index(block_id)}"
                if st.is_dir(marker):
                    st.delete_prefix(marker + "/")
    # 3. every data array along sample, resized (its chunks stay); the coordinates along it
    # written again whole, one chunk each as a new store has them
    crd = coords(grown)
    root = zarr.open_group(st.zarr_store(), mode="r+", zarr_format=3)
    fence.check()
    for name, arr in root.arrays():
        assert isinstance(arr.metadata, ArrayV3Metadata)  # (a Zarr v3 group's arrays have v3 metadata)
        dims = tuple(arr.metadata.dimension_names or ())
        if dims and dims[0] == "sample" and name not in crd and arr.shape[0] != new_size:
            arr.resize((new_size,) + tuple(arr.shape[1:]))
    for name, spec in crd.items():
        if spec[0] == "sample":
            root.create_array(name, **coordinate_array(spec), overwrite=True)[...] = np.asarray(spec[1])
    # 4. the root attributes: the grown workflow
    meta = _root_metadata(st)
    meta["attributes"].update(
        {"workflow": grown.source, "canonical": grown.canonical, "fingerprint": grown.fingerprint}
    )
    fence.check()
    st.write_bytes("zarr.json", json.dumps(meta).encode())
    # the marker group written again with the store's generation kept; a run that writes the new
    # points' blocks makes a new fence after this growth, so workers open the arrays again at
    # their new shape (the arrays are kept per fence: store._ARRAYS)
    generation = store_generation(path)
    write_group_at(st, MARKERS, {"generation": generation} if generation else {})
    st.delete(GROW.as_posix())
    return grown


def new_round(wf) -> int:
    """The number of the next round of added points."""
    return max(wf.sample.rounds, default=0) + 1


def _root_metadata(st) -> dict:
    """The store's root ``zarr.json``, parsed."""
    data = st.read_bytes("zarr.json")
    assert data is not None  # (a store being grown under its lease has its root)
    return json.loads(data)
