"""Figure data of sweep results, renderer-neutral: what every figure of lifbatch shows.

``lifbatch.plotting`` (HoloViews), the review app (``lifbatch.review``, Bokeh) and the
static report (``lifbatch.report``) draw from these functions; none of them imports a
plotting library, so they are tested without a renderer.

- selection: :func:`select` (SI values, nearest, inf exactly), :func:`select_point` (every
  axis of one point), :func:`free_axes` (the axes neither plotted nor selected: one frame
  per combination), :func:`select_samples` (a sampled design's grid axes);
- display units: :func:`display_scale` and :class:`Axis` (SI to ``attrs["display_units"]``:
  mV for volts, ms for seconds, the square of V's unit for variances), :func:`format_value`;
- titles and labels: :func:`figure_title`, :func:`point_label`, :func:`curve_groups`;
- theory lines: :func:`theory_values` (Siegert rate and CV), :func:`theory_ou`,
  :func:`theory_lines`; None only where the theory does not apply (a model without
  theory, inputs other than constant and white noise, a threshold for the OU lines): an
  error in the theory raises, it is never hidden as a missing overlay;
- one point's data: :func:`ensemble_data`, :func:`isi_hist_data`,
  :func:`spike_raster_times`, :func:`trace_panels`, :func:`point_note`;
- sampled designs: :func:`sample_data`, :func:`sample_layers`, :func:`sample_point_label`.

Coordinates and values are stored in SI; the display units come from the store's
attributes (what the workflow was written in). Unit conversions use the package's one
pint registry (:mod:`lifbatch.units`).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from os import PathLike
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .layout import ROUND, SAMPLE, sampled_params

__all__ = [
    "PALETTE", "LABELS", "WIDTH", "HEIGHT", "TITLE_SIZE", "MAX_FRAMES", "open_dataset", "sweep_axes",
    "display_scale", "Axis", "axis_of", "voltage_display", "square_attrs", "format_value", "point_label",
    "sel_nearest", "select", "need_point", "free_axes", "free_points", "figure_title", "stored_workflow",
    "model_name", "neuron_model", "has_theory", "spike_line", "curve_groups", "THEORY_STYLE", "OU_LABEL",
    "theory_values", "theory_ou", "theory_label", "theory_lines", "grid_labels", "is_regular", "cell_edges",
    "select_point", "point_note", "isi_hist_data", "Ensemble", "ensemble_data", "spike_raster_times", "raster_xmax",
    "is_trace", "recorded_state", "recorded_inputs", "trace_vars", "TracePanel", "trace_panels", "TraceCurves",
    "trace_curves", "trace_title", "ROUND_MARKERS", "SUMMARIES", "SUMMARY_TITLES", "NAN_COLOR", "is_sampled",
    "grid_axes", "summaries", "log_scale", "log_ticks", "round_label", "SampleLayer", "sample_rounds",
    "sample_layers", "summary_axis", "select_samples", "check_sampled_param", "check_summary", "SampleData",
    "sample_data", "sample_point_label", "nearest_index", "theory_at_samples", "thin_axis", "sampled_params",
]


#: colours of successive curves (bokeh's Category10)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


#: display unit used when a variable has no ``display_units`` attribute
_DEFAULT_DISPLAY = {"V": "mV", "V**2": "mV^2", "s": "ms"}


#: axis labels of the contract's variables (before their stores' ``long_name``)
LABELS = {
    "rate": "firing rate",
    "rate_std": "rate std",
    "isi_mean": "ISI mean",
    "isi_std": "ISI std",
    "isi_cv": "ISI CV",
    "v_mean": "V mean",
    "v_var": "V variance",
    "v_autocov": "V autocovariance",
    "v": "V",
    "time": "time",
    "trace_time": "time",
    "lag": "lag",
    "isi_bin": "ISI",
}


WIDTH, HEIGHT = 460, 320


TITLE_SIZE = "10pt"


#: a HoloMap over unselected axes is built eagerly; beyond this many frames, ask for a selection
MAX_FRAMES = 200


# --------------------------------------------------------------------------- data access
def open_dataset(ds: xr.Dataset | str | PathLike, **kwargs: Any) -> xr.Dataset:
    """Return ``ds`` unchanged, or open the store at path ``ds`` lazily.

    Uses ``lifbatch.open_results`` when available, else ``xarray.open_zarr``;
    ``kwargs`` are passed on (``chunks=None``: lazy arrays without Dask, which read
    small selections much faster).
    """
    if isinstance(ds, xr.Dataset):
        return ds
    if isinstance(ds, (str, PathLike)):
        try:
            from lifbatch import open_results
        except ImportError:
            return xr.open_zarr(str(ds), **kwargs)
        return open_results(ds, **kwargs)
    raise TypeError(
        f"expected an xarray.Dataset or a store path, got {type(ds).__name__}. "
        "Example: rate_curve('results/sweep.zarr', 'I')"
    )


def sweep_axes(ds: xr.Dataset) -> list[str]:
    """Names of the sweep axes of a results Dataset, in workflow order (last fastest)."""
    for name in ("rate", "status", "spike_count"):
        if name in ds:
            return [d for d in ds[name].dims if d != "trial"]
    raise ValueError(
        "not a lifbatch results Dataset: it has none of the variables 'rate', 'status', "
        f"'spike_count' (variables: {sorted(ds.data_vars)})"
    )


def _unit_errors() -> tuple[type[BaseException], ...]:
    """What pint raises for a unit string it cannot read or convert (a store's attributes, a
    workflow's text): its own errors, and AssertionError from its parser on a malformed
    expression ("1 /")."""
    import pint

    return pint.PintError, AssertionError, ValueError


@functools.lru_cache(maxsize=256)
def _scale(si: str, display: str) -> float:
    from .units import convert  # (the package's one pint registry)

    try:
        return convert(1.0, si, display)
    except _unit_errors():  # unknown or inconsistent unit strings: show SI rather than fail
        return math.nan


def display_scale(attrs: Mapping[str, Any], *, default: str | None = None) -> tuple[float, str]:
    """Factor from SI to the display unit, and the display unit.

    Parameters
    ----------
    attrs : mapping
        Attributes with ``units`` (SI) and optionally ``display_units``.
    default : str, optional
        Display unit to use when ``display_units`` is absent (else mV for V, ms for s,
        or SI).

    Returns
    -------
    factor : float
        Multiply SI values by it.
    unit : str
        Display unit ("1" for dimensionless).
    """
    si = str(attrs.get("units") or "1")
    display = attrs.get("display_units") or default or _DEFAULT_DISPLAY.get(si, si)
    display = str(display)
    factor = _scale(si, display)
    if math.isnan(factor):
        return 1.0, si
    return factor, display


def _pretty(unit: str) -> str | None:
    """Axis-label form of a unit string; None for dimensionless."""
    if unit in ("1", "", "dimensionless"):
        return None
    return unit.replace("**2", "²").replace("^2", "²").replace(" ** ", "^").replace("**", "^")


class Axis(NamedTuple):
    """How a coordinate or variable is shown: SI-to-display factor, name, label, unit."""

    factor: float
    name: str
    label: str
    unit: str | None  # axis-label form; None for dimensionless

    @property
    def text(self) -> str:
        """Axis title as HoloViews writes it: ``label (unit)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label



def axis_of(name: str, attrs: Mapping[str, Any], *, label: str | None = None,
            default: str | None = None) -> Axis:
    """How ``name`` (a coordinate or variable with attributes ``attrs``) is shown: ``label``,
    else the contract's short label (:data:`LABELS`: "firing rate", not the store's long
    name "firing rate (mean over trials)"), else its ``long_name``, else its name."""
    factor, unit = display_scale(attrs, default=default)
    return Axis(factor, name, label or LABELS.get(name) or attrs.get("long_name") or name, _pretty(unit))


def voltage_display(ds: xr.Dataset) -> str | None:
    """Display unit of voltage (``v_mean``'s, else ``v``'s), or None for the defaults."""
    for name in ("v_mean", "v"):
        if name in ds and ds[name].attrs.get("display_units"):
            return str(ds[name].attrs["display_units"])
    return None


def square_attrs(ds: xr.Dataset, name: str) -> dict:
    """Attributes of a V^2 variable, with display units the square of V's."""
    attrs = dict(ds[name].attrs)
    vdisp = voltage_display(ds)
    if not attrs.get("display_units") and vdisp and vdisp != "1":
        attrs["display_units"] = f"({vdisp})^2" if " " in vdisp else f"{vdisp}^2"
    return attrs


def format_value(value: float, factor: float, unit: str) -> str:
    text = f"{value * factor:.4g}"
    pretty = _pretty(unit)
    return f"{text} {pretty}" if pretty else text


def point_label(ds: xr.Dataset, fixed: Mapping[str, float]) -> str:
    """'tau_m = 10 ms, I = 250 pA' for the selected coordinate values."""
    parts = []
    for axis, value in fixed.items():
        factor, unit = display_scale(ds[axis].attrs)
        parts.append(f"{axis} = {format_value(float(value), factor, unit)}")
    return ", ".join(parts)


def sel_nearest(obj, sel: Mapping[str, float]):
    """``obj.sel(sel, method="nearest")``, taking values on the grid exactly first (inf too:
    "nearest" would compute inf - inf)."""
    exact = {k: v for k, v in sel.items() if np.any(obj[k].values == v)}
    if exact:
        obj = obj.sel(exact)
    near = {k: v for k, v in sel.items() if k not in exact}
    return obj.sel(near, method="nearest") if near else obj


def select(ds: xr.Dataset, sel: Mapping[str, Any]) -> tuple[xr.Dataset, dict[str, float]]:
    """Select sweep-axis values (SI, nearest) and squeeze length-1 axes.

    Returns the selection and the {axis: value} it fixed (for titles).
    """
    axes = sweep_axes(ds)
    unknown = [k for k in sel if k not in axes]
    if unknown:
        raise ValueError(
            f"unknown sweep axis {unknown[0]!r}; this sweep's axes are {axes}. "
            f"Example: {axes[0] if axes else 'axis'}=<SI value>"
        )
    fixed: dict[str, float] = {}
    if sel:
        ds = sel_nearest(ds, sel)
        fixed.update({k: float(ds[k].values) for k in sel})
    for axis in axes:
        if axis in ds.dims and ds.sizes[axis] == 1:
            fixed[axis] = float(ds[axis].values[0])
            ds = ds.isel({axis: 0})
    return ds, fixed


def _axis_range(ds: xr.Dataset, axis: str) -> str:
    values = ds[axis].values
    factor, unit = display_scale(ds[axis].attrs)
    return (f"{axis} has {values.size} values from {values.min():.4g} to {values.max():.4g} "
            f"(SI {ds[axis].attrs.get('units', '1')}; {format_value(values.min(), factor, unit)}"
            f" .. {format_value(values.max(), factor, unit)})")


def need_point(ds: xr.Dataset, func: str) -> None:
    """Raise unless every sweep axis has been reduced to one value."""
    left = [a for a in sweep_axes(ds) if a in ds.dims]
    if left:
        ranges = "; ".join(_axis_range(ds, a) for a in left)
        raise ValueError(
            f"{func} shows one point: select every sweep axis with more than one value, "
            f"missing {left}. Example: {func}(ds, "
            + ", ".join(f"{a}={float(ds[a].values[0]):.4g}" for a in left)
            + f"). {ranges}"
        )


def free_axes(ds: xr.Dataset, plotted: list[str], func: str) -> list[str]:
    """The sweep axes of ``ds`` (a selection) neither ``plotted`` nor selected: a figure
    over them is one frame per combination of their values (a HoloMap, a slider). Refuses
    a plotted name that is not an axis left, and more than :data:`MAX_FRAMES` frames."""
    axes = sweep_axes(ds)
    for name in plotted:
        if name not in axes:
            raise ValueError(f"{func}: {name!r} is not a sweep axis with more than one value "
                             f"left after selection; axes are {axes}")
    free = [a for a in axes if a not in plotted and a in ds.dims]
    n_frames = int(np.prod([ds.sizes[a] for a in free]))
    if n_frames > MAX_FRAMES:
        raise ValueError(
            f"{func}: axes {free} are neither plotted nor selected ({n_frames} combinations); "
            f"select them, e.g. {func}(ds, ..., "
            + ", ".join(f"{a}={float(ds[a].values[0]):.4g}" for a in free) + ")"
        )
    return free


def free_points(ds: xr.Dataset, free: list[str]) -> list[dict[str, float]]:
    """Every combination of the values of the axes ``free`` (SI), the last fastest."""
    return [{a: float(ds[a].values[i]) for a, i in zip(free, index)}
            for index in np.ndindex(*[ds.sizes[a] for a in free])]


def figure_title(prefix: str, ds: xr.Dataset, fixed: Mapping[str, float]) -> str:
    where = point_label(ds, fixed)
    return f"{prefix} ({where})" if where else prefix


def _si_attr(ds: xr.Dataset, name: str) -> float | None:
    """A root attribute (or workflow key) in SI: a float, or a pint string."""
    value = ds.attrs.get(name)
    if value is None:
        value = stored_workflow(ds).get(name)
    return _to_si(value)


def _to_si(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float, np.number)):
        return float(value)
    from .units import Quantity, to_si

    try:
        return to_si(Quantity(str(value)))
    except _unit_errors():  # (not a quantity: no value)
        return None


def stored_workflow(ds: xr.Dataset) -> dict:
    raw = ds.attrs.get("workflow")
    if isinstance(raw, dict):
        return raw
    return _parse_workflow(raw) if isinstance(raw, str) else {}


@functools.lru_cache(maxsize=8)
def _parse_workflow(raw: str) -> dict:
    """The stored workflow JSON, parsed once (callers must not modify the result)."""
    try:
        parsed = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _neuron_param(ds: xr.Dataset, name: str) -> float | None:
    neuron = stored_workflow(ds).get("neuron")
    return _to_si(neuron.get(name)) if isinstance(neuron, dict) else None


def _point_param(full: xr.Dataset, d: xr.Dataset, param: str) -> float | None:
    """A parameter (SI) at the selected point ``d``: its sweep coordinate if it is swept,
    else the canonical workflow's value (every parameter, a model's defaults too), else the
    workflow's."""
    for name in d.coords:
        if d[name].attrs.get("param") == param and d[name].size == 1:
            return float(d[name].values)
    value = _canonical(full).get("params", {}).get(param)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return _neuron_param(full, param.split(".", 1)[1]) if param.startswith("neuron.") else None


def _canonical(ds: xr.Dataset) -> dict:
    """The store's canonical workflow (its ``canonical`` attribute, parsed), or {}."""
    raw = ds.attrs.get("canonical")
    return _parse_workflow(raw) if isinstance(raw, str) else {}


# --------------------------------------------------------------------------- neuron models
def model_name(ds: xr.Dataset) -> str:
    """The name of the store's neuron model (its canonical workflow's ``model``; ``lif``
    where it names none, as every store made before models existed)."""
    model = _canonical(ds).get("model")
    name = model.get("name") if isinstance(model, dict) else model
    return name if isinstance(name, str) and name else "lif"


def neuron_model(ds: xr.Dataset):
    """The store's :class:`lifbatch.models.NeuronModel`, or None when no model of its name
    is registered in this process (a user's model whose package is not imported)."""
    from lifbatch.models import MODELS

    return MODELS.get(model_name(ds))


def has_theory(ds: xr.Dataset) -> bool:
    """True when the store's model has closed-form theory (the LIF); the figures of other
    models draw no theory overlay."""
    model = neuron_model(ds)
    return bool(model is not None and model.theory)


def spike_line(full: xr.Dataset, d: xr.Dataset) -> tuple[str, float | None]:
    """(legend label, SI value) of the line drawn on V: the parameter of the model's spike
    rule (``v_th``, labelled "threshold"; ``v_spike`` of hh_traub; ``v_peak`` of adex and
    izhikevich) at the selected point ``d`` (swept or not); the value is None where there is
    no finite one (``v_th: inf``) or the model is not registered."""
    model = neuron_model(full)
    if model is None:
        return "threshold", None
    param = model.spike_param
    value = _point_param(full, d, f"neuron.{param}")
    label = "threshold" if param == "v_th" else param
    return label, value if value is not None and np.isfinite(value) else None


def curve_groups(ds: xr.Dataset, by: str | None) -> list[tuple[str, xr.Dataset]]:
    """[(legend label, sub-dataset)] for one curve per value of ``by``."""
    if by is None:
        return [("", ds)]
    factor, unit = display_scale(ds[by].attrs)
    return [(f"{by} = {format_value(float(v), factor, unit)}", ds.isel({by: i}))
            for i, v in enumerate(ds[by].values)]


# --------------------------------------------------------------------------- theory
#: style of every closed-form overlay
THEORY_STYLE = {"color": "black", "line_dash": "dashed", "line_width": 1.5}


#: legend label of the Ornstein-Uhlenbeck overlays (no threshold)
OU_LABEL = "theory (OU)"


def theory_values(full: xr.Dataset, theory: bool | xr.DataArray, kind: str = "rate") -> xr.DataArray | None:
    """The closed-form ``rate`` (Hz) or ISI ``cv`` over ``full``'s points, or None.

    ``theory`` may be a DataArray to draw instead, True for :mod:`lifbatch.theory`'s,
    or False for none.
    """
    if isinstance(theory, xr.DataArray):
        return theory
    if not theory or not has_theory(full):  # (a model without theory: no overlay, nothing computed)
        return None
    from .theory import theory_cv, theory_rate

    # None where the closed forms do not apply (other inputs, an infinite tau_m); an error
    # in them is a bug and raises, rather than leave a figure silently without its overlay
    return {"rate": theory_rate, "cv": theory_cv}[kind](full)


def theory_ou(d: xr.Dataset) -> xr.Dataset | None:
    """``lifbatch.theory.theory_ou`` of a selection, or None where (or when) it does not apply
    (a model without theory: None, nothing computed)."""
    if not has_theory(d):
        return None
    from .theory import theory_ou as ou

    th = ou(d)  # (None where it does not apply; an error raises)
    if th is None or not np.isfinite(th["v_var"].values).any():
        return None
    return th


def theory_label(theory: xr.DataArray) -> str:
    """Legend label of a theory DataArray: its ``long_name`` when it names a theory."""
    name = str(theory.attrs.get("long_name", ""))
    return name if name.startswith("theory") else "theory"


def theory_lines(theory: xr.DataArray, d: xr.Dataset, x: str, by: str | None,
                 where: Mapping[str, float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(x values in SI, theory in display units)], one per curve of ``by`` drawn."""
    if x not in theory.dims:
        return []
    point = {a: v for a, v in where.items() if a in theory.dims}
    if point:
        theory = sel_nearest(theory, point)
    if by is not None and by in theory.dims:
        curves = [sel_nearest(theory, {by: float(v)}) for v in d[by].values]
    else:
        curves = [theory]
    lines = []
    for t in curves:
        extra = [a for a in t.dims if a != x]
        if extra:  # axes the simulation does not vary here: drop rather than guess
            t = t.isel({a: 0 for a in extra})
        tfac = display_scale(t.attrs, default="Hz")[0] if t.attrs.get("units") else 1.0
        lines.append((np.asarray(t[x].values, dtype=float),
                      np.asarray(t.values, dtype=float) * tfac))
    return lines


def grid_labels(values: np.ndarray) -> list[str]:
    """Tick / category labels of grid values in display units (4 significant digits,
    more where that would make two values look the same)."""
    values = np.asarray(values, dtype=float)
    for digits in (4, 6, 9, 12, 17):
        labels = [f"{v:.{digits}g}" for v in values]
        if len(set(labels)) == len(set(values.tolist())):
            return labels
    return labels


def is_regular(values: np.ndarray) -> bool:
    """True for at least two finite, evenly spaced values (a linspace axis)."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size < 2 or not np.isfinite(v).all():
        return False
    step = np.diff(v)
    return bool(step[0] > 0 and np.allclose(step, step[0], rtol=1e-6, atol=0))


def cell_edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around (possibly irregular) coordinate values."""
    c = np.asarray(centres, dtype=float)
    if c.size == 1:
        half = abs(c[0]) * 0.5 or 0.5
        return np.array([c[0] - half, c[0] + half])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


# --------------------------------------------------------------------------- one point
def select_point(ds, sel, func: str) -> tuple[xr.Dataset, xr.Dataset, dict[str, float]]:
    full = open_dataset(ds)
    d, fixed = select(full, sel)
    need_point(d, func)
    return full, d, fixed


def point_note(d: xr.Dataset, what: str) -> str | None:
    """Why a figure of one point has nothing to show, or None when it has.

    Parameters
    ----------
    d : Dataset
        One selected point.
    what : {"spikes", "isi", "moments", "mean"}
        What the figure draws: spike times, the ISI histogram, variance or
        autocovariance across trials, the trial mean of V.

    Returns
    -------
    str or None
        A sentence for the empty panel.
    """
    status = int(d["status"].values) if "status" in d and d["status"].size == 1 else None
    if status == 0:
        return "pending point: not simulated yet (press Refresh later)"
    if status == 2:
        return "failed point: no results"
    if what == "spikes":
        if "spike_bits" in d and not np.asarray(d["spike_bits"].values).any():
            return "no spikes at this point"
    elif what == "isi":
        if "isi_hist" in d and not np.nansum(np.asarray(d["isi_hist"].values, dtype=float)):
            if "isi_mean" in d and np.isfinite(float(d["isi_mean"].values)):
                return "no ISI within the histogram's range"
            return "no ISIs: no trial has two spikes after warmup"
    elif what == "moments":
        if d.sizes.get("trial", 2) < 2:
            return "one trial: no variance or covariance across trials (needs 2 or more)"
    return None


def isi_hist_data(d: xr.Dataset) -> tuple[Axis, np.ndarray, np.ndarray]:
    """(ISI axis, bin edges in display units, counts) of one selected point."""
    counts = np.asarray(d["isi_hist"].values, dtype=float)
    ax = axis_of("isi", d["isi_bin"].attrs, label="ISI")
    if "isi_bin_lower" in d.coords and "isi_bin_upper" in d.coords:
        edges = np.append(d["isi_bin_lower"].values, d["isi_bin_upper"].values[-1])
    else:
        edges = cell_edges(d["isi_bin"].values)
    return ax, edges * ax.factor, counts


class Ensemble(NamedTuple):
    """The V ensemble of one point in display units."""

    t: Axis
    v: Axis
    trace_time: np.ndarray | None
    traces: np.ndarray | None  # (recorded trial, trace_time)
    time: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    spike: float | None  # the spike rule's parameter (v_th, v_spike, v_peak), display units
    spike_label: str     # its legend: "threshold" (v_th), else the parameter's name
    theory_mean: np.ndarray | None  # OU theory (no threshold), else None
    theory_std: np.ndarray | None


def ensemble_data(full: xr.Dataset, d: xr.Dataset) -> Ensemble:
    """V traces, mean and std over trials, the spike rule's line (:func:`spike_line`) and OU
    theory of one selected point ``d``."""
    t = axis_of("time", d["time"].attrs, default="ms")
    v = axis_of("v", d["v_mean"].attrs, label="V", default=voltage_display(full))
    trace_time = traces = None
    if "v" in d and "trace_time" in d.dims:
        traces = d["v"].transpose("trace_trial", "trace_time").values * v.factor
        trace_time = (d["trace_time"].values
                      * display_scale(d["trace_time"].attrs, default="ms")[0])
    spike_label, spike = spike_line(full, d)
    th = theory_ou(d)
    return Ensemble(
        t, v, trace_time, traces, d["time"].values * t.factor, d["v_mean"].values * v.factor,
        np.sqrt(np.clip(d["v_var"].values, 0, None)) * v.factor,
        spike * v.factor if spike is not None else None, spike_label,
        th["v_mean"].values * v.factor if th is not None else None,
        np.sqrt(np.clip(th["v_var"].values, 0, None)) * v.factor if th is not None else None)


def spike_raster_times(ds: xr.Dataset, d: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, trial index) of every spike of one point, from ``spike_bits``."""
    dt = _si_attr(ds, "dt")
    duration = _si_attr(ds, "duration")
    if dt is None:
        raise ValueError("the Dataset has no 'dt' attribute (nor workflow.dt); "
                         "cannot place spikes in time")
    bits = np.asarray(d["spike_bits"].transpose("trial", "spike_byte").values, dtype=np.uint8)
    raster = np.unpackbits(bits, axis=-1)
    if duration is not None:
        raster = raster[:, : int(round(duration / dt))]
    trial_idx, step = np.nonzero(raster)
    # bit k set = spike at time (k+1)*dt (docs/store-layout.md)
    return (step + 1) * dt, d["trial"].values[trial_idx]


def raster_xmax(full: xr.Dataset, times: np.ndarray) -> float:
    """Right end of a raster's time axis (s): the duration, else the last spike."""
    return _si_attr(full, "duration") or (float(times.max()) if times.size else 1.0)


# --------------------------------------------------------------------------- recorded state and inputs
def is_trace(ds: xr.Dataset, name: str) -> bool:
    return tuple(ds[name].dims[-2:]) == ("trace_trial", "trace_time")


def recorded_state(ds: xr.Dataset) -> list[str]:
    """The state variables a store records besides V (``record.state``: m, n, h; w; u),
    in the model's order."""
    names = [str(n) for n in ds.data_vars
             if n != "v" and not str(n).startswith("input_") and is_trace(ds, n)]
    model = neuron_model(ds)
    order = [s.name for s in model.state] if model is not None else []
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def recorded_inputs(ds: xr.Dataset) -> list[str]:
    """The store's recorded inputs (``record.inputs``), as variables ``input_<drive>``, in
    the workflow's order of the drives."""
    names = [str(n) for n in ds.data_vars if str(n).startswith("input_") and is_trace(ds, n)]
    drives = [d.get("name") for d in _canonical(ds).get("drives", []) if isinstance(d, dict)]
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
        if (str(attrs.get("param", "")).startswith(f"inputs.{drive}.") and attrs.get("units") == si
                and attrs.get("display_units")):
            return str(attrs["display_units"])
    spec = stored_workflow(full).get("inputs", {})
    spec = spec.get(drive) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return None
    from .units import Quantity, unit_dimensionality

    try:
        want = unit_dimensionality(si)
    except _unit_errors():
        return None
    for value in spec.values():
        if not isinstance(value, str):
            continue
        try:
            q = Quantity(value)
        except _unit_errors():  # (a field that is not a quantity: not the unit sought)
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
    shown = ((voltage_display(full) if si == "V" else None) or _written_unit(full, name, si)
             or _auto_unit(si, values))
    if shown:
        attrs["display_units"] = shown
    return attrs


class TracePanel(NamedTuple):
    """Recorded traces of one point in one panel (display units): the variables of one unit."""

    title: str                            # "State m, n, h", "Input I"
    t: Axis
    y: Axis                              # label: the variables' names, their unit
    time: np.ndarray                      # trace_time
    lines: list[tuple[str, np.ndarray]]   # (variable's label, traces: (recorded trial, time))
    trials: np.ndarray                    # the recorded trials (trace_trial)
    note: str | None                      # why there is nothing to draw, or None


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
    values = {n: np.asarray(d[n].transpose("trace_trial", "trace_time").values, dtype=float)
              for n in names}
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


def trace_curves(full: xr.Dataset, d: xr.Dataset, x: str, var: str,
                 trial: int | None = None) -> TraceCurves:
    """Recorded ``var`` (``v``, ``input_I``, a state variable) of one trial (default: the first
    recorded) at every value of ``x`` in ``d`` (the other sweep axes selected)."""
    if trial is None:
        trial = int(np.atleast_1d(d["trace_trial"].values)[0])
    elif trial not in np.atleast_1d(full["trace_trial"].values):
        raise ValueError(f"trial {trial} is not recorded; recorded trials: "
                         f"{np.atleast_1d(full['trace_trial'].values).tolist()}")
    one = d[[var]].sel(trace_trial=trial) if "trace_trial" in d[var].dims else d[[var]]
    one = one.transpose(x, "trace_time").compute()
    t = axis_of("time", d["trace_time"].attrs, default="ms")
    label = _trace_label(var)
    attrs = _trace_attrs(full, var, one[var].values)
    y = axis_of(var, attrs, label=label)
    curves = [(lbl, np.asarray(g[var].values, dtype=float) * y.factor) for lbl, g in curve_groups(one, x)]
    return TraceCurves(t, y, d["trace_time"].values * t.factor, curves, trial)


def trace_title(var: str, trial: int) -> str:
    what = "Membrane potential" if var == "v" else f"{'Input' if var.startswith('input_') else 'State'} {_trace_label(var)}"
    return f"{what}, trial {trial}"


# --------------------------------------------------------------------------- sampled designs
#: markers of the points added in rounds 1, 2, ... (the design's points are circles)
ROUND_MARKERS = ("triangle", "square", "diamond", "inverted_triangle", "hex", "star")


#: summaries a sampled figure can show (colour of the scatter, y of the projections)
SUMMARIES = ("rate", "isi_cv", "isi_mean", "isi_std", "rate_std")


#: figure titles of the summaries
SUMMARY_TITLES = {"rate": "Firing rate", "isi_cv": "ISI CV", "isi_mean": "ISI mean",
                  "isi_std": "ISI std", "rate_std": "Rate std"}


#: colour of points without a value (pending, failed, or no ISI), as the heatmaps' NaN cells
NAN_COLOR = "#dddddd"


_PENDING_COLOR = "#777777"


def is_sampled(ds: xr.Dataset) -> bool:
    """True for the results of a sampled design (a ``sample`` dimension with its parameters)."""
    return bool(sampled_params(ds))


def grid_axes(ds: xr.Dataset) -> list[str]:
    """The sweep axes other than ``sample`` (the grid axes of a sampled store)."""
    return [a for a in sweep_axes(ds) if a != SAMPLE]


def summaries(ds: xr.Dataset) -> list[str]:
    """The summaries of :data:`SUMMARIES` the Dataset holds, one value per point."""
    axes = set(sweep_axes(ds))
    return [v for v in SUMMARIES if v in ds and set(ds[v].dims) <= axes]


def log_scale(ds: xr.Dataset, name: str) -> bool:
    """True when the sampled parameter ``name`` was drawn evenly in its logarithm."""
    return ds[name].attrs.get("scale") == "log"


def log_ticks(lo: float, hi: float) -> list[float]:
    """The labelled ticks of a log axis over ``lo``..``hi`` (> 0): 1, 2 and 5 times each
    power of ten in the range, or, over more than three decades, the powers of ten alone;
    every decade is labelled either way, and the range's ends are ticks too when no power
    of ten lies inside it. Renderer-neutral (the review app and the report use it)."""
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mantissas = (1,) if last - first > 3 else (1, 2, 5)
    ticks = [float(f"{m}e{k}") for k in range(first, last + 1) for m in mantissas]
    ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    return ticks if len(ticks) >= 2 else sorted({float(f"{lo:.2g}"), *ticks, float(f"{hi:.2g}")})


def round_label(k: int) -> str:
    """'design' for round 0, else 'added in round k'."""
    return "design" if k == 0 else f"added in round {k}"


class SampleLayer(NamedTuple):
    """The points of a sampled slice drawn alike: one round, one state."""

    label: str          # legend: "design", "added in round 2", "pending", "added in round 1, pending"
    round: int
    state: str          # "done", "pending" or "failed"
    marker: str         # Bokeh marker name
    index: np.ndarray   # positions along ``sample``

    @property
    def style(self) -> dict[str, Any]:
        """Bokeh scatter properties besides the fill colour of a done point.

        The design's points have no outline; points added by refinement have a black one
        and a marker of their round; pending points are hollow and grey; failed ones red
        crosses.
        """
        if self.state == "pending":
            return {"marker": self.marker, "size": 9, "fill_alpha": 0.0,
                    "line_color": _PENDING_COLOR, "line_width": 1.5}
        if self.state == "failed":
            return {"marker": "x", "size": 9, "line_color": PALETTE[3], "line_width": 2}
        if self.round == 0:
            return {"marker": self.marker, "size": 8, "line_color": None}
        return {"marker": self.marker, "size": 11, "line_color": "black", "line_width": 1.5}


def _as_sample(values: Any, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(values).ravel() if np.ndim(values) else values, (n,)).copy()


def sample_rounds(d: xr.Dataset) -> np.ndarray:
    """Each sample's round (``sample_round``; 0, the design, where a store has none)."""
    n = d.sizes[SAMPLE]
    return _as_sample(d[ROUND].values, n).astype(int) if ROUND in d.coords else np.zeros(n, int)


def sample_layers(d: xr.Dataset, rounds: np.ndarray | None = None) -> list[SampleLayer]:
    """The points of a slice along ``sample`` (the grid axes selected), grouped by round and
    status: done, pending and failed points of the design (round 0), then of each round
    (``rounds``: :func:`sample_rounds` of ``d``, when the caller has them)."""
    n = d.sizes[SAMPLE]
    rounds = sample_rounds(d) if rounds is None else rounds
    status = (_as_sample(d["status"].values, n).astype(int) if "status" in d
              else np.ones(n, int))
    layers = []
    for k in np.unique(rounds):
        k = int(k)
        marker = "circle" if k == 0 else ROUND_MARKERS[(k - 1) % len(ROUND_MARKERS)]
        for state, code in (("done", 1), ("pending", 0), ("failed", 2)):
            index = np.flatnonzero((rounds == k) & (status == code))
            if not index.size:
                continue
            if state == "done":
                label = round_label(k)
            else:
                label = state if k == 0 else f"{round_label(k)}, {state}"
            layers.append(SampleLayer(label, k, state, marker, index))
    return layers


def summary_axis(d: xr.Dataset, var: str) -> Axis:
    """How a summary is shown (rate in Hz, ISI times in ms, CV without unit)."""
    return axis_of(var, d[var].attrs, default="Hz" if var in ("rate", "rate_std") else None,
                   label=LABELS.get(var))


def select_samples(full: xr.Dataset, sel: Mapping[str, Any], func: str) -> tuple[xr.Dataset, dict]:
    """Select grid-axis values (SI, nearest) of a sampled Dataset, squeezing length-1 grid
    axes but never ``sample`` (a design of one point stays a design)."""
    params = sampled_params(full)
    if not params:
        raise ValueError(
            f"{func} draws sampled designs (a workflow with a `sample` section: a `sample` dimension "
            f"with the sampled parameters along it); this store is a grid over {sweep_axes(full)}: "
            "use rate_heatmap, rate_curve or overview")
    axes = sweep_axes(full)
    bad = [k for k in sel if k not in axes or k == SAMPLE]
    if bad:
        raise ValueError(
            f"{func}: {bad[0]!r} is not a grid axis of this sampled store (grid axes: "
            f"{grid_axes(full)}; the sampled parameters {params} are plotted, and one sample is "
            f"shown by the one-point figures: raster(ds, sample=0, ...))")
    d = sel_nearest(full, sel) if sel else full
    fixed = {k: float(d[k].values) for k in sel}
    for a in grid_axes(full):
        if a in d.dims and d.sizes[a] == 1:
            fixed[a] = float(d[a].values[0])
            d = d.isel({a: 0})
    return d, fixed


def check_sampled_param(full: xr.Dataset, name: str, func: str) -> None:
    params = sampled_params(full)
    if name not in params:
        raise ValueError(f"{func}: {name!r} is not a sampled parameter; this design samples {params}")


def check_summary(full: xr.Dataset, var: str, func: str) -> None:
    if var not in summaries(full):
        raise ValueError(f"{func}: var={var!r} is not a summary of this store; choose one of "
                         f"{summaries(full)}")


class SampleData(NamedTuple):
    """A slice of a sampled design in display units (what the scatter figures draw)."""

    x: Axis
    y: Axis
    z: Axis | None       # the colour (scatter over two parameters), or None
    xs: np.ndarray
    ys: np.ndarray
    zs: np.ndarray | None
    sample: np.ndarray    # the points' numbers (coordinate of ``sample``)
    rounds: np.ndarray
    layers: list[SampleLayer]
    clim: tuple[float, float]


def _clim(values: np.ndarray | None) -> tuple[float, float]:
    finite = np.asarray(values, dtype=float)[np.isfinite(values)] if values is not None else np.empty(0)
    if not finite.size:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def sample_data(d: xr.Dataset, x: str, y: str, var: str | None) -> SampleData:
    """``x`` against ``y`` (each a sampled parameter or a summary), coloured by ``var``, of a
    slice along ``sample`` (display units)."""
    n = d.sizes[SAMPLE]

    def axis(name: str) -> tuple[Axis, np.ndarray]:
        ax = summary_axis(d, name) if name in SUMMARIES else axis_of(name, d[name].attrs)
        return ax, _as_sample(np.asarray(d[name].values, dtype=float), n) * ax.factor

    (xa, xs), (ya, ys) = axis(x), axis(y)
    za, zs = axis(var) if var is not None else (None, None)
    rounds = sample_rounds(d)
    return SampleData(xa, ya, za, xs, ys, zs, _as_sample(d[SAMPLE].values, n), rounds,
                      sample_layers(d, rounds), _clim(zs))


def sample_point_label(ds: xr.Dataset, point: Mapping[str, float]) -> str:
    """'sample 5 (mu = 1.1, sigma = 0.3 mV; added in round 1), tref = 2 ms' for a point of a
    sampled design; the grid's label (:func:`point_label`) otherwise."""
    if SAMPLE not in point or not sampled_params(ds):
        return point_label(ds, point)
    i = nearest_index(ds[SAMPLE].values, float(point[SAMPLE]))
    values = []
    for p in sampled_params(ds):
        factor, unit = display_scale(ds[p].attrs)
        values.append(f"{p} = {format_value(float(ds[p].values[i]), factor, unit)}")
    k = int(ds[ROUND].values[i]) if ROUND in ds.coords else 0
    head = f"sample {int(ds[SAMPLE].values[i])} ({', '.join(values)}; {round_label(k)})"
    rest = point_label(ds, {a: v for a, v in point.items() if a != SAMPLE})
    return f"{head}, {rest}" if rest else head


def nearest_index(values: np.ndarray, value: float) -> int:
    """Index of ``value`` on an axis: the equal value (inf too), else the nearest finite one."""
    values = np.asarray(values, dtype=float)
    same = np.flatnonzero(values == value)
    if same.size:
        return int(same[0])
    with np.errstate(invalid="ignore"):
        return int(np.nanargmin(np.abs(values - value)))


def theory_at_samples(theory: xr.DataArray | None, d: xr.Dataset,
                      where: Mapping[str, float]) -> np.ndarray | None:
    """Closed-form values at the samples of a slice ``d`` (display units), or None."""
    if theory is None or SAMPLE not in theory.dims:
        return None
    point = {a: v for a, v in where.items() if a in theory.dims}
    t = sel_nearest(theory, point) if point else theory
    extra = [a for a in t.dims if a != SAMPLE]
    if extra:  # (axes the slice does not vary: not drawn rather than guessed)
        return None
    try:
        t = t.sel({SAMPLE: d[SAMPLE].values})
    except (KeyError, IndexError):
        return None
    factor = display_scale(t.attrs, default="Hz")[0] if t.attrs.get("units") else 1.0
    values = np.asarray(t.values, dtype=float) * factor
    return values if np.isfinite(values).any() else None


# --------------------------------------------------------------------------- overview
def thin_axis(ds: xr.Dataset, axis: str, max_n: int = 6) -> xr.Dataset:
    """Keep at most ``max_n`` evenly spaced values of ``axis`` (readable legends)."""
    n = ds.sizes[axis]
    if n <= max_n:
        return ds
    idx = np.unique(np.round(np.linspace(0, n - 1, max_n)).astype(int))
    return ds.isel({axis: idx})
