"""Cluster code: a sweep's blocks as Dask tasks on a given, remote, batch (dask-jobqueue) or
embedded process cluster, watched until they finish.

:func:`run_on_cluster` is one executor of :func:`lifbatch.execute.run_sweep` (the other runs
the blocks in threads of this process): it is handed the run (:class:`lifbatch.execute.SweepRun`:
the blocks to prepare, the template to write, the markers to follow) and runs the task graph of
:func:`block_tasks` (:func:`lifbatch.block.run_block` once per block), as the threads do.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from functools import partial

from . import config, storage
from .block import run_block
from .errors import RunError, StoreError, WorkflowError, missing_extra
from .layout import MARKERS
from .lease import keep_on_scheduler
from .pause import pause
from .store import done_blocks, read_marker
from .workflow import Workflow

__all__ = [
    "embedded_cluster",
    "run_on_cluster",
    "block_tasks",
    "run_block_once",
    "check_batch_cluster",
    "cluster_processes",
]


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
    # (deferred: distributed loads for cluster runs only; an embedded run and --help do without it)
    import dask
    from distributed import LocalCluster

    with dask.config.set(_cluster_dask_config()):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=int(config.get("cluster.threads-per-worker")),
            processes=True,
            host="127.0.0.1",
            dashboard_address=dashboard_address,
            silence_logs=logging.ERROR,
        )


def cluster_processes(processes: bool | None) -> bool:
    return bool(config.get("cluster.processes") if processes is None else processes)


def _reads(store: str, key: str, token: str) -> bool:
    try:
        return storage.of(store).read_bytes(key) == token.encode()
    except Exception:  # (unreadable for any reason: not seen)
        return False


def _check_workers_see(client, store: str, pause=lambda phase: None) -> None:
    """StoreError unless every worker reads an object this process writes in the store (on
    disk: at the store's path, the same file system, not only a directory of the same name;
    on an object store: the same bucket, endpoint and credentials); nothing is left behind:
    the object goes, and so does the store's directory if made for it."""
    st = storage.of(store)
    made = not st.root_exists()
    st.make_dir(MARKERS.parent.as_posix())
    key = f"{MARKERS.parent.as_posix()}/visible-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    try:
        st.write_bytes(key, token.encode())
        pause("probe")
        blind = [w for w, ok in client.run(_reads, store, key, token).items() if not ok]
    finally:
        st.delete(key)
        if made:
            st.delete_prefix("")
    if blind and not st.local:
        raise StoreError(
            f"workers {blind} cannot read the store '{store}': give them the same endpoint and "
            "credentials (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION; "
            "see cluster/README.md)."
        )
    if blind:
        raise StoreError(
            f"workers {blind} cannot see the store '{store}'. Put the store on a file system "
            "every worker mounts at the same path (see cluster/README.md)."
        )


def check_batch_cluster(kind, jobs, adapt, *, scheduler, client) -> str:
    kinds = ("slurm", "pbs")
    if kind not in kinds:
        raise WorkflowError(
            f"`--cluster` must be one of {', '.join(kinds)}, got {kind!r}. Example: --cluster slurm", "--cluster", kind
        )
    if scheduler or client is not None:
        raise WorkflowError(
            "`--cluster` starts its own scheduler: give either --cluster or --scheduler, not both.", "--cluster", kind
        )
    if jobs is not None and adapt is not None:
        raise WorkflowError("give --jobs N (a fixed number of jobs) or --adapt MIN..MAX, not both.", "--jobs", jobs)
    if jobs is not None and int(jobs) < 1:
        raise WorkflowError(f"`--jobs` must be >= 1, got {jobs}. Example: --jobs 4", "--jobs", jobs)
    if adapt is not None and not (0 <= adapt[0] <= adapt[1] and adapt[1] >= 1):
        raise WorkflowError(
            f"`--adapt` must be MIN..MAX with 0 <= MIN <= MAX and MAX >= 1, got "
            f"{adapt[0]}..{adapt[1]}. Example: --adapt 1..10",
            "--adapt",
            adapt,
        )
    try:
        _import_dask_jobqueue()
    except ImportError:
        raise missing_extra(f"`--cluster {kind}`", "cluster", "dask-jobqueue") from None
    return kind


def _import_dask_jobqueue():
    """``import dask_jobqueue``, keeping this process's Ctrl-C: dask-jobqueue 0.9.0 sets a SIGINT
    handler of its own (``sys.exit()``) when it is imported (dask/dask-jobqueue#696, fixed after
    0.9.0), so that Ctrl-C ended an interrupted run quietly with exit status 0 instead of as
    an interruption (130, the store resumable)."""

    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    try:
        import dask_jobqueue  # (deferred: an optional extra, for --cluster slurm only)
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
    import dask  # (deferred, as distributed above)

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
            "--cluster",
            kind,
        ) from None
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
    return sorted(
        str(getattr(job, "job_id", None))
        for job in getattr(cluster, "workers", {}).values()
        if getattr(job, "job_id", None)
    )


def run_on_cluster(run, *, client, scheduler, n_workers, detach, provenance, batch=(None, None, None)) -> bool:
    """The sweep as one Dask task per block, on a given, remote or embedded process cluster.
    ``run``: what every executor does around its blocks, bound to this run (its workflow,
    store, plan, lease and fence; :class:`lifbatch.execute.SweepRun`). Returns True when the
    lease was handed to the scheduler (``detach``)."""
    # (deferred, as above)
    from dask.utils import parse_timedelta
    from distributed import Client

    wf, store, plan, result, log, lease = run.wf, run.store, run.plan, run.result, run.log, run.lease
    own_client = None
    if client is None:
        # this run reports the cluster's failures itself, in one line: distributed's own
        # logging (a traceback per reconnection attempt) stays quiet for its clients

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
                    "certificate in Dask's configuration (cluster/tls.md).",
                    "--scheduler",
                    scheduler,
                ) from None
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
        _check_workers_see(client, store, pause=pause)
        # evened out over the cluster's own task slots (its workers' threads)
        nthreads = client.nthreads()
        slots = sum(nthreads.values()) or n_workers
        kind = batch[0] or ("scheduler" if own_client is None or scheduler else "processes")
        record = provenance(
            {
                "kind": kind,
                "workers": len(nthreads),
                "threads": slots,
                "scheduler": client.scheduler.address if kind == "scheduler" else None,
            }
        )
        blocking, todo = run.prepare(slots, record)
        prefix = _task_prefix(wf)
        futures = client.compute(block_tasks(run, blocking.chunks, todo), retries=int(config.get("cluster.retries")))
        pending = set(futures)  # released one by one as the blocks finish (_cluster_results)
        if plan.new:
            run.create_template(blocking, lambda: client.cancel(list(pending)), record)
        if detach:
            from distributed import fire_and_forget  # (deferred, as above)

            fire_and_forget(futures)
            # the scheduler holds the lease from now on, while the sweep's tasks exist;
            # and knows the tasks before this process says so and exits
            client.run_on_scheduler(
                keep_on_scheduler, store, lease.record, prefix, parse_timedelta(config.get("lease.heartbeat"))
            )
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
        run.follow(
            _cluster_results(client, pending, store, no_workers_timeout=timeout, setting=setting, tick=tick),
            lambda: _cancel_quietly(client, list(pending)),
        )
        return False
    finally:
        if own_client is not None:
            _close_quietly(own_client)


def _task_prefix(wf: Workflow) -> str:
    return f"lifbatch-block-{wf.fingerprint}-"


def block_tasks(run, chunks: tuple[int, ...], todo: list[int], *, again: bool = True) -> list:
    """The sweep's blocks ``todo`` as Dask delayed tasks, one :func:`run_block_once` per block, named
    ``lifbatch-block-<fingerprint>-<flat>``: the one task graph of every executor, a cluster's
    (:func:`run_on_cluster`) and the threads of this process (``lifbatch.execute._run_in_threads``,
    by Dask's local threaded scheduler). ``run``: the :class:`lifbatch.execute.SweepRun`.
    ``again``: whether Dask may run a task again after its block was written (a cluster's worker
    that leaves); Dask's local scheduler runs each task once, so its tasks read no marker first
    (two requests a block on an object store)."""
    from dask import delayed  # (dask.delayed imports neither distributed nor dask.array)

    wf, store = run.wf, run.store
    prefix = _task_prefix(wf)
    # nodes of their own: sent to a cluster's workers once, and not walked by Dask in every task
    # (the fence holds the lease: walking it was half of a task's construction, ~0.1 ms)
    wf_node, fence_node = delayed(wf, traverse=False), delayed(run.fence, traverse=False)
    # the markers of blocks run again (--repair, --retry-failed): a task tells them from its own
    before = {flat: _marker(store, flat).get("finished") for flat in set(todo) & done_blocks(store)} if again else {}
    return [
        delayed(run_block_once, pure=False)(
            wf_node, store, chunks, flat, before.get(flat), fence_node, again, dask_key_name=f"{prefix}{flat}"
        )
        for flat in todo
    ]


def run_block_once(
    wf: Workflow, store: str, chunks: tuple[int, ...], flat: int, before=None, fence=None, again: bool = True
) -> dict:
    """:func:`lifbatch.block.run_block` as a cluster's task, which Dask may run again after its block was written.

    A worker that leaves (at its --lifetime, or its job's walltime) is removed by the scheduler
    while its running block goes on to the end, and is written, as the worker waits for its
    thread before it exits; the scheduler meanwhile gives the block to another worker. So a
    block whose marker appeared since the run planned it (``before``: the ``finished`` of the
    marker it had then, which --repair and --retry-failed recompute; None for none) is not
    computed, or if it appears while computing, not written, again: its marker is returned."""

    def written():
        marker = read_marker(store, flat)
        return marker if marker is not None and marker.get("finished") != before else None

    return run_block(wf, store, chunks, flat, written if again else None, fence)


def _task_blocks(prefix: str, dask_scheduler=None) -> list[int]:
    """The blocks whose tasks the scheduler holds (run on the scheduler)."""
    return [int(str(k)[len(prefix) :]) for k in dask_scheduler.tasks if str(k).startswith(prefix)]


def _cluster_results(
    client,
    pending: set,
    store: str,
    *,
    no_workers_timeout: float,
    setting: str = "cluster.no-workers-timeout",
    tick=None,
):
    """The blocks' markers as they finish, watching the cluster: a run whose cluster has had no
    workers for ``no_workers_timeout`` seconds, or whose scheduler is gone, ends with a RunError.

    ``pending`` (the blocks' futures) is emptied as they finish, and each finished block's future
    is released at once: the block is in the store, and a result kept in a worker's memory is
    computed again when that worker leaves (a job at its walltime, a worker at its --lifetime)
    while the run still holds its future. Kept to the end, the results of a sweep longer than
    a worker's life were lost and recomputed, blocks already done were written again, and the
    run never ended. ``tick`` (if given) is called every few seconds."""
    from distributed import wait  # (deferred, as above)

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
                if type(exc).__name__ in (
                    "CommClosedError",
                    "CancelledError",
                    "StreamClosedError",
                    "FuturesCancelledError",
                ):
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
                    raise RunError(
                        f"the cluster has had no workers for {no_workers_timeout:g} s "
                        f"(lifbatch.{setting}); stopping. Finished blocks are kept: "
                        f"start workers and run the same command again to resume ({store})."
                    )
            else:
                no_workers_since = None


def _marker(store, flat: int) -> dict:
    return read_marker(store, flat) or {"block": flat, "points": 0}


def _lost_scheduler(client, store, exc) -> RunError:
    addr = getattr(getattr(client, "scheduler", None), "address", None) or "?"
    return RunError(
        f"lost the Dask scheduler at {addr} ({type(exc).__name__}); finished blocks are kept: "
        f"run the same command again to resume ({store})."
    )


def _cancel_quietly(client, futures) -> None:
    try:
        client.cancel(futures)
    except Exception:  # the scheduler may be gone already
        pass


def _close_quietly(client) -> None:
    """Close a client this run made (and its embedded cluster), whatever state it is in."""

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
