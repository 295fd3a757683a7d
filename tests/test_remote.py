"""Sweeps on real `dask scheduler` + `dask worker` processes on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import lifbatch
from lifbatch.store import done_blocks

from conftest import assert_identical, listening

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

WF = {
    "name": "remote",
    "seed": 9,
    "trials": 10,
    "duration": "500 ms",
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
        "p": {"kind": "poisson", "rate": "20 Hz", "weight": "0.5 mV", "n": 10},
    },
    "sweep": {
        "I": {"param": "inputs.i.value", "linspace": [100, 300, 12], "unit": "pA"},
        "tau": {"param": "neuron.tau_m", "values": [10, 20], "unit": "ms"},
    },
    "record": {"v": {"trials": [0], "every": "1 ms"}},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`dask scheduler` and N `dask worker` subprocesses bound to 127.0.0.1."""

    def __init__(self, n_workers: int, tmp: Path):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
        self.scheduler = subprocess.Popen(
            dask + ["--host", "127.0.0.1", "--port", str(self.port), "--dashboard-address", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.workers = [self.start_worker(i) for i in range(n_workers)]
        from distributed import Client

        self.client = Client(self.address, timeout="60s")
        self.client.wait_for_workers(n_workers, timeout=120)

    def start_worker(self, i):
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                self.address,
                "--host",
                "127.0.0.1",
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--no-nanny",
                "--name",
                f"w{i}-{time.time()}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def close(self):
        self.client.close()
        for p in self.workers + [self.scheduler]:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(2, tmp_path)
    yield c
    c.close()


@pytest.fixture(scope="module")
def reference():
    return lifbatch.simulate(lifbatch.load_workflow(WF))


def test_remote_cluster_store_is_bit_identical(cluster, tmp_path, reference):
    wf = lifbatch.load_workflow(WF)
    store = tmp_path / "remote.zarr"
    res = lifbatch.run_sweep(wf, store, scheduler=cluster.address, points_per_task=3, progress=False)
    assert res.ok and res.blocks_run == 12  # chunks (1, 2): whole tau rows
    assert_identical(lifbatch.open_results(store).load(), reference)
    # a different block size on the same cluster: same store contents
    store2 = tmp_path / "remote2.zarr"
    lifbatch.run_sweep(wf, store2, scheduler=cluster.address, points_per_task=5, progress=False)
    assert_identical(lifbatch.open_results(store2).load(), reference)


def test_worker_killed_mid_sweep(cluster, tmp_path, reference):
    """SIGKILL one worker while blocks run: Dask reruns its tasks elsewhere, the store is exact."""
    wf = lifbatch.load_workflow(WF, overrides={"trials": 30})
    ref = lifbatch.simulate(wf)
    store = tmp_path / "killed.zarr"
    import threading

    result = {}

    def run():
        result["r"] = lifbatch.run_sweep(wf, store, scheduler=cluster.address, points_per_task=1, progress=False)

    th = threading.Thread(target=run)
    th.start()
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store)) < 3:
        time.sleep(0.05)
    victim = cluster.workers[0]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    cluster.workers.append(cluster.start_worker(9))  # a replacement joins, as on a real cluster
    th.join(timeout=300)
    assert not th.is_alive()
    assert result["r"].ok
    assert len(done_blocks(store)) == 24
    assert_identical(lifbatch.open_results(store).load(), ref)


def test_store_invisible_to_workers_fails_early(cluster, tmp_path):
    """A worker that cannot see the store's file system: refused before any task runs.

    The extra worker runs in its own mount namespace with an empty tmpfs over
    the test directory, as a worker on another host without the shared mount.
    """
    import shutil

    from lifbatch.errors import StoreError

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("needs `unshare -m` (root) to give a worker its own mount namespace")
    hidden = subprocess.Popen(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount -t tmpfs none {tmp_path} && exec {sys.executable} -m "
            f"distributed.cli.dask_worker {cluster.address} --host 127.0.0.1 --nthreads 1 --no-nanny --name blind",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    cluster.workers.append(hidden)
    cluster.client.wait_for_workers(3, timeout=120)
    wf = lifbatch.load_workflow(WF)
    store = tmp_path / "vis.zarr"
    with pytest.raises(StoreError, match=r"workers \['tcp://[^]]*'\] cannot see the store .*cluster/README.md"):
        lifbatch.run_sweep(wf, store, scheduler=cluster.address, progress=False)
    assert not store.exists()  # nothing written
    # --overwrite of an existing store: refused the same way, and the old store is kept
    other = lifbatch.load_workflow(WF, overrides={"seed": 10})
    lifbatch.run_sweep(other, store, workers=1, progress=False)
    before = sorted(str(p.relative_to(store)) for p in store.rglob("*"))
    with pytest.raises(StoreError, match="cannot see the store"):
        lifbatch.run_sweep(wf, store, scheduler=cluster.address, overwrite=True, progress=False)
    assert sorted(str(p.relative_to(store)) for p in store.rglob("*")) == before
    assert lifbatch.open_results(store).attrs["fingerprint"] == other.fingerprint


def test_detach_then_status(cluster, tmp_path, reference):
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(WF))
    store = tmp_path / "detached.zarr"
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
            cluster.address,
            "--detach",
            "--points-per-task",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "submitted: 6 blocks" in r.stdout and f"lifbatch status {store}" in r.stdout
    from lifbatch.lease import read_lease

    deadline = time.time() + 120
    while time.time() < deadline and (len(done_blocks(store)) < 6 or read_lease(store)):
        time.sleep(0.2)
    assert read_lease(store) is None  # released once the sweep's tasks are gone
    st = subprocess.run([sys.executable, "-m", "lifbatch.cli", "status", str(store)], capture_output=True, text=True)
    assert "24: 24 done, 0 failed, 0 pending" in st.stdout
    assert_identical(lifbatch.open_results(store).load(), reference)


def test_detached_sweep_keeps_its_lease_on_the_scheduler(cluster, tmp_path):
    """--detach: the client exits, the scheduler holds the store's lease while the sweep's
    tasks exist (a second run is refused, status says a run is live), then releases it."""
    from lifbatch.lease import read_lease

    path = tmp_path / "wf.yaml"
    # ~20 s of work: still running after the status and the second run (a faster machine finished ~10 s
    # before the second run planned, which then had nothing to do)
    path.write_text(yaml.safe_dump({**WF, "name": "slow", "trials": 400, "duration": "20 s"}))
    store = tmp_path / "slow.zarr"
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
            cluster.address,
            "--detach",
            "--points-per-task",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    held = read_lease(store)
    assert held and held["detached"] and len(done_blocks(store)) < 24, (held, len(done_blocks(store)))
    st = subprocess.run([sys.executable, "-m", "lifbatch.cli", "status", str(store)], capture_output=True, text=True)
    assert "run       live:" in st.stdout and "the Dask scheduler" in st.stdout, st.stdout
    second = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "run", str(path), "--store", str(store), "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 2 and "being written by another run" in second.stderr, (
        second.stderr,
        held,
        read_lease(store),
    )
    assert len(second.stderr.strip().splitlines()) == 1
    deadline = time.time() + 240
    while time.time() < deadline and (len(done_blocks(store)) < 24 or read_lease(store)):
        time.sleep(0.2)
    assert len(done_blocks(store)) == 24 and read_lease(store) is None


def _tls_recipe(directory: Path) -> dict:
    """cluster/tls.md as written: its openssl commands run in ``directory``, its Dask
    configuration written there with the certificates' paths; the environment to use it."""
    import shlex

    text = (Path(__file__).parents[1] / "cluster" / "tls.md").read_text()
    commands, current = [], ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("openssl") or current:
            current += line.rstrip("\\").strip() + " "
            if not line.endswith("\\"):
                commands.append(current.strip())
                current = ""
    assert len(commands) == 3
    for command in commands:
        subprocess.run(shlex.split(command), cwd=directory, check=True, capture_output=True)
    config = text.split("```yaml")[1].split("```")[0].replace("/etc/lifbatch", str(directory))
    (directory / "dask").mkdir()
    (directory / "dask" / "distributed.yaml").write_text(config)
    return {**os.environ, "DASK_CONFIG": str(directory / "dask")}


def test_tls_cluster_as_cluster_tls_md_says(tmp_path, reference):
    """A scheduler and 2 workers on tls:// with the certificates and configuration of
    cluster/tls.md; `lifbatch run --scheduler tls://...` gives the exact store. Without
    the client certificate, or over tcp://, the run is refused in one line, nothing written."""
    env = _tls_recipe(tmp_path)
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    # the recipe's own start commands, with this machine's addresses and free ports
    text = (Path(__file__).parents[1] / "cluster" / "tls.md").read_text()
    sched_line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith("dask scheduler"))
    worker_line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith("dask worker"))
    sched_line = (
        sched_line.replace("SCHEDULER", "127.0.0.1")
        .replace("8786", str(port))
        .replace("127.0.0.1:8787", f"127.0.0.1:{free_port()}")
    )
    worker_line = (
        worker_line.replace("SCHEDULER", "127.0.0.1").replace("WORKER", "127.0.0.1").replace("8786", str(port))
    )
    dask = [sys.executable, "-m", "distributed.cli."]
    procs = [
        subprocess.Popen(
            dask[:2] + [dask[2] + "dask_scheduler"] + sched_line.split()[2:],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    try:
        time.sleep(2)
        procs += [
            subprocess.Popen(
                dask[:2] + [dask[2] + "dask_worker"] + worker_line.split()[2:] + ["--no-nanny", "--name", f"tls{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for i in range(2)
        ]
        time.sleep(3)
        sockets = listening(p.pid for p in procs)
        assert len(sockets) >= 5, sockets  # scheduler + dashboard, 2 workers + dashboards
        assert {host for host, _ in sockets} == {"127.0.0.1"}, sockets
        path = tmp_path / "wf.yaml"
        path.write_text(yaml.safe_dump(WF))
        store = tmp_path / "tls.zarr"
        run = [
            sys.executable,
            "-m",
            "lifbatch.cli",
            "run",
            str(path),
            "--store",
            str(store),
            "--no-progress",
            "--points-per-task",
            "5",
        ]
        r = subprocess.run(run + ["--scheduler", address], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert_identical(lifbatch.open_results(store).load(), reference)
        # no client certificate (Dask's configuration without the tls section)
        bare = {k: v for k, v in env.items() if k != "DASK_CONFIG"}
        bare["DASK_CONFIG"] = str(tmp_path / "no-config")
        for scheduler in (address, address.replace("tls://", "tcp://")):
            other = tmp_path / "refused.zarr"
            r = subprocess.run(
                run[:6] + [str(other), "--no-progress", "--scheduler", scheduler],
                env=bare,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert r.returncode == 2, r.stderr
            assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
            assert f"`--scheduler {scheduler}`: cannot connect" in r.stderr and "cluster/tls.md" in r.stderr
            assert not other.exists()
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _session(sid: int) -> list[int]:
    """The processes of session ``sid`` (as `pgrep -s`), from /proc."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:  # after the command: state, ppid, pgrp, session
                out.append(int(d.name))
    return out


def test_local_cluster_script_listens_on_127_0_0_1_only(tmp_path, reference):
    """cluster/local-cluster.sh: scheduler, workers, nannies and all their dashboards on 127.0.0.1,
    and a sweep through it is exact."""
    port = free_port()
    script = Path(__file__).parents[1] / "cluster" / "local-cluster.sh"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        ["bash", str(script), "2", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{port}", timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            pids = _session(proc.pid)
            sockets = listening(pids)
            # scheduler + its dashboard, and per worker: nanny, worker, its dashboard
            assert len(sockets) >= 8, sockets
            assert {host for host, _ in sockets} == {"127.0.0.1"}, sockets
            path = tmp_path / "wf.yaml"
            path.write_text(yaml.safe_dump(WF))
            store = tmp_path / "s.zarr"
            lifbatch.run_sweep(lifbatch.load_workflow(path), store, client=client, points_per_task=6, progress=False)
            assert_identical(lifbatch.open_results(store).load(), reference)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.parametrize("kill", ["workers", "scheduler"])
def test_a_run_whose_cluster_goes_away_ends_in_one_line(tmp_path, kill):
    """No workers left for lifbatch.cluster.no-workers-timeout, or the scheduler gone: exit 1 with
    one line, the store resumable (a plain re-run on a new cluster completes it)."""
    c = Cluster(1, tmp_path)
    try:
        path = tmp_path / "wf.yaml"
        path.write_text(yaml.safe_dump({**WF, "name": "gone", "trials": 200, "duration": "5 s"}))
        store = tmp_path / "s.zarr"
        env = {**os.environ, "DASK_LIFBATCH__CLUSTER__NO_WORKERS_TIMEOUT": "3s"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lifbatch.cli",
                "run",
                str(path),
                "--store",
                str(store),
                "--scheduler",
                c.address,
                "--points-per-task",
                "1",
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        deadline = time.time() + 120
        while time.time() < deadline and len(done_blocks(store)) < 1:
            time.sleep(0.1)
        victims = c.workers if kill == "workers" else [c.scheduler]
        for p in victims:
            os.killpg(p.pid, signal.SIGKILL)
        t0 = time.time()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err
        lines = [ln for ln in err.strip().splitlines() if ln.startswith("lifbatch: error")]
        assert len(lines) == 1 and "Traceback" not in err, err
        want = "no workers for 3 s" if kill == "workers" else "lost the Dask scheduler"
        assert want in lines[0] and "run the same command again" in lines[0] or "resume" in lines[0], lines[0]
        assert time.time() - t0 < 60
    finally:
        c.close()
    before = len(done_blocks(store))
    r = subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", "run", str(path), "--store", str(store), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0 and f"{24 - before} blocks run, {before} already done" in r.stdout, r.stderr


def test_refine_and_fit_on_a_remote_cluster_equal_the_threaded_ones(cluster, tmp_path):
    """The same workers serve every round (they keep the store's arrays open between blocks):
    a store grown by refine, and a fit, on real dask workers equal those computed in threads."""
    raw = {
        **{k: v for k, v in WF.items() if k != "sweep"},
        "name": "remote-design",
        "sweep": {"tau": WF["sweep"]["tau"]},
        "sample": {
            "method": "lhs",
            "n": 5,
            "params": {"mu": {"param": "inputs.i.value", "bounds": [100, 300], "unit": "pA"}},
        },
    }
    stores = {}
    for how, options in (("remote", {"scheduler": cluster.address}), ("threads", {})):
        store = tmp_path / f"{how}.zarr"
        lifbatch.run_sweep(raw, store, points_per_task=2, progress=False, log=lambda m: None, **options)
        lifbatch.refine_store(store, var="rate", add=3, rounds=2, progress=False, log=lambda m: None, **options)
        stores[how] = lifbatch.open_results(store).load()
    assert stores["remote"].sizes["sample"] == 11
    assert_identical(stores["remote"], stores["threads"])
    fit_raw = {**{k: v for k, v in WF.items() if k != "sweep"}, "name": "remote-fit", "trials": 4}
    results = {}
    for how, options in (("remote", {"scheduler": cluster.address}), ("threads", {})):
        results[how] = lifbatch.fit(
            fit_raw,
            targets={"rate": "20 Hz"},
            free={"inputs.i.value": "100..300"},
            budget=10,
            batch=4,
            store=tmp_path / f"fit-{how}.zarr",
            progress=False,
            log=lambda m: None,
            **options,
        )
    assert results["remote"].best == results["threads"].best and results["remote"].evaluations == 10
    assert_identical(
        lifbatch.open_results(tmp_path / "fit-remote.zarr").load(),
        lifbatch.open_results(tmp_path / "fit-threads.zarr").load(),
    )
