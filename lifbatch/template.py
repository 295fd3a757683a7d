"""A new store's template: its root attributes, coordinates and empty arrays (as xarray would
write them), with the codecs of its data variables; the Zarr group writes a run makes."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__, storage
from .atomic import write_json_atomic
from .grid import Blocking
from .identity import simulation_identity
from .layout import CREATING, MARKERS, coords, variable_specs
from .provenance import versions
from .layout import sizes as sizes_of


def _package_versions() -> dict:

    return versions()


def root_attrs(wf, provenance: dict | None = None) -> dict:
    """The store's root attributes; ``provenance`` (:func:`lifbatch.provenance.collect`) of the
    run that creates it, recorded as ``provenance`` and as the first of ``runs``."""
    extra = {"provenance": json.dumps(provenance), "runs": json.dumps([provenance])} if provenance else {}
    return {
        **extra,
        "name": wf.name,
        "description": wf.description,
        "workflow": wf.source,
        "canonical": wf.canonical,
        "fingerprint": wf.fingerprint,
        "simulation": simulation_identity(wf.canonical),
        "lifbatch_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dt": wf.dt,
        "duration": wf.duration,
        "n_steps": wf.n_steps,
        "method": wf.method,
        "seed": wf.seed,
        "trials": wf.trials,
        "versions": json.dumps(_package_versions()),
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
    # (deferred: zarr loads when a store is created, not for --help or validate)
    from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

    if np.dtype(dtype).kind == "f":
        return [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), Crc32cCodec()]
    return [ZstdCodec(level=1), Crc32cCodec()]


#: ``_FillValue`` of a float coordinate, as xarray writes it (NaN, base64 of its 8 bytes)
_NAN_FILL = "AAAAAAAA+H8="


def create_store(
    wf,
    store: str | os.PathLike,
    blocking: Blocking,
    *,
    pause=lambda phase: None,
    provenance: dict | None = None,
    fence=None,
) -> None:
    """Write the template of a new store: coordinates, attributes, and empty arrays.

    Written by Zarr, all arrays at once, exactly as ``xarray.Dataset.to_zarr``
    would write the coordinates (their attributes with xarray's ``_FillValue``, the
    non-index coordinates named in the root's ``coordinates`` attribute; tested
    against xarray's own template), so that a sweep needs no xarray. The data
    variables get the block chunks along the sweep axes. Unwritten chunks read as
    the fill value: NaN for floats, 0 for integers (integers get no ``_FillValue``
    attribute, so that xarray does not mask their zeros into NaN floats), ``status``
    0 = pending.

    ``fence`` (:class:`lifbatch.lease.Fence`, checked before the root group and before the
    marker group, which completes the template) gives the store its ``generation``.

    The template is made by Zarr in memory, then written object by object: the root group
    first, then every array's metadata and the coordinates' chunks at once (concurrent
    requests on an object store: about 30, where Zarr's own creation on the store read and
    wrote each array's parents as well, about 110), then the marker groups, then
    ``creating.json`` is removed. The bytes are Zarr's own, the same as it writes on the
    store; a creation interrupted anywhere is redone (``creating.json``, the marker group last).
    """
    crd = coords(wf)
    generation = getattr(fence, "generation", None)
    attrs = {
        **root_attrs(wf, provenance),
        "chunks": json.dumps(list(blocking.chunks)),
        **({"generation": generation} if generation else {}),
    }
    extra = sorted(name for name, (dim, *_) in crd.items() if name != dim)
    if extra:
        attrs["coordinates"] = " ".join(extra)
    objects = _template_objects(wf, blocking, crd, attrs)
    st = storage.of(store)
    if fence is not None:
        fence.check()
    # (the store holds the run's lease and creation marker: only the template's own keys are written)
    put_objects(store, {"zarr.json": objects.pop("zarr.json")})
    pause("template-begun")  # (tests stop a run here: a root group without its arrays)
    put_objects(store, objects)
    if fence is not None:
        fence.check()
    write_group_at(st, MARKERS.parent, {})
    write_group_at(st, MARKERS, {"generation": generation} if generation else {})
    st.delete(CREATING.as_posix())  # complete: a store from now on


def _template_objects(wf, blocking: Blocking, crd: dict, attrs: dict) -> dict[str, bytes]:
    """The template's objects (key -> bytes) as Zarr writes them: the root group with
    ``attrs``, the coordinates with their values, the data variables empty."""
    # (deferred, as above)
    import zarr.api.asynchronous
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync
    from zarr.storage import MemoryStore

    sizes = sizes_of(wf)
    memory = MemoryStore()

    async def build():
        group = await zarr.api.asynchronous.open_group(store=memory, mode="w", zarr_format=3, attributes=attrs)

        async def coordinate(name, spec):
            array = await group.create_array(name, **coordinate_array(spec))
            await array.setitem(Ellipsis, np.asarray(spec[1]))

        await asyncio.gather(
            *(coordinate(name, spec) for name, spec in crd.items()),
            *(
                group.create_array(name, **variable_array(wf, blocking.chunks, spec, sizes=sizes))
                for name, spec in variable_specs(wf).items()
            ),
        )
        keys = [key async for key in memory.list()]
        found = await asyncio.gather(*(memory.get(key, default_buffer_prototype()) for key in keys))
        return {key: buf.to_bytes() for key, buf in zip(keys, found)}

    return sync(build())


def put_objects(store, objects: dict[str, bytes]) -> None:
    """Write whole objects (key -> bytes) into the store at once, through its Zarr store:
    concurrent ``PUT``s on an object store, files written beside their targets and renamed
    on disk, as Zarr writes them."""
    # (deferred, as above)
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    st = storage.of(store)
    target = st.zarr_store()
    if isinstance(target, (str, os.PathLike)):
        from zarr.storage import LocalStore  # (deferred, as above)

        target = LocalStore(os.fspath(target))
    prototype = default_buffer_prototype()

    async def put_all():
        await asyncio.gather(*(target.set(key, prototype.buffer.from_bytes(data)) for key, data in objects.items()))

    try:
        sync(put_all())
    except Exception as exc:
        failed = st.failure(exc, "writing the store's template")  # (an object store's, in one line)
        if failed is None:
            raise
        raise failed from None


def variable_array(wf, chunks: tuple[int, ...], spec: tuple, *, sizes: dict | None = None) -> dict:
    """``create_array`` arguments of a data variable (``(dims, dtype, fill, attrs)`` of
    layout.variable_specs): the block ``chunks`` along the sweep axes, whole along the rest."""
    dims, dtype, fill, attrs = spec
    sizes = sizes or sizes_of(wf)
    tail = tuple(sizes[d] for d in dims)
    return dict(
        shape=tuple(wf.shape) + tail,
        chunks=tuple(chunks) + tail,
        dtype=dtype,
        fill_value=fill,
        compressors=compressors_for(dtype),
        attributes=dict(attrs),
        dimension_names=tuple(wf.axis_names) + dims,
    )


def coordinate_array(spec: tuple) -> dict:
    """``create_array`` arguments of a coordinate (``(dim, values, attrs)`` of layout.coords) as
    xarray writes it: one chunk, its attributes with xarray's ``_FillValue`` for floats."""
    from zarr.codecs import ZstdCodec  # (deferred, as above)

    dim, values, *rest = spec
    values = np.asarray(values)
    attributes = dict(rest[0]) if rest else {}
    if values.dtype.kind == "f":
        attributes["_FillValue"] = _NAN_FILL
    fill = np.nan if values.dtype.kind == "f" else "" if values.dtype.kind in "TO" else 0  # (strings: labels)
    return dict(
        shape=values.shape,
        chunks=values.shape or (1,),
        dtype=values.dtype,
        fill_value=fill,
        compressors=[ZstdCodec(level=0, checksum=False)],
        attributes=attributes,
        dimension_names=(dim,),
    )


def _write_group(path: Path, attributes: dict) -> None:
    """Write a Zarr v3 group's metadata atomically (write a temporary file, rename)."""
    path.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path / "zarr.json", {"zarr_format": 3, "node_type": "group", "attributes": attributes})


def write_group_at(st, key, attributes: dict) -> None:
    """:func:`_write_group` of the group ``key`` in the store's storage (one whole object)."""
    st.write_bytes(
        f"{key.as_posix() if hasattr(key, 'as_posix') else key}/zarr.json",
        json.dumps({"zarr_format": 3, "node_type": "group", "attributes": attributes}).encode(),
    )


def begin_creation(wf, store) -> None:
    """Mark ``store`` (an empty or replaced directory) as being created for ``wf``."""
    storage.of(store).write_bytes(
        CREATING.as_posix(),
        json.dumps(
            {
                "fingerprint": wf.fingerprint,
                "simulation": simulation_identity(wf.canonical),
                "name": wf.name,
                "started": time.time(),
            }
        ).encode(),
    )


def gather_on_group(store, job, items: dict, *, open_group: bool = True) -> list:
    """Run ``job(group, name, item)`` for every item at once on the store's root group
    (zarr's async API); ``group`` is None with ``open_group=False``. Returns their results."""
    # (deferred, as above)
    import zarr.api.asynchronous
    from zarr.core.sync import sync

    async def run_all():
        group = (
            await zarr.api.asynchronous.open_group(store=storage.of(store).zarr_store(), mode="r+", zarr_format=3)
            if open_group
            else None
        )
        return await asyncio.gather(*(job(group, name, item) for name, item in items.items()))

    try:
        return sync(run_all())
    except Exception as exc:
        failed = storage.of(store).failure(exc, "writing the arrays")  # (an object store's, in one line)
        if failed is None:
            raise
        raise failed from None
