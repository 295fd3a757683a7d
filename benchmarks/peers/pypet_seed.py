"""The pypet tutorial as written: Environment, multiproc, HDF5 storage, post-processing.

The code of the tutorial (the project's seed 002), in its final form
(with ``neuron_postproc``), as a script: add_parameters, add_exploration
(I in np.arange(0, 1.01, 0.05) x tau_ref in (5, 7.5, 10) ms, cartesian
product), pypet_neuron wrapping euler_neuron (copied verbatim into
seed_loop.py, imported from there), an Environment with multiproc=True and
wrap_mode='LOCK' storing everything (every run's V trace, times and spike
count, and the rate table) into an HDF5 file. The only changes: ncores=2
(this machine has 2 cores; the tutorial's laptop had 4), the HDF5 file goes
to --dir (default: a fresh temporary directory), and no plotting.
The last stdout line is ``RATE <mean of the 63 returned rates in Hz>``.

Needs the peer venv (pypet 0.6.1 with numpy < 2, tables, pandas).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
import pandas as pd
from pypet import Environment, Parameter, cartesian_product

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_loop import euler_neuron  # noqa: E402  (the tutorial's function, verbatim)


def add_parameters(traj):
    """Adds all parameters to `traj`"""
    # The tutorial mixes f_add_parameter with the assignment shorthand
    # (`traj.parameters = Parameter(...)`, `traj.par.neuron.tau_V = 12.0, 'comment'`,
    # "lazy adding"), which pypet 0.6.1 no longer has ("The name of your element
    # and the key do not match", "tau_V is not part of your trajectory"). The
    # same parameters, values, comments and group, with the explicit calls:
    traj.f_add_parameter("neuron.V_init", 0.0, comment="The initial condition for the membrane potential")
    traj.f_add_parameter(Parameter("neuron.I", 0.0, comment="The externally applied current."))
    traj.f_add_parameter("neuron.tau_V", 12.0, comment="The membrane time constant in milliseconds")
    traj.f_add_parameter("neuron.tau_ref", 5.0, comment="The refractory period in milliseconds ")
    traj.f_add_parameter_group("simulation", comment="Group containing dt and the duration")
    traj.f_add_parameter("simulation.duration", 1000.0, comment="The duration of the experiment in milliseconds.")
    traj.f_add_parameter("simulation.dt", 0.1, comment="The step size of an Euler integration step.")


def add_exploration(traj):
    """Explores different values of `I` and `tau_ref`."""
    explore_dict = {"neuron.I": np.arange(0, 1.01, 0.05).tolist(), "neuron.tau_ref": [5.0, 7.5, 10.0]}
    explore_dict = cartesian_product(explore_dict, ("neuron.tau_ref", "neuron.I"))
    # The second argument, the tuple, specifies the order of the cartesian product,
    # The variable on the right most side changes fastest and defines the
    # 'inner for-loop' of the cartesian product
    traj.f_explore(explore_dict)


def pypet_neuron(traj):
    """Wraps the `euler_neuron` function and returns an estimate of the firing rate in Hz."""
    parameter_dict = traj.parameters.f_to_dict(short_names=True, fast_access=True)
    V_array, spiketimes, times = euler_neuron(**parameter_dict)
    # Calculate the spikes
    nspikes = len(spiketimes)
    traj.f_add_result(
        "neuron.$",
        V=V_array,
        times=times,
        nspikes=nspikes,
        comment="Contains the development of the membrane potential over time, "
        "the corresponding timesteps, "
        "as well as the number of spikes.",
    )
    # Return an estimate of the firing rate.
    # * 1000 because we assume units of milliseconds
    return nspikes / traj.duration * 1000.0


def neuron_postproc(traj, result_list):
    """Postprocessing, sorts computed firing rates into a table"""
    I_range = traj.par.neuron.f_get("I").f_get_range()
    ref_range = traj.par.neuron.f_get("tau_ref").f_get_range()
    I_index = sorted(set(I_range))
    ref_index = sorted(set(ref_range))
    rates_frame = pd.DataFrame(columns=ref_index, index=I_index)
    for result_tuple in result_list:
        run_idx = result_tuple[0]
        firing_rates = result_tuple[1]
        I_val = I_range[run_idx]
        ref_val = ref_range[run_idx]
        rates_frame.loc[I_val, ref_val] = firing_rates  # Put the firing rate into the data frame
    # Finally we store our new firing rate table into the trajectory
    traj.f_add_result(
        "summary.firing_rates", rates_frame=rates_frame, comment="Contains a pandas data frame with all firing rates."
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="directory for hdf5/ and logs/ (default: a temporary one)")
    ap.add_argument("--ncores", type=int, default=2)
    args = ap.parse_args(argv)
    workdir = args.dir or tempfile.mkdtemp(prefix="pypet_seed_")
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)  # pypet writes logs/ into the working directory

    filename = os.path.join("hdf5", "FiringRate.hdf5")
    env = Environment(
        trajectory="FiringRate",
        comment="Experiment to measure the firing rate "
        "of a leaky integrate and fire neuron. "
        "Exploring different input currents, "
        "as well as refractory periods",
        add_time=False,  # We don't want to add the current time to the name,
        log_stdout=False,
        multiproc=True,
        ncores=args.ncores,
        wrap_mode="LOCK",
        filename=filename,
        overwrite_file=True,
    )
    traj = env.v_trajectory
    add_parameters(traj)
    add_exploration(traj)
    env.f_add_postprocessing(neuron_postproc)
    results = env.f_run(pypet_neuron)
    env.f_disable_logging()

    rates = [rate for _, rate in results]
    if len(rates) != 63:
        raise SystemExit(f"pypet returned {len(rates)} results, expected 63")
    print(f"RATE {float(np.mean(rates)):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
