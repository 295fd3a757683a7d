"""The numba loop of ``adex`` (:mod:`lifbatch.models.adex` says what it computes). Apart
from the model's declaration so that reading a workflow (``lifbatch validate``) imports no numba."""

from __future__ import annotations

import math

import numba
import numpy as np

from .loops import (setup, trial_start, draw_step, drive_at, jump_total, pack_states, record, record_syn, syn_current, syn_update,
                    unpack_states)


@numba.njit(cache=True, nogil=True)
def adex_trials(p, x_base, x_trial, noise_state, noise_scale, uni_state, uni_mean, uni_half, poi_state, lam, enlam,
                weights, syn, ref_steps, mom_stride, mom_out, rec_stride, rec_rows, rec_out, st_out, bits_out,
                count_out):  # pragma: no cover - compiled
    c_m, g_l, e_l, v_t, delta_t, a, tau_w, b, v_reset, v_peak, v_init, w_init, dt = (
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12])
    own = 1 if p[13] != 0.0 else 0  # the state rows of w (adex: 1; eif, which has no w: 0)
    n_trials, n_steps, has_xt, k1, k2, fused, st_on, uni, cnt, g = setup(
        bits_out, x_base, x_trial, uni_mean, weights, noise_state, st_out)
    s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = unpack_states(noise_state, uni_state, poi_state)
    for tr in range(n_trials):
        v, w = v_init, w_init
        ref = 0
        row = rec_rows[tr]
        nspk, mom_i, rec_i = trial_start(v, tr, row, mom_out, rec_out, g)
        if row >= 0:
            if st_on:
                record_syn(st_out, own, row, 0, k2, syn, g)
                if own:
                    st_out[0, row, 0] = w
        mom_next, rec_next = mom_stride, rec_stride
        for s in range(n_steps):
            zs, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = draw_step(
                fused, k1, k2, lam, enlam, uni, cnt, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
            i_in = drive_at(x_base, x_trial, has_xt, tr, s, k1, uni_mean, uni_half, uni) + syn_current(v, k2, syn, g)
            w_new = w + dt * (a * (v - e_l) - w) / tau_w
            if ref > 0:
                ref -= 1
                v = v_reset
            else:
                v = v + dt * (g_l * (e_l - v) + g_l * delta_t * math.exp((v - v_t) / delta_t) - w + i_in) / c_m
                v += noise_scale * zs
                v = jump_total(v, k2, weights, cnt, syn)
            w = w_new
            if v > v_peak:
                bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                nspk += 1
                v = v_reset
                w += b
                ref = ref_steps
            syn_update(k2, syn, g, weights, cnt)
            ri = rec_i
            mom_next, mom_i, rec_next, rec_i = record(v, tr, row, mom_next, mom_i, mom_stride, mom_out,
                                                      rec_next, rec_i, rec_stride, rec_out)
            if st_on and rec_i != ri:  # (the state recorded beside V: record.state)
                record_syn(st_out, own, row, ri, k2, syn, g)
                if own:
                    st_out[0, row, ri] = w

        count_out[tr] = nspk
    pack_states(noise_state, uni_state, poi_state, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
