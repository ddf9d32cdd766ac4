"""Custody and integrity of the web service's own state: what anyone can send before signing
in cannot bury the audit log or grow the server's memory, sign-in locks outlive a restart, and
every answer, errors included, carries the security headers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from openphm.web import assets
from openphm.web.app import create_app

CANARY = "CANARY-b7e1"  # sent in paths, bodies, headers and names; must reach no audit entry


# ----- every answer carries the security headers -------------------------------------------------

SECURITY_HEADERS = (
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "permissions-policy",
)


def security_headers_of(response) -> dict[str, str]:
    found = {name: response.headers.get(name) for name in SECURITY_HEADERS}
    found["content-security-policy"] = re.sub(
        r"'nonce-[^']+'", "'nonce'", found["content-security-policy"] or ""
    )
    return found


@pytest.fixture
def app_without_assets(web_workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "TARGET", tmp_path / "not-installed")
    app = create_app(web_workspace.root)

    @app.get("/fails")
    def fails():
        raise RuntimeError("a page that fails")

    return app


def test_every_answer_errors_included_carries_the_same_security_headers(app_without_assets):
    with TestClient(app_without_assets, follow_redirects=False, raise_server_exceptions=False) as c:
        answers = {
            "page": c.get("/sign-in"),
            "not found": c.get(f"/{CANARY}"),
            "method not allowed": c.delete("/sign-in"),
            "server error": c.get("/fails"),
            "refused": c.post("/sign-in"),
            "not signed in": c.get("/api/status"),
            "missing asset": c.get("/assets/nhsuk-frontend.min.css"),
        }
    expected = security_headers_of(answers["page"])
    assert all(expected.values())
    for what, response in answers.items():
        assert security_headers_of(response) == expected, f"{what} ({response.status_code})"
        if response.status_code >= 400:
            assert response.headers["cache-control"] == "no-store", what
    assert answers["server error"].status_code == 500


def test_a_missing_asset_is_a_404_that_says_how_to_install_the_assets(app_without_assets):
    with TestClient(app_without_assets, raise_server_exceptions=False) as client:
        response = client.get("/assets/nhsuk-frontend.min.css")
    assert response.status_code == 404 and "make web-assets" in response.text


@pytest.mark.parametrize(
    ("cookie", "token"),
    [("phm_session=abc.\u00e9", None), (None, "\u00e9")],
    ids=["cookie", "csrf"],
)
def test_a_cookie_or_token_that_is_not_ascii_is_refused_not_a_server_error(client, cookie, token):
    headers = {"cookie": cookie.encode("latin-1")} if cookie else {}
    client.cookies.clear()
    assert client.get("/sign-in", headers=headers).status_code == 200
    if token:
        data = {"csrf_token": token, "username": "dora", "password": "x"}
        assert client.post("/sign-in", data=data).status_code == 403
