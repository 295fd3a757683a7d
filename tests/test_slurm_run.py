"""`lifbatch run --cluster slurm` against a real single-node SLURM (cluster/slurm/slurm.sh):
real sbatch jobs, a job cancelled mid-sweep, Ctrl-C and the same command resuming, workers retiring at their --lifetime again and
again under --adapt 1..2 and under --jobs 2 (new jobs replace them, and no block is written
twice into the store), and `--detach` to a scheduler whose workers are SLURM jobs; every store
bit-identical to lifbatch.simulate."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import yaml

import lifbatch
from lifbatch.layout import MARKERS
from lifbatch.store import done_blocks, read_markers

from conftest import assert_identical, listening
from test_slurm_setup import slurm  # noqa: F401 - the module's SLURM
from test_store_s3 import _keys, _url, s3  # noqa: F401 - a real SeaweedFS (tests/_seaweed.py), started when asked for

pytestmark = [pytest.mark.slow, pytest.mark.cluster]
pytest.importorskip("dask_jobqueue")

WF = {
    "name": "slurm",
    "seed": 12,
    "trials": 6,
    "duration": "200 ms",
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
        "p": {"kind": "poisson", "rate": "50 Hz", "weight": "0.5 mV", "n": 10},
    },
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 16], "unit": "pA"}},
    "record": {"v": {"trials": [0], "every": "1 ms"}},
}
# ~0.6 s of work per block here (~10 s in all), 0.3 s on a machine twice as fast: the sweep is
# still running when a job is cancelled or Ctrl-C arrives after its second block
SLOW = {**WF, "name": "slurm-slow", "trials": 1500, "duration": "2 s"}


def _jobqueue_env(slurm, log_dir, **extra) -> dict:
    """Dask's jobqueue configuration as a site would set it, as environment variables: one
    single-threaded worker per 1-core job, every socket on 127.0.0.1 (cluster/slurm/README.md)."""
    env = dict(slurm["env"])
    env.update(
        {
            "DASK_JOBQUEUE__SLURM__CORES": "1",
            "DASK_JOBQUEUE__SLURM__PROCESSES": "1",
            "DASK_JOBQUEUE__SLURM__MEMORY": "1GiB",
            "DASK_JOBQUEUE__SLURM__QUEUE": "debug",
            "DASK_JOBQUEUE__SLURM__WALLTIME": "00:10:00",
            "DASK_JOBQUEUE__SLURM__LOG_DIRECTORY": str(log_dir),
            "DASK_JOBQUEUE__SLURM__SCHEDULER_OPTIONS": json.dumps(
                {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
            ),
            "DASK_JOBQUEUE__SLURM__WORKER_EXTRA_ARGS": json.dumps(
                ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--nthreads", "1"]
            ),
        }
    )
    env.update(extra)
    return env


# 128 points in 32 blocks of 4, with enough trials for >= 40 s of work on this machine (measured
# before the test: CI machines differ by 2x and more, and a fixed workload once finished within
# the first two workers' lives): with 2 workers that is >= 20 s of sweep, while each worker
# retires at --lifetime 10 s +- 2 s from its start (2-3 s of which are its imports), so the
# sweep goes on through retirements and replacement jobs; each worker finishes several blocks.
RETIRING = {
    **WF,
    "name": "slurm-retiring",
    "trials": 400,
    "duration": "2 s",
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 128], "unit": "pA"}},
}
LIFETIME = ["--lifetime", "10s", "--lifetime-stagger", "2s"]
RETIRING_WORK_S = 40.0


@pytest.fixture(scope="module")
def retiring(tmp_path_factory) -> dict:
    """RETIRING with its trials scaled to RETIRING_WORK_S of CPU time here, from a tenth of it timed
    (once for the module: both tests run the same workflow against one reference)."""
    tmp_path = tmp_path_factory.mktemp("retiring")
    probe = {**RETIRING, "name": "slurm-retiring-probe", "trials": RETIRING["trials"] // 10}
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(probe))
    workflow = lifbatch.load_workflow(path)
    lifbatch.simulate(workflow)  # the kernel compiled or loaded from numba's cache: not timed
    seconds = []
    for _ in range(2):  # the faster of two: a slow probe on a busy machine would make too little work
        t0 = time.process_time()
        lifbatch.simulate(workflow)
        seconds.append(time.process_time() - t0)
    per_trial = min(seconds) / probe["trials"]
    trials = max(RETIRING["trials"], int(RETIRING_WORK_S / per_trial / 10 + 1) * 10)
    return {**RETIRING, "trials": trials}


_REFERENCES: dict = {}


def _write(tmp_path, raw) -> tuple:
    path = tmp_path / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    key = json.dumps(raw, sort_keys=True)
    if key not in _REFERENCES:
        _REFERENCES[key] = lifbatch.simulate(lifbatch.load_workflow(path))
    return path, _REFERENCES[key]


def _squeue(env) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, env=env).stdout
    return [line.split()[0] for line in out.splitlines() if line.split()[1:] in (["RUNNING"], ["PENDING"])]


def _wait_no_jobs(env, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline and _squeue(env):
        time.sleep(0.5)
    return _squeue(env)


def test_a_sweep_on_slurm_jobs_is_bit_identical_and_releases_them(slurm, tmp_path):
    path, reference = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    env = _jobqueue_env(slurm, tmp_path)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "lifbatch.cli",
            "run",
            str(path),
            "--store",
            str(store),
            "--cluster",
            "slurm",
            "--jobs",
            "2",
            "--points-per-task",
            "2",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "slurm: 2 job(s) submitted" in r.stderr and "slurm jobs: " in r.stderr and "dask dashboard" in r.stderr
    assert_identical(lifbatch.open_results(store).load(), reference)
    assert _wait_no_jobs(env) == []  # the jobs are released with the run
    prov = json.loads(lifbatch.open_results(store).attrs["provenance"])
    assert prov["cluster"]["kind"] == "slurm" and prov["cluster"]["workers"] >= 1


def test_a_sweep_on_slurm_jobs_to_an_s3_store_equals_the_same_on_disk(slurm, s3, tmp_path):
    """`--cluster slurm --store s3://...`: the blocks run in sbatch jobs' workers, which reach the
    store through the object store only (the AWS_* variables, exported by sbatch as a site's
    job environment would); the bucket's store equals the same sweep run on disk, array for
    array and object for file, and the workers' probe left nothing in the bucket."""
    import dask

    path, reference = _write(tmp_path, WF)
    url, disk = _url(), tmp_path / "disk.zarr"
    env = _jobqueue_env(slurm, tmp_path, **{k: v for k, v in s3.env().items() if k.startswith("AWS_")})
    args = ["run", str(path), "--points-per-task", "2", "--no-progress"]
    r = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", *args, "--store", url, "--cluster", "slurm", "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "slurm: 2 job(s) submitted" in r.stderr and f"results: {url}" in r.stdout, (r.stdout, r.stderr)
    d = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", *args, "--store", str(disk)], capture_output=True, text=True
    )
    assert d.returncode == 0, d.stderr
    with dask.config.set(scheduler="threads"):  # (read here, not by a Client an earlier test left as the default)
        got, want = lifbatch.open_results(url).load(), lifbatch.open_results(disk).load()
        prov = json.loads(lifbatch.open_results(url).attrs["provenance"])
    assert_identical(got, want)
    assert_identical(got, reference)
    assert got.attrs["fingerprint"] == want.attrs["fingerprint"]
    assert prov["cluster"]["kind"] == "slurm" and prov["cluster"]["workers"] >= 1
    assert _keys(url) == _keys(disk)  # (no `visible-` probe object left, no lease)
    assert _wait_no_jobs(env) == []


def test_a_job_cancelled_mid_sweep_is_a_dead_worker(slurm, tmp_path):
    path, reference = _write(tmp_path, SLOW)
    store = tmp_path / "s.zarr"
    env = _jobqueue_env(slurm, tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lifbatch.cli",
            "run",
            str(path),
            "--store",
            str(store),
            "--cluster",
            "slurm",
            "--jobs",
            "2",
            "--points-per-task",
            "1",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 300
    while time.time() < deadline and len(done_blocks(store)) < 2:
        time.sleep(0.2)
    jobs = _squeue(env)
    assert len(jobs) == 2, jobs
    subprocess.run(["scancel", jobs[0]], check=True, env=env)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "done: 16 of 16 points" in out
    assert_identical(lifbatch.open_results(store).load(), reference)
    assert _wait_no_jobs(env) == []


def test_ctrl_c_releases_the_jobs_and_the_same_command_resumes(slurm, tmp_path):
    """Ctrl-C (SIGINT, as a terminal sends it) mid-sweep: exit 130 with the resume line, the jobs
    released; the same command again resumes from the finished blocks, bit-identical."""
    path, reference = _write(tmp_path, SLOW)
    store = tmp_path / "s.zarr"
    env = _jobqueue_env(slurm, tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "lifbatch.cli",
        "run",
        str(path),
        "--store",
        str(store),
        "--cluster",
        "slurm",
        "--jobs",
        "2",
        "--points-per-task",
        "1",
        "--no-progress",
    ]
    # SIGINT as from a terminal: not ignored (as it is in a background job of a script)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    while time.time() < deadline and len(done_blocks(store)) < 2:
        time.sleep(0.2)
    assert len(_squeue(env)) == 2
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert f"interrupted: finished blocks are kept; run the same command again to resume ({store})" in err, err
    assert err.rstrip().endswith("lifbatch: interrupted"), err
    assert _wait_no_jobs(env) == []
    done = len(done_blocks(store))
    assert 2 <= done < 16
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    resumed = int(r.stderr.split("resuming: ", 1)[1].split()[0])
    assert resumed >= done and "blocks already done" in r.stderr and "done: 16 of 16 points" in r.stdout
    assert_identical(lifbatch.open_results(store).load(), reference)
    assert _wait_no_jobs(env) == []


class _MarkerWatch(threading.Thread):
    """Each block's marker as first seen, polled while the run goes: a block written into the
    store a second time (a retiring worker's block computed again elsewhere) has another marker
    (its ``finished`` time and worker) at the end."""

    def __init__(self, store):
        super().__init__(daemon=True)
        self.blocks, self.first, self.halt = store / MARKERS, {}, threading.Event()

    def run(self):
        while True:
            stopping = self.halt.wait(0.1)
            for path in self.blocks.glob("*/zarr.json") if self.blocks.is_dir() else ():
                if path.parent.name not in self.first:
                    try:
                        m = json.loads(path.read_text())["attributes"]
                    except (OSError, ValueError, KeyError):
                        continue
                    self.first[path.parent.name] = (m["finished"], m["worker"])
            if stopping:
                return

    def stop(self):
        self.halt.set()
        self.join()


@pytest.mark.parametrize("scale", [("--adapt", "1..2"), ("--jobs", "2")], ids=["adapt", "jobs"])
def test_workers_retiring_at_their_lifetime_are_replaced_and_no_block_is_written_twice(
    slurm, tmp_path, scale, retiring
):
    """Jobs end; sweeps do not: every worker retires at its --lifetime (dask-jobqueue's
    worker-extra-args, as cluster/jobqueue.yaml sets them), new sbatch jobs replace them, and the
    store is complete, bit-identical, every block written once."""
    path, reference = _write(tmp_path, retiring)
    store, logs = tmp_path / "s.zarr", tmp_path / "logs"
    env = _jobqueue_env(
        slurm,
        logs,
        DASK_JOBQUEUE__SLURM__WORKER_EXTRA_ARGS=json.dumps(
            ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--nthreads", "1", *LIFETIME]
        ),
    )
    watch = _MarkerWatch(store)
    watch.start()
    t0 = time.monotonic()
    try:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "lifbatch.cli",
                "run",
                str(path),
                "--store",
                str(store),
                "--cluster",
                "slurm",
                *scale,
                "--points-per-task",
                "4",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
    finally:
        watch.stop()
    print(f"{' '.join(scale)}, {retiring['trials']} trials: {time.monotonic() - t0:.0f} s")
    assert r.returncode == 0, r.stderr
    assert "done: 128 of 128 points" in r.stdout, r.stdout
    # workers retired at their lifetime, and jobs beyond the first two computed blocks
    job_logs = sorted(logs.glob("dask-worker-*.err"))  # one per sbatch job (%j)
    retired = [f.name for f in job_logs if "Reason: worker-lifetime-reached" in f.read_text()]
    assert len(retired) >= 2 and len(job_logs) > 2, (retired, [f.name for f in job_logs])
    markers = read_markers(store)
    assert len({m["worker"] for m in markers}) > 2, {m["worker"] for m in markers}
    # every block written once: its marker is the one first seen
    assert len(markers) == 32 and watch.first == {str(m["block"]): (m["finished"], m["worker"]) for m in markers}
    assert_identical(lifbatch.open_results(store).load(), reference)
    assert _wait_no_jobs(env) == []


def test_detach_to_a_scheduler_with_slurm_workers_then_status(slurm, tmp_path):
    """A scheduler of its own (as on a login node), workers as SLURM jobs, `run --detach`, then
    `status` until done: the client is gone, the sweep and its lease are the scheduler's."""
    path, reference = _write(tmp_path, WF)
    store = tmp_path / "s.zarr"
    env = slurm["env"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    sched = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            "127.0.0.1:0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        script = tmp_path / "worker.sh"
        script.write_text(
            f"#!/bin/bash\nexec {sys.executable} -m distributed.cli.dask_worker {address} "
            "--host 127.0.0.1 --dashboard-address 127.0.0.1:0 --nthreads 1\n"
        )
        for _ in range(2):
            subprocess.run(
                [
                    "sbatch",
                    "-p",
                    "debug",
                    "-n",
                    "1",
                    "--mem=1G",
                    "-t",
                    "00:10:00",
                    "-o",
                    str(tmp_path / "slurm-%j.out"),
                    str(script),
                ],
                check=True,
                capture_output=True,
                env=env,
            )
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            assert {h for h, _ in listening([sched.pid])} == {"127.0.0.1"}
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "lifbatch.cli",
                "run",
                str(path),
                "--store",
                str(store),
                "--scheduler",
                address,
                "--detach",
                "--points-per-task",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert r.returncode == 0 and "submitted: 8 blocks" in r.stdout, r.stderr
        deadline = time.time() + 300
        st = ""
        while time.time() < deadline:
            st = subprocess.run(
                [sys.executable, "-m", "lifbatch.cli", "status", str(store)], capture_output=True, text=True, env=env
            ).stdout
            if "16: 16 done" in st and "run       live" not in st:
                break
            time.sleep(1)
        assert "16: 16 done, 0 failed, 0 pending" in st, st
        assert_identical(lifbatch.open_results(store).load(), reference)
    finally:
        for job in _squeue(env):
            subprocess.run(["scancel", job], env=env)
        os.killpg(sched.pid, signal.SIGKILL)
        sched.wait()
