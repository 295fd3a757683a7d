"""The numba loop of ``hh_traub`` (:mod:`lifbatch.models.hh_traub` says what it computes). Apart
from the model's declaration so that reading a workflow (``lifbatch validate``) imports no numba."""

from __future__ import annotations

import math

import numba
import numpy as np

from .loops import (setup, trial_start, draw_step, drive_at, jump_total, pack_states, record, record_syn, syn_current, syn_update,
                    unpack_states)

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


@numba.njit(cache=True, nogil=True)
def hh_trials(p, x_base, x_trial, noise_state, noise_scale, uni_state, uni_mean, uni_half, poi_state, lam, enlam,
              weights, syn, exponential, mom_stride, mom_out, rec_stride, rec_rows, rec_out, st_out, bits_out,
              count_out):  # pragma: no cover - compiled
    c_m, g_l, g_na, g_k, e_l, e_na, e_k, v_t, v_spike, v_init, steady = (
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10])
    dt = p[11]
    n_trials, n_steps, has_xt, k1, k2, fused, st_on, uni, cnt, g = setup(
        bits_out, x_base, x_trial, uni_mean, weights, noise_state, st_out)
    s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = unpack_states(noise_state, uni_state, poi_state)
    m0 = n0 = h0 = 0.0
    if steady != 0.0:
        am, bm, an, bn, ah, bh = rates(v_init, v_t)
        m0, n0, h0 = am / (am + bm), an / (an + bn), ah / (ah + bh)
    for tr in range(n_trials):
        v, m, n, h = v_init, m0, n0, h0
        armed = True  # (Brian2's not_refractory: True before the first step)
        row = rec_rows[tr]
        nspk, mom_i, rec_i = trial_start(v, tr, row, mom_out, rec_out, g)
        if row >= 0:
            if st_on:
                record_syn(st_out, 3, row, 0, k2, syn, g)
                st_out[0, row, 0], st_out[1, row, 0], st_out[2, row, 0] = m, n, h
        mom_next, rec_next = mom_stride, rec_stride
        for s in range(n_steps):
            zs, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = draw_step(
                fused, k1, k2, lam, enlam, uni, cnt, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
            i_in = drive_at(x_base, x_trial, has_xt, tr, s, k1, uni_mean, uni_half, uni) + syn_current(v, k2, syn, g)
            armed = armed or v <= v_spike  # re-armed once v is back at or below v_spike
            am, bm, an, bn, ah, bh = rates(v, v_t)
            gna = g_na * (m * m * m) * h
            gk = g_k * (n * n * n * n)
            if exponential:
                g_tot = g_l + gna + gk
                v_inf = (g_l * e_l + gna * e_na + gk * e_k + i_in) / g_tot
                v_new = v_inf + (v - v_inf) * math.exp(-g_tot / c_m * dt)
                sm, sn, sh = am + bm, an + bn, ah + bh
                m_inf, n_inf, h_inf = am / sm, an / sn, ah / sh
                m = m_inf + (m - m_inf) * math.exp(-sm * dt)
                n = n_inf + (n - n_inf) * math.exp(-sn * dt)
                h = h_inf + (h - h_inf) * math.exp(-sh * dt)
            else:
                v_new = v + dt * (g_l * (e_l - v) - gna * (v - e_na) - gk * (v - e_k) + i_in) / c_m
                m = m + dt * (am * (1.0 - m) - bm * m)
                n = n + dt * (an * (1.0 - n) - bn * n)
                h = h + dt * (ah * (1.0 - h) - bh * h)
            v = v_new + noise_scale * zs
            v = jump_total(v, k2, weights, cnt, syn)
            if armed and v > v_spike:
                bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                nspk += 1
                armed = False
            syn_update(k2, syn, g, weights, cnt)
            ri = rec_i
            mom_next, mom_i, rec_next, rec_i = record(v, tr, row, mom_next, mom_i, mom_stride, mom_out,
                                                      rec_next, rec_i, rec_stride, rec_out)
            if st_on and rec_i != ri:  # (the state recorded beside V: record.state)
                record_syn(st_out, 3, row, ri, k2, syn, g)
                st_out[0, row, ri], st_out[1, row, ri], st_out[2, row, ri] = m, n, h

        count_out[tr] = nspk
    pack_states(noise_state, uni_state, poi_state, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
