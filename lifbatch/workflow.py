"""Workflow files: load, validate once, freeze.

A workflow is parsed into a frozen :class:`Workflow` whose numbers are SI
floats (or dimensionless). Numeric code downstream trusts it. Every error is a
one-line :class:`~lifbatch.errors.WorkflowError` naming the field, the value
and the fix.

:func:`load_workflow` reads the file and applies overrides; :func:`parse` parses the
top-level keys into a :class:`Run` (trials, duration, dt, method, whether the caps
apply) and composes one function per section, each given what it is checked against
and returning a frozen spec: :func:`parse_neuron` (:class:`NeuronSpec`),
:func:`parse_inputs` (:class:`InputsSpec`: the :class:`Drive` objects),
:func:`parse_sweep` (:class:`SweepAxis` objects), :func:`lifbatch.design.parse_sample`
(a :class:`SampleAxis`), :func:`parse_noise`, :func:`parse_record` (:class:`RecordSpec`)
and :func:`parse_summaries` (:class:`SummarySpec`); then :func:`check_values` checks
every value a parameter takes over the grid. The numeric parameters are a
:class:`ParamTable` (dot path -> :class:`Param`) that the neuron and the inputs add to
and the axes read.

Examples
--------
>>> wf = load_workflow({"name": "demo", "duration": "100 ms",
...                     "neuron": {"tau_m": "10 ms", "v_th": 1},
...                     "inputs": {"drive": {"kind": "constant", "value": "0.12 / ms"}}})
>>> wf.n_steps, wf.params["neuron.tau_m"]
(1000, 0.01)
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
import os
import re
import stat
import sys
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import yaml

from . import units as u
from .drives import DRIVES
from .errors import WorkflowError
from .layout import VARIABLES

__all__ = ["Workflow", "SweepAxis", "Drive", "load_workflow", "apply_overrides", "DRIVE_KINDS"]

NAME_RE = re.compile(r"^[a-z0-9_-]+$")
AXIS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: the longest name of a workflow (its store's directory name), of an axis and of a drive
MAX_NAME, MAX_AXIS_NAME = 100, 64
RESERVED_DIMS = {"trial", "time", "lag", "isi_bin", "trace_trial", "trace_time", "spike_byte", "sample",
                 "sample_round"}
#: names of the store's variables and other coordinates: an axis of that name would clash with them
RESERVED_VARS = set(VARIABLES) | {"isi_bin_lower", "isi_bin_upper"}

TOP_KEYS = {"name", "description", "seed", "trials", "duration", "dt", "method", "neuron",
            "inputs", "sweep", "sample", "noise", "record", "summaries"}
NEURON_KEYS = {"tau_m", "e_l", "v_th", "v_reset", "v_init", "t_ref", "r_m"}
VOLTAGE_FIELDS = ("v_th", "e_l", "v_reset", "v_init")
#: the parameters that may be +inf, and what it means there (docs/workflow.md); NaN is
#: refused everywhere, and every other infinite value (a current, a rate, a weight...)
#: would give "done" points with meaningless numbers
INFINITE_OK = {"neuron.tau_m": "inf: no leak", "neuron.v_th": "inf: no spikes"}

# kind -> {field: (role, default)}, from the drive kinds' registry (drives.py), where
# each kind says its fields' dimensions: "drive" (the drive's own dimension: current,
# voltage or voltage/time, all such fields agree), "voltage", "time", "rate", "noise",
# "1" (dimensionless), "int", "bool", "file", "unit"; a default of None: required
DRIVE_KINDS: dict[str, dict[str, tuple[str, Any]]] = {name: dict(kind.fields) for name, kind in DRIVES.items()}
# How a continuous drive enters dV/dt, decided by its dimension (docs/workflow.md).
DRIVE_ROLES = ("current", "voltage", "voltage_rate")
EXAMPLES = {
    "duration": "1000 ms", "dt": "0.1 ms", "tau_m": "20 ms", "t_ref": "2 ms", "r_m": "100 Mohm",
    "v_th": "-50 mV", "e_l": "-60 mV", "v_reset": "-70 mV", "v_init": "-60 mV",
    "rate": "10 Hz", "frequency": "10 Hz", "interval": "10 ms", "weight": "0.1",
    "value": "250 pA", "mean": "250 pA", "amplitude": "250 pA", "half_width": "100 pA",
    "sigma": "0.5 mV", "low": "0 nA", "high": "50 nA", "every": "1 ms", "warmup": "100 ms",
    "max_lag": "50 ms", "phase": "0",
}


def _shown(value: Any) -> str:
    """``value`` quoted for a one-line message: 'text' as written, other values as JSON;
    an excerpt of at most ~80 characters (:func:`units.excerpt`) of a longer one."""
    if isinstance(value, str):
        # a YAML block scalar or an override may hold newlines: never break the line
        value = u.excerpt(value)
        return f"'{value}'" if value.isprintable() else repr(value)
    return repr(_json_excerpt(value))


class _Enough(Exception):
    pass


def _json_excerpt(value: Any, limit: int = u.EXCERPT) -> str:
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
                key = k if isinstance(k, str) else json.dumps(k) if isinstance(k, (int, float, bool)) or k is None \
                    else str(k)
                emit(json.dumps(key[:limit + 1]))
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
            emit(json.dumps(v[:limit + 1]))
        elif v is None or isinstance(v, (bool, int, float)):
            emit(json.dumps(v))
        else:  # dates, sets... as json.dumps(default=str) shows them
            emit(json.dumps(str(v)[:limit + 1]))

    try:
        walk(value, 0)
    except _Enough:
        pass
    text = "".join(parts)
    return text if size <= limit else text[:limit - 1] + "…"


def _err(field: str, value: Any, what: str, fix: str = "") -> WorkflowError:
    msg = f"`{u.excerpt(field)}` {what}, got {_shown(value)}."
    if fix:
        msg += f" {fix}"
    return WorkflowError(msg, field, value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped ('\\n')."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


_INF_WORDS = {"inf", "infinity", ".inf"}


def _not_finite(param: str, x: float) -> str:
    if math.isnan(x):
        return "must be a number, not NaN"
    allowed = " and ".join(f"{p} ({what})" for p, what in INFINITE_OK.items())
    return f"must be finite (only {allowed} may be inf)"


def _short(value: Any, limit: int = 40) -> str:
    """A value as written, unquoted, for a parenthesis of a message: an excerpt."""
    return u.excerpt(value if isinstance(value, str) else _json_excerpt(value, limit), limit)


def _flag(value: Any, key: str) -> bool:
    """A yes/no setting (``DASK_...=true`` arrives as True, ``--set ...=true`` too)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise WorkflowError(f"`{key}` must be true or false, got {_shown(value)}. Example: --set {key}=true", key, value)


def _example(field: str) -> str:
    leaf = field.rsplit(".", 1)[-1]
    return f"Example: {leaf}: {EXAMPLES[leaf]}" if leaf in EXAMPLES else ""


def _check_keys(raw: Mapping, allowed: set[str], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise _err(where or "workflow", raw, "must be a mapping of keys to values",
                   "Check the indentation of the YAML file.")
    for key in raw:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"Did you mean `{close[0]}`? " if close else ""
            raise WorkflowError(
                f"`{_one_line(u.excerpt(path))}` is not a known key (value {_shown(raw[key])}). "
                f"{hint}Allowed here: {', '.join(sorted(allowed))}.", path, raw[key])


# --------------------------------------------------------------------------- #
# frozen spec objects
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Drive:
    """One named input: ``kind`` and its parameters (SI floats, or flags)."""

    name: str
    kind: str
    role: str | None          # current / voltage / voltage_rate for continuous drives
    options: tuple = ()        # non-numeric fields: (("shared", True), ("file", "/abs/x.npy"), ...)

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)


@dataclass(frozen=True)
class SweepAxis:
    """One grid dimension. A zipped axis moves several parameters together."""

    name: str
    params: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]  # one tuple of SI values per param
    units: tuple[str, ...]                 # SI unit string per param
    display_units: tuple[str, ...]         # unit as written by the user, per param

    @property
    def size(self) -> int:
        return len(self.values[0])

    @property
    def coord(self) -> np.ndarray:
        return np.asarray(self.values[0], dtype=float)

    @property
    def labels(self) -> tuple[str, ...]:
        """The coordinate name of each parameter: the axis's own name for the first."""
        return (self.name,) + self.params[1:]


@dataclass(frozen=True)
class SampleAxis(SweepAxis):
    """A sampled design as one grid dimension, ``sample`` (design.py): its parameters move
    together along it, like a zipped axis; its coordinate is the point's number."""

    spec: Any = None                 # design.SampleSpec
    rounds: tuple[int, ...] = ()     # per point: 0 for the design, k when added in round k

    @property
    def coord(self) -> np.ndarray:
        return np.arange(self.size, dtype=np.int64)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels


@dataclass(frozen=True)
class LabelledAxis(SweepAxis):
    """A zipped axis whose coordinate is a label per point (``sweep.<axis>.labels``): each
    label sets every zipped parameter to its value there; the parameters are coordinates
    along the axis named by their path, and need not be distinct (the labels are)."""

    point_labels: tuple[str, ...] = ()

    @property
    def coord(self) -> np.ndarray:
        # numpy's variable-width strings (Zarr v3's `string`, as Zarr reads them back); numpy < 2: objects
        string = np.dtypes.StringDType() if hasattr(np.dtypes, "StringDType") else object
        return np.asarray(self.point_labels, dtype=string)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.params


@dataclass(frozen=True)
class Run:
    """The top-level settings every section is checked against (parsed by :func:`parse`).

    ``duration_written`` and ``dt_written`` are the values as written, for messages;
    ``limits``: whether the caps of ``lifbatch.limits`` apply.
    """

    trials: int
    duration: float           # s
    dt: float                 # s
    method: str               # "euler" or "exact"
    duration_written: Any
    dt_written: Any = "0.1 ms"
    limits: bool = True

    @property
    def n_steps(self) -> int:
        return int(round(self.duration / self.dt))


@dataclass(frozen=True)
class RecordSpec:
    """The ``record`` section: the trials whose V is kept, sampled every ``every`` (s)."""

    trials: tuple[int, ...]
    every: float
    state: tuple[str, ...] = ()     # the model's state variables recorded beside V (record.state)
    inputs: tuple[str, ...] = ()    # the drives whose values are recorded (record.inputs)


@dataclass(frozen=True)
class SummarySpec:
    """The ``summaries`` section, SI: the warm-up left out, the ISI histogram's bin edges, the
    moments' sampling interval and the autocovariance's longest lag."""

    warmup: float
    isi_edges: tuple[float, ...]
    moments_every: float
    max_lag: float


@dataclass(frozen=True)
class Param:
    """One entry of the parameter table: its SI value, its dimension (pint's, e.g.
    '[time]' or 'dimensionless'), its unit as written ("" when bare) and its value as
    written, for messages (None where a default was taken)."""

    value: float
    dim: str
    display: str = ""
    written: Any = None
    #: the dimensions it may have when the one written decides (a drive's value or noise:
    #: current, voltage or voltage per time), not the model: a sweep axis in another of
    #: them is then blamed on the value as much as on the axis
    dims: tuple[str, ...] = ()


class ParamTable(Mapping):
    """The parameter table: dot path -> :class:`Param`, in the order the sections add them
    (the order of ``Workflow.params``). Immutable: :meth:`plus` returns a new table."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, Param] | None = None):
        self._entries = dict(entries or {})

    def __getitem__(self, path: str) -> Param:
        return self._entries[path]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ParamTable({self._entries!r})"

    def plus(self, entries: Mapping[str, Param]) -> "ParamTable":
        """This table with ``entries`` added (or replaced, in place)."""
        return ParamTable({**self._entries, **entries})

    def written(self, path: str, default: Any = None) -> Any:
        """``path``'s value as written, or ``default`` (a parameter given no value)."""
        p = self._entries.get(path)
        return default if p is None or p.written is None else p.written


@dataclass(frozen=True)
class NeuronSpec:
    """The ``neuron`` section: its parameters (``neuron.*``), the dimension of its voltages
    (volts, or dimensionless) and of ``r_m``, and the voltage unit shown."""

    params: ParamTable
    voltage_dim: str
    voltage_display: str
    r_dim: str
    r_m_given: bool          # r_m was written (the message of a current without resistance)
    model: str = "lif"       # neuron.model (lifbatch.models)
    options: tuple = ()      # the model's non-numeric settings, e.g. (("gates_init", "zero"),)


@dataclass(frozen=True)
class InputsSpec:
    """The ``inputs`` section: the drives, their parameters (``inputs.*``), and the sha256 of
    each input file by drive name."""

    drives: tuple[Drive, ...]
    params: ParamTable
    files: tuple[tuple[str, str], ...] = ()

    def file_sha256(self, name: str) -> str | None:
        return dict(self.files).get(name)


@dataclass(frozen=True)
class Workflow:
    """A validated workflow. Build it with :func:`load_workflow`."""

    name: str
    description: str
    seed: int
    trials: int
    duration: float
    dt: float
    method: str
    params: Mapping[str, float]          # every numeric parameter by dot path, SI
    param_units: Mapping[str, str]       # SI unit string per parameter
    display_units: Mapping[str, str]     # as written, per parameter ("" when bare)
    drives: tuple[Drive, ...]
    sweep: tuple[SweepAxis, ...]
    shared_across: tuple[str, ...]
    record_trials: tuple[int, ...]
    record_every: float
    warmup: float
    isi_edges: tuple[float, ...]
    moments_every: float
    max_lag: float
    voltage_unit: str                    # "V" or "1"
    voltage_display: str                 # e.g. "mV"
    canonical: str = field(repr=False)   # canonical JSON of everything that changes results
    source: str = field(repr=False, default="")  # the raw workflow (after overrides), JSON
    #: the V moments' warmup when it is not ``warmup``: a store whose V moments `lifbatch
    #: summarize` could not recompute keeps them at the warmup they were computed with
    #: (``summaries.moments_warmup`` of its canonical JSON); never set by a workflow file
    moments_warmup: float | None = None
    #: the neuron model (``neuron.model``, lifbatch.models) and its non-numeric settings
    model: str = "lif"
    model_options: tuple = ()
    #: state variables (other than V) and drives recorded on V's trace grid (record.state, record.inputs)
    record_state: tuple[str, ...] = ()
    record_inputs: tuple[str, ...] = ()

    @property
    def v_warmup(self) -> float:
        """The warmup of the V moments (``v_mean``, ``v_var``, ``v_autocov``)."""
        return self.warmup if self.moments_warmup is None else self.moments_warmup

    # ---- derived sizes ------------------------------------------------------
    @property
    def n_steps(self) -> int:
        return int(round(self.duration / self.dt))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(ax.size for ax in self.sweep)

    @property
    def n_points(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.sweep else 1

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(ax.name for ax in self.sweep)

    @property
    def sample(self) -> "SampleAxis | None":
        """The sampled design (the first axis), or None for a grid alone."""
        return self.sweep[0] if self.sweep and isinstance(self.sweep[0], SampleAxis) else None

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:16]

    @property
    def moments_stride(self) -> int:
        return int(round(self.moments_every / self.dt))

    @property
    def record_stride(self) -> int:
        return int(round(self.record_every / self.dt))

    @property
    def warmup_steps(self) -> int:
        return int(round(self.warmup / self.dt))

    @property
    def ref_steps(self) -> int:
        return int(round(self.params["neuron.t_ref"] / self.dt))

    def to_dict(self) -> dict:
        """The raw workflow (after overrides) as a plain dict, loadable again."""
        return json.loads(self.source)

    def point_params(self, index: tuple[int, ...]) -> dict[str, float]:
        """All numeric parameters at one grid point (``index`` into :attr:`shape`)."""
        params = dict(self.params)
        for ax, i in zip(self.sweep, index):
            for p, vals in zip(ax.params, ax.values):
                params[p] = vals[i]
        return params

    def prune(self, n: int = 2) -> "Workflow":
        """A copy whose every sweep axis keeps only its first ``n`` values (smoke tests)."""
        raw = self.to_dict()
        if raw.get("sample"):
            raw["sample"] = {k: v for k, v in raw["sample"].items() if k != "added"}
            raw["sample"]["n"] = min(n, int(raw["sample"]["n"]))
        for name, spec in (raw.get("sweep") or {}).items():
            ax = next(a for a in self.sweep if a.name == name)
            keep = min(n, ax.size)
            if "labels" in spec:
                spec["labels"] = list(spec["labels"])[:keep]
            if "zip" in spec:
                for p, sub in spec["zip"].items():
                    spec["zip"][p] = _pruned_axis_spec(sub, keep)
            else:
                raw["sweep"][name] = _pruned_axis_spec(spec, keep)
        return load_workflow(raw)


def _canonical_axis(ax: SweepAxis) -> dict:
    """An axis in the canonical JSON: a sampled design's values without its added points; a
    labelled axis with its labels (only then: every other axis's identity is as before)."""
    if isinstance(ax, LabelledAxis):
        return {"name": ax.name, "labels": list(ax.point_labels), "params": list(ax.params),
                "values": [list(v) for v in ax.values]}
    if isinstance(ax, SampleAxis):
        n = ax.spec.n
        return {"name": ax.name, "params": list(ax.params), "values": [list(v[:n]) for v in ax.values]}
    return {"name": ax.name, "params": list(ax.params), "values": [list(v) for v in ax.values]}


def _pruned_axis_spec(spec: dict, keep: int) -> dict:
    vals = _axis_raw_values(spec, "sweep")
    out = {k: v for k, v in spec.items() if k not in {"values", "linspace", "logspace", "range"}}
    out["values"] = [v if isinstance(v, str) else float(v) for v in vals[:keep]]
    return out


# --------------------------------------------------------------------------- #
# YAML
# --------------------------------------------------------------------------- #
#: the deepest nesting of a workflow's YAML (a workflow has 4 or 5 levels)
MAX_YAML_DEPTH = 50


class _YamlRefused(yaml.YAMLError):
    def __init__(self, what: str, fix: str, mark):
        super().__init__(what)
        self.what, self.fix, self.mark = what, fix, mark


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load`` without aliases (``*name``, ``<<: *name``): a few hundred bytes of
    nested aliases (the "billion laughs") expand to gigabytes wherever the values are
    copied or shown. Anchors alone are harmless. Nesting is bounded too (the composer
    recurses: thousands of ``[`` would end in a RecursionError)."""

    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _YamlRefused(f"uses a YAML alias (*{u.excerpt(str(event.anchor), 40)})",
                               "lifbatch does not expand aliases: write the value out in full.", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _YamlRefused(f"nests more than {MAX_YAML_DEPTH} levels deep",
                                   "A workflow has a few levels: check the brackets.", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _yaml_load(text: str) -> Any:
    """Parse YAML as :func:`yaml.safe_load` does, refusing aliases and deep nesting
    (:class:`_YamlRefused`); an integer too long for Python (ValueError) is a YAMLError."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except ValueError as exc:  # int("1" * 5000): Python reads at most sys.get_int_max_str_digits() digits
        if "digits" in str(exc):
            raise yaml.YAMLError(f"it holds a number of more than {sys.get_int_max_str_digits()} digits") from None
        raise yaml.YAMLError(u.excerpt(" ".join(str(exc).split()), 100)) from None


# --------------------------------------------------------------------------- #
# overrides
# --------------------------------------------------------------------------- #
def apply_overrides(raw: dict, overrides: Mapping[str, Any] | list[str] | None) -> dict:
    """Set dot-path keys in a raw workflow dict (``--set neuron.tau_m="20 ms"``).

    ``overrides`` is a mapping path -> value or a list of "KEY=VALUE" strings;
    a string VALUE is read as YAML ("5" is a number, "20 ms" a string).
    """
    if not overrides:
        return raw
    raw = copy.deepcopy(raw)
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        for item in overrides:
            if "=" not in item:
                raise WorkflowError(
                    f"`--set` expects KEY=VALUE, got {_shown(item)}. Example: --set neuron.tau_m=\"20 ms\"",
                    "--set", item)
            key, text = item.split("=", 1)
            try:
                # as YAML, without aliases (then the text itself: "*bold*" is a description)
                value = _yaml_load(text) if text.strip() else ""
            except yaml.YAMLError:
                value = text
            items.append((key.strip(), value))
    for key, value in items:
        parts = key.split(".")
        if not key or any(not p for p in parts):
            raise WorkflowError(f"`--set` key {_shown(key)} is not a dot path. Example: --set neuron.tau_m=\"20 ms\"",
                                "--set", key)
        node = raw
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise WorkflowError(
                    f"`--set {u.excerpt(key)}`: `{u.excerpt('.'.join(parts[:i + 1]))}` is {_shown(nxt)}, not a "
                    f"section that can hold {_shown(parts[i + 1])}. Set the whole value instead.", key, value)
            node = nxt
        node[parts[-1]] = value
    return raw


# --------------------------------------------------------------------------- #
# limits (dask.config "lifbatch.limits", defaults in lifbatch.yaml)
# --------------------------------------------------------------------------- #
def _limit(name: str) -> float:
    """The cap ``lifbatch.limits.<name>`` as a number (bytes for max-task-memory)."""
    from . import config

    raw = config.get(f"limits.{name}")
    try:
        if isinstance(raw, str):
            try:
                value = float(raw)
            except ValueError:
                if not name.endswith(("memory", "-file")):
                    raise
                from dask.utils import parse_bytes

                value = float(parse_bytes(raw))
        else:
            value = float(raw)
        if not value > 0:
            raise ValueError
    except (TypeError, ValueError):
        raise WorkflowError(f"`lifbatch.limits.{name}` must be a positive number, got {_shown(raw)}. "
                            f"Example: --set lifbatch.limits.{name}={_LIMIT_EXAMPLES[name]}",
                            f"lifbatch.limits.{name}", raw) from None
    return value


_LIMIT_EXAMPLES = {"max-points": "2e7", "max-neuron-steps": "2e15", "max-task-memory": "16GiB",
                   "max-workflow-file": "64MiB"}


def _trials(n: int) -> str:
    return f"{_count(n)} trial" + ("s" if n != 1 else "")


def _count(n: float) -> str:
    return f"{int(n)}" if n < 1e6 else _g(n)


def _g(x: float) -> str:
    """``x`` to 3 significant digits as ``.3g`` writes it, also an integer past a float's
    range (a trial count of 1e308 times the steps)."""
    try:
        return f"{x:.3g}"
    except OverflowError:
        mantissa, exponent = f"{Decimal(x):.2e}".split("e")
        return f"{float(mantissa):g}e+{int(exponent)}"


def _bytes(n: float) -> str:
    if n >= 2 ** 1000:  # an integer past a float's range
        return f"{_g(int(n) >> 50)} PiB"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


def _raise_cap(name: str, needed: float) -> str:
    """How to raise the cap ``name`` to at least ``needed``."""
    if name.endswith("-file"):
        value = f"{math.ceil(needed / 2 ** 20)}MiB"
    elif name.endswith("memory"):
        value = f"{math.ceil(needed / 2 ** 30)}GiB" if needed < 2 ** 40 else f"{math.ceil(needed / 2 ** 40)}TiB"
    else:
        digits = f"{Decimal(needed) if needed >= 1e300 else needed:.1e}".split("e")
        value = f"{math.ceil(float(digits[0]) * 10) / 10:g}e{int(digits[1])}" if needed >= 1e6 else str(int(needed))
    env = "DASK_LIFBATCH__LIMITS__" + name.upper().replace("-", "_")
    return f"or raise the cap: --set lifbatch.limits.{name}={value} (or {env}={value})."


def check_task_memory(wf: "Workflow", points: int = 1, *, points_per_task: int | None = None) -> None:
    """Refuse tasks of ``points`` points of ``wf`` whose working memory (``layout.point_bytes``
    per point) exceeds ``lifbatch.limits.max-task-memory``. ``points_per_task``: the block
    size the user asked for (``--points-per-task``), if any, for the message; the planner
    calls this with its blocks' size (plan.plan_blocks)."""
    from .layout import point_bytes

    cap = _limit("max-task-memory")
    one = point_bytes(wf)
    need = one * max(1, int(points))
    if need <= cap:
        return
    if one > cap or points <= 1:
        raise _err("duration", wf.to_dict().get("duration"),
                   f"makes one point need ~{_bytes(one)} of working memory ({_trials(wf.trials)} x {_count(wf.n_steps)} "
                   f"steps), more than lifbatch.limits.max-task-memory ({_bytes(cap)})",
                   "Shorten the run, use fewer trials, record fewer V traces or sample V less often "
                   "(record.v.every, summaries.moments.every), " + _raise_cap("max-task-memory", one))
    fit = max(1, int(cap // one))
    if points_per_task is not None:
        raise WorkflowError(
            f"`--points-per-task` {points_per_task} makes tasks of ~{_bytes(need)} of working memory "
            f"({_bytes(one)} per point), more than lifbatch.limits.max-task-memory ({_bytes(cap)}). Use at most "
            f"--points-per-task {fit}, " + _raise_cap("max-task-memory", need), "--points-per-task", points_per_task)
    raise WorkflowError(
        f"`sweep` makes tasks of {points} points of ~{_bytes(need)} of working memory ({_bytes(one)} per point): "
        f"the {_count(wf.n_points)} points in at most lifbatch.task.max-tasks tasks, more than "
        f"lifbatch.limits.max-task-memory ({_bytes(cap)}). Sweep fewer points, allow more tasks "
        f"(--set lifbatch.task.max-tasks={math.ceil(wf.n_points / fit)}), " + _raise_cap("max-task-memory", need),
        "sweep", wf.shape)


_MISSING = object()


def _config_overrides(overrides) -> tuple[Any, dict]:
    """Split ``overrides`` into the workflow's and lifbatch's settings (``lifbatch.KEY``,
    dask.config), the latter read as YAML like the former."""
    if not overrides:
        return overrides, {}
    settings = {}
    if isinstance(overrides, Mapping):
        rest = {}
        for key, value in overrides.items():
            (settings if str(key).startswith("lifbatch.") else rest)[key] = value
        return rest, settings
    rest = []
    for item in overrides:
        key = item.split("=", 1)[0].strip() if "=" in item else ""
        if key.startswith("lifbatch."):
            text = item.split("=", 1)[1]
            try:
                settings[key] = _yaml_load(text) if text.strip() else ""
            except yaml.YAMLError:
                settings[key] = text
        else:
            rest.append(item)
    return rest, settings


def _apply_settings(settings: dict) -> None:
    """``--set lifbatch.limits.max-points=2e7``: set the dask.config keys, for this process."""
    import dask.config

    from . import config  # noqa: F401 - lifbatch's defaults, the known keys

    for key, value in settings.items():
        if dask.config.get(key, default=_MISSING) is _MISSING or isinstance(dask.config.get(key), Mapping):
            section = key.rsplit(".", 1)[0]
            known = dask.config.get(section, default=None) if section != "lifbatch" else None
            names = (f" Settings in {section}: {', '.join(sorted(known))}." if isinstance(known, Mapping)
                     else " See lifbatch/lifbatch.yaml for the settings.")
            raise WorkflowError(f"`--set {u.excerpt(key)}` is not a lifbatch setting.{names}", key, value)
        if isinstance(value, str):
            try:  # YAML 1.1 reads 2e7 as text
                value = float(value)
            except ValueError:
                pass
        dask.config.set({key: value})


# --------------------------------------------------------------------------- #
# loading
# --------------------------------------------------------------------------- #
def load_workflow(path_or_dict: str | os.PathLike | Mapping, overrides=None, *, limits: bool = True) -> Workflow:
    """Load, validate and freeze a workflow.

    Parameters
    ----------
    path_or_dict : path to a YAML file, or the already parsed mapping
    overrides : mapping of dot paths to values, or list of "KEY=VALUE" strings; a key
        ``lifbatch.…`` (``lifbatch.limits.max-points=2e7``) sets that dask.config key
        for this process instead
    limits : refuse a workflow above the caps of ``lifbatch.limits`` (grid points,
        neuron-steps, one point's working memory); False to reopen a store's workflow

    Input files (``timed_array.file``) of a workflow file must be in its directory
    or below, unless ``lifbatch.inputs.allow-outside`` is true.

    Raises
    ------
    WorkflowError
        with a one-line message naming the field, the value and the fix.
    """
    overrides, settings = _config_overrides(overrides)
    if settings:
        _apply_settings(settings)
    base_dir = Path.cwd()
    confine = False
    if isinstance(path_or_dict, Mapping):
        raw = copy.deepcopy(dict(path_or_dict))
    else:
        path = Path(path_or_dict)
        text = _read_workflow_file(path)
        base_dir = path.resolve().parent
        confine = True
        try:
            raw = _yaml_load(text.decode("utf-8"))
        except _YamlRefused as exc:
            raise WorkflowError(f"workflow file '{path}' {exc.what} at line {exc.mark.line + 1}. {exc.fix}",
                                "workflow", str(path)) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise WorkflowError(f"workflow file '{path}' is not valid YAML{where}: "
                                f"{getattr(exc, 'problem', None) or exc}.", "workflow", str(path)) from None
        except UnicodeDecodeError:
            raise WorkflowError(f"workflow file '{path}' is not UTF-8 text. Save it as UTF-8.",
                                "workflow", str(path)) from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise WorkflowError(f"workflow file '{path}' must hold a mapping of keys, got {type(raw).__name__}.",
                                "workflow", str(path))
    try:
        return parse(apply_overrides(raw, overrides), base_dir, confine=confine, limits=limits)
    except WorkflowError as exc:
        # messages quote values as written; a value with a line break must not break the line
        msg = str(exc)
        if _CONTROL.search(msg) or len(msg) > MAX_MESSAGE:
            msg = _one_line(msg)
            if len(msg) > MAX_MESSAGE:  # a last guard: every part is an excerpt already
                msg = msg[:MAX_MESSAGE - 200] + " … " + msg[-197:]
            raise WorkflowError(msg, exc.field, exc.value) from None
        raise


#: the longest message load_workflow raises (characters)
MAX_MESSAGE = 1000


def _read_workflow_file(path: Path) -> bytes:
    """The bytes of a workflow file, read only when it is a regular file of at most
    ``lifbatch.limits.max-workflow-file`` bytes (a workflow is a few KiB of YAML: a
    bigger file is the wrong one, and would be read whole into memory); one-line
    WorkflowErrors for a directory, a missing file, anything else."""
    where = ("workflow", str(path))
    try:
        st = path.stat()
    except FileNotFoundError:
        dangling = " (a symbolic link to nothing)" if path.is_symlink() else ""
        raise WorkflowError(f"workflow file '{path}' does not exist{dangling}. Check the path.", *where) from None
    except OSError as exc:
        raise WorkflowError(f"workflow file '{path}' cannot be read ({exc.strerror or exc}). Check the path.",
                            *where) from None
    if stat.S_ISDIR(st.st_mode):
        inside = sorted(p.name for p in path.glob("*.y*ml"))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise WorkflowError(f"workflow file '{path}' is a directory, not a file{hint}. Give the workflow's YAML file, "
                            f"e.g. {path / (inside[0] if inside else 'workflow.yaml')}", *where)
    if not stat.S_ISREG(st.st_mode):
        raise WorkflowError(f"workflow file '{path}' is not a regular file (a device, pipe or socket). Give the "
                            "workflow's YAML file.", *where)
    cap = int(_limit("max-workflow-file"))
    refused = (f"than lifbatch.limits.max-workflow-file ({_bytes(cap)}): a workflow is a few KiB of YAML. Check the "
               f"path, " + _raise_cap("max-workflow-file", max(st.st_size, cap + 1)))
    if st.st_size > cap:
        raise WorkflowError(f"workflow file '{path}' is {_bytes(st.st_size)}, more {refused}", *where)
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)  # a file that grows meanwhile is read no further than the cap
    except OSError as exc:
        raise WorkflowError(f"workflow file '{path}' cannot be read ({exc.strerror or exc}). Check the path.",
                            *where) from None
    if len(data) > cap:
        raise WorkflowError(f"workflow file '{path}' holds more {refused}", *where)
    return data


# --------------------------------------------------------------------------- #
# parsing: the top level, composing the sections
# --------------------------------------------------------------------------- #
def parse(raw: dict, base_dir: Path, *, confine: bool = False, limits: bool = True) -> Workflow:
    """A raw workflow (a mapping, after overrides) -> :class:`Workflow`.

    The top-level keys are parsed here into a :class:`Run`; then each section by its own
    function, given what it is checked against (the run, the neuron, the parameter table
    built so far, the axes) and returning a frozen spec. Checks run in this order, so the
    first error in it is the one raised. ``base_dir``: where relative input files are;
    ``confine``: refuse input files outside it (a workflow file's directory).
    """
    _check_keys(raw, TOP_KEYS, "")
    name = parse_name(raw.get("name"))
    description = raw.get("description", "") or ""
    if not isinstance(description, str):
        raise _err("description", description, "must be text")
    seed = parse_integer(raw.get("seed", 0), "seed", 0)
    trials = parse_integer(raw.get("trials", 1), "trials", 1)
    if "duration" not in raw:
        raise WorkflowError("`duration` is required. Example: duration: 1000 ms", "duration", None)
    duration, _ = parse_time(raw["duration"], "duration")
    dt, _ = parse_time(raw.get("dt", "0.1 ms"), "dt")
    if not math.isfinite(duration):
        raise _err("duration", raw["duration"], "must be finite", "Example: duration: 1000 ms")
    if dt > duration:
        raise _err("dt", raw.get("dt"), f"must not exceed duration ({_short(raw['duration'])})", "Example: dt: 0.1 ms")
    n_steps = duration / dt
    if abs(n_steps - round(n_steps)) > 1e-6 * max(1.0, n_steps):
        raise _err("duration", raw["duration"], f"must be a whole number of steps of dt ({_short(raw.get('dt', '0.1 ms'))})",
                   "Make duration a multiple of dt.")
    model = _model_of(raw.get("neuron"))
    method = raw.get("method", model.default_method)
    if model.name == "lif" and method not in ("euler", "exact"):
        raise _err("method", method, "must be 'euler' or 'exact'", "Example: method: exact")
    if method not in model.methods:
        raise _err("method", method, f"must be one of {', '.join(model.methods)} for model {model.name}",
                   f"Example: method: {model.default_method}")
    run = Run(trials=trials, duration=duration, dt=dt, method=method, duration_written=raw["duration"],
              dt_written=raw.get("dt", "0.1 ms"), limits=limits)
    check_work(run, 1)

    neuron = parse_neuron(raw.get("neuron")) if model.name == "lif" else parse_model_neuron(model, raw["neuron"])
    inputs = parse_inputs(raw.get("inputs") or {}, run, neuron, base_dir=base_dir, confine=confine)
    table = neuron.params.plus(inputs.params)
    sweep = parse_sweep(raw.get("sweep") or {}, run, table)
    if raw.get("sample") is not None:
        sweep = (_sample_axis(raw["sample"], sweep, table, run, seed),) + sweep
    check_work(run, math.prod(a.size for a in sweep), sweep)
    shared = parse_noise(raw.get("noise") or {}, sweep)
    record = parse_record(raw.get("record") or {}, run, model=model, drives=inputs.drives,
                          axes=tuple(a.name for a in sweep))
    summaries = parse_summaries(raw.get("summaries") or {}, run)
    check_values(run, table, sweep, inputs.drives, model.name)

    wf = Workflow(
        name=name, description=description, seed=seed, trials=trials, duration=duration, dt=dt,
        method=method, params={k: p.value for k, p in table.items()},
        param_units={k: u.si_unit(p.dim) for k, p in table.items()},
        display_units={k: p.display for k, p in table.items()}, drives=inputs.drives, sweep=sweep,
        shared_across=shared, record_trials=record.trials, record_every=record.every, warmup=summaries.warmup,
        record_state=record.state, record_inputs=record.inputs,
        isi_edges=summaries.isi_edges, moments_every=summaries.moments_every, max_lag=summaries.max_lag,
        voltage_unit=u.si_unit(neuron.voltage_dim), voltage_display=neuron.voltage_display,
        canonical=_canonical(run, seed, table, inputs, sweep, shared, record, summaries, neuron),
        source=_source(raw, inputs.drives), model=model.name, model_options=neuron.options,
    )
    if limits:
        check_task_memory(wf)
    return wf


def _canonical(run: Run, seed: int, table: ParamTable, inputs: InputsSpec, sweep: tuple[SweepAxis, ...],
               shared: tuple[str, ...], record: RecordSpec, summaries: SummarySpec,
               neuron: NeuronSpec | None = None) -> str:
    """The canonical JSON of everything that changes results (the fingerprint's input). The
    model is in it unless it is ``lif``, so that stores made before models keep their identity."""
    canonical = {
        "seed": seed, "trials": run.trials, "duration": run.duration, "dt": run.dt, "method": run.method,
        "params": {k: table[k].value for k in sorted(table)},
        "drives": [{"name": d.name, "kind": d.kind, "role": d.role,
                    "options": {k: v for k, v in d.options if k != "file"},
                    "file_sha256": inputs.file_sha256(d.name)} for d in inputs.drives],
        "sweep": [_canonical_axis(a) for a in sweep],
        "shared_across": list(shared),
        "record": {"trials": list(record.trials), "every": record.every,
                   **({"state": list(record.state)} if record.state else {}),
                   **({"inputs": list(record.inputs)} if record.inputs else {})},
        "summaries": {"warmup": summaries.warmup, "isi_edges": list(summaries.isi_edges),
                      "moments_every": summaries.moments_every, "max_lag": summaries.max_lag},
    }
    if neuron is not None and neuron.model != "lif":
        canonical["model"] = {"name": neuron.model, "options": dict(neuron.options)}
    if sweep and isinstance(sweep[0], SampleAxis) and sweep[0].spec.rounds:
        # the points refine and fit added: not the simulation's identity (store.simulation_identity)
        spec_ = sweep[0].spec
        canonical["sample_added"] = {"params": [p.param for p in spec_.params],
                                     "values": [list(v) for v in spec_.added], "rounds": list(spec_.rounds)}
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"))


def _source(raw: dict, drives: tuple[Drive, ...]) -> str:
    """The raw workflow as JSON (not sort_keys: the order of the sweep axes is the order of
    the grid), each input file by its resolved path, so that it loads again from anywhere."""
    files = {d.name: d.option("file") for d in drives if d.kind == "timed_array" and d.option("file")}
    if files:
        raw = {**raw, "inputs": {name: {**spec, "file": files[name]} if name in files else spec
                                 for name, spec in raw["inputs"].items()}}
    return json.dumps(raw, default=str)


def parse_name(name: Any) -> str:
    if name is None:
        raise WorkflowError("`name` is required (lowercase letters, digits, '-' and '_'). Example: name: my-sweep",
                            "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _err("name", name, "must match [a-z0-9_-]+", "Example: name: pypet-firing-rate")
    if len(name) > MAX_NAME:
        raise _err("name", name, f"is {len(name)} characters long, more than {MAX_NAME}",
                   "Example: name: pypet-firing-rate")
    return name


# --------------------------------------------------------------------------- #
# parsing: scalars
# --------------------------------------------------------------------------- #
def _quantity(value: Any, field: str):
    return u.parse_quantity(value, field, example=EXAMPLES.get(field.rsplit(".", 1)[-1], ""))


def _shown_unit(q) -> str:
    """A quantity's unit as written, compact ('mV', 'Mohm'); "" for a bare number."""
    return "" if q.dimensionless else f"{q.units:~}".replace(" ", "")


def parse_param(path: str, value: Any, q=None) -> Param:
    """A numeric parameter (``q``: ``value`` already parsed) -> its table entry; finite unless
    ``path`` may be inf (:data:`INFINITE_OK`)."""
    q = q if q is not None else _quantity(value, path)
    x = u.to_si(q)
    if not math.isfinite(x) and not (x > 0 and path in INFINITE_OK):
        raise _err(path, value, _not_finite(path, x), _example(path) or "Give a finite number.")
    return Param(x, u.dimension_of(q), _shown_unit(q), value)


def parse_time(value: Any, field: str, *, allow_zero: bool = False) -> tuple[float, Any]:
    """A positive (``allow_zero``: or zero) finite time -> (seconds, the quantity as written)."""
    q = _quantity(value, field)
    if u.dimension_of(q) != "[time]":
        raise _err(field, value, "must be a time", _example(field) or "Example: 10 ms")
    x = u.to_si(q)
    if math.isinf(x):
        raise _err(field, value, "must be a finite time", _example(field) or "Example: 10 ms")
    if math.isnan(x) or x < 0 or (x == 0 and not allow_zero):
        raise _err(field, value, "must be a positive time" if not allow_zero else "must be a time >= 0",
                   _example(field))
    return x, q


# a number as YAML 1.2 writes it; YAML 1.1 (PyYAML) reads "1e6" (no dot) as a string
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
        raise _err(field, value, f"must be an integer >= {minimum}", f"Example: {field.rsplit('.', 1)[-1]}: {max(minimum, 1)}")
    if maximum is not None and n > maximum:
        raise _err(field, value, f"must be an integer from {minimum} to {_g(maximum)}",
                   f"Example: {field.rsplit('.', 1)[-1]}: {max(minimum, 1)}")
    return n


def parse_multiple_of_dt(value: Any, field: str, run: Run) -> float:
    """A time that is a whole number (>= 1) of steps of dt and at most the duration (s)."""
    x = parse_time(value, field)[0]
    k = x / run.dt
    if abs(k - round(k)) > 1e-6 * max(1.0, k) or round(k) < 1:
        raise _err(field, value, f"must be a positive multiple of dt ({_short(run.dt_written)})",
                   "Example: every: 1 ms")
    if x > run.duration:
        raise _err(field, value, f"must not exceed duration ({_short(run.duration_written)})", "Example: every: 1 ms")
    return round(k) * run.dt


# --------------------------------------------------------------------------- #
# parsing: the caps of lifbatch.limits on the grid's size
# --------------------------------------------------------------------------- #
def check_work(run: Run, n_points: int, sweep: tuple[SweepAxis, ...] | list[SweepAxis] | None = None) -> None:
    """Refuse more neuron-steps than ``lifbatch.limits.max-neuron-steps``, and (before
    anything of its size is built) a point whose spike rasters and kernel buffers alone
    exceed ``max-task-memory``."""
    if not run.limits:
        return
    steps = n_points * run.trials * run.n_steps
    cap = _limit("max-neuron-steps")
    if steps > cap:
        if sweep:
            grid = " x ".join(f"{a.name}={a.size}" for a in sweep)
            raise _err("sweep", grid, f"makes {_count(n_points)} points x {_trials(run.trials)} x "
                       f"{_count(run.n_steps)} steps = {_g(steps)} neuron-steps, more than "
                       f"lifbatch.limits.max-neuron-steps ({cap:.3g})",
                       "Sweep fewer values, use fewer trials or a shorter run, " + _raise_cap("max-neuron-steps", steps))
        raise _err("duration", run.duration_written,
                   f"makes {_trials(run.trials)} x {_count(run.n_steps)} steps of dt "
                   f"({_short(run.dt_written)}) = {_g(steps)} neuron-steps per point, "
                   f"more than lifbatch.limits.max-neuron-steps ({cap:.3g})",
                   "Shorten the run, use a larger dt or fewer trials, " + _raise_cap("max-neuron-steps", steps))
    if n_points == 1:
        n = run.n_steps
        floor = run.trials * (2 * 8 * 3 + (n + 7) // 8 + 8) + n * 8 * 4  # layout.point_bytes, at least
        mem = _limit("max-task-memory")
        if floor > mem:
            raise _err("duration", run.duration_written,
                       f"makes one point need more than {_bytes(floor)} of working memory ({_trials(run.trials)} x "
                       f"{_count(n)} steps), more than lifbatch.limits.max-task-memory ({_bytes(mem)})",
                       "Shorten the run, use a larger dt or fewer trials, " + _raise_cap("max-task-memory", floor))


def check_room(run: Run, sizes: list[int], n: int, where: str, arg: Any) -> None:
    """Refuse an axis of ``n`` values that takes a grid of axes of ``sizes`` above
    ``lifbatch.limits.max-points`` or ``max-neuron-steps``, before its values are built."""
    if not run.limits:
        return
    sizes = list(sizes) + [n]
    n_points = math.prod(sizes)
    grid = " x ".join(str(k) for k in sizes)
    if n_points > (cap := _limit("max-points")):
        raise _err(where, arg, f"makes the grid {grid} = {_count(n_points)} points, more than "
                   f"lifbatch.limits.max-points ({_count(cap)})",
                   "Sweep fewer values, " + _raise_cap("max-points", n_points))
    steps = n_points * run.trials * run.n_steps
    if steps > (cap := _limit("max-neuron-steps")):
        raise _err(where, arg, f"makes {grid} = {_count(n_points)} points x {_trials(run.trials)} x "
                   f"{_count(run.n_steps)} steps = {_g(steps)} neuron-steps, more than "
                   f"lifbatch.limits.max-neuron-steps ({cap:.3g})",
                   "Sweep fewer values, use fewer trials or a shorter run, " + _raise_cap("max-neuron-steps", steps))


# --------------------------------------------------------------------------- #
# parsing: neuron
# --------------------------------------------------------------------------- #
def parse_neuron(raw: Any) -> NeuronSpec:
    """The ``neuron`` section -> :class:`NeuronSpec`: tau_m (a time, or inf for no leak),
    the voltages in one dimension (e_l 0, v_reset and v_init e_l by default), t_ref, r_m."""
    if raw is None:
        raise WorkflowError("`neuron` is required, with at least tau_m and v_th. "
                            "Example: neuron: {tau_m: 20 ms, v_th: 1}", "neuron", None)
    _check_keys(raw, NEURON_KEYS | {"model"}, "neuron")
    for key in ("tau_m", "v_th"):
        if key not in raw:
            raise WorkflowError(f"`neuron.{key}` is required. {_example('neuron.' + key)}", f"neuron.{key}", None)
    # tau_m: a positive time or inf (no leak)
    q = _quantity(raw["tau_m"], "neuron.tau_m")
    if u.dimension_of(q) not in ("[time]",) and not (q.dimensionless and math.isinf(u.to_si(q))):
        raise _err("neuron.tau_m", raw["tau_m"], "must be a positive time (or inf for no leak)",
                   "Example: tau_m: 20 ms")
    tau = u.to_si(q)
    if not tau > 0:
        raise _err("neuron.tau_m", raw["tau_m"], "must be a positive time (or inf for no leak)",
                   "Example: tau_m: 20 ms")
    params = {"neuron.tau_m": Param(tau, "[time]", _shown_unit(q), raw["tau_m"])}
    # voltages: one dimension for all (volt, or dimensionless)
    th = params["neuron.v_th"] = parse_param("neuron.v_th", raw["v_th"])
    vdim, vdisplay = th.dim, th.display
    for key in ("e_l", "v_reset", "v_init"):
        if key in raw:
            q = _quantity(raw[key], f"neuron.{key}")
            if u.dimension_of(q) != vdim and not (q.dimensionless and u.to_si(q) == 0):
                raise _err(f"neuron.{key}", raw[key], f"must have the dimension of v_th ({_short(raw['v_th'])})",
                           f"Write it in the same unit as v_th, e.g. {key}: {EXAMPLES[key] if vdim != 'dimensionless' else 0}")
            params[f"neuron.{key}"] = replace(parse_param(f"neuron.{key}", raw[key], q), dim=vdim)
    for key in ("e_l", "v_reset", "v_init"):
        default = 0.0 if key == "e_l" else params["neuron.e_l"].value
        params.setdefault(f"neuron.{key}", Param(default, vdim, vdisplay))
    t_ref, q = parse_time(raw.get("t_ref", "0 ms"), "neuron.t_ref", allow_zero=True)
    params["neuron.t_ref"] = Param(t_ref, "[time]", f"{q.units:~}".replace(" ", "") if not q.dimensionless else "s")
    q = _quantity(raw.get("r_m", 1), "neuron.r_m")
    r_m = params["neuron.r_m"] = parse_param("neuron.r_m", raw.get("r_m", 1), q)
    if not (q.dimensionless or u.dimension_of(q) == u.unit_dimensionality("ohm")):
        raise _err("neuron.r_m", raw.get("r_m"), "must be a resistance (or a bare number)",
                   "Example: r_m: 100 Mohm")
    if not r_m.value > 0:
        raise _err("neuron.r_m", raw.get("r_m"), "must be a positive resistance", "Example: r_m: 100 Mohm")
    return NeuronSpec(params=ParamTable(params), voltage_dim=vdim,
                      voltage_display=vdisplay or ("mV" if vdim != "dimensionless" else ""),
                      r_dim=u.dimension_of(q), r_m_given="r_m" in raw)


def _model_of(raw: Any):
    """The neuron model a ``neuron`` section names (``model``, default ``lif``)."""
    from .models import get_model

    name = raw.get("model", "lif") if isinstance(raw, Mapping) else "lif"
    return get_model(name)


#: the parameter of another model a LIF parameter written by habit most likely means
_LIF_HABITS = {"tau_m": "c_m", "r_m": "g_l", "v_th": "v_t", "t_ref": "t_ref", "v_reset": "v_reset"}


def parse_model_neuron(model, raw: Any) -> NeuronSpec:
    """The ``neuron`` section of a model other than ``lif`` -> :class:`NeuronSpec`: each of the
    model's parameters (:attr:`lifbatch.models.NeuronModel.params`) in its dimension, or its
    default; its options (e.g. ``gates_init``)."""
    options_allowed = getattr(model, "options", {})
    allowed = set(model.params) | {"model"} | set(options_allowed)
    if not isinstance(raw, Mapping):
        raise _err("neuron", raw, "must be a mapping of keys to values", "Check the indentation of the YAML file.")
    for key in raw:
        if key not in allowed:
            guess = _LIF_HABITS.get(str(key)) if _LIF_HABITS.get(str(key)) in allowed else None
            close = [guess] if guess else difflib.get_close_matches(str(key), sorted(set(model.params)), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise WorkflowError(
                f"`neuron.{_one_line(u.excerpt(str(key)))}` is not a parameter of model {model.name}{hint} "
                f"Its parameters: {', '.join(model.params)}" + (f"; options: {', '.join(options_allowed)}"
                                                               if options_allowed else "") + ".",
                f"neuron.{key}", raw[key])
    params: dict[str, Param] = {}
    for key, spec in model.params.items():
        path = f"neuron.{key}"
        if key in raw:
            written = raw[key]
        elif spec.default is None:
            raise WorkflowError(f"`{path}` is required for model {model.name}.", path, None)
        elif spec.default.startswith("="):
            other = params[f"neuron.{spec.default[1:]}"]
            params[path] = Param(other.value, other.dim, other.display, other.written)
            continue
        else:
            written = spec.default
        q = _quantity(written, path)
        want = u.unit_dimensionality(spec.unit) if spec.unit else "dimensionless"
        if u.dimension_of(q) != want and not (q.dimensionless and u.to_si(q) == 0 and want != "dimensionless"):
            raise _err(path, written, f"must be {_dim_name(want)} for model {model.name}",
                       f"Example: {key}: {spec.default}" if spec.default and not spec.default.startswith("=") else "")
        param = replace(parse_param(path, written, q), dim=want)
        if spec.check is not None and not spec.check[0](param.value):
            raise _err(path, written, spec.check[1], f"Example: {key}: {spec.default}" if spec.default else "")
        params[path] = param
    options = []
    for key, choices in options_allowed.items():
        value = raw.get(key, choices[0])
        if value not in choices:
            raise _err(f"neuron.{key}", value, f"must be one of {', '.join(choices)}", f"Example: {key}: {choices[0]}")
        options.append((key, value))
    return NeuronSpec(params=ParamTable(params), voltage_dim=u.unit_dimensionality("V"), voltage_display="mV",
                      r_dim="dimensionless", r_m_given=False, model=model.name, options=tuple(options))


def _model_drive_role(q, field: str, value: Any, neuron: NeuronSpec) -> str:
    """How a drive enters a model other than ``lif``: a current (I / c_m); white noise as a
    voltage (``sigma * sqrt(dt / tau) * xi``, docs/workflow.md); nothing else."""
    from .models import get_model

    dim = u.dimension_of(q)
    if dim == u.unit_dimensionality("A") or (q.dimensionless and u.to_si(q) == 0):
        return "current"
    if field.endswith(".sigma") and dim == u.unit_dimensionality("V"):
        return "voltage"
    model = get_model(neuron.model)
    raise _err(field, value, f"must be a current for model {model.name} (it enters as "
               f"{model.roles['current']}; white noise's sigma may be a voltage)", "Example: value: 500 pA")


# --------------------------------------------------------------------------- #
# parsing: inputs
# --------------------------------------------------------------------------- #
def drive_role(q, field: str, value: Any, neuron: NeuronSpec) -> str:
    """How a drive of quantity ``q`` enters dV/dt (:data:`DRIVE_ROLES`), from its dimension
    and the neuron's (docs/workflow.md)."""
    dim = u.dimension_of(q)
    vdim = neuron.voltage_dim
    if neuron.model != "lif":
        return _model_drive_role(q, field, value, neuron)
    if q.dimensionless and vdim == "dimensionless" or (not q.dimensionless and dim == vdim):
        return "voltage"
    if q.dimensionless and u.to_si(q) == 0:
        return "voltage"
    vq = u.Quantity(1, "V" if vdim != "dimensionless" else "")
    rate_dim = str((vq / u.Quantity(1, "s")).dimensionality)
    r_dim = neuron.r_dim
    cur_dim = str((vq / u.Quantity(1, "ohm" if r_dim != "dimensionless" else "")).dimensionality)
    if dim == rate_dim:
        return "voltage_rate"
    if dim == cur_dim:
        return "current"
    if dim == u.unit_dimensionality("A") and r_dim == "dimensionless" and vdim != "dimensionless":
        # a current, but no resistance to turn it into a voltage
        given = "neuron.r_m is not set" if not neuron.r_m_given else \
            f"neuron.r_m is a bare number ({_short(neuron.params.written('neuron.r_m'))})"
        raise _err(field, value, f"is a current, which needs a resistance: {given}",
                   "Set neuron.r_m (e.g. r_m: 100 Mohm), or give the drive as a voltage (e.g. 25 mV).")
    raise _err(field, value,
               "must be a current (multiplied by neuron.r_m), a voltage or a voltage per time "
               f"in the units of neuron.v_th ({_short(neuron.params['neuron.v_th'].written)})",
               "Example: value: 250 pA with r_m: 100 Mohm, or value: 0.1 / ms for a dimensionless model")


def parse_inputs(raw: Any, run: Run, neuron: NeuronSpec, *, base_dir: Path, confine: bool = False) -> InputsSpec:
    """The ``inputs`` section -> :class:`InputsSpec`: each drive's fields by their dimension
    in the drive kinds' registry (:data:`DRIVE_KINDS`), its role from the neuron's units, and
    a ``timed_array``'s file read (relative to ``base_dir``; within it if ``confine``)."""
    if not isinstance(raw, Mapping):
        raise _err("inputs", raw, "must be a mapping of named drives",
                   "Example: inputs: {drive: {kind: constant, value: 250 pA}}")
    drives, params, files = [], {}, {}
    for name, spec in raw.items():
        drive, entries, sha = parse_drive(name, spec, run, neuron, base_dir=base_dir, confine=confine)
        drives.append(drive)
        params.update(entries)
        if sha is not None:
            files[name] = sha
    return InputsSpec(drives=tuple(drives), params=ParamTable(params), files=tuple(files.items()))


def parse_drive(name: Any, spec: Any, run: Run, neuron: NeuronSpec, *, base_dir: Path, confine: bool = False
                ) -> tuple[Drive, dict[str, Param], str | None]:
    """One drive of ``inputs`` -> (the :class:`Drive`, its parameters' table entries, the
    sha256 of its file or None)."""
    where = f"inputs.{name}"
    params: dict[str, Param] = {}
    sha = None
    v_th = neuron.params.written("neuron.v_th", "mV")
    if not isinstance(name, str) or not AXIS_RE.match(name):
        raise _err(where, name, "must be named with letters, digits and '_'", "Example: inputs: {drive: ...}")
    if len(name) > MAX_AXIS_NAME:
        raise _err("inputs", name, f"has a drive name of {len(name)} characters, more than {MAX_AXIS_NAME}",
                   "Example: inputs: {drive: ...}")
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise _err(where, spec, "must be a mapping with a `kind`",
                   f"Kinds: {', '.join(DRIVE_KINDS)}. Example: {{kind: constant, value: 250 pA}}")
    kind = spec["kind"]
    if not isinstance(kind, str) or kind not in DRIVE_KINDS:
        raise _err(f"{where}.kind", kind, f"must be one of {', '.join(DRIVE_KINDS)}",
                   "Example: kind: white_noise")
    schema = DRIVE_KINDS[kind]
    _check_keys(spec, set(schema) | {"kind"}, where)
    role = None
    options = []
    for key, (frole, default) in schema.items():
        path = f"{where}.{key}"
        value = spec.get(key, default)
        if value is None:
            raise WorkflowError(f"`{path}` is required for kind {kind}. {_example(path)}".rstrip(), path, None)
        if frole in ("file", "values") and value == "":
            continue  # (timed_array: file or values, checked below)
        if frole == "values":
            options.append((key, _inline_values(value, path, run)))
            continue
        if frole == "bool":
            if not isinstance(value, bool):
                raise _err(path, value, "must be true or false", f"Example: {key}: true")
            options.append((key, value))
        elif frole == "unit":
            try:
                u.unit_dimensionality(str(value))
            except Exception:
                raise _err(path, value, "must be a unit", "Example: unit: nA") from None
            options.append((key, str(value)))
        elif frole == "file":
            options.append((key, str(value)))
        elif frole == "int":
            params[path] = Param(float(parse_integer(value, path, 1, sys.float_info.max)), "dimensionless", "")
        elif frole == "time":
            x, q = parse_time(value, path)
            params[path] = Param(x, "[time]", f"{q.units:~}".replace(" ", ""))
        elif frole == "rate":
            q = _quantity(value, path)
            if u.dimension_of(q) != "1 / [time]":
                raise _err(path, value, "must be a frequency", f"Example: {key}: 10 Hz")
            params[path] = parse_param(path, value, q)
        elif frole == "1":
            q = _quantity(value, path)
            if not q.dimensionless:
                raise _err(path, value, "must be dimensionless (radians)", "Example: phase: 0.5")
            params[path] = parse_param(path, value, q)
        elif frole == "conductance":
            q = _quantity(value, path)
            want = _conductance_dim(neuron)
            if u.dimension_of(q) != want and not (q.dimensionless and u.to_si(q) == 0):
                if neuron.model == "lif" and want == "dimensionless":
                    fix = ("A conductance needs a resistance to enter a LIF in volts: set neuron.r_m (e.g. r_m: "
                           "100 Mohm)" if neuron.voltage_dim != "dimensionless" else "Example: weight: 0.05")
                    raise _err(path, value, "must be dimensionless (a conductance relative to the leak, "
                               "for a dimensionless model or a LIF without r_m)", fix)
                raise _err(path, value, "must be a conductance", "Example: weight: 1 nS")
            params[path] = replace(parse_param(path, value, q), dim=want)
        elif frole == "voltage":
            q = _quantity(value, path)
            if not (u.dimension_of(q) == neuron.voltage_dim or (q.dimensionless and u.to_si(q) == 0)):
                raise _err(path, value, f"must be a voltage jump in the units of neuron.v_th ({_short(v_th)})",
                           "Example: weight: 0.1 (dimensionless model) or weight: 0.5 mV")
            params[path] = replace(parse_param(path, value, q), dim=neuron.voltage_dim)
        elif frole == "noise":
            q = _quantity(value, path)
            r = drive_role(q, path, value, neuron)
            if r == "voltage_rate":
                raise _err(path, value, "must be a voltage (or a current, times r_m)",
                           "Example: sigma: 0.5 mV, or sigma: 0.3 for a dimensionless model")
            role = r
            params[path] = replace(parse_param(path, value, q), dims=_drive_dims(neuron, noise=True))
        elif frole == "drive":
            q = _quantity(value, path)
            if key in ("mean",) and kind == "sine" and key not in spec:
                continue  # default 0, dimension taken from amplitude below
            r = drive_role(q, path, value, neuron)
            if role is not None and r != role and not (q.dimensionless and u.to_si(q) == 0):
                raise _err(path, value, f"must have the same dimension as the drive's other values ({role})",
                           "Write all values of one drive in one unit.")
            role = role or r
            params[path] = replace(parse_param(path, value, q), dims=_drive_dims(neuron))
    if kind == "sine" and "mean" not in spec:
        amplitude = params[f"{where}.amplitude"]
        params[f"{where}.mean"] = Param(0.0, amplitude.dim, amplitude.display)
    if kind == "timed_array" and ("file" in spec) == ("values" in spec):
        raise _err(where, dict(spec), "needs exactly one of file and values",
                   "Example: {kind: timed_array, values: [0, 0.5, 1], dt: 10 ms, unit: nA}")
    if kind == "timed_array" and "values" in spec:
        q = u.Quantity(1, dict(options).get("unit", "1"))
        role = drive_role(q, f"{where}.unit", dict(options).get("unit", "1"), neuron)
    elif kind == "timed_array":
        role, sha = _load_timed_array(dict(options), where, run, neuron, base_dir=base_dir, confine=confine)
        # the resolved path, also in the saved workflow (_source)
        options = [(k, v) for k, v in options if k != "file"] + [("file", _resolved_file(dict(options)["file"], base_dir))]
    if kind in ("poisson", "poisson_conductance"):
        role = None
    return Drive(name=name, kind=kind, role=role, options=tuple(sorted(options))), params, sha


def _conductance_dim(neuron: NeuronSpec) -> str:
    """The dimension of a conductance for ``neuron``: siemens, or (a LIF without a resistance,
    a dimensionless model) dimensionless, a conductance relative to the leak (g r_m)."""
    if neuron.model != "lif" or neuron.r_dim != "dimensionless":
        return u.unit_dimensionality("S")
    return "dimensionless"


def _inline_values(value: Any, path: str, run: Run) -> tuple:
    """``timed_array.values``: a list of finite numbers (all trials), or a list of such lists of
    one length (one per trial) -> a tuple (of tuples), as the canonical JSON keeps it."""
    def numbers(row) -> tuple:
        if not isinstance(row, list) or not row or any(
                isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) for x in row):
            raise _err(path, value, "must be a list of finite numbers, or one such list per trial",
                       "Example: values: [0, 0.5, 1, 0.5]")
        return tuple(float(x) for x in row)

    if isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        rows = tuple(numbers(r) for r in value)
        if len(rows) != run.trials or len({len(r) for r in rows}) != 1:
            raise _err(path, value, f"must have one list per trial ({_trials(run.trials)}), all of one length",
                       "Or give one list for all trials.")
        return rows
    return numbers(value)


def _resolved_file(file: str, base_dir: Path) -> str:
    p = Path(file)
    return str(p if p.is_absolute() else (base_dir / p).resolve())


def _load_timed_array(options: Mapping, where: str, run: Run, neuron: NeuronSpec, *, base_dir: Path,
                      confine: bool) -> tuple[str, str]:
    """A ``timed_array``'s file, read and checked -> (the drive's role, the file's sha256)."""
    from .inputs import read_timed_array  # numpy only

    path = _resolved_file(options["file"], base_dir)
    if confine:
        from . import config

        root = base_dir.resolve()
        real = Path(path).resolve()
        if not real.is_relative_to(root) and not _flag(config.get("inputs.allow-outside"),
                                                          "lifbatch.inputs.allow-outside"):
            raise _err(f"{where}.file", options["file"],
                       f"is outside the workflow file's directory ({u.excerpt(str(root), 60)})",
                       "Move or copy the file under that directory, or allow other paths: "
                       "--set lifbatch.inputs.allow-outside=true (or DASK_LIFBATCH__INPUTS__ALLOW_OUTSIDE=true).")
    if not Path(path).is_file():
        raise _err(f"{where}.file", options["file"], f"does not exist (looked for {u.excerpt(path, 60)})",
                   "Give a path to a .npy or .csv file, relative to the workflow file.")
    try:
        data = read_timed_array(path)
    except Exception as exc:
        # never the file's content (a message of numpy's quotes the text it could not read)
        cell = re.search(r"\bat row (\d+), column (\d+)", str(exc))  # row from 0
        cols = re.search(r"columns changed from (\d+) to (\d+) at row (\d+)", str(exc))  # row from 1
        why = (f"line {int(cell[1]) + 1}, column {cell[2]} is not a number" if cell else
               f"line {cols[3]} has {cols[2]} columns, the lines before it {cols[1]}" if cols else
               "it is not a .npy file of numbers" if path.endswith(".npy") else
               "it is not a table of numbers with the same number of columns on every line")
        raise _err(f"{where}.file", options["file"], f"could not be read ({why})",
                   "Use a .npy file or a .csv of numbers (1 column, or one column per trial).") from None
    if data.ndim == 2 and data.shape[1] not in (1, run.trials):
        raise _err(f"{where}.file", options["file"],
                   f"has {data.shape[1]} columns but the workflow has {_trials(run.trials)}",
                   "Give 1 column (all trials) or one column per trial.")
    if not np.all(np.isfinite(data)):
        raise _err(f"{where}.file", options["file"], "contains NaN or inf", "Clean the recording.")
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    q = u.Quantity(1, options.get("unit", "1"))
    return drive_role(q, f"{where}.unit", options.get("unit", "1"), neuron), sha


# --------------------------------------------------------------------------- #
# parsing: sweep and sample
# --------------------------------------------------------------------------- #
def parse_sweep(raw: Any, run: Run, table: ParamTable) -> tuple[SweepAxis, ...]:
    """The ``sweep`` section -> its axes, in grid order; each parameter of ``table`` is swept
    on one axis at most, and the grid stays within the caps (:func:`check_room`)."""
    if not isinstance(raw, Mapping):
        raise _err("sweep", raw, "must be a mapping of axis names to axes",
                   "Example: sweep: {tau: {param: neuron.tau_m, values: [10, 20], unit: ms}}")
    axes, seen = [], {}
    sweepable = sorted(table)

    def room(n: int, where_: str, arg: Any) -> None:
        check_room(run, [a.size for a in axes], n, where_, arg)

    for name, spec in raw.items():
        where = f"sweep.{name}"
        if not isinstance(name, str) or not AXIS_RE.match(name) or name in RESERVED_DIMS:
            raise _err(where, name, "must be a name of letters, digits and '_' other than "
                       + ", ".join(sorted(RESERVED_DIMS)), "Example: sweep: {tau: ...}")
        if len(name) > MAX_AXIS_NAME:
            raise _err("sweep", name, f"has an axis name of {len(name)} characters, more than {MAX_AXIS_NAME}",
                       "Example: sweep: {tau: ...}")
        if name in RESERVED_VARS:
            raise _err(where, name, "is the name of a variable of the results store",
                       f"Rename the axis, e.g. sweep: {{input_{name}: ...}}")
        if not isinstance(spec, Mapping):
            raise _err(where, spec, "must be a mapping", "Example: {param: neuron.tau_m, values: [10, 20], unit: ms}")
        if "labels" in spec:
            axes.append(parse_labelled_axis(name, spec, table, seen, room))
            continue
        if "zip" in spec:
            _check_keys(spec, {"zip"}, where)
            if not isinstance(spec["zip"], Mapping) or not spec["zip"]:
                raise _err(f"{where}.zip", spec["zip"], "must map parameters to axes",
                           "Example: zip: {neuron.tau_m: {values: [10, 20], unit: ms}, neuron.t_ref: {values: [1, 2], unit: ms}}")
            items = list(spec["zip"].items())
        else:
            if "param" not in spec:
                raise WorkflowError(f"`{where}.param` is required (the dot path of the swept parameter). "
                                    "Example: param: neuron.tau_m", f"{where}.param", None)
            items = [(spec["param"], {k: v for k, v in spec.items() if k != "param"})]
        params, values, units_, displays = [], [], [], []
        for param, sub in items:
            pwhere = f"{where}.zip.{param}" if "zip" in spec else where
            if not isinstance(param, str) or param not in table:
                raise _err(f"{where}.param" if "zip" not in spec else pwhere, param,
                           "is not a numeric parameter of this workflow",
                           f"Sweepable: {', '.join(sweepable)}")
            if param in seen:
                raise _err(f"{where}.param" if "zip" not in spec else pwhere, param, f"is already swept by axis '{seen[param]}'",
                           "Sweep each parameter on one axis (zip parameters that move together).")
            seen[param] = name
            if not isinstance(sub, Mapping):
                raise _err(pwhere, sub, "must be a mapping", "Example: {values: [10, 20], unit: ms}")
            vals, si, disp = parse_axis_values(sub, pwhere, param, dim=table[param].dim, display=table[param].display,
                                               with_param="zip" not in spec, room=room, written=table[param])
            if param.endswith(".n") and any(v != int(v) or v < 1 for v in vals):
                raise _err(pwhere, list(vals), "must be integers >= 1", "Example: values: [1, 10, 100]")
            params.append(param)
            values.append(vals)
            units_.append(si)
            displays.append(disp)
        if len({len(v) for v in values}) != 1:
            raise _err(f"{where}.zip", {p: len(v) for p, v in zip(params, values)},
                       "has parameters of different lengths", "Zipped parameters need the same number of values.")
        axes.append(SweepAxis(name=name, params=tuple(params), values=tuple(values), units=tuple(units_),
                              display_units=tuple(displays)))
    return tuple(axes)


#: a label of a labelled axis: a name, so that `--sel pattern=tonic` and `ds.sel(pattern="tonic")` read alike
LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
LABELLED_EXAMPLE = ("Example: pattern: {labels: [tonic, adapting], zip: {neuron.a: {values: [2, 2], unit: nS}, "
                    "neuron.tau_w: {values: [30, 300], unit: ms}}}")


def parse_labelled_axis(name: str, spec: Mapping, table: ParamTable, seen: dict, room) -> LabelledAxis:
    """A labelled zipped axis (``sweep.<name>: {labels: [...], zip: {param: axis, ...}}``): its
    coordinate is the labels (distinct names), each zipped parameter lists one value per label
    in their order (values may repeat). ``seen`` (parameter -> axis) is updated: a parameter is
    swept by one axis only."""
    where = f"sweep.{name}"
    _check_keys(spec, {"labels", "zip"}, where)
    labels = spec["labels"]
    if isinstance(labels, str) or not isinstance(labels, (list, tuple)) or not labels:
        raise _err(f"{where}.labels", labels, "must be a list of names, one per point of the axis", LABELLED_EXAMPLE)
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not LABEL_RE.match(label) or len(label) > MAX_AXIS_NAME:
            raise _err(f"{where}.labels", label, f"is not a name (label {i}): labels are letters, digits, '_' and "
                       f"'-', starting with a letter or '_', at most {MAX_AXIS_NAME} characters",
                       "Example: labels: [tonic, adapting, initial_burst]")
    first = {}
    for i, label in enumerate(labels):
        if label in first:
            raise _err(f"{where}.labels", label, f"is given twice (labels {first[label]} and {i})",
                       "Each label must be distinct: it names one point of the axis.")
        first[label] = i
    room(len(labels), f"{where}.labels", f"{len(labels)} labels")
    if "zip" not in spec:
        raise WorkflowError(f"`{where}.zip` is required with `labels`: the parameters each label sets, one value "
                            f"per label. {LABELLED_EXAMPLE}", f"{where}.zip", None)
    if not isinstance(spec["zip"], Mapping) or not spec["zip"]:
        raise _err(f"{where}.zip", spec["zip"], "must map parameters to their values, one per label", LABELLED_EXAMPLE)
    params, values, units_, displays = [], [], [], []
    for param, sub in spec["zip"].items():
        pwhere = f"{where}.zip.{param}"
        if not isinstance(param, str) or param not in table:
            raise _err(pwhere, param, "is not a numeric parameter of this workflow",
                       f"Sweepable: {', '.join(sorted(table))}")
        if param in seen:
            raise _err(pwhere, param, f"is already swept by axis '{seen[param]}'",
                       "Sweep each parameter on one axis: drop it from one of them.")
        seen[param] = name
        if not isinstance(sub, Mapping):
            raise _err(pwhere, sub, "must be a mapping", "Example: {values: [10, 20], unit: ms}")
        vals, si, disp = parse_axis_values(sub, pwhere, param, dim=table[param].dim, display=table[param].display,
                                           with_param=False, room=room, written=table[param], distinct=False)
        if len(vals) != len(labels):
            raise _err(pwhere, list(_axis_raw_values(sub, pwhere)),
                       f"has {len(vals)} value{'s' if len(vals) != 1 else ''} for {len(labels)} labels",
                       f"Give one value per label, in the order of {where}.labels.")
        if param.endswith(".n") and any(v != int(v) or v < 1 for v in vals):
            raise _err(pwhere, list(vals), "must be integers >= 1", "Example: values: [1, 10, 100]")
        params.append(param)
        values.append(vals)
        units_.append(si)
        displays.append(disp)
    points = {}
    for i, label in enumerate(labels):
        key = tuple(v[i] for v in values)
        if key in points:
            raise _err(f"{where}.labels", label, f"sets the same values as label '{labels[points[key]]}' "
                       f"({', '.join(params)})", "Give each label other values, or drop one of the two.")
        points[key] = i
    return LabelledAxis(name=name, params=tuple(params), values=tuple(values), units=tuple(units_),
                        display_units=tuple(displays), point_labels=tuple(labels))


def _sample_axis(raw: Any, sweep: tuple[SweepAxis, ...], table: ParamTable, run: Run, seed: int) -> SampleAxis:
    """The ``sample`` section (:func:`lifbatch.design.parse_sample`) as the grid's first axis."""
    from .design import parse_sample
    from .layout import SAMPLE

    spec = parse_sample(raw, table, {p: ax.name for ax in sweep for p in ax.params})
    check_room(run, [a.size for a in sweep], spec.size, "sample.n", raw.get("n"))
    values = spec.values(seed)
    return SampleAxis(name=SAMPLE, params=tuple(p.param for p in spec.params), values=values,
                      units=tuple(p.unit for p in spec.params),
                      display_units=tuple(p.display_unit for p in spec.params), spec=spec,
                      rounds=spec.all_rounds())


# --------------------------------------------------------------------------- #
# parsing: an axis's values (sweep axes, sampled bounds, ISI bins)
# --------------------------------------------------------------------------- #
def parse_axis_values(spec: Mapping, where: str, param: str, *, dim: str, display: str = "",
                      with_param: bool = True, room: Callable[[int, str, Any], None] | None = None,
                      written: Param | None = None, distinct: bool = True) -> tuple[tuple[float, ...], str, str]:
    """An axis's values (``values``, ``linspace``, ``logspace`` or ``range``, and ``unit``) for
    ``param`` of dimension ``dim`` (``display``: its unit as written) -> (SI values, the SI
    unit, the unit to display). ``room(n, where, arg)`` may refuse ``n`` values before they
    are built (:func:`check_room`). ``written``: the parameter; when its dimension is the one
    written (:attr:`Param.dims`) and the axis' unit has another it may have, the message
    names the parameter first. ``distinct=False``: values may repeat (a labelled axis's
    parameters, whose labels are the coordinate)."""
    allowed = {"values", "linspace", "logspace", "range", "unit"}
    _check_keys(spec, allowed | {"param"} if with_param else allowed, where)
    raw_vals = _axis_raw_values(spec, where, room)
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
        if isinstance(v, str) and v.strip().lower().lstrip("+-") in _INF_WORDS:
            # a bare inf in YAML is text: the axis's unit applies to it as to any number
            v = -math.inf if v.strip().startswith("-") else math.inf
        if unit_si is not None and not isinstance(v, str):
            out.append(float((Decimal(v) if isinstance(v, int) else Decimal(repr(float(v)))) * unit_si))
            continue
        if isinstance(v, str):
            # a quantity written out ("5 ms") carries its own unit
            q = _quantity(v, f"{where}.values")
            if u.dimension_of(q) != target_dim and not (q.dimensionless and u.to_si(q) == 0):
                raise _err(f"{where}.values", v, f"must be {_dim_name(target_dim)} like {param}, "
                           f"not {_dim_name(u.dimension_of(q))}",
                           f"Example: values: [10, 20], unit: {example_unit}")
        else:
            q = u.Quantity(Decimal(repr(float(v))) if not isinstance(v, int) else Decimal(v), "") * uq
            dim_ = u.dimension_of(q)
            if dim_ != target_dim and not (q.dimensionless and u.to_si(q) == 0):
                if written is not None and written.written is not None and dim_ in written.dims:
                    raise _axis_dimension_error(param, written, where, unit, dim_)
                what = (f"is {_dim_name(dim_)}, but {param} is {_dim_name(target_dim)}" if unit != "" else
                        f"is missing: bare numbers are dimensionless, but {param} is {_dim_name(target_dim)}")
                raise _err(f"{where}.unit", unit if unit != "" else "(none)", what,
                           f"Example: unit: {example_unit}")
        out.append(u.to_si(q))
    if len(out) == 0:
        raise _err(where, spec.get("values", raw_vals), "is an empty axis", "Give at least one value.")
    if distinct and len(set(out)) != len(out):
        seen_: set[float] = set()
        dup = next(x for x in out if x in seen_ or seen_.add(x))  # the first repeated value, in O(n)
        same = _short(" = ".join(v if isinstance(v, str) else f"{v:g} {unit}".strip()
                                 for v, x in zip(raw_vals, out) if x == dup), 60)
        form = next(k for k in ("values", "linspace", "logspace", "range") if k in spec)
        raise _err(where, spec[form], f"has duplicated values ({same})",
                   "Each value of an axis must be distinct.")
    for v, x in zip(raw_vals, out):
        if math.isnan(x):  # a float NaN (.nan in YAML); "nan ms" is refused when parsed
            raise _err(f"{where}.values" if "values" in spec else where, v, "holds NaN (not a number)",
                       "Give numbers.")
        if not math.isfinite(x) and not (x > 0 and param in INFINITE_OK):
            raise _err(f"{where}.values" if "values" in spec else where, v, _not_finite(param, x),
                       "Give finite values.")
    shown = str(unit) if unit else display
    return tuple(out), u.si_unit(target_dim), shown


# --------------------------------------------------------------------------- #
# parsing: noise, record, summaries
# --------------------------------------------------------------------------- #
def parse_noise(raw: Any, sweep: tuple[SweepAxis, ...] | list[SweepAxis]) -> tuple[str, ...]:
    """The ``noise`` section -> the axes whose points share their noise, in grid order."""
    _check_keys(raw, {"shared_across"}, "noise")
    shared = raw.get("shared_across", []) or []
    if isinstance(shared, str):
        shared = [shared]
    names = [a.name for a in sweep]
    if not isinstance(shared, list):
        raise _err("noise.shared_across", shared, "must be a list of sweep axis names",
                   f"Example: shared_across: [{names[0] if names else 'tau'}]")
    for s in shared:
        if not isinstance(s, str) or s not in names:
            raise _err("noise.shared_across", s, "is not a sweep axis",
                       f"Axes: {', '.join(sorted(names)) or '(none)'}")
    if len(set(shared)) != len(shared):
        raise _err("noise.shared_across", shared, "has duplicates", "Name each axis once.")
    # in grid order, so that the same axes written in another order give the same fingerprint
    return tuple(n for n in names if n in shared)


def parse_record(raw: Any, run: Run, *, model=None, drives: tuple = (), axes: tuple = ()) -> RecordSpec:
    """The ``record`` section -> :class:`RecordSpec` (no traces: no trials, every dt). ``state``
    and ``inputs`` are recorded on V's trace grid (its trials, every ``record.v.every``)."""
    _check_keys(raw, {"v", "state", "inputs"}, "record")
    state = _record_names(raw, "state", [v.name for v in (model.state if model else ()) if v.name != "v"]
                          + [f"g_{d.name}" for d in drives if d.kind == "poisson_conductance"],
                          model.name if model else "lif", axes)
    inputs = _record_names(raw, "inputs", [d.name for d in drives if not DRIVES[d.kind].stochastic], None, axes)
    if (state or inputs) and ("v" not in raw or raw["v"] is None):
        what = "record.state" if state else "record.inputs"
        raise _err(what, raw.get("state") or raw.get("inputs"), "is recorded on V's trace grid, which needs record.v",
                   "Example: record: {v: {trials: [0], every: 0.1 ms}, state: [m, n, h]}")
    if "v" not in raw or raw["v"] is None:
        return RecordSpec((), run.dt)
    return replace(_parse_record_v(raw, run), state=state, inputs=inputs)


def _record_names(raw: Mapping, key: str, allowed: list[str], model: str | None, axes: tuple) -> tuple[str, ...]:
    """``record.state`` (the model's state variables) or ``record.inputs`` (drives with one value
    per step: not the stochastic ones) as a tuple of names, each allowed and once."""
    names = raw.get(key) or []
    if isinstance(names, str):
        names = [names]
    what = f"state variables of model {model}" if key == "state" else "inputs with one value per step"
    if not isinstance(names, list):
        raise _err(f"record.{key}", names, f"must be a list of {what}", f"Allowed: {', '.join(allowed) or 'none'}.")
    for name in names:
        if name not in allowed:
            raise _err(f"record.{key}", names, f"must list {what} ({', '.join(allowed) or 'none'})",
                       "Uniform, white-noise and Poisson inputs are drawn afresh every step: they have no trace."
                       if key == "inputs" else "")
        stored = name if key == "state" else f"input_{name}"
        if stored in axes:
            raise _err(f"record.{key}", names, f"would store '{stored}', the name of a sweep axis",
                       "Rename the axis.")
    if len(set(names)) != len(names):
        raise _err(f"record.{key}", names, "has duplicates", "List each once.")
    return tuple(names)


def _parse_record_v(raw: Mapping, run: Run) -> RecordSpec:
    spec = raw["v"]
    _check_keys(spec, {"trials", "every"}, "record.v")
    trials = spec.get("trials", [0])
    every = parse_multiple_of_dt(spec["every"], "record.v.every", run) if "every" in spec else run.dt
    if run.limits:  # before a list of every trial is built
        count = run.trials if trials == "all" else len(trials) if isinstance(trials, list) else 1
        need = count * (run.n_steps // int(round(every / run.dt)) + 1) * 8 * 2
        cap = _limit("max-task-memory")
        if need > cap:
            raise _err("record.v.trials", trials, f"makes {_count(count)} traces of {_count(run.n_steps)} steps "
                       f"need ~{_bytes(need)} per point, more than lifbatch.limits.max-task-memory ({_bytes(cap)})",
                       "Record fewer trials, or sample V less often (record.v.every), "
                       + _raise_cap("max-task-memory", need))
    if trials == "all":
        trials = list(range(run.trials))
    if isinstance(trials, int) and not isinstance(trials, bool):
        trials = [trials]
    if not isinstance(trials, list) or any(isinstance(t, bool) or not isinstance(t, int) for t in trials):
        raise _err("record.v.trials", trials, "must be a list of trial indices or 'all'", "Example: trials: [0, 1]")
    for t in trials:
        if not 0 <= t < run.trials:
            raise _err("record.v.trials", trials, f"must be within 0..{run.trials - 1}",
                       f"The workflow has {_trials(run.trials)}.")
    if len(set(trials)) != len(trials):
        raise _err("record.v.trials", trials, "has duplicates", "List each trial once.")
    return RecordSpec(tuple(sorted(trials)), every)


def parse_summaries(raw: Any, run: Run) -> SummarySpec:
    """The ``summaries`` section -> :class:`SummarySpec`, with its defaults: no warm-up, 50
    ISI bins over the run, about 1000 moment samples and a lag of up to 50 of them."""
    _check_keys(raw, {"warmup", "isi_bins", "moments", "autocov"}, "summaries")
    warmup, _ = parse_time(raw.get("warmup", "0 ms"), "summaries.warmup", allow_zero=True)
    if warmup >= run.duration:
        raise _err("summaries.warmup", raw.get("warmup"), f"must be shorter than duration ({_short(run.duration_written)})",
                   "Example: warmup: 100 ms")
    k = warmup / run.dt
    if abs(k - round(k)) > 1e-6 * max(1, k):
        raise _err("summaries.warmup", raw.get("warmup"), "must be a multiple of dt", "Example: warmup: 100 ms")
    warmup = round(k) * run.dt
    if "isi_bins" in raw:
        spec = raw["isi_bins"]
        if not isinstance(spec, Mapping):
            raise _err("summaries.isi_bins", spec, "must be a mapping", "Example: isi_bins: {linspace: [0, 100, 51], unit: ms}")
        _check_keys(spec, {"values", "linspace", "logspace", "range", "unit"}, "summaries.isi_bins")
        edges, _, _ = parse_axis_values(spec, "summaries.isi_bins", "_isi", dim="[time]", with_param=False)
        edges = tuple(sorted(edges))
        if len(edges) < 2 or edges[0] < 0:
            raise _err("summaries.isi_bins", spec, "must give at least 2 bin edges >= 0",
                       "Example: isi_bins: {linspace: [0, 100, 51], unit: ms}")
    else:
        hi = run.duration - warmup
        edges = tuple(float(x) for x in np.linspace(0.0, hi, 51))
    mom = raw.get("moments") or {}
    _check_keys(mom, {"every"}, "summaries.moments")
    if "every" in mom:
        every = parse_multiple_of_dt(mom["every"], "summaries.moments.every", run)
    else:
        n = int(round(run.duration / run.dt))
        every = run.dt * max(1, math.ceil(n / 1000))
    ac = raw.get("autocov") or {}
    _check_keys(ac, {"max_lag"}, "summaries.autocov")
    if "max_lag" in ac:
        max_lag, _ = parse_time(ac["max_lag"], "summaries.autocov.max_lag", allow_zero=True)
        k = max_lag / every
        if abs(k - round(k)) > 1e-6 * max(1, k):
            raise _err("summaries.autocov.max_lag", ac["max_lag"],
                       "must be a multiple of summaries.moments.every", "Example: max_lag: 50 ms")
        if max_lag > run.duration - warmup:
            raise _err("summaries.autocov.max_lag", ac["max_lag"], "must not exceed duration - warmup",
                       "Example: max_lag: 50 ms")
        max_lag = round(k) * every
    else:
        n_after = int(round((run.duration - warmup) / every))
        max_lag = every * min(50, n_after)
    return SummarySpec(warmup, edges, every, max_lag)


# --------------------------------------------------------------------------- #
# parsing: constraints over every value a parameter takes
# --------------------------------------------------------------------------- #
def check_values(run: Run, table: ParamTable, sweep: tuple[SweepAxis, ...], drives: tuple[Drive, ...],
                 model: str = "lif") -> None:
    """The constraints over every value a parameter takes, at every point of the grid: one
    error naming the axis (and its first offending value) when a swept value breaks one."""
    shape = tuple(a.size for a in sweep)

    def grid(path):
        for i, ax in enumerate(sweep):
            if path in ax.params:
                vals = np.asarray(ax.values[ax.params.index(path)])
                sh = [1] * len(shape)
                sh[i] = ax.size
                return vals.reshape(sh)
        return np.asarray(table[path].value)

    def where_of(path, bad=None):
        """The field to blame and its value as written; for a swept parameter, the axis
        and its first value for which ``bad`` (a predicate on SI values) holds."""
        for ax in sweep:
            if path in ax.params:
                i = ax.params.index(path)
                vals = ax.values[i]
                x = next((v for v in vals if bad is None or bad(v)), vals[0])
                disp = ax.display_units[i]
                try:
                    shown = f"{u.convert(x, ax.units[i], disp):g} {disp}" if disp else f"{x:g}"
                except Exception:  # a display unit pint cannot convert to: show SI
                    shown = f"{x:g} {ax.units[i]}"
                if isinstance(ax, SampleAxis):
                    return f"sample.params.{ax.labels[i]}.bounds", shown.strip()
                if isinstance(ax, LabelledAxis):  # (the parameter and its label: its values may repeat)
                    return f"sweep.{ax.name}.zip.{path}", f"{shown.strip()} ({ax.point_labels[vals.index(x)]})"
                return f"sweep.{ax.name}", shown.strip()
        return path, table.written(path, table[path].value)

    def require(path, ok, what, fix=""):
        ok = np.asarray(ok)
        if not np.all(ok):
            bad = grid(path)[~ok] if ok.shape == np.shape(grid(path)) else None
            first = bad.flat[0] if bad is not None and bad.size else None
            field_, value = where_of(path, None if first is None else (lambda v: v == first))
            raise _err(field_, value, what if field_ == path else f"sets {path}, which {what}", fix)

    if model != "lif":
        _check_model_values(model, run, table, sweep, grid, require, where_of)
        tau = np.asarray(1.0)  # (a finite time constant: every drive has an effect)
    else:
        _check_lif_values(run, table, sweep, grid, require, where_of)
        tau = grid("neuron.tau_m")
    _check_drive_values(run, table, drives, grid, require, tau)


def _check_lif_values(run, table, sweep, grid, require, where_of) -> None:
    tau = grid("neuron.tau_m")
    require("neuron.tau_m", tau > 0, "must be a positive time (or inf)", "Example: tau_m: 20 ms")
    if run.method == "euler" and np.any(run.dt > tau):
        field_, value = where_of("neuron.tau_m", lambda v: run.dt > v)
        what = f"must be at least dt ({_short(run.dt_written)}) with method: euler"
        raise _err(field_, value, what if field_ == "neuron.tau_m" else f"sets neuron.tau_m, which {what}",
                   "Use a smaller dt, or method: exact.")
    require("neuron.t_ref", grid("neuron.t_ref") >= 0, "must be a time >= 0", "Example: t_ref: 2 ms")
    require("neuron.r_m", grid("neuron.r_m") > 0, "must be positive", "Example: r_m: 100 Mohm")
    th, reset = grid("neuron.v_th"), grid("neuron.v_reset")
    above = np.broadcast_to(reset >= th, np.broadcast_shapes(np.shape(reset), np.shape(th)))
    if np.any(above):
        # the first offending point: blame the swept one of the two (v_reset if both are),
        # with its offending value, and name the other's value there
        first = np.unravel_index(int(np.argmax(above)), above.shape) if above.ndim else ()
        r = float(np.broadcast_to(reset, above.shape)[first])
        t = float(np.broadcast_to(th, above.shape)[first])
        swept = {p for ax in sweep for p in ax.params}
        if "neuron.v_th" in swept and "neuron.v_reset" not in swept:
            field_, value = where_of("neuron.v_th", lambda v: v == t)
            what = f"sets neuron.v_th, which must be above neuron.v_reset ({_short(table.written('neuron.v_reset', r))})"
            fix = "Sweep v_th above v_reset, or lower neuron.v_reset."
        else:
            field_, value = where_of("neuron.v_reset", lambda v: v == r)
            th_shown = (where_of("neuron.v_th", lambda v: v == t)[1] if "neuron.v_th" in swept
                        else _short(table.written("neuron.v_th", t)))
            what = f"must be below neuron.v_th ({th_shown})"
            if field_ != "neuron.v_reset":
                what = f"sets neuron.v_reset, which {what}"
            fix = "Example: v_reset: -70 mV with v_th: -50 mV"
        raise _err(field_, value, what, fix)


def _check_model_values(name, run, table, sweep, grid, require, where_of) -> None:
    """A model's own checks (:meth:`lifbatch.models.NeuronModel.check`) at every combination
    of the values its swept parameters take (their own checks ran when they were parsed)."""
    from .models import get_model

    model = get_model(name)
    paths = [f"neuron.{k}" for k in model.params]
    for key, spec in model.params.items():
        if spec.check is not None:
            vals = grid(f"neuron.{key}")
            require(f"neuron.{key}", np.vectorize(spec.check[0], otypes=[bool])(vals), spec.check[1])
    swept = [(i, ax) for i, ax in enumerate(sweep) if any(p in paths for p in ax.params)]
    combos = math.prod(ax.size for _, ax in swept)
    if combos > 100_000:  # (checked point by point below that; a larger grid is checked where it is swept)
        swept = []
    base = {p: table[p].value for p in paths}
    for idx in itertools.product(*[range(ax.size) for _, ax in swept]):
        point = dict(base)
        for (_, ax), i in zip(swept, idx):
            for p, vals in zip(ax.params, ax.values):
                if p in point:
                    point[p] = vals[i]
        for path, what, fix in model.check(point, run.dt)[:1]:
            field_, value = where_of(path, lambda v, _x=point[path]: v == _x)
            if field_ == path and swept:
                # the parameter blamed is not swept: the axis that made it fail is
                (_, ax), i = next(((a, i) for a, i in zip(swept, idx)), (swept[0], 0))
                field_, value = (where_of(ax.params[0], lambda v, _x=ax.values[0][i]: v == _x)
                                 if not isinstance(ax, LabelledAxis) else (f"sweep.{ax.name}.labels", ax.point_labels[i]))
                what = f"gives {path} ({_short(table.written(path, point[path]))}), which {what}"
                raise _err(field_, value, what, fix)
            raise _err(field_, value, what if field_ == path else f"sets {path}, which {what}", fix)


def _check_drive_values(run, table, drives, grid, require, tau) -> None:
    for d in drives:
        p = f"inputs.{d.name}"
        if d.kind == "poisson":
            require(f"{p}.rate", grid(f"{p}.rate") >= 0, "must be a rate >= 0", "Example: rate: 10 Hz")
            require(f"{p}.n", grid(f"{p}.n") >= 1, "must be an integer >= 1", "Example: n: 100")
        elif d.kind == "poisson_conductance":
            require(f"{p}.rate", grid(f"{p}.rate") >= 0, "must be a rate >= 0", "Example: rate: 10 Hz")
            require(f"{p}.n", grid(f"{p}.n") >= 1, "must be an integer >= 1", "Example: n: 100")
            require(f"{p}.weight", grid(f"{p}.weight") >= 0, "must be a conductance >= 0", "Example: weight: 1 nS")
        elif d.kind == "uniform":
            require(f"{p}.half_width", grid(f"{p}.half_width") >= 0, "must be >= 0", "Example: half_width: 100 pA")
        elif d.kind == "white_noise":
            require(f"{p}.sigma", grid(f"{p}.sigma") >= 0, "must be >= 0", "Example: sigma: 0.5 mV")
            if np.any(np.isinf(tau)):
                raise _err(f"{p}.sigma", table.written(f"{p}.sigma"),
                           "needs a finite neuron.tau_m (sigma*sqrt(tau_m)*xi)", "Set neuron.tau_m.")
        elif d.kind == "random_steps":
            if np.any(grid(f"{p}.high") < grid(f"{p}.low")):
                raise _err(f"{p}.high", table.written(f"{p}.high"), "must be >= low", "Example: low: 0 nA, high: 50 nA")
            require(f"{p}.interval", grid(f"{p}.interval") >= run.dt, "must be at least dt", "Example: interval: 10 ms")
        elif d.kind == "sine":
            require(f"{p}.frequency", grid(f"{p}.frequency") >= 0, "must be >= 0", "Example: frequency: 10 Hz")
        if d.role in ("current", "voltage") and np.any(np.isinf(tau)) and d.kind != "white_noise":
            raise _err(f"inputs.{d.name}", d.kind,
                       f"is a {d.role}, which has no effect without a leak (neuron.tau_m is inf)",
                       "Give the drive as a voltage per time (e.g. 0.1 / ms), or set a finite tau_m.")


_DIM_NAMES = {u.unit_dimensionality(unit): name for unit, name in [
    ("s", "a time"), ("Hz", "a frequency"), ("A", "a current"), ("V", "a voltage"),
    ("V/s", "a voltage per time"), ("ohm", "a resistance"), ("1", "dimensionless")]}


def _axis_dimension_error(param: str, p: Param, where: str, unit: str, axis_dim: str) -> WorkflowError:
    """A parameter whose written dimension (a drive's: current, voltage, voltage per time)
    differs from its sweep axis' unit, which it could have as well: name the parameter,
    its dimension and the axis', with a fix for either."""
    try:
        magnitude = f"{float(_quantity(p.written, param).magnitude):g}"
    except (WorkflowError, TypeError, ValueError):
        magnitude = "1"
    key = param.rsplit(".", 1)[-1]
    return _err(param, p.written, f"is {_dim_name(p.dim)}, but sweep axis `{where}` gives it values in {unit}, "
                f"{_dim_name(axis_dim)}", f"Write it in the axis' dimension (Example: {key}: {magnitude} {unit}), "
                f"or sweep it in {_dim_name(p.dim).split(' (')[0]} (unit: {p.display or u.si_unit(p.dim)}).")


def _drive_dims(neuron: NeuronSpec, *, noise: bool = False) -> tuple[str, ...]:
    """The dimensions a drive's value may have for ``neuron`` (:func:`drive_role`): a voltage,
    a current (with r_m) and, but for noise, a voltage per time."""
    vq = u.Quantity(1, "V" if neuron.voltage_dim != "dimensionless" else "")
    current = str((vq / u.Quantity(1, "ohm" if neuron.r_dim != "dimensionless" else "")).dimensionality)
    rate = str((vq / u.Quantity(1, "s")).dimensionality)
    return (neuron.voltage_dim, current) if noise else (neuron.voltage_dim, current, rate)


def _dim_name(dim: str) -> str:
    """'[time]' -> 'a time (s)': a dimension as a reader knows it."""
    si = u.si_unit(dim)
    name = _DIM_NAMES.get(dim)
    if name == "dimensionless":
        return name
    return f"{name} ({si})" if name else f"in {si}"


def _axis_raw_values(spec: Mapping, where: str, room=None) -> list:
    """The values of an axis as written (numbers or quantity strings); ``room(n, where, arg)``
    may refuse ``n`` values before they are built."""
    forms = [k for k in ("values", "linspace", "logspace", "range") if k in spec]
    if len(forms) != 1:
        raise _err(where, dict(spec), "needs exactly one of values, linspace, logspace, range",
                   "Example: linspace: [0, 1, 21]")
    form = forms[0]
    arg = spec[form]
    if form == "values":
        if isinstance(arg, (int, float, str)) and not isinstance(arg, bool):
            arg = [arg]
        if not isinstance(arg, list):
            raise _err(f"{where}.values", arg, "must be a list", "Example: values: [5, 7.5, 10]")
        for v in arg:
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise _err(f"{where}.values", arg, "must be a list of numbers or quantities", "Example: values: [5, 7.5, 10]")
        if room is not None:
            room(len(arg), f"{where}.values", arg)
        return list(arg)
    if (not isinstance(arg, list) or len(arg) != 3
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in arg)):
        raise _err(f"{where}.{form}", arg, "must be [start, stop, num]" if form != "range" else "must be [start, stop, step]",
                   f"Example: {form}: " + ("[0, 1, 0.05]" if form == "range" else "[0, 1, 21]"))
    start, stop, third = arg
    if not all(math.isfinite(x) for x in arg):
        raise _err(f"{where}.{form}", arg, "must hold finite numbers",
                   f"Example: {form}: " + ("[0, 1, 0.05]" if form == "range" else "[0, 1, 21]"))
    if form in ("linspace", "logspace"):
        if float(third) != int(third) or int(third) < 1:
            raise _err(f"{where}.{form}", arg, "needs a whole number of points >= 1 as third entry",
                       f"Example: {form}: [1, 10, 30]")
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
            raise _err(f"{where}.logspace", arg, "needs positive start and stop (values, not exponents)",
                       "Example: logspace: [1, 100, 3] gives 1, 10, 100")
        return [float(x) for x in np.geomspace(start, stop, n)]
    step = third
    if step == 0 or (stop - start) * step < 0:
        raise _err(f"{where}.range", arg, "needs a step that goes from start towards stop", "Example: range: [0, 1, 0.05]")
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
        raise _err(where, arg, f"gives {n} values, more than the {MAX_AXIS_SIZE} an axis may have",
                   "Use a coarser step or fewer points.")
