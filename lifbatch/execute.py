"""Running sweeps: a workflow's blocks, planned (:func:`lifbatch.plan.plan_sweep`), run
under the store's lease, in threads of this process or on a Dask cluster.

:func:`run_sweep` is the orchestration over a :class:`~lifbatch.plan.SweepPlan`: it plans,
takes the lease, recovers what an interrupted command left, and hands the blocks to an
executor: the threads of this process (:class:`_LocalTasks`) or a cluster
(:func:`lifbatch.cluster.run_on_cluster`). Both are handed the same :class:`SweepRun` (the
blocks to prepare, the template to write, the markers to follow) and run the same Dask task
graph (:func:`lifbatch.cluster.block_tasks`: :func:`lifbatch.block.run_block` once per
block), the threads by Dask's local threaded scheduler. ``simulate`` and ``simulate_block`` (lifbatch.block)
and ``embedded_cluster`` (lifbatch.cluster) are importable from here too.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.pool import ThreadPool  # (dask.threaded imports it too)
from pathlib import Path
from typing import Any

from . import config, control, lease, storage
from .block import simulate, simulate_block  # noqa: F401 - simulate*: importable from here
from .cluster import block_tasks, check_batch_cluster, cluster_processes, embedded_cluster, run_on_cluster
from .errors import RunError, WorkflowError, os_reason
from .grid import Blocking
from .identity import simulation_identity, with_summaries
from .layout import GROW, MARKERS
from .pause import pause
from .provenance import collect
from .plan import SweepPlan, estimate, plan_blocks, plan_sweep  # noqa: F401 - estimate: importable from here
from .store import (
    add_run,
    begin_creation,
    clear_store,
    create_store,
    inspect_store,
    read_markers,
    restore_arrays,
    refuse_dangling_link,
    store_generation,
    verify_store,
)
from .workflow import Workflow, load_workflow

__all__ = [
    "simulate",
    "simulate_block",
    "run_sweep",
    "plan_blocks",
    "SweepResult",
    "SweepRun",
    "estimate",
    "embedded_cluster",
]


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


class _Cancelled(Exception):
    pass


def _name_thread(name: str) -> None:
    threading.current_thread().name = name  # (a block's marker names its thread: provenance.worker_name)


class _LocalTasks:
    """The embedded execution without a cluster: a sweep's block tasks (the Dask delayed tasks of
    :func:`lifbatch.cluster.block_tasks`, the ones a cluster runs) by Dask's local threaded
    scheduler (``dask.threaded.get``) on ``n`` threads of this process (the kernel and the
    summaries' loops release the GIL).

    The scheduler runs in a thread of its own, so that this one can write the template and
    follow the blocks meanwhile: ``results()`` yields each block's marker as it finishes (its
    ``posttask`` callback); the first block that raises stops the others from starting (as the
    scheduler does), and its exception is raised there once the running ones have ended.
    ``cancel()`` keeps blocks not yet started from starting (its ``pretask`` callback).

    The threads are a ``multiprocessing.pool.ThreadPool`` (a pool Dask's scheduler takes, as
    its documentation shows), not a ``concurrent.futures.ThreadPoolExecutor`` (dask.threaded's
    own pool): its workers are daemon threads, which end with the process, while Python joins
    an executor's threads at exit. On an executor an interrupted run (Ctrl-C, a lost lease, a
    template that cannot be written) waited for its running blocks before it exited: a block's
    kernel cannot be stopped, and a block waiting for a template that never comes waits
    ``lifbatch.task.template-wait`` (120 s; tests/test_store_trust.py). A block whose marker is
    not written is simply run again on resume.
    """

    def __init__(self, tasks: list, n: int):
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        graph: dict = {}
        for task in tasks:
            graph.update(task.__dask_graph__())
        keys = [task.key for task in tasks]
        threading.Thread(target=self._schedule, args=(graph, keys, n), name="lifbatch-scheduler", daemon=True).start()

    def _schedule(self, graph: dict, keys: list, n: int) -> None:
        import dask.threaded  # (deferred: dask loads when a run starts, not for --help or validate)

        def pretask(key, dsk, state):
            if self._stop.is_set():
                raise _Cancelled

        def posttask(key, marker, dsk, state, worker_id):
            if key in keys_set:  # (not the workflow's or the fence's node)
                self._done.put((marker, None))

        keys_set = set(keys)
        names = iter(range(n))
        pool = ThreadPool(n, initializer=lambda: _name_thread(f"lifbatch-block-{next(names)}"))
        try:
            dask.threaded.get(graph, keys, pool=pool, callbacks=[(None, None, pretask, posttask, None)])
        except _Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            pool.close()
            pool.join()  # the blocks running meanwhile end first
            self._done.put((None, exc))
        finally:
            pool.close()
            self._done.put(None)  # the scheduler has ended

    def cancel(self) -> None:
        self._stop.set()

    def results(self):
        while True:
            # a timeout, so that Ctrl-C reaches the main thread at once
            try:
                item = self._done.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is None:
                return
            marker, exc = item
            if exc is not None:
                raise exc
            yield marker


def run_sweep(
    workflow,
    store=None,
    *,
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    points_per_task: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    overrides=None,
    log=None,
    retry_failed: bool = False,
    detach: bool = False,
    processes: bool | None = None,
    repair: bool = False,
    workflow_path=None,
    cluster: str | None = None,
    jobs: int | None = None,
    adapt: tuple[int, int] | None = None,
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
    storage.check_location(store)  # (an unsupported URL is refused, never made a local directory)
    refuse_dangling_link(store)  # (resolved, the link would be gone, and its target made)
    store = storage.canonical(store)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    started = time.time()
    if workers is not None and int(workers) < 1:
        raise WorkflowError(f"`--workers` must be >= 1, got {workers}. Example: --workers 2", "--workers", workers)
    n_workers = workers or config.available_cpus()
    if detach and client is None and not scheduler:
        raise WorkflowError(
            "`--detach` needs a running cluster: give --scheduler tcp://HOST:PORT "
            "(an embedded or --cluster scheduler ends with this process; cluster/README.md).",
            "--detach",
            True,
        )
    if cluster is not None:
        cluster = check_batch_cluster(cluster, jobs, adapt, scheduler=scheduler, client=client)
    threaded = client is None and not scheduler and cluster is None and not cluster_processes(processes)
    options: dict[str, Any] = dict(overwrite=overwrite, retry_failed=retry_failed, points_per_task=points_per_task)
    # a first look: bad options and paths are refused before anything is touched
    plan = plan_sweep(wf, inspect_store(store), **options)
    if plan.source is not None:
        wf = load_workflow(json.loads(plan.source), limits=False)  # the store's design, grown
    if not plan.new and not plan.blocks and not repair and not storage.of(store).exists(GROW.as_posix()):
        return _result(wf, store, plan, started)  # nothing to do: no lease needed
    made = _make_store_dir(store) if storage.of(store).local else []  # (an object store has no directories)
    try:
        _phase("store-dir")  # (tests stall a run here: its directory made, the lease not yet taken)
        held = lease.acquire(store, log=log)
    except OSError as exc:
        _remove_if_empty(store, made)
        raise RunError(
            f"cannot take the lease on the store '{store}' ({os_reason(exc)}): nothing was written; "
            "fix that, then run the same command again."
        ) from None
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
        bad: frozenset[int] = frozenset()
        if repair and state.kind == "store" and _same_simulation(state, wf):
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
            run = SweepRun(
                wf,
                store,
                plan,
                result,
                log=log,
                lease=held,
                fence=fence,
                points_per_task=points_per_task,
                progress=progress,
            )
            if threaded:
                _run_in_threads(run, n_workers=n_workers, provenance=record)
            else:
                handed_over = run_on_cluster(
                    run,
                    client=client,
                    scheduler=scheduler,
                    n_workers=n_workers,
                    detach=detach,
                    provenance=record,
                    batch=(cluster, jobs, adapt),
                )
    except BaseException:
        if made and not held.lost and inspect_store(store).kind in ("empty", "creating") and not _has_blocks(store):
            # nothing but what this run began, and the store still its own: leave no trace
            held.release()
            storage.of(store).delete_prefix("")
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


@dataclass
class SweepRun:
    """One sweep being run, under its lease: what every executor (threads, a cluster) does
    around its blocks, bound to the run's workflow, store, plan and fence. ``prepare`` gives
    the blocks to run for the executor's task slots, ``create_template`` writes a new
    store's template while the first blocks compute, ``follow`` consumes the blocks'
    markers as they finish (a progress bar; the lease checked after each)."""

    wf: Workflow
    store: str
    plan: SweepPlan
    result: SweepResult
    log: Callable[[str], None]
    lease: object
    fence: object
    points_per_task: int | None = None
    progress: bool = True

    def prepare(self, slots: int, record: dict | None) -> tuple[Blocking, list]:
        return _prepare(self.wf, self.store, self.plan, self.points_per_task, slots, self.result, record, self.fence)

    def create_template(self, blocking: Blocking, cancel, record: dict | None) -> None:
        _create_template(self.wf, self.store, blocking, cancel, record, self.fence)

    def follow(self, markers, cancel, *, compiling: bool = False) -> None:
        _follow(
            self.wf, self.store, _watched(markers, self.lease), self.progress, self.log, cancel, compiling=compiling
        )


def _same_simulation(state, wf) -> bool:
    """Whether the store in ``state`` holds ``wf``'s simulation: summarize, refine and fit change
    its fingerprint, not that (a store older than the simulation identity: its fingerprint)."""
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

    return collect(wf, workflow_path=workflow_path, cluster=cluster, overrides=overrides)


def _has_blocks(store) -> bool:
    return bool(storage.of(store).children(MARKERS.as_posix(), "zarr.json"))


def _result(wf, store, plan, started, *, run: bool = False) -> SweepResult:
    n_blocks = 0 if plan.new else len(plan.blocks) + plan.skipped
    res = SweepResult(
        store=store,
        points=wf.n_points,
        blocks=n_blocks,
        blocks_run=0 if plan.new else len(plan.blocks),
        blocks_skipped=plan.skipped,
    )
    if not run:
        for m in read_markers(store):
            res.failures.update({int(k): v for k, v in m["failures"].items()})
        res.seconds = time.time() - started
    return res


def _check_lease(held) -> None:
    if held is not None and held.lost:
        raise RunError(
            f"this run lost its lease on the store '{held.store}' (another run took it over: was this "
            "one stopped for longer than lifbatch.lease.timeout?); stopping. Finished blocks are kept."
        )


def _prepare(
    wf, store: str, plan, points_per_task, slots: int, result: SweepResult, provenance: dict | None = None, fence=None
) -> tuple[Blocking, list]:
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
    storage.of(store).make_dir(MARKERS.as_posix())
    _phase("prepared")
    return blocking, list(range(blocking.n_blocks))


def _run_in_threads(run: SweepRun, *, n_workers: int, provenance) -> None:
    """The embedded executor: the sweep's block tasks (those a cluster runs) by Dask's local
    threaded scheduler, in ``n_workers`` threads of this process."""
    record = provenance({"kind": "threads", "workers": n_workers})
    blocking, todo = run.prepare(n_workers, record)
    threads = min(n_workers, len(todo))
    run.log(f"running in {threads} thread{'s' if threads != 1 else ''} of this process")
    compiling = bool(todo) and _announce_compiling(run.log)
    tasks = _LocalTasks(block_tasks(run, blocking.chunks, todo, again=False), max(1, threads))
    try:
        if run.plan.new:
            run.create_template(blocking, tasks.cancel, record)
        run.follow(tasks.results(), tasks.cancel, compiling=compiling)
    except BaseException:
        tasks.cancel()
        raise


def _watched(markers, held):
    for marker in markers:
        _check_lease(held)
        yield marker
    _check_lease(held)


def _create_template(wf, store: str, blocking: Blocking, cancel, provenance: dict | None = None, fence=None) -> None:
    """Write a new store's template while the first blocks compute (they wait for it
    before writing); ``cancel()`` the blocks when it cannot be written."""
    try:
        create_store(wf, store, blocking, pause=_phase, provenance=provenance, fence=fence)
        _phase("template-written")
    except OSError as exc:
        cancel()
        raise RunError(
            f"cannot write the store's template in '{store}' ({os_reason(exc)}); nothing of the "
            "sweep is lost: fix that, then run the same command again."
        ) from None
    except BaseException:
        cancel()
        raise


def _announce_compiling(log) -> bool:
    """Say so when this run's first blocks compile the kernels (numba's cache does not hold
    them: a fresh machine, a new lifbatch): the first blocks then take seconds, not the
    hang they would look like."""
    # (deferred: numba loads when a run starts, not for --help or validate)
    from .kernel import COMPILE_SECONDS, kernels_cached
    from .models.lif_loop import lif_trials  # (the LIF's loop, the one every LIF run calls)

    if kernels_cached((lif_trials,)) is not False:
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
        from tqdm import tqdm  # (deferred: only when a progress bar is shown)

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
        raise RunError(
            f"a block could not be written to '{store}' ({os_reason(exc)}); finished blocks are kept: "
            "fix that, then run the same command again to resume."
        ) from None
    finally:
        if bar is not None:
            bar.close()
