"""k-anonymity for record-level recipient extracts: quasi-identifiers are generalised, step by
step, until every combination of them is shared by at least k people; people still in smaller
groups are suppressed. Pure functions on a person table; no keys, no files.

The ladder, from most to least detail: five-year age bands, IMD quintile and ethnic group;
then ten-year bands; then twenty-year bands; then ethnic group withheld; then IMD withheld. The
first level that suppresses at most `max_suppressed_share` of people is used, since each step
up the ladder costs every recipient detail while suppression costs a few people all of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from openphm.linked.population import band_of

QUASI_IDENTIFIERS = ("sex", "age_band", "ethnic_group", "imd_quintile")
ANY = "any"
LADDER = (
    {"age_years": 5},
    {"age_years": 10},
    {"age_years": 20},
    {"age_years": 20, "withhold": ("ethnic_group",)},
    {"age_years": 20, "withhold": ("ethnic_group", "imd_quintile")},
)


@dataclass(frozen=True)
class Anonymised:
    people: pd.DataFrame  # kept people, generalised quasi-identifiers
    level: int
    k: int
    suppressed: int
    smallest_group: int
    l_diversity: int | None  # distinct sensitive values in the least diverse group


def generalise(people: pd.DataFrame, level: int) -> pd.DataFrame:
    """`people` has sex, age (whole years), ethnic_group, imd_quintile."""
    step = LADDER[level]
    # Zone 3's one age band rule (openphm.linked.population), at the ladder's width.
    out = people.drop(columns=["age"]).assign(age_band=band_of(people["age"], step["age_years"]))
    for column in step.get("withhold", ()):
        out[column] = ANY
    out["imd_quintile"] = out["imd_quintile"].astype("string").fillna("unknown")
    out["ethnic_group"] = out["ethnic_group"].astype("string").fillna("Unknown")
    return out


def anonymise(
    people: pd.DataFrame,
    k: int,
    *,
    sensitive: str | None = None,
    max_suppressed_share: float = 0.01,
) -> Anonymised:
    """Generalise up the ladder until at most `max_suppressed_share` of people sit in groups
    smaller than k, then suppress those (at the top of the ladder, whatever remains)."""
    if k < 2:
        raise ValueError("k must be at least 2")
    for level in range(len(LADDER)):
        generalised = generalise(people, level)
        sizes = generalised.groupby(list(QUASI_IDENTIFIERS), dropna=False)["sex"].transform("size")
        small = sizes < k
        if small.mean() <= max_suppressed_share or level == len(LADDER) - 1:
            break
    kept = generalised[~small].reset_index(drop=True)
    groups = kept.groupby(list(QUASI_IDENTIFIERS), dropna=False)
    smallest = int(groups.size().min()) if len(kept) else 0
    diversity = (
        int(groups[sensitive].nunique(dropna=False).min()) if sensitive and len(kept) else None
    )
    return Anonymised(kept, level, k, int(small.sum()), smallest, diversity)
