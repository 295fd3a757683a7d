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
import hashlib
import json
import math
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import dask.config
import numpy as np
import yaml

from . import (
    config,  # noqa: F401 - lifbatch's defaults, the known keys
    units as u,
)
from .checks import check_values
from .errors import WorkflowError
from .limits import (
    check_room,  # noqa: F401
    check_task_memory,
    check_work,
    limit as _limit,
    raise_cap as _raise_cap,
)
from .messages import (
    CONTROL_CHARS as _CONTROL,
    byte_size as _bytes,
    check_keys as _check_keys,
    err as _err,
    one_line as _one_line,
    short as _short,
    shown as _shown,
)
from .sections.inputs import DRIVE_KINDS, parse_inputs  # DRIVE_KINDS: in __all__, public here
from .sections.neuron import model_of, parse_model_neuron, parse_neuron
from .sections.outputs import parse_record, parse_summaries
from .sections.sweep import parse_noise, parse_sweep, sample_axis
from .specs import (
    Drive,
    InputsSpec,
    LabelledAxis,
    NeuronSpec,
    Param,  # noqa: F401
    ParamTable,
    RecordSpec,
    Run,
    SampleAxis,
    SummarySpec,
    SweepAxis,
)
from .values import (  # noqa: F401
    EXAMPLES,
    INFINITE_OK,
    axis_raw_values as _axis_raw_values,
    parse_axis_values,
    parse_integer,
    parse_multiple_of_dt,
    parse_param,
    parse_time,
)

__all__ = ["Workflow", "SweepAxis", "Drive", "load_workflow", "apply_overrides", "DRIVE_KINDS"]


NAME_RE = re.compile(r"^[a-z0-9_-]+$")


#: the longest name of a workflow (its store's directory name); an axis' and a drive's: layout.MAX_AXIS_NAME
MAX_NAME = 100


TOP_KEYS = {
    "name",
    "description",
    "seed",
    "trials",
    "duration",
    "dt",
    "method",
    "neuron",
    "inputs",
    "sweep",
    "sample",
    "noise",
    "record",
    "summaries",
}


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
    params: Mapping[str, float]  # every numeric parameter by dot path, SI
    param_units: Mapping[str, str]  # SI unit string per parameter
    display_units: Mapping[str, str]  # as written, per parameter ("" when bare)
    drives: tuple[Drive, ...]
    sweep: tuple[SweepAxis, ...]
    shared_across: tuple[str, ...]
    record_trials: tuple[int, ...]
    record_every: float
    warmup: float
    isi_edges: tuple[float, ...]
    moments_every: float
    max_lag: float
    voltage_unit: str  # "V" or "1"
    voltage_display: str  # e.g. "mV"
    canonical: str = field(repr=False)  # canonical JSON of everything that changes results
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
        return {
            "name": ax.name,
            "labels": list(ax.point_labels),
            "params": list(ax.params),
            "values": [list(v) for v in ax.values],
        }
    if isinstance(ax, SampleAxis):
        n = ax.spec.n
        return {"name": ax.name, "params": list(ax.params), "values": [list(v[:n]) for v in ax.values]}
    return {"name": ax.name, "params": list(ax.params), "values": [list(v) for v in ax.values]}


def _pruned_axis_spec(spec: dict, keep: int) -> dict:
    vals = _axis_raw_values(spec, "sweep")
    out = {k: v for k, v in spec.items() if k not in {"values", "linspace", "logspace", "range"}}
    out["values"] = [v if isinstance(v, str) else float(v) for v in vals[:keep]]
    return out


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
            raise _YamlRefused(
                f"uses a YAML alias (*{u.excerpt(str(event.anchor), 40)})",
                "lifbatch does not expand aliases: write the value out in full.",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _YamlRefused(
                    f"nests more than {MAX_YAML_DEPTH} levels deep",
                    "A workflow has a few levels: check the brackets.",
                    self.peek_event().start_mark,
                )
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
                    f'`--set` expects KEY=VALUE, got {_shown(item)}. Example: --set neuron.tau_m="20 ms"', "--set", item
                )
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
            raise WorkflowError(
                f'`--set` key {_shown(key)} is not a dot path. Example: --set neuron.tau_m="20 ms"', "--set", key
            )
        node = raw
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise WorkflowError(
                    f"`--set {u.excerpt(key)}`: `{u.excerpt('.'.join(parts[: i + 1]))}` is {_shown(nxt)}, not a "
                    f"section that can hold {_shown(parts[i + 1])}. Set the whole value instead.",
                    key,
                    value,
                )
            node = nxt
        node[parts[-1]] = value
    return raw


_MISSING = object()


def _config_overrides(overrides) -> tuple[Any, dict]:
    """Split ``overrides`` into the workflow's and lifbatch's settings (``lifbatch.KEY``,
    dask.config), the latter read as YAML like the former."""
    if not overrides:
        return overrides, {}
    settings: dict[str, Any] = {}
    if isinstance(overrides, Mapping):
        rest: dict[Any, Any] = {}
        for key, value in overrides.items():
            (settings if str(key).startswith("lifbatch.") else rest)[key] = value
        return rest, settings
    items: list[str] = []
    for item in overrides:
        key = item.split("=", 1)[0].strip() if "=" in item else ""
        if key.startswith("lifbatch."):
            text = item.split("=", 1)[1]
            try:
                settings[key] = _yaml_load(text) if text.strip() else ""
            except yaml.YAMLError:
                settings[key] = text
        else:
            items.append(item)
    return items, settings


def _apply_settings(settings: dict) -> None:
    """``--set lifbatch.limits.max-points=2e7``: set the dask.config keys, for this process."""

    for key, value in settings.items():
        if dask.config.get(key, default=_MISSING) is _MISSING or isinstance(dask.config.get(key), Mapping):
            section = key.rsplit(".", 1)[0]
            known = dask.config.get(section, default=None) if section != "lifbatch" else None
            names = (
                f" Settings in {section}: {', '.join(sorted(known))}."
                if isinstance(known, Mapping)
                else " See lifbatch/lifbatch.yaml for the settings."
            )
            raise WorkflowError(f"`--set {u.excerpt(key)}` is not a lifbatch setting.{names}", key, value)
        if isinstance(value, str):
            try:  # YAML 1.1 reads 2e7 as text
                value = float(value)
            except ValueError:
                pass
        dask.config.set({key: value})


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
            raise WorkflowError(
                f"workflow file '{path}' {exc.what} at line {exc.mark.line + 1}. {exc.fix}", "workflow", str(path)
            ) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise WorkflowError(
                f"workflow file '{path}' is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}.",
                "workflow",
                str(path),
            ) from None
        except UnicodeDecodeError:
            raise WorkflowError(
                f"workflow file '{path}' is not UTF-8 text. Save it as UTF-8.", "workflow", str(path)
            ) from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise WorkflowError(
                f"workflow file '{path}' must hold a mapping of keys, got {type(raw).__name__}.", "workflow", str(path)
            )
    try:
        return parse(apply_overrides(raw, overrides), base_dir, confine=confine, limits=limits)
    except WorkflowError as exc:
        # messages quote values as written; a value with a line break must not break the line
        msg = str(exc)
        if _CONTROL.search(msg) or len(msg) > MAX_MESSAGE:
            msg = _one_line(msg)
            if len(msg) > MAX_MESSAGE:  # a last guard: every part is an excerpt already
                msg = msg[: MAX_MESSAGE - 200] + " … " + msg[-197:]
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
        raise WorkflowError(
            f"workflow file '{path}' cannot be read ({exc.strerror or exc}). Check the path.", *where
        ) from None
    if stat.S_ISDIR(st.st_mode):
        inside = sorted(p.name for p in path.glob("*.y*ml"))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise WorkflowError(
            f"workflow file '{path}' is a directory, not a file{hint}. Give the workflow's YAML file, "
            f"e.g. {path / (inside[0] if inside else 'workflow.yaml')}",
            *where,
        )
    if not stat.S_ISREG(st.st_mode):
        raise WorkflowError(
            f"workflow file '{path}' is not a regular file (a device, pipe or socket). Give the workflow's YAML file.",
            *where,
        )
    cap = int(_limit("max-workflow-file"))
    refused = (
        f"than lifbatch.limits.max-workflow-file ({_bytes(cap)}): a workflow is a few KiB of YAML. Check the "
        f"path, " + _raise_cap("max-workflow-file", max(st.st_size, cap + 1))
    )
    if st.st_size > cap:
        raise WorkflowError(f"workflow file '{path}' is {_bytes(st.st_size)}, more {refused}", *where)
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)  # a file that grows meanwhile is read no further than the cap
    except OSError as exc:
        raise WorkflowError(
            f"workflow file '{path}' cannot be read ({exc.strerror or exc}). Check the path.", *where
        ) from None
    if len(data) > cap:
        raise WorkflowError(f"workflow file '{path}' holds more {refused}", *where)
    return data


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
        raise _err(
            "duration",
            raw["duration"],
            f"must be a whole number of steps of dt ({_short(raw.get('dt', '0.1 ms'))})",
            "Make duration a multiple of dt.",
        )
    model = model_of(raw.get("neuron"))
    method = raw.get("method", model.default_method)
    if model.name == "lif" and method not in ("euler", "exact"):
        raise _err("method", method, "must be 'euler' or 'exact'", "Example: method: exact")
    if method not in model.methods:
        raise _err(
            "method",
            method,
            f"must be one of {', '.join(model.methods)} for model {model.name}",
            f"Example: method: {model.default_method}",
        )
    run = Run(
        trials=trials,
        duration=duration,
        dt=dt,
        method=method,
        duration_written=raw["duration"],
        dt_written=raw.get("dt", "0.1 ms"),
        limits=limits,
    )
    check_work(run, 1)

    neuron = parse_neuron(raw.get("neuron")) if model.name == "lif" else parse_model_neuron(model, raw["neuron"])
    inputs = parse_inputs(raw.get("inputs") or {}, run, neuron, base_dir=base_dir, confine=confine)
    table = neuron.params.plus(inputs.params)
    sweep = parse_sweep(raw.get("sweep") or {}, run, table)
    if raw.get("sample") is not None:
        sweep = (sample_axis(raw["sample"], sweep, table, run, seed),) + sweep
    check_work(run, math.prod(a.size for a in sweep), sweep)
    shared = parse_noise(raw.get("noise") or {}, sweep)
    record = parse_record(
        raw.get("record") or {}, run, model=model, drives=inputs.drives, axes=tuple(a.name for a in sweep)
    )
    summaries = parse_summaries(raw.get("summaries") or {}, run)
    check_values(run, table, sweep, inputs.drives, model.name)

    wf = Workflow(
        name=name,
        description=description,
        seed=seed,
        trials=trials,
        duration=duration,
        dt=dt,
        method=method,
        params={k: p.value for k, p in table.items()},
        param_units={k: u.si_unit(p.dim) for k, p in table.items()},
        display_units={k: p.display for k, p in table.items()},
        drives=inputs.drives,
        sweep=sweep,
        shared_across=shared,
        record_trials=record.trials,
        record_every=record.every,
        warmup=summaries.warmup,
        record_state=record.state,
        record_inputs=record.inputs,
        isi_edges=summaries.isi_edges,
        moments_every=summaries.moments_every,
        max_lag=summaries.max_lag,
        voltage_unit=u.si_unit(neuron.voltage_dim),
        voltage_display=neuron.voltage_display,
        canonical=_canonical(run, seed, table, inputs, sweep, shared, record, summaries, neuron),
        source=_source(raw, inputs.drives),
        model=model.name,
        model_options=neuron.options,
    )
    if limits:
        check_task_memory(wf)
    return wf


def _canonical(
    run: Run,
    seed: int,
    table: ParamTable,
    inputs: InputsSpec,
    sweep: tuple[SweepAxis, ...],
    shared: tuple[str, ...],
    record: RecordSpec,
    summaries: SummarySpec,
    neuron: NeuronSpec | None = None,
) -> str:
    """The canonical JSON of everything that changes results (the fingerprint's input). The
    model is in it unless it is ``lif``, so that stores made before models keep their identity."""
    canonical = {
        "seed": seed,
        "trials": run.trials,
        "duration": run.duration,
        "dt": run.dt,
        "method": run.method,
        "params": {k: table[k].value for k in sorted(table)},
        "drives": [
            {
                "name": d.name,
                "kind": d.kind,
                "role": d.role,
                "options": {k: v for k, v in d.options if k != "file"},
                "file_sha256": inputs.file_sha256(d.name),
            }
            for d in inputs.drives
        ],
        "sweep": [_canonical_axis(a) for a in sweep],
        "shared_across": list(shared),
        "record": {
            "trials": list(record.trials),
            "every": record.every,
            **({"state": list(record.state)} if record.state else {}),
            **({"inputs": list(record.inputs)} if record.inputs else {}),
        },
        "summaries": {
            "warmup": summaries.warmup,
            "isi_edges": list(summaries.isi_edges),
            "moments_every": summaries.moments_every,
            "max_lag": summaries.max_lag,
        },
    }
    if neuron is not None and neuron.model != "lif":
        canonical["model"] = {"name": neuron.model, "options": dict(neuron.options)}
    if sweep and isinstance(sweep[0], SampleAxis) and sweep[0].spec.rounds:
        # the points refine and fit added: not the simulation's identity (identity.simulation_identity)
        spec_ = sweep[0].spec
        canonical["sample_added"] = {
            "params": [p.param for p in spec_.params],
            "values": [list(v) for v in spec_.added],
            "rounds": list(spec_.rounds),
        }
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"))


def _source(raw: dict, drives: tuple[Drive, ...]) -> str:
    """The raw workflow as JSON (not sort_keys: the order of the sweep axes is the order of
    the grid), each input file by its resolved path, so that it loads again from anywhere."""
    files = {d.name: d.option("file") for d in drives if d.kind == "timed_array" and d.option("file")}
    if files:
        raw = {
            **raw,
            "inputs": {
                name: {**spec, "file": files[name]} if name in files else spec for name, spec in raw["inputs"].items()
            },
        }
    return json.dumps(raw, default=str)


def parse_name(name: Any) -> str:
    if name is None:
        raise WorkflowError(
            "`name` is required (lowercase letters, digits, '-' and '_'). Example: name: my-sweep", "name", None
        )
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _err("name", name, "must match [a-z0-9_-]+", "Example: name: pypet-firing-rate")
    if len(name) > MAX_NAME:
        raise _err(
            "name", name, f"is {len(name)} characters long, more than {MAX_NAME}", "Example: name: pypet-firing-rate"
        )
    return name
