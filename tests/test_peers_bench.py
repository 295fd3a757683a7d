"""benchmarks/peers/: the harness's parsing, ratios and table, and the seed loop against lifbatch.

None of this needs the peer venv (Brian2, pypet): the harness is imported
as a module and fed synthetic timings; the seed's euler_neuron script runs
with this Python (it needs only numpy).
"""

from __future__ import annotations

import copy
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import lifbatch

PEERS = Path(__file__).resolve().parents[1] / "benchmarks" / "peers"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("peers_run", PEERS / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


# ---------------------------------------------------------------- parsing


def test_parse_rate_reads_the_last_line(bench):
    assert bench.parse_rate("compiling...\nRATE 12.345\n\n") == 12.345
    assert bench.parse_rate("RATE 1.5e1") == 15.0
    assert bench.parse_rate("RATE 0") == 0.0


@pytest.mark.parametrize("out", ["", "\n\n", "RATE 12.3\ndone", "RATE twelve", "rate 12", "RATE 12 Hz", "the RATE 12"])
def test_parse_rate_refuses_anything_else(bench, out):
    with pytest.raises(bench.BenchError):
        bench.parse_rate(out)


def test_parse_time(bench):
    assert bench.parse_time("TIME 0.25\nRATE 3") == 0.25
    assert bench.parse_time("TIME 9\nTIME 0.5\nRATE 3") == 0.5
    with pytest.raises(bench.BenchError):
        bench.parse_time("RATE 3")


# ---------------------------------------------------------------- ratios and table


def _contenders(bench):
    C = bench.Contender
    return [
        C("w", "lifbatch run", [], baseline=True),
        C("w", "slow peer", [], short="Slow"),
        C("w", "fast peer", [], short="Fast"),
    ]


def _rounds(bench, lif, slow, fast, rates=(10.0, 11.6, 11.4)):
    O = bench.Outcome
    return [
        {"w/lifbatch run": O(a, rates[0]), "w/slow peer": O(b, rates[1]), "w/fast peer": O(c, rates[2])}
        for a, b, c in zip(lif, slow, fast)
    ]


def test_ratios_are_taken_in_the_same_round(bench):
    # per round: 4/2, 4/4, 12/3 -> median 2; the ratio of the medians would be 4/3
    rows = bench.summarize(_contenders(bench), _rounds(bench, [2, 4, 3], [4, 4, 12], [1, 1, 1]))
    base, slow, fast = rows
    assert base["median"] == 3 and (base["min"], base["max"]) == (2, 4)
    assert slow["ratios"] == [2, 1, 4]
    assert slow["ratio_median"] == 2 and (slow["ratio_min"], slow["ratio_max"]) == (1, 4)
    assert slow["median"] == 4 and slow["max"] == 12
    assert slow["faster"] == "lifbatch run, 2x"
    assert fast["ratio_median"] == pytest.approx(1 / 3)
    assert fast["faster"] == "Fast, 3x"
    assert base["faster"] == "(baseline)"


def test_rate_mismatch_is_flagged_beyond_tolerance(bench):
    rows = bench.summarize(_contenders(bench), _rounds(bench, [2, 2], [3, 3], [1, 1]))
    base, slow, fast = rows
    assert slow["rate_rel"] == pytest.approx(0.16) and slow["rate_mismatch"]
    assert fast["rate_rel"] == pytest.approx(0.14) and not fast["rate_mismatch"]
    assert not base["rate_mismatch"]
    table = bench.format_table(rows).splitlines()
    assert table[0].startswith("| workload | contender | wall time")
    assert len(table) == 2 + 3
    assert "MISMATCH +16.0 %" in table[3] and "MISMATCH" not in table[4] and "ok, +14.0 %" in table[4]
    assert "| w | slow peer | 3 (3-3) | 1.5 (1.5-1.5) | lifbatch run, 1.5x | 11.600 |" in table[3]
    assert "| w | fast peer | 1 (1-1) | 0.5 (0.5-0.5) | Fast, 2x | 11.400 |" in table[4]
    # a slower rate is flagged the same way
    rows = bench.summarize(_contenders(bench), _rounds(bench, [2], [3], [1], rates=(10.0, 8.0, 9.0)))
    assert rows[1]["rate_mismatch"] and not rows[2]["rate_mismatch"]


def test_a_failed_run_drops_out_of_its_rounds_ratio(bench):
    rounds = _rounds(bench, [2, 4, 3], [4, 4, 12], [1, 1, 1])
    rounds[1]["w/slow peer"] = bench.Outcome(error="exit 1: boom")
    rows = bench.summarize(_contenders(bench), rounds)
    slow = rows[1]
    assert slow["ratios"] == [2, 4] and slow["ratio_median"] == 3 and slow["runs"] == 2
    assert slow["errors"] == ["exit 1: boom"]
    assert "slow peer (1 of 3 runs failed, see below) |" in bench.format_table(rows).splitlines()[3]
    # a baseline failing in a round takes that round out of every ratio
    rounds[2]["w/lifbatch run"] = bench.Outcome(error="exit 2")
    assert bench.summarize(_contenders(bench), rounds)[2]["ratios"] == [0.5, 0.25]


def test_run_once_times_the_process_and_reads_its_rate(bench, tmp_path):
    C = bench.Contender
    py = sys.executable
    o = bench.run_once(C("w", "x", [py, "-c", "import time; time.sleep(0.2); print('RATE 7.5')"], peer=False))
    assert o.error is None and o.rate == 7.5 and 0.2 <= o.time < 10
    o = bench.run_once(C("w", "x", [py, "-c", "print('TIME 0.125'); print('RATE 2')"], peer=False, reports_time=True))
    assert o.time == 0.125 and o.rate == 2
    o = bench.run_once(C("w", "x", [py, "-c", "import sys; sys.exit(3)"], peer=False))
    assert o.error.startswith("exit 3") and o.time is None
    o = bench.run_once(C("w", "x", [py, "-c", "print('RATE 2'); print('bye')"], peer=False))
    assert "not 'RATE <Hz>'" in o.error
    o = bench.run_once(C("w", "x", [py, "-c", "pass"], peer=False, rate_cmd=[py, "-c", "print('RATE 4.25')"]))
    assert o.error is None and o.rate == 4.25
    rdir = tmp_path / "r1"
    c = bench.for_round(C("w", "x", ["a", "{round}/s.zarr"], rate_cmd=["{round}"]), rdir)
    assert c.cmd == ["a", f"{rdir}/s.zarr"] and c.rate_cmd == [str(rdir)]


# ---------------------------------------------------------------- the seed loop vs lifbatch

# points of the tutorial's grid where euler_neuron and lifbatch count the same
# spikes (tests/test_seeds.py: a few other points differ by one spike)
T_REF = [5.0, 7.5]
I_VALUES = [0.1, 0.65]


def _tiny_workflow(workflows_dir):
    doc = yaml.safe_load((workflows_dir / "pypet-firing-rate.yaml").read_text())
    doc = copy.deepcopy(doc)
    doc["sweep"] = {
        "t_ref": {"param": "neuron.t_ref", "values": T_REF, "unit": "ms"},
        "I": {"param": "inputs.drive.value", "values": I_VALUES, "unit": "1 / ms"},
    }
    doc.pop("record", None)
    return doc


def test_seed_loop_script_counts_the_spikes_lifbatch_counts(bench, workflows_dir, tmp_path):
    p = subprocess.run(
        [
            sys.executable,
            str(PEERS / "seed_loop.py"),
            "--per-point",
            "--tau-ref",
            *map(str, T_REF),
            "--I",
            *map(str, I_VALUES),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    points = [line.split() for line in p.stdout.splitlines() if line.startswith("POINT")]
    assert [(float(t), float(i)) for _, t, i, _ in points] == [(t, i) for t in T_REF for i in I_VALUES]
    loop = np.array([int(n) for *_, n in points]).reshape(len(T_REF), len(I_VALUES))
    assert loop.min() > 30  # real spiking, not an empty comparison

    doc = _tiny_workflow(workflows_dir)
    ds = lifbatch.simulate(lifbatch.load_workflow(doc))
    ours = ds.spike_count.isel(trial=0).transpose("t_ref", "I").values
    np.testing.assert_array_equal(ours, loop)

    # the RATE line the harness reads: mean of nspikes / 1000 ms * 1000
    assert bench.parse_rate(p.stdout) == pytest.approx(loop.mean(), abs=1e-6)

    # lifbatch's in-process row on the same points gives the same mean rate
    wf = tmp_path / "tiny.yaml"
    wf.write_text(yaml.safe_dump(doc))
    q = subprocess.run(
        [sys.executable, str(PEERS / "lifbatch_side.py"), "inprocess", str(wf)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert bench.parse_rate(q.stdout) == pytest.approx(loop.mean(), abs=1e-6)
    assert 0 < bench.parse_time(q.stdout) < 60


# ---------------------------------------------------------------- peer_venv.py and the white-noise script


def _peer_venv_py(tmp_path, *args):
    env = {**__import__("os").environ, "LIFBATCH_PEERS_CACHE": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, str(PEERS / "peer_venv.py"), *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_peer_venv_helper_says_how_to_create_the_venv(tmp_path):
    p = _peer_venv_py(tmp_path)
    assert p.returncode == 1
    assert p.stdout.strip() == (
        f"peer venv missing: {tmp_path / 'cache' / 'venv'}; create it with `python {PEERS / 'peer_venv.py'} --create`"
    )
    assert not (tmp_path / "cache").exists()  # asking creates nothing


def test_peer_venv_helper_sees_an_outdated_venv(tmp_path):
    py = tmp_path / "cache" / "venv" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.touch()
    p = _peer_venv_py(tmp_path)
    assert p.returncode == 1 and p.stdout.startswith("peer venv outdated")


def test_peer_venv_helper_and_lifbatch_bench_agree_on_the_place(tmp_path, monkeypatch, bench):
    from harness import bench as harness_bench

    # run.py (imported by the fixture, in this process's environment) and the bench harness: one place
    assert harness_bench._peer_venv() == bench.VENV
    assert harness_bench._peers_dir() == PEERS
    monkeypatch.setenv("LIFBATCH_PEERS_CACHE", str(tmp_path / "cache"))
    assert harness_bench._peer_venv() == tmp_path / "cache" / "venv"
    assert "peer_venv.py --create" in harness_bench.brian2_unavailable()
    monkeypatch.delenv("LIFBATCH_PEERS_CACHE")
    assert harness_bench._peer_venv() == Path.home() / ".cache" / "lifbatch-peers" / "venv"


def test_white_noise_script_refuses_a_standalone_build_without_a_project_dir():
    # argument checks come before importing Brian2: this runs with lifbatch's Python
    p = subprocess.run(
        [sys.executable, str(PEERS / "brian2_white_noise.py"), "--target", "cpp_standalone"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "needs --project-dir" in p.stderr


def test_white_noise_script_writes_the_bench_model():
    """The Brian2 script's model is the bench harness's: the same numbers, written out."""
    src = (PEERS / "brian2_white_noise.py").read_text()
    for piece in [
        '"tau": 20 * ms',
        '"e_l": -65 * mV',
        '"v_th": -50 * mV',
        '"v_reset": -65 * mV',
        '"r_m": 100 * Mohm',
        '"I": 160 * pA',
        '"sigma": 4 * mV',
        "group.v = -65 * mV",
        "refractory=2 * ms",
        'method="euler"',
        "defaultclock.dt = 0.1 * ms",
        "dv/dt = (e_l - v + r_m*I)/tau + sigma*xi*tau**-0.5 : volt (unless refractory)",
        'threshold="v > v_th"',
        'reset="v = v_reset"',
    ]:
        assert piece in src, piece
    from harness.bench import bench_workflow

    p = bench_workflow(2, 10).point_params(())
    assert (
        p["neuron.tau_m"],
        p["neuron.e_l"],
        p["neuron.v_th"],
        p["neuron.v_reset"],
        p["neuron.v_init"],
        p["neuron.t_ref"],
    ) == pytest.approx((0.02, -0.065, -0.05, -0.065, -0.065, 0.002))
    assert (p["neuron.r_m"], p["inputs.current.value"], p["inputs.noise.sigma"]) == pytest.approx((1e8, 160e-12, 4e-3))


def test_model_script_checks_its_arguments_before_importing_brian2():
    # argument checks come before importing Brian2: this runs with lifbatch's Python
    script = str(PEERS / "brian2_model_bench.py")
    p = subprocess.run(
        [sys.executable, script, "--model", "adex", "--params", "{}", "--target", "cpp_standalone"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "needs --project-dir" in p.stderr
    p = subprocess.run(
        [sys.executable, script, "--model", "adex", "--params", "{", "--target", "numpy"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "--params is not JSON" in p.stderr


def test_model_script_reads_only_parameters_lifbatch_gives():
    """Every parameter the Brian2 script reads for a model is one of that model's in lifbatch (the bench
    hands it lifbatch's values), and the equations are the ones documented."""
    import re

    from harness.bench_models import model_workflow

    src = (PEERS / "brian2_model_bench.py").read_text()
    body = src[src.index("def build_network") : src.index("def main")]
    branches = re.split(r"\n    (?:if|elif) model (?:==|in) ", body)[1:]
    models = {
        "hh_traub": branches[0],
        "adex": branches[1],
        "eif": branches[1],
        "izhikevich": branches[2],
        "lif": branches[3],
    }
    for model, branch in models.items():
        assert model in branch.splitlines()[0]
        p = model_workflow(model, 2, 10).point_params(())
        given = {k.split(".", 1)[1] for k in p if k.startswith("neuron.")} | {"I"}
        used = set(re.findall(r'p\["(\w+)"\]', branch))
        if model == "eif":
            used -= {"a", "tau_w", "b", "w_init"}  # read in the adex-only lines
        assert used and used <= given, (model, used - given)
    for piece in [
        'threshold="v > v_spike",',
        'refractory="v > v_spike"',
        'method="exponential_euler"',
        'threshold="vm > v_peak",',
        'reset="vm = v_reset; w += b" if model == "adex"',
        'threshold="v >= v_peak",',
        'reset="v = c; u += d"',
        "dv/dt = (e_l - v + r_m*I)/tau_m : volt (unless refractory)",
        "dvm/dt = (g_l*(e_l - vm) + g_l*d_t*exp((vm-v_t)/d_t) + I - w)/c_m : volt",
        "dw/dt  = (a*(vm - e_l) - w)/tau_w : amp",
        "dv/dt = (k*(v - v_r)*(v - v_t) - u + I)/C : volt",
        "du/dt = a*(b*(v - v_r) - u) : amp",
        "dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt",
    ]:
        assert piece in src, piece
