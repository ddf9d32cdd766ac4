"""The audit log is append-only and hash-chained: verify names any edited, removed or
reordered entry."""

from __future__ import annotations

import datetime as dt
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


# ----- crash safety and time order (issue 28) -----------------------------------------------


class Killed(BaseException):
    """Stands for the process being killed at that instant: nothing after it runs."""


def _kill(*args, **kwargs):
    raise Killed


def test_a_kill_between_the_line_and_the_head_never_reuses_a_number(log, monkeypatch):
    actor = Actor("bob", "processor-engineer")
    with monkeypatch.context() as patched:
        patched.setattr(AuditLog, "_write_head", _kill)
        with pytest.raises(Killed):
            log.record(actor, "landing.ingest", counts={"loaded": 6})
    AuditLog(log.directory).record(actor, "audit.show")
    numbers = [entry.seq for entry in log.entries()]
    assert numbers == [1, 2, 3, 4, 5, 6, 7]
    assert log.verify().ok, log.verify().problems


def test_a_torn_last_line_is_cut_off_and_the_chain_goes_on(log):
    whole = lines(log)[-1]
    with open(log.path, "a", encoding="utf-8") as handle:
        handle.write(whole[: len(whole) // 2])  # the write a crash interrupted
    log.record(Actor("bob", "processor-engineer"), "audit.show")
    assert [entry.seq for entry in log.entries()] == [1, 2, 3, 4, 5, 6]
    assert log.verify().ok, log.verify().problems


def test_a_whole_last_entry_that_lost_only_its_line_end_is_kept(log):
    log.path.write_text(log.path.read_text().removesuffix("\n"))
    log.record(Actor("bob", "processor-engineer"), "audit.show")
    assert [entry.seq for entry in log.entries()] == [1, 2, 3, 4, 5, 6]
    assert log.verify().ok, log.verify().problems


def test_entries_removed_from_the_end_are_still_caught_once_more_are_written(log):
    write(log, lines(log)[:3])
    log.record(Actor("bob", "processor-engineer"), "audit.show")
    result = log.verify()
    assert any("4 to 5" in p and "missing" in p for p in result.problems), result.problems


def _rechain(log: AuditLog, rows: list[dict]) -> None:
    """Rewrite the log from `rows` with every hash and link recomputed, as a forger would."""
    from openphm.governance.audit import GENESIS, AuditEntry

    previous, out = GENESIS, []
    for row in rows:
        entry = AuditEntry.from_json({**row, "prev": previous, "hash": ""})
        entry = AuditEntry(**{**entry.__dict__, "hash": entry.computed_hash()})
        out.append(json.dumps({**entry.body(), "hash": entry.hash}, sort_keys=True))
        previous = entry.hash
    write(log, out)
    log.head_path.write_text(json.dumps({"seq": len(rows), "hash": previous}) + "\n")


def test_an_entry_dated_before_the_one_before_it_is_named(log):
    rows = [json.loads(line) for line in lines(log)]
    rows[3]["time"] = "2020-01-01T00:00:00.000000+00:00"
    _rechain(log, rows)
    result = log.verify()
    assert any("entry 4" in p and "earlier" in p for p in result.problems), result.problems


def _clock_at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr("openphm.clock.now", lambda: moment)


def test_a_clock_a_little_behind_dates_the_entry_just_after_the_last(log, monkeypatch):
    last = dt.datetime.fromisoformat(list(log.entries())[-1].time)
    _clock_at(monkeypatch, last - dt.timedelta(seconds=30))
    entry = log.record(Actor("bob", "processor-engineer"), "audit.show")
    assert dt.datetime.fromisoformat(entry.time) > last
    assert log.verify().ok, log.verify().problems


def test_a_clock_far_behind_still_dates_the_entry_after_the_last_and_says_so(log, monkeypatch):
    last = list(log.entries())[-1]
    _clock_at(monkeypatch, dt.datetime.fromisoformat(last.time) - dt.timedelta(days=2))
    entry = log.record(Actor("bob", "processor-engineer"), "audit.show", reason="shown")
    assert entry.time > last.time
    assert entry.reason.startswith("shown; the system clock read ")
    assert "2 days before entry 5" in entry.reason
    assert log.verify().ok, log.verify().problems
