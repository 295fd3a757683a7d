"""Running sweeps: a block of points -> Dataset, and the Dask execution of all blocks.

``simulate_block`` is the unit of work (kernel + summaries);
``simulate`` runs the whole grid in this process; ``run_sweep`` runs one Dask
task per block on a local or remote cluster, each writing its own Zarr region.
"""

from __future__ import annotations

import json
import os
import shutil
from functools import partial
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import config
from .analysis import MOMENT_SUMMARIES, SPIKE_SUMMARIES, moment_values, spike_values
from . import lease
from .errors import RunError, StoreError, WorkflowError
from .layout import GROW
from .pause import pause
from . import control
from .grid import Blocking
from .inputs import block_streams
from .point import PointModel, PointResult, n_state_vars
from .layout import MARKERS, STATUS_DONE, STATUS_FAILED, coords, variable_specs
from .lease import keep_on_scheduler
from .plan import estimate, plan_blocks, plan_sweep
from .store import (add_run, begin_creation, clear_store, create_store, done_blocks, inspect_store, read_marker,
                    read_markers, refuse_dangling_link, root_attrs, store_generation, verify_store, with_summaries,
                    write_block)
from .workflow import Workflow, load_workflow

__all__ = ["simulate", "simulate_block", "run_sweep", "plan_blocks", "SweepResult", "estimate", "embedded_cluster"]


# --------------------------------------------------------------------------- #
# one block
# --------------------------------------------------------------------------- #
def simulate_block(wf: Workflow, slices: tuple[slice, ...]) -> tuple["xr.Dataset", dict[int, str]]:
    """Simulate the points of one block and summarize them.

    Returns the block's Dataset (sweep dims restricted to ``slices``) and the
    failures as {flat grid index: "ErrorType: message"}; a failed point keeps
    fill values and ``status`` 2, the others are unaffected.
    """
    values, failures, _ = _block_values(wf, slices)
    return _block_dataset(wf, slices, values), failures


def _block_values(wf: Workflow, slices: tuple[slice, ...]) -> tuple[dict[str, np.ndarray], dict[int, str], dict]:
    """The block's store variables as plain arrays (as the store holds them), its
    failures, and the seconds spent in the kernel loop and in the summaries.

    A block whose memory cannot be had (numpy's MemoryError: the machine, or a limit on
    the process, gives less than the caps allowed) is no point's failure: RunError, one
    line, and nothing of the block is written (it runs again on resume)."""
    try:
        return _computed_block(wf, slices)
    except MemoryError as exc:
        from .layout import point_bytes
        from .workflow import _bytes

        _WORK.moments = None  # (a half-made work array is not kept)
        n = int(np.prod([s.stop - s.start for s in slices]))
        raise RunError(f"a block of {n} point{'s' if n != 1 else ''} ran out of memory ({type(exc).__name__}: "
                       f"{exc}); it needs ~{_bytes(n * point_bytes(wf))} (`lifbatch validate` shows it). Run fewer "
                       "points per task (--points-per-task, or a smaller lifbatch.task.memory-budget) or fewer "
                       "workers, or on a machine with more memory; finished blocks are kept: run the command "
                       "again to resume.") from None


def _computed_block(wf: Workflow, slices: tuple[slice, ...]):
    """:func:`_block_values`, without its handling of MemoryError."""
    shape = tuple(s.stop - s.start for s in slices)
    n = wf.n_steps
    trials = wf.trials
    n_mom = n // wf.moments_stride + 1
    n_rec = n // wf.record_stride + 1
    n_bytes = (n + 7) // 8
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
    points = [(local, params, streams)
              for (local, params), streams in zip(points, block_streams(wf, [p for _, p in points]))]
    # The kernel writes straight into the block's arrays, and one work space serves
    # every point: no per-point allocations (dask workers return freed memory to
    # the OS eagerly, MALLOC_TRIM_THRESHOLD_, so each one would cost page faults).
    model = PointModel(wf)
    scratch = model.scratch()
    t0 = time.perf_counter()
    for local, params, streams in points:
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
    for local in np.argwhere(blown_up):  # (also for a grid of one point: shape ())
        errors.setdefault(tuple(int(i) for i in local), FloatingPointError(
            "V became NaN or infinite (numerical blow-up); reduce dt or check the inputs"))
    failures: dict[int, str] = {}
    for local, exc in sorted(errors.items()):
        index = tuple(s.start + i for s, i in zip(slices, local))
        flat = int(np.ravel_multi_index(index, wf.shape)) if wf.shape else 0
        failures[flat] = f"{type(exc).__name__}: {exc}"
        status[local] = STATUS_FAILED
        bits[local] = 0  # fill values again: a failed point has no data
        counts[local] = 0
        moments[local] = np.nan
        traces[local] = np.nan
        if states is not None:
            states[local] = np.nan
    t0 = time.perf_counter()
    values = _summarized(wf, bits, counts, moments, traces, status)
    values.update(_recorded(wf, points, states, status, shape, n_rec))
    return values, failures, {"kernel": kernel_seconds, "summaries": time.perf_counter() - t0}


def _recorded(wf, points, states, status, shape, n_rec) -> dict[str, np.ndarray]:
    """The state variables (record.state) and inputs (record.inputs) recorded beside V, as the
    store holds them; NaN at failed points."""
    out = {}
    if wf.record_state:
        from .point import state_names

        order = state_names(wf)
        for name in wf.record_state:
            out[name] = np.ascontiguousarray(states[..., order.index(name), :, :])
            if wf.model == "lif" and name.startswith("g_") and wf.voltage_unit != "1":
                # the LIF's loop holds g r_m (its drives are voltages): siemens again
                for local, params, _ in points:
                    out[name][local] /= params["neuron.r_m"]
    if wf.record_inputs:
        from .inputs import recorded_inputs

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

    numpy only (:mod:`analysis`' numpy functions, which ``lifbatch summarize`` runs
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
    return {name: np.asarray(values[name]).astype(dtype, copy=False)
            for name, (_, dtype, _, _) in variable_specs(wf).items() if name in values}


def _block_dataset(wf, slices, values: dict[str, np.ndarray]) -> "xr.Dataset":
    """The block's labelled Dataset: its variables, coordinates and attrs.

    Built from ``xarray.Variable`` objects in one constructor call: assigning
    DataArrays one by one aligns their indexes each time, which cost more than
    the summaries themselves. Sweep tasks skip it: they write the arrays.
    """
    import xarray as xr

    axes = wf.axis_names
    block_coords = {}
    for name, (dim, vals, *attrs) in coords(wf).items():
        if dim in axes:
            vals = vals[slices[axes.index(dim)]]
        block_coords[name] = (dim, vals, *attrs)
    data_vars = {name: xr.Variable(axes + dims, values[name], dict(attrs))
                 for name, (dims, _, _, attrs) in variable_specs(wf).items()}
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
    from .analysis import with_isi_adaptation

    return with_isi_adaptation(ds)


# --------------------------------------------------------------------------- #
# the sweep on a Dask cluster
# --------------------------------------------------------------------------- #
@dataclass
class SweepResult:
    store: str
    points: int
    blocks: int
    blocks_run: int
    blocks_skipped: int
    failures: dict = field(default_factory=dict)
    seconds: float = 0.0
    detached: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures


def _run_block(wf: Workflow, store: str, chunks: tuple[int, ...], flat: int, written=None, fence=None) -> dict:
    """Compute block ``flat`` and write it; its marker. ``written()`` (if given) returns the
    block's marker when the block was written meanwhile by another task: then the block is
    not computed, or not written, again (:func:`_run_block_once`). ``fence``
    (:class:`lifbatch.lease.Fence`): checked before the block is computed, and before its
    data and its marker are written (store.write_block)."""
    if fence is not None:
        fence.check()
    from .provenance import worker_name

    if written is not None and (marker := written()) is not None:
        return marker
    started = time.time()
    blocking = Blocking(shape=wf.shape, chunks=tuple(chunks))
    block_id = blocking.block_id(flat)
    values, failures, timing = _block_values(wf, blocking.slices(block_id))
    _phase("block-computed")  # (tests stop a run here: a block computed, not yet written)
    if written is not None and (marker := written()) is not None:
        return marker
    return write_block(wf, store, blocking, block_id, values, failures=failures, started=started, timing=timing,
                       worker=worker_name(), fence=fence)


def _reads(path: str, token: str) -> bool:
    try:
        return Path(path).read_text() == token
    except OSError:
        return False


def _check_workers_see(client, store: str, pause=lambda phase: None) -> None:
    """StoreError unless every worker reads a file this process writes at the store's
    path (the same file system, not only a directory of the same name); nothing is
    left behind: the file goes, and so does the store's directory if made for it."""
    import uuid

    root = Path(store)
    made = not root.exists()
    (root / MARKERS.parent).mkdir(parents=True, exist_ok=True)
    probe = root / MARKERS.parent / f"visible-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    try:
        probe.write_text(token)
        pause("probe")
        blind = [w for w, ok in client.run(_reads, str(probe), token).items() if not ok]
    finally:
        probe.unlink(missing_ok=True)
        if made:
            shutil.rmtree(root, ignore_errors=True)
    if blind:
        raise StoreError(f"workers {blind} cannot see the store '{store}'. Put the store on a file system "
                         "every worker mounts at the same path (see cluster/README.md).")


def _cluster_dask_config() -> dict:
    """``lifbatch.cluster.dask-config`` as dotted keys, whether written dotted (as in
    lifbatch.yaml) or nested (as ``DASK_LIFBATCH__CLUSTER__DASK_CONFIG__...`` variables
    give it): ``dask.config.set`` would replace a whole subtree given as a mapping."""
    def dotted(mapping, prefix=""):
        for key, value in mapping.items():
            if isinstance(value, dict):
                yield from dotted(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    return dict(dotted(config.get("cluster.dask-config") or {}))


def embedded_cluster(n_workers: int, *, dashboard_address: str | None = "127.0.0.1:0"):
    """The ``LocalCluster`` that ``run_sweep`` starts without a scheduler: ``n_workers``
    processes of ``lifbatch.cluster.threads-per-worker`` threads on 127.0.0.1, with the
    Dask settings of ``lifbatch.cluster.dask-config`` (lifbatch.yaml: Dask's monitoring
    less often, no sampling profiler), which its processes take when they start."""
    import logging

    import dask
    from distributed import LocalCluster

    with dask.config.set(_cluster_dask_config()):
        return LocalCluster(n_workers=n_workers, threads_per_worker=int(config.get("cluster.threads-per-worker")),
                            processes=True, host="127.0.0.1", dashboard_address=dashboard_address,
                            silence_logs=logging.ERROR)


def _cluster_processes(processes: bool | None) -> bool:
    return bool(config.get("cluster.processes") if processes is None else processes)


class _BlockThreads:
    """The embedded execution without a cluster: ``n`` daemon threads of this process
    run the blocks (the kernel and the summaries' loops release the GIL).

    ``results()`` yields each block's marker as it finishes; the first block that
    raises stops the others from starting, and its exception is raised there once the
    running ones have ended. ``cancel()`` keeps blocks not yet started from starting.
    Daemon threads: an interrupted run does not wait for its running blocks at exit
    (a block whose marker is not written is simply run again on resume).
    """

    def __init__(self, fn, items, n: int):
        import queue

        self._todo = queue.SimpleQueue()
        for item in items:
            self._todo.put(item)
        self._n_items = len(items)
        self._done = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(fn,), name=f"lifbatch-block-{i}", daemon=True)
                         for i in range(max(1, min(n, len(items))))]
        for t in self._threads:
            t.start()

    def _work(self, fn):
        import queue

        while not self._stop.is_set():
            try:
                item = self._todo.get_nowait()
            except queue.Empty:
                break
            try:
                self._done.put((fn(item), None))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._stop.set()
                self._done.put((None, exc))
        self._done.put(None)  # this thread has ended

    def cancel(self) -> None:
        self._stop.set()

    def results(self):
        running = len(self._threads)
        error = None
        while running:
            # a timeout, so that Ctrl-C reaches the main thread at once
            try:
                item = self._done.get(timeout=0.2)
            except Exception:  # queue.Empty
                continue
            if item is None:
                running -= 1
                continue
            marker, exc = item
            if exc is not None:
                error = error or exc
            else:
                yield marker
        if error is not None:
            raise error


def run_sweep(workflow, store=None, *, client=None, scheduler: str | None = None, workers: int | None = None,
              points_per_task: int | None = None, overwrite: bool = False, progress: bool = True,
              overrides=None, log=None, retry_failed: bool = False, detach: bool = False,
              processes: bool | None = None, repair: bool = False, workflow_path=None,
              cluster: str | None = None, jobs: int | None = None, adapt: tuple[int, int] | None = None
              ) -> SweepResult:
    """Run a sweep and write it to a Zarr store: in threads of this process, or on a Dask cluster.

    Parameters
    ----------
    workflow : Workflow, path or mapping
    store : path of the Zarr store (default ``results/<name>.zarr``); every worker must see it
    client : an existing ``distributed.Client``; else ``scheduler`` (address); else the
        embedded execution: ``workers`` threads of this process (default: one per CPU it may use,
        :func:`config.available_cpus`), or
        with ``processes=True`` an embedded ``LocalCluster`` of ``workers`` processes
    points_per_task : block size; default sized from the memory budget (see :func:`plan_blocks`),
        for the cluster's task slots (its workers' threads)
    overwrite : replace a lifbatch store of another workflow (nothing else) instead of refusing it
    retry_failed : run again the blocks whose points failed in an earlier run
    repair : verify the store's chunks first (:func:`store.verify_store`) and run again the
        blocks whose data are missing or corrupt
    detach : submit to the (remote) cluster and return at once; follow with ``lifbatch status``
    workflow_path : the workflow's file, for the store's provenance (its sha256, its git commit);
        taken from ``workflow`` when that is a path
    overrides : ``--set`` values (a mapping or "KEY=VALUE" strings) applied to ``workflow`` when it
        is a path or mapping; recorded in the store's provenance in any case
    cluster : "slurm" or "pbs": a dask-jobqueue cluster from Dask's own jobqueue configuration
        (``jobqueue.slurm.*``; cluster/README.md), with ``jobs`` jobs (default 1) or adaptive
        between ``adapt = (min, max)`` jobs; its jobs are released when the run ends
    processes : embedded execution in worker processes (default ``lifbatch.cluster.processes``,
        false: threads, which start in no time; the results are the same bit for bit)

    The run holds the store's lease (:mod:`lifbatch.lease`) from before it touches
    the store until it ends; a second run on the store is refused while it lives.
    Re-running on an existing store of the same workflow resumes (finished blocks are
    skipped), also after a run stopped while creating the store.
    """
    if workflow_path is None and isinstance(workflow, (str, os.PathLike)):
        workflow_path = workflow
    wf = workflow if isinstance(workflow, Workflow) else load_workflow(workflow, overrides)
    store = store if store is not None else Path("results") / f"{wf.name}.zarr"
    refuse_dangling_link(store)  # (resolved, the link would be gone, and its target made)
    store = str(Path(store).resolve())
    log = log or (lambda msg: print(msg, file=sys.stderr))
    started = time.time()
    if workers is not None and int(workers) < 1:
        raise WorkflowError(f"`--workers` must be >= 1, got {workers}. Example: --workers 2", "--workers", workers)
    n_workers = workers or config.available_cpus()
    if detach and client is None and not scheduler:
        raise WorkflowError("`--detach` needs a running cluster: give --scheduler tcp://HOST:PORT "
                            "(an embedded or --cluster scheduler ends with this process; cluster/README.md).",
                            "--detach", True)
    if cluster is not None:
        cluster = _check_batch_cluster(cluster, jobs, adapt, scheduler=scheduler, client=client)
    threaded = client is None and not scheduler and cluster is None and not _cluster_processes(processes)
    options = dict(overwrite=overwrite, retry_failed=retry_failed, points_per_task=points_per_task)
    # a first look: bad options and paths are refused before anything is touched
    plan = plan_sweep(wf, inspect_store(store), **options)
    if plan.source is not None:
        wf = load_workflow(json.loads(plan.source), limits=False)  # the store's design, grown
    if not plan.new and not plan.blocks and not repair and not (Path(store) / GROW).exists():
        return _result(wf, store, plan, started)  # nothing to do: no lease needed
    made = _make_store_dir(store)
    try:
        _phase("store-dir")  # (tests stall a run here: its directory made, the lease not yet taken)
        held = lease.acquire(store, log=log)
    except OSError as exc:
        _remove_if_empty(store, made)
        raise RunError(f"cannot take the lease on the store '{store}' ({_os_reason(exc)}): nothing was written; "
                       "fix that, then run the same command again.") from None
    except BaseException:
        # refused (another run holds the store) or interrupted: remove only what this run made
        # and nothing else put there since (the run that won may be creating the store in it)
        _remove_if_empty(store, made)
        raise
    handed_over = False
    try:
        _phase("lease")
        # the second look, under the lease: what another run did meanwhile counts, and an
        # interrupted summarize or growth is finished (or discarded) first
        control.recover(store, held.fence(), log)
        state = inspect_store(store)
        bad = frozenset()
        if repair and state.kind == "store" and _same_simulation(state, wf):
            from .store import restore_arrays

            restore_arrays(store)  # arrays lost as a whole: written again, their blocks then recomputed
            report = verify_store(store)
            bad = frozenset(report.bad_blocks)
            log(report.format())
        plan = plan_sweep(wf, state, repair=bad, **options)
        if plan.source is not None:
            wf = load_workflow(json.loads(plan.source), limits=False)
        if plan.note:
            log(plan.note)
        if plan.summaries is not None:
            wf = with_summaries(wf, plan.summaries)  # the store's own summary settings
        result = _result(wf, store, plan, started, run=True)
        if plan.new or plan.blocks:
            record = partial(_provenance, wf, workflow_path, overrides=overrides)
            # a new store gets a new generation: markers of an older one (a writer that lost
            # its lease and woke in the window of its last check) do not count in it
            fence = held.fence(uuid.uuid4().hex if plan.new else store_generation(store))
            if threaded:
                _run_in_threads(wf, store, plan, result, n_workers=n_workers, progress=progress, log=log,
                                points_per_task=points_per_task, lease=held, provenance=record, fence=fence)
            else:
                handed_over = _run_on_cluster(wf, store, plan, result, client=client, scheduler=scheduler,
                                              n_workers=n_workers, points_per_task=points_per_task,
                                              progress=progress, log=log, detach=detach, lease=held,
                                              provenance=record, batch=(cluster, jobs, adapt), fence=fence)
    except BaseException:
        if made and not held.lost and inspect_store(store).kind in ("empty", "creating") and not _has_blocks(store):
            # nothing but what this run began, and the store still its own: leave no trace
            held.release()
            shutil.rmtree(store, ignore_errors=True)
        raise
    finally:
        if not handed_over:
            held.release()
    if result.detached:
        result.seconds = time.time() - started
        return result
    # the block markers hold every failure, of this run and of earlier ones
    for m in read_markers(store):
        result.failures.update({int(k): v for k, v in m["failures"].items()})
    result.seconds = time.time() - started
    return result


def _same_simulation(state, wf) -> bool:
    """Whether the store in ``state`` holds ``wf``'s simulation: summarize, refine and fit change
    its fingerprint, not that (a store older than the simulation identity: its fingerprint)."""
    from .store import simulation_identity

    if state.simulation is None:
        return state.fingerprint == wf.fingerprint
    return state.simulation == simulation_identity(wf.canonical)


_phase = pause  # (lifbatch.pause: where the tests stop a run)


def _make_store_dir(store) -> list[Path]:
    """Make the store's directory (and missing parents); the directories this made, deepest
    first."""
    made = []
    path = Path(store)
    while not path.exists():
        made.append(path)
        path = path.parent
    Path(store).mkdir(parents=True, exist_ok=True)
    return made


def _remove_if_empty(store, made: list[Path]) -> None:
    """Remove the directories this run made (:func:`_make_store_dir`) that are still empty but
    for the control group it made: never what another run created in them meanwhile."""
    control = Path(store) / MARKERS.parent
    if made:
        try:
            control.rmdir()
        except OSError:
            pass
    for path in made:
        try:
            path.rmdir()
        except OSError:
            return  # not empty: another run's store (or anything else) is there now


def _provenance(wf, workflow_path, cluster: dict, *, overrides=None) -> dict:
    from .provenance import collect

    return collect(wf, workflow_path=workflow_path, cluster=cluster, overrides=overrides)


def _has_blocks(store) -> bool:
    d = Path(store) / MARKERS
    return d.is_dir() and any(d.glob("*/zarr.json"))


def _result(wf, store, plan, started, *, run: bool = False) -> SweepResult:
    n_blocks = 0 if plan.new else len(plan.blocks) + plan.skipped
    res = SweepResult(store=store, points=wf.n_points, blocks=n_blocks,
                      blocks_run=0 if plan.new else len(plan.blocks), blocks_skipped=plan.skipped)
    if not run:
        for m in read_markers(store):
            res.failures.update({int(k): v for k, v in m["failures"].items()})
        res.seconds = time.time() - started
    return res


def _check_lease(held) -> None:
    if held is not None and held.lost:
        raise RunError(f"this run lost its lease on the store '{held.store}' (another run took it over: was this "
                       "one stopped for longer than lifbatch.lease.timeout?); stopping. Finished blocks are kept.")


def _prepare(wf, store: str, plan, points_per_task, slots: int, result: SweepResult,
             provenance: dict | None = None, fence=None) -> tuple[Blocking, list]:
    """The blocks to run and, for a new store, its directory made ready (the old store or an
    interrupted creation removed, the creation marker written): under the lease. A resumed
    store gets this run's ``provenance`` appended to its ``runs``."""
    if fence is not None:
        fence.check()
    if not plan.new:
        if provenance is not None:
            add_run(store, provenance)
        return Blocking(shape=wf.shape, chunks=plan.chunks), list(plan.blocks)
    blocking = plan_blocks(wf, points_per_task=points_per_task, workers=slots)
    result.blocks = result.blocks_run = blocking.n_blocks
    if plan.replace:
        clear_store(store)
    begin_creation(wf, store)
    (Path(store) / MARKERS).mkdir(parents=True, exist_ok=True)
    _phase("prepared")
    return blocking, list(range(blocking.n_blocks))


def _run_in_threads(wf, store, plan, result, *, n_workers, progress, log, points_per_task, lease,
                    provenance, fence=None) -> None:
    record = provenance({"kind": "threads", "workers": n_workers})
    blocking, todo = _prepare(wf, store, plan, points_per_task, n_workers, result, record, fence)
    threads = min(n_workers, len(todo))
    log(f"running in {threads} thread{'s' if threads != 1 else ''} of this process")
    compiling = bool(todo) and _announce_compiling(log)
    chunks = blocking.chunks
    pool = _BlockThreads(lambda flat: _run_block(wf, store, chunks, flat, fence=fence), todo, n_workers)
    try:
        if plan.new:
            _create_template(wf, store, blocking, pool.cancel, record, fence)
        _follow(wf, store, _watched(pool.results(), lease), progress, log, pool.cancel, compiling=compiling)
    except BaseException:
        pool.cancel()
        raise


def _watched(markers, held):
    for marker in markers:
        _check_lease(held)
        yield marker
    _check_lease(held)


def _create_template(wf, store: str, blocking: Blocking, cancel, provenance: dict | None = None,
                     fence=None) -> None:
    """Write a new store's template while the first blocks compute (they wait for it
    before writing); ``cancel()`` the blocks when it cannot be written."""
    try:
        create_store(wf, store, blocking, pause=_phase, provenance=provenance, fence=fence)
        _phase("template-written")
    except OSError as exc:
        cancel()
        raise RunError(f"cannot write the store's template in '{store}' ({_os_reason(exc)}); nothing of the "
                       "sweep is lost: fix that, then run the same command again.") from None
    except BaseException:
        cancel()
        raise


def _os_reason(exc: OSError) -> str:
    import errno

    names = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
             errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}
    return names.get(exc.errno, f"{type(exc).__name__}: {exc.strerror or exc}")


def _announce_compiling(log) -> bool:
    """Say so when this run's first blocks compile the kernels (numba's cache does not hold
    them: a fresh machine, a new lifbatch): the first blocks then take seconds, not the
    hang they would look like."""
    from .kernel import COMPILE_SECONDS, kernels_cached

    if kernels_cached() is not False:
        return False
    log(f"compiling the kernels (first run only, about {COMPILE_SECONDS} s)")
    return True


def _follow(wf, store: str, markers, progress: bool, log, cancel, *, compiling: bool = False) -> None:
    """Consume the finished blocks' markers, with a progress bar; Ctrl-C cancels the rest.
    ``compiling``: the first block compiles the kernels, so the bar starts after it (its
    rate and time left would count the compilation)."""
    bar = None
    done = sum(m.get("points", 0) for m in read_markers(store)) if progress else 0  # before this run

    def start_bar():
        from tqdm import tqdm

        return tqdm(total=wf.n_points, initial=done, unit="pt", desc=wf.name, file=sys.stderr, dynamic_ncols=True)

    if progress and not compiling:
        bar = start_bar()
    try:
        for marker in markers:
            if progress and bar is None:
                done += marker["points"]
                bar = start_bar()  # after the first block, which compiled the kernels
            elif bar is not None:
                bar.update(marker["points"])
    except KeyboardInterrupt:
        cancel()
        if bar is not None:  # its last refresh before the message, not after it
            bar.close()
            bar = None
        log(f"interrupted: finished blocks are kept; run the same command again to resume ({store})")
        raise
    except OSError as exc:
        cancel()
        raise RunError(f"a block could not be written to '{store}' ({_os_reason(exc)}); finished blocks are kept: "
                       "fix that, then run the same command again to resume.") from None
    finally:
        if bar is not None:
            bar.close()


def _cluster_results(client, pending: set, store: str, *, no_workers_timeout: float,
                     setting: str = "cluster.no-workers-timeout", tick=None):
    """The blocks' markers as they finish, watching the cluster: a run whose cluster has had no
    workers for ``no_workers_timeout`` seconds, or whose scheduler is gone, ends with a RunError.

    ``pending`` (the blocks' futures) is emptied as they finish, and each finished block's future
    is released at once: the block is in the store, and a result kept in a worker's memory is
    computed again when that worker leaves (a job at its walltime, a worker at its --lifetime)
    while the run still holds its future. Kept to the end, the results of a sweep longer than
    a worker's life were lost and recomputed, blocks already done were written again, and the
    run never ended. ``tick`` (if given) is called every few seconds."""
    from distributed import wait

    no_workers_since = None
    ticked = time.monotonic()
    while pending:
        try:
            done, _ = wait(pending, timeout=2, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        except Exception as exc:  # the scheduler went away
            raise _lost_scheduler(client, store, exc) from None
        pending.difference_update(done)
        if tick is not None and time.monotonic() - ticked >= 5:
            ticked = time.monotonic()
            tick()
        for fut in done:
            if fut.status == "finished":
                fut.release()
                # the block's marker from the store, not the task's result from its worker: a
                # worker that died after the block gives no result, and gathering it would wait
                # for the block to be computed again (forever, with no workers left)
                yield _marker(store, int(str(fut.key).rsplit("-", 1)[1]))
                continue
            try:
                fut.result()
            except KeyboardInterrupt:
                raise
            except OSError:
                raise
            except Exception as exc:
                if type(exc).__name__ in ("CommClosedError", "CancelledError", "StreamClosedError",
                                          "FuturesCancelledError"):
                    raise _lost_scheduler(client, store, exc) from None
                raise
        if not done:
            try:
                n = len(client.scheduler_info(n_workers=-1)["workers"]) if client.status == "running" else 0
            except Exception as exc:
                raise _lost_scheduler(client, store, exc) from None
            if n == 0:
                no_workers_since = no_workers_since or time.monotonic()
                if time.monotonic() - no_workers_since > no_workers_timeout:
                    raise RunError(f"the cluster has had no workers for {no_workers_timeout:g} s "
                                   f"(lifbatch.{setting}); stopping. Finished blocks are kept: "
                                   f"start workers and run the same command again to resume ({store}).")
            else:
                no_workers_since = None


def _marker(store, flat: int) -> dict:
    return read_marker(store, flat) or {"block": flat, "points": 0}


def _lost_scheduler(client, store, exc) -> RunError:
    addr = getattr(getattr(client, "scheduler", None), "address", None) or "?"
    return RunError(f"lost the Dask scheduler at {addr} ({type(exc).__name__}); finished blocks are kept: "
                    f"run the same command again to resume ({store}).")


def _check_batch_cluster(kind, jobs, adapt, *, scheduler, client) -> str:
    kinds = ("slurm", "pbs")
    if kind not in kinds:
        raise WorkflowError(f"`--cluster` must be one of {', '.join(kinds)}, got {kind!r}. Example: --cluster slurm",
                            "--cluster", kind)
    if scheduler or client is not None:
        raise WorkflowError("`--cluster` starts its own scheduler: give either --cluster or --scheduler, not both.",
                            "--cluster", kind)
    if jobs is not None and adapt is not None:
        raise WorkflowError("give --jobs N (a fixed number of jobs) or --adapt MIN..MAX, not both.", "--jobs", jobs)
    if jobs is not None and int(jobs) < 1:
        raise WorkflowError(f"`--jobs` must be >= 1, got {jobs}. Example: --jobs 4", "--jobs", jobs)
    if adapt is not None and not (0 <= adapt[0] <= adapt[1] and adapt[1] >= 1):
        raise WorkflowError(f"`--adapt` must be MIN..MAX with 0 <= MIN <= MAX and MAX >= 1, got "
                            f"{adapt[0]}..{adapt[1]}. Example: --adapt 1..10", "--adapt", adapt)
    try:
        _import_dask_jobqueue()
    except ImportError:
        from .errors import missing_extra

        raise missing_extra(f"`--cluster {kind}`", "cluster", "dask-jobqueue") from None
    return kind


def _import_dask_jobqueue():
    """``import dask_jobqueue``, keeping this process's Ctrl-C: dask-jobqueue 0.9.0 sets a SIGINT
    handler of its own (``sys.exit()``) when it is imported (dask/dask-jobqueue#696, fixed after
    0.9.0), so that Ctrl-C ended an interrupted run quietly with exit status 0 instead of as
    an interruption (130, the store resumable)."""
    import signal

    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    try:
        import dask_jobqueue
    finally:
        if main and handler is not None and signal.getsignal(signal.SIGINT) is not handler:
            signal.signal(signal.SIGINT, handler)
    return dask_jobqueue


def _batch_cluster(kind: str, jobs, adapt, log):
    """A dask-jobqueue cluster from Dask's jobqueue configuration, scaled to its jobs.

    Its scheduler runs in this process; lifbatch only adds what it relies on when the
    site's configuration leaves it unset: a scheduler on 127.0.0.1 unless the site says
    where, and ``distributed.scheduler.allowed-failures`` raised so that tasks on workers
    that a batch system ends (walltime, scancel) do not use up the retries of healthy
    tasks (cluster/README.md)."""
    import dask

    dask_jobqueue = _import_dask_jobqueue()
    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[kind]
    settings = {"distributed.scheduler.allowed-failures": int(config.get("cluster.allowed-failures"))}
    try:
        with dask.config.set(settings):
            cluster = cls()
    except (ValueError, TypeError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise WorkflowError(
            f"`--cluster {kind}`: Dask's jobqueue configuration is incomplete ({first}). Set at least "
            f"jobqueue.{kind}.cores and jobqueue.{kind}.memory (in ~/.config/dask/jobqueue.yaml or as "
            f"DASK_JOBQUEUE__{kind.upper()}__CORES=...): cluster/jobqueue.yaml lists the keys.",
            "--cluster", kind) from None
    if adapt is not None:
        cluster.adapt(minimum_jobs=adapt[0], maximum_jobs=adapt[1])
        log(f"{kind}: adaptive between {adapt[0]} and {adapt[1]} jobs")
    else:
        cluster.scale(jobs=jobs or 1)
        log(f"{kind}: {jobs or 1} job(s) submitted")
    return cluster


def _resubmit_lost_jobs(cluster) -> None:
    """Submit a new job for every job of the cluster's plan whose workers have left.

    dask-jobqueue 0.9 does not do it by itself (dask/dask-jobqueue#691): a job whose worker
    retired at its --lifetime (or was cancelled, or reached its walltime) stays in the
    cluster's ``worker_spec``, and is dropped from its running jobs only
    ``distributed.deploy.lost-worker-timeout`` (15 s) after its worker left; a job is submitted
    for a planned one that is not running only when ``scale()`` is called, which a fixed
    ``scale(jobs=N)`` never does again, nor ``adapt()`` while the job counts in its plan. So
    the sweep lost its workers one lifetime after they started. Asking for the jobs already
    planned (on the cluster's event loop, where ``adapt()`` changes the plan) submits the
    missing ones and changes nothing else."""
    def rescale():
        if cluster.status.name == "running":
            cluster.scale(jobs=len(cluster.worker_spec))

    try:
        cluster.loop.add_callback(rescale)
    except Exception:  # a cluster closing
        pass


def _job_ids(cluster) -> list[str]:
    return sorted(str(getattr(job, "job_id", None)) for job in getattr(cluster, "workers", {}).values()
                  if getattr(job, "job_id", None))


def _run_on_cluster(wf, store, plan, result, *, client, scheduler, n_workers, points_per_task,
                    progress, log, detach, lease, provenance, batch=(None, None, None), fence=None) -> bool:
    """The sweep as one Dask task per block, on a given, remote or embedded process cluster.
    Returns True when the lease was handed to the scheduler (``detach``)."""
    from dask import delayed
    from dask.utils import parse_timedelta
    from distributed import Client

    own_client = None
    if client is None:
        # this run reports the cluster's failures itself, in one line: distributed's own
        # logging (a traceback per reconnection attempt) stays quiet for its clients
        import logging

        for name in ("distributed", "distributed.client", "distributed.core", "distributed.comm"):
            logging.getLogger(name).setLevel(logging.CRITICAL)  # (Dask's config sets some levels itself)
        if scheduler:
            try:
                own_client = client = Client(scheduler, timeout="30s")
            except Exception as exc:  # nothing is touched before the cluster answers
                reason = (str(exc).strip().splitlines() or [""])[0][:200]
                raise WorkflowError(
                    f"`--scheduler {scheduler}`: cannot connect ({type(exc).__name__}: {reason}). Give the "
                    "address of a running `dask scheduler` (tcp://HOST:PORT); for tls://, the client's "
                    "certificate in Dask's configuration (cluster/tls.md).", "--scheduler", scheduler) from None
        elif batch[0] is not None:
            kind, jobs, adapt = batch
            own_client = client = Client(_batch_cluster(kind, jobs, adapt, log))
            # the first worker's arrival: the sweep is planned for the task slots there are then
            client.wait_for_workers(1, timeout=parse_timedelta(config.get("cluster.jobs-timeout")))
            log(f"{kind} jobs: {', '.join(_job_ids(client.cluster)) or '(none yet)'}")
        else:
            own_client = client = Client(embedded_cluster(n_workers))
        log(f"dask dashboard: {client.dashboard_link}")
    try:
        _check_workers_see(client, store, pause=_phase)
        # evened out over the cluster's own task slots (its workers' threads)
        nthreads = client.nthreads()
        slots = sum(nthreads.values()) or n_workers
        kind = batch[0] or ("scheduler" if own_client is None or scheduler else "processes")
        record = provenance({"kind": kind, "workers": len(nthreads), "threads": slots,
                             "scheduler": client.scheduler.address if kind == "scheduler" else None})
        blocking, todo = _prepare(wf, store, plan, points_per_task, slots, result, record, fence)
        prefix = f"lifbatch-block-{wf.fingerprint}-"
        wf_node = delayed(wf, traverse=False)
        # the markers of blocks run again (--repair, --retry-failed): a task tells them from its own
        before = {flat: _marker(store, flat).get("finished") for flat in set(todo) & done_blocks(store)}
        tasks = [delayed(_run_block_once, pure=False)(wf_node, store, blocking.chunks, flat, before.get(flat),
                                                       fence, dask_key_name=f"{prefix}{flat}")
                 for flat in todo]
        futures = client.compute(tasks, retries=int(config.get("cluster.retries")))
        pending = set(futures)  # released one by one as the blocks finish (_cluster_results)
        if plan.new:
            _create_template(wf, store, blocking, lambda: client.cancel(list(pending)), record, fence)
        if detach:
            from distributed import fire_and_forget

            fire_and_forget(futures)
            # the scheduler holds the lease from now on, while the sweep's tasks exist;
            # and knows the tasks before this process says so and exits
            client.run_on_scheduler(keep_on_scheduler, store, lease.record, prefix,
                                    parse_timedelta(config.get("lease.heartbeat")))
            lease.hand_over()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # every block known to the scheduler, or done already
                known = set(client.run_on_scheduler(_task_blocks, prefix)) | done_blocks(store)
                if known >= set(todo):
                    break
                time.sleep(0.05)
            log(f"submitted {len(futures)} blocks; follow with: lifbatch status {store}")
            result.detached = True
            return True
        del futures
        # a batch cluster's replacement jobs may wait in the queue: as long as its first ones
        setting = "cluster.jobs-timeout" if batch[0] is not None else "cluster.no-workers-timeout"
        timeout = parse_timedelta(config.get(setting))
        tick = partial(_resubmit_lost_jobs, client.cluster) if batch[0] is not None else None
        _follow(wf, store, _watched(_cluster_results(client, pending, store, no_workers_timeout=timeout,
                                                     setting=setting, tick=tick), lease),
                progress, log, lambda: _cancel_quietly(client, list(pending)))
        return False
    finally:
        if own_client is not None:
            _close_quietly(own_client)


def _run_block_once(wf: Workflow, store: str, chunks: tuple[int, ...], flat: int, before=None,
                    fence=None) -> dict:
    """``_run_block`` as a cluster's task, which Dask may run again after its block was written.

    A worker that leaves (at its --lifetime, or its job's walltime) is removed by the scheduler
    while its running block goes on to the end, and is written, as the worker waits for its
    thread before it exits; the scheduler meanwhile gives the block to another worker. So a
    block whose marker appeared since the run planned it (``before``: the ``finished`` of the
    marker it had then, which --repair and --retry-failed recompute; None for none) is not
    computed, or if it appears while computing, not written, again: its marker is returned."""
    def written():
        marker = read_marker(store, flat)
        return marker if marker is not None and marker.get("finished") != before else None

    return _run_block(wf, store, chunks, flat, written, fence)


def _task_blocks(prefix: str, dask_scheduler=None) -> list[int]:
    """The blocks whose tasks the scheduler holds (run on the scheduler)."""
    return [int(str(k)[len(prefix):]) for k in dask_scheduler.tasks if str(k).startswith(prefix)]


def _cancel_quietly(client, futures) -> None:
    try:
        client.cancel(futures)
    except Exception:  # the scheduler may be gone already
        pass


def _close_quietly(client) -> None:
    """Close a client this run made (and its embedded cluster), whatever state it is in."""
    import logging

    cluster = client.cluster
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # no tracebacks of workers shutting down after Ctrl-C
    try:
        client.close(timeout=5)
        if cluster is not None:
            cluster.close(timeout=10)
    except Exception:
        pass
    finally:
        quiet.setLevel(level)
