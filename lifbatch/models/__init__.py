"""Neuron models: one file per model, found by name in :data:`MODELS`.

A model (:class:`NeuronModel`) says what its ``neuron`` section holds (parameters with
their dimensions, defaults and checks), its state variables, its integration methods,
its spike rule, how each drive role enters it, whether a theory applies, and runs its
trials (a numba loop). ``neuron.model`` picks one; ``lif`` is the default and stays out
of a workflow's canonical identity, so every store made before models existed resumes.
:func:`register_model` adds a model from a user's own package::

    from lifbatch.models import register_model
    register_model(MyModel())

docs/workflow.md, "Neuron models", documents each model's equations, parameters, step
order and spike rule.
"""

from __future__ import annotations

from .base import MODELS, NeuronModel, ParamSpec, StateVar, get_model, register_model

__all__ = ["MODELS", "NeuronModel", "ParamSpec", "StateVar", "get_model", "register_model"]

# the models lifbatch ships, each registered by its module
from . import adex, hh_traub, izhikevich, lif  # noqa: E402,F401
