"""The grid's axes: the ``sweep`` section (:func:`parse_sweep`: an axis of one parameter, of
zipped parameters, or labelled, :func:`parse_labelled_axis`), the ``sample`` section as the
grid's first axis (:func:`sample_axis`, :func:`lifbatch.design.parse_sample`), and the ``noise``
section over them (:func:`parse_noise`). Each parameter is swept on one axis at most, and the grid
stays within the caps (:func:`lifbatch.limits.check_room`)."""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

from ..design import parse_sample
from ..errors import WorkflowError
from ..layout import AXIS_RE, MAX_AXIS_NAME, RESERVED_DIMS, RESERVED_VARS, SAMPLE
from ..limits import check_room
from ..messages import check_keys as _check_keys, err as _err
from ..specs import LabelledAxis, ParamTable, Run, SampleAxis, SweepAxis
from ..values import axis_raw_values as _axis_raw_values, parse_axis_values

__all__ = ["LABEL_RE", "parse_sweep", "parse_labelled_axis", "sample_axis", "parse_noise"]


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
            vals, si, disp = _axis_param(
                param,
                sub,
                table,
                seen,
                room,
                axis=name,
                where=pwhere if "zip" in spec else f"{where}.param",
                pwhere=pwhere,
                with_param="zip" not in spec,
            )
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
        vals, si, disp = _axis_param(
            param, sub, table, seen, room, axis=name, where=pwhere, pwhere=pwhere, labels=labels
        )
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


def _axis_param(
    param: Any,
    sub: Any,
    table: ParamTable,
    seen: dict[str, str],
    room: Callable[[int, str, Any], None],
    *,
    axis: str,
    where: str,
    pwhere: str,
    with_param: bool = False,
    labels: Sequence[str] | None = None,
) -> tuple[tuple[float, ...], str, str]:
    """One parameter of the axis ``axis`` (its own, one of a zip, or one of a labelled axis's) ->
    its values (SI), their SI unit and the unit to display. The parameter is a numeric parameter of
    ``table`` that no other axis sweeps (``seen``: parameter -> axis, updated); a labelled axis's
    (``labels``) has one value per label, and may repeat one; a count (``.n``) is whole, >= 1.
    ``where``: the field a refused parameter is named by; ``pwhere``: its values'."""
    if not isinstance(param, str) or param not in table:
        raise _err(
            where, param, "is not a numeric parameter of this workflow", f"Sweepable: {', '.join(sorted(table))}"
        )
    if param in seen:
        raise _err(
            where,
            param,
            f"is already swept by axis '{seen[param]}'",
            "Sweep each parameter on one axis (zip parameters that move together)."
            if labels is None
            else "Sweep each parameter on one axis: drop it from one of them.",
        )
    seen[param] = axis
    if not isinstance(sub, Mapping):
        raise _err(pwhere, sub, "must be a mapping", "Example: {values: [10, 20], unit: ms}")
    vals, si, disp = parse_axis_values(
        sub,
        pwhere,
        param,
        dim=table[param].dim,
        display=table[param].display,
        with_param=with_param,
        room=room,
        written=table[param],
        distinct=labels is None,
    )
    if labels is not None and len(vals) != len(labels):
        raise _err(
            pwhere,
            list(_axis_raw_values(sub, pwhere)),
            f"has {len(vals)} value{'s' if len(vals) != 1 else ''} for {len(labels)} labels",
            f"Give one value per label, in the order of sweep.{axis}.labels.",
        )
    if param.endswith(".n") and any(v != int(v) or v < 1 for v in vals):
        raise _err(pwhere, list(vals), "must be integers >= 1", "Example: values: [1, 10, 100]")
    return vals, si, disp


def sample_axis(raw: Any, sweep: tuple[SweepAxis, ...], table: ParamTable, run: Run, seed: int) -> SampleAxis:
    """The ``sample`` section (:func:`lifbatch.design.parse_sample`) as the grid's first axis."""
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
