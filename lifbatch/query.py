"""``lifbatch query``: variables of a store as a table, CSV or JSON, selected in the user's units."""

from __future__ import annotations

import io
import json
import math
import sys

import numpy as np

from .errors import WorkflowError
from .store import open_results
from .units import convert, parse_quantity, to_si

__all__ = ["query", "parse_selection"]


def parse_selection(ds, items: list[str]) -> tuple[dict, list[str]]:
    """``["tau=5 ms", ...]`` -> ({axis: SI value}, notes about nearest matches)."""
    sel, notes = {}, []
    for item in items:
        if "=" not in item:
            raise WorkflowError(f"`--sel` expects AXIS=VALUE, got '{item}'. Example: --sel tau=\"5 ms\"", "--sel", item)
        axis, text = (x.strip() for x in item.split("=", 1))
        if axis not in ds.coords or axis not in ds.dims:
            axes = [d for d in ds["status"].dims] + ["trial"]
            raise WorkflowError(f"`--sel {axis}` is not an axis of this store. Axes: {', '.join(axes)}", "--sel", item)
        coord = ds[axis]
        unit = coord.attrs.get("units", "")
        if axis == "trial":
            value = int(text)
        else:
            q = parse_quantity(text, f"--sel {axis}")
            if q.dimensionless and coord.attrs.get("display_units") not in (None, "", "1"):
                q = q * parse_quantity(f"1 {coord.attrs['display_units']}", f"--sel {axis}")
            value = to_si(q)
            if unit not in ("", "1"):
                try:
                    value = float(convert(float(q.magnitude), f"{q.units}", unit))
                except Exception:
                    raise WorkflowError(f"`--sel {axis}={text}` has the wrong unit; {axis} is in {unit}. "
                                        f"Example: --sel {axis}=\"{coord.attrs.get('display_units') or unit}\"",
                                        "--sel", item) from None
        values = np.asarray(coord.values)
        i = int(np.argmin(np.abs(values - value)))
        if not math.isclose(values[i], value, rel_tol=1e-9, abs_tol=1e-300):
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


def query(store, *, variables=None, sel=None, fmt: str = "table") -> str:
    """Render the selected variables as text (``table``), ``csv`` or ``json``."""
    ds = open_results(store)
    variables = list(variables or ["rate"])
    for v in variables:
        if v not in ds.data_vars:
            raise WorkflowError(f"`--var {v}` is not a variable of this store. Variables: {', '.join(sorted(ds.data_vars))}",
                                "--var", v)
    selection, notes = parse_selection(ds, list(sel or []))
    sub = ds[variables].sel(selection)
    if all(sub[v].ndim == 0 for v in variables):
        sub = sub.expand_dims([a for a in selection if a in sub.coords]) if selection else sub.expand_dims("point")
    df = sub.to_dataframe()
    df = df[[c for c in variables if c in df.columns]]
    # display units for index levels
    rename = {}
    for name in df.index.names:
        if name in ds.coords:
            unit = ds[name].attrs.get("units", "")
            disp = ds[name].attrs.get("display_units") or unit
            if unit and disp and disp != unit:
                df = df.rename(index=lambda x, u=unit, d=disp: convert(float(x), u, d), level=name) if df.index.nlevels > 1 \
                    else df.rename(index=lambda x, u=unit, d=disp: convert(float(x), u, d))
                rename[name] = f"{name} [{disp}]"
    if rename:
        df.index = df.index.set_names([rename.get(n, n) for n in df.index.names])
    for c in variables:
        unit = ds[c].attrs.get("units", "")
        if unit and unit != "1":
            df = df.rename(columns={c: f"{c} [{unit}]"})
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
        records = json.loads(df.reset_index().to_json(orient="records"))
        out.write(json.dumps({"notes": notes, "selection": {k: float(v) for k, v in selection.items()},
                              "rows": records}, indent=1) + "\n")
        return out.getvalue()
    else:
        out.write(df.to_string() + "\n")
    return out.getvalue()
