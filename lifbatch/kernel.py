"""The fused LIF time-step loop and the spike-train reductions (numpy + numba only).

One call advances a chunk of independent trials of one grid point through all
time steps. Random numbers are drawn beforehand by numpy's Generator into
per-chunk buffers (numpy's C samplers are fast; numba's are not), then the loop
reads them; nothing here knows about dask, xarray or zarr.

The step order is part of the contract (DESIGN.md): a refractory neuron stays
at ``v_reset`` and counts down; otherwise V is advanced by leak and drives
(continuous drives evaluated at the start of the step), jumps are added, and a
spike is recorded at t+dt when V > v_th, after which V = v_reset for
``ref_steps`` steps.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["lif_trials", "spike_train_stats", "EMPTY2", "EMPTY3", "EMPTY3I"]

EMPTY2 = np.zeros((0, 0))
EMPTY3 = np.zeros((0, 0, 0))
EMPTY3I = np.zeros((0, 0, 0), dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def lif_trials(
    v_init, x_base, x_trial, a, leak, decay, exact, e_l, v_th, v_reset, ref_steps,
    z, noise_scale, uni, uni_mean, uni_half, counts, weights,
    mom_stride, mom_out, rec_stride, rec_rows, rec_out, bits_out, count_out,
):  # pragma: no cover - compiled
    """Advance ``n_trials`` neurons through ``n_steps`` steps.

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
    uni : (n_trials, n_steps, K1)           uniforms in [0, 1) of K1 uniform drives
    uni_mean, uni_half : (K1,)              in x units
    counts : (n_trials, n_steps, K2) int    Poisson input counts, jump ``weights`` (K2,) each
    mom_stride : int                        store V every ``mom_stride`` steps in mom_out (n_trials, n_mom)
    rec_stride, rec_rows, rec_out           same for recorded trials: rec_rows[trial] is the row of
                                            rec_out, or -1
    bits_out : (n_trials, ceil(n_steps/8)) uint8, zeroed; bit s set = spike at (s+1)*dt
    count_out : (n_trials,) int64           spikes per trial
    """
    n_trials = bits_out.shape[0]
    n_steps = x_base.shape[0]
    has_xt = x_trial.shape[0] > 0
    has_z = z.shape[0] > 0
    k1 = uni_mean.shape[0]
    k2 = weights.shape[0]
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
            if ref > 0:
                ref -= 1
                v = v_reset
            else:
                x = x_base[s]
                if has_xt:
                    x += x_trial[tr, s]
                for k in range(k1):
                    x += uni_mean[k] + uni_half[k] * (2.0 * uni[tr, s, k] - 1.0)
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
                for k in range(k2):
                    c = counts[tr, s, k]
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


@numba.njit(cache=True, nogil=True)
def spike_train_stats(bits, n_steps, warmup_steps, edges_steps):  # pragma: no cover - compiled
    """Spike counts after warmup and pooled ISI statistics of packed rasters.

    Parameters
    ----------
    bits : (n_points, n_trials, n_bytes) uint8   packed rasters (bit s: spike at step s+1)
    n_steps : int
    warmup_steps : int                           spikes at step index s count if s + 1 > warmup_steps
    edges_steps : (n_bins + 1,) float            ISI histogram edges, in steps (np.histogram rules)

    Returns
    -------
    counts : (n_points, n_trials) int64          spikes after warmup
    isi_n, isi_sum, isi_sumsq : (n_points,) int64  pooled ISIs (in steps) after warmup
    hist : (n_points, n_bins) int64
    """
    n_points, n_trials, n_bytes = bits.shape
    n_bins = edges_steps.shape[0] - 1
    counts = np.zeros((n_points, n_trials), np.int64)
    isi_n = np.zeros(n_points, np.int64)
    isi_sum = np.zeros(n_points, np.int64)
    isi_sumsq = np.zeros(n_points, np.int64)
    hist = np.zeros((n_points, n_bins), np.int64)
    lo = edges_steps[0]
    hi = edges_steps[n_bins]
    for p in range(n_points):
        for tr in range(n_trials):
            last = -1
            for b in range(n_bytes):
                byte = bits[p, tr, b]
                if byte == 0:
                    continue
                for j in range(8):
                    if byte & (128 >> j):
                        s = b * 8 + j
                        if s >= n_steps or s + 1 <= warmup_steps:
                            continue
                        counts[p, tr] += 1
                        if last >= 0:
                            isi = s - last
                            isi_n[p] += 1
                            isi_sum[p] += isi
                            isi_sumsq[p] += isi * isi
                            if n_bins > 0 and isi >= lo and isi <= hi:
                                k = np.searchsorted(edges_steps, isi, side="right") - 1
                                if k >= n_bins:
                                    k = n_bins - 1
                                hist[p, k] += 1
                        last = s
    return counts, isi_n, isi_sum, isi_sumsq, hist
