"""The pypet seed's own simulator, as a plain Python loop over the 63 points.

``euler_neuron`` is copied verbatim from the pypet tutorial
(the project's seed 002): Euler steps of dV/dt = -V/tau_V + I
(dimensionless V, times in ms), reset to 0 at V >= 1, clamped during
tau_ref. The grid is the tutorial's: I in np.arange(0, 1.01, 0.05) (21 values)
x tau_ref in (5, 7.5, 10) ms, tau_ref outermost, tau_V 12 ms, dt 0.1 ms,
1000 ms. Each point's rate is nspikes / duration * 1000 (Hz), as the
tutorial's pypet_neuron returns; the last stdout line is
``RATE <mean over the points>``. With --per-point, one ``POINT tau_ref I
nspikes`` line per point comes first.

Only numpy is needed (any Python).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def euler_neuron(V_init, I, tau_V, tau_ref, dt, duration):
    """Simulation of a leaky integrate and fire neuron.

    Simulates the equation

        dV/dT = -1/tau_V * V + I

    with a simple Euler scheme.

    """
    # Createa a times array
    times = np.arange(0, duration, dt)
    steps = len(times)

    # Create the V array for the membrane development over time
    V_array = np.zeros(steps)
    V_array[0] = V_init
    spiketimes = []  # List to collect all times of action potentials

    # Do the Euler integration:
    for step in range(1, steps):
        if V_array[step - 1] >= 1:
            # The membrane potential crossed the threshold and we mark this as
            # an action potential
            V_array[step] = 0
            spiketimes.append(times[step - 1])
        elif spiketimes and times[step] - spiketimes[-1] <= tau_ref:
            # We are in the refractory period, so we simply clamp the voltage
            # to 0
            V_array[step] = 0
        else:
            # Euler Integration step:
            dV = -1.0 / tau_V * V_array[step - 1] + I
            V_array[step] = V_array[step - 1] + dV * dt

    return V_array, spiketimes, times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--I",
        type=float,
        nargs="+",
        default=None,
        help="input values (default: the tutorial's np.arange(0, 1.01, 0.05))",
    )
    ap.add_argument("--tau-ref", type=float, nargs="+", default=[5.0, 7.5, 10.0], help="ms")
    ap.add_argument("--duration", type=float, default=1000.0, help="ms")
    ap.add_argument("--per-point", action="store_true", help="print each point's spike count")
    args = ap.parse_args(argv)
    I_range = np.arange(0, 1.01, 0.05).tolist() if args.I is None else args.I

    V_init, tau_V, dt, duration = 0.0, 12.0, 0.1, args.duration
    rates = []
    for tau_ref in args.tau_ref:  # the cartesian product's outer loop
        for I in I_range:  # I changes fastest
            V_array, spiketimes, times = euler_neuron(V_init, I, tau_V, tau_ref, dt, duration)
            nspikes = len(spiketimes)
            rates.append(nspikes / duration * 1000.0)
            if args.per_point:
                print(f"POINT {tau_ref!r} {I!r} {nspikes}")
    print(f"RATE {float(np.mean(rates)):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
