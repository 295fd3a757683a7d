"""``lifbatch status --verify`` and ``run --repair``: a store checked against its workflow
(metadata, coordinates, every chunk of its done blocks), and its lost arrays written again."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import storage
from .errors import LifbatchError, StoreError
from .grid import Blocking
from .layout import VARIABLES, coords, variable_specs
from .state import inspect_store, store_workflow_of, unfinished_commit
from .template import coordinate_array, variable_array

if TYPE_CHECKING:
    import zarr

#: a store's location: its directory, or its ``s3://`` URL as given (a Path would lose its ``//``)
Location = Path | str


@dataclass
class VerifyReport:
    """What :func:`verify_store` found: the done blocks checked, per bad block what is wrong,
    the arrays damaged as a whole (metadata missing or unreadable, a coordinate's values), and
    what could not be checked (``notes``, said once each)."""

    store: str
    blocks: int
    checked: int
    bad: dict = field(default_factory=dict)  # block -> ["rate: missing chunk", ...]
    points: list = field(default_factory=list)  # flat indices of the bad blocks' points
    arrays: dict = field(default_factory=dict)  # array -> what is wrong with it as a whole
    data: set = field(default_factory=set)  # those of them that are data variables
    notes: list = field(default_factory=list)
    checksums: bool = True  # every data variable's chunks carry a CRC-32C
    whole: bool = True  # checked against the workflow (arrays, coordinates)

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
            return "\n".join(
                [f"verified: {self.checked} of {self.blocks} blocks done, every chunk of them present{sums}{whole}"]
                + notes
            )
        fix = f"`lifbatch run WORKFLOW --store {self.store} --repair`"
        lines = []
        for name, problem in self.arrays.items():
            again = (
                " and recomputes every done block"
                if name in self.data
                else " from the workflow (no block is recomputed for it)"
            )
            lines.append(f"verify: array '{name}' {problem}; {fix} writes it again{again}")
        if self.bad:
            lines.append(
                f"verify: {len(self.bad)} of {self.checked} done blocks have missing or corrupt data "
                f"({len(self.points)} points); {fix} recomputes exactly those blocks"
            )
        shown = [b for b in self.bad_blocks if self.bad[b]]
        for block in shown[:10]:
            lines.append(
                f"  block {block}: {'; '.join(self.bad[block][:3])}"
                + (f" (+{len(self.bad[block]) - 3} more)" if len(self.bad[block]) > 3 else "")
            )
        if len(shown) > 10:
            lines.append(f"  ... and {len(shown) - 10} more blocks")
        return "\n".join(lines + notes)


def _layout_of(path: Location):
    """(workflow, {data variable: spec}, {coordinate: spec}, None) of a store, from its
    ``workflow`` attribute (points added and summary settings included); (None, None, None,
    the reason) when that cannot be loaded (e.g. an input file moved)."""

    try:
        wf = store_workflow_of(path)
    except (LifbatchError, OSError) as exc:
        return None, None, None, str(exc)
    order = {name: i for i, name in enumerate(VARIABLES)}  # the contract's order, for messages
    specs = variable_specs(wf)
    return wf, {name: specs[name] for name in sorted(specs, key=lambda n: order.get(n, len(order)))}, coords(wf), None


def _open_array(path: Location, name: str):
    """The array ``name`` of the store, or what is wrong with its metadata (a str)."""
    import zarr  # (deferred: zarr loads when a store is read, not when this module is imported)

    st = storage.of(path)
    if not st.exists(f"{name}/zarr.json"):
        return (
            f"has no metadata ({name}/zarr.json is missing), so none of its data can be read"
            if st.is_dir(name)
            else "is missing (no directory)"
        )
    try:
        return zarr.open_array(store=st.zarr_store(read_only=True), path=name, mode="r", zarr_format=3)
    except Exception as exc:
        return f"has unreadable metadata ({name}/zarr.json: {type(exc).__name__})"


def _coordinate_problem(path: Location, name: str, spec: tuple) -> str | None:
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
    if (
        got.dtype != want.dtype
        or got.shape != want.shape
        or not np.array_equal(got, want, equal_nan=want.dtype.kind == "f")
    ):
        return "holds other values than its workflow's"
    return None


def _array_problems(path: Location, wf, specs: dict, crd: dict) -> dict[str, str]:
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


async def _chunk_problem(path: Location, name: str, arr, index: tuple[int, ...]) -> str | None:
    """What is wrong with chunk ``index`` of a data array: missing, undecodable (a failed
    checksum among them), or decoding to another shape; None when it is sound."""
    key = arr.metadata.encode_chunk_key(index)
    if not storage.of(path).exists(f"{name}/{key}"):
        return f"{name}: missing chunk {key}"
    want = tuple(min(c, n - i * c) for i, c, n in zip(index, arr.chunks, arr.shape))
    try:
        got = await arr.async_array.getitem(
            tuple(slice(i * c, i * c + w) for i, c, w in zip(index, arr.chunks, want)) if index else Ellipsis
        )
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
        report.notes.append(
            f"{which} no checksums (written by an earlier lifbatch): flipped bytes there cannot "
            "be detected; missing and undecodable chunks are checked"
        )
    blocks = [flat for flat in sorted(state.done) if flat < blocking.n_blocks]
    found = _check_blocks(path, blocking, blocks, arrays, len(shape))
    for flat in blocks:
        if found[flat] or report.data:
            report.bad[flat] = found[flat]
            report.points += _block_points(blocking, blocking.slices(blocking.block_id(flat)), shape)
    return report


def _check_blocks(
    path: Location, blocking: Blocking, blocks: list[int], arrays: list, n_axes: int
) -> dict[int, list[str]]:
    """{block: [what is wrong with its chunks]} for the chunks of ``arrays`` ((name, zarr
    array) pairs) in each block's region, every chunk along the other dimensions too; read
    a few at a time concurrently (one after the other cost ~2 ms a chunk)."""
    import asyncio
    import itertools

    from zarr.core.sync import sync  # (deferred, as zarr above)

    found: dict[int, list[str]] = {flat: [] for flat in blocks}
    limit = asyncio.Semaphore(8)  # chunks in memory at once

    async def check(flat, name, arr, index):
        async with limit:
            problem = await _chunk_problem(path, name, arr, index)
        if problem:
            found[flat].append(problem)

    def jobs(flat):
        region = blocking.slices(blocking.block_id(flat))
        for name, arr in arrays:
            ranges = [range(s.start // c, -(-s.stop // c)) for s, c in zip(region, arr.chunks)] + [
                range(-(-n // c)) for n, c in zip(arr.shape[n_axes:], arr.chunks[n_axes:])
            ]
            for index in itertools.product(*ranges):
                yield check(flat, name, arr, index)

    async def run_all():
        for i in range(0, len(blocks), 256):  # (coroutines made a batch at a time)
            await asyncio.gather(*(job for flat in blocks[i : i + 256] for job in jobs(flat)))

    sync(run_all())
    order = {name: i for i, (name, _) in enumerate(arrays)}
    for flat in blocks:  # the order of the arrays, whatever order the reads ended in
        found[flat].sort(key=lambda problem: order.get(problem.split(":")[0], len(order)))
    return found


def _has_checksum(arr) -> bool:
    return any(_codec_name(codec) == "crc32c" for codec in arr.metadata.codecs)


def _codec_name(codec) -> object:
    """A codec's ``name`` in its metadata (None for one that does not say it)."""
    to_dict = getattr(codec, "to_dict", None)
    return None if to_dict is None else to_dict().get("name")


def _block_points(blocking: Blocking, region, shape: tuple[int, ...]) -> list[int]:
    """Flat indices of a block's points."""
    if not shape:
        return [0]
    idx = np.indices([s.stop - s.start for s in region]).reshape(len(shape), -1).T
    starts = np.array([s.start for s in region])
    return [int(np.ravel_multi_index(tuple(i + starts), shape)) for i in idx]


def _verify_as_found(path: Location, state, why: str) -> VerifyReport:
    """verify_store for a store whose workflow cannot be loaded: the chunks of the arrays found
    along the sweep axes, with a note that missing arrays and coordinates are not checked."""
    import zarr  # (deferred, as above)

    root = zarr.open_group(storage.of(path).zarr_store(read_only=True), mode="r", zarr_format=3)
    status = _status_array(root)
    if isinstance(status, str):
        raise StoreError(
            f"store '{path}': its workflow cannot be loaded ({why}), and its `status` array, which "
            f"would give its sweep axes, is unreadable ({status}): nothing to verify "
            "against. Make the workflow's input files readable where they were."
        )
    axes = _dimension_names(status)
    shape = tuple(status.shape)
    blocking = Blocking(shape=shape, chunks=tuple(state.chunks))
    listed = set(str(root.attrs.get("coordinates", "")).split()) | set(axes)
    arrays = [
        (name, arr)
        for name, arr in root.arrays()
        if _dimension_names(arr)[: len(axes)] == axes and name not in listed and name not in _dimension_names(arr)
    ]  # (a dimension's coordinate)
    report = VerifyReport(
        store=str(path),
        blocks=blocking.n_blocks,
        checked=len(state.done),
        whole=False,
        checksums=all(_has_checksum(arr) for _, arr in arrays),
    )
    report.notes.append(
        f"the store's workflow could not be loaded ({why}): only the chunks of the arrays found "
        "were checked, not missing arrays or coordinates"
    )
    blocks = [flat for flat in sorted(state.done) if flat < blocking.n_blocks]
    found = _check_blocks(path, blocking, blocks, arrays, len(axes))
    for flat in blocks:
        if found[flat]:
            report.bad[flat] = found[flat]
            report.points += _block_points(blocking, blocking.slices(blocking.block_id(flat)), shape)
    return report


def _status_array(root) -> zarr.Array | str:
    """The store's ``status`` array, or why it cannot be read (the name of the error, or of
    what is there instead)."""
    import zarr  # (deferred, as above)

    try:
        status = root["status"]
    except (KeyError, ValueError) as exc:
        return type(exc).__name__
    return status if isinstance(status, zarr.Array) else type(status).__name__


def _dimension_names(arr: zarr.Array) -> tuple[str | None, ...]:
    """An array's dimension names, () when it has none."""
    from zarr.core.metadata import ArrayV3Metadata  # (deferred, as above)

    meta = arr.metadata
    assert isinstance(meta, ArrayV3Metadata)  # (the store is opened as Zarr v3, whose arrays all have v3 metadata)
    return tuple(meta.dimension_names or ())


def restore_arrays(store) -> list[str]:
    """Write again, as a new store's template has them, the arrays that :func:`verify_store`
    finds damaged as a whole: a data variable whose metadata is missing or unreadable (empty:
    every done block then lacks its chunks, and ``run --repair`` recomputes them), a coordinate
    whose values differ from the workflow's (its values again). The caller holds the lease.
    Returns their names."""
    import zarr  # (deferred, as above)

    st = storage.of(store)
    path = Path(store) if st.local else st.location
    wf, specs, crd, _ = _layout_of(path)
    if wf is None:
        return []
    damaged = _array_problems(path, wf, specs, crd)
    if not damaged:
        return []
    root_json = st.read_bytes("zarr.json")
    assert root_json is not None  # (its workflow loaded just now, from this file; the caller holds the lease)
    chunks = tuple(json.loads(json.loads(root_json)["attributes"]["chunks"]))
    root = zarr.open_group(st.zarr_store(), mode="r+", zarr_format=3)
    for name in damaged:
        if st.is_dir(name):
            st.delete_prefix(f"{name}/")  # chunks without their metadata: recomputed, not trusted
        if name in crd:
            root.create_array(name, **coordinate_array(crd[name]))[...] = np.asarray(crd[name][1])
        else:
            root.create_array(name, **variable_array(wf, chunks, specs[name]))
    return sorted(damaged)
