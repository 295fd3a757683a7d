"""benchmarks/simulate.py: the white-noise LIF through ``lifbatch.simulate`` against numpy.

A tiny run in a real subprocess (200 neurons x 500 steps, 3 rounds): its output's
structure and the consistency of its numbers (each round's ratio is numpy's CPU time
over simulate's, the medians lie in their ranges, and the rates agree), not its timings.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # (a fresh process: imports and numba's cache)
def test_tiny_simulate_bench_run(tmp_path):
    out = tmp_path / "sim.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "simulate.py"),
            "--neurons",
            "200",
            "--steps",
            "500",
            "--rounds",
            "3",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    assert (r["neurons"], r["steps"], r["rounds"], r["threads"]) == (200, 500, 3, 1)
    assert len(r["per_round"]) == 3 and len(r["load_average_start"]) == 3 and len(r["load_average_end"]) == 3
    for row in r["per_round"]:
        assert row["ratio_simulate"] == row["numpy"]["cpu"] / row["simulate"]["cpu"]
        assert row["ratio_kernel"] == row["numpy"]["cpu"] / row["kernel"]["cpu"]
        assert all(row[name]["cpu"] > 0 and row[name]["wall"] > 0 for name in ("simulate", "numpy", "kernel"))
    ratios = [row["ratio_simulate"] for row in r["per_round"]]
    s = r["ratio_numpy_over_simulate"]
    assert (s["median"], s["min"], s["max"]) == (statistics.median(ratios), min(ratios), max(ratios))
    assert r["met"] == (s["median"] >= r["target"] == 3.0)
    for name in ("simulate", "numpy", "kernel"):
        c = r["cpu_seconds"][name]
        assert c["min"] <= c["median"] <= c["max"]
    assert r["rate"]["agree"] and r["rate"]["simulate"] > 0 and r["rate"]["numpy"] > 0
    parts = r["parts_cpu_seconds"]
    assert set(parts) == {"block", "v_moments", "spike_statistics", "dataset"}
    assert parts["v_moments"] + parts["spike_statistics"] < parts["block"]
    # the table says the same
    assert f"numpy / simulate  {s['median']:.2f}x" in proc.stdout
    assert "load average (1, 5, 15 min) at the start" in proc.stdout
