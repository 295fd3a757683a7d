"""What every model's numba loop does each step, in this order (the same for every model:
common random numbers across models), and the stream-state helpers they share.

1. The draws, from the kernel's SFC64 samplers (:mod:`lifbatch.kernel`), bit for bit numpy's
   ``Generator(SFC64)``: one ``standard_normal`` of the white noise (when there is white
   noise), one ``random()`` per uniform drive, one ``poisson`` per Poisson drive, every step,
   in (trial, step, drive) order per stream.
2. The continuous drive of the step, added in the LIF's order: ``x_base[s]`` (the shared
   part), then ``x_trial[tr, s]`` (the trial's own), then each uniform drive's
   ``mean + half * (2 u - 1)``.
   Then each conductance drive's current ``g (e_rev - v)`` (``syn[0, j] != 0``: its decay
   per step ``syn[1, j]`` and reversal potential ``syn[2, j]``), at v at the start of the step.
3. The model's update; the white noise's ``noise_scale * z`` and then each Poisson drive's
   ``weight * count`` (when the count is not 0; not the conductance drives) added to V; the
   model's spike rule; then each conductance ``g = g * decay + weight * count``.
4. V on the moments grid (every ``mom_stride`` steps) and, for a recorded trial, on the
   record grid with the recorded state variables.

Each loop writes these steps out in its own body rather than calling shared functions that
take arrays: numba reference-counts every array handed to a function (inlined or not) at
every call, an atomic operation each, and with those calls every step a neuron-step cost
2.7x (hh_traub), 4.4x (adex, eif) and 11x (izhikevich) the CPU time it costs written out
(the same results, bit for bit). Functions of scalars (the samplers) cost nothing extra.

The loops of ``adex``/``eif``, ``hh_traub`` and ``izhikevich`` run these steps for several
trials in lockstep, each trial's draws from its own stream state at its start
(:mod:`lifbatch.models.lanes`): the same numbers, in the same order per trial, and the same
results bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["unpack_states", "pack_states", "call"]


@numba.njit(cache=True, nogil=True, inline="always")
def unpack_states(noise_state, uni_state, poi_state):  # pragma: no cover
    z = np.uint64(0)
    s0 = s1 = s2 = s3 = z
    u0 = u1 = u2 = u3 = z
    p0 = p1 = p2 = p3 = z
    if noise_state.shape[0] == 4:
        s0, s1, s2, s3 = noise_state[0], noise_state[1], noise_state[2], noise_state[3]
    if uni_state.shape[0] == 4:
        u0, u1, u2, u3 = uni_state[0], uni_state[1], uni_state[2], uni_state[3]
    if poi_state.shape[0] == 4:
        p0, p1, p2, p3 = poi_state[0], poi_state[1], poi_state[2], poi_state[3]
    return s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3


@numba.njit(cache=True, nogil=True, inline="always")
def pack_states(noise_state, uni_state, poi_state, s0, s1, s2, s3, u0, u1, u2, u3, p0, p1, p2, p3):  # pragma: no cover
    if noise_state.shape[0] == 4:
        noise_state[0], noise_state[1], noise_state[2], noise_state[3] = s0, s1, s2, s3
    if uni_state.shape[0] == 4:
        uni_state[0], uni_state[1], uni_state[2], uni_state[3] = u0, u1, u2, u3
    if poi_state.shape[0] == 4:
        poi_state[0], poi_state[1], poi_state[2], poi_state[3] = p0, p1, p2, p3


def call(loop, p_array, inputs: dict, out, extra=()) -> None:
    """``loop(params, *drive arguments, *extra, outputs...)`` with the point's inputs."""
    loop(
        p_array,
        inputs["x_base"],
        inputs["x_trial"],
        inputs["noise_state"],
        inputs["noise_scale"],
        inputs["uni_state"],
        inputs["uni_mean"],
        inputs["uni_half"],
        inputs["poi_state"],
        inputs["lam"],
        inputs["enlam"],
        inputs["weights"],
        inputs["syn"],
        *extra,
        inputs["mom_stride"],
        out.moments,
        inputs["rec_stride"],
        inputs["rec_rows"],
        out.traces,
        out.states,
        out.bits,
        out.counts,
    )
