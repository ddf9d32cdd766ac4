"""Zones that hold patient data are encrypted at rest; deleting the key makes them unreadable."""

from __future__ import annotations

import pytest

from openphm.engine import EngineError, attach_encrypted, connect
from openphm.keystore import KeyName

CANARY = "ZEBEDEE-QUIXOTE-9990001234"


def plant(workspace) -> None:
    con = workspace.connect_linked()
    con.execute("CREATE TABLE linked.canary AS SELECT ? AS value FROM range(1000)", [CANARY])
    con.execute("CHECKPOINT linked")
    con.close()


def zone_bytes(workspace) -> bytes:
    return b"".join(p.read_bytes() for p in (workspace.root / "linked").rglob("*") if p.is_file())


def test_a_planted_value_is_not_in_the_zone_file(workspace):
    plant(workspace)
    assert CANARY.encode() not in zone_bytes(workspace)
    con = workspace.connect_linked(read_only=True)
    assert con.execute("SELECT count(*) FROM linked.canary").fetchone() == (1000,)


def test_the_zone_cannot_be_opened_without_its_key(workspace):
    plant(workspace)
    con = connect()
    with pytest.raises(Exception, match="without a key"):
        con.execute(f"ATTACH '{workspace.root / 'linked' / 'linked.duckdb'}' AS z")


def test_the_zone_cannot_be_opened_with_another_key(workspace):
    plant(workspace)
    with pytest.raises(EngineError, match="cannot be opened with the key given"):
        attach_encrypted(connect(), workspace.root / "linked" / "linked.duckdb", "z", bytes(32))


def test_destroying_the_key_makes_the_zone_unreadable(workspace):
    plant(workspace)
    assert workspace.keystore.destroy(KeyName.LINKED_DATA)
    with pytest.raises(Exception, match="destroyed"):
        workspace.connect_linked()
