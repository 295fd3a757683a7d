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

import builtins
import os
import re

from ..errors import RunError, StoreError

__all__ = ["is_url", "check_location", "canonical", "of", "Storage", "Conflict", "Unavailable"]

#: ``scheme://`` at the start of a store's location (a Windows drive ``C:\\`` has no ``//``)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
SUPPORTED = ("s3",)


class Unavailable(RunError):
    """The store's storage did not answer a request (an object store down, a network failure):
    a runtime failure, and the store stays resumable."""


class Conflict(Exception):
    """A conditional write lost: the object exists (create), or changed since it was read (replace)."""


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
    from pathlib import Path

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
            from .s3 import S3Storage

            found = S3Storage(key)
        else:
            from .posix import PosixStorage

            found = PosixStorage(key)
        _OPENED[key] = found
    return found


_OPENED: dict[str, "Storage"] = {}


class Storage:
    """The operations a store needs, by key (a ``/``-separated path inside the store, e.g.
    ``_lifbatch/lease.json``). ``version`` values are opaque: what :meth:`read_versioned`
    returns and :meth:`replace` compares."""

    #: the store's location as the user gave it (a path or a URL), for messages
    location: str
    #: False for an object store: no directories, no inode, no process on this host to ask
    local: bool = True

    def read_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when it is absent."""
        raise NotImplementedError

    def read_versioned(self, key: str) -> tuple[bytes, object] | None:
        """(bytes, version) of the object, or None when it is absent."""
        raise NotImplementedError

    def write_bytes(self, key: str, data: bytes) -> None:
        """Replace (or create) the object whole: readers see the old bytes or the new."""
        raise NotImplementedError

    def create(self, key: str, data: bytes) -> object:
        """Create the object only if it is absent (its version), else raise :class:`Conflict`."""
        raise NotImplementedError

    def replace(self, key: str, data: bytes, version) -> object:
        """Replace the object only if it is still at ``version`` (its new version), else raise
        :class:`Conflict`."""
        raise NotImplementedError

    def take_over(self, key: str, data: bytes, version) -> object:
        """Replace a stale object that still holds ``version`` (its new version), else raise
        :class:`Conflict`: of two takers exactly one wins."""
        raise NotImplementedError

    def copy(self, src: str, dst: str) -> None:
        """Copy the object ``src`` over ``dst`` (on an object store, by the server)."""
        data = self.read_bytes(src)
        if data is None:
            raise FileNotFoundError(src)
        self.write_bytes(dst, data)

    def commit(self, key: str, data: bytes) -> None:
        """Write a commit object whole (summarize's ``commit.json``): a temporary file renamed
        over it on disk; a conditional create (``If-None-Match: *``) on an object store."""
        self.write_bytes(key, data)

    def delete(self, key: str) -> None:
        """Remove the object (nothing when it is absent)."""
        raise NotImplementedError

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under ``prefix`` (a ``/``-ending key), or the whole store for ''."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def identity(self, key: str):
        """What changes when the object is replaced (None when absent)."""
        raise NotImplementedError

    def read_many(self, keys: list[str]) -> list[bytes | None]:
        """:meth:`read_bytes` of each key (an object store asks for many at once); an unreadable
        one (an OSError) reads as None."""
        out = []
        for key in keys:
            try:
                out.append(self.read_bytes(key))
            except OSError:
                out.append(None)
        return out

    def identities(self, keys: list[str]) -> list:
        """:meth:`identity` of each key (an object store asks for them all at once)."""
        return [self.identity(key) for key in keys]

    def list(self, prefix: str) -> list[str]:
        """The keys under ``prefix`` (a ``/``-ending key), relative to the store."""
        raise NotImplementedError

    def top(self) -> builtins.list[str]:
        """The names directly in the store (its root's objects and "directories")."""
        raise NotImplementedError

    def failure(self, exc: Exception, what: str) -> Exception | None:
        """The one-line error to raise for ``exc``, raised by the storage's client inside Zarr while
        doing ``what``; None when ``exc`` is not the storage's (a file system's OSError stays one)."""
        return None

    def root_exists(self) -> bool:
        """Whether anything is at the store's location."""
        raise NotImplementedError

    def is_dir(self, key: str) -> bool:
        """Whether ``key`` is a "directory": on an object store, a prefix with objects under it."""
        raise NotImplementedError

    def make_dir(self, key: str) -> None:
        """Make the directory ``key`` (nothing on an object store, which has none)."""
        raise NotImplementedError

    def children(self, prefix: str, name: str) -> builtins.list[str]:
        """The keys ``<prefix>/<one level>/<name>`` (the block markers' ``blocks/*/zarr.json``)."""
        raise NotImplementedError

    def only_run_files(self, control: str, names: tuple[str, ...]) -> bool:
        """Whether the control group ``control`` holds nothing but files whose names start with
        ``names`` (a run's own: its lease, its creation marker, the workers' probe), and an
        empty ``blocks`` group."""
        raise NotImplementedError

    def clear(self, keep: str) -> None:
        """Remove everything in the store but the objects whose key starts with ``keep``."""
        raise NotImplementedError

    def zarr_store(self, *, read_only: bool = False):
        """What ``zarr.open_group(store=...)`` and ``xarray.open_zarr`` take for this store."""
        raise NotImplementedError
