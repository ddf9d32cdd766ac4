"""Nothing published identifies anyone (P10): small counts redacted, others rounded to 5,
totals from the true counts, no redacted cell recoverable by subtraction, rates from published
counts. tests/disclosure/test_arithmetic.py checks the last against a reader's linear
programming."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openphm.disclosure import (
    DisclosureError,
    DisclosureRules,
    control_counts,
    control_table,
)
from openphm.disclosure.tables import TOTAL


def test_counts_from_one_to_seven_are_redacted_and_zero_is_not():
    published = control_counts(pd.Series([0, 1, 7, 8, 12, 13, 17, 18, 102]))
    assert published.tolist() == [0, pd.NA, pd.NA, 10, 10, 15, 15, 20, 100]


def test_halves_round_up_to_the_next_multiple_of_five():
    rules = DisclosureRules()
    assert [rules.round(n) for n in (10, 12, 13, 22, 23, 25)] == [10, 10, 15, 20, 25, 25]


def test_looser_rules_need_a_recorded_reason():
    with pytest.raises(DisclosureError, match="reason"):
        DisclosureRules(threshold=5)
    with pytest.raises(DisclosureError, match="reason"):
        DisclosureRules(multiple=1)
    relaxed = DisclosureRules.relaxed(5, 5, "output checker approved, ticket 42")
    assert relaxed.publish(6) == 5
    assert DisclosureRules(threshold=10, multiple=10).publish(9) is None


def test_a_lone_redacted_cell_gets_a_partner_in_its_row_and_column():
    cells = pd.DataFrame(
        {
            "practice": ["A", "A", "B", "B", "C", "C"],
            "sex": ["M", "F"] * 3,
            "n": [3, 40, 52, 61, 100, 8],
        }
    )
    result = control_table(cells, groups=["practice", "sex"], counts=["n"], totals_over=["sex"])
    table = result.table
    body = table[table["sex"] != TOTAL]
    assert body["n"].isna().tolist() == [True, True, False, False, False, False]
    assert (result.primary_redactions, result.secondary_redactions) == (1, 1)
    totals = table[table["sex"] == TOTAL].set_index("practice")["n"]
    # Totals are the true totals rounded: A = 43, B = 113, C = 108.
    assert totals.to_dict() == {"A": 45, "B": 115, "C": 110}


def test_a_small_total_is_itself_redacted():
    cells = pd.DataFrame({"ward": ["x", "y"], "n": [0, 2]})
    table = control_table(cells, groups=["ward"], counts=["n"], totals_over=["ward"]).table
    assert table.loc[table["ward"] == TOTAL, "n"].isna().all()


def test_rates_with_a_redacted_part_are_redacted_and_others_use_published_counts():
    cells = pd.DataFrame({"band": ["young", "old"], "deaths": [3, 48], "people": [1000, 998]})
    table = control_table(
        cells,
        groups=["band"],
        counts=["deaths", "people"],
        rates={"per_1000": ("deaths", "people")},
        per=1000,
    ).table.set_index("band")
    assert pd.isna(table.loc["young", "per_1000"])
    assert table.loc["old", "per_1000"] == pytest.approx(50 / 1000 * 1000)


tables_2d = st.integers(2, 5).flatmap(
    lambda rows: st.integers(2, 4).flatmap(
        lambda cols: st.lists(
            st.integers(0, 60) | st.integers(1, 7), min_size=rows * cols, max_size=rows * cols
        ).map(
            lambda counts: pd.DataFrame(
                {
                    "row": [f"r{i // cols}" for i in range(rows * cols)],
                    "col": [f"c{i % cols}" for i in range(rows * cols)],
                    "n": counts,
                }
            )
        )
    )
)


@settings(max_examples=150, deadline=None)
@given(tables_2d)
def test_no_published_count_is_between_one_and_seven_and_all_are_multiples_of_five(cells):
    table = control_table(
        cells, groups=["row", "col"], counts=["n"], totals_over=["row", "col"]
    ).table
    published = table["n"].dropna().astype(int)
    assert not published.between(1, 7).any()
    assert (published % 5 == 0).all()


@settings(max_examples=150, deadline=None)
@given(tables_2d)
def test_no_redacted_cell_can_be_recovered_from_the_tables_own_totals(cells):
    table = control_table(
        cells, groups=["row", "col"], counts=["n"], totals_over=["row", "col"]
    ).table
    body = table[(table["row"] != TOTAL) & (table["col"] != TOTAL)]
    for over, keep in (("col", "row"), ("row", "col")):
        published_totals = table[(table[over] == TOTAL) & (table[keep] != TOTAL)]
        for _, total in published_totals.iterrows():
            if pd.isna(total["n"]):
                continue
            group = body[body[keep] == total[keep]]
            # One hidden cell beside a published total could be found by subtraction.
            assert group["n"].isna().sum() != 1


@settings(max_examples=150, deadline=None)
@given(tables_2d)
def test_no_hidden_total_can_be_recovered_from_the_grand_total(cells):
    table = control_table(
        cells, groups=["row", "col"], counts=["n"], totals_over=["row", "col"]
    ).table
    grand = table[(table["row"] == TOTAL) & (table["col"] == TOTAL)]["n"]
    if grand.isna().all():
        return
    for over, keep in (("col", "row"), ("row", "col")):
        margin = table[(table[over] == TOTAL) & (table[keep] != TOTAL)]["n"]
        assert margin.isna().sum() != 1


@settings(max_examples=100, deadline=None)
@given(tables_2d)
def test_totals_are_the_true_totals_rounded_or_redacted_like_any_cell(cells):
    rules = DisclosureRules()
    table = control_table(cells, groups=["row", "col"], counts=["n"], totals_over=["col"]).table
    totals = table[table["col"] == TOTAL].set_index("row")["n"]
    true = cells.groupby("row")["n"].sum()
    for row, total in totals.items():
        if pd.isna(total):
            continue
        assert not rules.is_redacted(true[row])
        assert total == rules.round(true[row])
