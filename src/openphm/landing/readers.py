"""Reading one extract file as a stream of chunks of rows, each row numbered as in the file.

Reads a provider's file; writes nothing. CSV is streamed with Arrow's CSV reader in blocks, so
a 2 GB file never sits in memory whole. The header decides the flavour (GP A or B) and the
delimiter; the first block decides the encoding (UTF-8, with or without a byte order mark, or
else Windows-1252, which is how spreadsheets on Windows save "CSV"). Rows that cannot be split
into the header's columns (a truncated last line, a stray delimiter) are not dropped: they are
returned as `Malformed`, with their row number, for quarantine.

Row numbers count records from 1, the header excluded: row 1 of a CSV file is the first row after
its header (a spreadsheet shows it as row 2); row 1 of Parquet or NDJSON is the first record.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from openphm.landing.files import Extract, Refused
from openphm.landing.schema import Schema, literal

BLOCK_BYTES = 16 << 20  # Arrow CSV block: ~100k–300k rows, a few tens of MB in memory
PARQUET_BATCH = 250_000
FHIR_BATCH = 50_000
_SNIFF_BYTES = 1 << 16
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class Malformed:
    """A row that could not be read as a row of the table; `text` stays in the encrypted
    batch file only."""

    row: int
    reason: str
    text: str


@dataclass
class Reader:
    extract: Extract
    schema: Schema
    flavour: str
    encoding: str = "utf-8"
    delimiter: str = ","
    header: tuple[str, ...] = ()  # the CSV header's names, in the file's order
    malformed: list[Malformed] = field(default_factory=list)

    def chunks(self) -> Iterator[pa.Table]:
        """Chunks with a `_row` column and every declared column as strings."""
        if self.extract.format == "parquet":
            yield from self._parquet()
        elif self.extract.format == "fhir":
            from openphm.landing.fhir import read_fhir

            yield from read_fhir(self)
        else:
            yield from self._csv()

    # ----- CSV --------------------------------------------------------------------------------

    def whole_file_sql(self) -> str | None:
        """A DuckDB query reading the whole file, for a file DuckDB's own (parallel) CSV
        reader can take: UTF-8 text. Strict, so a row it cannot split into the header's
        columns, an open quote or bytes that are not UTF-8 raise an error instead of being
        skipped or guessed; the caller then reads the file with `chunks()`, which sets such
        rows aside one by one. Rows come in file order but unnumbered (the caller numbers
        them: see `landing.load._whole_file`). None for Parquet, FHIR and other encodings."""
        if self.extract.format != "csv" or self.encoding != "utf-8":
            return None
        columns = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in self.header)
        path = literal(str(self.extract.read_from))
        return (
            f"SELECT * FROM read_csv({path}, "
            f"auto_detect = false, header = true, delim = {literal(self.delimiter)}, quote = '\"', "
            f"escape = '\"', strict_mode = true, null_padding = false, ignore_errors = false, "
            f"columns = {{{columns}}})"
        )

    def _csv(self) -> Iterator[pa.Table]:
        columns = self.schema.source_columns
        skipped: list[int] = []

        def on_bad_row(row) -> str:
            # Arrow counts the header as row 1; we count records.
            skipped.append(row.number - 1)
            reason = f"has {row.actual_columns} fields; the header has {row.expected_columns}"
            self.malformed.append(Malformed(row.number - 1, reason, row.text))
            return "skip"

        stream = pacsv.open_csv(
            self.extract.read_from,
            # Serial parsing, because only then does Arrow number the rows it cannot split.
            read_options=pacsv.ReadOptions(
                block_size=BLOCK_BYTES, encoding=self.encoding, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=on_bad_row
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                include_columns=list(columns),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        next_row = 1
        for batch in stream:
            rows = _number(next_row, batch.num_rows, skipped)
            if len(rows):
                next_row = int(rows[-1]) + 1
            yield pa.Table.from_batches([batch]).append_column("_row", pa.array(rows))

    # ----- Parquet ----------------------------------------------------------------------------

    def _parquet(self) -> Iterator[pa.Table]:
        columns = list(self.schema.source_columns)
        first = 1
        for batch in pq.ParquetFile(self.extract.read_from).iter_batches(
            batch_size=PARQUET_BATCH, columns=columns
        ):
            table = pa.Table.from_batches([batch]).cast(
                pa.schema([(c, pa.string()) for c in columns])
            )
            rows = np.arange(first, first + table.num_rows, dtype=np.int64)
            first += table.num_rows
            yield table.append_column("_row", pa.array(rows))


def _number(first: int, count: int, skipped: list[int]) -> np.ndarray:
    """Row numbers of `count` good rows from `first` on, stepping over the rows Arrow skipped
    (all of which, up to the end of this block, it has reported by now)."""
    later = [s for s in skipped if s >= first]
    span = np.arange(first, first + count + len(later), dtype=np.int64)
    if later:
        span = span[~np.isin(span, later)]
    return span[:count]


def open_extract(extract: Extract) -> Reader:
    """A reader for the file, its flavour recognised from its header; Refused when the file is
    empty or its header is not one this table has."""
    path, source = extract.path, extract.read_from
    if source.stat().st_size == 0:
        raise Refused(path, "is empty (not even a header row); ask the provider to resend it")
    if extract.format == "fhir":
        return Reader(extract, extract.table.flavours["A"], "FHIR R4")
    if extract.format == "parquet":
        try:
            header = pq.ParquetFile(source).schema_arrow.names
        except (pa.ArrowInvalid, OSError):
            raise Refused(path, "is not a readable Parquet file") from None
        flavour, schema = _flavour(extract, header)
        return Reader(extract, schema, flavour)
    encoding, first_line = _sniff(source)
    delimiter, header = _header(extract, first_line)
    flavour, schema = _flavour(extract, header)
    return Reader(
        extract, schema, flavour, encoding=encoding, delimiter=delimiter, header=tuple(header)
    )


def _sniff(path: Path) -> tuple[str, str]:
    with open(path, "rb") as handle:
        sample = handle.read(_SNIFF_BYTES)
    sample = sample.removeprefix(codecs.BOM_UTF8)
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        encoding = "utf-8"
    except UnicodeDecodeError:
        # Not UTF-8: Windows-1252 decodes every byte, and is what Excel writes on Windows.
        text, encoding = sample.decode("cp1252", errors="replace"), "cp1252"
    return encoding, text.splitlines()[0] if text else ""


def _header(extract: Extract, line: str) -> tuple[str, list[str]]:
    """The delimiter that splits the first line into one flavour's column names (comma when
    none does), and those names."""
    wanted = [set(s.source_columns) for s in extract.table.flavours.values()]
    for delimiter in _DELIMITERS:
        names = next(csv.reader([line], delimiter=delimiter), [])
        if {n.strip() for n in names} in wanted:
            return delimiter, names
    return ",", next(csv.reader([line]), [])


def _flavour(extract: Extract, header: list[str]) -> tuple[str, Schema]:
    names = [n.strip() for n in header]
    best = max(
        extract.table.flavours.items(),
        key=lambda item: len(set(item[1].source_columns) & set(names)),
    )
    flavour, schema = best
    expected = schema.source_columns
    if set(names) == set(expected) and len(names) == len(expected):
        if names != list(header):
            raise Refused(extract.path, "column names in the header have spaces around them")
        return flavour, schema
    table = f"{extract.kind.value} {extract.table.token}"
    if not set(names) & set(expected):
        # The first row may be a patient's data: say how many fields it has, never what.
        raise Refused(
            extract.path,
            f"row 1 is not a header: none of its {len(names)} fields is a column of {table} "
            f"(expected {', '.join(expected)}); ask the provider to resend it with a header row",
        )
    missing = [c for c in expected if c not in names]
    extra = sorted({n for n in names if n not in expected})
    twice = sorted({n for n in names if names.count(n) > 1})
    problems = [
        f"missing column(s) {', '.join(missing)}" if missing else "",
        f"column(s) the contract does not list: {', '.join(extra)}" if extra else "",
        f"repeated column(s) {', '.join(twice)}" if twice else "",
    ]
    raise Refused(
        extract.path,
        f"the header does not match {table} (flavour {flavour}): "
        + "; ".join(p for p in problems if p)
        + ". Nothing from it was loaded; ask the provider to resend it in the contract's shape",
    )
