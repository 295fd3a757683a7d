"""lifbatch: batch parameter sweeps of leaky integrate-and-fire neuron ensembles.

Workflow files expand parameter grids into Dask tasks; each task runs a
vectorized LIF ensemble and writes labelled xarray data to one Zarr store.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import LifbatchError, StoreError, WorkflowError  # noqa: E402
from .workflow import Workflow, load_workflow  # noqa: E402
from .store import open_results  # noqa: E402
from .analysis import spike_times  # noqa: E402
from .execute import run_sweep, simulate  # noqa: E402

__all__ = [
    "__version__",
    "Workflow",
    "load_workflow",
    "run_sweep",
    "open_results",
    "simulate",
    "spike_times",
    "LifbatchError",
    "WorkflowError",
    "StoreError",
]
