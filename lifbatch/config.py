"""Execution configuration in ``dask.config`` (namespace ``lifbatch``), defaults in lifbatch.yaml."""

from __future__ import annotations

import math
import os
from pathlib import Path

import dask.config
import yaml

__all__ = ["get", "cache_dir", "available_cpus"]

_fn = os.path.join(os.path.dirname(__file__), "lifbatch.yaml")
with open(_fn) as _f:
    _defaults = yaml.safe_load(_f)
dask.config.update_defaults(_defaults)


def get(key: str, default=None):
    """``dask.config.get("lifbatch." + key)``."""
    return dask.config.get(f"lifbatch.{key}", default=default)


def cache_dir(name: str) -> str:
    """lifbatch's cache directory ``name`` (``$XDG_CACHE_HOME/lifbatch/NAME``, by default
    ``~/.cache/lifbatch/NAME``): pint's parsed units, the designs' points."""
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lifbatch", name)


def available_cpus(*, cgroup_root: str = "/sys/fs/cgroup", proc_cgroup: str = "/proc/self/cgroup") -> int:
    """The CPUs this process may use: the default number of workers of ``run``, ``validate``,
    ``refine`` and ``fit``.

    Its CPU affinity (``taskset``, a SLURM job's or a container's cpuset), capped by the CPU
    quota of its cgroup and the cgroup's ancestors where one is set (cgroup v2 ``cpu.max``, v1
    ``cpu.cfs_quota_us``; a fractional quota rounds up, as ``distributed`` counts it) and, in
    a SLURM job, by the CPUs the job has on this node (``SLURM_CPUS_ON_NODE``: a site whose
    SLURM binds no CPUs, ``TaskPlugin=task/none``, gives ``sbatch -c 8`` the whole node's
    affinity); ``os.cpu_count()`` where the platform has no affinity. Never less than 1.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_quota(Path(cgroup_root), Path(proc_cgroup))
    if quota is not None:
        n = min(n, math.ceil(quota))
    try:
        n = min(n, int(os.environ["SLURM_CPUS_ON_NODE"]))
    except (KeyError, ValueError):
        pass
    return max(1, n)


def _cgroup_cpu_quota(root: Path, proc_cgroup: Path) -> float | None:
    """The smallest CPU quota (in CPUs) on this process's cgroup or an ancestor, None if none."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and controllers == "":
            base, read = root, _quota_v2  # the unified hierarchy
        elif "cpu" in controllers.split(","):
            base, read = root / "cpu", _quota_v1  # v1: the cpu controller's mount (cpu or cpu,cpuacct)
        else:
            continue
        d = base / path.strip("/")
        while True:  # the cgroup and its ancestors, up to the mount's root
            q = read(d)
            if q is not None:
                quotas.append(q)
            if d == base or base not in d.parents:
                break
            d = d.parent
    return min(quotas) if quotas else None


def _quota_v2(d: Path) -> float | None:
    try:
        quota, period = (d / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _quota_v1(d: Path) -> float | None:
    try:
        quota = int((d / "cpu.cfs_quota_us").read_text())
        period = int((d / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period
