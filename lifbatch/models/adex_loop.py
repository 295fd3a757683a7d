"""The numba loop of ``adex`` (:mod:`lifbatch.models.adex` says what it computes). Apart
from the model's declaration so that reading a workflow (``lifbatch validate``) imports no numba."""

from __future__ import annotations

import math

import numba
import numpy as np

from ..kernel import sfc64_double, sfc64_normal, sfc64_poisson
from .loops import pack_states, unpack_states


@numba.njit(cache=True, nogil=True)
def adex_trials(p, x_base, x_trial, noise_state, noise_scale, uni_state, uni_mean, uni_half, poi_state, lam, enlam,
                weights, syn, ref_steps, mom_stride, mom_out, rec_stride, rec_rows, rec_out, st_out, bits_out,
                count_out):  # pragma: no cover - compiled
    # The step's draws, drive, jumps and recording are written out here as lifbatch.models.loops
    # describes them (not called: numba reference-counts the arrays handed to a function every step).
    c_m, g_l, e_l, v_t, delta_t, a, tau_w, b, v_reset, v_peak, v_init, w_init, dt = (
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12])
    own = 1 if p[13] != 0.0 else 0  # the state rows of w (adex: 1; eif, which has no w: 0)
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
    for tr in range(n_trials):
        v, w = v_init, w_init
        ref = 0
        nspk = 0
        g[:] = 0.0
        row = rec_rows[tr]
        mom_out[tr, 0] = v
        if row >= 0:
            rec_out[row, 0] = v
            if st_on:
                if own:
                    st_out[0, row, 0] = w
                q = own
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
            w_new = w + dt * (a * (v - e_l) - w) / tau_w
            if ref > 0:
                ref -= 1
                v = v_reset
            else:
                v = v + dt * (g_l * (e_l - v) + g_l * delta_t * math.exp((v - v_t) / delta_t) - w + i_in) / c_m
                v += noise_scale * zs
                for j in range(k2):
                    cj = cnt[j]
                    if cj != 0 and syn[0, j] == 0.0:
                        v += weights[j] * cj
            w = w_new
            if v > v_peak:
                bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                nspk += 1
                v = v_reset
                w += b
                ref = ref_steps
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
                        if own:
                            st_out[0, row, rec_i] = w
                        q = own
                        for j in range(k2):
                            if syn[0, j] != 0.0:
                                st_out[q, row, rec_i] = g[j]
                                q += 1
                    rec_i += 1
                    rec_next = rec_stride

        count_out[tr] = nspk
    pack_states(noise_state, uni_state, poi_state, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
