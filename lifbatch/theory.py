"""Closed-form results of the LIF neuron (used by tests and drawn over plots).

With ``tau_m dV/dt = e_l - V + x + sigma sqrt(tau_m) xi(t)`` (``x`` the drives in
volts, ``x = r_m I`` for a current, ``mu`` for a voltage, ``tau_m r`` for a
voltage per time; lifbatch.inputs) and ``V_inf = e_l + x``:

- constant input (sigma = 0): V relaxes to ``V_inf``; it fires when
  ``V_inf > v_th`` with period ``t_ref + tau_m ln((V_inf - v_reset) / (V_inf - v_th))``;
- white noise: the Siegert / Ricciardi first-passage formula (Brunel 2000, eq. 21)
  ``1/rate = t_ref + tau_m sqrt(pi) int_{(v_reset-V_inf)/sigma}^{(v_th-V_inf)/sigma} e^{u^2} (1 + erf u) du``,
  and the coefficient of variation of the ISIs from the second moment of the
  first-passage time (Brunel 2000, appendix; Tuckwell 1988)
  ``CV^2 = 2 pi (rate tau_m)^2 int_{y_r}^{y_th} e^{x^2} dx int_{-inf}^x e^{y^2} (1 + erf y)^2 dy``;
- no threshold (``v_th = inf``), constant input and white noise: V is an
  Ornstein-Uhlenbeck process. Its mean relaxes from ``v_init``,
  ``m(t) = V_inf + (v_init - V_inf) e^{-t/tau_m}``, its variance from 0,
  ``var(t) = sigma^2/2 (1 - e^{-2t/tau_m})``, and the stationary autocovariance is
  ``sigma^2/2 e^{-|lag|/tau_m}``.

The rate and CV are continuous-time results; a simulation with step dt approaches
them as dt -> 0 (for white noise the error shrinks like sqrt(dt): Brunel & Hakim
1999). The discrete-time counterparts for constant input, and for the OU process
(both of lifbatch's integrators are AR(1) recursions, see :func:`ou_step`), are
exact for the simulation and also given here.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from typing import Any, NamedTuple

import numpy as np

from .drives import x_scale
from .identity import with_store_summaries
from .models import get_model
from .workflow import load_workflow

__all__ = [
    "lif_rate",
    "lif_isi_steps",
    "siegert_rate",
    "siegert_cv",
    "ou_step",
    "ou_mean",
    "ou_var",
    "ou_autocov",
    "theory_rate",
    "theory_cv",
    "theory_ou",
    "applies",
    "point_theory",
]


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
    while v_inf + (v_reset - v_inf) * q**k <= v_th:
        k += 1
    while k > 1 and v_inf + (v_reset - v_inf) * q ** (k - 1) > v_th:
        k -= 1
    return ref_steps + k


_LOG2 = math.log(2.0)


def _log1p_erf(y: float) -> float:
    """log(1 + erf y), finite for very negative y (1 + erf y = 2 Phi(sqrt(2) y))."""
    # (deferred: scipy where a closed form is evaluated; the figures of a store without one load none)
    from scipy.special import log_ndtr

    return _LOG2 + float(log_ndtr(math.sqrt(2.0) * y))


def siegert_rate(v_inf, sigma, *, tau_m, v_th, v_reset, t_ref=0.0):
    """Rate (Hz) of a LIF neuron with white-noise input (Siegert formula).

    Parameters
    ----------
    v_inf, sigma : float or array
        Asymptotic mean ``e_l + x`` and noise amplitude of V (same unit as the
        voltages, e.g. V); broadcast against each other.
    tau_m, t_ref : float
        Membrane time constant and refractory period (s).
    v_th, v_reset : float
        Threshold (``inf``: no spikes, rate 0) and reset (unit of ``v_inf``).

    Returns
    -------
    float or array
        Rate (Hz); ``sigma = 0`` gives the constant-input rate :func:`lif_rate`.
    """
    # (deferred: scipy where a closed form is evaluated; the figures of a store without one load none)
    from scipy.integrate import quad
    from scipy.special import erfcx

    v_inf, sigma = np.broadcast_arrays(np.asarray(v_inf, float), np.asarray(sigma, float))
    out = np.empty(v_inf.shape)
    for i in np.ndindex(v_inf.shape):
        mu, s = v_inf[i], sigma[i]
        if s == 0 or math.isinf(v_th):
            out[i] = lif_rate(mu, tau_m=tau_m, v_th=v_th, v_reset=v_reset, t_ref=t_ref)
            continue
        lo, hi = (v_reset - mu) / s, (v_th - mu) / s
        # exp(u^2) (1 + erf u) = erfcx(-u), finite for very negative u
        integral, _ = quad(lambda u: erfcx(-u), lo, hi, limit=200)
        out[i] = 1.0 / (t_ref + tau_m * math.sqrt(math.pi) * integral)
    return out if out.ndim else float(out)


def _siegert_cv_point(mu: float, s: float, tau_m: float, v_th: float, v_reset: float, t_ref: float) -> float:
    """ISI CV of one white-noise point (``s > 0``, finite ``v_th``); see :func:`siegert_cv`."""
    # (deferred: scipy where a closed form is evaluated; the figures of a store without one load none)
    from scipy.integrate import quad
    from scipy.special import dawsn

    yr, yt = (v_reset - mu) / s, (v_th - mu) / s
    # Everything is scaled by e^{-M} (rate integral) and e^{-2M} (variance): far below
    # threshold both grow like e^{yt^2} and e^{2 yt^2}, beyond the range of a double.
    big = max(yt, 0.0) ** 2
    rate_int, _ = quad(lambda u: math.exp(u * u - big + _log1p_erf(u)), yr, yt, limit=200)
    # Var(T)/tau^2 = 2 pi int_{yr}^{yt} e^{x^2} dx int_{-inf}^x e^{y^2} (1+erf y)^2 dy. With
    # the order of integration swapped the inner integral is closed-form,
    # int_m^{yt} e^{x^2} dx = e^{yt^2} D(yt) - e^{m^2} D(m) (D: Dawson's function),
    # m = max(y, yr): one integral over y instead of two nested ones.
    d_t = float(dawsn(yt))

    def integrand(y: float) -> float:
        m = max(y, yr)
        g = y * y + 2.0 * _log1p_erf(y) - 2.0 * big  # log of e^{y^2} (1+erf y)^2 e^{-2M}
        return math.exp(g + yt * yt) * d_t - math.exp(g + m * m) * float(dawsn(m))

    below, _ = quad(integrand, -np.inf, yr, limit=200)
    between, _ = quad(integrand, yr, yt, limit=200)
    var_t = 2.0 * math.pi * tau_m**2 * max(below + between, 0.0)
    mean_t = t_ref * math.exp(-big) + tau_m * math.sqrt(math.pi) * rate_int  # both times e^{-M}
    return math.sqrt(var_t) / mean_t


def siegert_cv(v_inf, sigma, *, tau_m, v_th, v_reset, t_ref=0.0):
    """Coefficient of variation of the ISIs of a LIF neuron with white-noise input.

    From the first two moments of the first-passage time from ``v_reset`` to
    ``v_th`` (Brunel 2000, appendix A; Tuckwell 1988):
    ``CV^2 = 2 pi (rate tau_m)^2 int_{y_r}^{y_th} e^{x^2} dx int_{-inf}^x e^{y^2} (1+erf y)^2 dy``,
    ``y = (v - v_inf) / sigma``, with ``rate`` from :func:`siegert_rate` (the refractory
    period lengthens every ISI by ``t_ref`` and so lowers the CV; it adds no variance).
    Limits: 1 far below threshold (Poisson firing), 0 without noise above threshold.

    Parameters
    ----------
    v_inf, sigma : float or array
        Asymptotic mean and noise amplitude of V (unit of the voltages); broadcast.
    tau_m, t_ref : float
        Membrane time constant and refractory period (s).
    v_th, v_reset : float
        Threshold and reset (unit of ``v_inf``).

    Returns
    -------
    float or array
        CV (dimensionless); NaN where the neuron never fires (``v_th = inf``, or no
        noise below threshold), 0 for constant input above threshold.
    """
    v_inf, sigma = np.broadcast_arrays(np.asarray(v_inf, float), np.asarray(sigma, float))
    out = np.empty(v_inf.shape)
    for i in np.ndindex(v_inf.shape):
        mu, s = float(v_inf[i]), float(sigma[i])
        if math.isinf(v_th):
            out[i] = math.nan
        elif s == 0:
            out[i] = 0.0 if mu > v_th else math.nan
        else:
            out[i] = _siegert_cv_point(mu, s, tau_m, v_th, v_reset, t_ref)
    return out if out.ndim else float(out)


# --------------------------------------------------------------------------- OU process
def ou_step(*, tau_m, dt, method="exact") -> tuple[float, float]:
    """Decay and noise variance of one step of lifbatch's integrators, per unit sigma^2.

    Without threshold both integrators are the AR(1) recursion
    ``V_{k+1} - V_inf = q (V_k - V_inf) + s z_k`` (z_k standard normal) with

    - ``method="exact"``: ``q = exp(-dt/tau_m)``, ``s^2 = sigma^2 (1 - q^2) / 2``
      (the OU process sampled every dt, no discretization error);
    - ``method="euler"``: ``q = 1 - dt/tau_m``, ``s^2 = sigma^2 dt/tau_m``.

    Returns
    -------
    q : float
        Decay per step (dimensionless).
    s2 : float
        Noise variance added per step divided by sigma^2 (dimensionless).
    """
    a = dt / tau_m
    if method == "euler":
        return 1.0 - a, a
    q = math.exp(-a)
    return q, (1.0 - q * q) / 2.0


def ou_mean(t, *, v_init, v_inf, tau_m, dt=None, method="exact"):
    """Mean of V at times ``t`` (s) without threshold: relaxation from ``v_init`` to ``v_inf``.

    ``dt=None``: the continuous process, ``v_inf + (v_init - v_inf) e^{-t/tau_m}``;
    with ``dt`` (s) the discrete-time recursion of ``method`` (:func:`ou_step`),
    ``v_inf + (v_init - v_inf) q^k`` at step ``k = round(t/dt)``. Unit of ``v_inf``.
    """
    t = np.asarray(t, float)
    if dt is None:
        return v_inf + (v_init - v_inf) * np.exp(-t / tau_m)
    q, _ = ou_step(tau_m=tau_m, dt=dt, method=method)
    return v_inf + (v_init - v_inf) * q ** np.round(t / dt)


def ou_var(t, *, sigma, tau_m, dt=None, method="exact"):
    """Variance of V at times ``t`` (s) without threshold, from 0 at t = 0 (unit of sigma^2).

    ``dt=None``: ``sigma^2/2 (1 - e^{-2t/tau_m})``; with ``dt`` (s) the recursion of
    ``method``: ``s^2 (1 - q^{2k}) / (1 - q^2)``, the same as the continuous one at the
    sample times for ``exact`` and ``sigma^2 / (2 - dt/tau_m)`` in the stationary state for
    ``euler`` (the O(dt/tau_m) error of Euler's method).
    """
    t = np.asarray(t, float)
    if dt is None:
        return sigma**2 / 2 * (1.0 - np.exp(-2.0 * t / tau_m))
    q, s2 = ou_step(tau_m=tau_m, dt=dt, method=method)
    return sigma**2 * s2 * (1.0 - q ** (2.0 * np.round(t / dt))) / (1.0 - q * q)


def ou_autocov(lag, *, sigma, tau_m, dt=None, method="exact"):
    """Stationary autocovariance of V at ``lag`` (s) without threshold (unit of sigma^2).

    ``dt=None``: ``sigma^2/2 e^{-|lag|/tau_m}``; with ``dt`` (s): ``var_inf q^{|k|}``,
    ``k = round(lag/dt)``, ``var_inf = s^2 / (1 - q^2)``.
    """
    lag = np.abs(np.asarray(lag, float))
    if dt is None:
        return sigma**2 / 2 * np.exp(-lag / tau_m)
    q, s2 = ou_step(tau_m=tau_m, dt=dt, method=method)
    return sigma**2 * s2 / (1.0 - q * q) * q ** np.round(lag / dt)


# --------------------------------------------------------------------------- over a Dataset
class _Point(NamedTuple):
    index: tuple[int, ...]  # type: ignore[assignment]  # into the output array (tuple.index() unused) (the Dataset's own sweep axes)
    params: dict
    v_inf: float  # e_l + x (unit of the voltages)
    sigma: float  # white-noise amplitude of V (unit of the voltages)


def _position(values: np.ndarray, v: float) -> int:
    """Index of ``v`` on an axis: the equal value (also for inf), else the nearest."""
    same = np.flatnonzero(values == v)
    if same.size:
        return int(same[0])
    with np.errstate(invalid="ignore"):
        return int(np.nanargmin(np.abs(values - v)))


class _Grid(NamedTuple):
    wf: Any
    dims: list[str]
    shape: tuple[int, ...]
    coords: dict
    points: list[_Point]


def _coordinate_positions(coord, labels: tuple[str, ...]) -> np.ndarray:
    """A coordinate's values as floats: a labelled axis's labels as their positions (the
    review shows such an axis by its positions already)."""
    values = np.asarray(coord.values)
    if values.dtype.kind in "TUO":
        return np.asarray([labels.index(str(v)) for v in values.ravel()], float).reshape(values.shape)
    return np.asarray(values, float)


@functools.lru_cache(maxsize=16)
def _load(raw: str, canonical: str | None = None):
    """The stored workflow JSON, parsed once (Workflow is frozen: safe to share), with the
    store's summary settings (its canonical JSON)."""

    return with_store_summaries(load_workflow(json.loads(raw), limits=False), canonical)  # it ran already


def _white_noise_points(ds) -> _Grid | None:
    """The Dataset's grid points when every drive is constant or white noise and tau_m is
    finite, else None.

    The points are those of ``ds`` itself, which may be a selection of the workflow's
    grid (a thinned axis, one value of an axis kept as a scalar coordinate): each
    coordinate value is looked up on the workflow's axis. ``x`` and sigma are what the
    kernel integrates (lifbatch.inputs): each drive value times its scale (r_m for a
    current, tau_m for a voltage per time), independent white noises adding in quadrature.
    """

    raw = ds.attrs.get("workflow")
    if raw is None:  # (not a lifbatch Dataset: no model or inputs to apply the theory to)
        return None
    # (a stored workflow that no longer loads is an error to see, not a figure without theory)
    wf = _load(raw, ds.attrs.get("canonical")) if isinstance(raw, str) else load_workflow(raw, limits=False)
    if wf.model != "lif":
        # other models: their own theory (lifbatch.models), under constant currents only
        if not wf.drives or any(d.kind != "constant" for d in wf.drives):
            return None
    elif not wf.drives or any(d.kind not in ("constant", "white_noise") for d in wf.drives):
        return None
    dims, shape, coords, positions = [], [], {}, []
    for ax in wf.sweep:
        labels = getattr(ax, "point_labels", ())
        # (a sampled design's coordinate: the points' numbers; a labelled axis: its positions)
        values = np.asarray(ax.coord, float) if not labels else np.arange(ax.size, dtype=float)
        if ax.name in ds.dims:
            wanted = _coordinate_positions(ds[ax.name], labels)
            dims.append(ax.name)
            coords[ax.name] = ds[ax.name]
        elif ax.name in ds.coords and ds[ax.name].size == 1:  # a selected value: no dimension
            wanted = _coordinate_positions(ds[ax.name], labels).ravel()
        else:  # (not in the Dataset at all: the whole axis)
            wanted = values
            dims.append(ax.name)
            coords[ax.name] = (ax.name, values, {"units": ax.units[0]})
        if ax.name in dims:
            shape.append(wanted.size)
        positions.append((ax.name in dims, [_position(values, v) for v in wanted]))
    points = []
    for combo in itertools.product(*[list(enumerate(idx)) for _, idx in positions]):
        p = wf.point_params(tuple(i for _, i in combo))
        out_index = tuple(k for (is_dim, _), (k, _) in zip(positions, combo) if is_dim)
        if wf.model != "lif":  # (v_inf holds the constant current, sigma 0)
            points.append(_Point(out_index, p, sum(p[f"inputs.{d.name}.value"] for d in wf.drives), 0.0))
            continue
        if math.isinf(p["neuron.tau_m"]):
            return None
        points.append(_Point(out_index, p, *_v_inf_sigma(wf, p)))
    return _Grid(wf, dims, tuple(shape), coords, points)


def _v_inf_sigma(wf, p: dict) -> tuple[float, float]:
    """V_inf and the white-noise amplitude of V at one point (constant and white-noise drives)."""

    x, s2 = 0.0, 0.0
    for d in wf.drives:
        scale = x_scale(p, d.role)
        if d.kind == "constant":
            x += scale * p[f"inputs.{d.name}.value"]
        else:
            s2 += (scale * p[f"inputs.{d.name}.sigma"]) ** 2
    return p["neuron.e_l"] + x, math.sqrt(s2)


def applies(wf) -> bool:
    """Whether the closed forms apply to a workflow: constant and white-noise drives only,
    a finite tau_m at every point, and a threshold; the LIF model only."""
    if wf.model != "lif":
        return False
    if not wf.drives or any(d.kind not in ("constant", "white_noise") for d in wf.drives):
        return False
    taus = [wf.params["neuron.tau_m"]] + [
        v for ax in wf.sweep for p, vals in zip(ax.params, ax.values) if p == "neuron.tau_m" for v in vals
    ]
    return all(math.isfinite(t) for t in taus)


def point_theory(wf, p: dict) -> dict[str, float]:
    """The Siegert rate (Hz) and ISI CV at one point's parameters ``p`` (SI, all of them:
    ``wf.point_params``), where :func:`applies` holds."""
    v_inf, sigma = _v_inf_sigma(wf, p)
    kw = dict(tau_m=p["neuron.tau_m"], v_th=p["neuron.v_th"], v_reset=p["neuron.v_reset"], t_ref=p["neuron.t_ref"])
    return {"rate": float(siegert_rate(v_inf, sigma, **kw)), "isi_cv": float(siegert_cv(v_inf, sigma, **kw))}


def _over_axes(grid: _Grid, values: np.ndarray, attrs: dict):
    # (deferred: `lifbatch bench` evaluates the closed forms without xarray)
    import xarray as xr

    return xr.DataArray(values, dims=grid.dims, coords=grid.coords, attrs=attrs)


def theory_rate(ds):
    """The closed-form rate (Hz) over a results Dataset's sweep axes, or None.

    Applies when every input is ``constant`` or ``white_noise`` and tau_m is
    finite: the constant-input formula without noise, the Siegert formula with.
    """
    grid = _white_noise_points(ds)
    if grid is None:
        return None
    if grid.wf.model != "lif":
        return _model_theory(grid, "rate", {"units": "Hz", "long_name": f"theory ({grid.wf.model}, constant input)"})
    out = np.full(grid.shape, np.nan)
    for pt in grid.points:
        p = pt.params
        out[pt.index] = siegert_rate(
            pt.v_inf,
            pt.sigma,
            tau_m=p["neuron.tau_m"],
            v_th=p["neuron.v_th"],
            v_reset=p["neuron.v_reset"],
            t_ref=p["neuron.t_ref"],
        )
    noisy = any(d.kind == "white_noise" for d in grid.wf.drives)
    return _over_axes(
        grid, out, {"units": "Hz", "long_name": "theory (Siegert)" if noisy else "theory (constant input)"}
    )


def theory_cv(ds):
    """The closed-form ISI CV over a results Dataset's sweep axes, or None.

    Where :func:`theory_rate` applies: :func:`siegert_cv` with white noise (0 for
    constant input above threshold, NaN where the neuron is silent).
    """
    grid = _white_noise_points(ds)
    if grid is None or grid.wf.model != "lif":
        return None
    out = np.full(grid.shape, np.nan)
    for pt in grid.points:
        p = pt.params
        out[pt.index] = siegert_cv(
            pt.v_inf,
            pt.sigma,
            tau_m=p["neuron.tau_m"],
            v_th=p["neuron.v_th"],
            v_reset=p["neuron.v_reset"],
            t_ref=p["neuron.t_ref"],
        )
    if not np.isfinite(out).any():
        return None
    noisy = any(d.kind == "white_noise" for d in grid.wf.drives)
    return _over_axes(
        grid, out, {"units": "1", "long_name": "theory (Siegert)" if noisy else "theory (constant input)"}
    )


def _model_theory(grid: _Grid, what: str, attrs: dict):
    """A model's own theory (:meth:`NeuronModel.rate`) at every point, or None where it has
    none (the model returns None)."""

    model = get_model(grid.wf.model)
    out = np.full(grid.shape, np.nan)
    for pt in grid.points:
        value = model.rate(pt.params, pt.v_inf) if what == "rate" else model.rheobase(pt.params)
        if value is None:
            return None
        out[pt.index] = value
    return _over_axes(grid, out, attrs)


def rheobase(wf, params: dict) -> float | None:
    """The rheobase (A) of the workflow's model at one point's parameters: the smallest constant
    current that makes it fire from rest, from its steady-state I-V curve (a saddle node), or
    None where the model has none. For the LIF, the current that brings V_inf to v_th:
    (v_th - e_l) / r_m (with a finite tau_m and a resistance)."""
    if wf.model == "lif":
        if math.isinf(params["neuron.tau_m"]) or not math.isfinite(params["neuron.v_th"]):
            return None
        return (params["neuron.v_th"] - params["neuron.e_l"]) / params["neuron.r_m"]

    return get_model(wf.model).rheobase(params)


def theory_rheobase(ds):
    """The model's rheobase (A) over a results Dataset's sweep axes (a line on an f(I)
    figure), or None; for models other than the LIF, with constant currents only."""
    grid = _white_noise_points(ds)
    if grid is None or grid.wf.model == "lif":
        return None
    return _model_theory(grid, "rheobase", {"units": "A", "long_name": f"rheobase ({grid.wf.model})"})


def theory_ou(ds):
    """Expected ``v_mean``, ``v_var`` and ``v_autocov`` of a results Dataset, or None.

    Applies to the points without threshold (``v_th = inf``: V never resets), finite
    tau_m and only constant and white-noise inputs: V is then the AR(1) recursion of
    :func:`ou_step`, and the values are exact for the simulation (method and dt of
    the workflow), not an approximation: the expectations of the store's estimators
    (docs/store-layout.md; ddof=1 variances and covariances are unbiased). For
    ``method: exact`` they equal the continuous OU formulas at the sample times; for
    ``euler`` they differ from them by O(dt/tau_m). ``v_autocov`` is, as in the store,
    the covariance C(t, t+lag) = var(t) q^{lag/dt} averaged over the sample times
    t >= warmup with t + lag within the run (the stationary
    ``sigma^2/2 e^{-lag/tau_m}`` once warmup >> tau_m).

    Returns
    -------
    xarray.Dataset or None
        ``v_mean`` (sweep axes, time), ``v_var`` (sweep axes, time), ``v_autocov``
        (sweep axes, lag) in SI, NaN at the points where the theory does not apply;
        None when it applies nowhere.
    """
    # (deferred: `lifbatch bench` evaluates the closed forms without xarray)
    import xarray as xr

    if "time" not in ds.coords or "lag" not in ds.coords:
        return None
    grid = _white_noise_points(ds)
    if grid is None or grid.wf.model != "lif":
        return None
    wf = grid.wf
    time = np.asarray(ds["time"].values, float)
    lag = np.asarray(ds["lag"].values, float)
    n_t, n_lag = time.size, lag.size
    # the store's estimator: samples j >= j0 (t >= warmup), j + lag index < n_t
    j0 = int(np.ceil(wf.v_warmup / wf.moments_every - 1e-9))
    lag_idx = np.round(lag / wf.moments_every).astype(int)
    mean = np.full(grid.shape + (n_t,), np.nan)
    var = np.full(grid.shape + (n_t,), np.nan)
    acov = np.full(grid.shape + (n_lag,), np.nan)
    for pt in grid.points:
        p = pt.params
        if p["neuron.v_th"] != math.inf:
            continue  # a threshold (reachable or not) resets V: no longer an OU process
        kw = dict(tau_m=p["neuron.tau_m"], dt=wf.dt, method=wf.method)
        mean[pt.index] = ou_mean(time, v_init=p["neuron.v_init"], v_inf=pt.v_inf, **kw)
        v = ou_var(time, sigma=pt.sigma, **kw)
        var[pt.index] = v
        q, _ = ou_step(**kw)
        for i, li in enumerate(lag_idx):
            js = np.arange(j0, n_t - li)
            if js.size:
                acov[pt.index + (i,)] = np.mean(v[js]) * q ** round(lag[i] / wf.dt)
    if not np.isfinite(var).any():
        return None
    axes, coords = grid.dims, grid.coords
    label = "theory (OU)"
    vunits = ds["v_mean"].attrs.get("units", "V") if "v_mean" in ds else "V"
    sq = ds["v_var"].attrs.get("units", "V**2") if "v_var" in ds else "V**2"
    return xr.Dataset(
        {
            "v_mean": xr.DataArray(
                mean,
                dims=axes + ["time"],
                coords={**coords, "time": ds["time"]},
                attrs={"units": vunits, "long_name": label},
            ),
            "v_var": xr.DataArray(
                var,
                dims=axes + ["time"],
                coords={**coords, "time": ds["time"]},
                attrs={"units": sq, "long_name": label},
            ),
            "v_autocov": xr.DataArray(
                acov, dims=axes + ["lag"], coords={**coords, "lag": ds["lag"]}, attrs={"units": sq, "long_name": label}
            ),
        }
    )
