"""`phm analyse --engine spark`: the analytics built on Spark land in the zone of record (the
DuckDB file the later stages read) equal to DuckDB's own build, and no Parquet copy of the
linked zone is left behind."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from openphm.analytics.build import TABLES
from openphm.cli import _register, app
from openphm.engine.compare import differences, zone_tables
from openphm.programme.workspace import Workspace

pytestmark = pytest.mark.slow  # a Spark build of the 3,000-person region: about a minute

REFERENCE = "2026-09-30"


@pytest.fixture(scope="module")
def built(linked_workspace, tmp_path_factory):
    _register()
    runner = CliRunner()
    out = {}
    for engine in ("duckdb", "spark"):
        root = tmp_path_factory.mktemp(f"analyse-{engine}") / "ws"
        shutil.copytree(linked_workspace.root, root)
        result = runner.invoke(app, ["analyse", str(root), "--reference-date", REFERENCE,
                                     "--engine", engine, "--role", "analyst"])  # fmt: skip
        assert result.exit_code == 0, result.output
        out[engine] = Workspace.open(root)
    return out


def frames(ws) -> dict:
    con = ws.connect_linked(read_only=True)
    try:
        frames = zone_tables(con, TABLES)
    finally:
        con.close()
    frames["analytics_runs"] = frames["analytics_runs"].iloc[:0]  # when each ran: types only
    return frames


def test_spark_s_analytics_reach_the_zone_file_equal_to_duckdb_s(built):
    ours, theirs = frames(built["duckdb"]), frames(built["spark"])
    for table in TABLES:
        assert len(ours[table]) > 0 or table == "analytics_runs", table
        assert differences(ours[table], theirs[table]) == [], table


def test_no_parquet_copy_is_left_and_the_audit_names_the_engine(built):
    ws = built["spark"]
    assert not (ws.zone("linked") / "parquet").exists()
    entry = [e for e in ws.audit.entries() if e.action == "analytics.build"][-1]
    assert (entry.outcome, entry.reason) == ("ok", "engine spark")
