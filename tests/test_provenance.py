"""Provenance a reviewer can check: versions, host, cluster, the workflow file and its git commit,
input files, and the worker of every block."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import lifbatch
from lifbatch.store import read_markers

from conftest import WORKFLOWS


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_store_records_its_provenance_and_status_prints_it(tmp_path):
    repo = tmp_path / "study"
    (repo / "data").mkdir(parents=True)
    shutil.copy(WORKFLOWS / "brian-timed-array.yaml", repo / "w.yaml")
    shutil.copy(WORKFLOWS / "data" / "brian-recorded.csv", repo / "data" / "brian-recorded.csv")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "study"], check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    store = tmp_path / "s.zarr"
    r = _cli("run", repo / "w.yaml", "--store", store, "--workers", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    attrs = lifbatch.open_results(store).attrs
    prov = json.loads(attrs["provenance"])
    assert set(prov["versions"]) >= {"lifbatch", "python", "numpy", "numba", "dask", "distributed", "xarray", "zarr"}
    assert prov["host"] and prov["cpu"] and prov["cluster"] == {"kind": "threads", "workers": 2}
    assert prov["workflow_file"]["sha256"] == hashlib.sha256((repo / "w.yaml").read_bytes()).hexdigest()
    assert prov["git"] == {"commit": commit, "dirty": False, "root": str(repo.resolve())}
    data_sha = hashlib.sha256((repo / "data" / "brian-recorded.csv").read_bytes()).hexdigest()
    assert list(prov["input_sha256"].values()) == [data_sha]
    markers = read_markers(store)
    assert markers and all(m["worker"].startswith(prov["host"]) for m in markers)
    assert len(json.loads(attrs["runs"])) == 1
    st = _cli("status", store, "--provenance")
    assert st.returncode == 0
    for text in (commit, data_sha, "kind threads, workers 2", "distributed", prov["cpu"], "blocks"):
        assert text in st.stdout, text
    # a resume from a dirty work tree is recorded too
    (repo / "w.yaml").write_text((repo / "w.yaml").read_text() + "\n# edited\n")
    (store / "_lifbatch" / "blocks" / "0" / "zarr.json").unlink()
    r = _cli("run", repo / "w.yaml", "--store", store, "--workers", "1", "--no-progress")
    assert r.returncode == 0 and "1 blocks run" in r.stdout, r.stderr
    runs = json.loads(lifbatch.open_results(store).attrs["runs"])
    assert len(runs) == 2 and runs[1]["git"]["dirty"] and runs[1]["cluster"] == {"kind": "threads", "workers": 1}
    assert "resumed" in _cli("status", store, "--provenance").stdout
