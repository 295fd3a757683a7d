"""The Zarr store of a sweep: template written once, one region write per block.

Layout: docs/store-layout.md. Besides the Zarr arrays, the store directory
holds ``_lifbatch/blocks/<n>/zarr.json``, one marker per finished block: an
empty Zarr group whose attributes hold the block's failures and timing, written
atomically (rename) after the block's region write, so the store stays a valid
Zarr hierarchy. A block is done when its marker exists; ``status`` in the arrays
says the same per point and is readable while the sweep runs.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import __version__, storage
from .atomic import write_json_atomic
from .errors import StoreError
from .grid import Blocking
from .identity import input_files, simulation_identity, summary_settings, with_store_summaries, with_summaries
from .layout import VARIABLES, coords
from .layout import CREATING, MARKERS, STATUS_DONE, STATUS_FAILED, STATUS_PENDING, variable_specs
from .layout import sizes as sizes_of

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["open_results", "create_store", "write_block", "done_blocks", "read_markers", "store_workflow",
           "inspect_store", "begin_creation", "clear_store", "verify_store", "VerifyReport", "restore_arrays",
           "marker_status", "write_group_at", "compressors_for",
           "simulation_identity", "summary_settings", "with_summaries",
           "STATUS_PENDING", "STATUS_DONE", "STATUS_FAILED"]



def _package_versions() -> dict:
    from .provenance import versions

    return versions()


def root_attrs(wf, provenance: dict | None = None) -> dict:
    """The store's root attributes; ``provenance`` (:func:`lifbatch.provenance.collect`) of the
    run that creates it, recorded as ``provenance`` and as the first of ``runs``."""
    extra = {"provenance": json.dumps(provenance), "runs": json.dumps([provenance])} if provenance else {}
    return {**extra,
        "name": wf.name, "description": wf.description, "workflow": wf.source, "canonical": wf.canonical,
        "fingerprint": wf.fingerprint, "simulation": simulation_identity(wf.canonical),
        "lifbatch_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dt": wf.dt, "duration": wf.duration, "n_steps": wf.n_steps, "method": wf.method, "seed": wf.seed,
        "trials": wf.trials, "versions": json.dumps(_package_versions()),
        "reproduce": f"lifbatch run <workflow> with the `workflow` attribute saved as YAML (fingerprint {wf.fingerprint})",
    }


def compressors_for(dtype: np.dtype) -> list:
    """Codecs of a data variable (bytes to bytes), chosen for the sweep tasks' write path.

    Measured on a block of 125 points (README, Performance): integers and packed
    spikes, mostly zeros, with Zstandard level 1 (5x faster than zarr's default
    level, and a better ratio on spike rasters); floats, mostly noise, with Blosc
    LZ4 and byte shuffle (5x faster than Zstandard, with a slightly better ratio).
    Then a CRC-32C of the compressed chunk (Zarr 3's ``crc32c`` codec), so that reading a
    chunk whose bytes changed on disk fails, instead of decoding to other numbers
    (``status --verify`` finds it; its cost: README, Performance). Stores, and
    ``lifbatch summarize``'s arrays, written with these codecs are read back with them.
    """
    from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

    if np.dtype(dtype).kind == "f":
        return [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), Crc32cCodec()]
    return [ZstdCodec(level=1), Crc32cCodec()]


#: ``_FillValue`` of a float coordinate, as xarray writes it (NaN, base64 of its 8 bytes)
_NAN_FILL = "AAAAAAAA+H8="


def create_store(wf, store: str | os.PathLike, blocking: Blocking, *, pause=lambda phase: None,
                 provenance: dict | None = None, fence=None) -> None:
    """Write the template of a new store: coordinates, attributes, and empty arrays.

    Written by Zarr directly, all arrays at once, exactly as ``xarray.Dataset.to_zarr``
    would write the coordinates (their attributes with xarray's ``_FillValue``, the
    non-index coordinates named in the root's ``coordinates`` attribute; tested
    against xarray's own template), so that a sweep needs no xarray. The data
    variables get the block chunks along the sweep axes. Unwritten chunks read as
    the fill value: NaN for floats, 0 for integers (integers get no ``_FillValue``
    attribute, so that xarray does not mask their zeros into NaN floats), ``status``
    0 = pending.

    ``fence`` (:class:`lifbatch.lease.Fence`, checked before the root group and before the
    marker group, which completes the template) gives the store its ``generation``.
    """
    import zarr

    crd = coords(wf)
    generation = getattr(fence, "generation", None)
    attrs = {**root_attrs(wf, provenance), "chunks": json.dumps(list(blocking.chunks)),
             **({"generation": generation} if generation else {})}
    if fence is not None:
        fence.check()
    extra = sorted(name for name, (dim, *_) in crd.items() if name != dim)
    if extra:
        attrs["coordinates"] = " ".join(extra)
    # mode "a": the directory holds the run's lease and creation marker, which "w" would delete
    st = storage.of(store)
    zarr.open_group(store=st.zarr_store(), mode="a", zarr_format=3, attributes=attrs)
    pause("template-begun")  # (tests stop a run here: a root group without its arrays)
    sizes = sizes_of(wf)

    async def write_coord(group, name, spec):
        values = np.asarray(spec[1])
        array = await group.create_array(name, **coordinate_array(spec))
        await array.setitem(Ellipsis, values)

    def create(group, name, spec):
        if name in crd:
            return write_coord(group, name, spec)
        return group.create_array(name, **variable_array(wf, blocking.chunks, spec, sizes=sizes))

    _gather_on_group(store, create, {**crd, **variable_specs(wf)})
    if fence is not None:
        fence.check()
    write_group_at(st, MARKERS.parent, {})
    write_group_at(st, MARKERS, {"generation": generation} if generation else {})
    st.delete(CREATING.as_posix())  # complete: a store from now on


def variable_array(wf, chunks: tuple[int, ...], spec: tuple, *, sizes: dict | None = None) -> dict:
    """``create_array`` arguments of a data variable (``(dims, dtype, fill, attrs)`` of
    layout.variable_specs): the block ``chunks`` along the sweep axes, whole along the rest."""
    dims, dtype, fill, attrs = spec
    sizes = sizes or sizes_of(wf)
    tail = tuple(sizes[d] for d in dims)
    return dict(shape=tuple(wf.shape) + tail, chunks=tuple(chunks) + tail, dtype=dtype, fill_value=fill,
                compressors=compressors_for(dtype), attributes=dict(attrs), dimension_names=tuple(wf.axis_names) + dims)


def coordinate_array(spec: tuple) -> dict:
    """``create_array`` arguments of a coordinate (``(dim, values, attrs)`` of layout.coords) as
    xarray writes it: one chunk, its attributes with xarray's ``_FillValue`` for floats."""
    from zarr.codecs import ZstdCodec

    dim, values, *rest = spec
    values = np.asarray(values)
    attributes = dict(rest[0]) if rest else {}
    if values.dtype.kind == "f":
        attributes["_FillValue"] = _NAN_FILL
    fill = np.nan if values.dtype.kind == "f" else "" if values.dtype.kind in "TO" else 0  # (strings: labels)
    return dict(shape=values.shape, chunks=values.shape or (1,), dtype=values.dtype, fill_value=fill,
                compressors=[ZstdCodec(level=0, checksum=False)], attributes=attributes, dimension_names=(dim,))


def _write_group(path: Path, attributes: dict) -> None:
    """Write a Zarr v3 group's metadata atomically (write a temporary file, rename)."""
    path.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path / "zarr.json", {"zarr_format": 3, "node_type": "group", "attributes": attributes})


def write_group_at(st, key, attributes: dict) -> None:
    """:func:`_write_group` of the group ``key`` in the store's storage (one whole object)."""
    st.write_bytes(f"{key.as_posix() if hasattr(key, 'as_posix') else key}/zarr.json",
                   json.dumps({"zarr_format": 3, "node_type": "group", "attributes": attributes}).encode())


def _read_key(store, key):
    """The JSON object at ``key`` of the store (None when absent, False when unreadable)."""
    try:
        data = storage.of(store).read_bytes(key.as_posix() if hasattr(key, "as_posix") else key)
    except OSError:
        return False
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return False


def _open_zarr(path: Path, unreadable: str, **kwargs) -> "xr.Dataset":
    """``xarray.open_zarr``, its failures as one-line StoreErrors.

    ``unreadable`` is the message (``{path}``, ``{type}`` and ``{exc}`` filled in) for a path
    that is not a Zarr store; a store whose template ``run_sweep`` is still
    writing (while the first tasks compute) says so instead.
    """
    import xarray as xr

    state = inspect_store(path)
    if state.kind in ("creating", "empty"):
        raise StoreError(_unfinished(path))
    try:
        return xr.open_zarr(storage.of(path).zarr_store(read_only=True), consolidated=False, **kwargs)
    except Exception as exc:
        raise StoreError(unreadable.format(path=path, type=type(exc).__name__, exc=exc)) from None


def _unfinished(path: Path) -> str:
    """One line on a store whose template is not complete: being written, or interrupted."""
    from .lease import describe, lease_state, read_lease

    held = read_lease(path)
    if lease_state(held) == "live":
        return (f"store '{path}' is being created by a run that is live ({describe(held)}): "
                "try again in a moment.")
    return (f"store '{path}' was never finished: the run creating it stopped before its template was written, "
            "so it holds no results. Run the same `lifbatch run` command again to create it.")


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
            raise StoreError(f"store '{path}' is being created (its template is written while the first tasks "
                             "compute): try again in a moment.") from None
        reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, FileNotFoundError) else "no zarr.json"
        raise StoreError(f"'{path}' exists but is not a readable Zarr store ({reason}). "
                         "Choose another --store or pass --overwrite to replace it.") from None
    if not isinstance(attrs, dict) or "fingerprint" not in attrs:
        raise StoreError(f"'{path}' is a Zarr store but not a lifbatch store. "
                         "Choose another --store or pass --overwrite to replace it.")
    return dict(attrs)


def store_workflow_of(store):
    """The Workflow a store holds (its ``workflow`` attribute), points added included."""
    from .workflow import load_workflow  # (not at import: `lifbatch --help` loads no workflow machinery)

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


def begin_creation(wf, store) -> None:
    """Mark ``store`` (an empty or replaced directory) as being created for ``wf``."""
    storage.of(store).write_bytes(CREATING.as_posix(), json.dumps(
        {"fingerprint": wf.fingerprint, "simulation": simulation_identity(wf.canonical), "name": wf.name,
         "started": time.time()}).encode())


_write_json_atomic = write_json_atomic  # (the name the modules that grow and summarize a store use)


def clear_store(store) -> None:
    """Remove everything at a store's path but the run's own lease (the caller holds it)."""
    from .layout import LEASE

    storage.of(store).clear(LEASE.as_posix())


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return False  # there, but unreadable


def inspect_store(store):
    """What is at ``store`` (a :class:`plan.StoreState`), from its files alone."""
    from .plan import StoreState

    st = storage.of(store)
    path = Path(store) if st.local else st.location
    if not st.root_exists():
        if st.local:
            _refuse_nested(path)
        return StoreState(str(path), "absent")
    if not st.is_dir(""):
        return StoreState(str(path), "file")
    creating = _read_key(store, CREATING)
    run_dir = MARKERS.parent.as_posix()
    names = sorted(name for name in st.top()
                   if not (name == run_dir and st.is_dir(run_dir) and st.only_run_files(run_dir, _RUN_FILES)))
    if not names and creating is None:
        if st.local:
            _refuse_nested(path)
        return StoreState(str(path), "empty")
    root = _read_key(store, "zarr.json")
    attrs = root.get("attributes") if isinstance(root, dict) else None
    if creating is not None:
        info = creating if isinstance(creating, dict) else {}
        return StoreState(str(path), "creating", fingerprint=info.get("fingerprint"), name=info.get("name"),
                          simulation=info.get("simulation"))
    if isinstance(attrs, dict) and "fingerprint" in attrs:
        if not st.exists((MARKERS / "zarr.json").as_posix()):
            return StoreState(str(path), "creating", fingerprint=attrs["fingerprint"], name=attrs.get("name"))
        if "chunks" not in attrs:
            return StoreState(str(path), "creating", fingerprint=attrs["fingerprint"], name=attrs.get("name"))
        status_meta = _read_key(store, "status/zarr.json")
        shape = status_meta.get("shape") if isinstance(status_meta, dict) else None
        shape = tuple(shape) if isinstance(shape, list) and all(_number(n, whole=True) for n in shape) else None
        problem = _root_problem(root, shape)
        if problem:
            raise StoreError(f"store '{path}' is damaged: in its zarr.json, {problem} (lifbatch never writes it so). "
                             "Restore that file from a copy of the store, or move the store away and run its "
                             "workflow again.")
        chunks = tuple(json.loads(attrs["chunks"]))
        markers = read_markers(store)  # (only those that fit the store's blocks)
        canonical = attrs.get("canonical")
        added = json.loads(canonical).get("sample_added") if canonical else None
        return StoreState(str(path), "store", fingerprint=attrs["fingerprint"], name=attrs.get("name"),
                          added=None if added is None else json.dumps(added, sort_keys=True),
                          source=attrs.get("workflow") if added is not None else None, shape=shape,
                          workflow=attrs.get("workflow"),
                          simulation=simulation_identity(canonical) if canonical else None,
                          summaries=summary_settings(canonical) if canonical else None,
                          files=tuple(input_files(canonical).items()), chunks=chunks,
                          done=frozenset(int(m["block"]) for m in markers),
                          failed=frozenset(int(m["block"]) for m in markers if m.get("failures")),
                          contents=tuple(names))
    if root is None and set(names) <= {MARKERS.parent.name} and st.is_dir(MARKERS.as_posix()) and \
            not st.exists((MARKERS.parent / "zarr.json").as_posix()):
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
            raise StoreError(f"--store '{path}' is inside the lifbatch store '{parent}': a store within another "
                             f"one would be taken for a part of it. Choose a path outside '{parent}'.")


def refuse_dangling_link(store) -> None:
    """StoreError when ``store`` (a store's path as given) is, or goes through, a symbolic link to
    nothing: making the store there would make the whole path the link points to."""
    if storage.is_url(store):
        return  # (an object store has no links)
    path = Path(store)
    for p in (path, *path.parents):
        if p.is_symlink() and not p.exists():
            raise StoreError(f"--store '{path}' goes through the symbolic link '{p}' to '{os.readlink(p)}', which "
                             "does not exist; lifbatch does not make a link's target. Create the target directory "
                             "first, or give another --store.")


def _root_problem(root, shape: tuple[int, ...] | None) -> str | None:
    """What is wrong with a lifbatch store's root metadata (``zarr.json``, parsed; ``shape`` of
    its ``status`` array), as one phrase naming the attribute and its value; None if nothing.
    Checked: what lifbatch reads of it (the identity, the blocks, the workflow, the summary
    settings, the run's sizes), so that a damaged store is refused in one line."""
    from .units import excerpt

    if root.get("node_type") != "group" or root.get("zarr_format") != 3:
        return (f"the root is not a Zarr v3 group (node_type {excerpt(repr(root.get('node_type')), 40)}, "
                f"zarr_format {excerpt(repr(root.get('zarr_format')), 40)})")
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
    if chunks is None or not all(_number(c, whole=True) and c >= 1 for c in chunks) or \
            (shape is not None and len(chunks) != len(shape)):
        return bad("chunks", f"a JSON list of {len(shape) if shape is not None else 'the'} block sizes (whole "
                   "numbers >= 1, one per axis)")
    if "workflow" in attrs and json_of("workflow", dict) is None:
        return bad("workflow", "the workflow as a JSON object")
    if "canonical" in attrs:
        canonical = json_of("canonical", dict)
        if canonical is None:
            return bad("canonical", "the canonical workflow as a JSON object")
        summaries = canonical.get("summaries", {})
        numbers = ("warmup", "moments_every", "max_lag")
        if not isinstance(summaries, dict) or \
                not all(_number(summaries.get(k, 0)) for k in numbers) or \
                not (summaries.get("moments_warmup") is None or _number(summaries["moments_warmup"])) or \
                not (isinstance(summaries.get("isi_edges", []), list)
                     and all(_number(e) for e in summaries.get("isi_edges", []))):
            return bad("canonical", "a canonical workflow whose `summaries` are numbers")
        drives = canonical.get("drives", [])
        if not isinstance(drives, list) or not all(
                isinstance(d, dict) and isinstance(d.get("name", ""), str)
                and isinstance(d.get("file_sha256") or "", str) for d in drives):
            return bad("canonical", "a canonical workflow whose `drives` are mappings")
    for name, whole in (("dt", False), ("duration", False), ("n_steps", True), ("trials", True)):
        if name in attrs and not _number(attrs[name], whole=whole):
            return bad(name, "a whole number" if whole else "a number")
    return None


@dataclass
class VerifyReport:
    """What :func:`verify_store` found: the done blocks checked, per bad block what is wrong,
    the arrays damaged as a whole (metadata missing or unreadable, a coordinate's values), and
    what could not be checked (``notes``, said once each)."""

    store: str
    blocks: int
    checked: int
    bad: dict = field(default_factory=dict)          # block -> ["rate: missing chunk", ...]
    points: list = field(default_factory=list)        # flat indices of the bad blocks' points
    arrays: dict = field(default_factory=dict)        # array -> what is wrong with it as a whole
    data: set = field(default_factory=set)            # those of them that are data variables
    notes: list = field(default_factory=list)
    checksums: bool = True                           # every data variable's chunks carry a CRC-32C
    whole: bool = True                               # checked against the workflow (arrays, coordinates)

    @property
    def bad_blocks(self) -> list[int]:
        return sorted(self.bad)

    @property
    def ok(self) -> bool:
        return not self.bad and not self.arrays

    def format(self) -> str:
        notes = [f"note: {note}" for note in self.notes]
        if self.ok:
            sums = ", readable and matching its checksum" if self.checksums else " and readable"
            whole = "; every array's metadata and every coordinate intact" if self.whole else ""
            return "\n".join([f"verified: {self.checked} of {self.blocks} blocks done, every chunk of them "
                              f"present{sums}{whole}"] + notes)
        fix = f"`lifbatch run WORKFLOW --store {self.store} --repair`"
        lines = []
        for name, problem in self.arrays.items():
            again = (" and recomputes every done block" if name in self.data
                     else " from the workflow (no block is recomputed for it)")
            lines.append(f"verify: array '{name}' {problem}; {fix} writes it again{again}")
        if self.bad:
            lines.append(f"verify: {len(self.bad)} of {self.checked} done blocks have missing or corrupt data "
                         f"({len(self.points)} points); {fix} recomputes exactly those blocks")
        shown = [b for b in self.bad_blocks if self.bad[b]]
        for block in shown[:10]:
            lines.append(f"  block {block}: {'; '.join(self.bad[block][:3])}"
                         + (f" (+{len(self.bad[block]) - 3} more)" if len(self.bad[block]) > 3 else ""))
        if len(shown) > 10:
            lines.append(f"  ... and {len(shown) - 10} more blocks")
        return "\n".join(lines + notes)


def _layout_of(path: Path):
    """(workflow, {data variable: spec}, {coordinate: spec}, None) of a store, from its
    ``workflow`` attribute (points added and summary settings included); (None, None, None,
    the reason) when that cannot be loaded (e.g. an input file moved)."""
    from .errors import LifbatchError

    try:
        wf = store_workflow_of(path)
    except (LifbatchError, OSError) as exc:
        return None, None, None, str(exc)
    order = {name: i for i, name in enumerate(VARIABLES)}  # the contract's order, for messages
    specs = variable_specs(wf)
    return wf, {name: specs[name] for name in sorted(specs, key=lambda n: order.get(n, len(order)))}, coords(wf), None


def _open_array(path: Path, name: str):
    """The array ``name`` of the store, or what is wrong with its metadata (a str)."""
    import zarr

    st = storage.of(path)
    if not st.exists(f"{name}/zarr.json"):
        return (f"has no metadata ({name}/zarr.json is missing), so none of its data can be read"
                if st.is_dir(name) else "is missing (no directory)")
    try:
        return zarr.open_array(store=st.zarr_store(read_only=True), path=name, mode="r", zarr_format=3)
    except Exception as exc:
        return f"has unreadable metadata ({name}/zarr.json: {type(exc).__name__})"


def _coordinate_problem(path: Path, name: str, spec: tuple) -> str | None:
    """What is wrong with coordinate ``name`` against the workflow's values, or None."""
    arr = _open_array(path, name)
    if isinstance(arr, str):
        return arr
    want = np.asarray(spec[1])
    # (no look at its chunk file: Zarr does not write a chunk equal to the fill value, e.g.
    # sample_round all 0; one that is lost reads as the fill value, which its values show)
    try:
        got = np.asarray(arr[...])
    except Exception as exc:
        return f"has an unreadable chunk ({type(exc).__name__})"
    if got.dtype != want.dtype or got.shape != want.shape or \
            not np.array_equal(got, want, equal_nan=want.dtype.kind == "f"):
        return "holds other values than its workflow's"
    return None


def _array_problems(path: Path, wf, specs: dict, crd: dict) -> dict[str, str]:
    """{array: what is wrong} for every data variable the workflow must have whose metadata
    is missing or unreadable, and every coordinate that differs from the workflow's."""
    problems = {}
    for name in specs:
        arr = _open_array(path, name)
        if isinstance(arr, str):
            problems[name] = arr
    for name, spec in crd.items():
        problem = _coordinate_problem(path, name, spec)
        if problem:
            problems[name] = problem
    return problems


async def _chunk_problem(path: Path, name: str, arr, index: tuple[int, ...]) -> str | None:
    """What is wrong with chunk ``index`` of a data array: missing, undecodable (a failed
    checksum among them), or decoding to another shape; None when it is sound."""
    key = arr.metadata.encode_chunk_key(index)
    if not storage.of(path).exists(f"{name}/{key}"):
        return f"{name}: missing chunk {key}"
    want = tuple(min(c, n - i * c) for i, c, n in zip(index, arr.chunks, arr.shape))
    try:
        got = await arr.async_array.getitem(tuple(slice(i * c, i * c + w) for i, c, w in zip(index, arr.chunks, want))
                                            if index else Ellipsis)
    except Exception as exc:  # a codec error: truncated or overwritten
        reason = "fails its checksum" if "checksum" in str(exc) else f"unreadable ({type(exc).__name__})"
        return f"{name}: chunk {key} {reason}"
    if np.shape(got) != want:
        return f"{name}: chunk {key} has shape {np.shape(got)}, not {want}"
    return None


def verify_store(store) -> VerifyReport:
    """Check a store against its workflow: every array's metadata, every coordinate's values,
    and every chunk of every done block (each block's marker says it is done) read back.

    Damage: a data variable the workflow must have (layout.variable_specs) whose array or
    metadata is missing or unreadable (its data are lost: every done block); a coordinate
    whose values differ from the workflow's (one chunk each, as the template writes them);
    a chunk of a done block that is missing (a block writes all its chunks, empty ones too,
    and so does ``lifbatch summarize``), fails its checksum (flipped bytes), or does not
    decode to its shape. A store written before chunks carried checksums is checked for
    the rest, with a note. ``run --repair`` writes lost arrays and coordinates again and
    recomputes the bad blocks.
    """
    state = inspect_store(store)
    if state.kind != "store":
        raise StoreError(f"'{store}' is not a finished lifbatch store ({state.kind}); nothing to verify.")
    unfinished = unfinished_commit(store)  # (run --repair finishes it under the lease first)
    if unfinished:
        raise StoreError(unfinished)
    st = storage.of(store)
    path = Path(store) if st.local else st.location
    wf, specs, crd, why = _layout_of(path)
    if wf is None:
        return _verify_as_found(path, state, why)
    report = VerifyReport(store=str(path), blocks=0, checked=len(state.done))
    report.arrays = _array_problems(path, wf, specs, crd)
    report.data = {name for name in report.arrays if name in specs}
    shape = tuple(wf.shape)
    blocking = Blocking(shape=shape, chunks=tuple(state.chunks))
    report.blocks = blocking.n_blocks
    arrays = [(name, _open_array(path, name)) for name in specs if name not in report.arrays]
    unsummed = [name for name, arr in arrays if not _has_checksum(arr)]
    if unsummed:
        report.checksums = False
        which = "this store's chunks carry" if len(unsummed) == len(arrays) else f"{', '.join(unsummed)} carry"
        report.notes.append(f"{which} no checksums (written by an earlier lifbatch): flipped bytes there cannot "
                            "be detected; missing and undecodable chunks are checked")
    blocks = [flat for flat in sorted(state.done) if flat < blocking.n_blocks]
    found = _check_blocks(path, blocking, blocks, arrays, len(shape))
    for flat in blocks:
        if found[flat] or report.data:
            report.bad[flat] = found[flat]
            report.points += _block_points(blocking, blocking.slices(blocking.block_id(flat)), shape)
    return report


def _check_blocks(path: Path, blocking: Blocking, blocks: list[int], arrays: list, n_axes: int) -> dict:
    """{block: [what is wrong with its chunks]} for the chunks of ``arrays`` ((name, zarr
    array) pairs) in each block's region, every chunk along the other dimensions too; read
    a few at a time concurrently (one after the other cost ~2 ms a chunk)."""
    import asyncio
    import itertools

    from zarr.core.sync import sync

    found = {flat: [] for flat in blocks}
    limit = asyncio.Semaphore(8)  # chunks in memory at once

    async def check(flat, name, arr, index):
        async with limit:
            problem = await _chunk_problem(path, name, arr, index)
        if problem:
            found[flat].append(problem)

    def jobs(flat):
        region = blocking.slices(blocking.block_id(flat))
        for name, arr in arrays:
            ranges = [range(s.start // c, -(-s.stop // c)) for s, c in zip(region, arr.chunks)] + \
                     [range(-(-n // c)) for n, c in zip(arr.shape[n_axes:], arr.chunks[n_axes:])]
            for index in itertools.product(*ranges):
                yield check(flat, name, arr, index)

    async def run_all():
        for i in range(0, len(blocks), 256):  # (coroutines made a batch at a time)
            await asyncio.gather(*(job for flat in blocks[i:i + 256] for job in jobs(flat)))

    sync(run_all())
    order = {name: i for i, (name, _) in enumerate(arrays)}
    for flat in blocks:  # the order of the arrays, whatever order the reads ended in
        found[flat].sort(key=lambda problem: order.get(problem.split(":")[0], len(order)))
    return found


def _has_checksum(arr) -> bool:
    return any(getattr(codec, "to_dict", lambda: {})().get("name") == "crc32c" for codec in arr.metadata.codecs)


def _block_points(blocking: Blocking, region, shape: tuple[int, ...]) -> list[int]:
    """Flat indices of a block's points."""
    if not shape:
        return [0]
    idx = np.indices([s.stop - s.start for s in region]).reshape(len(shape), -1).T
    starts = np.array([s.start for s in region])
    return [int(np.ravel_multi_index(tuple(i + starts), shape)) for i in idx]


def _verify_as_found(path: Path, state, why: str) -> VerifyReport:
    """verify_store for a store whose workflow cannot be loaded: the chunks of the arrays found
    along the sweep axes, with a note that missing arrays and coordinates are not checked."""
    import zarr

    root = zarr.open_group(storage.of(path).zarr_store(read_only=True), mode="r", zarr_format=3)
    try:
        status = root["status"]
    except (KeyError, ValueError) as exc:
        raise StoreError(f"store '{path}': its workflow cannot be loaded ({why}), and its `status` array, which "
                         f"would give its sweep axes, is unreadable ({type(exc).__name__}): nothing to verify "
                         "against. Make the workflow's input files readable where they were.") from None
    axes = tuple(status.metadata.dimension_names or ())
    shape = tuple(status.shape)
    blocking = Blocking(shape=shape, chunks=tuple(state.chunks))
    listed = set(str(root.attrs.get("coordinates", "")).split()) | set(axes)
    arrays = [(name, arr) for name, arr in root.arrays()
              if tuple(arr.metadata.dimension_names or ())[:len(axes)] == axes and name not in listed
              and name not in (arr.metadata.dimension_names or ())]  # (a dimension's coordinate)
    report = VerifyReport(store=str(path), blocks=blocking.n_blocks, checked=len(state.done), whole=False,
                          checksums=all(_has_checksum(arr) for _, arr in arrays))
    report.notes.append(f"the store's workflow could not be loaded ({why}): only the chunks of the arrays found "
                        "were checked, not missing arrays or coordinates")
    blocks = [flat for flat in sorted(state.done) if flat < blocking.n_blocks]
    found = _check_blocks(path, blocking, blocks, arrays, len(axes))
    for flat in blocks:
        if found[flat]:
            report.bad[flat] = found[flat]
            report.points += _block_points(blocking, blocking.slices(blocking.block_id(flat)), shape)
    return report


def restore_arrays(store) -> list[str]:
    """Write again, as a new store's template has them, the arrays that :func:`verify_store`
    finds damaged as a whole: a data variable whose metadata is missing or unreadable (empty:
    every done block then lacks its chunks, and ``run --repair`` recomputes them), a coordinate
    whose values differ from the workflow's (its values again). The caller holds the lease.
    Returns their names."""
    import zarr

    st = storage.of(store)
    path = Path(store) if st.local else st.location
    wf, specs, crd, _ = _layout_of(path)
    if wf is None:
        return []
    damaged = _array_problems(path, wf, specs, crd)
    if not damaged:
        return []
    chunks = tuple(json.loads(json.loads(st.read_bytes("zarr.json"))["attributes"]["chunks"]))
    root = zarr.open_group(st.zarr_store(), mode="r+", zarr_format=3)
    for name in damaged:
        if st.is_dir(name):
            st.delete_prefix(f"{name}/")  # chunks without their metadata: recomputed, not trusted
        if name in crd:
            root.create_array(name, **coordinate_array(crd[name]))[...] = np.asarray(crd[name][1])
        else:
            root.create_array(name, **variable_array(wf, chunks, specs[name]))
    return sorted(damaged)


def write_block(wf, store, blocking: Blocking, block_id, data, *, failures=None,
                started=None, timing=None, worker=None, fence=None) -> dict:
    """Write one block's variables into their region of every array, then its done-marker.

    ``data`` is the block's Dataset, or a mapping of variable name -> array;
    ``started`` (a ``time.time()``) and ``timing`` (seconds by phase, e.g.
    ``{"kernel": ..., "summaries": ...}``) go into the marker, with the write's own.

    The template fixed every array's shape, chunks, dtype, fill value and
    attributes, so the block's values go straight to Zarr: all arrays at once in
    one asyncio batch (``xarray.Dataset.to_zarr(region=...)`` does the same
    writes one array after the other, after re-reading and checking the
    store's metadata, at twice the CPU cost per task). The region of a block
    is whole chunks along the sweep axes, so no chunk is shared with another task.

    ``fence`` (:class:`lifbatch.lease.Fence`) is checked before the data and again before
    the marker, which records its ``generation``: a writer that lost the store's lease
    writes nothing (LeaseLostError).
    """
    region = tuple(blocking.slices(block_id))
    if hasattr(data, "data_vars"):  # an xarray.Dataset
        data = {name: var.values for name, var in data.data_vars.items()}
    t0 = time.perf_counter()
    if fence is not None:
        fence.check()
    _write_region(store, region, data)
    timing = {**(timing or {}), "write": time.perf_counter() - t0}
    flat = blocking.flat_index(block_id)
    marker = {"block": flat, "index": list(block_id),
              "points": int(np.prod([s.stop - s.start for s in region] or [1])),
              "failures": failures or {}, "finished": time.time(), "worker": worker,
              "seconds": (time.time() - started) if started else None,
              **{f"{phase}_seconds": t for phase, t in timing.items()}}
    if fence is not None:
        marker["generation"] = fence.generation
        fence.check()
    write_group_at(storage.of(store), f"{MARKERS.as_posix()}/{flat}", marker)
    return marker


# The store's opened Zarr arrays, kept in each worker process from one block to the
# next (opening 12 arrays cost a quarter of a block's write): store -> (the template's
# identity, {name: (the identity of the array's own metadata file, the array)}). An array
# is used again only while both are unchanged: anything that replaces an array
# (`lifbatch summarize`'s swap, a growth's resize, `run --repair` writing a lost array
# again, a store created again with --overwrite) gives it a new metadata file, so a
# long-lived worker never writes with a replaced array's codecs or shape.
_ARRAYS: dict[str, tuple[tuple, dict]] = {}


def _file_id(path: Path) -> tuple | None:
    """Identity of a file's current version (inode, times, size), None when it is absent."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _template_id(store) -> tuple:
    """Identity of the store's template, waiting for it if it is being written.

    ``run_sweep`` writes a new store's template while the first tasks compute;
    its marker group is written last, so a task finding it may write.
    """
    from dask.utils import parse_timedelta

    from . import config

    st = storage.of(store)
    key = (MARKERS / "zarr.json").as_posix()
    deadline = None
    delay = 0.005
    while True:
        ident = st.identity(key)
        if ident is not None:
            return (str(store),) + ident
        now = time.monotonic()
        if deadline is None:
            wait = parse_timedelta(config.get("task.template-wait"))
            deadline = now + wait
        if now >= deadline:
            raise StoreError(f"store '{store}' has no template after {wait:g} s: this machine does not see "
                             "the store, or it was removed (see cluster/README.md)")
        time.sleep(delay)
        delay = min(0.1, 2 * delay)


def _write_region(store, region: tuple[slice, ...], values: dict[str, np.ndarray]) -> None:
    """``array[region] = value`` for every array of the store, concurrently."""
    selection = region if region else Ellipsis
    template = _template_id(store)
    cached_template, cached = _ARRAYS.get(str(store), (None, {}))
    # each array's metadata identity, taken before it is opened: an array replaced after
    # this look is opened again next time, never kept under a newer identity than its own
    st = storage.of(store)
    idents = dict(zip(values, st.identities([f"{name}/zarr.json" for name in values])))
    arrays = {name: array for name, (ident, array) in cached.items()
              if cached_template == template and name in idents and ident == idents[name] and ident is not None}

    async def write(group, name, value):
        array = arrays.get(name)
        if array is None:
            # write_empty_chunks: a block's chunks are all written (also when all zeros,
            # e.g. no spikes), which spares zarr comparing every chunk with the fill value
            array = (await group.getitem(name)).with_config({"write_empty_chunks": True})
        if array.dtype != value.dtype or array.shape[len(region):] != value.shape[len(region):]:
            raise StoreError(f"block variable '{name}' {value.dtype}{value.shape} does not match the store's "
                             f"{array.dtype}{array.shape}; the store is not this workflow's")
        await array.setitem(selection, value)
        return name, array

    opened = dict(_gather_on_group(store, write, values, open_group=any(name not in arrays for name in values)))
    _ARRAYS.clear()  # one store at a time: a worker serves one sweep's blocks in turn
    _ARRAYS[str(store)] = (template, {name: (idents[name], array) for name, array in opened.items()})


def _gather_on_group(store, job, items: dict, *, open_group: bool = True) -> list:
    """Run ``job(group, name, item)`` for every item at once on the store's root group
    (zarr's async API); ``group`` is None with ``open_group=False``. Returns their results."""
    import asyncio

    import zarr.api.asynchronous
    from zarr.core.sync import sync

    async def run_all():
        group = await zarr.api.asynchronous.open_group(store=storage.of(store).zarr_store(), mode="r+",
                                                       zarr_format=3) if open_group else None
        return await asyncio.gather(*(job(group, name, item) for name, item in items.items()))

    try:
        return sync(run_all())
    except Exception as exc:
        failed = storage.of(store).failure(exc, "writing the arrays")  # (an object store's, in one line)
        if failed is None:
            raise
        raise failed from None


def _marker_attributes(path: Path, store=None) -> dict | None:
    """The attributes of the block marker at ``path`` (``_lifbatch/blocks/<n>/zarr.json``), or
    None when there is none, or when it is unreadable or not a marker lifbatch writes
    (:func:`_valid_marker`): the block counts as not done, and the run that resumes the
    store computes it again and writes its marker anew."""
    try:
        if store is None:
            attrs = json.loads(path.read_text())["attributes"]
        else:  # (``path`` a key of the store's storage)
            attrs = json.loads(storage.of(store).read_bytes(path))["attributes"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no marker, or unreadable
    return attrs if _valid_marker(attrs, str(path).split("/")[-2]) else None


def _parsed_marker(key: str, data: bytes | None) -> dict | None:
    """:func:`_marker_attributes` of a marker's bytes (read with others at once)."""
    try:
        attrs = json.loads(data)["attributes"]
    except (ValueError, KeyError, TypeError):
        return None
    return attrs if _valid_marker(attrs, key.split("/")[-2]) else None


def _number(value, *, whole: bool = False) -> bool:
    kinds = (int,) if whole else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool)


def _valid_marker(attrs, name: str) -> bool:
    """Whether ``attrs`` are a block marker's as :func:`write_block` writes them, for the block
    directory ``name``: a mapping whose ``block`` is the whole number ``name``, whose
    ``failures`` map points (whole numbers, as text) to messages, and whose other fields, when
    present, have their types (``points`` a whole number, ``finished`` and ``seconds``
    numbers or null, ``worker`` text or null). Anything else (another store's group in
    ``_lifbatch/blocks/``, a hand-edited file) is not this block's marker."""
    if not isinstance(attrs, dict):
        return False
    block, failures = attrs.get("block"), attrs.get("failures")
    if not _number(block, whole=True) or str(block) != name or not isinstance(failures, dict):
        return False
    if not all(isinstance(k, str) and k.isdigit() and isinstance(v, str) for k, v in failures.items()):
        return False
    if "points" in attrs and not (_number(attrs["points"], whole=True) and attrs["points"] >= 0):
        return False
    if any(attrs.get(k) is not None and not _number(attrs[k]) for k in ("finished", "seconds")):
        return False
    return attrs.get("worker") is None or isinstance(attrs["worker"], str)


def _marker_fits(marker: dict, blocking: Blocking) -> bool:
    """Whether a (valid) marker is of a block of ``blocking`` and its failures are that block's points."""
    flat = marker["block"]
    if not 0 <= flat < blocking.n_blocks:
        return False
    if not marker["failures"]:
        return True
    region = blocking.slices(blocking.block_id(flat))
    size = int(np.prod(blocking.shape or (1,)))
    for key in marker["failures"]:
        point = int(key)
        if point >= size:
            return False
        index = np.unravel_index(point, blocking.shape) if blocking.shape else ()
        if not all(s.start <= i < s.stop for s, i in zip(region, index)):
            return False
    return True


def store_generation(store) -> str | None:
    """The store's generation: a new one each time a store is created at its path (None for
    stores made before generations). Block markers of another generation do not count."""
    try:
        attrs = json.loads(storage.of(store).read_bytes((MARKERS / "zarr.json").as_posix())).get("attributes")
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    generation = attrs.get("generation") if isinstance(attrs, dict) else None
    return generation if isinstance(generation, str) else None


def _counts(marker: dict | None, generation: str | None) -> bool:
    return isinstance(marker, dict) and marker.get("generation") == generation


def read_marker(store, flat: int) -> dict | None:
    """Block ``flat``'s marker (its attributes), or None when the block is not done (no
    marker, an unreadable one, or one written under another generation of the store)."""
    marker = _marker_attributes(f"{MARKERS.as_posix()}/{flat}/zarr.json", store)
    return marker if _counts(marker, store_generation(store)) else None


def read_markers(store) -> list[dict]:
    """The markers of the store's done blocks: of its generation, and of a block of its grid
    with failures among that block's points (:func:`_marker_fits`, where the grid is known)."""
    st = storage.of(store)
    if not st.is_dir(MARKERS.as_posix()):
        return []
    generation = store_generation(store)
    keys = st.children(MARKERS.as_posix(), "zarr.json")
    markers = [m for m in (_parsed_marker(key, data) for key, data in zip(keys, st.read_many(keys)))
               if _counts(m, generation)]
    blocking = _blocking_of(store)
    return [m for m in markers if blocking is None or _marker_fits(m, blocking)]


def _blocking_of(path: Path) -> Blocking | None:
    """The store's blocks from its root's ``chunks`` and its ``status`` array's shape, or None
    when either cannot be read (a store being created, damaged metadata)."""
    root = _read_key(path, "zarr.json")
    status_meta = _read_key(path, "status/zarr.json")
    try:
        chunks = tuple(json.loads(root["attributes"]["chunks"]))
        shape = tuple(status_meta["shape"])
    except (KeyError, TypeError, ValueError):
        return None
    if not all(_number(n, whole=True) for n in shape + chunks) or len(shape) != len(chunks):
        return None  # (damaged metadata: inspect_store says so in one line)
    return Blocking(shape=shape, chunks=chunks)


def done_blocks(store) -> set[int]:
    return {int(m["block"]) for m in read_markers(store)}


def unfinished_commit(store) -> str | None:
    """One line on a commit that was made but not yet applied (a ``lifbatch summarize``
    swap, or points added by ``refine`` / ``fit``), or None. Readers do not finish it
    (only a command holding the store's lease does, :func:`lifbatch.control.recover`):
    the arrays and attributes are then partly of before, partly of after."""
    from .layout import GROW, SUMMARIZE_COMMIT
    from .lease import describe, lease_state, read_lease

    st = storage.of(store)
    path = Path(store) if st.local else st.location
    what = ("a `lifbatch summarize`" if st.exists(SUMMARIZE_COMMIT.as_posix()) else
            "adding points (`lifbatch refine` or `fit`)" if st.exists(GROW.as_posix()) else None)
    if what is None:
        return None
    held = read_lease(path)
    if lease_state(held) == "live":
        return f"store '{path}' is being changed by {what} that is live ({describe(held)}): try again in a moment."
    return (f"store '{path}': {what} was interrupted after its commit, so its arrays are partly old and partly "
            f"new; `lifbatch summarize {path}` (or `lifbatch run` of its workflow) finishes it, then read it "
            "again.")


def add_run(store, provenance: dict) -> None:
    """Append a resuming run's provenance to the store's ``runs`` attribute (under the lease)."""
    st = storage.of(store)
    meta = json.loads(st.read_bytes("zarr.json"))
    runs = json.loads(meta["attributes"].get("runs") or "[]")
    meta["attributes"]["runs"] = json.dumps((runs + [provenance])[-100:])
    st.write_bytes("zarr.json", json.dumps(meta).encode())


def marker_status(store, shape: tuple[int, ...], chunks: tuple[int, ...]) -> np.ndarray:
    """Each point's status from the block markers alone: done (or failed, as its marker
    says) when its block's marker exists, which is written after all of the block's
    data; pending otherwise. What ``status``, ``query`` and ``open_results`` report."""
    status = np.full(shape, STATUS_PENDING, np.int8)
    blocking = Blocking(shape=tuple(shape), chunks=tuple(chunks))
    for m in read_markers(store):
        if not _marker_fits(m, blocking):
            continue  # not a block of this store: the block counts as not done, as in inspect_store
        slices = blocking.slices(blocking.block_id(int(m["block"])))
        status[slices] = STATUS_DONE
        for flat in m.get("failures", {}):
            status[np.unravel_index(int(flat), shape) if shape else ()] = STATUS_FAILED
    return status


class StoredArrays:
    """A sampled store's arrays by name, read with Zarr alone (no xarray, dask or pandas to
    import): ``arrays[name].values`` as numpy, like a Dataset's; ``status`` from the block
    markers, as :func:`open_results` has it; ``point(name, i)``: sample ``i`` only. What
    ``lifbatch refine`` and ``lifbatch fit`` read every round."""

    def __init__(self, store):
        import zarr

        self._root = zarr.open_group(storage.of(store).zarr_store(read_only=True), mode="r", zarr_format=3)
        shape = tuple(self._root["status"].shape)
        self.sizes = {"sample": shape[0]}
        self._status = marker_status(store, shape, tuple(json.loads(self._root.attrs["chunks"])))

    def __getitem__(self, name: str):
        from types import SimpleNamespace

        return SimpleNamespace(values=np.asarray(self._status if name == "status" else self._root[name][...]))

    def point(self, name: str, index: int) -> np.ndarray:
        return np.asarray(self._root[name][index])


def open_results(store: str | os.PathLike, **kwargs) -> "xr.Dataset":
    """Open a sweep's store lazily (Dask-backed ``xarray.Dataset``).

    Works while the sweep is running: ``status`` tells which points are done.

    Examples
    --------
    >>> ds = open_results("results/quickstart.zarr")        # doctest: +SKIP
    >>> ds.rate.sel(tau_m=0.02, method="nearest").values     # doctest: +SKIP
    """
    st = storage.of(store)
    path = Path(store) if st.local else st.location
    if not st.root_exists():
        raise StoreError(f"no store at '{path}'. Run `lifbatch run WORKFLOW --store {path}` first.")
    unfinished = unfinished_commit(path)
    if unfinished:
        raise StoreError(unfinished)
    ds = _open_zarr(path, "'{path}' is not a readable Zarr store ({type}: {exc}).", **kwargs)
    if "fingerprint" not in ds.attrs:
        raise StoreError(f"'{path}' is not a lifbatch store (no fingerprint attribute).")
    # the contract's order (a directory listing has none)
    order = {name: i for i, name in enumerate(VARIABLES)}
    ds = ds[sorted(ds.data_vars, key=lambda n: (order.get(n, len(order)), n))]
    # done means on disk: a point is done when its block's marker, written after all of
    # the block's data, exists (the status array is written with the data, before it)
    if "chunks" in ds.attrs and "status" in ds:
        status = marker_status(path, ds["status"].shape, tuple(json.loads(ds.attrs["chunks"])))
        ds["status"] = ds["status"].copy(data=status)
    # isi_adaptation: derived from the spikes, not stored (old stores have it as well)
    from .adaptation import with_isi_adaptation

    ds = with_isi_adaptation(ds, lazy=True)
    ds = ds[sorted(ds.data_vars, key=lambda n: (order.get(n, len(order)), n))]
    ds.encoding["source"] = str(path)
    return ds


def commit_stamp(store) -> tuple:
    """What changes when a summarize or a growth commits (the root metadata file, a commit
    pending): readers compare it before and after an eager read (:func:`read_consistently`)."""
    from .layout import GROW, SUMMARIZE_COMMIT

    st = storage.of(store)
    try:
        root = st.identity("zarr.json")
    except OSError:
        root = None
    return root, st.exists(SUMMARIZE_COMMIT.as_posix()), st.exists(GROW.as_posix())


def read_consistently(store, read, *, tries: int = 3):
    """``read()`` (an eager read of the store) with the store's commits unchanged during it:
    a reader never mixes arrays of before and after a summarize's swap. Tried again when
    a commit happened meanwhile; one line when it keeps happening."""
    for _ in range(tries):
        before = commit_stamp(store)
        out = read()
        if commit_stamp(store) == before:
            return out
    raise StoreError(f"store '{store}' kept changing while it was read (a summarize or refine is committing): "
                     "try again in a moment.")
