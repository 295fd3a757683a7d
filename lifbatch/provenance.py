"""Provenance a reviewer can check: what computed a store, where, from which files.

A store's root attribute ``provenance`` (JSON) records, for the run that created
it: lifbatch's version and those of numpy, numba, dask, distributed, xarray and
zarr, the Python version, the client's host and CPU model, the cluster (kind and
size), the workflow file with its sha256 and, when it lies in a git repository,
that repository's commit and whether its work tree was dirty, and the sha256 of
every input file. ``runs`` (JSON list) has one entry per run that wrote the store
(the creating one and every resume); each block's marker names the worker that
computed it. ``lifbatch status --provenance`` prints all of it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import socket
import subprocess
import threading
import time
from pathlib import Path

from . import __version__
from .identity import input_files

__all__ = ["collect", "worker_name", "format_provenance"]

PACKAGES = ("numpy", "numba", "dask", "distributed", "xarray", "zarr")


def versions() -> dict:
    """lifbatch's, Python's and its dependencies' versions (package metadata: no imports).

    Read once per process: parsing the metadata of six packages costs ~15 ms, which
    ``lifbatch.simulate`` paid at every call (its Dataset's ``versions`` attribute)."""
    return dict(_versions())


@functools.lru_cache(maxsize=1)
def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"lifbatch": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _git(path: Path) -> dict | None:
    """The commit of the git repository holding ``path``, and whether its work tree is dirty."""
    where = str(Path(path).resolve().parent)
    try:
        commit = subprocess.run(["git", "-C", where, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        root = subprocess.run(
            ["git", "-C", where, "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty), "root": root}


def command() -> str:
    """This process's command line, as its user typed it: ``lifbatch ...`` for the CLI
    (also when started as ``python -m lifbatch.cli``), else ``python SCRIPT ...``."""
    import shlex
    import sys

    argv = list(sys.argv)
    first = Path(argv[0]) if argv and argv[0] else Path("python")
    if first.name == "lifbatch" or first.parts[-2:] in (("lifbatch", "cli.py"), ("lifbatch", "__main__.py")):
        return shlex.join(["lifbatch", *argv[1:]])
    return shlex.join(["python", *argv])


def _overrides(overrides) -> list[str]:
    """``--set`` overrides as KEY=VALUE strings (a mapping's values written as YAML)."""
    if not overrides:
        return []
    if isinstance(overrides, dict):
        import yaml

        return [
            f"{k}={yaml.safe_dump(v, default_flow_style=True).removesuffix(chr(10)).removesuffix(chr(10) + '...')}"
            for k, v in overrides.items()
        ]
    return [str(o) for o in overrides]


def collect(wf, *, workflow_path=None, cluster: dict | None = None, overrides=None) -> dict:
    """The provenance of a run of ``wf`` from this process (see the module's docstring);
    ``overrides``: the ``--set`` values it was given, recorded with its command line."""
    inputs = input_files(wf.canonical)
    record = {
        "versions": versions(),
        "host": socket.gethostname(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "cluster": cluster or {},
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input_sha256": inputs,
        "command": command(),
        "cwd": os.getcwd(),
        "overrides": _overrides(overrides),
    }
    if workflow_path is not None:
        path = Path(workflow_path)
        record["workflow_file"] = {"path": str(path.resolve()), "sha256": _sha256(path)}
        git = _git(path)
        if git:
            record["git"] = git
    return record


def worker_name() -> str:
    """Who computes this block: the Dask worker's address, or host, pid and thread of this process."""
    import sys

    if "distributed" in sys.modules:  # (a task of a Dask worker: distributed is loaded; never import it here)
        try:
            # (here: only in a Dask worker's task, where distributed is loaded already)
            from distributed import get_worker

            return get_worker().address
        except ValueError:  # not in a worker
            pass
    return f"{socket.gethostname()} pid {os.getpid()} {threading.current_thread().name}"


def format_provenance(attrs: dict, markers: list[dict]) -> str:
    """The lines ``lifbatch status --provenance`` prints."""
    try:
        prov = json.loads(attrs.get("provenance") or "{}")
        runs = json.loads(attrs.get("runs") or "[]")
    except ValueError:
        prov, runs = {}, []
    lines = [f"provenance (the run that created the store, {prov.get('started', '?')}):"]
    v = prov.get("versions") or json.loads(attrs.get("versions") or "{}")
    lines.append("  versions   " + ", ".join(f"{k} {val}" for k, val in v.items()))
    lines.append(f"  client     {prov.get('host', '?')}, {prov.get('cpu', '?')}")
    c = prov.get("cluster") or {}
    if c:
        lines.append("  cluster    " + ", ".join(f"{k} {val}" for k, val in c.items()))
    wfile = prov.get("workflow_file")
    if wfile:
        lines.append(f"  workflow   {wfile['path']} (sha256 {wfile['sha256']})")
    git = prov.get("git")
    if git:
        lines.append(f"  git        {git['root']} at {git['commit']}" + (" (dirty work tree)" if git["dirty"] else ""))
    for name, digest in (prov.get("input_sha256") or {}).items():
        lines.append(f"  input      {name}: sha256 {digest}")
    if prov.get("command"):
        lines.append(f"  command    {prov['command']}  (in {prov.get('cwd', '?')})")
    if "overrides" in prov:
        import shlex

        lines.append("  overrides  " + (" ".join(f"--set {shlex.quote(o)}" for o in prov["overrides"]) or "none"))
    lines.append(f"  fingerprint {attrs.get('fingerprint')} (simulation {attrs.get('simulation')})")
    for run in runs[1:]:
        c = run.get("cluster") or {}
        lines.append(
            f"  resumed    {run.get('started')} on {run.get('host')} ({', '.join(f'{k} {v}' for k, v in c.items())})"
            + (f": {run['command']}" if run.get("command") else "")
        )
    by_worker: dict[str, int] = {}
    for m in markers:
        by_worker[m.get("worker", "?")] = by_worker.get(m.get("worker", "?"), 0) + 1
    for w, n in sorted(by_worker.items()):
        lines.append(f"  blocks     {n} by {w}")
    return "\n".join(lines)
