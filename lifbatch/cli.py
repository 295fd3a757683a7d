"""The ``lifbatch`` command line.

Exit codes: 0 success; 2 invalid input (one line naming the field, the value
and the fix, no traceback, nothing written); 1 runtime failure (e.g. failed
points), after everything that succeeded was written.

Each command imports what it needs when it runs (the imports inside the ``cmd_*``
functions): ``lifbatch --help`` loads this module and errors.py only (under 0.5 s), and
``validate`` the parser and the planner only (under 1.5 s; tests/test_cli_imports.py).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
from pathlib import Path

from . import __version__
from .errors import LifbatchError, RunError, StoreError, WorkflowError, missing_extra, os_reason
from .storage import check_location

__all__ = ["main"]


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _load(args):
    # (deferred: `lifbatch --help` imports no command's modules)
    from .workflow import load_workflow

    return load_workflow(args.workflow, overrides=args.set)


def cmd_validate(args) -> int:
    # (deferred: `lifbatch --help` imports no command's modules)
    from .config import available_cpus
    from .plan import estimate, plan_blocks

    if args.workers is not None and args.workers < 1:  # as run_sweep refuses it
        raise WorkflowError(
            f"`--workers` must be >= 1, got {args.workers}. Example: --workers 2", "--workers", args.workers
        )
    wf = _load(args)
    _warn_unusual(wf)
    workers = args.workers or available_cpus()  # as `run` sizes its embedded cluster
    blocking = plan_blocks(wf, points_per_task=args.points_per_task, workers=workers)
    e = estimate(wf, blocking)
    grid = " x ".join(f"{a.name}={a.size}" for a in wf.sweep) or "(single point)"
    print(f"workflow    {wf.name} (fingerprint {wf.fingerprint}): valid")
    if wf.sample is not None:
        spec = wf.sample.spec
        added = f" + {len(spec.rounds)} added" if spec.rounds else ""
        print(f"design      {spec.method}, {_n(spec.n, 'point')}{added} of {', '.join(spec.labels)}")
    print(f"grid        {grid}  -> {_n(e['points'], 'point')} x {_n(e['trials'], 'trial')}")
    print(f"time        {wf.duration * 1e3:g} ms in {e['steps']} steps of {wf.dt * 1e3:g} ms ({wf.method})")
    if wf.model != "lif":
        # (deferred: `lifbatch --help` imports no command's modules)
        from .models import get_model

        model = get_model(wf.model)
        opts = "".join(f", {k} {v}" for k, v in wf.model_options)
        print(f"model       {model.name}: state {', '.join(v.name for v in model.state)}; method {wf.method}{opts}")
        print(f"spikes      {model.spike_rule}")
        if model.max_dt is not None and wf.dt > model.max_dt * (1 + 1e-9):
            print(
                f"warning     dt {wf.dt * 1e3:g} ms is coarse for {model.name} with {wf.method} (its spike times "
                f'move by more than a step against dt {model.max_dt * 1e3:g} ms; docs/workflow.md, "{model.name}")'
            )
    print(
        f"work        {e['neuron_steps']:.3e} neuron-steps in {_n(e['tasks'], 'task')} of <= "
        f"{_n(e['points_per_task'], 'point')} (for {_n(workers, 'worker')})"
    )
    print(f"memory      ~{_bytes(e['memory_per_task'])} per task")
    print(f"store       ~{_bytes(e['store_bytes'])} uncompressed (results/{wf.name}.zarr by default)")
    return 0


def _n(count: int, noun: str) -> str:
    """ "1 point", "2 points"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _warn_unusual(wf) -> None:
    """Valid values that are physically unlikely (``tau_m: 20 s`` in a 1 s run): one line each."""
    # (deferred: `lifbatch --help` imports no command's modules)
    from .plausibility import unusual_values

    for line in unusual_values(wf):
        print(f"warning: {line}", file=sys.stderr)


def _silent(wf, store) -> str:
    """ "; no spikes at N of M points" for the done line, when some points had none (and the
    neuron could spike: not ``v_th: inf``, or the spike rule's parameter of another model)."""
    import math

    # (deferred: `lifbatch --help` imports no command's modules)
    from .models import get_model
    from .status import silent_points

    key = "neuron." + get_model(wf.model).spike_param  # (v_th; v_spike, v_peak of other models)
    v_th = [wf.params[key]] + [v for ax in wf.sweep if key in ax.params for v in ax.values[ax.params.index(key)]]
    counts = silent_points(store) if not all(math.isinf(v) for v in v_th) else None
    if not counts or not counts[0]:
        return ""
    after = " after the warmup" if wf.warmup > 0 else ""
    return f"; no spikes{after} at {counts[0]} of {_n(counts[1], 'point')}"


def cmd_run(args) -> int:
    # (deferred: `lifbatch --help` imports no command's modules)
    from .execute import run_sweep

    _check_workers(args)
    wf = _load(args)
    _warn_unusual(wf)
    store = args.store or str(Path("results") / f"{wf.name}.zarr")
    result = run_sweep(
        wf,
        store,
        scheduler=args.scheduler,
        workers=args.workers,
        points_per_task=args.points_per_task,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        retry_failed=args.retry_failed,
        detach=args.detach,
        processes=True if args.processes else None,
        repair=args.repair,
        workflow_path=args.workflow,
        cluster=args.cluster,
        jobs=args.jobs,
        adapt=_adapt(args.adapt),
        overrides=args.set,
    )
    if result.detached:
        print(f"submitted: {_n(result.blocks_run, 'block')} of {_n(result.points, 'point')} to {args.scheduler}")
        print(f"results: {result.store}")
        print(f"  follow:   lifbatch status {result.store}")
        return 0
    n_failed = len(result.failures)
    print(
        f"done: {result.points - n_failed} of {_n(result.points, 'point')} in {result.seconds:.1f} s "
        f"({result.blocks_run} blocks run, {result.blocks_skipped} already done){_silent(wf, result.store)}"
    )
    print(f"results: {result.store}")
    print(f"  summary:  lifbatch status {result.store}")
    print(f"  table:    lifbatch query {result.store} --var rate")
    print(f"  review:   lifbatch review {result.store}")
    print(f"  python:   lifbatch.open_results({result.store!r})")
    if n_failed:
        # (deferred: `lifbatch --help` imports no command's modules)
        from .store import open_results

        ds = open_results(result.store)
        shown = 0
        print(f"{n_failed} point{'s' if n_failed > 1 else ''} failed:", file=sys.stderr)
        for flat, msg in sorted(result.failures.items()):
            if shown == 10:
                print(f"  ... and {n_failed - 10} more (lifbatch status {result.store})", file=sys.stderr)
                break
            print(f"  {_point_label(ds, flat)}: {msg}", file=sys.stderr)
            shown += 1
        print(
            "fix the cause, then retry only the failed points' blocks with the same command and "
            "--retry-failed (finished points are kept).",
            file=sys.stderr,
        )
        return 1
    return 0


def _adapt(text):
    if text is None:
        return None

    try:
        lo, hi = (int(x) for x in text.split(".."))
    except ValueError:
        raise WorkflowError(
            f"`--adapt` must be MIN..MAX (whole numbers of jobs), got {text!r}. Example: --adapt 1..10", "--adapt", text
        ) from None
    return lo, hi


def _point_label(ds, flat: int) -> str:
    import numpy as np

    # (deferred: `lifbatch --help` imports no command's modules)
    from .query import format_coord

    axes = [d for d in ds["status"].dims]
    if not axes:
        return "the point"
    if not 0 <= flat < ds["status"].size:  # (a hand-made marker's: not a block of this store)
        return f"point {flat}"
    idx = np.unravel_index(flat, ds["status"].shape)
    parts = []
    for ax, i in zip(axes, idx):
        v = float(ds[ax].values[i])
        parts.append(f"{ax}={format_coord(ds[ax], v)}")
    return ", ".join(parts)


def cmd_status(args) -> int:
    # (deferred: `lifbatch --help` imports no command's modules)
    from .status import store_status
    from .store import inspect_store, unfinished_commit

    unfinished = unfinished_commit(args.store)
    if unfinished:  # (nothing to read or verify until the command holding the lease finishes it)
        raise StoreError(unfinished)
    inspect_store(args.store)  # (damaged root metadata: one line, for --verify too; lifbatch does not guess)
    try:
        st = store_status(args.store)
    except LifbatchError as exc:
        if not args.verify:
            raise
        print(f"status    unreadable: {exc}")  # (verify, below, says what is damaged)
    else:
        print(st.format())
    if args.provenance:
        # (deferred: `lifbatch --help` imports no command's modules)
        from .provenance import format_provenance
        from .store import read_markers, store_workflow

        attrs = store_workflow(args.store)
        assert attrs is not None  # (the status above has read the store)
        print(format_provenance(attrs, read_markers(args.store)))
    if args.verify:
        # (deferred: `lifbatch --help` imports no command's modules)
        from .store import verify_store

        report = verify_store(args.store)
        print(report.format())
        return 0 if report.ok else 1
    return 0


def cmd_query(args) -> int:
    # (deferred: `lifbatch --help` imports no command's modules)
    from .query import query
    from .store import read_consistently

    # (never a mix of arrays from before and after a summarize's swap)
    print(
        read_consistently(
            args.store,
            lambda: query(
                args.store, variables=args.var, sel=args.sel, fmt=args.format, max_rows=args.max_rows, where=args.where
            ),
        ),
        end="",
    )
    return 0


def _check_workers(args) -> None:
    if args.scheduler and args.workers is not None:
        raise WorkflowError(
            f"`--workers` sizes the embedded execution, not a --scheduler's cluster, got --workers "
            f"{args.workers} with --scheduler {args.scheduler}. Drop --workers (the cluster's "
            "workers run the tasks), or drop --scheduler.",
            "--workers",
            args.workers,
        )


def _run_options(args) -> dict:
    """The execution options of refine and fit, as run_sweep takes them."""
    _check_workers(args)
    return dict(
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.no_progress,
        processes=True if args.processes else None,
    )


def cmd_refine(args) -> int:
    # (deferred: `lifbatch --help` imports no command's modules)
    from .refine import refine_store
    from .store import inspect_store

    if inspect_store(args.store).kind != "store":
        raise StoreError(
            f"no finished lifbatch store at '{args.store}'. Run `lifbatch run WORKFLOW --store "
            f"{args.store}` with a workflow that has a `sample` section first."
        )
    result = refine_store(
        args.store, var=args.var, add=args.add, rounds=args.rounds, against=args.against, **_run_options(args)
    )
    what = f"where {args.var} {'and theory disagree most' if args.against else 'changes fastest'}"
    if result.finished_pending:
        print(f"finished {_n(result.finished_pending, 'block')} left pending by an earlier refinement")
    for r in result.rounds:
        last = r["first"] + r["added"] - 1
        samples = f"sample {last}" if last == r["first"] else f"samples {r['first']}-{last}"
        none = r.get("undefined", 0)
        undefined = (
            f"; {none} of them {'has' if none == 1 else 'have'} no {args.var} (fewer than 2 ISIs)"
            if none and args.var.startswith("isi")
            else f"; {none} of them without {args.var}"
            if none
            else ""
        )
        print(
            f"round {r['round']}: added {_n(r['added'], 'point')} ({samples}) {what}, "
            f"in {r['seconds']:.1f} s{undefined}"
        )
    print(f"results: {args.store}")
    print(f"  review:   lifbatch review {args.store}   (added points are marked)")
    print(f"  table:    lifbatch query {args.store} --var {args.var}")
    return 0


def cmd_fit(args) -> int:
    # (deferred: `lifbatch --help` imports no command's modules)
    from .fitting import fit, format_result

    result = fit(
        args.workflow,
        targets=args.target,
        free=args.free,
        budget=args.budget,
        batch=args.batch,
        store=args.store,
        overrides=args.set,
        **_run_options(args),
    )
    if args.format == "json":
        print(json.dumps(result.to_json()))
    else:
        # (deferred: `lifbatch --help` imports no command's modules)
        from .fitting import parse_targets

        written = {k: v[1] for k, v in parse_targets(args.target).items()}
        print(format_result(result, written), end="")
    return 0


def cmd_summarize(args) -> int:
    # (deferred: `lifbatch --help` imports no command's modules)
    from .summarize import summarize_store

    summarize_store(args.store, overrides=args.set, log=print)
    print(f"summaries recomputed in {args.store}")
    return 0


def cmd_export(args) -> int:
    # (deferred: `lifbatch --help` imports no command's modules)
    from .nwb import export_nwb

    result = export_nwb(
        args.store,
        args.nwb,
        sel=args.sel,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        command=" ".join(["lifbatch", *sys.argv[1:]]),
    )
    print(
        f"wrote {result.path}: {_n(result.units, 'unit')} ({_n(result.points, 'point')} x "
        f"{_n(result.trials, 'trial')}), {_n(result.spikes, 'spike')}, {result.series} trace series "
        f"in {result.seconds:.1f} s"
    )
    print(f"  read:   pynwb.NWBHDF5IO({str(result.path)!r}).read().units.to_dataframe()")
    print(f"  check:  nwbinspector {result.path}")
    return 0


def cmd_review(args) -> int:
    with _review_extra("lifbatch review"):
        # (deferred: `lifbatch --help` imports no command's modules)
        from .review import serve

    serve(args.store, port=args.port, open_browser=not args.no_browser)
    return 0


def cmd_report(args) -> int:
    with _review_extra("lifbatch report"):
        # (deferred: `lifbatch --help` imports no command's modules)
        from .report import write_report

    write_report(args.store, args.output)
    print(f"report: {Path(args.output).resolve()}")
    return 0


@contextlib.contextmanager
def _review_extra(command: str):
    """Panel and Bokeh (the `review` extra) missing while a command's modules are imported: said in
    one line, as the modules' own check says it once they are loaded."""
    try:
        yield
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] not in ("bokeh", "panel"):
            raise
        raise missing_extra(command, "review", "Panel and Bokeh") from err


def cmd_bench(args) -> int:
    if args.sweep and args.model:
        raise WorkflowError(
            "`lifbatch bench`: --model and --sweep do not go together; run one, then the other", "--model", args.model
        )
    if not args.sweep:
        args.neurons = (1000 if args.model else 10_000) if args.neurons is None else args.neurons
    return _bench_harness("bench_sweep" if args.sweep else "bench_models" if args.model else "bench").main(args)


def _bench_harness(module: str):
    """``harness.<module>``, the benchmark harness of the source checkout lifbatch is imported
    from (benchmarks/harness/, beside benchmarks/peers/ whose Brian2 scripts it runs); it is
    not installed with lifbatch. Its folder's parent goes first on ``sys.path`` (the worker
    processes of ``--sweep --processes`` inherit it, and import the harness from there too)."""
    import importlib  # (deferred: `lifbatch --help` imports no command's modules)

    here = Path(__file__).resolve().parent
    folder = here.parent / "benchmarks"
    if not (folder / "harness" / "__init__.py").is_file():
        raise LifbatchError(
            f"`lifbatch bench` runs the harness in benchmarks/harness/ of lifbatch's source checkout, which is "
            f"not installed with the package and is not beside this lifbatch ({here}): install lifbatch from a "
            "clone of its repository (pip install -e . in the clone, as the README's first command does)"
        )
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(f"harness.{module}")


#: a file system that refuses the command's I/O (full, read-only, not ours): the environment,
#: never a bug. Every command writes atomically (a temporary file renamed), under the lease,
#: so such a stop loses nothing finished: the same command, run again, resumes.
_REFUSED_IO = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
_IO_FIXES = {
    errno.ENOSPC: "free space on that disk",
    errno.EDQUOT: "free space within your disk quota",
    errno.EROFS: "make that file system writable (or copy the store to one that is)",
    errno.EACCES: "get permission to it (or copy the store to where you have it)",
    errno.EPERM: "get permission to it (or copy the store to where you have it)",
}


def _io_error(args, exc: OSError) -> str:
    """One line for an OSError of ``_REFUSED_IO`` that stopped a command: the path, why, the fix."""
    assert exc.errno is not None  # (main passes only the errors of _REFUSED_IO here)
    path = exc.filename or getattr(args, "store", None) or getattr(args, "workflow", None)
    where = f"'{path}'" if path else "the store"
    verb = "cannot use" if exc.errno in (errno.EACCES, errno.EPERM) else "cannot write"
    return (
        f"{args.command} {verb} {where} ({os_reason(exc)}); it stopped without losing anything "
        f"finished: {_IO_FIXES[exc.errno]}, then run the same command again."
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lifbatch", description="Batch sweeps of leaky integrate-and-fire ensembles.")

    p.add_argument("--version", action="version", version=f"lifbatch {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_wf(sp):
        sp.add_argument("workflow", help="workflow YAML file (docs/workflow.md)")
        sp.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help='override a workflow key by dot path, e.g. --set neuron.tau_m="20 ms"',
        )
        sp.add_argument("--points-per-task", type=int, default=None, metavar="N", help="points per task (block size)")
        sp.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="N",
            help="threads (or with --processes, worker processes) of the embedded execution; "
            "default one per CPU this process may use (its affinity and cgroup CPU quota)",
        )

    sp = sub.add_parser("validate", help="check a workflow; print grid shape, tasks, neuron-steps, sizes")
    add_wf(sp)
    sp.set_defaults(func=cmd_validate)

    sp = sub.add_parser("run", help="run a sweep into a Zarr store (resumes an existing store)")
    add_wf(sp)
    sp.add_argument("--store", default=None, help="Zarr store path (default results/<name>.zarr)")
    sp.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="use a running Dask scheduler (tcp://host:port)"
    )
    sp.add_argument("--overwrite", action="store_true", help="replace a store of another workflow")
    sp.add_argument("--retry-failed", action="store_true", help="run again the blocks that had failed points")
    sp.add_argument("--detach", action="store_true", help="submit to --scheduler and return at once")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.add_argument(
        "--cluster",
        choices=["slurm", "pbs"],
        default=None,
        help="start a dask-jobqueue cluster on SLURM or PBS from Dask's jobqueue configuration "
        "(cluster/README.md); its jobs end with the run",
    )
    sp.add_argument("--jobs", type=int, default=None, metavar="N", help="--cluster: a fixed number of jobs")
    sp.add_argument(
        "--adapt", default=None, metavar="MIN..MAX", help="--cluster: scale between MIN and MAX jobs with the work left"
    )
    sp.add_argument(
        "--repair",
        action="store_true",
        help="read back every done block's chunks first and recompute the blocks whose data are "
        "missing or corrupt (as `status --verify` lists them)",
    )
    sp.add_argument(
        "--processes",
        action="store_true",
        help="embedded execution on a local Dask cluster of worker processes instead of threads "
        "of this process (same results; see README, Performance)",
    )
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("status", help="progress of a sweep, from its store alone")
    sp.add_argument("store", help="the sweep's Zarr store")
    sp.add_argument(
        "--provenance",
        action="store_true",
        help="also print what computed the store: versions, host and CPU, cluster, the workflow "
        "file's sha256 and git commit, input files' sha256, and the worker of every block",
    )
    sp.add_argument(
        "--verify",
        action="store_true",
        help="also read back every chunk of the done blocks and list the points whose data are "
        "missing or corrupt (exit 1 if any; `run --repair` recomputes them)",
    )
    sp.set_defaults(func=cmd_status)

    sp = sub.add_parser(
        "query",
        help="print variables of a store as a table, CSV or JSON",
        description="Print variables of a store as a table, CSV or JSON. Coordinates and variables "
        "are shown in the workflow's display units (time [ms], v_mean [mV], isi_mean "
        "[ms]), values to 6 significant digits in the table, 12 in CSV and JSON. "
        "--max-rows N shows the first N rows; without it, a query of more rows than "
        "lifbatch.query.max-rows is refused before anything is read: narrow it with "
        "--sel or --where.",
    )
    sp.add_argument("store", help="the sweep's Zarr store")
    sp.add_argument("--var", action="append", default=[], metavar="NAME", help="variable (repeatable; default rate)")
    sp.add_argument(
        "--sel",
        action="append",
        default=[],
        metavar="AXIS=VALUE",
        help='select by coordinate in your units, e.g. --sel tau="5 ms" (nearest)',
    )
    sp.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")
    sp.add_argument(
        "--max-rows",
        type=int,
        default=None,
        metavar="N",
        help="show the first N rows and how many more there are (without it, a query of more than "
        "lifbatch.query.max-rows rows, 100000, is refused)",
    )
    sp.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="CONDITION",
        help="keep only the rows where a variable compares to a value in your units, e.g. "
        '--where "rate>20" or --where "isi_mean<=50 ms" (repeatable: all must hold)',
    )
    sp.set_defaults(func=cmd_query)

    def add_execution(sp):
        sp.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="N",
            help="threads (or with --processes, worker processes) of the embedded execution; "
            "default one per CPU this process may use (its affinity and cgroup CPU quota)",
        )
        sp.add_argument(
            "--processes", action="store_true", help="embedded execution on a local Dask cluster of worker processes"
        )
        sp.add_argument(
            "--scheduler", default=None, metavar="ADDRESS", help="use a running Dask scheduler (tcp://host:port)"
        )
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")

    sp = sub.add_parser(
        "refine",
        help="add points to a sampled store where a summary changes fastest",
        description="Add points to a store of a sampled design (a workflow with a `sample` "
        "section) where the chosen summary changes fastest, or where simulation and "
        "theory disagree most, and compute them. Earlier points are never changed; "
        "the same store refined twice gets the same points (docs/designs.md).",
    )
    sp.add_argument("store", help="the Zarr store of a sampled design")
    sp.add_argument(
        "--var", default="rate", help="the summary to follow (rate, rate_std, isi_mean, isi_std, isi_cv; default rate)"
    )
    sp.add_argument("--add", type=int, default=8, metavar="N", help="points per round (default 8)")
    sp.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="K",
        help="rounds, each chosen from the results of the ones before (default 1)",
    )
    sp.add_argument(
        "--against",
        choices=["theory"],
        default=None,
        help="add points where the simulation and the Siegert theory disagree most (rate, isi_cv)",
    )
    add_execution(sp)
    sp.set_defaults(func=cmd_refine)

    sp = sub.add_parser(
        "fit",
        help="fit free parameters of a workflow to target statistics (Optuna TPE)",
        description="Search the free parameters of a workflow (without sweep) for target "
        "statistics: a Sobol design, the theory's solution where it applies, then "
        "batches proposed by Optuna's TPE sampler; every evaluation is a point of "
        "one store, and a stopped fit resumes (docs/designs.md).",
    )
    sp.add_argument("workflow", help="workflow YAML file without a sweep (docs/workflow.md)")
    sp.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help='a target statistic: rate, isi_mean or isi_cv, e.g. --target rate="10 Hz" '
        "--target isi_cv=0.8 (repeatable)",
    )
    sp.add_argument(
        "--free",
        action="append",
        default=[],
        metavar="PARAM=LOW..HIGH",
        help="a free parameter and its bounds (bare numbers in the unit the workflow gives it; "
        'append " log" for a log scale), e.g. --free inputs.mu.value=0.5..2 (repeatable)',
    )
    sp.add_argument("--budget", type=int, default=200, metavar="N", help="evaluations in all (default 200)")
    sp.add_argument(
        "--batch", type=int, default=8, metavar="N", help="evaluations per round, computed in parallel (default 8)"
    )
    sp.add_argument(
        "--store",
        default=None,
        help="Zarr store of the evaluations (default results/<name>-fit.zarr, or results/<name>.zarr for a name ending in fit)",
    )
    sp.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a workflow key by dot path, e.g. --set trials=40",
    )
    sp.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    add_execution(sp)
    sp.set_defaults(func=cmd_fit)

    sp = sub.add_parser("summarize", help="recompute summaries from stored spikes and traces")
    sp.add_argument("store", help="the sweep's Zarr store")
    sp.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help='e.g. --set summaries.warmup="200 ms"'
    )
    sp.set_defaults(func=cmd_summarize)

    sp = sub.add_parser(
        "export",
        help="write a store's spikes and traces to an NWB file",
        description="Write the spikes (the Units table, one row per trial and point, the sweep "
        "parameters as columns) and recorded traces (TimeSeries) of a store, or of the "
        "points --sel picks, to an NWB file, with the workflow and provenance in its "
        "metadata (docs/export.md). Needs the `export` extra.",
    )
    sp.add_argument("store", help="the sweep's Zarr store")
    sp.add_argument("--nwb", required=True, metavar="OUT.nwb", help="the NWB file to write")
    sp.add_argument(
        "--sel",
        action="append",
        default=[],
        metavar="AXIS=VALUE",
        help='export only these points (and trials: --sel trial=0), as query --sel reads them, e.g. --sel sigma="4 mV"',
    )
    sp.add_argument("--overwrite", action="store_true", help="replace OUT.nwb if it exists")
    sp.add_argument("--no-progress", action="store_true", help="no progress bars")
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("review", help="interactive review app in the browser")
    sp.add_argument("store", help="the sweep's Zarr store")
    sp.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    sp.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    sp.set_defaults(func=cmd_review)

    sp = sub.add_parser("report", help="write a self-contained HTML report")
    sp.add_argument("store", help="the sweep's Zarr store")
    sp.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default report.html)")
    sp.set_defaults(func=cmd_report)

    sp = sub.add_parser("bench", help="kernel throughput against a numpy baseline")
    sp.add_argument(
        "--neurons",
        type=int,
        default=None,
        help="ensemble size of the kernel figures (default 10000; with --model 1000)",
    )
    sp.add_argument("--steps", type=int, default=10_000, help="time steps of 0.1 ms")
    sp.add_argument("--repeat", type=int, default=3, help="interleaved rounds (the best, or the median round)")
    sp.add_argument("--json", action="store_true", help="print the figures as JSON")
    sp.add_argument(
        "--model",
        metavar="NAME",
        help="a neuron model's loop (hh_traub, adex, eif, izhikevich, lif) under a constant current, "
        "against Brian2 on the same model when the peers' venv exists",
    )
    sp.add_argument(
        "--sweep",
        action="store_true",
        help="end-to-end sweep as `lifbatch run` runs it: throughput, memory, per-point overhead",
    )
    sp.add_argument("--points", type=int, default=1000, help="--sweep: grid points (x 20 trials x 10^4 steps)")
    sp.add_argument("--tiny-points", type=int, default=10_000, help="--sweep: points of the overhead sweep")
    sp.add_argument(
        "--store",
        metavar="DIR_OR_URL",
        help="--sweep: write the sweeps' stores there (a directory, or s3://BUCKET/PATH), each round "
        "also to local disk, and compare; they are removed after",
    )
    sp.add_argument("--workers", type=int, default=2, help="--sweep: threads (or worker processes)")
    sp.add_argument(
        "--processes",
        action="store_true",
        help="--sweep: on an embedded cluster of worker processes, as `run --processes`",
    )
    sp.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "store", None):
            check_location(args.store)  # (an unsupported URL is refused, never made a local directory)
        code = args.func(args)
        sys.stdout.flush()  # a reader that left shows here (| head -1), not in a traceback at exit
        return code
    except BrokenPipeError:  # the standard recipe: stdout to devnull, exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except RunError as exc:  # a runtime failure: the store is resumable
        print(f"lifbatch: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno not in _REFUSED_IO:
            raise  # anything else is a bug: its traceback
        print(f"lifbatch: error: {_io_error(args, exc)}", file=sys.stderr)
        return 1
    except LifbatchError as exc:
        print(f"lifbatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lifbatch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
