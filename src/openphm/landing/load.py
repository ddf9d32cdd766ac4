"""Loading one extract into an open batch file: validate every row, land the good ones in their
canonical table, quarantine the rest with file, row, field and reason.

Reads a provider's file (openphm.landing.readers); writes zone 1 (the batch attached as
`alias`, encrypted). Nothing is dropped: loaded + quarantined = received for every file, and
`load_extract` checks that before it returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from openphm.landing import model
from openphm.landing.readers import Malformed, Reader
from openphm.landing.schema import ident


@dataclass(frozen=True)
class Counts:
    received: int
    loaded: int
    quarantined: int


class _NotUtf8(Exception):
    """The file turned out not to be UTF-8 beyond the part sniffed."""


def prepare(con, alias: str) -> None:
    """Create the quarantine tables in a new batch (canonical tables come with their rows)."""
    con.execute(model.create_sql(alias, "quarantine", model.QUARANTINE))
    con.execute(model.create_sql(alias, "quarantined_rows", model.QUARANTINED_ROWS))


def load_extract(con, alias: str, reader: Reader, submission_id: str, today: dt.date) -> Counts:
    """Load one file into the batch; if it proves not to be UTF-8 part-way, undo and read it
    again as Windows-1252 (which decodes every byte, so no row is lost)."""
    try:
        return _load(con, alias, reader, submission_id, today)
    except _NotUtf8:
        _undo(con, alias, reader, submission_id)
        reader.encoding, reader.malformed = "cp1252", []
        return _load(con, alias, reader, submission_id, today)


def _load(con, alias: str, reader: Reader, submission_id: str, today: dt.date) -> Counts:
    extract = reader.extract
    table = extract.table.canonical
    con.execute(model.create_sql(alias, table, model.columns(table)))
    good = reader.schema.good_sql("chunk")
    problems = reader.schema.problems_sql("chunk")
    names = ", ".join(ident(f.name) for f in reader.schema.fields)
    constants = {
        "sid": submission_id,
        "kind": extract.kind.value,
        "ods": extract.provider,
        "file": extract.path.name,
        "today": today,
    }
    received = 0
    chunks = reader.chunks()
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            break
        except pa.ArrowInvalid as err:
            if "UTF8" in str(err) and reader.encoding == "utf-8":
                raise _NotUtf8 from None
            raise
        received += chunk.num_rows
        con.register("chunk", chunk)
        con.execute(
            f"INSERT INTO {alias}.{table} (submission_id, source_kind, provider_ods, "
            f"source_row, {names}) SELECT $sid, $kind, $ods, _row, {names} FROM ({good})",
            {k: constants[k] for k in ("sid", "kind", "ods", "today")},
        )
        con.execute(
            f"INSERT INTO {alias}.quarantine SELECT $sid, $file, _row, field, reason "
            f"FROM ({problems})",
            {k: constants[k] for k in ("sid", "file", "today")},
        )
        con.execute(
            f"INSERT INTO {alias}.quarantined_rows SELECT $sid, c._row, "
            "CAST(to_json(c) AS VARCHAR) FROM chunk c WHERE c._row IN "
            f"(SELECT row FROM {alias}.quarantine WHERE submission_id = $sid)",
            {"sid": submission_id},
        )
        con.unregister("chunk")
    if extract.table.repeats_are_faults:
        _quarantine_repeats(con, alias, table, names, submission_id, extract.path.name)
    _quarantine_malformed(con, alias, reader.malformed, submission_id, extract.path.name)
    received += len(reader.malformed)
    loaded, quarantined = con.execute(
        f"SELECT (SELECT count(*) FROM {alias}.{table} WHERE submission_id = $sid), "
        f"(SELECT count(DISTINCT row) FROM {alias}.quarantine WHERE submission_id = $sid)",
        {"sid": submission_id},
    ).fetchone()
    if loaded + quarantined != received:
        raise AssertionError(
            f"{extract.path.name}: {received} rows received but {loaded} loaded and "
            f"{quarantined} quarantined; nothing was committed"
        )
    return Counts(received, loaded, quarantined)


def _quarantine_repeats(con, alias: str, table: str, names: str, sid: str, file: str) -> None:
    """Hold back every exact repeat of an earlier row of the same file: a provider's export
    that wrote a record twice would otherwise count a spell or a prescription twice."""
    params = {"sid": sid, "file": file}
    con.execute(
        f"INSERT INTO {alias}.quarantine SELECT $sid, $file, source_row, '{model.WHOLE_ROW}', "
        "'repeats an earlier row of the file exactly' FROM (SELECT source_row, row_number() "
        f"OVER (PARTITION BY {names} ORDER BY source_row) AS n FROM {alias}.{table} "
        "WHERE submission_id = $sid) WHERE n > 1",
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
    con.execute(
        f"DELETE FROM {alias}.{table} WHERE submission_id = $sid AND source_row IN ({repeats})",
        {"sid": sid},
    )


def _quarantine_malformed(con, alias, malformed: list[Malformed], sid: str, file: str) -> None:
    if not malformed:
        return
    rows = pa.array([m.row for m in malformed], pa.int64())
    problems = pa.table(
        {
            "submission_id": pa.array([sid] * len(malformed)),
            "file": pa.array([file] * len(malformed)),
            "row": rows,
            "field": pa.array([model.WHOLE_ROW] * len(malformed)),
            "reason": pa.array([m.reason for m in malformed]),
        }
    )
    received = pa.table(
        {
            "submission_id": pa.array([sid] * len(malformed)),
            "row": rows,
            "received": pa.array([m.text for m in malformed]),
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
