"""The LIF's loop for conductance inputs (``poisson_conductance``), beside the kernel's fast
paths (:mod:`lifbatch.kernel`), which every other LIF workflow runs, bit for bit as before.
The step is the kernel's (docs/workflow.md, "One time step") with the synaptic current
``g (e_rev - v)`` at the start of the step added to the drive ``x`` (its conductances are
scaled by ``r_m``: ``x`` is a voltage)."""

from __future__ import annotations

import numba
import numpy as np

from .loops import (setup, trial_start, draw_step, drive_at, jump_total, pack_states, record, record_syn, syn_current, syn_update,
                    unpack_states)


@numba.njit(cache=True, nogil=True)
def lif_syn_trials(p, x_base, x_trial, noise_state, noise_scale, uni_state, uni_mean, uni_half, poi_state, lam, enlam,
                   weights, syn, ref_steps, mom_stride, mom_out, rec_stride, rec_rows, rec_out, st_out, bits_out,
                   count_out):  # pragma: no cover - compiled
    a, leak, decay, exact, e_l, v_th, v_reset, v_init = p[0], p[1], p[2], p[3] != 0.0, p[4], p[5], p[6], p[7]
    n_trials, n_steps, has_xt, k1, k2, fused, st_on, uni, cnt, g = setup(
        bits_out, x_base, x_trial, uni_mean, weights, noise_state, st_out)
    s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = unpack_states(noise_state, uni_state, poi_state)
    for tr in range(n_trials):
        v = v_init
        ref = 0
        row = rec_rows[tr]
        nspk, mom_i, rec_i = trial_start(v, tr, row, mom_out, rec_out, g)
        if row >= 0:
            if st_on:
                record_syn(st_out, 0, row, 0, k2, syn, g)
        mom_next, rec_next = mom_stride, rec_stride
        for s in range(n_steps):
            zs, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3 = draw_step(
                fused, k1, k2, lam, enlam, uni, cnt, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
            if ref > 0:
                ref -= 1
                v = v_reset
            else:
                x = drive_at(x_base, x_trial, has_xt, tr, s, k1, uni_mean, uni_half, uni) + syn_current(v, k2, syn, g)
                if exact:
                    if leak != 0.0:
                        v_inf = e_l + x
                        v = v_inf + (v - v_inf) * decay
                    else:
                        v = v + a * x
                else:
                    v = v + a * (leak * (e_l - v) + x)
                v += noise_scale * zs
                v = jump_total(v, k2, weights, cnt, syn)
                if v > v_th:
                    bits_out[tr, s >> 3] |= np.uint8(128 >> (s & 7))
                    nspk += 1
                    v = v_reset
                    ref = ref_steps
            syn_update(k2, syn, g, weights, cnt)
            ri = rec_i
            mom_next, mom_i, rec_next, rec_i = record(v, tr, row, mom_next, mom_i, mom_stride, mom_out,
                                                      rec_next, rec_i, rec_stride, rec_out)
            if st_on and rec_i != ri:
                record_syn(st_out, 0, row, ri, k2, syn, g)
        count_out[tr] = nspk
    pack_states(noise_state, uni_state, poi_state, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3)
