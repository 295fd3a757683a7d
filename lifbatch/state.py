"""What is at a store's path, from its files alone: its state (:class:`lifbatch.plan.StoreState`),
its root attributes and workflow, a template or commit left unfinished, a damaged root."""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import storage
from .errors import StoreError
from .identity import input_files, simulation_identity, summary_settings, with_store_summaries
from .layout import CREATING, GROW, MARKERS, SUMMARIZE_COMMIT
from .lease import describe, lease_state, read_lease
from .markers import is_number, read_key, read_markers
from .plan import StoreState
from .units import excerpt
from .workflow import load_workflow


def unfinished_template(path: Path) -> str:
    """One line on a store whose template is not complete: being written, or interrupted."""

    held = read_lease(path)
    if held is not None and lease_state(held) == "live":  # (lease_state(None) is "none")
        return f"store '{path}' is being created by a run that is live ({describe(held)}): try again in a moment."
    return (
        f"store '{path}' was never finished: the run creating it stopped before its template was written, "
        "so it holds no results. Run the same `lifbatch run` command again to create it."
    )


def store_workflow(store: str | os.PathLike) -> dict | None:
    """The root attributes of an existing lifbatch store, or None when there is none.

    Read from the root group's ``zarr.json`` (what xarray would read as the
    Dataset's attributes), so that resuming needs no xarray.
    """
    st = storage.of(store)
    path = Path(store) if st.local else st.location
    if not st.root_exists():
        return None
    try:
        raw = st.read_bytes("zarr.json")
        if raw is None:
            raise FileNotFoundError("zarr.json")
        meta = json.loads(raw)
        attrs = meta["attributes"] if meta.get("node_type") == "group" else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if st.is_dir(MARKERS.as_posix()) and not st.exists((MARKERS / "zarr.json").as_posix()):
            raise StoreError(
                f"store '{path}' is being created (its template is written while the first tasks "
                "compute): try again in a moment."
            ) from None
        reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, FileNotFoundError) else "no zarr.json"
        raise StoreError(
            f"'{path}' exists but is not a readable Zarr store ({reason}). "
            "Choose another --store or pass --overwrite to replace it."
        ) from None
    if not isinstance(attrs, dict) or "fingerprint" not in attrs:
        raise StoreError(
            f"'{path}' is a Zarr store but not a lifbatch store. "
            "Choose another --store or pass --overwrite to replace it."
        )
    return dict(attrs)


def store_workflow_of(store):
    """The Workflow a store holds (its ``workflow`` attribute), points added included."""

    attrs = store_workflow(store)
    if attrs is None:
        raise StoreError(f"no store at '{store}'. Run `lifbatch run WORKFLOW --store {store}` first.")
    return with_store_summaries(load_workflow(json.loads(attrs["workflow"]), limits=False), attrs["canonical"])


#: written first when a run creates a store, removed once its template is complete:
#: a store with this file holds no data yet (its blocks wait for the template)
# the run's own files in _lifbatch/ (where Zarr and xarray do not look): its lease, the
# creation marker, the workers' visibility probe, and their temporary files
_RUN_FILES = ("lease.json", "creating.json", "visible-")


def _only_run_files(path: Path) -> bool:
    """True when ``path`` (a store's _lifbatch/) holds nothing but a run's own files
    (and an empty blocks/ directory)."""
    for entry in os.scandir(path):
        if entry.name.startswith(_RUN_FILES):
            continue
        if entry.name == "blocks" and entry.is_dir() and not any(os.scandir(entry.path)):
            continue
        return False
    return True


def inspect_store(store):
    """What is at ``store`` (a :class:`plan.StoreState`), from its files alone."""

    st = storage.of(store)
    path = Path(store) if st.local else st.location
    if not st.root_exists():
        if st.local:
            _refuse_nested(path)
        return StoreState(str(path), "absent")
    if not st.is_dir(""):
        return StoreState(str(path), "file")
    creating = read_key(store, CREATING)
    run_dir = MARKERS.parent.as_posix()
    names = sorted(
        name
        for name in st.top()
        if not (name == run_dir and st.is_dir(run_dir) and st.only_run_files(run_dir, _RUN_FILES))
    )
    if not names and creating is None:
        if st.local:
            _refuse_nested(path)
        return StoreState(str(path), "empty")
    root = read_key(store, "zarr.json")
    attrs = root.get("attributes") if isinstance(root, dict) else None
    if creating is not None:
        info = creating if isinstance(creating, dict) else {}
        return StoreState(
            str(path),
            "creating",
            fingerprint=info.get("fingerprint"),
            name=info.get("name"),
            simulation=info.get("simulation"),
        )
    if isinstance(attrs, dict) and "fingerprint" in attrs:
        if not st.exists((MARKERS / "zarr.json").as_posix()):
            return StoreState(str(path), "creating", fingerprint=attrs["fingerprint"], name=attrs.get("name"))
        if "chunks" not in attrs:
            return StoreState(str(path), "creating", fingerprint=attrs["fingerprint"], name=attrs.get("name"))
        status_meta = read_key(store, "status/zarr.json")
        shape = status_meta.get("shape") if isinstance(status_meta, dict) else None
        shape = tuple(shape) if isinstance(shape, list) and all(is_number(n, whole=True) for n in shape) else None
        problem = _root_problem(root, shape)
        if problem:
            raise StoreError(
                f"store '{path}' is damaged: in its zarr.json, {problem} (lifbatch never writes it so). "
                "Restore that file from a copy of the store, or move the store away and run its "
                "workflow again."
            )
        chunks = tuple(json.loads(attrs["chunks"]))
        markers = read_markers(store)  # (only those that fit the store's blocks)
        canonical = attrs.get("canonical")
        added = json.loads(canonical).get("sample_added") if canonical else None
        return StoreState(
            str(path),
            "store",
            fingerprint=attrs["fingerprint"],
            name=attrs.get("name"),
            added=None if added is None else json.dumps(added, sort_keys=True),
            source=attrs.get("workflow") if added is not None else None,
            shape=shape,
            workflow=attrs.get("workflow"),
            simulation=simulation_identity(canonical) if canonical else None,
            summaries=summary_settings(canonical) if canonical else None,
            files=tuple(input_files(canonical).items()),
            chunks=chunks,
            done=frozenset(int(m["block"]) for m in markers),
            failed=frozenset(int(m["block"]) for m in markers if m.get("failures")),
            contents=tuple(names),
        )
    if (
        root is None
        and set(names) <= {MARKERS.parent.name}
        and st.is_dir(MARKERS.as_posix())
        and not st.exists((MARKERS.parent / "zarr.json").as_posix())
    ):
        return StoreState(str(path), "creating")  # stopped before its template began
    if root is not None:
        return StoreState(str(path), "zarr", contents=tuple(names))
    return StoreState(str(path), "foreign", contents=tuple(names))


def _refuse_nested(path: Path) -> None:
    """StoreError when ``path`` (where a store would be made) is inside a lifbatch store: a
    directory holding ``_lifbatch/``. A store made in another store's ``_lifbatch/blocks/``
    was read as one of its block markers, and one made anywhere else in it is part of
    its Zarr hierarchy."""
    resolved = path.resolve()
    for parent in resolved.parents:
        if (parent / MARKERS.parent).is_dir():
            raise StoreError(
                f"--store '{path}' is inside the lifbatch store '{parent}': a store within another "
                f"one would be taken for a part of it. Choose a path outside '{parent}'."
            )


def refuse_dangling_link(store) -> None:
    """StoreError when ``store`` (a store's path as given) is, or goes through, a symbolic link to
    nothing: making the store there would make the whole path the link points to."""
    if storage.is_url(store):
        return  # (an object store has no links)
    path = Path(store)
    for p in (path, *path.parents):
        if p.is_symlink() and not p.exists():
            raise StoreError(
                f"--store '{path}' goes through the symbolic link '{p}' to '{os.readlink(p)}', which "
                "does not exist; lifbatch does not make a link's target. Create the target directory "
                "first, or give another --store."
            )


def _root_problem(root, shape: tuple[int, ...] | None) -> str | None:
    """What is wrong with a lifbatch store's root metadata (``zarr.json``, parsed; ``shape`` of
    its ``status`` array), as one phrase naming the attribute and its value; None if nothing.
    Checked: what lifbatch reads of it (the identity, the blocks, the workflow, the summary
    settings, the run's sizes), so that a damaged store is refused in one line."""

    if root.get("node_type") != "group" or root.get("zarr_format") != 3:
        return (
            f"the root is not a Zarr v3 group (node_type {excerpt(repr(root.get('node_type')), 40)}, "
            f"zarr_format {excerpt(repr(root.get('zarr_format')), 40)})"
        )
    attrs = root["attributes"]

    def bad(name, what):
        return f"the attribute `{name}` is {excerpt(repr(attrs.get(name)), 60)}, not {what}"

    def json_of(name, kind):
        try:
            value = json.loads(attrs[name])
        except (TypeError, ValueError):
            return None
        return value if isinstance(value, kind) else None

    if not isinstance(attrs["fingerprint"], str):
        return bad("fingerprint", "text")
    for name in ("name", "workflow", "canonical"):
        if name in attrs and not isinstance(attrs[name], str):
            return bad(name, "text")
    chunks = json_of("chunks", list)
    if (
        chunks is None
        or not all(is_number(c, whole=True) and c >= 1 for c in chunks)
        or (shape is not None and len(chunks) != len(shape))
    ):
        return bad(
            "chunks",
            f"a JSON list of {len(shape) if shape is not None else 'the'} block sizes (whole "
            "numbers >= 1, one per axis)",
        )
    if "workflow" in attrs and json_of("workflow", dict) is None:
        return bad("workflow", "the workflow as a JSON object")
    if "canonical" in attrs:
        canonical = json_of("canonical", dict)
        if canonical is None:
            return bad("canonical", "the canonical workflow as a JSON object")
        summaries = canonical.get("summaries", {})
        numbers = ("warmup", "moments_every", "max_lag")
        if (
            not isinstance(summaries, dict)
            or not all(is_number(summaries.get(k, 0)) for k in numbers)
            or not (summaries.get("moments_warmup") is None or is_number(summaries["moments_warmup"]))
            or not (
                isinstance(summaries.get("isi_edges", []), list)
                and all(is_number(e) for e in summaries.get("isi_edges", []))
            )
        ):
            return bad("canonical", "a canonical workflow whose `summaries` are numbers")
        drives = canonical.get("drives", [])
        if not isinstance(drives, list) or not all(
            isinstance(d, dict) and isinstance(d.get("name", ""), str) and isinstance(d.get("file_sha256") or "", str)
            for d in drives
        ):
            return bad("canonical", "a canonical workflow whose `drives` are mappings")
    for name, whole in (("dt", False), ("duration", False), ("n_steps", True), ("trials", True)):
        if name in attrs and not is_number(attrs[name], whole=whole):
            return bad(name, "a whole number" if whole else "a number")
    return None


def unfinished_commit(store) -> str | None:
    """One line on a commit that was made but not yet applied (a ``lifbatch summarize``
    swap, or points added by ``refine`` / ``fit``), or None. Readers do not finish it
    (only a command holding the store's lease does, :func:`lifbatch.control.recover`):
    the arrays and attributes are then partly of before, partly of after."""

    st = storage.of(store)
    path = Path(store) if st.local else st.location
    what = (
        "a `lifbatch summarize`"
        if st.exists(SUMMARIZE_COMMIT.as_posix())
        else "adding points (`lifbatch refine` or `fit`)"
        if st.exists(GROW.as_posix())
        else None
    )
    if what is None:
        return None
    held = read_lease(path)
    if held is not None and lease_state(held) == "live":  # (lease_state(None) is "none")
        return f"store '{path}' is being changed by {what} that is live ({describe(held)}): try again in a moment."
    return (
        f"store '{path}': {what} was interrupted after its commit, so its arrays are partly old and partly "
        f"new; `lifbatch summarize {path}` (or `lifbatch run` of its workflow) finishes it, then read it "
        "again."
    )
