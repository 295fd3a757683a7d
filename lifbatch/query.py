"""``lifbatch query``: variables of a store as a table, CSV or JSON, selected in the user's units.

One unit convention per table: every coordinate and every variable is shown in the
workflow's display units (their ``display_units`` attribute: ``time [ms]``, ``v_mean
[mV]``, ``isi_mean [ms]``), else in SI; values are rounded to 12 significant digits after
the conversion (``9.0``, not ``9.000000000000002``). A query of more than
``lifbatch.query.max-rows`` rows (or ``--max-rows``) is refused before anything is built,
with the selections that would narrow it.
"""

from __future__ import annotations

import io
import json
import math
import sys

import numpy as np

from .errors import WorkflowError
from .store import open_results
from .units import convert, excerpt, parse_quantity, to_si

__all__ = ["query", "parse_selection", "format_coord", "display_unit"]

#: integer dimensions, selected by index value
_INDEX_DIMS = ("trial", "trace_trial")
#: significant digits of the values shown (float64 holds 15-17; conversions add noise below 12)
DIGITS = 12


def _quote(text: str) -> str:
    text = excerpt(text)
    return f"'{text}'" if text.isprintable() else repr(text)


def display_unit(ds, name: str) -> tuple[str, str]:
    """(stored unit, unit shown) of a coordinate or variable: its ``display_units``, a
    variance in the square of the voltage's display unit (V**2 -> mV**2), else SI."""
    attrs = ds[name].attrs
    unit = attrs.get("units", "")
    disp = attrs.get("display_units") or ""
    if not disp and unit.endswith("**2") and "v_mean" in ds:
        v = ds["v_mean"].attrs
        if unit == f"{v.get('units')}**2" and v.get("display_units"):
            disp = f"{v['display_units']}**2"
    return unit, disp or unit


def _factor(unit: str, disp: str) -> float | None:
    """The factor from ``unit`` to ``disp``, or None when they are the same (or not convertible)."""
    if not unit or not disp or unit == disp:
        return None
    try:
        return convert(1.0, unit, disp)
    except Exception:  # a unit pint cannot convert: shown in SI
        return None


def _rounded(values) -> np.ndarray:
    """``values`` rounded to :data:`DIGITS` significant digits, through their decimal text
    (exact: the float nearest to the rounded decimal); inf, NaN and integers kept."""
    a = np.asarray(values)
    if a.dtype.kind != "f":
        return a
    flat = [float(f"{x:.{DIGITS}g}") for x in a.ravel().tolist()]
    return np.asarray(flat, dtype=a.dtype).reshape(a.shape)


def _axes_text(ds) -> str:
    return ", ".join(list(ds["status"].dims) + ["trial"])


def parse_selection(ds, items: list[str]) -> tuple[dict, list[str]]:
    """``["tau=5 ms", ...]`` -> ({axis: SI value}, notes about nearest matches)."""
    sel, notes = {}, []
    for item in items:
        if "=" not in item:
            raise WorkflowError(f"`--sel` expects AXIS=VALUE, got {_quote(item)}. Example: --sel tau=\"5 ms\"",
                                "--sel", item)
        axis, text = (x.strip() for x in item.split("=", 1))
        if axis not in ds.coords or axis not in ds.dims:
            raise WorkflowError(f"`--sel {excerpt(axis, 40)}` is not an axis of this store. Axes: {_axes_text(ds)}",
                                "--sel", item)
        if axis in sel:
            raise WorkflowError(f"`--sel {axis}` is given twice, got {_quote(item)}. Select each axis once.",
                                "--sel", item)
        coord = ds[axis]
        values = np.asarray(coord.values)
        if axis in _INDEX_DIMS:
            try:
                value = int(text)
            except ValueError:
                raise WorkflowError(f"`--sel {axis}` must be a whole number (an index), got {_quote(text)}. "
                                    f"Example: --sel {axis}={int(values[0]) if values.size else 0}",
                                    "--sel", item) from None
            if value not in values:
                shown = (f"{int(values.min())}..{int(values.max())}" if values.size and
                         np.array_equal(values, np.arange(values.min(), values.max() + 1))
                         else ", ".join(str(int(v)) for v in values[:20]))
                raise WorkflowError(f"`--sel {axis}={excerpt(text, 20)}` is not a {axis.replace('_', ' ')} of this store "
                                    f"(it has {shown}). Pick one of those.", "--sel", item)
            sel[axis] = value
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
                raise WorkflowError(f"`--sel {axis}` has the wrong unit: {axis} is in {unit}, got {_quote(text)}. "
                                    f"Example: --sel {axis}=\"{example}\"", "--sel", item) from None
        if math.isnan(value):
            raise WorkflowError(f"`--sel {axis}` is NaN, got {_quote(text)}. Give a value of the axis.", "--sel", item)
        with np.errstate(invalid="ignore"):
            exact = values == value
            i = int(np.argmax(exact)) if exact.any() else int(np.nanargmin(np.abs(values - value)))
        if not exact.any() and not math.isclose(values[i], value, rel_tol=1e-9, abs_tol=1e-300):
            notes.append(f"note: {axis}={text} is not on the grid; nearest is {format_coord(coord, values[i])}")
        sel[axis] = values[i]
    return sel, notes


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
    from . import config

    raw = max_rows if max_rows is not None else config.get("query.max-rows", 100_000)
    try:
        n = int(float(raw))
        if n < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise WorkflowError(f"`--max-rows` must be a whole number >= 1, got {_quote(str(raw))}. Example: --max-rows "
                            "1000000", "--max-rows", raw) from None
    return n


def query(store, *, variables=None, sel=None, fmt: str = "table", max_rows: int | None = None,
          where=None) -> str:
    """Render the selected variables as text (``table``), ``csv`` or ``json``.

    Refuses (WorkflowError) a result of more than ``max_rows`` rows (default
    ``lifbatch.query.max-rows``), before building it, naming the selections that narrow it.
    """
    ds = open_results(store)
    variables = list(variables or ["rate"])
    for v in variables:
        if v not in ds.data_vars:
            raise WorkflowError(f"`--var {excerpt(v, 40)}` is not a variable of this store. "
                                f"Variables: {', '.join(sorted(ds.data_vars))}", "--var", v)
    selection, notes = parse_selection(ds, list(sel or []))
    sub = ds[variables].sel(selection)
    if all(sub[v].ndim == 0 for v in variables):
        sub = sub.expand_dims([a for a in selection if a in sub.coords]) if selection else sub.expand_dims("point")
    rows = math.prod(sub.sizes.values())
    limit = _max_rows(max_rows)
    if rows > limit:
        dims = " x ".join(f"{d}={n}" for d, n in sub.sizes.items())
        narrow = [d for d, n in sub.sizes.items() if n > 1 and d in ds.coords]
        example = " ".join(f"--sel {d}=\"{_example_value(ds, d)}\"" for d in narrow[:2])
        raise WorkflowError(
            f"`--var {','.join(variables)}` gives {rows} rows ({dims}), more than --max-rows {limit} "
            f"(lifbatch.query.max-rows). Narrow it with --sel{', e.g. ' + example if example else ''}, "
            "or raise --max-rows.", "--var", variables)
    # one unit convention: coordinates and variables in their display units, rounded
    renames = {}
    for name in sub.dims:
        if name not in sub.coords:
            continue
        unit, disp = display_unit(ds, name) if name in ds.coords else ("", "")
        f = _factor(unit, disp)
        vals = np.asarray(sub[name].values)
        if f is not None:
            vals = vals * f
        sub = sub.assign_coords({name: (sub[name].dims, _rounded(vals), sub[name].attrs)})
        if disp and disp != "1":
            renames[name] = f"{name} [{disp}]"
    for v in variables:
        unit, disp = display_unit(ds, v)
        f = _factor(unit, disp)
        data = sub[v].values
        if f is not None:
            data = data * f
        sub[v] = (sub[v].dims, _rounded(data), sub[v].attrs)
        if disp and disp != "1":
            renames[v] = f"{v} [{disp}]"
    df = sub.to_dataframe()
    df = df[[c for c in variables if c in df.columns]]
    df.index = df.index.set_names([renames.get(n, n) for n in df.index.names])
    df = df.rename(columns={v: renames[v] for v in variables if v in renames})
    out = io.StringIO()
    if fmt == "table":
        for n in notes:
            out.write(n + "\n")
    else:  # keep CSV / JSON on stdout parseable; notes go to stderr (and into the JSON)
        for n in notes:
            print(n, file=sys.stderr)
    if fmt == "csv":
        df.to_csv(out)
    elif fmt == "json":
        flat = df.reset_index()
        records = [{k: _json_value(v) for k, v in zip(flat.columns, row)}
                   for row in flat.itertuples(index=False, name=None)]
        out.write(json.dumps({"notes": notes, "selection": {k: float(v) for k, v in selection.items()},
                              "rows": records}, indent=1) + "\n")
        return out.getvalue()
    else:
        out.write(df.to_string(float_format=lambda x: f"{x:.{DIGITS}g}") + "\n")
    return out.getvalue()


def _example_value(ds, dim: str) -> str:
    values = np.asarray(ds[dim].values)
    if dim in _INDEX_DIMS:
        return str(int(values[0]))
    return format_coord(ds[dim], values[len(values) // 2])


def _json_value(v):
    """A cell for JSON: floats as their repr (NaN and inf as null), integers as integers."""
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v
