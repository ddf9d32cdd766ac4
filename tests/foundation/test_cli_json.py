"""`phm --version`, and `--json` on the listing commands: the output is JSON and nothing else
(no Rich table or markup), with the fields the table shows."""

from __future__ import annotations

import json
from importlib.metadata import version

import pandas as pd

from openphm.governance.audit import Actor


def as_json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_version_is_the_installed_package_version(cli):
    result = cli(["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"phm (openphm) {version('openphm')}"


def test_status_as_json(cli, workspace):
    status = as_json(cli(["status", workspace.root, "--json", "--role", "analyst"]))
    programme = workspace.config.programme
    assert status["programme"] == programme.name
    assert status["end_date"] == programme.end_date.isoformat()
    from openphm.programme.workspace import ZONES

    assert set(status["zones"]) == set(ZONES) and "linked" in ZONES
    assert "all programme data" in [d["what"] for d in status["due"]]


def test_schedule_show_as_json(cli, workspace):
    due = as_json(cli(["schedule", "show", workspace.root, "--json", "--role",
                       "data-protection-officer"]))  # fmt: skip
    assert {"what": "all programme data",
            "when": workspace.config.programme.end_date.isoformat(),
            "how": "close: every data key, then files; certificate",
            "due_now": False} in due  # fmt: skip


def test_audit_show_as_json_gives_whole_entries(cli, workspace):
    cli(["status", workspace.root, "--role", "analyst"])
    entries = as_json(cli(["audit", "show", workspace.root, "--json", "--last", "1",
                           "--role", "data-protection-officer"]))  # fmt: skip
    assert len(entries) == 1
    assert (entries[0]["action"], entries[0]["role"]) == ("workspace.status", "analyst")
    assert len(entries[0]["hash"]) == 64


def test_linked_tables_as_json(cli, workspace):
    con = workspace.connect_linked()
    con.execute("CREATE TABLE linked.people (pseudonym VARCHAR, sex VARCHAR)")
    con.execute("INSERT INTO linked.people VALUES ('a', 'F'), ('b', 'M')")
    con.close()
    found = as_json(cli(["tables", workspace.root, "--json", "--role", "analyst"]))
    assert {"table": "people", "rows": 2, "columns": ["pseudonym", "sex"]} in found


def test_release_list_as_json(cli, workspace):
    from openphm.disclosure.releases import request_release, save_draft

    assert as_json(cli(["release", "list", workspace.root, "--json", "--role", "analyst"])) == []
    cells = pd.DataFrame({"practice": ["Y10001", "Y10002"], "people": [140, 97]})
    con = workspace.connect_linked()
    save_draft(con, "people", cells, groups=["practice"], counts=["people"],
               description="people per practice")  # fmt: skip
    con.close()
    made = request_release(workspace, Actor("ann", "analyst"), ["people"], purpose="prevention",
                           title="People per practice")  # fmt: skip
    listed = as_json(cli(["release", "list", workspace.root, "--json", "--role", "analyst"]))
    assert listed == [{"id": made["id"], "title": "People per practice", "purpose": "prevention",
                       "requester": "ann", "status": "awaiting approval",
                       "approved_by": None}]  # fmt: skip
