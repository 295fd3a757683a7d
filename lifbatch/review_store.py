"""What the review app (:mod:`lifbatch.review`) reads from a store, cached across its sessions.

A slice's summaries are kept while the chunk files of their variables are unchanged
(:func:`chunk_signature`), so a page reload does not read the store again and Refresh reads
the points finished since; the closed-form theory is kept per workflow (and slice, for the
ISI CV). The server's prepared next page is keyed by :func:`store_signature`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lifbatch import figures
from lifbatch.layout import MARKERS

__all__ = ["chunk_signature", "read_slice", "store_signature", "theory_cv", "theory_rate"]

#: closed-form rate per workflow JSON (it depends on the workflow only), and ISI CV per
#: workflow and slice
_THEORY: dict[Any, Any] = {}


def theory_rate(ds: xr.Dataset) -> xr.DataArray | None:
    """The theoretical rate over the whole grid (Hz), computed once per workflow."""
    key = ds.attrs.get("workflow")
    if not isinstance(key, str):
        return figures.theory_values(ds, True)
    if key not in _THEORY:
        if len(_THEORY) >= 64:
            _THEORY.clear()
        _THEORY[key] = figures.theory_values(ds, True)
    return _THEORY[key]


def theory_cv(d: xr.Dataset) -> xr.DataArray | None:
    """The Siegert ISI CV at the points of a slice ``d``, cached per workflow and slice.

    Over the slice only, unlike the rate: the CV integral costs about 1 ms a point,
    10 s on a 10^4-point grid.
    """
    raw = d.attrs.get("workflow")
    if not isinstance(raw, str):
        return figures.theory_values(d, True, "cv")
    axes = [a for a in figures.sweep_axes(d) if a in d.coords] + [
        a for a in d.coords if a not in d.dims and d[a].size == 1
    ]
    key = ("cv", raw, tuple((a, tuple(np.atleast_1d(d[a].values).tolist())) for a in axes))
    if key not in _THEORY:
        if len(_THEORY) >= 64:
            _THEORY.clear()
        _THEORY[key] = figures.theory_values(d, True, "cv")
    return _THEORY[key]


# --------------------------------------------------------------------------- reading
#: {(store, variable, selection): (chunk files signature, values)} shared by the sessions
_SLICES: dict[tuple, tuple[tuple, np.ndarray]] = {}
_SLICES_MAX = 64
#: chunk files modified this recently are not trusted to show a later change (mtime steps)
_SETTLE_S = 2.0


def chunk_signature(store: Path, name: str) -> tuple | None:
    """(path, mtime, size, inode) of every file of one variable; None when not cacheable.

    Zarr rewrites a chunk by writing a new file and renaming it over the old one, so a
    point finished since shows as a new signature. Files written in the last couple of
    seconds make the variable uncacheable (coarse file-system clocks).
    """
    root = store / name
    if not root.is_dir():
        return None
    sig = store_signature(root)
    if name == "status" and sig is not None:
        # a point's status comes from its block's marker, written after the block's data
        # (open_results): a marker written since makes a new signature too
        markers = store_signature(store / MARKERS) if (store / MARKERS).is_dir() else ()
        sig = None if markers is None else sig + tuple(markers)
    return sig


def read_slice(ds: xr.Dataset, store: Path | None, names: list[str], index: Mapping[str, int]) -> xr.Dataset:
    """``ds[names]`` at the given positions of some axes (kept as length-1 dims), in memory.

    A store's variables are cached across sessions and pages while their chunk files are
    unchanged, so a reload does not read the store again, and Refresh does read the
    points finished since.
    """
    sub = ds[names].isel({a: [i] for a, i in index.items()})
    out = {}
    for name in names:
        var = sub[name]
        sig = chunk_signature(store, name) if store is not None else None
        key = (str(store), name, tuple(sorted(index.items())))
        hit = _SLICES.get(key)
        if sig is not None and hit is not None and hit[0] == sig:
            values = hit[1]
        else:
            values = np.array(var.values)
            values.flags.writeable = False  # (shared by the sessions)
            if sig is not None:
                if len(_SLICES) >= _SLICES_MAX:
                    _SLICES.clear()
                _SLICES[key] = (sig, values)
        out[name] = xr.Variable(var.dims, values, var.attrs)
    return xr.Dataset(out, coords=sub.coords, attrs=ds.attrs)


def store_signature(store: Path) -> tuple | None:
    """(path, mtime, size, inode) of every file of a store; None while it is being written."""
    now = time.time_ns()
    sig = []
    for dirpath, _, files in os.walk(store):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            if now - st.st_mtime_ns < _SETTLE_S * 1e9:
                return None
            sig.append((dirpath, f, st.st_mtime_ns, st.st_size, st.st_ino))
    sig.sort()
    return tuple(sig)
