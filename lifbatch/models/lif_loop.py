"""The LIF's loops (the model ``lif``): :func:`lif_trials`, the fused time-step loop every
LIF workflow runs, with its specializations for white noise and for one Poisson drive
(moved here from :mod:`lifbatch.kernel` unchanged, so bit for bit as before), and
:func:`lif_syn_trials` for conductance inputs (``poisson_conductance``): the same step with
the synaptic current ``g (e_rev - v)`` at the start of the step added to the drive ``x``
(its conductances scaled by ``r_m``: ``x`` is a voltage).

The step order is part of the contract (docs/workflow.md, "One time step"): a refractory
neuron stays at ``v_reset`` and counts down; otherwise V is advanced by leak and drives
(continuous drives evaluated at the start of the step), jumps are added, and a spike is
recorded at t+dt when V > v_th, after which V = v_reset for ``ref_steps`` steps."""

from __future__ import annotations

import numba
import numpy as np

from ..kernel import sfc64_double, sfc64_normal, sfc64_poisson
from .loops import pack_states, unpack_states

__all__ = ["lif_trials", "scratch_size", "lif_syn_trials"]


@numba.njit(cache=True, nogil=True)
def lif_trials(
    v_init,
    x_base,
    x_trial,
    a,
    leak,
    decay,
    exact,
    e_l,
    v_th,
    v_reset,
    ref_steps,
    z,
    noise_state,
    noise_scale,
    uni_state,
    uni_mean,
    uni_half,
    poi_state,
    lam,
    enlam,
    weights,
    mom_stride,
    mom_out,
    rec_stride,
    rec_rows,
    rec_out,
    bits_out,
    count_out,
    scratch,
):  # pragma: no cover - compiled
    """Advance ``n_trials`` neurons through ``n_steps`` steps.

    Every random number is drawn here, in the step that uses it, from the SFC64
    state of its stream (written back afterwards), bit for bit as numpy's
    Generator on that stream would draw it: per stream in (trial, step, drive)
    order, and also in refractory steps, as a buffer filled by numpy would be.

    Parameters
    ----------
    v_init : float                          initial V
    x_base : (n_steps,)                     continuous drive shared by all trials (see below)
    x_trial : (n_trials, n_steps) or (0, 0) per-trial continuous drive, added to x_base
    a, leak, decay : floats                 Euler: V += a*(leak*(e_l - V) + x);
                                            exact: V = V_inf + (V - V_inf)*decay with V_inf = e_l + x
                                            (no leak, leak == 0: V += a*x)
    exact : bool
    z : (n_trials, n_steps) or (0, 0)       standard normals, times ``noise_scale``
    noise_state : (4,) uint64 or (0,)       with z empty: SFC64 state of the noise stream; one
                                            ``standard_normal`` per trial and step
    uni_state : (4,) uint64 or (0,)         SFC64 state of the uniform stream: one ``random()`` per
                                            trial, step and uniform drive
    uni_mean, uni_half : (K1,)              the K1 uniform drives, in x units
    poi_state : (4,) uint64 or (0,)         SFC64 state of the Poisson stream: one ``poisson(lam[k])``
                                            per trial, step and Poisson drive k
    lam, enlam, weights : (K2,)             the K2 Poisson drives: mean count per step, exp(-lam)
                                            (the C library's exp), jump per input spike
    mom_stride : int                        store V every ``mom_stride`` steps in mom_out (n_trials, n_mom)
    rec_stride, rec_rows, rec_out           same for recorded trials: rec_rows[trial] is the row of
                                            rec_out, or -1
    bits_out : (n_trials, ceil(n_steps/8)) uint8, zeroed; bit s set = spike at (s+1)*dt
    count_out : (n_trials,) int64           spikes per trial
    scratch : (k,) float                    work space of the white-noise loop, reused across
                                            calls (allocated here when k < scratch_size(n_steps))
    """
    n_trials = bits_out.shape[0]
    n_steps = x_base.shape[0]
    has_xt = x_trial.shape[0] > 0
    has_z = z.shape[0] > 0
    k1 = uni_mean.shape[0]
    k2 = weights.shape[0]
    # Fused: the normal of a step is drawn in the step itself. Its dependency chain
    # (the SFC64 state) is independent of V's, so the CPU overlaps the two.
    fused = not has_z and noise_state.shape[0] == 4
    if fused and not has_xt and k1 == 0 and k2 == 0:
        _lif_trials_white_noise(
            v_init,
            x_base,
            a,
            leak,
            decay,
            exact,
            e_l,
            v_th,
            v_reset,
            ref_steps,
            noise_state,
            noise_scale,
            mom_stride,
            mom_out,
            rec_stride,
            rec_rows,
            rec_out,
            bits_out,
            count_out,
            scratch,
        )
        return
    if not has_z and not fused and not has_xt and k1 == 0 and k2 == 1 and leak != 0.0:
        _lif_trials_one_poisson(
            v_init,
            x_base,
            a,
            decay,
            exact,
            e_l,
            v_th,
            v_reset,
            ref_steps,
            poi_state,
            lam[0],
            enlam[0],
            weights[0],
            mom_stride,
            mom_out,
            rec_stride,
            rec_rows,
            rec_out,
            bits_out,
            count_out,
        )
        return
    s0 = s1 = s2 = s3 = np.uint64(0)
    if fused:
        s0, s1, s2, s3 = noise_state[0], noise_state[1], noise_state[2], noise_state[3]
    u0 = u1 = u2 = u3 = np.uint64(0)
    if k1 > 0:
        u0, u1, u2, u3 = uni_state[0], uni_state[1], uni_state[2], uni_state[3]
    p0 = p1 = p2 = p3 = np.uint64(0)
    if k2 > 0:
        p0, p1, p2, p3 = poi_state[0], poi_state[1], poi_state[2], poi_state[3]
    uni = np.empty(k1)
    cnt = np.empty(k2, np.int64)
    zs = 0.0
    for tr in range(n_trials):
        v = v_init
        ref = 0
        nspk = 0
        row = rec_rows[tr]
        mom_out[tr, 0] = v
        if row >= 0:
            rec_out[row, 0] = v
        mom_next = mom_stride
        mom_i = 1
        rec_next = rec_stride
        rec_i = 1
        for s in range(n_steps):
            # every stream is drawn also when refractory, as numpy's buffers would be
            if fused:
                zs, s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
            for k in range(k1):
                uni[k], u0, u1, u2, u3 = sfc64_double(u0, u1, u2, u3)
            for k in range(k2):
                cnt[k], p0, p1, p2, p3 = sfc64_poisson(lam[k], enlam[k], p0, p1, p2, p3)
            if ref > 0:
                ref -= 1
                v = v_reset
            else:
                x = x_base[s]
                if has_xt:
                    x += x_trial[tr, s]
                for k in range(k1):
                    x += uni_mean[k] + uni_half[k] * (2.0 * uni[k] - 1.0)
                if exact:
                    if leak != 0.0:
                        v_inf = e_l + x
                        v = v_inf + (v - v_inf) * decay
                    else:
                        v = v + a * x
                else:
                    v = v + a * (leak * (e_l - v) + x)
                if has_z:
                    v += noise_scale * z[tr, s]
                elif fused:
                    v += noise_scale * zs
                for k in range(k2):
                    c = cnt[k]
                    if c != 0:
                        v += weights[k] * c
                if v > v_th:
                    bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                    nspk += 1
                    v = v_reset
                    ref = ref_steps
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
        count_out[tr] = nspk
    if fused:
        noise_state[0], noise_state[1], noise_state[2], noise_state[3] = s0, s1, s2, s3
    if k1 > 0:
        uni_state[0], uni_state[1], uni_state[2], uni_state[3] = u0, u1, u2, u3
    if k2 > 0:
        poi_state[0], poi_state[1], poi_state[2], poi_state[3] = p0, p1, p2, p3


@numba.njit(cache=True, nogil=True)
def _lif_trials_one_poisson(
    v_init,
    x_base,
    a,
    decay,
    exact,
    e_l,
    v_th,
    v_reset,
    ref_steps,
    poi_state,
    lam,
    enlam,
    w,
    mom_stride,
    mom_out,
    rec_stride,
    rec_rows,
    rec_out,
    bits_out,
    count_out,
):  # pragma: no cover - compiled
    """:func:`lif_trials` specialized to one Poisson drive (the Brian2 tutorial's 100 inputs,
    NMA's excitatory input) and shared continuous drives of a leaky neuron: its count a
    scalar, the jump added as a select rather than a branch (mispredicted at every input
    spike), no uniform or noise stream; the same operations in the same order (so the same bits)."""
    n_trials = bits_out.shape[0]
    n_steps = x_base.shape[0]
    p0, p1, p2, p3 = poi_state[0], poi_state[1], poi_state[2], poi_state[3]
    for tr in range(n_trials):
        v = v_init
        ref = 0
        nspk = 0
        row = rec_rows[tr]
        mom_out[tr, 0] = v
        if row >= 0:
            rec_out[row, 0] = v
        mom_next = mom_stride
        mom_i = 1
        rec_next = rec_stride
        rec_i = 1
        for s in range(n_steps):
            c, p0, p1, p2, p3 = sfc64_poisson(lam, enlam, p0, p1, p2, p3)
            if ref > 0:
                ref -= 1
                v = v_reset
            else:
                x = x_base[s]
                if exact:
                    v_inf = e_l + x
                    v = v_inf + (v - v_inf) * decay
                else:
                    v = v + a * ((e_l - v) + x)
                jumped = v + w * c
                v = jumped if c != 0 else v
                if v > v_th:
                    bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                    nspk += 1
                    v = v_reset
                    ref = ref_steps
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
        count_out[tr] = nspk
    poi_state[0], poi_state[1], poi_state[2], poi_state[3] = p0, p1, p2, p3


#: trials advanced together by the white-noise loop (independent V chains in flight)
_GROUP = 4


def scratch_size(n_steps: int) -> int:
    """Length of the ``scratch`` work space :func:`lif_trials` needs for ``n_steps`` steps."""
    return 2 * _GROUP * int(n_steps)


@numba.njit(cache=True, nogil=True, inline="always")
def _lif_step(v, ref, x, z, a, leak, decay, exact, e_l, v_th, v_reset, ref_steps, noise_scale):
    """One step of one neuron in the contract's order; returns ``(v, ref, spiked)``.

    The same operations as the step of :func:`lif_trials` (so the same bits).
    """
    if ref > 0:
        return v_reset, ref - 1, False
    if exact:
        if leak != 0.0:
            v_inf = e_l + x
            v = v_inf + (v - v_inf) * decay
        else:
            v = v + a * x
    else:
        v = v + a * (leak * (e_l - v) + x)
    v += noise_scale * z
    if v > v_th:
        return v_reset, ref_steps, True
    return v, ref, False


@numba.njit(cache=True, nogil=True)
def _lif_trials_white_noise(
    v_init,
    x_base,
    a,
    leak,
    decay,
    exact,
    e_l,
    v_th,
    v_reset,
    ref_steps,
    noise_state,
    noise_scale,
    mom_stride,
    mom_out,
    rec_stride,
    rec_rows,
    rec_out,
    bits_out,
    count_out,
    scratch,
):  # pragma: no cover - compiled
    """:func:`lif_trials` specialized to fused white noise and shared drives only.

    The same operations in the same order (so the same bits), organized for speed:

    - trials go in groups of ``_GROUP``, advanced together step by step, so that
      the CPU has four independent V dependency chains to overlap (one chain is
      latency-bound: each step waits for the previous one's additions);
    - the normals of a group are read from a buffer that was filled, in the
      stream's (trial, step) order, while the previous group ran: the draws
      overlap with the V updates too;
    - the remaining ``n_trials % _GROUP`` trials run one at a time, drawing
      their normals in the step.

    The buffers hold ``2 * _GROUP * n_steps`` doubles, whatever the number of
    trials: ``scratch`` when it is that large (callers reuse one across points,
    sparing an allocation and its page faults per call), else allocated here.
    """
    n_trials = bits_out.shape[0]
    n_steps = x_base.shape[0]
    s0, s1, s2, s3 = noise_state[0], noise_state[1], noise_state[2], noise_state[3]
    n_groups = n_trials // _GROUP
    if n_groups > 0:
        if scratch.shape[0] >= 2 * _GROUP * n_steps:
            zbuf = scratch[: 2 * _GROUP * n_steps].reshape((2, _GROUP * n_steps))
        else:
            zbuf = np.empty((2, _GROUP * n_steps))
        for k in range(_GROUP * n_steps):  # the first group's normals
            zbuf[0, k], s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
    for g in range(n_groups):
        z = zbuf[g & 1]  # this group's normals: trial j, step s at j * n_steps + s
        znext = zbuf[(g + 1) & 1]
        draw = g + 1 < n_groups
        t0 = g * _GROUP
        t1, t2, t3 = t0 + 1, t0 + 2, t0 + 3
        o1, o2, o3 = n_steps, 2 * n_steps, 3 * n_steps
        w0, w1, w2, w3 = rec_rows[t0], rec_rows[t1], rec_rows[t2], rec_rows[t3]
        rec_any = w0 >= 0 or w1 >= 0 or w2 >= 0 or w3 >= 0
        v0 = v1 = v2 = v3 = v_init
        r0 = r1 = r2 = r3 = 0
        c0 = c1 = c2 = c3 = 0
        for t in range(t0, t0 + _GROUP):
            mom_out[t, 0] = v_init
            if rec_rows[t] >= 0:
                rec_out[rec_rows[t], 0] = v_init
        mom_next = mom_stride
        mom_i = 1
        rec_next = rec_stride
        rec_i = 1
        for s in range(n_steps):
            if draw:
                k = s * _GROUP
                znext[k], s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
                znext[k + 1], s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
                znext[k + 2], s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
                znext[k + 3], s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
            x = x_base[s]
            byte = s >> 3
            bit = np.uint8(128 >> (s & 7))
            v0, r0, spk = _lif_step(v0, r0, x, z[s], a, leak, decay, exact, e_l, v_th, v_reset, ref_steps, noise_scale)
            if spk:
                bits_out[t0, byte] |= bit
                c0 += 1
            v1, r1, spk = _lif_step(
                v1, r1, x, z[o1 + s], a, leak, decay, exact, e_l, v_th, v_reset, ref_steps, noise_scale
            )
            if spk:
                bits_out[t1, byte] |= bit
                c1 += 1
            v2, r2, spk = _lif_step(
                v2, r2, x, z[o2 + s], a, leak, decay, exact, e_l, v_th, v_reset, ref_steps, noise_scale
            )
            if spk:
                bits_out[t2, byte] |= bit
                c2 += 1
            v3, r3, spk = _lif_step(
                v3, r3, x, z[o3 + s], a, leak, decay, exact, e_l, v_th, v_reset, ref_steps, noise_scale
            )
            if spk:
                bits_out[t3, byte] |= bit
                c3 += 1
            mom_next -= 1
            if mom_next == 0:
                mom_out[t0, mom_i] = v0
                mom_out[t1, mom_i] = v1
                mom_out[t2, mom_i] = v2
                mom_out[t3, mom_i] = v3
                mom_i += 1
                mom_next = mom_stride
            if rec_any:  # (else nothing to record; the bench's every-step stride cost 4 tests a step)
                rec_next -= 1
                if rec_next == 0:
                    if w0 >= 0:
                        rec_out[w0, rec_i] = v0
                    if w1 >= 0:
                        rec_out[w1, rec_i] = v1
                    if w2 >= 0:
                        rec_out[w2, rec_i] = v2
                    if w3 >= 0:
                        rec_out[w3, rec_i] = v3
                    rec_i += 1
                    rec_next = rec_stride
        count_out[t0], count_out[t1], count_out[t2], count_out[t3] = c0, c1, c2, c3
    for tr in range(n_groups * _GROUP, n_trials):
        v = v_init
        ref = 0
        nspk = 0
        row = rec_rows[tr]
        mom_out[tr, 0] = v
        if row >= 0:
            rec_out[row, 0] = v
        mom_next = mom_stride
        mom_i = 1
        rec_next = rec_stride
        rec_i = 1
        for s in range(n_steps):
            zs, s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
            v, ref, spk = _lif_step(
                v, ref, x_base[s], zs, a, leak, decay, exact, e_l, v_th, v_reset, ref_steps, noise_scale
            )
            if spk:
                bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                nspk += 1
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
        count_out[tr] = nspk
    noise_state[0], noise_state[1], noise_state[2], noise_state[3] = s0, s1, s2, s3


@numba.njit(cache=True, nogil=True)
def lif_syn_trials(
    p,
    x_base,
    x_trial,
    noise_state,
    noise_scale,
    uni_state,
    uni_mean,
    uni_half,
    poi_state,
    lam,
    enlam,
    weights,
    syn,
    ref_steps,
    mom_stride,
    mom_out,
    rec_stride,
    rec_rows,
    rec_out,
    st_out,
    bits_out,
    count_out,
):  # pragma: no cover - compiled
    a, leak, decay, exact, e_l, v_th, v_reset, v_init = p[0], p[1], p[2], p[3] != 0.0, p[4], p[5], p[6], p[7]
    n_trials = bits_out.shape[0]
    n_steps = x_base.shape[0]
    has_xt = x_trial.shape[0] > 0
    k1 = uni_mean.shape[0]
    k2 = weights.shape[0]
    fused = noise_state.shape[0] == 4
    st_on = st_out.shape[0] > 0
    uni = np.empty(k1)
    cnt = np.empty(k2, np.int64)
    g = np.zeros(k2)
    s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = unpack_states(noise_state, uni_state, poi_state)
    for tr in range(n_trials):
        v = v_init
        ref = 0
        nspk = 0
        g[:] = 0.0
        row = rec_rows[tr]
        mom_out[tr, 0] = v
        if row >= 0:
            rec_out[row, 0] = v
            if st_on:
                q = 0
                for j in range(k2):
                    if syn[0, j] != 0.0:
                        st_out[q, row, 0] = g[j]
                        q += 1
        mom_next, mom_i, rec_next, rec_i = mom_stride, 1, rec_stride, 1
        for s in range(n_steps):
            zs = 0.0
            if fused:
                zs, s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
            for j in range(k1):
                uni[j], u0, u1, u2, u3 = sfc64_double(u0, u1, u2, u3)
            for j in range(k2):
                cnt[j], p0, p1, p2, p3 = sfc64_poisson(lam[j], enlam[j], p0, p1, p2, p3)
            if ref > 0:
                ref -= 1
                v = v_reset
            else:
                x = x_base[s]
                if has_xt:
                    x += x_trial[tr, s]
                for j in range(k1):
                    x += uni_mean[j] + uni_half[j] * (2.0 * uni[j] - 1.0)
                for j in range(k2):
                    if syn[0, j] != 0.0:
                        x += g[j] * (syn[2, j] - v)
                if exact:
                    if leak != 0.0:
                        v_inf = e_l + x
                        v = v_inf + (v - v_inf) * decay
                    else:
                        v = v + a * x
                else:
                    v = v + a * (leak * (e_l - v) + x)
                v += noise_scale * zs
                for j in range(k2):
                    cj = cnt[j]
                    if cj != 0 and syn[0, j] == 0.0:
                        v += weights[j] * cj
                if v > v_th:
                    bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                    nspk += 1
                    v = v_reset
                    ref = ref_steps
            for j in range(k2):
                if syn[0, j] != 0.0:
                    g[j] = g[j] * syn[1, j] + weights[j] * cnt[j]
            mom_next -= 1
            if mom_next == 0:
                mom_out[tr, mom_i] = v
                mom_i += 1
                mom_next = mom_stride
            if row >= 0:
                rec_next -= 1
                if rec_next == 0:
                    rec_out[row, rec_i] = v
                    if st_on:
                        q = 0
                        for j in range(k2):
                            if syn[0, j] != 0.0:
                                st_out[q, row, rec_i] = g[j]
                                q += 1
                    rec_i += 1
                    rec_next = rec_stride
        count_out[tr] = nspk
    pack_states(noise_state, uni_state, poi_state, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
