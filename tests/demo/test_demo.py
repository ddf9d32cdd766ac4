"""`phm demo`, the README's main job, runs every stage end to end on a small region."""

from __future__ import annotations

import json
import re

import pytest

from openphm.programme.workspace import Workspace


# The whole programme on a 2,000-person region, about 25 s: an end-to-end run, so it is in the
# programme tier (`make test-programme`, which CI runs), not `make test`.
@pytest.mark.programme
def test_the_demo_runs_the_programme_end_to_end(cli, tmp_path):
    folder = tmp_path / "demo"
    result = cli(["demo", "--people", "2000", "--workspace", folder])
    assert result.exit_code == 0, result.output
    assert "injected faults caught" in result.output
    ws = Workspace.open(folder / "workspace")
    assert ws.audit.verify().ok
    [manifest] = [
        json.loads(p.read_text()) for p in ws.zone("outputs").glob("releases/*/manifest.json")
    ]
    assert manifest["status"] == "released"
    assert manifest["requester"] != manifest["approved_by"]
    assert (ws.zone("outputs") / "privacy-notice.md").exists()
    assert list(ws.zone("outputs").glob("cohorts/*/frail-high-risk.csv"))
    assert list((folder / "region" / "practices").glob("*/worklist-frail-high-risk.csv"))
    assert "tries the same list: 0 opened" in result.output
    # objectors' rows are kept out of the linked zone, and the demo says how many
    kept_out = re.search(
        r"objectors, ([\d,]+) of their rows kept out", " ".join(result.output.split())
    )
    assert kept_out and int(kept_out.group(1).replace(",", "")) > 0
    con = ws.connect_linked(read_only=True)
    assert con.execute("SELECT count(*) FROM linked.people").fetchone()[0] > 1500
    con.close()
    # the close, rehearsed on a copy, destroyed the copy's keys and left this programme open
    words = " ".join(result.output.split())
    assert re.search(r"close rehearsed on a copy at [\d-]+: \d+ keys destroyed", words)
    assert not ws.closed and ws.keystore.has("linkage")
    assert [e.action for e in ws.audit.entries()][-2:] == ["schedule.run", "schedule.rehearse"]


def test_the_demo_will_not_empty_a_folder_it_did_not_make(cli, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = cli(["demo", "--people", "2000", "--workspace", tmp_path])
    assert result.exit_code == 2 and "not made by phm demo" in result.output
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.programme  # a second whole demo (about 70 s): the programme tier
def test_the_demo_runs_on_a_region_in_the_published_layouts(cli, tmp_path):
    """`phm demo --layouts real`: the region's hospital data as HES, its community data as
    CSDS; every stage runs, and every injected fault is caught in those files too."""
    folder = tmp_path / "demo"
    result = cli(["demo", "--people", "2000", "--workspace", folder, "--layouts", "real"])
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())
    assert "hospital data as HES (APC, OP, A&E), community data as CSDS" in words
    caught = re.search(r"(\d+) of (\d+) injected faults caught", words)
    assert caught and caught.group(1) == caught.group(2) and int(caught.group(2)) > 10
    assert "RZ9_hes-ae_" in words  # the trust outside the programme, refused whole
    assert list((folder / "region" / "practices").glob("*/worklist-frail-high-risk.csv"))
    ws = Workspace.open(folder / "workspace")
    assert ws.audit.verify().ok
    layouts = {s.layout for s in ws.config.sources if s.layout}
    assert layouts == {"hes-apc", "hes-ae", "hes-op", "csds"}
