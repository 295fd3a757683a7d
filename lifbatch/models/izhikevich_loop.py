"""The numba loop of ``izhikevich`` (:mod:`lifbatch.models.izhikevich` says what it computes). Apart
from the model's declaration so that reading a workflow (``lifbatch validate``) imports no numba."""

from __future__ import annotations

import numba
import numpy as np

from ..kernel import sfc64_double, sfc64_normal, sfc64_poisson
from .lanes import LANES, trial_start_states


@numba.njit(cache=True, nogil=True, error_model="numpy")  # (x / 0 is inf, not a test and a branch: vectorizes)
def izhikevich_trials(
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
    c_m, k, v_r, v_t, v_peak, a, b, c, d, v_init, u_init, dt = (
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
        p[11],
    )
    own = 1  # the state row of u
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
    L = LANES
    v = np.empty(L)
    w = np.empty(L)
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
            v[l], w[l] = v_init, u_init  # (w holds u)
            nspk[l] = 0
            for j in range(k2):
                g[j, l] = 0.0
            for q in range(12):
                st[l, q] = starts[tr, q]
            rows[l] = rec_rows[tr]
            any_rec = any_rec or rows[l] >= 0
        for l in range(nl):
            tr = g0 + l
            mom_out[tr, 0] = v[l]
            row = rows[l]
            if row >= 0:
                rec_out[row, 0] = v[l]
                if st_on:
                    st_out[0, row, 0] = w[l]
                    q = own
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
            fired = False
            if not jumps:  # the update and the spike rule in one pass
                for l in range(nl):  # (every value computed, then selected: LLVM vectorizes selects, not branches)
                    vl, ul = v[l], w[l]
                    u_new = ul + dt * (a * (b * (vl - v_r) - ul))
                    vn = vl + dt * (k * (vl - v_r) * (vl - v_t) - ul + i_in[l]) / c_m
                    vn += noise_scale * zs[l]
                    u_d = u_new + d
                    sp = vn >= v_peak
                    spk[l] = sp
                    fired = fired | sp
                    v[l] = c if sp else vn
                    w[l] = u_d if sp else u_new
            else:
                for l in range(nl):
                    vl, ul = v[l], w[l]
                    u_new = ul + dt * (a * (b * (vl - v_r) - ul))
                    vn = vl + dt * (k * (vl - v_r) * (vl - v_t) - ul + i_in[l]) / c_m
                    vn += noise_scale * zs[l]
                    v[l] = vn
                    w[l] = u_new
                for l in range(nl):  # the Poisson jumps
                    for j in range(k2):
                        cj = cnt[l, j]
                        if cj != 0 and syn[0, j] == 0.0:
                            v[l] += weights[j] * cj
                for l in range(nl):
                    vl, ul = v[l], w[l]
                    u_d = ul + d
                    sp = vl >= v_peak
                    spk[l] = sp
                    fired = fired | sp
                    v[l] = c if sp else vl
                    w[l] = u_d if sp else ul
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
                                st_out[0, row, rec_i] = w[l]
                                q = own
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
