"""The engine objects (`openphm.engine.engine_for`): which engine a programme or a name gives,
and what the DuckDB engine does when a stage opens zone 3 (the Spark engine's counterparts
are in tests/spark, which run the same stages on both)."""

from __future__ import annotations

import pytest

from openphm.engine import DEFAULT, Engine, EngineError, engine_for, engine_of
from openphm.programme.config import EngineSettings


def test_a_name_a_programme_or_nothing_gives_one_engine_object():
    assert engine_for().name == DEFAULT == engine_for(None).name
    assert engine_for("spark").name == "spark" and engine_for("duckdb").name == "duckdb"
    spark = engine_for(EngineSettings(kind="spark", spark_master="spark://h:7077"))
    assert (spark.name, spark.master) == ("spark", "spark://h:7077")
    assert engine_for(spark) is spark
    # --engine names another engine than the programme's; the programme's master still applies.
    assert engine_for(spark, "spark") == spark
    assert engine_for(EngineSettings(), "spark").name == "spark"
    assert engine_for(EngineSettings(kind="spark"), "duckdb").name == "duckdb"
    assert isinstance(spark, Engine) and str(spark) == "spark"


def test_an_unknown_engine_is_refused_naming_the_choices():
    with pytest.raises(EngineError, match="'oracle' is not an engine; choose one of duckdb, spark"):
        engine_for("oracle")
    with pytest.raises(EngineError, match="'oracle' is not an engine"):
        engine_for(EngineSettings(), "oracle")


def test_a_workspace_gives_its_programmes_engine(workspace):
    assert engine_for(workspace) == engine_for("duckdb")
    assert engine_for(workspace, "spark").name == "spark"


def test_on_duckdb_a_build_runs_in_the_zone_file_record_first_fingerprint_when_asked(workspace):
    con = workspace.connect_linked()
    con.execute("CREATE TABLE linked.built_runs AS SELECT 1 AS run")
    con.execute("CREATE TABLE linked.built AS SELECT 1 AS x")
    before = _tables(con, "linked")
    con.close()
    engine, taken, checked = engine_for(workspace), [], []

    def take(con):
        taken.append(con)
        return con.execute("SELECT count(*) FROM linked.built").fetchone()[0]

    building = engine.building(
        workspace, ["built", "built_runs"], lambda con, value: checked.append(value),
        taken=take, record="built_runs",
    )  # fmt: skip
    with building as zone:
        # The record went first: a build that fails part way claims nothing.
        assert _tables(zone.backend, "linked") == before - {"built_runs"}
        assert taken == []  # read only when the build asks for it
        assert zone.taken == 1 and taken == [zone.backend]  # in the build's own connection
        assert zone.taken == 1 and len(taken) == 1
        zone.backend.execute("CREATE OR REPLACE TABLE linked.built AS SELECT 2 AS x")
    assert checked == []  # built in place: nothing copied back, nothing to check
    con = workspace.connect_linked(read_only=True)
    assert con.execute("SELECT x FROM linked.built").fetchall() == [(2,)]
    con.close()


def test_on_duckdb_a_read_is_read_only_and_alongside_is_the_callers_own_connection(workspace):
    engine = engine_for(workspace)
    with engine.reading(workspace) as con, pytest.raises(Exception, match="read-only"):
        con.execute("CREATE TABLE linked.t AS SELECT 1 AS x")
    with engine.alongside(workspace, taken=lambda con: pytest.fail("nothing to take")) as zone:
        assert zone is None


def test_duckdb_scratch_space_reads_the_zone_and_never_writes_it(workspace):
    con = workspace.connect_linked(alias="zone3")
    con.execute("CREATE TABLE zone3.people AS SELECT 'p1' AS pseudonym")
    before = _tables(con, "zone3")
    engine = engine_of(con)
    assert engine.name == "duckdb"
    with engine.scratch(con, ["people"], source="zone3") as scratch:
        assert scratch.execute("SELECT * FROM linked.people").fetchall() == [("p1",)]
        scratch.execute("CREATE TABLE linked.person_scores AS SELECT 1 AS score")
    assert _tables(con, "zone3") == before
    with pytest.raises(EngineError, match="another name"):
        engine.scratch(con, ["people"], source="linked").__enter__()
    con.close()


def test_duckdb_tracing_works_in_the_callers_connection_and_drops_splinks_tables(workspace):
    con = workspace.connect_linked()
    engine = engine_for(workspace)
    with engine.tracing(None, con) as cursor:
        cursor.execute("CREATE TABLE memory.main.__splink__scores AS SELECT 1 AS x")
        assert engine.splink(cursor).sql_dialect.sql_dialect_str == engine.splink_dialect
    left = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '__splink__%'"
    ).fetchone()[0]
    assert left == 0
    with engine.tracing() as nothing:
        assert nothing is None  # Splink makes its own in-memory database
    con.close()


def test_spark_without_a_session_is_a_clear_error():
    with pytest.raises(EngineError, match="needs a Spark session"):
        engine_for("spark").splink(None)


def _tables(con, database: str) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [database]
    ).fetchall()
    return {row[0] for row in rows}
