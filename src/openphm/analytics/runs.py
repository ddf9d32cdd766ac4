"""Whether the zone's own analytics build is the one a new build would make.

`build` records in analytics_runs two fingerprints beside the reference date:

- of what it read: for every table analytics may read (`zone.REQUIRED`, and deaths), its row
  count and the sum of its rows' hashes, computed by DuckDB in the zone file, the zone of
  record on either engine. Any row added, removed or changed (a new submission linked, an
  objection applied) changes it.
- of how it built: the analytics code itself, the pycomorb version, and the options that shape
  the per-person tables (window, registers, hospital scores), with the contents of the code
  lists and tariff the build used. Measures, groupings and SII simulations are left out: no
  per-person table depends on them.

The risk stage builds the analytics at its scoring date to read features from; where the zone's
own build (`phm analyse`) is at that date and both fingerprints match the zone and options as
they are now, its tables are exactly what that build would write, so the features read them
instead (one build fewer: docs/risk-and-cohorts.md). Anything unsure answers "not current",
and the caller builds.

DuckDB SQL: the fingerprint is of the DuckDB file whichever engine built the analytics.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from importlib import metadata
from pathlib import Path

from openphm.analytics.zone import REQUIRED
from openphm.errors import UserFacingError

RUNS = "analytics_runs"
# The tables whose rows a build reads: a change to any of them can change what it writes.
INPUTS = (*REQUIRED, "deaths")


class ZoneChangedError(UserFacingError):
    """The zone changed under a build that read a copy of it."""


def inputs_fingerprint(con, database: str) -> str:
    """One value for the contents of every INPUTS table in `database` (a DuckDB catalogue):
    per table, its row count and the sum of its rows' hashes (a sum, not an exclusive or, so
    that two identical rows do not cancel out). About 1.5 s for a 1M-person zone on 2 cores."""
    present = _tables(con, database)
    digest = hashlib.sha256()
    for table in INPUTS:
        if table not in present:
            digest.update(f"{table}:absent;".encode())
            continue
        rows, total = con.execute(
            f"SELECT count(*), coalesce(sum(hash(t)), 0)::VARCHAR FROM {database}.main.{table} AS t"
        ).fetchone()
        digest.update(f"{table}:{rows}:{total};".encode())
    return digest.hexdigest()


def definitions_fingerprint(options, lists: dict, tariff: dict[str, float]) -> str:
    """One value for how a build with `options` computes the per-person tables: the analytics
    code, pycomorb's version, the shaping options and the lists and tariff it read."""
    from openphm.analytics.definitions import HOSPITAL_LOOKBACK_YEARS

    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    shape = (
        metadata.version("pycomorb"),
        options.window_months,
        options.registers,
        options.hospital_scores,
        HOSPITAL_LOOKBACK_YEARS,
        sorted(tariff.items()),
        sorted((name, sorted(codelist.codes)) for name, codelist in lists.items()),
    )
    digest.update(repr(shape).encode())
    return digest.hexdigest()


def current_build(con, reference_date: dt.date, options, database: str) -> bool:
    """True when `database`'s analytics tables were built at `reference_date`, from the
    zone's present contents, the way a build with `options` would build them now."""
    return current_date(con, options, database, at=reference_date) is not None


def current_date(con, options, database: str, *, at: dt.date | None = None) -> dt.date | None:
    """The reference date of `database`'s analytics build when it is current (built from the
    zone's present contents, the way a build with `options` would build it now), else None.
    `at`: only a build at that date counts, and no fingerprint is taken for any other."""
    from openphm.analytics import activity
    from openphm.analytics.build import codelists_for

    if RUNS not in _tables(con, database):
        return None
    columns = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND table_name = ?",
            [database, RUNS],
        ).fetchall()
    }
    if not {"inputs_fingerprint", "definitions_fingerprint"} <= columns:
        return None  # built before the fingerprints were recorded
    rows = con.execute(
        f"SELECT reference_date, inputs_fingerprint, definitions_fingerprint "
        f"FROM {database}.main.{RUNS}"
    ).fetchall()
    if len(rows) != 1 or not rows[0][1] or (at is not None and rows[0][0] != at):
        return None
    day, inputs, made_by = rows[0]
    lists, _ = codelists_for(options)
    if made_by != definitions_fingerprint(options, lists, activity.load_tariff(
            options.tariff_path)):  # fmt: skip
        return None
    return day if inputs == inputs_fingerprint(con, database) else None


def built_data_end(con, database: str = "linked") -> dt.date | None:
    """The data's end recorded by the latest analytics build (None when not recorded)."""
    try:
        row = con.execute(f"SELECT data_end FROM {database}.main.{RUNS}").fetchone()
    except Exception:  # built before the data's end was recorded, or not built
        return None
    return row[0] if row else None


def _tables(con, database: str) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [database]
        ).fetchall()
    }
