"""A store's block markers: which blocks are done, read from ``_lifbatch/blocks/<n>/zarr.json``.

A block is done when its marker (written by :func:`lifbatch.store.write_block` after all of the
block's data) exists, is one lifbatch writes, is of the store's generation and fits its grid.
Read without Zarr or xarray: plain JSON through the store's storage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeGuard

import numpy as np

from . import storage
from .grid import Blocking
from .layout import MARKERS, STATUS_DONE, STATUS_FAILED, STATUS_PENDING


def read_key(store, key):
    """The JSON object at ``key`` of the store (None when absent, False when unreadable)."""
    try:
        data = storage.of(store).read_bytes(key.as_posix() if hasattr(key, "as_posix") else key)
    except OSError:
        return False
    return _json_or_false(data)


def _marker_attributes(path: Path | str, store=None) -> dict | None:
    """The attributes of the block marker at ``path`` (``_lifbatch/blocks/<n>/zarr.json``), or
    None when there is none, or when it is unreadable or not a marker lifbatch writes
    (:func:`_valid_marker`): the block counts as not done, and the run that resumes the
    store computes it again and writes its marker anew."""
    try:
        if store is None:
            attrs = json.loads(Path(path).read_text())["attributes"]
        else:  # (``path`` a key of the store's storage)
            attrs = json.loads(storage.of(store).read_bytes(str(path)) or b"")["attributes"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no marker, or unreadable
    return attrs if _valid_marker(attrs, str(path).split("/")[-2]) else None


def _parsed_marker(key: str, data: bytes | None) -> dict | None:
    """:func:`_marker_attributes` of a marker's bytes (read with others at once)."""
    try:
        attrs = json.loads(data or b"")["attributes"]
    except (ValueError, KeyError, TypeError):
        return None
    return attrs if _valid_marker(attrs, key.split("/")[-2]) else None


def is_number(value, *, whole: bool = False) -> bool:
    kinds = (int,) if whole else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool)


def _valid_marker(attrs, name: str) -> bool:
    """Whether ``attrs`` are a block marker's as :func:`lifbatch.store.write_block` writes them, for
    the block directory ``name``: a mapping whose ``block`` is the whole number ``name``, whose
    ``failures`` map points (whole numbers, as text) to messages, and whose other fields, when
    present, have their types (``points`` a whole number, ``finished`` and ``seconds``
    numbers or null, ``worker`` text or null). Anything else (another store's group in
    ``_lifbatch/blocks/``, a hand-edited file) is not this block's marker."""
    if not isinstance(attrs, dict):
        return False
    block, failures = attrs.get("block"), attrs.get("failures")
    if not is_number(block, whole=True) or str(block) != name or not isinstance(failures, dict):
        return False
    if not all(isinstance(k, str) and k.isdigit() and isinstance(v, str) for k, v in failures.items()):
        return False
    if "points" in attrs and not (is_number(attrs["points"], whole=True) and attrs["points"] >= 0):
        return False
    if any(attrs.get(k) is not None and not is_number(attrs[k]) for k in ("finished", "seconds")):
        return False
    return attrs.get("worker") is None or isinstance(attrs["worker"], str)


def _marker_fits(marker: dict, blocking: Blocking) -> bool:
    """Whether a (valid) marker is of a block of ``blocking`` and its failures are that block's points."""
    flat = marker["block"]
    if not 0 <= flat < blocking.n_blocks:
        return False
    if not marker["failures"]:
        return True
    region = blocking.slices(blocking.block_id(flat))
    size = int(np.prod(blocking.shape or (1,)))
    for key in marker["failures"]:
        point = int(key)
        if point >= size:
            return False
        index = np.unravel_index(point, blocking.shape) if blocking.shape else ()
        if not all(s.start <= i < s.stop for s, i in zip(region, index)):
            return False
    return True


def store_generation(store) -> str | None:
    """The store's generation: a new one each time a store is created at its path (None for
    stores made before generations). Block markers of another generation do not count."""
    try:
        data = storage.of(store).read_bytes((MARKERS / "zarr.json").as_posix())
    except OSError:
        return None
    return _generation_in(data)


def _generation_in(data: bytes | None) -> str | None:
    """:func:`store_generation` of the marker group's bytes."""
    try:
        attrs = json.loads(data or b"").get("attributes")
    except (ValueError, AttributeError, TypeError):
        return None
    generation = attrs.get("generation") if isinstance(attrs, dict) else None
    return generation if isinstance(generation, str) else None


def _counts(marker: dict | None, generation: str | None) -> TypeGuard[dict]:
    return isinstance(marker, dict) and marker.get("generation") == generation


def read_marker(store, flat: int) -> dict | None:
    """Block ``flat``'s marker (its attributes), or None when the block is not done (no
    marker, an unreadable one, or one written under another generation of the store)."""
    marker = _marker_attributes(f"{MARKERS.as_posix()}/{flat}/zarr.json", store)
    if marker is None:
        return None  # (no generation to read: one request for a block not done)
    return marker if _counts(marker, store_generation(store)) else None


def read_markers(store) -> list[dict]:
    """The markers of the store's done blocks: of its generation, and of a block of its grid
    with failures among that block's points (:func:`_marker_fits`, where the grid is known)."""
    st = storage.of(store)
    keys = st.children(MARKERS.as_posix(), "zarr.json")
    if not keys:
        return []
    # the markers, the marker group (the generation), the root and status's metadata (the grid):
    # read at once (one concurrent batch on an object store)
    found = st.read_many([*keys, (MARKERS / "zarr.json").as_posix(), "zarr.json", "status/zarr.json"])
    generation = _generation_in(found[len(keys)])
    markers = [m for m in (_parsed_marker(key, data) for key, data in zip(keys, found)) if _counts(m, generation)]
    blocking = _blocking_in(_json_or_false(found[-2]), _json_or_false(found[-1]))
    return [m for m in markers if blocking is None or _marker_fits(m, blocking)]


def _json_or_false(data: bytes | None):
    """:func:`read_key` of bytes read: None when absent, False when not JSON."""
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return False


def _blocking_in(root, status_meta) -> Blocking | None:
    """The store's blocks from its root's ``chunks`` and its ``status`` array's shape (their
    metadata as :func:`read_key` gives them), or None when either cannot be read (a store being
    created, damaged metadata)."""
    try:
        chunks = tuple(json.loads(root["attributes"]["chunks"]))
        shape = tuple(status_meta["shape"])
    except (KeyError, TypeError, ValueError):
        return None
    if not all(is_number(n, whole=True) for n in shape + chunks) or len(shape) != len(chunks):
        return None  # (damaged metadata: inspect_store says so in one line)
    return Blocking(shape=shape, chunks=chunks)


def done_blocks(store) -> set[int]:
    return {int(m["block"]) for m in read_markers(store)}


def marker_status(store, shape: tuple[int, ...], chunks: tuple[int, ...]) -> np.ndarray:
    """Each point's status from the block markers alone: done (or failed, as its marker
    says) when its block's marker exists, which is written after all of the block's
    data; pending otherwise. What ``status``, ``query`` and ``open_results`` report."""
    status = np.full(shape, STATUS_PENDING, np.int8)
    blocking = Blocking(shape=tuple(shape), chunks=tuple(chunks))
    for m in read_markers(store):
        if not _marker_fits(m, blocking):
            continue  # not a block of this store: the block counts as not done, as in inspect_store
        slices = blocking.slices(blocking.block_id(int(m["block"])))
        status[slices] = STATUS_DONE
        for flat in m.get("failures", {}):
            status[np.unravel_index(int(flat), shape) if shape else ()] = STATUS_FAILED
    return status
