"""Sign-in, sessions, CSRF and the headers every response carries."""

from __future__ import annotations

import json
import re
import stat

import pytest

from openphm.programme.workspace import Workspace
from openphm.web.accounts import USERS_FILE
from openphm.web.security import SignInThrottle

from .helpers import PASSWORD, csrf_from, sign_in


def last_entry(ws):
    return list(ws.audit.entries())[-1]


def test_passwords_are_stored_hashed_with_argon2_in_an_owner_only_file(web_workspace):
    path = web_workspace.root / USERS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert PASSWORD not in text
    assert all(
        u["password_hash"].startswith("$argon2id$") for u in json.loads(text)["users"].values()
    )


def test_a_user_signs_in_and_lands_on_their_role_s_page(client):
    response = sign_in(client, "dora")
    assert (response.status_code, response.headers["location"]) == (303, "/dpo")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/dpo").status_code == 200


def test_a_failed_sign_in_is_audited_without_the_password(client, web_workspace):
    response = sign_in(client, "dora", "wrong password here")
    assert response.status_code == 401 and "Enter a correct user name and password" in response.text
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("web.sign_in", "failed", "dora")
    assert "wrong password here" not in web_workspace.audit.path.read_text()


def test_a_password_typed_as_the_user_name_never_reaches_the_audit_log(client, web_workspace):
    sign_in(client, "hunter2-correct-horse", "")
    entry = list(web_workspace.audit.entries())[-1]
    assert (entry.action, entry.user) == ("web.sign_in", "anonymous")
    assert "hunter2-correct-horse" not in web_workspace.audit.path.read_text()


def test_five_wrong_passwords_lock_the_name_even_against_the_right_password(client, app):
    for _ in range(5):
        assert sign_in(client, "dora", "wrong password here").status_code == 401
    locked = sign_in(client, "dora")  # the right password, too late
    assert locked.status_code == 429 and "Too many failed attempts" in locked.text
    entry = last_entry(Workspace.open(app.state.root))
    assert (entry.action, entry.outcome, entry.user) == ("web.sign_in", "refused", "dora")
    assert sign_in(client, "ana").status_code == 303  # other names are not locked
    throttle = app.state.throttle
    now = throttle.clock()
    throttle.clock = lambda: now + 15 * 60 + 1  # the lock lapses
    assert sign_in(client, "dora").status_code == 303


def test_an_unknown_name_locks_like_an_account_so_locking_reveals_no_names(client):
    for _ in range(5):
        sign_in(client, "nobody-here", "wrong password here")
    assert sign_in(client, "nobody-here", "wrong password here").status_code == 429


def test_one_address_trying_many_names_is_locked(client):
    for i in range(20):
        assert sign_in(client, f"guess{i}", "Summer2026!!").status_code == 401
    assert sign_in(client, "dora").status_code == 429


def test_a_successful_sign_in_clears_its_name_s_failures(client):
    for _ in range(4):
        sign_in(client, "dora", "wrong password here")
    assert sign_in(client, "dora").status_code == 303
    for _ in range(4):
        sign_in(client, "dora", "wrong password here")
    assert sign_in(client, "dora").status_code == 303


def test_pages_need_a_signed_in_user(client):
    assert client.get("/dpo").headers["location"] == "/sign-in"
    assert client.get("/api/status").status_code == 401


def test_a_session_ends_after_30_idle_minutes(client, app):
    sign_in(client, "dora")
    clock = app.state.sessions.clock
    app.state.sessions.clock = lambda: clock() + 29 * 60
    assert client.get("/dpo").status_code == 200
    app.state.sessions.clock = lambda: clock() + 29 * 60 + 31 * 60
    response = client.get("/dpo")
    assert response.headers["location"] == "/sign-in"
    assert "signed out because you had not done anything" in client.get("/sign-in").text


def test_signing_out_ends_the_session(client):
    sign_in(client, "dora")
    token = csrf_from(client.get("/dpo").text)
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    assert client.get("/dpo").status_code == 303


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_form_without_the_session_s_csrf_token_is_refused_and_audited(
    client, web_workspace, token
):
    sign_in(client, "dora")
    release = json.loads(client.get("/api/releases").text)[0]["id"]
    data = {"csrf_token": token} if token else {}
    response = client.post(f"/dpo/releases/{release}/approve", data=data)
    assert response.status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("web.csrf", "refused", "dora")
    assert client.get("/api/releases").json()[0]["status"] == "awaiting approval"


def test_sign_in_itself_needs_the_csrf_token(client):
    response = client.post("/sign-in", data={"username": "dora", "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("ana", "/dpo/audit"),
        ("ana", "/practice/cohorts"),
        ("pat", "/analyst/population"),
        ("pat", "/api/population"),
        ("pat", "/dpo"),
        ("dora", "/analyst/population"),
        ("dora", "/practice/cohorts"),
        ("eng", "/api/population"),
    ],
)
def test_a_role_is_refused_what_it_may_not_see_with_403_and_an_audit_entry(
    client, web_workspace, user, path
):
    sign_in(client, user)
    response = client.get(path)
    assert response.status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.user, entry.outcome) == (user, "refused")


def test_an_analyst_cannot_close_the_programme(client, web_workspace):
    sign_in(client, "ana")
    token = csrf_from(client.get("/analyst/population").text)
    response = client.post(
        "/dpo/close", data={"csrf_token": token, "reason": "x", "confirm": "destroy"}
    )
    assert response.status_code == 403 and not web_workspace.closed
    assert last_entry(web_workspace).action == "programme.close"


PAGES = {
    "ana": ["/analyst/population", "/analyst/activity", "/analyst/sql", "/analyst/releases"],
    "pat": ["/practice/cohorts"],
    "dora": ["/dpo", "/dpo/audit", "/dpo/releases", "/dpo/notice", "/dpo/close"],
    "otto": ["/dpo/releases"],
}


def every_page(client):
    yield "/sign-in", client.get("/sign-in")
    for user, paths in PAGES.items():
        client.cookies.clear()
        sign_in(client, user)
        for path in paths:
            yield path, client.get(path)
    review = f"/dpo/releases/{client.get('/api/releases').json()[0]['id']}"  # as otto
    yield review, client.get(review)


def test_every_page_carries_the_security_headers(client):
    for path, response in every_page(client):
        assert response.status_code == 200, path
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert not re.search(r"https?:|\*", csp), f"{path}: CSP names an external origin"
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"


def test_no_page_loads_anything_from_another_origin(client):
    for path, response in every_page(client):
        urls = re.findall(r'(?:src|href|action)="([^"]*)"', response.text)
        assert urls, path
        external = [u for u in urls if not (u.startswith("/") or u.startswith("#"))]
        external += [u for u in urls if u.startswith("//")]
        assert not external, f"{path} refers to {external}"
        assert "url(http" not in response.text


def test_the_stylesheet_and_scripts_are_served_from_the_app(client):
    css = client.get("/assets/nhsuk-frontend.min.css")
    assert css.status_code == 200, "NHS.UK assets missing: run `make web-assets`"
    assert "nhsuk-header" in css.text and "http" not in css.text.replace("http://www.w3.org", "")
    assert client.get("/assets/nhsuk-frontend.min.js").status_code == 200
    assert client.get("/static/init.mjs").status_code == 200


def test_the_api_is_described_by_openapi_and_has_no_externally_loaded_docs(client):
    spec = client.get("/api/openapi.json").json()
    assert {"/api/population", "/api/status", "/api/cohorts"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 404


def test_attempts_count_before_the_password_is_checked_so_parallel_ones_cannot_slip_through():
    throttle = SignInThrottle()
    tokens = [throttle.attempt("dora", "10.0.0.1") for _ in range(5)]  # all still in flight
    assert None not in tokens
    assert throttle.attempt("dora", "10.0.0.1") is None


def test_a_flood_of_made_up_names_does_not_wipe_out_the_count_of_a_name_under_attack():
    throttle = SignInThrottle(max_tracked=100)
    for _ in range(4):
        throttle.attempt("dora", "10.0.0.1")
    for i in range(1_000):
        throttle.attempt(f"made-up-{i}", f"10.1.{i // 19}.1")
    assert throttle.attempt("dora", "10.0.0.2") is not None  # the fifth
    assert throttle.attempt("dora", "10.0.0.3") is None


def test_a_locked_account_is_audited_once_per_lock_and_later_refusals_only_counted(client, app):
    for _ in range(5):
        sign_in(client, "dora", "wrong password here")
    for _ in range(10):
        assert sign_in(client, "dora", "wrong password here").status_code == 429
    ws = Workspace.open(app.state.root)
    refused = [e for e in ws.audit.entries() if (e.action, e.outcome) == ("web.sign_in", "refused")]
    # The lock's first refusal names the account; the rest are folded into one entry per
    # address a minute (the first of them written at once).
    assert [(e.user, e.counts) for e in refused] == [("dora", {}), ("anonymous", {"requests": 1})]


def test_a_name_longer_than_any_account_s_is_refused_without_being_counted_or_audited(client, app):
    before = len(list(Workspace.open(app.state.root).audit.entries()))
    for _ in range(30):
        assert sign_in(client, "x" * 10_000, "wrong password here").status_code == 401
    assert len(list(Workspace.open(app.state.root).audit.entries())) == before
    assert sign_in(client, "dora").status_code == 303  # the address was not locked by them


def test_a_locked_address_trying_new_names_is_audited_once():
    throttle = SignInThrottle()
    for i in range(20):
        throttle.attempt(f"guess{i}", "10.0.0.9")
    audited = 0
    for i in range(100):
        assert throttle.attempt(f"new{i}", "10.0.0.9") is None
        audited += throttle.first_refusal(f"new{i}", "10.0.0.9")
    assert audited == 1


def test_a_locked_name_survives_a_flood_of_addresses():
    throttle = SignInThrottle(max_tracked=100)
    for i in range(5):
        throttle.attempt("alice", f"10.0.0.{i}")
    for a in range(300):
        for _ in range(6):
            throttle.attempt(f"x{a}", f"10.2.{a // 250}.{a % 250}")
    assert throttle.attempt("alice", "10.9.9.9") is None


def test_ipv6_clients_are_counted_by_their_slash_64():
    throttle = SignInThrottle()
    for i in range(20):
        throttle.attempt(f"guess{i}", f"2001:db8:1:2::{i + 1:x}")
    assert throttle.attempt("dora", "2001:db8:1:2:ffff::1") is None
    assert throttle.attempt("dora", "2001:db8:1:3::1") is not None


def test_serve_refuses_to_trust_every_client_s_forwarded_address(cli, web_workspace):
    result = cli(["serve", web_workspace.root, "--forwarded-allow-ips", "*"])
    assert result.exit_code == 2
    assert "not '*'" in " ".join(result.output.split())
