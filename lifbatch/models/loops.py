"""What every model's numba loop inlines: the per-step draws of the shared input streams
(the same order for every model: common random numbers across models), the continuous
drive of a step, and the recording of V.

The draws are the kernel's SFC64 samplers (:mod:`lifbatch.kernel`), bit for bit numpy's
``Generator(SFC64)``: one ``standard_normal`` of the white noise, one ``random()`` per
uniform drive, one ``poisson`` per Poisson drive, every step, in (trial, step, drive)
order per stream.
"""

from __future__ import annotations

import numba
import numpy as np

from ..kernel import sfc64_double, sfc64_normal, sfc64_poisson

__all__ = ["setup", "trial_start", "draw_step", "drive_at", "jump_total", "syn_current", "syn_update", "record_syn", "record",
           "unpack_states", "pack_states"]


@numba.njit(cache=True, nogil=True, inline="always")
def setup(bits_out, x_base, x_trial, uni_mean, weights, noise_state, st_out):  # pragma: no cover
    """What every loop knows before its first trial: trials, steps, whether there is a
    per-trial drive, the numbers of uniform and Poisson drives, whether white noise is
    drawn here and states recorded, and the per-step work arrays (uniforms, counts,
    conductances)."""
    k1 = uni_mean.shape[0]
    k2 = weights.shape[0]
    return (bits_out.shape[0], x_base.shape[0], x_trial.shape[0] > 0, k1, k2, noise_state.shape[0] == 4,
            st_out.shape[0] > 0, np.empty(k1), np.empty(k2, np.int64), np.zeros(k2))


@numba.njit(cache=True, nogil=True, inline="always")
def trial_start(v, tr, row, mom_out, rec_out, g):  # pragma: no cover
    """A trial's first samples (V at t = 0) and its conductances at 0; the moments' and the
    record's countdowns and indices."""
    g[:] = 0.0
    mom_out[tr, 0] = v
    if row >= 0:
        rec_out[row, 0] = v
    return 0, 1, 1


@numba.njit(cache=True, nogil=True, inline="always")
def draw_step(fused, k1, k2, lam, enlam, uni, cnt, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3):  # pragma: no cover
    """One step's draws: the white noise's normal (0.0 without noise), the uniforms into
    ``uni``, the Poisson counts into ``cnt``; the streams' new states."""
    zs = 0.0
    if fused:
        zs, s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
    for k in range(k1):
        uni[k], u0, u1, u2, u3 = sfc64_double(u0, u1, u2, u3)
    for k in range(k2):
        cnt[k], p0, p1, p2, p3 = sfc64_poisson(lam[k], enlam[k], p0, p1, p2, p3)
    return zs, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3


@numba.njit(cache=True, nogil=True, inline="always")
def drive_at(x_base, x_trial, has_xt, tr, s, k1, uni_mean, uni_half, uni):  # pragma: no cover
    """The continuous drive of step ``s`` of trial ``tr`` (the shared part, the trial's own,
    the uniform drives), in the order the LIF adds them."""
    x = x_base[s]
    if has_xt:
        x += x_trial[tr, s]
    for k in range(k1):
        x += uni_mean[k] + uni_half[k] * (2.0 * uni[k] - 1.0)
    return x


@numba.njit(cache=True, nogil=True, inline="always")
def jump_total(v, k2, weights, cnt, syn):  # pragma: no cover
    """V after the Poisson drives' jumps of the step (each added in turn, as the LIF does);
    the conductance drives (``syn[0, k] != 0``) do not jump V."""
    for k in range(k2):
        c = cnt[k]
        if c != 0 and syn[0, k] == 0.0:
            v += weights[k] * c
    return v


@numba.njit(cache=True, nogil=True, inline="always")
def syn_current(v, k2, syn, g):  # pragma: no cover
    """The synaptic current sum g_k (e_rev_k - v) of the conductance drives, at v."""
    i = 0.0
    for k in range(k2):
        if syn[0, k] != 0.0:
            i += g[k] * (syn[2, k] - v)
    return i


@numba.njit(cache=True, nogil=True, inline="always")
def syn_update(k2, syn, g, weights, cnt):  # pragma: no cover
    """The conductances at the end of the step: decayed exactly, plus the step's input spikes."""
    for k in range(k2):
        if syn[0, k] != 0.0:
            g[k] = g[k] * syn[1, k] + weights[k] * cnt[k]


@numba.njit(cache=True, nogil=True, inline="always")
def record_syn(st_out, first, row, i, k2, syn, g):  # pragma: no cover
    """The conductances into the state record, rows from ``first`` on, in drive order."""
    j = first
    for k in range(k2):
        if syn[0, k] != 0.0:
            st_out[j, row, i] = g[k]
            j += 1


@numba.njit(cache=True, nogil=True, inline="always")
def record(v, tr, row, mom_next, mom_i, mom_stride, mom_out, rec_next, rec_i, rec_stride, rec_out):  # pragma: no cover
    """V on the moments grid and, for a recorded trial (``row >= 0``), on the record grid."""
    mom_next -= 1
    if mom_next == 0:
        mom_out[tr, mom_i] = v
        mom_i += 1
        mom_next = mom_stride
    if row >= 0:
        rec_next -= 1
        if rec_next == 0:
            rec_out[row, rec_i] = v
            rec_i += 1
            rec_next = rec_stride
    return mom_next, mom_i, rec_next, rec_i


@numba.njit(cache=True, nogil=True, inline="always")
def unpack_states(noise_state, uni_state, poi_state):  # pragma: no cover
    z = np.uint64(0)
    s0 = s1 = s2 = s3 = z
    u0 = u1 = u2 = u3 = z
    p0 = p1 = p2 = p3 = z
    if noise_state.shape[0] == 4:
        s0, s1, s2, s3 = noise_state[0], noise_state[1], noise_state[2], noise_state[3]
    if uni_state.shape[0] == 4:
        u0, u1, u2, u3 = uni_state[0], uni_state[1], uni_state[2], uni_state[3]
    if poi_state.shape[0] == 4:
        p0, p1, p2, p3 = poi_state[0], poi_state[1], poi_state[2], poi_state[3]
    return s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3


@numba.njit(cache=True, nogil=True, inline="always")
def pack_states(noise_state, uni_state, poi_state, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3):  # pragma: no cover
    if noise_state.shape[0] == 4:
        noise_state[0], noise_state[1], noise_state[2], noise_state[3] = s0, s1, s2, s3
    if uni_state.shape[0] == 4:
        uni_state[0], uni_state[1], uni_state[2], uni_state[3] = u0, u1, u2, u3
    if poi_state.shape[0] == 4:
        poi_state[0], poi_state[1], poi_state[2], poi_state[3] = p0, p1, p2, p3


def call(loop, p_array, inputs: dict, out, extra=()) -> None:
    """``loop(params, *drive arguments, *extra, outputs...)`` with the point's inputs."""
    loop(p_array, inputs["x_base"], inputs["x_trial"], inputs["noise_state"], inputs["noise_scale"],
         inputs["uni_state"], inputs["uni_mean"], inputs["uni_half"], inputs["poi_state"], inputs["lam"],
         inputs["enlam"], inputs["weights"], inputs["syn"], *extra, inputs["mom_stride"], out.moments, inputs["rec_stride"],
         inputs["rec_rows"], out.traces, out.states, out.bits, out.counts)
