"""A workflow's sections, one module each: each section's parser is given what it is checked
against and returns a frozen spec (:mod:`lifbatch.specs`); :func:`lifbatch.workflow.parse`
composes them, in the order their errors are raised.

- :mod:`.neuron`: ``neuron`` -> :class:`~lifbatch.specs.NeuronSpec` (the LIF's parameters, or
  another model's);
- :mod:`.inputs`: ``inputs`` -> :class:`~lifbatch.specs.InputsSpec` (the drives, by the drive
  kinds' registry, and how each enters dV/dt);
- :mod:`.sweep`: ``sweep`` and ``sample`` -> the grid's axes, and ``noise`` over them;
- :mod:`.outputs`: ``record`` and ``summaries`` -> what a run keeps.
"""
