"""Disclosure control of whole tables: cells, the totals published beside them, and the rates
derived from them.

A table is long-format: one row per cell, group columns naming the cell, count columns holding
true counts. Totals are recomputed from the rounded cells (so rows add up as published), and
then a cell is suppressed alongside any lone redacted cell in a group whose total is published,
so no redacted count can be worked out by subtraction (secondary suppression). Rates whose
numerator or denominator is redacted are redacted; published rates are computed from the
published (rounded) counts, so a rate cannot reveal the true count behind a rounded one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from openphm.disclosure.rules import DisclosureRules

TOTAL = "Total"


@dataclass(frozen=True)
class ControlledTable:
    table: pd.DataFrame
    primary_redactions: int
    secondary_redactions: int


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
    rates: Mapping[str, tuple[str, str]] | None = None,
    per: float = 1.0,
    totals_over: Sequence[str] = (),
    rules: DisclosureRules | None = None,
) -> ControlledTable:
    """Apply disclosure control to a table of counts.

    `groups` name each cell; `counts` are the count columns. `totals_over` lists group columns
    to total over: for each, rows with that column set to "Total" are added, recomputed from
    the rounded cells. `rates` maps a rate column to (numerator, denominator) count columns,
    computed `per` (e.g. 1000) from the published counts.
    """
    rules = rules or DisclosureRules()
    cells = cells.reset_index(drop=True)
    table = cells.loc[:, [*groups, *counts]].copy()
    for group in groups:
        table[group] = table[group].astype("string")
    primary = 0
    for column in counts:
        true = table[column].astype("int64")
        redacted = true.map(rules.is_redacted)
        primary += int(redacted.sum())
        table[column] = true.map(rules.round).astype("Int64").mask(redacted)
    hidden = {column: table[column].isna() for column in counts}
    secondary = 0
    rounded_all = {c: cells[c].astype("int64").map(rules.round).to_numpy() for c in counts}
    for column in counts:
        secondary += _secondary_suppression(table, groups, totals_over, column, hidden[column])
        table[column] = table[column].mask(hidden[column])
    totals = _totals(table, cells, groups, counts, totals_over, rounded_all, rules)
    table = pd.concat([table, totals], ignore_index=True) if len(totals) else table
    for rate, (numerator, denominator) in (rates or {}).items():
        num = table[numerator].astype("Float64")
        den = table[denominator].astype("Float64")
        # Two decimals: more precision than that would say more than rounded counts allow.
        table[rate] = (num / den * per).where(den > 0).round(2)
    return ControlledTable(table, primary, secondary)


def _secondary_suppression(
    table: pd.DataFrame,
    groups: Sequence[str],
    totals_over: Sequence[str],
    column: str,
    hidden: pd.Series,
) -> int:
    """Hide one more cell in any total group that has exactly one hidden cell, until no such
    group remains. Returns the number of extra cells hidden; `hidden` is updated in place.

    Which cell: first one that also mends another lone-hidden group (so two problems are solved
    by one cell and the table keeps more of its information), then the smallest non-zero count
    (zeros disclose nothing, so hiding one protects nothing)."""
    partitions = [_partition(table, groups, over) for over in totals_over]
    added = 0
    changed = True
    while changed:
        changed = False
        for members_of in partitions:
            for index in members_of:
                if hidden.loc[index].sum() != 1 or len(index) < 2:
                    continue
                candidates = [i for i in index if not hidden.loc[i]]
                values = table.loc[candidates, column].astype("Float64")
                others = [p for p in partitions if p is not members_of]
                choice = min(
                    candidates,
                    key=lambda i: (
                        not _mends_another(i, others, hidden),
                        values.loc[i] == 0,
                        values.loc[i],
                    ),
                )
                hidden.loc[choice] = True
                added += 1
                changed = True
    return added


def _mends_another(cell: int, partitions: list[list[list[int]]], hidden: pd.Series) -> bool:
    return any(cell in group and hidden.loc[group].sum() == 1 for p in partitions for group in p)


def _partition(table: pd.DataFrame, groups: Sequence[str], over: str) -> list[list[int]]:
    """The rows of `table` grouped by every group column except `over`: the cells that add up
    to one published total."""
    keys = [g for g in groups if g != over]
    if not keys:
        return [list(table.index)]
    return [list(index) for index in table.groupby(keys, dropna=False, sort=False).indices.values()]


def _totals(
    table: pd.DataFrame,
    cells: pd.DataFrame,
    groups: Sequence[str],
    counts: Sequence[str],
    totals_over: Sequence[str],
    rounded_all: Mapping[str, object],
    rules: DisclosureRules,
) -> pd.DataFrame:
    if not totals_over:
        return pd.DataFrame(columns=table.columns)
    # A total is the sum of the rounded cells (hidden ones at their rounded value, so a total
    # does not fall when a cell is hidden, and published rows add up), redacted when the true
    # total is small: a total of 2 people must not appear as a reassuring 0.
    frames = []
    for over in totals_over:
        frames.append(_sum_over(cells, groups, counts, over, rounded_all))
    if len(totals_over) > 1 and len(totals_over) == len(groups):
        frames.append(_sum_over(cells, groups, counts, None, rounded_all))
    totals = pd.concat(frames, ignore_index=True)
    for group in groups:
        totals[group] = totals[group].astype("string")
    for column in counts:
        # Small if the true total is small, or if the rounded cells add up to a small number
        # (cells of 1 and 7 round to 0 and 5: a published 5 would break the rule).
        rounded = totals[column].astype("int64")
        small = totals[f"true_{column}"].map(rules.is_redacted) | rounded.map(rules.is_redacted)
        totals[column] = rounded.astype("Int64").mask(small)
        if len(totals_over) > 1 and len(totals_over) == len(groups):
            _protect_margins(totals, groups, column)
    return totals.loc[:, table.columns]


def _protect_margins(totals: pd.DataFrame, groups: Sequence[str], column: str) -> None:
    """The totals along each dimension add up to the grand total: where exactly one of them is
    hidden and the grand total is published, hide the smallest other one too, so the hidden
    total cannot be found by subtraction."""
    is_total = {g: totals[g] == TOTAL for g in groups}
    grand = pd.concat(is_total.values(), axis=1).all(axis=1)
    if totals.loc[grand, column].isna().all():
        return
    for over in groups:
        others = [g for g in groups if g != over]
        margin = is_total[over] & ~grand
        for g in others:
            margin &= ~is_total[g]
        hidden = totals.loc[margin, column].isna()
        if hidden.sum() == 1 and (~hidden).any():
            visible = totals.loc[margin, column][~hidden].astype("Float64")
            candidates = visible[visible > 0] if (visible > 0).any() else visible
            totals.loc[candidates.idxmin(), column] = pd.NA


def _sum_over(
    cells: pd.DataFrame,
    groups: Sequence[str],
    counts: Sequence[str],
    over: str | None,
    rounded_all: Mapping[str, object],
) -> pd.DataFrame:
    """Rounded and true sums over `over` (over every group when None), labelled Total."""
    frame = cells.loc[:, list(groups)].copy()
    for column in counts:
        frame[column] = rounded_all[column]
        frame[f"true_{column}"] = cells[column].astype("int64")
    keys = [g for g in groups if g != over] if over else []
    values = [c for column in counts for c in (column, f"true_{column}")]
    summed = (
        frame.groupby(keys, dropna=False, sort=False)[values].sum().reset_index()
        if keys
        else frame[values].sum().to_frame().T
    )
    for group in groups:
        if group not in keys:
            summed[group] = TOTAL
    return summed
