"""Closed-form firing rates of the LIF neuron (used by tests and drawn over plots).

With ``tau_m dV/dt = e_l - V + mu + sigma sqrt(tau_m) xi(t)``:

- constant input (sigma = 0): V relaxes to ``V_inf = e_l + mu``; it fires when
  ``V_inf > v_th`` with period ``t_ref + tau_m ln((V_inf - v_reset) / (V_inf - v_th))``;
- white noise: the Siegert / Ricciardi first-passage formula (Brunel 2000, eq. 21)
  ``1/rate = t_ref + tau_m sqrt(pi) int_{(v_reset-V_inf)/sigma}^{(v_th-V_inf)/sigma} e^{u^2} (1 + erf u) du``.

Both are continuous-time results; a simulation with step dt approaches them as
dt -> 0 (for white noise the error shrinks like sqrt(dt): Brunel & Hakim 1999).
The discrete-time counterparts for constant input are exact and also given here.
"""

from __future__ import annotations

import json
import math

import numpy as np

__all__ = ["lif_rate", "lif_isi_steps", "siegert_rate", "theory_rate"]


def lif_rate(v_inf, *, tau_m, v_th, v_reset, t_ref=0.0):
    """Rate (Hz) of a LIF neuron relaxing towards ``v_inf`` (constant input), continuous time."""
    v_inf = np.asarray(v_inf, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        period = t_ref + tau_m * np.log((v_inf - v_reset) / (v_inf - v_th))
        rate = np.where(v_inf > v_th, 1.0 / period, 0.0)
    return rate if rate.ndim else float(rate)


def lif_isi_steps(v_inf, *, tau_m, v_th, v_reset, dt, ref_steps, method="euler") -> int:
    """Exact ISI in steps of the discrete-time model (lifbatch's step order), constant input.

    After a spike V is clamped for ``ref_steps`` steps, then follows
    ``V_k = v_inf + (v_reset - v_inf) q^k`` with ``q = 1 - dt/tau_m`` (Euler) or
    ``exp(-dt/tau_m)`` (exact); the next spike is the first k with V_k > v_th.
    """
    q = (1 - dt / tau_m) if method == "euler" else math.exp(-dt / tau_m)
    if v_inf <= v_th:
        return 0
    k = math.ceil(math.log((v_inf - v_th) / (v_inf - v_reset)) / math.log(q))
    # guard the rounding of ceil at an exact boundary by checking the inequality itself
    while v_inf + (v_reset - v_inf) * q ** k <= v_th:
        k += 1
    while k > 1 and v_inf + (v_reset - v_inf) * q ** (k - 1) > v_th:
        k -= 1
    return ref_steps + k


def siegert_rate(v_inf, sigma, *, tau_m, v_th, v_reset, t_ref=0.0):
    """Rate (Hz) of a LIF neuron with white-noise input (Siegert formula); vectorized over v_inf, sigma."""
    from scipy.integrate import quad
    from scipy.special import erfcx

    v_inf, sigma = np.broadcast_arrays(np.asarray(v_inf, float), np.asarray(sigma, float))
    out = np.empty(v_inf.shape)
    for i in np.ndindex(v_inf.shape):
        mu, s = v_inf[i], sigma[i]
        if s == 0:
            out[i] = lif_rate(mu, tau_m=tau_m, v_th=v_th, v_reset=v_reset, t_ref=t_ref)
            continue
        lo, hi = (v_reset - mu) / s, (v_th - mu) / s
        # exp(u^2) (1 + erf u) = erfcx(-u), finite for very negative u
        integral, _ = quad(lambda u: erfcx(-u), lo, hi, limit=200)
        out[i] = 1.0 / (t_ref + tau_m * math.sqrt(math.pi) * integral)
    return out if out.ndim else float(out)


def theory_rate(ds):
    """The closed-form rate (Hz) over a results Dataset's sweep axes, or None.

    Applies when every input is ``constant`` or ``white_noise`` and tau_m is
    finite: the constant-input formula without noise, the Siegert formula with.
    """
    import xarray as xr

    from .inputs import _x_scale
    from .workflow import load_workflow

    try:
        wf = load_workflow(json.loads(ds.attrs["workflow"]))
    except Exception:
        return None
    if not wf.drives or any(d.kind not in ("constant", "white_noise") for d in wf.drives):
        return None
    axes = wf.axis_names
    shape = wf.shape
    out = np.full(shape, np.nan)
    for index in np.ndindex(shape) if shape else [()]:
        p = wf.point_params(index)
        tau = p["neuron.tau_m"]
        if math.isinf(tau):
            return None
        x, s2 = 0.0, 0.0
        for d in wf.drives:
            scale = _x_scale(wf, p, d.role)
            if d.kind == "constant":
                x += scale * p[f"inputs.{d.name}.value"]
            else:
                s2 += (scale * p[f"inputs.{d.name}.sigma"]) ** 2
        kw = dict(tau_m=tau, v_th=p["neuron.v_th"], v_reset=p["neuron.v_reset"], t_ref=p["neuron.t_ref"])
        out[index] = siegert_rate(p["neuron.e_l"] + x, math.sqrt(s2), **kw)
    da = xr.DataArray(out, dims=axes, coords={a: ds[a] for a in axes},
                      attrs={"units": "Hz", "long_name": "theory (Siegert)" if any(
                          d.kind == "white_noise" for d in wf.drives) else "theory (constant input)"})
    return da
