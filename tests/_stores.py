"""Stores as ``lifbatch run`` leaves them, from in-memory results Datasets (review-layer tests).

A run writes each block's data and then its marker (``_lifbatch/blocks/<block>``),
and ``open_results`` takes every point's status from the markers (done means on
disk), the root's ``chunks`` attribute telling which points a block holds. A store
written with ``xarray.Dataset.to_zarr`` alone has neither, so it would read as one
whose creation never finished; :func:`write_store` adds both.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from lifbatch.grid import Blocking
from lifbatch.layout import MARKERS, STATUS_FAILED, STATUS_PENDING
from lifbatch.store import _write_group

try:  # tests/ may or may not be a package
    from tests._synthetic import write_synthetic_store
except ImportError:  # pragma: no cover
    from _synthetic import write_synthetic_store

__all__ = ["write_store", "mark_blocks"]


def _axes(ds: xr.Dataset) -> list[str]:
    return [d for d in ds["status"].dims]


def write_store(path: str | Path, ds: xr.Dataset, *, block: int = 10) -> Path:
    """Write ``ds`` in blocks of ``block`` values along each sweep axis, with the markers
    of the blocks none of whose points is pending (``ds.status``)."""
    chunks = [min(block, ds.sizes[a]) for a in _axes(ds)]
    ds = ds.assign_attrs(chunks=json.dumps(chunks))
    path = write_synthetic_store(path, ds, block=block)
    mark_blocks(path, ds)
    return path


def mark_blocks(path: str | Path, ds: xr.Dataset) -> None:
    """Write the markers of the blocks of ``ds`` (already in the store at ``path``) whose
    points are all done or failed, as a run does once a block's data are written."""
    path = Path(path)
    root = json.loads((path / "zarr.json").read_text())
    chunks = tuple(json.loads(root["attributes"]["chunks"]))
    status = np.asarray(ds["status"].transpose(*_axes(ds)).values)
    blocking = Blocking(shape=status.shape, chunks=chunks)
    for sub in (MARKERS.parent, MARKERS):
        if not (path / sub / "zarr.json").exists():
            _write_group(path / sub, {})
    for block_id in blocking.block_ids():
        region = blocking.slices(block_id)
        if (status[region] == STATUS_PENDING).any():
            continue
        failed = np.argwhere(status[region] == STATUS_FAILED) + [s.start for s in region]
        failures = {str(int(np.ravel_multi_index(tuple(i), status.shape))): "failed" for i in failed}
        flat = blocking.flat_index(block_id)
        _write_group(path / MARKERS / str(flat), {"block": flat, "index": list(block_id),
                                                   "points": int(status[region].size), "failures": failures})
