"""The Cambridge Multimorbidity Score's prescription rule, ehrQL style: a condition defined by
drugs (constipation: cms-laxatives-dmd; painful condition: cms-analgesics-dmd, or
cms-antiepileptics-dmd for people with no epilepsy code; anxiety or depression:
cms-anxiolytics-antidepressants-dmd, besides its diagnosis codes) is present when drugs from
one of its dm+d lists are issued at least 4 times in the 12 months up to the reference date
(Payne et al. 2020). The list's codes are matched against linked.medications.dmd_code, as
issued."""

import datetime as dt

import pytest

from openphm import analytics, reference

from .linked import REFERENCE, person, population, zone_on

D = dt.date
LAXATIVES = reference.codelist("cms-laxatives-dmd").code
VMP = LAXATIVES.iloc[0]  # a VMP (Antacid and Oxetacaine oral suspension)
SENNA = "42358311000001108"  # Senna 7.5mg tablets (VMP), in the published list
SERTRALINE = "39704111000001102"  # Sertraline 50mg tablets (VMP), anxiolytics/antidepressants
PARACETAMOL = "42109611000001109"  # Paracetamol 500mg tablets (VMP), analgesics
AMITRIPTYLINE = "42291111000001104"  # Amitriptyline 10mg tablets (VMP), in both lists
CARBAMAZEPINE = "42126211000001106"  # Carbamazepine 200mg tablets (VMP), anti-epileptics only
PREGABALIN = "42135611000001100"  # Pregabalin 50mg capsules (VMP), anti-epileptics and analgesics
EPILEPSY = reference.codelist("qof-epil").code.iloc[0]
LISTED = {
    SENNA: "cms-laxatives-dmd",
    SERTRALINE: "cms-anxiolytics-antidepressants-dmd",
    PARACETAMOL: "cms-analgesics-dmd",
    AMITRIPTYLINE: "cms-anxiolytics-antidepressants-dmd",
    CARBAMAZEPINE: "cms-antiepileptics-dmd",
    PREGABALIN: "cms-antiepileptics-dmd",
}
IN_WINDOW = [D(2025, 4, 1), D(2025, 8, 1), D(2025, 12, 1), D(2026, 3, 31)]

# pseudonym: (issues as (code, date), expected CMS)
PEOPLE = {
    "four_issues": ([(SENNA, d) for d in IN_WINDOW], 1.12),
    "three_issues": ([(SENNA, d) for d in IN_WINDOW[:3]], 0.0),
    "four_issues_of_two_drugs": ([(SENNA, d) for d in IN_WINDOW[:2]]
                                 + [(VMP, d) for d in IN_WINDOW[2:]], 1.12),
    "one_issue_before_the_window": ([(SENNA, D(2025, 3, 31))]
                                    + [(SENNA, d) for d in IN_WINDOW[1:]], 0.0),
    "one_issue_after_the_reference_date": ([(SENNA, d) for d in IN_WINDOW[:3]]
                                           + [(SENNA, D(2026, 4, 1))], 0.0),
    "four_issues_of_another_drug": ([("319773006", d) for d in IN_WINDOW], 0.0),
    "four_antidepressant_issues": ([(SERTRALINE, d) for d in IN_WINDOW], 0.50),
    "three_antidepressant_issues": ([(SERTRALINE, d) for d in IN_WINDOW[:3]], 0.0),
    "four_analgesic_issues": ([(PARACETAMOL, d) for d in IN_WINDOW], 0.92),
    "three_analgesic_issues": ([(PARACETAMOL, d) for d in IN_WINDOW[:3]], 0.0),
    # amitriptyline is in both lists (Payne's lists overlap by 247 codes): both conditions
    "four_amitriptyline_issues": ([(AMITRIPTYLINE, d) for d in IN_WINDOW], 0.50 + 0.92),
    # anti-epileptics: a painful condition (0.92) only for people with no epilepsy code
    "four_antiepileptic_issues": ([(CARBAMAZEPINE, d) for d in IN_WINDOW], 0.92),
    "three_antiepileptic_issues": ([(CARBAMAZEPINE, d) for d in IN_WINDOW[:3]], 0.0),
    "four_antiepileptic_issues_with_epilepsy": ([(CARBAMAZEPINE, d) for d in IN_WINDOW], 0.92),
    # pregabalin is an analgesic too, which counts whatever the epilepsy record
    "four_pregabalin_issues_with_epilepsy": ([(PREGABALIN, d) for d in IN_WINDOW], 0.92 + 0.92),
    "two_analgesic_and_two_antiepileptic_issues": ([(PARACETAMOL, d) for d in IN_WINDOW[:2]]
                                                   + [(CARBAMAZEPINE, d) for d in IN_WINDOW[2:]],
                                                   0.0),
}  # fmt: skip
WITH_EPILEPSY = [p for p in PEOPLE if p.endswith("_with_epilepsy")]  # epilepsy scores 0.92


@pytest.fixture(scope="module")
def cms(engine, tmp_path_factory):
    rows = population(*[person(p, age=60) for p in PEOPLE])
    meds = [{"pseudonym": p, "dmd_code": code, "issue_date": day}
            for p, (issues, _) in PEOPLE.items() for code, day in issues]  # fmt: skip
    events = [{"pseudonym": p, "event_date": D(2020, 1, 1), "snomed_code": EPILEPSY}
              for p in WITH_EPILEPSY]  # fmt: skip
    zone = zone_on(engine, tmp_path_factory.mktemp("cms"), **rows, medications=meds,
                   gp_events=events)  # fmt: skip
    zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10, groupings=()))  # fmt: skip
    return dict(zone.sql("SELECT pseudonym, cms FROM linked.person_scores").fetchall())


@pytest.mark.parametrize("code", LISTED)
def test_the_codes_used_are_in_the_published_lists(code):
    assert code in set(reference.codelist(LISTED[code]).code)


def test_amitriptyline_and_pregabalin_are_in_the_analgesics_list_too():
    analgesics = set(reference.codelist("cms-analgesics-dmd").code)
    assert AMITRIPTYLINE in analgesics and PREGABALIN in analgesics
    assert CARBAMAZEPINE not in analgesics


def test_the_epilepsy_code_is_in_no_other_cms_list():
    others = {n for c in analytics.CMS_CONDITIONS if c.name != "epilepsy" for n in c.gp}
    assert not any(EPILEPSY in set(reference.codelist(n).code) for n in others)


@pytest.mark.parametrize("pseudonym", PEOPLE)
def test_a_medication_condition_needs_4_issues_in_the_12_months(cms, pseudonym):
    assert cms[pseudonym] == pytest.approx(PEOPLE[pseudonym][1])
