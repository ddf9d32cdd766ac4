"""`build`: every analytics table for one reference date, in order, timed step by step.

Reads zone 3 (linked) and writes zone 3 analytics tables beside it:

| table | one row per |
|---|---|
| analytics_population | person registered in the window and alive at its start |
| person_registers | person and register they are on (source gp, hospital or both) |
| person_scores | person: LTC count, CMS, eFI, HFRS, Charlson, Elixhauser |
| person_segments | person: Bridges to Health segment, LTC-count group |
| person_activity | person: activity, outcomes and cost in the window |
| measures | measure × statistic × group |
| measure_history | reference date × measure × statistic × group (all, practice); kept |
| activity_months | month × measure × practice: events and people registered (`monthly`) |
| figures_population, _activity, _multimorbidity | group: what the analyst pages show (`figures`) |
| analytics_runs | build: reference date, window, row counts, fingerprints (`runs`); no value |
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from openphm import clock
from openphm.analytics import (
    activity,
    areas,
    figures,
    history,
    measures,
    monthly,
    period,
    population,
    registers,
    runs,
    scores,
    segments,
)
from openphm.analytics.codelists import Codelists
from openphm.analytics.definitions import (
    CMS_CONDITIONS,
    EFI_DEFICITS,
    HOSPITAL_LOOKBACK_YEARS,
    PREGNANCY_LISTS,
    AnalyticsOptions,
    aged_denominator,
)
from openphm.analytics.zone import Zone, date_literal, memtable, months_before

TABLES = (
    "analytics_population",
    "person_registers",
    "person_scores",
    "person_segments",
    "person_activity",
    "measures",
    history.HISTORY,
    monthly.TABLE,
    *figures.TABLES,
    "analytics_runs",
)


@dataclass
class BuildSummary:
    """What a build did: row counts and seconds per step, and the code lists it lacked. Counts
    only, never a value about a person, so it can go to the audit log."""

    reference_date: dt.date
    window_start: dt.date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    missing_codelists: tuple[str, ...] = ()
    data_end: dt.date | None = None

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def build(
    con_or_backend,
    reference_date: dt.date,
    options: AnalyticsOptions | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    inputs: str | None = None,
) -> BuildSummary:
    """Build every analytics table for `reference_date` in the linked zone of `con_or_backend`
    (a DuckDB connection with the zone attached as `linked`, or an Ibis backend). `inputs`:
    the zone's `runs.inputs_fingerprint` taken before building, recorded in analytics_runs so
    that a later stage can tell the build is still current (none for a scratch build)."""
    options = options or AnalyticsOptions()
    zone = Zone.over(con_or_backend)
    zone.check()
    window_start = months_before(reference_date, options.window_months)
    summary = BuildSummary(reference_date, window_start)
    end = period.data_end_of_zone(zone)
    summary.data_end = end.day if end else None
    lists, summary.missing_codelists = codelists_for(options)
    tariff = activity.load_tariff(options.tariff_path)
    made_by = runs.definitions_fingerprint(options, lists, tariff)
    ref = reference_date

    def step(name: str, work: Callable[[], object]):
        if progress:
            progress(name)
        started = time.perf_counter()
        result = work()
        summary.seconds[name] = round(time.perf_counter() - started, 2)
        return result

    pop = step(
        "population",
        lambda: _write(
            zone, summary, "analytics_population", population.population(zone, ref, window_start)
        ),
    )
    gp_lists = {k: v for k, v in lists.items() if not k.startswith("icd10-")}
    icd_lists = {k: v for k, v in lists.items() if k.startswith("icd10-")}
    coded_gp = step(
        "coded events (GP)",
        lambda: zone.scratch("gp_coded", population.gp_coded(zone, ref, gp_lists)),
    )
    coded_hospital = step(
        "coded events (hospital)",
        lambda: zone.scratch("hospital_coded", population.hospital_coded(zone, ref, icd_lists)),
    )
    roles = registers.register_roles(options.registers, set(lists))
    regs = step(
        "registers",
        lambda: _write(
            zone,
            summary,
            "person_registers",
            registers.person_registers(coded_gp.union(coded_hospital), pop, roles),
        ),
    )
    flags = zone.scratch("flags", registers.register_flags(regs, options.registers))

    def score_step():
        year_ago = months_before(ref, 12)
        drugs = population.distinct_drugs(zone, ref, year_ago)
        issues = population.medication_issues(zone, ref, year_ago, gp_lists)
        efi = scores.efi(coded_gp, drugs, set(lists))
        cms = scores.cms(coded_gp, issues, ref, set(lists))
        hospital = _hospital(zone, pop, ref, options)
        return _write(
            zone, summary, "person_scores", scores.person_scores(pop, flags, efi, cms, hospital)
        )

    person_scores = step("scores", score_step)
    person_activity = step(
        "activity",
        lambda: _write(
            zone,
            summary,
            "person_activity",
            activity.person_activity(zone, pop, ref, window_start, tariff),
        ),
    )
    pregnant = zone.scratch("pregnant", segments.pregnant(coded_gp, ref))
    frame = _person_frame(zone, pop, flags, person_scores, person_activity, pregnant, options)
    if options.person_tables_only:
        step(
            "segments",
            lambda: _write(zone, summary, "person_segments", segments.person_segments(frame)),
        )
        _write(zone, summary, runs.RUNS, memtable(_run_row(summary, inputs, made_by)))
        return summary
    # The person table the measures read is made first and the segments read from it: the
    # frame's five joins once, not once for the segments and again for the measures.
    person = zone.scratch("person", frame.mutate(segment=segments.segment(frame)))
    person_segments = step(
        "segments",
        lambda: _write(zone, summary, "person_segments", segments.person_segments(person)),
    )

    def measure_step():
        table = measures.compute(
            person,
            options.measures,
            (*options.groupings, *areas.levels_of(options.areas)),
            options.sii_simulations,
            areas=options.areas,
        )
        # Typed as dates by the literal, so an empty table (no rows to infer from) can be written.
        dated = memtable(table).mutate(
            period_start=date_literal(window_start), period_end=date_literal(ref)
        )
        return _write(
            zone, summary, "measures", dated.relocate("period_start", "period_end", after="measure")
        )

    step("measures", measure_step)
    summary.rows[history.HISTORY] = step(
        "measure history", lambda: history.record(zone, ref, clock.now())
    )
    step(
        "activity by month",
        lambda: _write(zone, summary, monthly.TABLE, monthly.activity_months(zone, ref)),
    )

    def figures_step():
        _write(zone, summary, figures.POPULATION, figures.population(pop))
        _write(zone, summary, figures.ACTIVITY, figures.activity(pop, person_activity))
        made = figures.multimorbidity(pop, person_scores, person_segments)
        _write(zone, summary, figures.MULTIMORBIDITY, made)

    step("figures for the pages", figures_step)
    _write(zone, summary, runs.RUNS, memtable(_run_row(summary, inputs, made_by)))
    return summary


def _write(zone: Zone, summary: BuildSummary, name: str, expr):
    summary.rows[name] = zone.write(name, expr)
    return zone.table(name)


def codelists_for(options: AnalyticsOptions):
    """The code lists a build with `options` reads (name → list), and the names it lacks."""
    wanted = set()
    for r in options.registers:
        wanted |= {*r.gp, *r.resolved, *r.hospital}
    for c in CMS_CONDITIONS:
        wanted |= {*c.gp, *c.medication}
    for d in EFI_DEFICITS:
        wanted |= set(d.gp)
    wanted |= set(PREGNANCY_LISTS)
    found = Codelists(options.codelist_folder).available(sorted(wanted))
    return found, tuple(sorted(wanted - set(found)))


def _hospital(zone: Zone, pop, ref: dt.date, options: AnalyticsOptions):
    if not options.hospital_scores:
        none = scores.HOSPITAL_SCHEMA.empty_table().to_pandas()
        return zone.scratch("hospital_scores", memtable(none))
    return scores.hospital_scores(zone, pop, ref, HOSPITAL_LOOKBACK_YEARS)


def _person_frame(zone: Zone, pop, flags, person_scores, person_activity, pregnant, options):
    """One row per person with everything measures and segments read."""
    reg_columns = [f"reg_{r.name}" for r in options.registers]
    s = person_scores.drop("age")
    t = (
        pop.left_join(flags.drop("ltc_count"), "pseudonym").drop("pseudonym_right")
        .left_join(s, "pseudonym").drop("pseudonym_right")
        .left_join(person_activity.drop("died"), "pseudonym").drop("pseudonym_right")
        .left_join(pregnant, "pseudonym").drop("pseudonym_right")
    )  # fmt: skip
    t = t.mutate(**{c: t[c].fill_null(False) for c in (*reg_columns, "pregnant")})
    # The reference population of each age a measure counts from (QOF's register ages).
    aged = {aged_denominator(m.min_age): t.in_reference_population & (t.age >= m.min_age)
            for m in options.measures if m.min_age > 0}  # fmt: skip
    return t.mutate(
        **aged,
        ltc_2plus=t.ltc_count >= 2,
        ltc_4plus=t.ltc_count >= 4,
        efi_moderate_plus=t.efi_category.isin(["moderate", "severe"]) & t.aged_65_plus,
    )


def _run_row(summary: BuildSummary, inputs: str | None, made_by: str) -> pd.DataFrame:
    row = pd.DataFrame([{
        "reference_date": summary.reference_date,
        "window_start": summary.window_start,
        "data_end": summary.data_end,
        "built_at": clock.now().replace(microsecond=0, tzinfo=None),
        **{f"rows_{k}": v for k, v in summary.rows.items()},
        "missing_codelists": ",".join(summary.missing_codelists),
        "definitions_fingerprint": made_by,
    }])  # fmt: skip
    # Typed as text even when absent (a scratch build), so the column can be written.
    row["inputs_fingerprint"] = pd.array([inputs], dtype="string")
    # A date even when there is no data's end (an empty zone), so the column can be written.
    row["data_end"] = pd.Series([summary.data_end], dtype=pd.ArrowDtype(pa.date32()))
    return row


def read_measures(con_or_backend) -> pd.DataFrame:
    """The measures table as built (aggregates only)."""
    return Zone.over(con_or_backend).table("measures").to_pandas()
