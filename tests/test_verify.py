"""`status --verify` sees every damage and cries no wolf; `run --repair` mends what it finds; a
long-lived Dask cluster never writes with an array's replaced codecs (issue 19, items 1, 7, 8, 9).

Real `lifbatch` processes on real stores, bytes flipped and metadata deleted on disk, a store
written by the lifbatch before checksums (checked out from git), real `dask scheduler` /
`dask worker` processes that outlive the client, a real SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import lifbatch
from lifbatch.store import done_blocks, verify_store

from conftest import ROOT, assert_identical
from test_store_trust import _cli, _start, _write

WF = {
    "name": "verify",
    "seed": 8,
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
    "inputs": {"i": {"kind": "constant", "value": "150 pA"}, "n": {"kind": "white_noise", "sigma": "3 mV"}},
    # 0-86 pA: no spikes at all, so blocks 0 and 1 have NaN ISI statistics only
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [0, 300, 8], "unit": "pA"}},
    "record": {"v": {"trials": [0], "every": "1 ms"}},
}
SAMPLED = {
    "name": "verify-sampled",
    "seed": 3,
    "trials": 3,
    "duration": "100 ms",
    "dt": "0.1 ms",
    "neuron": {
        "tau_m": "20 ms",
        "e_l": "-60 mV",
        "v_th": "-50 mV",
        "v_reset": "-70 mV",
        "t_ref": "2 ms",
        "r_m": "100 Mohm",
    },
    "inputs": {"mean": {"kind": "constant", "value": "250 pA"}, "noise": {"kind": "white_noise", "sigma": "2 mV"}},
    "sample": {
        "method": "sobol",
        "n": 8,
        "params": {
            "mu": {"param": "inputs.mean.value", "bounds": [50, 250], "unit": "pA"},
            "sigma": {"param": "inputs.noise.sigma", "bounds": [0.5, 10], "unit": "mV", "scale": "log"},
        },
    },
    "summaries": {"warmup": "20 ms"},
}
DATA = (
    "status",
    "spike_count",
    "spike_bits",
    "rate",
    "rate_std",
    "isi_mean",
    "isi_std",
    "isi_cv",
    "isi_hist",
    "v_mean",
    "v_var",
    "v_autocov",
    "v",
)


def _run(path, store, *args):
    r = _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress", *args)
    assert r.returncode == 0, r.stderr
    return r


def _verify(store, *, ok: bool, quiet: bool = True):
    r = _cli("status", store, "--verify")
    assert r.returncode == (0 if ok else 1), r.stdout + r.stderr
    # (not quiet: xarray cannot open a store with unreadable array metadata, and zarr leaves
    # its abandoned tasks' errors on stderr as the process ends)
    assert not quiet or "Traceback" not in r.stderr, r.stderr
    return r.stdout


def _flip_silently(chunk: Path) -> tuple[np.ndarray, np.ndarray]:
    """Flip one bit of a Blosc-LZ4 float chunk (its bytes before the 4-byte CRC-32C) so that,
    without the checksum, it still decodes, to other finite numbers. Returns (before, after)."""
    from numcodecs import Blosc

    raw = chunk.read_bytes()
    before = np.frombuffer(Blosc().decode(raw[:-4]), "f8")
    for i in range(16, len(raw) - 4):  # after Blosc's 16-byte header
        damaged = bytearray(raw)
        damaged[i] ^= 0x04
        try:
            after = np.frombuffer(Blosc().decode(bytes(damaged[:-4])), "f8")
        except Exception:
            continue
        if after.shape == before.shape and np.isfinite(after).all() and not np.array_equal(after, before):
            chunk.write_bytes(bytes(damaged))
            return before, after
    raise AssertionError(f"no silent flip found in {chunk}")


@pytest.fixture(scope="module")
def reference():
    return lifbatch.simulate(lifbatch.load_workflow(WF))


# --------------------------------------------------------------------------- #
# item 8: flipped bytes and lost metadata are damage
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_flipped_bytes_that_still_decode_are_found_and_repaired(tmp_path, reference):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    _run(path, store)
    assert "verified: 4 of 4 blocks done, every chunk of them present, readable and matching its checksum" in _verify(
        store, ok=True
    )
    before, after = _flip_silently(store / "rate" / "c" / "3")  # block 3's rates, e.g. 50 Hz -> another
    assert not np.array_equal(before, after)
    out = _verify(store, ok=False)
    assert "verify: 1 of 4 done blocks have missing or corrupt data (2 points)" in out
    assert "  block 3: rate: chunk c/3 fails its checksum" in out
    # every other variable's chunk of block 1: one byte flipped in each, each found
    for name in DATA:
        chunk = store / name / "c" / "1"
        chunk = next(p for p in chunk.rglob("*") if p.is_file()) if chunk.is_dir() else chunk
        raw = bytearray(chunk.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        chunk.write_bytes(bytes(raw))
    report = verify_store(store)
    assert report.bad_blocks == [1, 3]
    assert sorted(p.split(":")[0] for p in report.bad[1]) == sorted(DATA)
    assert all(p.endswith("fails its checksum") for p in report.bad[1]), report.bad[1]
    fixed = _cli("run", path, "--store", store, "--repair", "--no-progress")
    assert fixed.returncode == 0 and "2 blocks run, 2 already done" in fixed.stdout, fixed.stdout + fixed.stderr
    assert "block 3: rate: chunk c/3 fails its checksum" in fixed.stderr
    _verify(store, ok=True)
    assert_identical(lifbatch.open_results(store).load(), reference)


def test_an_arrays_lost_metadata_is_damage_and_repair_writes_it_again(tmp_path, reference):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    _run(path, store)
    (store / "rate" / "zarr.json").unlink()  # the variable is gone to readers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr's: a directory that is no Zarr node
        assert "rate" not in lifbatch.open_results(store).data_vars
    (store / "v_mean" / "zarr.json").write_text("{not json")  # unreadable
    (store / "I" / "zarr.json").unlink()  # a coordinate
    (store / "isi_bin" / "c" / "0").write_bytes(b"\0" * 8)  # a coordinate's chunk overwritten
    out = _verify(store, ok=False, quiet=False)
    assert out.startswith("status    unreadable: ")  # (status alone cannot open it)
    fix = f"`lifbatch run WORKFLOW --store {store} --repair`"
    lines = out.splitlines()
    assert (
        f"verify: array 'rate' has no metadata (rate/zarr.json is missing), so none of its data can be read; "
        f"{fix} writes it again and recomputes every done block"
    ) in lines
    assert (
        f"verify: array 'v_mean' has unreadable metadata (v_mean/zarr.json: JSONDecodeError); "
        f"{fix} writes it again and recomputes every done block"
    ) in lines, out
    assert (
        f"verify: array 'I' has no metadata (I/zarr.json is missing), so none of its data can be read; "
        f"{fix} writes it again from the workflow (no block is recomputed for it)"
    ) in lines
    assert any(ln.startswith("verify: array 'isi_bin' has an unreadable chunk") for ln in lines), out
    assert (
        f"verify: 4 of 4 done blocks have missing or corrupt data (8 points); {fix} recomputes exactly those "
        "blocks" in lines
    )
    fixed = _cli("run", path, "--store", store, "--repair", "--no-progress")
    assert fixed.returncode == 0 and "4 blocks run, 0 already done" in fixed.stdout, fixed.stdout + fixed.stderr
    _verify(store, ok=True)
    ds = lifbatch.open_results(store).load()
    assert_identical(ds, reference)
    for name in ("I", "isi_bin"):
        assert np.array_equal(ds[name].values, reference[name].values) and ds[name].attrs == reference[name].attrs


def test_a_coordinate_holding_other_values_is_damage(tmp_path):
    import zarr

    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    _run(path, store)
    arr = zarr.open_array(str(store / "I"), mode="r+")
    arr[3] = arr[3] + 1e-9  # a value off by a little: the numbers of another sweep
    out = _verify(store, ok=False)
    said = [ln for ln in out.splitlines() if ln.startswith(("verify", "  block"))]
    assert said == [
        f"verify: array 'I' holds other values than its workflow's; `lifbatch run WORKFLOW --store "
        f"{store} --repair` writes it again from the workflow (no block is recomputed for it)"
    ], out
    r = _cli("run", path, "--store", store, "--repair", "--no-progress")
    assert r.returncode == 0 and "0 blocks run, 4 already done" in r.stdout, r.stdout + r.stderr
    _verify(store, ok=True)


# --------------------------------------------------------------------------- #
# item 9: healthy stores verify clean (sampled designs, all-NaN summaries)
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_a_sampled_store_verifies_as_laid_out_and_repairs_grown(tmp_path):
    path = _write(tmp_path, SAMPLED)
    store = tmp_path / "s.zarr"
    _run(path, store)
    assert "verified: 4 of 4 blocks done" in _verify(store, ok=True)
    # grown by refine: the coordinates along sample are written again, one chunk each
    r = _cli("refine", store, "--var", "rate", "--add", "3", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "verified: 6 of 6 blocks done" in _verify(store, ok=True)
    grown = lifbatch.open_results(store).load()
    assert grown.sizes["sample"] == 11
    (store / "rate" / "c" / "4").unlink()
    _flip_silently(store / "isi_cv" / "c" / "1")
    out = _verify(store, ok=False)
    assert "verify: 2 of 6 done blocks have missing or corrupt data (4 points)" in out
    assert "block 1: isi_cv: chunk c/1 fails its checksum" in out and "block 4: rate: missing chunk c/4" in out
    # the original workflow repairs the refined store (its simulation, grown)
    fixed = _cli("run", path, "--store", store, "--repair", "--no-progress")
    assert fixed.returncode == 0 and "2 blocks run, 4 already done" in fixed.stdout, fixed.stdout + fixed.stderr
    _verify(store, ok=True)
    assert_identical(lifbatch.open_results(store).load(), grown)


@pytest.mark.slow
def test_a_summarized_store_with_all_nan_chunks_verifies_clean_and_repairs(tmp_path):
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    _run(path, store)
    r = _cli("summarize", store, "--set", "summaries.warmup=30 ms")
    assert r.returncode == 0, r.stderr
    # block 0 (0 and 43 pA) fires no spike: its ISI CV chunk is all NaN, and written
    assert np.isnan(lifbatch.open_results(store)["isi_cv"].values[:2]).all()
    assert (store / "isi_cv" / "c" / "0").is_file() and (store / "isi_hist" / "c" / "0" / "0").is_file()
    assert "verified: 4 of 4 blocks done" in _verify(store, ok=True)
    meta = json.loads((store / "isi_cv" / "zarr.json").read_text())
    assert [c["name"] for c in meta["codecs"]] == ["bytes", "blosc", "crc32c"]  # the store's own codecs
    summarized = lifbatch.open_results(store).load()
    (store / "isi_cv" / "c" / "2").unlink()
    _flip_silently(store / "rate" / "c" / "3")
    out = _verify(store, ok=False)
    assert "block 2: isi_cv: missing chunk c/2" in out and "block 3: rate: chunk c/3 fails its checksum" in out
    fixed = _cli("run", path, "--store", store, "--repair", "--no-progress")
    assert fixed.returncode == 0 and "2 blocks run, 2 already done" in fixed.stdout, fixed.stdout + fixed.stderr
    _verify(store, ok=True)
    # the blocks recomputed with the store's summary settings: as summarize had them, bit for bit
    assert_identical(lifbatch.open_results(store).load(), summarized)


# --------------------------------------------------------------------------- #
# a store written before checksums: read as ever, verified for what can be
# --------------------------------------------------------------------------- #
def _lifbatch_before_checksums(tmp_path: Path) -> Path:
    """The lifbatch package as it was before its chunks carried checksums, from git."""
    git = ["git", "-C", str(ROOT)]
    try:
        intro = subprocess.run(
            git + ["log", "--format=%H", "-S", "Crc32cCodec", "--", "lifbatch/store.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    # the commit before the one that brought checksums (or HEAD, before it is committed)
    rev = f"{intro[-1]}^" if intro else "HEAD"
    if (
        "Crc32cCodec"
        in subprocess.run(git + ["show", f"{rev}:lifbatch/store.py"], capture_output=True, text=True).stdout
    ):
        pytest.skip("no lifbatch without checksums in this checkout's history")
    old = tmp_path / "old"
    old.mkdir()
    archive = subprocess.run(git + ["archive", rev, "lifbatch"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    return old


@pytest.mark.slow
def test_a_store_without_checksums_is_read_and_verified_with_a_note(tmp_path, reference):
    old = _lifbatch_before_checksums(tmp_path)
    path = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    # (run from its own directory: `python -m` puts the working directory first on the path)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "lifbatch.cli",
            "run",
            str(path),
            "--store",
            str(store),
            "--points-per-task",
            "2",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=old,
        env={**os.environ, "PYTHONPATH": str(old)},
    )
    assert r.returncode == 0, r.stderr
    assert "crc32c" not in (store / "rate" / "zarr.json").read_text()
    note = (
        "note: this store's chunks carry no checksums (written by an earlier lifbatch): flipped bytes there "
        "cannot be detected; missing and undecodable chunks are checked"
    )
    out = _verify(store, ok=True)
    assert out.count("note:") == 1 and note in out.splitlines()
    assert "verified: 4 of 4 blocks done, every chunk of them present and readable" in out
    assert_identical(lifbatch.open_results(store).load(), reference)
    # flipped bytes go unseen there (what the note says); a missing chunk does not
    _flip_silently(store / "rate" / "c" / "3")
    (store / "v" / "c" / "2" / "0" / "0").unlink()
    out = _verify(store, ok=False)
    assert "block 2: v: missing chunk c/2/0/0" in out and "block 3" not in out and note in out
    # a summarize there writes its arrays with checksums; the note names the others
    assert _cli("run", path, "--store", store, "--repair", "--no-progress").returncode == 0
    assert _cli("summarize", store, "--set", "summaries.warmup=30 ms").returncode == 0
    out = _verify(store, ok=True)
    assert "note: status, spike_count, spike_bits, v_mean, v_var, v_autocov, v carry no checksums" in out, out


# --------------------------------------------------------------------------- #
# item 1: a long-lived cluster after summarize
# --------------------------------------------------------------------------- #
LONG = {
    **WF,
    "name": "verify-long",
    "trials": 100,
    "duration": "1 s",
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 40], "unit": "pA"}},
}


def _interrupt(proc, store: Path, blocks: int) -> None:
    """SIGINT ``proc`` (a `lifbatch run`) once ``blocks`` blocks of ``store`` are done."""
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store)) < blocks and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err


@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.parametrize("made_by", ["this lifbatch", "the lifbatch before checksums"])
def test_resume_on_a_long_lived_cluster_after_summarize(tmp_path, made_by):
    """Run on a `dask scheduler` with workers that outlive the client, Ctrl-C it, summarize
    with another warmup, run again on the same workers: the workers opened the arrays
    before summarize replaced them, and write the rest with the new arrays' codecs. On a
    store begun by the lifbatch before checksums, summarize's arrays carry a checksum and
    the arrays the workers opened do not: a worker writing with those would leave chunks
    that fail it."""
    from test_remote import Cluster

    path = _write(tmp_path, LONG)
    store, ref = tmp_path / "s.zarr", tmp_path / "ref.zarr"
    r = _cli("run", path, "--store", ref, "--points-per-task", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert _cli("summarize", ref, "--set", "summaries.warmup=200 ms").returncode == 0
    if made_by != "this lifbatch":
        old = _lifbatch_before_checksums(tmp_path)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lifbatch.cli",
                "run",
                str(path),
                "--store",
                str(store),
                "--points-per-task",
                "1",
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=old,
            env={**os.environ, "PYTHONPATH": str(old)},
            start_new_session=True,
        )
        _interrupt(proc, store, 4)
        assert "crc32c" not in (store / "rate" / "zarr.json").read_text()
    before = len(done_blocks(store))
    cluster = Cluster(2, tmp_path)
    try:
        proc = _start(
            "run", path, "--store", store, "--scheduler", cluster.address, "--points-per-task", "1", "--no-progress"
        )
        _interrupt(proc, store, before + 4)
        # the workers finish what they had started; then they sit idle, arrays open
        while cluster.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
            time.sleep(0.05)
        done = len(done_blocks(store))
        assert before + 4 <= done < 40, done  # interrupted midway
        s = _cli("summarize", store, "--set", "summaries.warmup=200 ms")
        assert s.returncode == 0, s.stderr
        again = _cli("run", path, "--store", store, "--scheduler", cluster.address, "--no-progress")
        assert again.returncode == 0 and "done: 40 of 40 points" in again.stdout, again.stdout + again.stderr
        assert f"{40 - done} blocks run, {done} already done" in again.stdout, again.stdout
        assert all(w.poll() is None for w in cluster.workers)  # the same worker processes throughout
    finally:
        cluster.close()
    q = _cli("query", store, "--var", "rate")
    assert q.returncode == 0 and len(q.stdout.splitlines()) == 42, q.stdout + q.stderr
    _verify(store, ok=True)
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(ref).load())
