"""The care-gap, case-finding and hospital-use lists OpenPHM ships hold what they claim, read
from the lists' own terms (as published, not written here): every blood pressure code is named
systolic or diastolic, every HbA1c code haemoglobin A1c, every statin product a statin (by its
name, or a brand by the BNF chemical its generics share), every ACSC code a category of the
condition group it is filed under. And every list an indicator reads is shipped, with its
provenance, so `phm indicators` needs no --codelists."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from openphm import indicators, reference

INDICATOR_LISTS = ("bp-systolic", "bp-diastolic", "hba1c", "urine-acr", "statins-dmd",
                   "statins-dmd-recent", "ndh", "ndpp-referral", "icd10-acsc-chronic")  # fmt: skip
STATIN = re.compile(r"(?:atorva|simva|prava|rosuva|fluva)statin", re.IGNORECASE)


def terms(name: str) -> pd.Series:
    frame = reference.codelist(name)
    assert frame["code"].is_unique, name
    return frame.set_index("code")["term"].str.lower()


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("bp-systolic", ("systolic",)),
        ("bp-diastolic", ("diastolic",)),
        ("hba1c", ("haemoglobin a1c",)),
        ("urine-acr", ("albumin", "creatinine")),
        ("ndh", ("hyperglycemia",)),
        ("ndpp-referral", ("nhs diabetes prevention programme", "referral")),
    ],
)
def test_every_code_of_a_snomed_list_is_named_for_what_the_list_holds(name, words):
    named = terms(name)
    assert len(named) > 0
    wrong = [t for t in named if not all(w in t for w in words)]
    assert wrong == [], (name, wrong)


def test_no_blood_pressure_code_is_both_systolic_and_diastolic():
    assert not set(terms("bp-systolic").index) & set(terms("bp-diastolic").index)
    assert not terms("bp-systolic").str.contains("diastolic").any()
    assert not terms("bp-diastolic").str.contains("systolic").any()


@pytest.mark.parametrize("name", ["statins-dmd", "statins-dmd-recent"])
def test_every_statin_product_names_a_statin_or_shares_a_statin_generics_bnf_chemical(name):
    frame = reference.codelist(name)
    # BNF 2.12 (lipid-regulating drugs); the chemical is the first 9 characters.
    assert frame["bnf_code"].str.startswith("0212000").all(), name
    chemical = frame["bnf_code"].str[:9]
    named = frame["term"].str.contains(STATIN)
    statin_chemicals = set(chemical[named])
    # A brand (Lipitor, Crestor) or a re-identified VMP ("VMP subsequent to ...") names no
    # substance: its BNF chemical must be one whose generics are named for a statin.
    others = frame.loc[~named]
    assert set(others["bnf_code"].str[:9]) <= statin_chemicals, others.head()
    # And the five statins marketed in the UK are all there.
    found = {m.group(0).lower() for m in frame["term"].map(STATIN.search).dropna()}
    assert found == {"atorvastatin", "simvastatin", "pravastatin", "rosuvastatin", "fluvastatin"}
    assert named.mean() > 0.8


# NHS Outcomes Framework 2.3.i's chronic ACSC groups and the ICD-10 categories each lies in.
ACSC_GROUPS = {
    "angina": ("I20", "I24", "I25"),
    "asthma": ("J45", "J46"),
    "atrial fibrillation and flutter": ("I48",),
    "congestive heart failure": ("I11", "I50", "J81"),
    "convulsions and epilepsy": ("G25", "G40", "G41", "R56", "O15"),
    "chronic obstructive pulmonary disease": ("J41", "J42", "J43", "J44", "J47"),
    "dementia": ("F00", "F01", "F02", "F03"),
    "diabetes complications": ("E10", "E11", "E12", "E13", "E14"),
    "hypertension": ("I10", "I11"),
    "iron-deficiency anaemia": ("D50",),
    "nutritional deficiencies": ("E40", "E41", "E42", "E43", "E55", "E64"),
}


def test_every_acsc_code_lies_in_the_categories_of_its_condition_group():
    frame = reference.codelist("icd10-acsc-chronic")
    assert frame["code"].is_unique
    assert set(frame["condition"]) == set(ACSC_GROUPS)
    assert frame["code"].str.fullmatch(r"[A-Z][0-9]{2}[0-9]?").all()
    for row in frame.itertuples():
        assert row.code[:3] in ACSC_GROUPS[row.condition], row
    # Diabetes counts only with a complication (.0-.8), never .9 "without complications".
    diabetes = frame.loc[frame["condition"] == "diabetes complications", "code"]
    assert len(diabetes) == 45 and not diabetes.str.endswith("9").any()
    assert "diabetes" in " ".join(frame.loc[diabetes.index, "term"]).lower()
    # The terms say the condition: spot checks of the list's own words.
    named = dict(zip(frame["code"], frame["term"].str.lower(), strict=True))
    assert "angina" in named["I20"] and "asthma" in named["J45"]
    assert "heart failure" in named["I50"] and "epilep" in named["G40"]
    assert "dementia" in named["F03"] and "iron deficiency" in named["D509"]
    assert "hypertension" in named["I10"] and "atrial fibrillation" in named["I48"]


def test_every_list_an_indicator_reads_is_shipped_with_its_provenance():
    lists = {cl.name: cl for p in indicators.PACKS.values() for i in p.indicators
             for cl in i.codelists()}  # fmt: skip
    assert set(INDICATOR_LISTS) <= set(lists)
    shipped = set(reference.codelist_names())
    for name, cl in lists.items():
        assert cl.shipped and name in shipped, name
        assert "not shipped" not in cl.source, name
        assert len(reference.codelist(name)) > 0


def test_the_sources_file_names_every_indicator_list_with_its_row_count():
    from importlib import resources

    text = (
        resources.files("openphm.reference")
        .joinpath("codelists/INDICATOR_SOURCES.md")
        .read_text(encoding="utf-8")
    )
    for name in INDICATOR_LISTS:
        rows = len(reference.codelist(name))
        assert re.search(rf"\| {re.escape(name)}\.csv \|[^\n]*\| {rows} \|", text), name
