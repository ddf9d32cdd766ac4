"""Scores, segments and activity, ehrQL style: per person, the rows that matter and the
expected value."""

import datetime as dt

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openphm import analytics, reference
from openphm.analytics import segments

from .linked import REFERENCE, person, population, zone_on

D = dt.date
EFI_LISTS = ["efi-activity-limitation", "efi-anaemia", "efi-care-requirement",
             "efi-dizziness", "efi-dyspnoea", "efi-falls", "efi-foot-problems",
             "efi-fragility-fracture", "efi-housebound", "efi-hypotension",
             "efi-mobility-problems", "efi-parkinsonism", "efi-skin-ulcer",
             "efi-sleep-disturbance"]  # fmt: skip


def code(name, i=0):
    return reference.codelist(name).code.iloc[i]


def events(pseudonym, lists, day=D(2024, 1, 1)):
    return [{"pseudonym": pseudonym, "event_date": day, "snomed_code": code(n)} for n in lists]


def emergency(pseudonym, admitted, discharged, diagnosis="J189"):
    return {"pseudonym": pseudonym, "admission_date": admitted, "discharge_date": discharged,
            "emergency": True, "elective": False, "primary_diagnosis": diagnosis,
            "secondary_diagnoses": [], "bed_days": (discharged - admitted).days}  # fmt: skip


PEOPLE = [
    # pseudonym, age, gp event lists
    ("efi4", 75, EFI_LISTS[:4]),     # 4/36 = 0.111: fit
    ("efi5", 75, EFI_LISTS[:5]),     # 5/36 = 0.139: mild
    ("efi9", 75, EFI_LISTS[:9]),     # 9/36 = 0.25: moderate (0.24 ≤ 0.25)
    ("efi13", 75, EFI_LISTS[:13]),   # 13/36 = 0.361: severe
    ("cms", 50, ["qof-hf", "qof-dm", "qof-hyp"]),  # 1.18 + 0.75 + 0.08 = 2.01
    ("eol", 70, ["qof-palcare", "qof-dem"]),       # end of life before frailty
    ("dementia", 70, ["qof-dem"]),                 # frailty
    ("copd", 60, ["qof-copd"]),                    # limited reserve
    ("ld", 30, ["qof-ld"]),                        # stable but serious disability
    ("young_disabled", 40, ["efi-mobility-problems"]),  # disability deficit under 65
    ("hyp", 40, ["qof-hyp"]),                      # chronic conditions
    ("infant", 0, []),                             # maternal and infant
    ("acute", 30, []),                             # emergency admission, no LTC
    ("well", 30, []),                              # healthy
    ("inpatient", 30, []),                         # in hospital on the reference date
]  # fmt: skip
SPELLS = [
    emergency("acute", D(2025, 6, 1), D(2025, 6, 3)),
    emergency("acute", D(2025, 6, 20), D(2025, 6, 21)),  # readmitted within 30 days
    emergency("acute", D(2025, 9, 1), D(2025, 9, 2)),  # 72 days later: not a readmission
    emergency("acute", D(2024, 1, 1), D(2024, 1, 2)),  # before the window
    emergency("inpatient", D(2026, 3, 21), D(2026, 4, 10)),  # discharged after the reference
]
EXPECTED = pd.DataFrame(
    [  # pseudonym, efi_deficits, efi_category, cms, segment
        ("efi4", 4, "fit", None, None),
        ("efi5", 5, "mild", None, None),
        ("efi9", 9, "moderate", None, "frailty"),
        ("efi13", 13, "severe", None, "frailty"),
        ("cms", None, None, 2.01, "limited_reserve"),
        ("eol", None, None, 2.50, "end_of_life"),
        ("dementia", None, None, 2.50, "frailty"),
        ("copd", None, None, 1.46, "limited_reserve"),
        ("ld", None, None, 0.0, "stable_serious_disability"),
        ("young_disabled", 1, "fit", 0.0, "stable_serious_disability"),
        ("hyp", None, None, 0.08, "chronic_conditions"),
        ("infant", 0, "fit", 0.0, "maternal_infant"),
        ("acute", None, None, 0.0, "acutely_ill"),
        ("well", 0, "fit", 0.0, "healthy"),
    ],
    columns=["pseudonym", "efi_deficits", "efi_category", "cms", "segment"],
)


@pytest.fixture(scope="module")
def built(engine, tmp_path_factory):
    rows = population(*[person(p, age=age) for p, age, _ in PEOPLE])
    gp_events = [e for p, _, lists in PEOPLE for e in events(p, lists)]
    day = D(2026, 1, 1)
    consultations = [{"pseudonym": "well", "consultation_date": day}] * 3 + [
        {"pseudonym": "well", "consultation_date": D(2024, 1, 1)}
    ]  # outside the window
    zone = zone_on(engine, tmp_path_factory.mktemp("scores"), **rows, gp_events=gp_events,
                   apc_spells=SPELLS, consultations=consultations)  # fmt: skip
    summary = zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10, groupings=("segment",)))  # fmt: skip
    frame = lambda name: zone.sql(f"SELECT * FROM linked.{name}").df().set_index("pseudonym")  # noqa: E731
    return summary, frame("person_scores"), frame("person_segments"), frame("person_activity")


@pytest.mark.parametrize("row", EXPECTED.to_dict("records"), ids=EXPECTED["pseudonym"])
def test_scores_and_segments_per_person(built, row):
    _, scores, segs, _ = built
    got = scores.loc[row["pseudonym"]]
    if pd.notna(row["efi_deficits"]):
        assert got.efi_deficits == row["efi_deficits"]
        assert got.efi == pytest.approx(row["efi_deficits"] / 36)
        assert got.efi_category == row["efi_category"]
    if pd.notna(row["cms"]):
        assert got.cms == pytest.approx(row["cms"])
    if pd.notna(row["segment"]):
        assert segs.loc[row["pseudonym"], "segment"] == row["segment"]


def test_everyone_is_in_exactly_one_segment(built):
    _, scores, segs, _ = built
    assert sorted(segs.index) == sorted(scores.index)
    assert segs.index.is_unique


def test_condition_count_groups(built):
    _, _, segs, _ = built
    assert segs.loc["cms", "ltc_group"] == "2-3"
    assert segs.loc["hyp", "ltc_group"] == "1"
    assert segs.loc["well", "ltc_group"] == "0"


def test_activity_counts_only_the_window_and_30_day_readmissions(built):
    _, _, _, act = built
    assert act.loc["acute", "emergency_admissions"] == 3
    assert act.loc["acute", "readmissions_30d"] == 1
    assert act.loc["acute", "bed_days"] == 2 + 1 + 1
    assert act.loc["well", "gp_consultations"] == 3


def test_bed_days_stop_at_the_reference_date(built):
    _, _, _, act = built
    # Admitted 21 March, reference date 31 March, discharged 10 April: 10 days, not 20.
    assert act.loc["inpatient", "bed_days"] == 10


def test_cost_is_activity_times_the_tariff(built):
    _, _, _, act = built
    from openphm.analytics.activity import load_tariff

    tariff = load_tariff()
    expected = 3 * tariff["emergency_admission"] + 4 * tariff["excess_bed_day"]
    assert act.loc["acute", "cost"] == pytest.approx(expected)


def test_the_summary_names_code_lists_it_could_not_find(built):
    summary, *_ = built
    assert "qof-astres" in summary.missing_codelists
    assert "qof-hyp" not in summary.missing_codelists


FLAGS = st.fixed_dictionaries({
    "age": st.integers(0, 100),
    **{f"reg_{r.name}": st.booleans() for r in analytics.REGISTERS},
    "ltc_count": st.integers(0, 8),
    "efi_category": st.sampled_from(["fit", "mild", "moderate", "severe"]),
    "efi_disability": st.booleans(),
    "pregnant": st.booleans(),
    "emergency_admissions": st.integers(0, 3),
    "ec_attendances": st.integers(0, 3),
})  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(st.lists(FLAGS, min_size=1, max_size=30))
def test_segments_partition_any_population(people):
    frame = pd.DataFrame(people).assign(pseudonym=[f"p{i}" for i in range(len(people))])
    t = ibis.memtable(frame)
    out = segments.person_segments(t).to_pandas()
    assert len(out) == len(frame)
    assert out["segment"].isin([s.name for s in analytics.SEGMENTS]).all()
    order = {s.name: i for i, s in enumerate(analytics.SEGMENTS, 1)}
    assert (out["segment"].map(order) == out["segment_order"]).all()
