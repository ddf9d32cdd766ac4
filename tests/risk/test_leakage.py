"""Features as at a reference date use nothing after it: events planted after the reference
date leave every feature unchanged, and the same events planted on it change them (so the test
would see a leak)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from openphm.analytics.zone import REQUIRED
from openphm.engine import connect
from openphm.risk.features import FEATURE_NAMES, NO_RECENT_ADMISSION_DAYS, feature_frame
from openphm.risk.plan import emergency_outcome
from openphm.risk.store import open_zone

T0 = dt.date(2025, 10, 31)
TABLES = (*REQUIRED, "deaths")


@pytest.fixture(scope="module")
def zone_copy(region):
    """The region's linked base tables, copied into memory (alias `zone`), and 40 people
    registered and alive at T0 to plant events on, chosen among those with no hospital
    frailty score, no open social care and no emergency admission on T0 yet, so that a planted
    diagnosis, service and admission must change those features (pseudonyms, and so who is
    chosen, differ from run to run)."""
    ws = region.open()
    con = connect()
    con.execute("ATTACH ':memory:' AS original")
    con.execute("ATTACH ':memory:' AS zone")
    with open_zone(ws, read_only=True) as source:
        for table in TABLES:
            con.register("_copy", source.execute(f"SELECT * FROM zone3.main.{table}").arrow())
            con.execute(f"CREATE TABLE original.main.{table} AS SELECT * FROM _copy")
            con.unregister("_copy")
    reset(con)
    baseline = feature_frame(con, T0, source="zone")
    # ... and no emergency admission on T0 itself, or a planted one would leave the days since
    # the last one at 0 (a fresh workspace's keys chose such a person once in CI).
    unmarked = baseline[
        (baseline["hfrs"] == 0)
        & (baseline["social_care_open"] == 0)
        & (baseline["days_since_emergency_admission"] > 0)
    ]
    chosen = unmarked.sort_values("pseudonym")["pseudonym"].iloc[::50].head(40).tolist()
    return con, baseline, chosen


def reset(con) -> None:
    """The zone as the region left it, before any planting."""
    for table in TABLES:
        con.execute(
            f"CREATE OR REPLACE TABLE zone.main.{table} AS SELECT * FROM original.main.{table}"
        )


def plant(con, people: list[str], day: dt.date) -> None:
    """Every kind of event, for each person, on `day`: a diagnosis on a register, a medicine,
    a consultation, emergency and elective spells, an A&E attendance, an outpatient
    attendance, a community contact, a social care service, and a death."""
    code = con.execute(
        "SELECT snomed_code FROM zone.main.gp_events GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    drug = con.execute("SELECT dmd_code FROM zone.main.medications LIMIT 1").fetchone()[0]
    for p in people:
        args = {"p": p, "d": day}
        for sql in (
            "INSERT INTO zone.main.gp_events (pseudonym, event_date, snomed_code) "
            f"VALUES ($p, $d, '{code}')",
            f"INSERT INTO zone.main.medications (pseudonym, issue_date, dmd_code) "
            f"VALUES ($p, $d, '{drug}'), ($p, $d, 'planted-drug')",
            "INSERT INTO zone.main.consultations (pseudonym, consultation_date) VALUES ($p, $d)",
            "INSERT INTO zone.main.apc_spells (pseudonym, admission_date, discharge_date, "
            "emergency, elective, primary_diagnosis, secondary_diagnoses, bed_days) VALUES "
            "($p, $d, $d + 3, true, false, 'I500', ['J440', 'F03'], 3), "
            "($p, $d, $d, false, true, 'C349', [], 0)",
            "INSERT INTO zone.main.ec_attendances (pseudonym, arrival_date) VALUES ($p, $d)",
            "INSERT INTO zone.main.op_appointments (pseudonym, appointment_date, attended) "
            "VALUES ($p, $d, true)",
            "INSERT INTO zone.main.community_contacts (pseudonym, contact_date) VALUES ($p, $d)",
            "INSERT INTO zone.main.social_care_services (pseudonym, service_start) VALUES ($p, $d)",
            "UPDATE zone.main.people SET date_of_death = $d + 1 WHERE pseudonym = $p",
        ):
            con.execute(sql, args)


def test_events_after_the_reference_date_change_no_feature(zone_copy):
    con, baseline, people = zone_copy
    reset(con)
    try:
        plant(con, people, T0 + dt.timedelta(days=1))
        plant(con, people, T0 + dt.timedelta(days=200))
        after = feature_frame(con, T0, source="zone")
    finally:
        reset(con)
    pd.testing.assert_frame_equal(after, baseline)


def test_the_same_events_on_the_reference_date_are_seen(zone_copy):
    """The control: without it, a feature builder that ignored planted rows would pass."""
    con, baseline, people = zone_copy
    reset(con)
    try:
        plant(con, people, T0)
        after = feature_frame(con, T0, source="zone")
    finally:
        reset(con)
    changed = (
        after.set_index("pseudonym").loc[people] != baseline.set_index("pseudonym").loc[people]
    )
    for column in (
        "emergency_admissions_3m",
        "ec_attendances_12m",
        "gp_consultations_3m",
        "outpatient_attendances_12m",
        "community_contacts_12m",
        "drugs_12m",
        "social_care_open",
        "days_since_emergency_admission",
        "hfrs",
    ):
        assert changed[column].all(), column


def test_the_outcome_counts_only_admissions_after_the_reference_date(zone_copy):
    con, _, people = zone_copy
    reset(con)
    try:
        con.execute(
            "DELETE FROM zone.main.apc_spells WHERE pseudonym IN "
            f"({', '.join(repr(p) for p in people[:2])})"
        )
        plant(con, people[:1], T0)  # on the reference date: a feature, not the outcome
        plant(con, people[1:2], T0 + dt.timedelta(days=365))  # inside (T0, T0 + 12 months]
        outcome = set(emergency_outcome(con, T0, source="zone")["pseudonym"])
    finally:
        reset(con)
    assert people[0] not in outcome
    assert people[1] in outcome


def test_an_absent_value_reads_as_zero_except_sex_and_deprivation(zone_copy):
    """Unknown sex and deprivation stay missing (not read as male, or as some decile); no
    event in a window counts zero, and no emergency admission in the year reads as
    NO_RECENT_ADMISSION_DAYS since one; no other feature is ever missing."""
    con, baseline, chosen = zone_copy
    unknown = chosen[:5]
    con.execute(
        "UPDATE zone.main.people SET sex = 'U', lsoa = NULL, imd_decile = NULL "
        "WHERE list_contains(?, pseudonym)",
        [unknown],
    )
    try:
        frame = feature_frame(con, T0, source="zone").set_index("pseudonym")
    finally:
        reset(con)
    assert frame.loc[unknown, ["sex_female", "imd_decile"]].isna().all().all()
    before = baseline.set_index("pseudonym").drop(index=unknown)
    features = list(FEATURE_NAMES)
    pd.testing.assert_frame_equal(frame.drop(index=unknown)[features], before[features])
    assert before["sex_female"].isin([0.0, 1.0]).any() and before["imd_decile"].notna().any()
    quiet = frame[frame["emergency_admissions_12m"] == 0]
    assert (
        len(quiet) and (quiet["days_since_emergency_admission"] == NO_RECENT_ADMISSION_DAYS).all()
    )
    assert (frame["ec_attendances_3m"] == 0).any()
    rest = [n for n in features if n not in ("sex_female", "imd_decile")]
    assert not frame[rest].isna().any().any()
