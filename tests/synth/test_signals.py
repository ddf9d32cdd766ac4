"""The indicator signals the region writes carry the codes the lists they stand for hold."""

from __future__ import annotations

import pandas as pd

from openphm import reference
from openphm.synth import CODELISTS
from openphm.synth.codes import MEDICINES, REGION_LISTS, SIGNAL_MEDICINES, SIGNAL_TESTS


def _codes(name: str) -> set[str]:
    frame = reference.codelist(name)
    return set(frame["code" if "code" in frame else "id"])


def test_each_signal_medicine_and_test_is_in_the_pincer_list_it_stands_for():
    for code, term, listed in (*SIGNAL_MEDICINES.values(), *SIGNAL_TESTS.values()):
        frame = reference.codelist(listed)
        terms = dict(zip(frame["code" if "code" in frame else "id"], frame["term"], strict=True))
        assert terms.get(code) == term, (code, term, listed)


def test_the_condition_medicines_are_the_ids_the_pincer_lists_give_them():
    expected = {
        "atrial_fibrillation": "pincer-anticoag", "stroke_tia": "pincer-non_asp_antiplate",
        "pad": "pincer-non_asp_antiplate", "rheumatoid_arthritis": "pincer-met",
        "ckd": "pincer-acei",
    }  # fmt: skip
    for condition, listed in expected.items():
        assert MEDICINES[condition][0] in _codes(listed), condition
    everything = set().union(*(_codes(n) for n in reference.codelist_names()
                               if n.startswith("pincer-")))  # fmt: skip
    assert MEDICINES["hypertension"][0] not in everything  # amlodipine is no PINCER drug


def test_the_region_lists_hold_the_codes_the_region_writes():
    for name, (code, _) in REGION_LISTS.items():
        frame = pd.read_csv(CODELISTS / f"{name}.csv", dtype=str)
        assert list(frame["code"]) == [code], name
    assert {p.stem for p in CODELISTS.glob("*.csv")} == set(REGION_LISTS)
