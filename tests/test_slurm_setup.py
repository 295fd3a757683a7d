"""A real single-node SLURM (cluster/slurm/slurm.sh): sbatch, scancel, and dask-jobqueue's
SLURMCluster against it, everything on 127.0.0.1.

Opt-in: they install Debian's slurm-wlm and munge with apt-get and start daemons as root, so
they run only with LIFBATCH_TEST_SLURM=1 in the environment (.ci/run sets it). They need root
and apt-get (or slurm-wlm and munge already installed); skipped with the reason otherwise.
The SLURM is started once for the module and stopped at its end."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, assert_identical, listening

pytestmark = pytest.mark.slow

SCRIPT = ROOT / "cluster" / "slurm" / "slurm.sh"
PARTITION = "debug"
#: the environment variable that opts in to the SLURM tests (.ci/run sets it)
OPT_IN = "LIFBATCH_TEST_SLURM"


def _script(cmd: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), cmd], env=env, capture_output=True, text=True, timeout=timeout)


def _reason(proc: subprocess.CompletedProcess) -> str:
    lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}").splitlines()
    return lines[-1]


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """The running SLURM: {'dir': its directory, 'env': an environment with SLURM_CONF}."""
    if os.environ.get(OPT_IN) != "1":
        pytest.skip(
            f"opt-in: these install slurm-wlm and munge (apt-get, as root) and start SLURM daemons; "
            f"set {OPT_IN}=1 to run them (.ci/run does)"
        )
    if os.geteuid() != 0:
        pytest.skip("not root: slurm.sh runs munged/slurmctld/slurmd as root (SlurmUser=root)")
    if not (shutil.which("slurmctld") and shutil.which("munged")) and not shutil.which("apt-get"):
        pytest.skip("slurm-wlm/munge not installed and no apt-get to install them")
    directory = tmp_path_factory.mktemp("slurm")
    ctld, slurmd = _free_ports(2)  # not the defaults: a developer's own SLURM may be running
    env = dict(
        os.environ,
        LIFBATCH_SLURM_DIR=str(directory),
        LIFBATCH_SLURM_LINK_ETC="0",
        LIFBATCH_SLURM_CTLD_PORT=str(ctld),
        LIFBATCH_SLURM_SLURMD_PORT=str(slurmd),
    )
    env.pop("SLURM_CONF", None)
    proc = _script("install", env, timeout=900)
    if proc.returncode != 0:
        pytest.skip(f"cannot install slurm-wlm/munge: {_reason(proc)}")
    t0 = time.monotonic()
    proc = _script("start", env, timeout=120)
    if proc.returncode != 0:
        logs = directory / "log"
        _script("stop", env, timeout=60)
        pytest.skip(f"SLURM daemons unavailable: {_reason(proc)} (logs in {logs})")
    print(f"slurm.sh start: {time.monotonic() - t0:.1f} s")
    env["SLURM_CONF"] = str(directory / "etc" / "slurm.conf")
    # dask-jobqueue runs sbatch/scancel from this process's environment
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]
    try:
        yield {"dir": directory, "env": env}
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        proc = _script("stop", env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        for name in ("slurmd.pid", "slurmctld.pid"):
            assert not (directory / "run" / name).exists()


def _run(args, env, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=30, **kw)


def _state(job: str, env) -> str:
    """The job's state in squeue ('' once it has left the queue)."""
    proc = _run(["squeue", "-h", "-j", job, "-o", "%T"], env)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _wait(pred, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _sbatch(env, *args) -> str:
    proc = _run(["sbatch", "--parsable", "-p", PARTITION, *args], env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().split(";")[0]


def test_daemons_listen_on_loopback_only(slurm):
    run = slurm["dir"] / "run"
    pids = [int((run / name).read_text()) for name in ("slurmctld.pid", "slurmd.pid")]
    sockets = listening(pids)
    assert sockets, "slurmctld/slurmd listen on nothing?"
    assert {host for host, _ in sockets} == {"127.0.0.1"}, sockets
    proc = _run(["sinfo", "-h", "-o", "%P %a %T"], slurm["env"])
    assert proc.stdout.split() == [f"{PARTITION}*", "up", "idle"], proc.stdout


def test_sbatch_wrap_runs_and_completes(slurm, tmp_path):
    out = tmp_path / "hello.txt"
    job = _sbatch(slurm["env"], "-o", str(tmp_path / "job-%j.out"), "--wrap", f"echo hello > {out}")
    _wait(lambda: _state(job, slurm["env"]) == "", 60, f"job {job} to leave the queue")
    assert out.read_text() == "hello\n"
    proc = _run(["scontrol", "show", "job", job], slurm["env"])
    if proc.returncode == 0:  # still known to slurmctld (MinJobAge)
        assert "JobState=COMPLETED" in proc.stdout and "ExitCode=0:0" in proc.stdout, proc.stdout


def test_one_job_runs_a_sweep_in_the_jobs_cpus(slurm, tmp_path):
    """cluster/README.md's simplest pattern: one `sbatch -c N --wrap "lifbatch run ..."` job, no
    scheduler, no login-node process; the run's threads are the job's CPUs (-c 1 on a 2-CPU
    node: 1, from SLURM_CPUS_ON_NODE where SLURM binds no CPUs, as this one does), and the store
    equals lifbatch.simulate's."""
    import json

    import yaml

    import lifbatch

    raw = {
        "name": "one-job",
        "seed": 4,
        "trials": 3,
        "duration": "50 ms",
        "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "r_m": "100 Mohm"},
        "inputs": {"i": {"kind": "constant", "value": "200 pA"}, "n": {"kind": "white_noise", "sigma": "3 mV"}},
        "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 6], "unit": "pA"}},
    }
    path = tmp_path / "one-job.yaml"
    path.write_text(yaml.safe_dump(raw))
    store = tmp_path / "one-job.zarr"
    job = _sbatch(
        slurm["env"],
        "-c",
        "1",
        "-o",
        str(tmp_path / "job-%j.out"),
        "--wrap",
        f"{sys.executable} -m lifbatch.cli run {path} --store {store} --no-progress",
    )
    _wait(lambda: _state(job, slurm["env"]) == "", 300, f"job {job} to leave the queue")
    out = (tmp_path / f"job-{job}.out").read_text()
    assert "running in 1 thread of this process" in out and "done: 6 of 6 points" in out, out
    ds = lifbatch.open_results(store)
    assert json.loads(ds.attrs["provenance"])["cluster"] == {"kind": "threads", "workers": 1}
    assert_identical(ds.load(), lifbatch.simulate(lifbatch.load_workflow(path)), ["spike_bits", "rate", "isi_cv"])


def _sleepers(marker: str) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and marker in (p / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(p.name))
        except OSError:
            pass
    return pids


def test_scancel_ends_a_running_job(slurm, tmp_path):
    job = _sbatch(slurm["env"], "-o", str(tmp_path / "job-%j.out"), "--wrap", "sleep 60.123")
    _wait(lambda: _state(job, slurm["env"]) == "RUNNING", 30, f"job {job} to run")
    _wait(lambda: _sleepers("60.123"), 10, "the job's sleep process")
    t0 = time.monotonic()
    proc = _run(["scancel", job], slurm["env"])
    assert proc.returncode == 0, proc.stderr
    _wait(lambda: _state(job, slurm["env"]) == "", 30, f"job {job} to leave the queue")
    _wait(lambda: not _sleepers("60.123"), 15, "the job's sleep process to end")
    assert time.monotonic() - t0 < 30
    proc = _run(["scontrol", "show", "job", job], slurm["env"])
    if proc.returncode == 0:
        assert "JobState=CANCELLED" in proc.stdout, proc.stdout


# What SLURMCluster needs here for everything to stay on 127.0.0.1.  Found on this machine
# (dask-jobqueue 0.9.0, distributed 2026.8): without --host a worker advertises 127.0.0.1 (the
# route to the scheduler) but listens on 0.0.0.0 and ::; without an explicit dashboard address
# the scheduler's and every worker's dashboard listen on 0.0.0.0.  No job_extra_directives needed.
LOOPBACK = dict(
    # interface=None: addresses given explicitly
    explicit=dict(
        interface=None,
        scheduler_options={"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"},
        worker_extra_args=["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"],
    ),
    # interface='lo' (scheduler and `dask worker --interface lo`): only the dashboards by hand
    lo=dict(
        interface="lo",
        scheduler_options={"dashboard_address": "127.0.0.1:0"},
        worker_extra_args=["--dashboard-address", "127.0.0.1:0"],
    ),
)
COMMON = dict(cores=1, memory="1GiB", processes=1, queue=PARTITION, walltime="00:10:00")


@pytest.mark.cluster
@pytest.mark.parametrize("variant", sorted(LOOPBACK))
def test_dask_jobqueue_slurmcluster(slurm, tmp_path, variant):
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    from distributed import Client

    cluster = dask_jobqueue.SLURMCluster(**COMMON, **LOOPBACK[variant], log_directory=str(tmp_path))
    try:
        script = cluster.job_script()
        assert f"#SBATCH -p {PARTITION}" in script
        assert sys.executable in script  # the job's python: this interpreter (shared file system)
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        dashboard = int(cluster.dashboard_link.split(":")[2].split("/")[0])
        mine = listening([os.getpid()])
        assert ("127.0.0.1", dashboard) in mine and ("0.0.0.0", dashboard) not in mine, mine
        t0 = time.monotonic()
        cluster.scale(jobs=2)
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=120)
            print(f"SLURMCluster({variant}) scale(jobs=2): {time.monotonic() - t0:.1f} s to 2 workers")
            workers = client.scheduler_info()["workers"]
            assert len(workers) == 2
            assert all(a.startswith("tcp://127.0.0.1:") for a in workers), list(workers)
            assert client.submit(lambda: 1).result(timeout=60) == 1
            assert set(client.run(lambda: sys.executable).values()) == {sys.executable}
            # worker and nanny processes (run by slurmstepd), their dashboards included, listen
            # on 127.0.0.1 only
            pids = client.run(lambda: (os.getpid(), os.getppid()))
            sockets = listening(p for pair in pids.values() for p in pair)
            assert sockets and {h for h, _ in sockets} == {"127.0.0.1"}, sockets
            jobs = _run(["squeue", "-h", "-o", "%i %T %j"], slurm["env"]).stdout.split("\n")
            assert sum("RUNNING" in j for j in jobs) == 2, jobs
    finally:
        cluster.close()
    _wait(
        lambda: _run(["squeue", "-h"], slurm["env"]).stdout.strip() == "",
        60,
        "the worker jobs to leave the queue after cluster.close()",
    )
