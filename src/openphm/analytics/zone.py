"""Reading the linked zone and writing analytics tables into it, through Ibis only.

The linked zone is a database (`linked` in DuckDB, a database of that name on Spark). This is
the one place that knows how a table is named there, so the rest of the analytics code is the
same on every engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import pandas as pd

from openphm.errors import UserFacingError
from openphm.linked import population

# Tables of docs/linked-model.md that analytics reads, and the columns it needs from each.
REQUIRED: dict[str, tuple[str, ...]] = {
    "people": ("pseudonym", "sex", "birth_month", "ethnic_group", "lsoa", "imd_decile",
               "practice", "date_of_death"),
    "registrations": ("pseudonym", "practice", "start_date", "end_date"),
    "gp_events": ("pseudonym", "event_date", "snomed_code"),
    "medications": ("pseudonym", "issue_date", "dmd_code"),
    "consultations": ("pseudonym", "consultation_date"),
    "apc_spells": ("pseudonym", "admission_date", "discharge_date", "emergency", "elective",
                   "primary_diagnosis", "secondary_diagnoses", "bed_days"),
    "ec_attendances": ("pseudonym", "arrival_date"),
    "op_appointments": ("pseudonym", "appointment_date", "attended"),
    "community_contacts": ("pseudonym", "contact_date"),
    "social_care_services": ("pseudonym", "service_start", "service_end"),
}  # fmt: skip


class LinkedZoneError(UserFacingError):
    """The linked zone lacks a table or column that analytics needs."""


@dataclass
class Zone:
    """The linked zone as an Ibis backend plus the database that holds it."""

    backend: object
    database: tuple[str, str] = ("linked", "main")

    @classmethod
    def over(cls, con_or_backend, database: tuple[str, str] = ("linked", "main")) -> Zone:
        """From a DuckDB connection (with the linked zone attached) or an Ibis backend."""
        if hasattr(con_or_backend, "create_table") and hasattr(con_or_backend, "table"):
            return cls(con_or_backend, database)
        from openphm.engine import ibis_backend

        return cls(ibis_backend(con_or_backend), database)

    def table(self, name: str):
        return self.backend.table(name, database=self.database)

    def tables(self) -> list[str]:
        return self.backend.list_tables(database=self.database)

    def write(self, name: str, expr) -> int:
        """Replace table `name` in the linked zone with `expr`; the number of rows written."""
        self.backend.create_table(name, expr, database=self.database, overwrite=True)
        return int(self.table(name).count().execute())

    def scratch(self, name: str, expr):
        """A temporary table for this build only (never written to the zone file)."""
        return self.backend.create_table(f"_analytics_{name}", expr, temp=True, overwrite=True)

    def per_person(self, name: str, rows, compute, schema):
        """A scratch table of `compute` (a pyarrow Table → a pyarrow Table of `schema`) over
        `rows`, for computations that are Python rather than SQL and need all of a person's
        rows at once. On one machine the rows come here in one table; an engine that spreads
        them over workers (Spark: `engine.spark.ZoneBackend.per_person`) partitions them by
        pseudonym and runs `compute` on each partition where it lies."""
        spread = getattr(self.backend, "per_person", None)
        if spread is not None:
            return spread(f"_analytics_{name}", rows, compute, schema)
        result = compute(rows.to_pyarrow()).cast(schema)
        return self.scratch(name, ibis.memtable(result))

    def check(self) -> None:
        present = set(self.tables())
        for table, columns in REQUIRED.items():
            if table not in present:
                raise LinkedZoneError(
                    f"the linked zone has no table {table!r}; run phm link first "
                    "(docs/linked-model.md lists the tables analytics reads)"
                )
            missing = [c for c in columns if c not in self.table(table).columns]
            if missing:
                raise LinkedZoneError(
                    f"linked.{table} lacks column(s) {', '.join(missing)} "
                    "(see docs/linked-model.md)"
                )


def memtable(frame: pd.DataFrame):
    return ibis.memtable(frame)


def date_literal(day: dt.date):
    return ibis.literal(day, type="date")


months_before = population.months_before  # zone 3's one definition of a window of months


def years_before(day: dt.date, years: int) -> dt.date:
    return months_before(day, 12 * years)
