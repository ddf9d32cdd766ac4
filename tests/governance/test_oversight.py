"""The audit entries of the data protection officer's reading commands: `phm audit show|verify`
(governance.oversight), `phm notice` (governance.notice.write_notice) and `phm schedule show`
(governance.schedule.shown_timetable). Each is written by the stage the command calls, and
counts only."""

import json

DPO = ["--role", "data-protection-officer"]


def last_entry(workspace):
    return list(workspace.audit.entries())[-1]


def test_showing_the_log_records_how_many_entries_were_shown(cli, workspace):
    for _ in range(2):
        cli(["schedule", "show", workspace.root, *DPO])
    before = len(list(workspace.audit.entries()))
    assert before == 3  # the workspace's making, and the two above
    cli(["audit", "show", workspace.root, "--last", "2", *DPO])
    entry = last_entry(workspace)
    assert (entry.action, entry.outcome, entry.role) == ("audit.show", "ok", DPO[1])
    assert dict(entry.counts) == {"entries_shown": 2}
    shown = json.loads(cli(["audit", "show", workspace.root, "--json", *DPO]).output)
    assert (
        dict(last_entry(workspace).counts)
        == {"entries_shown": len(shown)}
        == {"entries_shown": before + 1}
    )


def test_verifying_the_log_records_the_entries_checked_or_the_problems_found(cli, workspace):
    entries = len(list(workspace.audit.entries()))
    assert cli(["audit", "verify", workspace.root, *DPO]).exit_code == 0
    entry = last_entry(workspace)
    assert (entry.action, entry.outcome, dict(entry.counts)) == (
        "audit.verify", "ok", {"entries": entries}
    )  # fmt: skip
    path = workspace.root / "audit" / "audit.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["user"] = "mallory"
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    result = cli(["audit", "verify", workspace.root, *DPO])
    assert result.exit_code == 1, result.output
    entry = last_entry(workspace)
    assert (entry.action, entry.outcome) == ("audit.verify", "failed")
    assert list(entry.counts) == ["problems"] and entry.counts["problems"] >= 1


def test_writing_the_notice_records_the_file_written(cli, workspace, tmp_path):
    assert cli(["notice", workspace.root, "--role", "analyst"]).exit_code == 0
    entry = last_entry(workspace)
    assert (entry.action, entry.outcome, entry.writes) == (
        "programme.notice", "ok", ("privacy-notice.md",)
    )  # fmt: skip
    elsewhere = tmp_path / "notice-for-the-website.md"
    assert cli(["notice", workspace.root, "--out", elsewhere, "--role", "analyst"]).exit_code == 0
    assert "How we use your information" in elsewhere.read_text()
    assert last_entry(workspace).writes == ("notice-for-the-website.md",)


def test_showing_the_schedule_records_that_it_was_shown(cli, workspace):
    for form in ([], ["--json"]):
        result = cli(["schedule", "show", workspace.root, *form, "--role", "analyst"])
        assert result.exit_code == 0, result.output
        entry = last_entry(workspace)
        assert (entry.action, entry.outcome, entry.reads, entry.writes) == (
            "schedule.show", "ok", (), ()
        )  # fmt: skip
