"""The interface every store's storage implements (:class:`Storage`), and the errors of its
conditional writes and of a storage that does not answer. Its implementations import it from
here, and :mod:`lifbatch.storage` picks one per location."""

from __future__ import annotations

import builtins

from ..errors import RunError

__all__ = ["Storage", "Conflict", "Unavailable"]


class Unavailable(RunError):
    """The store's storage did not answer a request (an object store down, a network failure):
    a runtime failure, and the store stays resumable."""


class Conflict(Exception):
    """A conditional write lost: the object exists (create), or changed since it was read (replace)."""


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
