"""The store's layout: its variables, their dimensions, dtypes, fill values and
attributes, the dimensions' sizes and the bytes a point holds in a task (numpy only).

The store (store.py), the sweep tasks (execute.py), the planner (plan.py) and the
summaries (summarize.py) all read it from here; docs/store-layout.md describes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .grid import coords

__all__ = ["variable_specs", "sizes", "point_bytes", "STATUS_PENDING", "STATUS_DONE", "STATUS_FAILED", "MARKERS"]

STATUS_PENDING, STATUS_DONE, STATUS_FAILED = 0, 1, 2
#: the block markers' directory inside a store
MARKERS = Path("_lifbatch") / "blocks"


def variable_specs(wf) -> dict[str, tuple[tuple[str, ...], np.dtype, object, dict]]:
    """name -> (dims after the sweep axes, dtype, fill value, attrs)."""
    vunit = wf.voltage_unit
    vdisp = wf.voltage_display or vunit
    sq = f"{vunit}**2" if vunit != "1" else "1"
    specs = {
        "spike_count": (("trial",), np.dtype("int32"), 0, {"units": "1", "long_name": "spikes per trial (whole run)"}),
        "spike_bits": (("trial", "spike_byte"), np.dtype("uint8"), 0,
                       {"units": "1", "long_name": "packed spike raster",
                        "encoding": "numpy.packbits along time: bit s set = spike at time (s+1)*dt"}),
        "rate": ((), np.dtype("float64"), np.nan, {"units": "Hz", "long_name": "firing rate (mean over trials)"}),
        "rate_std": ((), np.dtype("float64"), np.nan, {"units": "Hz", "long_name": "std of per-trial firing rates (ddof=1)"}),
        "isi_mean": ((), np.dtype("float64"), np.nan, {"units": "s", "display_units": "ms", "long_name": "mean ISI (pooled over trials)"}),
        "isi_std": ((), np.dtype("float64"), np.nan, {"units": "s", "display_units": "ms", "long_name": "ISI standard deviation (ddof=1)"}),
        "isi_cv": ((), np.dtype("float64"), np.nan, {"units": "1", "long_name": "ISI coefficient of variation"}),
        "isi_hist": (("isi_bin",), np.dtype("int64"), 0, {"units": "1", "long_name": "ISI histogram (counts)"}),
        "v_mean": (("time",), np.dtype("float64"), np.nan, {"units": vunit, "display_units": vdisp, "long_name": "V mean over trials"}),
        "v_var": (("time",), np.dtype("float64"), np.nan, {"units": sq, "long_name": "V variance over trials (ddof=1)"}),
        "v_autocov": (("lag",), np.dtype("float64"), np.nan, {"units": sq, "long_name": "ensemble autocovariance of V after warmup"}),
        "status": ((), np.dtype("int8"), STATUS_PENDING,
                   {"flag_values": [0, 1, 2], "flag_meanings": "pending done failed", "long_name": "point status"}),
    }
    if wf.record_trials:
        specs["v"] = (("trace_trial", "trace_time"), np.dtype("float64"), np.nan,
                      {"units": vunit, "display_units": vdisp, "long_name": "recorded V traces"})
    return specs


def sizes(wf) -> dict[str, int]:
    """Size of every dimension of the store."""
    c = coords(wf)
    sizes = {dim: len(val[1]) for dim, val in c.items() if val[0] == dim}
    sizes["spike_byte"] = (wf.n_steps + 7) // 8
    return sizes



def point_bytes(wf) -> int:
    """Working memory of one point in a sweep task (bytes): its V samples, spike
    raster and counts, recorded traces, and the kernel's per-step buffers."""
    n = wf.n_steps
    n_mom = n // wf.moments_stride + 1
    n_rec = n // wf.record_stride + 1
    per_trial = n_mom * 8 * 3 + (n + 7) // 8 + 8
    return int(wf.trials * per_trial + len(wf.record_trials) * n_rec * 8 * 2 + n * 8 * 4)
