"""``lifbatch export STORE --nwb OUT.nwb``: a store (or a selection of it) as an NWB file.

What goes where (docs/export.md):

- the ``Units`` table: one row per (point, trial): its spike times (s, exactly as
  ``lifbatch.spike_times`` decodes them), its observation interval (0 to the duration), and
  the columns ``point`` (the flat grid index), ``trial``, and one per sweep coordinate (each
  axis, a zipped axis's other parameters, a sampled design's ``sample``, parameters and
  ``sample_round``), in SI;
- one ``TimeSeries`` per recorded trace and point (``v_p<point>``, ``m_p<point>``, ...: time x
  recorded trials, SI units, rate 1 / ``record.v.every``) in ``acquisition``, the recorded
  inputs (``input_<drive>_p<point>``) in ``stimulus``;
- the file's metadata: the workflow as written (YAML) in ``notes``, the store's provenance
  (versions, host, command, runs; JSON) in ``data_collection``, the fingerprint as
  ``session_id``, the store's creation time as ``session_start_time``.

Written point by point with bounded memory: nothing is read before HDF5 asks for it, and
then one block of the store (one chunk along the sweep axes, as the planner sized it) at a
time, each pass with a progress bar (stderr). The file is written beside ``OUT`` and
renamed into place once complete: an interrupted export leaves no partial ``OUT``.
pynwb is imported here, inside the functions: ``lifbatch --help`` never imports it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import StoreError, WorkflowError, missing_extra
from .neo import points, select_points, trace_variables
from .store import open_results, summary_settings

__all__ = ["export_nwb", "ExportResult", "NWB_UNITS"]

#: NWB's unit strings (the schema asks for SI units written out) for lifbatch's SI units
NWB_UNITS = {
    "V": "volts",
    "A": "amperes",
    "S": "siemens",
    "s": "seconds",
    "Hz": "hertz",
    "ohm": "ohms",
    "F": "farads",
    "1": "n.a.",
    "V/s": "volts/second",
    "1/s": "1/second",
}


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_nwb` wrote: units rows, points, trials per point, trace series, spikes."""

    path: Path
    units: int
    points: int
    trials: int
    series: int
    spikes: int
    seconds: float


def _pynwb():
    try:  # (function-level: `lifbatch --help` and `validate` import no pynwb)
        import pynwb  # noqa: F401
        from hdmf.data_utils import AbstractDataChunkIterator  # noqa: F401
    except ImportError:
        raise missing_extra("lifbatch export", "export", "pynwb") from None


class _Blocks:
    """A variable of a selection read one block (the store's chunk along the sweep axes) at a
    time: ``point(index)`` reads the block holding that point unless it is the one held."""

    def __init__(self, store, sub, name: str, axes: list[str], **isel):
        self.store, self.name = store, name
        self.var = sub[name].isel(isel) if isel else sub[name]
        # (the data's own chunks: a coordinate along an axis may be chunked otherwise)
        chunks = dict(zip(self.var.dims, self.var.data.chunks)) if hasattr(self.var.data, "chunks") else {}
        # block boundaries along each axis (a Dataset in memory: one block)
        self.bounds = [np.cumsum((0,) + tuple(chunks.get(a, (sub.sizes[a],)))) for a in axes]
        self.axes = axes
        self.held: tuple | None = None
        self.data = np.empty(0)  # (the held block's values)
        self.reads = 0

    def point(self, index: tuple[int, ...]) -> np.ndarray:
        where = tuple(int(np.searchsorted(b, i, side="right") - 1) for b, i in zip(self.bounds, index))
        if where != self.held:
            region = {a: slice(int(b[w]), int(b[w + 1])) for a, b, w in zip(self.axes, self.bounds, where)}
            try:
                self.data = np.asarray(self.var.isel(region).values)
            except Exception as exc:  # (a chunk failing its checksum, undecodable, unreadable)
                at = ", ".join(f"{a}[{r.start}:{r.stop}]" for a, r in region.items()) or "the only point"
                raise StoreError(
                    f"store '{self.store}': {self.name} at {at} could not be read "
                    f"({type(exc).__name__}: {exc}); nothing was written. `lifbatch status "
                    f"{self.store} --verify` lists the damage, `lifbatch run WORKFLOW --store "
                    f"{self.store} --repair` recomputes it."
                ) from None
            self.held = where
            self.reads += 1
        local = tuple(i - int(b[w]) for i, b, w in zip(index, self.bounds, where))
        return self.data[local]


class _Progress:
    """One bar per pass over the points (the spikes, each trace variable), created when HDF5
    first asks for that pass's data."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled
        self.bars: dict[str, Any] = {}

    def step(self, what: str) -> None:
        if not self.enabled:
            return
        bar = self.bars.get(what)
        if bar is None:
            from tqdm import tqdm

            bar = self.bars[what] = tqdm(total=self.total, unit="pt", desc=what, file=sys.stderr, dynamic_ncols=True)
        bar.update(1)
        if bar.n >= self.total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _lazy(shape: tuple[int, ...], dtype, chunks):
    """An hdmf data iterator of ``shape`` whose chunks ``chunks()`` yields as (selection, array)
    only when HDF5 writes the dataset."""
    # (here: hdmf comes with pynwb, the `nwb` extra, checked by _pynwb() in one line)
    from hdmf.data_utils import AbstractDataChunkIterator, DataChunk

    class Lazy(AbstractDataChunkIterator):
        def __init__(self):
            self._it = None

        def __iter__(self):
            return self

        def __next__(self):
            if self._it is None:
                self._it = iter(chunks())
            selection, data = next(self._it)
            return DataChunk(data=data, selection=selection)

        def recommended_chunk_shape(self):
            return None

        def recommended_data_shape(self):
            return shape

        @property
        def dtype(self):
            return np.dtype(dtype)

        @property
        def maxshape(self):
            return shape

    return Lazy()


def _yaml(workflow_json: str) -> str:
    import yaml

    return yaml.safe_dump(json.loads(workflow_json), sort_keys=False, allow_unicode=True)


def _created(attrs) -> datetime:
    try:
        when = datetime.fromisoformat(attrs["created"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def export_nwb(
    store, out, *, sel=None, overwrite: bool = False, progress: bool = True, command: str | None = None
) -> ExportResult:
    """Write the spikes and recorded traces of ``store`` (or of the points and trials ``sel``
    picks) to the NWB file ``out``.

    Parameters
    ----------
    store : path  a lifbatch store
    out : path    the NWB file; an existing one is replaced only with ``overwrite``
    sel : list of "AXIS=VALUE" (as ``--sel`` reads them) or a mapping (as :func:`lifbatch.sel`)
    progress : bool  progress bars on stderr
    command : str  the command line, recorded as the file's ``source_script``

    Examples
    --------
    >>> export_nwb("results/quickstart.zarr", "quickstart.nwb", sel=["sigma=4 mV"])   # doctest: +SKIP
    """
    _pynwb()
    # (here: the `nwb` extra, checked by _pynwb() above in one line)
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from hdmf.common import ElementIdentifiers, VectorData, VectorIndex
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.file import Subject
    from pynwb.misc import Units

    started = time.perf_counter()
    out = Path(out)
    if out.suffix != ".nwb":
        raise WorkflowError(
            f"`--nwb` must name a .nwb file, got '{out}'. Example: --nwb results/sweep.nwb", "--nwb", str(out)
        )
    if out.exists() and not overwrite:
        raise WorkflowError(
            f"`--nwb {out}` exists. Give another path, or --overwrite to replace it.", "--nwb", str(out)
        )
    if not out.parent.is_dir():
        raise WorkflowError(
            f"`--nwb {out}`: its directory '{out.parent}' does not exist. Create it first.", "--nwb", str(out)
        )
    full = open_results(store)
    sub, trials = select_points(full, sel)
    axes = [str(a) for a in sub["status"].dims]
    pts = list(points(sub, full))
    dt, n_steps = float(full.attrs["dt"]), int(full.attrs["n_steps"])
    duration = max(float(full.attrs["duration"]), n_steps * dt)
    tpos = [int(np.flatnonzero(full["trial"].values == t)[0]) for t in trials]
    counts = np.asarray(sub["spike_count"].isel(trial=tpos).values, dtype=np.int64).reshape(len(pts), len(trials))
    n_units = len(pts) * len(trials)
    index = np.cumsum(counts.ravel())
    total = int(index[-1]) if n_units else 0
    bars = _Progress(len(pts), progress)

    # ---- the units table: spike times read a block at a time, as HDF5 asks for them
    bits = _Blocks(store, sub, "spike_bits", axes, trial=tpos)

    def spike_chunks():
        at = 0
        for k, point in enumerate(pts):
            steps = np.unpackbits(bits.point(point.index), axis=-1, count=n_steps)
            times = [(np.nonzero(steps[i])[0] + 1) * dt for i in range(len(trials))]  # as spike_times decodes
            found = np.array([len(t) for t in times])
            if not np.array_equal(found, counts[k]):
                raise StoreError(
                    f"store '{store}': at {point.label}, spike_count says {counts[k].tolist()} spikes "
                    f"per trial but spike_bits holds {found.tolist()}: the store is damaged. "
                    f"`lifbatch status {store} --verify` lists what, `lifbatch run WORKFLOW --store "
                    f"{store} --repair` recomputes it."
                )
            n = int(found.sum())
            bars.step("spike times")
            if n:
                yield slice(at, at + n), np.concatenate(times)
                at += n

    desc = "spike times (s) of each trial at each point: spikes at (k + 1) dt, k the step"
    spike_data = (
        H5DataIO(_lazy((total,), np.float64, spike_chunks), compression="gzip", compression_opts=4)
        if total
        else np.zeros(0)
    )
    spike_times = VectorData(name="spike_times", description=desc, data=spike_data)
    # (the index before its column: hdmf 4 drops an iterator column it meets first from its length check,
    # and then misses it as the index's target)
    columns = [VectorIndex(name="spike_times_index", data=index, target=spike_times), spike_times]
    intervals = VectorData(
        name="obs_intervals",
        description="the simulated interval (s): 0 to the duration",
        data=np.tile([0.0, duration], (n_units, 1)),
    )
    columns += [intervals, VectorIndex(name="obs_intervals_index", data=np.arange(1, n_units + 1), target=intervals)]
    columns.append(
        VectorData(
            name="point",
            description=f"the point's flat index in the store's grid (C order of its sweep axes {axes})",
            data=np.repeat([p.flat for p in pts], len(trials)),
        )
    )
    columns.append(
        VectorData(
            name="trial",
            description="the trial (realization) of the point",
            data=np.tile(np.asarray(trials, dtype=np.int64), len(pts)),
        )
    )
    for name, (_, unit, param, disp) in pts[0].params.items() if pts else ():
        values = np.repeat([p.params[name][0] for p in pts], len(trials))
        what = (
            f"{param} in {unit} (SI; the workflow writes it in {disp})"
            if unit not in ("", "1")
            else f"{param} (dimensionless)"
            if name != param
            else name
        )
        column = name if name not in ("point", "trial", "id", "spike_times", "obs_intervals") else f"param_{name}"
        columns.append(VectorData(name=column, description=f"sweep coordinate {name}: {what}", data=values))
    units = Units(
        name="units",
        description=f"one row per trial of each simulated point: {len(pts)} points x "
        f"{len(trials)} trials (neurons simulated independently, no electrodes)",
        id=ElementIdentifiers(name="id", data=np.arange(n_units)),
        columns=columns,
        resolution=dt,
    )

    attrs = full.attrs
    prov = {k: attrs[k] for k in ("provenance", "runs", "versions") if k in attrs}
    prov = {k: json.loads(v) if isinstance(v, str) else v for k, v in prov.items()}
    workflow = json.loads(attrs.get("workflow", "{}"))
    model = (workflow.get("neuron") or {}).get("model", "lif")
    nwb = NWBFile(
        session_description=attrs.get("description") or f"lifbatch sweep {attrs.get('name')}",
        identifier=str(uuid.uuid4()),
        session_start_time=_created(attrs),
        session_id=str(attrs.get("fingerprint")),
        experiment_description=(
            f"Simulated with lifbatch {attrs.get('lifbatch_version')}: neuron model {model}, "
            f"{len(pts)} of {int(np.prod([full.sizes[a] for a in axes]))} points x "
            f"{len(trials)} of {full.sizes['trial']} trials, dt {dt * 1e3:g} ms, "
            f"{duration * 1e3:g} ms; summaries {json.dumps(summary_settings(attrs['canonical']))}"
        ),
        notes="lifbatch workflow (as written, after its --set overrides), YAML:\n" + _yaml(attrs.get("workflow", "{}")),
        data_collection="lifbatch provenance (JSON: versions, host, CPU, workflow file and git commit, input "
        "files' sha256, command lines, runs):\n" + json.dumps(prov, indent=1, sort_keys=True),
        source_script=f"lifbatch {__version__}: {command or 'lifbatch.nwb.export_nwb'}",
        source_script_file_name="lifbatch",
        keywords=["simulation", "lifbatch", model],
    )
    nwb.units = units
    # NWB (and nwbinspector, critically) wants a subject with a sex and an age: here the simulated model,
    # sex "U" (unknown: none), "born" when its store was created (age 0); no species (there is no animal)
    nwb.subject = Subject(
        subject_id=f"lifbatch-{attrs.get('name')}-{attrs.get('fingerprint')}",
        sex="U",
        date_of_birth=nwb.session_start_time,
        description=f"simulated {model} neurons (lifbatch workflow {attrs.get('name')}, fingerprint "
        f"{attrs.get('fingerprint')}), no animal",
    )

    # ---- the recorded traces: one TimeSeries per variable and point
    traces = trace_variables(sub)
    recorded = [int(t) for t in sub["trace_trial"].values] if traces else []
    kept = [j for j, t in enumerate(recorded) if t in trials]
    series = 0
    if traces and kept:
        every = float(sub["trace_time"].values[1])
        n_time = sub.sizes["trace_time"]
        for name in traces:
            reader = _Blocks(store, sub, name, axes, trace_trial=kept)
            unit = sub[name].attrs.get("units", "1")
            for point in pts:

                def chunk(point=point, reader=reader, name=name):
                    data = reader.point(point.index).T  # (time, recorded trial)
                    bars.step(name)
                    yield (slice(0, n_time), slice(0, len(kept))), np.ascontiguousarray(data)

                ts = TimeSeries(
                    name=f"{name}_p{point.flat}",
                    unit=NWB_UNITS.get(unit, unit),
                    data=H5DataIO(
                        _lazy((n_time, len(kept)), np.float64, chunk), compression="gzip", compression_opts=4
                    ),
                    starting_time=0.0,
                    rate=1.0 / every,
                    description=f"{sub[name].attrs.get('long_name', name)} ({unit}) at {point.label} (point "
                    f"{point.flat}); columns: trials {[recorded[j] for j in kept]}",
                    comments=f"sampled every {every * 1e3:g} ms from t = 0; lifbatch variable {name}",
                )
                (nwb.add_stimulus if name.startswith("input_") else nwb.add_acquisition)(ts)
                series += 1

    part = out.with_name(f".{out.stem}.{os.getpid()}.part.nwb")
    try:
        with NWBHDF5IO(str(part), "w") as io:
            io.write(nwb)
        os.replace(part, out)
    finally:
        bars.close()
        if part.exists():
            part.unlink()
    return ExportResult(out, n_units, len(pts), len(trials), series, total, time.perf_counter() - started)
