"""Tracing (Splink) on Spark finds the same people as on DuckDB: the same comparisons, blocking
rules and prior in Splink's Spark dialect, on the session OpenPHM makes (encrypted spill), with
nothing identifiable written to disk as plain Parquet and nothing left cached afterwards."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from openphm.identity.tracing import TracingError, trace

_spec = importlib.util.spec_from_file_location(
    "tracing_people", Path(__file__).parents[1] / "identity" / "people.py"
)
people = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(people)


@pytest.fixture(scope="module")
def traced(spark_session, tmp_path_factory):
    """Each engine's pairs for the same records and spine, and the files Spark wrote."""
    folder = Path(spark_session.conf.get("spark.local.dir")).parent
    before = {p for p in folder.rglob("*") if p.is_file()}
    region = people.region(2000, 300, seed=7)
    pairs = {
        "duckdb": trace(region.records, region.spine),
        "spark": trace(region.records, region.spine, engine="spark", connection=spark_session),
    }
    written = {p for p in folder.rglob("*") if p.is_file()} - before
    return region, pairs, written


def test_spark_and_duckdb_trace_the_same_records_to_the_same_people(traced):
    region, pairs, _ = traced
    ours, theirs = (pairs[e].set_index("record_id").sort_index() for e in ("duckdb", "spark"))
    assert len(ours) >= 0.9 * region.truth.notna().sum()
    assert ours["spine_id"].to_dict() == theirs["spine_id"].to_dict()
    # u is estimated by random sampling, which each engine draws its own way: probabilities
    # agree closely, not to the last bit.
    assert np.allclose(ours["match_probability"], theirs["match_probability"], atol=0.01)


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
