"""Figure data of recorded state variables and inputs (``record.state``, ``record.inputs``): one
panel per unit, in the unit the workflow wrote a drive in (see :mod:`lifbatch.figures`)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

import numpy as np
import xarray as xr

from .core import (
    Axis,
    axis_of,
    canonical_workflow,
    curve_groups,
    neuron_model,
    point_note,
    stored_workflow,
    unit_errors,
    voltage_display,
)
from ..units import Quantity, unit_dimensionality

__all__ = [
    "is_trace",
    "recorded_state",
    "recorded_inputs",
    "trace_vars",
    "TracePanel",
    "trace_panels",
    "TraceCurves",
    "trace_curves",
    "trace_title",
]


# --------------------------------------------------------------------------- recorded state and inputs
def is_trace(ds: xr.Dataset, name: Hashable) -> bool:
    return tuple(ds[name].dims[-2:]) == ("trace_trial", "trace_time")


def recorded_state(ds: xr.Dataset) -> list[str]:
    """The state variables a store records besides V (``record.state``: m, n, h; w; u),
    in the model's order."""
    names = [str(n) for n in ds.data_vars if n != "v" and not str(n).startswith("input_") and is_trace(ds, n)]
    model = neuron_model(ds)
    order = [s.name for s in model.state] if model is not None else []
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def recorded_inputs(ds: xr.Dataset) -> list[str]:
    """The store's recorded inputs (``record.inputs``), as variables ``input_<drive>``, in
    the workflow's order of the drives."""
    names = [str(n) for n in ds.data_vars if str(n).startswith("input_") and is_trace(ds, n)]
    drives = [d.get("name") for d in canonical_workflow(ds).get("drives", []) if isinstance(d, dict)]
    return sorted(names, key=lambda n: (drives.index(n[6:]) if n[6:] in drives else len(drives), n))


def trace_vars(ds: xr.Dataset) -> list[str]:
    """The recorded traces drawn across the points of a sweep axis (:func:`traces`): ``v``
    and the recorded inputs (the Brian2 tutorial's v and I of its three cells)."""
    return (["v"] if "v" in ds.data_vars and is_trace(ds, "v") else []) + recorded_inputs(ds)


def _trace_label(name: str) -> str:
    """'V' for v, the drive's name for an input (``input_I``: 'I'), else the variable's name."""
    return "V" if name == "v" else name[6:] if name.startswith("input_") else name


def _written_unit(full: xr.Dataset, name: str, si: str) -> str | None:
    """The unit the workflow writes a recorded input in: a swept field of the drive's display
    unit, else the first of its fields with the same dimension ("50 nA": nA)."""
    if not name.startswith("input_"):
        return None
    drive = name[6:]
    for axis in (a for a in full.coords if a in full.dims):
        attrs = full[axis].attrs
        if (
            str(attrs.get("param", "")).startswith(f"inputs.{drive}.")
            and attrs.get("units") == si
            and attrs.get("display_units")
        ):
            return str(attrs["display_units"])
    spec = stored_workflow(full).get("inputs", {})
    spec = spec.get(drive) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return None
    try:
        want = unit_dimensionality(si)
    except unit_errors():
        return None
    for value in spec.values():
        if not isinstance(value, str):
            continue
        try:
            q = Quantity(value)
        except unit_errors():  # (a field that is not a quantity: not the unit sought)
            continue
        if not q.unitless and str(q.dimensionality) == want:
            return f"{q.units:~}".replace(" ", "")
    return None


#: SI prefixes tried for a trace with no display unit, smallest first
_PREFIXES = (("f", 1e-15), ("p", 1e-12), ("n", 1e-9), ("u", 1e-6), ("m", 1e-3))


def _auto_unit(si: str, values: np.ndarray) -> str | None:
    """The prefixed unit that shows ``values`` (SI) as numbers below 1000 (pA, nA; nS), for a
    plain SI unit (A, S, F, V, s); None otherwise or without finite values."""
    if si not in ("A", "S", "F", "V", "s"):
        return None
    finite = np.abs(np.asarray(values, dtype=float))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if not finite.size:
        return None
    top = float(finite.max())
    for prefix, factor in _PREFIXES:
        if top / factor < 1000:
            return prefix + si
    return si


def _trace_attrs(full: xr.Dataset, name: str, values: np.ndarray) -> dict:
    """The attributes of a recorded variable with the display unit its figures use: its own
    ``display_units``, else a voltage in V's display unit, an input in the unit its drive is
    written in, else the prefix that fits ``values`` (SI)."""
    attrs = dict(full[name].attrs)
    if attrs.get("display_units"):
        return attrs
    si = str(attrs.get("units") or "1")
    shown = (voltage_display(full) if si == "V" else None) or _written_unit(full, name, si) or _auto_unit(si, values)
    if shown:
        attrs["display_units"] = shown
    return attrs


class TracePanel(NamedTuple):
    """Recorded traces of one point in one panel (display units): the variables of one unit."""

    title: str  # "State m, n, h", "Input I"
    t: Axis
    y: Axis  # label: the variables' names, their unit
    time: np.ndarray  # trace_time
    lines: list[tuple[str, np.ndarray]]  # (variable's label, traces: (recorded trial, time))
    trials: np.ndarray  # the recorded trials (trace_trial)
    note: str | None  # why there is nothing to draw, or None


def trace_panels(full: xr.Dataset, d: xr.Dataset, kind: str) -> list[TracePanel]:
    """The recorded state variables (``kind="state"``) or inputs (``"inputs"``) of one
    selected point ``d``, one panel per unit (hh_traub's gates m, n, h share a
    dimensionless panel; w, u and a current input are drawn in the unit the workflow wrote
    it in, else in the prefix that fits their values); [] when the store records none."""
    names = recorded_state(full) if kind == "state" else recorded_inputs(full)
    if not names:
        return []
    t = axis_of("time", d["trace_time"].attrs, default="ms")
    time = d["trace_time"].values * t.factor
    trials = np.atleast_1d(d["trace_trial"].values)
    values = {n: np.asarray(d[n].transpose("trace_trial", "trace_time").values, dtype=float) for n in names}
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(str(d[n].attrs.get("units") or "1"), []).append(n)
    note = point_note(d, "traces")
    panels = []
    for si, members in groups.items():
        attrs = _trace_attrs(full, members[0], np.concatenate([values[n].ravel() for n in members]))
        labels = [_trace_label(n) for n in members]
        y = axis_of(members[0], attrs, label=", ".join(labels))
        word = ("State" if kind == "state" else "Input") + ("s" if kind != "state" and len(members) > 1 else "")
        lines = [(label, values[n] * y.factor) for label, n in zip(labels, members)]
        empty = note or (None if any(np.isfinite(v).any() for _, v in lines) else "no values at this point")
        panels.append(TracePanel(f"{word} {', '.join(labels)}", t, y, time, lines, trials, empty))
    return panels


class TraceCurves(NamedTuple):
    """One recorded trial of a variable at the points along a sweep axis (display units)."""

    t: Axis
    y: Axis
    time: np.ndarray
    curves: list[tuple[str, np.ndarray]]  # ("C = 160 pF", values over time)
    trial: int


def trace_curves(full: xr.Dataset, d: xr.Dataset, x: str, var: str, trial: int | None = None) -> TraceCurves:
    """Recorded ``var`` (``v``, ``input_I``, a state variable) of one trial (default: the first
    recorded) at every value of ``x`` in ``d`` (the other sweep axes selected)."""
    if trial is None:
        trial = int(np.atleast_1d(d["trace_trial"].values)[0])
    elif trial not in np.atleast_1d(full["trace_trial"].values):
        raise ValueError(
            f"trial {trial} is not recorded; recorded trials: {np.atleast_1d(full['trace_trial'].values).tolist()}"
        )
    one = d[[var]].sel(trace_trial=trial) if "trace_trial" in d[var].dims else d[[var]]
    one = one.transpose(x, "trace_time").compute()
    t = axis_of("time", d["trace_time"].attrs, default="ms")
    label = _trace_label(var)
    attrs = _trace_attrs(full, var, one[var].values)
    y = axis_of(var, attrs, label=label)
    curves = [(lbl, np.asarray(g[var].values, dtype=float) * y.factor) for lbl, g in curve_groups(one, x)]
    return TraceCurves(t, y, d["trace_time"].values * t.factor, curves, trial)


def trace_title(var: str, trial: int) -> str:
    what = (
        "Membrane potential"
        if var == "v"
        else f"{'Input' if var.startswith('input_') else 'State'} {_trace_label(var)}"
    )
    return f"{what}, trial {trial}"
