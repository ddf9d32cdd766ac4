"""`indicators.build`: what it writes to zone 3, and what it refuses to build on part of a
definition."""

import datetime as dt

import pytest

from openphm import indicators
from openphm.indicators import definitions as d
from openphm.indicators.build import Chosen
from openphm.programme.config import Purpose

from .spec import REFERENCE, parse, zone_for

PEOPLE = parse("""
person    | age | practice | issued
flagged_1 | 70  | P00001   | nsaid 2026-09-01
flagged_2 | 66  | P00002   | nsaid 2026-10-01
protected | 70  | P00001   | nsaid 2026-09-01, ppi 2026-09-01
young     | 40  | P00002   | nsaid 2026-09-01
old_clean | 90  | P00002   |
""")
PINCER = indicators.choose([("pincer", "safety-monitoring")])
GI_A = [c for c in PINCER if c.indicator.name == "pincer_gi_a"]


def test_only_flagged_people_are_written_with_their_reason_and_due_date(engine, tmp_path):
    zone = zone_for(PEOPLE, engine=engine, where=tmp_path)
    zone.build_indicators(REFERENCE, GI_A)
    rows = zone.sql(
        "SELECT pseudonym, practice, pack, purpose, indicator, reason, due_date, reference_date "
        "FROM linked.person_indicators ORDER BY pseudonym"
    ).fetchall()
    reason = "Aged 65 or over, issued an oral NSAID in the last 3 months without gastroprotection"
    assert rows == [
        ("flagged_1", "P00001", "pincer", "safety-monitoring", "pincer_gi_a", reason,
         dt.date(2026, 9, 1), REFERENCE),
        ("flagged_2", "P00002", "pincer", "safety-monitoring", "pincer_gi_a", reason,
         dt.date(2026, 10, 1), REFERENCE),
    ]  # fmt: skip


def test_counts_per_practice_are_kept_for_every_reference_date_built(engine, tmp_path):
    zone = zone_for(PEOPLE, engine=engine, where=tmp_path)
    zone.build_indicators(REFERENCE, GI_A)
    zone.build_indicators(dt.date(2026, 9, 15), GI_A)
    zone.build_indicators(REFERENCE, GI_A)  # a rebuild replaces its own date's counts
    rows = zone.sql(
        "SELECT reference_date, practice, denominator, numerator FROM linked.indicator_counts "
        "ORDER BY reference_date, practice"
    ).fetchall()
    assert rows == [
        (dt.date(2026, 9, 15), "P00001", 1, 1),  # flagged_1 (protected has gastroprotection)
        (dt.date(2026, 9, 15), "P00002", 2, 0),  # flagged_2's NSAID is after 15 September
        (REFERENCE, "P00001", 1, 1),
        (REFERENCE, "P00002", 2, 1),
    ]


def test_an_indicator_whose_code_list_is_missing_is_left_out_and_named(engine, tmp_path):
    missing = d.CodeList("no-such-list", "dm+d", "A list nobody has", "test", shipped=False)
    lonely = d.Indicator(
        "needs_missing_list", "Needs a missing list", "", "test",
        population=(), flag=(d.Prescribed((missing,), d.Window(3), "a drug"),), reason="x",
    )  # fmt: skip
    zone = zone_for(PEOPLE, engine=engine, where=tmp_path)
    summary = zone.build_indicators(REFERENCE, [Chosen("test", "prevention", lonely), *GI_A])
    assert summary.left_out == {"needs_missing_list": ("no-such-list",)}
    assert summary.flagged == {"pincer_gi_a": 2}
    built = zone.sql("SELECT DISTINCT indicator FROM linked.person_indicators").fetchall()
    assert built == [("pincer_gi_a",)]
    run = zone.sql("SELECT left_out, missing_codelists FROM linked.indicator_runs").fetchall()
    assert run == [("needs_missing_list", "no-such-list")]


def test_a_pack_is_chosen_only_for_a_purpose_it_serves():
    with pytest.raises(indicators.PackError, match="serves safety-monitoring, not 'research'"):
        indicators.choose([("pincer", "research")])
    with pytest.raises(indicators.PackError, match="no indicator pack 'nope'"):
        indicators.choose([("nope", "prevention")])
    assert {c.purpose for c in PINCER} == {Purpose.SAFETY_MONITORING.value}
