"""Rough edges a new user hits (issue 23): each test fails on the behaviour the issue found.

Real `lifbatch` subprocesses and real stores, as the rest of the suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifbatch.errors import WorkflowError
from lifbatch.workflow import load_workflow

from test_store_trust import _cli
from test_workflow import base, check_one_line

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "workflows" / "quickstart.yaml"


def _one_line_error(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    """The CLI's stderr when it refused in one line with ``code``."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lifbatch: error: "), proc.stderr
    return lines[0]


# --------------------------------------------------------------------------- #
# 1. huge trial counts: the neuron-steps cap in one line, never an OverflowError;
#    an integer field takes a float that is exactly an integer
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "trials", [1.797693134862316e305, 1e308, 1.7976931348623157e308, "1e400", pytest.param(10**400, id="10**400")]
)
def test_huge_trials_hit_the_neuron_steps_cap_in_one_line(trials):
    with pytest.raises(
        WorkflowError,
        match=r"= [0-9.]+e\+\d+ neuron-steps per point, more than "
        r"lifbatch.limits.max-neuron-steps \(1e\+15\)",
    ) as info:
        load_workflow(base(trials=trials))
    check_one_line(info.value, "duration")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    trials=st.one_of(
        st.floats(),
        st.integers(min_value=-10, max_value=10**320),
        st.from_regex(r"\A[-+]?[0-9]{1,3}(\.[0-9]{0,3})?[eE][-+]?[0-9]{1,4}\Z"),
    )
)
def test_any_trial_count_loads_or_gives_a_one_line_error(trials):
    try:
        wf = load_workflow(base(trials=trials))
    except WorkflowError as exc:
        check_one_line(exc)
        assert exc.field in ("trials", "duration", "record.v.trials"), exc.field
    else:
        assert wf.trials >= 1 and wf.trials == int(wf.trials)


def test_huge_trials_on_the_command_line_is_one_line_exit_2():
    line = _one_line_error(_cli("validate", QUICKSTART, "--set", "trials=1.0e+308"))
    assert "= 1e+312 neuron-steps per point, more than lifbatch.limits.max-neuron-steps (1e+15)" in line


@pytest.mark.parametrize("written, n", [(1e3, 1000), ("1e3", 1000), ("2.5e2", 250), ("1E3", 1000), (1000.0, 1000)])
def test_an_integer_field_takes_a_number_that_is_exactly_an_integer(written, n):
    wf = load_workflow(base(trials=written, seed=written))
    assert wf.trials == n and isinstance(wf.trials, int) and wf.seed == n
    assert wf.fingerprint == load_workflow(base(trials=n, seed=n)).fingerprint


@pytest.mark.parametrize("written", [2.5, "2.5", "1.5e0", "1e-3", "1e", "e3", "1e3 ms", float("inf"), "1e5000"])
def test_an_integer_field_refuses_what_is_not_exactly_an_integer(written):
    with pytest.raises(WorkflowError, match=r"`trials` must be an integer >= 1, got ") as info:
        load_workflow(base(trials=written))
    check_one_line(info.value, "trials")


def test_trials_1e3_on_the_command_line_validates():
    proc = _cli("validate", QUICKSTART, "--set", "trials=1e3")
    assert proc.returncode == 0, proc.stderr
    assert "-> 78 points x 1000 trials\n" in proc.stdout, proc.stdout


def test_a_count_past_a_float_is_refused_where_it_becomes_a_float():
    raw = base(inputs={"p": {"kind": "poisson", "rate": "10 Hz", "weight": "0.5 mV", "n": "1e400"}})
    with pytest.raises(WorkflowError, match=r"`inputs.p.n` must be an integer from 1 to 1.8e\+308, got '1e400'"):
        load_workflow(raw)


def test_hypothesis_examples_are_not_committed():
    """Hypothesis keeps failing examples in .hypothesis/ and replays them: git must ignore it."""
    proc = subprocess.run(["git", "check-ignore", "-q", ".hypothesis/examples/x"], cwd=ROOT)
    if proc.returncode == 128:
        pytest.skip("not a git checkout")
    assert proc.returncode == 0, ".hypothesis/ is not in .gitignore"


# --------------------------------------------------------------------------- #
# 2. resuming without the original --set: name the keys and the --set that resumes,
#    never --overwrite (it would discard the finished points)
# --------------------------------------------------------------------------- #
def _state_of(wf, **kw):
    from lifbatch.plan import StoreState

    return StoreState(
        "s.zarr", "store", fingerprint=wf.fingerprint, name=wf.name, chunks=(1,), workflow=wf.source, **kw
    )


def test_the_plan_names_the_keys_a_store_of_the_same_workflow_was_made_with():
    from lifbatch.errors import StoreError
    from lifbatch.plan import plan_sweep

    made = load_workflow(base(), overrides=["trials=3000", "neuron.tau_m=10 ms"])
    state = _state_of(made, done=frozenset({0}))
    with pytest.raises(StoreError) as info:
        plan_sweep(load_workflow(base()), state)
    assert str(info.value) == (
        "store 's.zarr' was made with trials=3000, this command gives 2; neuron.tau_m=10 ms, this command gives "
        '20 ms (1 block already done): add `--set trials=3000 --set neuron.tau_m="10 ms"` to resume it, or '
        "give another --store to compute this command's workflow."
    )
    # the suggested command resumes: its workflow is the store's
    resumed = load_workflow(base(), overrides=["trials=3000", "neuron.tau_m=10 ms"])
    assert plan_sweep(resumed, state).skipped == 1
    # a key the store's workflow does not have: no --set removes it, say where the command is
    with pytest.raises(
        StoreError,
        match=r"was made with no neuron.t_ref, this command gives 2 ms \(0 blocks already "
        r"done\): drop what the store does not have to resume it \(`lifbatch status "
        r"s.zarr --provenance` shows the command that made it\)",
    ) as info:
        plan_sweep(load_workflow(base(), overrides=["neuron.t_ref=2 ms"]), _state_of(load_workflow(base())))
    assert "--overwrite" not in str(info.value)
    # another workflow's store: --overwrite replaces it, as before
    with pytest.raises(StoreError, match=r"holds another workflow \('other'.*--overwrite to replace it"):
        plan_sweep(load_workflow(base()), _state_of(load_workflow(base(name="other", seed=9))))


@pytest.mark.slow
def test_resume_without_the_set_says_which_set_and_keeps_the_points(tmp_path):
    """Run with --set trials=N, interrupt it with SIGINT (Ctrl-C) part way, run again without the
    --set: refused in one line naming trials and the --set; that command resumes, keeping every
    finished point's data."""
    import os
    import shlex
    import signal
    import time

    import numpy as np
    import yaml

    import lifbatch
    from lifbatch.store import done_blocks
    from test_store_trust import WF, _start

    raw = {
        **WF,
        "name": "forgot",
        "duration": "500 ms",
        "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 32], "unit": "pA"}},
    }
    path = tmp_path / "forgot.yaml"
    path.write_text(yaml.safe_dump(raw))
    store = tmp_path / "forgot.zarr"
    args = ("run", path, "--store", store, "--workers", "1", "--points-per-task", "1", "--no-progress")
    proc = _start(*args, "--set", "trials=1000")
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store) if store.exists() else ()) < 2:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    done = sorted(done_blocks(store))
    assert 2 <= len(done) < 32, done
    before = lifbatch.open_results(store).load()

    line = _one_line_error(_cli(*args))
    assert line == (
        f"lifbatch: error: store '{store}' was made with trials=1000, this command gives 4 "
        f"({len(done)} blocks already done): add `--set trials=1000` to resume it, or give another "
        "--store to compute this command's workflow."
    )
    fix = shlex.split(line.split("`")[1])
    resumed = _cli(*args, *fix)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({32 - len(done)} blocks run, {len(done)} already done)" in resumed.stdout
    after = lifbatch.open_results(store).load()
    assert int((after.status == 1).sum()) == 32
    for name in ("rate", "spike_bits", "v"):
        assert np.array_equal(before[name].isel(I=done).values, after[name].isel(I=done).values, equal_nan=True)

    shown = _cli("status", store, "--provenance").stdout
    assert "--set trials=1000" in shown.split("  command    ")[1].splitlines()[0]
    assert "  overrides  --set trials=1000\n" in shown


# --------------------------------------------------------------------------- #
# 3. the default worker count is the CPUs the process may use (affinity, cgroup quota)
# --------------------------------------------------------------------------- #
TINY = {
    "name": "tiny",
    "seed": 3,
    "trials": 2,
    "duration": "50 ms",
    "dt": "0.1 ms",
    "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "r_m": "100 Mohm"},
    "inputs": {"i": {"kind": "constant", "value": "200 pA"}, "n": {"kind": "white_noise", "sigma": "3 mV"}},
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 8], "unit": "pA"}},
}


def _tiny(tmp_path, **top) -> Path:
    import yaml

    raw = {**TINY, **top}
    path = tmp_path / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _pinned(cpus: str, *args) -> subprocess.CompletedProcess:
    """``lifbatch ARGS`` started under ``taskset -c CPUS``: a real process with that affinity."""
    return subprocess.run(
        ["taskset", "-c", cpus, sys.executable, "-m", "lifbatch.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.skipif(
    subprocess.run(["which", "taskset"], capture_output=True).returncode != 0, reason="needs taskset (util-linux)"
)
def test_validate_and_run_under_taskset_use_one_worker(tmp_path):
    import json
    import os

    import lifbatch

    validated = _pinned("0", "validate", QUICKSTART)
    assert validated.returncode == 0, validated.stderr
    assert "(for 1 worker)\n" in validated.stdout, validated.stdout
    # unpinned, the same machine plans for every CPU it may use
    free = _cli("validate", QUICKSTART)
    assert f"(for {len(os.sched_getaffinity(0))} worker" in free.stdout, free.stdout
    store = tmp_path / "s.zarr"
    ran = _pinned("0", "run", _tiny(tmp_path), "--store", store, "--no-progress")
    assert ran.returncode == 0, ran.stderr
    assert "running in 1 thread of this process\n" in ran.stderr, ran.stderr
    prov = json.loads(lifbatch.open_results(store).attrs["provenance"])
    assert prov["cluster"] == {"kind": "threads", "workers": 1}
    # the function itself, in a pinned interpreter
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            "-c",
            "from lifbatch.config import available_cpus; print(available_cpus())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "1\n"


def _cgroups(tmp_path, proc: str, files: dict) -> dict:
    """A cgroup file system laid out as the kernel mounts it (``files``: path -> content) and a
    /proc/self/cgroup naming this process's cgroups (``proc``)."""
    root = tmp_path / "sys-fs-cgroup"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (tmp_path / "cgroup").write_text(proc)
    return {"cgroup_root": str(root), "proc_cgroup": str(tmp_path / "cgroup")}


def test_the_cgroup_cpu_quota_caps_the_default_workers(tmp_path):
    import os

    from lifbatch.config import available_cpus

    mine = len(os.sched_getaffinity(0))
    # cgroup v2: the job's cpu.max, and the smallest quota of its ancestors; a fraction rounds up
    assert available_cpus(**_cgroups(tmp_path / "a", "0::/job\n", {"job/cpu.max": "50000 100000\n"})) == 1
    assert (
        available_cpus(
            **_cgroups(
                tmp_path / "b",
                "0::/slice/job\n",
                {"slice/cpu.max": "100000 100000\n", "slice/job/cpu.max": "max 100000\n"},
            )
        )
        == 1
    )
    assert available_cpus(**_cgroups(tmp_path / "c", "0::/\n", {"cpu.max": "max 100000\n"})) == mine
    assert available_cpus(**_cgroups(tmp_path / "d", "0::/\n", {"cpu.max": "6400000 100000\n"})) == mine
    # cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us of the cpu controller (-1: none)
    assert (
        available_cpus(
            **_cgroups(
                tmp_path / "e",
                "4:cpu,cpuacct:/docker/x\n0::/\n",
                {"cpu/docker/x/cpu.cfs_quota_us": "25000\n", "cpu/docker/x/cpu.cfs_period_us": "100000\n"},
            )
        )
        == 1
    )
    assert (
        available_cpus(
            **_cgroups(
                tmp_path / "f", "1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}
            )
        )
        == mine
    )
    # nothing readable: the affinity alone
    assert available_cpus(cgroup_root=str(tmp_path / "none"), proc_cgroup=str(tmp_path / "none")) == mine


# --------------------------------------------------------------------------- #
# 5. valid but physically unlikely values: validate and run warn; run counts silent points
# --------------------------------------------------------------------------- #
TAU_WARNING = (
    "warning: `neuron.tau_m` is 20 s, longer than the run (1 s): V relaxes too slowly to change much "
    "within the run, so the neuron may never spike. Check its unit."
)


def test_no_workflow_of_the_project_is_warned_about():
    from lifbatch.plausibility import unusual_values

    for path in sorted((ROOT / "workflows").glob("*.yaml")):
        assert unusual_values(load_workflow(path)) == [], path.name


@pytest.mark.parametrize(
    "overrides, line",
    [
        (["neuron.tau_m=20 s"], TAU_WARNING[len("warning: ") :]),
        (
            ["sweep.sigma.param=neuron.tau_m", "sweep.sigma.unit=s"],
            "`neuron.tau_m` reaches 8 s (2 of its 3 values), longer than the run (1 s): V relaxes too slowly to change "
            "much within the run, so the neuron may never spike. Check its unit.",
        ),
        (
            ["neuron.t_ref=200 ms"],
            "`neuron.t_ref` is 200 ms, far outside the usual range (about 0-10 ms). Check its unit.",
        ),
        (
            ["neuron.t_ref=2 s"],
            "`neuron.t_ref` is 2 s, longer than the run (1 s): a neuron spikes at most once in the "
            "run. Check its unit.",
        ),
        (
            ["neuron.r_m=100 ohm"],
            "`neuron.r_m` is 100 Ω, far outside the usual range (about 10 MΩ-1 GΩ). Check its unit.",
        ),
        (
            ["neuron.v_th=-50 V", "neuron.v_reset=-70 V"],
            "`neuron.v_th` is -50 V, far outside the usual range (about -100 to +50 mV). Check its unit.",
        ),
        (
            ["sweep.I.unit=uA"],
            "`inputs.current.value` reaches 300 uA (26 of its 26 values), far outside the usual range "
            "(pA to a few nA). Check its unit.",
        ),
    ],
)
def test_unusual_values_are_named_with_their_value(overrides, line):
    from lifbatch.plausibility import unusual_values

    assert unusual_values(load_workflow(QUICKSTART, overrides))[0] == line


def test_validate_warns_about_tau_m_longer_than_the_run():
    proc = _cli("validate", QUICKSTART, "--set", "neuron.tau_m=20 s")
    assert proc.returncode == 0 and proc.stderr == TAU_WARNING + "\n", proc.stderr
    assert _cli("validate", QUICKSTART).stderr == ""


def test_run_says_at_how_many_points_nothing_spiked(tmp_path):
    import numpy as np

    import lifbatch

    path = _tiny(tmp_path)
    silent = _cli("run", path, "--store", tmp_path / "silent.zarr", "--set", "neuron.tau_m=20 s", "--no-progress")
    assert silent.returncode == 0, silent.stderr
    assert "done: 8 of 8 points in " in silent.stdout
    assert "already done); no spikes at 8 of 8 points\n" in silent.stdout, silent.stdout
    assert "warning: `neuron.tau_m` is 20 s, longer than the run (50 ms)" in silent.stderr
    some = _cli("run", path, "--store", tmp_path / "some.zarr", "--no-progress")
    rate = lifbatch.open_results(tmp_path / "some.zarr").rate.values
    n = int(np.count_nonzero(rate == 0))
    assert 0 < n < 8, rate  # the workflow has silent and spiking points
    assert f"already done); no spikes at {n} of 8 points\n" in some.stdout, some.stdout
    # spiking everywhere, or a neuron that cannot spike (v_th: inf): nothing said
    busy = _cli(
        "run",
        path,
        "--store",
        tmp_path / "busy.zarr",
        "--set",
        "inputs.i.value=400 pA",
        "--set",
        "sweep.I.linspace=[400, 600, 8]",
        "--no-progress",
    )
    assert busy.returncode == 0 and "no spikes" not in busy.stdout, busy.stdout + busy.stderr
    mute = _cli("run", path, "--store", tmp_path / "mute.zarr", "--set", "neuron.v_th=inf mV", "--no-progress")
    assert mute.returncode == 0 and "no spikes" not in mute.stdout, mute.stdout + mute.stderr


# --------------------------------------------------------------------------- #
# 6. messages: a busy port, a swept value in another dimension, refine's and fit's rounds,
#    plurals, summarize's kept V moments, the progress bar after Ctrl-C
# --------------------------------------------------------------------------- #
def test_review_on_a_busy_port_is_one_line(tmp_path):
    import socket

    store = tmp_path / "s.zarr"
    assert _cli("run", _tiny(tmp_path), "--store", store, "--no-progress").returncode == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _cli("review", store, "--port", port, "--no-browser", timeout=120)
    assert _one_line_error(proc) == (
        f"lifbatch: error: `--port` {port}: cannot serve on 127.0.0.1:{port}, it is in "
        "use. Choose another port, or leave out --port to take a free one."
    )


@pytest.mark.parametrize(
    "override, field, message",
    [
        (
            "inputs.noise.sigma=2 pA",
            "inputs.noise.sigma",
            "`inputs.noise.sigma` is a current (A), but sweep axis `sweep.sigma` gives it values in mV, a voltage (V), got "
            "'2 pA'. Write it in the axis' dimension (Example: sigma: 2 mV), or sweep it in a current (unit: pA).",
        ),
        (
            "sweep.I.unit=mV",
            "inputs.current.value",
            "`inputs.current.value` is a current (A), but sweep axis `sweep.I` gives it values in mV, a voltage (V), got "
            "'150 pA'. Write it in the axis' dimension (Example: value: 150 mV), or sweep it in a current (unit: pA).",
        ),
        # a unit no drive can have: the axis is wrong, as before
        (
            "sweep.I.unit=ms",
            "sweep.I.unit",
            "`sweep.I.unit` is a time (s), but inputs.current.value is a current (A), got 'ms'. Example: unit: pA",
        ),
    ],
)
def test_a_swept_value_in_another_dimension_names_the_parameter(override, field, message):
    with pytest.raises(WorkflowError) as info:
        load_workflow(QUICKSTART, [override])
    assert str(info.value) == message and info.value.field == field


def test_validate_says_1_task_1_point_1_worker(tmp_path):
    proc = _cli("validate", _tiny(tmp_path, sweep={}), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "-> 1 point x 2 trials\n" in proc.stdout
    assert (
        proc.stdout.split("work        ")[1]
        .splitlines()[0]
        .endswith("neuron-steps in 1 task of <= 1 point (for 1 worker)")
    ), proc.stdout


SAMPLED = {
    **TINY,
    "name": "sampled",
    "sweep": {},
    "sample": {
        "method": "lhs",
        "n": 4,
        "params": {"I": {"param": "inputs.i.value", "bounds": [100, 300], "unit": "pA"}},
    },
}


def test_refine_rounds_do_not_read_like_crash_recovery(tmp_path):
    store = tmp_path / "s.zarr"
    assert _cli("run", _tiny(tmp_path, **SAMPLED), "--store", store, "--no-progress").returncode == 0
    r = _cli("refine", store, "--add", "1", "--rounds", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "resuming" not in r.stderr and r.stderr.count("running in ") == 1, r.stderr
    assert "round 1: added 1 point (sample 4) where rate changes fastest" in r.stdout, r.stdout
    assert "round 2: added 1 point (sample 5) where rate changes fastest" in r.stdout, r.stdout
    r = _cli("refine", store, "--add", "2", "--no-progress")
    assert "round 3: added 2 points (samples 6-7) where rate changes fastest" in r.stdout, r.stdout


@pytest.mark.slow
def test_fit_rounds_do_not_read_like_crash_recovery(tmp_path):
    r = _cli(
        "fit",
        ROOT / "workflows" / "quickstart-fit.yaml",
        "--target",
        "rate=10 Hz",
        "--free",
        "inputs.current.value=50..300",
        "--budget",
        "6",
        "--batch",
        "2",
        "--store",
        tmp_path / "f.zarr",
        "--set",
        "duration=200 ms",
        "--set",
        "trials=4",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    assert "resuming" not in r.stderr and r.stderr.count("running in ") == 1, r.stderr
    assert "fit: round 1: 1 point from the theory's solution of the targets" in r.stderr, r.stderr


def test_summarize_says_why_it_kept_the_v_moments_and_what_recomputes_them(tmp_path):
    store = tmp_path / "s.zarr"
    path = _tiny(tmp_path, record={"v": {"trials": [0], "every": "0.1 ms"}}, summaries={"moments": {"every": "1 ms"}})
    assert _cli("run", path, "--store", store, "--no-progress").returncode == 0
    r = _cli("summarize", store, "--set", "summaries.warmup=10 ms")
    assert r.returncode == 0, r.stderr
    assert (
        "note: v_mean, v_var and v_autocov keep their warmup of 0 ms (the spike summaries take the new one): "
        "recomputing them needs V of every trial on the moments grid, and this store records V of 1 of 2 trials "
        "(record.v.trials: [0]). To recompute them, run the workflow into a new store with --set "
        "record.v.trials=all (record.v.every dividing summaries.moments.every).\n"
    ) in r.stdout, r.stdout
    assert (
        "(V moments after 0 ms: summarize could not recompute them without V of every trial on the moments grid)"
        in _cli("status", store).stdout
    )


@pytest.mark.slow
def test_the_progress_bar_is_done_before_interrupted_is_said(tmp_path):
    import os
    import signal
    import time

    from lifbatch.store import done_blocks
    from test_store_trust import _start

    store = tmp_path / "s.zarr"
    path = _tiny(
        tmp_path,
        trials=1000,
        duration="500 ms",
        sweep={"I": {"param": "inputs.i.value", "linspace": [100, 300, 32], "unit": "pA"}},
    )
    proc = _start("run", path, "--store", store, "--workers", "1", "--points-per-task", "1")  # with the bar
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store) if store.exists() else ()) < 2:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "interrupted: finished blocks are kept" in err, err
    before, after = err.split("interrupted: finished blocks are kept", 1)
    assert "pt/s" in before and "pt/s" not in after and "%|" not in after, err


@pytest.mark.slow
def test_run_of_another_model_says_where_nothing_spiked(tmp_path):
    """The done line reads the model's spike-rule parameter (hh_traub's v_spike), not
    neuron.v_th: an hh_traub run used to end in a KeyError traceback after writing its store."""
    from test_store_trust import _write

    path = _write(
        tmp_path,
        {
            "name": "hh-silent",
            "seed": 1,
            "trials": 1,
            "duration": "10 ms",
            "dt": "0.05 ms",
            "neuron": {"model": "hh_traub"},
            "inputs": {"i": {"kind": "constant", "value": "0 nA"}},
            "sweep": {"I": {"param": "inputs.i.value", "values": [0, 50], "unit": "nA"}},
        },
    )
    proc = _cli("run", path, "--store", tmp_path / "hh.zarr", "--no-progress")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "already done); no spikes at 1 of 2 points\n" in proc.stdout, proc.stdout


# --------------------------------------------------------------------------- #
# 7. query --max-rows N shows the first N rows (reading no more) and how many more;
#    the table shows 6 significant digits
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def one_point_blocks(tmp_path_factory):
    """A tiny store of 8 points in 8 blocks (one Zarr chunk per point)."""
    tmp = tmp_path_factory.mktemp("query")
    store = tmp / "s.zarr"
    r = _cli(
        "run", _tiny(tmp, trials=9, duration="100 ms"), "--store", store, "--points-per-task", "1", "--no-progress"
    )
    assert r.returncode == 0, r.stderr
    return store


def test_max_rows_shows_the_first_rows_and_how_many_more(one_point_blocks, tmp_path):
    import json
    import shutil

    from lifbatch.query import query

    full = query(one_point_blocks, variables=["rate", "isi_cv"], fmt="csv").splitlines()
    assert len(full) == 1 + 8
    table = query(one_point_blocks, variables=["rate", "isi_cv"], max_rows=3).splitlines()
    assert len(table) == 2 + 3 + 1 and table[-1] == "... 5 more rows (--max-rows 3)", table
    r = _cli("query", one_point_blocks, "--var", "rate", "--var", "isi_cv", "--format", "csv", "--max-rows", "3")
    assert r.returncode == 0 and r.stdout.splitlines() == full[:4], r.stdout
    assert r.stderr == "note: ... 5 more rows (--max-rows 3)\n"
    doc = json.loads(query(one_point_blocks, variables=["rate"], fmt="json", max_rows=2))
    assert len(doc["rows"]) == 2 and doc["more_rows"] == 6
    assert "more" not in query(one_point_blocks, variables=["rate"], max_rows=8)
    # with --where: the first N of the rows kept
    kept = query(one_point_blocks, variables=["rate"], where=["I>150"], fmt="csv").splitlines()
    assert query(one_point_blocks, variables=["rate"], where=["I>150"], fmt="csv", max_rows=2).splitlines() == kept[:3]
    # reading no more than those rows: the later points' chunks may be damaged
    damaged = tmp_path / "damaged.zarr"
    shutil.copytree(one_point_blocks, damaged)
    for i in range(3, 8):
        (damaged / "rate" / "c" / str(i)).write_bytes(b"not a chunk")
    assert (
        query(damaged, variables=["rate"], fmt="csv", max_rows=3).splitlines()
        == query(one_point_blocks, variables=["rate"], fmt="csv", max_rows=3).splitlines()
    )
    with pytest.raises(Exception):  # the damage is real
        query(damaged, variables=["rate"], fmt="csv")


def test_without_max_rows_the_safety_cap_still_refuses(one_point_blocks):
    import dask

    from lifbatch.query import query

    with (
        dask.config.set({"lifbatch.query.max-rows": 5}),
        pytest.raises(
            WorkflowError,
            match=r"^`--var rate` gives 8 rows \(I=8\), more than lifbatch.query.max-rows "
            r"\(5\). Narrow it with --sel, e.g. --sel I=\"[0-9.]+ pA\", show the first "
            r"rows with --max-rows N, or raise the cap "
            r"\(DASK_LIFBATCH__QUERY__MAX_ROWS=8\).$",
        ),
    ):
        query(one_point_blocks, variables=["rate"])


def test_the_table_shows_6_significant_digits_and_where_matches_them(one_point_blocks):
    from lifbatch.query import query

    csv = [line.split(",") for line in query(one_point_blocks, variables=["rate"], fmt="csv").splitlines()[1:]]
    table = [line.split() for line in query(one_point_blocks, variables=["rate"]).splitlines()[2:]]
    values = [float(rate) for _, rate in csv]
    assert any(len(f"{v:.12g}".replace(".", "").lstrip("0")) > 6 for v in values), values  # e.g. 11/0.9 Hz
    assert [rate for _, rate in table] == [f"{v:.6g}" for v in values]
    # a value copied from the table matches with ==
    i = next(i for i, v in enumerate(values) if len(f"{v:.12g}".replace(".", "").lstrip("0")) > 6)
    hit = query(one_point_blocks, variables=["rate"], where=[f"rate=={table[i][1]}"], fmt="csv").splitlines()
    assert [line.split(",")[0] for line in hit[1:]] == [csv[j][0] for j, v in enumerate(values) if v == values[i]]


# --------------------------------------------------------------------------- #
# 8. refine against theory treats an undefined value as undefined and counts them; fit
#    says when its best point is on a bound, or the theory's solution lies outside
# --------------------------------------------------------------------------- #
THEORY_DESIGN = {
    "name": "theory-design",
    "seed": 2,
    "trials": 10,
    "duration": "300 ms",
    "dt": "0.1 ms",
    "neuron": {
        "tau_m": "20 ms",
        "e_l": "-65 mV",
        "v_th": "-50 mV",
        "v_reset": "-65 mV",
        "t_ref": "2 ms",
        "r_m": "100 Mohm",
    },
    "inputs": {"i": {"kind": "constant", "value": "200 pA"}, "n": {"kind": "white_noise", "sigma": "1 mV"}},
    "sweep": {},
    "sample": {
        "method": "sobol",
        "n": 16,
        "params": {"I": {"param": "inputs.i.value", "bounds": [0, 300], "unit": "pA"}},
    },
}


def test_choose_points_against_theory_never_joins_two_undefined_points():
    import numpy as np

    from lifbatch.refine import choose_points

    x = np.linspace(0, 1, 9)[:, None]
    f = np.array([np.nan] * 5 + [0.1, 0.5, 0.2, 0.3])[:, None]  # undefined at the low end
    # a summary: the border of where it exists is the largest change
    border = choose_points(x, f, 1)
    assert np.allclose(border, [[0.5625]])
    # a distance from theory: undefined is not large; the undefined half is never split
    added = choose_points(x, f, 3, border=False)
    assert len(added) == 3 and (added[:, 0] > 0.5).all(), added


@pytest.mark.slow
def test_refine_against_theory_adds_no_point_without_a_value_and_counts_them(tmp_path):
    import numpy as np

    import lifbatch

    store = tmp_path / "s.zarr"
    assert _cli("run", _tiny(tmp_path, **THEORY_DESIGN), "--store", store, "--no-progress").returncode == 0
    isi_cv = lifbatch.open_results(store).isi_cv.values
    assert np.isnan(isi_cv).sum() >= 4  # the design's low currents: no ISIs
    r = _cli("refine", store, "--against", "theory", "--var", "isi_cv", "--add", "8", "--no-progress")
    assert r.returncode == 0, r.stderr
    after = lifbatch.open_results(store).isi_cv.values
    assert len(after) == 24 and not np.isnan(after[16:]).any(), after  # (3 of 8 before)
    assert "round 1: added 8 points (samples 16-23) where isi_cv and theory disagree most, in " in r.stdout
    assert "no isi_cv" not in r.stdout, r.stdout
    # following the summary itself, the border of where it exists is refined: say how many have none
    r = _cli("refine", store, "--var", "isi_cv", "--add", "8", "--no-progress")
    assert r.returncode == 0, r.stderr
    added = lifbatch.open_results(store).isi_cv.values[24:]
    n = int(np.isnan(added).sum())
    assert n > 0, added
    assert r.stdout.splitlines()[0].endswith(
        f"; {n} of them {'has' if n == 1 else 'have'} no isi_cv (fewer than 2 ISIs)"
    ), r.stdout


def test_a_point_on_a_bound_is_named_with_the_bound_and_the_range():
    from lifbatch.design import SampledParam
    from lifbatch.fitting import _at_bounds

    class Spec:
        params = [
            SampledParam("mu", "inputs.mu.value", 0.8, 1.6, "linear", "1", ""),
            SampledParam("I", "inputs.i.value", 5e-11, 3e-10, "log", "A", "pA"),
        ]

    assert _at_bounds(Spec, [0.004, 0.5]) == [("inputs.mu.value", "lower", "0.8", "0.8..1.6")]
    assert _at_bounds(Spec, [0.5, 0.995]) == [("inputs.i.value", "upper", "300 pA", "50..300 pA")]
    assert _at_bounds(Spec, [0.02, 0.98]) == []


@pytest.mark.slow
def test_fit_says_its_best_point_is_on_a_bound_and_the_theory_lies_outside(tmp_path):
    import json

    args = [
        "fit",
        ROOT / "workflows" / "quickstart-fit.yaml",
        "--target",
        "rate=10 Hz",
        "--budget",
        "6",
        "--batch",
        "2",
        "--set",
        "duration=200 ms",
        "--set",
        "trials=4",
        "--no-progress",
    ]
    r = _cli(*args, "--free", "inputs.current.value=50..120", "--store", tmp_path / "narrow.zarr")
    assert r.returncode == 0, r.stderr
    outside = (
        "note: the theory's solution of the targets lies outside the bounds: at the upper bound of "
        "inputs.current.value (120 pA) the theory gives rate 3.16 Hz (not 10 Hz); widen --free "
        "inputs.current.value"
    )
    assert outside + "\n" in r.stdout and f"fit: {outside}\n" in r.stderr
    assert (
        "note: the best inputs.current.value is at its upper bound 120 pA: the target may lie outside "
        "50..120 pA; widen the bounds (--free inputs.current.value=LOW..HIGH)\n"
    ) in r.stdout, r.stdout
    r = _cli(*args, "--free", "inputs.current.value=50..120", "--store", tmp_path / "narrow.zarr", "--format", "json")
    assert len(json.loads(r.stdout)["notes"]) == 2
    wide = _cli(*args, "--free", "inputs.current.value=50..300", "--store", tmp_path / "wide.zarr")
    assert wide.returncode == 0 and "note:" not in wide.stdout + wide.stderr, wide.stdout + wide.stderr


# --------------------------------------------------------------------------- #
# 9. the SLURM tests are opt-in (.ci/run opts in); CI runs the README's test command
# --------------------------------------------------------------------------- #
def test_the_slurm_tests_are_skipped_unless_opted_in():
    import os

    env = {k: v for k, v in os.environ.items() if k != "LIFBATCH_TEST_SLURM"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "tests" / "test_slurm_setup.py"),
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-k",
            "loopback",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout and "set LIFBATCH_TEST_SLURM=1 to run them (.ci/run does)" in proc.stdout, (
        proc.stdout
    )


def test_ci_opts_in_and_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = readme.split("**Install and run the tests:**", 1)[1].strip().splitlines()[0].strip()
    assert command.startswith("python3 -m venv .venv") and command.endswith("python -m pytest"), command
    ci = [line.replace("pip install -q ", "pip install ") for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci, ci  # every test, as the README runs them (pip quieter)
    assert ci.index("export LIFBATCH_TEST_SLURM=1") < ci.index(command)
    assert 'python -m pytest -m "not slow and not cluster and not browser"' in readme


# --------------------------------------------------------------------------- #
# 4. the first run says it compiles the kernels; numba's cache is in the user's cache
#    directory (NUMBA_CACHE_DIR to choose), not beside the installed sources
# --------------------------------------------------------------------------- #
def test_numba_cache_dir_is_the_users_cache_or_numba_cache_dir(tmp_path):
    import os

    from lifbatch.kernel import kernel_sources_digest

    probe = (
        "from lifbatch.kernel import numba_cache_dir; from numba.core import config; "
        "print(numba_cache_dir()); print(config.CACHE_DIR)"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    digest = kernel_sources_digest()
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "XDG_CACHE_HOME": str(tmp_path / "xdg")},
    ).stdout.split()
    assert out == [str(tmp_path / "xdg" / "lifbatch" / "numba" / digest)] * 2
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "NUMBA_CACHE_DIR": str(tmp_path / "mine")},
    ).stdout.split()
    assert out == [str(tmp_path / "mine" / digest)] * 2


def test_the_numba_cache_folder_changes_with_any_kernel_source(tmp_path):
    """numba keys a cached loop by its own file only: a loop whose inlined helper changed in
    another file (the samplers in kernel.py, models/lanes.py's exp) would keep its old machine
    code. The cache's folder is named by all the kernel sources, so a change in any of them,
    even one byte of a helper's file, compiles afresh."""
    import shutil

    from lifbatch.kernel import kernel_sources_digest

    pkg = ROOT / "lifbatch"
    names = ["kernel.py"] + sorted(p.name for p in (pkg / "models").glob("*.py"))
    assert "lanes.py" in names and "lif_loop.py" in names
    copies = []
    for name in names:
        src = pkg / name if name == "kernel.py" else pkg / "models" / name
        shutil.copy(src, tmp_path / name)
        copies.append(tmp_path / name)
    assert kernel_sources_digest(copies) == kernel_sources_digest()
    lanes = tmp_path / "lanes.py"
    lanes.write_bytes(lanes.read_bytes() + b"\n")
    assert kernel_sources_digest(copies) != kernel_sources_digest()


@pytest.mark.slow
def test_the_first_run_says_it_compiles_and_the_second_does_not(tmp_path):
    """A fresh user cache (a fresh machine): numba compiles the kernels in the first blocks. The
    run says so before, its bar starts after them (no time left counted from the compilation),
    and the compiled kernels land in the user's cache directory, not beside the sources."""
    import os
    import re

    sources = ROOT / "lifbatch" / "__pycache__"
    before = {p.name: p.stat().st_mtime_ns for p in sources.glob("*.nb*")}
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    path = _tiny(tmp_path)
    cmd = [sys.executable, "-m", "lifbatch.cli", "run", str(path), "--workers", "1", "--points-per-task", "2"]
    first = subprocess.run(
        cmd + ["--store", str(tmp_path / "a.zarr")], capture_output=True, text=True, env=env, timeout=600
    )
    assert first.returncode == 0, first.stderr
    lines = first.stderr.replace("\r", "\n").splitlines()
    at = lines.index("compiling the kernels (first run only, about 10 s)")
    bars = [line for line in lines[at + 1 :] if line.startswith("tiny:")]
    assert bars and re.match(r"tiny:\s+25%.* 2/8 ", bars[0]), bars  # the bar starts after the first block
    assert all(int(re.search(r" (\d+)/8 ", b).group(1)) <= 8 for b in bars), bars
    assert any((tmp_path / "xdg" / "lifbatch" / "numba").rglob("lif_loop.lif_trials-*.nbi"))
    assert {p.name: p.stat().st_mtime_ns for p in sources.glob("*.nb*")} == before
    second = subprocess.run(
        cmd + ["--store", str(tmp_path / "b.zarr")], capture_output=True, text=True, env=env, timeout=600
    )
    assert second.returncode == 0 and "compiling" not in second.stderr, second.stderr
    assert re.search(r"tiny:\s+0%.* 0/8 ", second.stderr.replace("\r", "\n")), second.stderr


# --------------------------------------------------------------------------- #
# 11. a script beside the clone imports the clone's folder: the README says so and how
#     to avoid it, and every way it gives works
# --------------------------------------------------------------------------- #
def test_a_script_beside_the_clone_and_the_readmes_ways_out(tmp_path):
    import os

    readme = " ".join((ROOT / "README.md").read_text().split())
    symptom = "AttributeError: module 'lifbatch' has no attribute 'open_results'"
    assert symptom in readme and "git clone URL lifbatch-src" in readme and "python -P s.py" in readme
    # the installed lifbatch, as a user's script sees it (not this checkout put first by PYTHONPATH)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    # the package itself (its __init__ lists open_results) or a namespace package (nothing); no submodule
    # is imported, so that only lifbatch/__init__.py of the installed copy counts
    script = "import lifbatch\nprint('open_results' in getattr(lifbatch, '__all__', ()))\n"
    if subprocess.run([sys.executable, "-c", "import lifbatch"], env=env, cwd=tmp_path).returncode != 0:
        pytest.skip("lifbatch is not installed in this interpreter (only on PYTHONPATH)")

    def run(folder: Path, *flags) -> str:
        (folder / "s.py").write_text(script)
        proc = subprocess.run([sys.executable, *flags, "s.py"], capture_output=True, text=True, env=env, cwd=folder)
        return proc.stdout.strip() or proc.stderr.strip().splitlines()[-1]

    beside = tmp_path / "code"
    beside.mkdir()
    (beside / "lifbatch").symlink_to(ROOT)
    assert run(beside) == "False"  # the trap: the clone's folder as a namespace package
    assert run(beside, "-P") == "True"
    renamed = tmp_path / "other"
    renamed.mkdir()
    (renamed / "lifbatch-src").symlink_to(ROOT)
    assert run(renamed) == "True"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run(elsewhere) == "True"


# --------------------------------------------------------------------------- #
# 12. the report's header and workflow as written; log axes label every decade; the Python
#     API selects in your units and says when it snapped to the nearest grid value
# --------------------------------------------------------------------------- #
def test_the_reports_header_and_workflow_are_as_written(one_point_blocks):
    import json

    import yaml

    import lifbatch
    from lifbatch.report import _provenance_md, _workflow_text

    ds = lifbatch.open_results(one_point_blocks)
    md = _provenance_md(ds, "s.zarr").splitlines()
    assert md[2:4] == ["| store | `s.zarr` |", "|---|---|"]  # no empty header row
    assert "| method, dt, duration | euler, 0.1 ms, 100 ms |" in md
    text = _workflow_text(ds)
    assert yaml.safe_load(text) == json.loads(ds.attrs["workflow"])
    assert "duration: 100 ms\n" in text and "dt: 0.1 ms\n" in text and not text.lstrip().startswith("{")


@pytest.mark.parametrize(
    "lo, hi, ticks",
    [
        (0.5, 10, [0.5, 1, 2, 5, 10]),
        (1, 8, [1, 2, 5]),
        (50, 300, [50, 100, 200]),
        (1e-3, 1e3, [1e-3, 1e-2, 0.1, 1, 10, 100, 1e3]),  # over more than 3 decades: the decades alone
        (1.2, 1.8, [1.2, 1.8]),  # no power of ten inside: the ends
    ],
)
def test_log_axes_label_every_decade(lo, hi, ticks):
    import math

    import numpy as np
    from bokeh.models import FixedTicker
    from bokeh.plotting import figure

    from lifbatch.bokeh_figures import log_axis_ticks
    from lifbatch.figures import log_ticks

    assert log_ticks(lo, hi) == ticks
    decades = [10.0**k for k in range(math.ceil(math.log10(lo)), math.floor(math.log10(hi)) + 1)]
    assert all(d in log_ticks(lo, hi) for d in decades)
    fig = figure(x_axis_type="log", y_axis_type="log")
    log_axis_ticks(fig, np.array([lo, (lo + hi) / 2, hi]), np.array([np.nan, 2.0, 3.0]))
    assert isinstance(fig.below[0].ticker, FixedTicker) and fig.below[0].ticker.ticks == ticks
    assert fig.below[0].formatter.format == "%g"


def test_sel_takes_your_units_and_says_when_it_snapped(one_point_blocks):
    import warnings

    import numpy as np

    import lifbatch
    from lifbatch.errors import LifbatchWarning

    ds = lifbatch.open_results(one_point_blocks)
    grid = ds.I.values  # 100 .. 300 pA in 8 values
    exact = float(grid[3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exact values: nothing said
        a = lifbatch.sel(ds, I=f"{exact * 1e12!r} pA").rate
        b = lifbatch.sel(ds, I=exact).rate
    assert float(a) == float(b) == float(ds.rate.sel(I=exact))
    with pytest.raises(KeyError):
        ds.rate.sel(I=200)  # xarray: SI floats only
    off = exact + 3e-12
    with pytest.warns(
        LifbatchWarning,
        match=rf"^I={off * 1e12:.6g} pA is not on the grid; nearest is "
        rf"{exact * 1e12:.6g} pA$",
    ):
        snapped = lifbatch.sel(ds, I=off)
    assert float(snapped.rate) == float(ds.rate.sel(I=exact))
    with pytest.warns(LifbatchWarning, match=rf"^I={off * 1e12:.6g} pA is not on the grid; nearest is"):
        times = lifbatch.spike_times(ds, I=off, trial=0)
    np.testing.assert_array_equal(times, lifbatch.spike_times(ds, I=exact, trial=0))
    with pytest.warns(LifbatchWarning, match="^I=0.2 nA is not on the grid"):
        lifbatch.sel(ds, I="0.2 nA")
    with pytest.raises(WorkflowError, match=r"^`J` is not an axis of this store. Axes: I, trial"):
        lifbatch.sel(ds, J=1)


# --------------------------------------------------------------------------- #
# 10. clusters: one job with no scheduler uses the job's CPUs; cluster/jobqueue.yaml's
#     account and prologue reach the job script; the store's files per block as documented
# --------------------------------------------------------------------------- #
def test_a_slurm_jobs_cpus_on_the_node_cap_the_default_workers():
    import os

    env = {**os.environ, "SLURM_CPUS_ON_NODE": "1"}  # as SLURM sets it in a job of -c 1
    proc = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "validate", str(QUICKSTART)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0 and "(for 1 worker)\n" in proc.stdout, proc.stdout + proc.stderr
    env["SLURM_CPUS_ON_NODE"] = "64"  # never more than the process may use
    proc = subprocess.run(
        [sys.executable, "-c", "from lifbatch.config import available_cpus; print(available_cpus())"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert int(proc.stdout) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("kind, account_line", [("slurm", "#SBATCH -A proj123"), ("pbs", "#PBS -A proj123")])
def test_jobqueue_yaml_puts_the_account_and_the_prologue_in_the_job_script(kind, account_line):
    import dask.config
    import yaml

    jobs = pytest.importorskip("dask_jobqueue")
    cfg = yaml.safe_load((ROOT / "cluster" / "jobqueue.yaml").read_text())["jobqueue"][kind]
    job_class = {"slurm": jobs.SLURMCluster.job_cls, "pbs": jobs.PBSCluster.job_cls}[kind]
    flat = {f"jobqueue.{kind}.{k}": v for k, v in cfg.items()}
    with dask.config.set(flat):  # as the file is, account: null
        script = job_class(scheduler="tcp://127.0.0.1:8786", name="w").job_script()
    assert " -A " not in script
    with dask.config.set({**flat, f"jobqueue.{kind}.account": "proj123"}):  # as a user fills it in
        script = job_class(scheduler="tcp://127.0.0.1:8786", name="w").job_script().splitlines()
    assert account_line in script
    worker = next(i for i, line in enumerate(script) if "distributed.cli.dask_worker" in line)
    prologue = [script.index(line) for line in cfg["job-script-prologue"]]
    assert prologue and all(i < worker for i in prologue), script
    assert any("bin/activate" in line for line in cfg["job-script-prologue"])


def test_a_block_is_14_files_as_cluster_readme_says(tmp_path):
    store = tmp_path / "s.zarr"
    path = _tiny(tmp_path, record={"v": {"trials": [0], "every": "1 ms"}})  # as the quickstart: V recorded
    assert _cli("run", path, "--store", store, "--points-per-task", "1", "--no-progress").returncode == 0
    chunks = [d.parent.parent.name for d in store.glob("*/c/3")]  # block 3's chunk of each array
    marker = store / "_lifbatch" / "blocks" / "3" / "zarr.json"
    assert len(chunks) == 13 and marker.is_file(), sorted(chunks)
    readme = " ".join((ROOT / "cluster" / "README.md").read_text().split())
    assert "(14 per block: a chunk of each of 13 arrays and the block's marker" in readme


# --------------------------------------------------------------------------- #
# 13. extras: `pip install -e .` has what run/validate/status/query/summarize/refine need;
#     review, report, fit and --cluster name the extra they need, in one line
# --------------------------------------------------------------------------- #
EXTRA_MODULES = ("hvplot", "holoviews", "bokeh", "panel", "optuna", "dask_jobqueue")
WITHOUT_EXTRAS = f"""
import importlib.abc, sys
class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRA_MODULES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled())
import importlib.util
_find = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in {EXTRA_MODULES!r} else _find(name, *a)
"""


def test_the_core_dependencies_leave_out_the_extras_and_the_test_extra_has_them():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for name in ("hvplot", "holoviews", "bokeh", "panel", "optuna", "dask-jobqueue"):
        assert name not in core, name
    extras = project["optional-dependencies"]
    assert {"review", "fit", "cluster", "all", "test"} <= set(extras)
    assert "lifbatch[review,fit,cluster]" in extras["test"]  # the README's test command runs every test
    assert any(d.startswith("optuna") for d in extras["fit"])
    assert any(d.startswith("dask-jobqueue") for d in extras["cluster"])
    assert {d.split(">")[0] for d in extras["review"]} == {"hvplot", "holoviews", "bokeh", "panel"}


@pytest.mark.slow
def test_without_the_extras_the_core_commands_run_and_the_others_name_their_extra(tmp_path):
    """A process in which the extras' packages cannot be imported (as after `pip install -e .`)."""
    import os

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(WITHOUT_EXTRAS)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "lifbatch.cli", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            cwd=tmp_path,
        )

    probe = subprocess.run([sys.executable, "-c", "import panel"], capture_output=True, text=True, env=env)
    assert probe.returncode != 0 and "No module named 'panel'" in probe.stderr
    store = tmp_path / "s.zarr"
    sampled = tmp_path / "sampled.zarr"
    for args in (
        ("validate", QUICKSTART),
        ("run", _tiny(tmp_path), "--store", store, "--no-progress"),
        ("status", store),
        ("query", store, "--var", "rate"),
        ("summarize", store, "--set", "summaries.warmup=10 ms"),
        ("run", _tiny(tmp_path, **SAMPLED), "--store", sampled, "--no-progress"),
        ("refine", sampled, "--add", "1", "--no-progress"),
    ):
        r = cli(*args)
        assert r.returncode == 0, (args, r.stderr)
    for args, extra, what in (
        (("review", store, "--no-browser"), "review", "lifbatch review needs Panel and Bokeh"),
        (("report", store, "-o", tmp_path / "r.html"), "review", "lifbatch report needs Panel and Bokeh"),
        (
            (
                "fit",
                ROOT / "workflows" / "quickstart-fit.yaml",
                "--target",
                "rate=10 Hz",
                "--free",
                "inputs.current.value=50..300",
                "--store",
                tmp_path / "f.zarr",
            ),
            "fit",
            "lifbatch fit needs Optuna",
        ),
        (
            ("run", _tiny(tmp_path), "--store", tmp_path / "c.zarr", "--cluster", "slurm"),
            "cluster",
            "`--cluster slurm` needs dask-jobqueue",
        ),
    ):
        line = _one_line_error(cli(*args))
        assert line == (
            f"lifbatch: error: {what}, which this environment lacks: install lifbatch's `{extra}` extra: "
            f"pip install 'lifbatch[{extra}]' (from a clone: pip install -e '.[{extra}]')"
        ), line
    assert not (tmp_path / "f.zarr").exists() and not (tmp_path / "c.zarr").exists()  # nothing computed
