"""`lifbatch query` and `lifbatch status` on sampled designs, and `query --where` on grids and
sampled designs, on real stores written by `lifbatch.run_sweep` and the command line.

Every expected value is computed here from the store's own coordinates and variables
(the nearest sample in the design's unit cube, the rows a condition keeps), not taken
from the code under test.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess
import sys

import dask
import numpy as np
import pytest
import yaml

import lifbatch
from lifbatch.errors import WorkflowError
from lifbatch.query import query

#: a sampled design of 8 Sobol points of (mu, sigma), 3 points added in 2 rounds, x a grid over t_ref
SAMPLED = {
    "name": "q-sampled",
    "seed": 11,
    "trials": 4,
    "duration": "200 ms",
    "dt": "0.1 ms",
    "neuron": {"tau_m": "20 ms", "e_l": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV", "t_ref": "2 ms"},
    "inputs": {"mu": {"kind": "constant", "value": "15 mV"}, "noise": {"kind": "white_noise", "sigma": "3 mV"}},
    "sweep": {"tref": {"param": "neuron.t_ref", "values": [1, 2, 3], "unit": "ms"}},
    "sample": {
        "method": "sobol",
        "n": 8,
        "params": {
            "mu": {"param": "inputs.mu.value", "bounds": [10, 20], "unit": "mV"},
            "sigma": {"param": "inputs.noise.sigma", "bounds": [1, 8], "unit": "mV", "scale": "log"},
        },
        # as lifbatch refine writes them: SI values, each point's round
        "added": {"round": [1, 1, 2], "mu": [0.0121, 0.0187, 0.0155], "sigma": [0.0015, 0.0062, 0.0029]},
    },
}
#: a design alone (no grid axes), one refinement round
DESIGN_ONLY = {
    "name": "q-design",
    "seed": 2,
    "trials": 2,
    "duration": "100 ms",
    "neuron": {"tau_m": "20 ms", "v_th": 1, "v_reset": 0},
    "inputs": {"mu": {"kind": "constant", "value": 1.1}},
    "sample": {
        "method": "lhs",
        "n": 5,
        "params": {"mu": {"param": "inputs.mu.value", "bounds": [0.8, 1.6]}},
        "added": {"round": [1, 1], "mu": [1.05, 1.45]},
    },
}
#: a grid: current x noise
GRID = {
    "name": "q-grid",
    "seed": 5,
    "trials": 3,
    "duration": "200 ms",
    "dt": "0.1 ms",
    "neuron": {
        "tau_m": "20 ms",
        "e_l": "-65 mV",
        "v_th": "-50 mV",
        "v_reset": "-65 mV",
        "t_ref": "2 ms",
        "r_m": "100 Mohm",
    },
    "inputs": {"i": {"kind": "constant", "value": "150 pA"}, "n": {"kind": "white_noise", "sigma": "3 mV"}},
    "sweep": {
        "I": {"param": "inputs.i.value", "linspace": [100, 300, 6], "unit": "pA"},
        "sigma": {"param": "inputs.n.sigma", "values": [1, 4], "unit": "mV"},
    },
}


def lifbatch_cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "lifbatch.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def shown(x: float) -> float:
    """A value as query shows it: 12 significant digits."""
    return float(f"{x:.12g}")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("stores")
    out = {}
    for key, wf, ppt in (("sampled", SAMPLED, 3), ("design", DESIGN_ONLY, None), ("grid", GRID, None)):
        path = root / f"{key}.yaml"
        path.write_text(yaml.safe_dump(copy.deepcopy(wf), sort_keys=False))
        store = root / f"{key}.zarr"
        lifbatch.run_sweep(path, store, workers=2, points_per_task=ppt, progress=False)
        out[key] = store
    return out


@pytest.fixture(scope="module")
def sampled(stores):
    ds = lifbatch.open_results(stores["sampled"]).load()
    assert ds.sizes["sample"] == 11 and list(ds["status"].dims) == ["sample", "tref"]
    assert (ds.status.values == 1).all()
    return stores["sampled"], ds


def csv_rows(text: str) -> tuple[list[str], list[list[str]]]:
    lines = text.strip().splitlines()
    return lines[0].split(","), [line.split(",") for line in lines[1:]]


# --------------------------------------------------------------------------- #
# rows along sample: the sampled parameters and the round beside the sample's number
# --------------------------------------------------------------------------- #
def test_rows_show_the_sampled_parameters_in_csv(sampled):
    store, ds = sampled
    header, rows = csv_rows(query(store, variables=["rate", "isi_cv"], fmt="csv"))
    assert header == ["sample", "mu [mV]", "sigma [mV]", "sample_round", "tref [ms]", "rate [Hz]", "isi_cv"]
    assert len(rows) == 11 * 3
    for k, row in enumerate(rows):
        s, t = divmod(k, 3)
        assert int(row[0]) == s
        assert float(row[1]) == shown(float(ds.mu[s]) * 1e3)
        assert float(row[2]) == shown(float(ds.sigma[s]) * 1e3)
        assert int(row[3]) == ([0] * 8 + [1, 1, 2])[s]
        assert float(row[4]) == shown(float(ds.tref[t]) * 1e3)
        assert float(row[5]) == shown(float(ds.rate[s, t]))
    # the added points are the workflow's, in mV
    assert [float(r[1]) for r in rows[24::3]] == [12.1, 18.7, 15.5]
    assert [float(r[2]) for r in rows[24::3]] == [1.5, 6.2, 2.9]
    assert [int(r[3]) for r in rows[::3]] == [0] * 8 + [1, 1, 2]


def test_rows_show_the_sampled_parameters_in_table_and_json(sampled):
    store, ds = sampled
    table = query(store, variables=["rate"], sel=["tref=2 ms"])
    head = table.splitlines()[0].split()
    assert head == ["rate", "[Hz]"]
    names = table.splitlines()[1]
    assert names.split() == ["sample", "mu", "[mV]", "sigma", "[mV]", "sample_round"]
    assert len(table.strip().splitlines()) == 2 + 11
    line9 = table.splitlines()[2 + 9].split()
    assert line9 == ["9", "18.7", "6.2", "1", f"{float(ds.rate[9, 1]):.6g}"]  # the table: 6 significant digits

    out = json.loads(query(store, variables=["rate"], sel=["tref=2 ms"], fmt="json"))
    assert out["notes"] == [] and out["selection"] == {"tref": 0.002}
    assert len(out["rows"]) == 11
    for s, row in enumerate(out["rows"]):
        assert list(row) == ["sample", "mu [mV]", "sigma [mV]", "sample_round", "rate [Hz]"]
        assert row["sample"] == s and isinstance(row["sample"], int)
        assert row["mu [mV]"] == shown(float(ds.mu[s]) * 1e3)
        assert row["sigma [mV]"] == shown(float(ds.sigma[s]) * 1e3)
        assert row["sample_round"] == int(ds.sample_round[s])
        assert row["rate [Hz]"] == shown(float(ds.rate[s, 1]))


# --------------------------------------------------------------------------- #
# --sel on a sampled design
# --------------------------------------------------------------------------- #
def _unit(ds, name, values):
    """Unit-cube coordinates of SI ``values`` of a sampled parameter, written out here."""
    lo, hi = {"mu": (0.010, 0.020), "sigma": (0.001, 0.008)}[name]
    values = np.asarray(values, float)
    if name == "sigma":  # scale: log
        return (np.log(values) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (values - lo) / (hi - lo)


def test_sel_a_sampled_parameter_picks_the_nearest_sample(sampled):
    store, ds = sampled
    mu = ds.mu.values
    target = 0.0143
    d = np.abs(mu - target)
    i = int(np.argmin(d))
    assert np.sort(d)[1] - d[i] > 1e-5  # unambiguous
    out = json.loads(query(store, variables=["rate"], sel=["mu=14.3 mV"], fmt="json"))
    assert out["notes"] == [f"note: mu=14.3 mV: nearest sample is {i} (mu={mu[i] * 1e3:.6g} mV)"]
    assert out["selection"] == {"sample": i}
    assert [r["sample"] for r in out["rows"]] == [i] * 3
    assert [r["tref [ms]"] for r in out["rows"]] == [1.0, 2.0, 3.0]
    assert [r["rate [Hz]"] for r in out["rows"]] == [shown(float(x)) for x in ds.rate[i].values]
    # a bare number is in the parameter's display unit (mV); the table says which sample it took
    assert json.loads(query(store, variables=["rate"], sel=["mu=14.3"], fmt="json"))["selection"] == {"sample": i}
    table = query(store, variables=["rate"], sel=["mu=14.3", "tref=2 ms"])
    assert table.splitlines()[0] == f"note: mu=14.3: nearest sample is {i} (mu={mu[i] * 1e3:.6g} mV)"
    assert table.splitlines()[-1].split()[:2] == [str(i), f"{mu[i] * 1e3:.6g}"]  # the table: 6 digits, as the note


def test_sel_several_parameters_picks_the_nearest_in_the_unit_cube_log_scaled(sampled):
    store, ds = sampled
    mu, sigma = ds.mu.values, ds.sigma.values

    def nearest(m, s, log=True):
        us = _unit(ds, "sigma", sigma) - _unit(ds, "sigma", [s])[0] if log else (sigma - s) / (0.008 - 0.001)
        d2 = (_unit(ds, "mu", mu) - _unit(ds, "mu", [m])[0]) ** 2 + us**2
        return int(np.argmin(d2)), np.sort(d2)

    # a target where the log-scaled distance and a linear one disagree: the log one is meant
    candidates = [(m, s) for m in np.linspace(0.0105, 0.0195, 19) for s in np.geomspace(0.0011, 0.0075, 23)]
    picks = [
        (m, s)
        for m, s in candidates
        if nearest(m, s)[0] != nearest(m, s, log=False)[0] and np.diff(nearest(m, s)[1][:2])[0] > 1e-3
    ]
    assert picks, "no target separates the two metrics"
    m, s = picks[0]
    i, _ = nearest(m, s)
    text_m, text_s = f"{m * 1e3:.4g} mV", f"{s * 1e3:.4g} mV"
    assert nearest(float(text_m.split()[0]) * 1e-3, float(text_s.split()[0]) * 1e-3)[0] == i
    out = json.loads(query(store, variables=["rate"], sel=[f"mu={text_m}", f"sigma={text_s}", "tref=3 ms"], fmt="json"))
    assert out["notes"] == [
        f"note: mu={text_m}, sigma={text_s}: nearest sample is {i} "
        f"(mu={mu[i] * 1e3:.6g} mV, sigma={sigma[i] * 1e3:.6g} mV)"
    ]
    assert out["selection"] == {"sample": i, "tref": 0.003}
    assert out["rows"] == [
        {
            "sample": i,
            "mu [mV]": shown(mu[i] * 1e3),
            "sigma [mV]": shown(sigma[i] * 1e3),
            "sample_round": int(ds.sample_round[i]),
            "tref [ms]": 3.0,
            "rate [Hz]": shown(float(ds.rate[i, 2])),
        }
    ]


def test_sel_an_added_point_exactly_and_by_number(sampled):
    store, ds = sampled
    out = json.loads(query(store, variables=["rate"], sel=["mu=18.7 mV", "sigma=6.2 mV"], fmt="json"))
    assert out["notes"] == ["note: mu=18.7 mV, sigma=6.2 mV: nearest sample is 9 (mu=18.7 mV, sigma=6.2 mV)"]
    by_number = json.loads(query(store, variables=["rate"], sel=["sample=9"], fmt="json"))
    assert by_number["notes"] == [] and by_number["selection"] == {"sample": 9}
    assert by_number["rows"] == out["rows"]
    assert [r["sample_round"] for r in out["rows"]] == [1, 1, 1]
    assert [r["rate [Hz]"] for r in out["rows"]] == [shown(float(x)) for x in ds.rate[9].values]


@pytest.mark.parametrize(
    "sel, message",
    [
        (["sample=11"], "`--sel sample=11` is not a sample of this store (it has 0..10). Pick one of those."),
        (["sample=x"], "`--sel sample` must be a whole number (an index), got 'x'. Example: --sel sample=0"),
        (["mu=5 ms"], "`--sel mu` has the wrong unit: mu is in mV, got '5 ms'. Example: --sel mu=\""),
        (["sigma=-1"], "`--sel sigma` must be positive (sigma is sampled on a log scale), got '-1'."),
        (["sample=2", "mu=15 mV"], "`--sel sample=2` and `--sel mu=15 mV` both pick a sample."),
        (["mu=15 mV", "mu=16 mV"], "`--sel mu` is given twice, got 'mu=16 mV'."),
        (
            ["sample_round=1"],
            "`--sel sample_round` is not an axis of this store (it is a coordinate: filter on it with "
            '--where "sample_round==VALUE"). Axes: sample, tref, trial; sampled parameters: mu, sigma',
        ),
    ],
)
def test_sel_errors_on_a_sampled_design(sampled, sel, message):
    store, _ = sampled
    with pytest.raises(WorkflowError) as err:
        query(store, variables=["rate"], sel=sel)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- #
# --where
# --------------------------------------------------------------------------- #
def _kept(text: str, ndims: int) -> list[tuple]:
    """(index values...) of a CSV's rows: its first ``ndims`` columns."""
    _, rows = csv_rows(text)
    return [tuple(r[:ndims]) for r in rows]


def test_where_on_a_sampled_design(sampled):
    store, ds = sampled
    rate, sigma, cv = ds.rate.values, ds.sigma.values, ds.isi_cv.values
    want = [(s, t) for s in range(11) for t in range(3) if rate[s, t] > 20 and sigma[s] < 0.005]
    assert 0 < len(want) < 33
    text = query(store, variables=["rate"], where=["rate>20", "sigma<5 mV"], fmt="csv")
    header, rows = csv_rows(text)
    assert header == ["sample", "mu [mV]", "sigma [mV]", "sample_round", "tref [ms]", "rate [Hz]"]
    assert [(int(r[0]), float(r[4])) for r in rows] == [(s, shown(float(ds.tref[t]) * 1e3)) for s, t in want]
    assert [float(r[5]) for r in rows] == [shown(rate[s, t]) for s, t in want]
    # the same in other units and forms; sample_round picks the refined points
    assert query(store, variables=["rate"], where=["rate > 0.02 kHz", "sigma<0.005 V"], fmt="csv") == text
    refined = _kept(query(store, variables=["rate"], where=["sample_round>=1"], sel=["tref=1 ms"], fmt="csv"), 1)
    assert refined == [("8",), ("9",), ("10",)]
    # NaN never satisfies a condition, not even !=
    assert np.isnan(cv).any() and np.isfinite(cv).any()
    rows = csv_rows(query(store, variables=["isi_cv"], where=["isi_cv!=0"], fmt="csv"))[1]
    assert len(rows) == int(np.count_nonzero(np.isfinite(cv) & (cv != 0)))
    assert all(r[5] != "" for r in rows)


def test_where_on_a_grid(stores):
    store = stores["grid"]
    ds = lifbatch.open_results(store).load()
    rate, isi = ds.rate.values, ds.isi_mean.values  # (I, sigma)
    want = [(i, j) for i in range(6) for j in range(2) if ds.I.values[i] >= 200e-12 and rate[i, j] > 5]
    assert 0 < len(want) < 12
    text = query(store, variables=["rate", "isi_mean"], where=["I>=200 pA", "rate>5"], fmt="csv")
    header, rows = csv_rows(text)
    assert header == ["I [pA]", "sigma [mV]", "rate [Hz]", "isi_mean [ms]"]
    assert [(float(r[0]), float(r[1])) for r in rows] == [
        (shown(ds.I.values[i] * 1e12), shown(ds.sigma.values[j] * 1e3)) for i, j in want
    ]
    assert [float(r[2]) for r in rows] == [shown(rate[i, j]) for i, j in want]
    # bare numbers are in the display unit (isi_mean in ms); the unit may be any time
    fast = [(i, j) for i in range(6) for j in range(2) if isi[i, j] <= 0.05]
    assert 0 < len(fast) < 12
    for cond in ("isi_mean<=50", "isi_mean<=50 ms", "isi_mean<=0.05 s"):
        got = _kept(query(store, variables=["rate"], where=[cond], fmt="csv"), 2)
        assert [(float(a), float(b)) for a, b in got] == [
            (shown(ds.I.values[i] * 1e12), shown(ds.sigma.values[j] * 1e3)) for i, j in fast
        ], cond
    # with --sel; the table says how many rows it kept; none kept is an empty table, not an error
    table = query(store, variables=["rate"], sel=["sigma=4 mV"], where=["rate>5"])
    n = int(np.count_nonzero(rate[:, 1] > 5))
    assert table.splitlines()[0] == f"note: --where rate>5 Hz: {n} of 6 rows"
    assert len(table.strip().splitlines()) == 3 + n
    none = json.loads(query(store, variables=["rate"], where=["rate>1 MHz"], fmt="json"))
    assert none["rows"] == [] and none["where"] == ["rate>1000000 Hz"]
    assert none["notes"] == ["note: --where rate>1000000 Hz: 0 of 12 rows"]
    # a coordinate along other rows: time with v_mean
    tv = csv_rows(query(store, variables=["v_mean"], sel=["I=100 pA", "sigma=1 mV"], where=["time<=3 ms"], fmt="csv"))[
        1
    ]
    times = [shown(t * 1e3) for t in ds.time.values]
    assert [float(r[0]) for r in tv] == [t for t in times if t <= 3] and len(tv) == 16


def test_where_on_a_store_of_one_point(tmp_path):
    wf = {
        "name": "one",
        "duration": "100 ms",
        "neuron": {"tau_m": "20 ms", "v_th": 1, "v_reset": 0},
        "inputs": {"mu": {"kind": "constant", "value": 1.2}},
    }
    store = tmp_path / "one.zarr"
    lifbatch.run_sweep(wf, store, workers=1, progress=False)
    rate = float(lifbatch.open_results(store).rate)
    assert rate > 0
    assert query(store, where=[f"rate>={rate}"], fmt="csv") == query(store, fmt="csv") == f"point,rate [Hz]\n0,{rate}\n"
    assert query(store, where=[f"rate>{rate}"], fmt="csv") == "point,rate [Hz]\n"
    assert query(store, where=[f"rate>{rate}"]).splitlines() == [
        f"note: --where rate>{rate:.12g} Hz: 0 of 1 rows",
        "point  rate [Hz]",
        "(no rows)",
    ]


@pytest.mark.parametrize(
    "cond, message",
    [
        (
            "foo>1",
            "`--where foo>1`: foo is not a variable or coordinate of this store. Use one of: status, rate, "
            "rate_std, isi_mean, isi_std, isi_cv, isi_adaptation, I, sigma",
        ),
        (
            "rate>20 ms",
            "`--where rate>20 ms` has the wrong unit: rate is in Hz, got '20 ms'. Example: --where \"rate>20 Hz\"",
        ),
        (
            "rate=>20",
            "`--where rate=>20`: '=>' is not a comparison; use one of <, <=, >, >=, ==, !=. "
            'Example: --where "rate>=20"',
        ),
        (
            "rate=20",
            "`--where rate=20`: '=' is not a comparison; use one of <, <=, >, >=, ==, !=. "
            'Example: --where "rate==20"',
        ),
        (
            "rate",
            "`--where` expects NAME OP VALUE with OP one of <, <=, >, >=, ==, !=, got 'rate'. "
            'Example: --where "rate>20"',
        ),
        ("rate>", '`--where rate>` has no value to compare rate to. Example: --where "rate>1 Hz"'),
        ("rate>abc", "`--where rate>abc`: 'abc' is not a number or a quantity. Example: --where \"rate>1 Hz\""),
        (
            "v_mean>-60 mV",
            "`--where v_mean>-60 mV`: v_mean is not one value per point (it is also along time). "
            "Use one of: status, rate,",
        ),
        ("time<5 ms", "`--where time<5 ms`: time is not along the rows of this query (they are along I, sigma)."),
    ],
)
def test_where_errors_are_one_line(stores, cond, message):
    with pytest.raises(WorkflowError) as err:
        query(stores["grid"], variables=["rate"], where=[cond])
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value) and err.value.field == "--where"


def test_where_counts_rows_before_reading_and_reads_only_the_kept_points(sampled, tmp_path):
    store, ds = sampled
    copy_ = tmp_path / "damaged.zarr"
    shutil.copytree(store, copy_)
    assert json.loads(lifbatch.open_results(copy_).attrs["chunks"]) == [1, 3]  # a block (chunk) per sample
    rate = ds.rate.values
    # the points of `cond` below: rate > 20 Hz at t_ref = 2 ms, in the design (not refined)
    keep = [s for s in range(11) if rate[s, 1] > 20 and int(ds.sample_round[s]) == 0]
    drop = [s for s in range(11) if s not in keep]
    assert keep and drop
    for s in drop:  # v_mean of every dropped sample unreadable
        chunk = copy_ / "v_mean" / "c" / str(s) / "0" / "0"
        assert chunk.is_file()
        chunk.write_bytes(b"not a chunk")
    n_time = ds.sizes["time"]
    cond = ["rate>20 Hz"]
    # the row cap is checked on the rows the conditions keep, before v_mean is read
    rows = int(np.count_nonzero(rate > 20)) * n_time
    with (
        pytest.raises(
            WorkflowError,
            match=rf"gives {rows} rows \(sample=11 x tref=3 x time={n_time}, {rows} with "
            r"--where\), more than lifbatch.query.max-rows \(10\)",
        ),
        dask.config.set({"lifbatch.query.max-rows": 10}),
    ):
        query(copy_, variables=["v_mean"], where=cond)
    # only the kept points' chunks are read: the dropped samples' damage is never touched
    text = query(
        copy_, variables=["v_mean"], where=["rate>20 Hz", "sample_round==0", "tref==2 ms"], max_rows=10**6, fmt="csv"
    )
    kept = sorted({int(r[0]) for r in csv_rows(text)[1]})
    assert kept == keep
    assert len(csv_rows(text)[1]) == len(kept) * n_time
    first = csv_rows(text)[1][:n_time]
    assert csv_rows(text)[0][4:] == ["tref [ms]", "time [ms]", "v_mean [mV]"]
    assert [float(r[6]) for r in first] == [shown(v * 1e3) for v in ds.v_mean.values[kept[0], 1]]
    with pytest.raises(Exception):  # the damage is real
        query(copy_, variables=["v_mean"], sel=[f"sample={drop[0]}", "tref=2 ms"], fmt="csv")


# --------------------------------------------------------------------------- #
# the command line, and status
# --------------------------------------------------------------------------- #
def test_cli_query_on_a_sampled_store(sampled):
    store, ds = sampled
    mu = ds.mu.values
    i = int(np.argmin(np.abs(mu - 0.0166)))
    r = lifbatch_cli(
        "query", store, "--var", "rate", "--sel", "mu=16.6 mV", "--where", "tref>=2 ms", "--format", "json"
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    note = f"note: mu=16.6 mV: nearest sample is {i} (mu={mu[i] * 1e3:.6g} mV)"
    assert out["notes"] == [note, "note: --where tref>=2 ms: 2 of 3 rows"]
    assert r.stderr.splitlines() == out["notes"]
    assert [(row["sample"], row["tref [ms]"]) for row in out["rows"]] == [(i, 2.0), (i, 3.0)]
    bad = lifbatch_cli("query", store, "--where", "isi_mean<=50 mV")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == (
        "lifbatch: error: `--where isi_mean<=50 mV` has the wrong unit: isi_mean is in ms, "
        "got '50 mV'. Example: --where \"isi_mean<=50 ms\""
    )


def test_status_says_it_is_a_sampled_design(stores):
    st = lifbatch_cli("status", stores["sampled"])
    assert st.returncode == 0, st.stderr
    lines = st.stdout.splitlines()
    assert lines[1] == "design    sobol: 8 points of mu, sigma (+ 3 added in 2 rounds: 2, 1) x tref=3"
    assert lines[2] == "points    33: 33 done, 0 failed, 0 pending (100%)"
    st = lifbatch_cli("status", stores["design"])
    assert st.stdout.splitlines()[1] == "design    lhs: 5 points of mu (+ 2 added in 1 round)"
    assert st.stdout.splitlines()[2] == "points    7: 7 done, 0 failed, 0 pending (100%)"
    grid = lifbatch_cli("status", stores["grid"])
    assert grid.returncode == 0 and "design" not in grid.stdout
    assert grid.stdout.splitlines()[1] == "points    12: 12 done, 0 failed, 0 pending (100%)"


def test_status_of_a_design_without_refinement(tmp_path):
    wf = copy.deepcopy(DESIGN_ONLY)
    del wf["sample"]["added"]
    wf["sample"].update(method="random", n=3)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(wf))
    store = tmp_path / "r.zarr"
    lifbatch.run_sweep(path, store, workers=1, progress=False)
    from lifbatch.status import store_status

    st = store_status(store)
    assert st.design == "random: 3 points of mu"
    assert st.format().splitlines()[1] == "design    random: 3 points of mu"


def test_where_on_several_dimensions_keeps_the_rows_in_order(sampled):
    """Conditions along sample (mu), tref, time and per point (rate): the rows are those of
    the whole table that satisfy all four, in the table's order."""
    store, ds = sampled
    sel = []
    full_header, full = csv_rows(query(store, variables=["v_mean", "rate"], sel=sel, fmt="csv", max_rows=10**6))
    assert full_header == [
        "sample",
        "mu [mV]",
        "sigma [mV]",
        "sample_round",
        "tref [ms]",
        "time [ms]",
        "v_mean [mV]",
        "rate [Hz]",
    ]
    want = [r for r in full if float(r[1]) > 13 and float(r[4]) != 2 and float(r[5]) <= 1 and float(r[7]) > 20]
    assert 0 < len(want) < len(full)
    header, rows = csv_rows(
        query(
            store,
            variables=["v_mean", "rate"],
            sel=sel,
            fmt="csv",
            where=["tref!=2 ms", "time<=1 ms", "rate>20", "mu>13 mV"],
        )
    )
    assert header == full_header and rows == want
    with pytest.raises(
        WorkflowError,
        match=r"^`--sel trial`: v_mean, rate are not along trial. Drop --sel trial, "
        r"or query a variable along it \(e.g. --var spike_count\).$",
    ):
        query(store, variables=["v_mean", "rate"], sel=["trial=0"])


def test_status_and_query_after_lifbatch_refine(stores, tmp_path):
    store = tmp_path / "refined.zarr"
    shutil.copytree(stores["design"], store)
    r = lifbatch_cli("refine", store, "--var", "rate", "--add", "3", "--no-progress")
    assert r.returncode == 0, r.stderr
    st = lifbatch_cli("status", store)
    assert st.stdout.splitlines()[1] == "design    lhs: 5 points of mu (+ 5 added in 2 rounds: 2, 3)"
    ds = lifbatch.open_results(store)
    assert ds.sample_round.values.tolist() == [0] * 5 + [1, 1, 2, 2, 2]
    out = json.loads(query(store, where=["sample_round==2"], fmt="json"))
    assert [row["sample"] for row in out["rows"]] == [7, 8, 9]
    assert [row["mu"] for row in out["rows"]] == [shown(float(x)) for x in ds.mu.values[7:]]
