"""Progress of a sweep, read from its store alone (any machine that can read it)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import zarr

from .identity import describe_summaries, summary_settings
from .layout import ROUND, SAMPLE, sampled_params
from .lease import describe, lease_state, read_lease, stale_reason
from .storage import of
from .store import (
    STATUS_DONE,
    STATUS_FAILED,
    STATUS_PENDING,
    marker_status,
    open_results,
    read_consistently,
    read_markers,
)

__all__ = ["store_status", "StoreStatus", "describe_design", "silent_points"]


def silent_points(store) -> tuple[int, int] | None:
    """(done points without a spike after the warmup in any trial, done points), read with
    Zarr alone (``run`` imports no xarray); None for a store without ``rate``."""

    root = zarr.open_group(of(store).zarr_store(read_only=True), mode="r", zarr_format=3)
    if "rate" not in root:
        return None
    shape = tuple(cast(zarr.Array, root["status"]).shape)  # (the layout's arrays, not groups)
    status = marker_status(store, shape, tuple(json.loads(str(root.attrs["chunks"]))))
    done = status == STATUS_DONE
    rate = np.asarray(cast(zarr.Array, root["rate"])[...])
    return int(np.count_nonzero(done & (rate == 0))), int(np.count_nonzero(done))


@dataclass
class StoreStatus:
    store: str
    name: str
    points: int
    done: int
    failed: int
    pending: int
    elapsed: float | None
    remaining: float | None
    failures: dict = field(default_factory=dict)
    summaries: str | None = None  # the settings the store's summaries were computed with
    run: str = "none"  # the lease: "live" (a run is writing), "stale" (its run died), "none"
    run_by: str | None = None  # who holds a live (or held a stale) lease
    design: str | None = None  # a sampled design: its method, points, refinement rounds and grid axes
    run_note: str | None = None  # why a lease is stale although recent (lease.stale_reason), or that a
    # detached sweep's scheduler has no workers

    def format(self) -> str:
        pct = 100.0 * (self.done + self.failed) / max(1, self.points)
        lines = [f"store     {self.store} ({self.name})"]
        if self.design:
            lines.append(f"design    {self.design}")
        lines.append(
            f"points    {self.points}: {self.done} done, {self.failed} failed, {self.pending} pending ({pct:.0f}%)"
        )
        if self.run == "live":
            lines.append(f"run       live: {self.run_by}")
            if self.run_note:
                lines.append(f"          {self.run_note}")
        elif self.pending:
            stale = f" (the last one, {self.run_by}, stopped without ending)" if self.run == "stale" else ""
            lines.append(f"run       none is live{stale}: `lifbatch run` with the same workflow resumes")
            if self.run_note:
                lines.append(f"          {self.run_note}")
        if self.elapsed is not None:
            lines.append(f"elapsed   {_hms(self.elapsed)}")
        if self.pending and self.remaining is not None and self.run == "live" and not self.run_note:
            lines.append(f"remaining ~{_hms(self.remaining)} at the rate so far")
        if self.summaries:
            lines.append(f"summaries {self.summaries}")
        for flat, msg in sorted(self.failures.items())[:10]:
            lines.append(f"failed    point {flat}: {msg}")
        if len(self.failures) > 10:
            lines.append(f"failed    ... and {len(self.failures) - 10} more")
        return "\n".join(lines)


def _hms(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def describe_design(ds) -> str | None:
    """A sampled design in one line ("sobol: 8 points of mu, sigma (+ 4 added in 1 round)
    x tref=3"), from the store's coordinates and workflow; None for a grid."""
    if SAMPLE not in ds.dims or SAMPLE not in ds["status"].dims:
        return None
    try:
        method = json.loads(ds.attrs["workflow"])["sample"].get("method", "sobol")
    except (KeyError, TypeError, ValueError, AttributeError):
        method = "sampled"
    n = ds.sizes[SAMPLE]
    rounds = np.asarray(ds[ROUND].values, np.int64) if ROUND in ds.coords else np.zeros(n, np.int64)
    design = int(np.count_nonzero(rounds == 0))
    params = ", ".join(sampled_params(ds)) or "?"
    text = f"{method}: {design} point{'s' if design != 1 else ''} of {params}"
    added = sorted(int(k) for k in set(rounds.tolist()) if k > 0)
    if added:
        counts = [int(np.count_nonzero(rounds == k)) for k in added]
        per = f": {', '.join(str(c) for c in counts)}" if len(counts) > 1 else ""
        text += f" (+ {sum(counts)} added in {len(counts)} round{'s' if len(counts) > 1 else ''}{per})"
    grid = [d for d in ds["status"].dims if d != SAMPLE]
    if grid:
        text += " x " + " x ".join(f"{d}={ds.sizes[d]}" for d in grid)
    return text


def store_status(store) -> StoreStatus:
    """Progress from the store alone: points done (their block's marker exists), failed and
    pending, elapsed time, and whether a run is live (its lease, :mod:`lifbatch.lease`);
    read again if a summarize or a growth committed meanwhile."""
    return read_consistently(store, lambda: _store_status(store))


def _store_status(store) -> StoreStatus:
    ds = open_results(store)
    status = np.asarray(ds["status"].values)
    done = int(np.count_nonzero(status == STATUS_DONE))
    failed = int(np.count_nonzero(status == STATUS_FAILED))
    pending = int(np.count_nonzero(status == STATUS_PENDING))
    markers = read_markers(store)
    failures = {}
    for m in markers:
        failures.update({int(k): v for k, v in m.get("failures", {}).items()})
    elapsed = remaining = None
    finished = [m["finished"] for m in markers if m.get("finished")]
    starts = [m["finished"] - (m.get("seconds") or 0) for m in markers if m.get("finished")]
    if finished:
        t0 = min(starts)
        t1 = max(finished) if not pending else time.time()
        elapsed = t1 - t0
        rate = (done + failed) / max(max(finished) - t0, 1e-9)
        remaining = pending / rate if rate > 0 else None

    held = read_lease(store)
    run = lease_state(held)
    note = stale_reason(held)
    if note:
        note = f"its lease file cannot be trusted: {note}; the next `lifbatch run` takes it over"
    elif held and held.get("detached") and held.get("workers") == 0:
        note = (
            "the detached sweep's Dask scheduler has no workers, so it is not progressing"
            + (" and has given the store up" if held.get("abandoned") else "")
            + ": start workers for it, or once its lease lapses (lifbatch.lease.timeout + margin) "
            "`lifbatch run` resumes the sweep here"
        )
    canonical = ds.attrs.get("canonical")
    summaries = describe_summaries(summary_settings(canonical)) if canonical else None
    return StoreStatus(
        store=str(store),
        name=ds.attrs.get("name", "?"),
        points=int(status.size),
        done=done,
        failed=failed,
        pending=pending,
        elapsed=elapsed,
        remaining=remaining,
        failures=failures,
        summaries=summaries,
        run=run,
        run_by=describe(held) if held else None,
        design=describe_design(ds),
        run_note=note,
    )
