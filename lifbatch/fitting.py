"""``lifbatch fit``: find the parameters that give target statistics.

A fit is a sampled design that grows (design.py, growth.py): its free parameters
are the ``sample`` section's, and every evaluation is a point of one store.

1. The store starts with a Sobol design of ``batch`` points over the free
   parameters' bounds.
2. Where the closed-form theory applies (constant and white-noise inputs: the
   Siegert rate and ISI CV, theory.py), round 1 is the theory's solution of the
   targets (scipy.optimize.least_squares in the bounds).
3. Every further round asks Optuna's TPE sampler for ``batch`` candidates
   (multivariate, with the constant liar for the batch's pending ones), seeded by
   the workflow's seed and the round, after telling it every stored evaluation.
   The sampler is built again from the store each round, so the candidates are a
   pure function of the stored results and the seed: a fit that is stopped and
   started again continues exactly as if it had not been (TPE keeps no other
   state; CMA-ES would, which is why it is not offered).
4. The objective is the sum over targets of ``((got - want) / want)^2`` (or
   ``(got - want)^2`` for a target of 0); a point where a target is undefined
   (no spikes: no ISI) scores :data:`PENALTY` per such target.

The fit stops when the store holds ``budget`` points. The best point, its targets'
trial-to-trial standard errors (from the per-trial values of its spike rasters),
and a command to simulate it again with more trials make the result.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from . import control, lease, theory, units as u
from .summaries import spike_values
from .design import unit_points
from .errors import RunError, WorkflowError, missing_extra
from .execute import run_sweep
from .growth import add_unit_points, check_unchanged, new_round
from .refine import round_logs, unit_coords
from .storage import is_url
from .store import StoredArrays, store_workflow_of
from .workflow import load_workflow

__all__ = ["fit", "FitResult", "TARGETS", "parse_targets", "parse_free"]

#: what can be a target: name -> (SI unit, description)
TARGETS = {"rate": ("Hz", "firing rate"), "isi_mean": ("s", "mean ISI"), "isi_cv": ("1", "ISI CV")}
#: the objective's value per undefined target (a point without spikes has no ISI)
PENALTY = 100.0


@dataclass
class FitResult:
    store: str
    best: dict  # param -> SI value
    shown: dict  # param -> value as text in the units it was given
    targets: dict  # name -> {"want", "got", "sem"} (SI)
    sample: int  # the best point's index along sample
    evaluations: int
    rerun: str  # a command that simulates the best point with more trials
    rounds: list = field(default_factory=list)
    #: what the result may mean: the best point on a bound of a free parameter, the theory's
    #: solution outside the bounds (one line each)
    notes: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "best": self.best,
            "targets": self.targets,
            "store": self.store,
            "sample": self.sample,
            "evaluations": self.evaluations,
            "notes": self.notes,
        }


def parse_targets(items) -> dict[str, tuple[float, str]]:
    """``["rate=10 Hz", "isi_cv=0.8"]`` -> {name: (SI value, as written)}."""
    out = {}
    for item in items:
        if "=" not in str(item):
            raise WorkflowError(
                f'`--target` expects NAME=VALUE, got {item!r}. Example: --target rate="10 Hz"', "--target", item
            )
        name, text = (s.strip() for s in str(item).split("=", 1))
        if name not in TARGETS:
            raise WorkflowError(
                f"`--target {name}` is not a target fit knows. Choose one of {', '.join(TARGETS)}.", "--target", item
            )
        if name in out:
            raise WorkflowError(f"`--target {name}` is given twice. Give each target once.", "--target", item)
        unit = TARGETS[name][0]
        try:
            float(text)
            bare = True
        except ValueError:
            bare = False
        # a bare number is in the target's SI unit (rate=10: 10 Hz)
        q = u.parse_quantity(f"{text} {unit}" if bare and unit != "1" else text, f"--target {name}")
        if u.si_unit(u.dimension_of(q)) != unit:
            example = {"Hz": '"10 Hz"', "s": '"50 ms"'}.get(unit, "0.8")
            raise WorkflowError(
                f"`--target {name}` must be in {unit}, got {text!r}. Example: --target {name}={example}",
                "--target",
                item,
            )
        x = u.to_si(q)
        if not math.isfinite(x) or x < 0:
            raise WorkflowError(f"`--target {name}` must be a finite value >= 0, got {text!r}.", "--target", item)
        out[name] = (x, text)
    if not out:
        raise WorkflowError(
            '`lifbatch fit` needs at least one --target. Example: --target rate="10 Hz"', "--target", None
        )
    return out


def parse_free(items) -> dict[str, tuple[str, str, str]]:
    """``["inputs.mu.value=0.5..2"]`` -> {param: (low, high, scale)} as written."""
    out = {}
    for item in items:
        text = str(item)
        if "=" not in text or ".." not in text.split("=", 1)[1]:
            raise WorkflowError(
                f"`--free` expects PARAM=LOW..HIGH, got {item!r}. Example: --free "
                'inputs.mu.value=0.5..2 (or "neuron.tau_m=10 ms..30 ms", "...=0.1..1 log")',
                "--free",
                item,
            )
        param, rng = (s.strip() for s in text.split("=", 1))
        scale = "linear"
        if rng.endswith(" log"):
            rng, scale = rng[:-4].strip(), "log"
        low, high = (s.strip() for s in rng.split("..", 1))
        if param in out:
            raise WorkflowError(f"`--free {param}` is given twice. Free each parameter once.", "--free", item)
        out[param] = (low, high, scale)
    if not out:
        raise WorkflowError(
            "`lifbatch fit` needs at least one --free parameter. Example: --free inputs.mu.value=0.5..2", "--free", None
        )
    return out


def _label(param: str, taken: set) -> str:
    """A coordinate name for a free parameter: its dot path less the section ("mu_value")."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(param.split(".")[1:]) or param)
    if not re.match(r"[A-Za-z_]", base):
        base = f"p_{base}"
    label, k = base, 2
    while label in taken:
        label, k = f"{base}_{k}", k + 1
    taken.add(label)
    return label


def _bound(text: str, display: str):
    """A bound as the sample section takes it: a bare number in the unit the workflow wrote
    the parameter in."""
    try:
        x = float(text)
    except ValueError:
        return text
    return f"{x!r} {display}" if display else x


def fit_workflow(workflow, free: dict, *, batch: int, overrides=None):
    """The workflow of a fit's store: ``workflow`` with a Sobol ``sample`` section of ``batch``
    points over the free parameters."""
    base = load_workflow(workflow, overrides)
    raw = base.to_dict()
    if raw.get("sweep"):
        raise WorkflowError(
            f"`lifbatch fit` fits one neuron model; workflow '{base.name}' sweeps "
            f"{', '.join(base.axis_names)}. Remove its `sweep` section (the free parameters are "
            "the fit's axes).",
            "sweep",
            list(base.axis_names),
        )
    if raw.get("sample"):
        raise WorkflowError(
            f"`lifbatch fit` makes its own sampled design; workflow '{base.name}' has a `sample` "
            "section. Remove it, and give its parameters as --free.",
            "sample",
            "…",
        )
    taken: set = set()
    params = {}
    for param, (low, high, scale) in free.items():
        if param not in base.params:
            raise WorkflowError(
                f"`--free {param}` is not a numeric parameter of this workflow. Free: {', '.join(sorted(base.params))}",
                "--free",
                param,
            )
        disp = base.display_units.get(param, "")
        entry = {"param": param, "bounds": [_bound(low, disp), _bound(high, disp)]}
        if scale == "log":
            entry["scale"] = "log"
        params[_label(param, taken)] = entry
    raw["sample"] = {"method": "sobol", "n": int(batch), "params": params}
    try:
        wf = load_workflow(raw)
    except WorkflowError as exc:  # name the option, not the section fit wrote
        msg = str(exc)
        for label, entry in params.items():
            msg = msg.replace(f"sample.params.{label}.bounds", f"--free {entry['param']}")
            msg = msg.replace(f"sample.params.{label}.param", f"--free {entry['param']}")
        raise WorkflowError(msg, "--free", exc.value) from None
    return wf


def _fit_name(name: str) -> str:
    """The default store's name of a fit of workflow ``name``."""
    return name if name.endswith("fit") else f"{name}-fit"


def objective(values: dict[str, np.ndarray], targets: dict[str, tuple[float, str]]) -> np.ndarray:
    """The loss of every point (see the module's text)."""
    total: float | np.ndarray = 0.0
    for name, (want, _) in targets.items():
        got = np.asarray(values[name], float)
        err = (got - want) / want if want != 0 else got - want
        total = total + np.where(np.isfinite(err), err**2, PENALTY)
    return np.asarray(total, float)


def theory_start(wf, targets: dict) -> np.ndarray | None:
    """The free parameters (unit cube) where the theory meets the targets best, or None
    where it does not apply or gives no target."""
    wanted = [n for n in targets if n in ("rate", "isi_cv")]
    if not wanted or not theory.applies(wf):
        return None
    spec = wf.sample.spec
    base = dict(wf.params)

    def residuals(x):
        p = dict(base)
        for sp, xi in zip(spec.params, np.clip(x, 0.0, 1.0)):
            p[sp.param] = float(sp.from_unit(xi))
        got = theory.point_theory(wf, p)
        out = []
        for n in wanted:
            want = targets[n][0]
            g = got[n]
            r = (g - want) / want if want else g - want
            out.append(r if math.isfinite(r) else 10.0)
        return np.asarray(out)

    # from the best of the design's points (in theory), then least squares in the bounds
    starts = unit_points("sobol", 16, len(spec.params), wf.seed)
    x0 = min(starts, key=lambda x: float(np.sum(residuals(x) ** 2)))
    sol = least_squares(residuals, x0, bounds=(0.0, 1.0), xtol=1e-10, ftol=1e-10)
    return np.clip(sol.x, 0.0, 1.0)[None, :]


def _shown_value(sp, x: float) -> str:
    """A free parameter's SI value ``x`` in the unit it was written in."""
    return f"{u.convert(x, sp.unit, sp.display_unit):.6g} {sp.display_unit}" if sp.display_unit else f"{x:.6g}"


def _at_bounds(spec, x: np.ndarray, tol: float = 0.01) -> list[tuple[str, str, str, str]]:
    """The free parameters of unit-cube point ``x`` within ``tol`` (of the range, in the
    design's unit cube) of a bound: (param, "lower" or "upper", the bound, the range) as written."""
    out = []
    for sp, xi in zip(spec.params, np.asarray(x, float)):
        side = "lower" if xi <= tol else "upper" if xi >= 1 - tol else None
        if side:
            bound = _shown_value(sp, sp.low if side == "lower" else sp.high)
            low, high = _shown_value(sp, sp.low), _shown_value(sp, sp.high)
            unit = f" {sp.display_unit}" if sp.display_unit else ""
            span = f"{low.removesuffix(unit)}..{high}"
            out.append((sp.param, side, bound, span))
    return out


def theory_outside(wf, targets: dict, start: np.ndarray) -> str | None:
    """When the theory's solution of the targets (``start``: :func:`theory_start`, solved in
    the bounds) sits on a bound without meeting the targets there, the line that says its
    solution lies outside the bounds; else None."""
    spec = wf.sample.spec
    at = _at_bounds(spec, start, tol=1e-6)
    if not at:
        return None
    p = dict(wf.params)
    for sp, xi in zip(spec.params, start):
        p[sp.param] = float(sp.from_unit(xi))
    got = theory.point_theory(wf, p)
    missed = [
        (n, got[n], targets[n])
        for n in targets
        if n in got
        and not (math.isfinite(got[n]) and abs(got[n] - targets[n][0]) <= 0.01 * max(abs(targets[n][0]), 1e-12))
    ]
    if not missed:
        return None
    unit = {"rate": " Hz", "isi_cv": ""}
    gives = ", ".join(f"{n} {g:.3g}{unit[n]} (not {w[0]:.3g}{unit[n]})" for n, g, w in missed)
    where = " and ".join(f"the {side} bound of {param} ({bound})" for param, side, bound, _ in at)
    return (
        f"the theory's solution of the targets lies outside the bounds: at {where} the theory gives {gives}; "
        f"widen --free {at[0][0]}"
    )


def _tpe_batch(wf, unit: np.ndarray, loss: np.ndarray, k: int, round_: int) -> np.ndarray:
    """``k`` candidates (unit cube) from Optuna's TPE sampler told every evaluation so far."""
    import optuna  # (here: the `fit` extra, checked by fit() with one line)
    from optuna.distributions import BaseDistribution, FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = wf.sample.spec
    dists: dict[str, BaseDistribution] = {p.label: FloatDistribution(0.0, 1.0) for p in spec.params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=int(wf.seed) * 1_000_003 + round_,
            multivariate=True,
            constant_liar=True,
            n_startup_trials=min(len(loss), 10),
        )
        study = optuna.create_study(direction="minimize", sampler=sampler)
        for x, value in zip(unit, loss):
            study.add_trial(
                optuna.trial.create_trial(
                    params={p.label: float(np.clip(xi, 0.0, 1.0)) for p, xi in zip(spec.params, x)},
                    distributions=dists,
                    value=float(value),
                )
            )
        asked = [study.ask(dists) for _ in range(k)]
    return np.array([[t.params[p.label] for p in spec.params] for t in asked])


def _per_trial_sem(wf, ds, index: int, targets: dict) -> dict[str, tuple[float, float]]:
    """(got, sem) of each target at one point: the store's value, and the standard error of
    the per-trial values (each trial's rate, mean ISI, ISI CV from its own raster)."""
    bits = ds.point("spike_bits", index)  # (trial, spike_byte)
    per = spike_values(bits[:, None, :], dt=wf.dt, n_steps=wf.n_steps, warmup=wf.warmup, isi_edges=wf.isi_edges)
    per_trial = {"rate": per[0], "isi_mean": per[2], "isi_cv": per[4]}
    out = {}
    for name in targets:
        got = float(ds.point(name, index))
        v = np.asarray(per_trial[name], float)
        v = v[np.isfinite(v)]
        sem = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
        out[name] = (got, sem)
    return out


def fit(
    workflow, *, targets, free, budget: int = 200, batch: int = 8, store=None, overrides=None, log=None, **run_options
) -> FitResult:
    """Fit ``free`` parameters of ``workflow`` to ``targets`` (see the module's text).

    ``targets``: ``["rate=10 Hz", ...]`` or a mapping name -> value; ``free``:
    ``["inputs.mu.value=0.5..2", ...]`` or a mapping param -> "LOW..HIGH";
    ``run_options`` go to :func:`lifbatch.run_sweep` (workers, scheduler, progress, ...).
    """
    if importlib.util.find_spec("optuna") is None:  # before anything is computed
        raise missing_extra("lifbatch fit", "fit", "Optuna")
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if isinstance(targets, dict):
        targets = [f"{k}={v}" for k, v in targets.items()]
    if isinstance(free, dict):
        free = [f"{k}={v}" for k, v in free.items()]
    targets = parse_targets(targets)
    free = parse_free(free)
    for name, value in (("--budget", budget), ("--batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WorkflowError(f"`{name}` must be a whole number >= 1, got {value!r}. Example: {name} 8", name, value)
    if budget < batch:
        raise WorkflowError(
            f"`--budget` {budget} is smaller than the first design (--batch {batch}). Give a larger "
            "budget or a smaller batch.",
            "--budget",
            budget,
        )
    wf = fit_workflow(workflow, free, batch=batch, overrides=overrides)

    if not is_url(store):  # (an s3:// URL as it is: a Path would lose its //)
        store = str(Path(store if store is not None else Path("results") / f"{_fit_name(wf.name)}.zarr"))
    first_log, quiet = round_logs(log)
    res = run_sweep(wf, store, log=first_log, **run_options)  # the design, or whatever is pending (a resumed fit)
    wf = store_workflow_of(store)
    rounds = []
    while True:
        _finish(res)
        if wf.sample.size >= budget:
            break
        round_ = new_round(wf)
        k = min(batch, budget - wf.sample.size)

        def choose(wf=wf, round_=round_, k=k):
            # under the lease: the evaluations as the store holds them now
            ds = StoredArrays(store)
            loss = objective({n: ds[n].values for n in targets}, targets)
            start = theory_start(wf, targets) if round_ == 1 else None
            if start is not None:
                outside = theory_outside(wf, targets, start[0])
                if outside:
                    log(f"fit: note: {outside}")
                return start, "the theory's solution of the targets", loss
            return _tpe_batch(wf, unit_coords(wf, ds), loss, k, round_), "TPE", loss

        wf, (candidates, how, loss) = _grow(store, wf, choose, round_, log)
        log(
            f"fit: round {round_}: {len(candidates)} point{'s' if len(candidates) > 1 else ''} from {how} "
            f"(best so far {float(np.nanmin(loss)):.4g})"
        )
        rounds.append({"round": round_, "added": len(candidates), "from": how})
        res = run_sweep(wf, store, log=quiet, **run_options)
    return _result(wf, store, targets, free, workflow, rounds)


def _finish(res) -> None:
    if res.failures:
        n = len(res.failures)
        raise RunError(
            f"{n} point{'s' if n != 1 else ''} of the fit's store '{res.store}' failed (lifbatch status "
            f"{res.store}): fix the cause, then run the same `lifbatch fit` command again."
        )


def _grow(store, wf, choose, round_: int, log):
    """Under the store's lease: what the store holds finished and checked to be ``wf``'s
    design (a second fit on the store is refused, not merged), the points ``choose()``
    proposes from it added as round ``round_``. The grown Workflow, and what ``choose`` gave."""
    held = lease.acquire(store, command="lifbatch fit", log=log)
    try:
        fence = held.fence()
        control.recover(store, fence, log)
        check_unchanged(store, wf)
        chosen = choose()
        return add_unit_points(store, wf, chosen[0], round_, fence), chosen
    finally:
        held.release()


def _result(wf, store, targets, free, workflow, rounds) -> FitResult:
    ds = StoredArrays(store)
    loss = objective({n: ds[n].values for n in targets}, targets)
    best = int(np.nanargmin(loss))  # the first of equals
    spec = wf.sample.spec
    params = {p.param: float(ds[p.label].values[best]) for p in spec.params}
    shown = {}
    for p in spec.params:
        x = params[p.param]
        shown[p.param] = (
            f"{u.convert(x, p.unit, p.display_unit):.6g} {p.display_unit}" if p.display_unit else f"{x:.6g}"
        )
    stats = _per_trial_sem(wf, ds, best, targets)
    target_out = {n: {"want": targets[n][0], "got": stats[n][0], "sem": stats[n][1]} for n in targets}
    sets = " ".join(f'--set {p}="{v}"' if " " in v else f"--set {p}={v}" for p, v in shown.items())
    src = workflow if isinstance(workflow, (str, Path)) else "WORKFLOW"
    rerun = f"lifbatch run {src} {sets} --set trials={max(4 * wf.trials, 100)} --store results/{wf.name}-best.zarr"
    unit = unit_coords(wf, ds)
    notes = [
        f"the best {p} is at its {side} bound {bound}: the target may lie outside {span}; "
        f"widen the bounds (--free {p}=LOW..HIGH)"
        for p, side, bound, span in _at_bounds(spec, unit[best])
    ]
    first = np.flatnonzero(np.asarray(wf.sample.rounds) == 1)
    if len(first) and {"rate", "isi_cv"} & set(targets) and theory.applies(wf):  # round 1: the theory's start
        outside = theory_outside(wf, targets, unit[first[0]])
        notes = ([outside] if outside else []) + notes
    return FitResult(
        store=store,
        best=params,
        shown=shown,
        targets=target_out,
        sample=best,
        evaluations=int(ds.sizes["sample"]),
        rerun=rerun,
        rounds=rounds,
        notes=notes,
    )


def format_result(r: FitResult, targets_written: dict | None = None) -> str:
    """The text ``lifbatch fit`` prints."""
    lines = [f"best of {r.evaluations} evaluations (sample {r.sample}):"]
    width = max(len(p) for p in r.shown)
    for p, v in r.shown.items():
        lines.append(f"  {p:<{width}}  {v}")
    lines.append("targets (store value, and the standard error of the per-trial values):")
    for name, t in r.targets.items():
        unit = TARGETS[name][0]
        scale, shown_unit = (1e3, "ms") if unit == "s" else (1.0, "" if unit == "1" else unit)
        want = (targets_written or {}).get(name) or f"{t['want'] * scale:.6g} {shown_unit}".strip()
        lines.append(
            f"  {name:<8}  want {want:<10}  got {t['got'] * scale:.4g} ± {t['sem'] * scale:.2g} {shown_unit}".rstrip()
        )
    lines += [f"note: {n}" for n in r.notes]
    lines.append(f"store: {r.store}")
    lines.append(f"  review:   lifbatch review {r.store}")
    lines.append(f"  table:    lifbatch query {r.store} --var {' --var '.join(r.targets)}")
    lines.append("simulate the best point again with more trials:")
    lines.append(f"  {r.rerun}")
    return "\n".join(lines) + "\n"
