"""Parsing a workflow's sections: one function per section, each given what it is checked
against and returning a frozen spec (:mod:`lifbatch.specs`): :func:`parse_neuron`
(:class:`NeuronSpec`), :func:`parse_inputs` (:class:`InputsSpec`: the :class:`Drive`
objects), :func:`parse_sweep` (:class:`SweepAxis` objects), :func:`sample_axis` (the
``sample`` section, :func:`lifbatch.design.parse_sample`), :func:`parse_noise`,
:func:`parse_record` (:class:`RecordSpec`) and :func:`parse_summaries`
(:class:`SummarySpec`). :func:`lifbatch.workflow.parse` composes them.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import units as u
from .drives import DRIVES
from .errors import WorkflowError
from .layout import AXIS_RE, MAX_AXIS_NAME, RESERVED_DIMS, RESERVED_VARS, SAMPLE, samples, trace_bytes
from .limits import check_room, count_text as _count, limit as _limit, raise_cap as _raise_cap, trials_text as _trials
from .messages import (
    byte_size as _bytes,
    check_keys as _check_keys,
    err as _err,
    one_line as _one_line,
    short as _short,
)
from .specs import (
    Drive,
    InputsSpec,
    LabelledAxis,
    NeuronSpec,
    Param,
    ParamTable,
    RecordSpec,
    Run,
    SampleAxis,
    SummarySpec,
    SweepAxis,
)
from .values import (
    EXAMPLES,
    axis_raw_values as _axis_raw_values,
    dim_name as _dim_name,
    example as _example,
    flag as _flag,
    parse_axis_values,
    parse_integer,
    parse_multiple_of_dt,
    parse_param,
    parse_time,
    quantity as _quantity,
    shown_unit as _shown_unit,
)

__all__ = [
    "NEURON_KEYS",
    "VOLTAGE_FIELDS",
    "DRIVE_KINDS",
    "DRIVE_ROLES",
    "parse_neuron",
    "model_of",
    "parse_model_neuron",
    "drive_role",
    "parse_inputs",
    "parse_drive",
    "parse_sweep",
    "sample_axis",
    "parse_noise",
    "parse_record",
    "parse_summaries",
    "drive_dims",
]


NEURON_KEYS = {"tau_m", "e_l", "v_th", "v_reset", "v_init", "t_ref", "r_m"}
VOLTAGE_FIELDS = ("v_th", "e_l", "v_reset", "v_init")

# kind -> {field: (role, default)}, from the drive kinds' registry (drives.py), where
# each kind says its fields' dimensions: "drive" (the drive's own dimension: current,
# voltage or voltage/time, all such fields agree), "voltage", "time", "rate", "noise",
# "1" (dimensionless), "int", "bool", "file", "unit"; a default of None: required
DRIVE_KINDS: dict[str, dict[str, tuple[str, Any]]] = {name: dict(kind.fields) for name, kind in DRIVES.items()}
# How a continuous drive enters dV/dt, decided by its dimension (docs/workflow.md).
DRIVE_ROLES = ("current", "voltage", "voltage_rate")


# --------------------------------------------------------------------------- #
# frozen spec objects
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# YAML
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# overrides
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# limits (dask.config "lifbatch.limits", defaults in lifbatch.yaml)
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# loading
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# parsing: the top level, composing the sections
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# parsing: scalars
# --------------------------------------------------------------------------- #


# a number as YAML 1.2 writes it; YAML 1.1 (PyYAML) reads "1e6" (no dot) as a string


# --------------------------------------------------------------------------- #
# parsing: the caps of lifbatch.limits on the grid's size
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# parsing: neuron
# --------------------------------------------------------------------------- #
def parse_neuron(raw: Any) -> NeuronSpec:
    """The ``neuron`` section -> :class:`NeuronSpec`: tau_m (a time, or inf for no leak),
    the voltages in one dimension (e_l 0, v_reset and v_init e_l by default), t_ref, r_m."""
    if raw is None:
        raise WorkflowError(
            "`neuron` is required, with at least tau_m and v_th. Example: neuron: {tau_m: 20 ms, v_th: 1}",
            "neuron",
            None,
        )
    _check_keys(raw, NEURON_KEYS | {"model"}, "neuron")
    for key in ("tau_m", "v_th"):
        if key not in raw:
            raise WorkflowError(f"`neuron.{key}` is required. {_example('neuron.' + key)}", f"neuron.{key}", None)
    # tau_m: a positive time or inf (no leak)
    q = _quantity(raw["tau_m"], "neuron.tau_m")
    if u.dimension_of(q) not in ("[time]",) and not (q.dimensionless and math.isinf(u.to_si(q))):
        raise _err(
            "neuron.tau_m", raw["tau_m"], "must be a positive time (or inf for no leak)", "Example: tau_m: 20 ms"
        )
    tau = u.to_si(q)
    if not tau > 0:
        raise _err(
            "neuron.tau_m", raw["tau_m"], "must be a positive time (or inf for no leak)", "Example: tau_m: 20 ms"
        )
    params = {"neuron.tau_m": Param(tau, "[time]", _shown_unit(q), raw["tau_m"])}
    # voltages: one dimension for all (volt, or dimensionless)
    th = params["neuron.v_th"] = parse_param("neuron.v_th", raw["v_th"])
    vdim, vdisplay = th.dim, th.display
    for key in ("e_l", "v_reset", "v_init"):
        if key in raw:
            q = _quantity(raw[key], f"neuron.{key}")
            if u.dimension_of(q) != vdim and not (q.dimensionless and u.to_si(q) == 0):
                raise _err(
                    f"neuron.{key}",
                    raw[key],
                    f"must have the dimension of v_th ({_short(raw['v_th'])})",
                    f"Write it in the same unit as v_th, e.g. {key}: {EXAMPLES[key] if vdim != 'dimensionless' else 0}",
                )
            params[f"neuron.{key}"] = replace(parse_param(f"neuron.{key}", raw[key], q), dim=vdim)
    for key in ("e_l", "v_reset", "v_init"):
        default = 0.0 if key == "e_l" else params["neuron.e_l"].value
        params.setdefault(f"neuron.{key}", Param(default, vdim, vdisplay))
    t_ref, q = parse_time(raw.get("t_ref", "0 ms"), "neuron.t_ref", allow_zero=True)
    params["neuron.t_ref"] = Param(t_ref, "[time]", f"{q.units:~}".replace(" ", "") if not q.dimensionless else "s")
    q = _quantity(raw.get("r_m", 1), "neuron.r_m")
    r_m = params["neuron.r_m"] = parse_param("neuron.r_m", raw.get("r_m", 1), q)
    if not (q.dimensionless or u.dimension_of(q) == u.unit_dimensionality("ohm")):
        raise _err("neuron.r_m", raw.get("r_m"), "must be a resistance (or a bare number)", "Example: r_m: 100 Mohm")
    if not r_m.value > 0:
        raise _err("neuron.r_m", raw.get("r_m"), "must be a positive resistance", "Example: r_m: 100 Mohm")
    return NeuronSpec(
        params=ParamTable(params),
        voltage_dim=vdim,
        voltage_display=vdisplay or ("mV" if vdim != "dimensionless" else ""),
        r_dim=u.dimension_of(q),
        r_m_given="r_m" in raw,
    )


def model_of(raw: Any):
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
                f"Its parameters: {', '.join(model.params)}"
                + (f"; options: {', '.join(options_allowed)}" if options_allowed else "")
                + ".",
                f"neuron.{key}",
                raw[key],
            )
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
            raise _err(
                path,
                written,
                f"must be {_dim_name(want)} for model {model.name}",
                f"Example: {key}: {spec.default}" if spec.default and not spec.default.startswith("=") else "",
            )
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
    return NeuronSpec(
        params=ParamTable(params),
        voltage_dim=u.unit_dimensionality("V"),
        voltage_display="mV",
        r_dim="dimensionless",
        r_m_given=False,
        model=model.name,
        options=tuple(options),
    )


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
    raise _err(
        field,
        value,
        f"must be a current for model {model.name} (it enters as "
        f"{model.roles['current']}; white noise's sigma may be a voltage)",
        "Example: value: 500 pA",
    )


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
        given = (
            "neuron.r_m is not set"
            if not neuron.r_m_given
            else f"neuron.r_m is a bare number ({_short(neuron.params.written('neuron.r_m'))})"
        )
        raise _err(
            field,
            value,
            f"is a current, which needs a resistance: {given}",
            "Set neuron.r_m (e.g. r_m: 100 Mohm), or give the drive as a voltage (e.g. 25 mV).",
        )
    raise _err(
        field,
        value,
        "must be a current (multiplied by neuron.r_m), a voltage or a voltage per time "
        f"in the units of neuron.v_th ({_short(neuron.params['neuron.v_th'].written)})",
        "Example: value: 250 pA with r_m: 100 Mohm, or value: 0.1 / ms for a dimensionless model",
    )


def parse_inputs(raw: Any, run: Run, neuron: NeuronSpec, *, base_dir: Path, confine: bool = False) -> InputsSpec:
    """The ``inputs`` section -> :class:`InputsSpec`: each drive's fields by their dimension
    in the drive kinds' registry (:data:`DRIVE_KINDS`), its role from the neuron's units, and
    a ``timed_array``'s file read (relative to ``base_dir``; within it if ``confine``)."""
    if not isinstance(raw, Mapping):
        raise _err(
            "inputs",
            raw,
            "must be a mapping of named drives",
            "Example: inputs: {drive: {kind: constant, value: 250 pA}}",
        )
    drives, params, files = [], {}, {}
    for name, spec in raw.items():
        drive, entries, sha = parse_drive(name, spec, run, neuron, base_dir=base_dir, confine=confine)
        drives.append(drive)
        params.update(entries)
        if sha is not None:
            files[name] = sha
    return InputsSpec(drives=tuple(drives), params=ParamTable(params), files=tuple(files.items()))


def parse_drive(
    name: Any, spec: Any, run: Run, neuron: NeuronSpec, *, base_dir: Path, confine: bool = False
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
        raise _err(
            "inputs",
            name,
            f"has a drive name of {len(name)} characters, more than {MAX_AXIS_NAME}",
            "Example: inputs: {drive: ...}",
        )
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise _err(
            where,
            spec,
            "must be a mapping with a `kind`",
            f"Kinds: {', '.join(DRIVE_KINDS)}. Example: {{kind: constant, value: 250 pA}}",
        )
    kind = spec["kind"]
    if not isinstance(kind, str) or kind not in DRIVE_KINDS:
        raise _err(f"{where}.kind", kind, f"must be one of {', '.join(DRIVE_KINDS)}", "Example: kind: white_noise")
    schema = DRIVE_KINDS[kind]
    _check_keys(spec, set(schema) | {"kind"}, where)
    role = None
    options: list[tuple[str, Any]] = []
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
                    fix = (
                        "A conductance needs a resistance to enter a LIF in volts: set neuron.r_m (e.g. r_m: 100 Mohm)"
                        if neuron.voltage_dim != "dimensionless"
                        else "Example: weight: 0.05"
                    )
                    raise _err(
                        path,
                        value,
                        "must be dimensionless (a conductance relative to the leak, "
                        "for a dimensionless model or a LIF without r_m)",
                        fix,
                    )
                raise _err(path, value, "must be a conductance", "Example: weight: 1 nS")
            params[path] = replace(parse_param(path, value, q), dim=want)
        elif frole == "voltage":
            q = _quantity(value, path)
            if not (u.dimension_of(q) == neuron.voltage_dim or (q.dimensionless and u.to_si(q) == 0)):
                raise _err(
                    path,
                    value,
                    f"must be a voltage jump in the units of neuron.v_th ({_short(v_th)})",
                    "Example: weight: 0.1 (dimensionless model) or weight: 0.5 mV",
                )
            params[path] = replace(parse_param(path, value, q), dim=neuron.voltage_dim)
        elif frole == "noise":
            q = _quantity(value, path)
            r = drive_role(q, path, value, neuron)
            if r == "voltage_rate":
                raise _err(
                    path,
                    value,
                    "must be a voltage (or a current, times r_m)",
                    "Example: sigma: 0.5 mV, or sigma: 0.3 for a dimensionless model",
                )
            role = r
            params[path] = replace(parse_param(path, value, q), dims=drive_dims(neuron, noise=True))
        elif frole == "drive":
            q = _quantity(value, path)
            if key in ("mean",) and kind == "sine" and key not in spec:
                continue  # default 0, dimension taken from amplitude below
            r = drive_role(q, path, value, neuron)
            if role is not None and r != role and not (q.dimensionless and u.to_si(q) == 0):
                raise _err(
                    path,
                    value,
                    f"must have the same dimension as the drive's other values ({role})",
                    "Write all values of one drive in one unit.",
                )
            role = role or r
            params[path] = replace(parse_param(path, value, q), dims=drive_dims(neuron))
    if kind == "sine" and "mean" not in spec:
        amplitude = params[f"{where}.amplitude"]
        params[f"{where}.mean"] = Param(0.0, amplitude.dim, amplitude.display)
    if kind == "timed_array" and ("file" in spec) == ("values" in spec):
        raise _err(
            where,
            dict(spec),
            "needs exactly one of file and values",
            "Example: {kind: timed_array, values: [0, 0.5, 1], dt: 10 ms, unit: nA}",
        )
    if kind == "timed_array" and "values" in spec:
        q = u.Quantity(1, dict(options).get("unit", "1"))
        role = drive_role(q, f"{where}.unit", dict(options).get("unit", "1"), neuron)
    elif kind == "timed_array":
        role, sha = _load_timed_array(dict(options), where, run, neuron, base_dir=base_dir, confine=confine)
        # the resolved path, also in the saved workflow (_source)
        options = [(k, v) for k, v in options if k != "file"] + [
            ("file", _resolved_file(dict(options)["file"], base_dir))
        ]
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
        if (
            not isinstance(row, list)
            or not row
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) for x in row)
        ):
            raise _err(
                path,
                value,
                "must be a list of finite numbers, or one such list per trial",
                "Example: values: [0, 0.5, 1, 0.5]",
            )
        return tuple(float(x) for x in row)

    if isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        rows = tuple(numbers(r) for r in value)
        if len(rows) != run.trials or len({len(r) for r in rows}) != 1:
            raise _err(
                path,
                value,
                f"must have one list per trial ({_trials(run.trials)}), all of one length",
                "Or give one list for all trials.",
            )
        return rows
    return numbers(value)


def _resolved_file(file: str, base_dir: Path) -> str:
    p = Path(file)
    return str(p if p.is_absolute() else (base_dir / p).resolve())


def _load_timed_array(
    options: Mapping, where: str, run: Run, neuron: NeuronSpec, *, base_dir: Path, confine: bool
) -> tuple[str, str]:
    """A ``timed_array``'s file, read and checked -> (the drive's role, the file's sha256)."""
    from .drives import read_timed_array  # numpy only

    path = _resolved_file(options["file"], base_dir)
    if confine:
        from . import config

        root = base_dir.resolve()
        real = Path(path).resolve()
        if not real.is_relative_to(root) and not _flag(
            config.get("inputs.allow-outside"), "lifbatch.inputs.allow-outside"
        ):
            raise _err(
                f"{where}.file",
                options["file"],
                f"is outside the workflow file's directory ({u.excerpt(str(root), 60)})",
                "Move or copy the file under that directory, or allow other paths: "
                "--set lifbatch.inputs.allow-outside=true (or DASK_LIFBATCH__INPUTS__ALLOW_OUTSIDE=true).",
            )
    if not Path(path).is_file():
        raise _err(
            f"{where}.file",
            options["file"],
            f"does not exist (looked for {u.excerpt(path, 60)})",
            "Give a path to a .npy or .csv file, relative to the workflow file.",
        )
    try:
        data = read_timed_array(path)
    except Exception as exc:
        # never the file's content (a message of numpy's quotes the text it could not read)
        cell = re.search(r"\bat row (\d+), column (\d+)", str(exc))  # row from 0
        cols = re.search(r"columns changed from (\d+) to (\d+) at row (\d+)", str(exc))  # row from 1
        why = (
            f"line {int(cell[1]) + 1}, column {cell[2]} is not a number"
            if cell
            else f"line {cols[3]} has {cols[2]} columns, the lines before it {cols[1]}"
            if cols
            else "it is not a .npy file of numbers"
            if path.endswith(".npy")
            else "it is not a table of numbers with the same number of columns on every line"
        )
        raise _err(
            f"{where}.file",
            options["file"],
            f"could not be read ({why})",
            "Use a .npy file or a .csv of numbers (1 column, or one column per trial).",
        ) from None
    if data.ndim == 2 and data.shape[1] not in (1, run.trials):
        raise _err(
            f"{where}.file",
            options["file"],
            f"has {data.shape[1]} columns but the workflow has {_trials(run.trials)}",
            "Give 1 column (all trials) or one column per trial.",
        )
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
        raise _err(
            "sweep",
            raw,
            "must be a mapping of axis names to axes",
            "Example: sweep: {tau: {param: neuron.tau_m, values: [10, 20], unit: ms}}",
        )
    axes: list[SweepAxis] = []
    seen: dict[str, str] = {}
    sweepable = sorted(table)

    def room(n: int, where_: str, arg: Any) -> None:
        check_room(run, [a.size for a in axes], n, where_, arg)

    for name, spec in raw.items():
        where = f"sweep.{name}"
        if not isinstance(name, str) or not AXIS_RE.match(name) or name in RESERVED_DIMS:
            raise _err(
                where,
                name,
                "must be a name of letters, digits and '_' other than " + ", ".join(sorted(RESERVED_DIMS)),
                "Example: sweep: {tau: ...}",
            )
        if len(name) > MAX_AXIS_NAME:
            raise _err(
                "sweep",
                name,
                f"has an axis name of {len(name)} characters, more than {MAX_AXIS_NAME}",
                "Example: sweep: {tau: ...}",
            )
        if name in RESERVED_VARS:
            raise _err(
                where,
                name,
                "is the name of a variable of the results store",
                f"Rename the axis, e.g. sweep: {{input_{name}: ...}}",
            )
        if not isinstance(spec, Mapping):
            raise _err(where, spec, "must be a mapping", "Example: {param: neuron.tau_m, values: [10, 20], unit: ms}")
        if "labels" in spec:
            axes.append(parse_labelled_axis(name, spec, table, seen, room))
            continue
        if "zip" in spec:
            _check_keys(spec, {"zip"}, where)
            if not isinstance(spec["zip"], Mapping) or not spec["zip"]:
                raise _err(
                    f"{where}.zip",
                    spec["zip"],
                    "must map parameters to axes",
                    "Example: zip: {neuron.tau_m: {values: [10, 20], unit: ms}, neuron.t_ref: {values: [1, 2], unit: ms}}",
                )
            items = list(spec["zip"].items())
        else:
            if "param" not in spec:
                raise WorkflowError(
                    f"`{where}.param` is required (the dot path of the swept parameter). Example: param: neuron.tau_m",
                    f"{where}.param",
                    None,
                )
            items = [(spec["param"], {k: v for k, v in spec.items() if k != "param"})]
        params, values, units_, displays = [], [], [], []
        for param, sub in items:
            pwhere = f"{where}.zip.{param}" if "zip" in spec else where
            if not isinstance(param, str) or param not in table:
                raise _err(
                    f"{where}.param" if "zip" not in spec else pwhere,
                    param,
                    "is not a numeric parameter of this workflow",
                    f"Sweepable: {', '.join(sweepable)}",
                )
            if param in seen:
                raise _err(
                    f"{where}.param" if "zip" not in spec else pwhere,
                    param,
                    f"is already swept by axis '{seen[param]}'",
                    "Sweep each parameter on one axis (zip parameters that move together).",
                )
            seen[param] = name
            if not isinstance(sub, Mapping):
                raise _err(pwhere, sub, "must be a mapping", "Example: {values: [10, 20], unit: ms}")
            vals, si, disp = parse_axis_values(
                sub,
                pwhere,
                param,
                dim=table[param].dim,
                display=table[param].display,
                with_param="zip" not in spec,
                room=room,
                written=table[param],
            )
            if param.endswith(".n") and any(v != int(v) or v < 1 for v in vals):
                raise _err(pwhere, list(vals), "must be integers >= 1", "Example: values: [1, 10, 100]")
            params.append(param)
            values.append(vals)
            units_.append(si)
            displays.append(disp)
        if len({len(v) for v in values}) != 1:
            raise _err(
                f"{where}.zip",
                {p: len(v) for p, v in zip(params, values)},
                "has parameters of different lengths",
                "Zipped parameters need the same number of values.",
            )
        axes.append(
            SweepAxis(
                name=name,
                params=tuple(params),
                values=tuple(values),
                units=tuple(units_),
                display_units=tuple(displays),
            )
        )
    return tuple(axes)


#: a label of a labelled axis: a name, so that `--sel pattern=tonic` and `ds.sel(pattern="tonic")` read alike
LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
LABELLED_EXAMPLE = (
    "Example: pattern: {labels: [tonic, adapting], zip: {neuron.a: {values: [2, 2], unit: nS}, "
    "neuron.tau_w: {values: [30, 300], unit: ms}}}"
)


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
            raise _err(
                f"{where}.labels",
                label,
                f"is not a name (label {i}): labels are letters, digits, '_' and "
                f"'-', starting with a letter or '_', at most {MAX_AXIS_NAME} characters",
                "Example: labels: [tonic, adapting, initial_burst]",
            )
    first: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label in first:
            raise _err(
                f"{where}.labels",
                label,
                f"is given twice (labels {first[label]} and {i})",
                "Each label must be distinct: it names one point of the axis.",
            )
        first[label] = i
    room(len(labels), f"{where}.labels", f"{len(labels)} labels")
    if "zip" not in spec:
        raise WorkflowError(
            f"`{where}.zip` is required with `labels`: the parameters each label sets, one value "
            f"per label. {LABELLED_EXAMPLE}",
            f"{where}.zip",
            None,
        )
    if not isinstance(spec["zip"], Mapping) or not spec["zip"]:
        raise _err(f"{where}.zip", spec["zip"], "must map parameters to their values, one per label", LABELLED_EXAMPLE)
    params, values, units_, displays = [], [], [], []
    for param, sub in spec["zip"].items():
        pwhere = f"{where}.zip.{param}"
        if not isinstance(param, str) or param not in table:
            raise _err(
                pwhere, param, "is not a numeric parameter of this workflow", f"Sweepable: {', '.join(sorted(table))}"
            )
        if param in seen:
            raise _err(
                pwhere,
                param,
                f"is already swept by axis '{seen[param]}'",
                "Sweep each parameter on one axis: drop it from one of them.",
            )
        seen[param] = name
        if not isinstance(sub, Mapping):
            raise _err(pwhere, sub, "must be a mapping", "Example: {values: [10, 20], unit: ms}")
        vals, si, disp = parse_axis_values(
            sub,
            pwhere,
            param,
            dim=table[param].dim,
            display=table[param].display,
            with_param=False,
            room=room,
            written=table[param],
            distinct=False,
        )
        if len(vals) != len(labels):
            raise _err(
                pwhere,
                list(_axis_raw_values(sub, pwhere)),
                f"has {len(vals)} value{'s' if len(vals) != 1 else ''} for {len(labels)} labels",
                f"Give one value per label, in the order of {where}.labels.",
            )
        if param.endswith(".n") and any(v != int(v) or v < 1 for v in vals):
            raise _err(pwhere, list(vals), "must be integers >= 1", "Example: values: [1, 10, 100]")
        params.append(param)
        values.append(vals)
        units_.append(si)
        displays.append(disp)
    points: dict[tuple, int] = {}
    for i, label in enumerate(labels):
        key = tuple(v[i] for v in values)
        if key in points:
            raise _err(
                f"{where}.labels",
                label,
                f"sets the same values as label '{labels[points[key]]}' ({', '.join(params)})",
                "Give each label other values, or drop one of the two.",
            )
        points[key] = i
    return LabelledAxis(
        name=name,
        params=tuple(params),
        values=tuple(values),
        units=tuple(units_),
        display_units=tuple(displays),
        point_labels=tuple(labels),
    )


def sample_axis(raw: Any, sweep: tuple[SweepAxis, ...], table: ParamTable, run: Run, seed: int) -> SampleAxis:
    """The ``sample`` section (:func:`lifbatch.design.parse_sample`) as the grid's first axis."""
    from .design import parse_sample

    spec = parse_sample(raw, table, {p: ax.name for ax in sweep for p in ax.params})
    check_room(run, [a.size for a in sweep], spec.size, "sample.n", raw.get("n"))
    values = spec.values(seed)
    return SampleAxis(
        name=SAMPLE,
        params=tuple(p.param for p in spec.params),
        values=values,
        units=tuple(p.unit for p in spec.params),
        display_units=tuple(p.display_unit for p in spec.params),
        spec=spec,
        rounds=spec.all_rounds(),
    )


# --------------------------------------------------------------------------- #
# parsing: an axis's values (sweep axes, sampled bounds, ISI bins)
# --------------------------------------------------------------------------- #


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
        raise _err(
            "noise.shared_across",
            shared,
            "must be a list of sweep axis names",
            f"Example: shared_across: [{names[0] if names else 'tau'}]",
        )
    for s in shared:
        if not isinstance(s, str) or s not in names:
            raise _err("noise.shared_across", s, "is not a sweep axis", f"Axes: {', '.join(sorted(names)) or '(none)'}")
    if len(set(shared)) != len(shared):
        raise _err("noise.shared_across", shared, "has duplicates", "Name each axis once.")
    # in grid order, so that the same axes written in another order give the same fingerprint
    return tuple(n for n in names if n in shared)


def parse_record(raw: Any, run: Run, *, model=None, drives: tuple = (), axes: tuple = ()) -> RecordSpec:
    """The ``record`` section -> :class:`RecordSpec` (no traces: no trials, every dt). ``state``
    and ``inputs`` are recorded on V's trace grid (its trials, every ``record.v.every``)."""
    _check_keys(raw, {"v", "state", "inputs"}, "record")
    state = _record_names(
        raw,
        "state",
        [v.name for v in (model.state if model else ()) if v.name != "v"]
        + [f"g_{d.name}" for d in drives if d.kind == "poisson_conductance"],
        model.name if model else "lif",
        axes,
    )
    inputs = _record_names(raw, "inputs", [d.name for d in drives if not DRIVES[d.kind].stochastic], None, axes)
    if (state or inputs) and ("v" not in raw or raw["v"] is None):
        what = "record.state" if state else "record.inputs"
        raise _err(
            what,
            raw.get("state") or raw.get("inputs"),
            "is recorded on V's trace grid, which needs record.v",
            "Example: record: {v: {trials: [0], every: 0.1 ms}, state: [m, n, h]}",
        )
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
            raise _err(
                f"record.{key}",
                names,
                f"must list {what} ({', '.join(allowed) or 'none'})",
                "Uniform, white-noise and Poisson inputs are drawn afresh every step: they have no trace."
                if key == "inputs"
                else "",
            )
        stored = name if key == "state" else f"input_{name}"
        if stored in axes:
            raise _err(f"record.{key}", names, f"would store '{stored}', the name of a sweep axis", "Rename the axis.")
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
        need = trace_bytes(count, samples(run.n_steps, int(round(every / run.dt))))
        cap = _limit("max-task-memory")
        if need > cap:
            raise _err(
                "record.v.trials",
                trials,
                f"makes {_count(count)} traces of {_count(run.n_steps)} steps "
                f"need ~{_bytes(need)} per point, more than lifbatch.limits.max-task-memory ({_bytes(cap)})",
                "Record fewer trials, or sample V less often (record.v.every), " + _raise_cap("max-task-memory", need),
            )
    if trials == "all":
        trials = list(range(run.trials))
    if isinstance(trials, int) and not isinstance(trials, bool):
        trials = [trials]
    if not isinstance(trials, list) or any(isinstance(t, bool) or not isinstance(t, int) for t in trials):
        raise _err("record.v.trials", trials, "must be a list of trial indices or 'all'", "Example: trials: [0, 1]")
    for t in trials:
        if not 0 <= t < run.trials:
            raise _err(
                "record.v.trials",
                trials,
                f"must be within 0..{run.trials - 1}",
                f"The workflow has {_trials(run.trials)}.",
            )
    if len(set(trials)) != len(trials):
        raise _err("record.v.trials", trials, "has duplicates", "List each trial once.")
    return RecordSpec(tuple(sorted(trials)), every)


def parse_summaries(raw: Any, run: Run) -> SummarySpec:
    """The ``summaries`` section -> :class:`SummarySpec`, with its defaults: no warm-up, 50
    ISI bins over the run, about 1000 moment samples and a lag of up to 50 of them."""
    _check_keys(raw, {"warmup", "isi_bins", "moments", "autocov"}, "summaries")
    warmup, _ = parse_time(raw.get("warmup", "0 ms"), "summaries.warmup", allow_zero=True)
    if warmup >= run.duration:
        raise _err(
            "summaries.warmup",
            raw.get("warmup"),
            f"must be shorter than duration ({_short(run.duration_written)})",
            "Example: warmup: 100 ms",
        )
    k = warmup / run.dt
    if abs(k - round(k)) > 1e-6 * max(1, k):
        raise _err("summaries.warmup", raw.get("warmup"), "must be a multiple of dt", "Example: warmup: 100 ms")
    warmup = round(k) * run.dt
    if "isi_bins" in raw:
        spec = raw["isi_bins"]
        if not isinstance(spec, Mapping):
            raise _err(
                "summaries.isi_bins", spec, "must be a mapping", "Example: isi_bins: {linspace: [0, 100, 51], unit: ms}"
            )
        _check_keys(spec, {"values", "linspace", "logspace", "range", "unit"}, "summaries.isi_bins")
        edges, _, _ = parse_axis_values(spec, "summaries.isi_bins", "_isi", dim="[time]", with_param=False)
        edges = tuple(sorted(edges))
        if len(edges) < 2 or edges[0] < 0:
            raise _err(
                "summaries.isi_bins",
                spec,
                "must give at least 2 bin edges >= 0",
                "Example: isi_bins: {linspace: [0, 100, 51], unit: ms}",
            )
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
            raise _err(
                "summaries.autocov.max_lag",
                ac["max_lag"],
                "must be a multiple of summaries.moments.every",
                "Example: max_lag: 50 ms",
            )
        if max_lag > run.duration - warmup:
            raise _err(
                "summaries.autocov.max_lag",
                ac["max_lag"],
                "must not exceed duration - warmup",
                "Example: max_lag: 50 ms",
            )
        max_lag = round(k) * every
    else:
        n_after = int(round((run.duration - warmup) / every))
        max_lag = every * min(50, n_after)
    return SummarySpec(warmup, edges, every, max_lag)


# --------------------------------------------------------------------------- #
# parsing: constraints over every value a parameter takes
# --------------------------------------------------------------------------- #


def drive_dims(neuron: NeuronSpec, *, noise: bool = False) -> tuple[str, ...]:
    """The dimensions a drive's value may have for ``neuron`` (:func:`drive_role`): a voltage,
    a current (with r_m) and, but for noise, a voltage per time."""
    vq = u.Quantity(1, "V" if neuron.voltage_dim != "dimensionless" else "")
    current = str((vq / u.Quantity(1, "ohm" if neuron.r_dim != "dimensionless" else "")).dimensionality)
    rate = str((vq / u.Quantity(1, "s")).dimensionality)
    return (neuron.voltage_dim, current) if noise else (neuron.voltage_dim, current, rate)
