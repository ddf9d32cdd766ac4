"""Zone 1 is encrypted at rest and only the processor engineer may read it."""

from __future__ import annotations

import pytest

from openphm.engine import connect
from openphm.governance.roles import Refused
from openphm.landing.ingest import ingest
from openphm.landing.read import current_tables, quarantine

from .conftest import GP_A_PATIENTS, put

PLANTED = "9990001236"


def test_the_landing_file_does_not_contain_a_planted_nhs_number_in_plaintext(
    workspace, inbox, engineer
):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    ingest(workspace, [inbox], engineer)
    files = [p for p in workspace.zone("landing").rglob("*") if p.is_file()]
    assert any(p.name.startswith("batch-") for p in files)
    for path in files:
        data = path.read_bytes()
        assert PLANTED.encode() not in data and b"Smith" not in data, path.name


def test_an_analyst_cannot_read_the_landing_zone_and_the_refusal_is_audited(
    workspace, inbox, engineer, analyst
):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    ingest(workspace, [inbox], engineer)
    with pytest.raises(Refused, match=r"may not landing\.read"):
        current_tables(workspace, connect(), analyst)
    with pytest.raises(Refused, match=r"may not landing\.quarantine"):
        quarantine(workspace, connect(), analyst)
    refusals = [e for e in workspace.audit.entries() if e.outcome == "refused"]
    assert [(e.role, e.action) for e in refusals] == [
        ("analyst", "landing.read"),
        ("analyst", "landing.quarantine"),
    ]


def test_an_analyst_cannot_ingest(workspace, inbox, analyst):
    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    with pytest.raises(Refused):
        ingest(workspace, [inbox], analyst)
    assert not any(workspace.zone("landing").glob("batch-*"))


def test_a_batch_cannot_be_opened_without_its_own_key(workspace, inbox, engineer):
    from openphm.engine import EngineError, attach_encrypted
    from openphm.keystore import KeyName

    put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    report = ingest(workspace, [inbox], engineer)
    (path,) = workspace.zone("landing").glob("batch-*.duckdb")
    wrong = workspace.keystore.get(KeyName.LINKED_DATA)
    with pytest.raises(EngineError, match="cannot be opened"):
        attach_encrypted(connect(), path, "b", wrong, read_only=True)
    right = workspace.keystore.get(KeyName.landing_batch(report.batch_id))
    attach_encrypted(connect(), path, "b", right, read_only=True)
