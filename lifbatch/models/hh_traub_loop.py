"""The numba loop of ``hh_traub`` (:mod:`lifbatch.models.hh_traub` says what it computes). Apart
from the model's declaration so that reading a workflow (``lifbatch validate``) imports no numba."""

from __future__ import annotations

import math

import numba
import numpy as np

from ..kernel import sfc64_double, sfc64_normal, sfc64_poisson
from .loops import pack_states, unpack_states

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
    # The step's draws, drive, jumps and recording are written out here as lifbatch.models.loops
    # describes them (not called: numba reference-counts the arrays handed to a function every step).
    c_m, g_l, g_na, g_k, e_l, e_na, e_k, v_t, v_spike, v_init, steady = (
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10])
    dt = p[11]
    n_trials = bits_out.shape[0]
    n_steps = x_base.shape[0]
    has_xt = x_trial.shape[0] > 0
    k1 = uni_mean.shape[0]
    k2 = weights.shape[0]
    fused = noise_state.shape[0] == 4
    st_on = st_out.shape[0] > 0
    uni = np.empty(k1)
    cnt = np.empty(k2, np.int64)
    g = np.zeros(k2)  # the conductances of the conductance drives (syn[0, j] != 0; the others stay 0)
    s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = unpack_states(noise_state, uni_state, poi_state)
    m0 = n0 = h0 = 0.0
    if steady != 0.0:
        am, bm, an, bn, ah, bh = rates(v_init, v_t)
        m0, n0, h0 = am / (am + bm), an / (an + bn), ah / (ah + bh)
    for tr in range(n_trials):
        v, m, n, h = v_init, m0, n0, h0
        armed = True  # (Brian2's not_refractory: True before the first step)
        nspk = 0
        g[:] = 0.0
        row = rec_rows[tr]
        mom_out[tr, 0] = v
        if row >= 0:
            rec_out[row, 0] = v
            if st_on:
                st_out[0, row, 0], st_out[1, row, 0], st_out[2, row, 0] = m, n, h
                q = 3
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
            i_in = x_base[s]
            if has_xt:
                i_in += x_trial[tr, s]
            for j in range(k1):
                i_in += uni_mean[j] + uni_half[j] * (2.0 * uni[j] - 1.0)
            for j in range(k2):  # the conductance drives' currents, at v at the start of the step
                if syn[0, j] != 0.0:
                    i_in += g[j] * (syn[2, j] - v)
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
            for j in range(k2):
                cj = cnt[j]
                if cj != 0 and syn[0, j] == 0.0:
                    v += weights[j] * cj
            if armed and v > v_spike:
                bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                nspk += 1
                armed = False
            for j in range(k2):  # the conductances at the end of the step: decayed, plus its input spikes
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
                    if st_on:  # (the state recorded beside V: record.state)
                        st_out[0, row, rec_i], st_out[1, row, rec_i], st_out[2, row, rec_i] = m, n, h
                        q = 3
                        for j in range(k2):
                            if syn[0, j] != 0.0:
                                st_out[q, row, rec_i] = g[j]
                                q += 1
                    rec_i += 1
                    rec_next = rec_stride

        count_out[tr] = nspk
    pack_states(noise_state, uni_state, poi_state, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
