"""The random samplers every model's loop draws from, and the spike-train reductions
(numpy + numba only). The loops themselves are the models' (:mod:`lifbatch.models`; the
LIF's, which grew here, in ``lifbatch/models/lif_loop.py``).

Every random number is drawn inside a loop, in the step that uses
it, from the SFC64 state of its stream: normals by :func:`sfc64_normal` (numpy's
ziggurat), uniforms by :func:`sfc64_double` and Poisson counts by
:func:`sfc64_poisson` (numpy's multiplication method and PTRS), transcriptions
of numpy's samplers giving the very same numbers as ``Generator(SFC64)``'s
``standard_normal``, ``random`` and ``poisson`` (tests/test_bench.py checks them
bit for bit): drawn in the step, they need no per-step buffers and overlap with
the V update. Nothing here knows about dask, xarray or zarr.
"""

from __future__ import annotations

import hashlib
import math
import os

import numba
import numpy as np
from numba.core import config as _numba_config

__all__ = [
    "spike_train_stats",
    "ensemble_moments",
    "sfc64_normal",
    "sfc64_double",
    "sfc64_poisson",
    "sfc64_seed_states",
    "FUSED_NORMALS",
    "EMPTY2",
    "NO_STATE",
    "numba_cache_dir",
    "kernel_sources_digest",
    "kernels_cached",
    "COMPILE_SECONDS",
]


def numba_cache_dir() -> str:
    """Where numba keeps the compiled kernels: a folder named by :func:`kernel_sources_digest`
    in ``NUMBA_CACHE_DIR`` when set, else in the user's cache directory
    (``$XDG_CACHE_HOME/lifbatch/numba``, by default ``~/.cache/lifbatch/numba``), not beside
    the installed sources: a read-only or per-node install keeps them too, and nodes that
    share a home directory (and a CPU model) compile once.

    The digest is why a folder per version of the sources: numba keys a cached function by
    its own file only, so a loop whose inlined helpers changed in another file (the samplers
    here, ``models/lanes.py``'s exp) would keep its old machine code, and old numbers, after
    an upgrade (numba #6845); a new digest compiles afresh."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lifbatch", "numba"
    )
    return os.path.join(base, kernel_sources_digest())


def kernel_sources_digest(paths=None) -> str:
    """16 hex digits of SHA-256 over the numba sources (this module and ``lifbatch/models/``'s
    ``.py`` files, in name order; or ``paths``): what a compiled kernel depends on."""
    if paths is None:
        here = os.path.dirname(os.path.abspath(__file__))
        models = os.path.join(here, "models")
        paths = [os.path.abspath(__file__)] + sorted(
            os.path.join(models, n) for n in os.listdir(models) if n.endswith(".py")
        )
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        h.update(f"{os.path.basename(path)}:{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()[:16]


_numba_config.CACHE_DIR = numba_cache_dir()  # (NUMBA_CACHE_DIR too: numba read it when it was imported)

#: the first run's compilation of the kernels on a fresh machine (README, "What you get": the
#: quickstart's first run on this project's 2-core VM), said when the cache does not hold them
COMPILE_SECONDS = 10

EMPTY2 = np.zeros((0, 0))
NO_STATE = np.zeros(0, dtype=np.uint64)


def _ziggurat_tables():
    """numpy's ziggurat tables of the normal distribution (ziggurat_constants.h).

    numba keeps a verbatim copy; the digest pins the copy whose output was checked
    against numpy bit for bit. Any other copy (or none) turns the fused normals
    off (``FUSED_NORMALS = False``) and numpy draws them, with the same results.
    """
    try:
        # (here: numba's ziggurat tables, in a private module that other numba versions lack)
        from numba.np.random._constants import fi_double, ki_double, wi_double, ziggurat_nor_inv_r, ziggurat_nor_r
    except ImportError:  # pragma: no cover - other numba versions
        return None
    ki = np.ascontiguousarray(ki_double, dtype=np.uint64)
    wi = np.ascontiguousarray(wi_double, dtype=np.float64)
    fi = np.ascontiguousarray(fi_double, dtype=np.float64)
    consts = np.array([ziggurat_nor_r, ziggurat_nor_inv_r], dtype=np.float64)
    digest = hashlib.sha256(ki.tobytes() + wi.tobytes() + fi.tobytes() + consts.tobytes()).hexdigest()
    if digest != "be2df104f9983119c6286df9d3e96a4e2755b4d7c96f0c6cd115b9bc38a59d42":
        return None  # pragma: no cover
    return ki, wi, fi, float(consts[0]), float(consts[1])


_TABLES = _ziggurat_tables()
FUSED_NORMALS = _TABLES is not None
if _TABLES is None:  # pragma: no cover - placeholders; lif_trials is then never given a state
    _TABLES = (np.zeros(256, np.uint64), np.zeros(256), np.zeros(256), 0.0, 0.0)
_KI, _WI, _FI, _NOR_R, _NOR_INV_R = _TABLES
# The fast path's tables indexed by the draw's low 9 bits (the 8 of the index and the sign
# bit above them): wi with its sign, ki twice. rabs * (-wi) is -(rabs * wi) bit for bit
# (IEEE rounding is symmetric), so this is numpy's ``x = rabs * wi; if sign: x = -x``.
_KI2 = np.concatenate([_KI, _KI])
_WI2 = np.concatenate([_WI, -_WI])
_TWO_M53 = 1.0 / 9007199254740992.0
# numpy's random_loggam coefficients (distributions.c)
_LOGGAM_A = np.array(
    [
        8.333333333333333e-02,
        -2.777777777777778e-03,
        7.936507936507937e-04,
        -5.952380952380952e-04,
        8.417508417508418e-04,
        -1.917526917526918e-03,
        6.410256410256410e-03,
        -2.955065359477124e-02,
        1.796443723688307e-01,
        -1.39243221690590e00,
    ]
)


@numba.njit(cache=True, nogil=True, inline="always")
def _sfc64_next(s0, s1, s2, s3):  # pragma: no cover - compiled
    """numpy's sfc64_next64 (random/src/sfc64/sfc64.h): output and the new state."""
    tmp = s0 + s1 + s3
    return (
        tmp,
        s1 ^ (s1 >> np.uint64(11)),
        s2 + (s2 << np.uint64(3)),
        ((s2 << np.uint64(24)) | (s2 >> np.uint64(40))) + tmp,
        s3 + np.uint64(1),
    )


@numba.njit(cache=True, nogil=True, inline="always")
def _to_double(u):  # pragma: no cover - compiled
    """numpy's next_double from a uint64: (u >> 11) * 2**-53 (signed conversion: exact, faster)."""
    return np.float64(np.int64(u >> np.uint64(11))) * _TWO_M53


@numba.njit(cache=True, nogil=True, inline="always")
def sfc64_normal(s0, s1, s2, s3):  # pragma: no cover - compiled
    """One standard normal from an SFC64 state, as numpy's ``random_standard_normal``.

    A transcription of numpy/random/src/distributions/distributions.c (ziggurat),
    split into this inlined fast path (99.3% of draws) and
    :func:`_sfc64_normal_rejected`. Returns ``(x, s0, s1, s2, s3)``. Integers
    below 2**53 become doubles by a signed conversion: exact, so the same bits.
    """
    r, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)
    # index and sign in one: a signed table entry, no branch on the sign (a random branch
    # is mispredicted half the time) and no arithmetic for it (a factor of +-1.0 cost ~6%)
    idx_sign = np.intp(r & np.uint64(0x1FF))
    rabs = (r >> np.uint64(9)) & np.uint64(0x000FFFFFFFFFFFFF)
    if rabs < _KI2[idx_sign]:
        return np.float64(np.int64(rabs)) * _WI2[idx_sign], s0, s1, s2, s3
    return _sfc64_normal_rejected(r, s0, s1, s2, s3)


@numba.njit(cache=True, nogil=True)
def _sfc64_normal_rejected(r, s0, s1, s2, s3):  # pragma: no cover - compiled
    """The rest of numpy's ziggurat loop for a first draw ``r`` outside its rectangle.

    ``exp`` and ``log1p`` are the C library's, as in numpy.
    """
    while True:
        idx = np.intp(r & np.uint64(0xFF))
        r = r >> np.uint64(8)
        rabs = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
        x = np.float64(np.int64(rabs)) * _WI[idx]
        if r & np.uint64(1):
            x = -x
        if rabs < _KI[idx]:
            return x, s0, s1, s2, s3
        if idx == 0:  # the tail
            while True:
                u, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)
                xx = -_NOR_INV_R * math.log1p(-_to_double(u))
                u, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)
                yy = -math.log1p(-_to_double(u))
                if yy + yy > xx * xx:
                    if (rabs >> np.uint64(8)) & np.uint64(1):
                        return -(_NOR_R + xx), s0, s1, s2, s3
                    return _NOR_R + xx, s0, s1, s2, s3
        u, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)
        if (_FI[idx - 1] - _FI[idx]) * _to_double(u) + _FI[idx] < math.exp(-0.5 * x * x):
            return x, s0, s1, s2, s3
        r, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)


@numba.njit(cache=True, nogil=True, inline="always")
def sfc64_double(s0, s1, s2, s3):  # pragma: no cover - compiled
    """One double in [0, 1) from an SFC64 state, as numpy's ``Generator.random``
    (``next_double``). Returns ``(u, s0, s1, s2, s3)``."""
    r, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)
    return _to_double(r), s0, s1, s2, s3


@numba.njit(cache=True, nogil=True, inline="always")
def sfc64_poisson(lam, enlam, s0, s1, s2, s3):  # pragma: no cover - compiled
    """One Poisson(lam) count from an SFC64 state, as numpy's ``Generator.poisson``.

    A transcription of ``random_poisson`` (numpy/random/src/distributions/
    distributions.c): nothing drawn for ``lam == 0``; the multiplication method for
    ``lam < 10`` (inlined here: uniforms multiplied until their product is at most
    ``enlam = exp(-lam)``, which the caller computes once, with the C library's
    ``exp`` as numpy does per call); Hoermann's transformed rejection (PTRS) for
    ``lam >= 10`` (:func:`_sfc64_poisson_ptrs`). Returns ``(k, s0, s1, s2, s3)``.
    """
    if lam >= 10.0:
        return _sfc64_poisson_ptrs(lam, s0, s1, s2, s3)
    k = 0
    if lam == 0.0:
        return k, s0, s1, s2, s3
    prod = 1.0
    while True:
        r, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)
        prod *= _to_double(r)
        if prod > enlam:
            k += 1
        else:
            return k, s0, s1, s2, s3


@numba.njit(cache=True, nogil=True)
def _loggam(x):  # pragma: no cover - compiled
    """numpy's ``random_loggam`` (distributions.c): log Gamma(x), as its PTRS uses it."""
    if x == 1.0 or x == 2.0:
        return 0.0
    n = np.int64(7 - x) if x < 7.0 else np.int64(0)
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = _LOGGAM_A[9]
    for k in range(8, -1, -1):
        gl0 *= x2
        gl0 += _LOGGAM_A[k]
    gl = gl0 / x0 + 0.5 * 1.8378770664093453 + (x0 - 0.5) * math.log(x0) - x0
    if x < 7.0:
        for k in range(1, n + 1):
            gl -= math.log(x0 - 1.0)
            x0 -= 1.0
    return gl


@numba.njit(cache=True, nogil=True)
def _sfc64_poisson_ptrs(lam, s0, s1, s2, s3):  # pragma: no cover - compiled
    """numpy's ``random_poisson_ptrs`` (W. Hoermann 1993), for ``lam >= 10``."""
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        r, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)
        u = _to_double(r) - 0.5
        r, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)
        v = _to_double(r)
        us = 0.5 - abs(u)
        k = np.int64(np.floor((2 * a / us + b) * u + lam + 0.43))
        if us >= 0.07 and v <= vr:
            return k, s0, s1, s2, s3
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)) <= (
            -lam + k * loglam - _loggam(np.float64(k + 1))
        ):
            return k, s0, s1, s2, s3


# numpy's SeedSequence constants (numpy/random/bit_generator.pyx)
# (as uint64: numba would turn uint64 mixed with int64 into float64)
_INIT_A, _MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
_INIT_B, _MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
_MIX_L, _MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_M32, _SHIFT16, _SHIFT32 = np.uint64(0xFFFFFFFF), np.uint64(16), np.uint64(32)


@numba.njit(cache=True, nogil=True, inline="always")
def _hashmix(value, h):  # pragma: no cover - compiled
    """SeedSequence's ``hashmix`` in 64-bit arithmetic, masked to 32 bits: ``(value, h)``."""
    value = (value ^ h) & _M32
    h = (h * _MULT_A) & _M32
    value = (value * h) & _M32
    return value ^ (value >> _SHIFT16), h


@numba.njit(cache=True, nogil=True, inline="always")
def _mix(x, y):  # pragma: no cover - compiled
    r = ((_MIX_L * x) - (_MIX_R * y)) & _M32
    return r ^ (r >> _SHIFT16)


@numba.njit(cache=True, nogil=True)
def sfc64_seed_states(entropy, lengths, stream):  # pragma: no cover - compiled
    """The initial states of ``SFC64(SeedSequence(key, spawn_key=(stream,)))``, one per key.

    A transcription of numpy's ``SeedSequence`` (``_int_to_uint32_array``,
    ``get_assembled_entropy``, ``mix_entropy``, ``generate_state(3, np.uint64)``;
    pool size 4) and of SFC64's seeding (``sfc64_set_seed``: the three words, a
    counter of 1, twelve rounds), for many keys in one call: numpy's objects cost
    about 100 us per point and stream, this a fraction of a microsecond
    (tests/test_bench.py compares them bit for bit).

    Parameters
    ----------
    entropy : (n, w) uint64   each key's 32-bit words, least significant first
    lengths : (n,) int64      the number of words of each key (at least 1: ``0`` is one word)
    stream : int              the spawn key's one word

    Returns
    -------
    (n, 4) uint64 SFC64 states
    """
    n = entropy.shape[0]
    out = np.empty((n, 4), np.uint64)
    ent = np.zeros(max(entropy.shape[1], 4) + 1, np.uint64)
    pool = np.empty(4, np.uint64)
    words = np.empty(6, np.uint64)
    for p in range(n):
        m = lengths[p]
        for i in range(m):
            ent[i] = entropy[p, i]
        while m < 4:  # a spawned sequence pads short run entropy with zeros to the pool size
            ent[m] = np.uint64(0)
            m += 1
        ent[m] = np.uint64(stream)
        m += 1
        h = _INIT_A
        for i in range(4):
            pool[i], h = _hashmix(ent[i], h)
        for src in range(4):
            for dst in range(4):
                if src != dst:
                    hv, h = _hashmix(pool[src], h)
                    pool[dst] = _mix(pool[dst], hv)
        for src in range(4, m):
            for dst in range(4):
                hv, h = _hashmix(ent[src], h)
                pool[dst] = _mix(pool[dst], hv)
        hb = _INIT_B
        for i in range(6):
            d = (pool[i % 4] ^ hb) & _M32
            hb = (hb * _MULT_B) & _M32
            d = (d * hb) & _M32
            words[i] = d ^ (d >> _SHIFT16)
        s0 = words[0] | (words[1] << _SHIFT32)
        s1 = words[2] | (words[3] << _SHIFT32)
        s2 = words[4] | (words[5] << _SHIFT32)
        s3 = np.uint64(1)
        for _ in range(12):
            _, s0, s1, s2, s3 = _sfc64_next(s0, s1, s2, s3)
        out[p, 0], out[p, 1], out[p, 2], out[p, 3] = s0, s1, s2, s3
    return out


@numba.njit(cache=True, nogil=True)
def spike_train_stats(bits, n_steps, warmup_steps, edges_steps):  # pragma: no cover - compiled
    """Spike counts after warmup and pooled ISI statistics of packed rasters.

    Parameters
    ----------
    bits : (n_points, n_trials, n_bytes) uint8   packed rasters (bit s: spike at step s+1)
    n_steps : int
    warmup_steps : int                           spikes at step index s count if s + 1 > warmup_steps
    edges_steps : (n_bins + 1,) float            ISI histogram edges, in steps (np.histogram rules)

    Returns
    -------
    counts : (n_points, n_trials) int64          spikes after warmup
    isi_n, isi_sum, isi_sumsq : (n_points,) int64  pooled ISIs (in steps) after warmup
    hist : (n_points, n_bins) int64
    """
    n_points, n_trials, n_bytes = bits.shape
    n_bins = edges_steps.shape[0] - 1
    counts = np.zeros((n_points, n_trials), np.int64)
    isi_n = np.zeros(n_points, np.int64)
    isi_sum = np.zeros(n_points, np.int64)
    isi_sumsq = np.zeros(n_points, np.int64)
    hist = np.zeros((n_points, n_bins), np.int64)
    lo = edges_steps[0]
    hi = edges_steps[n_bins]
    for p in range(n_points):
        for tr in range(n_trials):
            last = -1
            for b in range(n_bytes):
                byte = bits[p, tr, b]
                if byte == 0:
                    continue
                for j in range(8):
                    if byte & (128 >> j):
                        s = b * 8 + j
                        if s >= n_steps or s + 1 <= warmup_steps:
                            continue
                        counts[p, tr] += 1
                        if last >= 0:
                            isi = s - last
                            isi_n[p] += 1
                            isi_sum[p] += isi
                            isi_sumsq[p] += isi * isi
                            if n_bins > 0 and isi >= lo and isi <= hi:
                                k = np.searchsorted(edges_steps, isi, side="right") - 1
                                if k >= n_bins:
                                    k = n_bins - 1
                                hist[p, k] += 1
                        last = s
    return counts, isi_n, isi_sum, isi_sumsq, hist


@numba.njit(cache=True, nogil=True)
def ensemble_moments(v, j0, n_lag):  # pragma: no cover - compiled
    """V mean and variance over trials, and the ensemble autocovariance after ``j0``.

    Parameters
    ----------
    v : (n_points, n_trials, n_times) float   V sampled on the moments grid
    j0 : int                                  first sample after warmup
    n_lag : int                               lags 0 .. n_lag-1 (in samples)

    Returns
    -------
    mean, var : (n_points, n_times) float     over trials (var: ddof=1, NaN for one trial)
    autocov : (n_points, n_lag) float         mean over j >= j0 (j + lag < n_times) of
        sum_n (v[n, j] - <v[j]>)(v[n, j+lag] - <v[j+lag]>) / (n_trials - 1); NaN for
        fewer than 2 trials or no such j.

    Every sum runs in a fixed order (trials, then sample times), with the loops
    arranged as elementwise updates over times or lags, which the compiler
    vectorizes without reordering any sum. Two passes over ``v``: the mean, then,
    trial by trial, the trial's deviations (in a buffer of one row, which stays in
    the L1 cache) added to the squares and to the autocovariance at once; no
    (n_trials, n_times) temporary (its allocation and the extra passes over it
    took more time than the products).
    """
    n_points, n_trials, n_t = v.shape
    mean = np.empty((n_points, n_t))
    var = np.full((n_points, n_t), np.nan)
    out = np.full((n_points, n_lag), np.nan)
    d = np.empty(n_t)
    sq = np.empty(n_t)
    acc = np.empty(n_lag)
    for p in range(n_points):
        m = mean[p]
        m[:] = 0.0
        for n in range(n_trials):
            row = v[p, n]
            for j in range(n_t):
                m[j] += row[j]
        for j in range(n_t):
            m[j] /= n_trials
        if n_trials < 2:
            continue
        sq[:] = 0.0
        acc[:] = 0.0
        for n in range(n_trials):
            row = v[p, n]
            for j in range(n_t):
                d[j] = row[j] - m[j]
            for j in range(n_t):
                sq[j] += d[j] * d[j]
            j = j0
            # eight sample times at a time while all their lags exist: each acc[lag]
            # gets the same additions in the same order (j ascending), with one load
            # and store of it per eight
            while j + 7 + n_lag <= n_t:
                d0, d1, d2, d3 = d[j], d[j + 1], d[j + 2], d[j + 3]
                d4, d5, d6, d7 = d[j + 4], d[j + 5], d[j + 6], d[j + 7]
                s0, s1, s2, s3 = (
                    d[j : j + n_lag],
                    d[j + 1 : j + 1 + n_lag],
                    d[j + 2 : j + 2 + n_lag],
                    d[j + 3 : j + 3 + n_lag],
                )
                s4, s5 = d[j + 4 : j + 4 + n_lag], d[j + 5 : j + 5 + n_lag]
                s6, s7 = d[j + 6 : j + 6 + n_lag], d[j + 7 : j + 7 + n_lag]
                for lag in range(n_lag):
                    acc[lag] = (
                        (
                            (
                                ((((acc[lag] + d0 * s0[lag]) + d1 * s1[lag]) + d2 * s2[lag]) + d3 * s3[lag])
                                + d4 * s4[lag]
                            )
                            + d5 * s5[lag]
                        )
                        + d6 * s6[lag]
                    ) + d7 * s7[lag]
                j += 8
            while j < n_t:
                dj = d[j]
                k = min(n_lag, n_t - j)
                seg = d[j : j + k]
                a = acc[:k]
                for lag in range(k):
                    a[lag] += dj * seg[lag]
                j += 1
        for j in range(n_t):
            var[p, j] = sq[j] / (n_trials - 1)
        for lag in range(n_lag):
            count = n_t - lag - j0
            if count > 0:
                out[p, lag] = acc[lag] / (n_trials - 1) / count
    return mean, var, out


def kernels_cached(loops=()) -> bool | None:
    """Whether numba's cache holds the kernels a run calls (``loops``: the model's numba loops,
    which the models import from here, and these samplers and reductions), compiled for this
    CPU and from these sources (else the first call compiles them, ~:data:`COMPILE_SECONDS` s);
    None when numba's cache cannot be inspected (its layout is numba's own)."""
    try:
        for dispatcher in (*loops, sfc64_seed_states, spike_train_stats, ensemble_moments):
            if dispatcher.signatures:  # compiled (or loaded) in this process already
                continue
            magic = dispatcher.targetctx.codegen().magic_tuple()
            index = dispatcher._cache._cache_file._load_index()  # {} when missing or stale
            if not any(key[1] == magic for key in index):
                return False
        return True
    except Exception:  # pragma: no cover - another numba's cache layout
        return None
