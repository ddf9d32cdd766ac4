"""Power BI's route, proven without Power BI: an HTTP client holding an API token reads an
approved release's table as CSV and JSON; a revoked, expired or unknown token is refused (401)
and the refusal audited; nothing unapproved is reachable; the token is shown once and kept
only as a digest; only the DPO manages tokens."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from openphm import clock
from openphm.disclosure.checking import approve_release
from openphm.disclosure.releases import list_releases, request_release, save_draft
from openphm.governance.audit import Actor
from openphm.web.api_tokens import ApiTokens

END = clock.fixed("2026-11-20T10:00:00")


@pytest.fixture
def released(web_workspace):
    """The template's release approved by the output checker, and a second one waiting."""
    approved = list_releases(web_workspace)[0]["id"]
    approve_release(web_workspace, Actor("otto", "output-checker"), approved)
    con = web_workspace.connect_linked()
    frame = pd.DataFrame({"sex": ["F", "M"], "people": [55, 48]})
    save_draft(con, "by_sex", frame, groups=["sex"], counts=["people"], description="by sex")
    con.close()
    waiting = request_release(
        web_workspace, Actor("ana", "analyst"), ["by_sex"], purpose="prevention", title="W"
    )
    return approved, waiting["id"]


def _token(ws, user="ana", days=90):
    end = ws.config.programme.end_date
    return ApiTokens(ws.root).create(user, "Power BI", "dora", end, days)


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_reads_an_approved_table_as_csv_and_json(client, web_workspace, released):
    approved, waiting = released
    issued = _token(web_workspace)
    listing = client.get("/api/released", headers=_bearer(issued.token))
    assert listing.status_code == 200
    ids = [r["id"] for r in listing.json()["releases"]]
    assert ids == [approved] and waiting not in json.dumps(listing.json())
    as_csv = client.get(f"/api/released/{approved}/prevalence.csv", headers=_bearer(issued.token))
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    on_disk = web_workspace.zone("outputs") / "releases" / approved / "prevalence.csv"
    assert as_csv.content == on_disk.read_bytes()  # byte for byte what was approved
    table = pd.read_csv(io.StringIO(as_csv.text))
    assert not table["people"].dropna().between(1, 7).any()
    as_json = client.get(f"/api/released/{approved}/prevalence.json", headers=_bearer(issued.token))
    rows = as_json.json()["rows"]
    assert [r["people"] for r in rows] == [None if pd.isna(v) else int(v) for v in table["people"]]
    dictionary = client.get("/api/released/dictionary.csv", headers=_bearer(issued.token))
    assert "prevalence" in dictionary.text and "otto" in dictionary.text


def test_nothing_unapproved_is_reachable(client, web_workspace, released):
    _, waiting = released
    token = _token(web_workspace).token
    for path in (
        f"/api/released/{waiting}/by_sex.csv",
        f"/api/released/{waiting}/by_sex.json",
        "/api/released/..%2F..%2Flinked/linked.duckdb.csv",
        "/api/released/nope/prevalence.csv",
    ):
        assert client.get(path, headers=_bearer(token)).status_code == 404, path
    # The session API and pages stay closed to a token: it is not a sign-in.
    assert client.get("/api/population", headers=_bearer(token)).status_code == 401
    assert client.get("/api/sql?query=select%201", headers=_bearer(token)).status_code in (
        401,
        405,
    )


def test_a_revoked_an_expired_and_an_unknown_token_are_refused_and_audited(
    client, web_workspace, released, monkeypatch
):
    approved, _ = released
    path = f"/api/released/{approved}/prevalence.csv"
    issued = _token(web_workspace, days=1)
    assert client.get(path, headers=_bearer(issued.token)).status_code == 200
    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-22T10:00:00"))
    expired = client.get(path, headers=_bearer(issued.token))
    assert expired.status_code == 401 and expired.headers["www-authenticate"].startswith("Bearer")
    monkeypatch.setattr(clock, "_source", END)
    ApiTokens(web_workspace.root).revoke(issued.id, "dora")
    assert client.get(path, headers=_bearer(issued.token)).status_code == 401
    forged = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    assert client.get(path, headers=_bearer(forged)).status_code == 401
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": f"Basic {issued.token}"}).status_code == 401
    client.app.state.failures.flush()
    refusals = [e for e in web_workspace.audit.entries() if e.action == "web.api_token"]
    assert refusals and all(e.outcome == "refused" for e in refusals)
    log = (web_workspace.root / "audit" / "audit.jsonl").read_text()
    assert issued.token.split("_", 2)[2] not in log  # the secret is never written


def test_a_disabled_account_s_token_stops_working(client, web_workspace, released):
    from openphm.web.accounts import LocalAccounts

    approved, _ = released
    token = _token(web_workspace).token
    LocalAccounts(web_workspace.root).disable("ana")
    path = f"/api/released/{approved}/prevalence.csv"
    assert client.get(path, headers=_bearer(token)).status_code == 401


def test_a_practice_account_s_token_is_refused_by_role(client, web_workspace, released):
    approved, _ = released
    token = _token(web_workspace, user="pat").token
    response = client.get(f"/api/released/{approved}/prevalence.csv", headers=_bearer(token))
    assert response.status_code == 403
    last = list(web_workspace.audit.entries())[-1]
    assert (last.action, last.outcome, last.user) == ("release.api_read", "refused", "pat")


def test_the_token_is_kept_only_as_a_digest_in_an_owner_only_file(web_workspace):
    issued = _token(web_workspace)
    stored = web_workspace.root / "web" / "api_tokens.json"
    assert issued.token.split("_", 2)[2] not in stored.read_text()
    assert stored.stat().st_mode & 0o077 == 0
    assert issued.expires <= web_workspace.config.programme.end_date


def test_phm_api_token_is_the_dpo_s_and_prints_the_token_once(cli, web_workspace, monkeypatch):
    from openphm.governance import roles

    monkeypatch.setattr(clock, "_source", END)
    monkeypatch.setattr(roles, "identify", lambda: "dora")
    root = web_workspace.root
    made = cli(["api-token", "create", root, "ana", "--label", "Power BI", "--role",
                "data-protection-officer"])  # fmt: skip
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("phm_")
    token_id = token.split("_")[1]
    listed = cli(["api-token", "list", root, "--json", "--role", "data-protection-officer"])
    assert token not in listed.output and token.split("_", 2)[2] not in listed.output
    assert json.loads(listed.output)[0]["standing"] == "active"
    refused = cli(["api-token", "create", root, "ana", "--label", "x", "--role", "analyst"])
    assert refused.exit_code == 2
    last = list(web_workspace.audit.entries())[-1]
    assert (last.action, last.outcome) == ("web.api_token.create", "refused")
    revoked = cli(["api-token", "revoke", root, token_id, "--role", "data-protection-officer"])
    assert revoked.exit_code == 0, revoked.output
    listed = cli(["api-token", "list", root, "--json", "--role", "data-protection-officer"])
    assert json.loads(listed.output)[0]["standing"] == "revoked"
    # Each action's entry (web.api_tokens' create_token, token_records, revoke_token) names the
    # token by its id and the file; never the token.
    done = [e for e in web_workspace.audit.entries()
            if e.action.startswith("web.api_token.") and e.outcome == "ok"]  # fmt: skip
    tokens = ("web/api_tokens.json",)
    assert [(e.action, e.user, e.reads, e.writes) for e in done] == [
        ("web.api_token.create", "dora", (), tokens), ("web.api_token.list", "dora", tokens, ()),
        ("web.api_token.revoke", "dora", (), tokens), ("web.api_token.list", "dora", tokens, ()),
    ]  # fmt: skip
    assert done[0].reason.startswith(f"token {token_id} for ana, expires ")
    assert done[2].reason == f"token {token_id} of ana"
    assert token.split("_", 2)[2] not in (web_workspace.root / "audit" / "audit.jsonl").read_text()
