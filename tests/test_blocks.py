"""How a sweep is cut into tasks: the memory budget, the task limits, and even last waves."""

from __future__ import annotations

import math

import dask
import pytest

import lifbatch
from harness.bench_sweep import _workflow
from lifbatch.layout import point_bytes as _point_bytes
from lifbatch.plan import plan_blocks
from lifbatch.grid import Blocking, balanced_chunks, block_chunks


def _busiest(shape, chunks, workers):
    """Points of the busiest worker when every block is full: waves x block size."""
    return math.ceil(Blocking(shape, chunks).n_blocks / workers) * math.prod(chunks)


def test_last_wave_has_a_block_for_every_worker():
    # 10^4 points in blocks of at most 325 on 2 workers: 31 blocks left one worker idle at the end
    assert Blocking((10_000,), block_chunks((10_000,), 325)).n_blocks == 31
    chunks = balanced_chunks((10_000,), 325, 2)
    assert chunks == (313,) and Blocking((10_000,), chunks).n_blocks == 32
    assert balanced_chunks((4000,), 325, 2) == (286,)  # 14 blocks, not 13
    assert balanced_chunks((10_000,), 325, 3) == (304,)  # 33 blocks, not 31
    assert balanced_chunks((1000,), 125, 2) == (125,)  # already even: unchanged
    assert balanced_chunks((30, 30), 325, 2) == (8, 30)  # 4 blocks of whole rows, not 3
    assert balanced_chunks((), 10, 2) == ()


@pytest.mark.parametrize(
    "shape, max_points, workers",
    [
        ((10_000,), 325, 2),
        ((997,), 50, 2),
        ((30, 40), 150, 2),
        ((21, 3), 10, 2),
        ((100, 100), 325, 2),
        ((7, 13), 5, 2),
        ((3, 4, 5), 7, 3),
        ((5,), 1, 2),
        ((12,), 12, 4),
        ((10**6,), 125_000, 2),
    ],
)
def test_balanced_chunks_never_worse_than_the_plain_cut(shape, max_points, workers):
    plain = block_chunks(shape, max_points)
    chunks = balanced_chunks(shape, max_points, workers)
    assert math.prod(chunks) <= max_points  # the memory bound holds
    assert all(1 <= c <= n for c, n in zip(chunks, shape))
    plain_waves = math.ceil(Blocking(shape, plain).n_blocks / workers)
    assert math.ceil(Blocking(shape, chunks).n_blocks / workers) <= plain_waves  # no more tasks per worker
    assert _busiest(shape, chunks, workers) <= _busiest(shape, plain, workers)
    few = balanced_chunks(shape, max_points, workers, max_blocks=3)  # a limit it may not meet: still a plan
    assert math.prod(few) <= max_points
    limited = balanced_chunks(shape, max_points, workers, max_blocks=Blocking(shape, plain).n_blocks)
    assert Blocking(shape, limited).n_blocks <= Blocking(shape, plain).n_blocks


def test_plan_blocks_from_the_memory_budget_and_task_limits():
    wf = lifbatch.load_workflow(_workflow(10_000, 20, 10_000, "plan"))
    per_point = _point_bytes(wf)
    b = plan_blocks(wf, workers=2)
    assert b.n_blocks % 2 == 0 and b.chunks == (313,)  # 256 MiB: at most 325 points, evened out
    assert b.chunks[0] * per_point <= 256 * 2**20
    with dask.config.set({"lifbatch.task.memory-budget": "32MiB"}):
        small = plan_blocks(wf, workers=2)
        most = 32 * 2**20 // per_point  # points the budget allows
        assert most // 2 <= small.chunks[0] <= most
        assert small.n_blocks % 2 == 0
    with dask.config.set({"lifbatch.task.max-tasks": 10}):
        assert plan_blocks(wf, workers=2).n_blocks <= 10  # the scheduler's limit wins over the budget
    few = lifbatch.load_workflow(_workflow(40, 20, 10_000, "plan-few"))
    assert plan_blocks(few, workers=2).n_blocks == 8  # tasks-per-worker: 4 tasks per worker
    assert plan_blocks(few, workers=2, points_per_task=7).chunks == (7,)  # --points-per-task: as given


def test_run_plans_for_the_clusters_own_workers(local_client, tmp_path, monkeypatch):
    """With a client (or --scheduler), blocks are planned for its task slots, not this machine's cores."""
    wf = lifbatch.load_workflow(_workflow(40, 2, 100, "plan-slots"))
    assert sum(local_client.nthreads().values()) == 2
    on_two, on_three = plan_blocks(wf, workers=2), plan_blocks(wf, workers=3)
    assert on_two.n_blocks != on_three.n_blocks
    monkeypatch.setattr(lifbatch.config, "available_cpus", lambda: 3)  # this machine: 3 CPUs; the cluster: 2 workers
    res = lifbatch.run_sweep(wf, tmp_path / "s.zarr", client=local_client, progress=False)
    assert res.ok and res.blocks == res.blocks_run == on_two.n_blocks
    ds = lifbatch.open_results(tmp_path / "s.zarr")
    assert ds.rate.chunks[0][0] == on_two.chunks[0] and int((ds.status == 1).sum()) == 40


def test_validate_prints_the_plan_run_would_make(capsys):
    from lifbatch.cli import main

    from conftest import WORKFLOWS

    wf = lifbatch.load_workflow(WORKFLOWS / "quickstart.yaml")
    for workers in (2, 3):
        assert main(["validate", str(WORKFLOWS / "quickstart.yaml"), "--workers", str(workers)]) == 0
        plan = plan_blocks(wf, workers=workers)
        line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("work "))
        assert line.endswith(f"in {plan.n_blocks} tasks of <= {math.prod(plan.chunks)} points (for {workers} workers)")


def test_tasks_larger_than_the_memory_cap_are_refused():
    import numpy as np

    from lifbatch.errors import WorkflowError
    from lifbatch.workflow import load_workflow

    from conftest import WORKFLOWS

    wf = load_workflow(WORKFLOWS / "quickstart.yaml")
    with dask.config.set({"lifbatch.limits.max-task-memory": "4MiB"}):
        with pytest.raises(
            WorkflowError, match="`--points-per-task` 50 makes tasks of .* Use at most --points-per-task 3"
        ):
            plan_blocks(wf, points_per_task=50)
        auto = plan_blocks(wf, workers=2)  # automatic blocks stay under the cap
    from lifbatch.layout import point_bytes

    assert int(np.prod(auto.chunks)) * point_bytes(wf) <= 4 * 2**20
