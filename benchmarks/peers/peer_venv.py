#!/usr/bin/env python
"""The peer venv (numpy 1.26, Brian2 2.9, Cython, pypet, PyTables) that `lifbatch bench` and run.py use.

    python benchmarks/peers/peer_venv.py            # where it is and whether it is ready (exit 1 if not)
    python benchmarks/peers/peer_venv.py --create   # create it (once; pip install from PyPI, a few minutes)

Run it with any Python 3.10+ (lifbatch's is fine): it creates the venv with
that Python's ``venv`` module, as ``python benchmarks/peers/run.py`` does on
first use (the same function, the same requirements, the same place:
~/.cache/lifbatch-peers/venv, or $LIFBATCH_PEERS_CACHE/venv). None of it is a
dependency of lifbatch.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _harness():
    spec = importlib.util.spec_from_file_location("lifbatch_peers_run", HERE / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--create", action="store_true", help="create (or bring up to date) the peer venv")
    args = ap.parse_args(argv)
    run = _harness()
    py = run.VENV / "bin" / "python"
    marker = run.VENV / run.MARKER
    wanted = "\n".join(run.PEER_REQUIREMENTS) + "\n"
    ready = py.exists() and marker.exists() and marker.read_text() == wanted
    if args.create:
        if ready:
            print(f"peer venv ready: {run.VENV}")
            return 0
        try:
            run.peer_python()
        except run.BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"peer venv ready: {run.VENV} (`lifbatch bench` now measures Brian2 too)")
        return 0
    if ready:
        print(f"peer venv ready: {run.VENV}")
        return 0
    state = "outdated (other requirements)" if py.exists() else "missing"
    print(f"peer venv {state}: {run.VENV}; create it with `python {Path(__file__)} --create`")
    return 1


if __name__ == "__main__":
    sys.exit(main())
