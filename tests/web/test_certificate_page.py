"""The destruction certificate's page: its content in the service's own layout (never raw JSON),
both its forms verified with governance.certificate.verify, both downloadable."""

from __future__ import annotations

import pytest

from openphm.disclosure.releases import list_releases
from openphm.governance import certificate

from .helpers import csrf_from, sign_in


def close(client) -> None:
    token = csrf_from(client.get("/dpo/close").text)
    data = {"csrf_token": token, "reason": "the programme's work is done", "confirm": "destroy"}
    assert client.post("/dpo/close", data=data).status_code == 303


@pytest.fixture
def closed(client, web_workspace):
    """The fixture's release approved (so it is kept), then the programme closed by the DPO."""
    sign_in(client, "dora")
    release = list_releases(web_workspace)[0]["id"]
    token = csrf_from(client.get(f"/dpo/releases/{release}").text)
    client.post(f"/dpo/releases/{release}/approve", data={"csrf_token": token})
    close(client)
    return web_workspace


def test_the_certificate_page_shows_what_the_certificate_says_not_its_json(client, closed):
    page = client.get("/dpo/certificate").text
    body = certificate.verify(
        closed.zone("outputs") / "destruction-certificate.json", closed.meta["signing_public_key"]
    )
    assert "signature verifies" in page and "<pre" not in page and '"certificate":' not in page
    assert "the programme&#39;s work is done" in page and "data/linked" in page
    assert body["kept"], "the approved release is kept"
    for kept in body["kept"]:
        assert kept["path"] in page and kept["sha256"] in page
    assert body["audit_log"]["head"]["hash"] in page
    assert 'href="/dpo/certificate.json"' in page and 'href="/dpo/certificate.html"' in page
    assert "The printable copy does not verify" not in page


@pytest.mark.parametrize("form", ["json", "html"])
def test_both_forms_download_and_verify(client, closed, tmp_path, form):
    response = client.get(f"/dpo/certificate.{form}")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    saved = tmp_path / f"destruction-certificate.{form}"
    saved.write_bytes(response.content)
    body = certificate.verify(saved, closed.meta["signing_public_key"])
    assert body["reason"] == "the programme's work is done"
    entry = list(closed.audit.entries())[-1]
    assert (entry.action, entry.user) == ("certificate.download", "dora")


def test_a_printable_copy_changed_after_signing_is_flagged(client, closed):
    path = closed.zone("outputs") / "destruction-certificate.html"
    path.write_text(path.read_text().replace("all programme data destroyed", "all data kept"))
    page = client.get("/dpo/certificate").text
    assert "The printable copy does not verify" in page and "was changed after" in page


def test_a_certificate_changed_after_signing_is_not_shown_as_verified(client, closed):
    path = closed.zone("outputs") / "destruction-certificate.json"
    path.write_text(path.read_text().replace("the programme's work is done", "never closed"))
    page = client.get("/dpo/certificate").text
    assert "The certificate does not verify" in page and "signature verifies" not in page
    assert "never closed" not in page


def test_before_close_there_is_no_certificate(client):
    sign_in(client, "dora")
    assert "still open: there is no certificate yet" in client.get("/dpo/certificate").text
    assert client.get("/dpo/certificate.json").status_code == 404
    assert client.get("/dpo/certificate.txt").status_code == 404


@pytest.mark.parametrize("user", ["ana", "otto", "pat"])
def test_only_the_dpo_sees_the_certificate_page(client, web_workspace, user):
    sign_in(client, user)
    for path in ("/dpo/certificate", "/dpo/certificate.json"):
        assert client.get(path).status_code == 403
        entry = list(web_workspace.audit.entries())[-1]
        assert (entry.action, entry.outcome) == ("governance.status", "refused")
