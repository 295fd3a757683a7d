"""Results and stores for the review-layer tests, made by lifbatch itself.

Every Dataset comes from ``lifbatch.simulate`` and every store from ``lifbatch.run_sweep``
(what ``lifbatch run`` does) on a tiny workflow, so that the plotting, review and report
tests read exactly the layout the engine writes (docs/store-layout.md) and cannot drift
from it. A store still being written is a finished run's with some blocks taken back to
before the run wrote them (:func:`unwrite_blocks`: no marker, no chunk of data, which
reads as the template's fill values), what a run stopped before those blocks leaves;
running the workflow again on it resumes and writes them (:func:`resume`).

Two workflows (:func:`lif_workflow`):

- ``"nma"`` (Neuromatch style, SI units): axes ``tau_m`` (ms) and ``I`` (pA), V in mV;
- ``"pypet"`` (dimensionless V): axes ``t_ref`` (ms) and ``I`` (a voltage per time,
  ``1 / ms``), V with units ``"1"``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import xarray as xr

import lifbatch
from lifbatch.grid import Blocking
from lifbatch.layout import MARKERS

__all__ = ["lif_workflow", "simulated", "run_store", "unwrite_blocks", "resume"]


def lif_workflow(
    preset: str = "nma",
    *,
    n_x: int = 5,
    n_y: int = 4,
    trials: int = 8,
    duration: float = 0.3,
    record_trials: tuple[int, ...] = (0, 1),
    seed: int = 0,
) -> dict:
    """An LIF ensemble with white noise over two axes (``n_x`` values of the first, slow one,
    ``n_y`` of the second), ``duration`` in s; V recorded at ``record_trials`` every 0.5 ms,
    its moments every 1 ms, autocovariance to 50 ms, no warmup, ISIs binned 0-100 ms."""
    if preset == "nma":
        neuron = {
            "tau_m": "20 ms",
            "e_l": "-60 mV",
            "v_th": "-50 mV",
            "v_reset": "-70 mV",
            "v_init": "-60 mV",
            "t_ref": "2 ms",
            "r_m": "100 Mohm",
        }
        inputs = {"drive": {"kind": "constant", "value": "250 pA"}, "noise": {"kind": "white_noise", "sigma": "4 mV"}}
        sweep = {
            "tau_m": {"param": "neuron.tau_m", "linspace": [10, 30, n_x], "unit": "ms"},
            "I": {"param": "inputs.drive.value", "linspace": [50, 400, n_y], "unit": "pA"},
        }
    elif preset == "pypet":
        neuron = {"tau_m": "12 ms", "e_l": 0, "v_th": 1, "v_reset": 0, "v_init": 0, "t_ref": "5 ms"}
        inputs = {"drive": {"kind": "constant", "value": "0.1 / ms"}, "noise": {"kind": "white_noise", "sigma": 0.1}}
        sweep = {
            "t_ref": {"param": "neuron.t_ref", "linspace": [5, 10, n_x], "unit": "ms"},
            "I": {"param": "inputs.drive.value", "linspace": [0, 1, n_y], "unit": "1 / ms"},
        }
    else:
        raise ValueError(f"preset must be 'nma' or 'pypet', got {preset!r}")
    return {
        "name": f"review-{preset}",
        "description": "a tiny sweep for the review-layer tests",
        "seed": seed,
        "trials": trials,
        "duration": f"{duration * 1e3:g} ms",
        "dt": "0.1 ms",
        "neuron": neuron,
        "inputs": inputs,
        "sweep": sweep,
        "record": {"v": {"trials": list(record_trials), "every": "0.5 ms"}},
        "summaries": {
            "warmup": "0 ms",
            "moments": {"every": "1 ms"},
            "autocov": {"max_lag": "50 ms"},
            "isi_bins": {"linspace": [0, 100, 51], "unit": "ms"},
        },
    }


def simulated(preset: str = "nma", **kwargs) -> xr.Dataset:
    """``lifbatch.simulate`` of :func:`lif_workflow` (``kwargs``: its arguments)."""
    return lifbatch.simulate(lif_workflow(preset, **kwargs))


def run_store(path: str | Path, workflow, *, points_per_task: int = 4, pending: int = 0) -> Path:
    """Run ``workflow`` (a mapping, a path or a Workflow) into a store at ``path`` in blocks of
    ``points_per_task`` points; then take back the blocks holding the last ``pending`` points
    (C order over the sweep axes): they read as pending, as in a store still being written."""
    wf = workflow if isinstance(workflow, lifbatch.Workflow) else lifbatch.load_workflow(workflow)
    lifbatch.run_sweep(wf, path, points_per_task=points_per_task, workers=1, progress=False)
    if pending:
        n = int(np.prod(wf.shape))
        unwrite_blocks(path, range(n - pending, n))
    return Path(path)


def resume(path: str | Path, workflow) -> None:
    """Run ``workflow`` again on its store: the blocks not written yet are."""
    wf = workflow if isinstance(workflow, lifbatch.Workflow) else lifbatch.load_workflow(workflow)
    lifbatch.run_sweep(wf, path, workers=1, progress=False)


def unwrite_blocks(store: str | Path, points) -> None:
    """Take the blocks holding the grid ``points`` (flat indices, C order over the sweep axes)
    back to before a run wrote them: no marker, and no chunk of any variable over the sweep
    axes (they read as the template's fill values)."""
    store = Path(store)
    root = json.loads((store / "zarr.json").read_text())["attributes"]
    status = json.loads((store / "status" / "zarr.json").read_text())
    dims, shape = status["dimension_names"], tuple(status["shape"])
    blocking = Blocking(shape=shape, chunks=tuple(json.loads(root["chunks"])))
    blocks = set()
    for point in points:
        index = np.unravel_index(int(point), shape)
        blocks.add(tuple(int(i) // c for i, c in zip(index, blocking.chunks)))
    for block_id in sorted(blocks):
        shutil.rmtree(store / MARKERS / str(blocking.flat_index(block_id)))
        for meta in store.glob("*/zarr.json"):
            m = json.loads(meta.read_text())
            if m.get("node_type") != "array" or m.get("dimension_names", [])[: len(dims)] != dims:
                continue
            chunk = meta.parent.joinpath("c", *map(str, block_id))
            if chunk.is_dir():
                shutil.rmtree(chunk)
            elif chunk.exists():
                chunk.unlink()
