"""The random streams of one grid point (numpy only).

Random numbers: every point owns a :class:`numpy.random.SeedSequence` keyed by
the workflow seed and the values of the point's swept parameters (minus the axes
listed in ``noise.shared_across``). Four independent child streams feed the
white noise, uniform drives, Poisson inputs and random steps, each consumed in
(trial, step, drive) order, so a point's numbers never depend on its block,
its neighbours or the chunking of trials.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache

import numpy as np

from .drives import DRIVES
from .kernel import sfc64_seed_states

__all__ = ["STREAMS", "point_key", "point_streams", "block_streams"]


def point_key(wf, params: dict[str, float]) -> int:
    """The integer entropy of a point's random streams."""
    return int.from_bytes(_point_digest(wf, params), "little")


def _point_digest(wf, params: dict[str, float]) -> bytes:
    """sha256 of the canonical JSON ``[seed, [[param, repr(value)], ...]]`` of the point's
    swept parameters (sorted by name; those of ``noise.shared_across`` axes left out)."""
    names, head = _key_layout(
        wf.seed, tuple(p for ax in wf.sweep if ax.name not in wf.shared_across for p in ax.params)
    )
    if head is None:  # names JSON would escape: the general path
        swept = sorted([p, repr(float(params[p]))] for p in names)
        text = json.dumps([wf.seed, swept], separators=(",", ":"))
    else:  # the same text, formatted directly (json.dumps cost half of the per-point set-up)
        text = head + ",".join(f'["{p}","{float(params[p])!r}"]' for p in names) + "]]"
    return hashlib.sha256(text.encode()).digest()


@lru_cache(maxsize=64)
def _key_layout(seed: int, names: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """The swept parameters in key order, and the key text's head; None for the head
    when the direct formatting might differ from json.dumps (a name JSON would escape,
    or a name twice)."""
    plain = len(set(names)) == len(names) and all(re.fullmatch(r"[A-Za-z0-9_.-]+", p) for p in names)
    return tuple(sorted(names)), (f"[{json.dumps(seed)},[" if plain else None)


STREAMS = ("noise", "uniform", "poisson", "steps")


class _Streams(dict):
    """The point's four child streams: ``SeedSequence(key).spawn(4)[i]`` seeds stream i
    (``SeedSequence(key, spawn_key=(i,))`` is the same sequence).

    The kernel needs only a stream's SFC64 state: :meth:`state` gives it (computed
    by :func:`kernel.sfc64_seed_states`, bit for bit numpy's seeding, without
    numpy's objects: most of the per-point set-up cost), :meth:`set_state` takes
    the advanced one back. Indexing (``streams["steps"]``) gives a numpy Generator
    in the same state, made on first use.
    """

    def __init__(self, key: int, states: dict[str, np.ndarray] | None = None):
        super().__init__()
        self.key = key
        self.states = dict(states or {})

    def __missing__(self, name: str) -> np.random.Generator:
        ss = np.random.SeedSequence(self.key, spawn_key=(STREAMS.index(name),))
        gen = self[name] = np.random.Generator(np.random.SFC64(ss))
        if name in self.states:
            _set_sfc64_state(gen, self.states.pop(name))
        return gen

    def state(self, name: str) -> np.ndarray:
        """The (4,) uint64 SFC64 state of stream ``name``, for the kernel to draw from."""
        if name in self:
            return _sfc64_state(self[name])
        if name not in self.states:
            self.states[name] = _seed_states([self.key], STREAMS.index(name))[0]
        return self.states[name].copy()

    def set_state(self, name: str, state: np.ndarray) -> None:
        if name in self:
            _set_sfc64_state(self[name], state)
        else:
            self.states[name] = state.copy()


def _key_words(keys: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Keys as numpy's SeedSequence reads an int: 32-bit words, least significant first."""
    entropy = np.zeros((len(keys), max(8, *(((k.bit_length() + 31) // 32) for k in keys)) if keys else 8), np.uint64)
    lengths = np.empty(len(keys), np.int64)
    for i, k in enumerate(keys):
        n = max(1, (k.bit_length() + 31) // 32)
        entropy[i, :n] = np.frombuffer(k.to_bytes(4 * n, "little"), "<u4")
        lengths[i] = n
    return entropy, lengths


def _seed_states(keys: list[int], stream: int) -> np.ndarray:
    entropy, lengths = _key_words(keys)
    return sfc64_seed_states(entropy, lengths, stream)


def _used_streams(wf) -> list[str]:
    return sorted({s for d in wf.drives if (s := DRIVES[d.kind].stream)}, key=STREAMS.index)


def point_streams(wf, params: dict[str, float], *, make: bool = False) -> dict[str, np.random.Generator]:
    """The streams "noise", "uniform", "poisson", "steps" of one point (see :class:`_Streams`).

    With ``make=True`` the states of those the workflow's drives use are made at once
    (the same numbers either way).
    """
    streams = _Streams(point_key(wf, params))
    if make:
        for name in _used_streams(wf):
            streams.states[name] = _seed_states([streams.key], STREAMS.index(name))[0]
    return streams


def block_streams(wf, params: list[dict[str, float]]) -> list[_Streams]:
    """:func:`point_streams` of many points, their states made in one kernel call per stream."""
    keys = [point_key(wf, p) for p in params]
    out = [_Streams(k) for k in keys]
    for name in _used_streams(wf):
        for streams, state in zip(out, _seed_states(keys, STREAMS.index(name))):
            streams.states[name] = state
    return out


def _sfc64_state(gen: np.random.Generator) -> np.ndarray:
    """The (4,) uint64 state of a Generator's SFC64 bit generator, for the kernel."""
    return np.array(gen.bit_generator.state["state"]["state"], dtype=np.uint64)


def _set_sfc64_state(gen: np.random.Generator, state: np.ndarray) -> None:
    st = gen.bit_generator.state
    st["state"]["state"] = state
    gen.bit_generator.state = st
