"""Avoidable and repeated hospital use (purpose: service planning).

Read from linked.apc_spells and linked.ec_attendances for everyone registered at the reference
date. The ambulatory care sensitive conditions list is not shipped (no public copy of the NHS
Outcomes Framework 2.3.i ICD-10 list was found): supply it as `icd10-acsc-chronic.csv`.
"""

from __future__ import annotations

from openphm.indicators.definitions import (
    CodeList,
    EmergencyAdmissions,
    EmergencyAttendances,
    Indicator,
    Pack,
    Readmissions,
    Window,
)
from openphm.programme.config import Purpose

ACSC_CHRONIC = CodeList(
    "icd10-acsc-chronic", "ICD-10",
    "Chronic ambulatory care sensitive conditions (primary diagnosis)",
    "NHS Outcomes Framework 2.3.i specification (NHS Digital); not shipped", shipped=False,
)  # fmt: skip
TWELVE_MONTHS = Window(12)

INDICATORS = (
    Indicator(
        "use_acsc_admission",
        "Emergency admission for a chronic ambulatory care sensitive condition",
        "People with an emergency admission in the last 12 months whose primary diagnosis is a "
        "chronic ambulatory care sensitive condition (asthma, COPD, angina, congestive heart "
        "failure, diabetes complications, epilepsy, hypertension, ... as NHS Outcomes Framework "
        "2.3.i lists them).",
        "NHS Outcomes Framework 2.3.i (unplanned hospitalisation for chronic ambulatory care "
        "sensitive conditions); a person-level flag, not the framework's age-standardised rate "
        "of admissions, and without its procedure exclusions",
        population=(),
        flag=(EmergencyAdmissions(TWELVE_MONTHS, "emergency admissions for a chronic ambulatory "
                                  "care sensitive condition", primary_diagnosis=ACSC_CHRONIC),),
        reason="Emergency admission for a chronic ambulatory care sensitive condition in the "
               "last 12 months",
    ),
    Indicator(
        "use_frequent_ed", "Frequent emergency department attender",
        "People with 5 or more emergency care attendances (any department type) in the last 12 "
        "months.",
        "NHS England High Intensity Use programme (5 or more A&E attendances a year)",
        population=(),
        flag=(EmergencyAttendances(TWELVE_MONTHS, at_least=5),),
        reason="5 or more emergency department attendances in the last 12 months",
    ),
    Indicator(
        "use_readmission_30d", "Emergency readmission within 30 days",
        "People with an emergency admission in the last 12 months that began 0-30 days after the "
        "discharge of their previous spell, among people with an emergency admission in those "
        "months.",
        "NHS Outcomes Framework 3b (emergency readmissions within 30 days of discharge), per "
        "person; analytics' readmission rule",
        population=(EmergencyAdmissions(TWELVE_MONTHS, "emergency admissions"),),
        flag=(Readmissions(TWELVE_MONTHS),),
        reason="Emergency readmission within 30 days of a discharge in the last 12 months",
    ),
)  # fmt: skip

PACK = Pack(
    "hospital-use",
    "Avoidable and repeated hospital use",
    (Purpose.SERVICE_PLANNING,),
    INDICATORS,
    "NHS Outcomes Framework 2.3.i and 3b; NHS England High Intensity Use programme",
)
