"""Scoring after `phm analyse` at the same date reads the zone's own analytics instead of
building them again, and only when they are exactly what a build would make now: the same
feature frame either way, and a fresh build whenever the zone, the date or the definitions
have moved since (analytics.runs)."""

from __future__ import annotations

import dataclasses
import shutil

import pandas as pd
import pytest

from openphm.analytics.definitions import AnalyticsOptions
from openphm.analytics.runs import RUNS, current_build
from openphm.analytics.stage import build_on_engine
from openphm.programme.workspace import Workspace
from openphm.risk import features
from openphm.risk.features import FEATURE_BUILD, feature_frame
from openphm.risk.store import open_zone, tables

from .region import END, PREVIOUS_REFRESH


@pytest.fixture(scope="module")
def analysed(region, tmp_path_factory):
    """A copy of the region's workspace, analysed at END as `phm analyse` does: once for the
    module (a build takes seconds), copied again for each test, which may change it."""
    root = tmp_path_factory.mktemp("analysed") / "workspace"
    shutil.copytree(region.workspace, root)
    build_on_engine(Workspace.open(root), "duckdb", END, AnalyticsOptions(sii_simulations=10))
    return root


@pytest.fixture
def ws(analysed, tmp_path):
    """A copy of the analysed workspace, the test's own."""
    shutil.copytree(analysed, tmp_path / "workspace")
    return Workspace.open(tmp_path / "workspace")


@pytest.fixture
def builds(monkeypatch):
    """The reference dates the risk features built analytics at."""
    dates = []
    real = features.build

    def counted(con, day, options):
        dates.append(day)
        return real(con, day, options)

    monkeypatch.setattr(features, "build", counted)
    return dates


def test_features_after_analyse_read_its_tables_and_equal_a_fresh_build(ws, builds, monkeypatch):
    with open_zone(ws, read_only=True) as con:
        reused = feature_frame(con, END)
        assert builds == []
        monkeypatch.setattr(features, "current_build", lambda *a: False)
        fresh = feature_frame(con, END)
    assert builds == [END]
    assert len(reused) > 2000
    pd.testing.assert_frame_equal(reused, fresh)


def change_a_consultation(con):
    con.execute("DELETE FROM zone3.main.consultations WHERE rowid = 0")


def change_a_persons_sex(con):
    # Not the first column: every column of a row counts.
    con.execute(
        "UPDATE zone3.main.people SET sex = CASE WHEN sex = 'F' THEN 'M' ELSE 'F' END "
        "WHERE pseudonym = (SELECT min(pseudonym) FROM zone3.main.people)"
    )


def object_for_someone(con):
    # As the objections hook does: the person's rows leave every table.
    who = con.execute("SELECT min(pseudonym) FROM zone3.main.medications").fetchone()[0]
    con.execute("DELETE FROM zone3.main.medications WHERE pseudonym = ?", [who])


@pytest.mark.parametrize(
    "change", [change_a_consultation, change_a_persons_sex, object_for_someone]
)
def test_a_zone_changed_since_analyse_is_built_again(ws, builds, change):
    with open_zone(ws) as con:
        assert current_build(con, END, FEATURE_BUILD, "zone3")
        change(con)
        assert not current_build(con, END, FEATURE_BUILD, "zone3")
        feature_frame(con, END)
    assert builds == [END]


def test_another_date_or_other_definitions_are_built_again(ws):
    with open_zone(ws, read_only=True) as con:
        assert current_build(con, END, FEATURE_BUILD, "zone3")
        assert not current_build(con, PREVIOUS_REFRESH, FEATURE_BUILD, "zone3")
        wider = dataclasses.replace(FEATURE_BUILD, window_months=24)
        assert not current_build(con, END, wider, "zone3")
        fewer = dataclasses.replace(FEATURE_BUILD, registers=FEATURE_BUILD.registers[1:])
        assert not current_build(con, END, fewer, "zone3")
        # Measures are not read by the features: a build with other measures still serves.
        assert current_build(con, END, AnalyticsOptions(), "zone3")


def test_a_build_that_fails_part_way_leaves_no_record(ws, monkeypatch):
    from openphm.analytics import scores

    def broken(*args, **kwargs):
        raise RuntimeError("the scores step failed")

    monkeypatch.setattr(scores, "person_scores", broken)
    with pytest.raises(RuntimeError):
        build_on_engine(ws, "duckdb", END, AnalyticsOptions(sii_simulations=10))
    with open_zone(ws, read_only=True) as con:
        assert RUNS not in tables(con)
        assert not current_build(con, END, FEATURE_BUILD, "zone3")
    # Nor does a cohort build on what it left: its tables may be half new, half old.
    from openphm.cohorts import build_cohort
    from openphm.cohorts.build import CohortError
    from openphm.cohorts.definition import load_definition

    definition = ws.root / "any.toml"
    definition.write_text('name = "any"\npurpose = "prevention"\nmin_age = 50\n')
    con = ws.connect_linked(read_only=True)
    try:
        with pytest.raises(CohortError, match="no analytics_runs yet: run phm analyse first"):
            build_cohort(con, load_definition(definition))
    finally:
        con.close()
