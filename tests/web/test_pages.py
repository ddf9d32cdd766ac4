"""What each role's pages show and do: the data protection officer's governance, a practice's own
cohort lists (and nothing of another practice's), and an analyst's disclosure-controlled figures."""

from __future__ import annotations

import json
import re

import pytest

from openphm.web.accounts import USERS_FILE

from .helpers import OTHER_LIST, OWN_LIST, PASSWORD, WORDED_LIST, csrf_from, sign_in


def last_entry(ws):
    return list(ws.audit.entries())[-1]


# ----- data protection officer -----------------------------------------------------------------


def test_the_dpo_sees_days_left_keys_and_zone_sizes(client):
    sign_in(client, "dora")
    page = client.get("/dpo").text
    assert "Days left" in page and "data/linked" in page and "linked" in page
    status = client.get("/api/status").json()
    # The clock reads 2026-11-20; the example programme ends 2027-03-22.
    assert status["days_left"] == 122 and status["closed"] is None
    assert status["zones"]["linked"]["files"] >= 1


def test_the_dpo_sees_objections_applied_from_the_audit_log(client, web_workspace):
    from openphm.governance.audit import Actor

    engineer = Actor("eng", "processor-engineer")
    web_workspace.audit.record(engineer, "identity.link", counts={"objected_removed": 12})
    sign_in(client, "dora")
    assert client.get("/api/status").json()["objections_applied"] == {
        "identity.link: objected_removed": 12
    }


def test_the_audit_log_is_shown_with_its_chain_verified(client):
    sign_in(client, "dora")
    page = client.get("/dpo/audit").text
    assert "Chain verified" in page and "release.request" in page


def test_a_tampered_audit_log_is_flagged(client, web_workspace):
    path = web_workspace.audit.path
    path.write_text(path.read_text().replace('"prevention"', '"research"', 1))
    sign_in(client, "dora")
    page = client.get("/dpo/audit").text
    assert "The audit log has been tampered with" in page and "was edited" in page


def test_the_dpo_approves_a_release_awaiting_a_second_approval(client, web_workspace):
    sign_in(client, "dora")
    release = client.get("/api/releases").json()[0]["id"]
    assert f'href="/dpo/releases/{release}"' in client.get("/dpo/releases").text
    page = client.get(f"/dpo/releases/{release}").text  # approved only where it is seen
    assert f"Approve release {release}" in page
    response = client.post(f"/dpo/releases/{release}/approve", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    assert client.get("/api/releases").json()[0]["approved_by"] == "dora"
    assert (last_entry(web_workspace).action, last_entry(web_workspace).user) == (
        "release.approve",
        "dora",
    )


def test_an_output_checker_signs_in_to_the_releases_and_approves_one(client, web_workspace):
    response = sign_in(client, "otto")
    assert response.headers["location"] == "/dpo/releases"
    page = client.get("/dpo/releases").text
    release = client.get("/api/releases").json()[0]["id"]
    response = client.post(f"/dpo/releases/{release}/approve", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    assert client.get("/api/releases").json()[0]["approved_by"] == "otto"
    assert client.get("/dpo").status_code == 403  # the DPO's status page is not theirs


def test_an_analyst_cannot_approve_a_release_not_even_their_own(client, web_workspace):
    sign_in(client, "ana")  # ana requested it
    token = csrf_from(client.get("/analyst/population").text)
    release = client.get("/api/releases").json()[0]["id"]
    response = client.post(f"/dpo/releases/{release}/approve", data={"csrf_token": token})
    assert response.status_code == 403 and "may not release.approve" in response.text
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("release.approve", "refused", "ana")


def test_the_privacy_notice_is_generated_from_the_programme(client):
    sign_in(client, "dora")
    page = client.get("/dpo/notice").text
    assert "How we use your information: Example Valley PHM programme" in page
    assert "<li>" in page and "<script>alert" not in page


def test_closing_needs_a_confirmation_then_shows_a_verified_certificate(client, web_workspace):
    sign_in(client, "dora")
    token = csrf_from(client.get("/dpo/close").text)
    response = client.post("/dpo/close", data={"csrf_token": token, "reason": "done"})
    assert response.status_code == 400 and "type destroy to confirm" in response.text
    response = client.post(
        "/dpo/close", data={"csrf_token": token, "reason": "done", "confirm": "destroy"}
    )
    assert response.headers["location"] == "/dpo/certificate"
    page = client.get("/dpo/certificate").text
    assert "signature verifies" in page and "data/linked" in page
    assert client.get("/api/status").json()["keys_held"] == []  # the signing secret too
    client.cookies.clear()
    sign_in(client, "ana")
    assert client.get("/analyst/population").status_code == 410


# ----- practice --------------------------------------------------------------------------------


def test_a_practice_sees_and_downloads_only_its_own_cohort_lists(client, web_workspace):
    sign_in(client, "pat")
    page = client.get("/practice/cohorts").text
    assert OWN_LIST in page and OTHER_LIST not in page and "Y10002" not in page
    assert [f["name"] for f in client.get("/api/cohorts").json()] == [OWN_LIST, WORDED_LIST]
    response = client.get(f"/practice/cohorts/{OWN_LIST}")
    assert response.status_code == 200 and "Y10001-sealed-token-1" in response.text
    assert "attachment" in response.headers["content-disposition"]
    assert last_entry(web_workspace).reads == (f"outputs/cohorts/Y10001/{OWN_LIST}",)


def test_a_practice_sees_what_each_list_is_in_words(client, web_workspace):
    """The practice's name and code, the purpose, who is on the list and why, how many, when
    it was made and from which data: in words, with dates as people write them."""
    sign_in(client, "pat")
    page = " ".join(client.get("/practice/cohorts").text.split())
    assert "Cohort lists for Riverside Surgery (Y10001)" in page
    assert "Frail, or often admitted in an emergency" in page
    assert "Prevention: offering care early" in page
    assert "People who meet at least one of:" in page
    for criterion in (
        "frailty: moderate or severe",
        "2 or more emergency admissions in 12 months",
        "population segment: limited reserve and exacerbations",
    ):
        assert f"<li>{criterion}</li>" in page
    # Made on the frozen clock's day, from the data's reference date.
    assert "20 November 2026, from data up to 31 October 2026" in page
    assert re.search(r"People on the list\s*</dt>\s*<dd[^>]*>\s*2\s*</dd>", page)
    # The list written without a description still says how many people and when, in words.
    assert "2026-11-20-frailty" in page
    assert not re.search(r"\d{4}-\d\d-\d\dT", page), "an ISO timestamp on the page"
    assert "bytes" not in page and "limited_reserve" not in page
    assert "Y10002" not in page and "Millbrook" not in page


def test_the_downloaded_list_says_what_it_is_and_gives_reasons_in_words(client, web_workspace):
    from openphm.practice.worklist import about_lines, read_csv

    sign_in(client, "pat")
    response = client.get(f"/practice/cohorts/{WORDED_LIST}")
    assert response.status_code == 200
    saved = web_workspace.root / "downloaded.csv"
    saved.write_text(response.text)
    # One cell a line (quoted where it holds a comma), above the table's header.
    assert about_lines(saved) == [
        "# Cohort list: Frail, or often admitted in an emergency (frail-or-high-risk)",
        "# Practice: Riverside Surgery (Y10001)",
        "# Purpose: Prevention: offering care early, before people become more unwell",
        "# Who is on it: people who meet at least one of: 2 or more emergency admissions in "
        "12 months; population segment: limited reserve and exacerbations; frailty: moderate "
        "or severe",
        "# People on the list: 2",
        "# Made on 20 November 2026 from data up to 31 October 2026",
        "# Each row is one of your patients: open the tokens with your practice's private key "
        "(in your browser on the practice's page, or phm practice reidentify). Reasons say why "
        "each person is on the list.",
    ]
    assert response.text.splitlines()[7].startswith("token,")
    rows = read_csv(saved, ("token",), "cohort list")
    assert list(rows["token"]) == ["Y10001-worded-token-1", "Y10001-worded-token-2"]
    assert list(rows["reasons"]) == [
        "2 emergency admissions in 12 months; population segment: limited reserve and "
        "exacerbations; frailty: moderate",
        "frailty: severe",
    ]
    assert list(rows["segment"]) == ["Limited reserve and exacerbations", "Frailty"]
    assert "limited_reserve" not in response.text and "Y10002" not in response.text


@pytest.mark.parametrize(
    "guess",
    [
        OTHER_LIST,
        f"../Y10002/{OTHER_LIST}",
        f"..%2FY10002%2F{OTHER_LIST}",
        f"%2e%2e/Y10002/{OTHER_LIST}",
        f"..%5cY10002%5c{OTHER_LIST}",
        "../../../workspace.json",
        "%2Fetc%2Fpasswd",
        "..",
        f"{OWN_LIST}/../../Y10002/{OTHER_LIST}",
    ],
)
def test_a_practice_cannot_open_another_practice_s_list_by_guessing_the_url(
    client, web_workspace, guess
):
    sign_in(client, "pat")
    response = client.get(f"/practice/cohorts/{guess}")
    assert response.status_code in (403, 404)
    assert "sealed-token" not in response.text and "signing_public_key" not in response.text
    if response.status_code == 403:
        entry = last_entry(web_workspace)
        assert (entry.action, entry.outcome, entry.user) == ("cohort.download", "refused", "pat")


def test_a_practice_user_must_belong_to_a_controller_practice(cli, web_workspace):
    result = cli(
        ["user", "add", web_workspace.root, "someone", "--role", "practice", "--ods", "Z99999"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 2 and "controller" in result.output
    result = cli(
        ["user", "add", web_workspace.root, "pat2", "--role", "practice", "--ods", "Y10002"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    users = json.loads((web_workspace.root / USERS_FILE).read_text())["users"]
    assert users["pat2"]["ods"] == "Y10002" and PASSWORD not in json.dumps(users)
    added = last_entry(web_workspace)  # web.account_admin.add's entry: who, never a password
    assert (added.action, added.role, added.writes, added.reason) == (
        "web.user.add", "account-administrator", ("web/users.json",), "pat2 as practice"
    )  # fmt: skip


# ----- analyst ---------------------------------------------------------------------------------


def counts_in(value, key=""):
    """Every count in an API answer (rates excluded), however deeply nested."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from counts_in(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from counts_in(v, key)
    elif isinstance(value, int) and not isinstance(value, bool) and not key.endswith("_1000"):
        yield key, value


@pytest.mark.parametrize(
    "path", ["/api/population", "/api/activity?by=imd_decile", "/api/activity?by=practice"]
)
def test_the_api_returns_only_disclosure_controlled_counts(client, path):
    sign_in(client, "ana")
    answer = client.get(path).json()
    counts = list(counts_in(answer))
    assert len(counts) > 10
    assert not [c for c in counts if 1 <= c[1] <= 7], "a count from 1 to 7 was published"
    assert all(value % 5 == 0 for _, value in counts), "a count was not rounded to 5"


def test_a_group_of_three_people_is_never_shown(client):
    sign_in(client, "ana")
    rows = client.get("/api/population").json()["ethnicity"]["rows"]
    assert {"ethnic_group": "Other", "people": None} in rows
    page = client.get("/analyst/population").text
    assert '<td class="nhsuk-table__cell">Other</td>' in page
    assert "[c]" in page and "suppressed" in page


def test_the_activity_page_draws_the_inequality_gradient(client):
    sign_in(client, "ana")
    page = client.get("/analyst/activity").text
    assert "Emergency admissions per 1,000 people, by IMD decile" in page and "<svg" in page
    rows = client.get("/api/activity").json()["rows"]
    rate = {r["imd_decile"]: r["emergency_admissions_per_1000"] for r in rows}
    assert rate["1"] > rate["10"]  # the fixture's admissions follow deprivation
