"""Drive traces of one grid point: what a drive gives, step by step (numpy only).

The drive kinds are in :mod:`lifbatch.drives`, a point's random streams in
:mod:`lifbatch.streams` and its simulation in :mod:`lifbatch.point`; their names
are importable from here too (their former home).
"""

from __future__ import annotations

import numpy as np

from .drives import DRIVES, PointInputs, read_timed_array  # noqa: F401 - read_timed_array: its former home
from .point import PointModel, PointResult, point_buffers, simulate_point  # noqa: F401 - their former home
from .streams import STREAMS, block_streams, point_key, point_streams  # noqa: F401 - their former home

__all__ = [
    "read_timed_array",
    "point_key",
    "point_streams",
    "block_streams",
    "drive_values",
    "simulate_point",
    "point_buffers",
    "PointResult",
    "STREAMS",
]


def drive_values(
    wf, name: str, params: dict[str, float] | None = None, *, trial: int = 0, streams=None
) -> tuple[np.ndarray, np.ndarray]:
    """The value of one deterministic or tabulated drive at the start of every step.

    Returns ``(t, value)`` with ``t = step * dt`` (s) and the drive in its own SI
    unit (e.g. A for a current). Stochastic per-step drives (uniform, white
    noise, poisson) have no single trace and raise ValueError.

    Examples
    --------
    The NMA sinusoidal current, I(t) = I_mean (1 + sin(2 pi t / 0.01 s)):

    >>> wf = load_workflow("workflows/nma-lif-sine.yaml")   # doctest: +SKIP
    >>> t, i = drive_values(wf, "sine")                       # doctest: +SKIP
    """
    params = dict(wf.params) if params is None else params
    drive = next((d for d in wf.drives if d.name == name), None)
    if drive is None:
        raise KeyError(f"no input named {name!r}; inputs: {[d.name for d in wf.drives]}")
    kind = DRIVES[drive.kind]
    if kind.stochastic:
        raise ValueError(f"input {name!r} of kind {drive.kind} is drawn afresh every step; it has no single trace")
    model = PointModel(wf)
    model._streams = streams or point_streams(wf, params)
    acc = PointInputs(model.n)
    kind.apply(acc, drive, lambda field: params[f"inputs.{name}.{field}"], 1.0, model)
    if acc.x_rows:
        table = acc.x_rows[0]
        return model.t, table[min(trial, table.shape[0] - 1)]
    return model.t, acc.shared_drive()


def recorded_inputs(wf, params: dict[str, float], out: dict[str, np.ndarray]) -> None:
    """Fill ``out[name]`` (n_recorded, n_rec) with the values of each drive of
    ``record.inputs`` at the recorded trials, every ``record.every`` (its own SI unit), as the
    point's simulation saw them: the drives applied in the workflow's order from the point's
    own fresh streams (a later ``random_steps`` draws after an earlier one, as in the run)."""
    model = PointModel(wf)
    model._streams = point_streams(wf, params)
    wanted = set(wf.record_inputs)
    rows = np.asarray(wf.record_trials, dtype=np.int64)
    for drive in wf.drives:
        kind = DRIVES[drive.kind]
        if kind.stochastic or kind.name == "poisson":
            continue  # (their streams are not the one tabulated drives draw from)
        acc = PointInputs(model.n)
        kind.apply(
            acc,
            drive,
            lambda field, _n=drive.name: params[f"inputs.{_n}.{field}"],  # type: ignore[misc]
            1.0,
            model,
        )
        if drive.name not in wanted:
            continue
        table = acc.x_rows[0] if acc.x_rows else acc.shared_drive()[None, :]
        picked = table[np.minimum(rows, table.shape[0] - 1)]
        # (the drive at the start of each recorded step; the last sample, t = duration, has none: NaN)
        n_rec = out[drive.name].shape[-1]
        grid = np.arange(n_rec) * wf.record_stride
        out[drive.name][:] = np.where(grid < model.n, picked[:, np.minimum(grid, model.n - 1)], np.nan)
