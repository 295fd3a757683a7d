"""The command line imports only what a command needs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import WORKFLOWS

# (pint imports the scipy package itself, 8 ms; not its submodules)
HEAVY = (
    "distributed",
    "numba",
    "xarray",
    "zarr",
    "scipy.integrate",
    "scipy.special",
    "panel",
    "bokeh",
    "pandas",
    "dask.array",
    "harness",  # (`lifbatch bench`'s harness, in the checkout's benchmarks/: only for bench itself)
    "obstore",
    "s3fs",
    "boto3",
    "botocore",
)  # (an S3 client: only for an s3:// store)

PROBE = """
import sys
from lifbatch.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("LOADED", " ".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded(argv) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)], capture_output=True, text=True, timeout=120
    )
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED")]
    assert line, out.stdout + out.stderr
    return set(line[-1].split()[1:])


@pytest.mark.parametrize(
    "argv", [["--help"], ["run", "--help"], ["bench", "--help"], ["validate", str(WORKFLOWS / "quickstart.yaml")]]
)
def test_help_and_validate_load_no_heavy_module(argv):
    assert _loaded(argv) == set()


def test_run_in_threads_loads_no_xarray_pandas_or_distributed(tmp_path):
    """A sweep's tasks, its template and its resume check need numpy, numba and Zarr only."""
    wf = tmp_path / "w.yaml"
    wf.write_text(
        "name: tiny\nduration: 5 ms\nneuron: {tau_m: 10 ms, v_th: 1}\n"
        "inputs: {d: {kind: constant, value: 0.3 / ms}}\n"
        "sweep: {I: {param: inputs.d.value, values: [0.1, 0.2], unit: 1 / ms}}\n"
    )
    argv = ["run", str(wf), "--store", str(tmp_path / "s.zarr"), "--no-progress"]
    loaded = _loaded(argv)
    assert not loaded & {"xarray", "distributed", "panel", "bokeh", "obstore", "s3fs", "boto3"}, loaded
    assert (tmp_path / "s.zarr" / "_lifbatch" / "blocks").is_dir()
    assert not _loaded(argv) & {"xarray", "distributed"}  # and resuming (nothing left to run)
    # the probe can see them: `status` opens the store with xarray
    assert "xarray" in _loaded(["status", str(tmp_path / "s.zarr")])


def test_every_command_and_option_has_help_text():
    import argparse

    from lifbatch.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        (name, a.option_strings or a.dest)
        for name, sp in sub.choices.items()
        for a in sp._actions
        if not isinstance(a, argparse._HelpAction) and not a.help
    ]
    assert not missing
    assert all(sub._choices_actions[i].help for i in range(len(sub._choices_actions)))
