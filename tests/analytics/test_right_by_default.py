"""Right by default (issue 27, item 1): the one reference-date rule and its warning, QOF's
age-specific register denominators, person-time denominators, OHID's rule for an empty age
band, and SII limits seeded per measure. Every expected figure is worked by hand in the
comments, from a population written out here."""

import datetime as dt
import math

import ibis
import pandas as pd
import pytest

from openphm import analytics, clock, reference
from openphm.analytics import measures, period, stats
from openphm.analytics.definitions import AGE_BANDS_19, MEASURES, REGISTERS, Measure

from .linked import REFERENCE, linked_zone, person, population, registered, zone_on

D = dt.date

# ----- the reference-date rule ------------------------------------------------------------


def dated_zone(**latest: D):
    """A zone whose activity tables' latest dates are `latest` (table → date)."""
    columns = {"gp_events": "event_date", "consultations": "consultation_date",
               "apc_spells": "admission_date", "ec_attendances": "arrival_date"}  # fmt: skip
    rows = {t: [{"pseudonym": "a", columns[t]: D(2025, 1, 1)}, {"pseudonym": "a", columns[t]: d}]
            for t, d in latest.items()}  # fmt: skip
    return linked_zone(**rows)


def test_the_data_end_is_the_latest_activity_and_the_default_the_last_month_end_before():
    # GP data to 20 October, consultations to 14 October, emergency care to 1 October,
    # hospital spells to 20 August: the latest activity is 20 October, so the last complete
    # month of data ends on 30 September. Spells stop 61 days before it: named as lagging.
    con = dated_zone(gp_events=D(2026, 10, 20), consultations=D(2026, 10, 14),
                     apc_spells=D(2026, 8, 20), ec_attendances=D(2026, 10, 1))  # fmt: skip
    with clock.frozen_at("2026-12-06T09:00:00"):
        end = period.data_end(con)
        assert (end.day, end.bounded_by) == (D(2026, 10, 20), "gp_events")
        assert period.default_reference_date(con) == D(2026, 9, 30)
        assert end.lagging == {"apc_spells": D(2026, 8, 20)}  # 19 days for emergency care
        assert "apc_spells to 2026-08-20" in end.lag_warning()


def test_data_to_a_month_end_defaults_to_that_day_and_a_future_date_is_not_data():
    con = dated_zone(gp_events=D(2026, 10, 31), apc_spells=D(2026, 10, 31))
    with clock.frozen_at("2026-12-06T09:00:00"):
        assert period.default_reference_date(con) == D(2026, 10, 31)
    ahead = dated_zone(gp_events=D(2027, 3, 1))  # a recording error a year ahead
    with clock.frozen_at("2026-12-06T09:00:00"):
        assert period.data_end(ahead).day == D(2026, 12, 6)  # never after today
        assert period.default_reference_date(ahead) == D(2026, 11, 30)


def test_no_activity_means_no_default_and_says_what_to_do():
    with pytest.raises(analytics.zone.LinkedZoneError, match="--reference-date"):
        period.default_reference_date(linked_zone())


def test_a_date_past_the_data_end_warns_with_the_share_of_the_window_without_data():
    # The case: data to 31 October, reference date 6 December, a 12-month window.
    # The window runs 7 December 2025 to 6 December 2026: 365 days. 1 November to 6 December
    # has no data: 30 + 6 = 36 days, 36 / 365 = 9.9%.
    start = analytics.zone.months_before(D(2026, 12, 6), 12)
    assert start == D(2025, 12, 7)
    cover = period.Coverage(D(2026, 12, 6), start, D(2026, 10, 31))
    assert (cover.window_days, cover.days_without_data) == (365, 36)
    warning = cover.warning()
    assert "after the data's end 2026-10-31" in warning
    assert "36 of the window's 365 days (9.9%) have no data" in warning
    assert cover.note() == "as at 2026-12-06 (data to 2026-10-31)"
    assert period.Coverage(D(2026, 10, 31), start, D(2026, 10, 31)).warning() is None


# ----- QOF register ages ------------------------------------------------------------------


def test_registers_with_qof_ages_are_over_the_people_of_those_ages(engine, tmp_path):
    # Ten registered people aged 10, 12, 16, 17, 20, 30, 40, 50, 60 and 70 at the reference
    # date; diabetes codes for those aged 16, 17, 40 and 60. QOF's diabetes register is of
    # people aged 17 or over (DM017), so the 16-year-old is not on it: 3 on the register, over
    # the 7 people aged 17+: 3/7 = 42.857%. Over everyone it would have been 3/10 = 30%.
    ages = (10, 12, 16, 17, 20, 30, 40, 50, 60, 70)
    people = [person(f"p{a}", age=a) for a in ages]
    code = reference.codelist("qof-dm").code.iloc[0]
    events = [{"pseudonym": f"p{a}", "event_date": D(2020, 6, 1), "snomed_code": code}
              for a in (16, 17, 40, 60)]  # fmt: skip
    zone = zone_on(engine, tmp_path, **population(*people), gp_events=events)
    zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10, groupings=()))  # fmt: skip
    row = zone.sql(
        "SELECT numerator, denominator, value FROM linked.measures "
        "WHERE measure = 'prevalence_diabetes' AND statistic = 'crude'"
    ).fetchone()
    assert row[:2] == (3.0, 7.0)
    assert row[2] == pytest.approx(300 / 7)  # 42.857 per cent
    hypertension = zone.sql(  # no age rule: over all ten
        "SELECT denominator FROM linked.measures "
        "WHERE measure = 'prevalence_hypertension' AND statistic = 'crude'"
    ).fetchone()
    assert hypertension == (10.0,)


def test_every_register_with_an_age_rule_has_its_prevalence_over_those_ages():
    ages = {r.name: r.min_age for r in REGISTERS}
    assert (ages["diabetes"], ages["epilepsy"], ages["ckd"], ages["depression"]) == (17, 18, 18, 18)
    for m in MEASURES:
        if m.name.startswith("prevalence_"):
            age = ages[m.name.removeprefix("prevalence_")]
            assert m.min_age == age
            assert m.denominator == (
                f"in_reference_population_{age}plus" if age else "in_reference_population"
            )


# ----- person-time ------------------------------------------------------------------------


def test_activity_per_person_year_counts_the_time_each_was_registered_and_alive(engine, tmp_path):
    # The window is 1 April 2025 to 31 March 2026 (REFERENCE), 365 days.
    #   a: registered throughout                                  365 days
    #   b: died 30 September 2025 (1 April to 30 September)        183 days
    #   c: registered from 1 January 2026 (January to March)        90 days
    #   d: registration ended 1 July 2025 (last day 30 June)       91 days
    # 729 days = 729 / 365.25 = 1.995893 person-years. Emergency admissions: a 2, c 1 = 3.
    # Per 1,000 person-years: 3 / 1.995893 × 1000 = 1503.086; per 1,000 people: 3/4 = 750.
    people = [person("a"), person("b", died=D(2025, 9, 30)), person("c"), person("d")]
    regs = [registered("a"), registered("b"), registered("c", start=D(2026, 1, 1)),
            registered("d", end=D(2025, 7, 1))]  # fmt: skip
    admitted = (("a", D(2025, 6, 1)), ("a", D(2025, 8, 1)), ("c", D(2026, 2, 1)))
    spells = [{"pseudonym": p, "admission_date": day, "discharge_date": day, "emergency": True,
               "elective": False, "bed_days": 0} for p, day in admitted]  # fmt: skip
    zone = zone_on(engine, tmp_path, people=people, registrations=regs, apc_spells=spells)
    zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10, groupings=()))  # fmt: skip
    days = dict(zone.sql("SELECT pseudonym, person_years * 365.25 FROM linked.analytics_population")
                .fetchall())  # fmt: skip
    assert {p: round(v, 9) for p, v in days.items()} == {"a": 365, "b": 183, "c": 90, "d": 91}
    rates = dict(
        zone.sql(
            "SELECT measure, value FROM linked.measures WHERE statistic = 'crude' AND measure IN "
            "('rate_emergency_admissions', 'rate_py_emergency_admissions')"
        ).fetchall()
    )
    assert rates["rate_emergency_admissions"] == pytest.approx(750.0)
    assert rates["rate_py_emergency_admissions"] == pytest.approx(1503.086, abs=5e-4)


# ----- standardisation over a measure's ages, and OHID's empty-band rule ------------------

ESP = measures.esp2013_weights()


def banded(group: str, cases: dict[str, int], per_band: int = 100, skip=()):
    """`per_band` people aged 17+ in every band from 15-19 up (but those in `skip`), `cases[b]`
    of them on the register; and 50 children under 15, outside the measure's ages."""
    rows = []
    for band in AGE_BANDS_19[3:]:
        if band in skip:
            continue
        rows += [(group, band, int(i < cases[band]), 1) for i in range(per_band)]
    rows += [(group, "5-9", 0, 0)] * 50
    frame = pd.DataFrame(
        rows, columns=["area", "age_band", "reg_x", "in_reference_population_17plus"]
    )
    return frame


def test_a_measure_of_ages_17_plus_is_standardised_over_the_bands_from_15_19():
    # Every band from 15-19 has 100 people: 10 cases a band to 60-64, 30 a band from 65-69.
    # ESP2013 weights: 15-19 to 60-64 sum to 64,500; 65-69 to 90+ to 19,500; together 84,000.
    # DSR = (0.1 × 64,500 + 0.3 × 19,500) / 84,000 = 12,300 / 84,000 = 14.642857%.
    # (Over all 19 bands, the empty child bands' 16,000 would have pulled it to 12.3%.)
    assert ESP[3:13].sum() == 64_500 and ESP[13:].sum() == 19_500
    cases = {b: (10 if i < 10 else 30) for i, b in enumerate(AGE_BANDS_19[3:])}
    m = Measure("prevalence_x", "X", "reg_x", "in_reference_population_17plus", "proportion",
                min_age=17, inequality=False)  # fmt: skip
    out = measures.compute(ibis.memtable(banded("A", cases)), (m,), ("area",), simulations=10)
    dsr = out[(out["statistic"] == "dsr") & (out["group_by"] == "area")].iloc[0]
    assert dsr["value"] == pytest.approx(1_230_000 / 84_000)
    assert dsr["flag"] == "" and "the 16 bands from 15-19" in dsr["method"]


def test_a_group_with_an_empty_band_gets_no_dsr_and_is_flagged():
    # Area B has nobody aged 90+: OHID's calculate_dsr refuses a denominator of 0, so B has no
    # standardised value and its row says why; its crude value is still there (300 + 300 +
    # ... cases over 1,500 people). Area A, every band peopled, is standardised.
    cases = {b: 20 for b in AGE_BANDS_19[3:]}
    m = Measure("prevalence_x", "X", "reg_x", "in_reference_population_17plus", "proportion",
                min_age=17, inequality=False)  # fmt: skip
    frame = pd.concat([banded("A", cases), banded("B", cases, skip=("90+",))])
    out = measures.compute(ibis.memtable(frame), (m,), ("area",), simulations=10)
    rows = out[out["group_by"] == "area"].set_index(["group_value", "statistic"])
    assert rows.loc[("A", "dsr"), "value"] == pytest.approx(20.0)  # 20 in 100 in every band
    assert math.isnan(rows.loc[("B", "dsr"), "value"])
    assert rows.loc[("B", "dsr"), "flag"].startswith("not standardised: 1 age band(s)")
    assert rows.loc[("B", "crude"), "value"] == pytest.approx(20.0)  # 300 / 1,500


# ----- SII: 100,000 simulations, a seed per measure ---------------------------------------


def test_sii_draws_100000_by_default_from_a_seed_of_each_measures_own():
    assert stats.SII_SIMULATIONS == 100_000
    assert analytics.AnalyticsOptions().sii_simulations == 100_000
    import hashlib

    digest = hashlib.blake2b(b"mortality", digest_size=8).digest()
    assert stats.seed_for("mortality") == int.from_bytes(digest, "big")
    # Two measures of the same data: the same point estimate, limits from different draws.
    crude = pd.DataFrame({
        "group_value": [str(d) for d in range(1, 11)],
        "value": [30.0 - d for d in range(1, 11)], "denominator": [1000.0] * 10,
        "numerator": [30.0 - d for d in range(1, 11)],
    })  # fmt: skip
    a, b = (Measure(n, n, "x", "y", "rate", multiplier=1000.0) for n in ("rate_a", "rate_b"))
    ra, rb = (measures.inequality(crude, m, 2_000) for m in (a, b))
    assert ra["value"].tolist() == rb["value"].tolist()
    assert ra["lower_95"].tolist() != rb["lower_95"].tolist()
    assert measures.inequality(crude, a, 2_000)["lower_95"].tolist() == ra["lower_95"].tolist()
