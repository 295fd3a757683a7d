"""Constraints over every value a parameter takes on the grid (its own value, or each value
of the axis that sweeps it): a model's parameters, the LIF's, each drive's. Run once the
sections are parsed (:func:`lifbatch.workflow.parse`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import units as u
from .messages import err as _err, short as _short
from .models import get_model
from .specs import Drive, LabelledAxis, ParamTable, Run, SampleAxis, SweepAxis

__all__ = ["check_values"]


def check_values(
    run: Run, table: ParamTable, sweep: tuple[SweepAxis, ...], drives: tuple[Drive, ...], model: str = "lif"
) -> None:
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
        raise _err(
            field_,
            value,
            what if field_ == "neuron.tau_m" else f"sets neuron.tau_m, which {what}",
            "Use a smaller dt, or method: exact.",
        )
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
            what = (
                f"sets neuron.v_th, which must be above neuron.v_reset ({_short(table.written('neuron.v_reset', r))})"
            )
            fix = "Sweep v_th above v_reset, or lower neuron.v_reset."
        else:
            field_, value = where_of("neuron.v_reset", lambda v: v == r)
            th_shown = (
                where_of("neuron.v_th", lambda v: v == t)[1]
                if "neuron.v_th" in swept
                else _short(table.written("neuron.v_th", t))
            )
            what = f"must be below neuron.v_th ({th_shown})"
            if field_ != "neuron.v_reset":
                what = f"sets neuron.v_reset, which {what}"
            fix = "Example: v_reset: -70 mV with v_th: -50 mV"
        raise _err(field_, value, what, fix)


def _check_model_values(name, run, table, sweep, grid, require, where_of) -> None:
    """A model's own checks (:meth:`lifbatch.models.NeuronModel.check`) at every combination
    of the values its swept parameters take (their own checks ran when they were parsed)."""

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
                field_, value = (
                    where_of(ax.params[0], lambda v, _x=ax.values[0][i]: v == _x)
                    if not isinstance(ax, LabelledAxis)
                    else (f"sweep.{ax.name}.labels", ax.point_labels[i])
                )
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
                raise _err(
                    f"{p}.sigma",
                    table.written(f"{p}.sigma"),
                    "needs a finite neuron.tau_m (sigma*sqrt(tau_m)*xi)",
                    "Set neuron.tau_m.",
                )
        elif d.kind == "random_steps":
            if np.any(grid(f"{p}.high") < grid(f"{p}.low")):
                raise _err(f"{p}.high", table.written(f"{p}.high"), "must be >= low", "Example: low: 0 nA, high: 50 nA")
            require(f"{p}.interval", grid(f"{p}.interval") >= run.dt, "must be at least dt", "Example: interval: 10 ms")
        elif d.kind == "sine":
            require(f"{p}.frequency", grid(f"{p}.frequency") >= 0, "must be >= 0", "Example: frequency: 10 Hz")
        if d.role in ("current", "voltage") and np.any(np.isinf(tau)) and d.kind != "white_noise":
            raise _err(
                f"inputs.{d.name}",
                d.kind,
                f"is a {d.role}, which has no effect without a leak (neuron.tau_m is inf)",
                "Give the drive as a voltage per time (e.g. 0.1 / ms), or set a finite tau_m.",
            )
