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
