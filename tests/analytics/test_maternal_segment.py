"""The maternal and infant segment, ehrQL style: a pregnancy code (QOF's preg_cod cluster) in the
9 months up to the reference date puts a person in it, unless a segment before it in
definitions.SEGMENTS holds."""

import datetime as dt

import pytest

from openphm import analytics, reference

from .linked import REFERENCE, person, population, zone_on

D = dt.date
PREGNANT = reference.codelist("qof-preg").code.iloc[0]
HYPERTENSION = reference.codelist("qof-hyp").code.iloc[0]

# pseudonym: (age, [(code, recorded on)], emergency admission in the window, expected segment)
PEOPLE = {
    "pregnant": (30, [(PREGNANT, D(2026, 1, 10))], False, "maternal_infant"),
    "first_day_of_window": (30, [(PREGNANT, D(2025, 7, 1))], False, "maternal_infant"),
    "day_before_window": (30, [(PREGNANT, D(2025, 6, 30))], False, "healthy"),
    "after_reference_date": (30, [(PREGNANT, D(2026, 4, 1))], False, "healthy"),
    "pregnant_and_acutely_ill": (30, [(PREGNANT, D(2026, 1, 10))], True, "maternal_infant"),
    "pregnant_with_hypertension": (30, [(PREGNANT, D(2026, 1, 10)), (HYPERTENSION,
                                   D(2020, 1, 1))], False, "chronic_conditions"),
    "infant": (0, [], False, "maternal_infant"),
    "not_pregnant": (30, [], False, "healthy"),
}  # fmt: skip


def admitted(pseudonym: str) -> dict:
    return {"pseudonym": pseudonym, "admission_date": D(2026, 2, 1),
            "discharge_date": D(2026, 2, 2), "emergency": True, "elective": False,
            "primary_diagnosis": "R104", "secondary_diagnoses": [], "bed_days": 1}  # fmt: skip


@pytest.fixture(scope="module")
def segments(engine, tmp_path_factory):
    rows = population(*[person(p, age=age, sex="F") for p, (age, *_) in PEOPLE.items()])
    events = [{"pseudonym": p, "snomed_code": code, "event_date": day}
              for p, (_, coded, *_) in PEOPLE.items() for code, day in coded]  # fmt: skip
    spells = [admitted(p) for p, (*_, acute, _) in PEOPLE.items() if acute]
    zone = zone_on(engine, tmp_path_factory.mktemp("maternal"), **rows, gp_events=events,
                   apc_spells=spells)  # fmt: skip
    zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10, groupings=()))  # fmt: skip
    return dict(zone.sql("SELECT pseudonym, segment FROM linked.person_segments").fetchall())


@pytest.mark.parametrize("pseudonym", PEOPLE)
def test_a_pregnancy_code_in_the_last_9_months_means_the_maternal_segment(segments, pseudonym):
    assert segments[pseudonym] == PEOPLE[pseudonym][-1]


def test_the_window_is_9_months_to_the_reference_date():
    from openphm.analytics.zone import months_before

    assert months_before(REFERENCE, analytics.definitions.PREGNANCY_MONTHS) == D(2025, 7, 1)
