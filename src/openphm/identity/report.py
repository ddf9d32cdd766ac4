"""Tracing's quality as pages a processor can open with no internet: per source, the model
(Splink's match-weight and m/u charts), the match probabilities of each record's best
candidate, the threshold and what it is expected to give, how readable each field was, and
how many records were left unmatched.

Reads models and counts (never a patient's value); writes HTML into a folder the caller
names, outside any workspace. Splink's charts carry vega, vega-lite and vega-embed inlined
from the Splink package (`SplinkChart.to_html(inline=True)`): nothing is fetched when a page
opens. The histogram is drawn here as SVG, which needs no script at all.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openphm.identity.quality import UNMATCHED_ALERT
from openphm.identity.training import Change, Model

BINS = 20  # histogram bins of match probability, 0.05 wide


@dataclass(frozen=True)
class SourceQuality:
    """One source's tracing, as the report shows it. `quality` is the dictionary `phm link`
    keeps beside the model (records, traced, parse_rates, threshold, histogram)."""

    title: str
    model: Model
    quality: dict[str, Any]
    changes: Sequence[Change] = ()
    # A practice's new registrations: most are people new to the area, on no list yet, so
    # that most stay unmatched says nothing about the tracing; no alert.
    new_registrations: bool = False


def histogram(best: np.ndarray) -> list[int]:
    """How many records' best candidates fall in each 0.05 of match probability."""
    edges = np.linspace(0.0, 1.0, BINS + 1)
    counts, _ = np.histogram(np.clip(np.asarray(best, dtype="float64"), 0.0, 1.0), bins=edges)
    return [int(c) for c in counts]


def write(folder: Path, title: str, sources: Sequence[SourceQuality]) -> Path:
    """Write `index.html` and each source's two Splink charts into `folder`; the index's path."""
    folder.mkdir(parents=True, exist_ok=True)
    sections = []
    for number, source in enumerate(sources, start=1):
        stem = f"{number:02d}-{_slug(source.title)}"
        weights, m_u = _charts(source.model.settings)
        weights.save(str(folder / f"{stem}-match-weights.html"), inline=True)
        m_u.save(str(folder / f"{stem}-m-u.html"), inline=True)
        sections.append(_section(source, stem))
    page = _PAGE.format(title=html.escape(title), body="\n".join(sections))
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _section(source: SourceQuality, stem: str) -> str:
    model, quality = source.model, source.quality
    records, traced = quality.get("records", 0), quality.get("traced", 0)
    unmatched = (records - traced) / records if records else 0.0
    alert = ""
    if source.new_registrations:
        alert = (
            "<p>These are new registrations without an NHS number: most are people new to the "
            "area, on no practice's list yet, so they stay unmatched; no alert is raised. One "
            "matched is someone who moved practice, kept as one person.</p>"
        )
    elif unmatched > UNMATCHED_ALERT:
        alert = (
            f'<p class="alert">Alert: {unmatched:.1%} of the records that needed tracing were '
            f"left unmatched, more than {UNMATCHED_ALERT:.1%}.</p>"
        )
    threshold = quality.get("threshold") or {}
    rows = "".join(
        f"<tr><td>{html.escape(r['field'])}</td><td>{r['records']:,}</td><td>{r['sent']:,}</td>"
        f"<td>{r['readable']:,}</td><td>{_share(r['readable'], r['sent'])}</td></tr>"
        for r in quality.get("parse_rates", [])
    )
    moved = "".join(
        f"<tr><td>{html.escape(c.comparison)}</td><td>{html.escape(c.level)}</td>"
        f"<td>{_p(c.m_before)} → {_p(c.m_after)}</td><td>{_p(c.u_before)} → {_p(c.u_after)}</td>"
        f"<td>{c.weight_change:+.2f}</td></tr>"
        for c in list(source.changes)[:8]
    )
    return f"""<section>
<h2>{html.escape(source.title)}</h2>
<p>{html.escape(model.reason)}; started from {html.escape(model.started_from)}; expects
{model.on_spine_share:.1%} of records on the spine.</p>
<p>{records:,} records needed tracing; {traced:,} traced, {records - traced:,} left unmatched
({unmatched:.1%}).</p>{alert}
<p>{_threshold(threshold)}</p>
<p>Charts: <a href="{stem}-match-weights.html">match weights</a> ·
<a href="{stem}-m-u.html">m and u probabilities</a></p>
<h3>Match probability of each scored record's best candidate</h3>
{_svg_histogram(quality.get("histogram", [0] * BINS), threshold.get("value"))}
<h3>Readable values</h3>
<table><tr><th>field</th><th>records</th><th>with a value</th><th>readable</th><th>share</th></tr>
{rows}</table>
<h3>What moved most (from the model it started from)</h3>
<table><tr><th>comparison</th><th>level</th><th>m</th><th>u</th><th>weight change (bits)</th></tr>
{moved}</table>
</section>"""


def _threshold(threshold: dict[str, Any]) -> str:
    if not threshold:
        return "No threshold: nothing was scored."
    certain = threshold.get("certain", 0)  # a model kept before exact matches counted
    exact = f" and {certain:,} exact matches" if certain else ""
    scored = (
        f" ({threshold['scored_precision']:.4f} over the scored links)"
        if certain and threshold["links"] and "scored_precision" in threshold
        else ""
    )
    return html.escape(
        f"Threshold {threshold['value']:.4f} ({threshold['rule']}): {threshold['links']:,} "
        f"links of the records Splink scored{exact}, expected precision "
        f"{threshold['expected_precision']:.4f}{scored}, expected recall "
        f"{threshold['expected_recall']:.4f}."
    )


def _svg_histogram(counts: Sequence[int], threshold: float | None) -> str:
    """Bars on a log scale (most records sit at 0 or 1), each labelled with its count."""
    width, height, pad = 640, 220, 30
    bar = (width - 2 * pad) / len(counts)
    top = np.log10(max(max(counts), 1) + 1)
    parts = [f'<svg role="img" viewBox="0 0 {width} {height + 40}" width="{width}" '
             f'aria-label="match probability histogram">']  # fmt: skip
    for i, count in enumerate(counts):
        h = (height - pad) * np.log10(count + 1) / top
        x, y = pad + i * bar, height - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                     f'fill="#005eb8"><title>{i / BINS:.2f}–{(i + 1) / BINS:.2f}: {count:,}'
                     f"</title></rect>")  # fmt: skip
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" font-size="9" '
                     f'text-anchor="middle">{count:,}</text>')  # fmt: skip
    for tick in (0.0, 0.5, 1.0):
        x = pad + tick * (width - 2 * pad)
        parts.append(f'<text x="{x:.1f}" y="{height + 15}" font-size="11" '
                     f'text-anchor="middle">{tick:.1f}</text>')  # fmt: skip
    if threshold is not None and not np.isnan(threshold):
        x = pad + min(threshold, 1.0) * (width - 2 * pad)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad / 2}" y2="{height}" '
                     'stroke="#d5281b" stroke-dasharray="4"/>')  # fmt: skip
        parts.append(f'<text x="{x - 4:.1f}" y="{pad / 2}" font-size="11" '
                     'text-anchor="end">threshold</text>')  # fmt: skip
    parts.append(f'<text x="{width / 2}" y="{height + 32}" font-size="11" text-anchor="middle">'
                 "match probability (bars on a log scale)</text></svg>")  # fmt: skip
    return "".join(parts)


def _charts(settings: dict[str, Any]):
    """Splink's match-weight and m/u charts of a model, from its JSON alone: a linker over
    two empty tables with tracing's columns holds the model."""
    from splink import DuckDBAPI, Linker

    from openphm.identity.tracing import prepare

    empty = prepare(pd.DataFrame({"id": pd.Series([], dtype="string")}), "id")
    db = DuckDBAPI(":memory:")
    tables = [db.register(empty, table_name="records"), db.register(empty, table_name="spine")]
    model = {k: v for k, v in settings.items() if k != "linker_uid"}
    linker = Linker(tables, model, log_level=logging.WARNING)
    return (linker.visualisations.match_weights_chart(),
            linker.visualisations.m_u_parameters_chart())  # fmt: skip


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "source"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: Arial, sans-serif; margin: 2em; color: #212b32; max-width: 60em; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }}
td, th {{ border-bottom: 1px solid #d8dde0; padding: 0.3em 0.8em; text-align: left; }}
.alert {{ border-left: 6px solid #d5281b; padding-left: 0.8em; font-weight: bold; }}
</style></head>
<body><h1>{title}</h1>
<p>For the processor's review, not for publication: counts and model parameters only.</p>
{body}
</body></html>
"""
