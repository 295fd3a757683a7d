"""Summarize's swap: finishing or discarding an interrupted ``lifbatch summarize``.

``lifbatch summarize`` (:mod:`lifbatch.summarize`) writes the new summary arrays beside the
old ones (``_lifbatch/summarize/<token>/new``), then commits them with one file written
atomically, ``_lifbatch/summarize/commit.json`` (the work directory, the arrays to swap in
and the new root attributes), then swaps. :func:`recover` finishes a swap that has a commit
file and discards one that has none; the command calls it after its commit, and
:func:`lifbatch.control.recover` calls it for the next command that holds the store's lease.
Here, below both, so that neither imports the other.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from . import storage
from .atomic import write_json_atomic
from .layout import SUMMARIZE, SUMMARIZE_COMMIT
from .pause import pause

__all__ = ["recover"]


def recover(store, fence) -> str | None:
    """Finish (a commit file exists) or discard (none does) an interrupted summarize; what was
    done. Only under the store's lease: ``fence`` is checked before every write."""

    st = storage.of(store)
    if not st.local:
        return _recover_objects(st, fence)
    path = Path(store)
    work = path / SUMMARIZE
    if not work.is_dir():
        return None
    try:
        plan = json.loads((path / SUMMARIZE_COMMIT).read_text())
        if not isinstance(plan, dict) or not isinstance(plan.get("arrays"), list):
            raise ValueError("not a commit")
    except FileNotFoundError:
        fence.check()
        shutil.rmtree(work, ignore_errors=True)  # never committed: the old summaries stand
        return "discarded an unfinished summarize (the old summaries stand)"
    except ValueError:  # a commit file is written atomically: unreadable means damaged
        fence.check()
        shutil.rmtree(work, ignore_errors=True)
        return "discarded an unreadable summarize commit (the old summaries stand)"
    # (a commit of before work directories had tokens names new/ and old/ directly under summarize/)
    own = work / plan["work"] if isinstance(plan.get("work"), str) and plan["work"].isalnum() else work
    new, old = own / "new", own / "old"
    old.mkdir(parents=True, exist_ok=True)
    for name in plan["arrays"]:
        if (new / name).is_dir():  # not swapped yet (idempotent: a swapped one is gone from new/)
            fence.check()
            if (path / name).exists():
                if (old / name).exists():
                    shutil.rmtree(old / name)
                os.replace(path / name, old / name)
            os.replace(new / name, path / name)
            pause("summarize-swapped")  # (tests stop here: some arrays swapped, others not)
    root = path / "zarr.json"
    meta = json.loads(root.read_text())
    meta["attributes"] = plan["attributes"]
    fence.check()
    write_json_atomic(root, meta)
    shutil.rmtree(work, ignore_errors=True)
    return "finished an interrupted summarize (the new summaries stand)"


def _recover_objects(st, fence) -> str | None:
    """:func:`recover` on an object store, which has no rename: the commit object names the
    work prefix; each array not yet swapped (its objects still under ``<work>/new/<name>/``)
    is copied into place, the old array's objects it has no more are deleted, then its new
    objects; then the root attributes; then the work prefix. Each step is idempotent, so a
    command killed during it is finished by the next one holding the lease."""
    work = SUMMARIZE.as_posix()
    if not st.is_dir(work):
        return None
    data = st.read_bytes(SUMMARIZE_COMMIT.as_posix())
    try:
        if data is None:
            fence.check()
            st.delete_prefix(work + "/")  # never committed: the old summaries stand
            return "discarded an unfinished summarize (the old summaries stand)"
        plan = json.loads(data)
        if (
            not isinstance(plan, dict)
            or not isinstance(plan.get("arrays"), list)
            or not (isinstance(plan.get("work"), str) and plan["work"].isalnum())
        ):
            raise ValueError("not a commit")
    except ValueError:  # (one PUT: an object is whole, so unreadable means damaged)
        fence.check()
        st.delete_prefix(work + "/")
        return "discarded an unreadable summarize commit (the old summaries stand)"
    new = f"{work}/{plan['work']}/new"
    for name in plan["arrays"]:
        head = f"{new}/{name}/zarr.json"
        if not st.exists(head):  # swapped already (its metadata is the first staged object deleted)
            continue
        staged = st.list(f"{new}/{name}/")  # (complete while its metadata is there)
        fence.check()
        keys = [k[len(new) + 1 :] for k in staged]
        for src, dst in zip(staged, keys):
            st.copy(src, dst)
        stale = sorted(set(st.list(f"{name}/")) - set(keys))
        fence.check()
        for key in stale:  # (chunks of a grid the new array has no more, e.g. fewer ISI bins)
            st.delete(key)
        st.delete(head)
        for key in staged:
            if key != head:
                st.delete(key)
        pause("summarize-swapped")  # (tests stop here: some arrays swapped, others not)
    meta = json.loads(st.read_bytes("zarr.json"))
    meta["attributes"] = plan["attributes"]
    fence.check()
    st.write_bytes("zarr.json", json.dumps(meta).encode())
    st.delete_prefix(work + "/")
    return "finished an interrupted summarize (the new summaries stand)"
