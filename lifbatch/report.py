"""``lifbatch report STORE -o report.html``: one self-contained HTML file.

The report holds the sweep's provenance (name, fingerprint, versions, creation
time, progress), the canonical workflow, the overview figures (the recorded V and inputs
across the x axis where the store has them) and the figures of one representative point
(its recorded state variables and inputs too), with closed-form theory where it applies: the figures of
:mod:`lifbatch.plotting` as the review app draws them (:mod:`lifbatch.review`, Bokeh
directly). All JavaScript and CSS is inlined and every resource
Panel would fetch from its CDN is replaced by a ``data:`` URI, so the file opens
from disk with no server and no network.

A sampled design is drawn as the review app draws it: the rate and the ISI CV as colour
over its first two sampled parameters, and against each parameter, a slider for every
grid axis, and the figures of one sample (the middle of those done at every grid value).

A sweep with three or more axes is drawn over its last two; a slider for every
other axis moves the overview and the point's figures together (the point keeps its
values of the plotted axes and takes the sliders' values of the others). Every
frame is stored in the file, up to :data:`MAX_EMBEDDED_FRAMES`; beyond that the
other axes are thinned to evenly spaced values, and the report says which.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import re
from os import PathLike
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from lifbatch import bokeh_figures, figures
from lifbatch.layout import SAMPLE

__all__ = ["write_report", "external_urls"]

#: at most this many frames (combinations of the slider axes' values) are embedded: each
#: frame stores all of its figures in the file (about 0.1 - 1 MB a frame)
MAX_EMBEDDED_FRAMES = 24

#: (a backslash ends the URL too: inside embedded states the JSON is escaped once more, \")
_CDN = re.compile(r"https?://cdn\.holoviz\.org/panel/[^/\"'\\]+/dist/([^\"'?\s)\\]+)(\?[^\"'\s)\\]*)?")
#: tags that would make the browser fetch something from the network when the file opens
_EXTERNAL_TAG = re.compile(
    r"<(?:link|script|img|iframe)\b[^>]*?\b(?:href|src)\s*=\s*"
    r"[\"'](?:https?:)?//[^\"']+[\"'][^>]*>",
    re.IGNORECASE,
)
_STYLESHEET_URL = re.compile(r"\"url\"\s*:\s*\"((?:https?:)?//[^\"]+)\"")


def _pn():
    try:
        # (here: Panel and Bokeh are the `review` extra; missing, they are said in one line)
        import bokeh  # noqa: F401
        import panel as pn
    except ImportError as err:  # (the `review` extra)
        from lifbatch.errors import missing_extra

        raise missing_extra("lifbatch report", "review", "Panel and Bokeh") from err
    return pn


def external_urls(text: str) -> list[str]:
    """Network resources an HTML page would load when opened: tags and stylesheet URLs.

    URLs that only appear inside inlined JavaScript (licence comments, code paths for
    components the page does not use) are not resources and are not listed.
    """
    found = [m.group(0) for m in _EXTERNAL_TAG.finditer(text)]
    found += [m.group(1) for m in _STYLESHEET_URL.finditer(text)]
    return found


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".ico":
        mime = "image/x-icon"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_cdn(text: str) -> str:
    """Replace Panel CDN URLs by data: URIs of the files Panel ships; drop what it does not."""
    # (here: Panel is the `review` extra, loaded by _pn() before)
    import panel

    dist = Path(panel.__file__).parent / "dist"

    def repl(match: re.Match) -> str:
        local = dist / match.group(1)
        return _data_uri(local) if local.is_file() else ""

    text = _CDN.sub(repl, text)
    # any remaining external tag (e.g. a CDN favicon of another version) is not needed offline
    return _EXTERNAL_TAG.sub("", text)


def _provenance_md(ds: xr.Dataset, source: str) -> str:
    attrs = ds.attrs
    axes = figures.sweep_axes(ds)
    rows = []
    for axis in axes:
        if axis == SAMPLE and figures.is_sampled(ds):
            continue  # (its own table, below)
        values = ds[axis].values
        factor, unit = figures.display_scale(ds[axis].attrs)
        param = ds[axis].attrs.get("param", "")
        rng = (
            f"{figures.format_value(float(values.min()), factor, unit)} .. "
            f"{figures.format_value(float(values.max()), factor, unit)}"
        )
        rows.append(f"| `{axis}` | `{param}` | {values.size} | {rng} |")
    n_points = int(np.prod([ds.sizes[a] for a in axes])) if axes else 1
    written = figures.stored_workflow(ds)  # dt and duration as the workflow wrote them

    def as_written(key: str) -> str:
        value = written.get(key)
        if isinstance(value, str):
            return html.escape(value)
        si = attrs.get(key)
        return f"{float(si) * 1e3:g} ms" if isinstance(si, (int, float)) else "?"

    lines = [
        f"# {html.escape(str(attrs.get('name', 'lifbatch sweep')))}",
        "",
        f"| store | `{html.escape(source)}` |\n|---|---|",  # (the first row is the table's header)
        f"| fingerprint | `{attrs.get('fingerprint', '?')}` |",
        f"| created | {attrs.get('created', '?')} |",
        f"| lifbatch | {attrs.get('lifbatch_version', '?')} |",
        f"| method, dt, duration | {attrs.get('method', '?')}, {as_written('dt')}, {as_written('duration')} |",
        f"| seed, trials | {attrs.get('seed', '?')}, {attrs.get('trials', '?')} |",
        f"| points | {n_points} |",
    ]
    if "status" in ds:
        status = np.asarray(ds["status"].values)
        lines.append(
            f"| done / failed / pending | {int((status == 1).sum())} / "
            f"{int((status == 2).sum())} / {int((status == 0).sum())} |"
        )
    versions = attrs.get("versions")
    if versions:
        try:
            parsed = json.loads(versions) if isinstance(versions, str) else dict(versions)
            versions = ", ".join(f"{k} {v}" for k, v in parsed.items())
        except (TypeError, ValueError):
            pass
        lines.append(f"| versions | {html.escape(str(versions))} |")
    if rows:
        lines += [
            "",
            "### Grid axes" if figures.is_sampled(ds) else "### Sweep axes",
            "",
            "| axis | parameter | values | range |",
            "|---|---|---|---|",
            *rows,
        ]
    if figures.is_sampled(ds):
        lines += ["", *_design_md(ds)]
    return "\n".join(lines)


def _design_md(ds: xr.Dataset) -> list[str]:
    """The sampled design: method, points per round, and each parameter's bounds and scale."""
    section = figures.stored_workflow(ds).get("sample")
    method = section.get("method", "sobol") if isinstance(section, dict) else "?"
    rounds = figures.sample_rounds(ds)
    counts = ", ".join(f"{int((rounds == k).sum())} {figures.round_label(int(k))}" for k in np.unique(rounds))
    lines = [
        "### Sampled parameters",
        "",
        f"{rounds.size} samples ({html.escape(str(method))}: {counts})",
        "",
        "| name | parameter | scale | bounds |",
        "|---|---|---|---|",
    ]
    for p in figures.sampled_params(ds):
        attrs = ds[p].attrs
        factor, unit = figures.display_scale(attrs)
        bounds = attrs.get("bounds") or [float(ds[p].values.min()), float(ds[p].values.max())]
        rng = " .. ".join(figures.format_value(float(b), factor, unit) for b in bounds)
        lines.append(f"| `{p}` | `{attrs.get('param', '')}` | {attrs.get('scale', 'linear')} | {rng} |")
    return lines


def _workflow_text(ds: xr.Dataset) -> str:
    """The store's workflow as YAML, in the order and the units it was written (after the
    overrides that made the store; collections of plain values on one line)."""
    import yaml

    raw = ds.attrs.get("workflow")
    if raw is None:
        return "(no workflow attribute in this store)"
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)
    except (TypeError, ValueError, yaml.YAMLError):
        return str(raw)


def _frames(ds: xr.Dataset, axes: list[str]) -> tuple[xr.Dataset, str | None]:
    """``ds`` with the slider ``axes`` thinned to at most MAX_EMBEDDED_FRAMES combinations,
    and a sentence saying so (None when every frame fits)."""
    sizes = {a: ds.sizes[a] for a in axes}
    total = int(np.prod(list(sizes.values())))
    if total <= MAX_EMBEDDED_FRAMES:
        return ds, None
    keep = dict(sizes)
    while int(np.prod(list(keep.values()))) > MAX_EMBEDDED_FRAMES:
        longest = max(keep, key=lambda a: keep[a])
        keep[longest] -= 1
    for a in axes:
        ds = figures.thin_axis(ds, a, keep[a])
    kept = int(np.prod([ds.sizes[a] for a in axes]))
    values = "; ".join(
        f"`{a}`: "
        + ", ".join(figures.format_value(float(v), *figures.display_scale(ds[a].attrs)) for v in ds[a].values)
        for a in axes
    )
    return ds, (
        f"**{kept} of the {total} frames are embedded** (at most {MAX_EMBEDDED_FRAMES}: "
        f"each frame stores all of its figures in this file), at evenly spaced values of "
        f"the slider axes: {values}. `lifbatch review` shows every point."
    )


class _Report(NamedTuple):
    """The sweep's layout in the report."""

    ds: xr.Dataset  # the points drawn (slider axes thinned to the frames embedded)
    x: str | None  # plotted axes: x, and y for heatmaps / one curve per value
    y: str | None
    rest: list[str]  # axes with a slider
    point: dict[str, float]  # the point's values of the plotted axes (SI)
    note: str | None  # which frames are embedded, when not all
    theory: Any  # closed-form rate over ``ds`` (or None)


def _plan(ds: xr.Dataset) -> _Report:
    if figures.is_sampled(ds):
        return _plan_sampled(ds)
    axes = [a for a in figures.sweep_axes(ds) if ds.sizes[a] > 1]
    x = axes[-1] if axes else None
    y = axes[-2] if len(axes) >= 2 else None
    rest = axes[:-2]
    sub, note = _frames(ds, rest) if rest else (ds, None)
    point = {a: float(ds[a].values[ds.sizes[a] // 2]) for a in (x, y) if a is not None}
    return _Report(sub, x, y, rest, point, note, figures.theory_values(sub, True) if x else None)


def _plan_sampled(ds: xr.Dataset) -> _Report:
    """A sampled design: scatters over its first two parameters, a slider for every grid
    axis, and the middle sample's figures."""
    params = figures.sampled_params(ds)
    rest = [a for a in figures.grid_axes(ds) if ds.sizes[a] > 1]
    sub, note = _frames(ds, rest) if rest else (ds, None)
    samples = ds[SAMPLE].values
    if "status" in ds and samples.size:  # the middle of the samples done at every grid value
        status = np.asarray(ds["status"].transpose(SAMPLE, ...).values)
        done = (status == 1).reshape(samples.size, -1).all(axis=1)
        samples = samples[done] if done.any() else samples
    point = {SAMPLE: float(samples[samples.size // 2])} if samples.size else {}
    return _Report(
        sub, params[0], params[1] if len(params) > 1 else None, rest, point, note, figures.theory_values(sub, True)
    )


def _sampled_figures(plan: _Report, values: dict[str, float]) -> list:
    """Rate and ISI-CV scatters over the two parameters and their projections on each
    parameter (with the Siegert values where they apply), at one frame of the grid axes."""

    ds, x, y = plan.ds, plan.x, plan.y
    assert x is not None  # (a sampled report's x: its first sampled parameter)
    d, where = figures.select_samples(ds, values, "report")
    drawn = []
    ring = "the point below"
    for var, theory in (("rate", plan.theory), ("isi_cv", figures.theory_values(d, True, "cv"))):
        if var not in d:
            continue
        if y is not None:
            drawn.append(bokeh_figures.scatter_figure(d, x, y, var, where, ds, selected=ring))
        drawn += [
            bokeh_figures.projection_figure(d, p, var, where, ds, theory, legend=y is None, selected=ring)
            for p in figures.sampled_params(ds)
        ]
    for fig, data in drawn:  # (ring the sample whose figures follow)
        bokeh_figures.mark_sample(fig, data, plan.point.get(SAMPLE))
    return [fig for fig, _ in drawn]


def _trace_figures(plan: _Report, x: str, d: xr.Dataset, where: dict[str, float]) -> list:
    """V and each recorded input of the first recorded trial vs time, one curve per value of
    x (at most ``bokeh_figures.MAX_CURVES``), at the point's value of y: the Brian2 tutorial's v
    and I of its three cells. [] for a store without recorded traces."""

    names = figures.trace_vars(plan.ds)
    if not names:
        return []
    y = plan.y
    if y is not None:
        d = figures.sel_nearest(d, {y: plan.point[y]})
        where = {**where, y: float(d[y].values)}
    d = figures.thin_axis(d, x, bokeh_figures.MAX_CURVES)
    return [bokeh_figures.traces_figure(d, x, var, where, plan.ds) for var in names]


def _frame(plan: _Report, values: dict[str, float]):
    """Overview and point figures of one frame (SI ``values`` of the slider axes).

    Drawn with the review app's Bokeh figures (the data, units, labels and titles of
    :mod:`lifbatch.plotting`): recording a frame through HoloViews took 3 - 4 times as long.
    """

    pn = _pn()
    ds, x, y = plan.ds, plan.x, plan.y
    parts = []
    if figures.is_sampled(ds):
        parts += [pn.pane.Markdown("## Overview"), pn.FlexBox(*_sampled_figures(plan, values))]
    elif x is not None:
        d, where = figures.select(ds, values)
        figs = []
        curves = d
        if y is not None:
            figs += [bokeh_figures.heatmap_figure(d, x, y, where, ds, var=v) for v in ("rate", "isi_cv") if v in d]
            curves = figures.thin_axis(d, y)
        figs += [
            bokeh_figures.curves_figure("rate", curves, x, y, where, ds, plan.theory),
            bokeh_figures.curves_figure("isi", curves, x, y, where, ds),
            bokeh_figures.curves_figure("cv", curves, x, y, where, ds, figures.theory_values(curves, True, "cv")),
        ]
        figs += _trace_figures(plan, x, d, where)
        parts += [pn.pane.Markdown("## Overview"), pn.FlexBox(*figs)]
    sel = {**values, **plan.point}
    full, d, where = figures.select_point(ds, {a: sel[a] for a in figures.sweep_axes(ds) if a in sel}, "report")
    label = figures.sample_point_label(ds, where) or "the only point"
    figs = [build(full, d, where) for build in bokeh_figures.point_figures(ds).values()]
    parts += [
        pn.pane.Markdown(f"## Point: {label}", css_classes=["lb-report-point"]),
        pn.FlexBox(*[f for f in figs if f is not None]),
    ]
    return pn.Column(*parts, sizing_mode="stretch_width")


def write_report(store_or_ds: xr.Dataset | str | PathLike, path: str | PathLike) -> Path:
    """Write a self-contained HTML report of a sweep.

    Parameters
    ----------
    store_or_ds : Dataset or store path
        Results to report on.
    path : str or Path
        Output HTML file (overwritten).

    Returns
    -------
    Path
        The file written. It loads nothing from the network.

    Examples
    --------
    >>> write_report("results/pypet-firing-rate.zarr", "report.html")   # doctest: +SKIP
    """
    pn = _pn()
    ds = figures.label_positions(figures.open_dataset(store_or_ds))  # (a labelled axis: by its positions)
    source = str(store_or_ds) if not isinstance(store_or_ds, xr.Dataset) else "(in memory)"
    plan = _plan(ds)
    parts: list[Any] = [pn.pane.Markdown(_provenance_md(ds, source), sizing_mode="stretch_width")]
    if plan.rest:
        # one slider per further axis; the overview and the point's figures of every
        # combination are recorded in the file (Panel's embedded states)
        sliders = []
        for a in plan.rest:
            options = {figures.axis_text(plan.ds, a, v): float(v) for v in plan.ds[a].values}
            cls = pn.widgets.DiscreteSlider
            title = {"label": a} if "label" in cls.param else {"name": a}  # (name: deprecated in Panel 1.9)
            sliders.append(cls(**title, options=options, value=next(iter(options.values())), width=400))
        parts.append(pn.Row(*sliders, css_classes=["lb-report-sliders"]))
        if plan.note:
            parts.append(pn.pane.Markdown(plan.note, css_classes=["lb-report-frames"], sizing_mode="stretch_width"))
        parts.append(pn.panel(pn.bind(lambda *v: _frame(plan, dict(zip(plan.rest, v))), *sliders)))
    else:
        parts.append(_frame(plan, {}))
    parts += [
        pn.pane.Markdown("## Workflow"),
        pn.pane.HTML(f"<pre class='lb-workflow'>{html.escape(_workflow_text(ds))}</pre>", sizing_mode="stretch_width"),
    ]
    layout = pn.Column(*parts, sizing_mode="stretch_width")

    # (here: Bokeh is the `review` extra, loaded by _pn() before)
    from bokeh.resources import INLINE

    out = Path(path)
    page_title = f"lifbatch report: {ds.attrs.get('name', 'sweep')}"
    layout.save(
        str(out),
        resources=INLINE,
        embed=bool(plan.rest),
        title=page_title,
        max_states=MAX_EMBEDDED_FRAMES,
        progress=False,
    )
    text = _inline_cdn(out.read_text(encoding="utf-8"))
    out.write_text(text, encoding="utf-8")
    left = external_urls(text)
    if left:  # a new Panel version may link something else: say so rather than ship it
        raise RuntimeError(f"report {out} still links external resources: {left[:3]}")
    return out
