"""The frozen specs a workflow's sections parse into (:mod:`lifbatch.sections`): a drive,
a sweep axis (or a sampled design's), the run's top-level settings, what is recorded, the
summaries' settings, the numeric parameters, the neuron and the inputs. Plain frozen data:
each is built once, by its parser, and trusted downstream. :class:`lifbatch.workflow.Workflow`
holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

__all__ = [
    "Drive",
    "SweepAxis",
    "SampleAxis",
    "Run",
    "RecordSpec",
    "SummarySpec",
    "Param",
    "ParamTable",
    "NeuronSpec",
    "InputsSpec",
]


@dataclass(frozen=True)
class Drive:
    """One named input: ``kind`` and its parameters (SI floats, or flags)."""

    name: str
    kind: str
    role: str | None  # current / voltage / voltage_rate for continuous drives
    options: tuple = ()  # non-numeric fields: (("shared", True), ("file", "/abs/x.npy"), ...)

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)


@dataclass(frozen=True)
class SweepAxis:
    """One grid dimension. A zipped axis moves several parameters together."""

    name: str
    params: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]  # one tuple of SI values per param
    units: tuple[str, ...]  # SI unit string per param
    display_units: tuple[str, ...]  # unit as written by the user, per param

    @property
    def size(self) -> int:
        return len(self.values[0])

    @property
    def coord(self) -> np.ndarray:
        return np.asarray(self.values[0], dtype=float)

    @property
    def labels(self) -> tuple[str, ...]:
        """The coordinate name of each parameter: the axis's own name for the first."""
        return (self.name,) + self.params[1:]


@dataclass(frozen=True)
class SampleAxis(SweepAxis):
    """A sampled design as one grid dimension, ``sample`` (design.py): its parameters move
    together along it, like a zipped axis; its coordinate is the point's number."""

    spec: Any = None  # design.SampleSpec
    rounds: tuple[int, ...] = ()  # per point: 0 for the design, k when added in round k

    @property
    def coord(self) -> np.ndarray:
        return np.arange(self.size, dtype=np.int64)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels


@dataclass(frozen=True)
class LabelledAxis(SweepAxis):
    """A zipped axis whose coordinate is a label per point (``sweep.<axis>.labels``): each
    label sets every zipped parameter to its value there; the parameters are coordinates
    along the axis named by their path, and need not be distinct (the labels are)."""

    point_labels: tuple[str, ...] = ()

    @property
    def coord(self) -> np.ndarray:
        # numpy's variable-width strings (Zarr v3's `string`, as Zarr reads them back); numpy < 2: objects
        string = np.dtypes.StringDType() if hasattr(np.dtypes, "StringDType") else object
        return np.asarray(self.point_labels, dtype=string)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.params


@dataclass(frozen=True)
class Run:
    """The top-level settings every section is checked against (parsed by :func:`parse`).

    ``duration_written`` and ``dt_written`` are the values as written, for messages;
    ``limits``: whether the caps of ``lifbatch.limits`` apply.
    """

    trials: int
    duration: float  # s
    dt: float  # s
    method: str  # "euler" or "exact"
    duration_written: Any
    dt_written: Any = "0.1 ms"
    limits: bool = True

    @property
    def n_steps(self) -> int:
        return int(round(self.duration / self.dt))


@dataclass(frozen=True)
class RecordSpec:
    """The ``record`` section: the trials whose V is kept, sampled every ``every`` (s)."""

    trials: tuple[int, ...]
    every: float
    state: tuple[str, ...] = ()  # the model's state variables recorded beside V (record.state)
    inputs: tuple[str, ...] = ()  # the drives whose values are recorded (record.inputs)


@dataclass(frozen=True)
class SummarySpec:
    """The ``summaries`` section, SI: the warm-up left out, the ISI histogram's bin edges, the
    moments' sampling interval and the autocovariance's longest lag."""

    warmup: float
    isi_edges: tuple[float, ...]
    moments_every: float
    max_lag: float


@dataclass(frozen=True)
class Param:
    """One entry of the parameter table: its SI value, its dimension (pint's, e.g.
    '[time]' or 'dimensionless'), its unit as written ("" when bare) and its value as
    written, for messages (None where a default was taken)."""

    value: float
    dim: str
    display: str = ""
    written: Any = None
    #: the dimensions it may have when the one written decides (a drive's value or noise:
    #: current, voltage or voltage per time), not the model: a sweep axis in another of
    #: them is then blamed on the value as much as on the axis
    dims: tuple[str, ...] = ()


class ParamTable(Mapping):
    """The parameter table: dot path -> :class:`Param`, in the order the sections add them
    (the order of ``Workflow.params``). Immutable: :meth:`plus` returns a new table."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, Param] | None = None):
        self._entries = dict(entries or {})

    def __getitem__(self, path: str) -> Param:
        return self._entries[path]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ParamTable({self._entries!r})"

    def plus(self, entries: Mapping[str, Param]) -> "ParamTable":
        """This table with ``entries`` added (or replaced, in place)."""
        return ParamTable({**self._entries, **entries})

    def written(self, path: str, default: Any = None) -> Any:
        """``path``'s value as written, or ``default`` (a parameter given no value)."""
        p = self._entries.get(path)
        return default if p is None or p.written is None else p.written


@dataclass(frozen=True)
class NeuronSpec:
    """The ``neuron`` section: its parameters (``neuron.*``), the dimension of its voltages
    (volts, or dimensionless) and of ``r_m``, and the voltage unit shown."""

    params: ParamTable
    voltage_dim: str
    voltage_display: str
    r_dim: str
    r_m_given: bool  # r_m was written (the message of a current without resistance)
    model: str = "lif"  # neuron.model (lifbatch.models)
    options: tuple = ()  # the model's non-numeric settings, e.g. (("gates_init", "zero"),)


@dataclass(frozen=True)
class InputsSpec:
    """The ``inputs`` section: the drives, their parameters (``inputs.*``), and the sha256 of
    each input file by drive name."""

    drives: tuple[Drive, ...]
    params: ParamTable
    files: tuple[tuple[str, str], ...] = ()

    def file_sha256(self, name: str) -> str | None:
        return dict(self.files).get(name)
