"""The harness behind ``lifbatch bench``: measurements of lifbatch, not part of it.

- :mod:`harness.bench`: the kernel against a numpy baseline, the random-number bound and
  Brian2 in the peers' venv (``lifbatch bench``);
- :mod:`harness.bench_models`: one neuron model's loop against Brian2 on the same model
  (``lifbatch bench --model NAME``);
- :mod:`harness.bench_sweep`: a sweep end to end as ``lifbatch run`` runs it
  (``lifbatch bench --sweep``).

It lives in the source checkout, beside ``benchmarks/peers/`` whose Brian2 scripts it
runs, and is not installed with lifbatch: ``lifbatch bench`` (lifbatch/cli.py) puts this
folder's parent on ``sys.path`` and imports it from there; the scripts of ``benchmarks/``
import it as ``harness`` (their own folder is first on ``sys.path``), the tests too
(``pythonpath`` in pyproject.toml's pytest section). Nothing is imported here, so that
``lifbatch bench`` loads only the module it runs (``harness.bench`` sets one thread for
numba and BLAS before they load).
"""
