"""HoloViews figures of sweep results, labelled in the user's units.

Every function takes a results Dataset (``lifbatch.open_results(store)`` or
``lifbatch.simulate(workflow)``) or a store path, and returns a HoloViews object
(rendered by the bokeh backend; in a notebook run ``hv.extension("bokeh")`` or
``import hvplot.xarray`` first). Coordinates and values are stored in SI; the
figures convert them to ``attrs["display_units"]`` (what the workflow was written
in: ms, mV, pA, ...). Where a variable has no ``display_units`` the defaults are
mV for volts, ms for seconds and SI otherwise.

Closed-form theory (:mod:`lifbatch.theory`) is drawn as black dashed lines wherever it
applies: the Siegert rate and ISI CV for constant and white-noise input ("theory
(Siegert)"), and for a neuron without threshold the Ornstein-Uhlenbeck mean, variance and
autocovariance of V ("theory (OU)"). Where it does not apply there is no overlay, and a
neuron model without theory (every model but the LIF) gets none.

The figures follow the store's neuron model: the line on V is its spike rule's parameter
(``v_th``, ``v_spike``, ``v_peak``), and ``state_traces`` / ``input_traces`` draw the state
variables and inputs it records (``record.state``, ``record.inputs``).

Selection keyword arguments (``tau_m=0.02, I=2.5e-10``) are SI coordinate values,
matched with ``method="nearest"``. Summary figures (``rate_curve``, ``isi_cv``, ...)
take the axes they plot as arguments; any other sweep axis with more than one value
that is not selected becomes a HoloMap dimension (a slider in a notebook). Figures of
one point (``raster``, ``v_ensemble``, ...) need every axis with more than one value
selected.

A sampled design (a workflow's ``sample`` section: the store's ``sample`` dimension, with
the sampled parameters as coordinates along it) is drawn as scatter plots:
``sample_scatter`` (a summary as colour over two sampled parameters) and
``sample_projection`` (a summary against one parameter), points added by refinement
marked with their round; its points' own figures take ``sample=NUMBER`` with the grid
axes (``raster(ds, sample=5, tref=2e-3)``).

Examples
--------
>>> import lifbatch.plotting as lp                                # doctest: +SKIP
>>> lp.rate_curve("results/pypet.zarr", "I", by="t_ref")          # doctest: +SKIP
>>> lp.raster(ds, t_ref=5e-3, I=0.5e3)                            # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from os import PathLike
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .layout import ROUND, SAMPLE, sampled_params

__all__ = [
    "rate_curve",
    "rate_heatmap",
    "cv_heatmap",
    "isi_histogram",
    "isi_errorbar",
    "isi_cv",
    "v_ensemble",
    "v_variance",
    "v_autocov",
    "raster",
    "state_traces",
    "input_traces",
    "traces",
    "overview",
    "sample_scatter",
    "sample_projection",
    "sample_projections",
    "sample_overview",
    "sampled_params",
    "is_sampled",
    "open_dataset",
    "sweep_axes",
    "display_scale",
]

#: colours of successive curves (bokeh's Category10)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")

#: display unit used when a variable has no ``display_units`` attribute
_DEFAULT_DISPLAY = {"V": "mV", "V^2": "mV^2", "V**2": "mV^2", "s": "ms"}

#: human labels of the contract's variables
_LABELS = {
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

_WIDTH, _HEIGHT = 460, 320
_TITLE_SIZE = "10pt"
#: a HoloMap over unselected axes is built eagerly; beyond this many frames, ask for a selection
_MAX_FRAMES = 200


# --------------------------------------------------------------------------- imports
def _hv():
    """Import HoloViews with the bokeh backend loaded, or explain how to install it."""
    try:
        import holoviews as hv
        import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh backend)
    except ImportError as err:  # (the `review` extra)
        from .errors import missing_extra

        raise missing_extra("lifbatch.plotting", "review", "HoloViews, hvplot and Bokeh") from err
    if hv.Store.current_backend != "bokeh":
        hv.Store.set_current_backend("bokeh")
    return hv


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


@functools.lru_cache(maxsize=1)
def _ureg():
    import pint

    return pint.UnitRegistry()


@functools.lru_cache(maxsize=256)
def _scale(si: str, display: str) -> float:
    try:
        return float(_ureg().Quantity(1.0, si).to(display).magnitude)
    except Exception:  # unknown or inconsistent unit strings: show SI rather than fail
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


class _Axis(NamedTuple):
    """How a coordinate or variable is shown: SI-to-display factor, name, label, unit."""

    factor: float
    name: str
    label: str
    unit: str | None  # axis-label form; None for dimensionless

    @property
    def text(self) -> str:
        """Axis title as HoloViews writes it: ``label (unit)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def dimension(self):
        """The ``holoviews.Dimension`` of this axis."""
        return _hv().Dimension(self.name, label=self.label, unit=self.unit)


def _axis(name: str, attrs: Mapping[str, Any], *, label: str | None = None,
          default: str | None = None) -> _Axis:
    factor, unit = display_scale(attrs, default=default)
    return _Axis(factor, name, label or attrs.get("long_name") or _LABELS.get(name, name),
                 _pretty(unit))


def _dim(name: str, attrs: Mapping[str, Any], *, label: str | None = None,
         default: str | None = None) -> tuple[float, Any]:
    """(SI-to-display factor, hv.Dimension) of a coordinate or variable."""
    ax = _axis(name, attrs, label=label, default=default)
    return ax.factor, ax.dimension()


def _voltage_display(ds: xr.Dataset) -> str | None:
    """Display unit of voltage (``v_mean``'s, else ``v``'s), or None for the defaults."""
    for name in ("v_mean", "v"):
        if name in ds and ds[name].attrs.get("display_units"):
            return str(ds[name].attrs["display_units"])
    return None


def _square_attrs(ds: xr.Dataset, name: str) -> dict:
    """Attributes of a V^2 variable, with display units the square of V's."""
    attrs = dict(ds[name].attrs)
    vdisp = _voltage_display(ds)
    if not attrs.get("display_units") and vdisp and vdisp != "1":
        attrs["display_units"] = f"({vdisp})^2" if " " in vdisp else f"{vdisp}^2"
    return attrs


def _fmt_value(value: float, factor: float, unit: str) -> str:
    text = f"{value * factor:.4g}"
    pretty = _pretty(unit)
    return f"{text} {pretty}" if pretty else text


def _point_label(ds: xr.Dataset, fixed: Mapping[str, float]) -> str:
    """'tau_m = 10 ms, I = 250 pA' for the selected coordinate values."""
    parts = []
    for axis, value in fixed.items():
        labels = ds[axis].attrs.get("labels")  # (a labelled axis, by its positions: the review's)
        if labels is not None:
            parts.append(f"{axis} = {labels[int(value)]}")
            continue
        factor, unit = display_scale(ds[axis].attrs)
        parts.append(f"{axis} = {_fmt_value(float(value), factor, unit)}")
    return ", ".join(parts)


def _sel_nearest(obj, sel: Mapping[str, float]):
    """``obj.sel(sel, method="nearest")``, taking values on the grid exactly first (inf too:
    "nearest" would compute inf - inf)."""
    exact = {k: v for k, v in sel.items() if np.any(obj[k].values == v)}
    if exact:
        obj = obj.sel(exact)
    near = {k: v for k, v in sel.items() if k not in exact}
    return obj.sel(near, method="nearest") if near else obj


def _select(ds: xr.Dataset, sel: Mapping[str, Any]) -> tuple[xr.Dataset, dict[str, float]]:
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
        ds = _sel_nearest(ds, sel)
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
            f"(SI {ds[axis].attrs.get('units', '1')}; {_fmt_value(values.min(), factor, unit)}"
            f" .. {_fmt_value(values.max(), factor, unit)})")


def _need_point(ds: xr.Dataset, func: str) -> None:
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


def _over_free_axes(ds: xr.Dataset, fixed: dict[str, float], plotted: list[str],
                    build: Callable[[xr.Dataset, dict[str, float]], Any], func: str):
    """Call ``build`` on ``ds``, or build a HoloMap over the sweep axes left unselected."""
    hv = _hv()
    axes = sweep_axes(ds)
    for name in plotted:
        if name not in axes:
            raise ValueError(f"{func}: {name!r} is not a sweep axis with more than one value "
                             f"left after selection; axes are {axes}")
    free = [a for a in axes if a not in plotted and a in ds.dims]
    if not free:
        return build(ds, fixed)
    n_frames = int(np.prod([ds.sizes[a] for a in free]))
    if n_frames > _MAX_FRAMES:
        raise ValueError(
            f"{func}: axes {free} are neither plotted nor selected ({n_frames} combinations); "
            f"select them, e.g. {func}(ds, ..., "
            + ", ".join(f"{a}={float(ds[a].values[0]):.4g}" for a in free) + ")"
        )
    kdims, factors = [], []
    for a in free:
        factor, dim = _dim(a, ds[a].attrs)
        kdims.append(dim)
        factors.append(factor)
    frames = {}
    for index in np.ndindex(*[ds.sizes[a] for a in free]):
        point = {a: float(ds[a].values[i]) for a, i in zip(free, index)}
        key = tuple(point[a] * f for a, f in zip(free, factors))
        frames[key] = build(ds.sel(point), {**fixed, **point})
    return hv.HoloMap(frames, kdims=kdims)


def _title(prefix: str, ds: xr.Dataset, fixed: Mapping[str, float]) -> str:
    where = _point_label(ds, fixed)
    return f"{prefix} ({where})" if where else prefix


def _si_attr(ds: xr.Dataset, name: str) -> float | None:
    """A root attribute (or workflow key) in SI: a float, or a pint string."""
    value = ds.attrs.get(name)
    if value is None:
        value = _workflow(ds).get(name)
    return _to_si(value)


def _to_si(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float, np.number)):
        return float(value)
    try:
        q = _ureg().Quantity(str(value))
        return float(q.to_base_units().magnitude)
    except Exception:
        return None


def _workflow(ds: xr.Dataset) -> dict:
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
    neuron = _workflow(ds).get("neuron")
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


def _groups(ds: xr.Dataset, by: str | None) -> list[tuple[str, xr.Dataset]]:
    """[(legend label, sub-dataset)] for one curve per value of ``by``."""
    if by is None:
        return [("", ds)]
    return [(_point_label(ds, {by: v}), ds.isel({by: i})) for i, v in enumerate(ds[by].values)]


def _finish(overlay, title: str):
    """Common size, grid, title font and an outside legend (curves often fill the frame)."""
    return overlay.opts(title=title, width=_WIDTH + 140, height=_HEIGHT, show_grid=True,
                        legend_position="right", fontsize={"title": _TITLE_SIZE})


# --------------------------------------------------------------------------- summary figures
def rate_curve(ds: xr.Dataset | str | PathLike, x: str, *, by: str | None = None,
               theory: bool | xr.DataArray = True, **sel: float):
    """Firing rate vs one sweep axis, with a ±1 std band over trials.

    Parameters
    ----------
    ds : Dataset or store path
        Results (``rate``, ``rate_std``).
    x : str
        Sweep axis on the horizontal axis.
    by : str, optional
        Second sweep axis: one curve per value (the pypet figure).
    theory : bool or DataArray
        Draw the closed-form rate (``lifbatch.theory.theory_rate``) as black dashed
        lines where it applies; or a DataArray of the theoretical rate (Hz) over the
        sweep axes to draw instead; False for none.
    **sel : float
        SI values of other sweep axes (nearest match).

    Returns
    -------
    holoviews.Overlay (or HoloMap over unselected axes)
    """
    hv = _hv()
    full = open_dataset(ds)
    ds, fixed = _select(full, sel)
    theory_da = _theory(full, theory)
    plotted = [x] + ([by] if by else [])

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[["rate", "rate_std"]].compute()
        xfac, xdim = _dim(x, d[x].attrs)
        yfac, ydim = _dim("rate", d["rate"].attrs, default="Hz")
        xs = d[x].values * xfac
        layers = []
        for i, (label, g) in enumerate(_groups(d, by)):
            color = PALETTE[i % len(PALETTE)]
            rate = g["rate"].values * yfac
            std = g["rate_std"].values * yfac
            if np.isfinite(std).any() and np.isfinite(rate).any():
                band = hv.Spread((xs, rate, np.nan_to_num(std)), [xdim], [ydim, "rate_std"],
                                 label=label)
                layers.append(band.opts(color=color, alpha=0.2, line_alpha=0))
            curve = hv.Curve((xs, rate), [xdim], [ydim], label=label or "simulation")
            layers.append(curve.opts(color=color, line_width=2, tools=["hover", "tap"]))
        if theory_da is not None:
            layers.extend(_theory_layers(theory_da, d, x, by, where, xfac, xdim, ydim))
        return _finish(hv.Overlay(layers), _title("Firing rate", full, where))

    return _over_free_axes(ds, fixed, plotted, build, "rate_curve")


# --------------------------------------------------------------------------- theory
#: style of every closed-form overlay
_THEORY_STYLE = {"color": "black", "line_dash": "dashed", "line_width": 1.5}
#: legend label of the Ornstein-Uhlenbeck overlays (no threshold)
OU_LABEL = "theory (OU)"


def _theory(full: xr.Dataset, theory: bool | xr.DataArray, kind: str = "rate") -> xr.DataArray | None:
    """The closed-form ``rate`` (Hz) or ISI ``cv`` over ``full``'s points, or None.

    ``theory`` may be a DataArray to draw instead, True for :mod:`lifbatch.theory`'s,
    or False for none.
    """
    if isinstance(theory, xr.DataArray):
        return theory
    if not theory or not has_theory(full):  # (a model without theory: no overlay, nothing computed)
        return None
    try:
        from lifbatch.theory import theory_cv, theory_rate

        return {"rate": theory_rate, "cv": theory_cv}[kind](full)
    except Exception:  # theory is an overlay: never let it break the figure
        return None


def theory_ou(d: xr.Dataset) -> xr.Dataset | None:
    """``lifbatch.theory.theory_ou`` of a selection, or None where (or when) it does not apply
    (a model without theory: None, nothing computed)."""
    if not has_theory(d):
        return None
    try:
        from lifbatch.theory import theory_ou as ou

        th = ou(d)
    except Exception:  # an overlay: never let it break the figure
        return None
    if th is None or not np.isfinite(th["v_var"].values).any():
        return None
    return th


def _theory_label(theory: xr.DataArray) -> str:
    """Legend label of a theory DataArray: its ``long_name`` when it names a theory."""
    name = str(theory.attrs.get("long_name", ""))
    return name if name.startswith("theory") else "theory"


def _theory_lines(theory: xr.DataArray, d: xr.Dataset, x: str, by: str | None,
                  where: Mapping[str, float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(x values in SI, theory in display units)], one per curve of ``by`` drawn."""
    if x not in theory.dims:
        return []
    point = {a: v for a, v in where.items() if a in theory.dims}
    if point:
        theory = _sel_nearest(theory, point)
    if by is not None and by in theory.dims:
        curves = [_sel_nearest(theory, {by: float(v)}) for v in d[by].values]
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


def _theory_layers(theory: xr.DataArray, d: xr.Dataset, x: str, by: str | None,
                   where: Mapping[str, float], xfac: float, xdim, ydim) -> list:
    hv = _hv()
    label = _theory_label(theory)
    return [hv.Curve((xs * xfac, values), [xdim], [ydim], label=label).opts(**_THEORY_STYLE)
            for xs, values in _theory_lines(theory, d, x, by, where) if np.isfinite(values).any()]


# --------------------------------------------------------------------------- heatmaps
def rate_heatmap(ds: xr.Dataset | str | PathLike, x: str, y: str, **sel: float):
    """Firing rate as a heatmap over two sweep axes (irregular grids allowed).

    Parameters
    ----------
    ds : Dataset or store path
    x, y : str
        Sweep axes on the horizontal and vertical axis.
    **sel : float
        SI values of other sweep axes (nearest match).

    Returns
    -------
    holoviews.Image (evenly spaced axes), or HeatMap (one equal cell per grid value,
    categorical axes labelled with the values); or a HoloMap over unselected axes
    """
    return _heatmap(ds, "rate", x, y, sel, title="Firing rate", default="Hz", func="rate_heatmap")


def cv_heatmap(ds: xr.Dataset | str | PathLike, x: str, y: str, **sel: float):
    """ISI coefficient of variation as a heatmap over two sweep axes (see :func:`rate_heatmap`).

    Points with fewer than two ISIs have no CV (grey).
    """
    return _heatmap(ds, "isi_cv", x, y, sel, title="ISI CV", default=None, func="cv_heatmap")


def _heatmap(ds, var: str, x: str, y: str, sel: Mapping[str, float], *, title: str,
             default: str | None, func: str):
    hv = _hv()
    full = open_dataset(ds)
    ds, fixed = _select(full, sel)

    def build(d: xr.Dataset, where: dict[str, float]):
        z = np.asarray(d[var].transpose(y, x).values, dtype=float)
        xfac, xdim = _dim(x, d[x].attrs)
        yfac, ydim = _dim(y, d[y].attrs)
        zfac, zdim = _dim(var, d[var].attrs, default=default)
        xs, ys = d[x].values * xfac, d[y].values * yfac
        if _regular(xs) and _regular(ys):
            # one image glyph instead of n_x*n_y quads: much lighter for 10^4-point grids
            xe, ye = _edges(np.sort(xs)), _edges(np.sort(ys))
            order_x, order_y = np.argsort(xs), np.argsort(ys)
            img = z[order_y][:, order_x][::-1] * zfac  # Image rows run from the top
            mesh = hv.Image(img, bounds=(xe.min(), ye.min(), xe.max(), ye.max()),
                            kdims=[xdim, ydim], vdims=[zdim])
        else:
            # Cells sized by the gaps between uneven values (sigma = 1, 4, 8 mV) would give
            # the values very different areas (a numeric HeatMap does that too): one equal
            # cell per grid value instead, on categorical axes of the values' labels
            # (which the tooltip shows), in increasing order (categories keep the order
            # of their first appearance)
            order_x, order_y = np.argsort(xs), np.argsort(ys)
            gx, gy = np.meshgrid(grid_labels(xs[order_x]), grid_labels(ys[order_y]))
            cells = z[order_y][:, order_x].ravel() * zfac
            mesh = hv.HeatMap((gx.ravel(), gy.ravel(), cells), [xdim, ydim], [zdim])
        return mesh.opts(title=_title(title, full, where), width=_WIDTH + 80,
                         height=_HEIGHT, fontsize={"title": _TITLE_SIZE}, colorbar=True,
                         cmap="viridis",
                         tools=["hover", "tap"], clipping_colors={"NaN": "#dddddd"})

    return _over_free_axes(ds, fixed, [x, y], build, func)


def grid_labels(values: np.ndarray) -> list[str]:
    """Tick / category labels of grid values in display units (4 significant digits,
    more where that would make two values look the same)."""
    values = np.asarray(values, dtype=float)
    for digits in (4, 6, 9, 12, 17):
        labels = [f"{v:.{digits}g}" for v in values]
        if len(set(labels)) == len(set(values.tolist())):
            return labels
    return labels


def _regular(values: np.ndarray) -> bool:
    """True for at least two finite, evenly spaced values (a linspace axis)."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size < 2 or not np.isfinite(v).all():
        return False
    step = np.diff(v)
    return bool(step[0] > 0 and np.allclose(step, step[0], rtol=1e-6, atol=0))


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around (possibly irregular) coordinate values."""
    c = np.asarray(centres, dtype=float)
    if c.size == 1:
        half = abs(c[0]) * 0.5 or 0.5
        return np.array([c[0] - half, c[0] + half])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


# --------------------------------------------------------------------------- ISI summaries
def isi_errorbar(ds: xr.Dataset | str | PathLike, x: str, *, by: str | None = None,
                 **sel: float):
    """ISI mean ± std vs a sweep axis (the Brian2 errorbar figure).

    Parameters
    ----------
    ds : Dataset or store path
    x : str
        Sweep axis on the horizontal axis.
    by : str, optional
        One curve per value of this axis.
    **sel : float
        SI values of other sweep axes.

    Returns
    -------
    holoviews.Overlay (or HoloMap)
    """
    hv = _hv()
    full = open_dataset(ds)
    ds, fixed = _select(full, sel)

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[["isi_mean", "isi_std"]].compute()
        xfac, xdim = _dim(x, d[x].attrs)
        yfac, ydim = _dim("isi_mean", d["isi_mean"].attrs)
        xs = d[x].values * xfac
        layers = []
        for i, (label, g) in enumerate(_groups(d, by)):
            color = PALETTE[i % len(PALETTE)]
            mean = g["isi_mean"].values * yfac
            std = g["isi_std"].values * yfac
            if np.isfinite(mean).any():  # (all-NaN error bars make HoloViews warn)
                layers.append(hv.ErrorBars((xs, mean, np.nan_to_num(std)), [xdim],
                                           [ydim, "isi_std"], label=label).opts(color=color))
            layers.append(hv.Curve((xs, mean), [xdim], [ydim], label=label or "ISI mean")
                          .opts(color=color, tools=["hover"]))
        return _finish(hv.Overlay(layers), _title("ISI mean ± std", full, where))

    return _over_free_axes(ds, fixed, [x] + ([by] if by else []), build, "isi_errorbar")


def isi_cv(ds: xr.Dataset | str | PathLike, x: str, *, by: str | None = None,
           theory: bool | xr.DataArray = True, **sel: float):
    """Coefficient of variation of the ISIs vs a sweep axis.

    Parameters
    ----------
    ds : Dataset or store path
    x : str
        Sweep axis on the horizontal axis.
    by : str, optional
        One curve per value of this axis.
    theory : bool or DataArray
        Draw the Siegert CV (``lifbatch.theory.theory_cv``, constant and white-noise
        input) as black dashed lines where it applies; or a DataArray of the CV over
        the sweep axes to draw instead; False for none.
    **sel : float
        SI values of other sweep axes.

    Returns
    -------
    holoviews.Overlay (or HoloMap)
    """
    hv = _hv()
    full = open_dataset(ds)
    ds, fixed = _select(full, sel)
    # (over the points drawn only: the CV integral costs ~1 ms a point)
    theory_da = _theory(ds, theory, "cv")

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[["isi_cv"]].compute()
        xfac, xdim = _dim(x, d[x].attrs)
        _, ydim = _dim("isi_cv", d["isi_cv"].attrs)
        xs = d[x].values * xfac
        layers = []
        for i, (label, g) in enumerate(_groups(d, by)):
            color = PALETTE[i % len(PALETTE)]
            cv = g["isi_cv"].values
            layers.append(hv.Curve((xs, cv), [xdim], [ydim], label=label or "ISI CV")
                          .opts(color=color, tools=["hover"]))
        if theory_da is not None:
            layers.extend(_theory_layers(theory_da, d, x, by, where, xfac, xdim, ydim))
        return _finish(hv.Overlay(layers), _title("ISI CV", full, where))

    return _over_free_axes(ds, fixed, [x] + ([by] if by else []), build, "isi_cv")


# --------------------------------------------------------------------------- one point
def _point(ds, sel, func: str) -> tuple[xr.Dataset, xr.Dataset, dict[str, float]]:
    full = open_dataset(ds)
    d, fixed = _select(full, sel)
    _need_point(d, func)
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


def _note(text: str, x: float, y: float):
    """A text in the middle of an empty figure (at data coordinates x, y)."""
    return _hv().Text(x, y, text).opts(color="#555555", text_font_size="11pt")


def _isi_hist_data(d: xr.Dataset) -> tuple[_Axis, np.ndarray, np.ndarray]:
    """(ISI axis, bin edges in display units, counts) of one selected point."""
    counts = np.asarray(d["isi_hist"].values, dtype=float)
    ax = _axis("isi", d["isi_bin"].attrs, label="ISI")
    if "isi_bin_lower" in d.coords and "isi_bin_upper" in d.coords:
        edges = np.append(d["isi_bin_lower"].values, d["isi_bin_upper"].values[-1])
    else:
        edges = _edges(d["isi_bin"].values)
    return ax, edges * ax.factor, counts


def isi_histogram(ds: xr.Dataset | str | PathLike, **sel: float):
    """Histogram of the pooled ISIs of one point.

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Overlay
        A ``Histogram``, and a ``Text`` saying why when there is no ISI.
    """
    hv = _hv()
    full, d, fixed = _point(ds, sel, "isi_histogram")
    ax, edges, counts = _isi_hist_data(d)
    xdim = ax.dimension()
    hist = hv.Histogram((edges, counts), kdims=[xdim],
                        vdims=[hv.Dimension("count", label="ISI count")])
    n = int(np.nansum(counts))
    layers = [hist.opts(color=PALETTE[0], tools=["hover"])]
    note = point_note(d, "isi")
    opts = {}
    if note:
        layers.append(_note(note, (edges[0] + edges[-1]) / 2, 0.5))
        opts["ylim"] = (0, 1)
    return hv.Overlay(layers).opts(title=_title(f"ISI histogram, {n} ISIs", full, fixed), width=_WIDTH,
                                   height=_HEIGHT, show_grid=True, fontsize={"title": _TITLE_SIZE},
                                   show_legend=False, **opts)


class _Ensemble(NamedTuple):
    """The V ensemble of one point in display units."""

    t: _Axis
    v: _Axis
    trace_time: np.ndarray | None
    traces: np.ndarray | None  # (recorded trial, trace_time)
    time: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    spike: float | None  # the spike rule's parameter (v_th, v_spike, v_peak), display units
    spike_label: str     # its legend: "threshold" (v_th), else the parameter's name
    theory_mean: np.ndarray | None  # OU theory (no threshold), else None
    theory_std: np.ndarray | None


def _ensemble_data(full: xr.Dataset, d: xr.Dataset) -> _Ensemble:
    """V traces, mean and std over trials, the spike rule's line (:func:`spike_line`) and OU
    theory of one selected point ``d``."""
    t = _axis("time", d["time"].attrs, default="ms")
    v = _axis("v", d["v_mean"].attrs, label="V", default=_voltage_display(full))
    trace_time = traces = None
    if "v" in d and "trace_time" in d.dims:
        traces = d["v"].transpose("trace_trial", "trace_time").values * v.factor
        trace_time = (d["trace_time"].values
                      * display_scale(d["trace_time"].attrs, default="ms")[0])
    spike_label, spike = spike_line(full, d)
    th = theory_ou(d)
    return _Ensemble(
        t, v, trace_time, traces, d["time"].values * t.factor, d["v_mean"].values * v.factor,
        np.sqrt(np.clip(d["v_var"].values, 0, None)) * v.factor,
        spike * v.factor if spike is not None else None, spike_label,
        th["v_mean"].values * v.factor if th is not None else None,
        np.sqrt(np.clip(th["v_var"].values, 0, None)) * v.factor if th is not None else None)


def v_ensemble(ds: xr.Dataset | str | PathLike, **sel: float):
    """Membrane potential mean ± std over trials vs time, recorded traces behind it.

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Overlay
        ``Path`` (recorded traces, grey), ``Spread`` (mean ± std), ``Curve`` (mean),
        an ``HLine`` at the parameter of the model's spike rule at this point (swept or
        not): ``v_th`` ("threshold") of the LIF when finite, ``v_spike`` of hh_traub,
        ``v_peak`` of adex, eif and izhikevich (labelled with its name); without threshold
        the Ornstein-Uhlenbeck mean (``Curve``, "theory (OU)") and mean ± std (``Path``,
        "theory (OU) ± std"), dashed, where :func:`lifbatch.theory.theory_ou` applies.
    """
    hv = _hv()
    full, d, fixed = _point(ds, sel, "v_ensemble")
    e = _ensemble_data(full, d)
    tdim = e.t.dimension()
    vdim = e.v.dimension()
    layers = []
    if e.traces is not None:
        paths = [np.column_stack([e.trace_time, tr]) for tr in e.traces]
        layers.append(hv.Path(paths, [tdim, vdim], label="recorded trials")
                      .opts(color="#888888", alpha=0.5, line_width=1))
    if np.isfinite(e.mean).any():  # (a pending point has no moments yet)
        layers.append(hv.Spread((e.time, e.mean, np.nan_to_num(e.std)), [tdim],
                                [vdim, "v_std"], label="mean ± std")
                      .opts(color=PALETTE[0], alpha=0.3, line_alpha=0))
    layers.append(hv.Curve((e.time, e.mean), [tdim], [vdim], label="mean")
                  .opts(color=PALETTE[0], line_width=2, tools=["hover"]))
    if e.theory_mean is not None:
        layers.append(hv.Curve((e.time, e.theory_mean), [tdim], [vdim], label=OU_LABEL)
                      .opts(**_THEORY_STYLE))
        band = [np.column_stack([e.time, e.theory_mean + sign * e.theory_std]) for sign in (-1, 1)]
        layers.append(hv.Path(band, [tdim, vdim], label=f"{OU_LABEL} ± std")
                      .opts(color="black", line_dash="dotted", line_width=1))
    if e.spike is not None:
        layers.append(hv.HLine(e.spike, label=e.spike_label)
                      .opts(color=PALETTE[3], line_dash="dashed", line_width=1))
    note = point_note(d, "mean")
    if note:
        layers.append(_note(note, float(np.mean(e.time[[0, -1]])), e.spike or 0.0))
    return _finish(hv.Overlay(layers), _title("Membrane potential", full, fixed))


def _moment_figure(ds, sel, func: str, var: str, coord: str, title: str, color: str):
    """Variance vs time or autocovariance vs lag of one point, with the OU theory."""
    hv = _hv()
    full, d, fixed = _point(ds, sel, func)
    xfac, xdim = _dim(coord, d[coord].attrs, default="ms")
    vfac, vdim = _dim(var, _square_attrs(full, var))
    xs = d[coord].values * xfac
    values = np.asarray(d[var].values, dtype=float) * vfac
    layers = [hv.Curve((xs, values), [xdim], [vdim], label="simulation")
              .opts(color=color, line_width=2, tools=["hover"])]
    th = theory_ou(d)
    if th is not None:
        layers.append(hv.Curve((xs, th[var].values * vfac), [xdim], [vdim], label=OU_LABEL)
                      .opts(**_THEORY_STYLE))
    opts = {}
    note = point_note(d, "moments")
    if note is None and not np.isfinite(values).any():
        note = "no values at this point"
    if note:
        layers.append(_note(note, float(np.mean(xs[[0, -1]])) if xs.size else 0.0, 0.0))
        opts["ylim"] = (-1, 1)
    return _finish(hv.Overlay(layers), _title(title, full, fixed)).opts(**opts)


def v_variance(ds: xr.Dataset | str | PathLike, **sel: float):
    """Variance of the membrane potential over trials vs time.

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Overlay
        The simulated variance (``Curve``, "simulation"), and the Ornstein-Uhlenbeck
        variance ("theory (OU)", dashed) where it applies (no threshold, constant and
        white-noise input); a ``Text`` saying why when there is nothing to draw.
    """
    return _moment_figure(ds, sel, "v_variance", "v_var", "time", "V variance", PALETTE[1])


def v_autocov(ds: xr.Dataset | str | PathLike, **sel: float):
    """Ensemble autocovariance of the membrane potential vs lag.

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Overlay
        As :func:`v_variance`: simulation, and "theory (OU)" where it applies.
    """
    return _moment_figure(ds, sel, "v_autocov", "v_autocov", "lag", "V autocovariance", PALETTE[2])


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


def _raster_xmax(full: xr.Dataset, times: np.ndarray) -> float:
    """Right end of a raster's time axis (s): the duration, else the last spike."""
    return _si_attr(full, "duration") or (float(times.max()) if times.size else 1.0)


def raster(ds: xr.Dataset | str | PathLike, **sel: float):
    """Spike raster of all trials of one point.

    Returns
    -------
    holoviews.Overlay
        ``Segments``, one vertical tick per spike: x = spike time, y = trial index;
        a ``Text`` saying why when there is no spike.
    """
    hv = _hv()
    full, d, fixed = _point(ds, sel, "raster")
    times, trials = spike_raster_times(full, d)
    tfac, tdim = _dim("time", {"units": "s"}, default="ms")
    seg = hv.Segments((times * tfac, trials - 0.4, times * tfac, trials + 0.4),
                      [tdim, hv.Dimension("trial"), "x1", "y1"])
    n_trials = d.sizes.get("trial", 1)
    xmax = _raster_xmax(full, times) * tfac
    layers = [seg.opts(color="black", line_width=1)]
    note = point_note(d, "spikes")
    if note:
        layers.append(_note(note, xmax / 2, (n_trials - 1) / 2))
    return hv.Overlay(layers).opts(
        title=_title(f"Spike raster, {times.size} spikes", full, fixed), width=_WIDTH,
        height=_HEIGHT, xlim=(0, xmax), ylim=(-0.6, n_trials - 0.4), show_legend=False,
        fontsize={"title": _TITLE_SIZE})


# --------------------------------------------------------------------------- recorded state and inputs
def _is_trace(ds: xr.Dataset, name: str) -> bool:
    return tuple(ds[name].dims[-2:]) == ("trace_trial", "trace_time")


def recorded_state(ds: xr.Dataset) -> list[str]:
    """The state variables a store records besides V (``record.state``: m, n, h; w; u),
    in the model's order."""
    names = [str(n) for n in ds.data_vars
             if n != "v" and not str(n).startswith("input_") and _is_trace(ds, n)]
    model = neuron_model(ds)
    order = [s.name for s in model.state] if model is not None else []
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def recorded_inputs(ds: xr.Dataset) -> list[str]:
    """The store's recorded inputs (``record.inputs``), as variables ``input_<drive>``, in
    the workflow's order of the drives."""
    names = [str(n) for n in ds.data_vars if str(n).startswith("input_") and _is_trace(ds, n)]
    drives = [d.get("name") for d in _canonical(ds).get("drives", []) if isinstance(d, dict)]
    return sorted(names, key=lambda n: (drives.index(n[6:]) if n[6:] in drives else len(drives), n))


def trace_vars(ds: xr.Dataset) -> list[str]:
    """The recorded traces drawn across the points of a sweep axis (:func:`traces`): ``v``
    and the recorded inputs (the Brian2 tutorial's v and I of its three cells)."""
    return (["v"] if "v" in ds.data_vars and _is_trace(ds, "v") else []) + recorded_inputs(ds)


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
    spec = _workflow(full).get("inputs", {})
    spec = spec.get(drive) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return None
    try:
        want = _ureg().Quantity(1.0, si).dimensionality
    except Exception:
        return None
    for value in spec.values():
        if not isinstance(value, str):
            continue
        try:
            q = _ureg().Quantity(value)
        except Exception:
            continue
        if not q.unitless and q.dimensionality == want:
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
    shown = ((_voltage_display(full) if si == "V" else None) or _written_unit(full, name, si)
             or _auto_unit(si, values))
    if shown:
        attrs["display_units"] = shown
    return attrs


class TracePanel(NamedTuple):
    """Recorded traces of one point in one panel (display units): the variables of one unit."""

    title: str                            # "State m, n, h", "Input I"
    t: _Axis
    y: _Axis                              # label: the variables' names, their unit
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
    t = _axis("time", d["trace_time"].attrs, default="ms")
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
        y = _axis(members[0], attrs, label=", ".join(labels))
        word = ("State" if kind == "state" else "Input") + ("s" if kind != "state" and len(members) > 1 else "")
        lines = [(label, values[n] * y.factor) for label, n in zip(labels, members)]
        empty = note or (None if any(np.isfinite(v).any() for _, v in lines) else "no values at this point")
        panels.append(TracePanel(f"{word} {', '.join(labels)}", t, y, time, lines, trials, empty))
    return panels


def _trace_overlay(hv, panel: TracePanel, where: Mapping[str, float], full: xr.Dataset):
    tdim, ydim = panel.t.dimension(), panel.y.dimension()
    layers = []
    for i, (label, traces) in enumerate(panel.lines):
        paths = [np.column_stack([panel.time, tr]) for tr in traces]
        layers.append(hv.Path(paths, [tdim, ydim], label=label)
                      .opts(color=PALETTE[i % len(PALETTE)], line_width=1.5,
                            alpha=1.0 if len(traces) == 1 else 0.6))
    opts = {}
    if panel.note:
        layers.append(_note(panel.note, float(np.mean(panel.time[[0, -1]])) if panel.time.size else 0.0, 0.5))
        opts["ylim"] = (0, 1)
    return _finish(hv.Overlay(layers), _title(panel.title, full, where)).opts(**opts)


def _trace_layout(ds, sel, kind: str, func: str):
    hv = _hv()
    full, d, fixed = _point(ds, sel, func)
    panels = trace_panels(full, d, kind)
    if not panels:
        model = neuron_model(full)
        if kind == "state":
            names = [s.name for s in model.state if s.name != "v"] if model is not None else []
            fix = (f"record.state: [{', '.join(names)}] in the workflow" if names
                   else f"model {model_name(full)} has no state variable besides v")
            raise ValueError(f"{func}: this store records no state variable ({fix})")
        raise ValueError(f"{func}: this store records no input (record.inputs: [NAME] in the workflow, "
                         "a drive with one value per step)")
    return hv.Layout([_trace_overlay(hv, p, fixed, full) for p in panels]).cols(2)


def state_traces(ds: xr.Dataset | str | PathLike, **sel: float):
    """The recorded state variables of one point vs time (``record.state``): hh_traub's
    gates m, n, h (dimensionless, one panel), adex's w, izhikevich's u (currents).

    Parameters
    ----------
    ds : Dataset or store path
    **sel : float
        SI value of every sweep axis with more than one value.

    Returns
    -------
    holoviews.Layout
        One ``Overlay`` per unit: a ``Path`` per variable (its colour, one line per
        recorded trial, labelled with its name), and a ``Text`` saying why when there is
        nothing to draw. A store that records no state variable raises ValueError.
    """
    return _trace_layout(ds, sel, "state", "state_traces")


def input_traces(ds: xr.Dataset | str | PathLike, **sel: float):
    """The recorded inputs of one point vs time (``record.inputs``; the Brian2 tutorial's
    I(t), in the unit the workflow wrote the drive in: nA).

    Returns
    -------
    holoviews.Layout
        One ``Overlay`` per unit, as :func:`state_traces`. A store that records no input
        raises ValueError.
    """
    return _trace_layout(ds, sel, "inputs", "input_traces")


class TraceCurves(NamedTuple):
    """One recorded trial of a variable at the points along a sweep axis (display units)."""

    t: _Axis
    y: _Axis
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
    t = _axis("time", d["trace_time"].attrs, default="ms")
    label = _trace_label(var)
    attrs = _trace_attrs(full, var, one[var].values)
    y = _axis(var, attrs, label=label)
    curves = [(lbl, np.asarray(g[var].values, dtype=float) * y.factor) for lbl, g in _groups(one, x)]
    return TraceCurves(t, y, d["trace_time"].values * t.factor, curves, trial)


def trace_title(var: str, trial: int) -> str:
    what = "Membrane potential" if var == "v" else f"{'Input' if var.startswith('input_') else 'State'} {_trace_label(var)}"
    return f"{what}, trial {trial}"


def traces(ds: xr.Dataset | str | PathLike, x: str, *, var: str = "v", trial: int | None = None,
           **sel: float):
    """A recorded variable of one trial vs time at the points along one sweep axis: one
    curve per value of ``x`` (at most 8, evenly spaced); the Brian2 tutorial's v (and I)
    of its three cells (``traces(ds, "C")``, ``traces(ds, "C", var="input_I")``).

    Parameters
    ----------
    ds : Dataset or store path
        Results with recorded traces (``record.v``, ``record.state``, ``record.inputs``).
    x : str
        Sweep axis: one curve per value.
    var : str
        ``v``, a recorded state variable (``m``, ``w``) or input (``input_I``).
    trial : int, optional
        The recorded trial drawn (default: the first recorded).
    **sel : float
        SI values of other sweep axes; any left becomes a HoloMap dimension.

    Returns
    -------
    holoviews.Overlay (or HoloMap over unselected axes)
    """
    hv = _hv()
    full = open_dataset(ds)
    if var not in full.data_vars or not _is_trace(full, var):
        raise ValueError(f"traces: {var!r} is not a recorded trace of this store; recorded: "
                         f"{trace_vars(full) + recorded_state(full)}")
    ds, fixed = _select(full, sel)

    def build(d: xr.Dataset, where: dict[str, float]):
        c = trace_curves(full, _thin(d, x, 8), x, var, trial)
        tdim, ydim = c.t.dimension(), c.y.dimension()
        layers = [hv.Curve((c.time, values), [tdim], [ydim], label=label)
                  .opts(color=PALETTE[i % len(PALETTE)], line_width=1.5, tools=["hover"])
                  for i, (label, values) in enumerate(c.curves)]
        return _finish(hv.Overlay(layers), _title(trace_title(var, c.trial), full, where))

    return _over_free_axes(ds, fixed, [x], build, "traces")


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


def summary_axis(d: xr.Dataset, var: str) -> _Axis:
    """How a summary is shown (rate in Hz, ISI times in ms, CV without unit)."""
    return _axis(var, d[var].attrs, default="Hz" if var in ("rate", "rate_std") else None,
                 label=_LABELS.get(var))


def _sample_select(full: xr.Dataset, sel: Mapping[str, Any], func: str) -> tuple[xr.Dataset, dict]:
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
    d = _sel_nearest(full, sel) if sel else full
    fixed = {k: float(d[k].values) for k in sel}
    for a in grid_axes(full):
        if a in d.dims and d.sizes[a] == 1:
            fixed[a] = float(d[a].values[0])
            d = d.isel({a: 0})
    return d, fixed


def _check_param(full: xr.Dataset, name: str, func: str) -> None:
    params = sampled_params(full)
    if name not in params:
        raise ValueError(f"{func}: {name!r} is not a sampled parameter; this design samples {params}")


def _check_summary(full: xr.Dataset, var: str, func: str) -> None:
    if var not in summaries(full):
        raise ValueError(f"{func}: var={var!r} is not a summary of this store; choose one of "
                         f"{summaries(full)}")


class SampleData(NamedTuple):
    """A slice of a sampled design in display units (what the scatter figures draw)."""

    x: _Axis
    y: _Axis
    z: _Axis | None       # the colour (scatter over two parameters), or None
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

    def axis(name: str) -> tuple[_Axis, np.ndarray]:
        ax = summary_axis(d, name) if name in SUMMARIES else _axis(name, d[name].attrs)
        return ax, _as_sample(np.asarray(d[name].values, dtype=float), n) * ax.factor

    (xa, xs), (ya, ys) = axis(x), axis(y)
    za, zs = axis(var) if var is not None else (None, None)
    rounds = sample_rounds(d)
    return SampleData(xa, ya, za, xs, ys, zs, _as_sample(d[SAMPLE].values, n), rounds,
                      sample_layers(d, rounds), _clim(zs))


def sample_point_label(ds: xr.Dataset, point: Mapping[str, float]) -> str:
    """'sample 5 (mu = 1.1, sigma = 0.3 mV; added in round 1), tref = 2 ms' for a point of a
    sampled design; the grid's label (:func:`_point_label`) otherwise."""
    if SAMPLE not in point or not sampled_params(ds):
        return _point_label(ds, point)
    i = _nearest_index(ds[SAMPLE].values, float(point[SAMPLE]))
    values = []
    for p in sampled_params(ds):
        factor, unit = display_scale(ds[p].attrs)
        values.append(f"{p} = {_fmt_value(float(ds[p].values[i]), factor, unit)}")
    k = int(ds[ROUND].values[i]) if ROUND in ds.coords else 0
    head = f"sample {int(ds[SAMPLE].values[i])} ({', '.join(values)}; {round_label(k)})"
    rest = _point_label(ds, {a: v for a, v in point.items() if a != SAMPLE})
    return f"{head}, {rest}" if rest else head


def _nearest_index(values: np.ndarray, value: float) -> int:
    """Index of ``value`` on an axis: the equal value (inf too), else the nearest finite one."""
    values = np.asarray(values, dtype=float)
    same = np.flatnonzero(values == value)
    if same.size:
        return int(same[0])
    with np.errstate(invalid="ignore"):
        return int(np.nanargmin(np.abs(values - value)))


def _hv_points(hv, data: SampleData, layer: SampleLayer, *, colour: bool, colorbar: bool,
               fill: str = PALETTE[0]):
    """One layer of a sampled figure as ``hv.Points`` (kdims x, y; vdims colour, sample, round)."""
    i = layer.index
    cols = [data.xs[i], data.ys[i]]
    vdims = []
    if data.z is not None:
        cols.append(data.zs[i])
        vdims.append(data.z.dimension())
    cols += [data.sample[i], data.rounds[i]]
    vdims += [hv.Dimension(SAMPLE), hv.Dimension(ROUND, label="round")]
    pts = hv.Points(tuple(cols), [data.x.dimension(), data.y.dimension()], vdims, label=layer.label)
    style = dict(layer.style)
    line = style.pop("line_color", None)
    if line is None:  # (the design's points: no outline)
        style["line_alpha"] = 0.0
    else:
        style["line_color"] = line
    if layer.state == "done" and colour:
        style.update(color=data.z.name, cmap="viridis", clim=data.clim, colorbar=colorbar,
                     clipping_colors={"NaN": NAN_COLOR})
    elif layer.state == "done":
        style["fill_color"] = fill
    return pts.opts(tools=["hover", "tap"], **style)


def sample_scatter(ds: xr.Dataset | str | PathLike, x: str | None = None, y: str | None = None, *,
                   var: str = "rate", **sel: float):
    """A summary as colour over two sampled parameters: one point per sample.

    Parameters
    ----------
    ds : Dataset or store path
        Results of a sampled design (a ``sample`` section).
    x, y : str, optional
        Sampled parameters on the horizontal and vertical axis (default: the first two);
        an axis is logarithmic where the parameter was sampled with ``scale: log``.
    var : str
        The summary shown as colour: ``rate``, ``isi_cv``, ``isi_mean``, ``isi_std`` or
        ``rate_std`` (display units; NaN grey).
    **sel : float
        SI values of grid axes (nearest match); any grid axis left becomes a HoloMap
        dimension.

    Returns
    -------
    holoviews.Overlay (or HoloMap over unselected grid axes)
        One ``Points`` per round and status: the design's points (circles, "design"),
        each refinement round's ("added in round k": its own marker, black outline),
        pending points (hollow, grey: "pending") and failed ones (red crosses).
    """
    hv = _hv()
    full = open_dataset(ds)
    d0, fixed = _sample_select(full, sel, "sample_scatter")
    params = sampled_params(full)
    if len(params) < 2 and (x is None or y is None):
        raise ValueError(f"sample_scatter needs two sampled parameters; this design samples only "
                         f"{params}: use sample_projection(ds, {params[0]!r})")
    x = x or params[0]
    y = y or next(p for p in params if p != x)
    for name in (x, y):
        _check_param(full, name, "sample_scatter")
    if x == y:
        raise ValueError(f"sample_scatter: x and y are both {x!r}; choose two of {params}")
    _check_summary(full, var, "sample_scatter")

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[[v for v in (var, "status") if v in d]].compute()
        data = sample_data(d, x, y, var)
        layers, bar = [], True
        for layer in data.layers:
            layers.append(_hv_points(hv, data, layer, colour=True, colorbar=bar and layer.state == "done"))
            bar = bar and layer.state != "done"
        return hv.Overlay(layers).opts(
            title=_title(SUMMARY_TITLES.get(var, var), full, where), width=_WIDTH + 220,
            height=_HEIGHT, show_grid=True, legend_position="right", logx=log_scale(full, x),
            logy=log_scale(full, y), fontsize={"title": _TITLE_SIZE})

    return _over_free_axes(d0, fixed, [SAMPLE], build, "sample_scatter")


def _theory_at_samples(theory: xr.DataArray | None, d: xr.Dataset,
                       where: Mapping[str, float]) -> np.ndarray | None:
    """Closed-form values at the samples of a slice ``d`` (display units), or None."""
    if theory is None or SAMPLE not in theory.dims:
        return None
    point = {a: v for a, v in where.items() if a in theory.dims}
    t = _sel_nearest(theory, point) if point else theory
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


def sample_projection(ds: xr.Dataset | str | PathLike, param: str, *, var: str = "rate",
                      theory: bool | xr.DataArray = True, **sel: float):
    """A summary against one sampled parameter: one point per sample (the other parameters
    vary along with it).

    Parameters
    ----------
    ds : Dataset or store path
    param : str
        The sampled parameter on the horizontal axis (logarithmic for ``scale: log``).
    var : str
        The summary on the vertical axis (as :func:`sample_scatter`).
    theory : bool or DataArray
        For ``rate`` and ``isi_cv``: the closed-form value at each sample (Siegert), black
        dashes, where it applies; or a DataArray over the sweep axes to draw instead; False
        for none.
    **sel : float
        SI values of grid axes.

    Returns
    -------
    holoviews.Overlay (or HoloMap)
        One ``Points`` per round and status, marked as in :func:`sample_scatter` (points
        with no value yet, pending or failed, have no place on the vertical axis), and the
        theory's ``Points``.
    """
    hv = _hv()
    full = open_dataset(ds)
    d0, fixed = _sample_select(full, sel, "sample_projection")
    _check_param(full, param, "sample_projection")
    _check_summary(full, var, "sample_projection")
    kind = {"rate": "rate", "isi_cv": "cv"}.get(var)
    # (the CV over the slice only: its integral costs ~1 ms a point)
    theory_da = _theory(full if kind == "rate" else d0, theory, kind) if kind else None

    def build(d: xr.Dataset, where: dict[str, float]):
        d = d[[v for v in (var, "status") if v in d]].compute()
        data = sample_data(d, param, var, None)
        layers = [_hv_points(hv, data, layer, colour=False, colorbar=False) for layer in data.layers]
        th = _theory_at_samples(theory_da, d, where)
        if th is not None:
            layers.append(hv.Points((data.xs, th), [data.x.dimension(), data.y.dimension()],
                                    label=_theory_label(theory_da))
                          .opts(marker="dash", size=14, color="black", line_width=2))
        return hv.Overlay(layers).opts(
            title=_title(f"{SUMMARY_TITLES.get(var, var)} vs {param}", full, where),
            width=_WIDTH + 120, height=_HEIGHT - 40, show_grid=True, legend_position="right",
            logx=log_scale(full, param), fontsize={"title": _TITLE_SIZE})

    return _over_free_axes(d0, fixed, [SAMPLE], build, "sample_projection")


def sample_projections(ds: xr.Dataset | str | PathLike, *, var: str = "rate",
                       theory: bool | xr.DataArray = True, **sel: float):
    """:func:`sample_projection` of ``var`` against every sampled parameter.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    full = open_dataset(ds)
    _sample_select(full, sel, "sample_projections")
    return hv.Layout([sample_projection(full, p, var=var, theory=theory, **sel)
                      for p in sampled_params(full)]).cols(2)


def sample_overview(ds: xr.Dataset | str | PathLike, **sel: float):
    """Rate and ISI-CV scatters over the first two sampled parameters and the rate's
    projections on every parameter; grid axes not selected take their first value.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    full = open_dataset(ds)
    sel = {**{a: float(full[a].values[0]) for a in grid_axes(full) if full.sizes[a] > 1}, **sel}
    params = sampled_params(full)
    figs = []
    if len(params) >= 2:
        figs += [sample_scatter(full, var=v, **sel) for v in ("rate", "isi_cv") if v in full]
    figs += [sample_projection(full, p, var="rate", **sel) for p in params]
    return hv.Layout(figs).cols(2)


# --------------------------------------------------------------------------- overview
def _thin(ds: xr.Dataset, axis: str, max_n: int = 6) -> xr.Dataset:
    """Keep at most ``max_n`` evenly spaced values of ``axis`` (readable legends)."""
    n = ds.sizes[axis]
    if n <= max_n:
        return ds
    idx = np.unique(np.round(np.linspace(0, n - 1, max_n)).astype(int))
    return ds.isel({axis: idx})


def point_figures(ds: xr.Dataset | str | PathLike, **sel: float) -> list:
    """The figures of one point: V ensemble, raster, ISI histogram, V variance, autocovariance."""
    return [v_ensemble(ds, **sel), raster(ds, **sel), isi_histogram(ds, **sel),
            v_variance(ds, **sel), v_autocov(ds, **sel)]


def overview(ds: xr.Dataset | str | PathLike):
    """A Layout of the main figures for a sweep of any number of axes.

    - no sweep axis (or all of length 1): V ensemble, raster, ISI histogram, V variance
      and autocovariance (:func:`point_figures`);
    - one axis: rate (with theory), ISI mean ± std and CV (with theory) vs the axis;
    - two or more: the last two axes; heatmaps of the rate and of the ISI CV, and curves
      vs the last axis with one curve per (at most 6) value of the other; further axes at
      their first value;
    - a sampled design (a ``sample`` section): :func:`sample_overview`.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    full = open_dataset(ds)
    if is_sampled(full):
        return sample_overview(full)
    axes = [a for a in sweep_axes(full) if full.sizes[a] > 1]
    if not axes:
        point = {a: float(full[a].values.ravel()[0]) for a in sweep_axes(full)}
        return hv.Layout(point_figures(full, **point)).cols(2)
    if len(axes) == 1:
        x = axes[0]
        return hv.Layout([rate_curve(full, x), isi_errorbar(full, x), isi_cv(full, x)]).cols(2)
    x, y = axes[-1], axes[-2]
    rest = {a: float(full[a].values[0]) for a in axes[:-2]}
    return summary_layout(full, x, y, **rest)


def summary_layout(ds: xr.Dataset | str | PathLike, x: str, y: str, **sel: float):
    """Rate and ISI-CV heatmaps over ``x`` and ``y``, and rate, ISI and CV curves vs ``x``
    with one curve per (at most 6) value of ``y``; HoloMaps over unselected axes.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    full = open_dataset(ds)
    thin = _thin(full, y)
    figs = [rate_heatmap(full, x, y, **sel), cv_heatmap(full, x, y, **sel),
            rate_curve(thin, x, by=y, **sel), isi_errorbar(thin, x, by=y, **sel),
            isi_cv(thin, x, by=y, **sel)]
    return hv.Layout(figs).cols(2)
