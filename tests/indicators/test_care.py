"""Care gaps and case finding, one specification table each, at 2026-10-31. The last 12 months
run from 2025-11-01; the last 6 from 2026-05-01. Readings are `sys`/`dia` (mmHg) and `hba1c`
(mmol/mol) with their value after `=`; lists OpenPHM does not ship are the test's stand-ins
(spec.TEST_LISTS). Due: the latest date the person's conditions came true (a register's first
code, a reading, a lapse), e.g. a test last done 2025-10-31 lapsed from a 12-month window on
2026-10-31."""

import pytest

from .spec import expected, parse, reasons, run, write_test_lists


@pytest.fixture(scope="module")
def lists(tmp_path_factory):
    return str(write_test_lists(tmp_path_factory.mktemp("lists")))


CARE_GAPS = {
    "gap_hypertension_bp": """
person          | age | recorded                                                               | denominator | flagged | due
controlled      | 60  | hyp 2015-01-01, sys 2026-05-01=130, dia 2026-05-01=80                  | yes | no  |
systolic_above  | 60  | hyp 2015-01-01, sys 2026-05-01=141, dia 2026-05-01=80                  | yes | yes | 2026-05-01
diastolic_above | 60  | hyp 2015-01-01, sys 2026-05-01=130, dia 2026-05-01=91                  | yes | yes | 2026-05-01
at_target       | 60  | hyp 2015-01-01, sys 2026-05-01=140, dia 2026-05-01=90                  | yes | no  |
at_80_145       | 80  | hyp 2015-01-01, sys 2026-05-01=145, dia 2026-05-01=85                  | yes | no  |
at_79_145       | 79  | hyp 2015-01-01, sys 2026-05-01=145, dia 2026-05-01=85                  | yes | yes | 2026-05-01
latest_counts   | 60  | hyp 2015-01-01, sys 2026-01-01=150, dia 2026-01-01=80, sys 2026-06-01=130, dia 2026-06-01=80 | yes | no |
lowest_that_day | 60  | hyp 2015-01-01, sys 2026-06-01=150, sys 2026-06-01=135, dia 2026-06-01=80 | yes | no |
lapsed          | 60  | hyp 2015-01-01, sys 2025-10-31=130, dia 2025-10-31=80                  | yes | yes | 2026-10-31
first_day       | 60  | hyp 2015-01-01, sys 2025-11-01=130, dia 2025-11-01=80                  | yes | no  |
never_measured  | 60  | hyp 2020-03-01                                                         | yes | yes | 2020-03-01
not_on_register | 60  | sys 2026-05-01=170, dia 2026-05-01=100                                 | no  | no  |
resolved        | 60  | hyp 2015-01-01, hypres 2016-01-01                                      | no  | no  |
""",  # noqa: E501
    "gap_diabetes_hba1c": """
person      | age | recorded                         | denominator | flagged | due
controlled  | 60  | dm 2015-01-01, hba1c 2026-03-01=55 | yes | no  |
above_58    | 60  | dm 2015-01-01, hba1c 2026-03-01=59 | yes | yes | 2026-03-01
at_58       | 60  | dm 2015-01-01, hba1c 2026-03-01=58 | yes | no  |
lapsed      | 60  | dm 2015-01-01, hba1c 2025-10-31=50 | yes | yes | 2026-10-31
aged_16     | 16  | dm 2020-01-01                      | no  | no  |
""",
    # CHA2DS2-VASc: born on 1 January of (2026 - age); a birthday counts from the 15th.
    "gap_af_anticoagulation": """
person            | age | sex | recorded                                      | issued            | denominator | flagged | due
at_75_untreated   | 75  | M   | af 2024-02-01                                 |                   | yes | yes | 2026-01-15
at_75_treated     | 75  | M   | af 2024-02-01                                 | anticoag 2026-05-01 | yes | no |
at_75_lapsed      | 75  | M   | af 2024-02-01                                 | anticoag 2026-04-30 | yes | yes | 2026-10-30
male_64           | 64  | M   | af 2024-02-01                                 |                   | no  | no  |
female_64         | 64  | F   | af 2024-02-01                                 |                   | no  | no  |
female_64_htn     | 64  | F   | af 2024-02-01, hyp 2018-01-01                 |                   | yes | yes | 2024-02-01
stroke_at_50      | 50  | M   | af 2024-02-01, stroke 2022-05-05              |                   | yes | yes | 2024-02-01
male_65_diabetic  | 65  | M   | af 2024-02-01, dm 2010-01-01                  |                   | yes | yes | 2026-01-15
vascular_once     | 50  | M   | af 2024-02-01, chd 2019-01-01, pad 2021-01-01 |                   | no  | no  |
hf_then_chd       | 50  | M   | af 2020-02-01, heartfail 2020-01-01, chd 2021-06-01 |             | yes | yes | 2021-06-01
no_af             | 80  | F   |                                               |                   | no  | no  |
""",  # noqa: E501
    "gap_ckd_acr": """
person       | age | recorded                        | denominator | flagged | due
no_acr       | 70  | ckd 2020-01-01                  | yes | yes | 2020-01-01
acr_inside   | 70  | ckd 2020-01-01, acr 2025-11-01  | yes | no  |
acr_outside  | 70  | ckd 2020-01-01, acr 2025-10-31  | yes | yes | 2026-10-31
stage_2_since | 70 | ckd 2020-01-01, ckd12 2021-01-01 | no | no  |
""",
    "gap_cvd_statin": """
person          | recorded                        | issued            | denominator | flagged | due
chd_no_statin   | chd 2019-01-01                  |                   | yes | yes | 2019-01-01
chd_statin      | chd 2019-01-01                  | statin 2026-05-01 | yes | no  |
stroke_lapsed   | stroke 2019-01-01               | statin 2026-04-30 | yes | yes | 2026-10-30
pad_no_statin   | pad 2020-01-01                  |                   | yes | yes | 2020-01-01
chd_diabetic    | chd 2019-01-01, dm 2019-01-01   |                   | no  | no  |
chd_palliative  | chd 2019-01-01, palcare 2026-01-01 |                | no  | no  |
no_cvd          |                                 |                   | no  | no  |
""",
}

CASE_FINDING = {
    "find_raised_bp": """
person         | age | recorded                                                                  | denominator | flagged | due
two_raised     | 50  | sys 2026-01-10=142, dia 2026-01-10=80, sys 2026-03-10=130, dia 2026-03-10=92 | yes | yes | 2026-03-10
one_raised     | 50  | sys 2026-01-10=142, dia 2026-01-10=80, sys 2026-03-10=130, dia 2026-03-10=85 | yes | no |
one_outside    | 50  | sys 2025-10-31=142, dia 2025-10-31=80, sys 2026-03-10=150, dia 2026-03-10=80 | yes | no |
first_day      | 50  | sys 2025-11-01=142, dia 2025-11-01=80, sys 2026-03-10=150, dia 2026-03-10=80 | yes | yes | 2026-03-10
same_day       | 50  | sys 2026-03-10=150, sys 2026-03-10=160, dia 2026-03-10=95                 | yes | no |
at_140_90      | 50  | sys 2026-01-10=140, dia 2026-01-10=70, sys 2026-03-10=120, dia 2026-03-10=90 | yes | yes | 2026-03-10
just_below     | 50  | sys 2026-01-10=139, dia 2026-01-10=89, sys 2026-03-10=139, dia 2026-03-10=89 | yes | no |
hypertensive   | 50  | hyp 2020-01-01, sys 2026-01-10=150, dia 2026-01-10=95, sys 2026-03-10=150, dia 2026-03-10=95 | no | no |
aged_17        | 17  | sys 2026-01-10=150, dia 2026-01-10=95, sys 2026-03-10=150, dia 2026-03-10=95 | no | no |
""",  # noqa: E501
    "find_ndh_hba1c": """
person        | age | recorded                                     | denominator | flagged | due
at_45         | 50  | hba1c 2026-05-01=45                          | yes | yes | 2026-05-01
at_42         | 50  | hba1c 2026-05-01=42                          | yes | yes | 2026-05-01
at_47         | 50  | hba1c 2026-05-01=47                          | yes | yes | 2026-05-01
at_41         | 50  | hba1c 2026-05-01=41                          | yes | no  |
at_48         | 50  | hba1c 2026-05-01=48                          | yes | no  |
latest_counts | 50  | hba1c 2026-01-01=45, hba1c 2026-06-01=40     | yes | no  |
outside       | 50  | hba1c 2025-10-31=45                          | yes | no  |
with_ndh      | 50  | ndh 2025-01-01, hba1c 2026-05-01=45          | no  | no  |
referred      | 50  | ndpp 2024-01-01, hba1c 2026-05-01=45         | no  | no  |
diabetic      | 50  | dm 2020-01-01, hba1c 2026-05-01=45           | no  | no  |
""",
}


@pytest.mark.parametrize("indicator", CARE_GAPS)
def test_each_care_gap_flags_exactly_the_people_its_definition_names(
    indicator, lists, engine, tmp_path
):
    rows = parse(CARE_GAPS[indicator])
    got = run("care-gaps", indicator, rows, folder=lists, engine=engine, where=tmp_path)
    assert got == expected(rows)


@pytest.mark.parametrize("indicator", CASE_FINDING)
def test_each_case_finding_indicator_flags_exactly_the_people_it_names(
    indicator, lists, engine, tmp_path
):
    rows = parse(CASE_FINDING[indicator])
    got = run("case-finding", indicator, rows, folder=lists, engine=engine, where=tmp_path)
    assert got == expected(rows)


def test_a_hypertension_gap_says_whether_the_reading_is_missing_or_high(lists, engine, tmp_path):
    got = reasons("care-gaps", "gap_hypertension_bp", parse(CARE_GAPS["gap_hypertension_bp"]),
                  codelist_folder=lists, engine=engine, where=tmp_path)  # fmt: skip
    assert got["never_measured"] == "Hypertension: no blood pressure recorded in the last 12 months"
    assert got["systolic_above"] == (
        "Hypertension: latest blood pressure in the last 12 months above target"
    )
