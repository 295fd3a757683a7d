"""lifbatch.figures, the figure data every renderer draws from, tested without a renderer:
selection over free axes, display units (one pint registry), titles, theory lines (None only
where they do not apply; an error raises), one point's data."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import lifbatch
from lifbatch import figures

try:  # tests/ may or may not be a package
    from tests._stores import simulated
except ImportError:  # pragma: no cover
    from _stores import simulated


@pytest.fixture(scope="module")
def ds():
    return simulated(n_x=3, n_y=4, trials=4, duration=0.1, seed=1)


def test_no_renderer_is_imported():
    """Computing every figure's data imports no plotting library."""
    import subprocess

    code = (
        "import sys, lifbatch\nfrom lifbatch import figures\n"
        "ds = lifbatch.simulate('workflows/quickstart.yaml', overrides={'duration': '200 ms', 'trials': 4})\n"
        "full, d, where = figures.select_point(ds, {'sigma': 0.004, 'I': 2.5e-10}, 'f')\n"
        "figures.ensemble_data(full, d); figures.isi_hist_data(d); figures.spike_raster_times(full, d)\n"
        "figures.theory_values(ds, True); figures.theory_values(ds, True, 'cv')\n"
        "print(sorted(m for m in ('holoviews', 'bokeh', 'panel', 'hvplot', 'matplotlib') if m in sys.modules))"
    )
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def test_select_is_nearest_in_si_squeezes_and_names_what_it_fixed(ds):
    d, where = figures.select(ds, {"tau_m": 0.0201})
    assert where == {"tau_m": 0.02} and "tau_m" not in d.dims and d.sizes["I"] == 4
    d, where = figures.select(ds.isel(I=[2]), {})
    assert where == {"I": float(ds.I[2])} and "I" not in d.dims
    with pytest.raises(ValueError, match=r"unknown sweep axis 'tau'; this sweep's axes are \['tau_m', 'I'\]"):
        figures.select(ds, {"tau": 0.02})


def test_free_axes_are_those_neither_plotted_nor_selected(ds):
    assert figures.free_axes(ds, ["I"], "f") == ["tau_m"]
    assert figures.free_axes(ds, ["I", "tau_m"], "f") == []
    assert figures.free_points(ds, ["tau_m"]) == [{"tau_m": t} for t in ds.tau_m.values.tolist()]
    with pytest.raises(ValueError, match=r"f: 'sigma' is not a sweep axis with more than one value"):
        figures.free_axes(ds, ["sigma"], "f")
    big = ds.expand_dims(a=np.arange(201.0))
    big["a"].attrs.update({"units": "1"})
    with pytest.raises(
        ValueError,
        match=r"f: axes \['a', 'tau_m'\] are neither plotted nor selected "
        r"\(603 combinations\); select them, e.g. f\(ds, ..., a=0, tau_m=0.01\)",
    ):
        figures.free_axes(big, ["I"], "f")


def test_display_units_titles_and_labels(ds):
    ax = figures.axis_of("I", ds["I"].attrs)
    assert (ax.factor, ax.label, ax.unit, ax.text) == (pytest.approx(1e12), "I", "pA", "I (pA)")
    # the contract's short labels before the store's long names; V squared in V's display unit
    rate = figures.axis_of("rate", ds["rate"].attrs, default="Hz")
    assert ds["rate"].attrs["long_name"] == "firing rate (mean over trials)" and rate.text == "firing rate (Hz)"
    var = figures.axis_of("v_var", figures.square_attrs(ds, "v_var"))
    assert ds["v_var"].attrs["units"] == "V**2" and var.unit == "mV²" and var.factor == pytest.approx(1e6)
    assert (
        figures.figure_title("Firing rate", ds, {"tau_m": 0.02, "I": float(ds.I[2])})
        == "Firing rate (tau_m = 20 ms, I = 283.3 pA)"
    )
    assert figures.figure_title("Firing rate", ds, {}) == "Firing rate"
    assert [label for label, _ in figures.curve_groups(ds, "tau_m")] == [
        "tau_m = 10 ms",
        "tau_m = 20 ms",
        "tau_m = 30 ms",
    ]
    assert figures.display_scale({"units": "s", "display_units": "mV"}) == (1.0, "s")  # inconsistent: SI
    assert figures.display_scale({"units": "s", "display_units": "1 /"}) == (1.0, "s")  # unreadable: SI


def test_units_use_the_packages_one_registry(monkeypatch):
    """No pint registry is built for a figure (plotting used to build its own)."""
    import pint

    from lifbatch import units
    from lifbatch.figures import core

    def refuse(*args, **kwargs):
        raise AssertionError("a second pint registry")

    core._scale.cache_clear()
    monkeypatch.setattr(pint, "UnitRegistry", refuse)
    assert figures.display_scale({"units": "A", "display_units": "nA"})[0] == pytest.approx(1e9)
    assert figures.display_scale({"units": "S", "display_units": "uS"})[0] == pytest.approx(1e6)
    assert core._to_si("25 ms") == 0.025 and core._to_si("abc") is None
    assert units.convert(1.0, "A", "nA") == figures.display_scale({"units": "A", "display_units": "nA"})[0]


def test_one_points_data_in_display_units(ds):
    pt = {"tau_m": 0.02, "I": float(ds.I[3])}
    full, d, where = figures.select_point(ds, pt, "f")
    assert where == pt
    e = figures.ensemble_data(full, d)
    np.testing.assert_array_equal(e.mean, ds.v_mean.sel(pt).values * 1e3)
    np.testing.assert_array_equal(e.time, ds.time.values * 1e3)
    np.testing.assert_array_equal(e.traces, ds.v.sel(pt).values * 1e3)
    assert (e.spike, e.spike_label, e.v.unit, e.theory_mean) == (pytest.approx(-50.0), "threshold", "mV", None)
    ax, edges, counts = figures.isi_hist_data(d)
    assert ax.unit == "ms" and edges[0] == 0 and edges[-1] == pytest.approx(100.0) and edges.size == 51
    np.testing.assert_array_equal(counts, ds.isi_hist.sel(pt).values)
    times, trials = figures.spike_raster_times(full, d)
    assert np.bincount(trials, minlength=4).tolist() == ds.spike_count.sel(pt).values.tolist()
    with pytest.raises(ValueError, match=r"f shows one point: .* missing \['I'\]"):
        figures.select_point(ds, {"tau_m": 0.02}, "f")


def test_theory_lines_follow_the_curves(ds):
    th = figures.theory_values(ds, True)
    assert th.attrs["long_name"] == "theory (Siegert)" and figures.theory_label(th) == "theory (Siegert)"
    lines = figures.theory_lines(th, ds, "I", "tau_m", {})
    assert len(lines) == 3
    for (xs, values), tau in zip(lines, ds.tau_m.values):
        np.testing.assert_array_equal(xs, ds.I.values)
        np.testing.assert_array_equal(values, th.sel(tau_m=tau).values)


def test_theory_is_none_only_where_it_does_not_apply(ds):
    assert figures.theory_values(ds, False) is None
    hh = lifbatch.simulate(
        {
            "name": "hh",
            "trials": 1,
            "duration": "5 ms",
            "dt": "0.02 ms",
            "neuron": {"model": "hh_traub"},
            "inputs": {"I": {"kind": "constant", "value": "5 nA"}},
        }
    )
    assert figures.theory_values(hh, True) is None and figures.theory_ou(hh) is None  # (no theory for hh)
    sine = lifbatch.simulate(
        {
            "name": "sine",
            "trials": 1,
            "duration": "10 ms",
            "neuron": {"tau_m": "10 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "r_m": "100 Mohm"},
            "inputs": {"I": {"kind": "sine", "amplitude": "100 pA", "frequency": "50 Hz"}},
        }
    )
    assert figures.theory_values(sine, True) is None  # (a sine input: no closed form)
    pt = {"tau_m": 0.02, "I": float(ds.I[3])}
    assert figures.theory_ou(ds.sel(pt)) is None  # (a threshold resets V: not an OU process)


def test_an_error_in_the_theory_raises(ds, monkeypatch):
    """An overlay never disappears silently: a failing theory is an error (it was None)."""
    from lifbatch import theory

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in the theory")

    monkeypatch.setattr(theory, "siegert_rate", broken)
    with pytest.raises(ZeroDivisionError, match="a bug in the theory"):
        figures.theory_values(ds, True)
    monkeypatch.setattr(theory, "ou_var", broken)
    ou = lifbatch.simulate(
        {
            "name": "ou",
            "trials": 2,
            "duration": "20 ms",
            "neuron": {"tau_m": "10 ms", "e_l": "-65 mV", "v_th": "inf mV", "v_reset": "-65 mV", "r_m": "100 Mohm"},
            "inputs": {"n": {"kind": "white_noise", "sigma": "1 mV"}},
            "summaries": {"warmup": "0 ms", "autocov": {"max_lag": "5 ms"}},
        }
    )
    with pytest.raises(ZeroDivisionError, match="a bug in the theory"):
        figures.theory_ou(ou)
