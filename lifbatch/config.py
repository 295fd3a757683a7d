"""Execution configuration in ``dask.config`` (namespace ``lifbatch``), defaults in lifbatch.yaml."""

from __future__ import annotations

import os

import dask.config
import yaml

__all__ = ["get", "cache_dir"]

_fn = os.path.join(os.path.dirname(__file__), "lifbatch.yaml")
with open(_fn) as _f:
    _defaults = yaml.safe_load(_f)
dask.config.update_defaults(_defaults)


def get(key: str, default=None):
    """``dask.config.get("lifbatch." + key)``."""
    return dask.config.get(f"lifbatch.{key}", default=default)


def cache_dir(name: str) -> str:
    """lifbatch's cache directory ``name`` (``$XDG_CACHE_HOME/lifbatch/NAME``, by default
    ``~/.cache/lifbatch/NAME``): pint's parsed units, the designs' points."""
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lifbatch", name)
