"""Normalise and check NHS numbers, a whole column at a time.

Reads identifiers from the landing zone; writes nothing. Providers send NHS numbers with or
without spaces or hyphens (`943 476 5919`, `943-476-5919`); blank means missing. Each value gets a
status (valid, missing, invalid) and, when invalid, a reason from a small fixed set, so callers
can count and quarantine by reason without ever logging a value.

The rules are those of the `nhs-number` package (Modulus 11 check digit, the ranges in
`nhs_number.REGIONS`, a Scottish CHI number must start with a real DDMMYY date); this module
applies them with Arrow and NumPy instead of one Python call per value, so that ten million
values take seconds. A test checks it agrees with `nhs_number.is_valid` value for value.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from nhs_number import REGIONS


class NhsNumberStatus(StrEnum):
    VALID = "valid"
    MISSING = "missing"
    INVALID = "invalid"


class InvalidReason(StrEnum):
    NOT_DIGITS = "has characters other than digits, spaces or hyphens"
    NOT_TEN_DIGITS = "is not 10 digits long"
    CHECK_DIGIT = "fails the Modulus 11 check digit"
    RANGE_NOT_ISSUED = "is in a range that is not issued to patients here"
    CHI_NOT_A_DATE = "is a Scottish CHI number whose first six digits are not a date"


# Regions (keys of `nhs_number.REGIONS`) whose numbers identify real patients who may be
# registered or treated in England. SYNTHETIC (999…) is the range kept for test patients: a
# synthetic region passes `regions=ISSUED_REGIONS | {"SYNTHETIC"}` explicitly, so that test
# numbers are never accepted from a live feed by default.
ISSUED_REGIONS: frozenset[str] = frozenset({"ENGLAND_WALES_IOM", "SCOTLAND", "NORTHERN_IRELAND"})

_STATUSES = pa.array([s.value for s in NhsNumberStatus])
_REASONS = pa.array([r.value for r in InvalidReason])
_REASON_CODE = {reason: code for code, reason in enumerate(InvalidReason)}
_CHECK_WEIGHTS = np.arange(10, 1, -1, dtype=np.int32)
_PLACE_VALUES = 10 ** np.arange(9, -1, -1, dtype=np.int64)


def normalise_nhs_numbers(values: Iterable[str | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Strip surrounding whitespace and the spaces and hyphens inside; blank becomes null.
    Letters and other characters are kept, so that `check_nhs_numbers` can reject them."""
    strings = _as_string_array(values)
    stripped = pc.replace_substring(pc.replace_substring(strings, " ", ""), "-", "")
    stripped = pc.utf8_trim_whitespace(stripped)
    return pc.if_else(pc.equal(pc.binary_length(stripped), 0), None, stripped)


def check_nhs_numbers(
    values: Iterable[str | None] | pa.Array | pa.ChunkedArray,
    *,
    regions: frozenset[str] = ISSUED_REGIONS,
) -> pa.Table:
    """One row per input value, in order: `nhs_number` (the normalised 10 digits when valid,
    else null), `status` (valid / missing / invalid) and `reason` (why invalid, else null)."""
    unknown = set(regions) - set(REGIONS)
    if unknown:
        raise ValueError(f"unknown NHS number regions {sorted(unknown)}; known: {sorted(REGIONS)}")
    normalised = normalise_nhs_numbers(values)
    n = len(normalised)
    missing = pc.is_null(normalised).to_numpy(zero_copy_only=False)
    digits_only = pc.fill_null(pc.ascii_is_decimal(normalised), False).to_numpy(
        zero_copy_only=False
    )
    ten_long = pc.fill_null(pc.equal(pc.binary_length(normalised), 10), False).to_numpy(
        zero_copy_only=False
    )
    reason = np.full(n, -1, dtype=np.int8)
    reason[~missing & ~digits_only] = _REASON_CODE[InvalidReason.NOT_DIGITS]
    reason[~missing & digits_only & ~ten_long] = _REASON_CODE[InvalidReason.NOT_TEN_DIGITS]

    candidates = np.flatnonzero(digits_only & ten_long)
    reason[candidates] = _reasons_for_ten_digits(_digit_matrix(normalised, candidates), regions)

    status = np.where(missing, 1, np.where(reason >= 0, 2, 0)).astype(np.int8)
    valid = pa.array(status == 0)
    return pa.table(
        {
            "nhs_number": pc.if_else(valid, normalised, pa.scalar(None, pa.string())),
            "status": pa.DictionaryArray.from_arrays(pa.array(status), _STATUSES),
            "reason": pa.DictionaryArray.from_arrays(pa.array(reason, mask=reason < 0), _REASONS),
        }
    )


def _as_string_array(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string(), from_pandas=True)
    if pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type):
        values = values.cast(pa.string())
    if not pa.types.is_string(values.type):
        raise TypeError(f"NHS numbers must be strings, not {values.type}")
    return values


def _digit_matrix(strings: pa.Array, rows: np.ndarray) -> np.ndarray:
    """The chosen rows (all exactly ten ASCII digits) as an (n, 10) array of digit values."""
    if len(rows) == 0:
        return np.zeros((0, 10), dtype=np.uint8)
    chosen = strings.take(pa.array(rows)).cast(pa.binary()).cast(pa.binary(10))
    data = np.frombuffer(chosen.buffers()[1], dtype=np.uint8)
    start = chosen.offset * 10
    return data[start : start + 10 * len(chosen)].reshape(-1, 10) - np.uint8(ord("0"))


def _reasons_for_ten_digits(digits: np.ndarray, regions: frozenset[str]) -> np.ndarray:
    reason = np.full(len(digits), -1, dtype=np.int8)
    weighted = np.zeros(len(digits), dtype=np.int32)
    numbers = np.zeros(len(digits), dtype=np.int64)
    for position in range(10):  # column by column: no (n, 10) int64 temporaries
        column = digits[:, position]
        if position < 9:
            weighted += column.astype(np.int32) * _CHECK_WEIGHTS[position]
        numbers += column.astype(np.int64) * _PLACE_VALUES[position]
    check = 11 - weighted % 11
    check[check == 11] = 0  # 10 stays 10 and so never matches a digit: never issued
    in_accepted = _in_regions(numbers, regions)
    reason[~in_accepted] = _REASON_CODE[InvalidReason.RANGE_NOT_ISSUED]
    chi = np.flatnonzero(in_accepted & _in_regions(numbers, frozenset({"SCOTLAND"})))
    reason[chi[~_is_ddmmyy(digits[chi].astype(np.int32))]] = _REASON_CODE[
        InvalidReason.CHI_NOT_A_DATE
    ]
    reason[check != digits[:, 9]] = _REASON_CODE[InvalidReason.CHECK_DIGIT]
    return reason


def _in_regions(numbers: np.ndarray, regions: frozenset[str]) -> np.ndarray:
    inside = np.zeros(len(numbers), dtype=bool)
    for name in regions:
        for number_range in REGIONS[name].ranges:
            inside |= (numbers >= number_range.start) & (numbers <= number_range.end)
    return inside


def _is_ddmmyy(digits: np.ndarray) -> np.ndarray:
    """As `datetime.strptime(first_six, "%d%m%y")` accepts: two-digit years 69–99 are 19xx,
    00–68 are 20xx (POSIX), which decides whether 29 February exists."""
    day = digits[:, 0] * 10 + digits[:, 1]
    month = digits[:, 2] * 10 + digits[:, 3]
    yy = digits[:, 4] * 10 + digits[:, 5]
    year = np.where(yy >= 69, 1900 + yy, 2000 + yy)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    days = month_days[np.clip(month, 0, 12)] + ((month == 2) & leap)
    return (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)
