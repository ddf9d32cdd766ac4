"""Care gaps (purpose: quality improvement) and case finding (purpose: prevention).

Registers are analytics' QOF registers by their GP codes (`engine.register`). Readings and drugs
that OpenPHM does not ship a list for are named here and must be supplied by the programme with
`--codelists` (docs/indicators.md says which, and what each should hold); until then the
indicators that read them are left out of a build and named.
"""

from __future__ import annotations

from openphm.indicators.definitions import (
    BP_SYSTOLIC,
    Age,
    AnyOf,
    BloodPressureAboveTarget,
    Cha2ds2VascAtLeast,
    CodeList,
    Indicator,
    LatestValue,
    NotPrescribed,
    NotRecorded,
    OnRegister,
    Pack,
    RaisedBloodPressures,
    Recorded,
    Window,
)
from openphm.indicators.pincer import ANTICOAGULANT
from openphm.programme.config import Purpose


def _missing(name: str, system: str, title: str, source: str) -> CodeList:
    return CodeList(name, system, title, f"{source}; not shipped", shipped=False)


HBA1C = _missing("hba1c", "SNOMED CT", "IFCC HbA1c results (mmol/mol)",
                 "QOF IFCC-HbA1c cluster (IFCCHBAM_COD)")  # fmt: skip
URINE_ACR = _missing("urine-acr", "SNOMED CT", "Urine albumin:creatinine ratio tests",
                     "QOF ACR test cluster")  # fmt: skip
STATINS = _missing("statins-dmd", "dm+d", "Statins", "a dm+d statin list (e.g. QOF's statin "
                   "prescription cluster)")  # fmt: skip
NDH = _missing("ndh", "SNOMED CT", "Non-diabetic hyperglycaemia diagnoses",
               "QOF non-diabetic hyperglycaemia cluster (NDH_COD)")  # fmt: skip
NDPP_REFERRAL = _missing("ndpp-referral", "SNOMED CT",
                         "Referral to the NHS Diabetes Prevention Programme",
                         "NHS DPP referral codes")  # fmt: skip

TWELVE_MONTHS = Window(12)
no_bp = NotRecorded((BP_SYSTOLIC,), TWELVE_MONTHS, "blood pressure")

CARE_GAPS = (
    Indicator(
        "gap_hypertension_bp", "Hypertension: blood pressure not recorded or above target",
        "People on the hypertension register with no blood pressure in the last 12 months, or "
        "whose latest reading is above target (140/90 under 80, 150/90 from 80).",
        "QOF HYP008 (under 80, 140/90) and HYP009 (80 and over, 150/90); NICE NG136",
        population=(OnRegister("hypertension"),),
        flag=(AnyOf((no_bp, BloodPressureAboveTarget(TWELVE_MONTHS))),),
        reason="Hypertension",
    ),
    Indicator(
        "gap_diabetes_hba1c", "Diabetes: HbA1c not recorded or above 58 mmol/mol",
        "People on the diabetes register with no HbA1c in the last 12 months, or whose latest "
        "HbA1c is above 58 mmol/mol.",
        "NICE indicator IND179, QOF DM020 (HbA1c 58 mmol/mol or less; QOF's frailty "
        "stratification, DM021, is not applied); NICE NG28",
        population=(OnRegister("diabetes"),),
        flag=(AnyOf((
            NotRecorded((HBA1C,), TWELVE_MONTHS, "HbA1c"),
            LatestValue((HBA1C,), TWELVE_MONTHS, "HbA1c", above=58),
        )),),
        reason="Diabetes",
    ),
    Indicator(
        "gap_af_anticoagulation", "Atrial fibrillation, CHA₂DS₂-VASc 2 or more, not anticoagulated",
        "People on the atrial fibrillation register with a CHA₂DS₂-VASc score of 2 or more and "
        "no oral anticoagulant issued in the last 6 months.",
        "NICE NG196 (offer anticoagulation at CHA₂DS₂-VASc 2 or more); QOF's AF "
        "anticoagulation indicator",
        population=(OnRegister("atrial_fibrillation"), Cha2ds2VascAtLeast(2)),
        flag=(NotPrescribed((ANTICOAGULANT,), Window(6), "oral anticoagulant"),),
        reason="Atrial fibrillation with CHA₂DS₂-VASc 2 or more, no oral anticoagulant issued "
               "in the last 6 months",
    ),
    Indicator(
        "gap_ckd_acr", "CKD 3-5 without a urine ACR in 12 months",
        "People on the CKD (stages 3-5) register with no urine albumin:creatinine ratio test in "
        "the last 12 months.",
        "QOF CKD005; NICE NG203",
        population=(OnRegister("ckd"),),
        flag=(NotRecorded((URINE_ACR,), TWELVE_MONTHS, "urine ACR"),),
        reason="CKD stage 3-5, no urine albumin:creatinine ratio in the last 12 months",
    ),
    Indicator(
        "gap_cvd_statin", "Established CVD without a statin",
        "People on the coronary heart disease, stroke/TIA or peripheral arterial disease "
        "register with no statin issued in the last 6 months; people on the diabetes (17+) or "
        "palliative care register are excluded, as QOF CHOL001 excludes them.",
        "QOF CHOL001 (2023/24), its CVD registers only (CHOL001 takes CKD as well); NICE NG238",
        population=(AnyOf((OnRegister("chd"), OnRegister("stroke_tia"),
                           OnRegister("peripheral_arterial_disease"))),),
        exclusions=(OnRegister("diabetes"), OnRegister("palliative_care")),
        flag=(NotPrescribed((STATINS,), Window(6), "statin"),),
        reason="Established cardiovascular disease, no statin issued in the last 6 months",
    ),
)  # fmt: skip

CASE_FINDING = (
    Indicator(
        "find_raised_bp", "Raised blood pressure without a hypertension diagnosis",
        "Adults not on the hypertension register with two or more blood pressures of 140/90 or "
        "higher (either value) in the last 12 months.",
        "NICE NG136 (clinic BP 140/90 or higher: offer ambulatory monitoring to confirm); "
        "CVDPREVENT",
        population=(Age(at_least=18),),
        exclusions=(OnRegister("hypertension"),),
        flag=(RaisedBloodPressures(TWELVE_MONTHS),),
        reason="Two or more blood pressures of 140/90 or higher in the last 12 months, no "
               "hypertension diagnosis",
    ),
    Indicator(
        "find_ndh_hba1c", "HbA1c 42-47 mmol/mol without a diagnosis or referral",
        "Adults not on the diabetes register whose latest HbA1c in the last 12 months is 42 to 47 "
        "mmol/mol (non-diabetic hyperglycaemia), with no non-diabetic hyperglycaemia code and no "
        "Diabetes Prevention Programme referral ever recorded.",
        "NICE PH38 (non-diabetic hyperglycaemia, HbA1c 42-47 mmol/mol); NHS Diabetes "
        "Prevention Programme",
        population=(Age(at_least=18),),
        exclusions=(
            OnRegister("diabetes"),
            Recorded((NDH,), Window(None), "non-diabetic hyperglycaemia"),
            Recorded((NDPP_REFERRAL,), Window(None), "Diabetes Prevention Programme referral"),
        ),
        flag=(LatestValue((HBA1C,), TWELVE_MONTHS, "HbA1c", at_least=42, at_most=47),),
        reason="Latest HbA1c 42-47 mmol/mol in the last 12 months, no diagnosis or referral",
    ),
)  # fmt: skip

CARE_GAPS_PACK = Pack(
    "care-gaps",
    "Care gaps in long-term conditions",
    (Purpose.QUALITY_IMPROVEMENT,),
    CARE_GAPS,
    "QOF 2023/24 and NICE guidance, as each indicator names",
)
CASE_FINDING_PACK = Pack(
    "case-finding",
    "Case finding: undiagnosed hypertension and non-diabetic hyperglycaemia",
    (Purpose.PREVENTION,),
    CASE_FINDING,
    "NICE NG136 and PH38; CVDPREVENT; NHS Diabetes Prevention Programme",
)
