"""Figure data: display units, selection over free axes, titles, the store's workflow and model,
theory lines, one point's data (see :mod:`lifbatch.figures`)."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from os import PathLike
from typing import Any, NamedTuple

import numpy as np
import pint
import xarray as xr

from ..layout import sampled_params
from ..models import MODELS
from ..theory import theory_cv, theory_ou as ou, theory_rate
from ..units import Quantity, convert, to_si  # (the package's one pint registry)

__all__ = [
    "PALETTE",
    "LABELS",
    "WIDTH",
    "HEIGHT",
    "TITLE_SIZE",
    "MAX_FRAMES",
    "open_dataset",
    "sweep_axes",
    "unit_errors",
    "display_scale",
    "Axis",
    "axis_of",
    "voltage_display",
    "square_attrs",
    "format_value",
    "point_label",
    "axis_text",
    "label_positions",
    "sel_nearest",
    "select",
    "need_point",
    "free_axes",
    "free_points",
    "figure_title",
    "stored_workflow",
    "canonical_workflow",
    "model_name",
    "neuron_model",
    "has_theory",
    "spike_line",
    "curve_groups",
    "THEORY_STYLE",
    "OU_LABEL",
    "theory_values",
    "theory_ou",
    "theory_label",
    "theory_lines",
    "grid_labels",
    "is_regular",
    "cell_edges",
    "select_point",
    "point_note",
    "isi_hist_data",
    "Ensemble",
    "ensemble_data",
    "spike_raster_times",
    "raster_xmax",
    "thin_axis",
    "sampled_params",
]


#: colours of successive curves (bokeh's Category10)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


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
            # (deferred: a Dataset is drawn without the store layer; a path is opened with it)
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
            return [str(d) for d in ds[name].dims if d != "trial"]
    raise ValueError(
        "not a lifbatch results Dataset: it has none of the variables 'rate', 'status', "
        f"'spike_count' (variables: {sorted(map(str, ds.data_vars))})"
    )


def unit_errors() -> tuple[type[BaseException], ...]:
    """What pint raises for a unit string it cannot read or convert (a store's attributes, a
    workflow's text): its own errors, and AssertionError from its parser on a malformed
    expression ("1 /")."""
    return pint.PintError, AssertionError, ValueError


@functools.lru_cache(maxsize=256)
def _scale(si: str, display: str) -> float:
    try:
        return convert(1.0, si, display)
    except unit_errors():  # unknown or inconsistent unit strings: show SI rather than fail
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


def axis_of(name: str, attrs: Mapping[str, Any], *, label: str | None = None, default: str | None = None) -> Axis:
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
    """'tau_m = 10 ms, I = 250 pA' for the selected coordinate values (a labelled axis by
    its label: :func:`label_positions`)."""
    return ", ".join(f"{axis} = {axis_text(ds, axis, value)}" for axis, value in fixed.items())


def axis_text(ds: xr.Dataset, axis: str, value: float) -> str:
    """A sweep axis's value as the user reads it: a labelled axis's label (its coordinate
    made positions by :func:`label_positions`), else the value in its display unit."""
    labels = ds[axis].attrs.get("labels")
    if labels is not None:
        return str(labels[int(value)])
    factor, unit = display_scale(ds[axis].attrs)
    return format_value(float(value), factor, unit)


def label_positions(ds: xr.Dataset) -> xr.Dataset:
    """A labelled axis (its coordinate the labels, strings) as the positions 0, 1, ... that the
    figures place points by, its labels in the coordinate's ``labels`` attribute: the sliders,
    the point's heading, ticks and legends speak labels (:func:`axis_text`)."""
    for axis in sweep_axes(ds):
        values = np.asarray(ds[axis].values)
        if values.dtype.kind in "TUO":
            ds = ds.assign_coords(
                {
                    axis: (
                        axis,
                        np.arange(values.size, dtype=float),
                        {**ds[axis].attrs, "labels": [str(v) for v in values]},
                    )
                }
            )
    return ds


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
    return (
        f"{axis} has {values.size} values from {values.min():.4g} to {values.max():.4g} "
        f"(SI {ds[axis].attrs.get('units', '1')}; {format_value(values.min(), factor, unit)}"
        f" .. {format_value(values.max(), factor, unit)})"
    )


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
            raise ValueError(
                f"{func}: {name!r} is not a sweep axis with more than one value left after selection; axes are {axes}"
            )
    free = [a for a in axes if a not in plotted and a in ds.dims]
    n_frames = int(np.prod([ds.sizes[a] for a in free]))
    if n_frames > MAX_FRAMES:
        raise ValueError(
            f"{func}: axes {free} are neither plotted nor selected ({n_frames} combinations); "
            f"select them, e.g. {func}(ds, ..., " + ", ".join(f"{a}={float(ds[a].values[0]):.4g}" for a in free) + ")"
        )
    return free


def free_points(ds: xr.Dataset, free: list[str]) -> list[dict[str, float]]:
    """Every combination of the values of the axes ``free`` (SI), the last fastest."""
    return [
        {a: float(ds[a].values[i]) for a, i in zip(free, index)} for index in np.ndindex(*[ds.sizes[a] for a in free])
    ]


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
    try:
        return to_si(Quantity(str(value)))
    except unit_errors():  # (not a quantity: no value)
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
    value = canonical_workflow(full).get("params", {}).get(param)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return _neuron_param(full, param.split(".", 1)[1]) if param.startswith("neuron.") else None


def canonical_workflow(ds: xr.Dataset) -> dict:
    """The store's canonical workflow (its ``canonical`` attribute, parsed), or {}."""
    raw = ds.attrs.get("canonical")
    return _parse_workflow(raw) if isinstance(raw, str) else {}


# --------------------------------------------------------------------------- neuron models
def model_name(ds: xr.Dataset) -> str:
    """The name of the store's neuron model (its canonical workflow's ``model``; ``lif``
    where it names none, as every store made before models existed)."""
    model = canonical_workflow(ds).get("model")
    name = model.get("name") if isinstance(model, dict) else model
    return name if isinstance(name, str) and name else "lif"


def neuron_model(ds: xr.Dataset):
    """The store's :class:`lifbatch.models.NeuronModel`, or None when no model of its name
    is registered in this process (a user's model whose package is not imported)."""
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
    return [(point_label(ds, {by: v}), ds.isel({by: i})) for i, v in enumerate(ds[by].values)]


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
    # None where the closed forms do not apply (other inputs, an infinite tau_m); an error
    # in them is a bug and raises, rather than leave a figure silently without its overlay
    return {"rate": theory_rate, "cv": theory_cv}[kind](full)


def theory_ou(d: xr.Dataset) -> xr.Dataset | None:
    """``lifbatch.theory.theory_ou`` of a selection, or None where (or when) it does not apply
    (a model without theory: None, nothing computed)."""
    if not has_theory(d):
        return None
    th = ou(d)  # (None where it does not apply; an error raises)
    if th is None or not np.isfinite(th["v_var"].values).any():
        return None
    return th


def theory_label(theory: xr.DataArray) -> str:
    """Legend label of a theory DataArray: its ``long_name`` when it names a theory."""
    name = str(theory.attrs.get("long_name", ""))
    return name if name.startswith("theory") else "theory"


def theory_lines(
    theory: xr.DataArray, d: xr.Dataset, x: str, by: str | None, where: Mapping[str, float]
) -> list[tuple[np.ndarray, np.ndarray]]:
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
        lines.append((np.asarray(t[x].values, dtype=float), np.asarray(t.values, dtype=float) * tfac))
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
    spike_label: str  # its legend: "threshold" (v_th), else the parameter's name
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
        trace_time = d["trace_time"].values * display_scale(d["trace_time"].attrs, default="ms")[0]
    spike_label, spike = spike_line(full, d)
    th = theory_ou(d)
    return Ensemble(
        t,
        v,
        trace_time,
        traces,
        d["time"].values * t.factor,
        d["v_mean"].values * v.factor,
        np.sqrt(np.clip(d["v_var"].values, 0, None)) * v.factor,
        spike * v.factor if spike is not None else None,
        spike_label,
        th["v_mean"].values * v.factor if th is not None else None,
        np.sqrt(np.clip(th["v_var"].values, 0, None)) * v.factor if th is not None else None,
    )


def spike_raster_times(ds: xr.Dataset, d: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, trial index) of every spike of one point, from ``spike_bits``."""
    dt = _si_attr(ds, "dt")
    duration = _si_attr(ds, "duration")
    if dt is None:
        raise ValueError("the Dataset has no 'dt' attribute (nor workflow.dt); cannot place spikes in time")
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


# --------------------------------------------------------------------------- overview
def thin_axis(ds: xr.Dataset, axis: str, max_n: int = 6) -> xr.Dataset:
    """Keep at most ``max_n`` evenly spaced values of ``axis`` (readable legends)."""
    n = ds.sizes[axis]
    if n <= max_n:
        return ds
    idx = np.unique(np.round(np.linspace(0, n - 1, max_n)).astype(int))
    return ds.isel({axis: idx})
