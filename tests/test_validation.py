"""Bad input that used to get through (issue "A store you can trust", item 7) and messages
that did not explain themselves ("The repository explains itself", items 5 and 6).

Each case: exit code 2 and one line from the real command (subprocesses, started
together), or a one-line WorkflowError in-process, and within a second and bounded
memory where a hostile input could take minutes or gigabytes.
"""

from __future__ import annotations

import copy
import math
import os
import re
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import dask.config
import numpy as np
import pytest
import yaml

from lifbatch.errors import WorkflowError
from lifbatch.workflow import check_task_memory, load_workflow

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"

GOOD = {
    "name": "val",
    "duration": "20 ms",
    "dt": "0.1 ms",
    "trials": 3,
    "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "r_m": "100 Mohm"},
    "inputs": {"current": {"kind": "constant", "value": "250 pA"}, "noise": {"kind": "white_noise", "sigma": "2 mV"}},
    "sweep": {"sigma": {"param": "inputs.noise.sigma", "values": [1, 4], "unit": "mV"}},
    "record": {"v": {"trials": [0, 1], "every": "0.1 ms"}},
    "summaries": {"isi_bins": {"linspace": [0, 20, 11], "unit": "ms"}, "moments": {"every": "1 ms"}},
}

#: the "billion laughs": 9 levels of 9 aliases, 9^9 strings once expanded
BOMB = (
    "name: bomb\nduration: 1 s\nneuron: {tau_m: 10 ms, v_th: 1}\ndescription:\n"
    + "\n".join(
        ["  - &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
        + [f"  - &{b} [{','.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
    )
    + "\n"
)


def good(**changes) -> dict:
    """GOOD with changes, keys as paths joined by '__' (neuron__v_th="nan mV")."""
    raw = copy.deepcopy(GOOD)
    for key, value in changes.items():
        *sections, leaf = key.split("__")
        node = raw
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = value
    return raw


def write(directory: Path, raw: dict | str, name: str = "w.yaml") -> Path:
    path = directory / name
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
    return path


def one_line(exc: WorkflowError, *needles: str) -> str:
    msg = str(exc)
    assert "\n" not in msg and "Traceback" not in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    return msg


@pytest.fixture
def restore_config():
    """``--set lifbatch.…`` sets dask.config for the process: put it back."""
    saved = copy.deepcopy(dask.config.config)
    yield
    dask.config.config.clear()
    dask.config.config.update(saved)


# --------------------------------------------------------------------------- #
# the real command, in subprocesses started together
# --------------------------------------------------------------------------- #
def _command() -> list[str]:
    script = shutil.which("lifbatch")
    return [script] if script else [sys.executable, "-m", "lifbatch.cli"]


# A small launcher between the test and the command: a child's peak RSS (ru_maxrss) counts
# the memory it had before exec, i.e. a copy of the forking process: forked from pytest late
# in a full run, every child "used" the test process's 700+ MiB. Forked from this launcher,
# it starts from a bare interpreter's few MiB.
_LAUNCH = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _start(args, cwd, env=None):
    """A process writing to files (no pipe to fill): (Popen, out path, err path, start time, RSS path)."""
    n = len(list(cwd.glob("*.out")))
    out, err, rss = cwd / f"{n}.out", cwd / f"{n}.err", cwd / f"{n}.rss"
    e = dict(os.environ, **(env or {}))
    e.pop("PYTHONWARNINGS", None)
    cmd = _command()
    cmd[0] = shutil.which(cmd[0]) or cmd[0]
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, str(rss)] + cmd + [str(a) for a in args],
        cwd=cwd,
        env=e,
        stdin=subprocess.DEVNULL,
        stdout=out.open("w"),
        stderr=err.open("w"),
    )
    return proc, out, err, time.perf_counter(), rss


def _finish(started):
    """(returncode, stdout, stderr, seconds, max RSS in MiB) of one process."""
    proc, out, err, t0, rss = started
    proc.wait()
    seconds = time.perf_counter() - t0
    return proc.returncode, out.read_text(), err.read_text(), seconds, int(rss.read_text()) / 1024


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small finished store: 2 points x 3 trials x 20 ms."""
    d = tmp_path_factory.mktemp("store")
    path = write(d, GOOD)
    r = subprocess.run(
        _command() + ["run", str(path), "--store", str(d / "s.zarr"), "--no-progress", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=d,
    )
    assert r.returncode == 0, r.stderr
    return d / "s.zarr"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, store):
    """Every subprocess case at once: {case: (returncode, stdout, stderr, seconds, MiB)}."""
    cwd = tmp_path_factory.mktemp("cli")
    inside = cwd / "wf"
    inside.mkdir()
    secret = cwd / "secret.csv"
    secret.write_text("root:x:0:0:the secret content:/root:/bin/bash\n")
    relative = os.path.relpath(secret, inside)
    ccnss = WORKFLOWS / "ccnss-spikes.yaml"
    cases = {
        "nan v_th": ["validate", write(cwd, good(neuron__v_th="nan mV"), "nan.yaml")],
        "inf drive": [
            "run",
            write(cwd, good(), "g1.yaml"),
            "--set",
            "inputs.current.value=inf pA",
            "--store",
            cwd / "inf.zarr",
            "--no-progress",
        ],
        "swept inf": [
            "validate",
            write(cwd, good(), "g2.yaml"),
            "--set",
            "sweep.I={param: inputs.current.value, values: [100, .inf], unit: pA}",
        ],
        "duration 1e9 s": ["validate", write(cwd, good(duration="1e9 s"), "long.yaml")],
        "one huge point": [
            "run",
            write(cwd, good(duration="1e6 s", sweep={}), "huge.yaml"),
            "--store",
            cwd / "huge.zarr",
            "--no-progress",
        ],
        "cap from env": ["validate", ccnss],
        "bomb": ["validate", write(cwd, BOMB, "bomb.yaml")],
        "outside": [
            "validate",
            write(
                inside, good(inputs={"rec": {"kind": "timed_array", "file": relative, "dt": "1 ms"}}), "outside.yaml"
            ),
        ],
        "query trial=abc": ["query", store, "--sel", "trial=abc"],
        "query trial=999": ["query", store, "--sel", "trial=999"],
        "query wrong unit": ["query", store, "--sel", "sigma=5 ms"],
        "query too many rows": ["query", store, "--var", "v", "--format", "csv"],
        "swept v_reset": [
            "validate",
            ccnss,
            "--set",
            "sweep.vr={param: neuron.v_reset, values: [-70, -60, -45], unit: mV}",
        ],
        "scheduler and workers": [
            "run",
            ccnss,
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--workers",
            "3",
            "--store",
            cwd / "sched.zarr",
        ],
        "validate --workers 0": ["validate", ccnss, "--workers", "0"],
    }
    envs = {
        "cap from env": {"DASK_LIFBATCH__LIMITS__MAX_POINTS": "3"},
        "query too many rows": {"DASK_LIFBATCH__QUERY__MAX_ROWS": "100"},
    }
    results, running, todo = {}, [], list(cases.items())
    while todo or running:  # 4 at a time: the machine's cores are shared
        while todo and len(running) < 4:
            name, args = todo.pop(0)
            running.append((name, _start(args, cwd, envs.get(name))))
        name, started = running.pop(0)
        results[name] = _finish(started)
    return results, cwd


def assert_error(result, *needles):
    rc, out, err, _, _ = result
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lifbatch: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)
    return lines[0]


def test_cli_nan_threshold(runs):
    assert_error(runs[0]["nan v_th"], "`neuron.v_th` is NaN", "'nan mV'", "Example: v_th: -50 mV")


def test_cli_infinite_drive_writes_nothing(runs):
    results, cwd = runs
    assert_error(results["inf drive"], "`inputs.current.value` must be finite", "'inf pA'", "Example: value: 250 pA")
    assert not (cwd / "inf.zarr").exists()


def test_cli_swept_infinite_value(runs):
    assert_error(runs[0]["swept inf"], "`sweep.I.values` must be finite", "'Infinity'")


def test_cli_duration_1e9_s_is_one_line_and_fast(runs):
    rc, out, err, seconds, mib = runs[0]["duration 1e9 s"]
    assert_error(
        runs[0]["duration 1e9 s"],
        "`duration` makes one point need more than 294 TiB of working memory (3 trials x 1e+13 steps)",
        "'1e9 s'",
        "lifbatch.limits.max-task-memory (8 GiB)",
        "DASK_LIFBATCH__LIMITS__MAX_TASK_MEMORY=295TiB",
        "--set lifbatch.limits.max-task-memory=295TiB",
    )
    assert mib < 400, mib  # refused before anything of that size is built (it ended in a MemoryError)


def test_cli_one_point_beyond_the_memory_cap(runs):
    results, cwd = runs
    assert_error(
        results["one huge point"],
        "`duration`",
        "of working memory",
        "lifbatch.limits.max-task-memory (8 GiB)",
        "DASK_LIFBATCH__LIMITS__MAX_TASK_MEMORY=",
    )
    assert not (cwd / "huge.zarr").exists()


def test_cli_cap_from_the_environment(runs):
    assert_error(
        runs[0]["cap from env"],
        "`sweep.t_ref.values` makes the grid 4 = 4 points, more than lifbatch.limits.max-points (3)",
        "DASK_LIFBATCH__LIMITS__MAX_POINTS=4",
    )


def test_cli_yaml_alias_bomb_is_refused_fast_and_small(runs):
    rc, out, err, seconds, mib = runs[0]["bomb"]
    assert len(BOMB) < 600
    assert_error(runs[0]["bomb"], "uses a YAML alias (*a) at line 6", "write the value out in full")
    assert len(err) < 300, len(err)
    assert mib < 400, mib  # it took 2.5 GB
    assert seconds < 60, seconds  # it took 51 s alone (in-process: < 1 s, test_alias_bomb_in_process)


def test_cli_input_file_outside_the_workflow_directory(runs):
    line = assert_error(
        runs[0]["outside"],
        "`inputs.rec.file` is outside the workflow file's directory",
        "lifbatch.inputs.allow-outside=true",
        "DASK_LIFBATCH__INPUTS__ALLOW_OUTSIDE=true",
    )
    assert "secret" not in line.split("got", 1)[0] and "root:x" not in line


def test_cli_query_trial_not_a_number(runs):
    assert_error(runs[0]["query trial=abc"], "`--sel trial` must be a whole number", "'abc'", "Example: --sel trial=0")


def test_cli_query_trial_out_of_range(runs):
    assert_error(runs[0]["query trial=999"], "`--sel trial=999` is not a trial of this store (it has 0..2)")


def test_cli_query_wrong_unit_example_has_a_value(runs):
    line = assert_error(runs[0]["query wrong unit"], "`--sel sigma` has the wrong unit", "'5 ms'")
    assert re.search(r'Example: --sel sigma="\d+(\.\d+)? mV"', line), line


def test_cli_query_too_many_rows_is_refused(runs):
    assert_error(
        runs[0]["query too many rows"],
        "gives 804 rows (sigma=2 x trace_trial=2 x trace_time=201), more than lifbatch.query.max-rows (100)",
        "--sel sigma=",
        "show the first rows with --max-rows N",
        "DASK_LIFBATCH__QUERY__MAX_ROWS=804",
    )


def test_cli_swept_v_reset_reports_the_offending_value(runs):
    assert_error(
        runs[0]["swept v_reset"],
        "`sweep.vr` sets neuron.v_reset, which must be below neuron.v_th (-50 mV)",
        "got '-45 mV'",
    )


def test_cli_workers_with_scheduler_is_an_error(runs):
    results, cwd = runs
    assert_error(results["scheduler and workers"], "`--workers`", "--scheduler")
    assert not (cwd / "sched.zarr").exists()


def test_cli_validate_workers_0(runs):
    assert_error(runs[0]["validate --workers 0"], "`--workers` must be >= 1, got 0")


def test_cli_closed_stdout_exits_quietly(tmp_path):
    """`lifbatch validate ... | head -1`: the reader leaves; no BrokenPipeError traceback."""
    r, w = os.pipe()
    os.close(r)  # nobody reads: the first write fails with EPIPE
    try:
        proc = subprocess.run(
            _command() + ["validate", str(WORKFLOWS / "quickstart.yaml")],
            stdout=w,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    finally:
        os.close(w)
    assert proc.stderr == "", proc.stderr
    assert proc.returncode == 1


# --------------------------------------------------------------------------- #
# NaN and infinities
# --------------------------------------------------------------------------- #
NOT_FINITE = {
    "v_th nan": (good(neuron__v_th="nan mV"), "neuron.v_th", "'nan mV'"),
    "v_th float nan": (good(neuron__v_th=float("nan")), "neuron.v_th", "'nan'"),
    "v_th -inf": (good(neuron__v_th="-inf mV"), "neuron.v_th", "'-inf mV'"),
    "e_l nan": (good(neuron__e_l="nan mV"), "neuron.e_l", "'nan mV'"),
    "v_reset -inf": (good(neuron__v_reset="-inf mV"), "neuron.v_reset", "'-inf mV'"),
    "v_init inf": (good(neuron__v_init="inf mV"), "neuron.v_init", "'inf mV'"),
    "r_m inf": (good(neuron__r_m="inf Mohm"), "neuron.r_m", "'inf Mohm'"),
    "tau_m nan": (good(neuron__tau_m="nan ms"), "neuron.tau_m", "'nan ms'"),
    "t_ref inf": (good(neuron__t_ref="inf ms"), "neuron.t_ref", "'inf ms'"),
    "value inf": (good(inputs__current__value="inf pA"), "inputs.current.value", "'inf pA'"),
    "value overflows to inf": (good(inputs__current__value="1e400 pA"), "inputs.current.value", "'1e400 pA'"),
    "sigma nan": (good(inputs__noise__sigma="nan mV"), "inputs.noise.sigma", "'nan mV'"),
    "sigma inf": (good(inputs__noise__sigma="inf mV", sweep={}), "inputs.noise.sigma", "'inf mV'"),
    "poisson rate inf": (
        good(inputs__p={"kind": "poisson", "rate": "inf Hz", "weight": "0.5 mV"}),
        "inputs.p.rate",
        "'inf Hz'",
    ),
    "poisson weight inf": (
        good(inputs__p={"kind": "poisson", "rate": "10 Hz", "weight": "inf mV"}),
        "inputs.p.weight",
        "'inf mV'",
    ),
    "sine frequency inf": (
        good(inputs__s={"kind": "sine", "amplitude": "10 pA", "frequency": "inf Hz"}),
        "inputs.s.frequency",
        "'inf Hz'",
    ),
    "sine phase nan": (
        good(inputs__s={"kind": "sine", "amplitude": "10 pA", "frequency": "5 Hz", "phase": "nan"}),
        "inputs.s.phase",
        "'nan'",
    ),
    "uniform half_width inf": (
        good(inputs__u={"kind": "uniform", "mean": "0 pA", "half_width": "inf pA"}),
        "inputs.u.half_width",
        "'inf pA'",
    ),
    "swept .inf": (
        good(sweep={"I": {"param": "inputs.current.value", "values": [100, float("inf")], "unit": "pA"}}),
        "sweep.I.values",
        "'Infinity'",
    ),
    "swept 'inf pA'": (
        good(sweep={"I": {"param": "inputs.current.value", "values": [100, "inf pA"], "unit": "pA"}}),
        "sweep.I.values",
        "'inf pA'",
    ),
    "swept bare inf": (
        good(sweep={"I": {"param": "inputs.current.value", "values": [100, "inf"], "unit": "pA"}}),
        "sweep.I.values",
        "'inf'",
    ),
    "swept .nan": (
        good(sweep={"I": {"param": "inputs.current.value", "values": [100, float("nan")], "unit": "pA"}}),
        "sweep.I.values",
        "'NaN'",
    ),
    "swept 'nan pA'": (
        good(sweep={"I": {"param": "inputs.current.value", "values": [100, "nan pA"], "unit": "pA"}}),
        "sweep.I.values",
        "'nan pA'",
    ),
    "swept v_th -inf": (
        good(sweep={"th": {"param": "neuron.v_th", "values": [-50, "-inf mV"], "unit": "mV"}}),
        "sweep.th.values",
        "'-inf mV'",
    ),
    "zipped inf": (
        good(
            sweep={
                "z": {
                    "zip": {
                        "inputs.current.value": {"values": [1, float("inf")], "unit": "pA"},
                        "inputs.noise.sigma": {"values": [1, 2], "unit": "mV"},
                    }
                }
            }
        ),
        "sweep.z.zip.inputs.current.value.values",
        "'Infinity'",
    ),
    "isi bin edge inf": (
        good(summaries__isi_bins={"values": [0, 10, float("inf")], "unit": "ms"}),
        "summaries.isi_bins.values",
        "'Infinity'",
    ),
}


@pytest.mark.parametrize("case", list(NOT_FINITE), ids=list(NOT_FINITE))
def test_nan_and_senseless_infinities_are_refused(case):
    raw, field, value = NOT_FINITE[case]
    with pytest.raises(WorkflowError) as info:
        load_workflow(raw)
    msg = one_line(info.value, f"`{field}`", value)
    assert info.value.field == field
    assert ("NaN" in msg or "not a number" in msg) if "nan" in value.lower() else "finite" in msg


def test_the_deliberate_infinities_stay():
    """v_th: inf switches spiking off, tau_m: inf removes the leak (docs/workflow.md)."""
    assert load_workflow(good(neuron__v_th="inf mV")).params["neuron.v_th"] == math.inf
    swept = load_workflow(good(sweep={"th": {"param": "neuron.v_th", "values": ["inf mV", -45], "unit": "mV"}}))
    assert swept.sweep[0].values[0] == (math.inf, -0.045)
    assert (
        load_workflow(good(sweep={"th": {"param": "neuron.v_th", "values": [float("inf"), -45], "unit": "mV"}}))
        .sweep[0]
        .values[0][0]
        == math.inf
    )
    # YAML reads a bare inf as text: on an axis it takes the axis's unit like a number
    assert load_workflow(good(sweep={"th": {"param": "neuron.v_th", "values": ["inf", -45], "unit": "mV"}})).sweep[
        0
    ].values[0] == (math.inf, -0.045)
    no_leak = {
        "name": "d",
        "duration": "10 ms",
        "neuron": {"tau_m": "inf", "v_th": 1},
        "inputs": {"d": {"kind": "constant", "value": "0.1 / ms"}},
    }
    assert load_workflow(no_leak).params["neuron.tau_m"] == math.inf
    swept_tau = dict(no_leak, sweep={"tau": {"param": "neuron.tau_m", "values": [10, float("inf")], "unit": "ms"}})
    assert load_workflow(swept_tau).sweep[0].values[0] == (0.01, math.inf)


# --------------------------------------------------------------------------- #
# caps on the grid, the work and the memory
# --------------------------------------------------------------------------- #
def _timed(raw, **kw):
    """load_workflow(raw) -> (the WorkflowError, seconds, peak MiB traced (a second load))."""
    t0 = time.perf_counter()
    with pytest.raises(WorkflowError) as info:
        load_workflow(raw, **kw)
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    try:
        with pytest.raises(WorkflowError):
            load_workflow(raw, **kw)
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return info.value, seconds, peak


@pytest.mark.parametrize(
    "raw, needles",
    [
        (good(duration="1e9 s"), ["`duration` makes one point need more than 294 TiB", "max-task-memory"]),
        (
            good(duration="1e9 s", trials=1000),
            [
                "`duration` makes 1000 trials x 1e+13 steps of dt (0.1 ms) = 1e+16 neuron-steps per point",
                "max-neuron-steps (1e+15)",
            ],
        ),
        (good(dt="1e-15 s", trials=100), ["`duration` makes 100 trials x 2e+13 steps", "max-neuron-steps"]),
        (good(trials=10**9), ["`duration`", "of working memory", "max-task-memory"]),
        (good(trials=10**7, record={"v": {"trials": "all"}}), ["`record.v.trials`", "max-task-memory", "'all'"]),
        (
            good(
                sweep={
                    "a": {"param": "inputs.noise.sigma", "linspace": [1, 2, 1000], "unit": "mV"},
                    "b": {"param": "inputs.current.value", "linspace": [1, 2, 1000], "unit": "pA"},
                    "c": {"param": "neuron.tau_m", "linspace": [10, 20, 1000], "unit": "ms"},
                }
            ),
            [
                "`sweep.c.linspace` makes the grid 1000 x 1000 x 1000 = 1e+09 points",
                "lifbatch.limits.max-points (1e+07)",
                "--set lifbatch.limits.max-points=1e9",
            ],
        ),
        (
            good(
                duration="100 s",
                trials=1000,
                record={},
                sweep={
                    "a": {"param": "inputs.noise.sigma", "linspace": [1, 2, 1000], "unit": "mV"},
                    "b": {"param": "inputs.current.value", "range": [1, 2000, 1], "unit": "pA"},
                },
            ),
            [
                "`sweep.b.range` makes 1000 x 2000 = 2e+06 points x 1000 trials x 1e+06 steps = 2e+15 neuron-steps",
                "max-neuron-steps (1e+15)",
            ],
        ),
    ],
    ids=[
        "duration 1e9 s",
        "1000 trials of 1e9 s",
        "dt 1e-15 s",
        "a billion trials",
        "record all of 1e7 trials",
        "1e9 points",
        "neuron-steps of a sweep",
    ],
)
def test_caps_refuse_before_building_anything(raw, needles):
    exc, seconds, peak = _timed(raw)
    msg = one_line(exc, *needles)
    assert "DASK_LIFBATCH__LIMITS__" in msg and "--set lifbatch.limits." in msg
    assert seconds < 1.0, seconds
    assert peak < 50, peak


def test_caps_raised_with_set_or_config(restore_config):
    raw = good(sweep={"a": {"param": "inputs.noise.sigma", "values": [1, 2, 3], "unit": "mV"}})
    with dask.config.set({"lifbatch.limits.max-points": 2}):
        with pytest.raises(WorkflowError, match=r"= 3 points, more than lifbatch\.limits\.max-points \(2\)"):
            load_workflow(raw)
        assert load_workflow(raw, limits=False).n_points == 3  # a store's workflow reopens
    with dask.config.set({"lifbatch.limits.max-neuron-steps": 1000}):
        with pytest.raises(WorkflowError, match=r"max-neuron-steps \(1e\+03\)"):
            load_workflow(raw)
        # --set lifbatch.KEY=VALUE sets the dask.config key (YAML reads 1e4 as text: a number here)
        assert load_workflow(raw, ["lifbatch.limits.max-neuron-steps=1e4"]).n_points == 3
        assert dask.config.get("lifbatch.limits.max-neuron-steps") == 1e4


@pytest.mark.parametrize(
    "item, needles",
    [
        (
            "lifbatch.limits.max-pointz=5",
            [
                "`--set lifbatch.limits.max-pointz` is not a lifbatch setting",
                "Settings in lifbatch.limits: max-neuron-steps, max-points, max-task-memory",
            ],
        ),
        ("lifbatch.limits=5", ["`--set lifbatch.limits` is not a lifbatch setting"]),
        ("lifbatch.limits.max-points=many", ["`lifbatch.limits.max-points` must be a positive number, got 'many'"]),
        ("lifbatch.limits.max-task-memory=-1", ["`lifbatch.limits.max-task-memory` must be a positive number"]),
        ("lifbatch.inputs.allow-outside=maybe", []),
    ],
)
def test_bad_settings_are_one_line(item, needles, restore_config, tmp_path):
    raw = good()
    if not needles:
        raw = _timed_array(tmp_path.parent / "elsewhere.csv")
        needles = ["`lifbatch.inputs.allow-outside` must be true or false, got 'maybe'"]
    path = write(tmp_path, raw)
    with pytest.raises(WorkflowError) as info:
        load_workflow(path, [item])
    one_line(info.value, *needles)


def test_task_memory_of_a_block(restore_config):
    """The planner's check: tasks of many points above max-task-memory (plan.plan_blocks calls it)."""
    wf = load_workflow(good())
    check_task_memory(wf, 2)
    with dask.config.set({"lifbatch.limits.max-task-memory": "1MiB"}):
        with pytest.raises(WorkflowError) as info:
            check_task_memory(wf, 100, points_per_task=100)
        one_line(
            info.value,
            "`--points-per-task` 100 makes tasks of",
            "Use at most --points-per-task ",
            "lifbatch.limits.max-task-memory (1 MiB)",
            "DASK_LIFBATCH__LIMITS__MAX_TASK_MEMORY=",
        )
        with pytest.raises(WorkflowError) as info:
            check_task_memory(wf, 100)
        one_line(info.value, "`sweep` makes tasks of 100 points", "lifbatch.task.max-tasks")
        with dask.config.set({"lifbatch.limits.max-task-memory": "1KiB"}):
            with pytest.raises(WorkflowError, match="makes one point need"):
                load_workflow(good())


# --------------------------------------------------------------------------- #
# YAML aliases, nesting, and every message an excerpt
# --------------------------------------------------------------------------- #
def test_alias_bomb_in_process(tmp_path):
    exc, seconds, peak = _timed(write(tmp_path, BOMB))
    one_line(exc, "workflow file", "uses a YAML alias (*a) at line 6")
    assert seconds < 1.0 and peak < 20, (seconds, peak)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("name: a\nneuron: &n {tau_m: 10 ms, v_th: 1}\nduration: 1 s\nx: *n\n", "uses a YAML alias (*n) at line 4"),
        ("name: a\nbase: &b {dt: 0.1 ms}\n<<: *b\n", "uses a YAML alias (*b) at line 3"),
        ("name: " + "[" * 5000 + "\n", "nests more than 50 levels deep"),
        ("name: a\nseed: " + "1" * 5000 + "\n", "is not valid YAML: it holds a number of more than 4300 digits"),
    ],
)
def test_hostile_yaml_is_one_line(text, needle, tmp_path):
    exc, seconds, _ = _timed(write(tmp_path, text))
    one_line(exc, needle)
    assert seconds < 1.0


def test_anchors_without_aliases_load(tmp_path):
    raw = yaml.safe_dump(GOOD, sort_keys=False).replace("neuron:", "neuron: &n", 1)
    assert load_workflow(write(tmp_path, raw)).name == "val"


def test_set_value_with_an_alias_is_text():
    """--set description=*bold*: a YAML alias in an override is read as the text itself."""
    assert load_workflow(good(), ["description=*bold*"]).description == "*bold*"


LONG = "x" * 1_000_000
HUGE_LIST = list(range(1_000_000))


@pytest.mark.parametrize(
    "raw, overrides",
    [
        (good(unknown=LONG), None),
        (good(unknown=HUGE_LIST), None),
        (good(unknown={"k": [[HUGE_LIST]]}), None),
        (good(**{"neuron__" + LONG: 1}), None),
        (good(neuron__tau_m=LONG), None),
        (good(neuron__tau_m="5 " + LONG), None),
        (good(neuron__tau_m=HUGE_LIST), None),
        (good(name=LONG), None),
        (good(name="a" * 500), None),
        (good(inputs={LONG: {"kind": "constant", "value": 1}}), None),
        (good(inputs={"a" * 5000: {"kind": "constant", "value": 1}}), None),
        (good(sweep={"a" * 5000: {"param": "neuron.tau_m", "values": [1]}}), None),
        (good(sweep={"s": {"param": LONG, "values": [1]}}), None),
        (good(sweep={"s": {"param": "neuron.tau_m", "values": HUGE_LIST[:100_000] + [1], "unit": "ms"}}), None),
        (good(neuron__v_th="-50 mV" + " " * 1_000_000, neuron__e_l="5 ms"), None),
        (good(), ["x" * 100_000]),
        (good(), ["neuron.v_th=" + "[" * 60]),
        (good(), ["neuron.tau_m.x=1", "neuron.tau_m=" + LONG]),
        (good(), [LONG + "=1"]),
    ],
    ids=lambda v: None,
)
def test_messages_quote_an_excerpt_only(raw, overrides):
    t0 = time.perf_counter()
    with pytest.raises(WorkflowError) as info:
        load_workflow(raw, overrides)
    msg = one_line(info.value)
    assert len(msg) < 600, (len(msg), msg[:300])
    assert "xxxxxxxxxx" * 10 not in msg and "aaaaaaaaaa" * 10 not in msg
    assert time.perf_counter() - t0 < 2.0


# --------------------------------------------------------------------------- #
# input files
# --------------------------------------------------------------------------- #
@pytest.fixture
def layout(tmp_path):
    """A workflow directory wf/ with data/ inside, and files outside it."""
    wf = tmp_path / "wf"
    (wf / "data").mkdir(parents=True)
    (wf / "data" / "ok.csv").write_text("0\n1\n2\n")
    (tmp_path / "outside.csv").write_text("0\n1\n2\n")
    (tmp_path / "passwd").write_text("root:x:0:0:the secret content:/root:/bin/bash\n")
    (wf / "data" / "link.csv").symlink_to(tmp_path / "outside.csv")
    (wf / "data" / "text.csv").write_text("1\n2\nthe secret content\n")
    return wf


def _timed_array(file) -> dict:
    return good(inputs={"rec": {"kind": "timed_array", "file": str(file), "dt": "1 ms", "unit": "mV"}}, sweep={})


@pytest.mark.parametrize("file", ["../passwd", "../outside.csv", "data/link.csv", "ABSOLUTE", "data/../../passwd"])
def test_input_files_outside_the_workflow_directory_are_refused(layout, file):
    file = str(layout.parent / "outside.csv") if file == "ABSOLUTE" else file
    path = write(layout, _timed_array(file))
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    msg = one_line(
        info.value,
        "`inputs.rec.file` is outside the workflow file's directory",
        "--set lifbatch.inputs.allow-outside=true",
    )
    assert "secret" not in msg and "root:x" not in msg


def test_input_files_inside_load_and_outside_when_allowed(layout, restore_config, monkeypatch):
    assert load_workflow(write(layout, _timed_array("data/ok.csv"))).drives[0].kind == "timed_array"
    outside = write(layout, _timed_array("../outside.csv"), "o.yaml")
    assert load_workflow(outside, ["lifbatch.inputs.allow-outside=true"]).drives[0].option("file") == str(
        layout.parent / "outside.csv"
    )
    dask.config.set({"lifbatch.inputs.allow-outside": False})
    with pytest.raises(WorkflowError, match="outside"):
        load_workflow(outside)
    # a workflow given as a mapping (the Python API, a store's saved workflow) is not confined
    monkeypatch.chdir(layout)
    assert load_workflow(_timed_array(layout.parent / "outside.csv")).drives[0].kind == "timed_array"


@pytest.mark.parametrize(
    "file, why",
    [("../passwd", "line 1, column 1 is not a number"), ("data/text.csv", "line 3, column 1 is not a number")],
)
def test_a_file_that_is_not_numbers_is_never_echoed(layout, file, why, restore_config):
    path = write(layout, _timed_array(file))
    with pytest.raises(WorkflowError) as info:
        load_workflow(path, ["lifbatch.inputs.allow-outside=true"])
    msg = one_line(info.value, "`inputs.rec.file` could not be read", why)
    assert "secret" not in msg and "root" not in msg


# --------------------------------------------------------------------------- #
# messages that explain themselves
# --------------------------------------------------------------------------- #
def test_swept_threshold_below_reset_names_the_offending_value():
    raw = good(sweep={"th": {"param": "neuron.v_th", "values": [-40, -70, -80], "unit": "mV"}})
    with pytest.raises(WorkflowError) as info:
        load_workflow(raw)
    one_line(info.value, "`sweep.th` sets neuron.v_th, which must be above neuron.v_reset (-65 mV)", "got '-70 mV'")


def test_both_swept_names_the_threshold_at_the_offending_point():
    raw = good(
        sweep={
            "th": {"param": "neuron.v_th", "values": [-40, -45], "unit": "mV"},
            "vr": {"param": "neuron.v_reset", "values": [-70, -60, -45], "unit": "mV"},
        }
    )
    with pytest.raises(WorkflowError) as info:
        load_workflow(raw)
    one_line(info.value, "`sweep.vr` sets neuron.v_reset, which must be below neuron.v_th (-45 mV)", "got '-45 mV'")


@pytest.mark.parametrize(
    "neuron, needle",
    [
        ({"tau_m": "20 ms", "v_th": "-50 mV", "e_l": "-65 mV"}, "neuron.r_m is not set"),
        ({"tau_m": "20 ms", "v_th": "-50 mV", "e_l": "-65 mV", "r_m": 100}, "neuron.r_m is a bare number (100)"),
    ],
)
def test_a_current_without_resistance_says_set_r_m(neuron, needle):
    raw = {"name": "r", "duration": "10 ms", "neuron": neuron, "inputs": {"i": {"kind": "constant", "value": "250 pA"}}}
    with pytest.raises(WorkflowError) as info:
        load_workflow(raw)
    msg = one_line(
        info.value,
        "`inputs.i.value` is a current, which needs a resistance",
        needle,
        "Set neuron.r_m (e.g. r_m: 100 Mohm)",
        "'250 pA'",
    )
    assert "must be a current" not in msg


# --------------------------------------------------------------------------- #
# query: one unit convention, rounded values; spike_times of every trial
# --------------------------------------------------------------------------- #
def test_query_shows_display_units_and_rounded_values(store):
    from lifbatch.query import query

    csv = query(store, variables=["v_mean", "v_var"], sel=["sigma=4 mV"], fmt="csv").splitlines()
    assert csv[0] == "time [ms],v_mean [mV],v_var [mV**2]"
    times = [row.split(",")[0] for row in csv[1:]]
    assert times[:4] == ["0.0", "1.0", "2.0", "3.0"] and "9.0" in times  # not 9.000000000000002
    for row in csv[1:]:
        for cell in row.split(","):
            assert len(cell.lstrip("-").replace(".", "").replace("e", "").lstrip("0")) <= 16, row
    v0 = float(csv[1].split(",")[1])
    assert v0 == -65.0  # V starts at e_l, in mV
    table = query(store, variables=["isi_mean", "isi_hist"], sel=["sigma=4 mV"])
    assert "isi_mean [ms]" in table and "isi_bin [ms]" in table and "[s]" not in table


def test_query_json_rows_in_display_units(store):
    import json

    from lifbatch import open_results
    from lifbatch.query import query

    out = json.loads(query(store, variables=["rate", "isi_mean"], sel=["sigma=1"], fmt="json"))
    row = out["rows"][0]
    assert set(row) == {"sigma [mV]", "rate [Hz]", "isi_mean [ms]"} and row["sigma [mV]"] == 1.0
    isi = float(open_results(store).isi_mean.sel(sigma=0.001))
    if math.isfinite(isi):
        assert row["isi_mean [ms]"] == pytest.approx(isi * 1e3, rel=1e-11)
    else:
        assert row["isi_mean [ms]"] is None


def test_query_row_cap_from_config(store, restore_config):
    from lifbatch.query import query

    assert len(query(store, variables=["v"], fmt="csv").splitlines()) == 1 + 2 * 2 * 201
    dask.config.set({"lifbatch.query.max-rows": 10})
    with pytest.raises(WorkflowError, match=r"gives 804 rows .* more than lifbatch.query.max-rows \(10\)"):
        query(store, variables=["v"], fmt="csv")
    assert len(query(store, variables=["rate"], fmt="csv").splitlines()) == 3


def test_spike_times_without_trial_gives_every_trial(store):
    import lifbatch

    ds = lifbatch.open_results(store)
    times = lifbatch.spike_times(ds, sigma=0.004)
    assert sorted(times) == [0, 1, 2]
    for t, arr in times.items():
        np.testing.assert_array_equal(arr, lifbatch.spike_times(ds, sigma=0.004, trial=t))
