"""The PINCER prescribing-safety pack (purpose: safety monitoring).

PINCER: Avery AJ, Rodgers S, Cantrill JA, et al. A pharmacist-led information technology
intervention for medication errors (PINCER): a multicentre, cluster randomised, controlled trial
and cost-effectiveness analysis. Lancet 2012;379(9823):1310-1319; and the national PINCER
programme (PRIMIS, University of Nottingham). Definitions and code lists as the OpenSAFELY
pincer-measures study implements them (github.com/opensafely/pincer-measures, codelists at
commit 2e15894, `analysis/study_definition.py`): the lists are shipped unchanged in
openphm/reference/codelists/pincer-*.csv (reference README and PINCER_SOURCES.md).

Differences from that study, all documented in docs/indicators.md: co-prescription is "both
issued in the same 3 months" (the study compares the months within them); windows are
analytics' (inclusive, ending on the reference date).
"""

from __future__ import annotations

from openphm.indicators.definitions import (
    Age,
    AnyOf,
    CodeList,
    Continuing,
    Indicator,
    NotRecorded,
    Pack,
    Prescribed,
    Recorded,
    Window,
)
from openphm.programme.config import Purpose


def _pincer(name: str, system: str, title: str, version: str) -> CodeList:
    return CodeList(f"pincer-{name}", system, title, f"OpenCodelists pincer/{name}/{version}")


NSAID = _pincer(
    "nsaid", "dm+d", "Oral NSAIDs (as published, COX-2 inhibitors included)", "23edd06e"
)
ULCER_HEALING = _pincer("ppi", "dm+d", "Ulcer-healing drugs (PPIs and H2 antagonists)", "3cfd43a3")
ANTICOAGULANT = _pincer("anticoag", "dm+d", "Oral anticoagulants", "58bf76ce")
ANTIPLATELET = _pincer("antiplat", "dm+d", "Antiplatelets, aspirin included", "26a09064")
ASPIRIN = _pincer("aspirin", "dm+d", "Aspirin", "71ceea03")
ANTIPLATELET_NOT_ASPIRIN = _pincer(
    "non_asp_antiplate", "dm+d", "Antiplatelets other than aspirin", "0ade5d39"
)
NON_SELECTIVE_BB = _pincer("nsbb", "dm+d", "Non-selective beta-blockers", "3fb00399")
ACE_INHIBITOR = _pincer(
    "acei", "dm+d", "ACE inhibitors and angiotensin II receptor blockers", "3a4a83ad"
)
LOOP_DIURETIC = _pincer(
    "diur",
    "dm+d",
    "Loop diuretics (as published, potassium-sparing diuretics included)",
    "213b1078",
)
METHOTREXATE = _pincer("met", "dm+d", "Methotrexate", "082b9d43")
LITHIUM = _pincer("lith", "dm+d", "Lithium", "6f1c2a0d")
AMIODARONE = _pincer("amio", "dm+d", "Amiodarone", "560cb6d8")
PEPTIC_ULCER = _pincer("pep", "SNOMED CT", "Peptic ulcer", "v1.8")
GI_BLEED = _pincer("gi_bleed", "SNOMED CT", "Gastrointestinal bleed", "v1.8")
ASTHMA = _pincer("ast", "SNOMED CT", "Asthma", "v1.8")
ASTHMA_RESOLVED = _pincer("ast_res", "SNOMED CT", "Asthma resolved", "v1.8")
HEART_FAILURE = _pincer("hf", "SNOMED CT", "Heart failure", "v1.8")
RENAL_FUNCTION = _pincer("renal", "SNOMED CT", "Renal function tests", "v1.8")
ELECTROLYTES = _pincer("electro", "SNOMED CT", "Electrolyte tests", "v1.8")
FULL_BLOOD_COUNT = _pincer("fbc", "SNOMED CT", "Full blood count", "v1.8")
LIVER_FUNCTION = _pincer("lft", "SNOMED CT", "Liver function tests", "v1.8")
LITHIUM_LEVEL = _pincer("lith_lev", "SNOMED CT", "Lithium levels", "v1.8")
THYROID_FUNCTION = _pincer("tft", "SNOMED CT", "Thyroid function tests", "v1.8")

THREE_MONTHS = Window(3)
nsaid = Prescribed((NSAID,), THREE_MONTHS, "an oral NSAID")
gastroprotection = Prescribed(
    (ULCER_HEALING,), THREE_MONTHS, "gastroprotection (PPI or H2 antagonist)"
)
anticoagulant = Prescribed((ANTICOAGULANT,), THREE_MONTHS, "an oral anticoagulant")
aspirin = Prescribed((ASPIRIN,), THREE_MONTHS, "aspirin")
ulcer_or_bleed = Recorded(
    (PEPTIC_ULCER, GI_BLEED), Window(None, 3), "a peptic ulcer or gastrointestinal bleed"
)


def _on_long_term(drug: CodeList, label: str, recent: int, before: int) -> Continuing:
    """Issued in the `before` months before the last `recent`, and in the last `recent`: on it
    for a while, and still on it (PINCER's monitoring denominators)."""
    return Continuing((drug,), Window(before - recent, recent), Window(recent), label)


INDICATORS = (
    Indicator(
        "pincer_gi_a", "NSAID at 65 or over without gastroprotection",
        "People aged 65 or over issued an oral NSAID in the last 3 months, among those aged 65 or "
        "over not issued gastroprotection (a PPI or H2 antagonist) in those months.",
        "PINCER GI_P3A; pincer-measures indicator a",
        population=(Age(at_least=65),), flag=(nsaid,), exclusions=(gastroprotection,),
        reason="Aged 65 or over, issued an oral NSAID in the last 3 months without "
               "gastroprotection",
    ),
    Indicator(
        "pincer_gi_b", "NSAID with a history of peptic ulcer, without gastroprotection",
        "People with a peptic ulcer or gastrointestinal bleed recorded more than 3 months ago, "
        "issued an oral NSAID in the last 3 months without gastroprotection.",
        "PINCER GI_P3B; pincer-measures indicator b",
        population=(ulcer_or_bleed,), flag=(nsaid,), exclusions=(gastroprotection,),
        reason="History of peptic ulcer or GI bleed, issued an oral NSAID in the last 3 months "
               "without gastroprotection",
    ),
    Indicator(
        "pincer_gi_d", "NSAID with an oral anticoagulant",
        "People issued an oral anticoagulant and an oral NSAID in the last 3 months.",
        "PINCER GI_P3D; pincer-measures indicator d",
        population=(anticoagulant,), flag=(nsaid,),
        reason="Issued an oral NSAID and an oral anticoagulant in the last 3 months",
    ),
    Indicator(
        "pincer_gi_e", "Anticoagulant with an antiplatelet, without gastroprotection",
        "People issued an oral anticoagulant and an antiplatelet (aspirin included) in the last 3 "
        "months, without gastroprotection.",
        "PINCER GI_P3E; pincer-measures indicator e",
        population=(anticoagulant,),
        flag=(Prescribed((ANTIPLATELET,), THREE_MONTHS, "an antiplatelet"),),
        exclusions=(gastroprotection,),
        reason="Issued an oral anticoagulant and an antiplatelet in the last 3 months without "
               "gastroprotection",
    ),
    Indicator(
        "pincer_gi_f", "Aspirin with another antiplatelet, without gastroprotection",
        "People issued aspirin and another antiplatelet in the last 3 months, without "
        "gastroprotection.",
        "PINCER GI_P3F; pincer-measures indicator f",
        population=(aspirin,),
        flag=(Prescribed((ANTIPLATELET_NOT_ASPIRIN,), THREE_MONTHS, "another antiplatelet"),),
        exclusions=(gastroprotection,),
        reason="Issued aspirin and another antiplatelet in the last 3 months without "
               "gastroprotection",
    ),
    Indicator(
        "pincer_as_g", "Non-selective beta-blocker with asthma",
        "People with asthma (recorded more than 3 months ago, not resolved since) issued a "
        "non-selective beta-blocker in the last 3 months.",
        "PINCER AS_P3G; pincer-measures indicator g",
        population=(Recorded((ASTHMA,), Window(None, 3), "asthma", resolved=(ASTHMA_RESOLVED,)),),
        flag=(Prescribed((NON_SELECTIVE_BB,), THREE_MONTHS, "a non-selective beta-blocker"),),
        reason="Asthma, issued a non-selective beta-blocker in the last 3 months",
    ),
    Indicator(
        "pincer_hf_i", "NSAID with heart failure",
        "People with heart failure recorded more than 3 months ago issued an oral NSAID in the "
        "last 3 months.",
        "PINCER HF_P3I; pincer-measures indicator i",
        population=(Recorded((HEART_FAILURE,), Window(None, 3), "heart failure"),),
        flag=(nsaid,),
        reason="Heart failure, issued an oral NSAID in the last 3 months",
    ),
    Indicator(
        "pincer_mo_ac", "ACE inhibitor or loop diuretic at 75 or over without monitoring",
        "People aged 75 or over on an ACE inhibitor (or ARB) or a loop diuretic long term "
        "(issued more than 15 months ago and in the last 6 months) without a renal function test "
        "and an electrolytes test in the last 15 months.",
        "PINCER MO_P13; pincer-measures indicator ac",
        population=(
            Age(at_least=75),
            AnyOf((
                Continuing((ACE_INHIBITOR,), Window(None, 15), Window(6),
                           "an ACE inhibitor or ARB"),
                Continuing((LOOP_DIURETIC,), Window(None, 15), Window(6), "a loop diuretic"),
            )),
        ),
        flag=(AnyOf((
            NotRecorded((RENAL_FUNCTION,), Window(15), "renal function test"),
            NotRecorded((ELECTROLYTES,), Window(15), "electrolytes test"),
        )),),
        reason="Aged 75 or over on an ACE inhibitor, ARB or loop diuretic long term, without "
               "monitoring in the last 15 months",
    ),
    Indicator(
        "pincer_mo_me", "Methotrexate without a full blood count or liver function test",
        "People on methotrexate (issued 4 to 6 months ago and in the last 3 months) without a "
        "full blood count or without a liver function test in the last 3 months.",
        "PINCER MO_P15; pincer-measures indicators me_no_fbc and me_no_lft, one flag here",
        population=(_on_long_term(METHOTREXATE, "methotrexate", 3, 6),),
        flag=(AnyOf((
            NotRecorded((FULL_BLOOD_COUNT,), THREE_MONTHS, "full blood count"),
            NotRecorded((LIVER_FUNCTION,), THREE_MONTHS, "liver function test"),
        )),),
        reason="On methotrexate without monitoring in the last 3 months",
    ),
    Indicator(
        "pincer_mo_li", "Lithium without a level in 3 months",
        "People on lithium (issued 4 to 6 months ago and in the last 3 months) without a lithium "
        "level in the last 3 months.",
        "PINCER MO_P17; pincer-measures indicator li",
        population=(_on_long_term(LITHIUM, "lithium", 3, 6),),
        flag=(NotRecorded((LITHIUM_LEVEL,), THREE_MONTHS, "lithium level"),),
        reason="On lithium without a lithium level in the last 3 months",
    ),
    Indicator(
        "pincer_mo_am", "Amiodarone without thyroid function in 6 months",
        "People on amiodarone (issued 7 to 12 months ago and in the last 6 months) without a "
        "thyroid function test in the last 6 months.",
        "PINCER MO_P18; pincer-measures indicator am",
        population=(_on_long_term(AMIODARONE, "amiodarone", 6, 12),),
        flag=(NotRecorded((THYROID_FUNCTION,), Window(6), "thyroid function test"),),
        reason="On amiodarone without a thyroid function test in the last 6 months",
    ),
)  # fmt: skip

PACK = Pack(
    "pincer",
    "PINCER prescribing safety",
    (Purpose.SAFETY_MONITORING,),
    INDICATORS,
    "Avery et al., Lancet 2012; national PINCER programme; OpenSAFELY pincer-measures",
)
