"""Measures over refreshes (analytics.history): each build adds its reference date's measures
to measure_history; a rebuild at the same date replaces that date's rows (idempotent), other
dates are kept, and the table survives the builds that replace every other analytics table."""

from __future__ import annotations

import datetime as dt

from openphm import analytics, clock, reference
from openphm.analytics import history

from .linked import REFERENCE, person, population, zone_on

D = dt.date
OPTIONS = analytics.AnalyticsOptions(
    hospital_scores=False, sii_simulations=10, groupings=("practice",)
)


def _zone(engine, folder):
    # Ten people aged 10 to 70 at two practices; diabetes coded for those aged 16, 17, 40, 60
    # (QOF's register is of people 17+: 3 on it, over the 7 people aged 17+).
    ages = (10, 12, 16, 17, 20, 30, 40, 50, 60, 70)
    people = [person(f"p{a}", age=a, practice="A81001" if a < 40 else "A81002") for a in ages]
    code = reference.codelist("qof-dm").code.iloc[0]
    events = [{"pseudonym": f"p{a}", "event_date": D(2020, 6, 1), "snomed_code": code}
              for a in (16, 17, 40, 60)]  # fmt: skip
    return zone_on(engine, folder, **population(*people), gp_events=events)


def _diabetes(zone, day):
    return {
        r[0]: r[1:]
        for r in zone.sql(
            "SELECT group_value, numerator, denominator FROM linked.measure_history "
            f"WHERE measure = 'prevalence_diabetes' AND statistic = 'crude' "
            f"AND reference_date = DATE '{day}' ORDER BY 1"
        ).fetchall()
    }


def test_a_build_adds_its_date_and_a_rebuild_replaces_only_that_date(engine, tmp_path):
    zone = _zone(engine, tmp_path)
    earlier = D(REFERENCE.year - 1, REFERENCE.month, 1) - dt.timedelta(days=1)
    with clock.frozen_at("2026-11-01T09:00:00"):
        zone.analyse(earlier, OPTIONS)
    with clock.frozen_at("2026-11-02T09:00:00"):
        summary = zone.analyse(REFERENCE, OPTIONS)
    assert (
        summary.rows["measure_history"]
        == zone.sql("SELECT count(*) FROM linked.measure_history").fetchone()[0]
    )
    with zone.file() as con:
        first = history.read(con)
    assert set(first["reference_date"]) == {earlier, REFERENCE}
    assert set(first["group_by"]) == {"all", "practice"}
    # The programme and each practice, counted by hand: 3 of 7 aged 17+ (the register's age).
    mine = _diabetes(zone, REFERENCE)
    assert mine["all"] == (3.0, 7.0)
    assert mine["A81001"] == (1.0, 3.0)  # p17 of p17, p20, p30
    assert mine["A81002"] == (2.0, 4.0)  # p40, p60 of p40, p50, p60, p70
    # Again at the same date, later: the same rows, that date's built_at moved on, the
    # earlier date's rows as they were.
    with clock.frozen_at("2026-11-03T09:00:00"):
        zone.analyse(REFERENCE, OPTIONS)
    with zone.file() as con:
        again = history.read(con)
    assert len(again) == len(first)
    built = again.groupby("reference_date")["built_at"].unique()
    assert [str(t) for t in built[REFERENCE]] == ["2026-11-03 09:00:00"]
    assert [str(t) for t in built[earlier]] == ["2026-11-01 09:00:00"]
    values = ["measure", "statistic", "group_by", "group_value", "numerator", "denominator"]
    same = first.drop(columns="built_at").merge(again.drop(columns="built_at"), how="outer",
                                                indicator=True)  # fmt: skip
    assert (same["_merge"] == "both").all(), same[same["_merge"] != "both"][values]
    # measures itself holds only the latest build's date
    (end,) = zone.sql("SELECT DISTINCT period_end FROM linked.measures").fetchone()
    assert end == REFERENCE


def test_an_empty_zone_writes_an_empty_typed_history(engine, tmp_path):
    zone = zone_on(engine, tmp_path)
    zone.analyse(REFERENCE, OPTIONS)
    types = dict(
        (name, kind) for name, kind, *_ in zone.sql("DESCRIBE linked.measure_history").fetchall()
    )
    assert types["reference_date"] == "DATE" and types["built_at"].startswith("TIMESTAMP")
    assert zone.sql("SELECT count(*) FROM linked.measure_history").fetchone()[0] == 0
