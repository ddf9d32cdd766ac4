"""Tracing (Splink) on Spark finds the same people as on DuckDB, with the same probabilities: the
model is trained in one place (DuckDB, in memory) and scores with the same comparisons,
blocking rules and parameters in Splink's Spark dialect, on the session OpenPHM makes
(encrypted spill), with nothing identifiable written to disk as plain Parquet and nothing left
cached afterwards."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from openphm.identity import training
from openphm.identity.tracing import (
    Prepared,
    Source,
    TracingError,
    prepare,
    trace,
    trace_sources,
)

_spec = importlib.util.spec_from_file_location(
    "tracing_people", Path(__file__).parents[1] / "identity" / "people.py"
)
people = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(people)


@pytest.fixture(scope="module")
def traced(spark_session, tmp_path_factory):
    """Each engine's pairs and models for the same records and spine (enough records to train
    on), and the files Spark wrote."""
    folder = Path(spark_session.conf.get("spark.local.dir")).parent
    before = {p for p in folder.rglob("*") if p.is_file()}
    region = people.region(2000, training.MIN_RECORDS_TO_TRAIN + 100, seed=7)
    traced = {}
    for engine, connection in (("duckdb", None), ("spark", spark_session)):
        left = Prepared(prepare(region.records, "record_id"))
        right = Prepared(prepare(region.spine, "spine_id"))
        source = Source(("records",), left.frame["unique_id"])
        [traced[engine]] = trace_sources(left, right, [source], engine=engine,
                                         connection=connection)  # fmt: skip
    written = {p for p in folder.rglob("*") if p.is_file()} - before
    return region, traced, written


def test_spark_and_duckdb_trace_the_same_records_to_the_same_people(traced):
    region, traced, _ = traced
    assert traced["duckdb"].model.parameters == traced["spark"].model.parameters == "trained"
    # The same model: EM's sums are added in whatever order DuckDB's threads finish, so m can
    # differ in its last bit between two runs, on any engine.
    ours, theirs = (dict(training.levels(traced[e].model.settings)) for e in ("duckdb", "spark"))
    assert ours.keys() == theirs.keys()
    for key, level in ours.items():
        assert level.keys() == theirs[key].keys(), key
        for name, value in level.items():
            if isinstance(value, float):
                assert value == pytest.approx(theirs[key][name], rel=1e-12, abs=0), (key, name)
            else:
                assert value == theirs[key][name], (key, name)
    chosen = {e: traced[e].threshold for e in ("duckdb", "spark")}
    assert chosen["duckdb"].value == pytest.approx(chosen["spark"].value, abs=1e-9)
    assert chosen["duckdb"].links == chosen["spark"].links
    ours, theirs = (
        traced[e].pairs.set_index("record_id").sort_index() for e in ("duckdb", "spark")
    )
    assert len(ours) >= 0.9 * region.truth.notna().sum()
    assert ours["spine_id"].to_dict() == theirs["spine_id"].to_dict()
    # One model, scored by each engine's SQL: the same probabilities, to rounding.
    assert np.allclose(ours["match_probability"], theirs["match_probability"], rtol=0, atol=1e-9)


def test_tracing_on_spark_writes_no_plain_parquet_and_leaves_nothing_cached(traced, spark_session):
    _, _, written = traced
    assert not [p for p in written if p.suffix == ".parquet" or "parquet" in p.name]
    views = [t.name for t in spark_session.catalog.listTables() if t.isTemporary]
    assert not [v for v in views if "__splink__" in v or v in ("records", "spine")]
    assert spark_session._jsparkSession.sharedState().cacheManager().isEmpty()


def test_tracing_on_spark_without_a_session_is_a_clear_error():
    region = people.region(50, 5, seed=1)
    with pytest.raises(TracingError, match="Spark session"):
        trace(region.records, region.spine, engine="spark")
