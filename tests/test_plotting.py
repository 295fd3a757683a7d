"""Unit tests of lifbatch.plotting: elements, labels, display units, dimensions, values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

hv = pytest.importorskip("holoviews", reason="plotting needs holoviews (pip install hvplot)")

from lifbatch import figures, plotting  # noqa: E402

try:  # tests/ may or may not be a package
    from tests._stores import lif_workflow, run_store, simulated
except ImportError:  # pragma: no cover
    from _stores import lif_workflow, run_store, simulated


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return simulated(n_x=3, n_y=4, trials=4, duration=0.2, seed=1)


@pytest.fixture(scope="module")
def ds_pypet() -> xr.Dataset:
    return simulated("pypet", n_x=3, n_y=5, trials=3, duration=0.2, seed=2)


def elements(obj, kind):
    """All elements of type ``kind`` in an Overlay / Layout (or the object itself)."""
    if isinstance(obj, kind):
        return [obj]
    return [e for e in obj.traverse(lambda x: x, [kind])]


def point_of(ds, i=1, j=2):
    return {"tau_m": float(ds.tau_m[i]), "I": float(ds.I[j])}


# ----------------------------------------------------------------------------- units
def test_display_scale_converts_si_to_display_units():
    assert figures.display_scale({"units": "s", "display_units": "ms"}) == (1000.0, "ms")
    f, u = figures.display_scale({"units": "A", "display_units": "pA"})
    assert u == "pA" and f == pytest.approx(1e12)
    f, u = figures.display_scale({"units": "1 / s", "display_units": "1 / ms"})
    assert u == "1 / ms" and f == pytest.approx(1e-3)
    # defaults when display_units is missing: mV for volts, ms for seconds, else SI
    assert figures.display_scale({"units": "V"}) == (pytest.approx(1e3), "mV")
    assert figures.display_scale({"units": "s"}) == (pytest.approx(1e3), "ms")
    assert figures.display_scale({"units": "Hz"}) == (1.0, "Hz")
    assert figures.display_scale({"units": "1"}) == (1.0, "1")
    # inconsistent units fall back to SI instead of failing
    assert figures.display_scale({"units": "s", "display_units": "mV"}) == (1.0, "s")


# ----------------------------------------------------------------------------- rate
def test_rate_curve_one_curve_per_value_with_band(ds):
    fig = plotting.rate_curve(ds, "I", by="tau_m", theory=False)
    assert isinstance(fig, hv.Overlay)
    curves = elements(fig, hv.Curve)
    spreads = elements(fig, hv.Spread)
    assert len(curves) == ds.sizes["tau_m"] == len(spreads)
    assert [c.label for c in curves] == ["tau_m = 10 ms", "tau_m = 20 ms", "tau_m = 30 ms"]
    c = curves[1]
    assert c.kdims[0].name == "I" and c.kdims[0].unit == "pA"
    assert c.vdims[0].name == "rate" and c.vdims[0].unit == "Hz"
    assert c.vdims[0].label == "firing rate"
    np.testing.assert_allclose(c.dimension_values("I"), ds.I.values * 1e12)
    np.testing.assert_allclose(c.dimension_values("rate"), ds.rate.isel(tau_m=1).values)
    np.testing.assert_allclose(spreads[1].dimension_values("rate_std"), ds.rate_std.isel(tau_m=1).values)
    assert not [c for c in curves if c.label.startswith("theory")]


def test_rate_curve_draws_given_theory_dashed(ds):
    theory = xr.full_like(ds.rate, 42.0)
    fig = plotting.rate_curve(ds, "I", by="tau_m", theory=theory)
    th = [c for c in elements(fig, hv.Curve) if c.label == "theory"]
    assert len(th) == ds.sizes["tau_m"]
    np.testing.assert_allclose(th[0].dimension_values("rate"), 42.0)
    np.testing.assert_allclose(th[0].dimension_values("I"), ds.I.values * 1e12)
    assert hv.Store.lookup_options("bokeh", th[0], "style").kwargs["line_dash"] == "dashed"


def test_rate_curve_selection_is_nearest_si_and_titled(ds):
    fig = plotting.rate_curve(ds, "I", tau_m=0.0201, theory=False)
    assert "tau_m = 20 ms" in fig.opts.get().kwargs["title"]
    c = elements(fig, hv.Curve)[0]
    np.testing.assert_allclose(c.dimension_values("rate"), ds.rate.sel(tau_m=0.02).values)


def test_rate_curve_over_unselected_axis_is_a_holomap(ds):
    fig = plotting.rate_curve(ds, "I", theory=False)
    assert isinstance(fig, hv.HoloMap)
    assert fig.kdims[0].name == "tau_m" and fig.kdims[0].unit == "ms"
    np.testing.assert_allclose(sorted(fig.keys()), [10.0, 20.0, 30.0])


def test_rate_curve_reads_a_store_path(ds, tmp_path):
    # (a real run of the workflow simulated in memory: the same numbers)
    store = run_store(tmp_path / "s.zarr", lif_workflow(n_x=3, n_y=4, trials=4, duration=0.2, seed=1))
    from_store = elements(plotting.rate_curve(str(store), "I", by="tau_m", theory=False), hv.Curve)
    in_memory = elements(plotting.rate_curve(ds, "I", by="tau_m", theory=False), hv.Curve)
    for a, b in zip(from_store, in_memory):
        np.testing.assert_allclose(a.dimension_values("rate"), b.dimension_values("rate"))


@pytest.mark.parametrize("irregular", [False, True])
def test_rate_heatmap_grid_and_labels(ds, irregular):
    d = ds.isel(I=[0, 1, 3]) if irregular else ds
    fig = plotting.rate_heatmap(d, "I", "tau_m")
    # evenly spaced axes draw one image; irregular ones a categorical heatmap
    assert isinstance(fig, hv.HeatMap if irregular else hv.Image)
    assert [(k.name, k.unit) for k in fig.kdims] == [("I", "pA"), ("tau_m", "ms")]
    assert (fig.vdims[0].name, fig.vdims[0].unit) == ("rate", "Hz")
    if not irregular:
        assert fig.dimension_values("rate", flat=False).shape == (d.sizes["tau_m"], d.sizes["I"])
    # every cell sits at its sweep values (display units, labels on a categorical axis)
    # with that point's rate
    for i, tau in enumerate(d.tau_m.values):
        for j, cur in enumerate(d.I.values):
            value = (
                fig[cur * 1e12, tau * 1e3]
                if not irregular
                else fig.select(I=f"{cur * 1e12:.4g}", tau_m=f"{tau * 1e3:.4g}")
            )
            assert float(value) == pytest.approx(float(d.rate[i, j]))


def test_irregular_heatmap_has_one_equal_cell_per_grid_value(ds):
    """sigma = 1, 4, 8 mV style axis: cells sized by the gaps would be 3 and 4 wide at the
    ends and uneven inside; the figure has one category per grid value, in order, so the
    cells are equal and labelled (and hovered) with the grid values."""
    d = ds.isel(I=[0, 1, 3])  # 50, 166.7, 400 pA
    plot = hv.render(plotting.rate_heatmap(d, "I", "tau_m"), backend="bokeh")
    assert type(plot.x_range).__name__ == "FactorRange"
    assert list(plot.x_range.factors) == ["50", "166.7", "400"]
    assert list(plot.y_range.factors) == ["10", "20", "30"]
    (cells,) = [r for r in plot.renderers if "zvalues" in r.data_source.data]
    assert len(cells.data_source.data["zvalues"]) == 9
    (hover,) = [t for t in plot.tools if type(t).__name__ == "HoverTool"]
    assert "I (pA)" in str(hover.tooltips) or "@{I}" in str(hover.tooltips)
    # labels keep apart values that 4 digits would merge
    assert figures.grid_labels(np.array([1.00001, 1.00002, 3.0])) == ["1.00001", "1.00002", "3"]


def test_cv_heatmap_is_the_isi_cv(ds):
    fig = plotting.cv_heatmap(ds, "I", "tau_m")
    assert isinstance(fig, hv.Image) and fig.vdims[0].name == "isi_cv" and fig.vdims[0].unit is None
    assert fig.opts.get().kwargs["title"] == "ISI CV"
    np.testing.assert_allclose(
        fig.dimension_values("isi_cv", flat=False), ds.isi_cv.transpose("tau_m", "I").values, equal_nan=True
    )


def test_heatmap_renders_with_unit_axis_labels(ds):
    fig = hv.render(plotting.rate_heatmap(ds, "I", "tau_m"), backend="bokeh")
    assert fig.xaxis[0].axis_label == "I (pA)"
    assert fig.yaxis[0].axis_label == "tau_m (ms)"


# ----------------------------------------------------------------------------- ISI
def test_isi_histogram_of_one_point(ds):
    pt = point_of(ds)
    (fig,) = elements(plotting.isi_histogram(ds, **pt), hv.Histogram)
    assert fig.kdims[0].unit == "ms" and fig.kdims[0].label == "ISI"
    edges = fig.edges
    assert edges[0] == pytest.approx(0.0) and edges[-1] == pytest.approx(100.0)
    counts = fig.dimension_values(1)
    expected = ds.isi_hist.sel(pt).values
    np.testing.assert_array_equal(counts, expected)
    assert f"{int(expected.sum())} ISIs" in plotting.isi_histogram(ds, **pt).opts.get().kwargs["title"]


def test_isi_errorbar_mean_and_std_in_ms(ds):
    fig = plotting.isi_errorbar(ds, "I", by="tau_m")
    bars = elements(fig, hv.ErrorBars)
    assert len(bars) == ds.sizes["tau_m"]
    b = bars[2]
    assert b.vdims[0].unit == "ms" and b.kdims[0].unit == "pA"
    np.testing.assert_allclose(b.dimension_values("isi_mean"), ds.isi_mean.isel(tau_m=2).values * 1e3)
    # a point without ISIs has no error bar (NaN std drawn as 0)
    np.testing.assert_allclose(b.dimension_values("isi_std"), np.nan_to_num(ds.isi_std.isel(tau_m=2).values * 1e3))


def test_isi_cv_is_dimensionless(ds):
    fig = plotting.isi_cv(ds, "tau_m", by="I")
    curves = [c for c in elements(fig, hv.Curve) if not c.label.startswith("theory")]
    assert len(curves) == ds.sizes["I"]
    # (constant and white-noise input: the Siegert CV beside each curve)
    assert len(theory_curves(fig, "theory (Siegert)")) == ds.sizes["I"]
    assert curves[0].vdims[0].unit is None and curves[0].vdims[0].label == "ISI CV"
    assert curves[0].kdims[0].unit == "ms"
    np.testing.assert_allclose(curves[3].dimension_values("isi_cv"), ds.isi_cv.isel(I=3).values, equal_nan=True)


# ----------------------------------------------------------------------------- V
def test_v_ensemble_band_traces_threshold(ds):
    pt = point_of(ds)
    fig = plotting.v_ensemble(ds, **pt)
    (path,) = elements(fig, hv.Path)
    assert len(path.split()) == ds.sizes["trace_trial"]
    (spread,) = elements(fig, hv.Spread)
    mean = [c for c in elements(fig, hv.Curve) if c.label == "mean"][0]
    assert mean.kdims[0].unit == "ms" and mean.vdims[0].unit == "mV"
    np.testing.assert_allclose(mean.dimension_values(0), ds.time.values * 1e3)
    np.testing.assert_allclose(mean.dimension_values(1), ds.v_mean.sel(pt).values * 1e3)
    np.testing.assert_allclose(spread.dimension_values("v_std"), np.sqrt(ds.v_var.sel(pt).values) * 1e3)
    trace0 = path.split()[0].dimension_values(1)
    np.testing.assert_allclose(trace0, ds.v.sel(pt).isel(trace_trial=0).values * 1e3)
    (hline,) = elements(fig, hv.HLine)
    assert hline.data == pytest.approx(-50.0)


def test_v_variance_and_autocov_in_squared_display_units(ds):
    pt = point_of(ds)
    (var,) = elements(plotting.v_variance(ds, **pt), hv.Curve)  # (a threshold: no OU theory)
    assert var.vdims[0].unit == "mV²"
    np.testing.assert_allclose(var.dimension_values(1), ds.v_var.sel(pt).values * 1e6)
    (ac,) = elements(plotting.v_autocov(ds, **pt), hv.Curve)
    assert ac.kdims[0].name == "lag" and ac.kdims[0].unit == "ms"
    assert ac.vdims[0].unit == "mV²"
    np.testing.assert_allclose(ac.dimension_values(0), ds.lag.values * 1e3)
    np.testing.assert_allclose(ac.dimension_values(1), ds.v_autocov.sel(pt).values * 1e6)


def test_dimensionless_model_has_no_voltage_unit(ds_pypet):
    pt = {"t_ref": float(ds_pypet.t_ref[0]), "I": float(ds_pypet.I[-1])}
    fig = plotting.v_ensemble(ds_pypet, **pt)
    mean = [c for c in elements(fig, hv.Curve) if c.label == "mean"][0]
    assert mean.vdims[0].unit is None
    np.testing.assert_allclose(mean.dimension_values(1), ds_pypet.v_mean.sel(pt).values)
    (hline,) = elements(fig, hv.HLine)
    assert hline.data == pytest.approx(1.0)
    curve = elements(plotting.rate_curve(ds_pypet, "I", by="t_ref", theory=False), hv.Curve)[0]
    assert curve.kdims[0].unit == "1 / ms"
    np.testing.assert_allclose(curve.dimension_values("I"), np.linspace(0, 1, 5))


# ----------------------------------------------------------------------------- raster
def test_raster_has_one_tick_per_spike(ds):
    pt = point_of(ds, 2, 3)
    overlay = plotting.raster(ds, **pt)
    (fig,) = elements(overlay, hv.Segments)
    assert not elements(overlay, hv.Text)  # (no note when there are spikes)
    n_spikes = int(ds.spike_count.sel(pt).sum())
    assert n_spikes > 10
    assert len(fig) == n_spikes
    times = fig.dimension_values(0)
    assert fig.kdims[0].unit == "ms"
    assert times.min() > 0 and times.max() <= 200.0 + 1e-9
    trials = np.round((fig.dimension_values(1) + fig.dimension_values(3)) / 2).astype(int)
    per_trial = np.bincount(trials, minlength=ds.sizes["trial"])
    np.testing.assert_array_equal(per_trial, ds.spike_count.sel(pt).values)
    # ticks sit on the dt grid: bit k is a spike at (k+1)*dt
    steps = times / (ds.attrs["dt"] * 1e3)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "func", [plotting.raster, plotting.v_ensemble, plotting.isi_histogram, plotting.v_variance, plotting.v_autocov]
)
def test_point_figures_need_every_axis(ds, func):
    with pytest.raises(ValueError, match=r"missing \['I'\].*I=5e-11"):
        func(ds, tau_m=0.02)


def test_unknown_axis_is_named(ds):
    with pytest.raises(ValueError, match=r"unknown sweep axis 'tau'.*\['tau_m', 'I'\]"):
        plotting.rate_curve(ds, "I", tau=0.02)
    with pytest.raises(ValueError, match="'foo' is not a sweep axis"):
        plotting.rate_curve(ds, "foo")


# ----------------------------------------------------------------------------- overview
def test_overview_for_zero_one_two_three_axes(ds):
    two = plotting.overview(ds)
    assert isinstance(two, hv.Layout) and len(two) == 5
    assert isinstance(two.values()[0], hv.Image) and isinstance(two.values()[1], hv.Image)
    assert two.values()[1].vdims[0].name == "isi_cv"

    one = plotting.overview(ds.isel(tau_m=1))
    assert len(one) == 3
    assert elements(one, hv.Curve)[0].kdims[0].name == "I"

    zero = plotting.overview(ds.isel(tau_m=1, I=2))
    assert len(zero) == 5
    kinds = {type(e) for fig in zero.values() for e in fig}
    assert hv.Segments in kinds and hv.Histogram in kinds and hv.Curve in kinds

    three = ds.expand_dims(seed_axis=[1.0, 2.0]).transpose("seed_axis", ...)
    three["seed_axis"].attrs.update({"units": "1", "param": "seed"})
    lay = plotting.overview(three)
    heat = lay.values()[0]
    assert isinstance(heat, hv.Image)
    assert "seed_axis = 1" in heat.opts.get().kwargs["title"]
    # an axis neither plotted nor selected becomes a HoloMap dimension
    hm = plotting.rate_curve(three, "I", by="tau_m", theory=False)
    assert isinstance(hm, hv.HoloMap) and hm.kdims[0].name == "seed_axis"


def test_overview_limits_curves_on_long_axes():
    big = simulated(n_x=12, n_y=3, trials=2, duration=0.05, record_trials=(0,))
    lay = plotting.overview(big)
    curves = [c for c in elements(lay.values()[2], hv.Curve) if not c.label.startswith("theory")]
    assert 2 <= len(curves) <= 6


# ----------------------------------------------------------------------------- theory overlays
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ou_ds() -> xr.Dataset:
    """ccnss-white-noise (an OU process without threshold) next to the same neuron with a
    threshold, and an uneven sigma axis: theory applies at v_th = inf only."""
    import lifbatch

    wf = lifbatch.load_workflow(
        ROOT / "workflows" / "ccnss-white-noise.yaml",
        overrides={
            "trials": 40,
            "sweep": {
                "v_th": {"param": "neuron.v_th", "values": ["inf mV", -45], "unit": "mV"},
                "sigma": {"param": "inputs.noise.sigma", "values": [1, 4, 8], "unit": "mV"},
            },
        },
    )
    return lifbatch.simulate(wf)


def theory_curves(fig, label="theory (OU)"):
    return [c for c in elements(fig, hv.Curve) if c.label == label]


def test_ou_theory_is_drawn_over_v_mean_variance_and_autocov(ou_ds):
    from lifbatch.theory import theory_ou

    pt = {"v_th": np.inf, "sigma": 0.004}
    th = theory_ou(ou_ds.sel(pt))
    (mean,) = theory_curves(plotting.v_ensemble(ou_ds, **pt))
    np.testing.assert_allclose(mean.dimension_values(0), ou_ds.time.values * 1e3)
    np.testing.assert_allclose(mean.dimension_values(1), th.v_mean.values * 1e3)
    assert hv.Store.lookup_options("bokeh", mean, "style").kwargs["line_dash"] == "dashed"
    (band,) = [p for p in elements(plotting.v_ensemble(ou_ds, **pt), hv.Path) if p.label == "theory (OU) ± std"]
    np.testing.assert_allclose(band.split()[1].dimension_values(1), (th.v_mean + np.sqrt(th.v_var)).values * 1e3)
    (var,) = theory_curves(plotting.v_variance(ou_ds, **pt))
    np.testing.assert_allclose(var.dimension_values(1), th.v_var.values * 1e6)
    # sigma = 4 mV: the stationary variance sigma^2/2 = 8 mV^2, e-folding of the autocovariance in tau_m
    assert var.dimension_values(1)[-1] == pytest.approx(8.0, rel=1e-6)
    (ac,) = theory_curves(plotting.v_autocov(ou_ds, **pt))
    np.testing.assert_allclose(ac.dimension_values(1), th.v_autocov.values * 1e6)
    assert ac.dimension_values(1)[20] / ac.dimension_values(1)[0] == pytest.approx(math.exp(-1), rel=1e-3)
    # the simulation is drawn beside it, and the legend names the theory
    (sim,) = [c for c in elements(plotting.v_variance(ou_ds, **pt), hv.Curve) if c.label == "simulation"]
    np.testing.assert_allclose(sim.dimension_values(1), ou_ds.v_var.sel(pt).values * 1e6)
    plot = hv.render(plotting.v_autocov(ou_ds, **pt), backend="bokeh")
    assert "theory (OU)" in [item.label.value for item in plot.legend[0].items]


def test_no_ou_theory_where_a_threshold_resets_v(ou_ds, ds):
    pt = {"v_th": -0.045, "sigma": 0.004}
    for func in (plotting.v_ensemble, plotting.v_variance, plotting.v_autocov):
        assert theory_curves(func(ou_ds, **pt)) == []
        assert theory_curves(func(ds, **point_of(ds))) == []  # (a threshold too)


@pytest.fixture(scope="module")
def siegert_ds() -> xr.Dataset:
    import lifbatch

    return lifbatch.simulate(
        lifbatch.load_workflow(
            {
                "name": "siegert",
                "seed": 3,
                "trials": 20,
                "duration": "500 ms",
                "neuron": {
                    "tau_m": "20 ms",
                    "e_l": "-65 mV",
                    "v_th": "-50 mV",
                    "v_reset": "-65 mV",
                    "t_ref": "2 ms",
                    "r_m": "100 Mohm",
                },
                "inputs": {"c": {"kind": "constant", "value": "140 pA"}, "n": {"kind": "white_noise", "sigma": "4 mV"}},
                "sweep": {
                    "sigma": {"param": "inputs.n.sigma", "values": [2, 4], "unit": "mV"},
                    "I": {"param": "inputs.c.value", "values": [120, 150, 180], "unit": "pA"},
                },
                "summaries": {"warmup": "100 ms"},
            }
        )
    )


def test_isi_cv_draws_the_siegert_cv(siegert_ds):
    from lifbatch.theory import theory_cv

    fig = plotting.isi_cv(siegert_ds, "I", by="sigma")
    th = theory_curves(fig, "theory (Siegert)")
    assert len(th) == 2
    expected = theory_cv(siegert_ds)
    for curve, sigma in zip(th, siegert_ds.sigma.values):
        np.testing.assert_allclose(curve.dimension_values("I"), siegert_ds.I.values * 1e12)
        np.testing.assert_allclose(curve.dimension_values("isi_cv"), expected.sel(sigma=sigma).values)
    assert hv.Store.lookup_options("bokeh", th[0], "style").kwargs["line_dash"] == "dashed"
    # the rate overlay beside it is labelled the same way
    assert len(theory_curves(plotting.rate_curve(siegert_ds, "I", by="sigma"), "theory (Siegert)")) == 2
    assert theory_curves(plotting.isi_cv(siegert_ds, "I", by="sigma", theory=False), "theory (Siegert)") == []


def test_empty_point_figures_say_why(ou_ds, ds):
    pt = {"v_th": np.inf, "sigma": 0.004}  # no threshold: no spikes, no ISIs
    (note,) = elements(plotting.raster(ou_ds, **pt), hv.Text)
    assert note.text == "no spikes at this point"
    (note,) = elements(plotting.isi_histogram(ou_ds, **pt), hv.Text)
    assert note.text.startswith("no ISIs")
    one = ds.isel(trial=[0])  # one trial: no variance across trials
    one["v_var"] = one["v_var"] * np.nan
    one["v_autocov"] = one["v_autocov"] * np.nan
    for func in (plotting.v_variance, plotting.v_autocov):
        (note,) = elements(func(one, **point_of(ds)), hv.Text)
        assert note.text.startswith("one trial")
    # a figure with something to show has no note
    assert elements(plotting.v_autocov(ds, **point_of(ds)), hv.Text) == []


# ----------------------------------------------------------------------------- neuron models
#: the Brian2 tutorial's HH cell, tiny: two capacitances, v_spike swept, v, m, n, h and the
#: input recorded
HH_WF = {
    "name": "plot-hh",
    "seed": 2,
    "trials": 2,
    "duration": "20 ms",
    "dt": "0.02 ms",
    "neuron": {"model": "hh_traub"},
    "inputs": {"I": {"kind": "random_steps", "low": "0 nA", "high": "30 nA", "interval": "5 ms", "shared": True}},
    "sweep": {
        "C": {
            "param": "neuron.c_m",
            "unit": "pF",
            "values": ["0.8 uF/cm**2 * 20000 um**2", "1.2 uF/cm**2 * 20000 um**2"],
        },
        "vs": {"param": "neuron.v_spike", "values": [-40, -20], "unit": "mV"},
    },
    "noise": {"shared_across": ["C"]},  # (the tutorial's current: the same in the three cells)
    "record": {"v": {"trials": "all", "every": "0.1 ms"}, "state": ["m", "n", "h"], "inputs": ["I"]},
    "summaries": {"moments": {"every": "0.5 ms"}},
}
#: inputs under which the LIF has theory (constant and white noise): an HH neuron gets none
HH_PLAIN_WF = {
    "name": "plot-hh-plain",
    "seed": 2,
    "trials": 2,
    "duration": "20 ms",
    "dt": "0.02 ms",
    "neuron": {"model": "hh_traub"},
    "inputs": {"I": {"kind": "constant", "value": "10 nA"}, "noise": {"kind": "white_noise", "sigma": "1 mV"}},
    "sweep": {"I": {"param": "inputs.I.value", "values": [5, 10, 20], "unit": "nA"}},
    "record": {"v": {"trials": "all", "every": "0.1 ms"}},
    "summaries": {"moments": {"every": "0.5 ms"}},
}
LIF_NEURON = {
    "tau_m": "20 ms",
    "v_th": "-50 mV",
    "e_l": "-65 mV",
    "v_reset": "-65 mV",
    "t_ref": "2 ms",
    "r_m": "10 Mohm",
}
IZH_WF = {
    "name": "plot-izh",
    "seed": 1,
    "trials": 1,
    "duration": "50 ms",
    "dt": "0.1 ms",
    "neuron": {"model": "izhikevich", "v_peak": "30 mV"},
    "inputs": {"I": {"kind": "constant", "value": "300 pA"}},
    "record": {"v": {"trials": "all", "every": "0.5 ms"}, "state": ["u"]},
}


@pytest.fixture(scope="module")
def hh():
    import lifbatch

    return lifbatch.simulate(HH_WF)


@pytest.fixture(scope="module")
def hh_plain():
    import lifbatch

    return lifbatch.simulate(HH_PLAIN_WF)


@pytest.fixture(scope="module")
def izh():
    import lifbatch

    return lifbatch.simulate(IZH_WF)


def _hline(fig):
    (line,) = elements(fig, hv.HLine)
    return line.label, line.data


@pytest.mark.parametrize("vs", [-0.04, -0.02])
def test_v_line_is_the_models_spike_parameter_at_a_swept_point(hh, vs):
    """hh_traub's line is v_spike (legend 'v_spike') at the point's swept value."""
    assert figures.model_name(hh) == "hh_traub"
    label, y = _hline(plotting.v_ensemble(hh, C=2.4e-10, vs=vs))
    assert label == "v_spike" and y == pytest.approx(vs * 1e3)


def test_v_line_takes_the_models_default_and_the_written_value(hh_plain, izh, ds):
    # hh_traub's v_spike is not written in the workflow: its default, -40 mV
    assert _hline(plotting.v_ensemble(hh_plain, I=1e-8)) == ("v_spike", pytest.approx(-40.0))
    # izhikevich's v_peak as written (not its default 35 mV)
    assert _hline(plotting.v_ensemble(izh)) == ("v_peak", pytest.approx(30.0))
    # the LIF keeps its "threshold" (v_th of the LIF store: -50 mV)
    assert _hline(plotting.v_ensemble(ds, **point_of(ds))) == ("threshold", pytest.approx(-50.0))


def test_state_traces_draw_the_gates_in_one_dimensionless_panel(hh):
    pt = {"C": 1.6e-10, "vs": -0.04}
    fig = plotting.state_traces(hh, **pt)
    (panel,) = fig.values()
    paths = elements(panel, hv.Path)
    assert [p.label for p in paths] == ["m", "n", "h"]
    assert panel.opts.get().kwargs["title"] == "State m, n, h (C = 160 pF, vs = -40 mV)"
    ydim = paths[0].kdims[1]
    assert ydim.label == "m, n, h" and ydim.unit is None  # gates are dimensionless
    assert paths[0].kdims[0].unit == "ms"
    point = hh.sel(C=1.6e-10, vs=-0.04)
    for p, name in zip(paths, "mnh"):
        lines = p.split()
        assert len(lines) == hh.sizes["trace_trial"] == 2  # one line per recorded trial
        for k, line in enumerate(lines):
            np.testing.assert_allclose(line.dimension_values(1), point[name].isel(trace_trial=k).values)
            np.testing.assert_allclose(line.dimension_values(0), hh.trace_time.values * 1e3)
    gates = np.concatenate([point[n].values.ravel() for n in "mnh"])
    assert gates.min() >= 0 and gates.max() <= 1 and gates.max() > 0.5


def test_input_traces_in_the_unit_the_drive_is_written_in(hh):
    fig = plotting.input_traces(hh, C=2.4e-10, vs=-0.02)
    (panel,) = fig.values()
    (path,) = elements(panel, hv.Path)
    assert path.label == "I" and path.kdims[1].label == "I" and path.kdims[1].unit == "nA"
    values = hh["input_I"].sel(C=2.4e-10, vs=-0.02).isel(trace_trial=0).values
    np.testing.assert_allclose(path.split()[0].dimension_values(1), values * 1e9)
    finite = values[np.isfinite(values)] * 1e9
    assert finite.min() >= 0 and finite.max() <= 30 and np.unique(finite).size == 4  # four 5 ms steps


def test_state_of_a_current_is_drawn_in_a_fitting_prefix(izh):
    (panel,) = plotting.state_traces(izh).values()
    (path,) = elements(panel, hv.Path)
    assert (path.label, path.kdims[1].unit) == ("u", "pA")
    np.testing.assert_allclose(path.split()[0].dimension_values(1), izh["u"].isel(trace_trial=0).values * 1e12)


def test_traces_across_an_axis_are_the_tutorials_figure(hh):
    """v and I of one trial at every capacitance (the Brian2 tutorial's plots)."""
    fig = plotting.traces(hh, "C", vs=-0.04)
    curves = elements(fig, hv.Curve)
    assert [c.label for c in curves] == ["C = 160 pF", "C = 240 pF"]
    assert fig.opts.get().kwargs["title"] == "Membrane potential, trial 0 (vs = -40 mV)"
    assert (curves[0].vdims[0].label, curves[0].vdims[0].unit) == ("V", "mV")
    for c, cap in zip(curves, (1.6e-10, 2.4e-10)):
        np.testing.assert_allclose(c.dimension_values(1), hh["v"].sel(C=cap, vs=-0.04).isel(trace_trial=0).values * 1e3)
    inputs = elements(plotting.traces(hh, "C", var="input_I", vs=-0.04, trial=1), hv.Curve)
    assert inputs[0].vdims[0].unit == "nA"
    # a shared current: the same at every capacitance
    np.testing.assert_array_equal(inputs[0].dimension_values(1), inputs[1].dimension_values(1))
    with pytest.raises(ValueError, match=r"trial 5 is not recorded; recorded trials: \[0, 1\]"):
        plotting.traces(hh, "C", vs=-0.04, trial=5)
    with pytest.raises(
        ValueError,
        match=r"'w' is not a recorded trace of this store; recorded: "
        r"\['v', 'input_I', 'm', 'n', 'h'\]",
    ):
        plotting.traces(hh, "C", var="w", vs=-0.04)


def test_no_state_or_input_figures_for_a_store_without_them(hh_plain, hh):
    from lifbatch import review

    assert figures.recorded_state(hh_plain) == [] and figures.recorded_inputs(hh_plain) == []
    assert figures.trace_vars(hh_plain) == ["v"]
    assert figures.recorded_state(hh) == ["m", "n", "h"] and figures.recorded_inputs(hh) == ["input_I"]
    with pytest.raises(
        ValueError,
        match=r"state_traces: this store records no state variable "
        r"\(record.state: \[m, n, h\] in the workflow\)",
    ):
        plotting.state_traces(hh_plain, I=1e-8)
    with pytest.raises(ValueError, match="input_traces: this store records no input"):
        plotting.input_traces(hh_plain, I=1e-8)
    assert list(review.point_figures(hh_plain)) == ["v_ensemble", "raster", "isi_histogram", "v_variance", "v_autocov"]
    assert list(review.point_figures(hh))[-2:] == ["state", "inputs"]


def test_no_theory_overlay_for_a_model_without_theory(hh_plain):
    """Constant and white-noise input: the LIF gets Siegert and OU curves, hh_traub none."""
    import lifbatch

    assert not figures.has_theory(hh_plain)
    assert figures.theory_values(hh_plain, True) is None and figures.theory_values(hh_plain, True, "cv") is None
    labels = [c.label for c in elements(plotting.rate_curve(hh_plain, "I"), hv.Curve)]
    assert labels == ["simulation"]
    labels = [c.label for c in elements(plotting.isi_cv(hh_plain, "I"), hv.Curve)]
    assert labels == ["ISI CV"]
    fig = plotting.v_ensemble(hh_plain, I=1e-8)
    assert not [e for e in elements(fig, hv.Curve) + elements(fig, hv.Path) if "theory" in (e.label or "")]
    assert figures.theory_ou(hh_plain.sel(I=1e-8)) is None
    # the same inputs on a LIF: theory applies (the test above could fail)
    lif = lifbatch.simulate({**HH_PLAIN_WF, "neuron": LIF_NEURON, "duration": "5 ms"})
    assert figures.has_theory(lif) and figures.theory_values(lif, True) is not None
    assert "theory (Siegert)" in [c.label for c in elements(plotting.rate_curve(lif, "I"), hv.Curve)]


def test_without_holoviews_a_figure_says_how_to_install_it():
    """No HoloViews in the environment: one sentence naming the `review` extra, not a traceback
    from inside lifbatch (the figure data still compute: lifbatch.figures needs no renderer)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['holoviews'] = None\n"
        "import lifbatch, lifbatch.plotting as lp\nfrom lifbatch import figures\n"
        "ds = lifbatch.simulate('workflows/quickstart.yaml', overrides={'duration': '200 ms', 'trials': 4})\n"
        "print(figures.figure_title('Firing rate', ds, {'sigma': 0.004}))\n"
        "try:\n    lp.rate_curve(ds, 'I', by='sigma')\nexcept Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "Firing rate (sigma = 4 mV)",
        "MissingExtraError lifbatch.plotting needs HoloViews, hvplot and Bokeh, which this environment lacks: "
        "install lifbatch's `review` extra: pip install 'lifbatch[review]' (from a clone: pip install -e '.[review]')",
    ]
