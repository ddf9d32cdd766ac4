"""Encryption at rest on Spark: the linked zone as Parquet is encrypted under the zone's data
key from the key store, Spark reads it with that key and with nothing else, and destroying the
key destroys the data (promise P9), as for DuckDB's encrypted database file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from openphm.engine import EngineError, export_linked, open_linked
from openphm.engine.parquet import export_duckdb_zone, read_table
from openphm.governance.audit import Actor
from openphm.keystore import KeyName, MissingKeyError

CANARY = "CANARY-Quillfeather-7e1f"
KEY = KeyName.LINKED_DATA
DPO = Actor("t-dpo", "data-protection-officer")


def _bytes_of(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*.parquet")))


def _canary_zone():
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS linked")
    con.execute(
        f"CREATE TABLE linked.people AS SELECT '{CANARY}' || i AS pseudonym, i AS n "
        "FROM range(100) t(i)"
    )
    return con


def test_a_planted_value_is_not_in_the_parquet_bytes(tmp_path):
    keys = {KEY: os.urandom(32)}
    con = _canary_zone()
    export_duckdb_zone(con, "linked", tmp_path / "zone", keys, KEY)
    # The check can see a canary: written without encryption, the same rows show it.
    pq.write_table(con.execute("SELECT * FROM linked.people").fetch_arrow_table(),
                   tmp_path / "plain.parquet", compression="none")  # fmt: skip
    assert CANARY.encode() in (tmp_path / "plain.parquet").read_bytes()
    assert CANARY.encode() not in _bytes_of(tmp_path / "zone")
    assert read_table(tmp_path / "zone" / "people", keys).num_rows == 100


def test_the_parquet_cannot_be_read_without_its_key(tmp_path):
    keys = {KEY: os.urandom(32)}
    export_duckdb_zone(_canary_zone(), "linked", tmp_path / "zone", keys, KEY)
    with pytest.raises(OSError):
        pq.read_table(tmp_path / "zone" / "people")  # no key at all
    with pytest.raises(EngineError, match="not the one the file was written with"):
        read_table(tmp_path / "zone" / "people", {KEY: os.urandom(32)})
    with pytest.raises(EngineError, match="was not given"):
        read_table(tmp_path / "zone" / "people", {"data/other": keys[KEY]})


def test_spark_reads_the_linked_zone_with_the_key_store_key(linked_workspace, spark_session,
                                                            tmp_path):  # fmt: skip
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(linked_workspace.root)
    zone = _copy_of_linked(ws, tmp_path)
    key = ws.keystore.get(KEY)
    rows = export_linked(zone, KEY, key)
    assert rows["people"] > 2000 and rows["gp_events"] > 0
    con = ws.connect_linked(read_only=True)
    some = con.execute("SELECT min(pseudonym) FROM linked.people").fetchone()[0]
    con.close()
    assert some.encode() not in _bytes_of(zone / "parquet")
    with open_linked("spark", zone, KEY, key, spark_session=spark_session) as opened:
        people = opened.backend.table("people", database=("linked", "main"))
        assert people.count().execute() == rows["people"]
        assert some in set(people.pseudonym.to_pandas())
    # Closed: the session no longer holds the key, so it cannot read the zone again.
    with pytest.raises(Exception, match="was not given to this Spark session"):
        spark_session.read.parquet(str(zone / "parquet" / "people")).count()


def test_what_spark_writes_into_the_zone_is_encrypted_and_read_only_means_no_writes(
    spark_session, tmp_path
):
    keys = {KEY: os.urandom(32)}
    export_duckdb_zone(_canary_zone(), "linked", tmp_path / "parquet", keys, KEY)
    with open_linked("spark", tmp_path, KEY, keys[KEY], spark_session=spark_session) as opened:
        people = opened.backend.table("people", database=("linked", "main"))
        opened.backend.create_table("copied", people, database=("linked", "main"))
    assert (tmp_path / "parquet" / "copied").is_dir()
    assert CANARY.encode() not in _bytes_of(tmp_path / "parquet" / "copied")
    assert read_table(tmp_path / "parquet" / "copied", keys).num_rows == 100
    with open_linked("spark", tmp_path, KEY, keys[KEY], read_only=True,
                     spark_session=spark_session) as opened:  # fmt: skip
        people = opened.backend.table("people", database=("linked", "main"))
        with pytest.raises(Exception, match=r"NO-WRITES|access denied|KeyAccessDenied"):
            opened.backend.create_table("again", people, database=("linked", "main"))
    leftovers = list((tmp_path / "parquet").glob("again/**/*.parquet"))
    assert leftovers == []


def test_closing_the_programme_destroys_the_parquet_copy_too(linked_workspace, tmp_path):
    """Even a copy of the Parquet files taken before close cannot be read after it."""
    from openphm.governance.lifecycle import close_programme
    from openphm.programme.workspace import Workspace

    shutil.copytree(linked_workspace.root, tmp_path / "ws")
    ws = Workspace.open(tmp_path / "ws")
    key = ws.keystore.get(KEY)
    export_linked(ws.zone("linked"), KEY, key)
    kept = shutil.copytree(ws.zone("linked") / "parquet", tmp_path / "kept-copy")
    close_programme(ws, DPO, reason="test: the programme ended")
    assert not (ws.zone("linked") / "parquet").exists()
    with pytest.raises(MissingKeyError):
        ws.keystore.get(KEY)
    with pytest.raises(EngineError):
        read_table(kept / "people", {KEY: os.urandom(32)})


def test_duckdb_refuses_spark_settings_naming_the_engine(tmp_path):
    from openphm.engine import EngineUnsupported

    with pytest.raises(EngineUnsupported, match="not available on the duckdb engine"):
        open_linked("duckdb", tmp_path, KEY, os.urandom(32), spark_master="spark://h:7077")
    with pytest.raises(EngineError, match="'oracle' is not an engine"):
        open_linked("oracle", tmp_path, KEY, os.urandom(32))


def _copy_of_linked(ws, tmp_path: Path) -> Path:
    """The linked zone's DuckDB file copied aside, so exports here leave the shared one be."""
    zone = tmp_path / "linked"
    zone.mkdir()
    shutil.copyfile(ws.zone("linked") / "linked.duckdb", zone / "linked.duckdb")
    return zone


def test_the_programme_chooses_its_engine_duckdb_by_default(example_config):
    from openphm.programme.config import ConfigError, load_config, parse_config

    text = example_config.read_text()
    assert load_config(example_config).engine.kind == "duckdb"
    chosen = parse_config(text + '\n[engine]\nkind = "spark"\nspark_master = "yarn"\n')
    assert (chosen.engine.kind, chosen.engine.spark_master) == ("spark", "yarn")
    with pytest.raises(ConfigError, match="spark_master is set but kind is not"):
        parse_config(text + '\n[engine]\nspark_master = "yarn"\n')
