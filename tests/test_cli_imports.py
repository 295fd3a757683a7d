"""The command line imports only what a command needs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import WORKFLOWS

# (pint imports the scipy package itself, 8 ms; not its submodules)
HEAVY = ("distributed", "numba", "xarray", "zarr", "scipy.integrate", "scipy.special", "panel", "bokeh")

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
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)], capture_output=True,
                         text=True, timeout=120)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED")]
    assert line, out.stdout + out.stderr
    return set(line[-1].split()[1:])


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["validate", str(WORKFLOWS / "quickstart.yaml")]])
def test_help_and_validate_load_no_heavy_module(argv):
    assert _loaded(argv) == set()


def test_the_probe_sees_heavy_modules():
    """The check above can fail: `status` does open the store with xarray."""
    assert "xarray" in _loaded(["status", "/nonexistent/store.zarr"])
