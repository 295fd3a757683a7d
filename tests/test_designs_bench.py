"""benchmarks/designs.py: its quality measures, the Optuna script's neuron, and a tiny run.

The pure functions (objective, best-so-far history, bracket, rounds needed) are
tested on made-up numbers; the Optuna script's simulation against
lifbatch.simulate (same neuron, independent random numbers: rates within their
standard errors); and a tiny benchmark run (one round, no warm-up, small
budgets) for its output's structure and the consistency of its numbers, not
its timings.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def designs():
    yield _load("designs_bench", BENCH / "designs.py")
    sys.modules.pop("designs_bench", None)


# ---------------------------------------------------------------- quality measures


def test_objective_is_lifbatch_fits(designs):
    from lifbatch.fitting import PENALTY, objective

    targets = {"rate": (10.0, "10 Hz"), "isi_cv": (0.8, "0.8")}
    for rate, cv in [(10.0, 0.8), (9.0, 0.9), (0.0, math.nan), (12.5, math.nan), (3.0, 0.1)]:
        want = float(objective({"rate": np.array([rate]), "isi_cv": np.array([cv])}, targets)[0])
        assert designs.objective(rate, cv) == pytest.approx(want, rel=1e-12)
    assert designs.PENALTY == PENALTY


def test_evaluations_to_target_follows_the_best_so_far(designs):
    # evaluation 2 meets both targets (4.5 % off each) but evaluation 1 stays better by the
    # objective (rate exact, CV 6 % off: 0.0036 < 2 x 0.045^2): the best-so-far is not within 5 %
    rates = [10.0, 10.45, 20.0, 9.9]
    cvs = [0.8 * 1.06, 0.8 * 0.955, 0.8, 0.8]
    assert designs.objective(rates[0], cvs[0]) < designs.objective(rates[1], cvs[1])
    assert designs.evaluations_to_target(rates, cvs) == 4
    assert designs.evaluations_to_target(rates[:3], cvs[:3]) is None
    assert designs.evaluations_to_target([10.0], [0.8]) == 1
    assert designs.evaluations_to_target([0.0, 10.2], [math.nan, 0.79]) == 2
    q = designs.fit_quality(rates, cvs)
    assert q["best_index"] == 3 and q["evaluations"] == 4 and q["to_within_5pct"] == 4


def test_bracket_and_rounds_needed(designs):
    per_s = [0.0, 50.0, 80.0, 90.0, 1000.0]  # SI: per s
    rates = [0.0, 0.0, 0.0, 12.0, 160.0]
    b = designs.bracket(per_s, rates)
    assert (b["lo"], b["hi"]) == (0.08, 0.09) and b["contains_threshold"] and b["monotone"]
    assert b["width"] == pytest.approx(0.01)
    assert not designs.bracket([0.0, 90.0, 95.0], [0.0, 0.0, 3.0])["contains_threshold"]
    assert not designs.bracket([0.0, 90.0, 80.0], [0.0, 0.0, 3.0])["monotone"]
    assert designs.bracket([0.0, 1.0], [0.0, 0.0])["width"] is None
    rounds = [0, 0, 1, 2, 0]
    assert designs.rounds_needed(per_s, rates, rounds, 0.02)[0] == 2
    assert designs.rounds_needed(per_s, rates, rounds, 1e-4)[0] is None


def test_the_optuna_script_does_not_import_lifbatch():
    tree = ast.parse((BENCH / "designs_optuna_loop.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    assert "lifbatch" not in names
    assert {"optuna", "numpy"} <= names


@pytest.mark.slow
def test_the_optuna_scripts_neuron_is_lifbatchs():
    import lifbatch

    loop = _load("designs_optuna_loop", BENCH / "designs_optuna_loop.py")
    n = 1000
    for current, sigma in [(150.0, 4.0), (80.0, 8.0)]:
        ds = lifbatch.simulate(
            lifbatch.load_workflow(
                ROOT / "workflows" / "quickstart-fit.yaml",
                [f"trials={n}", f"inputs.current.value={current} pA", f"inputs.noise.sigma={sigma} mV"],
            )
        )
        rate, cv = loop.simulate(current * 1e-12, sigma * 1e-3, np.random.default_rng(7), trials=n)
        sem = float(ds.rate_std) / math.sqrt(n)
        assert abs(rate - float(ds.rate)) < 4 * math.sqrt(2) * sem, (current, sigma, rate, float(ds.rate))
        assert cv == pytest.approx(float(ds.isi_cv), rel=0.03)
    sys.modules.pop("designs_optuna_loop", None)


# ---------------------------------------------------------------- a tiny run


@pytest.mark.slow
def test_tiny_benchmark_run(tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "designs.json"
    budget, tol, n = 8, 0.05, 16
    p = subprocess.run(
        [
            sys.executable,
            str(BENCH / "designs.py"),
            "--rounds",
            "1",
            "--no-warmup",
            "--budget",
            str(budget),
            "--batch",
            "4",
            "--tolerance",
            str(tol),
            "--max-refine-rounds",
            "3",
            "--sample-n",
            str(n),
            "--confirm-trials",
            "100",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=ROOT,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    for head in ("fit: ", "refine: ", "design: ", "| contender |", "checks: all hold"):
        assert head in p.stdout, head
    doc = json.loads(out.read_text())
    assert doc["checks_failed"] == [] and doc["rounds"] == 1
    rows = {(r["part"], r["contender"]): r for r in doc["rows"]}
    assert [k[0] for k in rows].count("fit") == 3
    assert [k[0] for k in rows].count("refine") == 2
    assert [k[0] for k in rows].count("design") == 3
    for r in doc["rows"]:
        assert r["errors"] == [] and len(r["times"]) == 1 and r["times"][0] > 0
        assert (r["ratio_median"] == 1.0) if r["baseline"] else r["ratio_median"] > 0
    # fit: both sides' best objective finite, the histories complete, 1 thread = 2 threads
    fits = [r for r in doc["rows"] if r["part"] == "fit"]
    for r in fits:
        (m,) = r["metrics"]
        assert m["evaluations"] == budget and math.isfinite(m["best_objective"])
        assert m["best_objective"] == min(m["objectives"])
        assert m["to_within_5pct"] is None or 1 <= m["to_within_5pct"] <= budget
        c = m["confirmed"]  # the best point simulated again with 100 trials
        assert c["trials"] == 100 and math.isfinite(c["objective"]) and c["rate"] > 0
    lb = rows[("fit", "lifbatch fit")]["metrics"][0]
    assert rows[("fit", "lifbatch fit --workers 1")]["metrics"][0]["objectives"] == lb["objectives"]
    assert lb["reported_evaluations"] == budget
    # refine: both brackets contain 1/12 per ms, within the tolerance; the grid has 1/tol + 1 points
    grid = next(r for r in doc["rows"] if r["part"] == "refine" and r["baseline"])["metrics"][0]
    ref = next(r for r in doc["rows"] if r["part"] == "refine" and not r["baseline"])["metrics"][0]
    assert grid["points"] == 21
    for m in (grid, ref):
        assert m["lo"] <= 1 / 12 <= m["hi"] and m["width"] <= tol * (1 + 1e-9)
    cal = doc["refine_calibration"]
    assert ref["points"] == 12 + 4 * cal["rounds"] and ref["rounds"] == cal["rounds"]
    assert len(ref["round_seconds"]) == cal["rounds"]
    # design: every row the same points and the same mean rate (bit-identical results are checked)
    design = [r["metrics"][0] for r in doc["rows"] if r["part"] == "design"]
    assert {m["points"] for m in design} == {n}
    assert len({m["mean_rate"] for m in design}) == 1
