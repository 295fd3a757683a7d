"""The point model: the simulation of all trials of one grid point (numpy and the kernel).

:class:`PointModel` works out once per workflow what does not change from point
to point (the time axis, recorded rows, strides, the drives' kinds and parameter
names); :meth:`PointModel.simulate` then turns one point's parameters and random
streams into the kernel's inputs (each drive through its kind in
:mod:`lifbatch.drives`) and runs :func:`lifbatch.models.lif_loop.lif_trials`. Every random number
is drawn inside the kernel from the point's streams (:mod:`lifbatch.streams`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .drives import DRIVES, PointInputs, x_scale
from .kernel import EMPTY2, FUSED_NORMALS, NO_STATE
from .layout import samples, spike_bytes
from .models import get_model
from .models.lif_loop import lif_trials, scratch_size
from .models.loops import call
from .streams import point_streams

EMPTY3 = np.zeros((0, 0, 0))

__all__ = ["PointModel", "PointResult", "point_buffers", "simulate_point"]

# Trials per kernel call when numpy draws the normals (FUSED_NORMALS false): keeps a
# chunk's buffer in L2 cache. Otherwise every random number is drawn in the kernel.
_CHUNK_NUMBERS = 1 << 16


@dataclass
class PointResult:
    """Raw output of one point: the kernel's outputs for all trials."""

    bits: np.ndarray  # (trials, n_bytes) uint8
    counts: np.ndarray  # (trials,) int64
    moments: np.ndarray  # (trials, n_mom) V every moments.every
    traces: np.ndarray  # (n_recorded, n_rec) V of recorded trials every record.every
    #: (k, n_recorded, n_rec) the model's state variables other than V, in its order, when
    #: any is recorded (record.state); else empty
    states: np.ndarray = field(default_factory=lambda: EMPTY3)


def point_buffers(wf) -> PointResult:
    """Output arrays of one point for :func:`simulate_point` (``bits`` zeroed, as it needs)."""
    n = wf.n_steps
    n_rec = samples(n, wf.record_stride)
    return PointResult(
        bits=np.zeros((wf.trials, spike_bytes(n)), np.uint8),
        counts=np.zeros(wf.trials, np.int64),
        moments=np.empty((wf.trials, samples(n, wf.moments_stride))),
        traces=np.empty((len(wf.record_trials), n_rec)),
        states=np.full((n_state_vars(wf), len(wf.record_trials), n_rec), np.nan) if wf.record_state else EMPTY3,
    )


def state_names(wf) -> list[str]:
    """The state variables a model's loop records beside V, in its order: the model's own other
    than V, then the conductance of each ``poisson_conductance`` drive (``g_<drive>``)."""

    own = [v.name for v in get_model(wf.model).state if v.name != "v"]
    return own + [f"g_{d.name}" for d in wf.drives if d.kind == "poisson_conductance"]


def n_state_vars(wf) -> int:
    return len(state_names(wf))


class PointModel:
    """The simulation of one workflow's grid points, set up once for all of them.

    Examples
    --------
    >>> model = PointModel(load_workflow("workflows/quickstart.yaml"))   # doctest: +SKIP
    >>> res = model.simulate(model.wf.point_params((0, 3)))                # doctest: +SKIP
    """

    def __init__(self, wf):
        self.wf = wf
        self.n = wf.n_steps
        self.dt = wf.dt
        self.trials = wf.trials
        self.exact = wf.method == "exact"
        self.lif = wf.model == "lif"
        self.drives = [(DRIVES[d.kind], d, f"inputs.{d.name}.") for d in wf.drives]
        self.rec_rows = np.full(wf.trials, -1, np.int64)
        for i, tr in enumerate(wf.record_trials):
            self.rec_rows[tr] = i
        self._t = None
        self._streams = None

    @property
    def t(self) -> np.ndarray:
        """The start of every step (s)."""
        if self._t is None:
            self._t = np.arange(self.n) * self.dt
        return self._t

    def streams_gen(self, name: str):
        """A function giving the current point's numpy Generator of stream ``name``."""
        return lambda: self._streams[name]

    def scratch(self) -> np.ndarray:
        """A kernel work space for this workflow's points (reuse it across points)."""
        return np.empty(scratch_size(self.n))

    def inputs(self, params: dict[str, float], streams) -> PointInputs:
        """What the point's drives hand the kernel (each through its kind)."""
        acc = PointInputs(self.n)
        self._streams = streams
        try:
            for kind, drive, prefix in self.drives:
                # (the LIF's x is a voltage; other models take currents in amperes, I / c_m in their loop;
                # a conductance times r_m is the LIF's, dimensionless)
                if kind.name == "poisson_conductance":
                    scale = params["neuron.r_m"] if self.lif else 1.0
                else:
                    scale = 1.0 if kind.name == "poisson" or not self.lif else x_scale(params, drive.role)
                kind.apply(acc, drive, lambda field, _p=prefix: params[_p + field], scale, self)
        finally:
            self._streams = None
        return acc

    def simulate(
        self,
        params: dict[str, float],
        *,
        out: PointResult | None = None,
        scratch: np.ndarray | None = None,
        streams=None,
    ) -> PointResult:
        """Simulate all trials of one point (``params`` from ``wf.point_params``); see
        :func:`simulate_point`."""
        wf = self.wf
        if not self.lif:
            return self._simulate_model(params, out=out, streams=streams)
        n, dt, trials = self.n, self.dt, self.trials
        tau = params["neuron.tau_m"]
        streams = point_streams(wf, params) if streams is None else streams
        acc = self.inputs(params, streams)
        x_base = acc.shared_drive()
        x_trial_all = np.sum(acc.x_rows, axis=0) if acc.x_rows else None
        if not math.isinf(tau):
            a, leak, decay = dt / tau, 1.0, math.exp(-dt / tau)
        else:
            a, leak, decay = dt, 0.0, 1.0
        exact = self.exact
        sigma2 = acc.sigma2
        if sigma2 > 0:
            sigma = math.sqrt(sigma2)
            noise_scale = sigma * math.sqrt((1 - decay * decay) / 2) if exact else sigma * math.sqrt(dt / tau)
        else:
            noise_scale = 0.0
        if acc.has_conductances:  # (the kernel's fast paths have none: the models' loop for it)
            from .models.lif_loop import lif_syn_trials

            p = np.array(
                [
                    a,
                    leak,
                    decay,
                    float(exact),
                    params["neuron.e_l"],
                    params["neuron.v_th"],
                    params["neuron.v_reset"],
                    params["neuron.v_init"],
                ]
            )
            return self._run_loop(
                lif_syn_trials, p, acc, streams, noise_scale, out, (int(round(params["neuron.t_ref"] / dt)),)
            )
        res = out if out is not None else point_buffers(wf)
        if scratch is None:
            scratch = self.scratch()
        # The kernel draws every random number itself, bit for bit as the streams' own
        # Generator methods would (standard_normal, random, poisson), from the streams'
        # SFC64 states, written back afterwards. Only when numba's ziggurat tables are
        # not numpy's (FUSED_NORMALS) does numpy draw the normals, into a buffer.
        fused = sigma2 > 0 and FUSED_NORMALS
        noise_state = streams.state("noise") if fused else NO_STATE
        uni_state = streams.state("uniform") if acc.uni_mean else NO_STATE
        poi_state = streams.state("poisson") if acc.lam else NO_STATE
        lam = np.array(acc.lam, float)
        enlam = np.array([math.exp(-x) for x in acc.lam], float)  # the C library's exp, as numpy's sampler
        uni_mean, uni_half = np.array(acc.uni_mean, float), np.array(acc.uni_half, float)
        weights = np.array(acc.weights, float)
        v_init, e_l, v_th = params["neuron.v_init"], params["neuron.e_l"], params["neuron.v_th"]
        v_reset, ref_steps = params["neuron.v_reset"], int(round(params["neuron.t_ref"] / dt))
        buffered_noise = sigma2 > 0 and not fused
        chunk = trials if not buffered_noise else max(1, min(trials, _CHUNK_NUMBERS // n))
        z_buf = np.empty((chunk, n)) if buffered_noise else EMPTY2
        for start in range(0, trials, chunk):
            stop = min(trials, start + chunk)
            z = streams["noise"].standard_normal(out=z_buf[: stop - start]) if buffered_noise else EMPTY2
            x_trial = x_trial_all[start:stop] if x_trial_all is not None else EMPTY2
            lif_trials(
                v_init,
                x_base,
                x_trial,
                a,
                leak,
                decay,
                exact,
                e_l,
                v_th,
                v_reset,
                ref_steps,
                z,
                noise_state,
                noise_scale,
                uni_state,
                uni_mean,
                uni_half,
                poi_state,
                lam,
                enlam,
                weights,
                wf.moments_stride,
                res.moments[start:stop],
                wf.record_stride,
                self.rec_rows[start:stop],
                res.traces,
                res.bits[start:stop],
                res.counts[start:stop],
                scratch,
            )
        for name, state in (("noise", noise_state), ("uniform", uni_state), ("poisson", poi_state)):
            if state.shape[0]:
                streams.set_state(name, state)
        return res

    def _simulate_model(self, params, *, out=None, streams=None) -> PointResult:
        """A point of a model other than the LIF (lifbatch.models): the same inputs, drawn from
        the same streams in the same order, handed to the model's loop. White noise needs
        the kernel's own normals (FUSED_NORMALS, true with numba's tables as numpy's)."""

        wf = self.wf
        model = get_model(wf.model)
        streams = point_streams(wf, params) if streams is None else streams
        acc = self.inputs(params, streams)
        noise_scale = math.sqrt(acc.sigma2) * math.sqrt(self.dt / model.noise_tau(params)) if acc.sigma2 > 0 else 0.0
        inputs = self._loop_inputs(acc, streams, noise_scale)
        res = out if out is not None else point_buffers(wf)
        model.run(params, self.dt, wf.method, inputs, res, dict(wf.model_options))
        self._write_back(inputs, streams)
        return res

    def _run_loop(self, loop, p, acc, streams, noise_scale, out, extra=()) -> PointResult:

        inputs = self._loop_inputs(acc, streams, noise_scale)
        res = out if out is not None else point_buffers(self.wf)
        call(loop, p, inputs, res, extra)
        self._write_back(inputs, streams)
        return res

    @staticmethod
    def _write_back(inputs: dict, streams) -> None:
        for name, key in (("noise", "noise_state"), ("uniform", "uni_state"), ("poisson", "poi_state")):
            if inputs[key].shape[0]:
                streams.set_state(name, inputs[key])

    def _loop_inputs(self, acc, streams, noise_scale) -> dict:
        """The drive arguments of a model's loop (lifbatch.models.loops.call)."""
        wf = self.wf
        if acc.sigma2 > 0 and not FUSED_NORMALS:  # pragma: no cover - other numba versions
            raise RuntimeError("white noise in a model's loop needs numba's ziggurat tables to be numpy's")
        return {
            "x_base": acc.shared_drive(),
            "x_trial": np.sum(acc.x_rows, axis=0) if acc.x_rows else EMPTY2,
            "noise_state": streams.state("noise") if acc.sigma2 > 0 else NO_STATE,
            "noise_scale": noise_scale,
            "uni_state": streams.state("uniform") if acc.uni_mean else NO_STATE,
            "uni_mean": np.array(acc.uni_mean, float),
            "uni_half": np.array(acc.uni_half, float),
            "poi_state": streams.state("poisson") if acc.lam else NO_STATE,
            "lam": np.array(acc.lam, float),
            "enlam": np.array([math.exp(-x) for x in acc.lam], float),
            "weights": np.array(acc.weights, float),
            "syn": acc.synapses(),
            "mom_stride": wf.moments_stride,
            "rec_stride": wf.record_stride,
            "rec_rows": self.rec_rows,
        }


def simulate_point(
    wf, params: dict[str, float], *, out: PointResult | None = None, scratch: np.ndarray | None = None, streams=None
) -> PointResult:
    """Simulate all trials of one grid point (``params`` from ``wf.point_params``).

    ``out`` (arrays shaped as :func:`point_buffers` gives, ``bits`` zeroed) receives
    the results, e.g. views into a block's arrays; ``scratch`` is the kernel's
    work space (:meth:`PointModel.scratch`), reused across points; ``streams`` the
    point's :func:`streams.point_streams`, made beforehand. None of them changes the
    results. For many points, make one :class:`PointModel` and call its ``simulate``.
    """
    return PointModel(wf).simulate(params, out=out, scratch=scratch, streams=streams)
