"""Stores on object storage (issue 22): ``--store s3://BUCKET/PATH.zarr`` against a real
S3-compatible server, SeaweedFS, started on 127.0.0.1 by the tests (tests/_seaweed.py).

Real ``lifbatch`` subprocesses, real signals, real conditional writes (If-None-Match,
If-Match); the results compared array by array with the same sweep on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import lifbatch

from conftest import assert_identical
from test_store_trust import SLOW, WF, _cli, _start, _wait_for, _write


# --------------------------------------------------------------------------- #
# an unsupported URL is refused in one line, and nothing is made locally
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("url", ["gs://bucket/x.zarr", "https://host/x.zarr", "file://tmp/x.zarr"])
def test_unsupported_url_refused_in_one_line(tmp_path, url):
    wf = _write(tmp_path, WF)
    out = subprocess.run([sys.executable, "-m", "lifbatch.cli", "run", str(wf), "--store", url], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    scheme = url.split(":")[0]
    assert out.stderr.strip() == (f"lifbatch: error: store '{url}': lifbatch cannot write to '{scheme}://' URLs; "
                                  "give a path on a file system, or an S3-compatible object store as "
                                  "s3://BUCKET/PATH.zarr (docs/store-layout.md)")
    assert sorted(p.name for p in tmp_path.iterdir()) == [wf.name]  # no local `gs:` directory
    for command in ("status", "query"):
        out = _cli(command, url)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "cannot write to" in out.stderr
    with pytest.raises(lifbatch.StoreError, match="cannot write to"):
        lifbatch.open_results(url)


def test_s3_url_without_a_path_refused(tmp_path):
    out = _cli("status", "s3://bucket-only")
    assert out.returncode == 2
    assert out.stderr.strip() == ("lifbatch: error: store 's3://bucket-only' names no path in its bucket: give "
                                  "s3://BUCKET/PATH.zarr, e.g. s3://results/quickstart.zarr")
