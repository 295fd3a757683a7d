"""What a run keeps: the ``record`` section (:func:`parse_record`: V's traces, and the state
variables and inputs recorded on their grid) and the ``summaries`` section
(:func:`parse_summaries`: warm-up, ISI bins, the V moments' sampling and autocovariance lags)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from ..drives import DRIVES
from ..layout import samples, trace_bytes
from ..limits import count_text as _count, limit as _limit, raise_cap as _raise_cap, trials_text as _trials
from ..messages import byte_size as _bytes, check_keys as _check_keys, err as _err, short as _short
from ..specs import RecordSpec, Run, SummarySpec
from ..values import parse_axis_values, parse_multiple_of_dt, parse_time

__all__ = ["parse_record", "parse_summaries"]


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
