"""Results as Neo objects, for Elephant and the tools that read Neo (docs/export.md).

:func:`to_neo` turns the points of a results Dataset (a store, or ``lifbatch.simulate``'s
output) into a ``neo.Block``: one ``Segment`` per (point, trial) holding the trial's
``SpikeTrain`` (times in s, ``t_start`` 0, ``t_stop`` the duration, the point's parameters
as annotations) and its recorded traces as ``AnalogSignal``s (``v``, the state variables of
``record.state``, the inputs of ``record.inputs``), and one ``Group`` per point gathering its
trains and signals. :func:`as_timed_array` goes back: a recorded ``AnalogSignal`` (an
experiment's current, or an input a store recorded) as a ``timed_array`` drive of a workflow.

The point selection and iteration (:func:`select_points`, :func:`points`) are shared with
the NWB export (lifbatch/nwb.py); they need xarray only. Neo itself (and its ``quantities``)
is imported inside the functions that need it: ``lifbatch --help`` and ``validate`` never
import it, and a missing Neo is one line naming the ``export`` extra.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .summaries import selection
from .errors import StoreError, WorkflowError, missing_extra
from .layout import ROUND, SAMPLE, STATUS_DONE, sampled_params
from .query import format_coord, parse_selection
from .store import open_results, summary_settings

if TYPE_CHECKING:
    import neo as neo_typing
    import xarray as xr

__all__ = ["to_neo", "as_timed_array", "select_points", "points", "trace_variables", "Point"]

#: the dimensions of a recorded trace (v, state variables, inputs) after the sweep axes
TRACE_DIMS = ("trace_trial", "trace_time")
_STATUS = {0: "pending", 1: "done", 2: "failed"}


def _neo():
    try:  # (function-level: `lifbatch --help` and `validate` import no Neo)
        import neo
        import quantities as pq
    except ImportError:
        raise missing_extra("lifbatch.to_neo", "export", "Neo") from None
    return neo, pq


def _dataset(ds) -> "xr.Dataset":
    if isinstance(ds, (str, os.PathLike)):
        return open_results(ds)
    return ds


def trace_variables(ds) -> list[str]:
    """The recorded traces of ``ds`` (``v`` first, then state variables and inputs, as stored)."""
    names = [n for n in ds.data_vars if tuple(ds[n].dims[-2:]) == TRACE_DIMS]
    return sorted(names, key=lambda n: n != "v")


def select_points(ds, sel=None) -> tuple["xr.Dataset", list[int]]:
    """The points and trials of ``ds`` a selection picks -> (the Dataset cut to them, keeping
    every sweep axis as a dimension; the trials).

    ``sel``: a mapping axis -> value as :func:`lifbatch.sel` reads it (text with units, or SI
    numbers; ``trial=k`` or a list of trials), or a list of ``"AXIS=VALUE"`` strings as
    ``--sel`` reads them. Points that are not done (pending, failed) are refused in one line.
    """

    ds = _dataset(ds)
    if isinstance(sel, (list, tuple)):
        picked, notes = parse_selection(ds, list(sel))
        for note in notes:
            import sys

            print(note, file=sys.stderr)
        trials = picked.pop("trial", None)
    else:
        where = dict(sel or {})
        trials = where.pop("trial", None)
        picked = selection(ds, **where) if where else {}
    picked.pop("trace_trial", None)
    all_trials = [int(t) for t in ds["trial"].values]
    if trials is None:
        trials = all_trials
    else:
        trials = [int(t) for t in np.atleast_1d(trials)]
        bad = [t for t in trials if t not in all_trials]
        if bad:
            raise WorkflowError(
                f"trial {bad[0]} is not a trial of this store (it has trials "
                f"0..{len(all_trials) - 1}). Pick one of those.",
                "trial",
                bad[0],
            )
    sub = ds.sel({k: [v] for k, v in picked.items()}) if picked else ds
    status = np.asarray(sub["status"].values)
    if not (status == STATUS_DONE).all():
        first = int(np.argmax(status != STATUS_DONE))
        pt = sub[["status"]].isel(dict(zip(sub["status"].dims, np.unravel_index(first, status.shape))))
        n = int((status != STATUS_DONE).sum())
        raise StoreError(
            f"{n} of {status.size} selected point{'s' if status.size != 1 else ''} "
            f"{'is' if n == 1 else 'are'} not done ({_label(pt, sub['status'].dims)} is "
            f"{_STATUS.get(int(status.flat[first]), 'unknown')}): their spikes are not in the store. "
            "Finish the sweep (`lifbatch run` of its workflow resumes it; `lifbatch status` lists "
            "failed points), or select done points (--sel)."
        )
    return sub, trials


@dataclass(frozen=True)
class Point:
    """One grid point of a selection, with what exporters write about it.

    ``flat``: its index in the store's grid (C order of the sweep axes, as the block markers
    count points); ``index``: its position in the selection; ``params``: coordinate name ->
    (SI value, SI unit, parameter path, display unit); ``label``: "I=200 pA, sigma=4 mV"."""

    flat: int
    index: tuple[int, ...]
    params: dict
    label: str


def _params(pt, order=()) -> dict:
    """The point's coordinates, those named in ``order`` (its axes) first, in that order."""
    out = {}
    rank = {name: i for i, name in enumerate(order)}
    for name, c in sorted(pt.coords.items(), key=lambda item: rank.get(item[0], len(rank))):
        if c.ndim != 0 or name in ("trial", "trace_trial"):
            continue
        value = c.values.item()
        out[name] = (
            value,
            c.attrs.get("units", "1"),
            c.attrs.get("param", name),
            c.attrs.get("display_units") or c.attrs.get("units", "1"),
        )
    return out


def _label(pt, order=()) -> str:

    params = _params(pt, order)
    parts = [f"{n}={format_coord(pt[n], v[0])}" for n, v in params.items() if n not in (SAMPLE, ROUND)]
    if SAMPLE in params:
        return f"sample {int(params[SAMPLE][0])}" + (f" ({', '.join(parts)})" if parts else "")
    return ", ".join(parts) or "the point"


def _flat(full, pt, axes) -> int:
    if not axes:
        return 0
    idx = [int(full.indexes[a].get_loc(pt[a].values.item())) for a in axes]
    return int(np.ravel_multi_index(idx, [full.sizes[a] for a in axes]))


def points(sub, full=None) -> Iterator[Point]:
    """The points of a selection (:func:`select_points`), in C order of its sweep axes."""

    full = sub if full is None else full
    axes = list(sub["status"].dims)
    order = [a for a in axes if a != SAMPLE]
    order = [SAMPLE, *sampled_params(full), ROUND, *order] if SAMPLE in axes else order
    for index in np.ndindex(*[sub.sizes[a] for a in axes]):
        pt = sub[["status"]].isel(dict(zip(axes, index)))  # (its coordinates: reads no data)
        yield Point(_flat(full, pt, axes), tuple(int(i) for i in index), _params(pt, order), _label(pt, order))


def _quantity(pq, value, unit: str):
    """``value`` in ``unit`` as a quantities Quantity (a plain number when quantities does not
    know the unit)."""
    try:
        return pq.Quantity(value, "dimensionless" if unit in ("", "1") else unit)
    except (LookupError, ValueError, TypeError, AttributeError):
        return value


def to_neo(ds, **sel) -> "neo_typing.Block":
    """The spikes and recorded traces of a selection of points as a ``neo.Block``.

    Parameters
    ----------
    ds : xarray.Dataset or path
        results (``lifbatch.open_results(store)``, ``lifbatch.simulate(workflow)``), or a
        store's path
    **sel
        the points, as :func:`lifbatch.sel` reads them (``I="200 pA"``, ``tau=0.005``; the
        nearest grid value, with a LifbatchWarning when it is not exact); ``trial=k`` (or a
        list) keeps those trials. Without any, every point of the store.

    Returns
    -------
    neo.Block
        one ``Segment`` per (point, trial), point-major, annotated with the point's
        parameters (SI Quantities), ``trial`` and ``point`` (the flat grid index); in it
        the trial's ``SpikeTrain`` (s; ``t_start`` 0, ``t_stop`` the duration, spikes at
        (k+1) dt exactly as ``lifbatch.spike_times`` gives them; ``t_stop`` is the end of the last
        step, ``n_steps * dt``, which can be an ulp above the duration) and, for a recorded trial,
        one ``AnalogSignal`` per recorded trace (``v``, state variables, ``input_<drive>``;
        SI units, ``t_start`` 0, sampled every ``record.v.every``). ``block.groups``: one
        ``Group`` per point with its trains and signals. The Block's annotations hold the
        workflow (as written, JSON), its fingerprint, dt, the warmup and the model.

    Examples
    --------
    >>> block = lifbatch.to_neo(ds, I="200 pA", sigma="4 mV")            # doctest: +SKIP
    >>> trains = [seg.spiketrains[0] for seg in block.segments]         # doctest: +SKIP
    >>> elephant.statistics.mean_firing_rate(trains[0])                 # doctest: +SKIP
    """
    neo, pq = _neo()

    full = _dataset(ds)
    sub, trials = select_points(full, sel)
    dt, n_steps = float(full.attrs["dt"]), int(full.attrs["n_steps"])
    t_stop = max(float(full.attrs["duration"]), n_steps * dt)
    settings = summary_settings(full.attrs["canonical"]) if "canonical" in full.attrs else {}
    workflow = json.loads(full.attrs.get("workflow", "{}"))
    block = neo.Block(
        name=full.attrs.get("name"),
        description=full.attrs.get("description") or None,
        file_origin=full.encoding.get("source"),
        lifbatch_version=full.attrs.get("lifbatch_version"),
        fingerprint=full.attrs.get("fingerprint"),
        workflow=full.attrs.get("workflow"),
        dt=dt * pq.s,
        warmup=settings.get("warmup", 0.0) * pq.s,
        model=(workflow.get("neuron") or {}).get("model", "lif"),
    )
    traces = trace_variables(sub)
    recorded = [int(t) for t in sub["trace_trial"].values] if traces else []
    every = float(sub["trace_time"].values[1]) if traces else None
    axes = list(sub["status"].dims)
    for point in points(sub, full):
        at = dict(zip(axes, point.index))
        raw = np.asarray(sub["spike_bits"].isel(at).sel(trial=trials).values, dtype=np.uint8)
        steps = np.unpackbits(raw, axis=-1, count=n_steps)
        data = {name: np.asarray(sub[name].isel(at).values) for name in traces}
        notes = {name: _quantity(pq, value, unit) for name, (value, unit, _, _) in point.params.items()}
        group = neo.Group(name=point.label, point=point.flat, **notes)
        for i, trial in enumerate(trials):
            ann = {**notes, "trial": trial, "point": point.flat}
            seg = neo.Segment(name=f"{point.label}, trial {trial}", **ann)
            times = (np.nonzero(steps[i])[0] + 1) * dt  # as lifbatch.spike_times decodes them
            st = neo.SpikeTrain(
                times,
                units="s",
                t_start=0.0,
                t_stop=t_stop,
                sampling_rate=(1.0 / dt) * pq.Hz,
                name=f"{point.label}, trial {trial}",
                **ann,
            )
            seg.spiketrains.append(st)
            group.add(st)
            if trial in recorded:
                j = recorded.index(trial)
                for name in traces:
                    unit = sub[name].attrs.get("units", "1")
                    sig = neo.AnalogSignal(
                        data[name][j][:, None],
                        units=_unit(pq, unit),
                        t_start=0.0 * pq.s,
                        sampling_period=every * pq.s,
                        name=name,
                        description=sub[name].attrs.get("long_name"),
                        **ann,
                    )
                    seg.analogsignals.append(sig)
                    group.add(sig)
            block.segments.append(seg)
        block.groups.append(group)
    return block


def _unit(pq, unit: str):
    if unit in ("", "1"):
        return pq.dimensionless
    return pq.Quantity(1.0, unit).units


def as_timed_array(signal, *, file: str | os.PathLike | None = None) -> dict:
    """A recorded signal as a ``timed_array`` drive: the mapping to put under ``inputs``.

    Parameters
    ----------
    signal : neo.AnalogSignal
        (n_samples, 1): one waveform for all trials; (n_samples, trials): one per trial.
        Its first sample drives the first step of the simulation (from t = 0, whatever
        the signal's ``t_start``); its sampling period is the drive's ``dt`` and its unit
        the drive's ``unit`` (its dimension decides how it enters: docs/workflow.md). Trailing
        samples that are NaN in every channel are dropped (a trace lifbatch recorded ends
        with NaN at t = duration, where no step starts); any other NaN or inf is refused.
    file : path, optional
        write the samples to this ``.npy`` file (exactly, float64) and name it in the drive
        (as given: a workflow reads it relative to its own directory); else the values
        are written inline (``values``).

    Returns
    -------
    dict
        ``{"kind": "timed_array", "values" | "file": ..., "dt": "0.0001 s", "unit": "pA"}``

    Examples
    --------
    >>> block = lifbatch.to_neo(ds, I="200 pA", trial=0)                  # doctest: +SKIP
    >>> drive = lifbatch.as_timed_array(block.segments[0].analogsignals[1])   # doctest: +SKIP
    >>> lifbatch.load_workflow(path, overrides={"inputs.I": drive})      # doctest: +SKIP
    """
    _neo()  # (the extra, said in one line)
    data = np.asarray(signal.magnitude, dtype=float)
    if data.ndim == 1:
        data = data[:, None]
    name = getattr(signal, "name", None) or "the signal"
    while len(data) and np.isnan(data[-1]).all():
        data = data[:-1]
    if not len(data):
        raise WorkflowError(
            f"as_timed_array: {name} has no samples (or only NaN). Give a recorded signal.", "signal", name
        )
    if not np.isfinite(data).all():
        row = int(np.argmax(~np.isfinite(data).all(axis=1)))
        raise WorkflowError(
            f"as_timed_array: {name} has NaN or inf at sample {row} (t = {row} x its sampling "
            "period). Clean the recording (a timed_array refuses them).",
            "signal",
            name,
        )
    unit = signal.units.dimensionality.string
    unit = "1" if unit == "dimensionless" else unit
    dt = float(signal.sampling_period.rescale("s").magnitude)
    drive = {"kind": "timed_array"}
    values = data[:, 0] if data.shape[1] == 1 else data
    if file is not None:
        if not os.fspath(file).endswith(".npy"):
            raise WorkflowError(
                f"as_timed_array: `file` must be a .npy file, got {os.fspath(file)!r}. "
                "Example: file='data/recorded.npy'",
                "file",
                os.fspath(file),
            )
        np.save(file, values)
        drive["file"] = os.fspath(file)
    else:
        # one list for all trials, or one list per trial (the workflow's inline layout)
        drive["values"] = values.tolist() if values.ndim == 1 else values.T.tolist()
    drive.update({"dt": f"{dt!r} s", "unit": unit})
    return drive
