"""The store's template, written by Zarr directly, is the one xarray would write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

import lifbatch
from lifbatch.layout import coords
from lifbatch.plan import plan_blocks
from lifbatch.store import create_store, root_attrs

ZIPPED = {
    "name": "tmpl",
    "trials": 3,
    "duration": "20 ms",
    "neuron": {"tau_m": "10 ms", "v_th": "1", "t_ref": "1 ms"},
    "inputs": {"d": {"kind": "constant", "value": "0.2 / ms"}},
    "sweep": {
        "I": {"param": "inputs.d.value", "values": [0.1, 0.2, 0.3], "unit": "1 / ms"},
        "tau": {
            "zip": {"neuron.tau_m": {"values": [5, 10], "unit": "ms"}, "neuron.t_ref": {"values": [1, 2], "unit": "ms"}}
        },
    },
    "record": {"v": {"trials": [0, 2]}},
}


def _meta(root: Path) -> dict:
    return {p.parent.relative_to(root).as_posix(): json.loads(p.read_text()) for p in root.glob("*/zarr.json")}


def test_template_matches_xarrays(tmp_path):
    wf = lifbatch.load_workflow(ZIPPED)
    blocking = plan_blocks(wf, points_per_task=2)
    ours = tmp_path / "ours.zarr"
    create_store(wf, ours, blocking)
    theirs = tmp_path / "xarray.zarr"
    base = xr.Dataset(coords=coords(wf), attrs=root_attrs(wf))
    base.attrs["chunks"] = json.dumps(list(blocking.chunks))
    base.to_zarr(theirs, mode="w", consolidated=False)
    mine, ref = _meta(ours), _meta(theirs)
    assert "neuron.t_ref" in ref  # a non-index coordinate is among them
    for name, meta in ref.items():
        assert mine[name] == meta, name
    root_ours = json.loads((ours / "zarr.json").read_text())["attributes"]
    root_ref = json.loads((theirs / "zarr.json").read_text())["attributes"]
    assert root_ours.pop("created") and root_ref.pop("created")
    assert root_ours == root_ref and root_ref["coordinates"] == "isi_bin_lower isi_bin_upper neuron.t_ref"
    ds, ref_ds = xr.open_zarr(ours, consolidated=False), xr.open_zarr(theirs, consolidated=False)
    assert set(ds.coords) == set(ref_ds.coords)
    for c in ref_ds.coords:
        assert ds[c].dims == ref_ds[c].dims and ds[c].attrs == ref_ds[c].attrs
        assert np.array_equal(ds[c].values, ref_ds[c].values) and ds[c].dtype == ref_ds[c].dtype


def test_resume_reads_the_attributes_without_xarray(tmp_path):
    from lifbatch.store import store_workflow

    wf = lifbatch.load_workflow(ZIPPED)
    create_store(wf, tmp_path / "s.zarr", plan_blocks(wf, points_per_task=2))
    attrs = store_workflow(tmp_path / "s.zarr")
    assert attrs.pop("coordinates") == "isi_bin_lower isi_bin_upper neuron.t_ref"  # xarray decodes it away
    assert attrs == dict(xr.open_zarr(tmp_path / "s.zarr", consolidated=False).attrs)
    assert attrs["fingerprint"] == wf.fingerprint
