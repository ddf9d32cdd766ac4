"""Charts drawn on the server as SVG: they need no JavaScript and nothing from the internet, and
they draw only published (disclosure-controlled) numbers. A redacted value is drawn as a dashed
outline labelled "suppressed", never as a bar of some size. Colours come from openphm.css (the
Content-Security-Policy allows no inline styles)."""

from __future__ import annotations

from collections.abc import Sequence

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
