"""Where a store lives: a directory on a POSIX file system, or a prefix in an S3-compatible
object store (``s3://BUCKET/PATH.zarr``). One interface, :class:`Storage`, with the
operations a store needs (docs/store-layout.md, "What each guarantee rests on"): whole
small objects read and written, a conditional create (``O_EXCL``; ``If-None-Match: *``),
a conditional replace of the version one read (a rename-aside check; ``If-Match: ETag``),
delete, list, and the Zarr store of the arrays. :class:`~lifbatch.storage.posix.PosixStorage`
does exactly what lifbatch always did on disk; :class:`~lifbatch.storage.s3.S3Storage`
(obstore, imported only for an ``s3://`` store) the same on an object store.

This package imports no S3 client: ``lifbatch --help`` and ``validate`` never load one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import StoreError
from .base import Conflict, Storage, Unavailable
from .posix import PosixStorage

__all__ = ["is_url", "check_location", "canonical", "of", "Storage", "Conflict", "Unavailable"]

#: ``scheme://`` at the start of a store's location (a Windows drive ``C:\\`` has no ``//``)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
SUPPORTED = ("s3",)


def is_url(store) -> bool:
    """Whether ``store`` is a URL (``scheme://...``) rather than a path."""
    return isinstance(store, str) and _SCHEME.match(store) is not None


def check_location(store) -> None:
    """StoreError (one line) for a store URL lifbatch cannot write: a scheme other than ``s3://``
    (which would otherwise be taken for a local directory named ``gs:``), or an ``s3://`` URL
    without a bucket or a path in it."""
    if not isinstance(store, str):
        return
    m = _SCHEME.match(store)
    if m is None:
        return
    scheme = m.group(1).lower()
    if scheme not in SUPPORTED:
        raise StoreError(
            f"store '{store}': lifbatch cannot write to '{m.group(1)}://' URLs; give a path on a "
            "file system, or an S3-compatible object store as s3://BUCKET/PATH.zarr "
            "(docs/store-layout.md)"
        )
    rest = store[m.end() :]
    bucket, _, prefix = rest.partition("/")
    if not bucket or not prefix.strip("/"):
        raise StoreError(
            f"store '{store}' names no {'bucket' if not bucket else 'path in its bucket'}: give "
            "s3://BUCKET/PATH.zarr, e.g. s3://results/quickstart.zarr"
        )


def canonical(store) -> str:
    """A store's location as lifbatch records it: a path made absolute (symbolic links resolved),
    a URL without a trailing ``/``."""
    check_location(store)
    return store.rstrip("/") if is_url(store) else str(Path(store).resolve())


def of(store) -> "Storage":
    """The storage of a store's location (a path or an ``s3://`` URL); one object per location
    and process, so that an object store's client is made once."""
    check_location(store)
    key = str(store) if is_url(store) else os.fspath(store)
    found = _OPENED.get(key)
    if found is None:
        if is_url(key):
            from .s3 import S3Storage  # (deferred: obstore loads for an s3:// store only)

            found = S3Storage(key)
        else:
            found = PosixStorage(key)
        _OPENED[key] = found
    return found


_OPENED: dict[str, "Storage"] = {}
