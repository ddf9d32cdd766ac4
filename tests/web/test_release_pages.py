"""Releases in the browser: an analyst requests a release from drafts and resubmits a returned
one; an output checker or the DPO reviews every cell as it would be released and approves,
returns or rejects it; the requester never checks their own; an exception is approved only by
the DPO; an approved release downloads as a zip of its tables, results.json and checksums."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from html.parser import HTMLParser

import pandas as pd
import pytest

from openphm.disclosure.checking import return_release
from openphm.disclosure.releases import list_releases, request_release, save_draft
from openphm.governance.audit import Actor

from .helpers import csrf_from, sign_in


def last_entry(ws):
    return list(ws.audit.entries())[-1]


def the_release(ws, release_id=None) -> dict:
    found = list_releases(ws)
    return next(r for r in found if r["id"] == release_id) if release_id else found[0]


def post(client, path, **data):
    token = csrf_from(client.get("/sign-in").text)
    return client.post(path, data={"csrf_token": token, **data})


def requested_by(ws, user: str, **draft) -> str:
    """A release of a fresh draft, requested by `user` as an analyst (on the command line, say);
    its id."""
    name = draft.pop("name", "by_sex")
    draft.setdefault("description", "registered people by sex")
    con = ws.connect_linked()
    try:
        save_draft(con, name, draft.pop("frame", BY_SEX), **draft)
    finally:
        con.close()
    manifest = request_release(
        ws,
        Actor(user, "analyst"),
        [name],
        purpose="prevention",
        title=f"{name} by {user}",
    )
    return manifest["id"]


BY_SEX = pd.DataFrame({"sex": ["F", "M"], "people": [55, 48]})


class MarkedCells(HTMLParser):
    """Each review table's cells: (data-outcome, text), row by row."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[tuple[str, str]]] = []
        self._cell: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        if tag == "td" and "data-outcome" in attrs:
            self._cell = [attrs["data-outcome"], ""]

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1].append((self._cell[0], " ".join(self._cell[1].split())))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data


def marked_cells(page: str) -> list[list[tuple[str, str]]]:
    parser = MarkedCells()
    parser.feed(page)
    return [row for row in parser.rows if row]


# ----- the checker's review ----------------------------------------------------------------------


def test_the_review_shows_every_cell_as_released_with_suppressed_and_rounded_marked_in_words(
    client, web_workspace
):
    release = the_release(web_workspace)
    sign_in(client, "otto")
    page = client.get(f"/dpo/releases/{release['id']}").text
    released = pd.read_csv(
        web_workspace.zone("outputs") / "releases" / release["id"] / "prevalence.csv",
        dtype=str,
        keep_default_na=False,
    )
    cells = marked_cells(page)
    assert len(cells) == len(released) and all(len(r) == len(released.columns) for r in cells)
    marks = set()
    for row, values in zip(cells, released.itertuples(index=False), strict=True):
        for (outcome, text), value in zip(row, values, strict=True):
            marks.add(outcome)
            if outcome == "suppressed":  # blank in the file, said in words on the page
                assert value == "" and text == "Suppressed"
            elif outcome == "rounded":
                assert text == f"{value} (r) (rounded)" and int(value) % 5 == 0
            else:
                assert text == value
    assert marks == {"suppressed", "rounded", "ok"}
    assert "OpenPHM disclosure rules, version" in page and "to the nearest 5" in page
    assert "1 to 7" in page and "register prevalence by practice" in page
    assert "Approve release" in page and "Return to the analyst" in page
    history = the_release(web_workspace, release["id"])["history"]
    assert [(e["action"], e["user"]) for e in history][-1] == ("reviewed", "otto")
    entry = last_entry(web_workspace)
    assert (entry.action, entry.user, entry.outcome) == ("release.review", "otto", "ok")


def test_the_review_escapes_what_the_analyst_wrote(client, web_workspace):
    frame = pd.DataFrame({"group": ["<script>x</script>", "=HYPERLINK(1)"], "people": [40, 50]})
    release_id = requested_by(
        web_workspace,
        "ana",
        name="odd",
        frame=frame,
        groups=["group"],
        counts=["people"],
        description="<img src=x onerror=alert(1)>",
    )
    sign_in(client, "dora")
    page = client.get(f"/dpo/releases/{release_id}").text
    assert "<script>x" not in page and "<img src=x" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "&lt;img src=x" in page
    assert "&#39;=HYPERLINK(1)" in page  # as the CSV holds it: neutralised for spreadsheets


@pytest.mark.parametrize("user", ["ana", "pat", "eng"])
def test_only_an_output_checker_or_the_dpo_opens_a_review(client, web_workspace, user):
    release = the_release(web_workspace)
    sign_in(client, user)
    assert client.get(f"/dpo/releases/{release['id']}").status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("release.review", "refused", user)


def test_an_unknown_release_is_not_found(client):
    sign_in(client, "otto")
    assert client.get("/dpo/releases/20990101T000000-abcdef").status_code == 404
    assert client.get("/dpo/releases/..%2F..%2Fworkspace.json").status_code == 404


@pytest.mark.parametrize("step", ["approve", "return", "reject"])
def test_every_decision_needs_the_session_s_csrf_token(client, web_workspace, step):
    release = the_release(web_workspace)
    sign_in(client, "otto")
    response = client.post(f"/dpo/releases/{release['id']}/{step}", data={"comment": "x"})
    assert response.status_code == 403
    assert last_entry(web_workspace).action == "web.csrf"
    assert the_release(web_workspace, release["id"])["status"] == "awaiting approval"


@pytest.mark.parametrize("step", ["return", "reject"])
def test_returning_or_rejecting_needs_a_comment(client, web_workspace, step):
    release = the_release(web_workspace)
    sign_in(client, "otto")
    response = post(client, f"/dpo/releases/{release['id']}/{step}", comment="  ")
    assert response.status_code == 409 and "say why" in response.text
    assert the_release(web_workspace, release["id"])["status"] == "awaiting approval"


def test_a_checker_rejects_with_a_comment(client, web_workspace):
    release = the_release(web_workspace)
    sign_in(client, "otto")
    response = post(client, f"/dpo/releases/{release['id']}/reject", comment="not needed")
    assert response.headers["location"] == f"/dpo/releases?rejected={release['id']}"
    record = the_release(web_workspace, release["id"])
    assert record["status"] == "rejected"
    assert record["history"][-1] | {"at": None} == {
        "action": "rejected",
        "user": "otto",
        "role": "output-checker",
        "at": None,
        "comment": "not needed",
    }
    assert (
        "Release " + release["id"] + " rejected." in client.get(response.headers["location"]).text
    )


# ----- separation of duties ------------------------------------------------------------------


@pytest.mark.parametrize("step", ["approve", "return", "reject"])
def test_the_requester_can_never_check_their_own_release(client, web_workspace, step):
    # otto asked for it as an analyst (on the command line, as the account otto), and signs in
    # to the web service as an output checker.
    release_id = requested_by(web_workspace, "otto", groups=["sex"], counts=["people"])
    sign_in(client, "otto")
    page = client.get(f"/dpo/releases/{release_id}").text
    assert "You requested this release" in page and "Approve release" not in page
    response = post(client, f"/dpo/releases/{release_id}/{step}", comment="fine by me")
    assert response.status_code == 403 and "second person" in response.text
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == (f"release.{step}", "refused", "otto")
    assert entry.reason == "the requester cannot check their own release"
    assert the_release(web_workspace, release_id)["status"] == "awaiting approval"


def test_an_exception_is_approved_only_by_the_data_protection_officer(client, web_workspace):
    con = web_workspace.connect_linked()
    means = pd.DataFrame({"sex": ["F", "M"], "mean_age": [44.2, 41.9]})
    try:  # no count columns: disclosure control cannot vouch for it
        save_draft(con, "means", means, groups=["sex", "mean_age"], counts=[], description="ages")
    finally:
        con.close()
    sign_in(client, "ana")
    response = post(
        client,
        "/analyst/releases/request",
        drafts="means",
        purpose="prevention",
        title="Mean age",
        **{"exception-means": "two means over thousands of people each"},
    )
    assert response.status_code == 303, response.text
    release_id = response.headers["location"].rsplit("=", 1)[1]
    client.cookies.clear()
    sign_in(client, "otto")
    page = client.get(f"/dpo/releases/{release_id}").text
    assert "Only the data protection officer may approve this release" in page
    assert "Approve release" not in page and "two means over thousands" in page
    response = post(client, f"/dpo/releases/{release_id}/approve")
    assert response.status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("release.approve", "refused", "otto")
    assert "approved by the data protection officer" in entry.reason
    assert the_release(web_workspace, release_id)["status"] == "awaiting approval"
    client.cookies.clear()
    sign_in(client, "dora")
    assert "Approve release" in client.get(f"/dpo/releases/{release_id}").text
    assert post(client, f"/dpo/releases/{release_id}/approve").status_code == 303
    record = the_release(web_workspace, release_id)
    assert (record["status"], record["approved_by"]) == ("released", "dora")


def test_only_the_requester_resubmits(client, web_workspace):
    release_id = requested_by(web_workspace, "someone", groups=["sex"], counts=["people"])
    return_release(web_workspace, Actor("oscar", "output-checker"), release_id, "group them")
    sign_in(client, "ana")
    response = post(client, f"/analyst/releases/{release_id}/resubmit", comment="mine now")
    assert response.status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("release.resubmit", "refused", "ana")
    assert the_release(web_workspace, release_id)["status"] == "returned"


# ----- the analyst -------------------------------------------------------------------------------


def test_an_analyst_requests_a_release_from_a_draft(client, web_workspace):
    sign_in(client, "ana")
    page = client.get("/analyst/releases").text
    assert "Draft prevalence" in page and "register prevalence by practice" in page
    response = post(
        client,
        "/analyst/releases/request",
        drafts="prevalence",
        purpose="service-planning",
        title="Prevalence again",
        **{"describe-prevalence": "people on two registers, by practice"},
    )
    assert response.status_code == 303
    release_id = response.headers["location"].rsplit("=", 1)[1]
    record = the_release(web_workspace, release_id)
    assert (record["requester"], record["purpose"], record["status"]) == (
        "ana",
        "service-planning",
        "awaiting approval",
    )
    assert record["contents"][0]["description"] == "people on two registers, by practice"
    entry = last_entry(web_workspace)
    assert (entry.action, entry.user, entry.purpose) == (
        "release.request",
        "ana",
        "service-planning",
    )
    assert f"Release {release_id} requested" in client.get(response.headers["location"]).text


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (
            {"drafts": "prevalence", "purpose": "marketing", "title": "x"},
            "not one of this programme",
        ),
        ({"purpose": "prevention", "title": "x"}, "choose at least one draft"),
        (
            {"drafts": "prevalence", "purpose": "prevention", "title": " "},
            "give the release a title",
        ),
        ({"drafts": "nosuch", "purpose": "prevention", "title": "x"}, "no draft named nosuch"),
    ],
)
def test_a_request_that_cannot_be_made_says_why_and_makes_nothing(client, web_workspace, data, why):
    before = len(list_releases(web_workspace))
    sign_in(client, "ana")
    response = post(client, "/analyst/releases/request", **data)
    assert response.status_code == 400 and why in response.text
    assert len(list_releases(web_workspace)) == before


def test_a_purpose_that_is_not_the_programme_s_is_refused_and_audited(client, web_workspace):
    sign_in(client, "ana")
    data = {"drafts": "prevalence", "purpose": "marketing", "title": "x"}
    post(client, "/analyst/releases/request", **data)
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.purpose) == (
        "release.request",
        "refused",
        "marketing",
    )


def test_a_request_form_without_the_csrf_token_is_refused(client, web_workspace):
    before = len(list_releases(web_workspace))
    sign_in(client, "ana")
    data = {"drafts": "prevalence", "purpose": "prevention", "title": "x"}
    assert client.post("/analyst/releases/request", data=data).status_code == 403
    assert len(list_releases(web_workspace)) == before


@pytest.mark.parametrize("user", ["otto", "dora", "pat"])
def test_only_an_analyst_requests_a_release(client, web_workspace, user):
    sign_in(client, user)
    data = {"drafts": "prevalence", "purpose": "prevention", "title": "x"}
    assert post(client, "/analyst/releases/request", **data).status_code == 403
    assert client.get("/analyst/releases").status_code == 403
    assert (last_entry(web_workspace).action, last_entry(web_workspace).outcome) == (
        "release.request",
        "refused",
    )


def test_a_returned_release_shows_the_checker_s_comment_and_is_resubmitted(client, web_workspace):
    release = the_release(web_workspace)
    sign_in(client, "otto")
    comment = "Y10001 has 3 people with dementia: <group> the practices"
    response = post(client, f"/dpo/releases/{release['id']}/return", comment=comment)
    assert response.headers["location"] == f"/dpo/releases?returned={release['id']}"
    assert the_release(web_workspace, release["id"])["status"] == "returned"
    client.cookies.clear()
    sign_in(client, "ana")
    page = client.get("/analyst/releases").text
    assert "Y10001 has 3 people with dementia: &lt;group&gt; the practices" in page
    assert f"Resubmit release {release['id']}" in page
    response = post(
        client,
        f"/analyst/releases/{release['id']}/resubmit",
        comment="registers grouped",
        **{"describe-prevalence": "prevalence, registers grouped"},
    )
    assert response.status_code == 303
    record = the_release(web_workspace, release["id"])
    assert record["status"] == "awaiting approval"
    assert record["contents"][0]["description"] == "prevalence, registers grouped"
    assert [e["action"] for e in record["history"]][-2:] == ["returned", "resubmitted"]
    assert last_entry(web_workspace).action == "release.resubmit"


# ----- download ----------------------------------------------------------------------------------


def test_an_approved_release_downloads_as_a_zip_with_results_and_checksums(client, web_workspace):
    release = the_release(web_workspace)
    sign_in(client, "dora")
    assert post(client, f"/dpo/releases/{release['id']}/approve").status_code == 303
    client.cookies.clear()
    sign_in(client, "ana")
    assert f"/releases/{release['id']}/download" in client.get("/analyst/releases").text
    response = client.get(f"/releases/{release['id']}/download")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    rid = release["id"]
    assert sorted(archive.namelist()) == [
        f"{rid}/checksums/prevalence.csv.txt",
        f"{rid}/prevalence.csv",
        f"{rid}/results.json",
    ]
    table = archive.read(f"{rid}/prevalence.csv")
    digest = hashlib.sha256(table).hexdigest()
    assert archive.read(f"{rid}/checksums/prevalence.csv.txt").decode() == digest
    results = json.loads(archive.read(f"{rid}/results.json"))
    assert results["version"] == "0.4.11"
    assert results["results"]["prevalence"]["files"][0]["sha256"] == digest
    assert results["release"]["status"] == "released"
    entry = last_entry(web_workspace)
    assert (entry.action, entry.user, entry.counts) == ("release.download", "ana", {"files": 1})
    history = the_release(web_workspace, rid)["history"]
    assert (history[-1]["action"], history[-1]["user"]) == ("downloaded", "ana")


def test_a_release_not_yet_approved_does_not_download(client, web_workspace):
    release = the_release(web_workspace)
    sign_in(client, "otto")
    response = client.get(f"/releases/{release['id']}/download")
    assert response.status_code == 409 and "only an approved release" in response.text
    assert "content-disposition" not in response.headers
    assert not [e for e in web_workspace.audit.entries() if e.action == "release.download"]


def test_a_practice_cannot_download_a_release(client, web_workspace):
    release = the_release(web_workspace)
    sign_in(client, "pat")
    assert client.get(f"/releases/{release['id']}/download").status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome) == ("release.download", "refused")


def test_the_releases_list_links_each_release_to_its_review(client, web_workspace):
    release = the_release(web_workspace)
    sign_in(client, "otto")
    page = client.get("/dpo/releases").text
    assert re.search(rf'href="/dpo/releases/{release["id"]}"', page)
    assert "Approve release" not in page  # approving happens where the cells are seen
