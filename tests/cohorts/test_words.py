"""What a practice reads on a cohort list: every label the code can put on one has words
(cohorts.words), and a list and its description give words, never internal names."""

from __future__ import annotations

import datetime as dt
import json
import re
import typing

import pandas as pd
import pytest

from openphm import clock
from openphm.analytics import REGISTERS, SEGMENTS
from openphm.cohorts.build import BuiltCohort, _reasons, list_rows, write_lists
from openphm.cohorts.definition import CRITERIA, INDICATOR_NAMES, CohortDefinition
from openphm.cohorts.words import (
    CRITERION_WORDS,
    FRAILTY_WORDS,
    IMD_QUINTILE_WORDS,
    INDICATOR_WORDS,
    PERSON_WORDS,
    PURPOSE_WORDS,
    REGISTER_WORDS,
    SEGMENT_WORDS,
    SEX_WORDS,
    date_words,
    lower_first,
    practice_words,
)
from openphm.programme.config import Purpose, load_config
from openphm.risk.features import LABELS

# An internal name: lower-case words joined by underscores (limited_reserve, reg_copd).
INTERNAL = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")


def _choices(field: str) -> set:
    """The values a definition's field accepts (its Literal's arguments)."""
    annotation = CohortDefinition.model_fields[field].annotation
    literal = typing.get_args(typing.get_args(annotation)[0])[0]
    return set(typing.get_args(literal))


def test_every_label_the_code_can_produce_has_words():
    assert set(SEGMENT_WORDS) == {s.name for s in SEGMENTS}
    assert set(REGISTER_WORDS) == {r.name for r in REGISTERS}
    assert set(INDICATOR_WORDS) == set(INDICATOR_NAMES)
    assert set(PURPOSE_WORDS) == set(Purpose)
    assert set(FRAILTY_WORDS) == _choices("efi_categories")
    assert set(SEX_WORDS) == _choices("sex")
    assert set(IMD_QUINTILE_WORDS) == _choices("imd_quintiles")
    assert set(CRITERION_WORDS) == set(CRITERIA) == set(PERSON_WORDS)
    words = [
        *SEGMENT_WORDS.values(), *REGISTER_WORDS.values(), *INDICATOR_WORDS.values(),
        *PURPOSE_WORDS.values(), *FRAILTY_WORDS.values(), *SEX_WORDS.values(),
        *IMD_QUINTILE_WORDS.values(), *LABELS.values(),
    ]  # fmt: skip
    assert all(w.strip() for w in words)
    assert not [w for w in words if INTERNAL.search(w)]


def test_dates_are_written_as_people_write_them():
    assert date_words(dt.date(2026, 12, 6)) == "6 December 2026"
    assert date_words("2026-11-20T09:00:00+00:00") == "20 November 2026"


def _everything() -> CohortDefinition:
    """A definition with every criterion, matched by any."""
    return CohortDefinition(
        name="everything", description="Every criterion", purpose="prevention", match="any",
        min_age=65, max_age=90, sex=("F",), min_ltc=2, registers=("heart_failure", "copd"),
        min_emergency_admissions_12m=1, min_ec_attendances_12m=1, imd_quintiles=(1, 2),
        segments=("limited_reserve", "frailty"), efi_categories=("moderate", "severe"),
        practices=("Y10001",), min_risk=0.2, top_risk_percent=5, rising_risk_top_percent=10,
        indicators=("pincer_gi_a",),
    )  # fmt: skip


def _members(definition: CohortDefinition) -> pd.DataFrame:
    """Two people meeting every criterion, with their own counts and categories."""
    met = {f"met_{k}": [True, True] for k in definition.criteria()}
    return pd.DataFrame(
        {
            "pseudonym": ["a" * 64, "b" * 64],
            "token": ["tok-a", "tok-b"],
            "practice": ["Y10001", "Y10001"],
            "risk": [0.31, 0.27],
            "risk_percentile": [99.5, 96.0],
            "sex": ["F", "F"],
            "imd_quintile": [1, 2],
            "segment": ["limited_reserve", "frailty"],
            "ltc_count": [4, 2],
            "emergency_admissions": [2, 1],
            "ec_attendances": [3, 1],
            "efi_category": ["moderate", "severe"],
            "reg_heart_failure": [True, False],
            "reg_copd": [True, True],
            "driver_1": [LABELS["reg_copd"], LABELS["age"]],
            "driver_2": [LABELS["emergency_admissions_12m"], None],
            "driver_3": [None, None],
            **met,
        }
    )


def test_each_person_s_reasons_are_their_own_in_words():
    definition = _everything()
    members = _members(definition)
    flagged = {"a" * 64: "Aged 65 or over, issued an oral NSAID (due 1 September 2026)"}
    first, second = _reasons(members, definition, flagged)
    for text in (first, second):
        assert not INTERNAL.search(text), text
    assert "frailty: moderate" in first and "frailty: severe" in second
    assert "2 emergency admissions in 12 months" in first
    assert "1 emergency admission in 12 months" in second
    assert "4 long-term conditions" in first
    assert "3 A&E attendances in 12 months" in first
    assert "on the register for heart failure and COPD" in first
    assert "on the register for COPD" in second and "heart failure" not in second
    assert "population segment: limited reserve and exacerbations" in first
    assert "the most deprived fifth of areas in England" in first
    assert "aged 65 or over" in first  # the criterion's age, never the person's own
    assert flagged["a" * 64] in first
    # Without the person's own indicator reason, the indicator's title stands in.
    assert f"flagged by any of: {lower_first(INDICATOR_WORDS['pincer_gi_a'])}" in second


def test_a_list_and_its_description_are_in_words(tmp_path, example_config):
    config = load_config(example_config)
    definition = _everything()
    members = _members(definition)
    members["reasons"] = _reasons(members, definition)
    built = BuiltCohort(definition, members, dt.date(2026, 10, 31), dt.date(2026, 10, 31), 0)
    with clock.frozen_at("2026-12-06T09:30:00"):
        paths = write_lists(tmp_path, built, config)
    listed = pd.read_csv(paths["Y10001"], dtype=str, keep_default_na=False)
    assert list(listed["segment"]) == ["Limited reserve and exacerbations", "Frailty"]
    assert listed["main_drivers"].iloc[0] == "COPD register; emergency admissions, last 12 months"
    for cell in listed.drop(columns="token").to_numpy().ravel():
        assert not INTERNAL.search(cell), cell
    about = json.loads(paths["Y10001"].with_suffix(".json").read_text())
    assert about["practice_name"] == "Riverside Surgery"
    assert practice_words(config, "Y10001") == "Riverside Surgery (Y10001)"
    assert practice_words(config, "Z99999") == "Z99999"
    assert (about["people"], about["made"][:10], about["data_as_at"]) == (
        2, "2026-12-06", "2026-10-31"
    )  # fmt: skip
    assert about["purpose_words"] == PURPOSE_WORDS[Purpose.PREVENTION]
    assert about["criteria"][:3] == ["aged 65 or over", "aged 90 or under", "female"]
    assert "on the register for heart failure or COPD" in about["criteria"]
    assert not [c for c in about["criteria"] if INTERNAL.search(c)]
    assert "tok-a" not in json.dumps(about) and "a" * 64 not in json.dumps(about)


@pytest.mark.parametrize("column", ["segment", "main_drivers", "reasons"])
def test_list_rows_never_carry_an_internal_name(column):
    definition = _everything()
    members = _members(definition)
    members["reasons"] = _reasons(members, definition)
    assert not list_rows(members)[column].str.contains(INTERNAL).any()
