"""The ``neuron`` section -> :class:`~lifbatch.specs.NeuronSpec`: :func:`parse_neuron` for the
LIF (its parameters in this module's :data:`NEURON_KEYS`), :func:`parse_model_neuron` for another
neuron model (its parameters declared by the model, :mod:`lifbatch.models`), :func:`model_of` the
model a section names."""

from __future__ import annotations

import difflib
import math
from dataclasses import replace
from typing import Any, Mapping

from .. import units as u
from ..errors import WorkflowError
from ..messages import check_keys as _check_keys, err as _err, one_line as _one_line, short as _short
from ..models import get_model
from ..specs import NeuronSpec, Param, ParamTable
from ..values import (
    EXAMPLES,
    dim_name as _dim_name,
    example as _example,
    parse_param,
    parse_time,
    quantity as _quantity,
    shown_unit as _shown_unit,
)

__all__ = ["NEURON_KEYS", "VOLTAGE_FIELDS", "parse_neuron", "model_of", "parse_model_neuron"]


NEURON_KEYS = {"tau_m", "e_l", "v_th", "v_reset", "v_init", "t_ref", "r_m"}
VOLTAGE_FIELDS = ("v_th", "e_l", "v_reset", "v_init")


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
