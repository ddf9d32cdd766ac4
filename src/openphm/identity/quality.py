"""How well tracing could read what it was given, and how well it did: for the processor's
review, never for publication.

Reads identifiers as sent and as standardised (landing zone, or files outside any workspace);
writes nothing. Every figure here is a count or a share: no patient's value leaves this module.

A field that `standardise` cannot read becomes null and counts as missing, never as a
mismatch; that keeps a single bad value from costing a true match, but it also means a whole
column mapped by mistake (a town where the postcode should be, dates in a format no one
expected) silently leaves tracing without that field. Parse rates make that visible: per field,
how many records had something in it and how many of those standardise could read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from openphm.identity import standardise

# A field is reported as mostly unreadable when fewer than this share of the values sent in
# it could be read: a real extract loses a few per cent (a foreign address, a typo); half lost
# means the column is not what the map says it is, or is in a format no one handles.
READABLE_AT_LEAST = 0.5

# NHS England reports about 1.1% of HES records without a valid NHS number once traced; a
# source that leaves more than twice that unmatched is flagged for the processor to look at
# (a map, a format, an extract from outside the region).
UNMATCHED_ALERT = 0.022

# What "readable" means for each field, as the warning says it.
READABLE_AS = {
    "given_name": "with letters",
    "family_name": "with letters",
    "date_of_birth": "a date in a known format",
    "sex": "a known code",
    "postcode": "in UK shape",
    "address": "with letters or digits",
}


@dataclass(frozen=True)
class FieldRate:
    """One field of one set of records: how many had a value, and how many of those could be
    read. `sent` is 0 when the field was not given at all or was blank throughout."""

    field: str
    records: int
    sent: int
    readable: int
    # Postcodes only: values that look like another country's postcodes, when the column is
    # mostly those (then compared as written: `standardise.postcode_column`); else 0.
    as_written: int = 0

    @property
    def rate(self) -> float:
        return self.readable / self.sent if self.sent else 0.0

    @property
    def mostly_unreadable(self) -> bool:
        return self.records > 0 and (self.sent == 0 or self.rate < READABLE_AT_LEAST)

    def warning(self, check: str) -> str:
        """'postcode: 0% in UK shape, check --map' (`check` says where to look)."""
        if self.sent == 0:
            return f"{self.field}: no values in {self.records:,} records, {check}"
        said = f"{self.field}: {self.rate:.0%} {READABLE_AS[self.field]}, {check}"
        if self.as_written:
            said += (
                f" ({self.as_written / self.sent:.0%} look like another country's postcodes: "
                "compared as written, exactly or one character apart)"
            )
        return said


def parse_rates(sent: pd.DataFrame, fields: Sequence[str]) -> list[FieldRate]:
    """Per field of `fields` (named as tracing names them), how many of the `sent` records
    (identifiers as the provider wrote them) had a value and how many standardise reads."""
    rates = []
    for field in fields:
        if field in sent.columns:
            values = standardise.text_column(sent[field])
        else:
            values = pa.nulls(len(sent), pa.string())
        length = pc.utf8_length(pc.utf8_trim_whitespace(values))
        present = pc.fill_null(pc.greater(length, 0), False)
        readable = pc.and_(present, _readable(field, values))
        as_written = 0
        if field == "postcode" and not standardise.postcode_column(values)[1]:
            as_written = pc.count(standardise.postcodes_as_written(values)).as_py()
        rates.append(
            FieldRate(
                field, len(sent), _count(present), _count(pc.fill_null(readable, False)), as_written
            )
        )
    return rates


def warnings(rates: Sequence[FieldRate], check: str) -> list[str]:
    """One line per field that is mostly unreadable."""
    return [rate.warning(check) for rate in rates if rate.mostly_unreadable]


def unmatched_alert(what: str, records: int, unmatched: int) -> str | None:
    """An alert when more than UNMATCHED_ALERT of `records` were left unmatched, else None."""
    share = unmatched / records if records else 0.0
    if share <= UNMATCHED_ALERT:
        return None
    return (
        f"{what}: {share:.1%} of {records:,} records left without an NHS number, more than "
        f"{UNMATCHED_ALERT:.1%} (twice the 1.1% NHS England reports for HES)"
    )


def _readable(field: str, values: pa.Array) -> pa.Array:
    if field == "sex":  # an "unknown" code is read, as unknown
        return pc.or_(pc.is_valid(standardise.sexes(values)), standardise.unknown_sexes(values))
    read = {
        "given_name": standardise.given_names,
        "family_name": standardise.family_names,
        "date_of_birth": standardise.dates,
        "postcode": standardise.postcodes,
        "previous_postcode": standardise.postcodes,
        "address": standardise.addresses,
    }[field]
    return pc.is_valid(read(values))


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask.cast(pa.int64())).as_py() or 0)
