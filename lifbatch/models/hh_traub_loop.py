"""The numba loop of ``hh_traub`` (:mod:`lifbatch.models.hh_traub` says what it computes). Apart
from the model's declaration so that reading a workflow (``lifbatch validate``) imports no numba."""

from __future__ import annotations

import math

import numba
import numpy as np

from ..kernel import sfc64_double, sfc64_normal, sfc64_poisson
from .lanes import LANES, exp_lane, exp_special, trial_start_states

_MV = 1e-3
_INV_MS = 1e3


@numba.njit(cache=True, nogil=True, inline="always")
def _ratio(x, k):  # pragma: no cover - compiled
    """x / (exp(x / k) - 1), its limit k at x == 0."""
    if x == 0.0:
        return k
    return x / (math.exp(x / k) - 1.0)


@numba.njit(cache=True, nogil=True, inline="always")
def rates(v, v_t):  # pragma: no cover - compiled
    """alpha_m, beta_m, alpha_n, beta_n, alpha_h, beta_h (1/s) at v (V)."""
    am = 0.32 / _MV * _ratio(13.0 * _MV - v + v_t, 4.0 * _MV) * _INV_MS
    bm = 0.28 / _MV * _ratio(v - v_t - 40.0 * _MV, 5.0 * _MV) * _INV_MS
    an = 0.032 / _MV * _ratio(15.0 * _MV - v + v_t, 5.0 * _MV) * _INV_MS
    bn = 0.5 * math.exp((10.0 * _MV - v + v_t) / (40.0 * _MV)) * _INV_MS
    ah = 0.128 * math.exp((17.0 * _MV - v + v_t) / (18.0 * _MV)) * _INV_MS
    bh = 4.0 / (1.0 + math.exp((40.0 * _MV - v + v_t) / (5.0 * _MV))) * _INV_MS
    return am, bm, an, bn, ah, bh


@numba.njit(cache=True, nogil=True, inline="always")
def _exp(x, exact):  # pragma: no cover - compiled
    """(exp(x), whether exp_lane left its path): the C library's where ``exact``, else exp_lane's."""
    if exact:
        return math.exp(x), False
    return exp_lane(x), exp_special(x)


@numba.njit(cache=True, nogil=True, inline="always")
def _ratio_lane(x, k, exact):  # pragma: no cover - compiled
    """:func:`_ratio` (both branches computed, one kept) and whether its exp left exp_lane's path."""
    e, sp = _exp(x / k, exact)
    return (k if x == 0.0 else x / (e - 1.0)), sp and x != 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def _step(v, m, n, h, i_in, c_m, g_l, g_na, g_k, e_l, e_na, e_k, v_t, dt, exponential, exact):  # pragma: no cover
    """One step of one trial: v (before noise and jumps), m, n, h, and whether an exp left
    exp_lane's path (then the step is computed again with ``exact``). The operations of
    :func:`rates` and of the loop, in their order."""
    r1, q1 = _ratio_lane(13.0 * _MV - v + v_t, 4.0 * _MV, exact)
    r2, q2 = _ratio_lane(v - v_t - 40.0 * _MV, 5.0 * _MV, exact)
    r3, q3 = _ratio_lane(15.0 * _MV - v + v_t, 5.0 * _MV, exact)
    e4, q4 = _exp((10.0 * _MV - v + v_t) / (40.0 * _MV), exact)
    e5, q5 = _exp((17.0 * _MV - v + v_t) / (18.0 * _MV), exact)
    e6, q6 = _exp((40.0 * _MV - v + v_t) / (5.0 * _MV), exact)
    am = 0.32 / _MV * r1 * _INV_MS
    bm = 0.28 / _MV * r2 * _INV_MS
    an = 0.032 / _MV * r3 * _INV_MS
    bn = 0.5 * e4 * _INV_MS
    ah = 0.128 * e5 * _INV_MS
    bh = 4.0 / (1.0 + e6) * _INV_MS
    special = q1 | q2 | q3 | q4 | q5 | q6
    gna = g_na * (m * m * m) * h
    gk = g_k * (n * n * n * n)
    if exponential:
        g_tot = g_l + gna + gk
        v_inf = (g_l * e_l + gna * e_na + gk * e_k + i_in) / g_tot
        ev, q7 = _exp(-g_tot / c_m * dt, exact)
        v_new = v_inf + (v - v_inf) * ev
        sm, sn, sh = am + bm, an + bn, ah + bh
        m_inf, n_inf, h_inf = am / sm, an / sn, ah / sh
        em, q8 = _exp(-sm * dt, exact)
        en, q9 = _exp(-sn * dt, exact)
        eh, q10 = _exp(-sh * dt, exact)
        m = m_inf + (m - m_inf) * em
        n = n_inf + (n - n_inf) * en
        h = h_inf + (h - h_inf) * eh
        special = special | q7 | q8 | q9 | q10
    else:
        v_new = v + dt * (g_l * (e_l - v) - gna * (v - e_na) - gk * (v - e_k) + i_in) / c_m
        m = m + dt * (am * (1.0 - m) - bm * m)
        n = n + dt * (an * (1.0 - n) - bn * n)
        h = h + dt * (ah * (1.0 - h) - bh * h)
    return v_new, m, n, h, special


@numba.njit(cache=True, nogil=True, error_model="numpy")  # (x / 0 is inf, not a test and a branch: vectorizes)
def hh_trials(
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
    exponential,
    mom_stride,
    mom_out,
    rec_stride,
    rec_rows,
    rec_out,
    st_out,
    bits_out,
    count_out,
):  # pragma: no cover - compiled
    # The step's draws, drive, jumps and recording are written out here as lifbatch.models.loops
    # describes them (not called: numba reference-counts the arrays handed to a function every step),
    # for LANES trials in lockstep (lifbatch.models.lanes): each lane's arithmetic is the trial's alone.
    c_m, g_l, g_na, g_k, e_l, e_na, e_k, v_t, v_spike, v_init, steady = (
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
        p[5],
        p[6],
        p[7],
        p[8],
        p[9],
        p[10],
    )
    dt = p[11]
    n_trials = bits_out.shape[0]
    n_steps = x_base.shape[0]
    has_xt = x_trial.shape[0] > 0
    k1 = uni_mean.shape[0]
    k2 = weights.shape[0]
    fused = noise_state.shape[0] == 4
    st_on = st_out.shape[0] > 0
    drawn = fused or k1 > 0 or k2 > 0
    jumps = False  # any Poisson drive jumping v (not a conductance)
    for j in range(k2):
        if syn[0, j] == 0.0:
            jumps = True
    starts = (
        trial_start_states(noise_state, uni_state, poi_state, k1, lam, enlam, n_trials, n_steps)
        if drawn
        else np.zeros((n_trials + 1, 12), np.uint64)
    )
    m0 = n0 = h0 = 0.0
    if steady != 0.0:
        am, bm, an, bn, ah, bh = rates(v_init, v_t)
        m0, n0, h0 = am / (am + bm), an / (an + bn), ah / (ah + bh)
    L = LANES
    v, m, n, h = np.empty(L), np.empty(L), np.empty(L), np.empty(L)
    v2, m2, n2, h2 = np.empty(L), np.empty(L), np.empty(L), np.empty(L)  # the step's results
    armed = np.zeros(L, np.bool_)
    i_in = np.empty(L)
    zs = np.zeros(L)
    spk = np.zeros(L, np.bool_)
    uni = np.empty((L, k1))
    cnt = np.zeros((L, k2), np.int64)
    g = np.zeros((k2, L))  # the conductances of the conductance drives (syn[0, j] != 0; the others stay 0)
    st = np.zeros((L, 12), np.uint64)
    lane_tr = np.zeros(L, np.int64)
    rows = np.zeros(L, np.int64)
    nspk = np.zeros(L, np.int64)
    for g0 in range(0, n_trials, L):
        nl = min(L, n_trials - g0)  # the group's trials
        any_rec = False
        for l in range(nl):
            tr = g0 + l
            lane_tr[l] = tr
            v[l], m[l], n[l], h[l] = v_init, m0, n0, h0
            armed[l] = True  # (Brian2's not_refractory: True before the first step)
            nspk[l] = 0
            for j in range(k2):
                g[j, l] = 0.0
            for q in range(12):
                st[l, q] = starts[tr, q]
            rows[l] = rec_rows[tr]
            any_rec = any_rec or rows[l] >= 0
            mom_out[tr, 0] = v[l]
            row = rows[l]
            if row >= 0:
                rec_out[row, 0] = v[l]
                if st_on:
                    st_out[0, row, 0], st_out[1, row, 0], st_out[2, row, 0] = m[l], n[l], h[l]
                    q = 3
                    for j in range(k2):
                        if syn[0, j] != 0.0:
                            st_out[q, row, 0] = g[j, l]
                            q += 1
        mom_next, mom_i, rec_next, rec_i = mom_stride, 1, rec_stride, 1
        for s in range(n_steps):
            if drawn:
                for l in range(nl):  # each trial's draws from its own stream states
                    if fused:
                        zs[l], st[l, 0], st[l, 1], st[l, 2], st[l, 3] = sfc64_normal(
                            st[l, 0], st[l, 1], st[l, 2], st[l, 3]
                        )
                    for j in range(k1):
                        uni[l, j], st[l, 4], st[l, 5], st[l, 6], st[l, 7] = sfc64_double(
                            st[l, 4], st[l, 5], st[l, 6], st[l, 7]
                        )
                    for j in range(k2):
                        cnt[l, j], st[l, 8], st[l, 9], st[l, 10], st[l, 11] = sfc64_poisson(
                            lam[j], enlam[j], st[l, 8], st[l, 9], st[l, 10], st[l, 11]
                        )
            xb = x_base[s]
            for l in range(nl):
                i_in[l] = xb
            if has_xt:
                for l in range(nl):
                    i_in[l] += x_trial[lane_tr[l], s]
            for j in range(k1):
                for l in range(nl):
                    i_in[l] += uni_mean[j] + uni_half[j] * (2.0 * uni[l, j] - 1.0)
            for j in range(k2):  # the conductance drives' currents, at v at the start of the step
                if syn[0, j] != 0.0:
                    for l in range(nl):
                        i_in[l] += g[j, l] * (syn[2, j] - v[l])
            # the model's update, every lane with exp_lane; again with the C library's exp (the
            # same bits) when an exp left exp_lane's path
            special = False
            if exponential:
                for l in range(nl):
                    v2[l], m2[l], n2[l], h2[l], sp = _step(
                        v[l], m[l], n[l], h[l], i_in[l], c_m, g_l, g_na, g_k, e_l, e_na, e_k, v_t, dt, True, False
                    )
                    special = special | sp
            else:
                for l in range(nl):
                    v2[l], m2[l], n2[l], h2[l], sp = _step(
                        v[l], m[l], n[l], h[l], i_in[l], c_m, g_l, g_na, g_k, e_l, e_na, e_k, v_t, dt, False, False
                    )
                    special = special | sp
            if special:
                for l in range(nl):
                    v2[l], m2[l], n2[l], h2[l], sp = _step(
                        v[l], m[l], n[l], h[l], i_in[l], c_m, g_l, g_na, g_k, e_l, e_na, e_k, v_t, dt, exponential, True
                    )
            fired = False
            if not jumps:  # noise, the spike rule, and the step's results made the state
                for l in range(nl):
                    arm = armed[l] or v[l] <= v_spike  # re-armed once v is back at or below v_spike
                    vv = v2[l] + noise_scale * zs[l]
                    fire = arm and vv > v_spike
                    spk[l] = fire
                    fired = fired | fire
                    armed[l] = arm and not fire
                    v[l], m[l], n[l], h[l] = vv, m2[l], n2[l], h2[l]
            else:
                for l in range(nl):
                    arm = armed[l] or v[l] <= v_spike
                    vv = v2[l] + noise_scale * zs[l]
                    for j in range(k2):
                        cj = cnt[l, j]
                        if cj != 0 and syn[0, j] == 0.0:
                            vv += weights[j] * cj
                    fire = arm and vv > v_spike
                    spk[l] = fire
                    fired = fired | fire
                    armed[l] = arm and not fire
                    v[l], m[l], n[l], h[l] = vv, m2[l], n2[l], h2[l]
            if fired:
                for l in range(nl):
                    if spk[l]:
                        bits_out[g0 + l, s >> 3] |= np.uint8(128 >> (s & 7))
                        nspk[l] += 1
            for j in range(k2):  # the conductances at the end of the step: decayed, plus its input spikes
                if syn[0, j] != 0.0:
                    for l in range(nl):
                        g[j, l] = g[j, l] * syn[1, j] + weights[j] * cnt[l, j]
            mom_next -= 1
            if mom_next == 0:
                for l in range(nl):
                    mom_out[g0 + l, mom_i] = v[l]
                mom_i += 1
                mom_next = mom_stride
            if any_rec:
                rec_next -= 1
                if rec_next == 0:
                    for l in range(nl):
                        row = rows[l]
                        if row >= 0:
                            rec_out[row, rec_i] = v[l]
                            if st_on:  # (the state recorded beside V: record.state)
                                st_out[0, row, rec_i], st_out[1, row, rec_i], st_out[2, row, rec_i] = m[l], n[l], h[l]
                                q = 3
                                for j in range(k2):
                                    if syn[0, j] != 0.0:
                                        st_out[q, row, rec_i] = g[j, l]
                                        q += 1
                    rec_i += 1
                    rec_next = rec_stride
        for l in range(nl):
            count_out[g0 + l] = nspk[l]
    if drawn:  # the streams after the last trial
        if fused:
            noise_state[0], noise_state[1], noise_state[2], noise_state[3] = (
                starts[n_trials, 0],
                starts[n_trials, 1],
                starts[n_trials, 2],
                starts[n_trials, 3],
            )
        if k1 > 0:
            uni_state[0], uni_state[1], uni_state[2], uni_state[3] = (
                starts[n_trials, 4],
                starts[n_trials, 5],
                starts[n_trials, 6],
                starts[n_trials, 7],
            )
        if k2 > 0:
            poi_state[0], poi_state[1], poi_state[2], poi_state[3] = (
                starts[n_trials, 8],
                starts[n_trials, 9],
                starts[n_trials, 10],
                starts[n_trials, 11],
            )
