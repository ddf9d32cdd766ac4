"""The programme's close (P9): all patient data destroyed, a certificate that verifies, and
every later attempt to read data refused with a message that says when and why."""

from __future__ import annotations

import hashlib
import json

import pytest

from openphm import clock
from openphm.governance.audit import Actor
from openphm.governance.certificate import CertificateError, verify
from openphm.governance.lifecycle import close_programme
from openphm.governance.roles import Refused
from openphm.governance.schedule import keep_promises
from openphm.keystore import KeyName
from openphm.programme.workspace import ProgrammeClosedError, Workspace

RELEASED = "outputs/releases/prevalence/prevalence.csv"
COHORT_LIST = "outputs/cohorts/A81001/frail-high-risk.csv"
EXTRACT = "outputs/extracts/university/2026-12-01/people.csv"
AWAITING = "outputs/releases/draft/deaths.csv"


def _put(ws, relative: str, text: str) -> None:
    path = ws.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def closed(workspace, dpo):
    con = workspace.connect_linked()
    con.execute("CREATE TABLE linked.people AS SELECT range AS id FROM range(10)")
    con.close()
    (workspace.zone("landing") / "batch-1.duckdb").write_bytes(b"ciphertext")
    _put(workspace, RELEASED, "register,count\nhyp,1405\n")
    _put(workspace, "outputs/releases/prevalence/manifest.json", '{"status": "released"}')
    _put(workspace, AWAITING, "practice,deaths\nA81001,10\n")
    _put(workspace, "outputs/releases/draft/manifest.json", '{"status": "awaiting approval"}')
    _put(workspace, COHORT_LIST, "token,risk\nAAAA,0.41\n")
    _put(workspace, EXTRACT, "person,month_of_birth\nx1,1950-01\n")
    _put(workspace, "outputs/privacy-notice.md", "# How we use your information\n")
    practice = Actor("practice-user", "practice")
    workspace.audit.record(
        practice, "cohort.download", reads=(COHORT_LIST.removeprefix("outputs/"),)
    )
    closure = close_programme(workspace, dpo, reason="programme finished")
    return workspace, closure


def test_after_close_no_file_of_the_landing_or_linked_zones_remains(closed):
    ws, _ = closed
    assert not any(ws.zone("landing").rglob("*"))
    assert not any(ws.zone("linked").rglob("*"))


def test_after_close_no_patient_level_output_remains(closed):
    ws, closure = closed
    for gone in (COHORT_LIST, EXTRACT, AWAITING):
        assert not (ws.root / gone).exists(), gone
    remaining = sorted(
        str(p.relative_to(ws.root)) for p in ws.zone("outputs").rglob("*") if p.is_file()
    )
    assert remaining == [
        "outputs/destruction-certificate.html",
        "outputs/destruction-certificate.json",
        "outputs/privacy-notice.md",
        "outputs/releases/prevalence/manifest.json",
        RELEASED,
    ]
    assert closure.files_deleted == 2 + 4  # landing and linked; list, extract, draft, its manifest


def test_after_close_no_key_remains_not_even_the_signing_secret(closed):
    ws, _ = closed
    assert ws.keystore.names() == []
    assert {KeyName.LINKAGE, KeyName.LINKED_DATA, KeyName.SIGNING} <= set(ws.keystore.destroyed())
    assert not list(ws.keystore.directory.rglob("*.key"))


def test_released_outputs_and_the_audit_log_are_kept(closed):
    ws, _ = closed
    assert (ws.root / RELEASED).exists()
    assert ws.audit.verify().ok
    assert list(ws.audit.entries())[-1].action == "programme.close"


def test_the_certificate_lists_exactly_what_remains_with_hashes_and_what_was_handed_over(closed):
    ws, closure = closed
    body = verify(closure.certificate, ws.meta["signing_public_key"])
    kept = {k["path"]: k for k in body["kept"]}
    assert set(kept) == {RELEASED, "outputs/releases/prevalence/manifest.json",
                         "outputs/privacy-notice.md"}  # fmt: skip
    digest = hashlib.sha256((ws.root / RELEASED).read_bytes()).hexdigest()
    assert kept[RELEASED] == {"path": RELEASED, "kind": "released aggregate table",
                              "sha256": digest}  # fmt: skip
    assert body["handed_over"]["practices"] == {"A81001": {"lists": 1, "downloads": 1}}
    assert body["handed_over"]["recipients"] == {"university": {"extracts_made": 1}}
    assert sorted(body["files_deleted"]["outputs"]) == sorted(
        [COHORT_LIST, EXTRACT, AWAITING, "outputs/releases/draft/manifest.json"]
    )
    assert KeyName.SIGNING in body["keys_destroyed"]


def test_the_printable_certificate_verifies_and_any_change_to_it_is_caught(closed):
    ws, closure = closed
    page = closure.certificate.with_suffix(".html")
    body = verify(page, ws.meta["signing_public_key"])
    assert body == verify(closure.certificate)
    text = page.read_text()
    assert "programme finished" in text and "<script" in text
    visible = "Reason: programme finished</p>"
    assert visible in text
    page.write_text(text.replace(visible, "Reason: programme finished early</p>"))
    with pytest.raises(CertificateError, match="page was changed"):
        verify(page)
    embedded = text.replace('"reason": "programme finished"', '"reason": "nothing to see"')
    page.write_text(embedded)
    with pytest.raises(CertificateError, match="changed after it was signed"):
        verify(page)


def test_verify_certificate_finds_a_file_added_or_changed_after_close(cli, closed):
    ws, closure = closed
    for certificate in (closure.certificate, closure.certificate.with_suffix(".html")):
        result = cli(["verify-certificate", certificate, "--workspace", ws.root])
        assert result.exit_code == 0 and "exactly those remain" in result.output, result.output
    (ws.root / RELEASED).write_text("register,count\nhyp,3\n")
    _put(ws, "outputs/cohorts/A81001/kept-by-mistake.csv", "token\nAAAA\n")
    result = cli(["verify-certificate", closure.certificate, "--workspace", ws.root])
    assert result.exit_code == 1
    assert "changed after close" in result.output and "not listed as kept" in result.output


def test_the_certificate_verifies_against_the_workspaces_key(closed):
    ws, closure = closed
    body = verify(closure.certificate, ws.meta["signing_public_key"])
    assert body["reason"] == "programme finished"
    assert "linked/linked.duckdb" in body["files_deleted"]["linked"]
    last = list(ws.audit.entries())[-1]
    assert body["audit_log_head"] == {"seq": last.seq, "hash": last.hash}


def test_a_tampered_certificate_fails(closed):
    _, closure = closed
    document = json.loads(closure.certificate.read_text())
    document["certificate"]["files_deleted"]["linked"] = []
    closure.certificate.write_text(json.dumps(document))
    with pytest.raises(CertificateError, match="changed after it was signed"):
        verify(closure.certificate)


def test_a_certificate_resigned_with_another_key_fails(closed):
    from openphm.governance.certificate import sign

    ws, closure = closed
    document = json.loads(closure.certificate.read_text())
    forged = sign(document["certificate"], bytes(range(32)))
    closure.certificate.write_text(json.dumps(forged))
    verify(closure.certificate)  # self-consistent…
    with pytest.raises(CertificateError, match="not this programme's signing key"):
        verify(closure.certificate, ws.meta["signing_public_key"])  # …but not ours


def test_reading_data_after_close_fails_with_when_and_why(closed):
    ws, _ = closed
    reopened = Workspace.open(ws.root)
    with pytest.raises(ProgrammeClosedError, match=r"closed on .*destroyed"):
        reopened.connect_linked()


def test_the_scheduled_job_closes_the_programme_on_its_end_date(workspace, dpo, monkeypatch):
    monkeypatch.setattr(clock, "_source", clock.fixed("2027-03-22T09:00:00"))
    reopened = Workspace.open(workspace.root)
    assert not reopened.closed  # opening acts on nothing
    with pytest.raises(ProgrammeClosedError, match=r"ended on 2027-03-22.*close is due"):
        reopened.connect_linked()  # but nobody may use the data meanwhile
    kept = keep_promises(reopened, dpo)
    assert kept.closure and reopened.closed
    last = list(reopened.audit.entries())[-1]
    assert (last.action, last.user, last.role) == ("programme.close", dpo.user, dpo.role)
    assert "end date 2027-03-22 was reached" in last.reason


def test_the_day_before_the_end_the_schedule_leaves_the_programme_open(workspace, dpo, monkeypatch):
    monkeypatch.setattr(clock, "_source", clock.fixed("2027-03-21T23:59:00"))
    reopened = Workspace.open(workspace.root)
    assert keep_promises(reopened, dpo).closure is None
    assert not reopened.closed
    reopened.connect_linked().close()


def test_only_the_data_protection_officer_may_close(cli, workspace):
    result = cli(["close", workspace.root, "--reason", "x", "--yes", "--role", "analyst"])
    assert result.exit_code == 2 and "may not programme.close" in result.output
    assert not Workspace.open(workspace.root).closed


def test_close_from_the_command_line_then_verify(cli, workspace):
    args = [workspace.root, "--reason", "finished", "--role", "data-protection-officer"]
    assert cli(["close", *args]).exit_code == 1  # asks for --yes first
    result = cli(["close", *args, "--yes"])
    assert result.exit_code == 0, result.output
    certificate = workspace.zone("outputs") / "destruction-certificate.json"
    result = cli(["verify-certificate", certificate, "--workspace", workspace.root])
    assert result.exit_code == 0 and "verifies" in result.output


def test_an_analyst_cannot_close_through_the_api_either(workspace, analyst):
    with pytest.raises(Refused):
        workspace.authorise(analyst, "programme.close")


def test_the_certificate_counts_practices_and_providers_lists_apart(workspace, dpo):
    """A hospital provider's folder of lists (RX1, the example programme's trust) is a
    provider's on the certificate, not one more practice."""
    _put(workspace, COHORT_LIST, "token,risk\nAAAA,0.41\n")
    trust_list = "outputs/cohorts/RX1/seen-and-frail.csv"
    _put(workspace, trust_list, "token,risk\nBBBB,0.52\nCCCC,0.33\n")
    _put(workspace, "outputs/cohorts/RX1/older.csv", "token,risk\nDDDD,0.2\n")
    workspace.audit.record(
        Actor("tess", "provider"), "cohort.download", reads=(trust_list.removeprefix("outputs/"),)
    )
    closure = close_programme(workspace, dpo, reason="programme finished")
    body = verify(closure.certificate, workspace.meta["signing_public_key"])
    assert body["handed_over"]["practices"] == {"A81001": {"lists": 1, "downloads": 0}}
    assert body["handed_over"]["providers"] == {"RX1": {"lists": 2, "downloads": 1}}
    html = closure.certificate.with_suffix(".html").read_text()
    assert "1 practice(s) and 1 hospital or community provider(s)" in html
    assert "provider RX1</td><td>2 cohort list(s); downloaded 1 time(s)" in html
    assert "practice RX1" not in html
