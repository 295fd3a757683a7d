"""Drive kinds: one small class per kind of input, found by name in :data:`DRIVES`.

A drive kind says which fields it has and of which dimension (the workflow
parser reads them from here), which random stream it draws from, and what it
hands the kernel at one grid point (:meth:`DriveKind.apply`): a constant or
time-varying part of the continuous drive ``x``, a per-trial table, a uniform
drive, white noise or Poisson jumps. A new kind of input is one class here (and
its tests); its parse rules beyond the field dimensions live in sections/inputs.py.

How a continuous drive enters: with ``tau_m dV/dt = e_l - V + x`` the kernel's
``x`` is ``r_m * I`` for a current, ``mu`` for a voltage and ``tau_m * r`` for a
voltage per time (``x = r`` without leak, ``tau_m = inf``: ``dV/dt = r``); see
docs/workflow.md, "How a drive enters the equation".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, ClassVar

import numpy as np

__all__ = ["DRIVES", "DriveKind", "PointInputs", "x_scale", "read_timed_array"]


def x_scale(params: dict[str, float], role: str) -> float:
    """Factor turning a drive value of ``role`` into the kernel's ``x``."""
    if role == "current":
        return params["neuron.r_m"]
    if role == "voltage":
        return 1.0
    tau = params["neuron.tau_m"]
    return 1.0 if math.isinf(tau) else tau  # voltage per time


def read_timed_array(path: str) -> np.ndarray:
    """Read a recorded waveform: .npy, or .csv/.txt of numbers; 1-D or (time, trial)."""
    return _read_timed_array_cached(str(path))


@lru_cache(maxsize=16)
def _read_timed_array_cached(path: str) -> np.ndarray:
    if path.endswith(".npy"):
        data = np.load(path, allow_pickle=False)
    else:
        data = np.loadtxt(path, delimiter="," if path.endswith(".csv") else None, ndmin=1)
    data = np.asarray(data, dtype=float)
    if data.ndim == 2 and data.shape[1] == 1:
        data = data[:, 0]
    if data.ndim not in (1, 2) or data.shape[0] == 0:
        raise ValueError(f"expected a 1-D array or a (time, trial) table, got shape {data.shape}")
    data.setflags(write=False)
    return data


class PointInputs:
    """What a point's drives hand the kernel, accumulated in the workflow's drive order.

    The shared continuous drive stays a scalar while only constants have been added
    (the same additions, element by element, as into an array of zeros) and becomes
    an array, ``x_base``, at the first time-varying one.
    """

    __slots__ = ("n", "x_const", "x_base", "x_rows", "uni_mean", "uni_half", "lam", "weights", "sigma2", "syn")

    def __init__(self, n_steps: int):
        self.n = n_steps
        self.x_const = 0.0
        self.x_base: np.ndarray | None = None
        self.x_rows: list[np.ndarray] = []
        self.uni_mean: list[float] = []
        self.uni_half: list[float] = []
        self.lam: list[float] = []
        self.weights: list[float] = []
        self.sigma2 = 0.0
        #: per Poisson drive (aligned with ``lam``): (1.0 for a conductance, its decay per step,
        #: its reversal potential); (0.0, 0.0, 0.0) for voltage jumps
        self.syn: list[tuple[float, float, float]] = []

    def synapses(self) -> np.ndarray:
        """(3, K2): is a conductance, decay per step, reversal potential, per Poisson drive."""
        return np.array(self.syn, float).T.reshape(3, len(self.syn))

    @property
    def has_conductances(self) -> bool:
        return any(s[0] != 0.0 for s in self.syn)

    def add_constant(self, value: float) -> None:
        if self.x_base is None:
            self.x_const += value
        else:
            self.x_base += value

    def add_trace(self, values: np.ndarray) -> None:
        if self.x_base is None:
            self.x_base = np.full(self.n, self.x_const)
        self.x_base += values

    def shared_drive(self) -> np.ndarray:
        return np.full(self.n, self.x_const) if self.x_base is None else self.x_base


@dataclass(frozen=True)
class DriveKind:
    """One kind of drive.

    ``fields`` maps each field to ``(role, default)``: the role says which dimension
    the field has ("drive": the drive's own dimension, current, voltage or voltage
    per time, the same for all such fields; "voltage", "time", "rate", "noise", "1",
    "int", "bool", "file", "unit"); a default of None makes the field required.
    """

    name: ClassVar[str]
    fields: ClassVar[dict[str, tuple[str, Any]]]
    #: the point stream it draws from, if any (see streams.STREAMS)
    stream: ClassVar[str | None] = None
    #: drawn afresh every step: no single trace (``inputs.drive_values``)
    stochastic: ClassVar[bool] = False

    def apply(self, acc: PointInputs, drive, get: Callable[[str], float], scale: float, point) -> None:
        """Add this drive's part at one point to ``acc``. ``get(field)`` gives the point's
        value of a field (SI), ``scale`` turns drive values into ``x`` (:func:`x_scale`),
        ``point`` is the :class:`point.PointModel` (time axis, streams' generators)."""
        raise NotImplementedError


class Constant(DriveKind):
    name = "constant"
    fields = {"value": ("drive", None)}

    def apply(self, acc, drive, get, scale, point):
        acc.add_constant(scale * get("value"))


def sine_values(t: np.ndarray, mean: float, amplitude: float, frequency: float, phase: float) -> np.ndarray:
    """mean + amplitude sin(2 pi f t + phase), written as the NMA tutorial writes it:
    mean * (1 + (amplitude/mean) * sin((t 2 pi) / period + phase)); with amplitude ==
    mean and period = 1/f it is I_mean*(1 + np.sin((t * 2 * np.pi) / 0.01)) bit for bit
    (the tutorial's exercises 2-6)."""
    if frequency == 0:
        s = np.full(np.shape(t), np.sin(phase))
    else:
        s = np.sin((t * 2 * np.pi) / (1 / frequency) + phase)
    if mean != 0:
        return mean * (1 + (amplitude / mean) * s)
    return amplitude * s


class Sine(DriveKind):
    name = "sine"
    fields = {"mean": ("drive", 0), "amplitude": ("drive", None), "frequency": ("rate", None), "phase": ("1", 0)}

    def apply(self, acc, drive, get, scale, point):
        acc.add_trace(scale * sine_values(point.t, get("mean"), get("amplitude"), get("frequency"), get("phase")))


class Uniform(DriveKind):
    name = "uniform"
    fields = {"mean": ("drive", None), "half_width": ("drive", None)}
    stream = "uniform"
    stochastic = True

    def apply(self, acc, drive, get, scale, point):
        acc.uni_mean.append(scale * get("mean"))
        acc.uni_half.append(scale * get("half_width"))


class WhiteNoise(DriveKind):
    name = "white_noise"
    fields = {"sigma": ("noise", None)}
    stream = "noise"
    stochastic = True

    def apply(self, acc, drive, get, scale, point):
        acc.sigma2 += (scale * get("sigma")) ** 2


class Poisson(DriveKind):
    name = "poisson"
    fields = {"rate": ("rate", None), "weight": ("voltage", None), "n": ("int", 1)}
    stream = "poisson"
    stochastic = True

    def apply(self, acc, drive, get, scale, point):
        # n independent sources: Poisson(n rate dt) input spikes per step
        acc.lam.append(get("n") * get("rate") * point.dt)
        acc.weights.append(get("weight"))
        acc.syn.append((0.0, 0.0, 0.0))


class PoissonConductance(DriveKind):
    """Poisson input through an exponential synapse with a reversal potential: ``n`` sources at
    ``rate``; each input spike raises the conductance g by ``weight``, which decays with
    ``tau``; the current ``g (e_rev - v)`` enters as a current (docs/workflow.md,
    "poisson_conductance"). Its counts are drawn from the Poisson stream with the other
    Poisson drives, in the workflow's order (the same counts as a ``poisson`` drive there)."""

    name = "poisson_conductance"
    fields = {
        "rate": ("rate", None),
        "weight": ("conductance", None),
        "tau": ("time", None),
        "e_rev": ("voltage", None),
        "n": ("int", 1),
    }
    stream = "poisson"
    stochastic = True

    def apply(self, acc, drive, get, scale, point):
        # (scale: r_m for the LIF, whose drives are voltages; 1 for the models that take currents)
        acc.lam.append(get("n") * get("rate") * point.dt)
        acc.weights.append(scale * get("weight"))
        acc.syn.append((1.0, math.exp(-point.dt / get("tau")), get("e_rev")))


class _Tabulated(DriveKind):
    """A drive given as a (rows, n_steps) table: one row for all trials, or one per trial."""

    def table(self, drive, get, point, gen) -> tuple[np.ndarray, bool]:
        raise NotImplementedError

    def apply(self, acc, drive, get, scale, point):
        table, per_trial = self.table(drive, get, point, point.streams_gen("steps"))
        if per_trial:
            acc.x_rows.append(scale * table)
        else:
            acc.add_trace(scale * table[0])


class RandomSteps(_Tabulated):
    name = "random_steps"
    fields = {"low": ("drive", None), "high": ("drive", None), "interval": ("time", None), "shared": ("bool", False)}
    stream = "steps"

    def table(self, drive, get, point, gen):
        idx = np.floor(point.t / get("interval") + 1e-9).astype(np.int64)
        n_int = int(idx[-1]) + 1
        rows = 1 if drive.option("shared") else point.trials
        low, high = get("low"), get("high")
        values = low + (high - low) * gen().random((rows, n_int))
        return values[:, idx], rows > 1


class TimedArray(_Tabulated):
    """Samples every ``dt``, from a file (``file``: .npy or .csv, 1-D or time x trial) or
    written inline (``values``: a list of numbers, or a list of lists, one per trial)."""

    name = "timed_array"
    # (file or values, exactly one: the parser checks it; a default of "" is "not given")
    fields = {"file": ("file", ""), "values": ("values", ""), "dt": ("time", None), "unit": ("unit", "1")}

    def table(self, drive, get, point, gen):
        # (deferred: a point's tasks (streams, point) import the drive kinds without pint)
        from .units import convert, si_unit, unit_dimensionality

        inline = drive.option("values")
        data = np.asarray(inline, float).T if inline else read_timed_array(drive.option("file"))
        unit = drive.option("unit", "1")
        factor = convert(1.0, unit, si_unit(unit_dimensionality(unit))) if unit not in ("", "1") else 1.0
        table = data.T if data.ndim == 2 else data[None, :]
        idx = np.minimum(np.floor(point.t / get("dt") + 1e-9).astype(np.int64), table.shape[1] - 1)
        return table[:, idx] * factor, table.shape[0] > 1


#: every drive kind by name, in the order the docs list them
DRIVES: dict[str, DriveKind] = {
    k.name: k() for k in (Constant, Sine, Uniform, WhiteNoise, Poisson, RandomSteps, TimedArray, PoissonConductance)
}
