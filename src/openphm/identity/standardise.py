"""Put the identifiers that tracing compares into one shape, whatever the provider sent.

Reads identifiable columns from the landing zone; writes nothing (returns standardised Arrow
arrays). Everything here is a vectorised Arrow kernel, so a million-row spine takes seconds.
A value that cannot be read (a date in no known format, a postcode of the wrong shape, a sex
code that says "unknown") becomes null, so that it counts as missing, never as a mismatch.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable
from functools import cache, wraps
from importlib.resources import files

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# The date formats understood, by the shape a person would recognise. Day before month, as in
# the UK: 03/04/1990 is 3 April. Anything after the date (a time) is ignored.
DATE_FORMATS = {
    "YYYY-MM-DD (or / or .)": r"^(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})$",
    "DD/MM/YYYY (or - or .)": r"^(?P<day>\d{1,2})[-/.](?P<month>\d{1,2})[-/.](?P<year>\d{4})$",
    "YYYYMMDD": r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})$",
}
EARLIEST_BIRTH_YEAR = 1880

_MALE = ["M", "MALE", "1"]
_FEMALE = ["F", "FEMALE", "2"]
_UNKNOWN = ["U", "UNKNOWN", "9", "0", "I", "INDETERMINATE", "X", "NOT KNOWN", "NOT SPECIFIED"]
_POSTCODE = r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"
# On a standardised UK postcode ("LS1 4AP"), capture group 1: the outcode (postcode district,
# "LS1") and the area ("LS"). Both need the space, which only a UK postcode is given, so a
# postcode compared as written (below) has neither.
POSTCODE_OUTCODE = r"^([A-Z0-9]+) "
POSTCODE_AREA = r"^([A-Z]+)[0-9][A-Z0-9]? "
# Another country's postcode, compacted: 3 to 10 letters and digits, at least one a digit
# (Australia's 4 digits, a US ZIP code with or without its 4, Canada's A1A1A1, …). A town, a
# county or a name has no digit.
_ANY_POSTCODE = r"^[A-Z0-9]{3,10}$"
# A postcode column is read as UK postcodes unless fewer than half the values given are in UK
# shape and at least half look like another country's postcodes.
MOSTLY = 0.5
_MONTH_DAYS = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int32())


def by_distinct(standardise: Callable[[pa.Array], pa.Array]) -> Callable[[pa.Array], pa.Array]:
    """`standardise` worked out once per distinct value: a million people have some thousands
    of names, postcodes and dates of birth, and regular expressions over every person's took
    seconds."""

    @wraps(standardise)
    def once_each(values: pa.Array) -> pa.Array:
        values = _strings(values)
        distinct = pc.unique(values)
        if len(distinct) * 2 > len(values):
            return standardise(values)
        return pc.take(standardise(distinct), pc.index_in(values, distinct))

    return once_each


def text_column(values: pd.Series) -> pa.Array:
    """A column of identifiers as Arrow strings (null where missing). One read of Arrow-backed
    columns as they are: converting a million of them to pandas' strings first took seconds."""
    arrow = isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_string(
        values.dtype.pyarrow_dtype
    )
    if arrow or values.dtype == "string[pyarrow]":
        return _strings(pa.array(values.array))
    return pa.array(values.astype("string"), type=pa.string(), from_pandas=True)


@by_distinct
def given_names(values: pa.Array) -> pa.Array:
    """The first forename, upper case, letters only: "mary-anne jo" → "MARYANNE"."""
    words = _letters_and_spaces(values)
    return _blank_to_null(pc.list_element(pc.split_pattern(words, " ", max_splits=1), 0))


@by_distinct
def family_names(values: pa.Array) -> pa.Array:
    """Upper case, letters only: "O'Brien-Smith" → "OBRIENSMITH"."""
    return _blank_to_null(pc.replace_substring_regex(_upper(values), r"[^A-Z]", ""))


def canonical_given_names(names: pa.Array) -> pa.Array:
    """A standardised given name with a common nickname replaced by its full form (BOB → ROBERT),
    so that a nickname and the full name compare equal. Names not in the list are unchanged."""
    nicknames, full_names = _nicknames()
    index = pc.index_in(names, value_set=nicknames)
    return pc.coalesce(pc.take(full_names, index), names)


def initials(given: pa.Array, family: pa.Array) -> pa.Array:
    """The first letters of standardised given and family names, in alphabetical order (so
    that a name written the other way round has the same): "MARY", "SMITH" → "MS"."""
    first = pc.utf8_slice_codeunits(given, 0, 1)
    second = pc.utf8_slice_codeunits(family, 0, 1)
    low = pc.if_else(pc.less_equal(first, second), first, second)
    high = pc.if_else(pc.less_equal(first, second), second, first)
    return pc.binary_join_element_wise(low, high, "")


@by_distinct
def dates(values: pa.Array) -> pa.Array:
    """Dates of birth in any of DATE_FORMATS as ISO strings (YYYY-MM-DD); null when the value
    is in no known format, is not a real date (31/02/1990), or is implausible as a birth date."""
    text = pc.utf8_trim_whitespace(_strings(values))
    text = pc.list_element(pc.split_pattern_regex(text, r"[ T]", max_splits=1), 0)
    parts = {"year": pa.nulls(len(text), pa.int32())}
    parts |= {"month": parts["year"], "day": parts["year"]}
    for pattern in DATE_FORMATS.values():
        found = pc.extract_regex(text, pattern)
        for name in parts:
            parts[name] = pc.coalesce(parts[name], pc.struct_field(found, name).cast(pa.int32()))
    year, month, day = parts["year"], parts["month"], parts["day"]
    leap = pc.and_(
        pc.equal(pc.bit_wise_and(year, 3), 0),
        pc.or_(pc.not_equal(pc.remainder(year, 100), 0), pc.equal(pc.remainder(year, 400), 0)),
    )
    in_month = pc.take(_MONTH_DAYS, pc.if_else(pc.less_equal(month, 12), month, 0))
    in_month = pc.add(in_month, pc.and_(leap, pc.equal(month, 2)).cast(pa.int32()))
    iso = pc.binary_join_element_wise(
        pc.utf8_lpad(year.cast(pa.string()), 4, "0"),
        pc.utf8_lpad(month.cast(pa.string()), 2, "0"),
        pc.utf8_lpad(day.cast(pa.string()), 2, "0"),
        "-",
    )
    real = pc.and_(
        pc.and_(pc.greater_equal(month, 1), pc.greater_equal(day, 1)),
        pc.less_equal(day, in_month),
    )
    plausible = pc.and_(
        pc.greater_equal(year, EARLIEST_BIRTH_YEAR),
        pc.less_equal(iso, datetime.date.today().isoformat()),
    )
    return pc.if_else(pc.fill_null(pc.and_(real, plausible), False), iso, None)


def day_month_swapped(iso_dates: pa.Array) -> pa.Array:
    """The same date with day and month swapped (1990-04-03 → 1990-03-04), where that is a
    different, real date; else null. For a comparison level tolerant of US-style entry."""
    year = pc.utf8_slice_codeunits(iso_dates, 0, 4)
    month = pc.utf8_slice_codeunits(iso_dates, 5, 7)
    day = pc.utf8_slice_codeunits(iso_dates, 8, 10)
    swapped = pc.binary_join_element_wise(year, day, month, "-")
    real = pc.and_(pc.less_equal(day, "12"), pc.not_equal(day, month))
    return pc.if_else(real, swapped, None)


def day_month_unordered(iso_dates: pa.Array) -> pa.Array:
    """Year with day and month in ascending order: equal for a date and its swapped form, so a
    blocking rule on it finds both."""
    year = pc.utf8_slice_codeunits(iso_dates, 0, 4)
    month = pc.utf8_slice_codeunits(iso_dates, 5, 7)
    day = pc.utf8_slice_codeunits(iso_dates, 8, 10)
    low = pc.if_else(pc.less(day, month), day, month)
    high = pc.if_else(pc.less(day, month), month, day)
    return pc.binary_join_element_wise(year, low, high, "-")


def names_unordered(given: pa.Array, family: pa.Array) -> pa.Array:
    """Given and family name in alphabetical order, joined: equal for a name and the same name
    written the other way round ("MARY", "SMITH" and "SMITH", "MARY"), so a blocking rule on
    it finds both; null where either is missing."""
    low = pc.if_else(pc.less_equal(given, family), given, family)
    high = pc.if_else(pc.less_equal(given, family), family, given)
    return pc.binary_join_element_wise(low, high, " ")


@by_distinct
def characters_sorted(values: pa.Array) -> pa.Array:
    """Each value's letters and digits in sorted order (spaces dropped): equal for a value and
    the same value with two characters swapped ("3728" and "3782", "LS6 2QT" and "LS6 2TQ"),
    so a blocking rule on it finds transposed postcodes; null where the value is."""
    sorted_values = [
        None if value is None else "".join(sorted(value.replace(" ", "")))
        for value in values.to_pylist()
    ]
    return pa.array(sorted_values, type=pa.string())


@by_distinct
def sexes(values: pa.Array) -> pa.Array:
    """M or F from any provider's coding (M/F/U, Male/Female/Unknown, 1/2/9); else null."""
    code = pc.utf8_trim_whitespace(_upper(values))
    male = pc.is_in(code, value_set=pa.array(_MALE))
    female = pc.is_in(code, value_set=pa.array(_FEMALE))
    return pc.if_else(male, "M", pc.if_else(female, "F", pa.scalar(None, pa.string())))


def unknown_sexes(values: pa.Array) -> pa.Array:
    """True where a sex code says "not known" in some provider's coding (U, 9, Unknown, …):
    read, as unknown, rather than unreadable."""
    code = pc.utf8_trim_whitespace(_upper(values))
    return pc.fill_null(pc.is_in(code, value_set=pa.array(_UNKNOWN)), False)


@by_distinct
def postcodes(values: pa.Array) -> pa.Array:
    """Upper case with one space before the inward code ("ls14ap" → "LS1 4AP"); null when the
    value does not have the shape of a UK postcode."""
    compact = pc.replace_substring_regex(_upper(values), r"[^A-Z0-9]", "")
    shaped = pc.fill_null(pc.match_substring_regex(compact, _POSTCODE), False)
    spaced = pc.replace_substring_regex(compact, r"^(.+)(...)$", r"\1 \2")
    return pc.if_else(shaped, spaced, None)


@by_distinct
def postcodes_as_written(values: pa.Array) -> pa.Array:
    """Upper-case letters and digits ("3212", "90210", "K1A0B1") where the value looks like a
    postcode of some country (3 to 10 of them, at least one a digit); else null."""
    compact = pc.replace_substring_regex(_upper(values), r"[^A-Z0-9]", "")
    shaped = pc.and_(
        pc.match_substring_regex(compact, _ANY_POSTCODE), pc.match_substring_regex(compact, "[0-9]")
    )
    return pc.if_else(pc.fill_null(shaped, False), compact, None)


def postcode_column(values: pa.Array) -> tuple[pa.Array, bool]:
    """A column of postcodes, standardised, and whether it was read as UK postcodes. Read as
    UK postcodes (`postcodes`: anything else null) unless it is mostly another country's:
    fewer than half of the values given are in UK shape and at least half look like a
    postcode of some country (`postcodes_as_written`), e.g. an extract of Australian or US
    addresses. Those are compared as written, exactly (no district or area); a UK-shaped one
    among them is written as `postcodes` writes it."""
    uk = postcodes(values)
    given = pc.sum(pc.fill_null(pc.greater(pc.utf8_length(_strip(values)), 0), False)).as_py()
    if not given or pc.count(uk).as_py() >= MOSTLY * given:
        return uk, True
    other = postcodes_as_written(values)
    if pc.count(other).as_py() < MOSTLY * given:
        return uk, True
    return pc.coalesce(uk, other), False


@by_distinct
def addresses(values: pa.Array) -> pa.Array:
    """Upper case, letters, digits, single spaces: "Flat 2, 14 High St." → "FLAT 2 14 HIGH ST"."""
    words = pc.replace_substring_regex(_upper(values), r"[^A-Z0-9]+", " ")
    return _blank_to_null(pc.utf8_trim_whitespace(words))


def _letters_and_spaces(values: pa.Array) -> pa.Array:
    text = pc.replace_substring_regex(_upper(values), r"['’\-.]", "")
    text = pc.replace_substring_regex(text, r"[^A-Z]+", " ")
    return pc.utf8_trim_whitespace(text)


def _strip(values: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(_strings(values), r"\s", "")


def _upper(values: pa.Array) -> pa.Array:
    return pc.utf8_upper(_strings(values))


def _strings(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string(), from_pandas=True)
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def _blank_to_null(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(pc.utf8_length(values), 0), None, values)


@cache
def _nicknames() -> tuple[pa.Array, pa.Array]:
    text = files("openphm.identity").joinpath("nicknames.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return pa.array([r["nickname"] for r in rows]), pa.array([r["name"] for r in rows])
