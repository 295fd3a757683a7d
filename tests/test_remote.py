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

from conftest import assert_identical

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

WF = {
    "name": "remote", "seed": 9, "trials": 10, "duration": "500 ms", "dt": "0.1 ms",
    "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "t_ref": "2 ms",
               "r_m": "100 Mohm"},
    "inputs": {"i": {"kind": "constant", "value": "150 pA"}, "n": {"kind": "white_noise", "sigma": "3 mV"},
               "p": {"kind": "poisson", "rate": "20 Hz", "weight": "0.5 mV", "n": 10}},
    "sweep": {"I": {"param": "inputs.i.value", "linspace": [100, 300, 12], "unit": "pA"},
              "tau": {"param": "neuron.tau_m", "values": [10, 20], "unit": "ms"}},
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
        self.scheduler = subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", str(self.port),
                                                  "--dashboard-address", ":0"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.workers = [self.start_worker(i) for i in range(n_workers)]
        from distributed import Client

        self.client = Client(self.address, timeout="60s")
        self.client.wait_for_workers(n_workers, timeout=120)

    def start_worker(self, i):
        return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                                 "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-nanny",
                                 "--name", f"w{i}-{time.time()}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

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
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs none {tmp_path} && exec {sys.executable} -m "
         f"distributed.cli.dask_worker {cluster.address} --host 127.0.0.1 --nthreads 1 --no-nanny --name blind"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cluster.workers.append(hidden)
    cluster.client.wait_for_workers(3, timeout=120)
    wf = lifbatch.load_workflow(WF)
    store = tmp_path / "vis.zarr"
    with pytest.raises(StoreError, match=r"workers \[.*\] cannot see the store .*shared|cannot see the store"):
        lifbatch.run_sweep(wf, store, scheduler=cluster.address, progress=False)
    assert done_blocks(store) == set()


def test_detach_then_status(cluster, tmp_path, reference):
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(WF))
    store = tmp_path / "detached.zarr"
    r = subprocess.run([sys.executable, "-m", "lifbatch.cli", "run", str(path), "--store", str(store),
                        "--scheduler", cluster.address, "--detach", "--points-per-task", "4"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "submitted: 6 blocks" in r.stdout and f"lifbatch status {store}" in r.stdout
    deadline = time.time() + 120
    while time.time() < deadline and len(done_blocks(store)) < 6:
        time.sleep(0.2)
    st = subprocess.run([sys.executable, "-m", "lifbatch.cli", "status", str(store)], capture_output=True, text=True)
    assert "24: 24 done, 0 failed, 0 pending" in st.stdout
    assert_identical(lifbatch.open_results(store).load(), reference)
