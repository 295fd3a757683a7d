"""The unit of work: one block of points -> its store variables (or a Dataset), and the
task that computes a block and writes it.

``simulate_block`` is the unit of work (kernel + summaries), ``block_values`` the same
as the plain arrays a sweep task writes (:func:`run_block`), ``simulate`` runs a whole
grid in this process. A block's numbers never depend on where it runs: the threads
of this process (:mod:`lifbatch.execute`) and a Dask cluster's workers
(:mod:`lifbatch.cluster`) call the same :func:`run_block`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from .adaptation import with_isi_adaptation
from .summaries import moment_values, spike_values
from .errors import RunError
from .grid import Blocking
from .layout import (
    MOMENT_SUMMARIES,
    SPIKE_SUMMARIES,
    STATUS_DONE,
    STATUS_FAILED,
    coords,
    point_bytes,
    samples,
    spike_bytes,
    variable_specs,
)
from .messages import byte_size
from .pause import pause
from .inputs import recorded_inputs
from .point import PointModel, PointResult, n_state_vars, state_names
from .provenance import worker_name
from .store import root_attrs, write_block
from .streams import block_streams
from .workflow import Workflow, load_workflow

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["simulate", "simulate_block", "block_values", "run_block"]


def simulate_block(wf: Workflow, slices: tuple[slice, ...]) -> tuple["xr.Dataset", dict[int, str]]:
    """Simulate the points of one block and summarize them.

    Returns the block's Dataset (sweep dims restricted to ``slices``) and the
    failures as {flat grid index: "ErrorType: message"}; a failed point keeps
    fill values and ``status`` 2, the others are unaffected.
    """
    values, failures, _ = block_values(wf, slices)
    return _block_dataset(wf, slices, values), failures


def block_values(wf: Workflow, slices: tuple[slice, ...]) -> tuple[dict[str, np.ndarray], dict[int, str], dict]:
    """The block's store variables as plain arrays (as the store holds them), its
    failures, and the seconds spent in the kernel loop and in the summaries.

    A block whose memory cannot be had (numpy's MemoryError: the machine, or a limit on
    the process, gives less than the caps allowed) is no point's failure: RunError, one
    line, and nothing of the block is written (it runs again on resume)."""
    try:
        return _computed_block(wf, slices)
    except MemoryError as exc:
        _WORK.moments = None  # (a half-made work array is not kept)
        n = int(np.prod([s.stop - s.start for s in slices]))
        raise RunError(
            f"a block of {n} point{'s' if n != 1 else ''} ran out of memory ({type(exc).__name__}: "
            f"{exc}); it needs ~{byte_size(n * point_bytes(wf))} (`lifbatch validate` shows it). Run fewer "
            "points per task (--points-per-task, or a smaller lifbatch.task.memory-budget) or fewer "
            "workers, or on a machine with more memory; finished blocks are kept: run the command "
            "again to resume."
        ) from None


def _computed_block(wf: Workflow, slices: tuple[slice, ...]):
    """:func:`block_values`, without its handling of MemoryError."""
    shape = tuple(s.stop - s.start for s in slices)
    n = wf.n_steps
    trials = wf.trials
    n_mom = samples(n, wf.moments_stride)
    n_rec = samples(n, wf.record_stride)
    n_bytes = spike_bytes(n)
    bits = np.zeros(shape + (trials, n_bytes), np.uint8)
    counts = np.zeros(shape + (trials,), np.int64)
    moments = _work_array(shape + (trials, n_mom))
    moments.fill(np.nan)
    traces = np.full(shape + (len(wf.record_trials), n_rec), np.nan)
    states = np.full(shape + (n_state_vars(wf), len(wf.record_trials), n_rec), np.nan) if wf.record_state else None
    status = np.full(shape, STATUS_DONE, np.int8)
    errors: dict[tuple, Exception] = {}
    # Each point's parameters and random streams first, then the kernel point
    # after point with as little Python as possible in between: the kernel
    # evicts the interpreter from the CPU caches, so per-point Python set-up
    # interleaved with it ran several times slower than in a batch.
    points = []
    for local in np.ndindex(shape) if shape else [()]:
        index = tuple(s.start + i for s, i in zip(slices, local))
        try:
            points.append((local, wf.point_params(index)))
        except MemoryError:
            raise  # the block's, not the point's
        except Exception as exc:  # isolate the point: record, keep going
            errors[local] = exc
    # every point's stream states in one kernel call per stream (numpy's seeding, bit for bit)
    todo = [
        (local, params, streams) for (local, params), streams in zip(points, block_streams(wf, [p for _, p in points]))
    ]
    # The kernel writes straight into the block's arrays, and one work space serves
    # every point: no per-point allocations (dask workers return freed memory to
    # the OS eagerly, MALLOC_TRIM_THRESHOLD_, so each one would cost page faults).
    model = PointModel(wf)
    scratch = model.scratch()
    t0 = time.perf_counter()
    for local, params, streams in todo:
        out = PointResult(bits=bits[local], counts=counts[local], moments=moments[local], traces=traces[local])
        if states is not None:
            out.states = states[local]
        try:
            model.simulate(params, out=out, scratch=scratch, streams=streams)
        except MemoryError:
            raise  # the block's, not the point's
        except Exception as exc:
            errors[local] = exc
    kernel_seconds = time.perf_counter() - t0
    blown_up = ~np.isfinite(moments).all(axis=(-2, -1))
    for at in np.argwhere(blown_up):  # (also for a grid of one point: shape ())
        errors.setdefault(
            tuple(int(i) for i in at),
            FloatingPointError("V became NaN or infinite (numerical blow-up); reduce dt or check the inputs"),
        )
    failures: dict[int, str] = {}
    for local, err in sorted(errors.items()):
        index = tuple(s.start + i for s, i in zip(slices, local))
        flat = int(np.ravel_multi_index(index, wf.shape)) if wf.shape else 0
        failures[flat] = f"{type(err).__name__}: {err}"
        status[local] = STATUS_FAILED
        bits[local] = 0  # fill values again: a failed point has no data
        counts[local] = 0
        moments[local] = np.nan
        traces[local] = np.nan
        if states is not None:
            states[local] = np.nan
    t0 = time.perf_counter()
    values = _summarized(wf, bits, counts, moments, traces, status)
    values.update(_recorded(wf, todo, states, status, shape, n_rec))
    return values, failures, {"kernel": kernel_seconds, "summaries": time.perf_counter() - t0}


def _recorded(wf, points, states, status, shape, n_rec) -> dict[str, np.ndarray]:
    """The state variables (record.state) and inputs (record.inputs) recorded beside V, as the
    store holds them; NaN at failed points."""
    out = {}
    if wf.record_state:
        order = state_names(wf)
        for name in wf.record_state:
            out[name] = np.ascontiguousarray(states[..., order.index(name), :, :])
            if wf.model == "lif" and name.startswith("g_") and wf.voltage_unit != "1":
                # the LIF's loop holds g r_m (its drives are voltages): siemens again
                for local, params, _ in points:
                    out[name][local] /= params["neuron.r_m"]
    if wf.record_inputs:
        arrays = {name: np.full(shape + (len(wf.record_trials), n_rec), np.nan) for name in wf.record_inputs}
        for local, params, _ in points:
            if status[local] != STATUS_FAILED:
                recorded_inputs(wf, params, {name: a[local] for name, a in arrays.items()})
        out.update({f"input_{name}": a for name, a in arrays.items()})
    return out


_WORK = threading.local()


def _work_array(shape: tuple[int, ...]) -> np.ndarray:
    """The block's V samples for the summaries (its largest array, not stored): kept
    by the thread from one block to the next. Dask workers return freed memory to
    the OS at once (``MALLOC_TRIM_THRESHOLD_``), so a fresh array per block paid
    its page faults every time."""
    buf = getattr(_WORK, "moments", None)
    if buf is None or buf.shape != shape:
        _WORK.moments = None  # free the old one first
        buf = _WORK.moments = np.empty(shape)
    return buf


def _summarized(wf, bits, counts, moments, traces, status) -> dict[str, np.ndarray]:
    """Raw outputs and their summaries, each as the store holds it (``variable_specs``).

    numpy only (:mod:`summaries`' numpy functions, which ``lifbatch summarize`` runs
    through xarray): a sweep task needs no xarray.
    """
    spikes = spike_values(bits, dt=wf.dt, n_steps=wf.n_steps, warmup=wf.warmup, isi_edges=wf.isi_edges)
    mom = moment_values(moments, warmup=wf.v_warmup, every=wf.moments_every, max_lag=wf.max_lag)
    failed = status == STATUS_FAILED
    values = {"spike_count": counts, "spike_bits": bits, "status": status}
    if wf.record_trials:
        values["v"] = traces
    for name, arr in zip(SPIKE_SUMMARIES, spikes):
        if failed.any():
            arr = arr.copy()
            arr[failed] = np.nan if arr.dtype.kind == "f" else 0
        values[name] = arr
    values.update(zip(MOMENT_SUMMARIES, mom))
    return {
        name: np.asarray(values[name]).astype(dtype, copy=False)
        for name, (_, dtype, _, _) in variable_specs(wf).items()
        if name in values
    }


def _block_dataset(wf, slices, values: dict[str, np.ndarray]) -> "xr.Dataset":
    """The block's labelled Dataset: its variables, coordinates and attrs.

    Built from ``xarray.Variable`` objects in one constructor call: assigning
    DataArrays one by one aligns their indexes each time, which cost more than
    the summaries themselves. Sweep tasks skip it: they write the arrays.
    """
    import xarray as xr  # (deferred: a task writes its block without xarray; `simulate` builds a Dataset)

    axes = wf.axis_names
    block_coords = {}
    for name, (dim, vals, *attrs) in coords(wf).items():
        if dim in axes:
            vals = vals[slices[axes.index(dim)]]
        block_coords[name] = (dim, vals, *attrs)
    data_vars = {
        name: xr.Variable(axes + dims, values[name], dict(attrs))
        for name, (dims, _, _, attrs) in variable_specs(wf).items()
    }
    return xr.Dataset(data_vars, coords=block_coords)


# --------------------------------------------------------------------------- #
# in memory
# --------------------------------------------------------------------------- #
def simulate(workflow, *, overrides=None) -> "xr.Dataset":
    """Simulate a whole workflow in this process (no cluster, no store).

    Gives the same numbers as ``run_sweep`` (bit for bit), in memory.

    Examples
    --------
    >>> ds = simulate("workflows/quickstart.yaml")            # doctest: +SKIP
    >>> ds.rate                                               # doctest: +SKIP
    """
    wf = workflow if isinstance(workflow, Workflow) else load_workflow(workflow, overrides)
    slices = tuple(slice(0, n) for n in wf.shape)
    ds, failures = simulate_block(wf, slices)
    ds.attrs = root_attrs(wf)
    if failures:
        ds.attrs["failures"] = str(failures)
    return with_isi_adaptation(ds)  # (derived from the spikes, as open_results does: never stored)


def run_block(wf: Workflow, store: str, chunks: tuple[int, ...], flat: int, written=None, fence=None) -> dict:
    """Compute block ``flat`` and write it; its marker. ``written()`` (if given) returns the
    block's marker when the block was written meanwhile by another task: then the block is
    not computed, or not written, again (:func:`lifbatch.cluster.run_block_once`). ``fence``
    (:class:`lifbatch.lease.Fence`): its holder's own part checked before the block is
    computed (no request: nothing is written yet), the whole check, the lease read, before its
    data and before its marker are written (store.write_block)."""
    if fence is not None:
        fence.check(read=False)

    if written is not None and (marker := written()) is not None:
        return marker
    started = time.time()
    blocking = Blocking(shape=wf.shape, chunks=tuple(chunks))
    block_id = blocking.block_id(flat)
    values, failures, timing = block_values(wf, blocking.slices(block_id))
    pause("block-computed")  # (tests stop a run here: a block computed, not yet written)
    if written is not None and (marker := written()) is not None:
        return marker
    return write_block(
        wf,
        store,
        blocking,
        block_id,
        values,
        failures=failures,
        started=started,
        timing=timing,
        worker=worker_name(),
        fence=fence,
    )
