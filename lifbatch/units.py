"""Quantities with units, parsed with pint and converted exactly to SI floats.

The registry uses :class:`decimal.Decimal` magnitudes, so "250 pA" becomes
exactly ``2.5e-10`` (the correctly rounded float), not ``250 * 1e-12``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache

import pint

from .config import cache_dir
from .errors import WorkflowError

__all__ = [
    "parse_quantity",
    "Quantity",
    "si_unit",
    "convert",
    "dimension_of",
    "to_si",
    "unit_dimensionality",
    "linear_si_factor",
    "excerpt",
]


def _registry() -> pint.UnitRegistry:
    """pint's registry, with its parsed unit definitions cached on disk (pint's own
    ``cache_folder``, keyed by the definitions and the Decimal type): building it
    from the definition files took 0.25 s of every command's start, from the cache
    0.05 s. Without a writable cache directory, the registry is built as usual."""
    try:
        return pint.UnitRegistry(non_int_type=Decimal, cache_folder=cache_dir("pint"))
    except OSError:  # pragma: no cover - read-only home
        return pint.UnitRegistry(non_int_type=Decimal)


_UREG = _registry()
#: the registry's Quantity (its instances are :class:`pint.Quantity`, the type annotations say)
Quantity: type[pint.Quantity] = _UREG.Quantity

# Readable SI names for the dimensions lifbatch meets; anything else falls back
# to pint's base units.
_PRETTY_SI = ["1", "s", "V", "A", "ohm", "Hz", "V/s", "A/s", "S", "F", "V**2", "s**-0.5"]


def _ureg() -> pint.UnitRegistry:
    return _UREG


@lru_cache(maxsize=256)
def _parse(text: str):
    return _UREG.parse_expression(text)


#: the longest text read as a quantity ("1.5e-3 mV / ms" is 14 characters)
MAX_QUANTITY_TEXT = 200


def parse_quantity(value: object, field: str, *, example: str = "") -> pint.Quantity:
    """Parse ``value`` (a string like ``"12 ms"`` or a bare number) into a pint Quantity.

    Raises WorkflowError naming ``field`` when it cannot be parsed.
    """
    hint = f" Example: {field.rsplit('.', 1)[-1]}: {example}" if example else " Example: 20 ms"
    if isinstance(value, bool):
        raise WorkflowError(
            f"`{field}` must be a number or a quantity with units, got '{str(value).lower()}'.{hint}", field, value
        )
    if isinstance(value, (int, float)):
        return _finite_or_inf(_UREG.Quantity(Decimal(str(value)), ""), value, field, hint)
    if isinstance(value, Decimal):
        return _finite_or_inf(_UREG.Quantity(value, ""), value, field, hint)
    if not isinstance(value, str):
        raise WorkflowError(
            f"`{field}` must be a number or a quantity string such as '12 ms', got {_quoted(value)}.{hint}",
            field,
            value,
        )
    text = value.strip()
    if not text:
        # pint reads "" as 1: an empty override (--set neuron.v_th=) must not become 1
        raise WorkflowError(f"`{field}` must be a number or a quantity such as '12 ms', got ''.{hint}", field, value)
    if len(text) > MAX_QUANTITY_TEXT:
        # pint's parser takes minutes over a megabyte of text
        raise WorkflowError(
            f"`{field}` is {len(text)} characters long, not a quantity, got {_quoted(value)}.{hint}", field, value
        )
    low = text.lower()
    if low in {"inf", "+inf", "infinity", ".inf"}:
        return _UREG.Quantity(Decimal("Infinity"), "")
    try:
        if low.startswith("inf ") or low.startswith("infinity "):
            return _UREG.Quantity(Decimal("Infinity"), text.split(None, 1)[1])
        q = _parse(text)
    except Exception as exc:  # pint raises many kinds of errors for bad text
        # name the cause when pint's message is readable (unknown unit, mixed dimensions);
        # pint quotes the text in it: an excerpt only
        detail = (
            f" ({excerpt(' '.join(str(exc).split()), 60)})"
            if isinstance(exc, (pint.UndefinedUnitError, pint.DimensionalityError))
            else ""
        )
        raise WorkflowError(
            f"`{field}` could not be parsed as a quantity, got {_quoted(value)}{detail}.{hint}", field, value
        ) from None
    if not isinstance(q, _UREG.Quantity):
        q = _UREG.Quantity(Decimal(str(q)), "")
    return _finite_or_inf(q, value, field, hint)


def _finite_or_inf(q, value, field: str, hint: str):
    """``q``, refused when its magnitude is NaN (pint reads "nan mV"): NaN is never a
    parameter value. Infinite values pass; the workflow decides where they make sense."""
    m = q.magnitude
    if m.is_nan() if isinstance(m, Decimal) else isinstance(m, float) and math.isnan(m):
        raise WorkflowError(
            f"`{field}` is NaN (not a number), got {_quoted(value)}. Give a number.{hint}", field, value
        )
    return q


#: the most characters of a value a message quotes
EXCERPT = 80


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """``text`` cut to ``limit`` characters ("abc…(1234 characters)"): a message quotes
    an excerpt of a value, never all of a long one."""
    if len(text) <= limit:
        return text
    tail = f"… ({len(text)} characters)"
    return text[: max(1, limit - len(tail))] + tail


def _quoted(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = excerpt(text)
    return f"'{text}'" if text.isprintable() else repr(text)


def dimension_of(q: pint.Quantity) -> str:
    return str(q.dimensionality)


def to_si(q: pint.Quantity) -> float:
    """The magnitude of ``q`` in SI base units, as a correctly rounded float."""
    base = q.to_base_units()
    return float(base.magnitude)


def linear_si_factor(q: pint.Quantity) -> Decimal | None:
    """The Decimal factor pint's ``to_base_units`` multiplies magnitudes in ``q``'s unit by
    (``to_si(x * unit) == float(Decimal(x) * factor)`` for every x), or None for a unit
    with an offset (degC), which is not a plain factor."""
    unit = q.units
    if _UREG.Quantity(Decimal(0), unit).to_base_units().magnitude != 0:
        return None
    return Decimal(_UREG.Quantity(Decimal(1), unit).to_base_units().magnitude)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a float between two unit strings (used for display)."""
    if from_unit == to_unit:
        return value
    return float(_UREG.Quantity(Decimal(repr(float(value))), from_unit or "").to(to_unit or "").magnitude)


@lru_cache(maxsize=256)
def si_unit(dimensionality: str) -> str:
    """A readable SI unit string for a pint dimensionality string ("[time]" -> "s")."""
    for name in _PRETTY_SI:
        if str(_UREG.Quantity(1, name).dimensionality) == dimensionality:
            return name
    return dimensionality


def unit_dimensionality(unit: str) -> str:
    return str(_UREG.Quantity(1, unit).dimensionality)


def is_dimensionless(q: pint.Quantity) -> bool:
    return q.dimensionless
