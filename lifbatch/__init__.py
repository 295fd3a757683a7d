"""lifbatch: batch parameter sweeps of leaky integrate-and-fire neuron ensembles.

Workflow files expand parameter grids (or sampled designs) into Dask tasks; each task runs a
vectorized LIF ensemble and writes labelled xarray data to one Zarr store.

The public names are imported on first use (PEP 562), so that ``lifbatch --help``
and ``lifbatch validate`` do not pay for xarray, Zarr, numba or dask.distributed.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module defining it
_EXPORTS = {
    "Workflow": "workflow",
    "load_workflow": "workflow",
    "run_sweep": "execute",
    "simulate": "block",
    "open_results": "store",
    "spike_times": "summaries",
    "sel": "summaries",
    "to_neo": "neo",
    "as_timed_array": "neo",
    "refine_store": "refine",
    "fit": "fitting",
    "LifbatchError": "errors",
    "WorkflowError": "errors",
    "StoreError": "errors",
}

__all__ = [
    "__version__",
    "Workflow",
    "load_workflow",
    "run_sweep",
    "open_results",
    "simulate",
    "spike_times",
    "sel",
    "refine_store",
    "fit",
    "to_neo",
    "as_timed_array",
    "LifbatchError",
    "WorkflowError",
    "StoreError",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lifbatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
