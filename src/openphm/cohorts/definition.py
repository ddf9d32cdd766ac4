"""A cohort definition: a TOML file, validated, immutable, naming criteria from CRITERIA.

    name = "frail-high-risk"
    description = "Over-65s with two or more long-term conditions at high risk"
    purpose = "prevention"
    match = "all"            # a person must meet every criterion ("any": at least one)
    min_age = 65
    min_ltc = 2
    top_risk_percent = 5
    provider = "RX1"         # optional: the list goes to this hospital provider, not to
                             # practices, and holds only people seen there in the window

Each criterion is one entry of CRITERIA: the rule (a boolean over the person frame of `build`).
What a list says when a person meets it is in `cohorts.words` (CRITERION_WORDS, PERSON_WORDS).
Adding a criterion is adding an entry there, its words and a field here
(tests/cohorts/test_words.py fails until it has words).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openphm.analytics import REGISTERS, SEGMENTS
from openphm.errors import UserFacingError
from openphm.indicators.packs import PACKS
from openphm.programme.config import Purpose


class CohortDefinitionError(UserFacingError):
    """A definition file that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class Criterion:
    rule: Callable  # (person frame, value) -> boolean column


def _any_of(column: str):
    return lambda p, values: p[column].isin(list(values))


CRITERIA: dict[str, Criterion] = {
    "min_age": Criterion(lambda p, v: p.age >= v),
    "max_age": Criterion(lambda p, v: p.age <= v),
    "sex": Criterion(_any_of("sex")),
    "min_ltc": Criterion(lambda p, v: p.ltc_count >= v),
    "registers": Criterion(lambda p, v: _on_any_register(p, v)),
    "min_emergency_admissions_12m": Criterion(lambda p, v: p.emergency_admissions >= v),
    "min_ec_attendances_12m": Criterion(lambda p, v: p.ec_attendances >= v),
    "imd_quintiles": Criterion(_any_of("imd_quintile")),
    "segments": Criterion(_any_of("segment")),
    "efi_categories": Criterion(_any_of("efi_category")),
    "practices": Criterion(_any_of("practice")),
    "min_risk": Criterion(lambda p, v: p.risk >= v),
    "top_risk_percent": Criterion(lambda p, v: p.risk_percentile > 100 - v),
    "rising_risk_top_percent": Criterion(lambda p, v: p.rising_percentile > 100 - v),
    # A list gives each member's own reasons and due dates for these (cohorts.build).
    "indicators": Criterion(lambda p, v: _flagged_by_any(p, v)),
}


def _on_any_register(p, names):
    columns = [p[f"reg_{n}"] for n in names]
    out = columns[0]
    for column in columns[1:]:
        out = out | column
    return out


def _flagged_by_any(p, names):
    columns = [p[f"ind_{n}"] for n in names]
    out = columns[0]
    for column in columns[1:]:
        out = out | column
    return out


REGISTER_NAMES = tuple(r.name for r in REGISTERS)
INDICATOR_NAMES = tuple(i.name for pack in PACKS.values() for i in pack.indicators)
SEGMENT_NAMES = tuple(s.name for s in SEGMENTS)
Percent = Field(default=None, gt=0, le=100)


class CohortDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    description: str = ""
    purpose: Purpose
    match: Literal["all", "any"] = "all"
    min_age: int | None = Field(default=None, ge=0, le=120)
    max_age: int | None = Field(default=None, ge=0, le=120)
    sex: tuple[Literal["F", "M", "U"], ...] | None = None
    min_ltc: int | None = Field(default=None, ge=0)
    registers: tuple[str, ...] | None = None
    min_emergency_admissions_12m: int | None = Field(default=None, ge=0)
    min_ec_attendances_12m: int | None = Field(default=None, ge=0)
    imd_quintiles: tuple[Literal[1, 2, 3, 4, 5], ...] | None = None
    segments: tuple[str, ...] | None = None
    efi_categories: tuple[Literal["fit", "mild", "moderate", "severe"], ...] | None = None
    practices: tuple[str, ...] | None = None
    min_risk: float | None = Field(default=None, ge=0, le=1)
    top_risk_percent: float | None = Percent
    rising_risk_top_percent: float | None = Percent
    indicators: tuple[str, ...] | None = None
    # Not a criterion but who the list is for: a hospital provider's ODS code (one of the
    # programme's providers: cohorts.build checks) instead of each member's practice. Members
    # are then only people with activity at that provider in the analytics window.
    provider: str | None = Field(default=None, pattern=r"^[A-Z0-9]{3,6}$")

    @field_validator("registers")
    @classmethod
    def _known_registers(cls, v):
        unknown = sorted(set(v or ()) - set(REGISTER_NAMES))
        if unknown:
            raise ValueError(f"unknown register(s) {unknown}; registers: {list(REGISTER_NAMES)}")
        return v

    @field_validator("indicators")
    @classmethod
    def _known_indicators(cls, v):
        unknown = sorted(set(v or ()) - set(INDICATOR_NAMES))
        if unknown:
            raise ValueError(f"unknown indicator(s) {unknown}; indicators: {list(INDICATOR_NAMES)}")
        return v

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, v):
        unknown = sorted(set(v or ()) - set(SEGMENT_NAMES))
        if unknown:
            raise ValueError(f"unknown segment(s) {unknown}; segments: {list(SEGMENT_NAMES)}")
        return v

    def criteria(self) -> dict[str, object]:
        """The criteria set in this definition, in CRITERIA order."""
        return {k: getattr(self, k) for k in CRITERIA if getattr(self, k) is not None}


def load_definition(path: Path, purposes: tuple[str, ...] | None = None) -> CohortDefinition:
    """Read and check a definition; `purposes`, when given, are the programme's (P6)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise CohortDefinitionError(f"{path}: cannot read it as TOML ({err})") from None
    try:
        definition = CohortDefinition(**data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'file'}: {e['msg']}" for e in err.errors()
        )
        raise CohortDefinitionError(f"{path}: {problems}") from None
    if not definition.criteria():
        raise CohortDefinitionError(
            f"{path}: no criteria; name at least one of {', '.join(CRITERIA)}"
        )
    if purposes is not None and definition.purpose.value not in purposes:
        raise CohortDefinitionError(
            f"{path}: purpose {definition.purpose.value!r} is not one of this programme's "
            f"({', '.join(purposes)}); data may be used only for the purposes the privacy "
            "notice lists"
        )
    return definition
