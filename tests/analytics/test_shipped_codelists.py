"""The code lists that fill the analytics' gaps, ehrQL style: one person per list with one code
from it, and the value expected for that person (a deficit counted, a condition scored, a
resolution taking someone off a register)."""

import datetime as dt

import pytest

from openphm import analytics, reference

from .linked import REFERENCE, person, population, zone_on

D = dt.date

# The eFI's own lists (gm-sde's reproduction of Clegg 2016) now shipped for every deficit.
EFI_LISTS = {
    "arthritis": "efi-arthritis",
    "atrial_fibrillation": "efi-atrial-fibrillation",
    "cerebrovascular_disease": "efi-stroke-tia",
    "chronic_kidney_disease": "efi-ckd",
    "diabetes": "efi-diabetes",
    "hearing_impairment": "efi-hearing-impairment",
    "heart_failure": "efi-heart-failure",
    "heart_valve_disease": "efi-heart-valve-disease",
    "hypertension": "efi-hypertension",
    "ischaemic_heart_disease": "efi-chd",
    "osteoporosis": "efi-osteoporosis",
    "peptic_ulcer": "efi-peptic-ulcer",
    "peripheral_vascular_disease": "efi-pvd",
    "respiratory_disease": "efi-respiratory-disease",
    "thyroid_disease": "efi-thyroid-disease",
    "urinary_system_disease": "efi-urinary-system-disease",
}
# register: (diagnosis cluster, resolved cluster)
RESOLVED = {
    "hypertension": ("qof-hyp", "qof-hypres"),
    "diabetes": ("qof-dm", "qof-dmres"),
    "copd": ("qof-copd", "qof-copdres"),
    "heart_failure": ("qof-hf", "qof-hfres"),
    "depression": ("qof-depr", "qof-depres"),
    "epilepsy": ("qof-epil", "qof-epilres"),
}
# CMS condition: (list, weight)
CMS_LISTS = {
    "alcohol_problems": ("cms-alcohol-problems", 0.65),
    "irritable_bowel_syndrome": ("cms-irritable-bowel-syndrome", 0.21),
    "connective_tissue_disorder": ("cms-connective-tissue", 0.43),
    "hearing_loss": ("cms-hearing-loss", 0.09),
    "anxiety_depression": ("cms-anxiety", 0.50),
}


def codes(name: str) -> set[str]:
    return set(reference.codelist(name).code)


def lists_of_other_deficits(deficit: str) -> set[str]:
    return {n for d in analytics.EFI_DEFICITS if d.name != deficit for n in d.gp}


def only_code(name: str, others: set[str]) -> str:
    """The first code of `name` that none of the `others` lists has, so that a person with it
    has exactly one deficit or condition."""
    shipped = set(reference.codelist_names())
    taken = set().union(*(codes(o) for o in others if o in shipped))
    return next(c for c in reference.codelist(name).code if c not in taken)


def event(pseudonym: str, code: str, day: dt.date = D(2024, 1, 1)) -> dict:
    return {"pseudonym": pseudonym, "event_date": day, "snomed_code": code}


def efi_person(deficit: str) -> tuple[str, list[dict]]:
    name = f"efi_{deficit}"
    return name, [event(name, only_code(EFI_LISTS[deficit], lists_of_other_deficits(deficit)))]


def resolved_people(register: str) -> list[tuple[str, list[dict], bool]]:
    """(pseudonym, events, expected on the register) for a resolution after and before the
    latest diagnosis."""
    dx, res = RESOLVED[register]
    others = {r for r, _ in RESOLVED.values() if r != dx} | {r for _, r in RESOLVED.values()}
    dx_code, res_code = only_code(dx, others), reference.codelist(res).code.iloc[0]
    off, on = f"{register}_resolved", f"{register}_rediagnosed"
    return [
        (off, [event(off, dx_code, D(2020, 1, 1)), event(off, res_code, D(2022, 1, 1))], False),
        (on, [event(on, res_code, D(2020, 1, 1)), event(on, dx_code, D(2022, 1, 1))], True),
    ]


def cms_person(condition: str) -> tuple[str, list[dict]]:
    name = f"cms_{condition}"
    others = {n for c in analytics.CMS_CONDITIONS if c.name != condition for n in c.gp}
    return name, [event(name, only_code(CMS_LISTS[condition][0], others))]


@pytest.fixture(scope="module")
def built(engine, tmp_path_factory):
    rows = [efi_person(d) for d in EFI_LISTS] + [cms_person(c) for c in CMS_LISTS]
    rows += [(p, e) for r in RESOLVED for p, e, _ in resolved_people(r)]
    every = [event("every_deficit", e["snomed_code"]) for _, (e,) in rows[: len(EFI_LISTS)]]
    rows.append(("every_deficit", every))
    # A CKD stage 1-2 code alone: not on the CKD register, and no kidney deficit either.
    stage2 = only_code("qof-ckd1and2", {"qof-ckd", "efi-ckd"})
    rows.append(("ckd_stage2_only", [event("ckd_stage2_only", stage2)]))
    zone = zone_on(engine, tmp_path_factory.mktemp("shipped"),
                   **population(*[person(p, age=70) for p, _ in rows]),
                   gp_events=[e for _, events in rows for e in events])  # fmt: skip
    summary = zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10, groupings=()))  # fmt: skip
    scores = zone.sql("SELECT * FROM linked.person_scores").df().set_index("pseudonym")
    registers = set(zone.sql("SELECT pseudonym, register FROM linked.person_registers").fetchall())
    return summary, scores, registers


@pytest.mark.parametrize("deficit", sorted(EFI_LISTS))
def test_a_code_from_each_new_efi_list_counts_its_deficit(built, deficit):
    _, scores, _ = built
    assert scores.loc[f"efi_{deficit}", "efi_deficits"] == 1


def test_one_code_from_every_new_efi_list_counts_sixteen_deficits(built):
    _, scores, _ = built
    assert scores.loc["every_deficit", "efi_deficits"] == len(EFI_LISTS)
    assert scores.loc["every_deficit", "efi_category"] == "severe"  # 16/36 ≥ 0.36


@pytest.mark.parametrize("register", sorted(RESOLVED))
def test_a_resolved_code_after_the_diagnosis_takes_a_person_off_the_register(built, register):
    _, _, registers = built
    for pseudonym, _, expected in resolved_people(register):
        assert ((pseudonym, register) in registers) is expected, pseudonym


@pytest.mark.parametrize("condition", sorted(CMS_LISTS))
def test_a_code_from_each_new_cms_list_scores_its_weight(built, condition):
    _, scores, _ = built
    assert scores.loc[f"cms_{condition}", "cms"] == pytest.approx(CMS_LISTS[condition][1])


# The CMS prescription lists (dm+d), copied from opensafely/polypharmacy-deprescribing-dementia
# (terms omitted for the two large ones): code counts as published.
DMD_LISTS = {
    "cms-laxatives-dmd": None,
    "cms-anxiolytics-antidepressants-dmd": 2437,
    "cms-analgesics-dmd": 6269,
    "cms-antiepileptics-dmd": 2899,
}


def test_the_lists_filled_here_are_no_longer_reported_missing(built):
    summary, _, _ = built
    shipped = set(EFI_LISTS.values()) | {r for _, r in RESOLVED.values()}
    shipped |= {name for name, _ in CMS_LISTS.values()} | set(DMD_LISTS)
    assert not shipped & set(summary.missing_codelists)


def test_a_ckd_stage_1_or_2_code_alone_is_no_kidney_deficit(built):
    _, scores, registers = built
    assert scores.loc["ckd_stage2_only", "efi_deficits"] == 0
    assert ("ckd_stage2_only", "ckd") not in registers


def test_the_ckd_deficit_leaves_out_the_bare_diabetes_code():
    # gm-sde maps the eFI's "diabetes with nephropathy" Read codes to plain "Diabetes mellitus"
    # (73211009) as well; shipped, it would give every diabetic a kidney deficit.
    assert "73211009" not in codes("efi-ckd")
    assert "73211009" in codes("efi-diabetes")


_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
      [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
      [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
      [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
      [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]  # fmt: skip
_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
      [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
      [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
      [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]  # fmt: skip


def verhoeff_ok(code: str) -> bool:
    """The SNOMED CT identifier check digit, which dm+d identifiers share."""
    c = 0
    for i, digit in enumerate(reversed(code)):
        c = _D[c][_P[i % 8][int(digit)]]
    return c == 0


@pytest.mark.parametrize("name", sorted(DMD_LISTS))
def test_each_dmd_list_is_whole_digit_codes_with_valid_check_digits(name):
    listed = list(reference.codelist(name).code)
    assert listed and all(c.isdigit() and 6 <= len(c) <= 18 and verhoeff_ok(c) for c in listed)
    assert len(set(listed)) == len(listed)
    if DMD_LISTS[name] is not None:
        assert len(listed) == DMD_LISTS[name]
