"""Arithmetic cannot undo the disclosure rules (P10): a reader who knows how totals add up and
that published counts are rounded to 5 cannot work out any hidden cell, totals included, nor
narrow it to 1–7.

The reader here is written independently of openphm.disclosure: from the published table alone
it takes each published count as the whole numbers that round to it (and are not redacted), each
hidden cell as any count ≥ 0, and bounds each hidden cell by linear programming, or, for small
one-way tables, by trying every possible table. The criterion (rules.py, "Protection"): every
hidden cell could be more than 7 and is never one value, and a hidden cell of 7 or less could
also be 0."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from openphm.disclosure import control_table

TOTAL = "Total"
THRESHOLD, MULTIPLE = 7, 5


def could_be(published) -> tuple[int, int | None]:
    """What a reader knows of a cell from what is published: the counts it could hold."""
    if pd.isna(published):
        return 0, None
    value = int(published)
    assert value % MULTIPLE == 0 and not 1 <= value <= THRESHOLD
    if value == 0:  # 1 and 2 round to 0 but would have been redacted
        return 0, 0
    return value - MULTIPLE // 2, value + MULTIPLE // 2


def additions(table: pd.DataFrame, groups: list[str]) -> list[tuple[int, list[int]]]:
    """Each total row with the body rows it adds up, read from the labels alone."""
    body = [i for i, row in table.iterrows() if not (row[groups] == TOTAL).any()]
    out = []
    for i, row in table.iterrows():
        kept = [g for g in groups if row[g] != TOTAL]
        if len(kept) < len(groups):
            out.append((i, [b for b in body if all(table.at[b, g] == row[g] for g in kept)]))
    return out


def intervals_by_lp(table: pd.DataFrame, groups: list[str]) -> dict[int, tuple[float, float]]:
    """The least and most each hidden row could hold, by linear programming."""
    n = len(table)
    a_eq = []
    for total, members in additions(table, groups):
        row = np.zeros(n)
        row[total] = 1
        row[members] = -1
        a_eq.append(row)
    bounds = [could_be(v) for v in table["n"]]
    out = {}
    for i in np.flatnonzero(table["n"].isna().to_numpy()):
        ends = []
        for sign in (1, -1):
            c = np.zeros(n)
            c[i] = sign
            found = linprog(c, A_eq=np.array(a_eq) if a_eq else None,
                            b_eq=np.zeros(len(a_eq)) if a_eq else None, bounds=bounds)  # fmt: skip
            assert found.status in (0, 3), found.message
            ends.append(np.inf if found.status == 3 else sign * found.fun)
        out[int(i)] = (ends[0], ends[1])
    return out


def intervals_by_enumeration(table: pd.DataFrame, cap: int) -> dict[int, tuple[int, int]]:
    """A one-way table (cells, then its total): every table of whole numbers consistent with
    what is published, a hidden cell at most the total (or `cap`, which stands for no bound,
    when the total is hidden too)."""
    *cells, total = [could_be(v) for v in table["n"]]
    t_lo, t_hi = total[0], cap * len(cells) if total[1] is None else total[1]
    ranges = [np.arange(lo, (min(cap, t_hi) if hi is None else hi) + 1) for lo, hi in cells]
    grid = [g.ravel() for g in np.meshgrid(*ranges, indexing="ij")]
    sums = np.sum(grid, axis=0)
    possible = (sums >= t_lo) & (sums <= t_hi)
    out = {}
    for i in np.flatnonzero(table["n"].isna().to_numpy()):
        values = (sums if i == len(cells) else grid[i])[possible]
        out[int(i)] = (int(values.min()), int(values.max()))
    return out


def assert_protected(table, groups, truth, intervals):
    for i, (low, high) in intervals.items():
        where = ", ".join(str(table.at[i, g]) for g in groups)
        assert high >= THRESHOLD + 1 - 1e-6, f"{where}: hidden but at most {high:g}"
        assert high - low > 1e-6, f"{where}: hidden but worked out as {low:g}"
        if truth[i] <= THRESHOLD:
            assert low <= 1e-6, f"{where}: hidden small count shown to be at least {low:g}"


def true_values(cells: pd.DataFrame, table: pd.DataFrame, groups: list[str]) -> list[int]:
    """The true count of every row of the published table, totals summed here from the cells."""
    out = []
    for _, row in table.iterrows():
        kept = [g for g in groups if row[g] != TOTAL]
        match = np.logical_and.reduce(
            [cells[g].astype(str) == row[g] for g in kept], initial=True
        ) if kept else np.ones(len(cells), bool)  # fmt: skip
        out.append(int(cells.loc[match, "n"].sum()))
    return out


small = st.integers(1, 7)
counts = st.integers(0, 60) | small | st.integers(0, 2)


def one_way(size: tuple[int, int], values=counts):
    return st.lists(values, min_size=size[0], max_size=size[1]).map(
        lambda n: pd.DataFrame({"ward": [f"w{i}" for i in range(len(n))], "n": n})
    )


def two_way(rows=(2, 5), cols=(2, 4)):
    return st.tuples(st.integers(*rows), st.integers(*cols)).flatmap(
        lambda shape: st.lists(
            counts, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]
        ).map(
            lambda n: pd.DataFrame(
                {
                    "row": [f"r{i // shape[1]}" for i in range(len(n))],
                    "col": [f"c{i % shape[1]}" for i in range(len(n))],
                    "n": n,
                }
            )
        )
    )


def check(cells, groups, totals_over):
    table = control_table(cells, groups=groups, counts=["n"], totals_over=totals_over).table
    assert_protected(
        table, groups, true_values(cells, table, groups), intervals_by_lp(table, groups)
    )
    return table


@pytest.mark.programme  # a property search of seconds: docs/testing.md
@settings(max_examples=150, deadline=None)
@given(one_way((1, 8)))
def test_no_hidden_cell_of_a_one_way_table_or_its_total_can_be_narrowed(cells):
    check(cells, ["ward"], ["ward"])


@pytest.mark.programme  # a property search of seconds: docs/testing.md
@settings(max_examples=100, deadline=None)
@given(one_way((2, 3), st.integers(8, 25) | small | st.just(0)))
def test_trying_every_table_a_one_way_release_allows_finds_no_hidden_cell(cells):
    table = control_table(cells, groups=["ward"], counts=["n"], totals_over=["ward"]).table
    intervals = intervals_by_enumeration(table, cap=30)
    assert_protected(table, ["ward"], true_values(cells, table, ["ward"]), intervals)


@pytest.mark.programme  # a property search of seconds: docs/testing.md
@settings(max_examples=100, deadline=None)
@given(two_way())
def test_no_hidden_cell_of_a_two_way_table_or_its_margins_can_be_narrowed(cells):
    check(cells, ["row", "col"], ["row", "col"])


@pytest.mark.programme  # a property search of seconds: docs/testing.md
@settings(max_examples=60, deadline=None)
@given(two_way(), st.sampled_from([["col"], ["row"]]))
def test_no_hidden_cell_of_a_table_with_one_margin_can_be_narrowed(cells, totals_over):
    check(cells, ["row", "col"], totals_over)


@pytest.mark.programme  # a property search of seconds: docs/testing.md
@settings(max_examples=40, deadline=None)
@given(two_way(rows=(2, 3), cols=(2, 5)))
def test_no_hidden_cell_of_several_one_way_tables_in_one_can_be_narrowed(cells):
    # As the registers pages release them: measure, grouping, group; totals over the group.
    cells = cells.assign(group_by="practice")
    check(cells, ["row", "group_by", "col"], ["col"])


@pytest.mark.programme  # a property search of seconds: docs/testing.md
@settings(max_examples=150, deadline=None)
@given(one_way((1, 40), st.integers(0, 2)))
def test_a_total_whose_cells_all_round_to_0_is_never_published_as_0(cells):
    table = control_table(cells, groups=["ward"], counts=["n"], totals_over=["ward"]).table
    total = table.loc[table["ward"] == TOTAL, "n"].iloc[0]
    true = int(cells["n"].sum())
    if true == 0:
        assert total == 0
    elif true <= THRESHOLD:
        assert pd.isna(total)
    else:
        assert total == (true + 2) // 5 * 5


def test_dementia_by_lsoa_publishes_its_true_total():
    # The data protection officer's case: 94 LSOAs of 2 each, published as a total of 0.
    cells = pd.DataFrame({"lsoa": [f"E0100{i:04d}" for i in range(94)], "n": [2] * 94})
    table = control_table(cells, groups=["lsoa"], counts=["n"], totals_over=["lsoa"]).table
    assert table["n"].iloc[:-1].isna().all()
    assert table["n"].iloc[-1] == 190


def test_deaths_at_one_practice_are_not_published_as_none():
    cells = pd.DataFrame({"age_band": [f"{a}-{a + 9}" for a in range(0, 80, 10)], "n": [1] * 8})
    table = control_table(cells, groups=["age_band"], counts=["n"], totals_over=["age_band"])
    assert table.table["n"].iloc[-1] == 10


SPEC_ONE_WAY = """
ward    true   published  outcome
a          3          -   suppressed-primary
b         12          -   suppressed-secondary
c         40         40   published
d         51         50   rounded
Total    106        105   rounded
"""

SPEC_HIDDEN_PAIR = """
ward    true   published  outcome
a          2          -   suppressed-primary
b          2          -   suppressed-primary
c         40          -   suppressed-secondary
Total     44         45   rounded
"""


def spec(text: str) -> pd.DataFrame:
    rows = [line.split() for line in text.strip().splitlines()]
    return pd.DataFrame(rows[1:], columns=rows[0])


@pytest.mark.parametrize("text", [SPEC_ONE_WAY, SPEC_HIDDEN_PAIR], ids=["one-small", "two-small"])
def test_one_way_specification_tables(text):
    # two-small: two cells of 2 beside a total of 44 are 4 between them, so both are small:
    # the 40 must go too (before, the total was summed from rounded cells, 0 + 0 + 40, and
    # showed that each hidden cell was 1 or 2).
    expected = spec(text)
    body = expected[expected["ward"] != TOTAL]
    cells = pd.DataFrame({"ward": body["ward"], "n": body["true"].astype(int)})
    result = control_table(cells, groups=["ward"], counts=["n"], totals_over=["ward"])
    shown = result.table["n"].astype(object).where(result.table["n"].notna(), "-")
    assert result.table["ward"].tolist() == expected["ward"].tolist()
    assert [str(v) for v in shown] == expected["published"].tolist()
    assert result.outcomes["outcome"].tolist() == expected["outcome"].tolist()


SPEC_TWO_WAY = """
practice     M     F  Total
A           3c    40s    43
B           52    61    113
C         100s    8s    108
Total      155   109    264
"""  # c: suppressed-primary, s: suppressed-secondary
PUBLISHED_TWO_WAY = """
practice     M     F  Total
A            -     -     45
B           50    60    115
C            -     -    110
Total      155   110    265
"""


def test_a_two_way_specification_table_hides_a_rectangle():
    # A-M (3) is alone in its row and column, so it takes partners that close a rectangle:
    # with A-M at t, A-F = 43 - t, C-M = 103 - t and C-F = 5 + t, so A-M could be 0 to 43.
    truth = spec(SPEC_TWO_WAY).set_index("practice")
    cells = pd.DataFrame(
        [
            {"practice": p, "sex": s, "n": int(truth.at[p, s].rstrip("cs"))}
            for p in "ABC"
            for s in "MF"
        ]
    )
    result = control_table(
        cells, groups=["practice", "sex"], counts=["n"], totals_over=["sex", "practice"]
    )
    wide = result.table.pivot(index="practice", columns="sex", values="n")
    expected = spec(PUBLISHED_TWO_WAY).set_index("practice")
    for p, s in itertools.product([*"ABC", TOTAL], ["M", "F", TOTAL]):
        value = wide.at[p, s]
        assert ("-" if pd.isna(value) else str(value)) == expected.at[p, s], (p, s)
    outcome = result.outcomes.set_index(["practice", "sex"])["outcome"]
    marks = {"c": "suppressed-primary", "s": "suppressed-secondary"}
    for p, s in itertools.product("ABC", "MF"):
        mark = truth.at[p, s][-1]
        shown = outcome[(p, s)] if outcome[(p, s)].startswith("suppressed") else None
        assert shown == marks.get(mark), (p, s)


# ----- areas at two levels over the same units (practices, PCNs, places) ------------------------


def area_equations(table: pd.DataFrame, levels: dict[str, dict[str, str]]):
    """Each area and level total with the unit rows it adds up, as a reader knows them from
    the published mapping of practices to PCNs and places."""
    units = table.index[table["level"] == "practice"]
    units = [u for u in units if table.at[u, "area"] != TOTAL]
    code = {u: table.at[u, "area"] for u in units}
    out = []
    for i, row in table.iterrows():
        if row["level"] == "practice":
            if row["area"] == TOTAL:
                out.append((i, units))
            continue
        mapping = levels[row["level"]]
        if row["area"] == TOTAL:
            out.append((i, [u for u in units if code[u] in mapping]))
        else:
            out.append((i, [u for u in units if mapping.get(code[u]) == row["area"]]))
    return out


def area_intervals(table: pd.DataFrame, levels) -> dict[int, tuple[float, float]]:
    n = len(table)
    a_eq = []
    for total, members in area_equations(table, levels):
        row = np.zeros(n)
        row[total] = 1
        row[members] = -1
        a_eq.append(row)
    bounds = [could_be(v) for v in table["n"]]
    out = {}
    for i in np.flatnonzero(table["n"].isna().to_numpy()):
        ends = []
        for sign in (1, -1):
            c = np.zeros(n)
            c[i] = sign
            found = linprog(c, A_eq=np.array(a_eq), b_eq=np.zeros(len(a_eq)), bounds=bounds)
            assert found.status in (0, 3), found.message
            ends.append(np.inf if found.status == 3 else sign * found.fun)
        out[int(i)] = (ends[0], ends[1])
    return out


@st.composite
def practices_in_areas(draw):
    size = draw(st.integers(2, 8))
    codes = [f"P{i}" for i in range(size)]
    pcn = draw(st.lists(st.sampled_from(["North", "South", None]), min_size=size, max_size=size))
    place = draw(st.lists(st.sampled_from(["East", "West"]), min_size=size, max_size=size))
    n = draw(st.lists(counts, min_size=size, max_size=size))
    levels = {
        "pcn": {c: a for c, a in zip(codes, pcn, strict=True) if a},
        "place": dict(zip(codes, place, strict=True)),
    }
    return pd.DataFrame({"practice": codes, "n": n}), levels


@pytest.mark.programme  # a property search of seconds: docs/testing.md
@settings(max_examples=150, deadline=None)
@given(practices_in_areas())
def test_no_hidden_practice_pcn_or_place_can_be_worked_out_from_the_other_levels(case):
    from openphm.disclosure import control_areas

    cells, levels = case
    table = control_areas(cells, unit="practice", levels=levels, counts=["n"]).table
    truth = []
    for level, area in zip(table["level"], table["area"], strict=True):
        if level == "practice":
            members = cells if area == TOTAL else cells[cells["practice"] == area]
        else:
            mapping = levels[level]
            inside = cells["practice"].map(mapping)
            members = cells[inside.notna() if area == TOTAL else inside == area]
        truth.append(int(members["n"].sum()))
    assert_protected(table, ["level", "area"], truth, area_intervals(table, levels))


def test_a_practice_hidden_in_a_pcn_of_two_is_not_given_away_by_the_pcn():
    # Controlled apart, North (45) less B (40) would show A as 5 (give or take the rounding).
    from openphm.disclosure import control_areas

    cells = pd.DataFrame({"practice": ["A", "B", "C", "D"], "n": [5, 40, 60, 80]})
    levels = {"pcn": {"A": "North", "B": "North", "C": "South", "D": "South"}}
    table = control_areas(cells, unit="practice", levels=levels, counts=["n"]).table
    shown = dict(zip(table["level"] + " " + table["area"], table["n"], strict=True))
    assert pd.isna(shown["practice A"])
    assert pd.isna(shown["practice B"]) or pd.isna(shown["pcn North"])
    assert shown["practice Total"] == 185


@st.composite
def practices_in_three_levels(draw):
    """PCNs and places that cut across each other, and ICBs made of places (as
    programme.toml's [indicators.icbs] makes them)."""
    size = draw(st.integers(2, 8))
    codes = [f"P{i}" for i in range(size)]
    pcn = draw(st.lists(st.sampled_from(["North", "South", None]), min_size=size, max_size=size))
    place = draw(
        st.lists(st.sampled_from(["East", "West", "Middle", None]), min_size=size, max_size=size)
    )
    icb_of_place = draw(
        st.sampled_from([{"East": "QAA", "West": "QAA", "Middle": "QBB"},
                         {"East": "QAA", "West": "QBB"},
                         {"East": "QAA", "West": "QAA", "Middle": "QAA"}])
    )  # fmt: skip
    n = draw(st.lists(counts, min_size=size, max_size=size))
    levels = {
        "pcn": {c: a for c, a in zip(codes, pcn, strict=True) if a},
        "place": {c: a for c, a in zip(codes, place, strict=True) if a},
        "icb": {c: icb_of_place[a] for c, a in zip(codes, place, strict=True) if a in icb_of_place},
    }
    return pd.DataFrame({"practice": codes, "n": n}), levels


@pytest.mark.programme  # a property search of seconds: docs/testing.md
@settings(max_examples=150, deadline=None)
@given(practices_in_three_levels())
def test_no_hidden_cell_can_be_worked_out_with_icbs_made_of_places(case):
    from openphm.disclosure import control_areas

    cells, levels = case
    table = control_areas(cells, unit="practice", levels=levels, counts=["n"]).table
    truth = []
    for level, area in zip(table["level"], table["area"], strict=True):
        if level == "practice":
            members = cells if area == TOTAL else cells[cells["practice"] == area]
        else:
            inside = cells["practice"].map(levels[level])
            members = cells[inside.notna() if area == TOTAL else inside == area]
        truth.append(int(members["n"].sum()))
    assert_protected(table, ["level", "area"], truth, area_intervals(table, levels))


def test_a_third_level_that_cuts_across_the_others_is_refused():
    from openphm.disclosure import DisclosureError, control_areas

    cells = pd.DataFrame({"practice": ["A", "B", "C", "D"], "n": [50, 40, 60, 80]})
    levels = {
        "pcn": {"A": "N", "B": "N", "C": "S", "D": "S"},
        "place": {"A": "E", "B": "W", "C": "E", "D": "W"},
        "icb": {"A": "Q1", "B": "Q2", "C": "Q2", "D": "Q1"},  # neither PCNs nor places
    }
    with pytest.raises(DisclosureError, match="not controlled together"):
        control_areas(cells, unit="practice", levels=levels, counts=["n"])
    # The same ICBs made of places are controlled with the other two levels.
    levels["icb"] = {"A": "Q1", "B": "Q2", "C": "Q1", "D": "Q2"}
    table = control_areas(cells, unit="practice", levels=levels, counts=["n"]).table
    assert set(table["level"]) == {"practice", "pcn", "place", "icb"}
