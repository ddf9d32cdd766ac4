"""The canonical identifiable model of zone 1 (landing): one table per kind of record.

Reads nothing and writes nothing. Each canonical table's columns are those its adapter declares
(openphm.landing.adapters), after four that say where every row came from; so the model and
the adapters cannot disagree. Two more tables hold what was held back: `quarantine` (one row
per problem: file, row, field, reason; never a value) and `quarantined_rows` (the rows as
received, in the encrypted batch file only, so that nothing is dropped silently).
"""

from __future__ import annotations

from openphm.landing.adapters import canonical_tables

PROVENANCE = (
    ("submission_id", "VARCHAR"),
    ("source_kind", "VARCHAR"),
    ("provider_ods", "VARCHAR"),
    ("source_row", "BIGINT"),
)
QUARANTINE = (
    ("submission_id", "VARCHAR"),
    ("file", "VARCHAR"),
    ("row", "BIGINT"),
    ("field", "VARCHAR"),
    ("reason", "VARCHAR"),
)
QUARANTINED_ROWS = (("submission_id", "VARCHAR"), ("row", "BIGINT"), ("received", "VARCHAR"))
WHOLE_ROW = "(whole row)"  # the `field` of a problem with the row itself, e.g. too few fields


def columns(canonical: str) -> tuple[tuple[str, str], ...]:
    """(name, DuckDB type) of every column of a canonical table."""
    schema = canonical_tables()[canonical].reference
    return (*PROVENANCE, *((f.name, f.kind.sql_type) for f in schema.fields))


def create_sql(alias: str, table: str, cols: tuple[tuple[str, str], ...]) -> str:
    body = ", ".join(f'"{name}" {type_}' for name, type_ in cols)
    return f"CREATE TABLE IF NOT EXISTS {alias}.{table} ({body})"
