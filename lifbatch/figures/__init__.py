"""Figure data of sweep results, renderer-neutral: what every figure of lifbatch shows.

``lifbatch.plotting`` (HoloViews), the review app (``lifbatch.review``, Bokeh) and the
static report (``lifbatch.report``) draw from these functions; none of them imports a
plotting library, so they are tested without a renderer.

- selection: :func:`select` (SI values, nearest, inf exactly), :func:`select_point` (every
  axis of one point), :func:`free_axes` (the axes neither plotted nor selected: one frame
  per combination), :func:`select_samples` (a sampled design's grid axes);
- display units: :func:`display_scale` and :class:`Axis` (SI to ``attrs["display_units"]``:
  mV for volts, ms for seconds, the square of V's unit for variances), :func:`format_value`;
- titles and labels: :func:`figure_title`, :func:`point_label`, :func:`curve_groups`;
- theory lines: :func:`theory_values` (Siegert rate and CV), :func:`theory_ou`,
  :func:`theory_lines`; None only where the theory does not apply (a model without
  theory, inputs other than constant and white noise, a threshold for the OU lines): an
  error in the theory raises, it is never hidden as a missing overlay;
- one point's data: :func:`ensemble_data`, :func:`isi_hist_data`,
  :func:`spike_raster_times`, :func:`trace_panels`, :func:`point_note`;
- sampled designs: :func:`sample_data`, :func:`sample_layers`, :func:`sample_point_label`.

Coordinates and values are stored in SI; the display units come from the store's
attributes (what the workflow was written in). Unit conversions use the package's one
pint registry (:mod:`lifbatch.units`).
"""


from __future__ import annotations

from .core import (
    HEIGHT,
    LABELS,
    MAX_FRAMES,
    OU_LABEL,
    PALETTE,
    THEORY_STYLE,
    TITLE_SIZE,
    WIDTH,
    Axis,
    Ensemble,
    axis_of,
    canonical_workflow,
    cell_edges,
    curve_groups,
    display_scale,
    ensemble_data,
    figure_title,
    format_value,
    free_axes,
    free_points,
    grid_labels,
    has_theory,
    is_regular,
    isi_hist_data,
    model_name,
    need_point,
    neuron_model,
    open_dataset,
    point_label,
    axis_text,
    label_positions,
    point_note,
    raster_xmax,
    sampled_params,
    sel_nearest,
    select,
    select_point,
    spike_line,
    spike_raster_times,
    square_attrs,
    stored_workflow,
    sweep_axes,
    theory_label,
    theory_lines,
    theory_ou,
    theory_values,
    thin_axis,
    unit_errors,
    voltage_display,
)
from .sampled import (
    NAN_COLOR,
    ROUND_MARKERS,
    SUMMARIES,
    SUMMARY_TITLES,
    SampleData,
    SampleLayer,
    check_sampled_param,
    check_summary,
    grid_axes,
    is_sampled,
    log_scale,
    log_ticks,
    nearest_index,
    round_label,
    sample_data,
    sample_layers,
    sample_point_label,
    sample_rounds,
    select_samples,
    summaries,
    summary_axis,
    theory_at_samples,
)
from .traces import (
    TraceCurves,
    TracePanel,
    is_trace,
    recorded_inputs,
    recorded_state,
    trace_curves,
    trace_panels,
    trace_title,
    trace_vars,
)

__all__ = [
    "PALETTE", "LABELS", "WIDTH", "HEIGHT", "TITLE_SIZE", "MAX_FRAMES", "open_dataset", "sweep_axes", "unit_errors",
    "display_scale", "Axis", "axis_of", "voltage_display", "square_attrs", "format_value", "point_label", "axis_text",
    "label_positions", "sel_nearest", "select", "need_point", "free_axes", "free_points", "figure_title", "stored_workflow",
    "canonical_workflow", "model_name", "neuron_model", "has_theory", "spike_line", "curve_groups", "THEORY_STYLE",
    "OU_LABEL", "theory_values", "theory_ou", "theory_label", "theory_lines", "grid_labels", "is_regular",
    "cell_edges", "select_point", "point_note", "isi_hist_data", "Ensemble", "ensemble_data", "spike_raster_times",
    "raster_xmax", "thin_axis", "sampled_params", "is_trace", "recorded_state", "recorded_inputs", "trace_vars",
    "TracePanel", "trace_panels", "TraceCurves", "trace_curves", "trace_title", "ROUND_MARKERS", "SUMMARIES",
    "SUMMARY_TITLES", "NAN_COLOR", "is_sampled", "grid_axes", "summaries", "log_scale", "log_ticks", "round_label",
    "SampleLayer", "sample_rounds", "sample_layers", "summary_axis", "select_samples", "check_sampled_param",
    "check_summary", "SampleData", "sample_data", "sample_point_label", "nearest_index", "theory_at_samples",
]
