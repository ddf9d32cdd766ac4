"""`phm analyse --engine spark`: the analytics built on Spark land in the zone of record (the
DuckDB file the later stages read) equal to DuckDB's own build, and no Parquet copy of the
linked zone is left behind."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from openphm import clock
from openphm.analytics.build import TABLES
from openphm.cli import _register, app
from openphm.engine.compare import differences, zone_tables
from openphm.programme.workspace import Workspace

from .conftest import NOW

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
        # At the programme's clock, as every test here runs (the log is in time order).
        with clock.frozen_at(NOW):
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
    # Since issue 27 the reason also says the dates: "engine spark; as at … (data to …)".
    assert entry.outcome == "ok" and entry.reason.startswith("engine spark; as at ")


@pytest.mark.parametrize("provider", [None, "RZ1"], ids=["practices", "trust-RZ1"])
def test_phm_cohort_on_spark_writes_the_same_lists_and_keeps_no_copy(built, tmp_path, provider):
    """`phm cohort --engine spark` on the workspace DuckDB analysed and the risk model scored:
    the same members and lists as `--engine duckdb`, the Parquet copy deleted, the engine
    audited; for the practices' lists, and for a trust's (its own patients, tokens sealed to
    its key)."""
    from importlib import resources

    import pandas as pd

    from openphm.risk import open_zone, score, train

    root = tmp_path / "ws"
    shutil.copytree(built["duckdb"].root, root)
    ws = Workspace.open(root)
    with open_zone(ws) as con:
        score(con, train(con).model_id)
    definition = resources.files("openphm.cohorts") / "examples" / "frail-high-risk.toml"
    if provider:
        text = definition.read_text().replace("top_risk_percent = 5", "top_risk_percent = 50")
        definition = tmp_path / "frail-rz1.toml"
        definition.write_text(f'provider = "{provider}"\n{text}')
    lists, members = {}, {}
    for engine in ("duckdb", "spark"):
        result = CliRunner().invoke(app, ["cohort", str(root), str(definition),
                                          "--engine", engine, "--role", "analyst"])  # fmt: skip
        assert result.exit_code == 0, result.output
        folder = ws.zone("outputs") / "cohorts"
        lists[engine] = {
            p.relative_to(folder): pd.read_csv(p, dtype=str) for p in sorted(folder.rglob("*.csv"))
        }
        con = ws.connect_linked(read_only=True)
        members[engine] = set(
            con.execute("SELECT pseudonym FROM linked.cohort_members").df()["pseudonym"]
        )
        con.close()
    assert members["duckdb"] and members["spark"] == members["duckdb"]
    assert lists["spark"].keys() == lists["duckdb"].keys()
    if provider:  # the trust's list alone, in its own folder, with tokens sealed to it
        assert {path.parts[0] for path in lists["duckdb"]} == {provider}
        assert all(frame["token"].notna().any() for frame in lists["duckdb"].values())
    for path, ours in lists["duckdb"].items():
        theirs = lists["spark"][path]
        # Tokens are the practice's, sealed once at link: the same in both lists.
        assert (
            ours.sort_values("token")
            .reset_index(drop=True)
            .equals(theirs.sort_values("token").reset_index(drop=True))
        ), path
    assert not (ws.zone("linked") / "parquet").exists()
    entry = [e for e in ws.audit.entries() if e.action == "cohort.build"][-1]
    assert (entry.outcome, entry.reason) == ("ok", "engine spark")


def test_phm_risk_on_spark_trains_and_scores_as_on_duckdb(built, tmp_path):
    """`phm risk train` and `score` with --engine spark (features built on Spark over a
    Parquet copy) give the model and scores --engine duckdb gives: the features are the same
    (test_analytics_differential), and LightGBM is deterministic. The stated tolerance is
    1e-9 relative on metrics and scores."""
    import numpy as np

    from openphm.risk.store import latest_model, open_zone

    found = {}
    for engine in ("duckdb", "spark"):
        root = tmp_path / engine
        shutil.copytree(built["duckdb"].root, root)
        for command in ("train", "score"):
            result = CliRunner().invoke(app, ["risk", command, str(root), "--engine", engine,
                                              "--role", "analyst"])  # fmt: skip
            assert result.exit_code == 0, result.output
        ws = Workspace.open(root)
        with open_zone(ws, read_only=True) as con:
            card = latest_model(con)[2]
            scores = con.execute(
                "SELECT pseudonym, risk FROM zone3.main.person_risk ORDER BY pseudonym"
            ).df()
        assert not (ws.zone("linked") / "parquet").exists()
        entries = [e for e in ws.audit.entries() if e.action.startswith("risk.")]
        assert [e.reason for e in entries[-2:]] == [f"engine {engine}"] * 2
        found[engine] = card, scores
    (ours, our_scores), (theirs, their_scores) = found["duckdb"], found["spark"]
    assert ours["model"]["trees"] == theirs["model"]["trees"]
    for key in ("auc", "average_precision", "calibration_slope"):
        assert np.isclose(ours["metrics"]["model"][key], theirs["metrics"]["model"][key],
                          rtol=1e-9, atol=0)  # fmt: skip
    assert our_scores["pseudonym"].tolist() == their_scores["pseudonym"].tolist()
    assert np.allclose(our_scores["risk"], their_scores["risk"], rtol=1e-9, atol=0)


def test_risk_features_on_spark_read_the_zones_current_analytics(built, tmp_path, monkeypatch):
    """After `phm analyse` at a date, the risk features at that date on Spark read the zone's
    own analytics (nothing built on Spark) and equal a fresh build on DuckDB; once the zone
    changes, Spark builds again (analytics.runs)."""
    import datetime as dt

    import pandas as pd

    from openphm.risk import features, stage
    from openphm.risk.store import open_zone

    day = dt.date.fromisoformat(REFERENCE)
    root = tmp_path / "ws"
    shutil.copytree(built["duckdb"].root, root)
    ws = Workspace.open(root)
    assert stage._current_build_date(ws) == day
    builds = []
    real = features.build
    monkeypatch.setattr(features, "build", lambda *a: builds.append(a[1]) or real(*a))
    with stage.features_on(ws, "spark") as (_, on_spark):
        reused = on_spark(day)
    assert builds == []
    monkeypatch.setattr(features, "current_build", lambda *a: False)
    with open_zone(ws, read_only=True) as con:
        fresh = features.feature_frame(con, day)
    assert builds == [day]
    pd.testing.assert_frame_equal(reused, fresh, check_dtype=False)
    with open_zone(ws) as con:
        con.execute("DELETE FROM zone3.main.consultations WHERE rowid = 0")
    assert stage._current_build_date(ws) is None
