"""``lifbatch query``: variables of a store as a table, CSV or JSON, selected in the user's units.

One unit convention per table: every coordinate and every variable is shown in the
workflow's display units (their ``display_units`` attribute: ``time [ms]``, ``v_mean
[mV]``, ``isi_mean [ms]``), else in SI; values are rounded to 12 significant digits after
the conversion (``9.0``, not ``9.000000000000002``) in CSV and JSON, and the table shows
6 (:data:`TABLE_DIGITS`: a mean over trials is not known to 12). ``--max-rows N`` shows
the first N rows, reading no more, and says how many more there are (as ``head`` and
SQL's ``LIMIT`` do); without it, a query of more than ``lifbatch.query.max-rows`` rows is
refused before anything big is read, with the selections that would narrow it.

On a sampled design (a store whose first dimension is ``sample``, lifbatch/design.py)
the rows along ``sample`` carry the sampled parameters and ``sample_round`` beside the
sample's number; ``--sel mu=1.1`` picks the sample nearest in the design's unit cube.
``--where "rate>20"`` keeps the rows whose per-point variable or coordinate satisfies
the comparison, compared as shown (display units, 12 significant digits); NaN never does.
"""

from __future__ import annotations

import io
import json
import math
import operator
import re
import sys
from typing import Any

import numpy as np

from . import config
from .errors import WorkflowError
from .layout import ROUND, SAMPLE, sampled_params, square_display
from .store import open_results
from .units import convert, excerpt, parse_quantity, to_si

__all__ = ["query", "parse_selection", "parse_where", "format_coord", "display_unit", "sampled_params"]

#: integer dimensions, selected by index value
_INDEX_DIMS = ("trial", "trace_trial", SAMPLE)
#: significant digits of the values shown in CSV and JSON (float64 holds 15-17; conversions
#: add noise below 12)
DIGITS = 12
#: significant digits of the table's values: a rate or a V moment is a mean over trials,
#: whose standard error is far above 1e-6 of it (11/9 Hz shows as 1.22222, not 1.22222222222)
TABLE_DIGITS = 6
#: --where's comparisons, the two-character ones first (the order they are matched in)
_OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
_OPS_TEXT = "<, <=, >, >=, ==, !="
#: what a mistyped comparison probably meant
_OP_FIXES = {"=": "==", "===": "==", "~=": "==", "=>": ">=", "=<": "<=", "<>": "!=", "=!": "!=", "!": "!="}
_WHERE_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*([<>=!~]+)\s*(.*?)\s*$", re.S)
#: the dimension pointwise selections (--where) index the kept points along
_ROW = "__row"


def _quote(text: str) -> str:
    text = excerpt(text)
    return f"'{text}'" if text.isprintable() else repr(text)


def display_unit(ds, name: str) -> tuple[str, str]:
    """(stored unit, unit shown) of a coordinate or variable: its ``display_units``, a
    variance in the square of the voltage's display unit (V**2 -> mV**2), else SI."""
    attrs = ds[name].attrs
    unit = attrs.get("units", "")
    disp = attrs.get("display_units") or ""
    if not disp and "v_mean" in ds:
        v = ds["v_mean"].attrs
        disp = square_display(unit, v.get("units"), v.get("display_units")) or ""
    return unit, disp or unit


def _factor(unit: str, disp: str) -> float | None:
    """The factor from ``unit`` to ``disp``, or None when they are the same (or not convertible)."""
    if not unit or not disp or unit == disp:
        return None
    try:
        return convert(1.0, unit, disp)
    except Exception:  # a unit pint cannot convert: shown in SI
        return None


def _rounded(values, digits: int = DIGITS) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits, through their decimal text
    (exact: the float nearest to the rounded decimal); inf, NaN and integers kept."""
    a = np.asarray(values)
    if a.dtype.kind != "f":
        return a
    flat = [float(f"{x:.{digits}g}") for x in a.ravel().tolist()]
    return np.asarray(flat, dtype=a.dtype).reshape(a.shape)


def _shown(ds, name: str, values, digits: int = DIGITS) -> np.ndarray:
    """SI ``values`` of coordinate or variable ``name`` as CSV shows them (``digits``: to
    that many significant digits)."""
    unit, disp = display_unit(ds, name)
    f = _factor(unit, disp)
    vals = np.asarray(values)
    if f is not None:
        vals = vals * f
    return _rounded(vals, digits)


def _axes_text(ds) -> str:
    text = ", ".join(list(ds["status"].dims) + ["trial"])
    params = sampled_params(ds)
    return text + (f"; sampled parameters: {', '.join(params)}" if params else "")


def _value_si(ds, name: str, text: str, option: str, label: str, example: str) -> float:
    """``text`` (a quantity in the user's units; a bare number in the display unit of
    ``name``, :func:`display_unit`) as an SI float in ``name``'s stored unit; a wrong unit
    is one line naming ``label`` (``--sel mu``, ``--where rate>20 ms``) and ``example``."""
    unit, shown = display_unit(ds, name)
    q = parse_quantity(text, f"{option} {name}")
    if q.dimensionless and shown not in ("", "1"):
        q = q * parse_quantity(f"1 {shown}", f"{option} {name}")
    wrong = WorkflowError(
        f"`{label}` has the wrong unit: {name} is "
        f"{'in ' + shown if shown not in ('', '1') else 'dimensionless'}, got {_quote(text)}. "
        f"Example: {example}",
        option,
        text,
    )
    if unit not in ("", "1"):
        try:
            return float(convert(float(q.magnitude), f"{q.units}", unit))
        except Exception:
            raise wrong from None
    if not q.dimensionless:
        raise wrong
    return to_si(q)


def _number_in(text: str) -> str:
    """The number a value starts with ("20" of "20 ms"), else "1": for examples."""
    m = re.match(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)", text)
    return m.group(1) if m else "1"


def parse_selection(ds, items: list[str]) -> tuple[dict, list[str]]:
    """``["tau=5 ms", ...]`` -> ({axis: SI value}, notes about nearest matches).

    On a sampled design, ``sample=3`` picks a sample by its number, and the sampled
    parameters (``mu=1.1``, ``sigma="3 mV"``) together pick the one sample nearest to them
    in the design's unit cube (distances in the logarithm for ``scale: log``); the result
    holds ``{"sample": number}`` and a note says which sample it is.
    """
    sel: dict[str, Any] = {}
    notes: list[str] = []
    params = sampled_params(ds)
    wanted: dict[str, tuple[str, float]] = {}  # sampled parameter -> (text, SI value)
    for item in items:
        if "=" not in item:
            raise WorkflowError(
                f'`--sel` expects AXIS=VALUE, got {_quote(item)}. Example: --sel tau="5 ms"', "--sel", item
            )
        axis, text = (x.strip() for x in item.split("=", 1))
        if axis in params:
            if axis in wanted:
                raise WorkflowError(
                    f"`--sel {axis}` is given twice, got {_quote(item)}. Select each axis once.", "--sel", item
                )
            coord = ds[axis]
            values = np.asarray(coord.values)
            example = format_coord(coord, values[len(values) // 2]) if values.size else "1"
            value = _value_si(ds, axis, text, "--sel", f"--sel {axis}", f'--sel {axis}="{example}"')
            if not math.isfinite(value):
                raise WorkflowError(
                    f"`--sel {axis}` must be a finite value of the sampled parameter, got "
                    f'{_quote(text)}. Example: --sel {axis}="{example}"',
                    "--sel",
                    item,
                )
            if coord.attrs.get("scale") == "log" and value <= 0:
                raise WorkflowError(
                    f"`--sel {axis}` must be positive ({axis} is sampled on a log scale), got "
                    f'{_quote(text)}. Example: --sel {axis}="{example}"',
                    "--sel",
                    item,
                )
            lo, hi = _bounds(coord)
            if not _within(value, lo, hi):
                raise WorkflowError(
                    f"`--sel {axis}={excerpt(text, 40)}` is outside the design's bounds of {axis}, "
                    f"{format_coord(coord, lo)} to {format_coord(coord, hi)}: no sample is near it. "
                    f'Pick a value in them, e.g. --sel {axis}="{example}"',
                    "--sel",
                    item,
                )
            wanted[axis] = (text, value)
            continue
        if axis not in ds.coords or axis not in ds.dims:
            hint = (
                f' (it is a coordinate: filter on it with --where "{axis}==VALUE")'
                if axis in ds.coords and axis not in ds.dims and set(ds[axis].dims) <= set(ds["status"].dims)
                else ""
            )
            raise WorkflowError(
                f"`--sel {excerpt(axis, 40)}` is not an axis of this store{hint}. Axes: {_axes_text(ds)}", "--sel", item
            )
        if axis in sel:
            raise WorkflowError(
                f"`--sel {axis}` is given twice, got {_quote(item)}. Select each axis once.", "--sel", item
            )
        coord = ds[axis]
        values = np.asarray(coord.values)
        if axis in _INDEX_DIMS:
            try:
                value = int(text)
            except ValueError:
                raise WorkflowError(
                    f"`--sel {axis}` must be a whole number (an index), got {_quote(text)}. "
                    f"Example: --sel {axis}={int(values[0]) if values.size else 0}",
                    "--sel",
                    item,
                ) from None
            if value not in values:
                shown = (
                    f"{int(values.min())}..{int(values.max())}"
                    if values.size and np.array_equal(values, np.arange(values.min(), values.max() + 1))
                    else ", ".join(str(int(v)) for v in values[:20])
                )
                raise WorkflowError(
                    f"`--sel {axis}={excerpt(text, 20)}` is not a {axis.replace('_', ' ')} of this store "
                    f"(it has {shown or 'none'}). Pick one of those.",
                    "--sel",
                    item,
                )
            sel[axis] = value
            continue
        if values.dtype.kind in "TUO":  # a labelled axis: its labels, exactly
            if text not in values.tolist():
                labels = ", ".join(str(v) for v in values[:20]) + (", ..." if values.size > 20 else "")
                raise WorkflowError(
                    f"`--sel {axis}={excerpt(text, 40)}` is not a label of the axis {axis} "
                    f"(its labels: {labels}). Pick one of those, e.g. --sel {axis}={values[0]}",
                    "--sel",
                    item,
                )
            sel[axis] = text
            continue
        unit = coord.attrs.get("units", "")
        q = parse_quantity(text, f"--sel {axis}")
        disp = coord.attrs.get("display_units")
        if q.dimensionless and disp not in (None, "", "1"):
            q = q * parse_quantity(f"1 {disp}", f"--sel {axis}")
        value = to_si(q)
        if unit not in ("", "1"):
            try:
                value = float(convert(float(q.magnitude), f"{q.units}", unit))
            except Exception:
                example = format_coord(coord, values[len(values) // 2]) if values.size else f"1 {unit}"
                raise WorkflowError(
                    f"`--sel {axis}` has the wrong unit: {axis} is in {unit}, got {_quote(text)}. "
                    f'Example: --sel {axis}="{example}"',
                    "--sel",
                    item,
                ) from None
        if math.isnan(value):
            raise WorkflowError(f"`--sel {axis}` is NaN, got {_quote(text)}. Give a value of the axis.", "--sel", item)
        i = nearest_index(coord, value, f"--sel {axis}={excerpt(text, 40)}", option="--sel")
        if values[i] != value and not math.isclose(values[i], value, rel_tol=1e-9, abs_tol=1e-300):
            notes.append(f"note: {axis}={text} is not on the grid; nearest is {format_coord(coord, values[i])}")
        sel[axis] = values[i]
    if wanted:
        given = ", ".join(f"{k}={t}" for k, (t, _) in wanted.items())
        if SAMPLE in sel:
            raise WorkflowError(
                f"`--sel sample={sel[SAMPLE]}` and `--sel {given}` both pick a sample. "
                "Give the sample's number or its parameters, not both.",
                "--sel",
                given,
            )
        i = nearest_sample(ds, {k: v for k, (_, v) in wanted.items()})
        sample = int(np.asarray(ds[SAMPLE].values)[i])
        at = ", ".join(f"{k}={format_coord(ds[k], np.asarray(ds[k].values)[i])}" for k in wanted)
        notes.append(f"note: {given}: nearest sample is {sample} ({at})")
        sel[SAMPLE] = sample
    return sel, notes


def nearest_index(
    coord, value: float, label: str, *, option: str = "--sel", example: str = '--sel {name}="{value}"', si: bool = False
) -> int:
    """The position of ``value`` (SI) on the axis ``coord``: the equal value (``inf`` too, when
    the axis holds it), else the nearest finite one, provided ``value`` lies within the axis's
    range widened by half a grid step at each end (the step between its two lowest, and its
    two highest, values; none for an axis of one value). NaN, an infinity the axis does not
    hold, or a value farther out has no nearest grid value: WorkflowError naming ``label``
    (``--sel I=1e30 pA``, for ``option``) and the axis's range in its display unit (in SI with
    ``si``), with ``example`` filled in.
    """
    values = np.asarray(coord.values, dtype=float)
    name = coord.name
    same = np.flatnonzero(values == value)
    if same.size:
        return int(same[0])
    finite = np.isfinite(values)
    grid = np.unique(values[finite])
    low = (grid[1] - grid[0]) / 2 if grid.size > 1 else 0.0
    high = (grid[-1] - grid[-2]) / 2 if grid.size > 1 else 0.0
    if grid.size and _within(value, grid[0] - low, grid[-1] + high):
        return int(np.flatnonzero(finite)[np.argmin(np.abs(values[finite] - value))])
    mid = grid[len(grid) // 2] if grid.size else values[0]
    fix = example.format(name=name, value=_shown_value(coord, mid, si))
    if grid.size < 2:
        raise WorkflowError(
            f"`{label}` is not on the axis {name}, which holds {_axis_range(coord, grid, values, si)}. "
            f"Pick that value: {fix}",
            option,
            value,
        )
    if math.isnan(value):
        raise WorkflowError(
            f"`{label}` is NaN, not a value of the axis {name} ({_axis_range(coord, grid, values, si)})"
            f". Pick a value in that range, e.g. {fix}",
            option,
            value,
        )
    half = (
        _step(coord, low, si)
        if math.isclose(low, high)
        else f"{_step(coord, low, si)} below, {_step(coord, high, si)} above"
    )
    raise WorkflowError(
        f"`{label}` is outside the axis {name} ({_axis_range(coord, grid, values, si)}): only a "
        f"value within half a grid step ({half}) of its ends has a nearest grid value. Pick a value "
        f"in that range, e.g. {fix}",
        option,
        value,
    )


def _shown_value(coord, value: float, si: bool) -> str:
    """A coordinate value as the user gives it: in its display unit ("180 pA"), or a bare SI number."""
    return f"{float(value):.6g}" if si else format_coord(coord, value)


def _within(value: float, lo: float, hi: float) -> bool:
    """``lo <= value <= hi`` up to float rounding (a value converted from the user's unit)."""
    tol = 1e-9 * max(abs(lo), abs(hi))
    return math.isfinite(value) and lo - tol <= value <= hi + tol


def _bounds(coord) -> tuple[float, float]:
    """A sampled parameter's bounds (SI): its ``bounds`` attribute, else its samples' range."""
    vals = np.asarray(coord.values, float)
    bounds = coord.attrs.get("bounds")
    if bounds is not None and len(bounds) >= 2:
        return float(bounds[0]), float(bounds[1])
    return (float(np.nanmin(vals)), float(np.nanmax(vals))) if vals.size else (math.nan, math.nan)


def _axis_range(coord, grid: np.ndarray, values: np.ndarray, si: bool = False) -> str:
    """An axis's values in its display unit: "100 pA to 300 pA, 8 values" (", and inf" when it holds it)."""
    unit = coord.attrs.get("units", "")
    show = (
        (lambda v: f"{float(v):.6g}{' ' + unit if unit not in ('', '1') else ''}")
        if si
        else (lambda v: format_coord(coord, v))
    )
    if not grid.size:
        text = "no finite value"
    elif grid.size == 1:
        text = f"the one value {show(grid[0])}"
    else:
        text = f"{show(grid[0])} to {show(grid[-1])}, {values.size} values"
    extra = [show(v) for v in (-math.inf, math.inf) if v in values]
    return text + (f", and {' and '.join(extra)}" if extra else "")


def _step(coord, step: float, si: bool = False) -> str:
    """A difference of coordinate values in the axis's display unit (linear units: a factor), or SI."""
    unit, disp = coord.attrs.get("units", ""), coord.attrs.get("display_units") or ""
    f = None if si else _factor(unit, disp)
    shown = disp if f is not None else ("" if unit in ("", "1") else unit)
    return f"{step * (f if f is not None else 1.0):.6g}{' ' + shown if shown else ''}"


def nearest_sample(ds, wanted: dict[str, float]) -> int:
    """The position along ``sample`` of the sample nearest to ``wanted`` ({parameter: SI
    value}) in the design's unit cube: each parameter scaled by its ``bounds``, in the
    logarithm for ``scale: log`` (Euclidean distance; the first of equals)."""
    n = ds.sizes[SAMPLE]
    if n == 0:
        raise WorkflowError(f"`--sel {', '.join(wanted)}`: this store's design has no samples.", "--sel", None)
    dist = np.zeros(n)
    for name, value in wanted.items():
        coord = ds[name]
        vals = np.asarray(coord.values, float)
        lo, hi = (coord.attrs.get("bounds") or [np.nanmin(vals), np.nanmax(vals)])[:2]
        log = coord.attrs.get("scale") == "log"
        f = np.log if log else (lambda x: x)
        span = float(f(hi) - f(lo)) or 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            dist += ((f(vals) - f(value)) / span) ** 2
    return int(np.nanargmin(dist))


def format_coord(coord, value) -> str:
    """A coordinate value in the unit the user wrote ("180 pA"), else in SI."""
    unit = coord.attrs.get("units", "")
    disp = coord.attrs.get("display_units") or unit
    if unit and disp and disp != unit:
        try:
            return f"{convert(float(value), unit, disp):.6g} {disp}"
        except Exception:
            pass
    return f"{float(value):.6g}{(' ' + unit) if unit not in ('', '1') else ''}"


def _max_rows(max_rows) -> int:
    """``--max-rows`` (the rows shown), or the cap ``lifbatch.query.max-rows`` without it."""
    raw = max_rows if max_rows is not None else config.get("query.max-rows", 100_000)
    try:
        n = int(float(raw))
        if n < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise WorkflowError(
            f"`--max-rows` must be a whole number >= 1, got {_quote(str(raw))}. Example: --max-rows 1000000",
            "--max-rows",
            raw,
        ) from None
    return n


def _where_names(ds) -> list[str]:
    """What ``--where`` compares: the variables of one value per point, then the
    coordinates along the points (axes, sampled parameters, ``sample_round``)."""
    dims = ds["status"].dims
    point = set(dims)
    variables = [v for v in ds.data_vars if ds[v].dims == dims]
    coords = [d for d in dims if d in ds.coords] + sampled_params(ds)
    coords += [c for c in ds.coords if c not in coords and ds[c].dims and set(ds[c].dims) <= point]
    return variables + coords


def parse_where(ds, items) -> list[tuple[str, str, float, str, str, int]]:
    """``["rate>20", "isi_mean<=50 ms"]`` -> [(name, operator, value as shown, the condition as
    shown, as given, digits)]: the value in NAME's display unit, rounded to the significant
    digits it is written with (at least the table's 6, at most CSV's 12: :func:`_digits_of`),
    the digits the values are compared at.

    NAME is a variable of one value per point (``rate``, ``isi_cv``, ...) or a coordinate
    (an axis, a sampled parameter, ``sample_round``, ``trial``, ``time`` of the rows);
    VALUE is in the user's units, a bare number in NAME's display unit.
    """
    out = []
    names = _where_names(ds)
    listed = ", ".join(names)
    for item in items or []:
        if not isinstance(item, str):
            item = str(item)
        m = _WHERE_RE.match(item)
        if not m:
            raise WorkflowError(
                f"`--where` expects NAME OP VALUE with OP one of {_OPS_TEXT}, got {_quote(item)}. "
                'Example: --where "rate>20"',
                "--where",
                item,
            )
        name, op, text = m.groups()
        if name not in ds.variables:
            raise WorkflowError(
                f"`--where {excerpt(item, 60)}`: {excerpt(name, 40)} is not a variable or coordinate "
                f"of this store. Use one of: {listed}",
                "--where",
                item,
            )
        if name in ds.data_vars and ds[name].dims != ds["status"].dims:
            extra = [d for d in ds[name].dims if d not in ds["status"].dims]
            raise WorkflowError(
                f"`--where {excerpt(item, 60)}`: {name} is not one value per point (it is also along "
                f"{', '.join(extra)}). Use one of: {listed}",
                "--where",
                item,
            )
        unit, disp = display_unit(ds, name)
        shown_unit = "" if disp in ("", "1") else f" {disp}"
        if op not in _OPS:
            fix = _OP_FIXES.get(op, ">")
            raise WorkflowError(
                f"`--where {excerpt(item, 60)}`: {_quote(op)} is not a comparison; use one of "
                f'{_OPS_TEXT}. Example: --where "{name}{fix}{text or 1}"',
                "--where",
                item,
            )
        if not text:
            raise WorkflowError(
                f"`--where {excerpt(item, 60)}` has no value to compare {name} to. "
                f'Example: --where "{name}{op}1{shown_unit}"',
                "--where",
                item,
            )
        example = f'--where "{name}{op}{_number_in(text)}{shown_unit}"'
        try:
            parse_quantity(text, f"--where {name}")  # NaN is refused here too
        except WorkflowError:
            raise WorkflowError(
                f"`--where {excerpt(item, 60)}`: {_quote(text)} is not a number or a quantity. Example: {example}",
                "--where",
                item,
            ) from None
        value = _value_si(ds, name, text, "--where", f"--where {excerpt(item, 60)}", example)
        f = _factor(unit, disp)
        shown = value * f if f is not None and math.isfinite(value) else value
        digits = _digits_of(text)
        shown = float(_rounded(np.asarray([shown], float), digits)[0])
        out.append((name, op, shown, f"{name}{op}{shown:.{DIGITS}g}{shown_unit}", item, digits))
    return out


def _digits_of(text: str) -> int:
    """The significant digits a comparison is made at: those the value is written with, at
    least the table's (a value copied from the table matches) and at most CSV's."""
    mantissa = _number_in(text).lstrip("+-").split("e")[0].split("E")[0]
    written = len(mantissa.replace(".", "").lstrip("0"))
    return min(DIGITS, max(TABLE_DIGITS, written))


def _apply(data, selection: dict):
    """``data.sel(selection)``; a selected sample stays a dimension (of one), so that its
    row shows the sample's number and parameters."""
    points = {k: v for k, v in selection.items() if k != SAMPLE}
    out = data.sel(points) if points else data
    if SAMPLE in selection:
        out = out.sel({SAMPLE: [selection[SAMPLE]]})
    return out


def query(store, *, variables=None, sel=None, fmt: str = "table", max_rows: int | None = None, where=None) -> str:
    """Render the selected variables as text (``table``), ``csv`` or ``json``.

    ``where``: conditions (``"rate>20"``) every row kept satisfies (:func:`parse_where`).
    ``max_rows``: show the first ``max_rows`` rows (reading no more) and say how many more
    there are. Without it, refuses (WorkflowError) a result of more than
    ``lifbatch.query.max-rows`` rows, before reading more than the conditions' per-point
    values, naming the selections that narrow it.
    """
    import xarray as xr  # (here: `run` and `status` format coordinates with this module, without xarray)

    ds = open_results(store)
    variables = list(variables or ["rate"])
    for v in variables:
        if v not in ds.data_vars:
            raise WorkflowError(
                f"`--var {excerpt(v, 40)}` is not a variable of this store. "
                f"Variables: {', '.join(sorted(map(str, ds.data_vars)))}",
                "--var",
                v,
            )
    selection, notes = parse_selection(ds, list(sel or []))
    along = {d for v in variables for d in ds[v].dims}
    for axis in selection:
        if axis not in along:
            raise WorkflowError(
                f"`--sel {axis}`: {', '.join(variables)} {'is' if len(variables) == 1 else 'are'} "
                f"not along {axis}. Drop --sel {axis}, or query a variable along it (e.g. --var "
                f"{next((v for v in ds.data_vars if axis in ds[v].dims), 'spike_count')}).",
                "--sel",
                axis,
            )
    conditions = parse_where(ds, where)
    extra = [c for c, *_ in conditions if c in ds.data_vars and c not in variables]
    sub = _apply(ds[variables + extra], selection)
    kept_sample = {SAMPLE} if SAMPLE in selection else set()
    if all(set(sub[v].dims) <= kept_sample for v in variables):
        scalars = [a for a in selection if a in sub.coords and a not in sub.dims]
        if scalars:
            sub = sub.expand_dims(scalars)
        elif not sub.dims:
            sub = sub.expand_dims("point")
    order = list(sub.dims)
    if SAMPLE in order:  # the design first, as in the store
        order.remove(SAMPLE)
        order.insert(0, SAMPLE)
    total = math.prod(sub.sizes[d] for d in order)

    # --where: the kept rows, from the conditions' (per-point) values alone, as factors over
    # disjoint dimensions (a per-point mask and one along time are never multiplied out)
    factors: list = []  # boolean DataArrays over disjoint sets of dimensions
    for name, op, value, shown, given, digits in conditions:
        if name not in sub.coords and name not in sub.data_vars:
            rows = ", ".join(d for d in order if d in sub.coords) or "one point"
            raise WorkflowError(
                f"`--where {excerpt(given, 60)}`: {name} is not along the rows of this query "
                f"(they are along {rows}). Query a variable along "
                f"{', '.join(map(str, ds[name].dims))}, "
                f"or compare one of: {', '.join(_where_names(ds))}",
                "--where",
                given,
            )
        arr = sub[name]
        vals = _shown(ds, name, np.asarray(arr.values), digits)
        with np.errstate(invalid="ignore"):
            ok = _OPS[op](vals, value)
            if vals.dtype.kind == "f":
                ok &= ~np.isnan(vals)
        ok = xr.DataArray(np.asarray(ok, bool), dims=arr.dims)
        for f in factors:
            if set(f.dims) & set(ok.dims):
                ok = ok & f
        factors = [f for f in factors if not set(f.dims) & set(ok.dims)] + [ok]
    factors = [f.transpose(*[d for d in order if d in f.dims]) for f in factors]
    free = [d for d in order if not any(d in f.dims for f in factors)]  # dimensions no condition is along
    if conditions:
        rows = math.prod(int(np.count_nonzero(f.values)) for f in factors) * math.prod(sub.sizes[d] for d in free)
        notes.append(f"note: --where {' and '.join(c[3] for c in conditions)}: {rows} of {total} rows")
    else:
        rows = total
    limit = _max_rows(max_rows)
    more = 0
    if rows > limit and max_rows is None:  # the safety cap: refused before anything big is read
        dims = " x ".join(f"{d}={sub.sizes[d]}" for d in order)
        if conditions:
            dims += f", {rows} with --where"
        narrow = [d for d in order if sub.sizes[d] > 1 and d in ds.coords]
        example = " ".join(f'--sel {d}="{_example_value(ds, d)}"' for d in narrow[:2])
        raise WorkflowError(
            f"`--var {','.join(variables)}` gives {rows} rows ({dims}), more than lifbatch.query.max-rows "
            f"({limit}). Narrow it with --sel{', e.g. ' + example if example else ''}"
            f"{' or --where' if conditions or sampled_params(ds) else ''}, show the first rows with --max-rows N, "
            f"or raise the cap (DASK_LIFBATCH__QUERY__MAX_ROWS={rows}).",
            "--var",
            variables,
        )
    if rows > limit:  # --max-rows N: the first N rows, read along a prefix of the first dimension
        more = rows - limit
        sub, factors = _leading(sub, order, factors, free, limit)

    # the rows: the data are read only now (with --where, only the kept points')
    if conditions and rows == 0:
        df = sub.isel({d: slice(0, 0) for d in order}).to_dataframe(dim_order=order).reset_index()
    elif any(f.dims for f in factors):
        df = _kept_rows(sub, order, [f for f in factors if f.dims], free)
    else:  # no condition, or conditions on single values that all hold
        df = sub.to_dataframe(dim_order=order).reset_index()
    if more:
        df = df.iloc[:limit]
        notes_after = [f"... {more} more row{'s' if more != 1 else ''} (--max-rows {limit})"]
    else:
        notes_after = []
    # the design's parameters (and each point's round) beside the sample's number
    levels = list(order)
    if SAMPLE in levels:
        beside = [c for c in sampled_params(ds) + [ROUND] if c in df.columns]
        levels[1:1] = beside
    # one unit convention: coordinates and variables in their display units, rounded
    renames = {}
    for name in levels + variables:
        if name not in ds.variables:
            continue
        unit, disp = display_unit(ds, name)
        df[name] = _shown(ds, name, df[name].to_numpy())
        if disp and disp != "1":
            renames[name] = f"{name} [{disp}]"
    if fmt == "table":  # a person reads it: 6 significant digits (CSV and JSON keep 12)
        for name in levels + variables:
            if name in df.columns and df[name].dtype.kind == "f":
                df[name] = _rounded(df[name].to_numpy(), TABLE_DIGITS)
    df = df.set_index(levels)[variables]
    df.index = df.index.set_names([renames.get(n, n) for n in df.index.names])
    df = df.rename(columns={v: renames[v] for v in variables if v in renames})
    out = io.StringIO()
    if fmt == "table":
        for n in notes:
            out.write(n + "\n")
    else:  # keep CSV / JSON on stdout parseable; notes go to stderr (and into the JSON)
        for n in notes + notes_after:
            print(n if n.startswith("note:") else f"note: {n}", file=sys.stderr)
    if fmt == "csv":
        df.to_csv(out)
    elif fmt == "json":
        flat = df.reset_index()
        records = [
            {k: _json_value(v) for k, v in zip(flat.columns, row)} for row in flat.itertuples(index=False, name=None)
        ]
        doc: dict[str, Any] = {
            "notes": notes,
            "selection": {k: int(v) if k == SAMPLE else float(v) for k, v in selection.items()},
            "rows": records,
        }
        if conditions:
            doc["where"] = [c[3] for c in conditions]
        if more:
            doc["more_rows"] = more
        out.write(json.dumps(doc, indent=1) + "\n")
        return out.getvalue()
    elif df.empty:
        out.write("  ".join(list(df.index.names) + list(df.columns)) + "\n(no rows)\n")
    else:
        # the index as the columns: 12 significant digits (pandas would pad a level to 6 decimals)
        if any(df.index.get_level_values(i).dtype.kind == "f" for i in range(df.index.nlevels)):
            df.index = df.index.map(lambda key: tuple(_cell(k) for k in key) if isinstance(key, tuple) else _cell(key))
        out.write(df.to_string(float_format=lambda x: f"{x:.{TABLE_DIGITS}g}") + "\n")
        for n in notes_after:
            out.write(n + "\n")
    return out.getvalue()


def _leading(sub, order: list[str], factors: list, free: list[str], n: int):
    """``sub`` and the ``--where`` factors cut along the first dimension of ``order`` to the
    shortest prefix that holds the first ``n`` kept rows (rows run in C order over
    ``order``): what ``--max-rows n`` reads, instead of every row."""
    first = order[0]
    size = sub.sizes[first]
    per = np.ones(size)  # kept rows per position along the first dimension
    for f in factors:  # (each transposed to the order of ``order``: ``first`` leads where it is)
        if first in f.dims:
            per = per * np.count_nonzero(np.asarray(f.values).reshape(size, -1), axis=1)
        else:
            per = per * int(np.count_nonzero(f.values))
    per = per * math.prod(sub.sizes[d] for d in free if d != first)
    end = int(np.searchsorted(np.cumsum(per), n)) + 1  # the prefix [0, end) holds >= n kept rows
    cut = {first: slice(0, min(end, size))}
    return sub.isel(cut), [f.isel(cut) if first in f.dims else f for f in factors]


def _kept_rows(sub, order: list[str], factors: list, free: list[str]):
    """The rows of ``sub`` (in ``order``, C order) at the kept positions of ``factors``
    (boolean DataArrays over disjoint dimensions) and every position of the ``free``
    dimensions, as a flat DataFrame: only the kept points are read."""
    import pandas as pd  # (here, as xarray: see query())
    import xarray as xr

    picks = [np.nonzero(f.values) for f in factors]
    # every combination of the factors' kept positions (their outer product), flat
    combos = np.meshgrid(*(np.arange(len(p[0])) for p in picks), indexing="ij")
    index: dict[str, np.ndarray] = {}
    for f, p, which in zip(factors, picks, combos):
        for d, positions in zip(f.dims, p):
            index[d] = positions[which.ravel()]
    # a dimension without a coordinate (point, spike_byte) keeps its positions as a column
    sub = sub.assign_coords({d: np.arange(sub.sizes[d]) for d in index if d not in sub.coords})
    picked = sub.isel({d: xr.DataArray(i, dims=_ROW) for d, i in index.items()})
    picked = picked.assign_coords({f"{_ROW}{d}": (_ROW, i) for d, i in index.items()})
    picked = picked.assign_coords({f"{_ROW}{d}": (d, np.arange(sub.sizes[d])) for d in free})
    df = picked.to_dataframe(dim_order=[_ROW] + free).reset_index()
    pos = [f"{_ROW}{d}" for d in order]
    df = df.sort_values(pos, kind="stable") if len(df) else df
    return pd.DataFrame(df.drop(columns=pos + [_ROW])).reset_index(drop=True)


def _example_value(ds, dim: str) -> str:
    values = np.asarray(ds[dim].values)
    if dim in _INDEX_DIMS:
        return str(int(values[0]))
    return format_coord(ds[dim], values[len(values) // 2])


def _cell(v):
    """An index value of a table: a float as the columns show it (:data:`TABLE_DIGITS`)."""
    return f"{v:.{TABLE_DIGITS}g}" if isinstance(v, (float, np.floating)) else v


def _json_value(v):
    """A cell for JSON: floats as their repr (NaN and inf as null), integers as integers."""
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v
