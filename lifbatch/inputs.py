"""Drives and random streams of one grid point, and the point's simulation (numpy only).

Each drive's physical dimension decides how it enters the membrane equation
(docs/workflow.md, "How a drive enters the equation"): with ``tau_m dV/dt = e_l - V + x`` the kernel's ``x`` is
``r_m * I`` for a current, ``mu`` for a voltage and ``tau_m * r`` for a
voltage per time. Without leak (``tau_m = inf``) ``dV/dt = r`` and ``x = r``.

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
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .kernel import EMPTY2, FUSED_NORMALS, NO_STATE, lif_trials, scratch_size

__all__ = ["read_timed_array", "point_key", "point_streams", "block_streams", "drive_values", "simulate_point",
           "point_buffers", "PointResult"]

# Trials per kernel call when numpy draws the normals (see simulate_point): keeps a
# chunk's buffer in L2 cache. Otherwise every random number is drawn in the kernel.
_CHUNK_NUMBERS = 1 << 16


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


def point_key(wf, params: dict[str, float]) -> int:
    """The integer entropy of a point's random streams."""
    return int.from_bytes(_point_digest(wf, params), "little")


def _point_digest(wf, params: dict[str, float]) -> bytes:
    """sha256 of the canonical JSON ``[seed, [[param, repr(value)], ...]]`` of the point's
    swept parameters (sorted by name; those of ``noise.shared_across`` axes left out)."""
    names, head = _key_layout(wf.seed, tuple(p for ax in wf.sweep if ax.name not in wf.shared_across
                                            for p in ax.params))
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

# the stream each kind of drive draws from
_STREAM_OF_KIND = {"white_noise": "noise", "uniform": "uniform", "poisson": "poisson", "random_steps": "steps"}


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
    entropy = np.zeros((len(keys), max(8, *(((k.bit_length() + 31) // 32) for k in keys)) if keys else 8),
                       np.uint64)
    lengths = np.empty(len(keys), np.int64)
    for i, k in enumerate(keys):
        n = max(1, (k.bit_length() + 31) // 32)
        entropy[i, :n] = np.frombuffer(k.to_bytes(4 * n, "little"), "<u4")
        lengths[i] = n
    return entropy, lengths


def _seed_states(keys: list[int], stream: int) -> np.ndarray:
    from .kernel import sfc64_seed_states

    entropy, lengths = _key_words(keys)
    return sfc64_seed_states(entropy, lengths, stream)


def _used_streams(wf) -> list[str]:
    return sorted({_STREAM_OF_KIND[d.kind] for d in wf.drives if d.kind in _STREAM_OF_KIND}, key=STREAMS.index)


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


def _x_scale(wf, params, role: str) -> float:
    """Factor turning a drive value of ``role`` into the kernel's ``x``."""
    tau = params["neuron.tau_m"]
    if role == "current":
        return params["neuron.r_m"]
    if role == "voltage":
        return 1.0
    return 1.0 if math.isinf(tau) else tau  # voltage per time


def drive_values(wf, name: str, params: dict[str, float] | None = None, *, trial: int = 0,
                 streams=None) -> tuple[np.ndarray, np.ndarray]:
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
    n = wf.n_steps
    t = np.arange(n) * wf.dt
    p = f"inputs.{name}"
    if drive.kind == "constant":
        return t, np.full(n, params[f"{p}.value"])
    if drive.kind == "sine":
        return t, _sine(t, params[f"{p}.mean"], params[f"{p}.amplitude"], params[f"{p}.frequency"],
                        params[f"{p}.phase"])
    if drive.kind in ("random_steps", "timed_array"):
        streams = streams or point_streams(wf, params)
        table, _ = _table(wf, drive, params, streams["steps"])
        return t, table[min(trial, table.shape[0] - 1)]
    raise ValueError(f"input {name!r} of kind {drive.kind} is drawn afresh every step; it has no single trace")


def _sine(t, mean, amplitude, frequency, phase):
    # Written as mean * (1 + (amplitude/mean) * sin((t 2 pi) / period + phase)), the
    # NMA tutorial's own expression: with amplitude == mean and period = 1/f it is
    # I_mean*(1 + np.sin((t * 2 * np.pi) / 0.01)) bit for bit (exercises 2-6).
    if frequency == 0:
        s = np.full(np.shape(t), np.sin(phase))
    else:
        s = np.sin((t * 2 * np.pi) / (1 / frequency) + phase)
    if mean != 0:
        return mean * (1 + (amplitude / mean) * s)
    return amplitude * s


def _table(wf, drive, params, gen) -> tuple[np.ndarray, bool]:
    """(rows, n_steps) values of a random_steps / timed_array drive; rows = 1 or trials."""
    n = wf.n_steps
    t = np.arange(n) * wf.dt
    p = f"inputs.{drive.name}"
    if drive.kind == "random_steps":
        interval = params[f"{p}.interval"]
        idx = np.floor(t / interval + 1e-9).astype(np.int64)
        n_int = int(idx[-1]) + 1
        rows = 1 if drive.option("shared") else wf.trials
        low, high = params[f"{p}.low"], params[f"{p}.high"]
        values = low + (high - low) * gen.random((rows, n_int))
        return values[:, idx], rows > 1
    data = read_timed_array(drive.option("file"))
    from .units import convert, si_unit, unit_dimensionality

    unit = drive.option("unit", "1")
    factor = convert(1.0, unit, si_unit(unit_dimensionality(unit))) if unit not in ("", "1") else 1.0
    table = data.T if data.ndim == 2 else data[None, :]
    idx = np.minimum(np.floor(t / params[f"{p}.dt"] + 1e-9).astype(np.int64), table.shape[1] - 1)
    return table[:, idx] * factor, table.shape[0] > 1


@dataclass
class PointResult:
    """Raw output of one point: the kernel's outputs for all trials."""

    bits: np.ndarray        # (trials, n_bytes) uint8
    counts: np.ndarray      # (trials,) int64
    moments: np.ndarray     # (trials, n_mom) V every moments.every
    traces: np.ndarray      # (n_recorded, n_rec) V of recorded trials every record.every


def point_buffers(wf) -> PointResult:
    """Output arrays of one point for :func:`simulate_point` (``bits`` zeroed, as it needs)."""
    n = wf.n_steps
    return PointResult(bits=np.zeros((wf.trials, (n + 7) // 8), np.uint8),
                       counts=np.zeros(wf.trials, np.int64),
                       moments=np.empty((wf.trials, n // wf.moments_stride + 1)),
                       traces=np.empty((len(wf.record_trials), n // wf.record_stride + 1)))


def simulate_point(wf, params: dict[str, float], *, out: PointResult | None = None,
                   scratch: np.ndarray | None = None, streams=None) -> PointResult:
    """Simulate all trials of one grid point (``params`` from ``wf.point_params``).

    ``out`` (arrays shaped as :func:`point_buffers` gives, ``bits`` zeroed) receives
    the results, e.g. views into a block's arrays; ``scratch`` is the kernel's
    work space (``kernel.scratch_size(wf.n_steps)`` doubles), reused across points;
    ``streams`` the point's :func:`point_streams`, made beforehand. None of them
    changes the results.
    """
    n = wf.n_steps
    dt = wf.dt
    trials = wf.trials
    tau = params["neuron.tau_m"]
    leaky = not math.isinf(tau)
    streams = point_streams(wf, params) if streams is None else streams

    x_base = np.zeros(n)
    x_rows = []
    uni_mean, uni_half, lam, weights = [], [], [], []
    sigma2 = 0.0
    for d in wf.drives:
        p = f"inputs.{d.name}"
        if d.kind == "poisson":
            lam.append(params[f"{p}.n"] * params[f"{p}.rate"] * dt)
            weights.append(params[f"{p}.weight"])
            continue
        scale = _x_scale(wf, params, d.role)
        if d.kind == "constant":
            x_base += scale * params[f"{p}.value"]
        elif d.kind == "sine":
            x_base += scale * _sine(np.arange(n) * dt, params[f"{p}.mean"], params[f"{p}.amplitude"],
                                    params[f"{p}.frequency"], params[f"{p}.phase"])
        elif d.kind == "uniform":
            uni_mean.append(scale * params[f"{p}.mean"])
            uni_half.append(scale * params[f"{p}.half_width"])
        elif d.kind == "white_noise":
            sigma2 += (scale * params[f"{p}.sigma"]) ** 2
        else:  # random_steps, timed_array
            table, per_trial = _table(wf, d, params, streams["steps"])
            if per_trial:
                x_rows.append(scale * table)
            else:
                x_base += scale * table[0]
    x_trial_all = np.sum(x_rows, axis=0) if x_rows else None

    if leaky:
        a, leak, decay = dt / tau, 1.0, math.exp(-dt / tau)
    else:
        a, leak, decay = dt, 0.0, 1.0
    exact = wf.method == "exact"
    sigma = math.sqrt(sigma2)
    if sigma2 > 0:
        noise_scale = sigma * math.sqrt((1 - decay * decay) / 2) if exact else sigma * math.sqrt(dt / tau)
    else:
        noise_scale = 0.0
    uni_mean_a = np.asarray(uni_mean, float)
    uni_half_a = np.asarray(uni_half, float)
    lam_a = np.asarray(lam, float)
    weights_a = np.asarray(weights, float)

    res = out if out is not None else point_buffers(wf)
    bits, counts, moments, traces = res.bits, res.counts, res.moments, res.traces
    if scratch is None:
        scratch = np.empty(scratch_size(n))
    mom_stride = wf.moments_stride
    rec_stride = wf.record_stride
    rec_rows_all = np.full(trials, -1, np.int64)
    for i, tr in enumerate(wf.record_trials):
        rec_rows_all[tr] = i

    # The kernel draws every random number itself, bit for bit as the streams' own
    # Generator methods would (standard_normal, random, poisson), from the streams'
    # SFC64 states, written back afterwards. Only when numba's ziggurat tables are
    # not numpy's (FUSED_NORMALS) does numpy draw the normals, into a buffer.
    fused = sigma2 > 0 and FUSED_NORMALS
    noise_state = streams.state("noise") if fused else NO_STATE
    uni_state = streams.state("uniform") if uni_mean else NO_STATE
    poi_state = streams.state("poisson") if lam else NO_STATE
    enlam_a = np.array([math.exp(-x) for x in lam], float)  # the C library's exp, as numpy's sampler
    buffered_noise = sigma2 > 0 and not fused
    chunk = trials if not buffered_noise else max(1, min(trials, _CHUNK_NUMBERS // n))
    z_buf = np.empty((chunk, n)) if buffered_noise else EMPTY2
    for start in range(0, trials, chunk):
        stop = min(trials, start + chunk)
        m = stop - start
        z = streams["noise"].standard_normal(out=z_buf[:m]) if buffered_noise else EMPTY2
        x_trial = x_trial_all[start:stop] if x_trial_all is not None else EMPTY2
        lif_trials(
            params["neuron.v_init"], x_base, x_trial, a, leak, decay, exact,
            params["neuron.e_l"], params["neuron.v_th"], params["neuron.v_reset"],
            int(round(params["neuron.t_ref"] / dt)),
            z, noise_state, noise_scale, uni_state, uni_mean_a, uni_half_a, poi_state, lam_a, enlam_a, weights_a,
            mom_stride, moments[start:stop], rec_stride, rec_rows_all[start:stop], traces,
            bits[start:stop], counts[start:stop], scratch,
        )
    for name, state in (("noise", noise_state), ("uniform", uni_state), ("poisson", poi_state)):
        if state.shape[0]:
            streams.set_state(name, state)
    return res


def _sfc64_state(gen: np.random.Generator) -> np.ndarray:
    """The (4,) uint64 state of a Generator's SFC64 bit generator, for the kernel."""
    return np.array(gen.bit_generator.state["state"]["state"], dtype=np.uint64)


def _set_sfc64_state(gen: np.random.Generator, state: np.ndarray) -> None:
    st = gen.bit_generator.state
    st["state"]["state"] = state
    gen.bit_generator.state = st
