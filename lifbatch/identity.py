"""A workflow's identities, from its canonical JSON alone (pure: no store, no I/O).

What a store records of the workflow that made it (:attr:`Workflow.canonical`) answers
three questions: which simulation it computed (:func:`simulation_identity`, what
resuming compares), with which summary settings (:func:`summary_settings`), and from
which input files (:func:`input_files`). The store, the sweep's plan and the
provenance record all ask them here, so none of them asks another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

__all__ = [
    "simulation_identity",
    "summary_settings",
    "input_files",
    "with_summaries",
    "with_store_summaries",
    "describe_summaries",
]


def input_files(canonical: str | None) -> dict:
    """{drive: sha256} of each input file in a (store's) canonical workflow JSON."""
    drives = json.loads(canonical).get("drives", []) if canonical else []
    return {d["name"]: d["file_sha256"] for d in drives if d.get("file_sha256")}


def simulation_identity(canonical: str) -> str:
    """The identity of what a store's simulation computed (the spikes and V samples): the
    workflow's canonical JSON less its ``summaries``, hashed. Resuming compares it, so that
    recomputing the summaries (``lifbatch summarize``), or adding points to a sampled design
    (``lifbatch refine``, ``lifbatch fit``), does not make a store another workflow's."""
    spec = json.loads(canonical)
    spec.pop("summaries", None)
    spec.pop("sample_added", None)  # the points refine and fit added: the same simulation, grown
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def summary_settings(canonical: str) -> dict:
    """The summary settings (SI) recorded in a canonical workflow JSON."""
    return dict(json.loads(canonical).get("summaries") or {})


def with_summaries(wf, settings: dict):
    """``wf`` with the summary settings (SI, as :func:`summary_settings` gives them) of a store."""
    spec = json.loads(wf.canonical)
    spec["summaries"] = settings
    return dataclasses.replace(
        wf,
        warmup=settings["warmup"],
        isi_edges=tuple(settings["isi_edges"]),
        moments_every=settings["moments_every"],
        max_lag=settings["max_lag"],
        moments_warmup=settings.get("moments_warmup"),
        canonical=json.dumps(spec, sort_keys=True, separators=(",", ":")),
    )


def with_store_summaries(wf, canonical: str | None):
    """``wf`` (a store's workflow, loaded from its ``workflow`` attribute) with the summary
    settings of the store's canonical JSON: those ``lifbatch summarize`` recorded,
    ``summaries.moments_warmup`` included, which no workflow file has."""
    settings = summary_settings(canonical) if canonical else {}
    return with_summaries(wf, settings) if settings else wf


def describe_summaries(settings: dict) -> str:
    """One line: warmup, ISI bins, moments grid and autocovariance lags, in ms."""
    edges = settings.get("isi_edges") or []
    bins = (
        f"{len(edges) - 1} ISI bins over {1e3 * edges[0]:g}-{1e3 * edges[-1]:g} ms" if len(edges) > 1 else "no ISI bins"
    )
    kept = settings.get("moments_warmup")
    kept = (
        ""
        if kept is None
        else (
            f" (V moments after {1e3 * kept:g} ms: summarize could not recompute them "
            "without V of every trial on the moments grid)"
        )
    )
    return (
        f"warmup {1e3 * settings.get('warmup', 0):g} ms{kept}, {bins}, moments every "
        f"{1e3 * settings.get('moments_every', 0):g} ms, autocov up to {1e3 * settings.get('max_lag', 0):g} ms"
    )
