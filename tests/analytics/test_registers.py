"""Condition registers, ehrQL style: a small table of events per person and the expected
register membership (and source) per person."""

import datetime as dt

import pytest

from openphm import analytics, reference

from .linked import REFERENCE, person, population, zone_on

D = dt.date
BEFORE, AFTER = D(2020, 6, 1), D(2026, 4, 1)  # REFERENCE is 2026-03-31


def first_code(name: str) -> str:
    """The first code of a shipped list that no other register's list has (a few codes, such
    as severe depression with psychosis, are rightly on two registers)."""
    others = set().union(*(set(reference.codelist(c).code) for c in CLUSTERS if c != name))
    return next(c for c in reference.codelist(name).code if c not in others)


def gp(pseudonym, cluster, day=BEFORE):
    return {"pseudonym": pseudonym, "event_date": day, "snomed_code": first_code(cluster)}


def spell(pseudonym, primary, secondary=(), day=D(2025, 1, 10), emergency=True):
    return {"pseudonym": pseudonym, "admission_date": day, "discharge_date": day,
            "emergency": emergency, "elective": not emergency, "primary_diagnosis": primary,
            "secondary_diagnoses": list(secondary), "bed_days": 0}  # fmt: skip


CLUSTERS = (
    "qof-hyp",
    "qof-dm",
    "qof-ast",
    "qof-copd",
    "qof-chd",
    "qof-hf",
    "qof-afib",
    "qof-strk",
    "qof-ckd",
    "qof-ckd1and2",
    "qof-dem",
    "qof-depr",
    "qof-mh",
    "qof-ld",
    "qof-c19can",
    "qof-epil",
    "qof-osteo",
    "qof-rarth",
    "qof-pad",
    "qof-palcare",
)
# One person per register, each with the register's first shipped GP code before REFERENCE.
EVERY_REGISTER = {
    "hypertension": "qof-hyp", "diabetes": "qof-dm", "asthma": "qof-ast", "copd": "qof-copd",
    "chd": "qof-chd", "heart_failure": "qof-hf", "atrial_fibrillation": "qof-afib",
    "stroke_tia": "qof-strk", "ckd": "qof-ckd", "dementia": "qof-dem", "depression": "qof-depr",
    "serious_mental_illness": "qof-mh", "learning_disability": "qof-ld",
    "cancer": "qof-c19can", "epilepsy": "qof-epil", "osteoporosis": "qof-osteo",
    "rheumatoid_arthritis": "qof-rarth", "peripheral_arterial_disease": "qof-pad",
    "palliative_care": "qof-palcare",
}  # fmt: skip

# pseudonym | events                                      | expected (register: source)
SPEC = [
    ("after", [gp("after", "qof-hyp", AFTER)], {}),
    ("on_the_day", [gp("on_the_day", "qof-hyp", REFERENCE)], {"hypertension": "gp"}),
    ("ckd_then_stage2", [gp("ckd_then_stage2", "qof-ckd", D(2020, 1, 1)),
                         gp("ckd_then_stage2", "qof-ckd1and2", D(2021, 1, 1))], {}),
    ("stage2_then_ckd", [gp("stage2_then_ckd", "qof-ckd1and2", D(2020, 1, 1)),
                         gp("stage2_then_ckd", "qof-ckd", D(2021, 1, 1))], {"ckd": "gp"}),
    ("same_day", [gp("same_day", "qof-ckd", D(2021, 1, 1)),
                  gp("same_day", "qof-ckd1and2", D(2021, 1, 1))], {}),
    ("hospital_only", [], {"heart_failure": "hospital", "hypertension": "hospital"}),
    ("both_sources", [gp("both_sources", "qof-dm")], {"diabetes": "both"}),
    ("stem_match", [], {"dementia": "hospital"}),
    ("no_stem_match", [], {}),
    ("admitted_after", [], {}),
    ("young_diabetic", [gp("young_diabetic", "qof-dm")], {}),
]  # fmt: skip
SPELLS = [
    spell("hospital_only", "J189", ["I509", "I10"]),
    spell("both_sources", "E119"),
    spell("stem_match", "F03X"),  # F03 on the list matches F03X
    spell("no_stem_match", "I19"),  # I19 is not hypertension (I10 is)
    spell("admitted_after", "I509", day=AFTER),
]
AGES = {"young_diabetic": 12}


@pytest.fixture(scope="module")
def built(engine, tmp_path_factory):
    people = [person(name, age=AGES.get(name, 60)) for name, _, _ in SPEC]
    people += [person(f"reg_{r}", age=60) for r in EVERY_REGISTER]
    events = [e for _, rows, _ in SPEC for e in rows]
    events += [gp(f"reg_{r}", cluster) for r, cluster in EVERY_REGISTER.items()]
    zone = zone_on(engine, tmp_path_factory.mktemp("registers"), **population(*people),
                   gp_events=events, apc_spells=SPELLS)  # fmt: skip
    zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10, groupings=()))  # fmt: skip
    rows = zone.sql("SELECT pseudonym, register, source FROM linked.person_registers").fetchall()
    found: dict[str, dict[str, str]] = {}
    for pseudonym, register, source in rows:
        found.setdefault(pseudonym, {})[register] = source
    return found


@pytest.mark.parametrize(("pseudonym", "expected"), [(p, e) for p, _, e in SPEC])
def test_register_rules(built, pseudonym, expected):
    assert built.get(pseudonym, {}) == expected


@pytest.mark.parametrize("register", sorted(EVERY_REGISTER))
def test_a_code_from_the_list_puts_a_person_on_every_register(built, register):
    assert built[f"reg_{register}"] == {register: "gp"}


def test_every_register_is_defined_once_and_has_a_shipped_list():
    names = [r.name for r in analytics.REGISTERS]
    assert len(names) == len(set(names)) == 19
    assert set(names) == set(EVERY_REGISTER)
