"""The exact pass before tracing: a record whose standardised name, date of birth and postcode
are exactly those of one person on the spine, and of no one else, is that person.

Reads records and the spine (identifiable, zone 1); writes nothing (returns pairs). Most records
without an NHS number are otherwise perfect: scoring them one by one with Splink only to confirm
what agreement on every identifier already says costs most of tracing's time at a million
people. Such a record would score far above the threshold anyway (every comparison at its
exact level: a Bayes factor of about 10^14 against a prior of one in the spine's size), so the
pass changes which records Splink scores, not who is matched. The standardisation is tracing's
own (`tracing.prepare`), and the rules are stricter than Splink's: every one of the four fields
present, no other spine person with the same four, sex not contradicting. Everything else goes
to `tracing.trace`.
"""

from __future__ import annotations

import pandas as pd

from openphm.identity.tracing import PAIR_COLUMNS, Prepared, prepared

KEY = ("given_name", "family_name", "date_of_birth", "postcode")


def exact_matches(
    records: pd.DataFrame | Prepared,
    spine: pd.DataFrame | Prepared,
    *,
    record_id: str = "record_id",
    spine_id: str = "spine_id",
) -> pd.DataFrame:
    """Pairs (record_id, spine_id, match_probability 1.0) for records with exactly one spine
    person agreeing on all of KEY and not disagreeing on sex."""
    left = prepared(records, record_id)
    right = prepared(spine, spine_id)
    left = left.dropna(subset=list(KEY))
    right = right.dropna(subset=list(KEY))
    unique = right[~right.duplicated(subset=list(KEY), keep=False)]
    pairs = left.merge(unique, on=list(KEY), suffixes=("_r", "_s"))
    agree = pairs["sex_r"].isna() | pairs["sex_s"].isna() | (pairs["sex_r"] == pairs["sex_s"])
    pairs = pairs[agree.astype(bool)]
    return pd.DataFrame(
        {
            PAIR_COLUMNS[0]: pairs["unique_id_r"].astype("string").to_numpy(),
            PAIR_COLUMNS[1]: pairs["unique_id_s"].astype("string").to_numpy(),
            PAIR_COLUMNS[2]: 1.0,
        }
    )
