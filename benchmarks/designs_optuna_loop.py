#!/usr/bin/env python
"""The fit a user writes by hand today: Optuna's TPE around a plain numpy LIF loop.

    python benchmarks/designs_optuna_loop.py [--seed 1] [--budget 64] [--out history.json]

The reference for ``lifbatch fit workflows/quickstart-fit.yaml --target rate="10 Hz"
--target isi_cv=0.8 --free inputs.current.value=50..300 --free "inputs.noise.sigma=1..10 log"``
in benchmarks/designs.py. It does what that command does, the way a user would
without lifbatch (it does not import lifbatch):

- ``optuna.create_study(sampler=TPESampler(seed=SEED))`` (TPE with Optuna's
  defaults: 10 random start-up trials, univariate) and
  ``study.optimize(objective, n_trials=BUDGET)``, one evaluation at a time;
- the objective simulates the quickstart neuron (quickstart-fit.yaml: tau_m 20 ms,
  e_l = v_reset = v_init = -65 mV, v_th -50 mV, t_ref 2 ms, r_m 100 MOhm, a
  constant current I and white noise of intensity sigma; 20 trials, 1 s,
  dt 0.1 ms, Euler) with one Python loop over the 10^4 time steps, vectorized
  over the 20 trials, in lifbatch's step order (docs/workflow.md, "One time
  step": refractory neurons held at v_reset; else the Euler step of leak and
  current, plus sigma * sqrt(dt / tau_m) * N(0, 1); a spike when V > v_th,
  then reset and round(t_ref / dt) refractory steps), normals from
  ``numpy.random.default_rng([SEED, trial.number])``;
- rate and ISI CV after the 100 ms warmup as lifbatch computes them
  (docs/store-layout.md): a spike at t = k dt counts when t > warmup; rate =
  mean over trials of (spikes after warmup) / (duration - warmup); ISIs between
  consecutive counted spikes of one trial, pooled over trials, CV = std
  (ddof=1) / mean, undefined (NaN) with fewer than 2 ISIs;
- the objective is lifbatch fit's: sum over targets of ((got - want) / want)^2,
  100 per undefined target.

The free parameters are drawn as a user would write them:
``trial.suggest_float("current", 50, 300)`` (pA) and
``trial.suggest_float("sigma", 1, 10, log=True)`` (mV). ``--out`` writes every
evaluation in order (params, rate, isi_cv, objective) as JSON; the last stdout
line is ``BEST <objective>``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np
import optuna

# the quickstart neuron (workflows/quickstart-fit.yaml), SI
DT = 1e-4
DURATION = 1.0
TRIALS = 20
WARMUP = 0.1
TAU_M = 20e-3
E_L = -65e-3
V_TH = -50e-3
V_RESET = -65e-3
V_INIT = E_L
T_REF = 2e-3
R_M = 100e6
TARGETS = {"rate": 10.0, "isi_cv": 0.8}
PENALTY = 100.0


def simulate(current: float, sigma: float, rng: np.random.Generator, trials: int = TRIALS) -> tuple[float, float]:
    """Rate (Hz) and pooled ISI CV after warmup of ``trials`` neurons (current in A, sigma in V)."""
    steps = int(round(DURATION / DT))
    warmup_steps = int(round(WARMUP / DT))
    ref_steps = int(round(T_REF / DT))
    a = DT / TAU_M
    noise = sigma * math.sqrt(DT / TAU_M)
    v_inf = E_L + R_M * current
    v = np.full(trials, V_INIT)
    ref = np.zeros(trials, np.int64)
    raster = np.zeros((steps, trials), bool)  # raster[k - 1]: spike at t = k dt
    for k in range(steps):
        refractory = ref > 0
        v += a * (v_inf - v) + noise * rng.standard_normal(trials)
        v[refractory] = V_RESET
        ref[refractory] -= 1
        spike = v > V_TH
        v[spike] = V_RESET
        ref[spike] = ref_steps
        raster[k] = spike
    after = raster[warmup_steps:]  # spikes at t > warmup
    rate = after.sum(axis=0).mean() / (DURATION - WARMUP)
    isis = [np.diff(np.flatnonzero(after[:, tr])) for tr in range(trials)]
    isis = np.concatenate(isis) * DT
    cv = isis.std(ddof=1) / isis.mean() if isis.size >= 2 else math.nan
    return float(rate), float(cv)


def objective_value(values: dict) -> float:
    total = 0.0
    for name, want in TARGETS.items():
        err = (values[name] - want) / want
        total += err**2 if math.isfinite(err) else PENALTY
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="TPE sampler's seed and the simulations' (default 1)")
    ap.add_argument("--budget", type=int, default=64, help="evaluations (default 64)")
    ap.add_argument("--out", help="write every evaluation, in order, as JSON")
    args = ap.parse_args(argv)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    history = []

    def objective(trial: optuna.Trial) -> float:
        current = trial.suggest_float("current", 50, 300)  # pA
        sigma = trial.suggest_float("sigma", 1, 10, log=True)  # mV
        rng = np.random.default_rng([args.seed, trial.number])
        rate, cv = simulate(current * 1e-12, sigma * 1e-3, rng)
        value = objective_value({"rate": rate, "isi_cv": cv})
        history.append({"current_pA": current, "sigma_mV": sigma, "rate": rate, "isi_cv": cv, "objective": value})
        return value

    t0 = time.perf_counter()
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=args.seed))
    study.optimize(objective, n_trials=args.budget)
    elapsed = time.perf_counter() - t0
    best = study.best_trial
    print(
        f"best of {len(study.trials)} evaluations (trial {best.number}): current {best.params['current']:.5g} pA, "
        f"sigma {best.params['sigma']:.5g} mV, rate {history[best.number]['rate']:.4g} Hz, "
        f"isi_cv {history[best.number]['isi_cv']:.4g}; study.optimize {elapsed:.2f} s"
    )
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"seed": args.seed, "budget": args.budget, "evaluations": history}, f)
    print(f"BEST {best.value!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
