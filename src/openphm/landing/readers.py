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
import dataclasses
import encodings.cp1252
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from openphm.landing.files import Extract, Refused
from openphm.landing.schema import Schema, literal

BLOCK_BYTES = 16 << 20  # Arrow CSV block: ~100k–300k rows, a few tens of MB in memory
PARQUET_BATCH = 250_000
FHIR_BATCH = 50_000
_SNIFF_BYTES = 1 << 16
_DELIMITERS = (",", ";", "\t", "|")
_GLOB = re.compile(r"[*?\[\]{}]")  # what DuckDB's file readers take as a pattern
_LINE_BREAK = re.compile("\r\n|\r|\n")  # what both CSV readers take as the end of a line

# Windows-1252 as the WHATWG Encoding Standard (and so every browser) decodes it: the five
# bytes the code page leaves undefined become the C1 control characters of the same number,
# so every byte decodes and no row is lost. Python's own `cp1252` raises on them, which made
# a file with one such byte refused whole. A field holding one is then quarantined, naming
# its row, field and byte (`Reader._hold_undefined`): the byte means the file is probably in
# another encoding, and the value cannot be trusted.
WINDOWS_1252 = "openphm-windows-1252"
UNDEFINED_IN_1252 = frozenset(chr(b) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
_TABLE_1252 = "".join(
    ch if ch != "\ufffe" else chr(byte) for byte, ch in enumerate(encodings.cp1252.decoding_table)
)
_ENCODE_1252 = codecs.charmap_build(_TABLE_1252)


class _Decoder1252(codecs.IncrementalDecoder):
    def decode(self, data, final=False):
        return codecs.charmap_decode(data, self.errors, _TABLE_1252)[0]


class _Encoder1252(codecs.IncrementalEncoder):
    def encode(self, text, final=False):
        return codecs.charmap_encode(text, self.errors, _ENCODE_1252)[0]


def _find_codec(name: str) -> codecs.CodecInfo | None:
    if name != WINDOWS_1252.replace("-", "_"):
        return None
    return codecs.CodecInfo(
        name=WINDOWS_1252,
        encode=lambda text, errors="strict": codecs.charmap_encode(text, errors, _ENCODE_1252),
        decode=lambda data, errors="strict": codecs.charmap_decode(data, errors, _TABLE_1252),
        incrementalencoder=_Encoder1252,
        incrementaldecoder=_Decoder1252,
    )


codecs.register(_find_codec)
_CODEC = {"cp1252": WINDOWS_1252}  # the encoding a reader reports -> the codec that reads it


@dataclass(frozen=True)
class Malformed:
    """A row that could not be read as a row of the table; `text` stays in the encrypted
    batch file only."""

    row: int
    reason: str
    text: str
    field: str | None = None  # None: the whole row


@dataclass
class Reader:
    extract: Extract
    schema: Schema
    flavour: str
    encoding: str = "utf-8"
    delimiter: str = ","
    header: tuple[str, ...] = ()  # the CSV header's names, in the file's order
    malformed: list[Malformed] = field(default_factory=list)
    # Line breaks inside the values of rows set aside by `_hold_undefined` (whose values never
    # reach the load's count of line breaks), for load.reconcile_lines.
    held_breaks: int = 0
    # A layout's file: how its header matched the layout (version, missing, unknown columns).
    header_check: object = None

    @property
    def unkept(self) -> tuple[str, ...]:
        """Columns of the file read but not kept (a layout's other columns): their values are
        still searched for line breaks and rows swallowed by a stray quote (load.py), so that
        no row can hide in a column nothing else reads."""
        kept = set(self.schema.source_columns)
        return tuple(c for c in self.header if c not in kept)

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
        name = str(self.extract.read_from)
        if _GLOB.search(name):
            # DuckDB's read_csv takes a file name as a glob pattern, with no way to escape
            # one: a folder named `inbox[1]` read `inbox1`'s file (issue 21). A file is read
            # through its open descriptor (/proc/self/fd/N, files.opened), which holds none
            # of these; any other name goes to Arrow, which opens the name as it is.
            return None
        columns = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in self.header)
        path = literal(name)
        return (
            f"SELECT * FROM read_csv({path}, "
            f"auto_detect = false, header = true, delim = {literal(self.delimiter)}, quote = '\"', "
            f"escape = '\"', strict_mode = true, null_padding = false, ignore_errors = false, "
            f"columns = {{{columns}}})"
        )

    def _csv(self) -> Iterator[pa.Table]:
        columns = (*self.schema.source_columns, *self.unkept)
        skipped: list[int] = []  # Arrow's numbers of the rows it could not split
        # Where a malformed row spanned several lines (Arrow's number, lines added so far):
        # rows after it are numbered that many lines later (`_shifted`).
        spans: list[tuple[int, int]] = []

        def on_bad_row(row) -> str:
            # Arrow counts the header as row 1; we count records.
            number = row.number - 1
            skipped.append(number)
            first = number + (spans[-1][1] if spans else 0)
            lines = _LINE_BREAK.split(row.text)
            fields = f"{row.actual_columns} fields; the header has {row.expected_columns}"
            if len(lines) == 1:
                self.malformed.append(Malformed(first, f"has {fields}", row.text))
                return "skip"
            # An unbalanced quote: Arrow read everything up to the next quote (or the end of
            # the file) as one value. Each line it swallowed is a record of the file, held
            # with its own number, so that none goes uncounted.
            last = first + len(lines) - 1
            reason = (
                f'a quote (") opened in row {first} is not closed where that row ends, so rows '
                f"{first} to {last} could not be split into fields (read as one row they have "
                f"{fields})"
            )
            for offset, line in enumerate(lines):
                self.malformed.append(Malformed(first + offset, reason, line))
            spans.append((number, (spans[-1][1] if spans else 0) + len(lines) - 1))
            return "skip"

        stream = pacsv.open_csv(
            self.extract.read_from,
            # Serial parsing, because only then does Arrow number the rows it cannot split.
            read_options=pacsv.ReadOptions(
                block_size=BLOCK_BYTES,
                encoding=_CODEC.get(self.encoding, self.encoding),
                use_threads=False,
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
            rows = _shifted(rows, spans)
            table = pa.Table.from_batches([batch]).append_column("_row", pa.array(rows))
            yield self._hold_undefined(table) if self.encoding == "cp1252" else table

    def _hold_undefined(self, table: pa.Table) -> pa.Table:
        """The rows of `table` with no byte Windows-1252 leaves undefined; each row with one
        is set aside as `Malformed`, once per field that holds one, naming the byte."""
        pattern = "[" + "".join(sorted(UNDEFINED_IN_1252)) + "]"
        columns = self.schema.source_columns
        held = None
        for column in columns:
            found = pc.match_substring_regex(table[column], pattern)
            if pc.any(found).as_py():
                held = found if held is None else pc.or_(held, found)
        if held is None:
            return table
        for record in table.filter(held).to_pylist():
            text = json.dumps(record, ensure_ascii=False)
            # Every column's breaks, a layout's unkept ones too (the load counts none of them).
            self.held_breaks += sum(
                len(_LINE_BREAK.findall(value))
                for column, value in record.items()
                if column != "_row" and isinstance(value, str)
            )
            for column in columns:
                byte = next((ord(c) for c in record[column] if c in UNDEFINED_IN_1252), None)
                if byte is not None:
                    reason = (
                        f"holds the byte 0x{byte:02X}, which Windows-1252 leaves undefined "
                        "(the file may be in another encoding); ask the provider to correct it"
                    )
                    self.malformed.append(Malformed(record["_row"], reason, text, column))
        return table.filter(pc.invert(held))

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


def _shifted(rows: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Arrow's row numbers moved on by the lines that malformed rows before them spanned."""
    if not spans:
        return rows
    at = np.array([a for a, _ in spans], dtype=np.int64)
    added = np.array([0] + [n for _, n in spans], dtype=np.int64)
    return rows + added[np.searchsorted(at, rows)]


def open_extract(extract: Extract) -> Reader:
    """A reader for the file, its flavour recognised from its header; Refused when the file is
    empty or its header is not one this table has."""
    path, source = extract.path, extract.read_from
    if source.stat().st_size == 0:
        raise Refused(path, "is empty (not even a header row); ask the provider to resend it")
    if extract.table.layout is not None:
        return _layout_reader(extract)
    if extract.format == "fhir":
        return Reader(extract, extract.table.reference, "FHIR R4")
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


@dataclass(frozen=True)
class LayoutHeader:
    """What a layout file's first line says: its encoding, delimiter, header and how that
    header matches the layout (phm layout check shows it; the load refuses on problems)."""

    encoding: str
    byte_order_mark: bool
    delimiter: str
    header: tuple[str, ...]
    check: object  # layouts.HeaderCheck, or None when row 1 is not a header
    refusal: str  # why the file cannot be loaded; "" when it can


def layout_header(extract: Extract) -> LayoutHeader:
    """The delimiter (of the layout's) that splits the header into the most of the layout's
    columns, the encoding, and the version the header matches, naming what is missing or
    unknown (docs/extract-formats.md, "Layouts")."""
    layout = extract.table.layout
    source = extract.read_from
    known = layout.known_columns
    bom = False
    if extract.format == "parquet":
        try:
            header = pq.ParquetFile(source).schema_arrow.names
        except (pa.ArrowInvalid, OSError):
            raise Refused(extract.path, "is not a readable Parquet file") from None
        encoding, delimiter = "utf-8", ","
    else:
        with open(source, "rb") as handle:
            bom = handle.read(3) == codecs.BOM_UTF8
        encoding, first_line = _sniff(source)
        if layout.encoding:
            encoding = "cp1252" if layout.encoding == "windows-1252" else "utf-8"
            first_line = _first_line(source, encoding)

        def score(delimiter: str) -> int:
            names = next(csv.reader([first_line], delimiter=delimiter), [])
            return len(set(layout.as_layout_names([n.strip() for n in names])) & known)

        delimiter = max(layout.delimiters, key=score)  # the first of equals
        header = next(csv.reader([first_line], delimiter=delimiter), [])
    names = [n.strip() for n in header]
    if not set(layout.as_layout_names(names)) & known:
        refusal = (
            f"row 1 is not a header: none of its {len(names)} fields is a column of the "
            f"{layout.name} layout; ask the sender to resend it with a header row"
        )
        return LayoutHeader(encoding, bom, delimiter, tuple(header), None, refusal)
    check = layout.check_header(header)
    refusal = ""
    if check.problems:
        refusal = (
            f"the header does not match the {layout.name} layout (closest version "
            f"{check.version.name}): " + "; ".join(check.problems) + ". Nothing from it was loaded"
        )
    return LayoutHeader(encoding, bom, delimiter, tuple(header), check, refusal)


def _layout_reader(extract: Extract) -> Reader:
    """A reader for a file in a layout's shape, with the checks for the kept fields the file
    carries; Refused, naming what is missing or unknown, when it cannot be loaded."""
    from openphm.landing.adapters import layout_schema

    layout = extract.table.layout
    found = layout_header(extract)
    if found.refusal:
        raise Refused(extract.path, found.refusal)
    header = list(found.header)
    names = [n.strip() for n in header]
    as_given = dict(zip(layout.as_layout_names(names), header, strict=True))
    schema = layout_schema(layout, frozenset(as_given))
    schema = Schema(
        tuple(
            dataclasses.replace(f, source=as_given[_layout_column(layout, f.source_name)])
            for f in schema.fields
        )
    )
    return Reader(
        extract,
        schema,
        f"{layout.name} {found.check.version.name}",
        encoding=found.encoding,
        delimiter=found.delimiter,
        header=tuple(header),
        header_check=found.check,
    )


def _layout_column(layout, file_column: str) -> str:
    return dict(layout.renamed).get(file_column, file_column)


def _first_line(path: Path, encoding: str) -> str:
    with open(path, "rb") as handle:
        sample = handle.read(_SNIFF_BYTES).removeprefix(codecs.BOM_UTF8)
    text = sample.decode(_CODEC.get(encoding, encoding), errors="replace")
    return text.splitlines()[0] if text else ""


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
    """The flavour whose columns the header holds most of. Flavours that differ only by an
    optional column (a trust's `local_patient_id`) tie on a header without it: then the one
    the header matches exactly, else the one it misses fewest columns of, so that a refusal
    names only what is really missing."""
    names = [n.strip() for n in header]

    def fit(item: tuple[str, Schema]) -> tuple[int, bool, int]:
        expected = set(item[1].source_columns)
        return (
            len(expected & set(names)),
            expected == set(names) and len(names) == len(expected),
            -len(expected - set(names)),
        )

    best = max(extract.table.flavours.items(), key=fit)
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
