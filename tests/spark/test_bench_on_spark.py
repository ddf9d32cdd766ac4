"""`phm bench --engine spark`: the benchmark's programme runs on Spark from link to cohorts,
and leaves no Parquet copy or Spark folder behind."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from openphm.cli import _register, app
from openphm.programme.workspace import Workspace

pytestmark = pytest.mark.slow  # a 2,000-person programme on local Spark: about 3 minutes


def test_the_benchmark_programme_runs_on_spark(tmp_path):
    _register()
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        app, ["bench", "--people", "2000", "--engine", "spark", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "on spark" in result.output
    for stage in ("ingest", "link", "analyse", "risk", "cohorts", "release"):
        assert stage in result.output
    assert "ratio of pipeline to the I/O floor" in result.output

    ws = Workspace.open(out / "workspace")
    assert ws.config.engine.kind == "spark"
    built = [e for e in ws.audit.entries() if e.action == "cohort.build"]
    assert built and built[-1].reason == "engine spark"
    assert built[-1].counts["members"] > 0
    # The copies Spark worked on are gone: only the zone of record remains.
    assert not (ws.zone("linked") / "parquet").exists()
    assert not list(ws.zone("landing").glob(".spark-trace-*"))
