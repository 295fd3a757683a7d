"""Workflow loading and validation (docs/workflow.md).

Every bad input gives a one-line WorkflowError naming the field, quoting the
value as written and saying how to fix it; the tests pin the field and the
value with ``match=``. Valid inputs are converted exactly to SI.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import re
import string
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lifbatch.errors import WorkflowError
from lifbatch.workflow import TOP_KEYS, Workflow, apply_overrides, load_workflow

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"

BASE = {
    "name": "t",
    "duration": "100 ms",
    "dt": "0.1 ms",
    "trials": 2,
    "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "r_m": "100 Mohm"},
    "inputs": {"drive": {"kind": "constant", "value": "250 pA"}},
    "sweep": {"tau": {"param": "neuron.tau_m", "values": [10, 20], "unit": "ms"}},
    "record": {"v": {"trials": [0], "every": "0.1 ms"}},
    "summaries": {"moments": {"every": "1 ms"}},
}


def base(**top) -> dict:
    """A fresh copy of a small valid workflow, with top-level keys replaced."""
    raw = copy.deepcopy(BASE)
    raw.update(top)
    return raw


def axis(**spec) -> dict:
    """A workflow whose only sweep axis is ``tau`` = ``spec`` (default param neuron.tau_m)."""
    return base(sweep={"tau": {"param": "neuron.tau_m", **spec}})


def pattern(field: str, value: str) -> str:
    """match= for a message naming ``field`` and quoting ``value``."""
    return re.escape(f"`{field}`") + ".*" + re.escape(f"'{value}'")


def check_one_line(exc: WorkflowError, field: str | None = None) -> None:
    msg = str(exc)
    assert "\n" not in msg and "\r" not in msg, msg
    assert "Traceback" not in msg
    if field is not None:
        assert exc.field == field, (exc.field, msg)
    # what is wrong, the value, then the fix: at least two sentences
    assert len([s for s in msg.split(". ") if s.strip()]) >= 2, msg


def load(raw, **kw) -> Workflow:
    return load_workflow(raw, **kw)


# --------------------------------------------------------------------------- #
# valid inputs
# --------------------------------------------------------------------------- #
def test_base_workflow_loads():
    wf = load(base())
    assert wf.name == "t" and wf.trials == 2 and wf.method == "euler"
    assert wf.shape == (2,) and wf.axis_names == ("tau",) and wf.n_points == 2
    assert wf.n_steps == 1000 and wf.dt == 1e-4 and wf.duration == 0.1
    assert wf.record_trials == (0,) and wf.record_stride == 1 and wf.moments_stride == 10
    assert [d.role for d in wf.drives] == ["current"]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_workflow_loads(path):
    wf = load_workflow(path)
    assert wf.name == path.stem  # the default store is results/<name>.zarr
    assert len(wf.fingerprint) == 16
    # the saved source loads again, from anywhere, to the same workflow
    again = load_workflow(wf.to_dict())
    assert again.fingerprint == wf.fingerprint
    pruned = wf.prune(2)
    assert all(n <= 2 for n in pruned.shape)


def test_exact_si_conversion():
    raw = base(sweep={})
    raw["neuron"].update(e_l="-60 mV", v_reset="-70 mV", t_ref="2 ms")
    wf = load(raw)
    assert wf.params["inputs.drive.value"] == 2.5e-10  # not 250 * 1e-12 = 2.5000000000000004e-10
    assert wf.params["neuron.e_l"] == -0.06
    assert wf.params["neuron.r_m"] == 1e8
    assert wf.params["neuron.tau_m"] == 0.02
    assert wf.params["neuron.t_ref"] == 0.002
    assert wf.dt == 0.0001
    assert wf.param_units["neuron.e_l"] == "V" and wf.param_units["inputs.drive.value"] == "A"
    assert wf.display_units["neuron.e_l"] == "mV"
    assert wf.voltage_unit == "V" and wf.voltage_display == "mV"


def test_module_docstring_example():
    wf = load_workflow(
        {
            "name": "demo",
            "duration": "100 ms",
            "neuron": {"tau_m": "10 ms", "v_th": 1},
            "inputs": {"drive": {"kind": "constant", "value": "0.12 / ms"}},
        }
    )
    assert (wf.n_steps, wf.params["neuron.tau_m"]) == (1000, 0.01)
    assert wf.drives[0].role == "voltage_rate" and wf.voltage_unit == "1"
    assert wf.shape == () and wf.n_points == 1


def test_defaults():
    wf = load({"name": "d", "duration": "10 ms", "neuron": {"tau_m": "10 ms", "v_th": 1}})
    assert wf.seed == 0 and wf.trials == 1 and wf.dt == 1e-4 and wf.method == "euler"
    assert wf.params["neuron.e_l"] == 0 and wf.params["neuron.v_reset"] == 0
    assert wf.params["neuron.v_init"] == 0 and wf.params["neuron.t_ref"] == 0
    assert wf.params["neuron.r_m"] == 1 and wf.drives == () and wf.sweep == ()
    assert wf.warmup == 0 and wf.record_trials == ()


def test_tau_m_inf_means_no_leak():
    wf = load(
        {
            "name": "d",
            "duration": "10 ms",
            "neuron": {"tau_m": "inf", "v_th": 1},
            "inputs": {"drive": {"kind": "constant", "value": "0.1 / ms"}},
        }
    )
    assert wf.params["neuron.tau_m"] == float("inf")


def test_workflow_is_frozen():
    wf = load(base())
    with pytest.raises(dataclasses.FrozenInstanceError):
        wf.dt = 1.0  # type: ignore[misc]


def test_workflow_error_is_a_picklable_value_error():
    with pytest.raises(ValueError) as info:
        load(base(dt="0 ms"))
    exc = pickle.loads(pickle.dumps(info.value))
    assert isinstance(exc, WorkflowError)
    assert (str(exc), exc.field, exc.value) == (str(info.value), "dt", "0 ms")


# ---- sweep axes ---------------------------------------------------------------
def test_axis_values_with_unit():
    (ax,) = load(axis(values=[5, 7.5, 10], unit="ms")).sweep
    assert ax.values == ((0.005, 0.0075, 0.01),)
    assert ax.units == ("s",) and ax.display_units == ("ms",)
    assert ax.coord.tolist() == [0.005, 0.0075, 0.01]


def test_axis_values_as_quantities():
    (ax,) = load(axis(values=["10 ms", "0.02 s", "30ms"])).sweep
    assert ax.values == ((0.01, 0.02, 0.03),)


@pytest.mark.parametrize(
    "unit, param",
    [
        ("ms", "neuron.tau_m"),
        ("pA", "inputs.drive.value"),
        ("Mohm", "neuron.r_m"),
        ("minute", "neuron.tau_m"),
        ("mV", "neuron.e_l"),
        ("us", "neuron.t_ref"),
    ],
)
def test_axis_numbers_convert_as_the_same_quantities_written_out(unit, param):
    # numbers with an axis unit take one Decimal factor per unit (fast); a quantity
    # written out goes through pint value by value: the floats must be the same
    rng = np.random.default_rng(7)
    numbers = sorted(set([0.3, 1, 3, 12345] + [float(x) for x in rng.uniform(0.2, 500, 300)]))
    by_unit = load(base(sweep={"x": {"param": param, "values": numbers, "unit": unit}})).sweep[0]
    written = load(base(sweep={"x": {"param": param, "values": [f"{x!r} {unit}" for x in numbers]}})).sweep[0]
    assert by_unit.values == written.values
    assert by_unit.display_units == (unit,)


def test_axis_of_10_4_points_parses_without_a_quantity_per_value(monkeypatch):
    import lifbatch.units as u

    calls = 0
    real = u.to_si

    def counting(q):
        nonlocal calls
        calls += 1
        return real(q)

    monkeypatch.setattr(u, "to_si", counting)
    (ax,) = load(axis(linspace=[1, 100, 10_000], unit="ms")).sweep
    assert ax.size == 10_000 and ax.coord[0] == 0.001 and ax.coord[-1] == 0.1
    assert calls < 50  # the neuron's and inputs' own parameters, not one per axis value


def test_axis_single_value():
    (ax,) = load(axis(values=15, unit="ms")).sweep
    assert ax.values == ((0.015,),)


def test_axis_linspace():
    (ax,) = load(axis(linspace=[10, 20, 11], unit="ms")).sweep
    assert ax.size == 11
    np.testing.assert_allclose(ax.coord, np.linspace(0.01, 0.02, 11), rtol=1e-15)
    assert ax.coord[0] == 0.01 and ax.coord[-1] == 0.02
    assert ax.coord[3] == 0.013  # exact decimal, selectable by value


def test_axis_linspace_is_exact_in_decimals():
    raw = base(sweep={"I": {"param": "inputs.drive.value", "linspace": [0, 1, 21], "unit": "nA"}})
    (ax,) = load(raw).sweep
    assert ax.coord[3] == 1.5e-10  # numpy would give 0.15000000000000002 nA
    assert ax.coord.tolist() == [float(Decimal(k) * Decimal("0.05e-9")) for k in range(21)]


def test_axis_logspace_is_geometric_from_start_to_stop():
    (ax,) = load(axis(logspace=[1, 100, 5], unit="ms")).sweep
    assert ax.size == 5
    assert ax.coord[0] == 0.001 and ax.coord[-1] == 0.1
    np.testing.assert_allclose(ax.coord, np.geomspace(1e-3, 1e-1, 5), rtol=1e-14)
    ratios = ax.coord[1:] / ax.coord[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)
    assert ax.coord[2] == pytest.approx(0.01, rel=1e-15)


def test_axis_range_includes_stop_on_the_grid():
    raw = base(sweep={"x": {"param": "neuron.t_ref", "range": [0, 1, 0.05], "unit": "ms"}})
    (ax,) = load(raw).sweep
    assert ax.size == 21
    assert ax.coord[-1] == 0.001
    raw = base(sweep={"x": {"param": "inputs.drive.value", "range": [0, 1, 0.05], "unit": "A"}})
    (ax,) = load(raw).sweep
    assert ax.coord[3] == 0.15  # exactly, not 0.15000000000000002
    assert ax.coord.tolist() == [float(Decimal("0.05") * k) for k in range(21)]


@pytest.mark.parametrize(
    "spec, expected",
    [
        ([0, 1, 0.3], [0, 0.3, 0.6, 0.9]),  # stop off the grid: excluded
        ([0, 0.9, 0.3], [0, 0.3, 0.6, 0.9]),  # on the grid: included
        ([1, 0, -0.25], [1, 0.75, 0.5, 0.25, 0]),  # downwards
        ([2, 2, 1], [2]),  # a single point
        ([0.1, 0.3, 0.1], [0.1, 0.2, 0.3]),  # 0.3 is on the grid (in decimals)
        ([0, 1, 1 / 3], [0, 1 / 3, 2 / 3, 0.9999999999999999]),  # stop within float error of the grid
    ],
)
def test_axis_range_forms(spec, expected):
    raw = base(sweep={"x": {"param": "inputs.drive.value", "range": spec, "unit": "A"}})
    (ax,) = load(raw).sweep
    assert ax.coord.tolist() == expected


def test_axis_zip_moves_parameters_together():
    raw = base(
        sweep={
            "cell": {
                "zip": {
                    "neuron.tau_m": {"values": [10, 20, 30], "unit": "ms"},
                    "neuron.t_ref": {"linspace": [1, 3, 3], "unit": "ms"},
                }
            }
        }
    )
    wf = load(raw)
    (ax,) = wf.sweep
    assert ax.params == ("neuron.tau_m", "neuron.t_ref") and ax.size == 3 and wf.shape == (3,)
    assert ax.values == ((0.01, 0.02, 0.03), (0.001, 0.002, 0.003))
    p = wf.point_params((2,))
    assert p["neuron.tau_m"] == 0.03 and p["neuron.t_ref"] == 0.003
    assert p["inputs.drive.value"] == 2.5e-10


def test_cartesian_product_in_written_order():
    raw = base(
        sweep={
            "I": {"param": "inputs.drive.value", "values": [100, 200, 300], "unit": "pA"},
            "tau": {"param": "neuron.tau_m", "values": [10, 20], "unit": "ms"},
        }
    )
    wf = load(raw)
    assert wf.axis_names == ("I", "tau") and wf.shape == (3, 2) and wf.n_points == 6
    p = wf.point_params((1, 0))
    assert p["inputs.drive.value"] == 2e-10 and p["neuron.tau_m"] == 0.01


def test_sweep_display_unit_for_rates():
    raw = {
        "name": "p",
        "duration": "100 ms",
        "neuron": {"tau_m": "12 ms", "v_th": 1},
        "inputs": {"drive": {"kind": "constant", "value": "0.1 / ms"}},
        "sweep": {"I": {"param": "inputs.drive.value", "linspace": [0, 1, 21], "unit": "1 / ms"}},
    }
    (ax,) = load(raw).sweep
    assert ax.coord[13] == 650.0 and ax.coord[3] == 150.0  # 1/s, exact
    assert ax.display_units == ("1 / ms",)


# ---- overrides ------------------------------------------------------------------
def test_overrides_as_strings(tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(base()))
    wf = load_workflow(path, overrides=["neuron.tau_m=30 ms", "trials=5", 'neuron.t_ref="2 ms"', "record.v.trials=all"])
    assert wf.params["neuron.tau_m"] == 0.03 and wf.trials == 5
    assert wf.params["neuron.t_ref"] == 0.002 and wf.record_trials == (0, 1, 2, 3, 4)
    # the override is part of the saved workflow and of the fingerprint
    assert wf.to_dict()["neuron"]["tau_m"] == "30 ms"
    assert wf.fingerprint != load_workflow(path).fingerprint


def test_override_from_the_brief(tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(base(sweep={})))
    assert load_workflow(path, overrides=["neuron.tau_m=20 ms"]).params["neuron.tau_m"] == 0.02
    assert load_workflow(path, overrides=["neuron.tau_m=5 ms"]).params["neuron.tau_m"] == 0.005


def test_overrides_as_mapping_do_not_touch_the_input():
    raw = base()
    wf = load(raw, overrides={"neuron.tau_m": "30 ms", "sweep.tau.values": [1, 2, 3], "seed": 7})
    assert wf.params["neuron.tau_m"] == 0.03 and wf.seed == 7 and wf.shape == (3,)
    assert raw == BASE


def test_override_can_add_a_section():
    raw = base()
    del raw["summaries"]
    wf = load(raw, overrides=["summaries.warmup=10 ms"])
    assert wf.warmup == 0.01


def test_apply_overrides_reads_values_as_yaml():
    out = apply_overrides({"a": {"b": 1}}, ["a.b=[1, 2]", "a.c=x y", "d=true", "e="])
    assert out == {"a": {"b": [1, 2], "c": "x y"}, "d": True, "e": ""}


def test_override_to_an_unknown_key_is_an_error():
    with pytest.raises(WorkflowError, match=re.escape("`neuron.tau` is not a known key") + ".*Did you mean `tau_m`"):
        load(base(), overrides=["neuron.tau=30 ms"])


# ---- fingerprint ----------------------------------------------------------------
def test_fingerprint_ignores_key_order_units_name_and_description(tmp_path):
    a = base(description="one")
    b = {k: a[k] for k in reversed(list(a))}
    b["neuron"] = {k: a["neuron"][k] for k in reversed(list(a["neuron"]))}
    b["neuron"]["tau_m"] = "0.02 s"
    b["neuron"]["r_m"] = "0.1 Gohm"
    b["dt"] = "100 us"
    b["inputs"] = {"drive": {"value": "0.25 nA", "kind": "constant"}}
    b["sweep"] = {"tau": {"unit": "s", "values": [0.01, 0.02], "param": "neuron.tau_m"}}
    b["name"] = "another-name"
    b["description"] = "something else"
    pa, pb = tmp_path / "a.yaml", tmp_path / "b.yaml"
    pa.write_text(yaml.safe_dump(a, sort_keys=False))
    pb.write_text(yaml.safe_dump(b, sort_keys=False))
    fa, fb = load_workflow(pa).fingerprint, load_workflow(pb).fingerprint
    assert fa == fb
    assert load(a).fingerprint == fa  # from a dict as from a file
    assert load(a).fingerprint == load(a).fingerprint


@pytest.mark.parametrize(
    "override",
    [
        {"neuron.tau_m": "21 ms"},
        {"seed": 1},
        {"trials": 3},
        {"dt": "0.05 ms"},
        {"method": "exact"},
        {"inputs.drive.value": "251 pA"},
        {"sweep.tau.values": [10, 30]},
        {"summaries.warmup": "1 ms"},
        {"record.v.trials": [1]},
    ],
)
def test_fingerprint_changes_with_any_result_changing_value(override):
    assert load(base(), overrides=override).fingerprint != load(base()).fingerprint


def test_fingerprint_covers_timed_array_contents(tmp_path):
    data = tmp_path / "a.csv"
    data.write_text("1\n2\n3\n")
    raw = base(sweep={}, inputs={"rec": {"kind": "timed_array", "file": str(data), "dt": "1 ms", "unit": "pA"}})
    before = load(raw).fingerprint
    other = tmp_path / "b.csv"
    other.write_text("1\n2\n4\n")
    raw["inputs"]["rec"]["file"] = str(other)
    assert load(raw).fingerprint != before


def test_timed_array_path_is_relative_to_the_workflow_file(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "rec.npy", np.array([[0.0, 1.0], [2.0, 3.0]]))
    raw = base(inputs={"rec": {"kind": "timed_array", "file": "data/rec.npy", "dt": "1 ms", "unit": "pA"}})
    (tmp_path / "wf.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path.parent)
    wf = load_workflow(tmp_path / "wf.yaml")
    assert wf.drives[0].option("file") == str(tmp_path / "data" / "rec.npy")
    assert (
        wf.prune(1).fingerprint == load_workflow(tmp_path / "wf.yaml", overrides={"sweep.tau.values": [10]}).fingerprint
    )


# ---- prune ------------------------------------------------------------------------
def test_prune_keeps_the_first_values_of_every_axis():
    raw = base(
        sweep={
            "I": {"param": "inputs.drive.value", "linspace": [100, 300, 5], "unit": "pA"},
            "cell": {
                "zip": {
                    "neuron.tau_m": {"values": ["10 ms", "20 ms", "30 ms"]},
                    "neuron.t_ref": {"range": [1, 3, 1], "unit": "ms"},
                }
            },
            "sigma": {"param": "neuron.v_th", "values": [-50], "unit": "mV"},
        }
    )
    wf = load(raw)
    assert wf.shape == (5, 3, 1)
    small = wf.prune(2)
    assert small.shape == (2, 2, 1) and small.axis_names == wf.axis_names
    for big_ax, small_ax in zip(wf.sweep, small.sweep):
        assert small_ax.params == big_ax.params
        assert small_ax.values == tuple(v[: small_ax.size] for v in big_ax.values)
        assert small_ax.display_units == big_ax.display_units
    assert small.params == wf.params and small.dt == wf.dt and small.trials == wf.trials
    assert small.fingerprint != wf.fingerprint
    assert wf.prune(10).fingerprint == wf.fingerprint
    assert wf.shape == (5, 3, 1)  # untouched


def test_prune_without_sweep():
    wf = load(base(sweep={}))
    assert wf.prune().fingerprint == wf.fingerprint


# --------------------------------------------------------------------------- #
# bad inputs: each (workflow, field, value as quoted in the message)
# --------------------------------------------------------------------------- #
def _set(path: str, value):
    """A workflow with one dot-path key (sections split on '.') set to ``value``."""
    return apply_overrides(base(), {path: value})


def _without(path: str):
    raw = base()
    *parents, last = path.split(".")
    node = raw
    for p in parents:
        node = node[p]
    del node[last]
    return raw


def _dt_above_tau():
    raw = base(dt="1 ms", sweep={}, record={"v": {"trials": [0], "every": "1 ms"}})
    raw["neuron"]["tau_m"] = "0.5 ms"
    return raw


def _dt_above_swept_tau():
    raw = base(dt="1 ms", record={"v": {"trials": [0], "every": "1 ms"}})
    raw["sweep"]["tau"]["values"] = [20, 0.5, 10]
    return raw


def _dt_above_zipped_tau():
    raw = _dt_above_swept_tau()
    raw["sweep"] = {
        "cell": {
            "zip": {
                "neuron.tau_m": {"linspace": [0.25, 2.25, 3], "unit": "ms"},
                "neuron.t_ref": {"values": [1, 2, 3], "unit": "ms"},
            }
        }
    }
    return raw


def _timed_array(tmp_path, columns: int, trials: int = 2):
    np.savetxt(tmp_path / "rec.csv", np.arange(10.0 * columns).reshape(10, columns), delimiter=",")
    return base(
        trials=trials,
        inputs={"rec": {"kind": "timed_array", "file": str(tmp_path / "rec.csv"), "dt": "1 ms", "unit": "pA"}},
    )


BAD = {
    # unknown keys, at every level
    "unknown top key": (base(foo="bar"), "foo", "bar"),
    "unknown neuron key": (_set("neuron.tau", "20 ms"), "neuron.tau", "20 ms"),
    "unknown input key": (_set("inputs.drive.amp", "1 pA"), "inputs.drive.amp", "1 pA"),
    "unknown axis key": (_set("sweep.tau.step", 1), "sweep.tau.step", "1"),
    "unknown summaries key": (_set("summaries.bins", 5), "summaries.bins", "5"),
    "unknown record key": (_set("record.i", "all"), "record.i", "all"),
    "unknown record.v key": (_set("record.v.trial", 0), "record.v.trial", "0"),
    "unknown noise key": (base(noise={"shared": ["tau"]}), "noise.shared", '["tau"]'),
    "unknown zip key": (
        base(sweep={"z": {"zip": {"neuron.tau_m": {"values": [1], "unit": "ms", "param": "x"}}}}),
        "sweep.z.zip.neuron.tau_m.param",
        "x",
    ),
    # dimensions
    "tau_m in mV": (_set("neuron.tau_m", "5 mV"), "neuron.tau_m", "5 mV"),
    "drive in seconds": (_set("inputs.drive.value", "2 s"), "inputs.drive.value", "2 s"),
    "sweep unit is not a time": (_set("sweep.tau.unit", "mV"), "sweep.tau.unit", "mV"),
    "sweep without unit": (_without("sweep.tau.unit"), "sweep.tau.unit", "(none)"),
    "sweep quantity is not a time": (_set("sweep.tau.values", ["10 ms", "5 mV"]), "sweep.tau.values", "5 mV"),
    "e_l not a voltage": (_set("neuron.e_l", 0.5), "neuron.e_l", "0.5"),
    "r_m not a resistance": (_set("neuron.r_m", "1 ms"), "neuron.r_m", "1 ms"),
    "dt not a time": (base(dt=0.1), "dt", "0.1"),
    "rate not a frequency": (
        _set("inputs.p", {"kind": "poisson", "rate": "10 s", "weight": "1 mV"}),
        "inputs.p.rate",
        "10 s",
    ),
    "drive values disagree": (
        _set("inputs.u", {"kind": "uniform", "mean": "1 pA", "half_width": "1 mV"}),
        "inputs.u.half_width",
        "1 mV",
    ),
    "unparsable quantity": (_set("neuron.v_th", "fifty mV"), "neuron.v_th", "fifty mV"),
    "empty quantity": (_set("neuron.v_th", ""), "neuron.v_th", ""),
    "bool quantity": (_set("neuron.v_th", True), "neuron.v_th", "true"),
    # non-positive times
    "dt zero": (base(dt="0 ms"), "dt", "0 ms"),
    "dt negative": (base(dt="-0.1 ms"), "dt", "-0.1 ms"),
    "tau_m zero": (_set("neuron.tau_m", "0 ms") | {"sweep": {}}, "neuron.tau_m", "0 ms"),
    "tau_m negative": (_set("neuron.tau_m", "-5 ms") | {"sweep": {}}, "neuron.tau_m", "-5 ms"),
    "swept tau_m negative": (_set("sweep.tau.values", [10, -1]), "sweep.tau", "-1 ms"),
    "duration zero": (base(duration="0 ms"), "duration", "0 ms"),
    "duration negative": (base(duration="-1 s"), "duration", "-1 s"),
    "duration infinite": (base(duration="inf s"), "duration", "inf s"),
    "duration not a multiple of dt": (base(duration="100.05 ms"), "duration", "100.05 ms"),
    "t_ref negative": (_set("neuron.t_ref", "-1 ms"), "neuron.t_ref", "-1 ms"),
    # Euler stability
    "dt above tau_m": (_dt_above_tau(), "neuron.tau_m", "0.5 ms"),
    "dt above a swept tau_m": (_dt_above_swept_tau(), "sweep.tau", "0.5 ms"),
    "dt above a zipped tau_m": (_dt_above_zipped_tau(), "sweep.cell", "0.25 ms"),
    # axes
    "empty values": (_set("sweep.tau.values", []), "sweep.tau", "[]"),
    "empty linspace": (axis(linspace=[1, 2, 0], unit="ms"), "sweep.tau.linspace", "[1, 2, 0]"),
    "duplicated values": (_set("sweep.tau.values", [10, 20, 10]), "sweep.tau", "[10, 20, 10]"),
    "duplicated after conversion": (_set("sweep.tau.values", ["10 ms", "0.01 s"]), "sweep.tau", '["10 ms", "0.01 s"]'),
    "duplicated linspace": (axis(linspace=[5, 5, 3], unit="ms"), "sweep.tau", "[5, 5, 3]"),
    "same param on two axes": (
        _set("sweep.tau2", {"param": "neuron.tau_m", "values": [1, 2], "unit": "ms"}),
        "sweep.tau2.param",
        "neuron.tau_m",
    ),
    "same param in a zip": (
        _set("sweep.z", {"zip": {"neuron.tau_m": {"values": [1, 2], "unit": "ms"}}}),
        "sweep.z.zip.neuron.tau_m",
        "neuron.tau_m",
    ),
    "zip of different lengths": (
        base(
            sweep={
                "z": {
                    "zip": {
                        "neuron.tau_m": {"values": [10, 20], "unit": "ms"},
                        "neuron.t_ref": {"values": [1, 2, 3], "unit": "ms"},
                    }
                }
            }
        ),
        "sweep.z.zip",
        '{"neuron.tau_m": 2, "neuron.t_ref": 3}',
    ),
    "two forms": (
        axis(values=[1], linspace=[1, 2, 3], unit="ms"),
        "sweep.tau",
        '{"values": [1], "linspace": [1, 2, 3], "unit": "ms"}',
    ),
    "no form": (axis(unit="ms"), "sweep.tau", '{"unit": "ms"}'),
    "range away from stop": (axis(range=[10, 1, 1], unit="ms"), "sweep.tau.range", "[10, 1, 1]"),
    "range of zero step": (axis(range=[1, 10, 0], unit="ms"), "sweep.tau.range", "[1, 10, 0]"),
    "range too long": (axis(range=[1, 1e12, 1], unit="ms"), "sweep.tau.range", "[1, 1000000000000.0, 1]"),
    "range to infinity": (axis(range=[1, float("inf"), 1], unit="ms"), "sweep.tau.range", "[1, Infinity, 1]"),
    "linspace of NaN points": (axis(linspace=[1, 2, float("nan")], unit="ms"), "sweep.tau.linspace", "[1, 2, NaN]"),
    "logspace from zero": (axis(logspace=[0, 10, 3], unit="ms"), "sweep.tau.logspace", "[0, 10, 3]"),
    "unknown unit": (_set("sweep.tau.unit", "blorps"), "sweep.tau.unit", "blorps"),
    "unknown param": (_set("sweep.tau.param", "neuron.tau"), "sweep.tau.param", "neuron.tau"),
    "param not a string": (_set("sweep.tau.param", ["neuron.tau_m"]), "sweep.tau.param", '["neuron.tau_m"]'),
    "missing param": (_without("sweep.tau.param"), "sweep.tau.param", None),
    "reserved axis name": (
        base(sweep={"time": {"param": "neuron.tau_m", "values": [1], "unit": "ms"}}),
        "sweep.time",
        "time",
    ),
    # an axis named like a store variable would replace that variable's values or its own
    "axis named like a variable": (
        base(sweep={"rate": {"param": "neuron.tau_m", "values": [1], "unit": "ms"}}),
        "sweep.rate",
        "rate",
    ),
    "axis name with a dot": (
        base(sweep={"a.b": {"param": "neuron.tau_m", "values": [1], "unit": "ms"}}),
        "sweep.a.b",
        "a.b",
    ),
    # timed arrays
    "missing timed_array file": (
        base(inputs={"rec": {"kind": "timed_array", "file": "no/such.npy", "dt": "1 ms"}}),
        "inputs.rec.file",
        "no/such.npy",
    ),
    # noise, record, summaries
    "shared_across a non-axis": (base(noise={"shared_across": ["tau", "I"]}), "noise.shared_across", "I"),
    "shared_across not a list": (base(noise={"shared_across": 5}), "noise.shared_across", "5"),
    "record trial out of range": (_set("record.v.trials", [0, 2]), "record.v.trials", "[0, 2]"),
    "record trial negative": (_set("record.v.trials", [-1]), "record.v.trials", "[-1]"),
    "record trials not a list": (_set("record.v.trials", "first"), "record.v.trials", "first"),
    "record every off the dt grid": (_set("record.v.every", "0.15 ms"), "record.v.every", "0.15 ms"),
    "moments every off the dt grid": (_set("summaries.moments.every", "0.25 ms"), "summaries.moments.every", "0.25 ms"),
    "moments every zero": (_set("summaries.moments.every", "0 ms"), "summaries.moments.every", "0 ms"),
    "moments every above duration": (_set("summaries.moments.every", "1 s"), "summaries.moments.every", "1 s"),
    "warmup as long as duration": (_set("summaries.warmup", "100 ms"), "summaries.warmup", "100 ms"),
    "max_lag off the moments grid": (
        _set("summaries.autocov", {"max_lag": "1.5 ms"}),
        "summaries.autocov.max_lag",
        "1.5 ms",
    ),
    # top level
    "invalid name": (base(name="My Sweep"), "name", "My Sweep"),
    "name with a slash": (base(name="a/b"), "name", "a/b"),
    "name not a string": (base(name=12), "name", "12"),
    "missing name": (_without("name"), "name", None),
    "missing duration": (_without("duration"), "duration", None),
    "missing neuron": (_without("neuron"), "neuron", None),
    "missing v_th": (_without("neuron.v_th"), "neuron.v_th", None),
    "negative seed": (base(seed=-1), "seed", "-1"),
    "zero trials": (base(trials=0), "trials", "0"),
    "fractional trials": (base(trials=2.5), "trials", "2.5"),
    "infinite trials": (base(trials=float("inf")), "trials", "Infinity"),
    "NaN seed": (base(seed=float("nan")), "seed", "NaN"),
    "unknown method": (base(method="rk4"), "method", "rk4"),
    "unknown drive kind": (_set("inputs.drive.kind", "const"), "inputs.drive.kind", "const"),
    "v_reset above v_th": (_set("neuron.v_reset", "-40 mV"), "neuron.v_reset", "-40 mV"),
    "neuron not a mapping": (base(neuron=[1]), "neuron", "[1]"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_gives_its_error(case):
    raw, field, value = BAD[case]
    match = re.escape(f"`{field}`") if value is None else pattern(field, value)
    with pytest.raises(WorkflowError, match=match) as info:
        load(raw)
    check_one_line(info.value, field)


def test_unknown_keys_name_the_allowed_ones():
    with pytest.raises(
        WorkflowError,
        match=r"`neuron\.tau` is not a known key .*Did you mean `tau_m`\? "
        r"Allowed here: e_l, model, r_m, t_ref, tau_m, v_init, v_reset, v_th\.",
    ):
        load(_set("neuron.tau", "20 ms"))


def test_messages_say_what_was_expected():
    with pytest.raises(
        WorkflowError,
        match=r"`neuron\.tau_m` must be a positive time.*got '5 mV'\. "
        r"Example: tau_m: 20 ms",
    ):
        load(_set("neuron.tau_m", "5 mV"))
    with pytest.raises(
        WorkflowError,
        match=r"`sweep\.tau\.unit` is a voltage \(V\), but neuron\.tau_m is a time "
        r"\(s\), got 'mV'\. Example: unit: ms",
    ):
        load(_set("sweep.tau.unit", "mV"))
    with pytest.raises(
        WorkflowError,
        match=r"`sweep\.tau` sets neuron\.tau_m, which must be at least dt \(1 ms\) "
        r"with method: euler, got '0\.5 ms'\. .*method: exact",
    ):
        load(_dt_above_swept_tau())
    with pytest.raises(WorkflowError, match=r"`sweep\.tau` has duplicated values \(10 ms = 0\.01 s\)"):
        load(_set("sweep.tau.values", [10, 20, "0.01 s"]))


def test_exact_method_allows_dt_above_tau_m():
    raw = _dt_above_swept_tau()
    raw["method"] = "exact"
    assert load(raw).shape == (3,)


def test_timed_array_columns_must_match_trials(tmp_path):
    with pytest.raises(
        WorkflowError,
        match=r"`inputs\.rec\.file` has 3 columns but the workflow has 2 trials, "
        + re.escape(f"got '{tmp_path / 'rec.csv'}'"),
    ) as info:
        load(_timed_array(tmp_path, columns=3, trials=2))
    check_one_line(info.value, "inputs.rec.file")


@pytest.mark.parametrize("columns, trials", [(1, 3), (2, 2), (3, 3)])
def test_timed_array_columns_one_or_one_per_trial(tmp_path, columns, trials):
    wf = load(_timed_array(tmp_path, columns=columns, trials=trials))
    assert wf.drives[0].kind == "timed_array" and wf.drives[0].role == "current"


def test_missing_workflow_file(tmp_path):
    with pytest.raises(WorkflowError, match=re.escape(f"workflow file '{tmp_path / 'nope.yaml'}' does not exist")):
        load_workflow(tmp_path / "nope.yaml")


def test_invalid_yaml_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nneuron: {tau_m: 20 ms\n")
    with pytest.raises(WorkflowError, match=re.escape(f"'{path}' is not valid YAML at line")) as info:
        load_workflow(path)
    assert "\n" not in str(info.value)


def test_yaml_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(WorkflowError, match=re.escape(f"'{path}' must hold a mapping of keys, got list")):
        load_workflow(path)


@pytest.mark.parametrize(
    "item, key",
    [
        ("neuron.tau_m", "neuron.tau_m"),  # no '='
        ("=20 ms", ""),  # no key
        ("neuron..tau_m=20 ms", "neuron..tau_m"),  # empty part
        (".tau_m=20 ms", ".tau_m"),
    ],
)
def test_bad_set_syntax(item, key):
    match = (
        re.escape(f"`--set` expects KEY=VALUE, got '{item}'")
        if "=" not in item
        else re.escape(f"`--set` key '{key}' is not a dot path")
    )
    with pytest.raises(WorkflowError, match=match + r".*Example: --set neuron\.tau_m=") as info:
        load(base(), overrides=[item])
    check_one_line(info.value, "--set")


def test_set_below_a_value_is_an_error():
    with pytest.raises(WorkflowError, match=re.escape("`--set neuron.tau_m.x`: `neuron.tau_m` is '20 ms'")):
        load(base(), overrides=["neuron.tau_m.x=1"])


def test_multiline_values_stay_on_one_line():
    with pytest.raises(WorkflowError, match=re.escape(r"`name` must match [a-z0-9_-]+, got 'a\nb'")) as info:
        load(base(name="a\nb"))
    check_one_line(info.value, "name")
    with pytest.raises(WorkflowError) as info:
        load(base(**{"x\ny": 1}))
    check_one_line(info.value)


# --------------------------------------------------------------------------- #
# properties
# --------------------------------------------------------------------------- #
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
nice = st.integers(-10_000, 10_000).map(lambda k: k / 100)


@FAST
@given(start=nice, stop=nice, num=st.integers(1, 60))
def test_linspace_axis_round_trips(start, stop, num):
    assume(num == 1 or start != stop)
    raw = base(sweep={"e_l": {"param": "neuron.e_l", "linspace": [start, stop, num], "unit": "mV"}})
    raw["neuron"].update(v_th="200 mV", v_reset="-200 mV")
    wf = load(raw)
    (ax,) = wf.sweep
    assert ax.size == num and len(set(ax.coord)) == num
    assert ax.coord[0] == float(Decimal(repr(start)) / 1000)
    if num > 1:
        assert ax.coord[-1] == float(Decimal(repr(stop)) / 1000)
    np.testing.assert_allclose(ax.coord, np.linspace(start, stop, num) / 1000, rtol=1e-12, atol=1e-17)
    # the saved workflow gives the same axis again, and pruning keeps its head
    assert load(wf.to_dict()).sweep == wf.sweep
    assert wf.prune(3).sweep[0].values[0] == ax.values[0][:3]


@FAST
@given(
    start=nice,
    step=st.integers(1, 500).map(lambda k: k / 100),
    n=st.integers(0, 40),
    down=st.booleans(),
    off_grid=st.booleans(),
)
def test_range_axis_includes_stop_on_the_grid(start, step, n, down, off_grid):
    step = -step if down else step
    stop = Decimal(repr(start)) + n * Decimal(repr(step))
    if off_grid:
        stop += Decimal(repr(step)) / 2
    raw = base(sweep={"e_l": {"param": "neuron.e_l", "range": [start, float(stop), step], "unit": "mV"}})
    raw["neuron"].update(v_th="1000 mV", v_reset="-1000 mV")
    (ax,) = load(raw).sweep
    assert ax.size == n + 1
    expected = [float((Decimal(repr(start)) + k * Decimal(repr(step))) / 1000) for k in range(n + 1)]
    assert ax.coord.tolist() == expected


@FAST
@given(start=st.floats(1e-3, 1e3), ratio=st.floats(1.01, 100), num=st.integers(2, 30))
def test_logspace_axis_is_geometric(start, ratio, num):
    stop = start * ratio
    raw = base(sweep={"r": {"param": "neuron.r_m", "logspace": [start, stop, num], "unit": "Mohm"}})
    (ax,) = load(raw).sweep
    assert ax.size == num
    np.testing.assert_allclose(ax.coord, np.geomspace(start, stop, num) * 1e6, rtol=1e-12)
    assert np.all(np.diff(ax.coord) > 0)


SECTIONS = {
    "": TOP_KEYS,
    "neuron": {"tau_m", "e_l", "v_th", "v_reset", "v_init", "t_ref", "r_m"},
    "inputs.drive": {"kind", "value"},
    "sweep.tau": {"param", "values", "unit"},
    "summaries": {"warmup", "isi_bins", "moments", "autocov"},
    "record": {"v"},
    "record.v": {"trials", "every"},
}
keys = st.text(string.ascii_letters + string.digits + "_-. \n\t'\"", min_size=1, max_size=12)


@FAST
@given(
    section=st.sampled_from(sorted(SECTIONS)),
    key=keys,
    value=st.one_of(st.integers(), st.text(max_size=10), st.lists(st.integers(), max_size=3)),
)
def test_garbage_keys_are_always_rejected(section, key, value):
    assume(key not in SECTIONS[section])
    raw = base()
    node = raw
    for part in filter(None, section.split(".")):
        node = node[part]
    node[key] = value
    with pytest.raises(WorkflowError, match="is not a known key") as info:
        load(raw)
    check_one_line(info.value)
    path = f"{section}.{key}" if section else key
    assert info.value.field == path
    assert "Allowed here: " in str(info.value)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "5 ms",
            "-5 ms",
            "0 ms",
            "inf",
            "1e400 ms",
            "5 mV",
            "ms",
            "1/0",
            "nan ms",
            "250 pA",
            "1 Hz",
            "",
            "5 ms)",
            "all",
            "a\nb",
        ]
    ),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=5), scalars, max_size=2))
FIELDS = [
    "name",
    "seed",
    "trials",
    "duration",
    "dt",
    "method",
    "neuron.tau_m",
    "neuron.v_th",
    "neuron.e_l",
    "neuron.t_ref",
    "neuron.r_m",
    "inputs.drive.value",
    "inputs.drive.kind",
    "sweep.tau.values",
    "sweep.tau.unit",
    "sweep.tau.param",
    "sweep.tau.linspace",
    "sweep.tau.range",
    "sweep.tau.logspace",
    "noise.shared_across",
    "record.v.trials",
    "record.v.every",
    "summaries.warmup",
    "summaries.moments.every",
    "summaries.autocov.max_lag",
    "summaries.isi_bins",
    "inputs.x",
    "neuron",
    "inputs",
    "sweep",
    "record",
    "summaries",
    "sweep.tau",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True), data=st.data())
def test_any_value_loads_or_gives_a_one_line_workflow_error(fields, data):
    raw = base()
    for f in fields:
        v = data.draw(values, label=f)
        try:
            raw = apply_overrides(raw, {f: v})
        except WorkflowError:  # e.g. setting inside a value that is no longer a section
            return
    try:
        wf = load(raw)
    except WorkflowError as exc:
        msg = str(exc)
        assert "\n" not in msg and "\r" not in msg, msg
        assert msg.startswith("`") or msg.startswith("workflow"), msg
        assert exc.field is not None
    else:
        # whatever loads is usable: finite sizes, JSON source that loads back the same
        assert wf.n_steps >= 1 and all(n >= 1 for n in wf.shape)
        assert load(json.loads(wf.source)).fingerprint == wf.fingerprint
