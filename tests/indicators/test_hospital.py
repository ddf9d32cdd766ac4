"""Avoidable and repeated hospital use, one specification table each, at 2026-10-31 (the last
12 months from 2025-11-01). `attended` lists emergency care arrivals; `admitted` lists spells
as `method admission..discharge diagnosis` (method e = emergency, l = elective; the ICD-10
primary diagnosis). The ACSC list is the test's stand-in (J45, I10), not the NHS Outcomes
Framework list, which OpenPHM does not ship."""

import pytest

from .spec import D, expected, parse, run, write_test_lists


@pytest.fixture(scope="module")
def lists(tmp_path_factory):
    return str(write_test_lists(tmp_path_factory.mktemp("lists")))


def hospital_rows(rows):
    spells, attendances = [], []
    for row in rows:
        p = row["person"]
        for day in filter(None, (x.strip() for x in row.get("attended", "").split(","))):
            attendances.append({"pseudonym": p, "arrival_date": D(day)})
        for spell in filter(None, (x.strip() for x in row.get("admitted", "").split(","))):
            method, dates, dx = spell.split()
            admitted, discharged = (D(x) for x in dates.split(".."))
            spells.append({"pseudonym": p, "admission_date": admitted,
                           "discharge_date": discharged, "emergency": method == "e",
                           "elective": method == "l", "primary_diagnosis": dx,
                           "secondary_diagnoses": ["J45"]})  # fmt: skip
    return {"apc_spells": spells, "ec_attendances": attendances}


SPECS = {
    "use_frequent_ed": """
person       | attended                                                         | denominator | flagged | due
five         | 2025-11-01, 2026-01-01, 2026-02-01, 2026-03-01, 2026-10-31       | yes | yes | 2026-10-31
six          | 2025-12-01, 2026-01-01, 2026-02-01, 2026-03-01, 2026-04-01, 2026-05-01 | yes | yes | 2026-04-01
four_and_one_before | 2025-10-31, 2026-01-01, 2026-02-01, 2026-03-01, 2026-04-01 | yes | no  |
one_after    | 2026-01-01, 2026-02-01, 2026-03-01, 2026-04-01, 2026-11-01       | yes | no  |
none         |                                                                  | yes | no  |
""",  # noqa: E501
    "use_readmission_30d": """
person            | admitted                                                          | denominator | flagged | due
back_in_30_days   | e 2026-03-01..2026-03-05 R55, e 2026-04-04..2026-04-06 R55        | yes | yes | 2026-04-04
back_in_31_days   | e 2026-03-01..2026-03-05 R55, e 2026-04-05..2026-04-06 R55        | yes | no  |
after_elective    | l 2026-03-01..2026-03-05 K409, e 2026-03-20..2026-03-21 R55       | yes | yes | 2026-03-20
elective_return   | e 2026-03-01..2026-03-05 R55, l 2026-03-20..2026-03-21 K409       | yes | no  |
index_before      | e 2025-10-20..2025-10-25 R55, e 2025-11-01..2025-11-02 R55        | yes | yes | 2025-11-01
no_emergency      | l 2026-03-01..2026-03-05 K409                                      | no  | no  |
""",  # noqa: E501
    "use_acsc_admission": """
person          | admitted                                   | denominator | flagged | due
asthma          | e 2026-03-01..2026-03-05 J459              | yes | yes | 2026-03-01
hypertension    | e 2026-06-01..2026-06-02 I10               | yes | yes | 2026-06-01
elective_asthma | l 2026-03-01..2026-03-05 J459              | yes | no  |
secondary_only  | e 2026-03-01..2026-03-05 R55               | yes | no  |
before_window   | e 2025-10-31..2025-11-05 J450              | yes | no  |
not_on_the_list | e 2026-03-01..2026-03-05 I11               | yes | no  |
""",
}


@pytest.mark.parametrize("indicator", SPECS)
def test_each_hospital_use_indicator_flags_exactly_the_people_it_names(
    indicator, lists, engine, tmp_path
):
    rows = parse(SPECS[indicator])
    got = run("hospital-use", indicator, rows, folder=lists, engine=engine, where=tmp_path,
              **hospital_rows(rows))  # fmt: skip
    assert got == expected(rows)
