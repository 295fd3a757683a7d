"""Exceptions raised by lifbatch.

They subclass built-ins (as ``zarr.errors`` does) and are picklable, because
they travel back from Dask workers.
"""

from __future__ import annotations

__all__ = [
    "LifbatchError",
    "WorkflowError",
    "StoreError",
    "StoreBusyError",
    "RunError",
    "LeaseLostError",
    "MissingExtraError",
    "missing_extra",
    "LifbatchWarning",
    "os_reason",
]


class LifbatchError(Exception):
    """Base class of lifbatch's own errors."""


class WorkflowError(LifbatchError, ValueError):
    """An invalid workflow, override or option.

    ``field`` names the offending workflow key (dot path), ``value`` the value
    as written. The message is one line: what is wrong, the value, the fix.
    """

    def __init__(self, message: str, field: str | None = None, value: object = None):
        super().__init__(message)
        self.field = field
        self.value = value

    def __reduce__(self):
        return (type(self), (self.args[0], self.field, self.value))


class StoreError(LifbatchError, ValueError):
    """A store that cannot be used as asked (other workflow, not a lifbatch store...)."""


class StoreBusyError(StoreError):
    """The store is leased to another live run (``lifbatch status`` follows it)."""


class RunError(LifbatchError, RuntimeError):
    """A runtime failure of a sweep (scheduler lost, no workers left, disk full, read-only
    store): one line naming what failed and what to do; the store is left resumable.
    The command line exits with 1 (invalid input is 2)."""


class LeaseLostError(RunError):
    """This process no longer holds the store's lease (it was stopped for longer than
    ``lifbatch.lease.timeout``, or another run took the lease over): it writes nothing more.
    What it committed before stays; the command that now holds the store goes on."""


class MissingExtraError(LifbatchError, ImportError):
    """A command needs an optional dependency this environment lacks; the message names the
    extra of lifbatch that installs it (``review``, ``fit``, ``cluster``). One line, exit 2."""


def missing_extra(what: str, extra: str, packages: str) -> MissingExtraError:
    """The error for ``what`` (a command or module) needing ``packages`` of extra ``extra``."""
    return MissingExtraError(
        f"{what} needs {packages}, which this environment lacks: install lifbatch's "
        f"`{extra}` extra: pip install 'lifbatch[{extra}]' (from a clone: "
        f"pip install -e '.[{extra}]')"
    )


class LifbatchWarning(UserWarning):
    """Warnings from lifbatch itself (the test suite turns them into errors)."""


def os_reason(exc: OSError) -> str:
    """Why an OSError stopped a write, in a few words for a one-line message ("the disk is full")."""
    import errno

    names = {
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EDQUOT: "the disk quota is exceeded",
    }
    return names.get(exc.errno or 0, f"{type(exc).__name__}: {exc.strerror or exc}")
