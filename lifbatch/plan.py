"""Planning a sweep without running anything: its blocks and sizes, and what a run
does with its store (new, resume, repair, retry). numpy and dask.config only:
``lifbatch validate`` plans with no cluster, xarray or numba, and the plan is tested
without a cluster or a store."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from dask.utils import parse_bytes

from . import config
from .errors import StoreError, WorkflowError
from .grid import Blocking, balanced_chunks, block_chunks
from .identity import describe_summaries, input_files, simulation_identity, summary_settings
from .layout import point_bytes, sizes, variable_specs
from .limits import check_task_memory  # lifbatch.limits.max-task-memory
from .models import get_model

__all__ = ["plan_blocks", "estimate", "plan_sweep", "SweepPlan", "StoreState"]


def _check_points_per_task(points_per_task) -> int:
    if int(points_per_task) < 1:
        raise WorkflowError(
            f"`--points-per-task` must be >= 1, got {points_per_task}. Example: --points-per-task 50",
            "--points-per-task",
            points_per_task,
        )
    return int(points_per_task)


def plan_blocks(wf, *, points_per_task: int | None = None, workers: int = 1) -> Blocking:
    """Cut the grid into blocks: from ``points_per_task``, or sized automatically.

    Automatic sizing keeps a task's memory under ``lifbatch.task.memory-budget``
    and its work near ``lifbatch.task.target-neuron-steps``, with at least
    ``tasks-per-worker`` tasks per worker and at most ``max-tasks`` tasks; the
    blocks are then evened out over the workers (:func:`grid.balanced_chunks`),
    so that no worker sits out the last wave.
    """

    if points_per_task is not None:
        blocking = Blocking(shape=wf.shape, chunks=block_chunks(wf.shape, _check_points_per_task(points_per_task)))
        check_task_memory(wf, int(np.prod(blocking.chunks or (1,))), points_per_task=int(points_per_task))
        return blocking

    # never above the cap on a task's memory
    budget = min(parse_bytes(config.get("task.memory-budget")), parse_bytes(config.get("limits.max-task-memory")))
    ppt_mem = max(1, budget // max(1, point_bytes(wf)))

    # a model's neuron-step costs its measured multiple of the LIF's (lifbatch.models)
    steps = wf.trials * wf.n_steps * get_model(wf.model).cost
    ppt_time = max(1, int(float(config.get("task.target-neuron-steps")) // max(1, steps)))
    ppt = min(ppt_mem, ppt_time)
    spread = math.ceil(wf.n_points / max(1, int(config.get("task.tasks-per-worker")) * max(1, workers)))
    ppt = max(1, min(ppt, spread))
    max_tasks = int(config.get("task.max-tasks"))
    ppt = max(ppt, math.ceil(wf.n_points / max_tasks))
    blocking = Blocking(shape=wf.shape, chunks=balanced_chunks(wf.shape, ppt, workers, max_tasks))
    check_task_memory(wf, int(np.prod(blocking.chunks or (1,))))
    return blocking


def estimate(wf, blocking: Blocking) -> dict:
    """Sizes shown by ``lifbatch validate``."""
    dims = sizes(wf)
    store = 0
    for tail, dtype, _, _ in variable_specs(wf).values():
        store += wf.n_points * int(np.prod([dims[d] for d in tail] or [1])) * dtype.itemsize
    per_task = int(np.prod(blocking.chunks or (1,)))
    return {
        "shape": wf.shape,
        "axes": wf.axis_names,
        "points": wf.n_points,
        "trials": wf.trials,
        "steps": wf.n_steps,
        "neuron_steps": wf.n_points * wf.trials * wf.n_steps,
        "tasks": blocking.n_blocks,
        "points_per_task": per_task,
        "memory_per_task": point_bytes(wf) * per_task,
        "store_bytes": store,
    }


# --------------------------------------------------------------------------- #
# the sweep's plan: new store, resume, repair, retry (pure: no I/O, no cluster)
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class StoreState:
    """What is at a store's path, as :func:`store.inspect_store` found it.

    ``kind``: "absent"; "file"; "empty" (an empty directory); "creating" (a store whose
    creation did not finish: its template is incomplete, so it holds no data);
    "store" (a lifbatch store); "zarr" (a Zarr store, not lifbatch's); "foreign" (a
    directory of something else). ``fingerprint`` and ``chunks`` of a (creating)
    lifbatch store; ``done`` and ``failed``: blocks with a marker, and those of them
    with failed points; ``contents``: a few names inside, for messages.
    """

    path: str
    kind: str
    fingerprint: str | None = None
    name: str | None = None
    simulation: str | None = None  # identity.simulation_identity: the fingerprint less the summaries
    summaries: dict | None = None  # the summary settings its summaries were computed with (SI)
    chunks: tuple[int, ...] | None = None
    done: frozenset = frozenset()
    failed: frozenset = frozenset()
    contents: tuple[str, ...] = ()
    added: str | None = None  # JSON of the points refine and fit added (canonical sample_added)
    source: str | None = None  # the store's workflow (JSON), when it holds added points
    shape: tuple[int, ...] | None = None  # its grid's shape
    files: tuple = ()  # (drive, sha256) of each input file it was computed with
    workflow: str | None = None  # the store's workflow (JSON, after the overrides that made it)


@dataclass(frozen=True)
class SweepPlan:
    """What a run does to its store.

    ``new``: the store is created (its template written) before the blocks run; then
    ``blocks`` is None (all blocks of the plan made for the cluster's task slots) and
    ``replace`` says whether something at the path is removed first (an earlier store
    with ``--overwrite``, or a creation that was interrupted). Otherwise the store is
    resumed: ``chunks`` are its blocks, ``blocks`` those to run, ``skipped`` the
    number already done.
    """

    new: bool
    replace: bool = False
    chunks: tuple[int, ...] | None = None
    blocks: tuple[int, ...] | None = None
    skipped: int = 0
    note: str | None = None
    #: the store's summary settings, when they differ from the workflow's (``lifbatch
    #: summarize`` changed them): the blocks still to run are summarized with them
    summaries: dict | None = None
    #: the store's workflow (JSON), when it holds points that ``lifbatch refine`` or
    #: ``fit`` added to the workflow's design: the run is of that workflow
    source: str | None = None


def _listing(state: StoreState) -> str:
    shown = ", ".join(state.contents[:5])
    more = f" and {len(state.contents) - 5} more" if len(state.contents) > 5 else ""
    return f"{shown}{more}" if shown else "nothing lifbatch wrote"


def _changed_input_files(wf, state: StoreState) -> str | None:
    """The message for a store of this very workflow whose input files have changed since (its
    simulation identity is the workflow's once the files' sha256 are the store's), or None."""
    stored = dict(state.files)
    if not state.simulation or not stored:
        return None
    spec = json.loads(wf.canonical)
    now = input_files(wf.canonical)
    changed = [name for name in stored if now.get(name) != stored[name]]
    for d in spec["drives"]:
        d["file_sha256"] = stored.get(d["name"], d.get("file_sha256"))
    if not changed or simulation_identity(json.dumps(spec, sort_keys=True, separators=(",", ":"))) != state.simulation:
        return None
    name = changed[0]
    drive = next(d for d in wf.drives if d.name == name)
    return (
        f"store '{state.path}' was computed with another `inputs.{name}.file`: '{drive.option('file')}' now has "
        f"sha256 {(now.get(name) or '')[:16]}, the store's has {stored[name][:16]}. Restore the file the "
        "store was made with (`lifbatch status --provenance` lists its sha256), or recompute the store with "
        f"this one: lifbatch run WORKFLOW --store {state.path} --overwrite"
    )


def _flat(raw, prefix: str = "") -> dict:
    """A raw workflow as {dot path: value} (lists are values), as ``--set`` addresses it."""
    if not isinstance(raw, dict) or not raw:
        return {prefix: raw} if prefix else {}
    out = {}
    for key, value in raw.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _yaml(value) -> str:
    """A value of a raw workflow as YAML (one line) reads it back: ``--set``'s syntax."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10**6)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _set_arg(key: str, value) -> str:
    """``--set key=value`` as a shell takes it."""
    import shlex

    text = _yaml(value)
    if shlex.quote(text) == text:
        return f"--set {key}={text}"
    if not any(c in text for c in '"$`\\!'):
        return f'--set {key}="{text}"'  # as the README writes it: --set neuron.tau_m="20 ms"
    return f"--set {shlex.quote(f'{key}={text}')}"


def _other_values(wf, state: StoreState) -> str:
    """The message for a store of this workflow (the same name) made with other values: the
    keys that differ, and the ``--set`` that resumes it. Never ``--overwrite``, which would
    discard the store's finished points."""
    done = f"{len(state.done)} block{'s' if len(state.done) != 1 else ''} already done"
    another = "or give another --store to compute this command's workflow"
    try:
        # (no workflow recorded: "" fails as an unreadable one does)
        made, given = _flat(json.loads(state.workflow or "")), _flat(json.loads(wf.source))
    except (TypeError, ValueError):
        made = given = {}
    gone = object()
    keys = [k for k in dict.fromkeys([*made, *given]) if k != "description" and made.get(k, gone) != given.get(k, gone)]
    provenance = f"`lifbatch status {state.path} --provenance` shows the command that made it"
    if not made or not keys:
        return (
            f"store '{state.path}' holds workflow '{wf.name}' made with other values (fingerprint "
            f"{state.fingerprint}, this command's is {wf.fingerprint}; {done}): {provenance}; run that to "
            f"resume it, {another}."
        )
    shown = []
    for k in keys[:3]:
        had, has = made.get(k, gone), given.get(k, gone)
        shown.append(
            (f"{k}={_yaml(had)}" if had is not gone else f"no {k}")
            + ", this command gives "
            + (_yaml(has) if has is not gone else "none")
        )
    more = f" (and {len(keys) - 3} more keys)" if len(keys) > 3 else ""
    if all(k in made for k in keys):
        fix = f"add `{' '.join(_set_arg(k, made[k]) for k in keys)}` to resume it"
    else:  # a key the store's workflow does not have: no --set removes it
        fix = f"drop what the store does not have to resume it ({provenance})"
    return f"store '{state.path}' was made with {'; '.join(shown)}{more} ({done}): {fix}, {another}."


def plan_sweep(
    wf,
    state: StoreState,
    *,
    overwrite: bool = False,
    retry_failed: bool = False,
    repair: frozenset | set | None = None,
    points_per_task: int | None = None,
) -> SweepPlan:
    """Decide what ``lifbatch run`` does with the store in ``state`` (pure).

    Raises StoreError (another workflow's store, a path lifbatch will not replace)
    or WorkflowError (``--points-per-task`` against an existing store's blocks).
    ``--overwrite`` replaces a lifbatch store (or an interrupted creation) and nothing
    else: any other file or directory is refused with what it holds.
    """
    if points_per_task is not None:
        _check_points_per_task(points_per_task)
    path = state.path
    if state.kind == "file":
        raise StoreError(
            f"--store '{path}' is a file, not a store directory. Choose another --store "
            "(lifbatch never replaces files)."
        )
    if state.kind in ("foreign", "zarr"):
        what = "a Zarr store but not a lifbatch store" if state.kind == "zarr" else "a directory lifbatch did not make"
        raise StoreError(
            f"--store '{path}' is {what} (it holds {_listing(state)}); lifbatch replaces only its own "
            "stores, even with --overwrite. Choose another --store, or move that directory away."
        )
    if state.kind in ("absent", "empty"):
        return SweepPlan(new=True)

    simulation = simulation_identity(wf.canonical)
    if state.kind == "creating":
        same = state.fingerprint in (None, wf.fingerprint) or state.simulation == simulation
        if not same and not overwrite:
            raise StoreError(
                f"store '{path}' is an unfinished store of another workflow ('{state.name}', "
                f"fingerprint {state.fingerprint}, this one is {wf.fingerprint}). Use another "
                "--store, or --overwrite to replace it."
            )
        return SweepPlan(
            new=True, replace=True, note=f"store '{path}': its creation was interrupted; creating it again"
        )
    # a lifbatch store
    if overwrite:
        return SweepPlan(new=True, replace=True)
    if (state.simulation or state.fingerprint) != (simulation if state.simulation else wf.fingerprint):
        changed = _changed_input_files(wf, state)
        if changed:
            raise StoreError(changed)
        if state.name == wf.name:  # the same workflow, other values: --overwrite would discard its points
            raise StoreError(_other_values(wf, state))
        raise StoreError(
            f"store '{path}' holds another workflow ('{state.name}', fingerprint {state.fingerprint}, "
            f"this one is {wf.fingerprint}). Use another --store, or --overwrite to replace it."
        )
    assert state.chunks is not None  # (read with every lifbatch store's state)
    chunks = tuple(state.chunks)
    if (
        points_per_task is not None
        and int(np.prod(chunks or (1,))) != int(points_per_task)
        and block_chunks(wf.shape, points_per_task) != chunks
    ):
        raise WorkflowError(
            f"`--points-per-task` {points_per_task} differs from the existing store's blocks {list(chunks)}; "
            "a store keeps its blocks. Drop --points-per-task to resume, or --overwrite.",
            "--points-per-task",
            points_per_task,
        )
    shape, source = wf.shape, None
    if state.added != _added(wf.canonical):
        assert state.shape is not None  # (read with every lifbatch store's state)
        shape, source = tuple(state.shape), state.source  # the store's design, grown
    n_blocks = Blocking(shape=shape, chunks=chunks).n_blocks
    done = set(state.done)
    if retry_failed:
        done -= set(state.failed)
    if repair:
        done -= set(repair)
    todo = tuple(f for f in range(n_blocks) if f not in done)
    note = f"resuming: {len(done)} of {n_blocks} blocks already done" if done else None
    summaries = None
    if state.summaries is not None and state.summaries != summary_settings(wf.canonical):
        summaries = state.summaries
        if todo:
            note = (
                f"{note or 'resuming'}; the store's summaries were recomputed with other settings "
                f"({describe_summaries(summaries)}): its remaining blocks get the same"
            )
    return SweepPlan(
        new=False,
        chunks=chunks,
        blocks=todo,
        skipped=n_blocks - len(todo),
        note=note,
        summaries=summaries,
        source=source,
    )


def _added(canonical: str) -> str | None:
    """The points refine and fit added, as StoreState.added has them."""
    import json

    added = json.loads(canonical).get("sample_added")
    return None if added is None else json.dumps(added, sort_keys=True)
