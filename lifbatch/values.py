"""Parsing one value of a workflow: a quantity with its unit, a time, a whole number, a
multiple of dt, and an axis's values (``values``, ``linspace``, ``logspace``, ``range``
with a ``unit``: sweep axes, a sampled design's bounds, the ISI bins). Each turns raw
input into SI floats or raises a one-line WorkflowError naming the field.
"""

from __future__ import annotations

import math
import re
import sys
from decimal import Decimal
from typing import Any, Callable, Mapping

import numpy as np

from . import units as u
from .errors import WorkflowError
from .messages import check_keys as _check_keys, err as _err, short as _short, shown as _shown, three_digits as _g
from .specs import Param, Run

__all__ = [
    "EXAMPLES",
    "INFINITE_OK",
    "INF_WORDS",
    "not_finite",
    "flag",
    "example",
    "quantity",
    "shown_unit",
    "parse_param",
    "parse_time",
    "parse_integer",
    "parse_multiple_of_dt",
    "parse_axis_values",
    "dim_name",
    "axis_raw_values",
    "MAX_AXIS_SIZE",
]


EXAMPLES = {
    "duration": "1000 ms",
    "dt": "0.1 ms",
    "tau_m": "20 ms",
    "t_ref": "2 ms",
    "r_m": "100 Mohm",
    "v_th": "-50 mV",
    "e_l": "-60 mV",
    "v_reset": "-70 mV",
    "v_init": "-60 mV",
    "rate": "10 Hz",
    "frequency": "10 Hz",
    "interval": "10 ms",
    "weight": "0.1",
    "value": "250 pA",
    "mean": "250 pA",
    "amplitude": "250 pA",
    "half_width": "100 pA",
    "sigma": "0.5 mV",
    "low": "0 nA",
    "high": "50 nA",
    "every": "1 ms",
    "warmup": "100 ms",
    "max_lag": "50 ms",
    "phase": "0",
}


#: the parameters that may be +inf, and what it means there (docs/workflow.md); NaN is
#: refused everywhere, and every other infinite value (a current, a rate, a weight...)
#: would give "done" points with meaningless numbers
INFINITE_OK = {"neuron.tau_m": "inf: no leak", "neuron.v_th": "inf: no spikes"}


INF_WORDS = {"inf", "infinity", ".inf"}


def not_finite(param: str, x: float) -> str:
    if math.isnan(x):
        return "must be a number, not NaN"
    allowed = " and ".join(f"{p} ({what})" for p, what in INFINITE_OK.items())
    return f"must be finite (only {allowed} may be inf)"


def flag(value: Any, key: str) -> bool:
    """A yes/no setting (``DASK_...=true`` arrives as True, ``--set ...=true`` too)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise WorkflowError(f"`{key}` must be true or false, got {_shown(value)}. Example: --set {key}=true", key, value)


def example(field: str) -> str:
    leaf = field.rsplit(".", 1)[-1]
    return f"Example: {leaf}: {EXAMPLES[leaf]}" if leaf in EXAMPLES else ""


def quantity(value: Any, field: str):
    return u.parse_quantity(value, field, example=EXAMPLES.get(field.rsplit(".", 1)[-1], ""))


def shown_unit(q) -> str:
    """A quantity's unit as written, compact ('mV', 'Mohm'); "" for a bare number."""
    return "" if q.dimensionless else f"{q.units:~}".replace(" ", "")


def parse_param(path: str, value: Any, q=None) -> Param:
    """A numeric parameter (``q``: ``value`` already parsed) -> its table entry; finite unless
    ``path`` may be inf (:data:`INFINITE_OK`)."""
    q = q if q is not None else quantity(value, path)
    x = u.to_si(q)
    if not math.isfinite(x) and not (x > 0 and path in INFINITE_OK):
        raise _err(path, value, not_finite(path, x), example(path) or "Give a finite number.")
    return Param(x, u.dimension_of(q), shown_unit(q), value)


def parse_time(value: Any, field: str, *, allow_zero: bool = False) -> tuple[float, Any]:
    """A positive (``allow_zero``: or zero) finite time -> (seconds, the quantity as written)."""
    q = quantity(value, field)
    if u.dimension_of(q) != "[time]":
        raise _err(field, value, "must be a time", example(field) or "Example: 10 ms")
    x = u.to_si(q)
    if math.isinf(x):
        raise _err(field, value, "must be a finite time", example(field) or "Example: 10 ms")
    if math.isnan(x) or x < 0 or (x == 0 and not allow_zero):
        raise _err(field, value, "must be a positive time" if not allow_zero else "must be a time >= 0", example(field))
    return x, q


_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _exact_integer(value: Any) -> int | None:
    """``value`` as an int when it is exactly one: an int, a float holding an integer, or a
    number written as text (``"1e6"``, ``"2.5e3"``); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        d = Decimal(value)  # exact: a float past 2**53 is still the integer it holds
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        d = Decimal(value.strip())
        if d.adjusted() >= (sys.get_int_max_str_digits() or 4300):  # no int of more digits than YAML would read
            return None
    else:
        return None
    return int(d) if d == d.to_integral_value() else None


def parse_integer(value: Any, field: str, minimum: int, maximum: float | None = None) -> int:
    """An integer >= ``minimum`` (and <= ``maximum``); a float or a number written like
    ``1e6`` is accepted when its value is exactly an integer."""
    n = _exact_integer(value)
    if n is None or n < minimum:
        raise _err(
            field, value, f"must be an integer >= {minimum}", f"Example: {field.rsplit('.', 1)[-1]}: {max(minimum, 1)}"
        )
    if maximum is not None and n > maximum:
        raise _err(
            field,
            value,
            f"must be an integer from {minimum} to {_g(maximum)}",
            f"Example: {field.rsplit('.', 1)[-1]}: {max(minimum, 1)}",
        )
    return n


def parse_multiple_of_dt(value: Any, field: str, run: Run) -> float:
    """A time that is a whole number (>= 1) of steps of dt and at most the duration (s)."""
    x = parse_time(value, field)[0]
    k = x / run.dt
    if abs(k - round(k)) > 1e-6 * max(1.0, k) or round(k) < 1:
        raise _err(
            field, value, f"must be a positive multiple of dt ({_short(run.dt_written)})", "Example: every: 1 ms"
        )
    if x > run.duration:
        raise _err(field, value, f"must not exceed duration ({_short(run.duration_written)})", "Example: every: 1 ms")
    return round(k) * run.dt


def parse_axis_values(
    spec: Mapping,
    where: str,
    param: str,
    *,
    dim: str,
    display: str = "",
    with_param: bool = True,
    room: Callable[[int, str, Any], None] | None = None,
    written: Param | None = None,
    distinct: bool = True,
) -> tuple[tuple[float, ...], str, str]:
    """An axis's values (``values``, ``linspace``, ``logspace`` or ``range``, and ``unit``) for
    ``param`` of dimension ``dim`` (``display``: its unit as written) -> (SI values, the SI
    unit, the unit to display). ``room(n, where, arg)`` may refuse ``n`` values before they
    are built (:func:`check_room`). ``written``: the parameter; when its dimension is the one
    written (:attr:`Param.dims`) and the axis' unit has another it may have, the message
    names the parameter first. ``distinct=False``: values may repeat (a labelled axis's
    parameters, whose labels are the coordinate)."""
    allowed = {"values", "linspace", "logspace", "range", "unit"}
    _check_keys(spec, allowed | {"param"} if with_param else allowed, where)
    raw_vals = axis_raw_values(spec, where, room)
    unit = spec.get("unit", "")
    if unit is None:
        unit = ""
    try:
        uq = u.Quantity(Decimal(1), str(unit)) if unit != "" else u.Quantity(Decimal(1), "")
    except Exception:
        raise _err(f"{where}.unit", unit, "is not a unit pint understands", "Example: unit: ms") from None
    target_dim = dim
    example_unit = display or u.si_unit(target_dim)
    # Bare numbers all share the axis's unit: its dimension is checked once, and each
    # number is converted by the same Decimal multiplication pint does in to_base_units
    # (one factor per unit), not through a Quantity per value: a 10^4-point linspace
    # took 1.3 s through pint, and gives the same floats this way (tested).
    unit_si = u.linear_si_factor(uq) if u.dimension_of(uq) == target_dim else None
    out = []
    for v in raw_vals:
        if isinstance(v, str) and v.strip().lower().lstrip("+-") in INF_WORDS:
            # a bare inf in YAML is text: the axis's unit applies to it as to any number
            v = -math.inf if v.strip().startswith("-") else math.inf
        if unit_si is not None and not isinstance(v, str):
            out.append(float((Decimal(v) if isinstance(v, int) else Decimal(repr(float(v)))) * unit_si))
            continue
        if isinstance(v, str):
            # a quantity written out ("5 ms") carries its own unit
            q = quantity(v, f"{where}.values")
            if u.dimension_of(q) != target_dim and not (q.dimensionless and u.to_si(q) == 0):
                raise _err(
                    f"{where}.values",
                    v,
                    f"must be {dim_name(target_dim)} like {param}, not {dim_name(u.dimension_of(q))}",
                    f"Example: values: [10, 20], unit: {example_unit}",
                )
        else:
            q = u.Quantity(Decimal(repr(float(v))) if not isinstance(v, int) else Decimal(v), "") * uq
            dim_ = u.dimension_of(q)
            if dim_ != target_dim and not (q.dimensionless and u.to_si(q) == 0):
                if written is not None and written.written is not None and dim_ in written.dims:
                    raise _axis_dimension_error(param, written, where, unit, dim_)
                what = (
                    f"is {dim_name(dim_)}, but {param} is {dim_name(target_dim)}"
                    if unit != ""
                    else f"is missing: bare numbers are dimensionless, but {param} is {dim_name(target_dim)}"
                )
                raise _err(f"{where}.unit", unit if unit != "" else "(none)", what, f"Example: unit: {example_unit}")
        out.append(u.to_si(q))
    if len(out) == 0:
        raise _err(where, spec.get("values", raw_vals), "is an empty axis", "Give at least one value.")
    if distinct and len(set(out)) != len(out):
        seen_: set[float] = set()
        for dup in out:  # the first repeated value, in O(n)
            if dup in seen_:
                break
            seen_.add(dup)
        same = _short(
            " = ".join(v if isinstance(v, str) else f"{v:g} {unit}".strip() for v, x in zip(raw_vals, out) if x == dup),
            60,
        )
        form = next(k for k in ("values", "linspace", "logspace", "range") if k in spec)
        raise _err(where, spec[form], f"has duplicated values ({same})", "Each value of an axis must be distinct.")
    for v, x in zip(raw_vals, out):
        if math.isnan(x):  # a float NaN (.nan in YAML); "nan ms" is refused when parsed
            raise _err(f"{where}.values" if "values" in spec else where, v, "holds NaN (not a number)", "Give numbers.")
        if not math.isfinite(x) and not (x > 0 and param in INFINITE_OK):
            raise _err(f"{where}.values" if "values" in spec else where, v, not_finite(param, x), "Give finite values.")
    shown = str(unit) if unit else display
    return tuple(out), u.si_unit(target_dim), shown


_DIM_NAMES = {
    u.unit_dimensionality(unit): name
    for unit, name in [
        ("s", "a time"),
        ("Hz", "a frequency"),
        ("A", "a current"),
        ("V", "a voltage"),
        ("V/s", "a voltage per time"),
        ("ohm", "a resistance"),
        ("1", "dimensionless"),
    ]
}


def dim_name(dim: str) -> str:
    """'[time]' -> 'a time (s)': a dimension as a reader knows it."""
    si = u.si_unit(dim)
    name = _DIM_NAMES.get(dim)
    if name == "dimensionless":
        return name
    return f"{name} ({si})" if name else f"in {si}"


def _axis_dimension_error(param: str, p: Param, where: str, unit: str, axis_dim: str) -> WorkflowError:
    """A parameter whose written dimension (a drive's: current, voltage, voltage per time)
    differs from its sweep axis' unit, which it could have as well: name the parameter,
    its dimension and the axis', with a fix for either."""
    try:
        magnitude = f"{float(quantity(p.written, param).magnitude):g}"
    except (WorkflowError, TypeError, ValueError):
        magnitude = "1"
    key = param.rsplit(".", 1)[-1]
    return _err(
        param,
        p.written,
        f"is {dim_name(p.dim)}, but sweep axis `{where}` gives it values in {unit}, {dim_name(axis_dim)}",
        f"Write it in the axis' dimension (Example: {key}: {magnitude} {unit}), "
        f"or sweep it in {dim_name(p.dim).split(' (')[0]} (unit: {p.display or u.si_unit(p.dim)}).",
    )


def axis_raw_values(spec: Mapping, where: str, room=None) -> list:
    """The values of an axis as written (numbers or quantity strings); ``room(n, where, arg)``
    may refuse ``n`` values before they are built."""
    forms = [k for k in ("values", "linspace", "logspace", "range") if k in spec]
    if len(forms) != 1:
        raise _err(
            where, dict(spec), "needs exactly one of values, linspace, logspace, range", "Example: linspace: [0, 1, 21]"
        )
    form = forms[0]
    arg = spec[form]
    if form == "values":
        if isinstance(arg, (int, float, str)) and not isinstance(arg, bool):
            arg = [arg]
        if not isinstance(arg, list):
            raise _err(f"{where}.values", arg, "must be a list", "Example: values: [5, 7.5, 10]")
        for v in arg:
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise _err(
                    f"{where}.values", arg, "must be a list of numbers or quantities", "Example: values: [5, 7.5, 10]"
                )
        if room is not None:
            room(len(arg), f"{where}.values", arg)
        return list(arg)
    if (
        not isinstance(arg, list)
        or len(arg) != 3
        or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in arg)
    ):
        raise _err(
            f"{where}.{form}",
            arg,
            "must be [start, stop, num]" if form != "range" else "must be [start, stop, step]",
            f"Example: {form}: " + ("[0, 1, 0.05]" if form == "range" else "[0, 1, 21]"),
        )
    start, stop, third = arg
    if not all(math.isfinite(x) for x in arg):
        raise _err(
            f"{where}.{form}",
            arg,
            "must hold finite numbers",
            f"Example: {form}: " + ("[0, 1, 0.05]" if form == "range" else "[0, 1, 21]"),
        )
    if form in ("linspace", "logspace"):
        if float(third) != int(third) or int(third) < 1:
            raise _err(
                f"{where}.{form}",
                arg,
                "needs a whole number of points >= 1 as third entry",
                f"Example: {form}: [1, 10, 30]",
            )
        n = int(third)
        _check_axis_size(n, f"{where}.{form}", arg)
        if room is not None:
            room(n, f"{where}.{form}", arg)
        d0, d1 = Decimal(repr(float(start))), Decimal(repr(float(stop)))
        if form == "linspace":
            # start + k*(stop - start)/(n - 1) in decimals, so that [0, 1, 21] gives 0.15, not
            # numpy's 0.15000000000000002 (coordinates are selected by value)
            if n == 1:
                return [float(d0)]
            return [float(d0 + (d1 - d0) * k / (n - 1)) for k in range(n)]
        if start <= 0 or stop <= 0:
            raise _err(
                f"{where}.logspace",
                arg,
                "needs positive start and stop (values, not exponents)",
                "Example: logspace: [1, 100, 3] gives 1, 10, 100",
            )
        return [float(x) for x in np.geomspace(start, stop, n)]
    step = third
    if step == 0 or (stop - start) * step < 0:
        raise _err(
            f"{where}.range", arg, "needs a step that goes from start towards stop", "Example: range: [0, 1, 0.05]"
        )
    # start + k*step, computed with decimals so that 0.05*3 is 0.15, not 0.15000000000000002,
    # and stop is included when it is on the grid ([0, 1, 0.05] has 21 values)
    d0, d1, ds = (Decimal(repr(float(x))) for x in arg)
    # a stop within 1e-9 steps of a grid point is on the grid (1/3-steps written as floats)
    n = int((d1 - d0) / ds + Decimal("1e-9")) + 1
    _check_axis_size(n, f"{where}.range", arg)
    if room is not None:
        room(n, f"{where}.range", arg)
    return [float(d0 + k * ds) for k in range(n)]


MAX_AXIS_SIZE = 1_000_000


def _check_axis_size(n: int, where: str, arg) -> None:
    # before materializing: range [0, 1e9, 1e-9] would otherwise hang and exhaust memory
    if n > MAX_AXIS_SIZE:
        raise _err(
            where,
            arg,
            f"gives {n} values, more than the {MAX_AXIS_SIZE} an axis may have",
            "Use a coarser step or fewer points.",
        )
