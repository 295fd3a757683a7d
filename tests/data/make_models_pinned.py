"""Writes tests/data/models_pinned.npz: every model's raw point outputs (spike bits, counts, V on the
moments grid; the recorded V and state traces by their SHA-256, :func:`digest`) on randomized-drive
workflows, computed by the loops as they were before the lane loops (commit 42baee5, one trial after
another). tests/test_models_lanes.py compares today's loops with them bit for bit. Run from the
repository's root: python tests/data/make_models_pinned.py (only to pin a deliberate change)."""

from __future__ import annotations

import copy
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import lifbatch
from lifbatch.models import MODELS
from lifbatch.point import PointModel

OUT = Path(__file__).with_name("models_pinned.npz")

#: every drive kind that reaches a model's loop: a constant swept, per-trial random steps (x_trial),
#: a uniform drive, white noise, Poisson jumps and a conductance input; 7 trials (no multiple of a lane
#: width), trials 0 and 5 recorded with their state
RANDOM = {
    "name": "pinned",
    "seed": 11,
    "trials": 7,
    "duration": "40 ms",
    "dt": "0.05 ms",
    "inputs": {
        "i": {"kind": "constant", "value": "300 pA"},
        "s": {"kind": "random_steps", "low": "-100 pA", "high": "300 pA", "interval": "10 ms"},
        "u": {"kind": "uniform", "mean": "50 pA", "half_width": "20 pA"},
        "n": {"kind": "white_noise", "sigma": "2 mV"},
        "p": {"kind": "poisson", "rate": "300 Hz", "weight": "0.5 mV", "n": 4},
        "g": {
            "kind": "poisson_conductance",
            "rate": "50 Hz",
            "n": 20,
            "weight": "0.5 nS",
            "tau": "5 ms",
            "e_rev": "0 mV",
        },
    },
    "sweep": {"I": {"param": "inputs.i.value", "values": [600, 1500], "unit": "pA"}},
    "record": {"v": {"trials": [0, 5], "every": "0.5 ms"}},
    "summaries": {"moments": {"every": "1 ms"}},
}
#: no random drive but per-trial steps (the lanes differ): the lane loops' path without streams
STEPS = {
    "name": "pinned-steps",
    "seed": 5,
    "trials": 5,
    "duration": "40 ms",
    "dt": "0.1 ms",
    "inputs": {
        "i": {"kind": "constant", "value": "300 pA"},
        "s": {"kind": "random_steps", "low": "0 pA", "high": "800 pA", "interval": "5 ms"},
    },
    "sweep": {"I": {"param": "inputs.i.value", "values": [200, 1000], "unit": "pA"}},
    "record": {"v": {"trials": [1, 4], "every": "0.5 ms"}},
    "summaries": {"moments": {"every": "1 ms"}},
}
NEURONS = {
    "lif_exact": {
        "tau_m": "20 ms",
        "v_th": "-50 mV",
        "e_l": "-65 mV",
        "v_reset": "-60 mV",
        "t_ref": "1 ms",
        "r_m": "100 Mohm",
    },
    "lif": {
        "tau_m": "20 ms",
        "v_th": "-50 mV",
        "e_l": "-65 mV",
        "v_reset": "-65 mV",
        "t_ref": "2 ms",
        "r_m": "100 Mohm",
    },
    "adex": {"model": "adex", "t_ref": "1 ms"},
    "eif": {"model": "eif", "t_ref": "0.5 ms"},
    "izhikevich": {"model": "izhikevich"},
    "hh_traub": {"model": "hh_traub"},
    "hh_traub_euler": {"model": "hh_traub", "gates_init": "steady_state"},
}


def workflows():
    for base_name, base in (("random", RANDOM), ("steps", STEPS)):
        for key, neuron in NEURONS.items():
            raw = copy.deepcopy(base)
            raw["name"] = f"{base['name']}-{key.replace('_', '-')}"
            raw["neuron"] = dict(neuron)
            own = [v.name for v in MODELS[neuron.get("model", "lif")].state if v.name != "v"]
            raw["record"]["state"] = own + (["g_g"] if "g" in raw["inputs"] else [])
            if key == "lif_exact":
                raw["method"] = "exact"
            if key == "hh_traub_euler":
                raw["method"] = "euler"
                raw["dt"] = "0.025 ms" if base is RANDOM else "0.01 ms"
                raw["duration"] = "20 ms"
            yield f"{base_name}/{key}", raw


def digest(a: np.ndarray) -> bytes:
    """SHA-256 of an array's shape and C-order float64 bytes."""
    return hashlib.sha256(repr(a.shape).encode() + np.ascontiguousarray(a, np.float64).tobytes()).digest()


def outputs(raw) -> dict[str, np.ndarray]:
    wf = lifbatch.load_workflow(raw)
    pm = PointModel(wf)
    got = {}
    for i in range(len(raw["sweep"]["I"]["values"])):
        res = pm.simulate(wf.point_params((i,)))
        for name in ("bits", "counts", "moments", "traces", "states"):
            got[f"{i}/{name}"] = np.array(getattr(res, name))
        for name in ("traces", "states"):  # (pinned by their SHA-256: they would make the file large)
            got[f"{i}/{name}"] = np.frombuffer(digest(got[f"{i}/{name}"]), np.uint8)
    return got


def main():
    arrays = {}
    for key, raw in workflows():
        for name, a in outputs(raw).items():
            arrays[f"{key}/{name}"] = a
        print(key, {n: int(a.sum()) for n, a in arrays.items() if n.startswith(key + "/") and n.endswith("counts")})
    np.savez_compressed(OUT, **arrays)
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
