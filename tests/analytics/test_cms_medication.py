"""The Cambridge Multimorbidity Score's prescription rule, ehrQL style: a condition defined by
drugs (constipation: cms-laxatives-dmd) is present when a drug from its dm+d list is issued at
least 4 times in the 12 months up to the reference date (Payne et al. 2020). The list's codes
are matched against linked.medications.dmd_code, as issued."""

import datetime as dt

import pytest

from openphm import analytics, reference

from .linked import REFERENCE, linked_zone, person, population

D = dt.date
LAXATIVES = reference.codelist("cms-laxatives-dmd").code
VMP = LAXATIVES.iloc[0]  # a VMP (Antacid and Oxetacaine oral suspension)
SENNA = "42358311000001108"  # Senna 7.5mg tablets (VMP), in the published list
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
}  # fmt: skip


@pytest.fixture(scope="module")
def cms():
    rows = population(*[person(p, age=60) for p in PEOPLE])
    meds = [{"pseudonym": p, "dmd_code": code, "issue_date": day}
            for p, (issues, _) in PEOPLE.items() for code, day in issues]  # fmt: skip
    con = linked_zone(**rows, medications=meds)
    analytics.build(con, REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10, groupings=()))  # fmt: skip
    return dict(con.sql("SELECT pseudonym, cms FROM linked.person_scores").fetchall())


def test_the_senna_code_is_in_the_published_list():
    assert SENNA in set(LAXATIVES)


@pytest.mark.parametrize("pseudonym", PEOPLE)
def test_constipation_needs_4_laxative_issues_in_the_12_months(cms, pseudonym):
    assert cms[pseudonym] == pytest.approx(PEOPLE[pseudonym][1])
