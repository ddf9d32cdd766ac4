"""The linked model is defined once (openphm.linked.model): the page that describes it, the code
that writes it, the code that reads it and the tests' linked zone all agree with that module."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from openphm.linked import model

TYPES = {"VARCHAR", "VARCHAR[]", "DATE", "DOUBLE", "BOOLEAN", "INTEGER", "BIGINT"}
DOC = Path(__file__).parents[2] / "docs" / "linked-model.md"


def _documented() -> dict[str, list[tuple[str, str | None]]]:
    """{table: [(column, type or None)]} from the page's `### table` sections: a table of
    `column | type | meaning` rows (a row may name several columns, comma separated), or one
    header row of columns, each perhaps followed by `(TYPE, …)`."""
    text = DOC.read_text().split("## Tables", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, list[tuple[str, str | None]]] = {}
    for section in text.split("\n### ")[1:]:
        name = section.split()[0]
        rows = [
            [cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines()
            if line.startswith("|") and not set(line) <= set("|- ")
        ]
        columns: list[tuple[str, str | None]] = []
        if rows[0][:2] == ["column", "type"]:
            for cells in rows[1:]:
                for column in cells[0].split(","):
                    columns.append((column.strip(), cells[1] or None))
        else:
            for cell in rows[0]:
                found = re.fullmatch(r"(\w+)(?: \(([\w\[\]]+)[^)]*\))?", cell)
                assert found, f"docs/linked-model.md, {name}: cannot read column {cell!r}"
                kind = found.group(2)
                columns.append((found.group(1), kind if kind in TYPES else None))
        tables[name] = columns
    return tables


def test_the_page_lists_every_table_of_the_model_and_no_other():
    assert set(_documented()) == set(model.TABLES) | set(model.REPORTS)


@pytest.mark.parametrize("table", [*model.TABLES, *model.REPORTS])
def test_the_page_gives_each_tables_columns_in_order_and_the_types_it_names(table):
    typed = dict((model.TABLES | model.REPORTS)[table])
    expected = [c for c in typed if c != "submission_id"]  # a convention of its own (below)
    documented = _documented()[table]
    assert [column for column, _ in documented] == expected
    for column, kind in documented:
        if kind is not None:
            assert kind == typed[column], f"{table}.{column}"


def test_the_page_names_the_tables_that_end_with_submission_id():
    convention = DOC.read_text().split("has one more, last column, `submission_id`")[0]
    listed = convention.rsplit("Every table built row for row from landed files (", 1)[1]
    named = {name.strip() for name in listed.split(")")[0].replace("\n", " ").split(",")}
    ending = {t for t, columns in model.TABLES.items() if columns[-1] == model.SUBMISSION}
    assert named == ending == set(model.RECORDS)


def test_analytics_reads_only_what_the_model_holds():
    from openphm.analytics.zone import REQUIRED

    for table, columns in REQUIRED.items():
        assert set(columns) <= set(model.columns(table)), table


def test_link_makes_every_column_of_the_model_and_no_other():
    from openphm.pseudonymise.deidentify import COLUMNS

    assert {t: [c for c, _, _ in cs] for t, cs in COLUMNS.items()} == {
        t: [c for c, _ in cs] for t, cs in model.RECORDS.items()
    }


def test_the_tests_linked_zone_has_the_models_tables_and_types():
    # tests/analytics/linked.py, loaded by its path (the tests run with --import-mode=importlib)
    spec = importlib.util.spec_from_file_location(
        "analytics_linked", Path(__file__).parents[1] / "analytics" / "linked.py"
    )
    fixture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixture)
    con = fixture.linked_zone()
    for table, columns in model.TABLES.items():
        described = con.execute(f"DESCRIBE linked.{table}").fetchall()
        assert [(c, t) for c, t, *_ in described] == list(columns), table
