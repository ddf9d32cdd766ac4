"""Sums and costs (P10): a sum that one contributor dominates is hidden (the p% rule, on by
default), so is a sum of 1–7 contributors, and the cells hidden beside them stop either being
worked out to within p%. Every controlled table carries its rule set and each value's outcome."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from openphm.disclosure import DisclosureError, DisclosureRules, control_table, sum_cells
from openphm.disclosure.releases import request_release, save_draft
from openphm.programme.config import DisclosurePolicy

P = 0.10  # the documented default: p = 10%


def contributions(sizes: list[int], seed: int, planted: int | None = None) -> pd.DataFrame:
    """One row per person: practice and cost; at `planted`, one person holds 95% of the cost."""
    rng = np.random.default_rng(seed)
    rows = []
    for cell, size in enumerate(sizes):
        costs = rng.uniform(10, 2000, size).round(2)
        if cell == planted:
            costs[rng.integers(size)] = 0
            costs[costs == 0] = 19 * costs.sum()  # 19 / 20 of the cell: 95%
        rows += [{"practice": f"P{cell}", "cost": c} for c in costs]
    return pd.DataFrame(rows)


def hidden_sum_intervals(table: pd.DataFrame, column: str) -> dict[int, tuple[float, float]]:
    """A reader's bounds on each hidden sum of a one-way table (cells, then the total), by
    linear programming on the published sums, which are exact."""
    values = table[column].to_numpy(dtype=float, na_value=np.nan)
    hidden = np.isnan(values)
    equation = np.r_[-np.ones(len(values) - 1), 1.0]
    bounds = [(0, None) if h else (v, v) for h, v in zip(hidden, values, strict=True)]
    out = {}
    for i in np.flatnonzero(hidden):
        ends = []
        for sign in (1, -1):
            c = np.zeros(len(values))
            c[i] = sign
            found = linprog(c, A_eq=[equation], b_eq=[0], bounds=bounds)
            ends.append(np.inf if found.status == 3 else sign * found.fun)
        out[int(i)] = (ends[0], ends[1])
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(8, 40), min_size=2, max_size=6),
    st.integers(0, 2**32 - 1),
    st.data(),
)
def test_a_contributor_holding_95_percent_of_a_cost_cell_is_caught_every_time(sizes, seed, data):
    planted = data.draw(st.integers(0, len(sizes) - 1))
    rows = contributions(sizes, seed, planted)
    cells = sum_cells(rows, groups=["practice"], value="cost")
    result = control_table(cells, groups=["practice"], counts=[], sums=["cost"],
                           totals_over=["practice"])  # fmt: skip
    outcome = result.outcomes.set_index("practice")["outcome"]
    assert outcome[f"P{planted}"] == "suppressed-dominance"
    true = [*cells["cost"], cells["cost"].sum()]
    sensitive = result.outcomes["outcome"].isin(["suppressed-dominance", "suppressed-primary"])
    for i, (low, high) in hidden_sum_intervals(result.table, "cost").items():
        assert high - low > 1e-6
        if sensitive[i]:  # the reader cannot pin it to within p% either way
            assert low <= true[i] * (1 - P) + 1e-6 and high >= true[i] * (1 + P) - 1e-6


def test_the_p_percent_rule_by_hand():
    rules = DisclosureRules()
    assert rules.is_dominated(1000, 900, 50)  # the rest, 50, is under 10% of 900
    assert not rules.is_dominated(1000, 500, 300)  # the rest, 200, is 40% of 500
    assert rules.is_dominated(100, 100, 0)  # one contributor
    assert rules.is_dominated(200, 150, 50)  # two: each knows the other's exactly
    assert not rules.is_dominated(0, 0, 0)


def test_a_cost_table_specification():
    # P0: 10 people, one of them 9,000 of 10,000 (rest 500 < 10% of 9,000): dominance.
    # P1: 3 people, evenly: too few contributors. P2, P3: many people, evenly.
    rows = pd.DataFrame(
        [{"practice": "P0", "cost": c} for c in [9000, 500, *[500 / 8] * 8]]
        + [{"practice": "P1", "cost": c} for c in [300, 300, 300]]
        + [{"practice": "P2", "cost": c} for c in [100] * 50]
        + [{"practice": "P3", "cost": c} for c in [200] * 40]
    )
    cells = sum_cells(rows, groups=["practice"], value="cost")
    assert cells.set_index("practice").loc["P0"].tolist() == [10000, 10, 9000, 500]
    result = control_table(
        cells, groups=["practice"], counts=[], sums=["cost"], totals_over=["practice"]
    )
    shown = result.table.set_index("practice")["cost"]
    assert shown.isna().tolist() == [True, True, True, False, False]
    assert shown["Total"] == 23900 and shown["P3"] == 8000
    assert result.outcomes["outcome"].tolist() == [
        "suppressed-dominance",
        "suppressed-primary",
        "suppressed-secondary",  # P0 + P1 = 10,900 exactly: P2 (5,000) goes too
        "published",
        "published",
    ]
    assert (result.primary_redactions, result.dominance_redactions) == (1, 1)


def test_dominance_is_on_by_default_and_off_only_with_a_recorded_reason():
    assert DisclosureRules().dominance_p == 10
    with pytest.raises(DisclosureError, match="reason"):
        DisclosureRules(dominance_p=0)
    off = DisclosureRules.relaxed(7, 5, "DPO approved, ticket 7", dominance_p=0)
    assert not off.is_dominated(100, 100, 0)
    with pytest.raises(ValueError, match="reason"):
        DisclosurePolicy(dominance_p=5)


def test_a_sum_without_its_contributors_is_refused():
    cells = pd.DataFrame({"practice": ["P0", "P1"], "cost": [10.0, 20.0]})
    with pytest.raises(DisclosureError, match="sum_cells"):
        control_table(cells, groups=["practice"], counts=[], sums=["cost"])


def test_every_table_comes_with_its_rule_set_and_each_values_outcome():
    cells = pd.DataFrame({"ward": ["a", "b", "c", "d"], "n": [3, 12, 40, 51]})
    result = control_table(cells, groups=["ward"], counts=["n"], totals_over=["ward"])
    assert result.rules.describe() == {
        "name": "OpenPHM disclosure rules",
        "version": "2",
        "redact_up_to": 7,
        "round_to": 5,
        "dominance_p_percent": 10,
        "reason": "",
    }
    rules = result.outcomes.set_index("ward")["rule"]
    assert rules["a"] == "threshold: counts from 1 to 7 are redacted"
    assert rules["b"] == "secondary: hidden so that ward a cannot be worked out"
    assert rules["c"] == "" and rules["d"] == "rounded to the nearest 5"
    assert list(result.outcomes.columns) == ["ward", "column", "outcome", "rule"]


def test_a_cost_release_hides_the_dominated_cell_and_names_its_rules(workspace, analyst):
    rows = contributions([12, 20, 30], seed=3, planted=0)
    people = rows.groupby("practice").size().rename("people").reset_index()
    cells = sum_cells(rows, groups=["practice"], value="cost").merge(people, on="practice")
    con = workspace.connect_linked()
    save_draft(con, "cost", cells, groups=["practice"], counts=["people"], sums=["cost"],
               rates={"mean_cost": ("cost", "people")}, totals_over=["practice"],
               description="Cost of care per practice")  # fmt: skip
    con.close()
    manifest = request_release(workspace, analyst, ["cost"], purpose="prevention", title="cost")
    folder = workspace.zone("outputs") / "releases" / manifest["id"]
    table = pd.read_csv(folder / "cost.csv").set_index("practice")
    assert np.isnan(table.at["P0", "cost"]) and np.isnan(table.at["P0", "mean_cost"])
    assert table.at["P0", "people"] == 10  # the count of people is not what is dominated
    assert not any(c.endswith(("_contributors", "_largest", "_second")) for c in table.columns)
    saved = json.loads((folder / "manifest.json").read_text())
    assert saved["disclosure_rules"]["name"] == "OpenPHM disclosure rules"
    assert saved["disclosure_rules"]["dominance_p_percent"] == 10
    assert saved["contents"][0]["dominance_redactions"] == 1
