"""`phm user list|disable|enable|unlock|reset-password`: the data protection officer's, each
audited, refused (and the refusal audited) for every other role; what each does at sign-in."""

from __future__ import annotations

import json

import pytest

from openphm.programme.workspace import Workspace

from .helpers import PASSWORD, csrf_from, sign_in

DPO = ["--role", "data-protection-officer"]
NEW_PASSWORD = "a fresh one from the dpo"


def last_entry(ws):
    return list(Workspace.open(ws.root).audit.entries())[-1]


@pytest.mark.parametrize("role", ["analyst", "processor-engineer", "output-checker", "practice"])
@pytest.mark.parametrize("command", [["list"], ["disable", "ana"], ["enable", "ana"],
                                     ["unlock", "ana"], ["reset-password", "ana"]])  # fmt: skip
def test_only_the_dpo_manages_accounts_and_a_refusal_is_audited(cli, web_workspace, role, command):
    result = cli(["user", command[0], web_workspace.root, *command[1:], "--role", role],
                 input=NEW_PASSWORD + "\n")  # fmt: skip
    assert result.exit_code == 2, result.output
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.role) == (
        f"web.user.{command[0].replace('-', '_')}", "refused", role,
    )  # fmt: skip


def test_user_list_shows_accounts_without_hashes_and_as_json(cli, web_workspace):
    result = cli(["user", "list", web_workspace.root, *DPO, "--json"])
    assert result.exit_code == 0, result.output
    accounts = {a["name"]: a for a in json.loads(result.output)}
    assert set(accounts) == {"ana", "pat", "dora", "otto", "eng"}
    expected = {"name": "pat", "role": "practice", "ods": "Y10001", "standing": "active",
                "failed_sign_ins": 0, "locked": False}  # fmt: skip
    assert accounts["pat"] == expected
    assert "argon2" not in result.output
    assert last_entry(web_workspace).action == "web.user.list"
    table = cli(["user", "list", web_workspace.root, *DPO], env={"COLUMNS": "200"})
    assert "Accounts: 5" in table.output and "Y10001" in table.output


def test_a_disabled_account_cannot_sign_in_and_its_session_ends(cli, client, web_workspace):
    assert sign_in(client, "ana").status_code == 303  # signed in before
    assert client.get("/analyst/population").status_code in (200, 404)
    result = cli(["user", "disable", web_workspace.root, "ana", *DPO])
    assert result.exit_code == 0, result.output
    assert (last_entry(web_workspace).action, last_entry(web_workspace).reason) == (
        "web.user.disable", "ana")  # fmt: skip
    page = client.get("/analyst/population")  # the open session ends at its next request
    assert (page.status_code, page.headers["location"]) == (303, "/sign-in")
    refused = sign_in(client, "ana")  # the right password
    assert refused.status_code == 401
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("web.sign_in", "refused", "ana")
    assert "disabled" in entry.reason
    assert cli(["user", "enable", web_workspace.root, "ana", *DPO]).exit_code == 0
    assert sign_in(client, "ana").status_code == 303


def test_unlock_clears_the_lock_count_at_once_on_a_running_server(cli, client, app,
                                                                  web_workspace):  # fmt: skip
    for _ in range(5):
        assert sign_in(client, "dora", "wrong password here").status_code == 401
    assert sign_in(client, "dora").status_code == 429  # locked
    listed = json.loads(cli(["user", "list", web_workspace.root, *DPO, "--json"]).output)
    dora = next(a for a in listed if a["name"] == "dora")
    assert (dora["failed_sign_ins"], dora["locked"]) == (5, True)
    result = cli(["user", "unlock", web_workspace.root, "dora", *DPO])
    assert result.exit_code == 0 and "5 failed sign-in(s) cleared" in result.output
    entry = last_entry(web_workspace)
    assert (entry.action, entry.counts, entry.reason) == (
        "web.user.unlock", {"failures_cleared": 5}, "dora")  # fmt: skip
    assert sign_in(client, "dora").status_code == 303  # the same server, no restart


def test_unlock_of_a_name_that_is_no_account_is_one_clear_error(cli, web_workspace):
    result = cli(["user", "unlock", web_workspace.root, "nobody", *DPO])
    assert result.exit_code == 2 and "there is no account 'nobody'" in result.output


def test_reset_password_forces_a_new_password_before_any_page(cli, client, web_workspace):
    result = cli(["user", "reset-password", web_workspace.root, "ana", *DPO],
                 input=NEW_PASSWORD + "\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert last_entry(web_workspace).action == "web.user.reset_password"
    assert sign_in(client, "ana", PASSWORD).status_code == 401  # the old one is gone
    signed = sign_in(client, "ana", NEW_PASSWORD)
    assert (signed.status_code, signed.headers["location"]) == (303, "/account/password")
    page = client.get("/analyst/population")  # nothing else opens until it is changed
    assert (page.status_code, page.headers["location"]) == (303, "/account/password")
    form = client.get("/account/password")
    assert "reset by the data protection officer" in form.text
    token = csrf_from(form.text)
    again = {"current": NEW_PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    same = client.post("/account/password", data={**again, "csrf_token": token})
    assert same.status_code == 400 and "must differ" in same.text
    own = "ana's very own password"
    mine = {"current": NEW_PASSWORD, "new": own, "confirm": own, "csrf_token": token}
    done = client.post("/account/password", data=mine)
    assert (done.status_code, done.headers["location"]) == (303, "/analyst/population")
    assert last_entry(web_workspace).action == "web.user.change_password"
    assert client.get("/analyst/population").status_code != 303
    assert NEW_PASSWORD not in web_workspace.audit.path.read_text()
    assert own not in web_workspace.audit.path.read_text()


def test_a_reset_password_must_be_long_enough(cli, web_workspace):
    result = cli(["user", "reset-password", web_workspace.root, "ana", *DPO], input="short\n")
    assert result.exit_code == 2 and "at least 12 characters" in result.output


# ----- the DPO's Accounts page: the same actions -------------------------------------------


def test_the_dpo_s_accounts_page_lists_and_acts_as_phm_user_does(client, web_workspace):
    assert sign_in(client, "dora").status_code == 303
    page = client.get("/dpo/accounts")
    assert page.status_code == 200 and "Accounts (5)" in page.text
    assert "argon2" not in page.text
    token = csrf_from(page.text)
    done = client.post("/dpo/accounts/disable", data={"name": "ana", "csrf_token": token})
    assert done.status_code == 200 and "Disabled ana." in done.text
    assert (last_entry(web_workspace).action, last_entry(web_workspace).user) == (
        "web.user.disable", "dora")  # fmt: skip
    own = client.post("/dpo/accounts/disable", data={"name": "dora", "csrf_token": token})
    assert own.status_code == 400 and "cannot disable your own account" in own.text
    form = {"name": "otto", "password": NEW_PASSWORD, "csrf_token": token}
    reset = client.post("/dpo/accounts/reset-password", data=form)
    assert reset.status_code == 200 and "must choose a new one" in reset.text
    assert NEW_PASSWORD not in web_workspace.audit.path.read_text()
    client.post("/sign-out", data={"csrf_token": token})
    assert sign_in(client, "ana").status_code == 401  # disabled from the page
    signed = sign_in(client, "otto", NEW_PASSWORD)
    assert signed.headers["location"] == "/account/password"


def test_only_the_dpo_sees_the_accounts_page(client, web_workspace):
    assert sign_in(client, "ana").status_code == 303
    assert client.get("/dpo/accounts").status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("web.user.list", "refused", "ana")
