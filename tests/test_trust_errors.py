"""Every way a command used to end in a traceback, or in a wrong answer called right, is one line
and exit 1 (the environment: full or read-only disk, memory) or 2 (bad input: a value off the
axis, a damaged or misplaced store, the wrong workflow file), and the store stays resumable: once
the disk is freed or made writable, the same command succeeds and the store equals one that was
never stopped.

Real `lifbatch` processes, real stores, a real tmpfs filled to the last page or remounted
read-only (the `small_disk` fixture of test_store_trust, which needs root), a real address-space
limit on the process (RLIMIT_AS) for numpy's MemoryError.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import lifbatch
from lifbatch.cli import main
from lifbatch.errors import WorkflowError
from lifbatch.store import done_blocks, inspect_store

from conftest import assert_identical
from test_store_trust import WF, _cli, _start, _wait_for, _write, small_disk  # noqa: F401 - a fixture

# a sampled design (refine grows it), small enough for a tmpfs of a few hundred KiB
DESIGN = {
    "name": "trust-design",
    "seed": 5,
    "trials": 4,
    "duration": "150 ms",
    "dt": "0.1 ms",
    "neuron": {"tau_m": "20 ms", "v_th": 1, "v_reset": 0, "t_ref": "2 ms"},
    "inputs": {"mu": {"kind": "constant", "value": 1.1}, "noise": {"kind": "white_noise", "sigma": 0.3}},
    "sweep": {"tref": {"param": "neuron.t_ref", "values": [1, 3], "unit": "ms"}},
    "sample": {
        "method": "sobol",
        "n": 7,
        "params": {
            "mu": {"param": "inputs.mu.value", "bounds": [0.6, 1.4]},
            "sigma": {"param": "inputs.noise.sigma", "bounds": [0.1, 1.0], "scale": "log"},
        },
    },
    "record": {"v": {"trials": "all", "every": "1 ms"}},
}
# every trial's V recorded: summarize recomputes the V moments too (its largest write)
SUMMARIZED = {
    **WF,
    "name": "trust-summarize",
    "trials": 10,
    "duration": "300 ms",
    "record": {"v": {"trials": "all", "every": "1 ms"}},
}
SET = ["--set", "summaries.warmup=50 ms"]


def _one_line(r, code: int, *needles: str) -> str:
    """The command exited with ``code`` and said one line "lifbatch: error: ..." (besides its
    progress lines: "running in 2 threads"), no traceback; that line."""
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("lifbatch")]
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(lines) == 1, r.stderr
    assert lines[0].startswith("lifbatch: error: "), r.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _in_process(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _fill(disk: Path, leave: int) -> Path:
    """Fill the tmpfs ``disk`` up to ``leave`` free bytes (whole pages) with one file."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * (free - leave))
    st = os.statvfs(disk)
    assert st.f_bavail * st.f_frsize == leave
    return filler


def _remount(disk: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(disk)], check=True)


def _files(store: Path) -> dict[str, bytes]:
    """Every file of a store and its bytes: "nothing changed" is this, equal."""
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


def _same_summaries(store, reference) -> None:
    """``store`` equals ``reference`` (a store summarized without a stop): every variable bit for
    bit, and the summary settings and identity it records."""
    a, b = lifbatch.open_results(store).load(), lifbatch.open_results(reference).load()
    assert sorted(a.data_vars) == sorted(b.data_vars)
    assert_identical(a, b)
    for key in ("workflow", "canonical", "fingerprint", "simulation"):
        assert a.attrs[key] == b.attrs[key], key


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A finished store of WF (8 points, I = 100..300 pA in 8 blocks) and its workflow file."""
    root = tmp_path_factory.mktemp("grid")
    path = _write(root, WF)
    store = root / "s.zarr"
    r = _cli("run", path, "--store", store, "--points-per-task", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    return path, store


@pytest.fixture(scope="module")
def grid_reference(grid):
    return lifbatch.open_results(grid[1]).load()


# --------------------------------------------------------------------------- #
# 12. --sel of a value off the axis: refused, naming the axis's range
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("value", ["inf", "-inf", "1e300", "-1e300", "1e30 pA", "0.5 nA", "315", "85"])
def test_sel_outside_the_axis_is_refused_naming_its_range(grid, value, capsys):
    code, out, err = _in_process(capsys, "query", grid[1], "--sel", f"I={value}")
    assert code == 2 and out == "", (out, err)
    assert err.strip() == (
        f"lifbatch: error: `--sel I={value}` is outside the axis I (100 pA to 300 pA, 8 values): "
        "only a value within half a grid step (14.2857 pA) of its ends has a nearest grid value. "
        'Pick a value in that range, e.g. --sel I="214.286 pA"'
    )


@pytest.mark.parametrize(
    "value, nearest", [("314", 300), ("86", 100), ("0.2 nA", 214.285714286), ("285", 271.428571429), ("100", 100)]
)
def test_sel_within_half_a_step_picks_the_nearest(grid, grid_reference, value, nearest, capsys):
    code, out, err = _in_process(capsys, "query", grid[1], "--sel", f"I={value}", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert len(rows) == 1 and math.isclose(rows[0]["I [pA]"], nearest, rel_tol=1e-12)
    i = int(np.argmin(np.abs(grid_reference["I"].values - nearest * 1e-12)))
    assert rows[0]["rate [Hz]"] == pytest.approx(float(grid_reference["rate"].values[i]), rel=1e-11)


def test_sel_off_the_axis_in_a_real_process(grid):
    r = _cli("query", grid[1], "--sel", "I=1e30 pA")
    _one_line(r, 2, "`--sel I=1e30 pA` is outside the axis I (100 pA to 300 pA, 8 values)")
    assert r.stdout == ""
    _one_line(_cli("query", grid[1], "--sel", "I=nan"), 2, "`--sel I` is NaN")


def test_sel_inf_picks_inf_only_on_an_axis_that_holds_it(tmp_path, capsys):
    raw = {
        **WF,
        "name": "inf-axis",
        "trials": 2,
        "sweep": {"vth": {"param": "neuron.v_th", "values": [-55, -50, "inf"], "unit": "mV"}},
    }
    store = tmp_path / "s.zarr"
    lifbatch.run_sweep(lifbatch.load_workflow(raw), store, progress=False, workers=1)
    code, out, err = _in_process(capsys, "query", store, "--sel", "vth=inf", "--format", "json")
    assert code == 0 and json.loads(out)["rows"] == [{"vth [mV]": None, "rate [Hz]": 0.0}], (out, err)
    code, out, err = _in_process(capsys, "query", store, "--sel", "vth=1e9")
    assert code == 2 and "`--sel vth=1e9` is outside the axis vth (-55 mV to -50 mV, 3 values, and inf mV)" in err
    code, out, err = _in_process(capsys, "query", store, "--sel", "vth=-47.6")  # 2.4 mV above -50: the nearest
    assert code == 0 and "note: vth=-47.6 is not on the grid; nearest is -50 mV" in out, err


def test_sel_of_a_sampled_parameter_outside_its_bounds_is_refused(tmp_path, capsys):
    raw = {**DESIGN, "trials": 2, "duration": "50 ms", "record": {}}
    store = tmp_path / "d.zarr"
    lifbatch.run_sweep(lifbatch.load_workflow(raw), store, progress=False, workers=1)
    capsys.readouterr()
    for value in ("1.5", "0.59", "1e300", "-1e300"):
        code, out, err = _in_process(capsys, "query", store, "--sel", f"mu={value}")
        assert code == 2 and out == "", (value, out, err)
        assert err.startswith(
            f"lifbatch: error: `--sel mu={value}` is outside the design's bounds of mu, 0.6 to "
            "1.4: no sample is near it."
        ), err
    code, out, err = _in_process(capsys, "query", store, "--sel", "mu=inf")
    assert code == 2 and "`--sel mu` must be a finite value of the sampled parameter, got 'inf'" in err, err
    code, out, err = _in_process(capsys, "query", store, "--sel", "mu=1.4")
    assert code == 0 and "note: mu=1.4: nearest sample is" in out, err


def test_spike_times_refuses_a_value_off_the_axis(grid, grid_reference):
    ds = lifbatch.open_results(grid[1])
    for value in (math.inf, -math.inf, 1e300, 5e-10):
        # (as lifbatch.sel reads it, in the axis' own units, as `query --sel` says it)
        with pytest.raises(
            WorkflowError,
            match=r"^`I=\S+ A` is outside the axis I \(100 pA to 300 pA, 8 values\).*"
            r"e\.g\. I=\"214\.286 pA\"$",
        ):
            lifbatch.spike_times(ds, I=value)
    with pytest.raises(WorkflowError, match=r"^`I` is NaN \(not a number\)"):
        lifbatch.spike_times(ds, I=math.nan)
    with pytest.raises(ValueError, match=r"'J' is not an axis of this store; its axes are \['I'\]"):
        lifbatch.spike_times(ds, J=1.0)
    # within half a step: the nearest point, as exactly that point (and a warning saying so)
    from lifbatch.errors import LifbatchWarning

    with pytest.warns(LifbatchWarning, match="I=310 pA is not on the grid; nearest is 300 pA"):
        near = lifbatch.spike_times(ds, I=3.1e-10)
    exact = lifbatch.spike_times(ds, I=float(grid_reference["I"].values[-1]))
    assert near.keys() == exact.keys() and all(np.array_equal(near[k], exact[k]) for k in near)


# --------------------------------------------------------------------------- #
# 13. a full or read-only disk: one line, exit 1, then the same command finishes
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_summarize_on_a_full_disk_is_one_line_and_resumable(tmp_path, small_disk):
    _remount(small_disk, "size=4m")
    path = _write(tmp_path, SUMMARIZED)
    store = small_disk / "s.zarr"
    assert _cli("run", path, "--store", store, "--no-progress").returncode == 0
    reference = tmp_path / "reference.zarr"
    shutil.copytree(store, reference)
    assert _cli("summarize", reference, *SET).returncode == 0  # on a roomy disk, never stopped
    before = _files(store)
    filler = _fill(small_disk, 64 * 1024)  # room for the lease, not for the new summaries
    r = _cli("summarize", store, *SET)
    _one_line(
        r,
        1,
        f"summarize cannot write '{store}' (the disk is full)",
        "free space on that disk",
        "run the same command again",
    )
    filler.unlink()
    after = {k: v for k, v in _files(store).items() if not k.startswith("_lifbatch/summarize/")}
    assert after == before  # the summaries unchanged (summarize's own work space aside)
    r = _cli("summarize", store, *SET)
    assert r.returncode == 0, r.stderr
    _same_summaries(store, reference)
    assert _cli("status", store, "--verify").returncode == 0


@pytest.mark.slow
def test_summarize_on_a_read_only_store_is_one_line_and_resumable(tmp_path, small_disk):
    _remount(small_disk, "size=4m")
    path = _write(tmp_path, SUMMARIZED)
    store = small_disk / "s.zarr"
    assert _cli("run", path, "--store", store, "--no-progress").returncode == 0
    reference = tmp_path / "reference.zarr"
    shutil.copytree(store, reference)
    assert _cli("summarize", reference, *SET).returncode == 0
    before = _files(store)
    _remount(small_disk, "ro")
    try:
        r = _cli("summarize", store, *SET)
        _one_line(
            r,
            1,
            "summarize cannot write",
            "(the file system is read-only)",
            "make that file system writable (or copy the store to one that is)",
        )
    finally:
        _remount(small_disk, "rw")
    assert _files(store) == before
    assert _cli("summarize", store, *SET).returncode == 0
    _same_summaries(store, reference)


@pytest.mark.slow
def test_readers_of_a_read_only_store_with_an_unfinished_summarize_say_one_line(tmp_path, small_disk):
    _remount(small_disk, "size=4m")
    path = _write(tmp_path, SUMMARIZED)
    store = small_disk / "s.zarr"
    assert _cli("run", path, "--store", store, "--no-progress").returncode == 0
    reference = tmp_path / "reference.zarr"
    shutil.copytree(store, reference)
    assert _cli("summarize", reference, *SET).returncode == 0
    proc = _start("summarize", store, *SET, env={**os.environ, "LIFBATCH_TEST_PAUSE_AT": "summarize-committed"})
    _wait_for(proc, "paused at summarize-committed")
    os.killpg(proc.pid, signal.SIGKILL)  # committed, not swapped
    proc.communicate(timeout=60)
    assert (store / "_lifbatch" / "summarize" / "commit.json").exists()
    _remount(small_disk, "ro")
    try:
        time.sleep(1.0)  # the killed summarize's lease is stale for these readers
        env = {**os.environ, "DASK_LIFBATCH__LEASE__TIMEOUT": "0.5s"}
        for args in (("status",), ("query", "--var", "rate"), ("status", "--verify")):
            r = _cli(*args[:1], store, *args[1:], env=env)
            assert "Traceback" not in r.stderr, r.stderr
            if r.returncode != 0:
                _one_line(r, r.returncode)
                assert r.returncode in (1, 2)
    finally:
        _remount(small_disk, "rw")
    r = _cli("summarize", store, *SET)  # the same command: the interrupted one finished, then its own
    assert r.returncode == 0, r.stderr
    _same_summaries(store, reference)


@pytest.mark.slow
def test_refine_on_a_full_disk_is_one_line_and_resumable(tmp_path, small_disk):
    _remount(small_disk, "size=2m")
    path = _write(tmp_path, DESIGN)
    store = small_disk / "d.zarr"
    assert _cli("run", path, "--store", store, "--points-per-task", "2", "--no-progress").returncode == 0
    reference = tmp_path / "reference.zarr"
    shutil.copytree(store, reference)
    assert _cli("refine", reference, "--add", "3", "--no-progress").returncode == 0
    before = _files(store)
    filler = _fill(small_disk, 4096)  # one page: the lease at most, never the growth's commit
    r = _cli("refine", store, "--add", "3", "--no-progress")
    _one_line(r, 1, "refine cannot write", "(the disk is full)", "free space on that disk")
    filler.unlink()
    assert _files(store) == before  # no temporary file left where Zarr would find it
    r = _cli("refine", store, "--add", "3", "--no-progress")
    assert r.returncode == 0 and "round 1: added 3 points (samples 7-9)" in r.stdout, r.stderr
    a, b = lifbatch.open_results(store).load(), lifbatch.open_results(reference).load()
    assert a.sizes == b.sizes and a.attrs["fingerprint"] == b.attrs["fingerprint"]
    assert_identical(a, b)
    for name in ("mu", "sigma", "sample_round"):
        assert np.array_equal(a[name].values, b[name].values)


@pytest.mark.slow
def test_the_creation_marker_on_a_full_disk_is_one_line_and_resumable(tmp_path, small_disk):
    _remount(small_disk, "size=4m")
    path = _write(tmp_path, WF)
    store = small_disk / "s.zarr"
    filler = _fill(small_disk, 4096)  # the lease's page: none left for _lifbatch/creating.json
    r = _cli("run", path, "--store", store, "--no-progress")
    line = _one_line(
        r,
        1,
        "run cannot write",
        "_lifbatch/creating.json",
        "(the disk is full)",
        "free space on that disk, then run the same command again",
    )
    assert str(store) in line
    assert not store.exists()  # nothing left of the attempt
    filler.unlink()
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert_identical(lifbatch.open_results(store).load(), lifbatch.simulate(lifbatch.load_workflow(path)))


# --------------------------------------------------------------------------- #
# 13. numpy's MemoryError in a block: the run's, not a point's failure
# --------------------------------------------------------------------------- #
# 4 points of 2500 trials, their V on a 0.1 ms grid: 382 MiB of V samples per block of 2 points
# (1.1 GiB with the rest), far under the caps (lifbatch.limits.max-task-memory, 8 GiB)
MEMORY = {
    "name": "trust-memory",
    "seed": 3,
    "trials": 2500,
    "duration": "1 s",
    "dt": "0.1 ms",
    "neuron": WF["neuron"],
    "inputs": {"i": {"kind": "constant", "value": "150 pA"}},
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 4], "unit": "pA"}},
    "summaries": {"moments": {"every": "0.1 ms"}},
}
# the real command, under an address-space limit set once its modules are imported: the
# limit leaves half the block's V samples (191 MiB) for everything else it starts
_LIMITED = """
import re, resource, sys
import lifbatch.cli, lifbatch.execute
vm = int(re.search(r"VmSize:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
cap = vm + 191 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
sys.exit(lifbatch.cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_block_out_of_memory_is_one_line_and_resumable(tmp_path):
    path = _write(tmp_path, MEMORY)
    store = tmp_path / "s.zarr"
    args = ["run", path, "--store", store, "--points-per-task", "2", "--workers", "1", "--no-progress"]
    # one arena for malloc, one thread for OpenBLAS: their reservations are not what runs out
    env = {**os.environ, "MALLOC_ARENA_MAX": "1", "OPENBLAS_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-c", _LIMITED, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )
    _one_line(
        r,
        1,
        "a block of 2 points ran out of memory (MemoryError: Unable to allocate 382. MiB",
        "it needs ~1.12 GiB",
        "Run fewer points per task",
        "run the command again to resume",
    )
    assert done_blocks(store) == set() and inspect_store(store).kind == "store"
    r = _cli(*args)
    assert r.returncode == 0 and "done: 4 of 4 points" in r.stdout, r.stderr
    uninterrupted = tmp_path / "u.zarr"
    assert (
        _cli(
            "run", path, "--store", uninterrupted, "--points-per-task", "2", "--workers", "1", "--no-progress"
        ).returncode
        == 0
    )
    assert_identical(lifbatch.open_results(store).load(), lifbatch.open_results(uninterrupted).load())


# --------------------------------------------------------------------------- #
# 13. malformed markers: not this block's marker, so the block is not done
# --------------------------------------------------------------------------- #
MARKERS = {
    "block as text": {"block": "x", "failures": {}},
    "attributes a list": [1, 2],
    "block null": {"block": None, "failures": {}},
    "block of another directory": {"block": 5, "failures": {}},
    "failures a list": {"block": 3, "failures": [1]},
    "failure of no point": {"block": 3, "failures": {"x": "boom"}},
    "failure of another block's point": {"block": 3, "failures": {"7": "boom"}},
    "points as text": {"block": 3, "failures": {}, "points": "x"},
    "worker a list": {"block": 3, "failures": {}, "worker": [1]},
}


@pytest.mark.parametrize("attributes", list(MARKERS.values()), ids=list(MARKERS))
def test_a_malformed_marker_is_a_block_not_done(tmp_path, grid, grid_reference, attributes, capsys):
    path, original = grid
    store = tmp_path / "s.zarr"
    shutil.copytree(original, store)
    marker = store / "_lifbatch" / "blocks" / "3" / "zarr.json"
    marker.write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": attributes}))
    code, out, err = _in_process(capsys, "status", store, "--verify", "--provenance")
    assert code == 0 and "points    8: 7 done, 0 failed, 1 pending" in out, (out, err)
    assert "verified: 7 of 8 blocks done" in out
    code, out, err = _in_process(capsys, "query", store, "--var", "status", "--format", "json")
    assert code == 0 and [row["status"] for row in json.loads(out)["rows"]] == [1, 1, 1, 0, 1, 1, 1, 1], (out, err)
    code, out, err = _in_process(capsys, "run", path, "--store", store, "--no-progress")
    assert code == 0 and "(1 blocks run, 7 already done)" in out, err
    assert json.loads(marker.read_text())["attributes"]["block"] == 3  # written anew
    assert_identical(lifbatch.open_results(store).load(), grid_reference)


def test_a_malformed_marker_in_a_real_process(tmp_path, grid, grid_reference):
    path, original = grid
    store = tmp_path / "s.zarr"
    shutil.copytree(original, store)
    (store / "_lifbatch" / "blocks" / "3" / "zarr.json").write_text('{"attributes": {"block": "x"}}')
    for args in (("status",), ("query",)):
        r = _cli(args[0], store)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    r = _cli("run", path, "--store", store, "--no-progress")
    assert r.returncode == 0 and "(1 blocks run, 7 already done)" in r.stdout, r.stderr
    assert_identical(lifbatch.open_results(store).load(), grid_reference)


# --------------------------------------------------------------------------- #
# 13. malformed root metadata: refused in one line, nothing changed
# --------------------------------------------------------------------------- #
ROOTS = {
    "chunks as text": (lambda m: m["attributes"].update(chunks="x"), "the attribute `chunks` is 'x'"),
    "chunks of another rank": (
        lambda m: m["attributes"].update(chunks="[3, 3]"),
        "the attribute `chunks` is '[3, 3]', not a JSON list of 1 block sizes",
    ),
    "chunks of zero": (lambda m: m["attributes"].update(chunks="[0]"), "the attribute `chunks` is '[0]'"),
    "chunks of text": (lambda m: m["attributes"].update(chunks='["a"]'), "the attribute `chunks` is '[\"a\"]'"),
    "canonical not JSON": (lambda m: m["attributes"].update(canonical="{bad"), "the attribute `canonical` is '{bad'"),
    "canonical a list": (lambda m: m["attributes"].update(canonical="[1]"), "the attribute `canonical` is '[1]'"),
    "summaries a list": (
        lambda m: m["attributes"].update(canonical='{"summaries": [1]}'),
        "is '{\"summaries\": [1]}', not a canonical workflow whose `summaries` are numbers",
    ),
    "drives of numbers": (
        lambda m: m["attributes"].update(canonical='{"drives": [1]}'),
        "is '{\"drives\": [1]}', not a canonical workflow whose `drives` are mappings",
    ),
    "workflow not JSON": (lambda m: m["attributes"].update(workflow="{bad"), "the attribute `workflow` is '{bad'"),
    "fingerprint a number": (lambda m: m["attributes"].update(fingerprint=5), "the attribute `fingerprint` is 5"),
    "name a list": (lambda m: m["attributes"].update(name=[1]), "the attribute `name` is [1]"),
    "dt as text": (lambda m: m["attributes"].update(dt="x"), "the attribute `dt` is 'x', not a number"),
    "n_steps null": (lambda m: m["attributes"].update(n_steps=None), "the attribute `n_steps` is None"),
    "an array's metadata": (lambda m: m.update(node_type="array"), "the root is not a Zarr v3 group"),
}


@pytest.mark.parametrize("damage, words", list(ROOTS.values()), ids=list(ROOTS))
def test_malformed_root_metadata_is_refused_in_one_line(tmp_path, grid, damage, words, capsys):
    path, original = grid
    store = tmp_path / "s.zarr"
    shutil.copytree(original, store)
    root = store / "zarr.json"
    meta = json.loads(root.read_text())
    damage(meta)
    root.write_text(json.dumps(meta))
    before = _files(store)
    for args in (
        ("status", store),
        ("status", store, "--verify"),
        ("query", store),
        ("summarize", store),
        ("run", path, "--store", store, "--no-progress"),
    ):
        code, out, err = _in_process(capsys, *args)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, (args, out, err)
        assert err.startswith("lifbatch: error: store '") and "is damaged: in its zarr.json, " in err, err
        assert words in err, err
        assert "Restore that file from a copy of the store" in err
    assert _files(store) == before
    shutil.copy(original / "zarr.json", root)  # restored: the store resumes as it was
    code, out, err = _in_process(capsys, "run", path, "--store", store, "--no-progress")
    assert code == 0 and "(0 blocks run, 8 already done)" in out, err


# --------------------------------------------------------------------------- #
# 13. a store inside another store, a dangling symlink as --store
# --------------------------------------------------------------------------- #
def test_a_store_inside_another_store_is_refused(tmp_path, grid, grid_reference, capsys):
    path, original = grid
    outer = tmp_path / "outer.zarr"
    shutil.copytree(original, outer)
    before = _files(outer)
    for inner in (outer / "_lifbatch" / "blocks" / "inner.zarr", outer / "sub" / "s.zarr"):
        r = _cli("run", path, "--store", inner, "--no-progress")
        _one_line(r, 2, f"--store '{inner}' is inside the lifbatch store '{outer}'", f"Choose a path outside '{outer}'")
    assert _files(outer) == before and not (outer / "sub").exists()
    # one made there before (by a version that allowed it) no longer breaks the outer store
    shutil.copytree(original, outer / "_lifbatch" / "blocks" / "inner.zarr")
    code, out, err = _in_process(capsys, "status", outer, "--verify")
    assert code == 0 and "points    8: 8 done" in out and "verified: 8 of 8 blocks done" in out, (out, err)
    code, out, err = _in_process(capsys, "run", path, "--store", outer, "--no-progress")
    assert code == 0 and "(0 blocks run, 8 already done)" in out, err
    assert_identical(lifbatch.open_results(outer).load(), grid_reference)


def test_a_dangling_symlink_as_store_is_refused(tmp_path, grid_reference):
    path = _write(tmp_path, WF)
    target = tmp_path / "elsewhere" / "a" / "b"
    link = tmp_path / "link"
    link.symlink_to(target)
    for store in (link, link / "s.zarr"):
        r = _cli("run", path, "--store", store, "--no-progress")
        _one_line(
            r,
            2,
            f"--store '{store}' goes through the symbolic link '{link}' to '{target}', which does not exist",
            "Create the target directory first",
        )
    assert not (tmp_path / "elsewhere").exists()
    target.mkdir(parents=True)  # the link's target made: the same command runs
    r = _cli("run", path, "--store", link / "s.zarr", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert_identical(lifbatch.open_results(target / "s.zarr").load(), grid_reference)


# --------------------------------------------------------------------------- #
# 13. the workflow file: a size cap before reading it, a directory said to be one
# --------------------------------------------------------------------------- #
def test_a_huge_workflow_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(2 * 2**30)  # 2 GiB (sparse)

    def one_gib():  # the command in 1 GiB of address space: a 2 GiB file read whole fails with MemoryError
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    r = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "validate", str(big)],
        capture_output=True,
        text=True,
        preexec_fn=one_gib,
        timeout=120,
    )
    _one_line(
        r,
        2,
        f"workflow file '{big}' is 2 GiB, more than lifbatch.limits.max-workflow-file (16 MiB)",
        "--set lifbatch.limits.max-workflow-file=2048MiB",
    )


def test_the_workflow_file_cap_is_a_setting(tmp_path, capsys):
    path = tmp_path / "padded.yaml"
    path.write_text(yaml.safe_dump({**WF, "name": "padded"}) + "#" * (17 * 2**20) + "\n")
    code, out, err = _in_process(capsys, "validate", path)
    assert code == 2 and err.strip() == (
        f"lifbatch: error: workflow file '{path}' is 17 MiB, more than lifbatch.limits.max-workflow-file (16 MiB): a "
        "workflow is a few KiB of YAML. Check the path, or raise the cap: --set lifbatch.limits.max-workflow-file="
        "18MiB (or DASK_LIFBATCH__LIMITS__MAX_WORKFLOW_FILE=18MiB)."
    )
    code, out, err = _in_process(capsys, "validate", path, "--set", "lifbatch.limits.max-workflow-file=18MiB")
    assert code == 0 and "workflow    padded" in out, err


def test_a_directory_as_workflow_says_it_is_one(tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    r = _cli("validate", folder)
    _one_line(
        r,
        2,
        f"workflow file '{folder}' is a directory, not a file. Give the workflow's YAML file, "
        f"e.g. {folder / 'workflow.yaml'}",
    )
    _write(folder, WF)
    r = _cli("run", folder, "--no-progress")
    _one_line(
        r,
        2,
        f"workflow file '{folder}' is a directory, not a file (it holds trust.yaml)",
        f"e.g. {folder / 'trust.yaml'}",
    )
    dangling = tmp_path / "gone.yaml"
    dangling.symlink_to(tmp_path / "nothing.yaml")
    _one_line(_cli("validate", dangling), 2, f"workflow file '{dangling}' does not exist (a symbolic link to nothing)")
    _one_line(_cli("validate", "/dev/zero"), 2, "workflow file '/dev/zero' is not a regular file")
