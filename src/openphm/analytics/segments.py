"""Segmentation: the Bridges to Health segments (Lynn et al. 2007, as NHS England's
population segmentation uses them) and a plain long-term-condition count, for comparison.

Each rule is written once, in `RULES`, beside its `definitions.SEGMENTS` entry; a person takes
the first segment in SEGMENTS order whose rule holds, so everyone is in exactly one.
Reads the person frame of `build` (registers, scores, activity); `person_segments` is written
by `build`.
"""

from __future__ import annotations

import ibis

from openphm.analytics.definitions import (
    LTC_GROUPS,
    PREGNANCY_LISTS,
    PREGNANCY_MONTHS,
    SEGMENTS,
)
from openphm.analytics.zone import date_literal, months_before

# Each rule takes the person frame (one row per person: age, reg_<register>, ltc_count, efi,
# efi_disability, pregnant, emergency_admissions, ec_attendances) and returns a boolean column.
RULES = {
    "end_of_life": lambda p: p.reg_palliative_care,
    "frailty": lambda p: p.reg_dementia | ((p.age >= 65) & (p.efi_category.isin(
        ["moderate", "severe"]))),
    "limited_reserve": lambda p: (
        p.reg_heart_failure
        | p.reg_copd
        | (p.reg_ckd & (p.emergency_admissions >= 1))
        | ((p.emergency_admissions >= 2) & (p.ltc_count >= 1))
    ),
    "stable_serious_disability": lambda p: p.reg_learning_disability
    | ((p.age < 65) & p.efi_disability),
    "chronic_conditions": lambda p: p.ltc_count >= 1,
    "maternal_infant": lambda p: (p.age < 1) | p.pregnant,
    "acutely_ill": lambda p: (p.emergency_admissions >= 1) | (p.ec_attendances >= 1),
    "healthy": lambda p: ibis.literal(True),
}  # fmt: skip

assert [s.name for s in SEGMENTS] == list(RULES), "every segment needs one rule, in order"


def pregnant(gp_coded, reference_date):
    """(pseudonym, pregnant) for people with a pregnancy code recorded in the PREGNANCY_MONTHS up
    to the reference date (gp_coded holds only codes on or before it). The record's sex is not
    read: the code is the evidence, and a pregnant person may be recorded as male."""
    since = date_literal(months_before(reference_date, PREGNANCY_MONTHS))
    recent = gp_coded.filter(gp_coded.list.isin(PREGNANCY_LISTS), gp_coded.last_date >= since)
    return recent.select("pseudonym", pregnant=ibis.literal(True)).distinct()


def segment(person):
    """The Bridges to Health segment name, by precedence."""
    return ibis.cases(*[(RULES[s.name](person), s.name) for s in SEGMENTS[:-1]],
                      else_=SEGMENTS[-1].name)  # fmt: skip


def segment_order(person):
    """1 for the first segment in precedence order (end of life) … 8 for healthy."""
    return ibis.cases(*[(RULES[s.name](person), i) for i, s in enumerate(SEGMENTS[:-1], 1)],
                      else_=len(SEGMENTS))  # fmt: skip


def ltc_group(count):
    """0, 1, 2-3 or 4+ long-term conditions."""
    cases = [(count >= low, label) for label, low in reversed(LTC_GROUPS)]
    return ibis.cases(*cases, else_=LTC_GROUPS[0][0])


def person_segments(person):
    return person.select(
        "pseudonym",
        segment=segment(person),
        segment_order=segment_order(person).cast("int32"),
        ltc_group=ltc_group(person.ltc_count),
    )
