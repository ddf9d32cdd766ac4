"""Charts drawn on the server as SVG: they need no JavaScript and nothing from the internet, and
they draw only published (disclosure-controlled) numbers. A redacted value is drawn as a dashed
outline labelled "suppressed", never as a bar of some size; in a funnel plot, an area with a
hidden count is never drawn at a height. Colours come from openphm.css (the
Content-Security-Policy allows no inline styles); shapes and words, not colour alone, say what a
mark means."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup, escape

ROW = 22
LABEL = 110
SUPPRESSED = "suppressed"


def _number(value: float | None, decimals: int) -> str:
    if value is None:
        return SUPPRESSED
    return f"{value:,.{decimals}f}"


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float | None]],
    *,
    decimals: int = 0,
    width: int = 560,
    intervals: Sequence[tuple[float, float] | None] | None = None,
    label_width: int = LABEL,
) -> Markup:
    """Horizontal bars, one per (label, value); with `intervals`, each bar's 95% confidence
    interval as a line with end ticks (labels then sit past the interval)."""
    intervals = intervals or [None] * len(bars)
    highs = [ci[1] for ci in intervals if ci is not None]
    top = max([v for _, v in bars if v is not None] + highs + [1])
    plot = width - label_width - 90
    height = ROW * len(bars) + 10
    parts = [
        f'<svg class="phm-chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, ((label, value), interval) in enumerate(zip(bars, intervals, strict=True)):
        y = 5 + i * ROW
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
        )
        if value is None:
            parts.append(
                f'<rect class="phm-bar--suppressed" x="{label_width}" y="{y + 3}" width="40" '
                f'height="{ROW - 6}"/>'
            )
            end = label_width + 40
        else:
            size = plot * value / top
            parts.append(
                f'<rect class="phm-bar" x="{label_width}" y="{y + 3}" width="{size:.1f}" '
                f'height="{ROW - 6}"/>'
            )
            end = label_width + size
            if interval is not None:
                end = label_width + plot * interval[1] / top
                parts.append(_whisker(label_width + plot * interval[0] / top, end, y + ROW / 2))
        parts.append(f'<text x="{end + 4:.1f}" y="{y + 15}">{_number(value, decimals)}</text>')
    parts.append(
        f'<line class="phm-axis" x1="{label_width}" y1="0" x2="{label_width}" y2="{height}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _whisker(low: float, high: float, y: float) -> str:
    return (
        f'<path class="phm-interval" d="M{low:.1f},{y - 4:.1f}v8M{low:.1f},{y:.1f}H{high:.1f}'
        f'M{high:.1f},{y - 4:.1f}v8"/>'
    )


def pyramid(
    title: str, bands: Sequence[str], male: Sequence[int | None], female: Sequence[int | None]
) -> Markup:
    """An age-sex pyramid: males to the left, females to the right, oldest band on top."""
    width, half, mid_label = 640, 250, 70
    centre = width / 2
    top = max([v for v in [*male, *female] if v is not None] + [1])
    height = ROW * len(bands) + 30
    parts = [
        f'<svg class="phm-chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="{centre - mid_label / 2 - 4}" y="14" text-anchor="end">Male</text>',
        f'<text x="{centre + mid_label / 2 + 4}" y="14">Female</text>',
    ]
    scale = (half - mid_label / 2) / top
    for i, band in enumerate(reversed(bands)):
        index = len(bands) - 1 - i
        y = 22 + i * ROW
        parts.append(f'<text x="{centre}" y="{y + 15}" text-anchor="middle">{escape(band)}</text>')
        for value, sign, css in (
            (male[index], -1, "phm-bar"),
            (female[index], 1, "phm-bar--female"),
        ):
            start = centre + sign * mid_label / 2
            if value is None:
                x = start - 40 if sign < 0 else start
                parts.append(
                    f'<rect class="phm-bar--suppressed" x="{x:.1f}" y="{y + 3}" width="40" '
                    f'height="{ROW - 6}"><title>{SUPPRESSED}</title></rect>'
                )
                continue
            size = value * scale
            x = start - size if sign < 0 else start
            parts.append(
                f'<rect class="{css}" x="{x:.1f}" y="{y + 3}" width="{size:.1f}" '
                f'height="{ROW - 6}"><title>{escape(band)}: {value:,}</title></rect>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


# ----- funnel plots ------------------------------------------------------------------------------

# The plotting area of a funnel plot in its viewBox: left, top, right, bottom.
FUNNEL_WIDTH = 640
FUNNEL_PLOT = (64, 16, FUNNEL_WIDTH - 24, 316)
FUNNEL_GRID = 160  # the limits are drawn through this many denominators, and the samples
POSITIONS = {
    "within": "within the limits",
    "above 95%": "above the 95% limit",
    "below 95%": "below the 95% limit",
    "above 99.8%": "above the 99.8% limit",
    "below 99.8%": "below the 99.8% limit",
}
HIDDEN = "count hidden, not plotted"


@dataclass(frozen=True)
class FunnelScale:
    """What a funnel plot's vertical axis shows: `value` in words, the axis's label, how a
    value is shown (`show`) and how a tick (`tick`, given the step between ticks), the most
    it can reach (`cap`, None: no cap), and the horizontal axis's label."""

    value: str = "percentage flagged"
    axis: str = "% flagged"
    show: Callable[[float], str] = lambda v: f"{100 * v:.1f}%"
    tick: Callable[[float, float], str] = lambda v, step: _percent(v, step)
    cap: float | None = 1.0
    zero: str = "0%"
    smallest_end: float = 0.005
    across: str = "People in the denominator"


PERCENT = FunnelScale()


def per(multiplier: int, unit: str, axis: str, across: str) -> FunnelScale:
    """A scale for rates: values are per person, shown per `multiplier` (e.g. 1,000)."""
    return FunnelScale(
        value=f"{unit} per {multiplier:,}",
        axis=axis,
        show=lambda v: f"{multiplier * v:,.1f} per {multiplier:,}",
        tick=lambda v, step: f"{multiplier * v:,.{0 if multiplier * step >= 5 else 1}f}",
        cap=None,
        zero="0",
        smallest_end=1 / multiplier,
        across=across,
    )


@dataclass(frozen=True)
class FunnelPoint:
    """One area as published: its denominator (None if hidden), its proportion (None when
    either count is hidden: never drawn at a height), and where it lies (`POSITIONS`)."""

    label: str
    denominator: float | None
    proportion: float | None = None
    position: str = ""


def axis_end(largest: float) -> float:
    """The end of an axis that holds `largest`: 1, 2, 2.5 or 5 times a power of ten."""
    if largest <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(largest))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= largest * (1 - 1e-9))


def funnel_samples(largest_denominator: float) -> list[int]:
    """Denominators at which a funnel plot's limits are also given in a table: 10, 20, 50,
    100, ... up to the end of its horizontal axis."""
    end = axis_end(1.05 * largest_denominator)
    steps = (10 * 10**k * m for k in range(12) for m in (1, 2, 5))
    return [int(n) for n in itertools.takewhile(lambda n: n <= end, steps)]


def funnel_plot(
    title: str,
    points: Sequence[FunnelPoint],
    average: float,
    limits: Callable[[np.ndarray], Mapping[str, tuple[np.ndarray, np.ndarray]]],
    *,
    ident: str,
    unit: str = "practice",
    average_label: str = "programme average",
    scale: FunnelScale = PERCENT,
) -> Markup:
    """A funnel plot: each area's proportion against its denominator, the average they are
    plotted around, and the control limits as curves across the range of denominators
    (`limits`: a function of the denominators giving each limit, by a name such as "99.8%",
    as (lower, upper); drawn as given).
    Areas beyond the 99.8% limit are triangles and, above it, named; beyond 95% squares;
    within, circles; an area with a hidden count is a hollow circle below the axis at its
    denominator, never at a height. `ident` makes the title's and description's ids unique.
    `scale`: a proportion in percent (the default), or a rate (`per`)."""
    left, top, right, bottom = FUNNEL_PLOT
    shown = [p for p in points if p.denominator is not None]
    x_end = axis_end(1.05 * max([p.denominator for p in shown] + [1]))
    samples = funnel_samples(max([p.denominator for p in shown] + [1]))
    grid = np.unique(np.concatenate([x_end * np.arange(1, FUNNEL_GRID + 1) / FUNNEL_GRID,
                                     samples]))  # fmt: skip
    curves = limits(grid)
    smallest = min([p.denominator for p in shown if p.denominator > 0] + [x_end])
    reach = [average] + [p.proportion for p in points if p.proportion is not None]
    reach += [float(upper[0]) for _, upper in limits(np.array([smallest])).values()]
    y_end = axis_end(1.1 * max(max(reach), scale.smallest_end))
    if scale.cap is not None:
        y_end = min(scale.cap, y_end)

    def x(n: float) -> float:
        return left + n / x_end * (right - left)

    def y(p: float) -> float:
        return bottom - p / y_end * (bottom - top)

    above = [p.label for p in points if p.position == "above 99.8%"]
    hidden = [p for p in points if p.proportion is None]
    description = (
        f"Each {unit}'s {scale.value} (vertical axis, {scale.zero} to "
        f"{scale.tick(y_end, y_end / 5)}) against the "
        f"{scale.across.lower()} (horizontal axis, 0 to {x_end:,.0f}), with the "
        f"{average_label} of {scale.show(average)} and the 95% and 99.8% control limits around "
        f"it. {len(above)} {_plural(unit, len(above))} above the 99.8% limit"
        + (f": {', '.join(above)}." if above else ".")
        + (f" {len(hidden)} with a count hidden, not plotted." if hidden else "")
    )
    height = bottom + 134
    parts = [
        f'<svg class="phm-chart phm-funnel" role="img" viewBox="0 0 {FUNNEL_WIDTH} {height}" '
        f'width="{FUNNEL_WIDTH}" height="{height}" aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
    ]
    for i in range(6):
        px, py = x(x_end * i / 5), y(y_end * i / 5)
        parts.append(
            f'<line class="phm-grid" x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>'
            f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">'
            f"{scale.tick(y_end * i / 5, y_end / 5)}</text>"
            f'<text x="{px:.1f}" y="{bottom + 16}" text-anchor="middle">{x_end * i / 5:,.0f}</text>'
        )
    parts.append(
        f'<path class="phm-axis" d="M{left},{top}V{bottom}H{right}"/>'
        f'<line class="phm-average" x1="{left}" y1="{y(average):.1f}" x2="{right}" '
        f'y2="{y(average):.1f}"/>'
    )
    for name, (lower, upper) in curves.items():
        css = "phm-limit phm-limit--" + name.rstrip("%").replace(".", "")
        for values in (lower, upper):
            inside = values <= y_end
            vertices = " ".join(
                f"{x(n):.2f},{y(v):.2f}" for n, v in zip(grid[inside], values[inside], strict=True)
            )
            parts.append(
                f'<polyline class="{css}" data-limit="{escape(name)}" points="{vertices}"/>'
            )
    strip = bottom + 34
    if any(p.denominator is not None for p in hidden):
        parts.append(f'<text x="{left - 6}" y="{strip + 4}" text-anchor="end">hidden</text>')
    for p in points:
        parts.append(_funnel_point(p, x, y, strip, scale))
    parts.append(
        f'<text x="{(left + right) / 2}" y="{bottom + 58}" text-anchor="middle">'
        f"{escape(scale.across)} (one mark per {escape(unit)})</text>"
        f'<text x="14" y="{(top + bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + bottom) / 2})">{escape(scale.axis)}</text>'
    )
    parts.append(_funnel_legend(bottom + 80, average_label))
    parts.append("</svg>")
    return Markup("".join(parts))


def _funnel_point(p: FunnelPoint, x, y, strip: float, scale: FunnelScale = PERCENT) -> str:
    if p.denominator is None:
        return ""  # nothing published to place it by
    if p.proportion is None:
        tip = f"{p.label}: {HIDDEN} (denominator {p.denominator:,.0f})"
        return (
            f'<circle class="phm-point--hidden" cx="{x(p.denominator):.2f}" cy="{strip}" r="5">'
            f"<title>{escape(tip)}</title></circle>"
        )
    cx, cy = x(p.denominator), y(p.proportion)
    tip = (
        f"{p.label}: {scale.show(p.proportion)} of {p.denominator:,.0f}, "
        f"{POSITIONS.get(p.position, p.position)}"
    )
    title = f"<title>{escape(tip)}</title>"
    if p.position.endswith("99.8%"):
        tip_y = -6 if p.position.startswith("above") else 6
        mark = (
            f'<path class="phm-point phm-point--998" d="M{cx - 5:.2f},{cy - tip_y / 2:.2f}'
            f'L{cx + 5:.2f},{cy - tip_y / 2:.2f}L{cx:.2f},{cy + tip_y:.2f}Z">{title}</path>'
        )
        if p.position.startswith("above"):
            mark += f'<text x="{cx + 8:.2f}" y="{cy + 4:.2f}">{escape(p.label)}</text>'
        return mark
    if p.position.endswith("95%"):
        return (
            f'<rect class="phm-point phm-point--95" x="{cx - 4:.2f}" y="{cy - 4:.2f}" '
            f'width="8" height="8">{title}</rect>'
        )
    return f'<circle class="phm-point" cx="{cx:.2f}" cy="{cy:.2f}" r="4">{title}</circle>'


def _funnel_legend(top: float, average_label: str) -> str:
    """The key, in three rows: each line or mark beside its words."""

    def line(css: str):
        return lambda x, y: f'<line class="{css}" x1="{x}" y1="{y}" x2="{x + 28}" y2="{y}"/>'

    rows = [
        [(line("phm-average"), 34, average_label.capitalize()),
         (line("phm-limit phm-limit--95"), 34, "95% limits"),
         (line("phm-limit phm-limit--998"), 34, "99.8% limits")],
        [(lambda x, y: f'<circle class="phm-point" cx="{x + 4}" cy="{y}" r="4"/>', 14,
          "Within the limits"),
         (lambda x, y: f'<rect class="phm-point phm-point--95" x="{x}" y="{y - 4}" width="8" '
                       'height="8"/>', 14, "Beyond 95%"),
         (lambda x, y: f'<path class="phm-point phm-point--998" d="M{x},{y + 3}h10l-5,-9Z"/>',
          16, "Beyond 99.8% (named if above)")],
        [(lambda x, y: f'<circle class="phm-point--hidden" cx="{x + 5}" cy="{y}" r="5"/>', 16,
          "A count hidden: not plotted at a height, only its denominator shown")],
    ]  # fmt: skip
    parts = []
    for k, row in enumerate(rows):
        x, y = FUNNEL_PLOT[0], top + 22 * k
        for mark, gap, text in row:
            parts.append(mark(x, y))
            parts.append(f'<text x="{x + gap}" y="{y + 4}">{escape(text)}</text>')
            x += gap + round(6.2 * len(text)) + 24  # about 6 px a character at 12 px Arial
    return "".join(parts)


def _percent(value: float, step: float) -> str:
    """A proportion as a percentage, with a decimal where the axis's steps need one."""
    return f"{100 * value:.{0 if round(100 * step, 6).is_integer() else 1}f}%"


def _plural(unit: str, n: int) -> str:
    return unit if n == 1 else f"{unit}s"


SPC_WIDTH = 720
SPC_PLOT = (70, 40, 700, 300)  # left, top, right, bottom of the plotting area


def spc_chart(
    title: str,
    months: Sequence[str],
    values: Sequence[float],
    chart,
    *,
    unit: str,
    ident: str,
    across: str = "Month of data",
) -> Markup:
    """An XmR chart (analytics.spc.XmR) of `values` by month: the series as a line, the mean,
    the process limits (dashed) and each point marked by its variation: a circle for common
    cause, an orange square for special cause that is improvement, a red triangle for concern,
    a blue diamond for neutral special cause. Shapes and words, not colour alone. `across`
    names the horizontal axis (months, or reference dates)."""
    from openphm.analytics import spc

    left, top, right, bottom = SPC_PLOT
    low = min([*values, chart.lower])
    high = max([*values, chart.upper])
    pad = (high - low) * 0.08 or 1.0
    y_low, y_high = max(0.0, low - pad) if low >= 0 else low - pad, high + pad

    def x(i: int) -> float:
        return left + (i + 0.5) * (right - left) / len(values)

    def y(v: float) -> float:
        return bottom - (v - y_low) / (y_high - y_low) * (bottom - top)

    special = sum(chart.special)
    description = (
        f"{unit} by {across.lower()} from {months[0]} to {months[-1]} (vertical axis "
        f"{y_low:,.1f} to {y_high:,.1f}), with the mean {chart.mean:,.2f} and process limits "
        f"{chart.lower:,.2f} to {chart.upper:,.2f}; {special} of {len(values)} points special "
        f"cause. {chart.summary}."
    )
    height = bottom + 120
    parts = [
        f'<svg class="phm-chart phm-spc" role="img" viewBox="0 0 {SPC_WIDTH} {height}" '
        f'width="{SPC_WIDTH}" height="{height}" aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
    ]
    for k in range(6):
        v = y_low + (y_high - y_low) * k / 5
        parts.append(
            f'<line class="phm-grid" x1="{left}" y1="{y(v):.1f}" x2="{right}" y2="{y(v):.1f}"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.1f}</text>'
        )
    every = max(1, math.ceil(len(months) / 12))
    for i, month in enumerate(months):
        if i % every == 0:
            parts.append(
                f'<text x="{x(i):.1f}" y="{bottom + 16}" text-anchor="middle">'
                f"{escape(month[:7])}</text>"
            )
    parts.append(f'<path class="phm-axis" d="M{left},{top}V{bottom}H{right}"/>')
    for css, level in (
        ("phm-average", chart.mean),
        ("phm-limit phm-limit--process", chart.upper),
        ("phm-limit phm-limit--process", chart.lower),
    ):
        if y_low <= level <= y_high:
            parts.append(
                f'<line class="{css}" x1="{left}" y1="{y(level):.1f}" x2="{right}" '
                f'y2="{y(level):.1f}"/>'
            )
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts.append(f'<polyline class="phm-series" points="{line}"/>')
    for i, (v, variation) in enumerate(zip(values, chart.variation, strict=True)):
        tip = f"<title>{escape(f'{months[i][:7]}: {v:,.2f} ({variation})')}</title>"
        cx, cy = x(i), y(v)
        if variation == spc.COMMON:
            parts.append(
                f'<circle class="phm-point" cx="{cx:.1f}" cy="{cy:.1f}" r="4">{tip}</circle>'
            )
        elif variation == spc.IMPROVEMENT:
            parts.append(
                f'<rect class="phm-point phm-point--improvement" x="{cx - 5:.1f}" '
                f'y="{cy - 5:.1f}" width="10" height="10">{tip}</rect>'
            )
        elif variation == spc.CONCERN:
            parts.append(
                f'<path class="phm-point phm-point--concern" d="M{cx - 6:.1f},{cy + 5:.1f}'
                f'h12l-6,-11Z">{tip}</path>'
            )
        else:
            parts.append(
                f'<path class="phm-point phm-point--neutral" d="M{cx:.1f},{cy - 6:.1f}'
                f'l6,6l-6,6l-6,-6Z">{tip}</path>'
            )
    parts.append(
        f'<text x="{(left + right) / 2}" y="{bottom + 40}" text-anchor="middle">'
        f"{escape(across)}</text>"
        f'<text x="14" y="{(top + bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + bottom) / 2})">{escape(unit)}</text>'
    )
    key = [
        ('<line class="phm-average" x1="{x}" y1="{y}" x2="{x2}" y2="{y}"/>', "Mean"),
        (
            '<line class="phm-limit phm-limit--process" x1="{x}" y1="{y}" x2="{x2}" y2="{y}"/>',
            "Process limits",
        ),
        ('<circle class="phm-point" cx="{xc}" cy="{y}" r="4"/>', "Common cause"),
        (
            '<rect class="phm-point phm-point--improvement" x="{xs}" y="{ys}" width="10" '
            'height="10"/>',
            "Special: improvement",
        ),
        (
            '<path class="phm-point phm-point--concern" d="M{xs},{yt}h12l-6,-11Z"/>',
            "Special: concern",
        ),
        (
            '<path class="phm-point phm-point--neutral" d="M{xc},{yd}l6,6l-6,6l-6,-6Z"/>',
            "Special: neutral",
        ),
    ]
    kx, ky = left, bottom + 66
    for k, (mark, words) in enumerate(key):
        if k == 3:
            kx, ky = left, ky + 24
        parts.append(
            mark.format(x=kx, x2=kx + 24, y=ky, xc=kx + 5, xs=kx, ys=ky - 5, yt=ky + 5, yd=ky - 6)
        )
        parts.append(f'<text x="{kx + 30}" y="{ky + 4}">{escape(words)}</text>')
        kx += 30 + round(6.2 * len(words)) + 24
    parts.append("</svg>")
    return Markup("".join(parts))
