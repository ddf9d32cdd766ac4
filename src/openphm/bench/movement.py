"""The movement floor: the data movement the design itself requires, and nothing else.

Reads a synthetic region's extracts; writes two encrypted DuckDB files in a scratch folder,
removed at the end. Zones 1 and 3 are encrypted at rest (docs/promises.md: Parquet or DuckDB
files), and OpenPHM keeps both as encrypted DuckDB files, so before it checks, traces,
pseudonymises, analyses or trains anything it must at least:

1. land: read each extract once and append it, every field as text, to one table per table and
   column layout in an encrypted batch file, with `phm ingest`'s files at once, threads,
   memory limit and one checkpoint at DETACH, largest first (what `phm ingest` does, less every
   check, canonical value, quarantine and fingerprint);
2. link: copy every table of that file once into a second encrypted file (what `phm link`
   writes, less tracing, pseudonyms, tokens, objections and the de-identification itself).

`phm bench --movement-floor` runs this as a stage beside the I/O floor and divides the pipeline
by it; `benchmarks/movement_floor.py` runs it on an existing region, and also the same two steps
with both zones as encrypted Parquet files (`movement_floor_parquet`: the other form at rest the
design allows, which OpenPHM does not use for zone 1 or 3 today). Keys are random, used once
and never stored; the region is synthetic.
"""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openphm.engine import attach_encrypted, connect
from openphm.landing.ingest import CHECKPOINT_AT_DETACH, MEMORY_LIMIT, WORKERS, threads_per_file


def movement_floor(region: Path, scratch: Path) -> dict[str, int]:
    """Land the region's extracts and copy them once (the module's two steps); counts, with
    each step's seconds and the two files' sizes."""
    files = sorted((region / "extracts").rglob("*.csv"))
    with tempfile.TemporaryDirectory(dir=scratch, prefix="movement-") as folder:
        work = Path(folder)
        key = secrets.token_bytes(32)
        batch, linked = work / "landing.duckdb", work / "linked.duckdb"
        started = time.perf_counter()
        tables = land(files, batch, key, work / "spill-landing")
        landed = time.perf_counter()
        rows = copy(batch, key, linked, work / "spill-linked")
        copied = time.perf_counter()
        sizes = batch.stat().st_size, linked.stat().st_size
    return _counts(files, tables, rows, (started, landed, copied), sizes)


def movement_floor_parquet(region: Path, scratch: Path) -> dict[str, int]:
    """The two steps with encrypted Parquet at rest: each extract written as an encrypted
    Parquet file (a file per core at once, one DuckDB thread each, largest first: the I/O
    floor plus the encryption), then each table and column layout's files read and written
    once, on every thread, as one encrypted Parquet file under another key."""
    files = sorted((region / "extracts").rglob("*.csv"))
    with tempfile.TemporaryDirectory(dir=scratch, prefix="movement-parquet-") as folder:
        landing, linked = Path(folder) / "landing", Path(folder) / "linked"
        landing.mkdir()
        linked.mkdir()
        con = connect(threads=1)
        # Throw-away keys for a benchmark on synthetic data: DuckDB takes a Parquet key only
        # in the statement's text, which is why OpenPHM's zones do not use this writer.
        for name in ("landing", "linked"):
            con.execute(f"PRAGMA add_parquet_key('{name}', '{_random_key()}')")
        written = {n: landing / f"{n}.parquet" for n in range(len(files))}

        def write(number: int) -> None:
            with con.cursor() as cursor:
                cursor.execute(
                    "COPY (SELECT * FROM read_csv(?, all_varchar = true, ignore_errors = true)) "
                    f"TO '{written[number]}' (ENCRYPTION_CONFIG {{footer_key: 'landing'}})",
                    [str(files[number])],
                )

        started = time.perf_counter()
        largest_first = sorted(written, key=lambda n: -files[n].stat().st_size)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(write, largest_first))
        landed = time.perf_counter()
        con.execute("RESET threads")
        layouts: dict[str, list[str]] = {}
        for number, path in enumerate(files):
            layouts.setdefault(_layout(path), []).append(str(written[number]))
        rows = 0
        for layout, parts in sorted(layouts.items()):
            (count,) = con.execute(
                "COPY (SELECT * FROM read_parquet(?, encryption_config = {footer_key: 'landing'})) "
                f"TO '{linked / f'{layout}.parquet'}' (ENCRYPTION_CONFIG {{footer_key: 'linked'}})",
                [parts],
            ).fetchone()
            rows += count
        copied = time.perf_counter()
        con.close()
        sizes = tuple(sum(f.stat().st_size for f in d.iterdir()) for d in (landing, linked))
    return _counts(files, len(layouts), rows, (started, landed, copied), sizes)


def _counts(files, tables: int, rows: int, times: tuple[float, float, float], sizes) -> dict:
    started, landed, copied = times
    return {
        "files": len(files),
        "tables": tables,
        "rows": rows,
        "landing_s": round(landed - started),
        "copy_s": round(copied - landed),
        "landing_mb": round(sizes[0] / 1e6),
        "linked_mb": round(sizes[1] / 1e6),
    }


def _random_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def land(files: list[Path], batch: Path, key: bytes, spill: Path) -> int:
    """Step 1; returns how many tables the batch has."""
    # Set up as `phm ingest` sets up its batch, so that the floor follows it.
    sizes = [path.stat().st_size for path in files]
    con = connect(threads=threads_per_file(sizes), memory_limit=MEMORY_LIMIT, temp_directory=spill)
    con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_AT_DETACH}'")
    attach_encrypted(con, batch, "batch", key)
    layouts = {path: _layout(path) for path in files}
    for layout in sorted(set(layouts.values())):
        first = next(path for path in files if layouts[path] == layout)
        con.execute(
            f"CREATE TABLE batch.{layout} AS SELECT * FROM read_csv(?, all_varchar = true) LIMIT 0",
            [str(first)],
        )

    def append(path: Path) -> None:
        with con.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO batch.{layouts[path]} BY NAME SELECT * FROM "
                "read_csv(?, all_varchar = true, ignore_errors = true)",
                [str(path)],
            )

    largest_first = sorted(files, key=lambda path: -path.stat().st_size)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(append, largest_first))
    con.execute("DETACH batch")
    con.close()
    return len(set(layouts.values()))


def copy(batch: Path, batch_key: bytes, linked: Path, spill: Path) -> int:
    """Step 2, in one transaction as `phm link` writes; returns the rows copied."""
    con = connect(memory_limit=MEMORY_LIMIT, temp_directory=spill)
    attach_encrypted(con, batch, "batch", batch_key, read_only=True)
    attach_encrypted(con, linked, "linked", secrets.token_bytes(32))
    tables = [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'batch' ORDER BY 1"
        ).fetchall()
    ]
    rows = 0
    con.execute("BEGIN")
    for table in tables:
        con.execute(f"CREATE TABLE linked.{table} AS SELECT * FROM batch.{table}")
        rows += con.execute(f"SELECT count(*) FROM linked.{table}").fetchone()[0]
    con.execute("COMMIT")
    con.execute("DETACH linked")
    con.close()
    return rows


def _layout(path: Path) -> str:
    """A table name per source kind, table and header (flavours differ in their columns)."""
    kind = path.parent.parent.name.replace("-", "_")
    table = path.name.split("_")[1]
    with path.open("rb") as text:
        header = text.readline()
    return f"{kind}_{table}_{zlib.crc32(header):08x}"
