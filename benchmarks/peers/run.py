#!/usr/bin/env python
"""lifbatch side by side with its peers (Brian2, pypet) on the seed workloads.

    python benchmarks/peers/run.py [--rounds N] [--json out.json] [--only tau|pypet]

Two workloads, each run by lifbatch and by the peers, every contender as a
whole process (except the in-process row), in interleaved rounds: round 1
runs every contender once, round 2 again, ... (the order rotates from round
to round), after one untimed warm-up round. The table gives each contender's
median wall time and its range, the ratio to `lifbatch run` in the same
round (median and range), which is faster, and the mean firing rate as a
check that the work is the same (flagged beyond 15 % of lifbatch's).

The peers run in their own virtual environment (numpy < 2, Brian2 2.9,
Cython, pypet 0.6.1, PyTables), created on first use under
~/.cache/lifbatch-peers/ (or $LIFBATCH_PEERS_CACHE). See README.md here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = Path(os.environ.get("LIFBATCH_PEERS_CACHE") or Path.home() / ".cache" / "lifbatch-peers")
VENV = CACHE / "venv"
# What the peer venv holds. Brian2 2.9 does not import with numpy >= 2.4 and
# pypet 0.6.1 fails under numpy 2, so numpy 1.26; Cython for Brian2's cython
# target, PyTables for pypet's HDF5 storage. All checked to install from PyPI
# together (pip resolves pandas, scipy, sympy, ... compatible with numpy 1.26).
PEER_REQUIREMENTS = [
    "numpy==1.26.4",
    "brian2==2.9.0",
    "Cython==3.3.1",
    "pypet==0.6.1",
    "tables==3.11.1",
    "pandas==3.0.6",
    "setuptools",
]
MARKER = "lifbatch-peers-requirements.txt"
RATE_TOLERANCE = 0.15  # relative difference of mean rates beyond which the row is flagged
TIMEOUT = 1200.0  # seconds, per process
CLI = "import sys; from lifbatch.cli import main; sys.argv[0] = 'lifbatch'; sys.exit(main())"
WORKLOADS = {
    "tau": "Brian2 part 3 tau sweep: 30 tau x 200 trials, 1 s (6000 neurons x 10^4 steps)",
    "pypet": "pypet seed: 21 I x 3 t_ref, 1 trial, 1 s (63 neurons x 10^4 steps)",
}


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------- parsing

_RATE = re.compile(r"RATE\s+([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan)")
_TIME = re.compile(r"TIME\s+([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def parse_rate(stdout: str) -> float:
    """The mean rate (Hz) from a contender's last non-empty stdout line, ``RATE <Hz>``."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise BenchError("no output (expected a last line 'RATE <Hz>')")
    m = _RATE.fullmatch(lines[-1])
    if not m:
        raise BenchError(f"last stdout line is not 'RATE <Hz>': {lines[-1][:100]!r}")
    return float(m.group(1))


def parse_time(stdout: str) -> float:
    """The in-process time (s) from a ``TIME <seconds>`` line (the last one if several)."""
    found = [float(m.group(1)) for line in stdout.splitlines() if (m := _TIME.fullmatch(line.strip()))]
    if not found:
        raise BenchError("no 'TIME <seconds>' line in the output")
    return found[-1]


# ---------------------------------------------------------------- contenders


@dataclass
class Contender:
    workload: str
    label: str
    cmd: list[str]
    what: str = ""  # one line: what the process does
    cwd: str | None = None
    peer: bool = True  # runs in the peer venv (environment cleaned of lifbatch's)
    rate_cmd: list[str] | None = None  # untimed, after cmd, prints RATE (else cmd's own last line)
    reports_time: bool = False  # time = its TIME line (in-process), not the process wall
    baseline: bool = False  # the lifbatch row the ratios refer to
    short: str = "peer"  # the name in the "faster" column when this one is faster
    check: object = None  # callable(), after each run: a note (str) or None


@dataclass
class Outcome:
    time: float | None = None
    rate: float | None = None
    error: str | None = None
    note: str | None = None


def _env(peer: bool) -> dict:
    env = dict(os.environ)
    if peer:
        for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(key, None)
        env["PATH"] = os.pathsep.join([str(VENV / "bin"), env.get("PATH", "")])
    return env


def _tail(text: str, n: int = 3) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return " | ".join(lines[-n:])[-300:]


def _run(cmd, cwd, env, timeout=TIMEOUT):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def run_once(c: Contender) -> Outcome:
    """One timed run: time.perf_counter around subprocess.run of the whole process."""
    env = _env(c.peer)
    try:
        t0 = time.perf_counter()
        p = _run(c.cmd, c.cwd, env)
        wall = time.perf_counter() - t0
    except subprocess.TimeoutExpired:
        return Outcome(error=f"timed out after {TIMEOUT:.0f} s")
    if p.returncode != 0:
        return Outcome(error=f"exit {p.returncode}: {_tail(p.stderr) or _tail(p.stdout)}")
    try:
        if c.rate_cmd:
            q = _run(c.rate_cmd, c.cwd, env)
            if q.returncode != 0:
                return Outcome(error=f"rate read-out exit {q.returncode}: {_tail(q.stderr)}")
            rate = parse_rate(q.stdout)
        else:
            rate = parse_rate(p.stdout)
        t = parse_time(p.stdout) if c.reports_time else wall
    except BenchError as exc:
        return Outcome(error=str(exc))
    note = c.check() if c.check else None
    return Outcome(time=t, rate=rate, note=note)


def contenders(py_peer: Path, work: Path, only: str | None) -> list[Contender]:
    """The benchmark's contenders; '{round}' in their arguments stands for the round's directory."""
    py = sys.executable
    side = HERE / "lifbatch_side.py"
    brian = HERE / "brian2_tau_sweep.py"
    proj = work / "brian2-standalone"
    cache = work / "cython-cache"
    out: list[Contender] = []
    if only in (None, "tau"):
        tau_wf = ROOT / "workflows" / "brian-tau-sweep.yaml"
        out += [
            Contender(
                "tau",
                "lifbatch run",
                [
                    py,
                    "-c",
                    CLI,
                    "run",
                    tau_wf,
                    "--set",
                    "trials=200",
                    "--store",
                    "{round}/tau.zarr",
                    "--overwrite",
                    "--no-progress",
                ],
                "`lifbatch run workflows/brian-tau-sweep.yaml --set trials=200` (a fresh store each round)",
                cwd=str(ROOT),
                peer=False,
                rate_cmd=[py, side, "store-rate", "{round}/tau.zarr"],
                baseline=True,
            ),
            Contender(
                "tau",
                "lifbatch run, independent inputs",
                [
                    py,
                    "-c",
                    CLI,
                    "run",
                    tau_wf,
                    "--set",
                    "trials=200",
                    "--set",
                    "noise.shared_across=[]",
                    "--store",
                    "{round}/tau-ind.zarr",
                    "--overwrite",
                    "--no-progress",
                ],
                "the same with `--set noise.shared_across=[]`: every neuron its own Poisson input, "
                "as Brian2's PoissonInput (the workflow shares one input across the 30 tau)",
                cwd=str(ROOT),
                peer=False,
                rate_cmd=[py, side, "store-rate", "{round}/tau-ind.zarr"],
                short="independent inputs",
            ),
            Contender(
                "tau",
                "Brian2 cpp_standalone (binary)",
                [proj / "main"],
                "the compiled standalone project's `main`, run in its directory (build excluded)",
                cwd=str(proj),
                rate_cmd=[py_peer, brian, "--read-results", proj],
                short="Brian2",
            ),
            Contender(
                "tau",
                "Brian2 cpp_standalone (script, cached build)",
                [py_peer, brian, "--target", "cpp_standalone", "--project-dir", proj],
                "the whole Python script, project directory kept: codegen, make (nothing to "
                "compile), run `main`, read results",
                check=_no_rebuild(proj),
                short="Brian2",
            ),
            Contender(
                "tau",
                "Brian2 runtime, cython",
                [py_peer, brian, "--target", "cython", "--cython-cache", cache],
                "the whole script with prefs.codegen.target = 'cython' (compiled-extension cache warm)",
                short="Brian2",
            ),
            Contender(
                "tau",
                "Brian2 runtime, numpy",
                [py_peer, brian, "--target", "numpy"],
                "the whole script with prefs.codegen.target = 'numpy'",
                short="Brian2",
            ),
            Contender(
                "tau",
                "lifbatch.simulate (in-process, warm)",
                [py, side, "inprocess", tau_wf, "--set", "trials=200"],
                "one lifbatch.simulate(workflow) call in a warm process (after a first call)",
                cwd=str(ROOT),
                peer=False,
                reports_time=True,
                short="in-process",
            ),
        ]
    if only in (None, "pypet"):
        pypet_wf = ROOT / "workflows" / "pypet-firing-rate.yaml"
        out += [
            Contender(
                "pypet",
                "lifbatch run",
                [py, "-c", CLI, "run", pypet_wf, "--store", "{round}/pypet.zarr", "--overwrite", "--no-progress"],
                "`lifbatch run workflows/pypet-firing-rate.yaml` (a fresh store each round)",
                cwd=str(ROOT),
                peer=False,
                rate_cmd=[py, side, "store-rate", "{round}/pypet.zarr"],
                baseline=True,
            ),
            Contender(
                "pypet",
                "seed's euler_neuron loop",
                [py_peer, HERE / "seed_loop.py"],
                "the tutorial's euler_neuron, a Python loop over the 63 points",
                short="seed loop",
            ),
            Contender(
                "pypet",
                "pypet Environment (2 processes, HDF5)",
                [py_peer, HERE / "pypet_seed.py", "--dir", "{round}/pypet-seed"],
                "the tutorial's Environment(multiproc=True, ncores=2, wrap_mode='LOCK'), HDF5 storage, post-processing",
                short="pypet",
            ),
            Contender(
                "pypet",
                "lifbatch.simulate (in-process, warm)",
                [py, side, "inprocess", pypet_wf],
                "one lifbatch.simulate(workflow) call in a warm process (after a first call)",
                cwd=str(ROOT),
                peer=False,
                reports_time=True,
                short="in-process",
            ),
        ]
    return out


def _no_rebuild(proj: Path):
    """A check that re-running the standalone script did not recompile the project:
    main's modification time stays the one the build left (read when the contenders are made)."""

    def mtime():
        try:
            return (proj / "main").stat().st_mtime_ns
        except FileNotFoundError:
            return None

    built = mtime()

    def check():
        now = mtime()
        if now is None:
            return "main missing"
        return None if now == built else "recompiled main"

    return check


def for_round(c: Contender, rdir: Path) -> Contender:
    """c with '{round}' in its arguments replaced by round's directory."""

    def sub(args):
        return None if args is None else [str(a).replace("{round}", str(rdir)) for a in args]

    return Contender(**{**c.__dict__, "cmd": sub(c.cmd), "rate_cmd": sub(c.rate_cmd)})


# ---------------------------------------------------------------- peer venv and builds


def peer_python(verbose: bool = True) -> Path:
    """The peer venv's Python, creating the venv if it does not hold PEER_REQUIREMENTS."""
    py = VENV / "bin" / "python"
    marker = VENV / MARKER
    wanted = "\n".join(PEER_REQUIREMENTS) + "\n"
    if py.exists() and marker.exists() and marker.read_text() == wanted:
        return py
    say = print if verbose else (lambda *a, **k: None)
    say(f"creating the peer venv {VENV} (once):")
    if VENV.exists():
        say(f"  removing the outdated {VENV}")
        shutil.rmtree(VENV)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", VENV],
        [py, "-m", "pip", "install", "--quiet", *PEER_REQUIREMENTS],
        [
            py,
            "-c",
            "import numpy, brian2, Cython, pypet, tables, pandas; "
            "print('  peer venv:', 'numpy', numpy.__version__, '| brian2', brian2.__version__, "
            "'| Cython', Cython.__version__, '| pypet', pypet.__version__, '| tables', "
            "tables.__version__, '| pandas', pandas.__version__)",
        ],
    ]
    for cmd in steps:
        say("  $", " ".join(str(c) for c in cmd))
        sys.stdout.flush()
        p = subprocess.run([str(c) for c in cmd], env=_env(True))
        if p.returncode != 0:
            raise BenchError(
                f"creating the peer venv failed at: {' '.join(map(str, cmd))} "
                f"(exit {p.returncode}); {VENV} left as is for inspection"
            )
    marker.write_text(wanted)
    return py


def build_steps(py_peer: Path, work: Path, only: str | None) -> dict:
    """The excluded one-off steps, timed apart: Brian2's standalone build, Cython's compilation."""
    builds = {}
    if only not in (None, "tau"):
        return builds
    print("excluded one-off steps:")
    brian = HERE / "brian2_tau_sweep.py"
    steps = {
        "Brian2 cpp_standalone build (codegen + g++, from scratch)": [
            py_peer,
            brian,
            "--target",
            "cpp_standalone",
            "--project-dir",
            work / "brian2-standalone",
            "--build-only",
        ],
        "Brian2 cython first run (compiles its extensions into an empty cache)": [
            py_peer,
            brian,
            "--target",
            "cython",
            "--cython-cache",
            work / "cython-cache",
        ],
    }
    for name, cmd in steps.items():
        t0 = time.perf_counter()
        p = _run(cmd, None, _env(True))
        dt = time.perf_counter() - t0
        builds[name] = {
            "seconds": dt,
            "ok": p.returncode == 0,
            "error": None if p.returncode == 0 else _tail(p.stderr, 6),
        }
        print(f"  {name}: {dt:.1f} s" + ("" if p.returncode == 0 else f"  FAILED: {builds[name]['error']}"))
        sys.stdout.flush()
    return builds


# ---------------------------------------------------------------- summary and table


def summarize(cs: list[Contender], rounds: list[dict[str, Outcome]], tolerance: float = RATE_TOLERANCE):
    """One row per contender: times, ratios to its workload's baseline in the same round, rate check.

    rounds[k] maps "workload/label" to round k's Outcome.
    """
    baseline = {c.workload: c for c in cs if c.baseline}
    rows = []
    for c in cs:
        key = f"{c.workload}/{c.label}"
        b = baseline.get(c.workload)
        bkey = f"{b.workload}/{b.label}" if b else None
        outs = [r.get(key) for r in rounds]
        ok = [o for o in outs if o is not None and o.error is None]
        times = [o.time for o in ok]
        ratios = []
        for r in rounds:
            o, ob = r.get(key), r.get(bkey) if bkey else None
            if o and ob and o.error is None and ob.error is None and ob.time > 0:
                ratios.append(o.time / ob.time)
        rates = [o.rate for o in ok]
        base_rates = [r[bkey].rate for r in rounds if bkey and r.get(bkey) and r[bkey].error is None]
        rate = statistics.fmean(rates) if rates else None
        base_rate = statistics.fmean(base_rates) if base_rates else None
        rel = None
        if rate is not None and base_rate:
            rel = rate / base_rate - 1.0
        mismatch = rel is not None and abs(rel) > tolerance
        if rate is not None and base_rate == 0:
            mismatch = rate != 0
        row = {
            "workload": c.workload,
            "contender": c.label,
            "what": c.what,
            "baseline": c.baseline,
            "in_process": c.reports_time,
            "runs": len(times),
            "times": times,
            "ratios": ratios,
            "rates": rates,
            "median": statistics.median(times) if times else None,
            "min": min(times) if times else None,
            "max": max(times) if times else None,
            "ratio_median": statistics.median(ratios) if ratios else None,
            "ratio_min": min(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            "rate": rate,
            "rate_rel": rel,
            "rate_mismatch": mismatch,
            "errors": [o.error for o in outs if o is not None and o.error],
            "notes": sorted({o.note for o in ok if o.note}),
        }
        row["faster"] = faster(row["ratio_median"], c.baseline, c.short)
        rows.append(row)
    return rows


def faster(ratio: float | None, is_baseline: bool = False, name: str = "peer") -> str:
    """Which is faster and by how much, from a median ratio contender / lifbatch run."""
    if is_baseline:
        return "(baseline)"
    if ratio is None:
        return "-"
    if ratio > 1:
        return f"lifbatch run, {ratio:.3g}x"
    if ratio < 1:
        return f"{name}, {1 / ratio:.3g}x"
    return "same"


def _g(x: float) -> str:
    return f"{x:.3g}"


def format_table(rows: list[dict]) -> str:
    """The markdown table: workload, contender, wall time, ratio, faster, mean rate, rate check."""
    head = (
        "| workload | contender | wall time (s), median (min-max) | ratio to lifbatch run, "
        "median (min-max) | faster | mean rate (Hz) | rate vs lifbatch |"
    )
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["median"] is None:
            time_s = "failed"
        else:
            time_s = f"{_g(r['median'])} ({_g(r['min'])}-{_g(r['max'])})"
            if r["in_process"]:
                time_s += " in-process"
        if r["baseline"]:
            ratio_s = "1"
        elif r["ratio_median"] is None:
            ratio_s = "-"
        else:
            ratio_s = f"{_g(r['ratio_median'])} ({_g(r['ratio_min'])}-{_g(r['ratio_max'])})"
        rate_s = "-" if r["rate"] is None else f"{r['rate']:.3f}"
        if r["baseline"]:
            check = "(reference)"
        elif r["rate_rel"] is None:
            check = "-"
        else:
            check = f"{r['rate_rel'] * 100:+.1f} %"
            check = f"**MISMATCH {check}**" if r["rate_mismatch"] else f"ok, {check}"
        extra = []
        if r["errors"]:
            extra.append(f"{len(r['errors'])} of {len(r['errors']) + r['runs']} runs failed, see below")
        extra += r["notes"]
        label = r["contender"] + (f" ({'; '.join(extra)})" if extra else "")
        label = label.replace("|", "/")
        lines.append(f"| {r['workload']} | {label} | {time_s} | {ratio_s} | {r['faster']} | {rate_s} | {check} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- the run


def _versions(py_peer: Path) -> dict:
    v = {"python": platform.python_version()}
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "import lifbatch, numpy, numba, dask; print(lifbatch.__version__, "
            "numpy.__version__, numba.__version__, dask.__version__)",
        ],
        capture_output=True,
        text=True,
    )
    if p.returncode == 0:
        v.update(zip(["lifbatch", "numpy (lifbatch)", "numba", "dask"], p.stdout.split()))
    p = subprocess.run(
        [
            str(py_peer),
            "-c",
            "import numpy, brian2, pypet, tables, Cython, platform; "
            "print(numpy.__version__, brian2.__version__, pypet.__version__, tables.__version__, "
            "Cython.__version__, platform.python_version())",
        ],
        capture_output=True,
        text=True,
        env=_env(True),
    )
    if p.returncode == 0:
        v.update(zip(["numpy (peers)", "brian2", "pypet", "tables", "Cython", "python (peers)"], p.stdout.split()))
    gxx = shutil.which("g++")
    if gxx:
        v["g++"] = subprocess.run([gxx, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    return v


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    ap.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    ap.add_argument("--only", choices=sorted(WORKLOADS), help="one workload only")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    py_peer = peer_python()
    work = Path(tempfile.mkdtemp(prefix="lifbatch-peers-"))
    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg()
    print(f"scratch: {work}\n{_cpu()}; load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    try:
        versions = _versions(py_peer)
        print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
        builds = build_steps(py_peer, work, args.only)
        cs = contenders(py_peer, work, args.only)
        rounds: list[dict[str, Outcome]] = []
        for k in range(args.rounds + 1):  # round 0: warm-up, not counted
            rdir = work / f"round{k}"
            rdir.mkdir()
            name = "warm-up round (not counted)" if k == 0 else f"round {k}/{args.rounds}"
            print(name + ":", end="", flush=True)
            res = {}
            by_workload = {}
            for c in cs:
                by_workload.setdefault(c.workload, []).append(c)
            for group in by_workload.values():
                shift = k % len(group)
                for c in group[shift:] + group[:shift]:
                    o = run_once(for_round(c, rdir))
                    res[f"{c.workload}/{c.label}"] = o
                    print(
                        f" [{c.workload}] {c.label}: " + (f"{o.time:.3g} s" if o.error is None else "FAILED"),
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
            shutil.rmtree(rdir, ignore_errors=True)
        load_after = os.getloadavg()
        rows = summarize(cs, rounds)
        print()
        print(
            f"{started:%Y-%m-%d %H:%M %Z}, {_cpu()}, load average {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after; {args.rounds} rounds (+1 warm-up)"
        )
        for name, b in builds.items():
            print(f"excluded: {name}: {b['seconds']:.1f} s" + ("" if b["ok"] else " (FAILED)"))
        print()
        print(format_table(rows))
        mismatches = [r for r in rows if r["rate_mismatch"]]
        failures = [r for r in rows if r["errors"]]
        for r in failures:
            print(f"\n{r['workload']} / {r['contender']}: {len(r['errors'])} run(s) failed: {r['errors'][-1]}")
        if args.json:
            doc = {
                "started": started.isoformat(),
                "command": " ".join([sys.argv[0], *(argv or sys.argv[1:])]),
                "cpu": _cpu(),
                "load_before": load_before,
                "load_after": load_after,
                "rounds": args.rounds,
                "versions": versions,
                "peer_venv": str(VENV),
                "excluded_steps": builds,
                "rate_tolerance": RATE_TOLERANCE,
                "workloads": WORKLOADS,
                "rows": rows,
            }
            Path(args.json).write_text(json.dumps(doc, indent=1))
            print(f"\nwritten: {args.json}")
        return 1 if (mismatches or failures) else 0
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
