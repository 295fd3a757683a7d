"""``lifbatch export STORE --nwb OUT.nwb``: real stores, the real command, read back with pynwb and
checked with nwbinspector (docs/export.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pynwb
import pytest
import yaml
from nwbinspector import Importance, inspect_nwbfile

import lifbatch
from lifbatch.layout import MARKERS

from test_cli_imports import PROBE
from test_export_neo import BLOCK_NEO
from test_store_trust import _cli

WF = {
    "name": "nwb-sweep",
    "seed": 4,
    "trials": 3,
    "duration": "100 ms",
    "dt": "0.1 ms",
    "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "t_ref": "2 ms", "r_m": "100 Mohm"},
    "inputs": {
        "I": {"kind": "random_steps", "low": "150 pA", "high": "350 pA", "interval": "10 ms"},
        "noise": {"kind": "white_noise", "sigma": "3 mV"},
    },
    "sweep": {
        "sigma": {"param": "inputs.noise.sigma", "values": [1, 4], "unit": "mV"},
        "cell": {
            "zip": {
                "neuron.tau_m": {"values": [10, 20, 30], "unit": "ms"},
                "neuron.t_ref": {"values": [1, 2, 3], "unit": "ms"},
            }
        },
    },
    "record": {"v": {"trials": [0, 2], "every": "0.5 ms"}, "inputs": ["I"]},
    "summaries": {"warmup": "10 ms"},
}
#: what nwbinspector still says about a lifbatch file, none of it critical: there is no animal
#: (no species) and the store does not know who ran it, or where
EXPECTED = {
    ("check_subject_species_exists", Importance.BEST_PRACTICE_VIOLATION),
    ("check_experimenter_exists", Importance.BEST_PRACTICE_SUGGESTION),
    ("check_institution", Importance.BEST_PRACTICE_SUGGESTION),
}


def _write(path, raw) -> str:
    path.write_text(yaml.safe_dump(raw, sort_keys=False))  # (the sweep axes and zip in their order)
    return str(path)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    where = tmp_path_factory.mktemp("nwb")
    r = _cli(
        "run",
        _write(where / "wf.yaml", WF),
        "--store",
        where / "s.zarr",
        "--no-progress",
        "--points-per-task",
        "2",
        "--set",
        "record.v.every=0.5 ms",
    )
    assert r.returncode == 0, r.stderr
    return where / "s.zarr"


def _one_line(r, code=2) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lifbatch: error: "), r.stderr
    return lines[0]


@pytest.mark.slow
def test_export_writes_every_spike_bit_for_bit_and_every_trace(store, tmp_path):
    out = tmp_path / "sweep.nwb"
    r = _cli("export", store, "--nwb", out)
    assert r.returncode == 0, r.stderr
    ds = lifbatch.open_results(store)
    n_spikes = int(ds.spike_count.sum())
    assert r.stdout.splitlines()[0] == (
        f"wrote {out}: 18 units (6 points x 3 trials), {n_spikes} spikes, 12 trace "
        f"series in {r.stdout.split(' in ')[1].split()[0]} s"
    )
    # one progress bar per pass over the points, on stderr
    assert "spike times: 100%" in r.stderr and "v: 100%" in r.stderr and "input_I: 100%" in r.stderr
    assert not list(tmp_path.glob(".*part*"))
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        units = nwb.units
        assert len(units) == 18 and units.resolution == 1e-4
        assert set(units.colnames) == {
            "spike_times",
            "obs_intervals",
            "point",
            "trial",
            "sigma",
            "cell",
            "neuron.t_ref",
        }
        found = 0
        for row in range(18):
            point, trial = int(units["point"][row]), int(units["trial"][row])
            assert (point, trial) == divmod(row, 3)
            i, j = divmod(point, 3)
            assert units["sigma"][row] == ds.sigma.values[i] and units["cell"][row] == ds.cell.values[j]
            assert units["neuron.t_ref"][row] == ds["neuron.t_ref"].values[j]
            times = np.asarray(units["spike_times"][row])
            ours = lifbatch.spike_times(ds, sigma=ds.sigma.values[i], cell=ds.cell.values[j], trial=trial)
            assert times.dtype == np.float64 and np.array_equal(times, ours)  # bit for bit
            assert np.array_equal(units["obs_intervals"][row], [[0.0, 1000 * 1e-4]])
            found += len(times)
        assert found == n_spikes > 30
        assert (
            "sweep coordinate cell: neuron.tau_m in s (SI; the workflow writes it in ms)" == units["cell"].description
        )
        assert sorted(nwb.acquisition) == [f"v_p{p}" for p in sorted(range(6), key=str)]
        assert sorted(nwb.stimulus) == [f"input_I_p{p}" for p in sorted(range(6), key=str)]
        for p in range(6):
            i, j = divmod(p, 3)
            here = ds.isel(sigma=i, cell=j)
            v, inp = nwb.acquisition[f"v_p{p}"], nwb.stimulus[f"input_I_p{p}"]
            assert (v.unit, inp.unit, v.rate, v.starting_time) == ("volts", "amperes", 2000.0, 0.0)
            assert np.array_equal(v.data[:], here.v.values.T)
            assert np.array_equal(inp.data[:], here.input_I.values.T, equal_nan=True)
            assert "columns: trials [0, 2]" in v.description
        # the workflow as written and the provenance in the metadata
        assert yaml.safe_load(nwb.notes.split("\n", 1)[1]) == json.loads(ds.attrs["workflow"])
        prov = json.loads(nwb.data_collection.split("\n", 1)[1])
        assert prov["provenance"] == json.loads(ds.attrs["provenance"])
        assert prov["runs"] == json.loads(ds.attrs["runs"])
        assert nwb.session_id == ds.attrs["fingerprint"]
        assert nwb.session_start_time.isoformat() == ds.attrs["created"]
        assert nwb.source_script.startswith(f"lifbatch {lifbatch.__version__}: lifbatch export ")
    messages = list(inspect_nwbfile(nwbfile_path=str(out)))
    assert {(m.check_function_name, m.importance) for m in messages} == EXPECTED, messages
    # the command next to this Python's (the environment need not be activated)
    cmd = Path(sys.executable).with_name("nwbinspector")
    r = subprocess.run(
        [str(cmd) if cmd.exists() else shutil.which("nwbinspector") or "nwbinspector", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "CRITICAL" not in r.stdout and "Found 3 issues" in r.stdout, r.stdout


@pytest.mark.slow
def test_export_a_selection(store, tmp_path):
    out = tmp_path / "sel.nwb"
    r = _cli("export", store, "--nwb", out, "--sel", "sigma=4", "--sel", "trial=2", "--no-progress")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.startswith(f"wrote {out}: 3 units (3 points x 1 trial), ")
    ds = lifbatch.open_results(store)
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        assert list(nwb.units["point"][:]) == [3, 4, 5] and list(nwb.units["trial"][:]) == [2, 2, 2]
        for row, j in enumerate(range(3)):
            ours = lifbatch.spike_times(ds, sigma=0.004, cell=ds.cell.values[j], trial=2)
            assert np.array_equal(nwb.units["spike_times"][row], ours)
            assert np.array_equal(nwb.acquisition[f"v_p{3 + j}"].data[:], ds.v.isel(sigma=1, cell=j).values[[1]].T)
    assert "CRITICAL" not in {m.importance.name for m in inspect_nwbfile(nwbfile_path=str(out))}


@pytest.mark.slow
def test_export_a_sampled_design(tmp_path):
    raw = {
        **WF,
        "name": "nwb-sobol",
        "sweep": {},
        "record": {},
        "sample": {
            "n": 4,
            "params": {
                "mu": {"param": "inputs.I.low", "bounds": [50, 150], "unit": "pA"},
                "s": {"param": "inputs.noise.sigma", "bounds": [1, 5], "unit": "mV"},
            },
        },
    }
    r = _cli("run", _write(tmp_path / "wf.yaml", raw), "--store", tmp_path / "s.zarr", "--no-progress")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "s.nwb"
    r = _cli("export", tmp_path / "s.zarr", "--nwb", out, "--sel", "mu=100", "--no-progress")
    assert r.returncode == 0, r.stderr
    ds = lifbatch.open_results(tmp_path / "s.zarr")
    sample = int(np.argmin(abs(ds.mu.values - 1e-10)))
    assert r.stderr.startswith(f"note: mu=100: nearest sample is {sample} (mu=")
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        units = io.read().units
        assert set(units.colnames) == {
            "spike_times",
            "obs_intervals",
            "point",
            "trial",
            "sample",
            "mu",
            "s",
            "sample_round",
        }
        assert list(units["sample"][:]) == [sample] * 3 and list(units["mu"][:]) == [ds.mu.values[sample]] * 3
        assert list(units["sample_round"][:]) == [0] * 3
        assert len(units) == 3 and list(units["point"][:]) == [sample] * 3


@pytest.mark.slow
def test_refusals_are_one_line_and_write_nothing(store, tmp_path):
    out = tmp_path / "x.nwb"
    out.write_text("keep me")
    line = _one_line(_cli("export", store, "--nwb", out, "--no-progress"))
    assert line == f"lifbatch: error: `--nwb {out}` exists. Give another path, or --overwrite to replace it."
    assert out.read_text() == "keep me"
    line = _one_line(_cli("export", store, "--nwb", tmp_path / "x.h5"))
    assert line.endswith(f"must name a .nwb file, got '{tmp_path / 'x.h5'}'. Example: --nwb results/sweep.nwb")
    line = _one_line(_cli("export", store, "--nwb", tmp_path / "y.nwb", "--sel", "sigma=9"))
    assert "`--sel sigma=9` is outside the axis sigma (1 mV to 4 mV" in line
    line = _one_line(_cli("export", tmp_path / "none.zarr", "--nwb", tmp_path / "y.nwb"))
    assert (
        line == f"lifbatch: error: no store at '{tmp_path / 'none.zarr'}'. Run `lifbatch run WORKFLOW --store "
        f"{tmp_path / 'none.zarr'}` first."
    )
    # a pending block (a run killed before its marker), and a chunk whose bytes changed on disk
    partial = tmp_path / "partial.zarr"
    shutil.copytree(store, partial)
    shutil.rmtree(partial / MARKERS / "0")
    line = _one_line(_cli("export", partial, "--nwb", tmp_path / "y.nwb"))
    assert line.startswith(
        "lifbatch: error: 2 of 6 selected points are not done (sigma=1 mV, cell=10 ms, "
        "neuron.t_ref=1 ms is pending): their spikes are not in the store."
    )
    damaged = tmp_path / "damaged.zarr"
    shutil.copytree(store, damaged)
    chunk = damaged / "v" / "c" / "1" / "1" / "0" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[20:24] = b"XXXX"
    chunk.write_bytes(bytes(raw))
    line = _one_line(_cli("export", damaged, "--nwb", tmp_path / "y.nwb", "--no-progress"))
    assert line.startswith(
        f"lifbatch: error: store '{damaged}': v at sigma[1:2], cell[2:3] could not be read "
        "(ValueError: Stored and computed checksum do not match."
    ), line
    assert line.endswith(
        "nothing was written. `lifbatch status " + str(damaged) + " --verify` lists the damage, "
        "`lifbatch run WORKFLOW --store " + str(damaged) + " --repair` recomputes it."
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".nwb", ".h5")) == ["x.nwb"]  # (no .part.nwb)


@pytest.mark.slow
def test_export_overwrites_only_when_asked(store, tmp_path):
    out = tmp_path / "o.nwb"
    out.write_text("old")
    r = _cli("export", store, "--nwb", out, "--overwrite", "--no-progress", "--sel", "trial=0")
    assert r.returncode == 0, r.stderr
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        assert len(io.read().units) == 6


@pytest.mark.parametrize("argv", [["--help"], ["export", "--help"], ["validate", "WORKFLOWS/quickstart.yaml"]])
def test_help_and_validate_import_no_export_package(argv):
    from conftest import WORKFLOWS

    argv = [a.replace("WORKFLOWS", str(WORKFLOWS)) for a in argv]
    heavy = ("neo", "quantities", "elephant", "pynwb", "hdmf", "h5py", "nwbinspector")
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv, heavy=heavy)], capture_output=True, text=True, timeout=120
    )
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED")]
    assert line == ["LOADED "], out.stdout + out.stderr


def test_without_the_export_extra_export_says_which_extra(store, tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCK_NEO)
    import os

    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    line = _one_line(_cli("export", store, "--nwb", tmp_path / "z.nwb", env=env))
    assert line == (
        "lifbatch: error: lifbatch export needs pynwb, which this environment lacks: install lifbatch's "
        "`export` extra: pip install 'lifbatch[export]' (from a clone: pip install -e '.[export]')"
    )
    assert not (tmp_path / "z.nwb").exists()


MEASURE = """
import sys, tracemalloc
from lifbatch.nwb import export_nwb
small, big, out = sys.argv[1:4]
export_nwb(small, out + "/warm.nwb", progress=False)  # (imports and first-call allocations)
peaks = []
for store in (small, big):
    tracemalloc.start()
    export_nwb(store, out + "/m.nwb", overwrite=True, progress=False)
    peaks.append(tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
print(*peaks)
"""


@pytest.mark.slow
def test_export_memory_does_not_grow_with_the_store(tmp_path):
    """Python's peak allocation exporting 96 points is about that of 12 points (one block of the
    store at a time), far below the 96 points' traces (38 MiB of V): what grows with the points
    is pynwb's objects (a TimeSeries and its builder, ~30 KiB each), not their data (400 KB of V
    each). Measured: 6.4-7.9 MiB for 12 points, 9.0-9.1 MiB for 96."""
    raw = {
        **WF,
        "name": "nwb-mem",
        "trials": 10,
        "duration": "500 ms",
        "inputs": {"i": {"kind": "constant", "value": "150 pA"}, "noise": {"kind": "white_noise", "sigma": "4 mV"}},
        "sweep": {"I": {"param": "inputs.i.value", "linspace": [150, 250, 12], "unit": "pA"}},
        "record": {"v": {"trials": "all", "every": "0.1 ms"}},
    }
    stores = []
    for n in (12, 96):
        wf = lifbatch.load_workflow(raw, overrides=[f"sweep.I.linspace=[150, 250, {n}]"])
        lifbatch.run_sweep(
            wf, tmp_path / f"{n}.zarr", workers=1, points_per_task=4, progress=False, log=lambda msg: None
        )
        stores.append(str(tmp_path / f"{n}.zarr"))
    point_bytes = 10 * 5001 * 8  # V of one point
    r = subprocess.run(
        [sys.executable, "-c", MEASURE, *stores, str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr
    small, big = map(int, r.stdout.split())
    print(f"peak allocation: {small / 2**20:.1f} MiB (12 points), {big / 2**20:.1f} MiB (96 points)")
    assert (big - small) / 84 < point_bytes / 4 and big < 96 * point_bytes / 3, (small, big)
