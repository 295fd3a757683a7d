"""Sampled designs: a workflow's ``sample`` section, its points, and the points that
``lifbatch refine`` and ``lifbatch fit`` add to a store.

A ``sample`` section is parsed by :func:`parse_sample` into a frozen
:class:`SampleSpec`; its points are drawn by scipy.stats.qmc (Sobol, Latin
hypercube) or numpy (uniform random), seeded by the workflow's seed, in the unit
cube, then mapped to each parameter's bounds (linearly, or evenly in the
logarithm). In the grid the design is one axis, ``sample``, the first (slowest)
dimension of the store, so that points added later are new blocks at the end:
the blocks that exist keep their numbers.

Points added by refinement or fitting are recorded in the section itself
(``added``: SI values per parameter, and each point's round), so that the
store's workflow always describes every point it holds. They are not part of
the simulation identity (:func:`lifbatch.identity.simulation_identity`): the store
stays the same simulation as the workflow that created it, grown.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .config import cache_dir
from .errors import WorkflowError
from .layout import AXIS_RE, MAX_AXIS_NAME, RESERVED_DIMS, RESERVED_VARS, ROUND, SAMPLE
from .messages import check_keys, err
from .values import parse_axis_values

__all__ = ["SampleSpec", "SampledParam", "METHODS", "SCALES", "unit_points"]

METHODS = ("sobol", "lhs", "random")
SCALES = ("linear", "log")
#: the largest design scipy's Sobol sequence gives (2**30 points); the caps of
#: lifbatch.limits refuse much less
MAX_N = 2**30
_KEYS = {"method", "n", "params", "added"}
_PARAM_KEYS = {"param", "bounds", "unit", "scale"}


@dataclass(frozen=True)
class SampledParam:
    """One sampled parameter: its coordinate name, dot path, SI bounds and scale."""

    label: str
    param: str
    low: float
    high: float
    scale: str  # "linear" or "log"
    unit: str  # SI unit
    display_unit: str  # as written

    def from_unit(self, x: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates in [0, 1] -> SI values within the bounds."""
        x = np.asarray(x, float)
        if self.scale == "log":
            lo, hi = math.log(self.low), math.log(self.high)
            return np.exp(lo + x * (hi - lo))
        return self.low + x * (self.high - self.low)

    def to_unit(self, v: np.ndarray) -> np.ndarray:
        """SI values -> unit-cube coordinates (the inverse of :meth:`from_unit`)."""
        v = np.asarray(v, float)
        if self.scale == "log":
            lo, hi = math.log(self.low), math.log(self.high)
            return (np.log(v) - lo) / (hi - lo)
        return (v - self.low) / (self.high - self.low)


@dataclass(frozen=True)
class SampleSpec:
    """A validated ``sample`` section."""

    method: str
    n: int
    params: tuple[SampledParam, ...]
    added: tuple[tuple[float, ...], ...] = ()  # per parameter: SI values of the added points
    rounds: tuple[int, ...] = ()  # per added point: its round (1, 2, ...)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(p.label for p in self.params)

    @property
    def size(self) -> int:
        return self.n + len(self.rounds)

    def design(self, seed: int) -> tuple[tuple[float, ...], ...]:
        """The design's points (without the added ones), per parameter, SI."""
        u = unit_points(self.method, self.n, len(self.params), seed)
        return tuple(tuple(float(x) for x in p.from_unit(u[:, j])) for j, p in enumerate(self.params))

    def values(self, seed: int) -> tuple[tuple[float, ...], ...]:
        """Every point (design, then added), per parameter, SI."""
        design = self.design(seed)
        if not self.rounds:
            return design
        return tuple(d + a for d, a in zip(design, self.added))

    def all_rounds(self) -> tuple[int, ...]:
        return (0,) * self.n + tuple(self.rounds)


def unit_points(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """``n`` points of the unit cube [0, 1)^d, a pure function of (method, n, d, seed).

    sobol: scipy.stats.qmc.Sobol, scrambled (its balance holds for n a power of 2);
    lhs: scipy.stats.qmc.LatinHypercube; random: numpy's default generator. All are
    seeded by a generator of ``[seed, 0x5A4D]`` (a stream of its own: no simulation
    draws from it).

    Importing scipy.stats takes 1-2.5 s, more than the rest of a small run, and every
    command that reads a sampled workflow needs its points; so the points are also
    kept in a cache file per (method, n, d, seed, scipy and numpy versions) under
    ``~/.cache/lifbatch/designs`` (``$XDG_CACHE_HOME``; ``LIFBATCH_DESIGN_CACHE=0``
    turns it off), read back when it is intact (tested against scipy's own).
    """
    if n == 0:
        return np.zeros((0, d))
    if method == "random":
        return _draw(method, n, d, seed)
    return _cached(method, int(n), int(d), int(seed)).copy()


@functools.lru_cache(maxsize=32)
def _cached(method: str, n: int, d: int, seed: int) -> np.ndarray:
    import importlib.metadata
    import os
    from pathlib import Path

    if os.environ.get("LIFBATCH_DESIGN_CACHE", "1") == "0":
        return _draw(method, n, d, seed)
    try:
        scipy_version = importlib.metadata.version("scipy")
    except importlib.metadata.PackageNotFoundError:
        return _draw(method, n, d, seed)
    root = Path(cache_dir("designs"))
    path = root / f"{method}-n{n}-d{d}-seed{seed}-scipy{scipy_version}-numpy{np.__version__}.npy"
    try:
        points = np.load(path, allow_pickle=False)
        if points.shape == (n, d) and points.dtype == np.float64 and np.all((points >= 0) & (points < 1)):
            return points
    except (OSError, ValueError):
        pass
    points = _draw(method, n, d, seed)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, points, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # no cache: the points are drawn again next time
    return points


def _draw(method: str, n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([int(seed), 0x5A4D])
    if method == "random":
        return rng.random((n, d))
    # (deferred: scipy's QMC only for a sobol or halton design; validate of a grid loads none)
    from scipy.stats import qmc

    if method == "lhs":
        return qmc.LatinHypercube(d, rng=rng).random(n)
    import warnings

    with warnings.catch_warnings():
        # "The balance properties of Sobol' points require n to be a power of 2": said in docs/workflow.md
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(d, scramble=True, rng=rng).random(n)


def add_to_section(raw_section: Mapping, spec: SampleSpec, points: np.ndarray, round_: int) -> dict:
    """The ``sample`` section as written, with ``points`` ((k, n_params), SI) added in ``round_``."""
    section = dict(raw_section)
    added = dict(section.get("added") or {})
    old_rounds = list(added.get("round", []))
    out = {"round": old_rounds + [int(round_)] * len(points)}
    for j, p in enumerate(spec.params):
        out[p.label] = list(added.get(p.label, [])) + [float(x) for x in np.asarray(points)[:, j]]
    section["added"] = out
    return section


def parse_sample(raw: Any, table: Mapping[str, Any], swept: Mapping[str, str]) -> SampleSpec:
    """The ``sample`` section -> :class:`SampleSpec` (raises WorkflowError naming the field).

    ``table``: the workflow's parameter table so far (workflow.ParamTable: dot path ->
    workflow.Param, with its dimension and unit as written); ``swept`` maps the parameters
    the grid sweeps to their axes.
    """

    example = "Example: sample: {method: sobol, n: 256, params: {mu: {param: inputs.mu.value, bounds: [0.6, 1.4]}}}"
    if not isinstance(raw, Mapping):
        raise err("sample", raw, "must be a mapping", example)
    check_keys(raw, _KEYS, "sample")
    method = raw.get("method", "sobol")
    if method not in METHODS:
        raise err("sample.method", method, f"must be one of {', '.join(METHODS)}", "Example: method: sobol")
    if "n" not in raw:
        raise WorkflowError("`sample.n` is required (the number of points). Example: n: 256", "sample.n", None)
    n = raw["n"]
    if (
        isinstance(n, bool)
        or not isinstance(n, (int, float))
        or not math.isfinite(n)
        or n != int(n)
        or not 0 <= n <= MAX_N
    ):
        raise err("sample.n", n, f"must be a whole number of points from 0 to {MAX_N}", "Example: n: 256")
    n = int(n)
    params_raw = raw.get("params")
    if not isinstance(params_raw, Mapping) or not params_raw:
        raise err(
            "sample.params",
            params_raw,
            "must map names to sampled parameters",
            "Example: params: {mu: {param: inputs.mu.value, bounds: [0.6, 1.4]}}",
        )
    params: list[SampledParam] = []
    seen: dict[str, str] = {}
    for label, spec in params_raw.items():
        where = f"sample.params.{label}"
        if (
            not isinstance(label, str)
            or not AXIS_RE.match(label)
            or label in RESERVED_DIMS
            or label in (SAMPLE, ROUND)
            or len(label) > MAX_AXIS_NAME
        ):
            raise err(
                where,
                label,
                "must be a name of letters, digits and '_' (not a dimension of the store)",
                "Example: params: {mu: ...}",
            )
        if label in RESERVED_VARS:
            raise err(
                where,
                label,
                "is the name of a variable of the results store",
                f"Rename it, e.g. params: {{input_{label}: ...}}",
            )
        if not isinstance(spec, Mapping):
            raise err(where, spec, "must be a mapping", "Example: {param: inputs.mu.value, bounds: [0.6, 1.4]}")
        check_keys(spec, _PARAM_KEYS, where)
        param = spec.get("param")
        if param is None:
            raise WorkflowError(
                f"`{where}.param` is required (the dot path of the sampled parameter). Example: param: inputs.mu.value",
                f"{where}.param",
                None,
            )
        if not isinstance(param, str) or param not in table:
            raise err(
                f"{where}.param",
                param,
                "is not a numeric parameter of this workflow",
                f"Sampleable: {', '.join(sorted(table))}",
            )
        if param in swept:
            raise err(
                f"{where}.param",
                param,
                f"is already swept by axis '{swept[param]}'",
                "Sample a parameter or sweep it, not both.",
            )
        if param in seen:
            raise err(f"{where}.param", param, f"is already sampled as '{seen[param]}'", "Sample each parameter once.")
        seen[param] = label
        bounds = spec.get("bounds")
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise err(f"{where}.bounds", bounds, "must be [low, high]", "Example: bounds: [0.6, 1.4]")
        scale = spec.get("scale", "linear")
        if scale not in SCALES:
            raise err(f"{where}.scale", scale, "must be linear or log", "Example: scale: log")
        sub = {"values": bounds}
        if "unit" in spec:
            sub["unit"] = spec["unit"]
        # the same units, conversions and checks as a sweep axis's values (distinct, finite)
        (low, high), si, disp = parse_axis_values(
            sub, f"{where}.bounds", param, dim=table[param].dim, display=table[param].display, with_param=False
        )
        if not low < high:
            raise err(f"{where}.bounds", bounds, "must be [low, high] with low < high", "Example: bounds: [0.6, 1.4]")
        if scale == "log" and low <= 0:
            raise err(
                f"{where}.bounds", bounds, "must be positive with scale: log", "Use scale: linear, or bounds above 0."
            )
        if param.endswith(".n"):
            raise err(
                f"{where}.param",
                param,
                "is a whole number; it cannot be sampled from a range",
                "Sweep it as a grid axis instead.",
            )
        params.append(
            SampledParam(label=label, param=param, low=low, high=high, scale=scale, unit=si, display_unit=disp)
        )
    added, rounds = _parse_added(raw.get("added"), params)
    return SampleSpec(method=method, n=n, params=tuple(params), added=added, rounds=rounds)


def _parse_added(raw: Any, params: list[SampledParam]) -> tuple[tuple, tuple]:
    """``added`` (written by lifbatch refine and fit): per parameter SI values, and ``round``."""
    if raw is None:
        return (), ()
    labels = [p.label for p in params]
    fix = "This section is written by lifbatch refine and fit; remove it to start from the design alone."
    if not isinstance(raw, Mapping):
        raise err("sample.added", raw, "must map round and each sampled parameter to lists", fix)
    check_keys(raw, set(labels) | {"round"}, "sample.added")
    rounds = raw.get("round")
    if not isinstance(rounds, list) or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in rounds):
        raise err("sample.added.round", rounds, "must be a list of rounds (whole numbers >= 1)", fix)
    added = []
    for p in params:
        vals = raw.get(p.label)
        if (
            not isinstance(vals, list)
            or len(vals) != len(rounds)
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in vals)
        ):
            raise err(f"sample.added.{p.label}", vals, f"must be a list of {len(rounds)} finite SI values", fix)
        added.append(tuple(float(v) for v in vals))
    return tuple(added), tuple(int(r) for r in rounds)
