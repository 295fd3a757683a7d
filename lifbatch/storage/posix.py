"""A store in a directory of a POSIX file system (local disk, NFS, Lustre, a shared volume):
what lifbatch has always done there. A whole file is written beside its target and renamed
over it (atomic.write_bytes_atomic); a conditional create is ``O_CREAT | O_EXCL``; a take-over
moves the file aside under a unique name (a rename, atomic) and creates anew with
``O_EXCL``, so that of two takers exactly one wins."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ..atomic import write_text_atomic
from .base import Conflict, Storage

__all__ = ["PosixStorage"]


class PosixStorage(Storage):
    local = True

    def __init__(self, location: str):
        self.location = location
        self.root = Path(location)

    def path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def read_bytes(self, key):
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def read_versioned(self, key):
        data = self.read_bytes(key)
        return None if data is None else (data, data)  # (the bytes are the version: a rename-aside compares them)

    def write_bytes(self, key, data):
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, data.decode())

    def create(self, key, data):
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raise Conflict(key) from None
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return data

    def replace(self, key, data, version):
        """The holder's renewal: the file still holds ``version`` (read, then renamed over). Only
        the holder writes a live lease, and a taker waits ``timeout + margin``, so the read and
        the rename need no lock (docs/store-layout.md, "What each guarantee rests on")."""
        if self.read_bytes(key) != version:
            raise Conflict(key)
        self.write_bytes(key, data)
        return data

    def take_over(self, key, data, version):
        """Replace a stale object that still holds ``version``: moved aside (a rename, atomic:
        of two takers one moves it), then created anew with ``O_EXCL``."""
        path = self.path(key)
        aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            raise Conflict(key) from None
        try:
            moved = aside.read_bytes()
        except OSError:
            moved = None
        if moved is not None and version is not None and moved != version:
            # another command took it over in between: give its lease back
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
            aside.unlink(missing_ok=True)
            raise Conflict(key)
        aside.unlink(missing_ok=True)
        return self.create(key, data)

    def delete(self, key):
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass

    def delete_prefix(self, prefix):
        if prefix.strip("/"):
            shutil.rmtree(self.path(prefix.rstrip("/")))  # (a part of the store: its failure is said)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def exists(self, key):
        return self.path(key).exists()

    def identity(self, key):
        try:
            st = os.stat(self.path(key))
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns

    def list(self, prefix):
        base = self.path(prefix.rstrip("/"))
        if not base.is_dir():
            return []
        return [p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file()]

    def top(self):
        return sorted(e.name for e in os.scandir(self.root)) if self.root.is_dir() else []

    def root_exists(self):
        return self.root.exists()

    def is_dir(self, key):
        return self.path(key).is_dir()

    def make_dir(self, key):
        self.path(key).mkdir(parents=True, exist_ok=True)

    def children(self, prefix, name):
        base = self.path(prefix)
        if not base.is_dir():
            return []
        return [f"{prefix}/{p.parent.name}/{name}" for p in base.glob(f"*/{name}")]

    def only_run_files(self, control, names):
        for entry in os.scandir(self.path(control)):
            if entry.name.startswith(names):
                continue
            if entry.name == "blocks" and entry.is_dir() and not any(os.scandir(entry.path)):
                continue
            return False
        return True

    def clear(self, keep):
        control, _, lease = keep.partition("/")
        for entry in os.scandir(self.root):
            if entry.name == control:
                for sub in os.scandir(entry.path):
                    if sub.name.startswith(lease):
                        continue
                    shutil.rmtree(sub.path) if sub.is_dir(follow_symlinks=False) else os.unlink(sub.path)
                (Path(entry.path) / "zarr.json").unlink(missing_ok=True)
            elif entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)

    def zarr_store(self, *, read_only=False):
        return str(self.root)
