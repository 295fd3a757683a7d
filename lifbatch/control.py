"""One control plane: what a command holding a store's lease finishes before it works.

A store's multi-step changes each commit by one file (docs/store-layout.md):
``lifbatch summarize``'s swap (``_lifbatch/summarize/commit.json``) and points added to
a sampled design by ``refine`` and ``fit`` (``_lifbatch/grow.json``). A command that
was stopped after such a commit leaves it to be finished; one stopped before leaves
work files to be discarded. :func:`recover` does both, and it is the only place that
does: only a command holding the store's lease calls it (``run``, ``summarize``,
``refine``, ``fit``), each of its writes fenced. Readers (``open_results``, ``status``,
``query``, ``review``) never write: they read the committed state, or say in one line
that a commit is unfinished (:func:`lifbatch.store.unfinished_commit`). An interrupted
*creation* is not recovered but redone: ``run`` plans it (plan.plan_sweep).
"""

from __future__ import annotations

from pathlib import Path

from . import growth, swap
from .storage import is_url

__all__ = ["recover"]


def recover(store, fence, log=None) -> list[str]:
    """Finish or discard the store's interrupted summarize and growth, under the lease
    (``fence``: :class:`lifbatch.lease.Fence`, checked before every write); what was done,
    each also told to ``log``."""

    done = []
    for step in (swap.recover, growth.recover):
        what = step(store if is_url(store) else Path(store), fence)
        if what:
            done.append(what)
            if log is not None:
                log(what)
    return done
