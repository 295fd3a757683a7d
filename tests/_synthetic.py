"""Synthetic results in the exact ``docs/store-layout.md`` layout, for the review-layer tests.

The numbers come from a small vectorized Euler simulation of an LIF ensemble with
white-noise input, so spikes, traces and summaries are mutually consistent (rate is
the spike count / duration, ``v_mean`` is the trial mean of the same traces, ...),
but nothing here depends on the engine (``lifbatch.simulate``): the plotting and
review tests can run before and independently of it.

Two presets:

- ``"nma"`` (Neuromatch style, SI units): axes ``tau_m`` (display ms) and ``I``
  (display pA), V in volts (display mV).
- ``"pypet"`` (dimensionless V): axes ``t_ref`` (display ms) and ``I`` (SI ``1 / s``,
  display ``1 / ms``), V with units ``"1"``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["synthetic_dataset", "write_synthetic_store"]


def synthetic_dataset(
    *,
    preset: str = "nma",
    n_x: int = 5,
    n_y: int = 4,
    trials: int = 8,
    duration: float = 0.3,
    dt: float = 1e-4,
    moments_every: float = 1e-3,
    record_every: float = 5e-4,
    record_trials: tuple[int, ...] = (0, 1),
    max_lag: float = 0.05,
    sigma: float | None = None,
    pending: int = 0,
    seed: int = 0,
) -> xr.Dataset:
    """Build a synthetic results Dataset with two sweep axes.

    Parameters
    ----------
    preset : {"nma", "pypet"}
        Model and units (see module docstring).
    n_x, n_y : int
        Number of values of the first (slow) and second (fast) sweep axis.
    trials : int
        Trials per point.
    duration, dt, moments_every, record_every, max_lag : float
        Times in seconds.
    sigma : float, optional
        White-noise amplitude in the model's voltage unit (default 4 mV or 0.1).
    pending : int
        Mark the last ``pending`` points (in C order) as pending: status 0 and NaN
        summaries, as in a store still being written.
    seed : int
        Random seed.

    Returns
    -------
    xarray.Dataset
        In-memory Dataset in the store layout.
    """
    rng = np.random.default_rng(seed)
    if preset == "nma":
        ax1 = ("tau_m", np.linspace(10, 30, n_x) * 1e-3, "s", "ms", "neuron.tau_m")
        ax2 = ("I", np.linspace(50, 400, n_y) * 1e-12, "A", "pA", "inputs.drive.value")
        e_l, v_th, v_reset, v_init, r_m, t_ref = -60e-3, -50e-3, -70e-3, -60e-3, 1e8, 2e-3
        v_units, v_display = "V", "mV"
        sigma = 4e-3 if sigma is None else sigma
        tau_grid = ax1[1][:, None] * np.ones(n_y)[None, :]
        tref_grid = np.full((n_x, n_y), t_ref)
        # current drive: tau_m dV/dt = e_l - V + r_m I  ->  dV/dt contribution r_m I / tau_m
        drive_grid = r_m * ax2[1][None, :] / tau_grid
        neuron = {"tau_m": 0.02, "e_l": e_l, "v_th": v_th, "v_reset": v_reset,
                  "v_init": v_init, "t_ref": t_ref, "r_m": r_m}
        inputs = {"drive": {"kind": "constant", "value": 2.5e-10},
                  "noise": {"kind": "white_noise", "sigma": sigma}}
    elif preset == "pypet":
        ax1 = ("t_ref", np.linspace(5, 10, n_x) * 1e-3, "s", "ms", "neuron.t_ref")
        ax2 = ("I", np.linspace(0, 1, n_y) * 1e3, "1 / s", "1 / ms", "inputs.drive.value")
        e_l, v_th, v_reset, v_init, tau_m = 0.0, 1.0, 0.0, 0.0, 12e-3
        v_units, v_display = "1", "1"
        sigma = 0.1 if sigma is None else sigma
        tau_grid = np.full((n_x, n_y), tau_m)
        tref_grid = ax1[1][:, None] * np.ones(n_y)[None, :]
        # voltage-per-time drive enters dV/dt directly (pypet: dV/dt = -V/tau + I)
        drive_grid = np.ones(n_x)[:, None] * ax2[1][None, :]
        neuron = {"tau_m": tau_m, "e_l": e_l, "v_th": v_th, "v_reset": v_reset,
                  "v_init": v_init, "t_ref": 5e-3, "r_m": 1.0}
        inputs = {"drive": {"kind": "constant", "value": 100.0},
                  "noise": {"kind": "white_noise", "sigma": sigma}}
    else:
        raise ValueError(f"preset must be 'nma' or 'pypet', got {preset!r}")

    shape = (n_x, n_y)
    n_points = n_x * n_y
    n_steps = int(round(duration / dt))
    every_m = int(round(moments_every / dt))
    every_r = int(round(record_every / dt))
    n_lag = int(round(max_lag / moments_every)) + 1

    # -- simulate: rows are (point, trial) in C order -------------------------------
    tau = np.repeat(tau_grid.ravel(), trials)
    drive = np.repeat(drive_grid.ravel(), trials)
    ref_steps = np.repeat(np.round(tref_grid.ravel() / dt).astype(np.int64), trials)
    n_rows = n_points * trials
    v = np.full(n_rows, v_init)
    refractory = np.zeros(n_rows, dtype=np.int64)
    spikes = np.zeros((n_rows, n_steps), dtype=bool)
    n_m = n_steps // every_m + 1
    n_r = n_steps // every_r + 1
    v_m = np.empty((n_rows, n_m))
    v_m[:, 0] = v_init
    rec_rows = (np.arange(n_points)[:, None] * trials + np.asarray(record_trials)[None, :]).ravel()
    v_r = np.empty((rec_rows.size, n_r))
    v_r[:, 0] = v_init
    noise_scale = sigma * np.sqrt(dt / tau)
    for k in range(n_steps):
        free = refractory == 0
        dv = dt * ((e_l - v) / tau + drive) + noise_scale * rng.standard_normal(n_rows)
        v = np.where(free, v + dv, v_reset)
        refractory = np.where(free, 0, refractory - 1)
        fired = free & (v > v_th)
        v[fired] = v_reset
        refractory[fired] = ref_steps[fired]
        spikes[:, k] = fired
        if (k + 1) % every_m == 0:
            v_m[:, (k + 1) // every_m] = v
        if (k + 1) % every_r == 0:
            v_r[:, (k + 1) // every_r] = v[rec_rows]

    # -- summaries -------------------------------------------------------------------
    counts = spikes.sum(axis=1).reshape(n_points, trials)
    per_trial_rate = counts / duration
    rate = per_trial_rate.mean(axis=1)
    rate_std = per_trial_rate.std(axis=1, ddof=1) if trials > 1 else np.full(n_points, np.nan)

    # pooled ISIs per point, vectorized over rows
    row, col = np.nonzero(spikes)
    same = row[1:] == row[:-1]
    isi = ((col[1:] - col[:-1]) * dt)[same]
    isi_point = (row[1:] // trials)[same]
    n_isi = np.bincount(isi_point, minlength=n_points).astype(float)
    s1 = np.bincount(isi_point, weights=isi, minlength=n_points)
    s2 = np.bincount(isi_point, weights=isi**2, minlength=n_points)
    with np.errstate(invalid="ignore", divide="ignore"):
        isi_mean = np.where(n_isi >= 2, s1 / n_isi, np.nan)
        isi_var = np.where(n_isi >= 2, (s2 - n_isi * isi_mean**2) / (n_isi - 1), np.nan)
    isi_std = np.sqrt(np.clip(isi_var, 0, None))
    isi_cv = isi_std / isi_mean
    edges = np.linspace(0, 0.1, 51)
    b = np.digitize(isi, edges) - 1
    ok = (b >= 0) & (b < edges.size - 1)
    isi_hist = np.bincount(isi_point[ok] * (edges.size - 1) + b[ok],
                           minlength=n_points * (edges.size - 1)).reshape(n_points, -1)

    vm = v_m.reshape(n_points, trials, n_m)
    v_mean = vm.mean(axis=1)
    v_var = vm.var(axis=1, ddof=1) if trials > 1 else np.full_like(v_mean, np.nan)
    dvm = vm - v_mean[:, None, :]
    autocov = np.stack(
        [(dvm[:, :, : n_m - lag] * dvm[:, :, lag:]).mean(axis=(1, 2)) for lag in range(n_lag)],
        axis=-1,
    )

    packed = np.packbits(spikes, axis=1).reshape(n_points, trials, -1)
    traces = v_r.reshape(n_points, len(record_trials), n_r)

    # -- assemble --------------------------------------------------------------------
    axes = (ax1[0], ax2[0])

    def grid(a):
        return a.reshape(shape + a.shape[1:])

    time = np.arange(n_m) * moments_every
    trace_time = np.arange(n_r) * record_every
    lag = np.arange(n_lag) * moments_every
    v_attrs = {"units": v_units, "display_units": v_display} if v_display != "1" else {"units": "1"}
    v2 = "V^2" if v_units == "V" else "1"
    status = np.ones(n_points, dtype=np.int8)
    ds = xr.Dataset(
        {
            "spike_count": (axes + ("trial",), grid(counts.astype(np.int32)), {"units": "1"}),
            "spike_bits": (axes + ("trial", "spike_byte"), grid(packed), {"units": "1"}),
            "rate": (axes, grid(rate), {"units": "Hz", "display_units": "Hz",
                                        "long_name": "firing rate"}),
            "rate_std": (axes, grid(rate_std), {"units": "Hz", "display_units": "Hz"}),
            "isi_mean": (axes, grid(isi_mean), {"units": "s"}),
            "isi_std": (axes, grid(isi_std), {"units": "s"}),
            "isi_cv": (axes, grid(isi_cv), {"units": "1"}),
            "isi_hist": (axes + ("isi_bin",), grid(isi_hist.astype(np.int32)), {"units": "1"}),
            "v_mean": (axes + ("time",), grid(v_mean), dict(v_attrs)),
            "v_var": (axes + ("time",), grid(v_var), {"units": v2}),
            "v_autocov": (axes + ("lag",), grid(autocov), {"units": v2}),
            "v": (axes + ("trace_trial", "trace_time"), grid(traces), dict(v_attrs)),
            "status": (axes, grid(status), {"units": "1", "flag_values": [0, 1, 2],
                                            "flag_meanings": "pending done failed"}),
        },
        coords={
            ax1[0]: (ax1[0], ax1[1], {"units": ax1[2], "display_units": ax1[3], "param": ax1[4]}),
            ax2[0]: (ax2[0], ax2[1], {"units": ax2[2], "display_units": ax2[3], "param": ax2[4]}),
            "trial": ("trial", np.arange(trials)),
            "time": ("time", time, {"units": "s", "display_units": "ms"}),
            "trace_trial": ("trace_trial", np.asarray(record_trials)),
            "trace_time": ("trace_time", trace_time, {"units": "s", "display_units": "ms"}),
            "lag": ("lag", lag, {"units": "s", "display_units": "ms"}),
            "isi_bin": ("isi_bin", (edges[:-1] + edges[1:]) / 2, {"units": "s", "display_units": "ms"}),
            "isi_bin_lower": ("isi_bin", edges[:-1], {"units": "s"}),
            "isi_bin_upper": ("isi_bin", edges[1:], {"units": "s"}),
            "spike_byte": ("spike_byte", np.arange(packed.shape[-1])),
        },
    )
    if pending:
        flat = np.zeros(n_points, dtype=bool)
        flat[n_points - pending:] = True
        mask = xr.DataArray(flat.reshape(shape), dims=axes)
        for name in ("rate", "rate_std", "isi_mean", "isi_std", "isi_cv", "v_mean", "v_var",
                     "v_autocov", "v"):
            ds[name] = ds[name].where(~mask)
        ds["status"] = ds["status"].where(~mask, 0).astype(np.int8)
        ds["status"].attrs.update({"units": "1", "flag_values": [0, 1, 2],
                                   "flag_meanings": "pending done failed"})

    workflow = {
        "name": f"synthetic-{preset}",
        "description": "synthetic data for the review-layer tests",
        "seed": seed, "trials": trials, "duration": duration, "dt": dt, "method": "euler",
        "neuron": neuron, "inputs": inputs,
        "sweep": {
            ax1[0]: {"param": ax1[4], "values": ax1[1].tolist(), "unit": ax1[3]},
            ax2[0]: {"param": ax2[4], "values": ax2[1].tolist(), "unit": ax2[3]},
        },
        "record": {"v": {"trials": list(record_trials), "every": record_every}},
        "summaries": {"warmup": 0.0, "moments": {"every": moments_every},
                      "autocov": {"max_lag": max_lag}},
    }
    ds.attrs.update({
        "workflow": json.dumps(workflow, sort_keys=True),
        "fingerprint": f"synthetic-{preset}-{n_x}x{n_y}-{seed}",
        "lifbatch_version": "0.0.0+synthetic",
        "created": "2025-01-01T00:00:00+00:00",
        "name": workflow["name"],
        "dt": dt, "duration": duration, "method": "euler", "seed": seed, "trials": trials,
        "versions": json.dumps({"numpy": np.__version__, "xarray": xr.__version__}),
    })
    return ds


def write_synthetic_store(path: str | Path, ds: xr.Dataset | None = None, *,
                          block: int = 10, **kwargs) -> Path:
    """Write a synthetic Dataset to a Zarr store at ``path`` (chunked in blocks of points).

    Parameters
    ----------
    path : str or Path
        Store directory (overwritten).
    ds : xarray.Dataset, optional
        Dataset to write; default ``synthetic_dataset(**kwargs)``.
    block : int
        Chunk length along each sweep axis (the engine's task blocks).
    """
    if ds is None:
        ds = synthetic_dataset(**kwargs)
    axes = [d for d in ds["rate"].dims]
    ds = ds.chunk({a: min(block, ds.sizes[a]) for a in axes})
    with warnings.catch_warnings():
        # zarr 3 notes that consolidated metadata is not in the v3 spec yet
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        ds.to_zarr(str(path), mode="w")
    return Path(path)
