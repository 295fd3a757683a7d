"""The caps of ``lifbatch.limits`` (dask.config, defaults in lifbatch.yaml): points, neuron
steps, a task's working memory (from the layout, :func:`lifbatch.layout.point_bytes`) and a
workflow file's size; each refusal says which cap and how to raise it.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from dask.utils import parse_bytes

from . import config
from .errors import WorkflowError
from .layout import point_bytes, working_bytes
from .messages import byte_size as _bytes, err as _err, short as _short, shown as _shown, three_digits as _g
from .specs import Run, SweepAxis

__all__ = ["limit", "trials_text", "count_text", "raise_cap", "check_task_memory", "check_work", "check_room"]


def limit(name: str) -> float:
    """The cap ``lifbatch.limits.<name>`` as a number (bytes for max-task-memory)."""

    raw = config.get(f"limits.{name}")
    try:
        if isinstance(raw, str):
            try:
                value = float(raw)
            except ValueError:
                if not name.endswith(("memory", "-file")):
                    raise

                value = float(parse_bytes(raw))
        else:
            value = float(raw)
        if not value > 0:
            raise ValueError
    except (TypeError, ValueError):
        raise WorkflowError(
            f"`lifbatch.limits.{name}` must be a positive number, got {_shown(raw)}. "
            f"Example: --set lifbatch.limits.{name}={_LIMIT_EXAMPLES[name]}",
            f"lifbatch.limits.{name}",
            raw,
        ) from None
    return value


_LIMIT_EXAMPLES = {
    "max-points": "2e7",
    "max-neuron-steps": "2e15",
    "max-task-memory": "16GiB",
    "max-workflow-file": "64MiB",
}


def trials_text(n: int) -> str:
    return f"{count_text(n)} trial" + ("s" if n != 1 else "")


def count_text(n: float) -> str:
    return f"{int(n)}" if n < 1e6 else _g(n)


def raise_cap(name: str, needed: float) -> str:
    """How to raise the cap ``name`` to at least ``needed``."""
    if name.endswith("-file"):
        value = f"{math.ceil(needed / 2**20)}MiB"
    elif name.endswith("memory"):
        value = f"{math.ceil(needed / 2**30)}GiB" if needed < 2**40 else f"{math.ceil(needed / 2**40)}TiB"
    else:
        digits = f"{Decimal(needed) if needed >= 1e300 else needed:.1e}".split("e")
        value = f"{math.ceil(float(digits[0]) * 10) / 10:g}e{int(digits[1])}" if needed >= 1e6 else str(int(needed))
    env = "DASK_LIFBATCH__LIMITS__" + name.upper().replace("-", "_")
    return f"or raise the cap: --set lifbatch.limits.{name}={value} (or {env}={value})."


def check_task_memory(wf, points: int = 1, *, points_per_task: int | None = None) -> None:
    """Refuse tasks of ``points`` points of ``wf`` whose working memory (``layout.point_bytes``
    per point) exceeds ``lifbatch.limits.max-task-memory``. ``points_per_task``: the block
    size the user asked for (``--points-per-task``), if any, for the message; the planner
    calls this with its blocks' size (plan.plan_blocks)."""
    cap = limit("max-task-memory")
    one = point_bytes(wf)
    need = one * max(1, int(points))
    if need <= cap:
        return
    if one > cap or points <= 1:
        raise _err(
            "duration",
            wf.to_dict().get("duration"),
            f"makes one point need ~{_bytes(one)} of working memory ({trials_text(wf.trials)} x {count_text(wf.n_steps)} "
            f"steps), more than lifbatch.limits.max-task-memory ({_bytes(cap)})",
            "Shorten the run, use fewer trials, record fewer V traces or sample V less often "
            "(record.v.every, summaries.moments.every), " + raise_cap("max-task-memory", one),
        )
    fit = max(1, int(cap // one))
    if points_per_task is not None:
        raise WorkflowError(
            f"`--points-per-task` {points_per_task} makes tasks of ~{_bytes(need)} of working memory "
            f"({_bytes(one)} per point), more than lifbatch.limits.max-task-memory ({_bytes(cap)}). Use at most "
            f"--points-per-task {fit}, " + raise_cap("max-task-memory", need),
            "--points-per-task",
            points_per_task,
        )
    raise WorkflowError(
        f"`sweep` makes tasks of {points} points of ~{_bytes(need)} of working memory ({_bytes(one)} per point): "
        f"the {count_text(wf.n_points)} points in at most lifbatch.task.max-tasks tasks, more than "
        f"lifbatch.limits.max-task-memory ({_bytes(cap)}). Sweep fewer points, allow more tasks "
        f"(--set lifbatch.task.max-tasks={math.ceil(wf.n_points / fit)}), " + raise_cap("max-task-memory", need),
        "sweep",
        wf.shape,
    )


def check_work(run: Run, n_points: int, sweep: tuple[SweepAxis, ...] | list[SweepAxis] | None = None) -> None:
    """Refuse more neuron-steps than ``lifbatch.limits.max-neuron-steps``, and (before
    anything of its size is built) a point whose spike rasters and kernel buffers alone
    exceed ``max-task-memory``."""
    if not run.limits:
        return
    steps = n_points * run.trials * run.n_steps
    cap = limit("max-neuron-steps")
    if steps > cap:
        if sweep:
            grid = " x ".join(f"{a.name}={a.size}" for a in sweep)
            raise _err(
                "sweep",
                grid,
                f"makes {count_text(n_points)} points x {trials_text(run.trials)} x "
                f"{count_text(run.n_steps)} steps = {_g(steps)} neuron-steps, more than "
                f"lifbatch.limits.max-neuron-steps ({cap:.3g})",
                "Sweep fewer values, use fewer trials or a shorter run, " + raise_cap("max-neuron-steps", steps),
            )
        raise _err(
            "duration",
            run.duration_written,
            f"makes {trials_text(run.trials)} x {count_text(run.n_steps)} steps of dt "
            f"({_short(run.dt_written)}) = {_g(steps)} neuron-steps per point, "
            f"more than lifbatch.limits.max-neuron-steps ({cap:.3g})",
            "Shorten the run, use a larger dt or fewer trials, " + raise_cap("max-neuron-steps", steps),
        )
    if n_points == 1:
        n = run.n_steps
        # layout.point_bytes, at least: the moments grid at its coarsest (2 samples), no traces
        floor = working_bytes(trials=run.trials, n_steps=n, n_moments=2, n_recorded=0, n_samples=0)
        mem = limit("max-task-memory")
        if floor > mem:
            raise _err(
                "duration",
                run.duration_written,
                f"makes one point need more than {_bytes(floor)} of working memory ({trials_text(run.trials)} x "
                f"{count_text(n)} steps), more than lifbatch.limits.max-task-memory ({_bytes(mem)})",
                "Shorten the run, use a larger dt or fewer trials, " + raise_cap("max-task-memory", floor),
            )


def check_room(run: Run, sizes: list[int], n: int, where: str, arg: Any) -> None:
    """Refuse an axis of ``n`` values that takes a grid of axes of ``sizes`` above
    ``lifbatch.limits.max-points`` or ``max-neuron-steps``, before its values are built."""
    if not run.limits:
        return
    sizes = list(sizes) + [n]
    n_points = math.prod(sizes)
    grid = " x ".join(str(k) for k in sizes)
    if n_points > (cap := limit("max-points")):
        raise _err(
            where,
            arg,
            f"makes the grid {grid} = {count_text(n_points)} points, more than "
            f"lifbatch.limits.max-points ({count_text(cap)})",
            "Sweep fewer values, " + raise_cap("max-points", n_points),
        )
    steps = n_points * run.trials * run.n_steps
    if steps > (cap := limit("max-neuron-steps")):
        raise _err(
            where,
            arg,
            f"makes {grid} = {count_text(n_points)} points x {trials_text(run.trials)} x "
            f"{count_text(run.n_steps)} steps = {_g(steps)} neuron-steps, more than "
            f"lifbatch.limits.max-neuron-steps ({cap:.3g})",
            "Sweep fewer values, use fewer trials or a shorter run, " + raise_cap("max-neuron-steps", steps),
        )
