"""The ``inputs`` section -> :class:`~lifbatch.specs.InputsSpec`: each drive's fields by their
dimension in the drive kinds' registry (:data:`DRIVE_KINDS`, from :mod:`lifbatch.drives`), how it
enters dV/dt (:func:`drive_role`, from its dimension and the neuron's) and a ``timed_array``'s
file, read and checked."""

from __future__ import annotations

import hashlib
import math
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .. import config, units as u
from ..drives import DRIVES, read_timed_array
from ..errors import WorkflowError
from ..layout import AXIS_RE, MAX_AXIS_NAME
from ..limits import trials_text as _trials
from ..messages import check_keys as _check_keys, err as _err, short as _short
from ..models import get_model
from ..specs import Drive, InputsSpec, NeuronSpec, Param, ParamTable, Run
from ..values import example as _example, flag as _flag, parse_integer, parse_param, parse_time, quantity as _quantity

__all__ = ["DRIVE_KINDS", "DRIVE_ROLES", "drive_role", "drive_dims", "parse_inputs", "parse_drive"]


# kind -> {field: (role, default)}, from the drive kinds' registry (drives.py), where
# each kind says its fields' dimensions: "drive" (the drive's own dimension: current,
# voltage or voltage/time, all such fields agree), "voltage", "time", "rate", "noise",
# "1" (dimensionless), "int", "bool", "file", "unit"; a default of None: required
DRIVE_KINDS: dict[str, dict[str, tuple[str, Any]]] = {name: dict(kind.fields) for name, kind in DRIVES.items()}
# How a continuous drive enters dV/dt, decided by its dimension (docs/workflow.md).
DRIVE_ROLES = ("current", "voltage", "voltage_rate")


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


def _model_drive_role(q, field: str, value: Any, neuron: NeuronSpec) -> str:
    """How a drive enters a model other than ``lif``: a current (I / c_m); white noise as a
    voltage (``sigma * sqrt(dt / tau) * xi``, docs/workflow.md); nothing else."""
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


def drive_dims(neuron: NeuronSpec, *, noise: bool = False) -> tuple[str, ...]:
    """The dimensions a drive's value may have for ``neuron`` (:func:`drive_role`): a voltage,
    a current (with r_m) and, but for noise, a voltage per time."""
    vq = u.Quantity(1, "V" if neuron.voltage_dim != "dimensionless" else "")
    current = str((vq / u.Quantity(1, "ohm" if neuron.r_dim != "dimensionless" else "")).dimensionality)
    rate = str((vq / u.Quantity(1, "s")).dimensionality)
    return (neuron.voltage_dim, current) if noise else (neuron.voltage_dim, current, rate)


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
    path = _resolved_file(options["file"], base_dir)
    if confine:
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
