"""``lifbatch review STORE``: a Panel app to browse a sweep in the browser.

Layout: a side bar with the plot-axis choices (x axis, curves/heatmap axis), one
slider for every other sweep axis, a Refresh button and the store's progress; the
overview figures of the selected slice (rate heatmap, rate / ISI curves); and the
drill-down figures of one point (V ensemble, spike raster, ISI histogram, V
autocovariance). Tapping a heatmap cell or a curve point selects the drill-down
point.

The store is read lazily: a slice's summaries and one point's traces are read when
shown, so the app opens quickly on large grids and on a store still being written
(Refresh re-opens it and shows the points finished since).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping
from os import PathLike
from typing import Any

import numpy as np
import xarray as xr

from lifbatch import plotting

__all__ = ["make_app", "serve"]

#: at most this many curves in the overview (evenly spaced values of the second axis)
MAX_CURVES = 8
_NONE = "(none)"
_SUMMARIES = ("rate", "rate_std", "isi_mean", "isi_std", "isi_cv", "status")


def _pn():
    """Import Panel and HoloViews (bokeh backend), or explain how to install them."""
    try:
        import holoviews as hv
        import panel as pn
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "lifbatch review needs panel, holoviews, hvplot and bokeh, which are optional. "
            "Install them with: pip install 'lifbatch[review]' "
            "(or: pip install hvplot holoviews bokeh panel)"
        ) from err
    plotting._hv()
    return pn, hv


def _label(cls, text: str) -> dict:
    """Widget title keyword: ``label`` in Panel >= 1.9 (``name`` is deprecated there)."""
    return {"label": text} if "label" in cls.param else {"name": text}


def _nearest_index(values: np.ndarray, value: float) -> int:
    return int(np.nanargmin(np.abs(np.asarray(values, dtype=float) - value)))


class ReviewApp:
    """State and widgets of one browser session of the review app.

    Parameters
    ----------
    source : Dataset or store path
        A path is re-opened by :meth:`refresh`; a Dataset is shown as is.
    """

    def __init__(self, source: xr.Dataset | str | PathLike):
        pn, hv = _pn()
        self._pn, self._hv = pn, hv
        self.source = source
        self.ds = plotting.open_dataset(source)
        self.axes = plotting.sweep_axes(self.ds)
        varying = [a for a in self.axes if self.ds.sizes[a] > 1]
        self.point: dict[str, float] = {
            a: float(self.ds[a].values[self.ds.sizes[a] // 2]) for a in self.axes
        }

        self.x_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "x axis"), options=varying or [_NONE],
            value=varying[-1] if varying else _NONE,
            css_classes=["lb-x-select"])
        y_options = [_NONE] + varying
        self.y_select = pn.widgets.Select(
            **_label(pn.widgets.Select, "curves / heatmap axis"), options=y_options,
            value=varying[-2] if len(varying) >= 2 else _NONE, css_classes=["lb-y-select"])
        self.sliders: dict[str, Any] = {}
        for axis in self.axes:
            factor, unit = plotting.display_scale(self.ds[axis].attrs)
            options = {plotting._fmt_value(float(v), factor, unit): float(v)
                       for v in self.ds[axis].values}
            slider = pn.widgets.DiscreteSlider(
                **_label(pn.widgets.DiscreteSlider, axis), options=options, value=self.point[axis],
                css_classes=[f"lb-slider-{axis}"], sizing_mode="stretch_width")
            slider.param.watch(lambda event, _axis=axis: self._on_slider(_axis, event.new),
                               "value")
            self.sliders[axis] = slider
        style = ({"color": "primary"} if "color" in pn.widgets.Button.param
                 else {"button_type": "primary"})
        self.refresh_button = pn.widgets.Button(**_label(pn.widgets.Button, "Refresh"), **style,
                                                css_classes=["lb-refresh"])
        self.refresh_button.on_click(lambda event: self.refresh())
        self.x_select.param.watch(self._on_axes, "value")
        self.y_select.param.watch(self._on_axes, "value")

        self.status_md = pn.pane.Markdown("", css_classes=["lb-status"])
        self.point_md = pn.pane.Markdown("", css_classes=["lb-point"])
        self.slider_box = pn.Column()
        self.message = pn.pane.Alert("", alert_type="warning", visible=False,
                                     css_classes=["lb-message"])
        pane = pn.pane.HoloViews
        self.heat_pane = pane(None, css_classes=["lb-heatmap"])
        self.rate_pane = pane(None, css_classes=["lb-rate-curve"])
        self.isi_pane = pane(None, css_classes=["lb-isi-errorbar"])
        self.cv_pane = pane(None, css_classes=["lb-isi-cv"])
        self.point_panes = {name: pane(None, css_classes=[f"lb-{name.replace('_', '-')}"])
                            for name in ("v_ensemble", "raster", "isi_histogram", "v_autocov")}
        # dynamic tabs render only the visible tab: a fast first page on big stores
        self.overview_tabs = pn.Tabs(
            ("Firing rate", pn.FlexBox(self.heat_pane, self.rate_pane)),
            ("ISI", pn.FlexBox(self.isi_pane, self.cv_pane)),
            dynamic=True, css_classes=["lb-overview"])
        self.drill_box = pn.FlexBox(*self.point_panes.values(), css_classes=["lb-drilldown"])
        self._taps: list[Any] = []
        self._update_sliders()
        self._render_overview()
        self._render_drilldown()

    # ------------------------------------------------------------------ layout
    def view(self):
        """The Panel layout of the app."""
        pn = self._pn
        name = self.ds.attrs.get("name", "lifbatch sweep")
        sidebar = pn.Column(
            pn.pane.Markdown(
                f"### {name}\n\nfingerprint `{self.ds.attrs.get('fingerprint', '?')}`"),
            self.status_md, self.refresh_button, self.x_select, self.y_select,
            pn.pane.Markdown("**Other sweep axes**"), self.slider_box,
            width=300, css_classes=["lb-sidebar"])
        main = pn.Column(
                pn.pane.Markdown("## Overview  \n*tap a heatmap cell or a curve to drill down*"),
            self.message, self.overview_tabs,
            pn.pane.Markdown("## Point"), self.point_md, self.drill_box,
            sizing_mode="stretch_width")
        return pn.Row(sidebar, main, sizing_mode="stretch_width")

    # ------------------------------------------------------------------ state changes
    def _plot_axes(self) -> tuple[str | None, str | None]:
        x = self.x_select.value if self.x_select.value != _NONE else None
        y = self.y_select.value if self.y_select.value not in (_NONE, x) else None
        return x, y

    def _fixed(self) -> dict[str, float]:
        """Slider values of the sweep axes that are not plotted."""
        x, y = self._plot_axes()
        return {a: float(self.sliders[a].value) for a in self.axes if a not in (x, y)
                and self.ds.sizes[a] > 1}

    def _update_sliders(self) -> None:
        x, y = self._plot_axes()
        self.slider_box.objects = [self.sliders[a] for a in self.axes
                                   if a not in (x, y) and self.ds.sizes[a] > 1]
        if not self.slider_box.objects:
            self.slider_box.objects = [self._pn.pane.Markdown("*none: every axis is plotted*")]

    def _on_axes(self, event) -> None:
        self._update_sliders()
        self._render_overview()

    def _on_slider(self, axis: str, value: float) -> None:
        self.point[axis] = float(value)
        self._render_overview()
        self._render_drilldown()

    def select_point(self, **coords: float) -> None:
        """Set the drill-down point (SI values, nearest grid value) and redraw it."""
        for axis, value in coords.items():
            if axis in self.axes and value is not None and np.isfinite(value):
                values = self.ds[axis].values
                self.point[axis] = float(values[_nearest_index(values, value)])
        self._render_drilldown()

    def refresh(self) -> None:
        """Re-open the store (new points of a running sweep) and redraw everything."""
        if not isinstance(self.source, xr.Dataset):
            self.ds = plotting.open_dataset(self.source)
        self._render_overview()
        self._render_drilldown()

    # ------------------------------------------------------------------ rendering
    def _status_text(self) -> str:
        n_total = int(np.prod([self.ds.sizes[a] for a in self.axes])) if self.axes else 1
        if "status" not in self.ds:
            return f"{n_total} points"
        status = np.asarray(self.ds["status"].values)
        done, failed = int((status == 1).sum()), int((status == 2).sum())
        text = f"**{done} / {n_total} points done**"
        if failed:
            text += f", {failed} failed"
        if done + failed < n_total:
            text += f", {n_total - done - failed} pending (press Refresh)"
        return text

    def _render_overview(self) -> None:
        hv = self._hv
        self.status_md.object = self._status_text()
        x, y = self._plot_axes()
        fixed = self._fixed()
        self._taps = []
        self.message.visible = False
        if x is None:  # a single point: the drill-down is the whole story
            self.overview_tabs.visible = False
            return
        try:
            # read the slice's summaries once (each store chunk once), then plot from memory
            names = [n for n in _SUMMARIES if n in self.ds]
            # (lists keep the fixed axes as length-1 dims, so titles still name them)
            summary = self.ds[names].sel({a: [v] for a, v in fixed.items()},
                                         method="nearest").compute()
            summary.attrs = self.ds.attrs
            fixed = {}
            if y is not None:
                heat = plotting.rate_heatmap(summary, x, y)
                tap = hv.streams.Tap(source=heat, x=None, y=None)
                tap.add_subscriber(
                    lambda x=None, y=None, _x=x, _y=y: self._tap_heatmap(_x, _y, x, y))
                self._taps.append(tap)
                self.heat_pane.object = heat
                curves_ds = plotting._thin(summary, y, MAX_CURVES)
            else:
                curves_ds = summary
            self.heat_pane.visible = y is not None
            rate = plotting.rate_curve(curves_ds, x, by=y, **fixed)
            tap = hv.streams.Tap(source=rate, x=None, y=None)
            tap.add_subscriber(
                lambda x=None, y=None, _x=x, _by=y, _d=curves_ds:
                self._tap_curve(_d, _x, _by, x, y))
            self._taps.append(tap)
            self.rate_pane.object = rate
            self.isi_pane.object = plotting.isi_errorbar(curves_ds, x, by=y, **fixed)
            self.cv_pane.object = plotting.isi_cv(curves_ds, x, by=y, **fixed)
        except Exception as err:  # keep the app alive; say what failed
            self.message.object = f"Could not draw the overview: {err}"
            self.message.visible = True

    def _tap_heatmap(self, xname: str, yname: str, x: float | None, y: float | None) -> None:
        if x is None or y is None:
            return
        xfac = plotting.display_scale(self.ds[xname].attrs)[0]
        yfac = plotting.display_scale(self.ds[yname].attrs)[0]
        self.select_point(**{xname: x / xfac, yname: y / yfac, **self._fixed()})

    def _tap_curve(self, d: xr.Dataset, xname: str, by: str | None,
                   x: float | None, y: float | None) -> None:
        if x is None:
            return
        xfac = plotting.display_scale(self.ds[xname].attrs)[0]
        coords = {xname: x / xfac, **self._fixed()}
        if by is not None and y is not None:
            # which curve was tapped: the one whose rate at that x is closest to the tap
            xi = _nearest_index(d[xname].values, x / xfac)
            rfac = plotting.display_scale(d["rate"].attrs, default="Hz")[0]
            sel = {a: v for a, v in self._fixed().items() if a in d["rate"].dims}
            rates = d["rate"].sel(sel, method="nearest").isel({xname: xi}).values * rfac
            if np.isfinite(rates).any():
                coords[by] = float(d[by].values[int(np.nanargmin(np.abs(rates - y)))])
        self.select_point(**coords)

    def _render_drilldown(self) -> None:
        pn = self._pn
        sel = {a: v for a, v in self.point.items() if self.ds.sizes[a] > 1}
        label = plotting._point_label(self.ds, self.point) or "the only point"
        state = ""
        if "status" in self.ds:
            code = int(self.ds["status"].sel(self.point, method="nearest").values)
            state = {0: " (pending)", 1: "", 2: " (failed)"}.get(code, "")
        self.point_md.object = f"**Selected point:** {label}{state}"
        for name, pane in self.point_panes.items():
            try:
                pane.object = getattr(plotting, name)(self.ds, **sel)
            except Exception as err:
                pane.object = None
                self.point_md.object += f"  \n*{name}: {err}*"


def make_app(store_or_ds: xr.Dataset | str | PathLike):
    """Build the review app for a store path or a results Dataset.

    Parameters
    ----------
    store_or_ds : Dataset or store path
        Results to review; a path is read lazily and re-read on Refresh.

    Returns
    -------
    panel.viewable.Viewable
        Serve it with :func:`serve`, ``panel.serve`` or show it in a notebook.

    Examples
    --------
    >>> app = make_app("results/pypet-firing-rate.zarr")   # doctest: +SKIP
    >>> app.servable()                                      # doctest: +SKIP
    """
    pn, _ = _pn()
    pn.extension(notifications=False)
    app = ReviewApp(store_or_ds)
    layout = app.view()
    layout._lifbatch_app = app  # handle for tests and notebooks
    return layout


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def serve(store: xr.Dataset | str | PathLike, *, port: int = 0, open_browser: bool = True,
          address: str = "127.0.0.1", **kwargs: Any) -> None:
    """Serve the review app on ``http://address:port/`` until interrupted (blocking).

    Parameters
    ----------
    store : store path or Dataset
    port : int
        TCP port; 0 picks a free one.
    open_browser : bool
        Open the page in the default browser.
    address : str
        Interface to listen on; the default serves this machine only.
    **kwargs
        Passed to ``panel.serve``.
    """
    pn, _ = _pn()
    if isinstance(store, (str, PathLike)):
        plotting.open_dataset(store)  # fail now, with the store's error, not in the browser
    port = port or _free_port(address)
    origins = {f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"}
    url = f"http://{address}:{port}/"
    print(f"lifbatch review: serving {store if not isinstance(store, xr.Dataset) else 'dataset'} "
          f"at {url} (Ctrl+C to stop)", flush=True)
    pn.serve({"/": lambda: make_app(store)}, port=port, address=address,
             websocket_origin=sorted(origins), show=open_browser, title="lifbatch review",
             verbose=False, **kwargs)
    sys.stdout.flush()
