"""``lifbatch refine``: add points to a sampled store where a summary changes fastest,
or where the simulation and the theory disagree most.

The points a round adds are a pure function of the stored results (and so of the
workflow and its seed): :func:`choose_points`. Candidates are the midpoints of the
edges between each point and its nearest neighbours in the design's unit cube
(scipy.spatial.cKDTree; log-scaled parameters evenly in their logarithm). An edge
scores like python-adaptive's default loss, its length in the space of the
parameters and the summary, ``sqrt(|dx|^2 + |df|^2)``, with the summary scaled to
its range over the design (the largest change over any grid cell): long edges
where the summary jumps come first, and the space between far-apart points
is not forgotten. With ``--against theory`` ``f`` is the distance between
simulation and theory instead. A point where the summary is NaN (no spikes: no
ISI) next to one where it is not counts as the largest change: that edge is the
border of the region where the neuron fires. Against theory, NaN is undefined (the
distance is unknown there, not large): such an edge scores by its length, and two
undefined points are not joined; each round says how many added points have no value. The best edges are taken in order,
each new point at least half its edge's length from the ones already taken and a
quarter of it from every stored point (an edge split before is not split again).

The added points are appended to the store as new blocks (growth.py): earlier
points are never changed, and an added point's results equal those of
simulating that point alone, since its random numbers depend on its own
parameter values and the seed only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import control, lease, theory
from .errors import RunError, StoreError, WorkflowError
from .execute import run_sweep
from .growth import add_unit_points, check_unchanged, new_round
from .models import get_model
from .store import StoredArrays, open_results, store_workflow_of

__all__ = ["choose_points", "refine_store", "RefineResult", "SCALAR_VARS"]

#: the summaries a refinement (or a fit) can follow: one value per point
SCALAR_VARS = ("rate", "rate_std", "isi_mean", "isi_std", "isi_cv")
#: the summaries the closed-form theory gives (theory.py)
THEORY_VARS = {"rate": "theory_rate", "isi_cv": "theory_cv"}


def choose_points(x: np.ndarray, f: np.ndarray, k: int, *, border: bool = True) -> np.ndarray:
    """``k`` new points of the unit cube from points ``x`` (n, d) with values ``f`` (n, cells).

    Pure and deterministic: the same ``x`` and ``f`` give the same points. ``f`` may
    hold NaN; every column (grid cell) is scaled to its own finite range. ``border``: an
    edge between a NaN and a value is the largest change (the border of where a summary
    exists); without it (a distance from theory, undefined where the simulation has no
    value) NaN is undefined: such an edge scores by its length alone, and an edge
    between two undefined points is not split.
    """
    # (deferred: scipy's k-d tree only where neighbours are looked for; fit's other steps load none)
    from scipy.spatial import cKDTree

    x = np.asarray(x, float)
    f = np.asarray(f, float).reshape(len(x), -1)
    n, d = x.shape
    if n < 2 or k < 1:
        return np.zeros((0, d))
    with np.errstate(invalid="ignore"), _no_warnings():
        lo, hi = np.nanmin(f, axis=0), np.nanmax(f, axis=0)
    span = np.where(np.isfinite(hi - lo) & (hi > lo), hi - lo, 1.0)
    g = (f - np.where(np.isfinite(lo), lo, 0.0)) / span
    neighbours = min(n, 2 * d + 1)
    tree = cKDTree(x)
    _, idx = tree.query(x, k=neighbours)
    pairs = sorted(
        {(min(i, int(j)), max(i, int(j))) for i in range(n) for j in np.atleast_1d(idx[i])[1:] if int(j) != i}
    )
    if not pairs:
        return np.zeros((0, d))
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    dx = np.linalg.norm(x[a] - x[b], axis=1)
    ga, gb = g[a], g[b]
    df = np.abs(ga - gb)
    if border:
        df = np.where(np.isnan(ga) ^ np.isnan(gb), 1.0, df)  # the border of where the summary exists
    df = np.where(np.isnan(df), 0.0, df)
    score = np.sqrt(dx**2 + df.max(axis=1) ** 2)
    if not border:  # nothing is known between two undefined points: not a candidate
        score = np.where(np.isnan(ga).all(axis=1) & np.isnan(gb).all(axis=1), -np.inf, score)
    order = np.lexsort((b, a, -score))  # the best first; ties by the edges' points
    chosen: list[np.ndarray] = []
    radii: list[float] = []
    for e in order:
        if dx[e] == 0 or score[e] == -np.inf:
            continue
        mid = (x[a[e]] + x[b[e]]) / 2
        if tree.query(mid)[0] < dx[e] / 4:
            continue  # the edge is split already (its midpoint was added before)
        if any(np.linalg.norm(mid - c) < r for c, r in zip(chosen, radii)):
            continue
        chosen.append(mid)
        radii.append(dx[e] / 2)
        if len(chosen) == k:
            break
    return np.array(chosen).reshape(-1, d)


class _no_warnings:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


def unit_coords(wf, ds) -> np.ndarray:
    """The stored points in the design's unit cube, (samples, params)."""
    spec = wf.sample.spec
    return np.stack([p.to_unit(np.asarray(ds[p.label].values, float)) for p in spec.params], axis=1)


def point_values(ds, var: str, against: str | None) -> np.ndarray:
    """What a refinement follows, (samples, grid cells): the summary, or its distance from theory."""
    values = np.asarray(ds[var].values, float)
    if against == "theory":
        th = getattr(theory, THEORY_VARS[var])(ds)
        if th is None:
            raise WorkflowError(
                "`--against theory`: the theory does not apply to this store (it needs constant "
                "and white-noise inputs only, and a finite tau_m). Drop --against.",
                "--against",
                against,
            )
        values = np.abs(values - np.asarray(th.transpose(*ds[var].dims).values, float))
    return values.reshape(values.shape[0], -1)


@dataclass
class RefineResult:
    store: str
    rounds: list[dict] = field(default_factory=list)  # per round: round, added, first, seconds, undefined
    finished_pending: int = 0
    failures: dict = field(default_factory=dict)


def check_var(var: str, against: str | None) -> None:
    if var not in SCALAR_VARS:
        raise WorkflowError(
            f"`--var {var}` is not a summary refine can follow. Choose one of {', '.join(SCALAR_VARS)}.", "--var", var
        )
    if against not in (None, "theory"):
        raise WorkflowError(
            f"`--against {against}`: the only reference is theory. Example: --against theory", "--against", against
        )
    if against == "theory" and var not in THEORY_VARS:
        raise WorkflowError(
            f"`--against theory` with --var {var}: the theory gives "
            f"{' and '.join(THEORY_VARS)} only. Use --var rate or --var isi_cv.",
            "--var",
            var,
        )


def refine_store(
    store, *, var: str = "rate", add: int = 8, rounds: int = 1, against: str | None = None, log=None, **run_options
) -> RefineResult:
    """Add ``rounds`` rounds of ``add`` points to a sampled store (see the module's text) and
    compute them; ``run_options`` go to :func:`lifbatch.run_sweep` (workers, scheduler,
    progress, ...). Points still pending (a refinement that was interrupted) are computed
    first."""
    import sys

    log = log or (lambda msg: print(msg, file=sys.stderr))
    check_var(var, against)
    for name, value in (("--add", add), ("--rounds", rounds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WorkflowError(f"`{name}` must be a whole number >= 1, got {value!r}. Example: {name} 8", name, value)
    wf = store_workflow_of(store)
    if against == "theory":
        if not get_model(wf.model).theory:
            raise WorkflowError(
                f"`--against theory`: model {wf.model} has no theory (lif has the Siegert rate and "
                "CV, eif its rate under constant input); drop --against.",
                "--against",
                against,
            )
    if wf.sample is None:
        raise WorkflowError(
            f"store '{store}' is a grid: refine adds points to a sampled design. Give the "
            "workflow a `sample` section (docs/workflow.md) and run it.",
            "store",
            str(store),
        )
    result = RefineResult(store=str(store))
    first_log, quiet = round_logs(log)
    first = run_sweep(wf, store, log=first_log, **run_options)  # whatever is pending: an interrupted round
    result.finished_pending = first.blocks_run
    _stop_on_failures(first, result)
    wf = store_workflow_of(store)  # (a growth interrupted after its commit was finished by that run)
    for _ in range(rounds):
        started = time.time()
        grown, added = add_points(store, wf, var=var, add=add, against=against, log=log)
        if grown is None:
            log("refine: no new points to add (every candidate is a point already)")
            break
        first_index = wf.sample.size
        res = run_sweep(grown, store, log=quiet, **run_options)
        _stop_on_failures(res, result)
        result.rounds.append(
            {
                "round": max(grown.sample.rounds),
                "added": added,
                "first": first_index,
                "seconds": time.time() - started,
                "undefined": _undefined(store, var, first_index, first_index + added),
            }
        )
        wf = grown
    return result


def round_logs(log):
    """The logs of a refinement's (or a fit's) runs: the first run's (whatever was pending,
    an interrupted round: its "resuming" note is true), then the rounds'. Each round's run
    resumes its store by design (the earlier points are done), so its "resuming: 8 of 9
    blocks already done", which reads like crash recovery, is left out (what follows its
    ';' is kept), and where the runs compute is said once, by the first that says it."""
    said: list[str] = []

    def first(msg: str) -> None:
        if msg.startswith("running in "):
            if said:
                return
            said.append(msg)
        log(msg)

    def rounds(msg: str) -> None:
        if msg.startswith("resuming: "):
            if "; " not in msg:
                return
            msg = msg.split("; ", 1)[1]
        first(msg)

    return first, rounds


def _undefined(store, var: str, first: int, stop: int) -> int:
    """How many of the samples ``first``..``stop``-1 have no value of ``var`` (NaN: an ISI
    statistic of a point with fewer than 2 ISIs), read with Zarr alone."""

    values = np.asarray(StoredArrays(store)[var].values, float)[first:stop]
    return int(np.isnan(values.reshape(len(values), -1)).all(axis=1).sum())


def _stop_on_failures(res, result: RefineResult) -> None:
    result.failures.update(res.failures)
    if res.failures:
        n = len(res.failures)
        raise RunError(
            f"{n} point{'s' if n != 1 else ''} of store '{res.store}' failed (lifbatch status {res.store}); "
            "refine chooses new points from finished results only: fix the cause, then "
            f"`lifbatch run` the store's workflow with --retry-failed and refine again."
        )


def add_points(store, wf, *, var: str, add: int, against: str | None, log=None):
    """Choose and append one round of points (under the store's lease, from what the store
    holds then); the grown Workflow and the number added, or (None, 0) when there is no
    candidate."""

    held = lease.acquire(store, command="lifbatch refine", log=log)
    try:
        fence = held.fence()
        control.recover(store, fence, log)
        check_unchanged(store, wf)
        # the theory needs the labelled Dataset; the summary alone is read with Zarr (no xarray to import)
        ds = open_results(store) if against == "theory" else StoredArrays(store)
        if ds.sizes["sample"] != wf.sample.size:
            raise StoreError(f"store '{store}' changed while refine read it; run refine again.")
        if not bool((ds["status"].values == 1).all()):
            raise StoreError(
                f"store '{store}' has unfinished points; `lifbatch run` its workflow to finish them, then refine."
            )
        unit = choose_points(unit_coords(wf, ds), point_values(ds, var, against), add, border=against is None)
        if not len(unit):
            return None, 0
        return add_unit_points(store, wf, unit, new_round(wf), fence), len(unit)
    finally:
        held.release()
