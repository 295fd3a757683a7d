"""``lifbatch report STORE -o report.html``: one self-contained HTML file.

The report holds the sweep's provenance (name, fingerprint, versions, creation
time, progress), the canonical workflow, the overview figures and the figures of
one representative point. All JavaScript and CSS is inlined and every resource
Panel would fetch from its CDN is replaced by a ``data:`` URI, so the file opens
from disk with no server and no network. Sliders over sweep axes that are neither
plotted nor fixed (sweeps with three or more axes) are embedded and keep working.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import re
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lifbatch import plotting

__all__ = ["write_report", "external_urls"]

#: at most this many frames of embedded sliders (each frame is stored in the file)
MAX_EMBEDDED_FRAMES = 24

_CDN = re.compile(r"https?://cdn\.holoviz\.org/panel/[^/\"']+/dist/([^\"'?\s)]+)(\?[^\"'\s)]*)?")
#: tags that would make the browser fetch something from the network when the file opens
_EXTERNAL_TAG = re.compile(
    r"<(?:link|script|img|iframe)\b[^>]*?\b(?:href|src)\s*=\s*"
    r"[\"'](?:https?:)?//[^\"']+[\"'][^>]*>",
    re.IGNORECASE)
_STYLESHEET_URL = re.compile(r"\"url\"\s*:\s*\"((?:https?:)?//[^\"]+)\"")


def _pn():
    try:
        import panel as pn
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "lifbatch report needs panel, holoviews, hvplot and bokeh, which are optional. "
            "Install them with: pip install 'lifbatch[review]' "
            "(or: pip install hvplot holoviews bokeh panel)"
        ) from err
    plotting._hv()
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
    axes = plotting.sweep_axes(ds)
    rows = []
    for axis in axes:
        values = ds[axis].values
        factor, unit = plotting.display_scale(ds[axis].attrs)
        param = ds[axis].attrs.get("param", "")
        rng = (f"{plotting._fmt_value(float(values.min()), factor, unit)} .. "
               f"{plotting._fmt_value(float(values.max()), factor, unit)}")
        rows.append(f"| `{axis}` | `{param}` | {values.size} | {rng} |")
    n_points = int(np.prod([ds.sizes[a] for a in axes])) if axes else 1
    lines = [
        f"# {html.escape(str(attrs.get('name', 'lifbatch sweep')))}",
        "",
        f"| | |\n|---|---|\n| store | `{html.escape(source)}` |",
        f"| fingerprint | `{attrs.get('fingerprint', '?')}` |",
        f"| created | {attrs.get('created', '?')} |",
        f"| lifbatch | {attrs.get('lifbatch_version', '?')} |",
        f"| method, dt, duration | {attrs.get('method', '?')}, {attrs.get('dt', '?')} s, "
        f"{attrs.get('duration', '?')} s |",
        f"| seed, trials | {attrs.get('seed', '?')}, {attrs.get('trials', '?')} |",
        f"| points | {n_points} |",
    ]
    if "status" in ds:
        status = np.asarray(ds["status"].values)
        lines.append(f"| done / failed / pending | {int((status == 1).sum())} / "
                     f"{int((status == 2).sum())} / {int((status == 0).sum())} |")
    versions = attrs.get("versions")
    if versions:
        try:
            parsed = json.loads(versions) if isinstance(versions, str) else dict(versions)
            versions = ", ".join(f"{k} {v}" for k, v in parsed.items())
        except (TypeError, ValueError):
            pass
        lines.append(f"| versions | {html.escape(str(versions))} |")
    if rows:
        lines += ["", "### Sweep axes", "", "| axis | parameter | values | range |",
                  "|---|---|---|---|", *rows]
    return "\n".join(lines)


def _workflow_text(ds: xr.Dataset) -> str:
    raw = ds.attrs.get("workflow")
    if raw is None:
        return "(no workflow attribute in this store)"
    try:
        return json.dumps(json.loads(raw) if isinstance(raw, str) else raw, indent=2)
    except (TypeError, ValueError):
        return str(raw)


def _figures(ds: xr.Dataset) -> tuple[Any, Any, str]:
    """(overview figure, point figures, point label) for the report."""
    hv = plotting._hv()
    axes = [a for a in plotting.sweep_axes(ds) if ds.sizes[a] > 1]
    point = {a: float(ds[a].values[ds.sizes[a] // 2]) for a in axes}
    if len(axes) >= 3:
        x, y, rest = axes[-1], axes[-2], axes[:-2]
        n_frames = int(np.prod([ds.sizes[a] for a in rest]))
        # embed sliders over the other axes when the frames fit in the file; else fix them
        fixed = {} if n_frames <= MAX_EMBEDDED_FRAMES else {a: point[a] for a in rest}
        thin = plotting._thin(ds, y)
        overview = hv.Layout([plotting.rate_heatmap(ds, x, y, **fixed),
                              plotting.rate_curve(thin, x, by=y, **fixed),
                              plotting.isi_errorbar(thin, x, by=y, **fixed),
                              plotting.isi_cv(thin, x, by=y, **fixed)]).cols(2)
    elif axes:
        overview = plotting.overview(ds)
    else:
        overview = None
    detail = hv.Layout([plotting.v_ensemble(ds, **point), plotting.raster(ds, **point),
                        plotting.isi_histogram(ds, **point), plotting.v_autocov(ds, **point)]
                       ).cols(2)
    label = plotting._point_label(ds, point) or "the only point"
    return overview, detail, label


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
    ds = plotting.open_dataset(store_or_ds)
    source = str(store_or_ds) if not isinstance(store_or_ds, xr.Dataset) else "(in memory)"
    overview, detail, label = _figures(ds)
    parts: list[Any] = [pn.pane.Markdown(_provenance_md(ds, source), sizing_mode="stretch_width")]
    if overview is not None:
        parts += [pn.pane.Markdown("## Overview"), pn.pane.HoloViews(overview)]
    parts += [pn.pane.Markdown(f"## Point: {label}"), pn.pane.HoloViews(detail),
              pn.pane.Markdown("## Workflow"),
              pn.pane.HTML(f"<pre class='lb-workflow'>{html.escape(_workflow_text(ds))}</pre>",
                           sizing_mode="stretch_width")]
    layout = pn.Column(*parts, sizing_mode="stretch_width")

    from bokeh.resources import INLINE

    out = Path(path)
    title = f"lifbatch report: {ds.attrs.get('name', 'sweep')}"
    layout.save(str(out), resources=INLINE, embed=True, title=title)
    text = _inline_cdn(out.read_text(encoding="utf-8"))
    out.write_text(text, encoding="utf-8")
    left = external_urls(text)
    if left:  # a new Panel version may link something else: say so rather than ship it
        raise RuntimeError(f"report {out} still links external resources: {left[:3]}")
    return out
