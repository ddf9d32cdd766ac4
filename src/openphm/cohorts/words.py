"""What a practice reads on a cohort list: every label the code can put on one, in words.

Defined once, here: a segment, register, frailty category, sex, deprivation fifth, purpose or
indicator is written on a list (and on the practice's page) only through these mappings, never
as its internal name (`limited_reserve`, `reg_copd`). `tests/cohorts/test_words.py` checks that
every name the code can produce has words here, so a new segment or register without words
fails a test rather than reaching a practice as a label.

Reads nothing; the cohort builder (`cohorts.build`) and the practice's pages (`web.practice`)
call it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from openphm.analytics import REGISTERS, SEGMENTS
from openphm.indicators.packs import PACKS
from openphm.programme.config import Purpose

SEGMENT_WORDS: dict[str, str] = {s.name: s.label for s in SEGMENTS}
REGISTER_WORDS: dict[str, str] = {r.name: r.label for r in REGISTERS}
INDICATOR_WORDS: dict[str, str] = {
    i.name: i.title for pack in PACKS.values() for i in pack.indicators
}
# The electronic Frailty Index's categories (analytics.scores).
FRAILTY_WORDS = {"fit": "fit", "mild": "mild", "moderate": "moderate", "severe": "severe"}
SEX_WORDS = {"F": "female", "M": "male", "U": "sex not recorded"}
IMD_QUINTILE_WORDS = {
    1: "the most deprived fifth of areas in England",
    2: "the second most deprived fifth of areas in England",
    3: "the middle fifth of areas in England for deprivation",
    4: "the second least deprived fifth of areas in England",
    5: "the least deprived fifth of areas in England",
}
# What a practice did for a person on its list (cohorts.outcomes.OUTCOMES).
OUTCOME_WORDS = {
    "contacted": "contacted",
    "offered": "offered a service",
    "accepted": "accepted",
    "declined": "declined",
    "not_appropriate": "not appropriate",
    "moved_or_died": "moved away or died",
}
PURPOSE_WORDS: dict[Purpose, str] = {
    Purpose.PREVENTION: "Prevention: offering care early, before people become more unwell",
    Purpose.QUALITY_IMPROVEMENT: "Quality improvement: closing gaps in recommended care",
    Purpose.SAFETY_MONITORING: "Safety monitoring: reviewing potentially hazardous prescribing "
    "and missing monitoring",
    Purpose.SERVICE_PLANNING: "Service planning: planning services for groups of people",
    Purpose.RESEARCH: "Research approved for this programme",
}


def lower_first(label: str) -> str:
    """ "Heart failure" -> "heart failure"; "COPD" stays "COPD"."""
    if len(label) > 1 and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def date_words(value: dt.date | dt.datetime | str) -> str:
    """6 December 2026: a date as people write it, never an ISO timestamp."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value.day} {value:%B %Y}"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _joined(items: list[str], last: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def _percent(value: float) -> str:
    return f"{value:g}%"


def _registers(names, last: str = "or") -> str:
    return "on the register for " + _joined([lower_first(REGISTER_WORDS[n]) for n in names], last)


# What each criterion means, in words, for the list's heading: (definition's value) -> text.
CRITERION_WORDS = {
    "min_age": lambda v: f"aged {v} or over",
    "max_age": lambda v: f"aged {v} or under",
    "sex": lambda v: _joined([SEX_WORDS[s] for s in v], "or"),
    "min_ltc": lambda v: f"{v} or more long-term conditions",
    "registers": _registers,
    "min_emergency_admissions_12m": lambda v: f"{v} or more emergency admissions in 12 months",
    "min_ec_attendances_12m": lambda v: f"{v} or more A&E attendances in 12 months",
    "imd_quintiles": lambda v: (
        "living in "
        + _joined([IMD_QUINTILE_WORDS[q] for q in v], "or")
        + f" (IMD quintile {_joined([str(q) for q in v], 'or')})"
    ),
    "segments": lambda v: (
        "population segment: " + _joined([lower_first(SEGMENT_WORDS[s]) for s in v], "or")
    ),
    "efi_categories": lambda v: "frailty: " + _joined([FRAILTY_WORDS[c] for c in v], "or"),
    "practices": lambda v: "registered at " + _joined(list(v), "or"),
    "min_risk": lambda v: (
        f"a risk of emergency admission in the next 12 months of {_percent(v * 100)} or more"
    ),
    "top_risk_percent": lambda v: (
        f"in the top {_percent(v)} for risk of emergency admission in the next 12 months"
    ),
    "rising_risk_top_percent": lambda v: (
        f"in the top {_percent(v)} for a rise in that risk since the last refresh"
    ),
    "indicators": lambda v: (
        "flagged by any of: " + "; ".join(lower_first(INDICATOR_WORDS[i]) for i in v)
    ),
}


def criteria_words(criteria: Mapping[str, object]) -> list[str]:
    """A definition's criteria in words, one line each, in definition order (the caller says
    whether people meet all or any of them)."""
    return [CRITERION_WORDS[k](v) for k, v in criteria.items()]


# Why one person is on the list: (definition's value, the person's row) -> text. Counts are the
# person's own ("2 emergency admissions in 12 months"); an age is the criterion's, since a
# list's exact ages would help anyone holding the list without the key to single people out.
# The columns of a member's row PERSON_WORDS reads, besides reg_<register> and
# ind_<indicator> (`build._reasons` hands it only these; one more read here must be added).
PERSON_COLUMNS = frozenset({
    "pseudonym", "sex", "ltc_count", "emergency_admissions", "ec_attendances",
    "imd_quintile", "segment", "efi_category", "practice",
})  # fmt: skip
PERSON_WORDS = {
    "min_age": lambda v, p: CRITERION_WORDS["min_age"](v),
    "max_age": lambda v, p: CRITERION_WORDS["max_age"](v),
    "sex": lambda v, p: SEX_WORDS[p["sex"]],
    "min_ltc": lambda v, p: plural(int(p["ltc_count"]), "long-term condition"),
    "registers": lambda v, p: _registers([r for r in v if p[f"reg_{r}"]], "and"),
    "min_emergency_admissions_12m": lambda v, p: (
        plural(int(p["emergency_admissions"]), "emergency admission") + " in 12 months"
    ),
    "min_ec_attendances_12m": lambda v, p: (
        plural(int(p["ec_attendances"]), "A&E attendance") + " in 12 months"
    ),
    "imd_quintiles": lambda v, p: CRITERION_WORDS["imd_quintiles"]((int(p["imd_quintile"]),)),
    "segments": lambda v, p: CRITERION_WORDS["segments"]((p["segment"],)),
    "efi_categories": lambda v, p: f"frailty: {FRAILTY_WORDS[p['efi_category']]}",
    "practices": lambda v, p: f"registered at {p['practice']}",
    "min_risk": lambda v, p: CRITERION_WORDS["min_risk"](v),
    "top_risk_percent": lambda v, p: CRITERION_WORDS["top_risk_percent"](v),
    "rising_risk_top_percent": lambda v, p: CRITERION_WORDS["rising_risk_top_percent"](v),
    "indicators": lambda v, p: CRITERION_WORDS["indicators"](
        tuple(i for i in v if p.get(f"ind_{i}", True))
    ),
}


def practice_name(config, ods: str) -> str:
    """The practice's name as programme.toml gives it (its GP source's `name`), or ""."""
    source = config.source_for("gp", ods)
    return source.name if source is not None else ""


def practice_words(config, ods: str) -> str:
    """ "Riverside Surgery (P18032)", or the ODS code alone when programme.toml names none."""
    name = practice_name(config, ods)
    return f"{name} ({ods})" if name else ods


def organisation_name(config, ods: str) -> str:
    """The name of whoever receives a list: a practice's, else a hospital provider's (the
    `name` of its sources in programme.toml), else ""."""
    return practice_name(config, ods) or config.provider_name(ods)
