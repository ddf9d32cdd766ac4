"""`phm ingest`, `phm quarantine`, `phm retention` on the command line."""

from __future__ import annotations

from openphm import clock

from .conftest import GP_A_PATIENTS, put


def test_ingest_then_quarantine_lists_file_field_reason_and_rows(cli, workspace, inbox):
    bad = GP_A_PATIENTS.replace("1960-03-02", "1960-13-02")
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", bad)
    result = cli(["ingest", workspace.root, inbox, "--role", "processor-engineer"])
    assert result.exit_code == 0, result.output
    assert "3 rows received, 2 loaded, 1 quarantined" in result.output
    result = cli(["quarantine", workspace.root, "--rows"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "date_of_birth" in line)
    assert "Y10001_patients_202610.csv" in line and "│ 1 " in line and "│ 2" in line
    assert "1960" not in result.output


def test_a_refused_file_exits_2_after_loading_the_rest(cli, workspace, inbox):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    put(inbox, "gp", "Y99999", "Y99999_patients_202610.csv", GP_A_PATIENTS)
    result = cli(["ingest", workspace.root, inbox])
    assert result.exit_code == 2
    assert "does not list gp extracts from Y99999" in result.output
    assert "1 file(s) loaded" in result.output and "Traceback" not in result.output


def test_a_missing_path_is_one_clear_error(cli, workspace, inbox):
    result = cli(["ingest", workspace.root, inbox / "nope"])
    assert result.exit_code == 2 and "nope: no such file or folder" in result.output


def test_an_analyst_is_refused_quarantine(cli, workspace):
    result = cli(["quarantine", workspace.root, "--role", "analyst"])
    assert result.exit_code == 2 and "may not landing.quarantine" in result.output


def test_retention_command_reports_what_it_destroyed(cli, workspace, inbox):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    cli(["ingest", workspace.root, inbox])
    result = cli(["retention", workspace.root, "--role", "data-protection-officer"])
    assert result.exit_code == 0 and "Destroyed 0 batch(es)" in result.output
    with clock.frozen_at("2026-11-20T00:00:00"):
        result = cli(["retention", workspace.root, "--role", "data-protection-officer"])
    assert result.exit_code == 0, result.output
    assert "Destroyed 1 batch(es)" in result.output
    entries = [e for e in workspace.audit.entries() if e.action == "landing.retention"]
    assert [e.counts["batches_destroyed"] for e in entries] == [0, 1]


def test_help_is_there_for_each_command(cli):
    for command in ("ingest", "quarantine", "retention"):
        result = cli([command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_quarantine_as_json_names_file_field_reason_and_rows_without_values(cli, workspace, inbox):
    import json

    bad = GP_A_PATIENTS.replace("1960-03-02", "1960-13-02")
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", bad)
    assert cli(["ingest", workspace.root, inbox, "--role", "processor-engineer"]).exit_code == 0
    result = cli(["quarantine", workspace.root, "--rows", "--json"])
    assert result.exit_code == 0, result.output
    held = json.loads(result.output)  # JSON and nothing else: no table, no markup
    assert [(h["file"], h["field"], h["rows"], h["row_numbers"]) for h in held] == [
        ("Y10001_patients_202610.csv", "date_of_birth", 1, [2])
    ]
    assert "1960" not in result.output
