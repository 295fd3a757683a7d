"""The CLI on bad input: exit code 2, one line on stderr, no traceback, nothing written.

The real command runs in subprocesses (started together, since each pays the
import of dask and friends); the many cases run in-process through ``main``.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lifbatch.cli import main

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"

GOOD = {
    "name": "cli-test",
    "duration": "20 ms",
    "dt": "0.1 ms",
    "trials": 2,
    "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "r_m": "100 Mohm"},
    "inputs": {"drive": {"kind": "constant", "value": "250 pA"}},
    "sweep": {"tau": {"param": "neuron.tau_m", "values": [10, 20], "unit": "ms"}},
}


def _write(directory: Path, filename: str, /, **changes) -> Path:
    """GOOD with changes, keys as paths joined by '__' (neuron__tau_m="5 mV"), written as YAML."""
    raw = copy.deepcopy(GOOD)
    for key, value in changes.items():
        *sections, leaf = key.split("__")
        node = raw
        for section in sections:
            node = node[section]
        node[leaf] = value
    path = directory / filename
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _command() -> list[str]:
    script = shutil.which("lifbatch")
    return [script] if script else [sys.executable, "-m", "lifbatch.cli"]


def _assert_one_line_error(rc: int, out: str, err: str, *needles: str) -> None:
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lifbatch: error: `") or lines[0].startswith("lifbatch: error: workflow file"), err
    for needle in needles:
        assert needle in lines[0], (needle, err)
    assert out == ""


# --------------------------------------------------------------------------- #
# the real command, in subprocesses
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Start every subprocess case at once; return ({case: (returncode, stdout, stderr)}, cwd)."""
    cwd = tmp_path_factory.mktemp("cli")
    good = _write(cwd, "good.yaml")
    module = [sys.executable, "-m", "lifbatch.cli"]
    cases = {  # name: (command, arguments)
        "unknown key": (_command(), ["validate", str(_write(cwd, "unknown.yaml", neuron__tau="20 ms"))]),
        "wrong dimension": (
            _command(),
            [
                "run",
                str(_write(cwd, "dim.yaml", neuron__tau_m="5 mV")),
                "--store",
                str(cwd / "X.zarr"),
                "--no-progress",
            ],
        ),
        "bad --set": (module, ["run", str(good), "--set", "neuron.tau_m", "--store", str(cwd / "Y.zarr")]),
        "valid": (_command(), ["validate", str(WORKFLOWS / "quickstart.yaml")]),
    }
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)  # a warning printed on stderr would be a second line
    procs = {}
    for name, (command, args) in cases.items():
        procs[name] = subprocess.Popen(
            command + args, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        results[name] = (proc.returncode, out, err)
    return results, cwd


def test_cli_unknown_key(cli_runs):
    results, _ = cli_runs
    _assert_one_line_error(*results["unknown key"], "`neuron.tau` is not a known key", "Did you mean `tau_m`?")


def test_cli_run_with_a_wrong_dimension_writes_nothing(cli_runs):
    results, cwd = cli_runs
    _assert_one_line_error(*results["wrong dimension"], "`neuron.tau_m`", "'5 mV'", "Example: tau_m: 20 ms")
    assert not (cwd / "X.zarr").exists()
    assert not (cwd / "results").exists()


def test_cli_as_module_bad_set_syntax(cli_runs):
    results, cwd = cli_runs
    _assert_one_line_error(*results["bad --set"], "`--set` expects KEY=VALUE, got 'neuron.tau_m'", "Example:")
    assert not (cwd / "Y.zarr").exists()


def test_cli_validate_valid_workflow(cli_runs):
    results, cwd = cli_runs
    rc, out, err = results["valid"]
    assert rc == 0, err
    assert "Traceback" not in err
    assert "quickstart" in out and "valid" in out and "sigma=3 x I=26" in out
    assert not (cwd / "results").exists()  # validate writes nothing


# --------------------------------------------------------------------------- #
# in-process: every example validates, every bad case is one line
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_workflow_validates(path, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"workflow    {path.stem} (fingerprint " in out and "): valid" in out
    assert err == ""
    assert list(tmp_path.iterdir()) == []


BAD_FILES = {
    "top-level typo": ({"durration": "1 s"}, "`durration` is not a known key"),
    "drive in seconds": ({"inputs__drive__value": "2 s"}, "`inputs.drive.value` must be a current"),
    "non-positive dt": ({"dt": "0 ms"}, "`dt` must be a positive time, got '0 ms'"),
    "invalid name": ({"name": "Cli Test"}, "`name` must match [a-z0-9_-]+, got 'Cli Test'"),
    "record trial out of range": ({"record": {"v": {"trials": [5]}}}, "`record.v.trials` must be within 0..1"),
    "multi-line value": ({"name": "a\nb"}, r"got 'a\nb'"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_workflow_in_process(case, command, capsys, tmp_path, monkeypatch):
    changes, needle = BAD_FILES[case]
    path = _write(tmp_path, "bad.yaml", **changes)
    monkeypatch.chdir(tmp_path)
    args = [command, str(path)] + (["--store", str(tmp_path / "X.zarr")] if command == "run" else [])
    rc = main(args)
    out, err = capsys.readouterr()
    _assert_one_line_error(rc, out, err, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize(
    "item",
    [
        "neuron.tau_m",
        "=5",
        "neuron..tau_m=5",
        "neuron.tau_m.x=5",
        "name=Bad Name",
        "neuron.tau_m=5 mV",
        "sweep.tau.values=[]",
    ],
)
def test_bad_set_in_process(item, capsys, tmp_path, monkeypatch):
    path = _write(tmp_path, "good.yaml")
    monkeypatch.chdir(tmp_path)
    rc = main(["run", str(path), "--set", item, "--store", str(tmp_path / "X.zarr")])
    out, err = capsys.readouterr()
    _assert_one_line_error(rc, out, err)
    assert not (tmp_path / "X.zarr").exists() and not (tmp_path / "results").exists()


def test_dt_above_tau_m_from_overrides_in_process(capsys, tmp_path, monkeypatch):
    path = _write(tmp_path, "good.yaml")
    monkeypatch.chdir(tmp_path)
    rc = main(
        [
            "run",
            str(path),
            "--set",
            "dt=1 ms",
            "--set",
            "neuron.tau_m=0.5 ms",
            "--set",
            "sweep={}",
            "--store",
            str(tmp_path / "X.zarr"),
        ]
    )
    out, err = capsys.readouterr()
    _assert_one_line_error(
        rc, out, err, "`neuron.tau_m` must be at least dt (1 ms) with method: euler, got '0.5 ms'", "method: exact"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.yaml"]


def test_missing_workflow_file_in_process(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(["run", "missing.yaml", "--store", "X.zarr"])
    out, err = capsys.readouterr()
    _assert_one_line_error(rc, out, err, "workflow file 'missing.yaml' does not exist")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "layout, message",
    [("_lifbatch/blocks", "was never finished"), ("not-zarr", "is not a readable Zarr store (GroupNotFoundError")],
)
def test_status_of_a_store_without_template_is_one_line(layout, message, capsys, tmp_path):
    store = tmp_path / "s.zarr"
    (store / layout).mkdir(parents=True)
    assert main(["status", str(store)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
