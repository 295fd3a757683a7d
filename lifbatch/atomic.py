"""Atomic writes of small files (the store's bookkeeping: lease, markers, commits).

A file is written beside its target under a name no other process uses, then
renamed over it (``os.replace``): readers see the old content or the new, never
a part. Every writer of ``_lifbatch/`` files uses these (one way down: this
module imports nothing of lifbatch's).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

__all__ = ["write_json_atomic", "write_text_atomic"]


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    path = Path(path)
    # pid and a random part: two threads of one process never share a temporary file
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)  # (a full disk leaves no temporary file where Zarr would find it)
        if isinstance(exc, OSError) and exc.filename is None:  # (a failed write() names no file)
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def write_json_atomic(path: str | os.PathLike, data) -> None:
    """Write ``data`` as JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(data))
