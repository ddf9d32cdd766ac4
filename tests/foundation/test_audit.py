"""The audit log is append-only and hash-chained: verify names any edited, removed or
reordered entry."""

from __future__ import annotations

import json

import pytest

from openphm.governance.audit import Actor, AuditLog


@pytest.fixture
def log(tmp_path):
    audit = AuditLog.initialise(tmp_path / "audit")
    actor = Actor("alice", "processor-engineer")
    for n in range(1, 6):
        audit.record(actor, "landing.ingest", reads=(f"file{n}.csv",), counts={"loaded": n})
    return audit


def lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines()


def write(log: AuditLog, new_lines: list[str]) -> None:
    log.path.write_text("\n".join(new_lines) + "\n")


def test_an_untouched_log_verifies(log):
    result = log.verify()
    assert result.ok and result.entries == 5


def test_an_entry_records_who_role_action_and_counts_but_no_values(log):
    entry = list(log.entries())[2]
    assert (entry.user, entry.role) == ("alice", "processor-engineer")
    assert entry.action == "landing.ingest"
    assert entry.counts == {"loaded": 3}
    assert entry.time.startswith("20")


def test_an_edited_entry_is_named(log):
    rows = lines(log)
    entry = json.loads(rows[2])
    entry["counts"]["loaded"] = 999
    rows[2] = json.dumps(entry)
    write(log, rows)
    result = log.verify()
    assert not result.ok
    assert any("entry 3" in p and "edited" in p for p in result.problems)


def test_an_edited_entry_with_a_recomputed_hash_is_still_caught(log):
    from openphm.governance.audit import AuditEntry

    rows = lines(log)
    entry = AuditEntry.from_json(json.loads(rows[2]))
    forged = AuditEntry(**{**entry.__dict__, "user": "mallory", "hash": ""})
    forged = AuditEntry(**{**forged.__dict__, "hash": forged.computed_hash()})
    rows[2] = json.dumps({**forged.body(), "hash": forged.hash})
    write(log, rows)
    result = log.verify()
    assert any("entry 4" in p and "replaced" in p for p in result.problems)


def test_a_removed_entry_is_named(log):
    rows = lines(log)
    del rows[1]
    write(log, rows)
    result = log.verify()
    assert any("entry 2 missing" in p for p in result.problems)


def test_entries_removed_from_the_end_are_caught(log):
    write(log, lines(log)[:3])
    result = log.verify()
    assert any("entries 4 to 5 were removed from the end" in p for p in result.problems)


def test_reordered_entries_are_named(log):
    rows = lines(log)
    rows[1], rows[2] = rows[2], rows[1]
    write(log, rows)
    result = log.verify()
    assert not result.ok
    assert any("out of order" in p for p in result.problems)


def test_a_damaged_line_is_named(log):
    rows = lines(log)
    rows[0] = rows[0][:20]
    write(log, rows)
    assert any("line 1" in p for p in log.verify().problems)


def test_counts_must_be_whole_numbers_so_no_value_can_hide_in_them(log):
    with pytest.raises(TypeError):
        log.record(Actor("a", "analyst"), "x", counts={"nhs_number": "9990001234"})
