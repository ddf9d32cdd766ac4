"""Loading one extract into an open batch file: validate every row, land the good ones in their
canonical table, quarantine the rest with file, row, field and reason.

Reads a provider's file (openphm.landing.readers); writes zone 1 (the batch attached as
`alias`, encrypted). Nothing is dropped: loaded + quarantined = received for every file, and
`load_extract` checks that before it returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from openphm.landing import model
from openphm.landing.adapters import canonical_tables
from openphm.landing.files import Refused, blank_lines
from openphm.landing.readers import Malformed, Reader
from openphm.landing.schema import Schema, ident, literal


@dataclass(frozen=True)
class Counts:
    received: int
    loaded: int
    quarantined: int


PART = "part"  # a part's rows as received, numbered: the whole file or one chunk
VALUES = "part_values"  # a part's canonical and raw values, written once (Schema.good_sql)


class _NotUtf8(Exception):
    """The file turned out not to be UTF-8 beyond the part sniffed."""


def prepare(con, alias: str) -> None:
    """Create every table of a new batch up front, so that files loaded side by side only
    append rows (two loads creating one table at once would conflict)."""
    con.execute(model.create_sql(alias, "quarantine", model.QUARANTINE))
    con.execute(model.create_sql(alias, "quarantined_rows", model.QUARANTINED_ROWS))
    for table in canonical_tables():
        con.execute(model.create_sql(alias, table, model.columns(table)))


def load_extract(con, alias: str, reader: Reader, submission_id: str, today: dt.date) -> Counts:
    """Load one file into the batch. A UTF-8 CSV file is read whole by DuckDB's parallel CSV
    reader; a file that reader refuses (a row with the wrong number of fields, bytes that are
    not UTF-8), and every other format, is read in chunks by Arrow, which sets malformed rows
    aside. If a file proves not to be UTF-8 part-way, undo and read it again as Windows-1252
    (decoded as WHATWG does, so every byte decodes and no row is lost; a row holding one of
    the five bytes the code page leaves undefined is quarantined, naming the field)."""
    whole = reader.whole_file_sql()
    if whole:
        try:
            parts = _whole_file(con, whole, reader.schema)
            return _load(con, alias, reader, submission_id, today, parts)
        except duckdb.InvalidInputException:
            # The message can quote a row: it is dropped, and Arrow reads the file instead.
            _undo(con, alias, reader, submission_id)
    try:
        return _load(con, alias, reader, submission_id, today, _chunks(con, reader))
    except _NotUtf8:
        _undo(con, alias, reader, submission_id)
        reader.encoding, reader.malformed, reader.held_breaks = "cp1252", [], 0
        return _load(con, alias, reader, submission_id, today, _chunks(con, reader))


Received = Callable[[], str]  # a part's rows as received, numbered by `_row`: made on demand


def _whole_file(con, sql: str, schema: Schema) -> Iterator[Received]:
    """The file as one part: its values (`VALUES`) written straight from DuckDB's CSV reader,
    numbered by their place in the table they are written to. However many threads DuckDB
    reads the file on, keeping insertion order it fills the table in file order, so row id + 1
    is the row's number in the file. Numbering with row_number() OVER () instead made the
    whole load, checks and writes too, run on one core.

    The rows as received (for quarantine) are not kept: only a file with failing rows reads
    itself again, numbered the same way, into a table. Writing every file's rows as received
    before its values cost a quarter of the reading and checking (docs/landing.md, "Speed")."""
    written = f"{VALUES}_written"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {written} AS {schema.values_sql(f'({sql})', numbered=False)}"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {VALUES} AS SELECT rowid + 1 AS _row, * FROM {written}"
    )

    def received() -> str:
        rows = f"{PART}_rows"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rows} AS {sql}")
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {PART} AS SELECT *, rowid + 1 AS _row FROM {rows}"
        )
        return PART

    try:
        yield received
    finally:
        for view in (VALUES, PART):
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for table in (written, f"{PART}_rows"):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _chunks(con, reader: Reader) -> Iterator[Received]:
    """Arrow's chunks of the file in turn, each registered as `PART` (numbered by the reader)
    with its values written to `VALUES`."""
    chunks = reader.chunks()
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except pa.ArrowInvalid as err:
            if "UTF8" in str(err) and reader.encoding == "utf-8":
                raise _NotUtf8 from None
            raise
        con.register(PART, chunk)
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {VALUES} AS {reader.schema.values_sql(PART)}"
            )
            yield lambda: PART
        finally:
            con.execute(f"DROP TABLE IF EXISTS {VALUES}")
            con.unregister(PART)


def _load(con, alias: str, reader: Reader, sid: str, today: dt.date, parts) -> Counts:
    """Land each part in turn (`parts` writes its values to `VALUES`). The good rows go in
    with one pass of the checks; only a part with failing rows pays for a second pass that
    lists each problem and keeps the rows as received."""
    extract = reader.extract
    table = extract.table.canonical
    schema = reader.schema
    names = ", ".join(ident(f.name) for f in schema.fields)
    params = {"sid": sid, "kind": extract.kind.value, "ods": extract.provider, "today": today}
    received = 0
    lines = extract.lines if extract.format == "csv" else None
    breaks = 0  # line breaks inside values: a row with one spans several lines
    with closing(parts):  # a part's tables go at once, even when its load fails
        for as_received in parts:
            insert = (
                f"INSERT INTO {alias}.{table} (submission_id, source_kind, provider_ods, "
                f"source_row, {names}) SELECT $sid, $kind, $ods, _row, {names} "
                f"FROM ({schema.good_sql(VALUES)})"
            )
            (loaded,) = con.execute(insert, _used(insert, params)).fetchone()
            (rows,) = con.execute(f"SELECT count(*) FROM {VALUES}").fetchone()
            received += rows
            if lines is not None and 1 + received + breaks != lines:
                # Only when the rows do not fill the lines: a value holds a line break.
                breaks += _line_breaks(con, schema, reader.unkept, as_received)
                _refuse_swallowed_rows(con, alias, reader, sid, as_received)
            if loaded < rows:
                _quarantine_problems(con, alias, schema, sid, extract.path.name, today, as_received)
    if extract.table.record_id:
        _quarantine_repeats(con, alias, table, extract.table.record_id, names, sid, extract)
    _quarantine_malformed(con, alias, reader.malformed, sid, extract.path.name)
    received += len({m.row for m in reader.malformed})  # a row may be held for several fields
    if lines is not None:
        reconcile_lines(con, alias, reader, submission_id=sid, rows=received, breaks=breaks)
    loaded, quarantined = con.execute(
        f"SELECT (SELECT count(*) FROM {alias}.{table} WHERE submission_id = $sid), "
        f"(SELECT count(DISTINCT row) FROM {alias}.quarantine WHERE submission_id = $sid)",
        {"sid": sid},
    ).fetchone()
    if loaded + quarantined != received:
        raise AssertionError(
            f"{extract.path.name}: {received} rows received but {loaded} loaded and "
            f"{quarantined} quarantined; nothing was committed"
        )
    return Counts(received, loaded, quarantined)


def _used(sql: str, params: dict) -> dict:
    """The parameters `sql` names: DuckDB refuses any other (a table with no date field has
    no check that reads `$today`)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def recount(con, alias: str, table: str, submission_id: str, counts: Counts) -> Counts:
    """A landed file's counts after rows of it were moved to quarantine since it loaded
    (a hospital's FHIR references, landing.fhir.check_references): still loaded + quarantined
    = received, or the run fails and nothing is committed."""
    loaded, quarantined = con.execute(
        f"SELECT (SELECT count(*) FROM {alias}.{table} WHERE submission_id = $sid), "
        f"(SELECT count(DISTINCT row) FROM {alias}.quarantine WHERE submission_id = $sid)",
        {"sid": submission_id},
    ).fetchone()
    if loaded + quarantined != counts.received:
        raise AssertionError(
            f"{submission_id}: {counts.received} rows received but {loaded} loaded and "
            f"{quarantined} quarantined; nothing was committed"
        )
    return Counts(counts.received, loaded, quarantined)


def _line_breaks(con, schema: Schema, unkept=(), as_received=None) -> int:
    """Line breaks (CRLF, CR or LF) inside the values of the part `VALUES` holds; for a file
    with columns read but not kept (a layout's), inside every value of its rows as received."""
    values = [ident("raw:" + f.name) for f in schema.fields]
    relation = VALUES
    if unkept:
        relation = as_received()
        values = [ident(c) for c in (*schema.source_columns, *unkept)]
    per_value = " + ".join(
        f"coalesce(length(replace({r}, e'\\r\\n', e'\\n')) - "
        f"length(replace(replace({r}, e'\\n', ''), e'\\r', '')), 0)"
        for r in values
    )
    (breaks,) = con.execute(f"SELECT coalesce(sum({per_value}), 0) FROM {relation}").fetchone()
    return int(breaks)


def _refuse_swallowed_rows(
    con, alias: str, reader: Reader, submission_id: str, as_received=None
) -> None:
    """Refuse the file if a value of the part `VALUES` holds, after a line break, a line with
    as many delimiters as a whole row has: the rows of the file that a stray pair of quotes
    enclosed in one value (a quote opened and closed so that the row still has the header's
    number of fields), which the line count cannot tell from a value with line breaks."""
    schema = reader.schema
    delimiter = literal(reader.delimiter)
    values = [ident("raw:" + f.name) for f in schema.fields]
    relation, columns = VALUES, len(schema.fields)
    if reader.unkept:  # a layout's file: every column, as received
        relation = as_received()
        values = [ident(c) for c in (*schema.source_columns, *reader.unkept)]
        columns = len(values)
    needed = max(2, columns - 1)
    looks_like_rows = " OR ".join(
        f"list_bool_or(list_transform(string_split(replace(replace({r}, e'\\r\\n', e'\\n'), "
        f"e'\\r', e'\\n'), e'\\n')[2:], x -> length(x) - length(replace(x, {delimiter}, '')) "
        f">= {needed}))"
        for r in values
    )
    (row,) = con.execute(
        f"SELECT min(_row) FROM {relation} WHERE coalesce({looks_like_rows}, false)"
    ).fetchone()
    if row is None:
        return
    _undo(con, alias, reader, submission_id)
    raise Refused(
        reader.extract.path,
        f"row {row} holds a value running over several lines that look like rows of their "
        "own (a quote in it is probably opened or closed where it should not be), so those "
        "rows would be counted as one; nothing from it was loaded. Check its quotes, or ask "
        "the provider to resend it",
    )


def reconcile_lines(con, alias: str, reader: Reader, *, submission_id: str, rows: int, breaks: int):
    """Refuse the file (undoing its load) unless its rows account for every line it holds,
    counted from its bytes when it was fingerprinted (files.fingerprint_and_lines), not by a
    CSV reader: the header, one line per row plus the line breaks inside its values, and the
    blank lines both readers skip. A reader that stopped early, or read part of a file as
    one value, would otherwise leave rows counted nowhere (issue 21: an unbalanced quote
    made 190 of 200 rows vanish). A blank line inside a quoted value is counted twice (as a
    break and as a blank line), so the blank lines are an upper bound."""
    extract = reader.extract
    accounted = 1 + rows + breaks + reader.held_breaks
    if accounted == extract.lines:
        return
    blank = blank_lines(extract.read_from)
    if accounted <= extract.lines <= accounted + blank:
        return
    _undo(con, alias, reader, submission_id)
    raise Refused(
        extract.path,
        f"has {extract.lines} lines ({blank} of them blank) but the CSV reader accounted for "
        f"{accounted} (the header, {rows} rows and {breaks + reader.held_breaks} line breaks "
        "inside values), so rows would go uncounted; nothing from it was loaded. Check its "
        "quotes and line ends, or ask the provider to resend it",
    )


def _quarantine_problems(con, alias, schema, sid: str, file: str, today: dt.date, as_received):
    """Each problem of each failing row of the part (file, row, field, reason), and the
    failing rows as received (blank fields as empty text, however the reader gave them)."""
    problems = (
        f"INSERT INTO {alias}.quarantine SELECT $sid, $file, _row, field, reason "
        f"FROM ({schema.problems_sql(VALUES)})"
    )
    con.execute(problems, _used(problems, {"sid": sid, "file": file, "today": today}))
    fields = ", ".join(f"{literal(c)}: coalesce({ident(c)}, '')" for c in schema.source_columns)
    con.execute(
        f"INSERT INTO {alias}.quarantined_rows SELECT $sid, _row, "
        f"CAST(to_json({{{fields}, '_row': _row}}) AS VARCHAR) FROM {as_received()} WHERE _row IN "
        f"(SELECT row FROM {alias}.quarantine WHERE submission_id = $sid)",
        {"sid": sid},
    )


def _quarantine_repeats(con, alias, table: str, record_id: str, names: str, sid, extract):
    """Hold back every exact repeat of an earlier row of the same file: a provider's export
    that wrote a record twice would otherwise count a spell or a patient twice. Only rows
    whose record id occurs more than once can be repeats, so only those are compared whole."""
    params = {"sid": sid, "file": extract.path.name}
    rows = f"{alias}.{table} WHERE submission_id = $sid"
    key = ident(record_id)
    con.execute(
        f"INSERT INTO {alias}.quarantine SELECT $sid, $file, source_row, '{model.WHOLE_ROW}', "
        "'repeats an earlier row of the file exactly' FROM (SELECT source_row, row_number() "
        f"OVER (PARTITION BY {names} ORDER BY source_row) AS n FROM {rows} AND {key} IN "
        f"(SELECT {key} FROM {rows} GROUP BY {key} HAVING count(*) > 1)) WHERE n > 1",
        params,
    )
    repeats = (
        f"SELECT row FROM {alias}.quarantine WHERE submission_id = $sid AND reason LIKE 'repeats%'"
    )
    con.execute(
        f"INSERT INTO {alias}.quarantined_rows SELECT $sid, t.source_row, "
        f"CAST(to_json(t) AS VARCHAR) FROM {alias}.{table} t "
        f"WHERE submission_id = $sid AND source_row IN ({repeats})",
        {"sid": sid},
    )
    con.execute(f"DELETE FROM {rows} AND source_row IN ({repeats})", {"sid": sid})


def _quarantine_malformed(con, alias, malformed: list[Malformed], sid: str, file: str) -> None:
    if not malformed:
        return
    problems = pa.table(
        {
            "submission_id": pa.array([sid] * len(malformed)),
            "file": pa.array([file] * len(malformed)),
            "row": pa.array([m.row for m in malformed], pa.int64()),
            "field": pa.array([m.field or model.WHOLE_ROW for m in malformed]),
            "reason": pa.array([m.reason for m in malformed]),
        }
    )
    once = list({m.row: m for m in malformed}.values())  # each row kept once as received
    received = pa.table(
        {
            "submission_id": pa.array([sid] * len(once)),
            "row": pa.array([m.row for m in once], pa.int64()),
            "received": pa.array([m.text for m in once]),
        }
    )
    con.register("malformed_problems", problems)
    con.register("malformed_rows", received)
    con.execute(f"INSERT INTO {alias}.quarantine SELECT * FROM malformed_problems")
    con.execute(f"INSERT INTO {alias}.quarantined_rows SELECT * FROM malformed_rows")
    con.unregister("malformed_problems")
    con.unregister("malformed_rows")


def _undo(con, alias: str, reader: Reader, submission_id: str) -> None:
    for table in (reader.extract.table.canonical, "quarantine", "quarantined_rows"):
        con.execute(f"DELETE FROM {alias}.{table} WHERE submission_id = ?", [submission_id])
