"""The store's layout, for grids and sampled designs alike: its coordinates, variables,
their dimensions, dtypes, fill values and attributes, the dimensions' sizes and the
bytes a point holds in a task (numpy only).

A grid's axes are dimensions whose coordinate is the first parameter's values (a
zipped axis adds its other parameters as coordinates along it; a labelled axis's
coordinate is its labels, strings, and all its parameters are coordinates along it). A sampled design
(design.py) is the first dimension, ``sample``: its coordinate numbers the points,
and each sampled parameter, and each point's round, is a coordinate along it.

The store (store.py), the sweep tasks (block.py), the planner (plan.py) and the
summaries (summarize.py) all read it from here; docs/store-layout.md describes it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .models import get_model

__all__ = [
    "coords",
    "variable_specs",
    "sizes",
    "point_bytes",
    "samples",
    "spike_bytes",
    "trace_bytes",
    "working_bytes",
    "square_display",
    "sampled_params",
    "VARIABLES",
    "STATUS_PENDING",
    "STATUS_DONE",
    "STATUS_FAILED",
    "MARKERS",
    "SAMPLE",
    "ROUND",
    "CONTROL",
    "GROW",
    "SUMMARIZE",
    "SUMMARIZE_COMMIT",
    "CREATING",
    "LEASE",
    "SPIKE_SUMMARIES",
    "MOMENT_SUMMARIES",
    "AXIS_RE",
    "MAX_AXIS_NAME",
    "RESERVED_DIMS",
    "RESERVED_VARS",
]

STATUS_PENDING, STATUS_DONE, STATUS_FAILED = 0, 1, 2

# The store's own bookkeeping (docs/store-layout.md, "_lifbatch/"): every module names
# these paths from here.
#: the group of the control files, where Zarr and xarray do not look
CONTROL = Path("_lifbatch")
#: the block markers' directory inside a store
MARKERS = CONTROL / "blocks"
#: the run lease (lease.py)
LEASE = CONTROL / "lease.json"
#: a store being created (its template incomplete)
CREATING = CONTROL / "creating.json"
#: the commit of points being added to a sampled design (growth.py)
GROW = CONTROL / "grow.json"
#: summarize's work directory, and its commit (summarize.py)
SUMMARIZE = CONTROL / "summarize"
SUMMARIZE_COMMIT = SUMMARIZE / "commit.json"


#: the summaries of the spikes (summaries.spike_values' outputs, in order) and of V
#: (summaries.moment_values'): what a sweep task computes and ``lifbatch summarize`` recomputes
SPIKE_SUMMARIES = ("rate", "rate_std", "isi_mean", "isi_std", "isi_cv", "isi_hist")
MOMENT_SUMMARIES = ("v_mean", "v_var", "v_autocov")
#: the results' data variables, in the contract's order (docs/store-layout.md)
VARIABLES = (
    "status",
    "spike_count",
    "spike_bits",
    *SPIKE_SUMMARIES[:5],
    "isi_adaptation",  # (derived from spike_bits when read: adaptation.with_isi_adaptation; never stored)
    *SPIKE_SUMMARIES[5:],
    *MOMENT_SUMMARIES,
    "v",
)


#: a sampled design's dimension, and its coordinate of each point's round
SAMPLE, ROUND = "sample", "sample_round"

# An axis (or a sampled parameter, or a drive) becomes a dimension and a coordinate of the
# store, its name an array's: a name of letters, digits and '_', not one the store uses already.
AXIS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: the longest name of an axis and of a drive
MAX_AXIS_NAME = 64
RESERVED_DIMS = {"trial", "time", "lag", "isi_bin", "trace_trial", "trace_time", "spike_byte", SAMPLE, ROUND}
#: names of the store's variables and other coordinates: an axis of that name would clash with them
RESERVED_VARS = set(VARIABLES) | {"isi_bin_lower", "isi_bin_upper"}


def sampled_params(ds) -> list[str]:
    """The coordinates of a sampled design's parameters (along ``sample``, with ``bounds``)
    of a results Dataset, in the order the workflow's ``sample.params`` lists them; [] for a
    grid (or a single selected sample)."""
    import json

    if SAMPLE not in ds.dims:
        return []
    names = [n for n, c in ds.coords.items() if c.dims == (SAMPLE,) and "bounds" in c.attrs]
    try:
        order = list(json.loads(ds.attrs["workflow"])["sample"]["params"])
    except (KeyError, TypeError, ValueError):
        order = []
    return [n for n in order if n in names] + sorted(n for n in names if n not in order)


def coords(wf) -> dict:
    """Coordinates of a results Dataset (see docs/store-layout.md)."""
    out: dict = {}
    for ax in wf.sweep:
        if ax is wf.sample:
            # a sampled design: the points' numbers, their parameters and rounds along `sample`
            out[ax.name] = (ax.name, ax.coord, {"long_name": f"point of the {ax.spec.method} design"})
            for sp, vals in zip(ax.spec.params, ax.values):
                out[sp.label] = (
                    ax.name,
                    np.asarray(vals, float),
                    {
                        "units": sp.unit,
                        "display_units": sp.display_unit,
                        "param": sp.param,
                        "bounds": [sp.low, sp.high],
                        "scale": sp.scale,
                    },
                )
            out[ROUND] = (
                ax.name,
                np.asarray(ax.rounds, np.int64),
                {"long_name": "0: the design; k: added by the k-th refine or fit round"},
            )
            continue
        if getattr(ax, "point_labels", None):
            # a labelled axis: its labels (strings), and every zipped parameter along it by its path
            out[ax.name] = (ax.name, ax.coord, {"long_name": f"label of the {ax.name} axis", "params": list(ax.params)})
            for p, vals, un, disp in zip(ax.params, ax.values, ax.units, ax.display_units):
                out[p] = (ax.name, np.asarray(vals, float), {"units": un, "display_units": disp, "param": p})
            continue
        out[ax.name] = (
            ax.name,
            np.asarray(ax.values[0], float),
            {"units": ax.units[0], "display_units": ax.display_units[0], "param": ax.params[0]},
        )
        for p, vals, un, disp in zip(ax.params[1:], ax.values[1:], ax.units[1:], ax.display_units[1:]):
            out[p] = (ax.name, np.asarray(vals, float), {"units": un, "display_units": disp, "param": p})
    n = wf.n_steps
    out["trial"] = ("trial", np.arange(wf.trials))
    out["time"] = (
        "time",
        np.arange(samples(n, wf.moments_stride)) * wf.moments_every,
        {"units": "s", "display_units": "ms"},
    )
    out["trace_trial"] = ("trace_trial", np.asarray(wf.record_trials, dtype=np.int64))
    out["trace_time"] = (
        "trace_time",
        np.arange(samples(n, wf.record_stride)) * wf.record_every,
        {"units": "s", "display_units": "ms"},
    )
    n_lag = int(round(wf.max_lag / wf.moments_every)) + 1
    out["lag"] = ("lag", np.arange(n_lag) * wf.moments_every, {"units": "s", "display_units": "ms"})
    edges = np.asarray(wf.isi_edges)
    out["isi_bin"] = ("isi_bin", (edges[:-1] + edges[1:]) / 2, {"units": "s", "display_units": "ms"})
    out["isi_bin_lower"] = ("isi_bin", edges[:-1], {"units": "s"})
    out["isi_bin_upper"] = ("isi_bin", edges[1:], {"units": "s"})
    return out


def square_display(units: str, v_units: str | None, v_display: str | None) -> str | None:
    """The display unit of a variable stored in the square of V's unit (``v_var``,
    ``v_autocov``: ``units`` is ``v_units**2``): the square of V's display unit (V**2 ->
    mV**2); None for any other variable, or when V has no display unit. Not stored: a
    reader derives it from ``v_mean``'s attributes."""
    if not v_display or not v_units or units != f"{v_units}**2":
        return None
    return f"({v_display})**2" if " " in v_display else f"{v_display}**2"


def variable_specs(wf) -> dict[str, tuple[tuple[str, ...], np.dtype, object, dict]]:
    """name -> (dims after the sweep axes, dtype, fill value, attrs)."""
    vunit = wf.voltage_unit
    vdisp = wf.voltage_display or vunit
    sq = f"{vunit}**2" if vunit != "1" else "1"
    specs: dict[str, tuple[tuple[str, ...], np.dtype, object, dict]] = {
        "spike_count": (("trial",), np.dtype("int32"), 0, {"units": "1", "long_name": "spikes per trial (whole run)"}),
        "spike_bits": (
            ("trial", "spike_byte"),
            np.dtype("uint8"),
            0,
            {
                "units": "1",
                "long_name": "packed spike raster",
                "encoding": "numpy.packbits along time: bit s set = spike at time (s+1)*dt",
            },
        ),
        "rate": ((), np.dtype("float64"), np.nan, {"units": "Hz", "long_name": "firing rate (mean over trials)"}),
        "rate_std": (
            (),
            np.dtype("float64"),
            np.nan,
            {"units": "Hz", "long_name": "std of per-trial firing rates (ddof=1)"},
        ),
        "isi_mean": (
            (),
            np.dtype("float64"),
            np.nan,
            {"units": "s", "display_units": "ms", "long_name": "mean ISI (pooled over trials)"},
        ),
        "isi_std": (
            (),
            np.dtype("float64"),
            np.nan,
            {"units": "s", "display_units": "ms", "long_name": "ISI standard deviation (ddof=1)"},
        ),
        "isi_cv": ((), np.dtype("float64"), np.nan, {"units": "1", "long_name": "ISI coefficient of variation"}),
        "isi_hist": (("isi_bin",), np.dtype("int64"), 0, {"units": "1", "long_name": "ISI histogram (counts)"}),
        "v_mean": (
            ("time",),
            np.dtype("float64"),
            np.nan,
            {"units": vunit, "display_units": vdisp, "long_name": "V mean over trials"},
        ),
        "v_var": (
            ("time",),
            np.dtype("float64"),
            np.nan,
            {"units": sq, "long_name": "V variance over trials (ddof=1)"},
        ),
        "v_autocov": (
            ("lag",),
            np.dtype("float64"),
            np.nan,
            {"units": sq, "long_name": "ensemble autocovariance of V after warmup"},
        ),
        "status": (
            (),
            np.dtype("int8"),
            STATUS_PENDING,
            {"flag_values": [0, 1, 2], "flag_meanings": "pending done failed", "long_name": "point status"},
        ),
    }
    if wf.record_trials:
        specs["v"] = (
            ("trace_trial", "trace_time"),
            np.dtype("float64"),
            np.nan,
            {"units": vunit, "display_units": vdisp, "long_name": "recorded V traces"},
        )
    for name, unit in state_units(wf).items():
        specs[name] = (
            ("trace_trial", "trace_time"),
            np.dtype("float64"),
            np.nan,
            {"units": unit, "long_name": f"recorded {name} traces (record.state)"},
        )
    for name, unit in input_units(wf).items():
        specs[f"input_{name}"] = (
            ("trace_trial", "trace_time"),
            np.dtype("float64"),
            np.nan,
            {"units": unit, "long_name": f"input {name} at the recorded trials (record.inputs)"},
        )
    return specs


def state_units(wf) -> dict[str, str]:
    """The recorded state variables (record.state) and their SI units."""
    if not getattr(wf, "record_state", ()):
        return {}

    units = {v.name: v.unit for v in get_model(wf.model).state}
    # a conductance drive's g: siemens (a dimensionless LIF's relative to the leak)
    g_unit = "S" if wf.model != "lif" or wf.voltage_unit != "1" else "1"
    units.update({f"g_{d.name}": g_unit for d in wf.drives if d.kind == "poisson_conductance"})
    return {name: units[name] for name in wf.record_state}


def input_units(wf) -> dict[str, str]:
    """The recorded inputs (record.inputs) and their SI units: a current in A, a voltage in
    V's unit, a voltage per time in V's unit per second."""
    roles = {d.name: d.role for d in wf.drives}
    vunit = wf.voltage_unit
    per = {"current": "A", "voltage": vunit, "voltage_rate": f"{vunit}/s" if vunit != "1" else "1/s"}
    return {name: per.get(roles[name], "1") for name in getattr(wf, "record_inputs", ())}


def sizes(wf) -> dict[str, int]:
    """Size of every dimension of the store."""
    c = coords(wf)
    sizes = {dim: len(val[1]) for dim, val in c.items() if val[0] == dim}
    sizes["spike_byte"] = spike_bytes(wf.n_steps)
    return sizes


def samples(n_steps: int, stride: int) -> int:
    """The samples of a run of ``n_steps`` steps taken every ``stride`` steps, both ends
    included: the size of ``time`` (stride ``wf.moments_stride``) and of ``trace_time``
    (``wf.record_stride``)."""
    return n_steps // stride + 1


def spike_bytes(n_steps: int) -> int:
    """The bytes of one trial's packed spike raster (bit s: a spike at step s + 1): the size
    of ``spike_byte``."""
    return (n_steps + 7) // 8


def trace_bytes(n_recorded: int, n_samples: int) -> int:
    """Working memory of a point's recorded V traces (bytes), as a task holds them."""
    return n_recorded * n_samples * 8 * 2


def working_bytes(*, trials: int, n_steps: int, n_moments: int, n_recorded: int, n_samples: int) -> int:
    """Working memory of one point in a sweep task (bytes): per trial its V samples on the
    moments grid (``n_moments``), spike raster and count; its recorded traces; and the
    kernel's per-step buffers. :func:`point_bytes` of a workflow; the caps check a workflow
    being parsed with it (on the coarsest moments grid, at least)."""
    per_trial = n_moments * 8 * 3 + spike_bytes(n_steps) + 8
    return int(trials * per_trial + trace_bytes(n_recorded, n_samples) + n_steps * 8 * 4)


def point_bytes(wf) -> int:
    """Working memory of one point in a sweep task (bytes): its V samples, spike
    raster and counts, recorded traces, and the kernel's per-step buffers."""
    n = wf.n_steps
    return working_bytes(
        trials=wf.trials,
        n_steps=n,
        n_moments=samples(n, wf.moments_stride),
        n_recorded=len(wf.record_trials),
        n_samples=samples(n, wf.record_stride),
    )
