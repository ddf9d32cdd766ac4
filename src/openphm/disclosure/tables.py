"""Disclosure control of whole tables: cells, the totals published beside them, and the rates
derived from them.

A table is long-format: one row per cell, group columns naming the cell, count columns holding
true counts and sum columns holding true sums (costs, bed days), each sum with what the
dominance rule needs about its contributors (`contributor_columns`, `sum_cells`).

1. Totals are computed from the true values, then treated as cells like any other.
2. Primary suppression: the threshold rule on counts and on sums' contributors, the dominance
   rule on sums (rules.py).
3. Secondary suppression (secondary.py): more cells hidden until no hidden cell, total or not,
   can be worked out or narrowed below its protection range from the published cells.
4. Counts shown are rounded; rates are computed from the published values, so a rate cannot
   reveal the true count behind a rounded one, and are hidden with their numerator or
   denominator.

Every table comes back with the rule set it passed and each cell's outcome with the rule that
fired: for the output checker, not for publication (a reader told which hidden cells are primary
would know those are 1–7).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.disclosure.rules import DisclosureError, DisclosureRules
from openphm.disclosure.secondary import Equation, protect

TOTAL = "Total"
CONTRIBUTORS, LARGEST, SECOND = "_contributors", "_largest", "_second"

PUBLISHED = "published"
ROUNDED = "rounded"
PRIMARY = "suppressed-primary"
SECONDARY = "suppressed-secondary"
DOMINANCE = "suppressed-dominance"


@dataclass(frozen=True)
class ControlledTable:
    table: pd.DataFrame
    primary_redactions: int
    secondary_redactions: int
    dominance_redactions: int
    rules: DisclosureRules
    outcomes: pd.DataFrame  # group columns, column, outcome, rule: one row per value


def contributor_columns(column: str) -> list[str]:
    """The columns a sum column needs beside it: per cell, how many contributors have a
    non-zero value, and the largest and second-largest contribution."""
    return [f"{column}{CONTRIBUTORS}", f"{column}{LARGEST}", f"{column}{SECOND}"]


def sum_cells(rows: pd.DataFrame, *, groups: Sequence[str], value: str) -> pd.DataFrame:
    """One row per contributor (a person, say) and cell → one row per cell with the sum of
    `value` and its `contributor_columns`. Each contributor belongs to one cell."""
    if (rows[value] < 0).any():
        raise DisclosureError(f"{value}: contributions cannot be negative")
    keys = list(groups)
    contributors, largest, second = contributor_columns(value)
    out = rows.groupby(keys, dropna=False, sort=False)[value].sum().to_frame()
    non_zero = (rows[value] != 0).groupby([rows[k] for k in keys], dropna=False, sort=False)
    out[contributors] = non_zero.sum()
    ranked = rows.sort_values(value, ascending=False, kind="stable")
    rank = ranked.groupby(keys, dropna=False, sort=False).cumcount()
    for column, position in ((largest, 0), (second, 1)):
        nth = ranked[rank == position].set_index(keys)[value]
        out[column] = nth.reindex(out.index, fill_value=0.0)
    return out.reset_index()


def control_counts(counts: pd.Series, rules: DisclosureRules | None = None) -> pd.Series:
    """Each count redacted (NA) or rounded, by the rules."""
    rules = rules or DisclosureRules()
    published = [rules.publish(int(c)) for c in counts]
    return pd.Series(published, index=counts.index, dtype="Int64", name=counts.name)


def control_table(
    cells: pd.DataFrame,
    *,
    groups: Sequence[str],
    counts: Sequence[str],
    sums: Sequence[str] = (),
    rates: Mapping[str, tuple[str, str]] | None = None,
    per: float = 1.0,
    totals_over: Sequence[str] = (),
    rules: DisclosureRules | None = None,
) -> ControlledTable:
    """Apply disclosure control to a table of counts and sums.

    `groups` name each cell; `counts` are count columns; `sums` are sum columns, each with its
    `contributor_columns`. `totals_over` lists at most two group columns to total over: for
    each, rows with that column set to "Total" are added, and with two that are all the groups,
    a grand total. `rates` maps a rate column to (numerator, denominator) columns, computed
    `per` (e.g. 1000) from the published values.
    """
    rules = rules or DisclosureRules()
    cells = cells.reset_index(drop=True)
    _check(cells, groups, counts, sums, totals_over)
    full, equations = _with_totals(cells, groups, counts, sums, totals_over)
    table = full.loc[:, list(groups)].astype("string")
    # "group value, …" per row, as f"{g} {value}" writes each (a missing value as nan, as a
    # row of the table read by iterrows gave it).
    named = [
        (f"{g} " + table[g].astype(object).where(table[g].notna(), "nan").map(str)).tolist()
        for g in groups
    ]
    labels = [", ".join(parts) for parts in zip(*named, strict=True)]
    outcomes = []
    for column in counts:
        table[column], outcome = _control_count(full[column], equations, rules, labels)
        outcomes.append(table.loc[:, list(groups)].assign(column=column, **outcome))
    for column in sums:
        table[column], outcome = _control_sum(full, column, equations, rules, labels)
        outcomes.append(table.loc[:, list(groups)].assign(column=column, **outcome))
    for rate, (numerator, denominator) in (rates or {}).items():
        num = table[numerator].astype("Float64")
        den = table[denominator].astype("Float64")
        # Two decimals: more precision than that would say more than rounded counts allow.
        table[rate] = (num / den * per).where(den > 0).round(2)
    columns = [*groups, "column", "outcome", "rule"]
    outcomes = pd.concat(outcomes, ignore_index=True) if outcomes else pd.DataFrame(columns=columns)
    tally = outcomes["outcome"].value_counts()
    return ControlledTable(
        table,
        int(tally.get(PRIMARY, 0)),
        int(tally.get(SECONDARY, 0)),
        int(tally.get(DOMINANCE, 0)),
        rules,
        outcomes,
    )


def control_areas(
    cells: pd.DataFrame,
    *,
    unit: str,
    levels: Mapping[str, Mapping[str, str]],
    counts: Sequence[str],
    rules: DisclosureRules | None = None,
) -> ControlledTable:
    """Counts per unit (a practice) and per area of up to two levels that group the units (PCN,
    place: {unit: area}), controlled as one table. Each area is the total of its units, so the
    levels are linked: controlled apart, a PCN of two practices, one hidden and one published,
    would give the hidden one away. Here every area and level total is a cell whose equation
    names its units, and secondary suppression protects every hidden cell against all of them.

    `cells` has one row per unit: `unit` and the `counts`. Returns rows (level, area, counts):
    the units (level `unit`) and their Total, then each level's areas and its Total (over the
    units it maps; a unit in no area of a level is in no row of it). Two levels at most, or
    more when they make two chains of levels nested in one another (an ICB made of places:
    each of its areas a union of places, and no practice in it that is in no place). With each
    level a partition of the units, the equations of two (with the units' Total among the
    first) still bound each hidden cell by whole numbers, as a two-way table's do: each chain's
    areas and totals are a laminar family, and two laminar families give a totally unimodular
    system. A third level that cuts across both chains would not."""
    rules = rules or DisclosureRules()
    cells = cells.reset_index(drop=True)
    _check(cells, [unit], counts, (), ())
    if not _two_chains(levels, cells[unit].astype(str).tolist()):
        raise DisclosureError(
            f"areas at {len(levels)} levels are not controlled together (their equations are "
            "not a network): release at most two levels besides the units at once, or levels "
            "nested in one another (an ICB made of places)"
        )
    if cells[unit].duplicated().any():
        raise DisclosureError(f"{unit}: one row per unit, each unit once")
    units = cells[unit].astype(str).tolist()
    rows: list[tuple[str, str]] = [(unit, u) for u in units]
    values = {c: [int(v) for v in cells[c]] for c in counts}
    equations: list[Equation] = []

    def total(level: str, area: str, members: list[int]) -> None:
        equations.append((len(rows), members))
        rows.append((level, area))
        for c in counts:
            values[c].append(sum(values[c][m] for m in members))

    total(unit, TOTAL, list(range(len(units))))
    for level, mapping in levels.items():
        if level == unit or TOTAL in mapping.values():
            raise DisclosureError(f"level {level!r}: not the units' own name, no area {TOTAL!r}")
        area_of = [mapping.get(u) for u in units]
        for area in sorted({a for a in area_of if a is not None}):
            total(level, area, [i for i, a in enumerate(area_of) if a == area])
        mapped = [i for i, a in enumerate(area_of) if a is not None]
        if mapped:
            total(level, TOTAL, mapped)
    table = pd.DataFrame(rows, columns=["level", "area"]).astype("string")
    labels = [f"{level} {area}" for level, area in rows]
    outcomes = []
    for column in counts:
        table[column], outcome = _control_count(pd.Series(values[column]), equations, rules, labels)
        outcomes.append(table.loc[:, ["level", "area"]].assign(column=column, **outcome))
    outcomes = pd.concat(outcomes, ignore_index=True)
    tally = outcomes["outcome"].value_counts()
    return ControlledTable(
        table, int(tally.get(PRIMARY, 0)), int(tally.get(SECONDARY, 0)), 0, rules, outcomes
    )


def _two_chains(levels: Mapping[str, Mapping[str, str]], units) -> bool:
    """Whether the levels split into two chains, each level of a chain nested in the next
    (its areas unions of the other's, mapping no unit the other leaves out): each chain's
    areas and totals are then a laminar family, and two such give a network."""
    names = list(levels)
    if len(names) <= 2:
        return True
    if len(names) > 8:
        return False
    for sides in itertools.product((0, 1), repeat=len(names)):
        chains = [[n for n, s in zip(names, sides, strict=True) if s == k] for k in (0, 1)]
        if all(
            _nested(levels[a], levels[b], units) or _nested(levels[b], levels[a], units)
            for chain in chains
            for a, b in itertools.combinations(chain, 2)
        ):
            return True
    return False


def _nested(inner: Mapping[str, str], outer: Mapping[str, str], units) -> bool:
    """Every area of `outer` is a union of areas of `inner`, and `outer` maps no unit that
    `inner` leaves out (`inner` is the finer)."""
    owner: dict[str, str | None] = {}
    for u in units:
        fine, coarse = inner.get(u), outer.get(u)
        if fine is None:
            if coarse is not None:
                return False
            continue
        if owner.setdefault(fine, coarse) != coarse:
            return False
    return True


def _control_count(values: pd.Series, equations, rules: DisclosureRules, labels):
    true = values.astype("int64").to_numpy()
    primary = np.array([rules.is_redacted(v) for v in true], dtype=bool)
    hidden, added = protect(
        true,
        primary,
        equations,
        lambda cell, low, high: rules.protects(low, high, rules.count_protection(true[cell])),
    )
    rounded = np.array([rules.round(v) for v in true])
    shown = pd.Series(rounded, dtype="Int64").mask(hidden)
    outcome = np.where(rounded == true, PUBLISHED, ROUNDED).astype(object)
    rule = np.where(rounded == true, "", f"rounded to the nearest {rules.multiple}").astype(object)
    outcome[primary] = PRIMARY
    rule[primary] = f"threshold: counts from 1 to {rules.threshold} are redacted"
    _secondary(outcome, rule, added, labels)
    return shown, {"outcome": outcome, "rule": rule}


def _control_sum(full: pd.DataFrame, column: str, equations, rules: DisclosureRules, labels):
    true = full[column].to_numpy(dtype="float64")
    contributors, largest, second = (full[c].to_numpy() for c in contributor_columns(column))
    few = np.array([rules.is_redacted(int(n)) for n in contributors], dtype=bool)
    dominated = ~few & np.array(
        [rules.is_dominated(*v) for v in zip(true, largest, second, strict=True)], dtype=bool
    )
    sensitive = few | dominated
    hidden, added = protect(
        true,
        sensitive,
        equations,
        lambda cell, low, high: rules.protects(
            low, high, rules.sum_protection(true[cell], sensitive[cell])
        ),
    )
    shown = pd.Series(true, dtype="Float64").mask(hidden)
    outcome = np.full(len(true), PUBLISHED, dtype=object)
    rule = np.full(len(true), "", dtype=object)
    outcome[few] = PRIMARY
    rule[few] = f"threshold: sums of 1 to {rules.threshold} contributors are redacted"
    outcome[dominated] = DOMINANCE
    rule[dominated] = (
        f"dominance: p% rule, p = {rules.dominance_p:g}%: the sum less its two largest "
        f"contributions is under {rules.dominance_p:g}% of the largest"
    )
    _secondary(outcome, rule, added, labels)
    return shown, {"outcome": outcome, "rule": rule}


def _secondary(outcome: np.ndarray, rule: np.ndarray, added: dict[int, int], labels) -> None:
    for cell, protected in added.items():
        outcome[cell] = SECONDARY
        rule[cell] = f"secondary: hidden so that {labels[protected]} cannot be worked out"


def _check(cells, groups, counts, sums, totals_over) -> None:
    missing = [c for s in sums for c in [s, *contributor_columns(s)] if c not in cells.columns]
    if missing:
        raise DisclosureError(
            f"the dominance rule needs each sum's contributors: columns {missing} are missing "
            "(disclosure.tables.sum_cells makes them from one row per contributor)"
        )
    if not set(totals_over) <= set(groups):
        raise DisclosureError(f"totals_over {list(totals_over)} must be among {list(groups)}")
    if len(totals_over) > 2:
        raise DisclosureError(
            "totals over more than two group columns are not controlled (their equations are "
            "not a network, so whole-number arithmetic could beat the check): release the "
            "table as several with totals over at most two"
        )
    for group in groups:
        if (cells[group].astype("string") == TOTAL).any():
            raise DisclosureError(
                f"group column {group} has a value {TOTAL!r}, which a reader would take for a "
                "total: rename it"
            )
    for column in [*counts, *sums]:
        if (cells[column] < 0).any():
            raise DisclosureError(f"{column} has negative values: counts and sums must be ≥ 0")


def _with_totals(
    cells: pd.DataFrame,
    groups: Sequence[str],
    counts: Sequence[str],
    sums: Sequence[str],
    totals_over: Sequence[str],
) -> tuple[pd.DataFrame, list[Equation]]:
    """The cells, then a row per total with true values, and each total's equation. The grand
    total's equations are over the margins (it is the sum of either margin), which says the same
    as the sum of every cell but keeps each cell's equations to its own row and column."""
    rows, equations, margins = [], [], []
    for over in totals_over:
        keys = [g for g in groups if g != over]
        members = (
            cells.groupby(keys, dropna=False, sort=False).indices.values()
            if keys
            else [np.arange(len(cells))]
        )
        margin = []
        for member in members:
            label = {g: cells.at[member[0], g] if g in keys else TOTAL for g in groups}
            margin.append(len(cells) + len(rows))
            equations.append((margin[-1], [int(m) for m in member]))
            rows.append(label | _total(cells, member, counts, sums))
        margins.append(margin)
    if len(totals_over) > 1 and len(totals_over) == len(groups):
        grand = len(cells) + len(rows)
        equations.extend((grand, margin) for margin in margins)
        rows.append(
            dict.fromkeys(groups, TOTAL) | _total(cells, np.arange(len(cells)), counts, sums)
        )
    added = [c for s in sums for c in [s, *contributor_columns(s)]]
    full = cells.loc[:, [*groups, *counts, *added]]
    if rows:
        full = pd.concat([full, pd.DataFrame(rows)], ignore_index=True)
    return full, equations


def _total(cells: pd.DataFrame, member: np.ndarray, counts, sums) -> dict:
    """The true values of the total of the cells at `member`, sums' contributors included."""
    row = {column: cells[column].to_numpy()[member].sum() for column in [*counts, *sums]}
    for column in sums:
        contributors, largest, second = contributor_columns(column)
        row[contributors] = cells[contributors].to_numpy()[member].sum()
        # Each contributor is in one cell, so a total's two largest are among its cells' two.
        top = np.sort(np.concatenate([cells[c].to_numpy()[member] for c in (largest, second)]))
        row[largest], row[second] = top[-1], top[-2]
    return row
