"""Recipient extracts are k-anonymous: every combination of quasi-identifiers is shared by at
least k people, by generalising first and suppressing the few that remain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openphm.disclosure.kanonymity import QUASI_IDENTIFIERS, anonymise, generalise


def people(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "pseudonym": [f"p{i}" for i in range(n)],
            "sex": rng.choice(["F", "M"], n),
            "age": rng.integers(0, 100, n),
            "ethnic_group": rng.choice(
                ["White", "Asian", "Black", "Mixed", "Other"], n, p=[0.8, 0.1, 0.05, 0.03, 0.02]
            ),
            "imd_quintile": rng.integers(1, 6, n),
            "segment": rng.choice(["healthy", "chronic", "frailty"], n),
        }
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(20, 600), st.integers(2, 10), st.integers(0, 1000))
def test_every_published_combination_is_shared_by_at_least_k_people(n, k, seed):
    result = anonymise(people(n, seed), k, sensitive="segment")
    if len(result.people):
        sizes = result.people.groupby(list(QUASI_IDENTIFIERS)).size()
        assert sizes.min() >= k
        assert result.smallest_group == sizes.min()
    assert len(result.people) + result.suppressed == n


def test_a_large_population_keeps_detail_and_suppresses_little():
    result = anonymise(people(20_000), 5, sensitive="segment")
    # Ethnic group and IMD quintile are kept (levels 0-2 generalise age only), and no more
    # than 1% of people are suppressed.
    assert result.level <= 2
    assert result.suppressed <= 200
    assert result.l_diversity is not None and result.l_diversity >= 1


def test_a_small_population_is_generalised_up_the_ladder():
    result = anonymise(people(300), 5)
    assert result.level > 0


def test_the_oldest_are_one_band_and_withheld_fields_say_any():
    frame = people(10).assign(age=[95, 91, 90, 89, 0, 4, 5, 50, 64, 65])
    assert generalise(frame, 0)["age_band"].tolist()[:6] == [
        "90+", "90+", "90+", "85-89", "0-4", "0-4"
    ]  # fmt: skip
    assert set(generalise(frame, 4)["imd_quintile"]) == {"any"}


def test_k_below_two_is_refused():
    with pytest.raises(ValueError):
        anonymise(people(10), 1)
