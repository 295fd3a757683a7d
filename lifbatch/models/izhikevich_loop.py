"""The numba loop of ``izhikevich`` (:mod:`lifbatch.models.izhikevich` says what it computes). Apart
from the model's declaration so that reading a workflow (``lifbatch validate``) imports no numba."""

from __future__ import annotations


import numba
import numpy as np

from .loops import (setup, trial_start, draw_step, drive_at, jump_total, pack_states, record, record_syn, syn_current, syn_update,
                    unpack_states)


@numba.njit(cache=True, nogil=True)
def izhikevich_trials(p, x_base, x_trial, noise_state, noise_scale, uni_state, uni_mean, uni_half, poi_state, lam,
                      enlam, weights, syn, mom_stride, mom_out, rec_stride, rec_rows, rec_out, st_out, bits_out,
                      count_out):  # pragma: no cover - compiled
    c_m, k, v_r, v_t, v_peak, a, b, c, d, v_init, u_init, dt = (
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11])
    n_trials, n_steps, has_xt, k1, k2, fused, st_on, uni, cnt, g = setup(
        bits_out, x_base, x_trial, uni_mean, weights, noise_state, st_out)
    s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = unpack_states(noise_state, uni_state, poi_state)
    for tr in range(n_trials):
        v, u = v_init, u_init
        row = rec_rows[tr]
        nspk, mom_i, rec_i = trial_start(v, tr, row, mom_out, rec_out, g)
        if row >= 0:
            if st_on:
                record_syn(st_out, 1, row, 0, k2, syn, g)
                st_out[0, row, 0] = u
        mom_next, rec_next = mom_stride, rec_stride
        for s in range(n_steps):
            zs, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = draw_step(
                fused, k1, k2, lam, enlam, uni, cnt, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
            i_in = drive_at(x_base, x_trial, has_xt, tr, s, k1, uni_mean, uni_half, uni) + syn_current(v, k2, syn, g)
            u_new = u + dt * (a * (b * (v - v_r) - u))
            v = v + dt * (k * (v - v_r) * (v - v_t) - u + i_in) / c_m
            u = u_new
            v += noise_scale * zs
            v = jump_total(v, k2, weights, cnt, syn)
            if v >= v_peak:
                bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                nspk += 1
                v = c
                u += d
            syn_update(k2, syn, g, weights, cnt)
            ri = rec_i
            mom_next, mom_i, rec_next, rec_i = record(v, tr, row, mom_next, mom_i, mom_stride, mom_out,
                                                      rec_next, rec_i, rec_stride, rec_out)
            if st_on and rec_i != ri:  # (the state recorded beside V: record.state)
                record_syn(st_out, 1, row, ri, k2, syn, g)
                st_out[0, row, ri] = u

        count_out[tr] = nspk
    pack_states(noise_state, uni_state, poi_state, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
