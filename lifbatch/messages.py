"""The one-line messages of bad input: a value quoted, a field named, a fix given.

Shared by the workflow's parsers (:mod:`lifbatch.workflow`), the sampled designs
(:mod:`lifbatch.design`) and the sweep's tasks (a block's memory): every message
quotes the value as written, an excerpt of a long one, on one line.
"""

from __future__ import annotations

import difflib
import json
import re
from decimal import Decimal
from typing import Any, Mapping

from . import units as u
from .errors import WorkflowError

__all__ = [
    "shown",
    "json_excerpt",
    "err",
    "one_line",
    "short",
    "check_keys",
    "three_digits",
    "byte_size",
    "CONTROL_CHARS",
]


def shown(value: Any) -> str:
    """``value`` quoted for a one-line message: 'text' as written, other values as JSON;
    an excerpt of at most ~80 characters (:func:`units.excerpt`) of a longer one."""
    if isinstance(value, str):
        # a YAML block scalar or an override may hold newlines: never break the line
        value = u.excerpt(value)
        return f"'{value}'" if value.isprintable() else repr(value)
    return repr(json_excerpt(value))


class _Enough(Exception):
    pass


def json_excerpt(value: Any, limit: int = u.EXCERPT) -> str:
    """``json.dumps(value, default=str)`` up to ``limit`` characters, produced only that far:
    a value of a million entries (or one nested a thousand deep) costs no more than a short one."""
    parts: list[str] = []
    size = 0

    def emit(text: str) -> None:
        nonlocal size
        parts.append(text)
        size += len(text)
        if size > limit:
            raise _Enough

    def walk(v: Any, depth: int) -> None:
        if depth > limit:
            emit("…")
        elif isinstance(v, Mapping):
            emit("{")
            for i, (k, x) in enumerate(v.items()):
                emit(", " if i else "")
                key = (
                    k
                    if isinstance(k, str)
                    else json.dumps(k)
                    if isinstance(k, (int, float, bool)) or k is None
                    else str(k)
                )
                emit(json.dumps(key[: limit + 1]))
                emit(": ")
                walk(x, depth + 1)
            emit("}")
        elif isinstance(v, (list, tuple)):
            emit("[")
            for i, x in enumerate(v):
                emit(", " if i else "")
                walk(x, depth + 1)
            emit("]")
        elif isinstance(v, str):
            emit(json.dumps(v[: limit + 1]))
        elif v is None or isinstance(v, (bool, int, float)):
            emit(json.dumps(v))
        else:  # dates, sets... as json.dumps(default=str) shows them
            emit(json.dumps(str(v)[: limit + 1]))

    try:
        walk(value, 0)
    except _Enough:
        pass
    text = "".join(parts)
    return text if size <= limit else text[: limit - 1] + "…"


def err(field: str, value: Any, what: str, fix: str = "") -> WorkflowError:
    msg = f"`{u.excerpt(field)}` {what}, got {shown(value)}."
    if fix:
        msg += f" {fix}"
    return WorkflowError(msg, field, value)


#: line breaks and other control characters: a message that holds one is escaped (:func:`one_line`)
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped ('\\n')."""
    return CONTROL_CHARS.sub(lambda m: repr(m.group())[1:-1], text)


def short(value: Any, limit: int = 40) -> str:
    """A value as written, unquoted, for a parenthesis of a message: an excerpt."""
    return u.excerpt(value if isinstance(value, str) else json_excerpt(value, limit), limit)


def check_keys(raw: Mapping, allowed: set[str], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise err(
            where or "workflow", raw, "must be a mapping of keys to values", "Check the indentation of the YAML file."
        )
    for key in raw:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"Did you mean `{close[0]}`? " if close else ""
            raise WorkflowError(
                f"`{one_line(u.excerpt(path))}` is not a known key (value {shown(raw[key])}). "
                f"{hint}Allowed here: {', '.join(sorted(allowed))}.",
                path,
                raw[key],
            )


def three_digits(x: float) -> str:
    """``x`` to 3 significant digits as ``.3g`` writes it, also an integer past a float's
    range (a trial count of 1e308 times the steps)."""
    try:
        return f"{x:.3g}"
    except OverflowError:
        mantissa, exponent = f"{Decimal(x):.2e}".split("e")
        return f"{float(mantissa):g}e+{int(exponent)}"


def byte_size(n: float) -> str:
    if n >= 2**1000:  # an integer past a float's range
        return f"{three_digits(int(n) >> 50)} PiB"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover
