"""A small, dependency-free SVG timeline chart: stacked lanes sharing one time axis.

Lanes hold step lines (traffic share), bars over windows (error rate per measurement) or
dots (health probes, pass/fail); vertical markers cross every lane (each step, the failure,
the rollback) and a numbered key under the chart names each step, so the picture reads on
its own. The output is inline SVG: no scripts, fonts or external references.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Literal

WIDTH = 960
_LEFT, _RIGHT, _ROW, _GAP = 96, 24, 15, 16
_MARKER_COLORS = {"step": "#8a94a6", "ok": "#1a7f37", "failure": "#cf222e", "rollback": "#bc4c00"}
ScaleFn = Callable[[float], float]
_TICK_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)


@dataclass
class Span:
    """A bar from `t0` to `t1` (seconds) with a value, and a tooltip."""

    t0: float
    t1: float
    value: float
    note: str = ""
    color: str | None = None


@dataclass
class Series:
    """One thing drawn in a lane.

    `step`: a value that holds until the next point; `bars`: `spans`; `dots`: points whose
    value is 1 (pass, `color`) or 0 (fail, `fail_color`), drawn at height `row` (0..1).
    """

    name: str
    kind: Literal["step", "bars", "dots", "line"]
    color: str
    points: list[tuple[float, float]] = field(default_factory=list[tuple[float, float]])
    spans: list[Span] = field(default_factory=list[Span])
    fail_color: str = "#cf222e"
    row: float = 0.5
    notes: list[str] = field(default_factory=list[str])


@dataclass
class Lane:
    """A horizontal band with its own value axis (`0..max_value`, in `unit`)."""

    title: str
    unit: str
    max_value: float
    series: list[Series]
    height: int = 110
    thresholds: list[tuple[float, str]] = field(default_factory=list[tuple[float, str]])


@dataclass
class Marker:
    """A moment: a numbered step, or a labelled failure / rollback / success."""

    t: float
    label: str
    kind: Literal["step", "ok", "failure", "rollback"] = "step"


@dataclass
class Chart:
    """A whole timeline."""

    title: str
    subtitle: str
    t_end: float
    lanes: list[Lane]
    markers: list[Marker] = field(default_factory=list[Marker])
    x_label: str = "seconds since the deployment started"


def render_svg(chart: Chart) -> str:
    """The chart as one `<svg>` element."""
    t_end = max(chart.t_end, 1e-6)
    plot_w = WIDTH - _LEFT - _RIGHT

    def x(t: float) -> float:
        return _LEFT + plot_w * min(max(t, 0.0), t_end) / t_end

    numbered = [m for m in chart.markers if m.kind == "step"]
    callouts = [m for m in chart.markers if m.kind != "step"]
    callout_rows = _rows([x(m.t) for m in callouts], [_text_w(m.label) for m in callouts])
    number_rows = _rows([x(m.t) for m in numbered], [14.0] * len(numbered))
    top = (
        52 + _ROW * (max(callout_rows, default=-1) + 1) + _ROW * (max(number_rows, default=-1) + 1)
    )
    out: list[str] = []
    y = top
    for lane in chart.lanes:
        out += _lane(lane, y, x, plot_w)
        y += lane.height + _GAP
    lanes_bottom = y - _GAP
    out += _axis(t_end, x, lanes_bottom, chart.x_label)
    marker_top = 52
    for index, marker in enumerate(callouts):
        ty = marker_top + _ROW * callout_rows[index] + 11
        out += _marker_line(marker, x(marker.t), ty + 3, lanes_bottom, 2.0)
        out.append(_label(x(marker.t), ty, marker.label, _MARKER_COLORS[marker.kind], bold=True))
    numbers_top = marker_top + _ROW * (max(callout_rows, default=-1) + 1)
    for index, marker in enumerate(numbered):
        cy = numbers_top + _ROW * number_rows[index] + 7
        out += _marker_line(marker, x(marker.t), cy + 6, lanes_bottom, 1.0)
        out.append(
            f'<circle cx="{x(marker.t):.1f}" cy="{cy}" r="6.5" fill="#fff" '
            f'stroke="{_MARKER_COLORS["step"]}"/>'
        )
        out.append(
            f'<text x="{x(marker.t):.1f}" y="{cy + 3.5}" font-size="9" '
            f'text-anchor="middle">{index + 1}</text>'
        )
    key_y = lanes_bottom + 44
    key, key_h = _key(numbered, chart.lanes, key_y)
    height = key_y + key_h + 8
    head = [
        f'<svg viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="100%" role="img" font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(chart.title)}</title><desc>{escape(chart.subtitle)}</desc>",
        f'<rect width="{WIDTH}" height="{height:.0f}" fill="#fff"/>',
        f'<text x="{_LEFT}" y="20" font-size="15" font-weight="600">{escape(chart.title)}</text>',
        f'<text x="{_LEFT}" y="38" fill="#444">{escape(chart.subtitle)}</text>',
    ]
    return "\n".join([*head, *out, *key, "</svg>"])


def _rows(xs: list[float], widths: list[float]) -> list[int]:
    """Stack labels into rows so that none overlaps another in its row."""
    ends: list[float] = []
    rows: list[int] = []
    for left, width in zip(xs, widths, strict=True):
        start = min(left, WIDTH - _RIGHT - width)
        for row, end in enumerate(ends):
            if start > end + 4:
                ends[row] = start + width
                rows.append(row)
                break
        else:
            ends.append(start + width)
            rows.append(len(ends) - 1)
    return rows


def _text_w(text: str) -> float:
    return 6.4 * len(text) + 4


def _label(x: float, y: float, text: str, color: str, *, bold: bool = False) -> str:
    weight = ' font-weight="600"' if bold else ""
    anchor = "start" if x + _text_w(text) < WIDTH - _RIGHT else "end"
    return (
        f'<text x="{x + (3 if anchor == "start" else -3):.1f}" y="{y:.1f}" fill="{color}"'
        f'{weight} text-anchor="{anchor}">{escape(text)}</text>'
    )


def _marker_line(marker: Marker, x: float, y0: float, y1: float, width: float) -> list[str]:
    dash = ' stroke-dasharray="3 3"' if marker.kind == "step" else ""
    color = _MARKER_COLORS[marker.kind]
    return [
        f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}" stroke="{color}" '
        f'stroke-width="{width}"{dash}><title>{escape(marker.label)}</title></line>'
    ]


def _lane(lane: Lane, top: float, x: ScaleFn, plot_w: float) -> list[str]:
    h = lane.height
    scale = lane.max_value or 1.0

    def y(value: float) -> float:
        return top + h - h * min(max(value, 0.0), scale) / scale

    out = [
        f'<rect x="{_LEFT}" y="{top}" width="{plot_w}" height="{h}" fill="#f6f8fa" '
        f'stroke="#d0d7de"/>',
        f'<text x="{_LEFT - 8}" y="{top + 14}" text-anchor="end" font-weight="600">'
        f"{escape(lane.title)}</text>",
    ]
    if lane.unit:
        out.append(
            f'<text x="{_LEFT - 8}" y="{top + 28}" text-anchor="end" fill="#555">'
            f"0 to {_fmt(lane.max_value)} {escape(lane.unit)}</text>"
        )
    for value, text in lane.thresholds:
        ty = y(value)
        out.append(
            f'<line x1="{_LEFT}" y1="{ty:.1f}" x2="{_LEFT + plot_w}" y2="{ty:.1f}" '
            f'stroke="#cf222e" stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<text x="{_LEFT + plot_w - 4}" y="{ty - 4:.1f}" text-anchor="end" '
            f'fill="#cf222e">{escape(text)}</text>'
        )
    for series in lane.series:
        out += _series(series, x, y, top, h, lane.unit)
    return out


def _series(series: Series, x: ScaleFn, y: ScaleFn, top: float, h: float, unit: str) -> list[str]:
    out: list[str] = []
    name = escape(series.name)
    if series.kind == "bars":
        for span in series.spans:
            x0, x1 = x(span.t0), x(span.t1)
            width = max(x1 - x0, 3.0)
            yv = y(span.value)
            tip = escape(span.note or f"{series.name}: {_fmt(span.value)}")
            out.append(
                f'<rect x="{x0:.1f}" y="{yv:.1f}" width="{width:.1f}" '
                f'height="{max(top + h - yv, 1.5):.1f}" fill="{span.color or series.color}" '
                f'fill-opacity="0.75"><title>{tip}</title></rect>'
            )
            if width > 36:  # the value on the bar, so the chart reads without hovering
                ty = max(yv - 4, top + 12)
                out.append(
                    f'<text x="{x0 + width / 2:.1f}" y="{ty:.1f}" text-anchor="middle" '
                    f'fill="#333">{span.value:.1f}{escape(unit)}</text>'
                )
        return out
    if series.kind == "dots":
        cy = top + h * (1 - series.row)
        for index, (t, ok) in enumerate(series.points):
            color = series.color if ok >= 1 else series.fail_color
            tip = escape(series.notes[index] if index < len(series.notes) else series.name)
            out.append(
                f'<circle cx="{x(t):.1f}" cy="{cy:.1f}" r="3.5" fill="{color}">'
                f"<title>{tip}</title></circle>"
            )
        out.append(
            f'<text x="{_LEFT - 8}" y="{cy + 4:.1f}" text-anchor="end" fill="#555">{name}</text>'
        )
        return out
    if not series.points:
        return out
    points = sorted(series.points)
    coords: list[str] = []
    for index, (t, value) in enumerate(points):
        if series.kind == "step" and index > 0:
            coords.append(f"{x(t):.1f},{y(points[index - 1][1]):.1f}")
        coords.append(f"{x(t):.1f},{y(value):.1f}")
    if series.kind == "step":
        coords.append(f"{x(math.inf):.1f},{y(points[-1][1]):.1f}")
    out.append(
        f'<polyline points="{" ".join(coords)}" fill="none" stroke="{series.color}" '
        f'stroke-width="2.5"><title>{name}</title></polyline>'
    )
    if series.kind == "line":
        for t, value in points:
            out.append(
                f'<circle cx="{x(t):.1f}" cy="{y(value):.1f}" r="2.5" fill="{series.color}"/>'
            )
    return out


def _axis(t_end: float, x: ScaleFn, bottom: float, label: str) -> list[str]:
    step = next((s for s in _TICK_STEPS if t_end / s <= 10), _TICK_STEPS[-1])
    out = [f'<line x1="{_LEFT}" y1="{bottom}" x2="{WIDTH - _RIGHT}" y2="{bottom}" stroke="#555"/>']
    tick = 0.0
    while tick <= t_end + 1e-9:
        tx = x(tick)
        out.append(
            f'<line x1="{tx:.1f}" y1="{bottom}" x2="{tx:.1f}" y2="{bottom + 4}" stroke="#555"/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{bottom + 15}" text-anchor="middle">{_fmt(tick)}s</text>'
        )
        tick += step
    out.append(
        f'<text x="{_LEFT + (WIDTH - _LEFT - _RIGHT) / 2}" y="{bottom + 30}" '
        f'text-anchor="middle" fill="#555">{escape(label)}</text>'
    )
    return out


def _key(numbered: list[Marker], lanes: list[Lane], top: float) -> tuple[list[str], float]:
    """Legend of series colours, then the numbered steps, wrapped over lines."""
    items = [(s.color, s.name) for lane in lanes for s in lane.series if s.kind != "dots"]
    items += [
        (s.color, f"{s.name}: pass") for lane in lanes for s in lane.series if s.kind == "dots"
    ]
    items += [
        (s.fail_color, f"{s.name}: fail") for lane in lanes for s in lane.series if s.kind == "dots"
    ]
    out: list[str] = []
    cx, cy = float(_LEFT), top
    for color, name in dict.fromkeys(items):
        width = _text_w(name) + 18
        if cx + width > WIDTH - _RIGHT:
            cx, cy = float(_LEFT), cy + _ROW
        out.append(f'<rect x="{cx:.1f}" y="{cy - 9:.1f}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{cx + 14:.1f}" y="{cy:.1f}">{escape(name)}</text>')
        cx += width
    cx, cy = float(_LEFT), cy + _ROW + 4
    for index, marker in enumerate(numbered):
        text = f"{index + 1} {marker.label}"
        width = _text_w(text) + 10
        if cx + width > WIDTH - _RIGHT:
            cx, cy = float(_LEFT), cy + _ROW
        out.append(f'<text x="{cx:.1f}" y="{cy:.1f}" fill="#333">{escape(text)}</text>')
        cx += width
    return out, cy - top + _ROW


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"
