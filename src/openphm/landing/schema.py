"""Declared schemas for providers' extracts, and their compilation to DuckDB SQL checks.

Reads nothing and writes nothing: an adapter declares each column once (its canonical name,
the provider's name for it, and what kind of value it holds), and this module turns that
declaration into two SQL expressions per column: the canonical value, and the reason the raw
value is unacceptable (NULL when it is fine). The landing load runs those expressions over each
chunk of a file inside DuckDB, so a file of tens of millions of rows is checked at scan speed
instead of one Python call per value (docs/landing.md, "Why SQL checks").

Reasons name the field and the rule, never the value: they go to the quarantine listing and
the audit log, which must hold no patient data.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

# Code systems by the shape of their codes (docs/extract-formats.md, "Code systems").
SNOMED = r"[1-9][0-9]{5,17}"  # SNOMED CT and dm+d concept ids: 6 to 18 digits, no leading 0
ICD10 = r"[A-Z][0-9]{2}[0-9A-Z]{0,3}"  # E119, I10, J18X; without the dot
OPCS4 = r"[A-Z][0-9]{2}[0-9]?"  # K401, X62; without the dot
EARLIEST_DATE = dt.date(1880, 1, 1)  # before this a date is a keying error, not history


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Kind:
    """What a column holds. Subclasses say how to make the canonical value and when the raw
    value is wrong; `raw` is the SQL for the trimmed provider value, NULL when blank."""

    sql_type = "VARCHAR"

    def value(self, raw: str) -> str:
        return raw

    def problem(self, raw: str, value: str) -> str | None:
        """SQL condition (true = wrong) and its reason, as `CASE WHEN … THEN reason`."""
        return None


@dataclass(frozen=True)
class Text(Kind):
    upper: bool = False

    def value(self, raw: str) -> str:
        return f"upper({raw})" if self.upper else raw


@dataclass(frozen=True)
class NhsNumber(Kind):
    """10 digits as sent, spaces removed. The check digit is the identity stage's business;
    here only a value that cannot be an NHS number at all (letters, wrong length) is held."""

    def value(self, raw: str) -> str:
        return f"replace({raw}, ' ', '')"

    def problem(self, raw: str, value: str) -> str:
        # Exactly ten ASCII digits, matched as text: a cast to a whole number also took
        # `99946262e1` (an exponent), and a number parser takes hex, signs and decimals.
        return (
            f"WHEN NOT regexp_full_match({value}, '[0-9]{{10}}') "
            "THEN 'is not 10 digits (letters, punctuation or wrong length)'"
        )


_STRPTIME_PATTERNS = {
    "%Y": "[0-9]{4}",
    "%m": "[0-9]{2}",
    "%d": "[0-9]{2}",
    "%H": "[0-9]{2}",
    "%M": "[0-9]{2}",
    "%S": "[0-9]{2}",
    "%y": "[0-9]{2}",
    "%b": "[A-Za-z]{3}",
    "%%": "%",
}


def strptime_pattern(fmt: str) -> str:
    """The regular expression a value in strptime format `fmt` must match whole: each field
    its exact number of ASCII digits (or three letters for %b), everything else literally.
    A directive without a fixed shape here is refused, so no format is parsed leniently."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i : i + 2]
            if directive not in _STRPTIME_PATTERNS:
                raise ValueError(f"date format {fmt!r}: {directive} has no exact pattern here")
            out.append(_STRPTIME_PATTERNS[directive])
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class Date(Kind):
    """A date in the file's declared format; not in the future; not before `not_before`
    (other date fields of the same row, e.g. date of birth)."""

    format: str = "%Y-%m-%d"
    not_before: tuple[str, ...] = ()
    # Other formats a layout's files may use (each matched exactly, first match wins).
    formats: tuple[str, ...] = ()
    # `not_before` as the file names them, for the reason (Schema fills it in): a HES file's
    # row is told "is before DOB", the column it has, not the contract's `date_of_birth`.
    shown: tuple[str, ...] = ()
    sql_type = "DATE"

    @property
    def human_format(self) -> str:
        human = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%b": "MMM", "%H": "hh", "%M": "mm"}
        shown = []
        for fmt in (self.format, *self.formats):
            text = fmt
            for directive, name in human.items():
                text = text.replace(directive, name)
            shown.append(text)
        return " or ".join(shown)

    def value(self, raw: str) -> str:
        # The two formats the contract uses must match their pattern exactly, digit for
        # digit, and only then are cast (several times faster than strptime). DuckDB's cast
        # alone is lenient: it took `2026-10-1O` (a letter O) as 2026-10-01. A trailing time
        # of day fails the pattern, so 2024-01-05T10:00 is refused rather than truncated
        # (unless the field drops times: `Field.times`).
        whens = []
        for fmt in (self.format, *self.formats):
            if fmt == "%Y-%m-%d":
                shape, parsed = "[0-9]{4}-[0-9]{2}-[0-9]{2}", f"TRY_CAST({raw} AS DATE)"
            elif fmt == "%d/%m/%Y":
                shape = "[0-9]{2}/[0-9]{2}/[0-9]{4}"
                iso = (
                    f"concat(substr({raw}, 7, 4), '-', substr({raw}, 4, 2), '-', "
                    f"substr({raw}, 1, 2))"
                )
                parsed = f"TRY_CAST({iso} AS DATE)"
            else:
                # Any other format: its exact pattern too, since strptime takes one digit for
                # %d or %m and a sign or spaces for %Y.
                shape = strptime_pattern(fmt)
                parsed = f"CAST(try_strptime({raw}, {literal(fmt)}) AS DATE)"
            whens.append(f"WHEN regexp_full_match({raw}, {literal(shape)}) THEN {parsed}")
        return f"CASE {' '.join(whens)} END"

    def problem(self, raw: str, value: str) -> str:
        shown = self.shown or self.not_before
        order = "".join(
            f"WHEN {value} < {ident(other)} THEN {literal('is before ' + name)} "
            for other, name in zip(self.not_before, shown, strict=True)
        )
        return (
            f"WHEN {value} IS NULL THEN 'is not a date in the form {self.human_format}' "
            f"WHEN {value} > $today THEN 'is in the future' "
            f"WHEN {value} < DATE '{EARLIEST_DATE}' THEN 'is before {EARLIEST_DATE.year}' "
            f"{order}"
        )


@dataclass(frozen=True)
class Code(Kind):
    """A code of one code system, recognised by its shape."""

    system: str = "SNOMED CT"
    pattern: str = SNOMED
    separator: str | None = None  # several codes in one field, e.g. ICD-10 `E119;I10`
    # A character that pads a shorter code to the field's width, dropped from the value: HES
    # writes a 3-character ICD-10 code in a 4-character field as `R69X` (canonical `R69`).
    filler: str | None = None
    width: int = 0

    def value(self, raw: str) -> str:
        if not self.filler:
            return raw
        return (
            f"CASE WHEN length({raw}) = {self.width} AND ends_with({raw}, {literal(self.filler)}) "
            f"THEN left({raw}, {self.width - 1}) ELSE {raw} END"
        )

    def problem(self, raw: str, value: str) -> str:
        if self.separator is None:
            wrong = f"NOT regexp_full_match({value}, {literal(self.pattern)})"
            reason = f"is not a code of {self.system}"
        else:
            wrong = (
                f"NOT list_bool_and(list_transform(string_split({value}, "
                f"{literal(self.separator)}), c -> regexp_full_match(trim(c), "
                f"{literal(self.pattern)})))"
            )
            reason = f"holds something that is not a code of {self.system}"
        return f"WHEN {wrong} THEN {literal(reason)}"


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of codes, optionally translated (`Male` -> `M`)."""

    codes: dict[str, str] = field(default_factory=dict)
    # Values the field reads as blank (a layout's "not known" codes), named in the reason
    # beside the codes (Schema fills it in): FIRSTATT accepts 5 and 9 as blank as well.
    blank: tuple[str, ...] = ()

    @classmethod
    def of(cls, *codes: str) -> Choice:
        return cls({c: c for c in codes})

    def value(self, raw: str) -> str:
        if all(k == v for k, v in self.codes.items()):
            return raw
        whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in self.codes.items())
        return f"CASE {raw} {whens} END"

    def problem(self, raw: str, value: str) -> str:
        allowed = ", ".join(self.codes)
        if self.blank:
            allowed += f" (or {', '.join(self.blank)}, read as blank)"
        return (
            # list_contains, not NOT IN: DuckDB plans NOT IN as a join, several times slower.
            f"WHEN NOT list_contains([{', '.join(literal(k) for k in self.codes)}], {raw}) "
            f"THEN {literal('is not one of the codes ' + allowed)}"
        )


# A decimal number as people write it: optional sign, digits with an optional decimal point,
# optional exponent. Matched before the cast, since DuckDB's cast to DOUBLE also takes NaN,
# Infinity, inf and digits grouped with underscores.
DECIMAL = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"


@dataclass(frozen=True)
class Number(Kind):
    """A finite decimal number. `1e999` has the shape but no finite value (out of range)."""

    sql_type = "DOUBLE"

    def value(self, raw: str) -> str:
        shaped = f"regexp_full_match({raw}, {literal(DECIMAL)})"
        return f"CASE WHEN {shaped} THEN TRY_CAST({raw} AS DOUBLE) END"

    def problem(self, raw: str, value: str) -> str:
        return (
            f"WHEN NOT regexp_full_match({raw}, {literal(DECIMAL)}) THEN 'is not a number' "
            f"WHEN {value} IS NULL OR NOT isfinite({value}) "
            "THEN 'is not a number within range (too large or too small to hold)'"
        )


@dataclass(frozen=True)
class Field:
    """One column: its canonical name, the provider's name for it, its kind, and whether a
    row without it is unusable."""

    name: str
    kind: Kind = field(default_factory=Text)
    required: bool = False
    source: str = ""
    # What a layout (openphm.programme.layouts) declares of a published data set's values:
    # the characters trimmed from both ends (HES pads with spaces and tabs); values that mean
    # "none" or "not known" (`&`, `1800-01-01`: blank once read); values that stand for
    # another (`7001`, an age under one year, is 0 years); values the specification marks as
    # invalid, each with what it means (`1801-01-01`: the row is held, saying so).
    pad: str = " "
    times: bool = False  # a date followed by a time of day (` 10:30`, `T10:30:00`): dropped
    nulls: tuple[str, ...] = ()
    recode: tuple[tuple[str, str], ...] = ()
    invalid: tuple[tuple[str, str], ...] = ()

    @property
    def source_name(self) -> str:
        return self.source or self.name


# A time of day after a date, as databases and spreadsheets export it: `2001-09-27 00:00:00`,
# `2001-09-27T10:30`, `27/09/2001 10:30:00.000`.
TIME_OF_DAY = r"[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?$"


def _raw(f: Field) -> str:
    """The provider's value as the checks read it: trimmed of the field's padding, NULL when
    blank or one of the field's "none" values, a recoded value replaced."""
    trimmed = (
        f"trim({ident(f.source_name)})"
        if f.pad == " "
        else (f"trim({ident(f.source_name)}, {literal(f.pad)})")
    )
    if f.times:
        trimmed = f"regexp_replace({trimmed}, {literal(TIME_OF_DAY)}, '')"
    raw = f"nullif({trimmed}, '')"
    if not (f.nulls or f.recode):
        return raw
    nulls = (
        f"WHEN list_contains([{', '.join(literal(v) for v in f.nulls)}], {raw}) THEN NULL "
        if f.nulls
        else ""
    )
    recodes = "".join(f"WHEN {raw} = {literal(a)} THEN {literal(b)} " for a, b in f.recode)
    return f"CASE {nulls}{recodes}ELSE {raw} END"


def _said(f: Field, names: dict[str, str]) -> Kind:
    """`f`'s kind with what its reasons name said as the file says it: the other date
    columns by the file's names, a choice's codes with the values read as blank."""
    if isinstance(f.kind, Date) and f.kind.not_before:
        return replace(f.kind, shown=tuple(names.get(o, o) for o in f.kind.not_before))
    if isinstance(f.kind, Choice) and f.nulls:
        return replace(f.kind, blank=tuple(v for v in f.nulls if v not in f.kind.codes))
    return f.kind


@dataclass(frozen=True)
class Schema:
    """The declared columns of one provider table, in one flavour."""

    fields: tuple[Field, ...]

    @property
    def source_columns(self) -> tuple[str, ...]:
        return tuple(f.source_name for f in self.fields)

    def values_sql(self, relation: str, *, numbered: bool = True) -> str:
        """SELECT of `_row`, each canonical value and, per field, the value as given (trimmed,
        NULL when blank). Each field is trimmed once, below the values that read it: inlined,
        a date's value trimmed its text four times. `numbered=False`: `relation` has no `_row`
        and the result none (the caller numbers the rows by where they are written)."""
        raws = ", ".join(f"{_raw(f)} AS {ident('raw:' + f.name)}" for f in self.fields)
        row = ["_row"] if numbered else []
        parts = list(row)
        for f in self.fields:
            raw = ident("raw:" + f.name)
            parts += [f"{f.kind.value(raw)} AS {ident(f.name)}", raw]
        return f"SELECT {', '.join(parts)} FROM (SELECT {', '.join([*row, raws])} FROM {relation})"

    def _reasons(self) -> list[tuple[str, str]]:
        """(field as the provider names it, CASE expression giving the reason or NULL)."""
        reasons = []
        names = {f.name: f.source_name for f in self.fields}
        for f in self.fields:
            raw, value = ident("raw:" + f.name), ident(f.name)
            cases = f"WHEN {raw} IS NULL THEN 'is required but blank' " if f.required else ""
            cases += "".join(
                f"WHEN {raw} = {literal(code)} THEN {literal(meaning)} "
                for code, meaning in f.invalid
            )
            check = _said(f, names).problem(raw, value)
            if check:
                cases += f"WHEN {raw} IS NULL THEN NULL {check}"
            if cases:
                reasons.append((f.source_name, f"CASE {cases} END"))
        return reasons

    def _any_problem(self) -> str:
        reasons = [r for _, r in self._reasons()]
        return f"coalesce({', '.join(reasons)}) IS NOT NULL" if reasons else "false"

    def good_sql(self, values: str) -> str:
        """The canonical values of the rows of `values` (a table of `values_sql`'s rows) that
        pass every check. `$today` is the programme's today, so tests can move the clock.

        The checks read a table the values were written to, not `values_sql` as a subquery:
        DuckDB then inlines each value into every check that reads it, so a date was parsed
        and every field trimmed several times per row, in CASE branches its common
        subexpression elimination does not enter. Writing the values once and checking them
        was five times faster (docs/landing.md, "Speed"). A MATERIALIZED CTE was slower still."""
        return f"SELECT * FROM {values} v WHERE NOT ({self._any_problem()})"

    def problems_sql(self, values: str) -> str:
        """(_row, field, reason) for every problem of every failing row of `values`. Only
        failing rows build the list of reasons, which costs far more per row than the test
        itself."""
        items = ", ".join(
            f"{{'field': {literal(name)}, 'reason': {case}}}" for name, case in self._reasons()
        )
        return (
            f"SELECT _row, p.field, p.reason FROM (SELECT _row, "
            f"unnest(list_filter([{items}], p -> p.reason IS NOT NULL)) AS p FROM {values} v "
            f"WHERE {self._any_problem()})"
        )
