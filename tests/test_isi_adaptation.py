"""The ISI adaptation index (Naud et al. 2008): ``isi_adaptation``, for every model.

Against hand-computed values of known spike trains (the k = min(4, n // 5) leading ISIs
left out, warmup, trials averaged where defined), and through a real store: the index is
derived from the spikes when a store is read, never stored, so a store whose arrays are
those of the layout before it (pinned below) is interrupted, resumed and summarized with a
new warmup, and has the index, equal to simulate's and to the hand formula on its spikes.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

import lifbatch
from lifbatch.summaries import isi_adaptation_values
from lifbatch.store import done_blocks

from conftest import assert_identical
from test_store_trust import WF, _cli, _start, _write

DT = 1e-4


def _bits(*trains: list[int], n_steps: int = 400) -> np.ndarray:
    """Packed rasters (trial, spike_byte) with spikes at these bits (a spike at (bit + 1) dt)."""
    raster = np.zeros((len(trains), n_steps), np.uint8)
    for i, train in enumerate(trains):
        raster[i, train] = 1
    return np.packbits(raster, axis=-1)


def _train(isis: list[int], start: int = 0) -> list[int]:
    return list(np.cumsum([start] + isis))


def _arrays(store) -> list[str]:
    """The store's Zarr arrays (its control group ``_lifbatch`` aside)."""
    return sorted(p.name for p in store.iterdir() if (p / "zarr.json").is_file() and not p.name.startswith("_"))


def _index(bits, warmup: float = 0.0) -> np.ndarray:
    return isi_adaptation_values(bits, dt=DT, n_steps=400, warmup=warmup)


def test_index_of_known_trains():
    # 4 ISIs lengthening 10, 20, 30, 40 steps: k = min(4, 4 // 5) = 0, three pairs
    assert _index(_bits(_train([10, 20, 30, 40]))[None])[0] == pytest.approx(
        (10 / 30 + 10 / 50 + 10 / 70) / 3, rel=1e-15
    )
    # shortening: the same magnitude, negative
    assert _index(_bits(_train([40, 30, 20, 10]))[None])[0] == pytest.approx(
        -(10 / 70 + 10 / 50 + 10 / 30) / 3, rel=1e-15
    )
    # regular: 0 exactly
    assert _index(_bits(_train([25] * 8))[None])[0] == 0.0
    # 10 ISIs: k = 2 left out (the 5 and 50 of a transient), then 7 pairs
    isis = [5, 50, 10, 10, 10, 12, 14, 16, 18, 20]
    want = (0 + 0 + 2 / 22 + 2 / 26 + 2 / 30 + 2 / 34 + 2 / 38) / 7
    assert _index(_bits(_train(isis))[None])[0] == pytest.approx(want, rel=1e-15)
    # 30 ISIs: k = min(4, 6) = 4 left out, 25 pairs
    isis = [3, 50, 3, 50] + [5] * 13 + [6] * 13
    assert _index(_bits(_train(isis), n_steps=400)[None])[0] == pytest.approx((1 / 11) / 25, rel=1e-15)


def test_index_needs_two_isis_and_averages_over_the_trials_where_it_is_defined():
    # per point: trials (a) 10, 20, 30, 40; (b) two ISIs 10, 30; (c) one ISI; (d) no spike
    a = (10 / 30 + 10 / 50 + 10 / 70) / 3
    b = 20 / 40
    bits = _bits(_train([10, 20, 30, 40]), _train([10, 30], 5), _train([50], 7), [])
    got = _index(bits[None])
    assert got.shape == (1,) and got[0] == pytest.approx((a + b) / 2, rel=1e-15)
    # points x trials: a point whose trials all lack two ISIs is NaN
    both = np.stack([bits, _bits(_train([50], 7), [], [3], [])])
    got = _index(both)
    assert got[0] == pytest.approx((a + b) / 2, rel=1e-15) and np.isnan(got[1])


def test_index_counts_only_spikes_after_warmup():
    # ISIs 40, 10, 20, 30 from bit 0: with warmup 4 ms (40 steps) the spike at bit 0 (t = 0.1 ms)
    # goes, so does the one at bit 39 (t = 4 ms, not > warmup); left: ISIs 20, 30 from bit 49
    bits = _bits(_train([39, 10, 20, 30]))[None]
    assert _index(bits)[0] == pytest.approx((-29 / 49 + 10 / 30 + 10 / 50) / 3, rel=1e-15)
    assert _index(bits, warmup=4e-3)[0] == pytest.approx(10 / 50, rel=1e-15)


#: the arrays of a store of WF as lifbatch wrote them before the adaptation index: a store
#: written now has exactly these (the index is derived when read), so old stores are this layout
OLD_LAYOUT = sorted(
    [
        "I",
        "isi_bin",
        "isi_bin_lower",
        "isi_bin_upper",
        "isi_cv",
        "isi_hist",
        "isi_mean",
        "isi_std",
        "lag",
        "rate",
        "rate_std",
        "spike_bits",
        "spike_count",
        "status",
        "time",
        "trace_time",
        "trace_trial",
        "trial",
        "v",
        "v_autocov",
        "v_mean",
        "v_var",
    ]
)


@pytest.mark.slow
def test_a_store_of_the_old_layout_resumes_and_summarizes_with_the_index(tmp_path):
    raw = {**WF, "name": "adaptation", "summaries": {"warmup": "10 ms"}}
    path = _write(tmp_path, raw)
    store = tmp_path / "s.zarr"
    proc = _start(
        "run",
        path,
        "--store",
        store,
        "--points-per-task",
        "1",
        "--workers",
        "1",
        "--no-progress",
        env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "block-computed", "LIFBATCH_TEST_PAUSE_SECONDS": "0.3"},
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store)) < 2:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    before = len(done_blocks(store))
    assert 2 <= before < 8
    arrays = _arrays(store)
    assert arrays == OLD_LAYOUT
    # a partial store: the index where the points are done, NaN where they are pending
    partial = lifbatch.open_results(store)
    done = partial["status"].values == 1
    assert done.sum() == before and np.all(np.isnan(partial["isi_adaptation"].values[~done]))
    resumed = _cli("run", path, "--store", store, "--no-progress")
    assert resumed.returncode == 0 and f"{8 - before} blocks run, {before} already done" in resumed.stdout, (
        resumed.stdout + resumed.stderr
    )
    wf = lifbatch.load_workflow(path)
    ds = lifbatch.open_results(store)
    assert_identical(ds.load(), lifbatch.simulate(wf))
    index = ds["isi_adaptation"].values
    assert np.isfinite(index).all() and index.min() < index.max()
    # summarized with another warmup: the index follows it, as the hand formula on the stored spikes says
    out = _cli("summarize", store, "--set", "summaries.warmup=50 ms")
    assert out.returncode == 0, out.stderr
    assert _arrays(store) == OLD_LAYOUT
    ds = lifbatch.open_results(store).load()
    bits = ds["spike_bits"].values
    want = isi_adaptation_values(bits, dt=wf.dt, n_steps=wf.n_steps, warmup=0.05)
    assert np.array_equal(ds["isi_adaptation"].values, want, equal_nan=True)
    assert not np.array_equal(want, index, equal_nan=True)
    # (the spike summaries: this store's V moments keep their warmup, record.v holding one trial)
    assert_identical(
        ds,
        lifbatch.simulate(lifbatch.load_workflow(raw, ["summaries.warmup=50 ms"])),
        ["spike_bits", "rate", "isi_mean", "isi_cv", "isi_hist", "isi_adaptation"],
    )
    # the same number by hand, from one point's spike times
    per_trial = []
    for trial in range(4):
        t = lifbatch.spike_times(ds, I=float(ds["I"][3]), trial=trial)
        isi = np.diff(t[t > 0.05])
        k = min(4, len(isi) // 5)
        if len(isi) - k >= 2:
            per_trial.append(np.mean([(b - a) / (b + a) for a, b in zip(isi[k:-1], isi[k + 1 :])]))
    assert per_trial and float(ds["isi_adaptation"][3]) == pytest.approx(np.mean(per_trial), rel=1e-12)
