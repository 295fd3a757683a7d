"""A point's results depend only on the workflow, the seed, its own parameters and the trial."""

from __future__ import annotations

import numpy as np
import pytest

import lifbatch
from lifbatch.execute import simulate_block

from conftest import assert_identical

NOISY = {
    "name": "repro",
    "seed": 11,
    "trials": 4,
    "duration": "100 ms",
    "dt": "0.1 ms",
    "neuron": {
        "tau_m": "20 ms",
        "e_l": "-65 mV",
        "v_th": "-50 mV",
        "v_reset": "-65 mV",
        "t_ref": "2 ms",
        "r_m": "100 Mohm",
    },
    "inputs": {
        "i": {"kind": "constant", "value": "150 pA"},
        "n": {"kind": "white_noise", "sigma": "3 mV"},
        "u": {"kind": "uniform", "mean": "10 pA", "half_width": "20 pA"},
        "p": {"kind": "poisson", "rate": "50 Hz", "weight": "1 mV", "n": 10},
        "s": {"kind": "random_steps", "low": "0 pA", "high": "30 pA", "interval": "10 ms"},
    },
    "sweep": {
        "I": {"param": "inputs.i.value", "values": [120, 160, 200], "unit": "pA"},
        "tau": {"param": "neuron.tau_m", "values": [10, 20], "unit": "ms"},
    },
    "record": {"v": {"trials": [1, 3], "every": "0.5 ms"}},
    "summaries": {
        "isi_bins": {"linspace": [0, 50, 11], "unit": "ms"},
        "moments": {"every": "1 ms"},
        "autocov": {"max_lag": "10 ms"},
    },
}


@pytest.fixture(scope="module")
def full():
    return lifbatch.simulate(lifbatch.load_workflow(NOISY))


def test_point_alone_equals_point_in_grid(full):
    alone = lifbatch.load_workflow(NOISY, overrides={"sweep.I.values": [160], "sweep.tau.values": [20]})
    ds = lifbatch.simulate(alone)
    assert_identical(ds.isel(I=0, tau=0), full.sel(I=160e-12, tau=0.02, method="nearest"))


def test_point_in_larger_grid(full):
    bigger = lifbatch.load_workflow(NOISY, overrides={"sweep.I.values": [100, 120, 140, 160, 200, 250]})
    ds = lifbatch.simulate(bigger)
    assert_identical(ds.sel(I=full.I.values), full)


@pytest.mark.parametrize("chunks", [(1, 1), (1, 2), (2, 1), (3, 2)])
def test_any_block_size(full, chunks):
    wf = lifbatch.load_workflow(NOISY)
    from lifbatch.grid import Blocking

    b = Blocking(shape=wf.shape, chunks=chunks)
    parts = [simulate_block(wf, b.slices(bid))[0] for bid in b.block_ids()]
    import xarray as xr

    ds = xr.combine_by_coords(parts, combine_attrs="drop")
    assert_identical(ds, full)


def test_seed_and_trials_matter(full):
    other = lifbatch.simulate(lifbatch.load_workflow(NOISY, overrides={"seed": 12}))
    assert not np.array_equal(other.v_mean.values, full.v_mean.values)
    # more trials: the first trials are unchanged (streams are consumed trial by trial)
    more = lifbatch.simulate(lifbatch.load_workflow(NOISY, overrides={"trials": 6}))
    assert np.array_equal(more.spike_bits.isel(trial=slice(0, 4)).values, full.spike_bits.values)


def test_noise_shared_across_axis(full):
    shared = lifbatch.simulate(lifbatch.load_workflow(NOISY, overrides={"noise": {"shared_across": ["I"]}}))
    # sharing over I: every I sees the same random numbers, so with identical parameters the
    # trajectories would coincide; here a larger current gives at least as many spikes, trial by trial
    counts = shared.spike_count.sel(tau=0.02).transpose("trial", "I").values
    assert np.all(np.diff(counts, axis=1) >= 0)
    # without sharing, the streams differ between points of the same tau
    assert not np.array_equal(
        full.v.isel(I=0, tau=0).values - full.v.isel(I=1, tau=0).values,
        shared.v.isel(I=0, tau=0).values - shared.v.isel(I=1, tau=0).values,
    )


def test_distributed_equals_serial_any_workers_and_blocks(full, local_client, tmp_path):
    wf = lifbatch.load_workflow(NOISY)
    for ppt in (1, 4):
        store = tmp_path / f"s{ppt}.zarr"
        res = lifbatch.run_sweep(wf, store, client=local_client, points_per_task=ppt, progress=False)
        assert res.ok and res.blocks_run == {1: 6, 4: 2}[ppt]
        assert_identical(lifbatch.open_results(store).load(), full)


@pytest.mark.parametrize("workers, ppt, processes", [(1, 6, False), (2, 1, False), (3, 2, False), (2, 4, True)])
def test_embedded_threads_or_processes_equal_serial(full, tmp_path, workers, ppt, processes):
    """The embedded execution, in threads of this process (the default) or in worker processes."""
    wf = lifbatch.load_workflow(NOISY)
    store = tmp_path / "s.zarr"
    logged = []
    res = lifbatch.run_sweep(
        wf, store, workers=workers, points_per_task=ppt, progress=False, processes=processes, log=logged.append
    )
    assert res.ok and res.blocks_run == -(-6 // ppt)
    said = "dask dashboard" if processes else f"thread{'s' if workers > 1 else ''} of this process"
    assert any(said in m for m in logged), logged
    assert_identical(lifbatch.open_results(store).load(), full)


def test_threaded_block_error_is_raised_and_the_rest_stop(tmp_path, monkeypatch):
    """A block that raises (not a point failure: e.g. the disk failed) ends the threaded run with
    one line naming the failure (a RunError: exit 1, resumable); blocks not yet started are not started.
    (The block tasks, lifbatch.cluster.block_tasks, call run_block; Dask's scheduler picks the first.)"""
    from lifbatch import cluster
    from lifbatch.errors import RunError

    wf = lifbatch.load_workflow(NOISY)
    ran = []
    real = cluster.run_block

    def failing(wf_, store, chunks, flat, *rest):
        ran.append(flat)
        if len(ran) == 1:
            raise OSError("disk on fire")
        return real(wf_, store, chunks, flat, *rest)

    monkeypatch.setattr(cluster, "run_block", failing)
    with pytest.raises(RunError, match="could not be written .*OSError: disk on fire.*run the same command again"):
        lifbatch.run_sweep(wf, tmp_path / "s.zarr", workers=1, points_per_task=1, progress=False, log=lambda m: None)
    assert len(ran) == 1


def test_embedded_cluster_runs_with_dasks_monitoring_quieted(local_client):
    """lifbatch.cluster.dask-config reaches the scheduler and the worker processes, not the caller's config."""
    import dask

    from lifbatch import config

    settings = config.get("cluster.dask-config")
    assert settings["distributed.worker.profile.enabled"] is False
    workers = local_client.run(
        lambda dask_worker: {k: pc.callback_time for k, pc in dask_worker.periodic_callbacks.items()}
    )
    assert len(workers) == 2
    for callbacks in workers.values():
        assert "profile" not in callbacks and "profile-cycle" not in callbacks
        assert callbacks["tick"] == 1000 and callbacks["monitor"] == 2000
    scheduler = local_client.run_on_scheduler(
        lambda dask_scheduler: {k: pc.callback_time for k, pc in dask_scheduler.periodic_callbacks.items()}
    )
    assert scheduler["tick"] == 1000
    # this process keeps its own Dask configuration
    assert dask.config.get("distributed.worker.profile.enabled") is True
    assert dask.config.get("distributed.admin.tick.interval") == "20ms"


def test_cluster_dask_config_nested_or_dotted(monkeypatch):
    """Nested settings (as environment variables give them) become dotted keys: set as a
    mapping, ``dask.config.set`` would replace all of ``distributed`` with it."""
    import dask

    from lifbatch.cluster import _cluster_dask_config

    monkeypatch.setenv("DASK_LIFBATCH__CLUSTER__DASK_CONFIG__DISTRIBUTED__ADMIN__TICK__INTERVAL", "2s")
    dask.config.refresh()
    try:
        settings = _cluster_dask_config()
        assert settings["distributed.admin.tick.interval"] == "2s"
        assert settings["distributed.worker.profile.enabled"] is False  # lifbatch.yaml's, still there
        with dask.config.set(settings):
            assert dask.config.get("distributed.admin.tick.interval") == "2s"
            assert dask.config.get("distributed.scheduler.work-stealing") is True  # the rest kept
    finally:
        monkeypatch.delenv("DASK_LIFBATCH__CLUSTER__DASK_CONFIG__DISTRIBUTED__ADMIN__TICK__INTERVAL")
        dask.config.refresh()


def test_block_waits_for_the_template_written_meanwhile(full, tmp_path):
    """run_sweep writes a new store's template while the first tasks compute: a block done first waits for it."""
    import threading

    from lifbatch.block import block_values
    from lifbatch.execute import plan_blocks
    from lifbatch.store import MARKERS, create_store, done_blocks, write_block

    wf = lifbatch.load_workflow(NOISY)
    blocking = plan_blocks(wf, points_per_task=3)
    store = tmp_path / "late.zarr"
    (store / MARKERS).mkdir(parents=True)
    writer = threading.Timer(0.3, create_store, (wf, store, blocking))
    writer.start()
    for block_id in blocking.block_ids():
        values, failures, _ = block_values(wf, blocking.slices(block_id))
        write_block(wf, store, blocking, block_id, values, failures=failures)
    writer.join()
    assert done_blocks(store) == set(range(blocking.n_blocks))
    assert_identical(lifbatch.open_results(store).load(), full)


def test_block_without_template_fails_after_the_wait(tmp_path):
    import dask

    from lifbatch.errors import StoreError
    from lifbatch.block import block_values
    from lifbatch.execute import plan_blocks
    from lifbatch.store import MARKERS, write_block

    wf = lifbatch.load_workflow(NOISY)
    blocking = plan_blocks(wf, points_per_task=6)
    (tmp_path / "s.zarr" / MARKERS).mkdir(parents=True)
    values, failures, _ = block_values(wf, blocking.slices((0, 0)))
    with (
        dask.config.set({"lifbatch.task.template-wait": "0.2s"}),
        pytest.raises(StoreError, match=r"has no template after 0.2 s: this machine does not see the store"),
    ):
        write_block(wf, tmp_path / "s.zarr", blocking, (0, 0), values)
    assert not any((tmp_path / "s.zarr" / MARKERS).iterdir())


def test_point_key_text_is_the_canonical_json():
    """The key's text, formatted directly, is json.dumps([seed, sorted([[param, repr(value)], ...])])."""
    import hashlib
    import json

    from lifbatch.streams import _point_digest

    for raw, overrides in ((NOISY, None), (NOISY, {"noise": {"shared_across": ["tau"]}, "seed": 2**40})):
        wf = lifbatch.load_workflow(raw, overrides=overrides)
        for index in np.ndindex(wf.shape):
            p = wf.point_params(index)
            swept = sorted(
                [q, repr(float(p[q]))] for ax in wf.sweep if ax.name not in wf.shared_across for q in ax.params
            )
            text = json.dumps([wf.seed, swept], separators=(",", ":"))
            assert _point_digest(wf, p) == hashlib.sha256(text.encode()).digest(), (overrides, index)
