from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"


@pytest.fixture(scope="session")
def workflows_dir() -> Path:
    return WORKFLOWS


@pytest.fixture(scope="session")
def local_client():
    """A real LocalCluster with 2 single-threaded worker processes, shared by the session:
    the embedded cluster of ``lifbatch run`` (its Dask settings included)."""
    from distributed import Client

    from lifbatch.execute import embedded_cluster

    cluster = embedded_cluster(2, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def assert_identical(a, b, variables=None):
    """Every data variable bit-identical (NaN == NaN), same dtype."""
    for name in variables or a.data_vars:
        x, y = np.asarray(a[name].values), np.asarray(b[name].values)
        assert x.dtype == y.dtype, (name, x.dtype, y.dtype)
        assert x.shape == y.shape, (name, x.shape, y.shape)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


def listening(pids) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state owned by one of ``pids`` (and their
    children), read from /proc: what `ss -ltnp` would show for them."""
    import socket
    import struct

    pids = set(pids)
    for pid in list(pids):  # children (nannies start the worker processes)
        try:
            for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
                pids.add(int(child))
        except OSError:
            pass
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    out = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:  # 0A: LISTEN
                continue
            addr, port = f[1].split(":")
            raw = bytes.fromhex(addr)
            if family == socket.AF_INET:
                host = socket.inet_ntop(family, struct.pack("<I", int(addr, 16)))
            else:
                host = socket.inet_ntop(family, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
            out.add((host, int(port, 16)))
    return out
