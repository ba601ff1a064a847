"""Charts as inline SVG, drawn in Python from a `Chart`'s numbers: no script, no stylesheet, no
font or file from anywhere else, so a report is one file that works offline.

Every mark carries its number: a line's `data-values` lists its y values and `data-x` its x
values (the polyline's points are computed from exactly those), a bar has `data-label` and
`data-value`, the chart has `data-y-max` (the axis top). Hovering a point or a bar shows its
value (an SVG `<title>`); tests read the same attributes to check a chart shows the run's
figures.
"""

from __future__ import annotations

import math
from html import escape

from mockloop.reports.formatting import number
from mockloop.reports.model import Chart

__all__ = ["PALETTE", "axis_top", "render_chart"]

PALETTE = {
    "blue": "#2563eb",
    "green": "#16a34a",
    "amber": "#d97706",
    "red": "#dc2626",
    "purple": "#7c3aed",
    "grey": "#6b7280",
}
WIDTH, HEIGHT = 560, 280
LEFT, RIGHT, TOP, BOTTOM = 70, 12, 32, 54
#: The widest a bar gets (a chart of one or two bars should not be a wall).
BAR_MAX = 90.0
#: Above this many points a line gets no point markers (they would be a smear).
MARKERS_UP_TO = 120


def axis_top(value: float, integer: bool = False) -> tuple[float, float]:
    """A round axis top at or above `value` and its tick step (at most five steps); with
    `integer` (counts) the step is a whole number."""
    if value <= 0 or not math.isfinite(value):
        return (1.0, 1.0) if integer else (1.0, 0.25)
    if integer and value <= 5:
        return float(math.ceil(value)), 1.0
    magnitude = 10 ** math.floor(math.log10(value / 5))
    for factor in (1, 2, 2.5, 5, 10, 20, 25, 50):
        step = factor * magnitude
        if integer and step != math.floor(step):
            continue
        if step * 5 >= value:
            return float(f"{step * math.ceil(value / step - 1e-9):.12g}"), float(f"{step:.12g}")
    return value, value / 5  # unreachable: factor 50 always covers value


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _frame(chart: Chart, uid: str, y_top: float, body: list[str]) -> str:
    title_id = f"{uid}-title"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{_attr(title_id)}" data-chart="{_attr(chart.id)}" '
        f'data-kind="{chart.kind}" data-y-max="{_num(y_top)}" '
        f'font-family="system-ui, sans-serif" font-size="12">'
        f'<title id="{_attr(title_id)}">{escape(chart.title)}</title>'
    )
    return head + "".join(body) + "</svg>"


def _y_axis(chart: Chart, y_top: float, step: float) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    ticks = round(y_top / step)
    for i in range(ticks + 1):
        value = step * i
        y = TOP + plot_h - plot_h * value / y_top
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="#e5e7eb"/>'
            f'<text class="y-tick" x="{LEFT - 6}" y="{_num(y + 4)}" text-anchor="end" '
            f'fill="#374151">{escape(number(value))}</text>'
        )
    parts.append(
        f'<text x="14" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" fill="#374151" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.0f})">{escape(chart.y_label)}</text>'
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'fill="#374151">{escape(chart.x_label)}</text>'
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#9ca3af"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        f'stroke="#9ca3af"/>'
    )
    return parts


def _legend(entries: list[tuple[str, str]]) -> list[str]:
    parts, x = [], LEFT
    for name, tone in entries:
        colour = PALETTE.get(tone, PALETTE["grey"])
        parts.append(
            f'<rect x="{x}" y="8" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="17" fill="#111827">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return parts


def _empty(chart: Chart, uid: str) -> str:
    return _frame(
        chart,
        uid,
        0,
        [
            f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" '
            f'fill="#6b7280">no data</text>'
        ],
    )


def _line_chart(chart: Chart, uid: str) -> str:
    points = [p for s in chart.series for p in s.points]
    if not points:
        return _empty(chart, uid)
    x_low = min(x for x, _ in points)
    x_high = max(x for x, _ in points)
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    y_top, step = axis_top(max(y for _, y in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        return (
            LEFT + plot_w * (x - x_low) / (x_high - x_low),
            TOP + plot_h - plot_h * y / y_top,
        )

    body = _y_axis(chart, y_top, step)
    x_step = max(1, math.ceil((x_high - x_low) / 8))
    tick = math.ceil(x_low)
    while tick <= x_high:
        x, _ = at(tick, 0)
        body.append(
            f'<text class="x-tick" x="{_num(x)}" y="{TOP + plot_h + 16}" text-anchor="middle" '
            f'fill="#374151">{escape(number(float(tick)))}</text>'
        )
        tick += x_step
    for series in chart.series:
        colour = PALETTE.get(series.tone, PALETTE["grey"])
        coords = [at(x, y) for x, y in series.points]
        body.append(
            f'<polyline class="series" data-series="{_attr(series.name)}" '
            f'data-x="{",".join(_num(x) for x, _ in series.points)}" '
            f'data-values="{",".join(repr(y) for _, y in series.points)}" '
            f'points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in coords)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>'
        )
        if len(series.points) <= MARKERS_UP_TO:
            for (x, y), (cx, cy) in zip(series.points, coords, strict=True):
                body.append(
                    f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="3" fill="{colour}">'
                    f"<title>{escape(series.name)} at {escape(number(x))}: "
                    f"{escape(number(y))} {escape(chart.y_label)}</title></circle>"
                )
    body += _legend([(s.name, s.tone) for s in chart.series])
    return _frame(chart, uid, y_top, body)


def _bar_chart(chart: Chart, uid: str) -> str:
    if not chart.bars:
        return _empty(chart, uid)
    counts = all(float(bar.value).is_integer() for bar in chart.bars)
    y_top, step = axis_top(max(bar.value for bar in chart.bars), integer=counts)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(chart.bars)
    gap = max(min(8.0, slot * 0.15), slot - BAR_MAX)
    every = 1 if len(chart.bars) <= 8 else math.ceil(len(chart.bars) / 4)
    body = _y_axis(chart, y_top, step)
    for i, bar in enumerate(chart.bars):
        colour = PALETTE.get(bar.tone, PALETTE["grey"])
        height = plot_h * bar.value / y_top
        x = LEFT + slot * i + gap / 2
        y = TOP + plot_h - height
        body.append(
            f'<rect class="bar" data-label="{_attr(bar.label)}" data-value="{bar.value!r}" '
            f'x="{_num(x)}" y="{_num(y)}" width="{_num(slot - gap)}" height="{_num(height)}" '
            f'fill="{colour}"><title>{escape(bar.label)}: {escape(number(bar.value))}</title>'
            "</rect>"
        )
        centre = x + (slot - gap) / 2
        if len(chart.bars) <= 12:
            body.append(
                f'<text class="bar-value" x="{_num(centre)}" y="{_num(y - 4)}" '
                f'text-anchor="middle" fill="#111827">{escape(number(bar.value))}</text>'
            )
        if i % every == 0:
            body.append(
                f'<text class="x-tick" x="{_num(centre)}" y="{TOP + plot_h + 16}" '
                f'text-anchor="middle" fill="#374151">{escape(bar.label)}</text>'
            )
    return _frame(chart, uid, y_top, body)


def render_chart(chart: Chart, uid: str) -> str:
    """The chart as one `<svg>` element; `uid` makes its element ids unique in a page."""
    return _line_chart(chart, uid) if chart.kind == "line" else _bar_chart(chart, uid)
