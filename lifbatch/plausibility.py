"""Values that are valid but physically unlikely: what ``validate`` and ``run`` warn about.

A workflow whose every value has the right dimension can still describe a neuron
that does nothing in the run (``tau_m: 20 s`` in a 1 s run: every point 0 Hz). These
checks are pure (a :class:`~lifbatch.workflow.Workflow` in, lines out) and never
refuse anything: a deliberate choice (a neuron that must not spike, ``v_th: inf``;
no leak, ``tau_m: inf``) is never warned about.
"""

from __future__ import annotations

import math

from . import units as u

__all__ = ["unusual_values"]

# (path, low, high, usual range as people write it): SI values outside [low, high] are "far
# outside the usual range"; only for a neuron in physical units (volts, ohms, amperes).
_RANGES = {
    "neuron.tau_m": (1e-4, 1.0, "about 1-100 ms"),
    "neuron.t_ref": (0.0, 0.1, "about 0-10 ms"),
    "neuron.r_m": (1e6, 1e11, "about 10 MΩ-1 GΩ"),
}
_VOLTAGES = ("neuron.e_l", "neuron.v_th", "neuron.v_reset", "neuron.v_init")
_VOLTAGE_RANGE = (-0.5, 0.5, "about -100 to +50 mV")
_CURRENT_RANGE = (-1e-7, 1e-7, "pA to a few nA")


def _values(wf, path: str) -> list[float]:
    """Every value ``path`` takes over the grid (finite ones)."""
    for ax in wf.sweep:
        if path in ax.params:
            vals = ax.values[ax.params.index(path)]
            return [float(v) for v in vals if math.isfinite(v)]
    v = wf.params.get(path)
    return [float(v)] if v is not None and math.isfinite(v) else []


def _shown(wf, path: str, value: float) -> str:
    """``value`` (SI) in the unit ``path`` was written in (on its axis, when swept)."""
    unit = next((ax.display_units[ax.params.index(path)] for ax in wf.sweep if path in ax.params), None)
    unit = unit or wf.display_units.get(path) or wf.param_units.get(path, "")
    si = wf.param_units.get(path, "")
    x = u.convert(value, si, unit) if unit and unit != "1" else value
    return f"{x:g} {unit}".strip() if unit != "1" else f"{x:g}"


def _which(wf, path: str, vals: list[float], bad: list[float]) -> str:
    """ "is 20 s" for a fixed value, "is 20 s at 3 of 9 points" / "reaches 20 s" when swept."""
    swept = len(vals) > 1
    worst = max(bad, key=abs)
    if not swept:
        return f"is {_shown(wf, path, worst)}"
    return f"reaches {_shown(wf, path, worst)} ({len(bad)} of its {len(vals)} values)"


def unusual_values(wf) -> list[str]:
    """One line per parameter whose value (anywhere on the grid) is longer than the run or far
    outside the usual range of a neuron in physical units; each names the field, its value,
    why it matters and what to check."""
    out: list[str] = []
    run = wf.to_dict().get("duration")
    run = run if isinstance(run, str) else _shown(wf, "neuron.tau_m", wf.duration)  # as written
    flagged: set[str] = set()
    # a time constant or refractory period longer than the run
    for path in ("neuron.tau_m", "neuron.t_ref"):
        vals = _values(wf, path)
        bad = [v for v in vals if v > wf.duration]
        if bad:
            what = (
                "V relaxes too slowly to change much within the run, so the neuron may never spike"
                if path == "neuron.tau_m"
                else "a neuron spikes at most once in the run"
            )
            out.append(f"`{path}` {_which(wf, path, vals, bad)}, longer than the run ({run}): {what}. Check its unit.")
            flagged.add(path)
    physical = wf.voltage_unit == "V"
    if physical:
        for path, (low, high, usual) in _RANGES.items():
            if path in flagged or wf.param_units.get(path) not in ("s", "ohm", "Ω"):
                continue
            vals = _values(wf, path)
            bad = [v for v in vals if not low <= v <= high]
            if bad:
                out.append(
                    f"`{path}` {_which(wf, path, vals, bad)}, far outside the usual range ({usual}). Check its unit."
                )
        checks = [(p, _VOLTAGE_RANGE) for p in _VOLTAGES]
        checks += [(p, _CURRENT_RANGE) for p in wf.params if p.startswith("inputs.") and wf.param_units.get(p) == "A"]
        for path, (low, high, usual) in checks:
            vals = _values(wf, path)
            bad = [v for v in vals if not low <= v <= high]
            if bad:
                out.append(
                    f"`{path}` {_which(wf, path, vals, bad)}, far outside the usual range ({usual}). Check its unit."
                )
    return out
