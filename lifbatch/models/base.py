"""The neuron-model registry and the base class every model file fills in."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np

from ..errors import WorkflowError

__all__ = ["MODELS", "NeuronModel", "ParamSpec", "StateVar", "get_model", "register_model"]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a model's ``neuron`` section.

    ``unit``: its SI unit ("V", "F", "S", "s", "A", "S/V", "1/s"; "" dimensionless), which
    fixes its dimension (checked with pint: any unit of that dimension may be written, and
    densities times an area, "1 uF/cm**2 * 20000 um**2", are read as what they multiply
    out to); ``default``: the value as a workflow would write it, or None (required), or
    the name of another parameter whose value it takes (``"=e_l"``); ``check``: a
    predicate on the SI value and the words of the message when it fails."""

    unit: str
    default: str | None
    check: tuple[Callable[[float], bool], str] | None = None
    doc: str = ""


@dataclass(frozen=True)
class StateVar:
    """A state variable: its name, SI unit, and what it starts at (the model's ``initial``)."""

    name: str
    unit: str
    doc: str = ""


class NeuronModel:
    """One neuron model. Subclasses set the class attributes and :meth:`run`.

    The loop of a model (numba) advances all trials of one point through every step in
    the documented order, drawing every random number in the step that uses it, in the
    same order for every model (one normal of the white noise, then one uniform per
    uniform drive, then one Poisson count per Poisson drive, every step, refractory or
    not), so that the same workflow with another model sees the same input realization.
    """

    name: ClassVar[str]
    params: ClassVar[dict[str, ParamSpec]]
    state: ClassVar[tuple[StateVar, ...]] = (StateVar("v", "V"),)
    methods: ClassVar[tuple[str, ...]]
    default_method: ClassVar[str]
    #: the parameter of the spike rule drawn as a line in figures (threshold, v_peak, v_spike)
    spike_param: ClassVar[str]
    spike_rule: ClassVar[str]
    #: how each continuous drive role enters ("current": I / c_m); a role not here is refused
    roles: ClassVar[dict[str, str]] = {"current": "I / c_m"}
    #: relative cost of one neuron-step against the LIF's (the planner sizes blocks with it); the
    #: built-in models' are measured: CPU time of their loop per neuron-step with white noise over
    #: the LIF kernel's with white noise, one thread (README.md, "Neuron models against Brian2")
    cost: ClassVar[float] = 1.0
    #: a dt (s) above which the method is inaccurate (validate warns), or None
    max_dt: ClassVar[float | None] = None
    theory: ClassVar[bool] = False

    def check(self, params: dict[str, float], dt: float) -> list[tuple[str, str, str]]:
        """Constraints across parameters (beyond each one's own): (parameter, what is wrong,
        the fix) for the first failing one, or []. ``params``: the neuron's values, SI."""
        return []

    def rheobase(self, params: dict[str, float]) -> float | None:
        """The smallest constant current (A) that makes the model fire from rest, where theory
        gives it (the saddle node of the steady-state I-V curve), else None."""
        return None

    def rate(self, params: dict[str, float], current: float) -> float | None:
        """The firing rate (Hz) under a constant current (A) without noise, where a closed form
        (or a quadrature) gives it, else None."""
        return None

    def noise_tau(self, params: dict[str, float]) -> float:
        """The time constant of white noise given as a voltage: it enters as
        ``sigma * sqrt(dt / tau) * xi`` (the LIF's convention, with tau = tau_m)."""
        return params["neuron.c_m"] / params["neuron.g_l"]

    def run(self, p: dict[str, float], dt: float, method: str, inputs: dict, out, options: dict | None = None) -> None:
        """Advance all trials of one point (``p``: its parameters, SI; ``inputs``: the
        kernel's drive arguments, see :func:`lifbatch.models.loops.drive_args`; ``out``: a
        :class:`lifbatch.point.PointResult` to fill; ``options``: the workflow's
        ``neuron`` options of this model, :attr:`Workflow.model_options`)."""
        raise NotImplementedError


#: every neuron model by name
MODELS: dict[str, NeuronModel] = {}


def register_model(model: NeuronModel, *, replace: bool = False) -> NeuronModel:
    """Add ``model`` to :data:`MODELS` under ``model.name`` (a model of that name already
    there is refused unless ``replace``). Checks what every model must declare."""
    name = getattr(model, "name", None)
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(f"a model's name must be a lower-case identifier, got {name!r}")
    if name in MODELS and not replace:
        raise ValueError(f"a neuron model named {name!r} is registered already (replace=True to replace it)")
    for attr in ("params", "methods", "default_method", "spike_param", "spike_rule"):
        if not hasattr(model, attr):
            raise ValueError(f"model {name!r} does not declare `{attr}`")
    if model.default_method not in model.methods:
        raise ValueError(f"model {name!r}: its default method {model.default_method!r} is not one of its methods")
    MODELS[name] = model
    return model


def get_model(name) -> NeuronModel:
    """The model of that name, or a one-line WorkflowError naming the registered ones."""
    if not isinstance(name, str) or name not in MODELS:
        import difflib

        close = difflib.get_close_matches(str(name), sorted(MODELS), n=1)
        hint = f"Did you mean `{close[0]}`? " if close else ""
        raise WorkflowError(
            f"`neuron.model` must be one of {', '.join(sorted(MODELS))}, got '{name}'. {hint}Example: model: adex",
            "neuron.model",
            name,
        )
    return MODELS[name]


def positive(x: float) -> bool:
    return x > 0 and math.isfinite(x)


def non_negative(x: float) -> bool:
    return x >= 0 and math.isfinite(x)


POSITIVE = (positive, "must be positive")
NON_NEGATIVE = (non_negative, "must be >= 0")


def as_array(p: dict[str, float], names) -> np.ndarray:
    return np.array([p[f"neuron.{n}"] for n in names], float)
