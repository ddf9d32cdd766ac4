"""Promise P2 (and P8): nothing that identifies a person crosses into the linked zone, and
what was linked outlives the identifiable landing data it came from."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from openphm import clock
from openphm.governance.audit import Actor
from openphm.governance.schedule import keep_promises
from openphm.practice.tokens import BOX_VERSION, TOKEN_VERSION
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link

from .region import CANARIES, ENGINEER, copy_workspace, linked_tables, snapshot

DPO = Actor("test-dpo", "data-protection-officer")


def _needles(linked) -> dict[str, str]:
    return {**CANARIES, "patient_ref": linked.canary_patient_ref}


def test_no_canary_value_appears_in_any_column_of_any_linked_table(linked_region):
    ws = Workspace.open(linked_region.workspace)
    con = ws.connect_linked(read_only=True)
    found = []
    try:
        tables = linked_tables(con)
        assert {"people", "apc_spells", "link_report", "linkage_equity"} <= set(tables)
        for table in tables:
            columns = [c[0] for c in con.execute(f"DESCRIBE linked.{table}").fetchall()]
            for column in columns:
                for name, value in _needles(linked_region).items():
                    hits = con.execute(
                        f"SELECT count(*) FROM linked.{table} "
                        f'WHERE contains(lower("{column}"::VARCHAR), lower(?))',
                        [value],
                    ).fetchone()[0]
                    if hits:
                        found.append((table, column, name))
    finally:
        con.close()
    assert found == []


def test_the_canary_patient_is_linked_with_only_their_month_of_birth(linked_region):
    """The canary rows were linked (so the search above looked at real data), de-identified."""
    ws = Workspace.open(linked_region.workspace)
    con = ws.connect_linked(read_only=True)
    try:
        months = con.execute(
            "SELECT count(*) FROM linked.people WHERE birth_month = DATE '1911-11-01'"
        ).fetchone()[0]
    finally:
        con.close()
    assert months >= 1


def test_the_canary_hospital_number_reaches_zone_3_only_sealed_to_its_trust(linked_region):
    """RZ1's canary local patient id was keyed and sealed (so the searches above and below
    looked for a value that went through the provider's path): its trust's private key opens
    it from one of RZ1's tokens, which is the only place it is in zone 3."""
    from openphm.practice.keys import load_private_key
    from openphm.practice.tokens import open_tokens

    ws = Workspace.open(linked_region.workspace)
    con = ws.connect_linked(read_only=True)
    try:
        tokens = [t for (t,) in con.execute(
            "SELECT token FROM linked._provider_refs WHERE provider = 'RZ1' AND token IS NOT NULL"
        ).fetchall()]  # fmt: skip
    finally:
        con.close()
    key = load_private_key(linked_region.region / "providers" / "RZ1" / "keys" / "provider.key")
    opened = open_tokens(tokens, key, ods_code="RZ1")
    assert not opened.failures and len(tokens) > 100
    assert CANARIES["local_patient_id"] in {p.patient_ref for p in opened.patients}


def test_no_canary_value_appears_in_the_audit_log_or_any_file_outside_landing_and_keys(
    linked_region,
):
    needles = [v.lower().encode() for v in _needles(linked_region).values()]
    leaks = []
    for path in Path(linked_region.workspace).rglob("*"):
        relative = path.relative_to(linked_region.workspace)
        if not path.is_file() or relative.parts[0] in ("landing", "keys"):
            continue
        content = path.read_bytes().lower()
        leaks += [(str(relative), n.decode()) for n in needles if n in content]
    assert leaks == []


@pytest.mark.programme  # links the region a second time, about 10 s: tests/pseudonymise/region.py
def test_linking_twice_changes_nothing(linked_region, tmp_path):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    before = snapshot(ws)
    result = link(ws, ENGINEER)
    after = snapshot(ws)
    assert result.submissions_linked == 0 and result.tokens_sealed == 0
    assert before.keys() == after.keys()
    for table in before:
        assert before[table].equals(after[table]), table


@pytest.mark.programme  # links the region a second time, about 10 s: tests/pseudonymise/region.py
def test_a_resubmission_replaces_the_rows_of_the_file_it_supersedes(linked_region, tmp_path):
    from openphm.landing.ingest import ingest

    ws = copy_workspace(linked_region, tmp_path / "ws")
    con = ws.connect_linked(read_only=True)
    old = con.execute(
        "SELECT submission_id FROM linked._submissions WHERE provider = 'RZ1' "
        "AND canonical_table = 'ec_attendances' ORDER BY period DESC LIMIT 1"
    ).fetchone()[0]
    con.close()
    ingest(ws, [linked_region.resubmission], ENGINEER)
    result = link(ws, ENGINEER)
    assert result.submissions_linked == 1 and result.submissions_replaced == 1
    con = ws.connect_linked(read_only=True)
    try:
        left = con.execute(
            "SELECT count(*) FROM linked.ec_attendances WHERE submission_id = ?", [old]
        ).fetchone()[0]
        new = con.execute(
            "SELECT count(*) FROM linked.ec_attendances e JOIN linked._submissions s "
            "USING (submission_id) WHERE s.revision = 2"
        ).fetchone()[0]
    finally:
        con.close()
    assert left == 0 and new > 0
    assert result.superseded_rows > 0


def test_linked_data_outlives_the_landing_batch_retention_destroyed(
    linked_region, tmp_path, monkeypatch
):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    before = snapshot(ws)
    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-20T10:00:00"))  # 17 days later
    ws = Workspace.open(ws.root)
    keep_promises(ws, DPO)  # the DPO's scheduled job: retention
    assert not list((ws.root / "landing").glob("batch-*.duckdb"))
    result = link(ws, ENGINEER)
    after = snapshot(ws)
    assert result.submissions_linked == 0
    for table in before:
        assert before[table].equals(after[table]), table


def _tokens(ws) -> dict[str, tuple[str, str]]:
    con = ws.connect_linked(read_only=True)
    try:
        rows = con.execute("SELECT ref_pseudonym, practice, token FROM linked._gp_refs").fetchall()
    finally:
        con.close()
    return {ref: (practice, token) for ref, practice, token in rows if token is not None}


def _ephemeral_key(token: str) -> bytes:
    """Bytes 9 to 40 of a version 2 or 3 token: after the version byte and the key id."""
    return _raw(token)[9:41]


@pytest.mark.programme  # links the region a second time, about 10 s: tests/pseudonymise/region.py
def test_a_practice_holding_a_token_of_an_earlier_version_is_sealed_again(linked_region, tmp_path):
    """Tokens sealed before version 3 are unpadded, so their lengths show their patient
    references' lengths: a practice with any such token on its current list has the whole
    list sealed again in the next run, and other practices' tokens are left as they were."""
    ws = copy_workspace(linked_region, tmp_path / "ws")
    before = _tokens(ws)
    chosen, (practice, token) = next(iter(before.items()))
    assert _raw(token)[0] == TOKEN_VERSION
    older = base64.urlsafe_b64encode(bytes([BOX_VERSION]) + _raw(token)[1:]).rstrip(b"=")
    _set_token(ws, chosen, older.decode())
    result = link(ws, ENGINEER)
    ours = _assert_only_the_practice_resealed_under_one_key(ws, before, practice, result)
    after = _tokens(ws)  # read once: each read opens the encrypted zone
    assert {_raw(after[ref][1])[0] for ref in ours} == {TOKEN_VERSION}


@pytest.mark.programme  # links the region a second time, about 10 s: tests/pseudonymise/region.py
def test_one_patient_needing_a_token_reseals_the_whole_practice_under_one_key(
    linked_region, tmp_path
):
    """Tokens of one run share an ephemeral key, so a patient sealed alone (new to the list,
    or back after withdrawing an objection) would stand out: their practice's whole list is
    sealed again instead, and other practices' tokens are left as they were."""
    ws = copy_workspace(linked_region, tmp_path / "ws")
    before = _tokens(ws)
    chosen, (practice, _) = next(iter(before.items()))
    _set_token(ws, chosen, None)
    result = link(ws, ENGINEER)
    _assert_only_the_practice_resealed_under_one_key(ws, before, practice, result)


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _set_token(ws, ref_pseudonym: str, token: str | None) -> None:
    con = ws.connect_linked()
    con.execute(
        "UPDATE linked._gp_refs SET token = ? WHERE ref_pseudonym = ?", [token, ref_pseudonym]
    )
    con.close()


def _assert_only_the_practice_resealed_under_one_key(ws, before, practice, result) -> set[str]:
    """Every current token of `practice` sealed again, all under one ephemeral key, and no
    other practice's token changed; returns the practice's patients (ref pseudonyms)."""
    after = _tokens(ws)
    ours = {ref for ref, (p, _) in before.items() if p == practice}
    assert result.tokens_sealed == len(ours) > 1
    assert all(after[ref][1] != before[ref][1] for ref in ours)
    assert len({_ephemeral_key(after[ref][1]) for ref in ours}) == 1
    others = {ref for ref in before if ref not in ours}
    assert others and all(after[ref] == before[ref] for ref in others)
    return ours


def test_phm_link_writes_the_linked_model_exactly(linked_region):
    """Every person-level table and report of openphm.linked.model, with its columns in order
    and their types; any other table is `phm link`'s bookkeeping (its name starts with `_`)."""
    from openphm.linked import model

    ws = Workspace.open(linked_region.workspace)
    con = ws.connect_linked(read_only=True)
    try:
        tables = set(linked_tables(con))
        every = model.TABLES | model.REPORTS | model.INFO
        assert {t for t in tables if not t.startswith("_")} == set(every)
        for table, columns in every.items():
            described = con.execute(f"DESCRIBE linked.{table}").fetchall()
            assert [(c, t) for c, t, *_ in described] == list(columns), table
    finally:
        con.close()
