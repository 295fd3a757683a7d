"""Planning a sweep's blocks and its sizes, without running anything (numpy and
dask.config only: ``lifbatch validate`` plans with no cluster, xarray or numba)."""

from __future__ import annotations

import math

import numpy as np

from . import config
from .errors import WorkflowError
from .grid import Blocking, balanced_chunks, block_chunks
from .layout import point_bytes, sizes, variable_specs

__all__ = ["plan_blocks", "estimate"]


def _check_points_per_task(points_per_task) -> int:
    if int(points_per_task) < 1:
        raise WorkflowError(f"`--points-per-task` must be >= 1, got {points_per_task}. Example: --points-per-task 50",
                            "--points-per-task", points_per_task)
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
        return Blocking(shape=wf.shape, chunks=block_chunks(wf.shape, _check_points_per_task(points_per_task)))
    from dask.utils import parse_bytes

    budget = parse_bytes(config.get("task.memory-budget"))
    ppt_mem = max(1, budget // max(1, point_bytes(wf)))
    steps = wf.trials * wf.n_steps
    ppt_time = max(1, int(float(config.get("task.target-neuron-steps")) // max(1, steps)))
    ppt = min(ppt_mem, ppt_time)
    spread = math.ceil(wf.n_points / max(1, int(config.get("task.tasks-per-worker")) * max(1, workers)))
    ppt = max(1, min(ppt, spread))
    max_tasks = int(config.get("task.max-tasks"))
    ppt = max(ppt, math.ceil(wf.n_points / max_tasks))
    return Blocking(shape=wf.shape, chunks=balanced_chunks(wf.shape, ppt, workers, max_tasks))


def estimate(wf, blocking: Blocking) -> dict:
    """Sizes shown by ``lifbatch validate``."""
    dims = sizes(wf)
    store = 0
    for tail, dtype, _, _ in variable_specs(wf).values():
        store += wf.n_points * int(np.prod([dims[d] for d in tail] or [1])) * dtype.itemsize
    per_task = int(np.prod(blocking.chunks or (1,)))
    return {
        "shape": wf.shape, "axes": wf.axis_names, "points": wf.n_points, "trials": wf.trials,
        "steps": wf.n_steps, "neuron_steps": wf.n_points * wf.trials * wf.n_steps,
        "tasks": blocking.n_blocks, "points_per_task": per_task,
        "memory_per_task": point_bytes(wf) * per_task, "store_bytes": store,
    }
