"""Figure data of sampled designs (a ``sample`` dimension with its parameters): points by round
and status, scatter and projection data (see :mod:`lifbatch.figures`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from ..layout import ROUND, SAMPLE, sampled_params
from .core import LABELS, PALETTE, Axis, axis_of, display_scale, format_value, point_label, sel_nearest, sweep_axes

__all__ = [
    "ROUND_MARKERS",
    "SUMMARIES",
    "SUMMARY_TITLES",
    "NAN_COLOR",
    "is_sampled",
    "grid_axes",
    "summaries",
    "log_scale",
    "log_ticks",
    "round_label",
    "SampleLayer",
    "sample_rounds",
    "sample_layers",
    "summary_axis",
    "select_samples",
    "check_sampled_param",
    "check_summary",
    "SampleData",
    "sample_data",
    "sample_point_label",
    "nearest_index",
    "theory_at_samples",
]

# --------------------------------------------------------------------------- sampled designs
#: markers of the points added in rounds 1, 2, ... (the design's points are circles)
ROUND_MARKERS = ("triangle", "square", "diamond", "inverted_triangle", "hex", "star")


#: summaries a sampled figure can show (colour of the scatter, y of the projections)
SUMMARIES = ("rate", "isi_cv", "isi_mean", "isi_std", "rate_std")


#: figure titles of the summaries
SUMMARY_TITLES = {
    "rate": "Firing rate",
    "isi_cv": "ISI CV",
    "isi_mean": "ISI mean",
    "isi_std": "ISI std",
    "rate_std": "Rate std",
}


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

    label: str  # legend: "design", "added in round 2", "pending", "added in round 1, pending"
    round: int
    state: str  # "done", "pending" or "failed"
    marker: str  # Bokeh marker name
    index: np.ndarray  # type: ignore[assignment]  # positions along ``sample`` (a field: hides tuple.index)

    @property
    def style(self) -> dict[str, Any]:
        """Bokeh scatter properties besides the fill colour of a done point.

        The design's points have no outline; points added by refinement have a black one
        and a marker of their round; pending points are hollow and grey; failed ones red
        crosses.
        """
        if self.state == "pending":
            return {
                "marker": self.marker,
                "size": 9,
                "fill_alpha": 0.0,
                "line_color": _PENDING_COLOR,
                "line_width": 1.5,
            }
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
    status = _as_sample(d["status"].values, n).astype(int) if "status" in d else np.ones(n, int)
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
    return axis_of(var, d[var].attrs, default="Hz" if var in ("rate", "rate_std") else None, label=LABELS.get(var))


def select_samples(full: xr.Dataset, sel: Mapping[str, Any], func: str) -> tuple[xr.Dataset, dict]:
    """Select grid-axis values (SI, nearest) of a sampled Dataset, squeezing length-1 grid
    axes but never ``sample`` (a design of one point stays a design)."""
    params = sampled_params(full)
    if not params:
        raise ValueError(
            f"{func} draws sampled designs (a workflow with a `sample` section: a `sample` dimension "
            f"with the sampled parameters along it); this store is a grid over {sweep_axes(full)}: "
            "use rate_heatmap, rate_curve or overview"
        )
    axes = sweep_axes(full)
    bad = [k for k in sel if k not in axes or k == SAMPLE]
    if bad:
        raise ValueError(
            f"{func}: {bad[0]!r} is not a grid axis of this sampled store (grid axes: "
            f"{grid_axes(full)}; the sampled parameters {params} are plotted, and one sample is "
            f"shown by the one-point figures: raster(ds, sample=0, ...))"
        )
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
        raise ValueError(f"{func}: var={var!r} is not a summary of this store; choose one of {summaries(full)}")


class SampleData(NamedTuple):
    """A slice of a sampled design in display units (what the scatter figures draw)."""

    x: Axis
    y: Axis
    z: Axis | None  # the colour (scatter over two parameters), or None
    xs: np.ndarray
    ys: np.ndarray
    zs: np.ndarray | None
    sample: np.ndarray  # the points' numbers (coordinate of ``sample``)
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
    return SampleData(
        xa, ya, za, xs, ys, zs, _as_sample(d[SAMPLE].values, n), rounds, sample_layers(d, rounds), _clim(zs)
    )


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


def theory_at_samples(theory: xr.DataArray | None, d: xr.Dataset, where: Mapping[str, float]) -> np.ndarray | None:
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
