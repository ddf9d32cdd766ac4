"""What disclosure control does to each output of a release: whether the output can pass the
checks at all, and each cell's outcome as it will be released.

`released_table` is the one place that reads openphm.disclosure.tables' answer, a
ControlledTable: the table with hidden cells blank, how many cells each rule hid, and each
value's outcome with the rule that fired. The outcome kept with a release says only suppressed,
rounded or ok: which hidden cells were hidden first (primary: 1–7) would tell a reader those are
small, so the kind of suppression is counted, never placed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from openphm.disclosure.rules import DisclosureRules
from openphm.disclosure.tables import DOMINANCE, PRIMARY, PUBLISHED, SECONDARY, control_table
from openphm.disclosure.tables import ROUNDED as TABLE_ROUNDED

if TYPE_CHECKING:
    from openphm.disclosure.releases import DraftSpec

# Each cell's outcome: blank in the released file; a count rounded; published as it is (a
# group's name, or a rate worked out from published counts).
SUPPRESSED = "suppressed"
ROUNDED = "rounded"
SHOWN = "ok"


@dataclass(frozen=True)
class ReleasedTable:
    table: pd.DataFrame  # as it will be released
    outcome: pd.DataFrame  # the same shape: each cell's SUPPRESSED, ROUNDED or SHOWN
    primary_redactions: int
    secondary_redactions: int
    dominance_redactions: int = 0


# tables.py's outcomes, as released: a count published is always a rounded count.
_AS_RELEASED = {
    PUBLISHED: SHOWN,
    TABLE_ROUNDED: ROUNDED,
    PRIMARY: SUPPRESSED,
    SECONDARY: SUPPRESSED,
    DOMINANCE: SUPPRESSED,
}


def check_output(spec: DraftSpec, cells: pd.DataFrame) -> list[str]:
    """Why disclosure control cannot vouch for this output, one sentence each (none: it
    passes). Such an output leaves only by an exception the data protection officer approves."""
    failures = []
    if not spec.counts:
        failures.append("it has no count columns, so there is nothing to redact or round")
    fractions = [g for g in spec.groups if _holds_fractions(cells[g])]
    if fractions:
        # A group column names cells and is published as it is; a mean or a rate in one would
        # be published for cells whose counts are redacted.
        failures.append(
            f"{', '.join(fractions)} hold fractions: statistics, not names of cells, and "
            "disclosure control covers counts only"
        )
    return failures


def _holds_fractions(values: pd.Series) -> bool:
    # A whole-number column with a missing value arrives as floats (an IMD decile of 3.0).
    if not pd.api.types.is_float_dtype(values):
        return False
    present = values.dropna()
    return bool((present % 1 != 0).any())


def released_table(spec: DraftSpec, cells: pd.DataFrame, rules: DisclosureRules) -> ReleasedTable:
    """The draft as it will be released, with each cell's outcome."""
    controlled = control_table(
        cells,
        groups=spec.groups,
        counts=spec.counts,
        sums=spec.sums,
        rates={k: tuple(v) for k, v in spec.rates.items()},
        per=spec.per,
        totals_over=spec.totals_over,
        rules=rules,
    )
    table = controlled.table
    outcome = pd.DataFrame(SHOWN, index=table.index, columns=table.columns)
    for column in [*spec.counts, *spec.sums]:
        fired = controlled.outcomes.loc[controlled.outcomes["column"] == column, "outcome"]
        outcome[column] = fired.map(_AS_RELEASED).to_numpy()
        if column in spec.counts:
            outcome.loc[outcome[column] == SHOWN, column] = ROUNDED
    for rate, (numerator, denominator) in spec.rates.items():
        outcome.loc[table[numerator].isna() | table[denominator].isna(), rate] = SUPPRESSED
    return ReleasedTable(
        table,
        outcome,
        controlled.primary_redactions,
        controlled.secondary_redactions,
        controlled.dominance_redactions,
    )
