"""`build`: every indicator of the chosen packs at one reference date, into zone 3.

Reads zone 3 (the linked zone) and writes, beside the analytics tables in the same encrypted
file:

- person_indicators: one row per person flagged by an indicator at the latest build (pack,
  purpose, indicator, practice, reason in words, due_date);
- indicator_counts: reference date × indicator × practice (denominator, numerator), kept for
  every reference date built, so a trend can be drawn;
- indicator_rates: the same per practice, PCN, place and overall, with Wilson intervals and
  funnel plot limits (`indicators.rates`);
- indicator_runs: the build (reference date, when, indicators built, lists missing).

An indicator whose code lists are not all to be found (shipped or in the programme's folder) is
left out and its missing lists named, never built on part of its definition.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import pandas as pd

from openphm import clock
from openphm.analytics.codelists import Codelists
from openphm.analytics.zone import Zone, date_literal, memtable
from openphm.indicators import definitions as d
from openphm.indicators.engine import Compiler, base_population, lists_needed
from openphm.indicators.packs import PACKS, PackError
from openphm.indicators.rates import RATES, rates

PERSON_INDICATORS = "person_indicators"
COUNTS = "indicator_counts"
RUNS = "indicator_runs"
TABLES = (PERSON_INDICATORS, COUNTS, RATES, RUNS)


@dataclass(frozen=True)
class Chosen:
    """An indicator to build, with the pack it comes from and the purpose it is used for."""

    pack: str
    purpose: str
    indicator: d.Indicator


@dataclass
class IndicatorSummary:
    """What a build did: people flagged and in the denominator per indicator, seconds per step,
    indicators left out and the lists they lack. Counts only, for the terminal and the audit."""

    reference_date: dt.date
    flagged: dict[str, int] = field(default_factory=dict)
    denominators: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, tuple[str, ...]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    outliers: dict[str, int] = field(default_factory=dict)  # practices outside 99.8% limits

    @property
    def missing_codelists(self) -> tuple[str, ...]:
        return tuple(sorted({n for names in self.left_out.values() for n in names}))


def choose(packs: list[tuple[str, str]]) -> list[Chosen]:
    """The indicators of (pack name, purpose) pairs, as programme.toml lists them."""
    out = []
    for name, purpose in packs:
        pack = PACKS.get(name)
        if pack is None:
            raise PackError(f"no indicator pack {name!r}; packs: {', '.join(PACKS)}")
        if purpose not in {p.value for p in pack.purposes}:
            raise PackError(
                f"pack {name!r} serves {', '.join(p.value for p in pack.purposes)}, "
                f"not {purpose!r}: change its purpose in programme.toml"
            )
        out += [Chosen(name, purpose, i) for i in pack.indicators]
    return out


def build(
    con_or_backend,
    reference_date: dt.date,
    chosen: list[Chosen],
    *,
    codelist_folder: str | None = None,
    areas: dict[str, dict[str, str]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> IndicatorSummary:
    """Build `chosen` at `reference_date` in the linked zone of `con_or_backend` (a DuckDB
    connection with the zone attached as `linked`, or an Ibis backend). `areas` maps the
    levels rates are given for besides practice (pcn, place) to {practice: area}."""
    zone = Zone.over(con_or_backend)
    summary = IndicatorSummary(reference_date)
    buildable, compiled = _compile(zone, reference_date, chosen, codelist_folder, summary,
                                   progress)  # fmt: skip
    _step(summary, progress, "flags",
          lambda: _write_flags(zone, reference_date, buildable, compiled))  # fmt: skip
    counts = _step(summary, progress, "counts",
                   lambda: _write_counts(zone, reference_date, buildable, compiled))  # fmt: skip
    table = _step(summary, progress, "rates", lambda: rates(counts, areas or {}))
    zone.write(RATES, memtable(table).cast({"reference_date": "date"}))
    now = table[(table["reference_date"] == reference_date) & (table["level"] == "practice")]
    outside = now[now["funnel"].isin(["above 99.8%", "below 99.8%"])]
    summary.outliers = {k: int(v) for k, v in outside.groupby("indicator").size().items()}
    counts = counts[counts["reference_date"] == reference_date]
    for c in buildable:
        mine = counts[counts["indicator"] == c.indicator.name]
        summary.flagged[c.indicator.name] = int(mine["numerator"].sum())
        summary.denominators[c.indicator.name] = int(mine["denominator"].sum())
    zone.write(RUNS, memtable(_run_row(summary, buildable)))
    return summary


def evaluate(
    con_or_backend, reference_date: dt.date, chosen: list[Chosen], *,
    codelist_folder: str | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Everyone in each indicator's denominator: indicator, pseudonym, flagged, due_date, reason.
    Zone 3 only (pseudonyms); for tests and for checking a definition, nothing is written but
    this build's scratch tables."""
    zone = Zone.over(con_or_backend)
    summary = IndicatorSummary(reference_date)
    buildable, compiled = _compile(zone, reference_date, chosen, codelist_folder, summary)
    if summary.left_out:
        raise PackError(f"code lists not found: {summary.left_out}")
    parts = [
        compiled[c.indicator.name]
        .filter(ibis._.in_denominator)
        .select(
            "pseudonym", "flagged", "due_date", "reason", indicator=ibis.literal(c.indicator.name)
        )
        for c in buildable
    ]
    rows = parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]
    return rows.to_pandas()


def _step(summary: IndicatorSummary, progress, name: str, work):
    if progress:
        progress(name)
    started = time.perf_counter()
    result = work()
    summary.seconds[name] = round(time.perf_counter() - started, 2)
    return result


def _compile(zone: Zone, reference_date, chosen, codelist_folder, summary, progress=None):
    """The indicators whose lists are all found, each compiled over the person frame; the
    others go into `summary.left_out` with the lists they lack."""
    zone.check()
    available = Codelists(codelist_folder)
    lists, buildable = {}, []
    for c in chosen:
        required, optional = lists_needed(c.indicator)
        found = available.available(sorted(required | optional))
        missing = tuple(sorted(required - set(found)))
        if missing:
            summary.left_out[c.indicator.name] = missing
        else:
            lists.update(found)
            buildable.append(c)
    compiler = Compiler(zone, reference_date, lists)
    for c in buildable:
        for criterion in c.indicator.criteria():
            compiler.need(criterion)
    scratch = lambda name, expr: zone.scratch(f"indicators_{name}", expr)  # noqa: E731
    population = base_population(zone, reference_date)
    _step(summary, progress, "facts", lambda: compiler.build_frame(population, scratch))
    return buildable, {c.indicator.name: compiler.indicator(c.indicator) for c in buildable}


def _rows(reference_date, buildable, compiled, select):
    parts = [
        select(compiled[c.indicator.name]).mutate(
            reference_date=date_literal(reference_date),
            pack=ibis.literal(c.pack),
            purpose=ibis.literal(c.purpose),
            indicator=ibis.literal(c.indicator.name),
        )
        for c in buildable
    ]
    if not parts:
        return None
    return parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]


_PERSON_COLUMNS = ("reference_date", "pack", "purpose", "indicator", "pseudonym", "practice",
                   "reason", "due_date")  # fmt: skip
_COUNT_COLUMNS = ("reference_date", "pack", "purpose", "indicator", "practice", "denominator",
                  "numerator")  # fmt: skip


def _write_flags(zone: Zone, reference_date, buildable, compiled) -> int:
    rows = _rows(
        reference_date, buildable, compiled,
        lambda t: t.filter(t.flagged).select("pseudonym", "practice", "reason", "due_date"),
    )  # fmt: skip
    if rows is None:
        rows = memtable(_empty(_PERSON_COLUMNS))
    return zone.write(PERSON_INDICATORS, rows.select(*_PERSON_COLUMNS))


def _write_counts(zone: Zone, reference_date, buildable, compiled) -> pd.DataFrame:
    """This build's counts per practice, added to those of other reference dates (a rebuild at
    the same date replaces its own); returns them all."""
    rows = _rows(
        reference_date, buildable, compiled,
        lambda t: t.filter(t.in_denominator).group_by("practice").agg(
            denominator=ibis._.count().cast("int64"),
            numerator=ibis._.flagged.sum().cast("int64"),
        ),
    )  # fmt: skip
    new = rows.select(*_COUNT_COLUMNS).to_pandas() if rows is not None else _empty(_COUNT_COLUMNS)
    kept = pd.DataFrame(columns=list(_COUNT_COLUMNS))
    if COUNTS in zone.tables():
        kept = zone.table(COUNTS).to_pandas()
        kept = kept[pd.to_datetime(kept["reference_date"]).dt.date != reference_date]
    both = pd.concat([kept, new], ignore_index=True) if len(kept) else new
    both["reference_date"] = pd.to_datetime(both["reference_date"]).dt.date
    zone.write(COUNTS, memtable(both).cast({"reference_date": "date"}))
    return both


def _empty(columns) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    for c in ("reference_date", "due_date"):
        if c in frame:
            frame[c] = pd.Series(dtype="datetime64[s]")
    for c in ("denominator", "numerator"):
        if c in frame:
            frame[c] = pd.Series(dtype="int64")
    return frame


def _run_row(summary: IndicatorSummary, buildable) -> pd.DataFrame:
    return pd.DataFrame([{
        "reference_date": summary.reference_date,
        "built_at": clock.now().replace(microsecond=0, tzinfo=None),
        "indicators": ",".join(c.indicator.name for c in buildable),
        "left_out": ",".join(sorted(summary.left_out)),
        "missing_codelists": ",".join(summary.missing_codelists),
        "flagged": sum(summary.flagged.values()),
    }])  # fmt: skip


def read_flags(con_or_backend) -> pd.DataFrame:
    """person_indicators as built (zone 3 only: it holds pseudonyms)."""
    return Zone.over(con_or_backend).table(PERSON_INDICATORS).to_pandas()
