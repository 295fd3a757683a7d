#!/usr/bin/env python
"""Sampled designs, refinement and fitting, measured against what users do without them.

    python benchmarks/designs.py [--rounds 3] [--json out.json] [--only fit|refine|design]

Three comparisons (docs/designs.md; benchmarks/README.md, "Designs, refinement
and fitting"), every contender a whole process (Python's start, imports, the
work, the store, exit), timed with time.perf_counter() around subprocess.run,
in interleaved rounds after one untimed warm-up round (the order within a
comparison rotates by one from round to round); ratios are taken to the
comparison's baseline **in the same round**, then their median:

1. fit: ``lifbatch fit workflows/quickstart-fit.yaml --target rate="10 Hz"
   --target isi_cv=0.8 --free inputs.current.value=50..300 --free
   "inputs.noise.sigma=1..10 log" --budget 64`` (also with ``--workers 1``)
   against benchmarks/designs_optuna_loop.py (the baseline: Optuna's TPE around
   a plain numpy loop, the same neuron, summaries and objective). Round k uses
   seed k on both sides (``--set seed=k``, ``--seed k``). Quality: the best
   objective and the evaluations each needed until its best-so-far point was
   within 5 % of both targets.
2. refine: ``lifbatch run workflows/pypet-refine.yaml`` + ``lifbatch refine
   STORE --var rate --add 4 --rounds R``, R the fewest rounds that bracket the
   threshold current (1/12 per ms) to within 1e-3 per ms (found once before
   the rounds, untimed), against an even grid over [0, 1] per ms with that
   spacing (1001 points; the baseline), run as the same workflow with a
   ``sweep`` instead of the ``sample`` section. The pypet neuron is noiseless
   and has one trial; ``--refine-trials N`` gives both sides N trials (a point
   N times as costly, the same rates), to show where refinement starts to pay.
3. design: ``lifbatch run workflows/ccnss-sobol.yaml`` (256 Sobol points), with
   the design cache warm and cold (``LIFBATCH_DESIGN_CACHE=0``), against the
   same points as one zipped ``sweep`` axis (the baseline); the results must be
   bit-identical.

Run it with lifbatch's Python (the venv lifbatch and optuna are installed in).
Stores go to a scratch directory, removed at the end (``--keep`` keeps it).
The exit code is 1 when a run failed or a consistency check did not hold.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKFLOWS = ROOT / "workflows"
CLI = "import sys; from lifbatch.cli import main; sys.argv[0] = 'lifbatch'; sys.exit(main())"
TIMEOUT = 1800.0  # seconds, per process
TARGETS = {"rate": 10.0, "isi_cv": 0.8}
PENALTY = 100.0  # lifbatch.fitting.PENALTY: the objective per undefined target
WITHIN = 0.05  # "within 5 % of both targets"
THRESHOLD = 1.0 / 12.0  # the pypet neuron's threshold current, per ms (v_th / tau_V)
PARTS = {
    "fit": "lifbatch fit vs an Optuna script (quickstart neuron to 10 Hz, ISI CV 0.8)",
    "refine": "lifbatch refine vs an even grid (bracketing the pypet threshold current)",
    "design": "a sampled design vs the same points as a zipped grid axis (ccnss-sobol)",
}


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------- quality measures (pure)


def objective(rate: float, isi_cv: float) -> float:
    """lifbatch fit's objective: sum of ((got - want) / want)^2, PENALTY per undefined target."""
    total = 0.0
    for got, want in ((rate, TARGETS["rate"]), (isi_cv, TARGETS["isi_cv"])):
        err = (got - want) / want
        total += err * err if math.isfinite(err) else PENALTY
    return total


def within(rate: float, isi_cv: float, tol: float = WITHIN) -> bool:
    """Both targets met to within ``tol`` (relative)."""
    return all(
        math.isfinite(g) and abs(g - w) <= tol * abs(w)
        for g, w in ((rate, TARGETS["rate"]), (isi_cv, TARGETS["isi_cv"]))
    )


def evaluations_to_target(rates, cvs, tol: float = WITHIN) -> int | None:
    """The number of evaluations after which the best-so-far point (least objective, the
    earliest of equals) is within ``tol`` of both targets; None if it never is."""
    best, best_i = math.inf, None
    for i, (r, c) in enumerate(zip(rates, cvs)):
        f = objective(r, c)
        if f < best:
            best, best_i = f, i
        if best_i is not None and within(rates[best_i], cvs[best_i], tol):
            return i + 1
    return None


def fit_quality(rates, cvs) -> dict:
    """Best objective, its point's values, and the evaluations to within 5 %, of one history."""
    rates, cvs = [float(r) for r in rates], [float(c) for c in cvs]
    f = [objective(r, c) for r, c in zip(rates, cvs)]
    i = min(range(len(f)), key=lambda j: (f[j], j)) if f else None
    return {
        "evaluations": len(f),
        "best_objective": f[i] if f else None,
        "best_index": i,
        "best_rate": rates[i] if f else None,
        "best_isi_cv": cvs[i] if f else None,
        "to_within_5pct": evaluations_to_target(rates, cvs),
        "objectives": f,
    }


def confirm(best_params: dict, trials: int, seed: int = 20261201) -> dict:
    """The best point simulated again with many trials (lifbatch.simulate of quickstart-fit.yaml; the
    Optuna script's neuron is the same, tests/test_designs_bench.py): its rate, ISI CV, their
    standard errors, and the objective of these nearly noise-free values."""
    import lifbatch

    current, sigma = best_params["inputs.current.value"], best_params["inputs.noise.sigma"]
    ds = lifbatch.simulate(
        lifbatch.load_workflow(
            WORKFLOWS / "quickstart-fit.yaml",
            [
                f"trials={trials}",
                f"seed={seed}",
                f"inputs.current.value={current!r} A",
                f"inputs.noise.sigma={sigma!r} V",
            ],
        )
    )
    rate, cv = float(ds["rate"]), float(ds["isi_cv"])
    return {
        "trials": trials,
        "rate": rate,
        "rate_sem": float(ds["rate_std"]) / math.sqrt(trials),
        "isi_cv": cv,
        "objective": objective(rate, cv),
        "within_5pct": within(rate, cv),
    }


def bracket(currents, rates) -> dict:
    """[largest I with rate 0, smallest I with rate > 0] (per ms, from SI per s) and checks."""
    pts = sorted((float(i) / 1000.0, float(r)) for i, r in zip(currents, rates))
    zero = [i for i, r in pts if r == 0]
    firing = [i for i, r in pts if r > 0]
    lo = max(zero) if zero else None
    hi = min(firing) if firing else None
    out = {"points": len(pts), "lo": lo, "hi": hi, "width": None, "contains_threshold": False, "monotone": True}
    if lo is not None and hi is not None:
        out["width"] = hi - lo
        out["contains_threshold"] = lo <= THRESHOLD <= hi
        out["monotone"] = lo < hi
    return out


def rounds_needed(currents, rates, rounds, tol: float) -> tuple[int | None, dict]:
    """The fewest refinement rounds whose points (sample_round <= R) bracket to within tol."""
    last = None
    for r in range(0, max(rounds) + 1 if len(rounds) else 1):
        keep = [k for k, rr in enumerate(rounds) if rr <= r]
        b = bracket([currents[k] for k in keep], [rates[k] for k in keep])
        last = b
        if b["width"] is not None and b["width"] <= tol * (1 + 1e-9):
            return r, b
    return None, last


# ---------------------------------------------------------------- contenders


@dataclass
class Contender:
    part: str
    label: str
    cmds: list  # commands run one after the other; '{round}', '{seed}' substituted
    what: str = ""
    env: dict = field(default_factory=dict)
    baseline: bool = False
    short: str = "contender"  # its name in the "faster" column
    read: object = None  # callable(round_dir, stdouts) -> metrics dict (untimed)
    parts: list | None = None  # labels of the commands, for their separate times


@dataclass
class Outcome:
    time: float | None = None
    times: list = field(default_factory=list)  # per command
    metrics: dict = field(default_factory=dict)
    error: str | None = None


def _tail(text: str, n: int = 3) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return " | ".join(lines[-n:])[-400:]


def _sub(args, rdir: Path, seed: int, budget: int):
    return [
        str(a).replace("{round}", str(rdir)).replace("{seed}", str(seed)).replace("{budget}", str(budget)) for a in args
    ]


def run_once(c: Contender, rdir: Path, seed: int, budget: int) -> Outcome:
    env = {**os.environ, **c.env}
    times, stdouts = [], []
    for cmd in c.cmds:
        try:
            t0 = time.perf_counter()
            p = subprocess.run(
                _sub(cmd, rdir, seed, budget), cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=TIMEOUT
            )
            times.append(time.perf_counter() - t0)
        except subprocess.TimeoutExpired:
            return Outcome(error=f"timed out after {TIMEOUT:.0f} s")
        if p.returncode != 0:
            return Outcome(error=f"exit {p.returncode}: {_tail(p.stderr) or _tail(p.stdout)}")
        stdouts.append(p.stdout)
    try:
        metrics = c.read(rdir, stdouts) if c.read else {}
    except Exception as exc:  # noqa: BLE001 - a read-out failure is the run's failure
        return Outcome(time=sum(times), times=times, error=f"read-out: {type(exc).__name__}: {exc}")
    return Outcome(time=sum(times), times=times, metrics=metrics)


def _read_fit(store_name: str):
    def read(rdir: Path, stdouts):
        import lifbatch

        report = json.loads(stdouts[-1])
        ds = lifbatch.open_results(rdir / store_name)
        order = ds["sample"].values.argsort()
        rates = ds["rate"].values[order]
        cvs = ds["isi_cv"].values[order]
        q = fit_quality(rates, cvs)
        q["reported_sample"] = int(report["sample"])
        q["reported_evaluations"] = int(report["evaluations"])
        q["reported_got"] = {k: v["got"] for k, v in report["targets"].items()}
        q["best_params"] = report["best"]
        return q

    return read


def _read_optuna(name: str):
    def read(rdir: Path, stdouts):
        doc = json.loads((rdir / name).read_text())
        ev = doc["evaluations"]
        q = fit_quality([e["rate"] for e in ev], [e["isi_cv"] for e in ev])
        b = ev[q["best_index"]] if ev else {}
        q["best_params"] = {
            "inputs.current.value": b.get("current_pA", math.nan) * 1e-12,
            "inputs.noise.sigma": b.get("sigma_mV", math.nan) * 1e-3,
        }
        q["reported_best"] = float(stdouts[-1].strip().splitlines()[-1].split()[1])
        return q

    return read


def _read_bracket(store_name: str, grid: bool):
    def read(rdir: Path, stdouts):
        import lifbatch

        ds = lifbatch.open_results(rdir / store_name)
        out = bracket(ds["I"].values, ds["rate"].values)
        if not grid:
            out["rounds"] = int(ds["sample_round"].values.max())
            # refine's own report of each round's time: "round 1: added 4 points (...) in 2.2 s"
            out["round_seconds"] = [
                float(m.group(1))
                for m in re.finditer(r"^round \d+: added \d+ points .* in ([0-9.]+) s$", stdouts[-1], re.M)
            ]
        return out

    return read


def _read_design(store_name: str):
    def read(rdir: Path, stdouts):
        import numpy as np

        import lifbatch

        ds = lifbatch.open_results(rdir / store_name)
        rate = np.asarray(ds["rate"].values)
        counts = np.asarray(ds["spike_count"].values)
        np.save(rdir / f"{store_name}.rate.npy", rate)
        np.save(rdir / f"{store_name}.counts.npy", counts)
        return {
            "points": int(rate.shape[0]),
            "mean_rate": float(np.nanmean(rate)),
            "rate_file": str(rdir / f"{store_name}.rate.npy"),
            "counts_file": str(rdir / f"{store_name}.counts.npy"),
        }

    return read


def _lifbatch(*args) -> list:
    return [sys.executable, "-c", CLI, *map(str, args)]


def fit_contenders(args) -> list[Contender]:
    wf = WORKFLOWS / "quickstart-fit.yaml"
    common = [
        "--target",
        "rate=10 Hz",
        "--target",
        "isi_cv=0.8",
        "--free",
        "inputs.current.value=50..300",
        "--free",
        "inputs.noise.sigma=1..10 log",
        "--budget",
        "{budget}",
        "--batch",
        args.batch,
        "--set",
        "seed={seed}",
        "--no-progress",
        "--format",
        "json",
    ]
    out = [
        Contender(
            "fit",
            "Optuna script (TPE + numpy loop)",
            [
                [
                    sys.executable,
                    HERE / "designs_optuna_loop.py",
                    "--seed",
                    "{seed}",
                    "--budget",
                    "{budget}",
                    "--out",
                    "{round}/optuna.json",
                ]
            ],
            "benchmarks/designs_optuna_loop.py: TPESampler(seed), study.optimize(n_trials), one "
            "evaluation at a time, numpy loop over steps vectorized over 20 trials",
            baseline=True,
            read=_read_optuna("optuna.json"),
        ),
        Contender(
            "fit",
            "lifbatch fit",
            [_lifbatch("fit", wf, *common, "--store", "{round}/fit.zarr")],
            f"lifbatch fit ... --budget {args.budget} --batch {args.batch} (2 threads)",
            short="lifbatch fit",
            read=_read_fit("fit.zarr"),
        ),
        Contender(
            "fit",
            "lifbatch fit --workers 1",
            [_lifbatch("fit", wf, *common, "--workers", "1", "--store", "{round}/fit1.zarr")],
            "the same in one thread, as the Optuna script",
            short="lifbatch fit (1 thread)",
            read=_read_fit("fit1.zarr"),
        ),
    ]
    return out


def grid_workflow(path: Path, points: int) -> Path:
    """pypet-refine.yaml with an even sweep of ``points`` values over [0, 1] per ms instead of its sample."""
    import yaml

    raw = yaml.safe_load((WORKFLOWS / "pypet-refine.yaml").read_text())
    raw.pop("sample")
    raw["name"] = "pypet-grid"
    raw["description"] = f"pypet-refine.yaml as an even grid of {points} values of I over [0, 1] per ms"
    raw["sweep"] = {"I": {"param": "inputs.drive.value", "linspace": [0, 1, int(points)], "unit": "1 / ms"}}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def zip_workflow(path: Path, sample_n: int | None) -> Path:
    """ccnss-sobol.yaml's design points (SI, bit for bit) as one zipped sweep axis."""
    import numpy as np
    import yaml

    from lifbatch.workflow import load_workflow

    over = [f"sample.n={sample_n}"] if sample_n else None
    wf = load_workflow(WORKFLOWS / "ccnss-sobol.yaml", over)
    s = wf.sample
    raw = yaml.safe_load((WORKFLOWS / "ccnss-sobol.yaml").read_text())
    raw.pop("sample")
    raw["name"] = "ccnss-zip"
    raw["description"] = f"ccnss-sobol.yaml's {s.size} Sobol points as one zipped grid axis"
    raw["sweep"] = {
        "point": {
            "zip": {
                p: {"values": [float(x) for x in v], "unit": unit} for p, v, unit in zip(s.params, s.values, s.units)
            }
        }
    }
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    check = load_workflow(path)
    if not all(np.array_equal(a, b) for a, b in zip(check.sweep[0].values, s.values)):
        raise BenchError("the zipped axis does not hold the design's values bit for bit")
    return path


def _trials(args) -> list:
    """refine: ``--set trials=N`` for every run of the pypet workflow, when --refine-trials is given."""
    return ["--set", f"trials={args.refine_trials}"] if args.refine_trials else []


def refine_contenders(args, work: Path, rounds: int) -> list[Contender]:
    grid = grid_workflow(work / "pypet-grid.yaml", args.grid_points)
    trials = f" x {args.refine_trials} trials" if args.refine_trials else ""
    return [
        Contender(
            "refine",
            f"even grid ({args.grid_points} points{trials})",
            [_lifbatch("run", grid, "--store", "{round}/grid.zarr", "--no-progress", *_trials(args))],
            f"lifbatch run of pypet-refine.yaml with sweep I: linspace [0, 1, {args.grid_points}] per ms",
            baseline=True,
            read=_read_bracket("grid.zarr", grid=True),
        ),
        Contender(
            "refine",
            f"lifbatch run + refine --add {args.add} --rounds {rounds}",
            [
                _lifbatch(
                    "run",
                    WORKFLOWS / "pypet-refine.yaml",
                    "--store",
                    "{round}/refine.zarr",
                    "--no-progress",
                    *_trials(args),
                ),
                _lifbatch(
                    "refine",
                    "{round}/refine.zarr",
                    "--var",
                    "rate",
                    "--add",
                    args.add,
                    "--rounds",
                    rounds,
                    "--no-progress",
                ),
            ],
            f"lifbatch run workflows/pypet-refine.yaml (12 LHS points), then lifbatch refine "
            f"--var rate --add {args.add} --rounds {rounds}",
            short="refine",
            read=_read_bracket("refine.zarr", grid=False),
            parts=["run", "refine"],
        ),
    ]


def design_contenders(args, work: Path) -> list[Contender]:
    zipped = zip_workflow(work / "ccnss-zip.yaml", args.sample_n)
    over = ["--set", f"sample.n={args.sample_n}"] if args.sample_n else []
    n = args.sample_n or 256
    return [
        Contender(
            "design",
            f"zipped grid axis ({n} points)",
            [_lifbatch("run", zipped, "--store", "{round}/zip.zarr", "--no-progress")],
            "lifbatch run of ccnss-sobol.yaml with its points as sweep: point: zip: {mu, sigma, tau_m}",
            baseline=True,
            read=_read_design("zip.zarr"),
        ),
        Contender(
            "design",
            "sampled design, cache warm",
            [_lifbatch("run", WORKFLOWS / "ccnss-sobol.yaml", *over, "--store", "{round}/warm.zarr", "--no-progress")],
            "lifbatch run workflows/ccnss-sobol.yaml, its points read from ~/.cache/lifbatch/designs",
            short="sampled, warm",
            read=_read_design("warm.zarr"),
        ),
        Contender(
            "design",
            "sampled design, cache cold",
            [_lifbatch("run", WORKFLOWS / "ccnss-sobol.yaml", *over, "--store", "{round}/cold.zarr", "--no-progress")],
            "the same with LIFBATCH_DESIGN_CACHE=0: scipy.stats imported, the points drawn",
            env={"LIFBATCH_DESIGN_CACHE": "0"},
            short="sampled, cold",
            read=_read_design("cold.zarr"),
        ),
    ]


def calibrate_refine(args, work: Path) -> dict:
    """Untimed: run pypet-refine and refine it by up to --max-refine-rounds rounds; the fewest rounds
    that bracket the threshold to within --tolerance."""
    store = work / "calibration" / "refine.zarr"
    store.parent.mkdir(parents=True, exist_ok=True)
    for cmd in (
        _lifbatch("run", WORKFLOWS / "pypet-refine.yaml", "--store", store, "--no-progress", *_trials(args)),
        _lifbatch(
            "refine", store, "--var", "rate", "--add", args.add, "--rounds", args.max_refine_rounds, "--no-progress"
        ),
    ):
        p = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, timeout=TIMEOUT)
        if p.returncode != 0:
            raise BenchError(f"calibrating the refinement failed: {_tail(p.stderr)}")
    import lifbatch

    ds = lifbatch.open_results(store)
    cur, rate, rnd = ds["I"].values, ds["rate"].values, ds["sample_round"].values
    r, b = rounds_needed(list(cur), list(rate), list(rnd), args.tolerance)
    history = []
    for k in range(int(rnd.max()) + 1):
        keep = rnd <= k
        bk = bracket(cur[keep], rate[keep])
        history.append({"round": k, "points": int(keep.sum()), "width": bk["width"], "lo": bk["lo"], "hi": bk["hi"]})
    shutil.rmtree(store.parent, ignore_errors=True)
    return {"rounds": r, "bracket": b, "history": history}


# ---------------------------------------------------------------- summary


def _stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None, None
    return statistics.median(xs), min(xs), max(xs)


def summarize(cs: list[Contender], rounds: list[dict]) -> list[dict]:
    """One row per contender: times, the ratio to its part's baseline in the same round, metrics per round."""
    base = {c.part: c.label for c in cs if c.baseline}
    rows = []
    for c in cs:
        outs = [r.get(f"{c.part}/{c.label}") for r in rounds]
        ok = [o for o in outs if o is not None and o.error is None]
        ratios = []
        for r in rounds:
            o, b = r.get(f"{c.part}/{c.label}"), r.get(f"{c.part}/{base.get(c.part)}")
            if o and b and o.error is None and b.error is None and b.time > 0:
                ratios.append(o.time / b.time)
        diffs = []
        for r in rounds:
            o, b = r.get(f"{c.part}/{c.label}"), r.get(f"{c.part}/{base.get(c.part)}")
            if o and b and o.error is None and b.error is None:
                diffs.append(o.time - b.time)
        times = [o.time for o in ok]
        med, lo, hi = _stats(times)
        rmed, rlo, rhi = _stats(ratios)
        row = {
            "part": c.part,
            "contender": c.label,
            "what": c.what,
            "baseline": c.baseline,
            "short": c.short,
            "times": times,
            "median": med,
            "min": lo,
            "max": hi,
            "ratios": ratios,
            "ratio_median": rmed,
            "ratio_min": rlo,
            "ratio_max": rhi,
            "diffs": diffs,
            "metrics": [o.metrics for o in ok],
            "errors": [o.error for o in outs if o is not None and o.error],
        }
        if c.parts:
            row["part_times"] = {name: [o.times[i] for o in ok] for i, name in enumerate(c.parts)}
        rows.append(row)
    return rows


def checks(rows: list[dict], args) -> list[str]:
    """Consistency of the results (not timings): what must hold for the figures to mean anything."""
    import numpy as np

    bad = []
    by = {(r["part"], r["contender"]): r for r in rows}
    for r in rows:
        if r["errors"]:
            bad.append(f"{r['part']} / {r['contender']}: {len(r['errors'])} run(s) failed: {r['errors'][-1]}")
    fit = [r for r in rows if r["part"] == "fit"]
    for r in fit:
        for m in r["metrics"]:
            if m["best_objective"] is None or not math.isfinite(m["best_objective"]):
                bad.append(f"fit / {r['contender']}: best objective not finite")
            if m["evaluations"] != args.budget:
                bad.append(f"fit / {r['contender']}: {m['evaluations']} evaluations, not {args.budget}")
            if "reported_sample" in m and m["objectives"][m["reported_sample"]] != m["best_objective"]:
                bad.append(f"fit / {r['contender']}: the fit's reported best is not the store's least objective")
            if "reported_got" in m and not (
                math.isclose(m["reported_got"]["rate"], m["best_rate"], rel_tol=1e-9)
                and math.isclose(m["reported_got"]["isi_cv"], m["best_isi_cv"], rel_tol=1e-9)
            ):
                bad.append(f"fit / {r['contender']}: the fit's reported targets are not its best point's")
            if "reported_best" in m and not math.isclose(m["reported_best"], m["best_objective"], rel_tol=1e-9):
                bad.append(f"fit / {r['contender']}: the study's best value is not the history's least objective")
    one, two = by.get(("fit", "lifbatch fit --workers 1")), by.get(("fit", "lifbatch fit"))
    if one and two and one["metrics"] and two["metrics"]:
        if [m["objectives"] for m in one["metrics"]] != [m["objectives"] for m in two["metrics"]]:
            bad.append("fit: --workers 1 evaluated other points than 2 threads (fit not deterministic)")
    for r in rows:
        if r["part"] != "refine":
            continue
        for m in r["metrics"]:
            if not m["contains_threshold"] or not m["monotone"]:
                bad.append(f"refine / {r['contender']}: bracket [{m['lo']}, {m['hi']}] does not contain 1/12 per ms")
            if m["width"] is None or m["width"] > args.tolerance * (1 + 1e-9):
                bad.append(f"refine / {r['contender']}: bracket width {m['width']} > {args.tolerance} per ms")
    design = [r for r in rows if r["part"] == "design"]
    ref = next((r for r in design if r["baseline"]), None)
    if ref and ref["metrics"]:
        zr, zc = np.load(ref["metrics"][0]["rate_file"]), np.load(ref["metrics"][0]["counts_file"])
        for r in design:
            for m in r["metrics"]:
                if not (
                    np.array_equal(np.load(m["rate_file"]), zr, equal_nan=True)
                    and np.array_equal(np.load(m["counts_file"]), zc)
                ):
                    bad.append(f"design / {r['contender']}: results differ from the zipped grid's")
                    break
    return bad


def _g(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _time_cell(r) -> str:
    return "failed" if r["median"] is None else f"{_g(r['median'])} ({_g(r['min'])}-{_g(r['max'])})"


def _ratio_cell(r) -> str:
    if r["baseline"]:
        return "1 (baseline)"
    if r["ratio_median"] is None:
        return "-"
    return f"{_g(r['ratio_median'])} ({_g(r['ratio_min'])}-{_g(r['ratio_max'])})"


def _faster(r, base_short: str) -> str:
    if r["baseline"] or r["ratio_median"] is None:
        return "-"
    x = r["ratio_median"]
    return f"{r['short']}, {1 / x:.3g}x" if x < 1 else f"{base_short}, {x:.3g}x"


def _seq(xs, fmt="{}") -> str:
    return ", ".join("never" if x is None else fmt.format(x) for x in xs)


def format_tables(rows: list[dict], args) -> str:
    out = []
    parts = [p for p in PARTS if any(r["part"] == p for r in rows)]
    for p in parts:
        rs = [r for r in rows if r["part"] == p]
        bshort = {"fit": "Optuna script", "refine": "grid", "design": "zipped grid"}[p]
        out.append(f"{p}: {PARTS[p]}")
        if p == "fit":
            out.append(
                "| contender | wall time (s), median (min-max) | ratio to the Optuna script, median "
                "(min-max) | faster | per evaluation (s) | best objective per round (seeds "
                f"{_seq(range(1, args.rounds + 1))}) | evaluations to within 5 % of both targets | "
                "best point per round: rate (Hz) / ISI CV | the best point again with "
                f"{args.confirm_trials} trials: objective (rate / ISI CV) |"
            )
            out.append("|---|---|---|---|---|---|---|---|---|")
            for r in rs:
                per = _g(r["median"] / args.budget) if r["median"] is not None else "-"
                ms = r["metrics"]
                out.append(
                    f"| {r['contender']} | {_time_cell(r)} | {_ratio_cell(r)} | {_faster(r, bshort)} | {per} | "
                    f"{_seq([m['best_objective'] for m in ms], '{:.3g}')} | "
                    f"{_seq([m['to_within_5pct'] for m in ms])} | "
                    + "; ".join(f"{m['best_rate']:.4g} / {m['best_isi_cv']:.3g}" for m in ms)
                    + " | "
                    + (
                        "; ".join(
                            f"{m['confirmed']['objective']:.2g} ({m['confirmed']['rate']:.4g} / "
                            f"{m['confirmed']['isi_cv']:.3g})"
                            for m in ms
                            if "confirmed" in m
                        )
                        or "-"
                    )
                    + " |"
                )
        elif p == "refine":
            out.append(
                "| contender | points | bracket of the threshold (per ms) | width (per ms) | wall time (s), "
                "median (min-max) | ratio to the grid, median (min-max) | faster |"
            )
            out.append("|---|---|---|---|---|---|---|")
            for r in rs:
                m = r["metrics"][0] if r["metrics"] else {}
                br = f"[{m['lo']:.6g}, {m['hi']:.6g}]" if m.get("width") is not None else "-"
                tc = _time_cell(r)
                if r.get("part_times") and r["median"] is not None:
                    tc += " = " + " + ".join(
                        f"{name} {_g(statistics.median(v))}" for name, v in r["part_times"].items()
                    )
                out.append(
                    f"| {r['contender']} | {m.get('points', '-')} | {br} | {_g(m.get('width'))} | {tc} | "
                    f"{_ratio_cell(r)} | {_faster(r, bshort)} |"
                )
            for r in rs:
                secs = [m["round_seconds"] for m in r["metrics"] if m.get("round_seconds")]
                if secs:
                    first = statistics.median(x[0] for x in secs)
                    rest = [y for x in secs for y in x[1:]]
                    out.append(
                        f"\nrefine's own report of its rounds (median over the runs): the first "
                        f"{_g(first)} s"
                        + (f", the others {_g(statistics.median(rest))} s each" if rest else "")
                        + f"; the rest of the refine process (start, imports, exit): "
                        f"{_g(statistics.median(t - sum(x) for t, x in zip(r['part_times']['refine'], secs)))} s"
                    )
        else:
            out.append(
                "| contender | points | wall time (s), median (min-max) | ratio to the zipped grid, median "
                "(min-max) | extra time (s), median | mean rate (Hz) |"
            )
            out.append("|---|---|---|---|---|---|")
            for r in rs:
                m = r["metrics"][0] if r["metrics"] else {}
                extra = "-"
                if not r["baseline"] and r["diffs"]:
                    extra = f"{statistics.median(r['diffs']):+.3g}"
                rate = "-" if not m else f"{m['mean_rate']:.4f}"
                out.append(
                    f"| {r['contender']} | {m.get('points', '-')} | {_time_cell(r)} | {_ratio_cell(r)} | "
                    f"{extra} | {rate} |"
                )
        out.append("")
    return "\n".join(out)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _versions() -> dict:
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "import lifbatch, numpy, numba, scipy, optuna, platform; "
            "print(lifbatch.__version__, numpy.__version__, numba.__version__, scipy.__version__, "
            "optuna.__version__, platform.python_version())",
        ],
        capture_output=True,
        text=True,
    )
    names = ["lifbatch", "numpy", "numba", "scipy", "optuna", "python"]
    return dict(zip(names, p.stdout.split())) if p.returncode == 0 else {"error": _tail(p.stderr)}


def _commit() -> str:
    p = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else "?"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    ap.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    ap.add_argument("--only", choices=sorted(PARTS), action="append", help="one comparison only (repeatable)")
    ap.add_argument("--budget", type=int, default=64, help="fit: evaluations (default 64)")
    ap.add_argument("--batch", type=int, default=8, help="fit: lifbatch fit's --batch (default 8)")
    ap.add_argument(
        "--tolerance", type=float, default=1e-3, help="refine: the bracket's width to reach, per ms (default 1e-3)"
    )
    ap.add_argument(
        "--grid-points",
        type=int,
        default=None,
        help="refine: the grid's points (default: the even grid of that spacing, 1/tolerance + 1)",
    )
    ap.add_argument("--add", type=int, default=4, help="refine: points per round (default 4)")
    ap.add_argument(
        "--refine-trials",
        type=int,
        default=None,
        help="refine: trials per point for both sides (default the workflow's 1): what a point costs",
    )
    ap.add_argument(
        "--max-refine-rounds",
        type=int,
        default=16,
        help="refine: rounds tried when finding the rounds needed (default 16)",
    )
    ap.add_argument("--sample-n", type=int, default=None, help="design: sample.n of ccnss-sobol (default its 256)")
    ap.add_argument(
        "--confirm-trials",
        type=int,
        default=2000,
        help="fit: simulate every best point again with this many trials, untimed (0: not)",
    )
    ap.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip the untimed warm-up round (for tests: the first round then fills the caches)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if args.grid_points is None:
        args.grid_points = int(math.ceil(1.0 / args.tolerance - 1e-9)) + 1
    only = args.only or list(PARTS)

    work = Path(tempfile.mkdtemp(prefix="lifbatch-designs-"))
    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    print(
        f"scratch: {work}\n{_cpu()}; load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}",
        flush=True,
    )
    try:
        versions = _versions()
        print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
        cs: list[Contender] = []
        calibration = None
        if "fit" in only:
            cs += fit_contenders(args)
        if "refine" in only:
            print(
                f"finding the refinement rounds needed (untimed; up to {args.max_refine_rounds} rounds "
                f"of {args.add})...",
                flush=True,
            )
            calibration = calibrate_refine(args, work)
            rr = calibration["rounds"]
            widths = ", ".join(f"{h['points']}: {_g(h['width'])}" for h in calibration["history"])
            print(f"  bracket width (per ms) by points: {widths}")
            if rr is None:
                print(
                    f"  the bracket did not reach {args.tolerance} per ms in {args.max_refine_rounds} rounds; "
                    f"timing {args.max_refine_rounds} rounds",
                    flush=True,
                )
                rr = args.max_refine_rounds
            else:
                print(
                    f"  {rr} rounds ({12 + args.add * rr} points) bracket it to within {args.tolerance} per ms",
                    flush=True,
                )
            cs += refine_contenders(args, work, rr)
        if "design" in only:
            cs += design_contenders(args, work)
        rounds: list[dict] = []
        # round 0: warm-up, not counted; its fits evaluate 2 batches only (enough to fill every cache:
        # imports, numba's kernels, the design cache, the OS's file cache)
        warm_budget = min(args.budget, 2 * args.batch)
        for k in range(1 if args.no_warmup else 0, args.rounds + 1):
            rdir = work / f"round{k}"
            rdir.mkdir()
            print(("warm-up round (not counted)" if k == 0 else f"round {k}/{args.rounds}") + ":", end="", flush=True)
            res = {}
            groups: dict[str, list[Contender]] = {}
            for c in cs:
                groups.setdefault(c.part, []).append(c)
            for group in groups.values():
                shift = k % len(group)
                for c in group[shift:] + group[:shift]:
                    o = run_once(c, rdir, seed=k, budget=warm_budget if k == 0 else args.budget)
                    res[f"{c.part}/{c.label}"] = o
                    print(
                        f" [{c.part}] {c.label}: " + (f"{o.time:.3g} s" if o.error is None else "FAILED"),
                        end=";",
                        flush=True,
                    )
            print()
            if k == 0:
                for key, o in res.items():
                    if o.error:
                        print(f"  warm-up {key} failed: {o.error}")
            else:
                rounds.append(res)
            # keep the small read-outs the design check compares; drop the stores
            for store in rdir.glob("*.zarr"):
                shutil.rmtree(store, ignore_errors=True)
        if "design" in only:
            cache = sorted(
                glob.glob(
                    str(
                        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                        / "lifbatch"
                        / "designs"
                        / f"sobol-n{args.sample_n or 256}-d3-seed17-*"
                    )
                )
            )
            print(f"design cache: {cache[0] if cache else 'NONE (the warm row was not warm)'}")
        rows = summarize(cs, rounds)
        if args.confirm_trials > 0:
            print(f"simulating each fit's best point again with {args.confirm_trials} trials (untimed)...", flush=True)
            for r in rows:
                if r["part"] == "fit":
                    for m in r["metrics"]:
                        m["confirmed"] = confirm(m["best_params"], args.confirm_trials)
        bad = checks(rows, args)
        load_after = os.getloadavg()
        elapsed = time.perf_counter() - t_start
        print()
        print(
            f"{started:%Y-%m-%d %H:%M %Z}, {_cpu()}, load average {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after; {args.rounds} rounds{'' if args.no_warmup else ' (+1 warm-up)'}; "
            f"{elapsed:.0f} s in all; commit "
            f"{_commit()}" + ("; no warm-up round" if args.no_warmup else "")
        )
        print()
        print(format_tables(rows, args))
        print(
            "checks: "
            + (
                "all hold (fit objectives finite and as reported, --workers 1 = 2 threads, brackets "
                "contain 1/12 within the tolerance, sampled = zipped bit for bit)"
                if not bad
                else ""
            )
        )
        for b in bad:
            print("  FAILED: " + b)
        if args.json:
            for r in rows:
                for m in r["metrics"]:
                    m.pop("rate_file", None)
                    m.pop("counts_file", None)
            doc = {
                "started": started.isoformat(),
                "command": " ".join([sys.argv[0], *(argv or sys.argv[1:])]),
                "cpu": _cpu(),
                "load_before": load_before,
                "load_after": load_after,
                "seconds": elapsed,
                "rounds": args.rounds,
                "versions": versions,
                "commit": _commit(),
                "settings": {k: v for k, v in vars(args).items() if k not in ("json",)},
                "refine_calibration": calibration,
                "rows": rows,
                "checks_failed": bad,
            }
            Path(args.json).write_text(json.dumps(doc, indent=1, default=float))
            print(f"\nwritten: {args.json}")
        return 1 if bad else 0
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
