"""The analysts' authenticated query service: the SQL page and /api/sql run `phm sql`'s sandbox
(linked.query.run_sql), show a bounded number of rows with every value escaped, audit every
query with its text (refusals too), save a result as a release draft with the function
`--save-draft` uses, and offer no way to download a result."""

from __future__ import annotations

import re

import pytest

from openphm.disclosure.releases import list_drafts

from .helpers import csrf_from, every_route, sign_in

RANGE = "SELECT range AS n, range % 3 AS k FROM range(1000)"
BY_SEX = "SELECT sex, count(*) AS people FROM people GROUP BY sex ORDER BY sex"


def last_entry(ws):
    return list(ws.audit.entries())[-1]


def entries_of(ws, action):
    return [e for e in ws.audit.entries() if e.action == action]


def run(client, query, **more):
    token = csrf_from(client.get("/analyst/sql").text)
    return client.post("/analyst/sql", data={"query": query, "csrf_token": token, **more})


def test_an_analyst_s_query_shows_a_bounded_number_of_rows_and_is_audited_with_its_text(
    client, web_workspace
):
    sign_in(client, "ana")
    response = run(client, RANGE, rows="20")
    assert response.status_code == 200
    assert "1,000 rows returned; the first 20 shown" in response.text
    assert '<td class="nhsuk-table__cell">19</td>' in response.text
    assert '<td class="nhsuk-table__cell">20</td>' not in response.text
    entry = last_entry(web_workspace)
    assert (entry.action, entry.user, entry.outcome) == ("linked.query", "ana", "ok")
    assert entry.query == RANGE and entry.counts == {"rows": 1000}


def test_rows_shown_are_capped_at_500_whatever_is_asked(client):
    sign_in(client, "ana")
    page = run(client, RANGE, rows="100000").text
    assert "1,000 rows returned; the first 500 shown" in page


def test_every_value_and_column_name_is_escaped(client):
    sign_in(client, "ana")
    query = (
        "SELECT '<script>alert(1)</script>' AS \"<b>col</b>\", "
        "'=HYPERLINK(\"http://x\")' AS f, 'a' || chr(27) || '[31m' || chr(8238) || 'b' AS c, "
        "NULL AS missing"
    )
    page = run(client, query).text
    assert "<script>alert(1)" not in page and "<b>col</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;col&lt;/b&gt;" in page
    assert "\x1b" not in page and "\u202e" not in page
    assert "a\\x1b[31m\\u202eb" in page
    assert '<td class="nhsuk-table__cell">NULL</td>' in page


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv"),
        ("COPY people TO '/tmp/out.csv'", "COPY statements are not reads"),
        ("CALL enable_logging(storage = 'file')", "CALL statements are not reads"),
        ("SELECT * FROM '/etc/passwd.csv'", "files and other databases are out of reach"),
        ("SELECT 1; SELECT 2", "one statement at a time"),
    ],
)
def test_a_query_the_sandbox_refuses_is_shown_refused_and_audited_with_its_text(
    client, web_workspace, query, why
):
    sign_in(client, "ana")
    response = run(client, query)
    assert response.status_code == 400 and why in response.text
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.query) == ("linked.query", "refused", query)


def test_a_query_that_fails_is_audited_without_duckdb_s_message(client, web_workspace):
    sign_in(client, "ana")
    response = run(client, "SELECT CAST('secret-value-9' AS INTEGER)")
    assert response.status_code == 400
    entry = last_entry(web_workspace)
    assert (entry.outcome, entry.reason) == ("failed", "DuckDB ConversionException")
    assert "secret-value-9" not in entry.reason


@pytest.mark.parametrize("user", ["dora", "otto", "pat", "eng"])
def test_a_role_that_may_not_query_is_refused_and_the_query_is_audited(client, web_workspace, user):
    sign_in(client, user)
    token = csrf_from(client.get("/sign-in").text)
    response = client.post("/analyst/sql", data={"query": BY_SEX, "csrf_token": token})
    assert response.status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user, entry.query) == (
        "linked.query",
        "refused",
        user,
        BY_SEX,
    )
    assert client.get("/analyst/sql").status_code == 403


def test_a_query_without_the_csrf_token_is_refused_and_not_run(client, web_workspace):
    sign_in(client, "ana")
    before = len(entries_of(web_workspace, "linked.query"))
    response = client.post("/analyst/sql", data={"query": BY_SEX})
    assert response.status_code == 403
    assert last_entry(web_workspace).action == "web.csrf"
    assert len(entries_of(web_workspace, "linked.query")) == before


def test_a_result_is_saved_as_a_draft_with_the_function_save_draft_uses(client, web_workspace):
    sign_in(client, "ana")
    token = csrf_from(run(client, BY_SEX).text)
    response = client.post(
        "/analyst/sql/draft",
        data={
            "query": BY_SEX,
            "name": "people_by_sex",
            "counts": "people",
            "description": "registered people by sex",
            "csrf_token": token,
        },
    )
    assert response.status_code == 200 and "Draft people_by_sex saved" in response.text
    con = web_workspace.connect_linked(read_only=True)
    try:
        spec = {d.name: d for d in list_drafts(con)}["people_by_sex"]
        rows = con.execute("SELECT count(*) FROM linked.draft_people_by_sex").fetchone()[0]
    finally:
        con.close()
    assert (spec.groups, spec.counts, spec.query) == (["sex"], ["people"], BY_SEX)
    assert spec.description == "registered people by sex" and rows == 2
    draft = last_entry(web_workspace)
    assert (draft.action, draft.user, draft.query) == ("release.draft", "ana", BY_SEX)
    assert entries_of(web_workspace, "linked.query")[-1].query == BY_SEX  # the run, audited


def test_a_draft_with_a_bad_name_or_count_column_is_not_saved_and_says_why(client, web_workspace):
    sign_in(client, "ana")
    token = csrf_from(run(client, BY_SEX).text)
    data = {"query": BY_SEX, "name": "Bad Name", "counts": "people", "csrf_token": token}
    response = client.post("/analyst/sql/draft", data=data)
    assert response.status_code == 400 and "is not a draft name" in response.text
    data = {"query": BY_SEX, "name": "by_sex", "counts": "sex", "csrf_token": token}
    response = client.post("/analyst/sql/draft", data=data)
    assert response.status_code == 400 and "sex is not a count" in response.text
    assert last_entry(web_workspace).action == "linked.query"  # no release.draft entry


def test_a_practice_cannot_save_a_draft(client, web_workspace):
    sign_in(client, "pat")
    token = csrf_from(client.get("/sign-in").text)
    data = {"query": BY_SEX, "name": "x", "counts": "people", "csrf_token": token}
    assert client.post("/analyst/sql/draft", data=data).status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.query) == ("linked.query", "refused", BY_SEX)


# ----- the JSON endpoint ---------------------------------------------------------------------


def test_the_api_runs_the_same_sandboxed_query_and_audits_it(client, web_workspace):
    sign_in(client, "ana")
    answer = client.post("/api/sql", json={"query": RANGE, "rows": 5})
    assert answer.status_code == 200
    body = answer.json()
    assert body["columns"] == ["n", "k"] and body["rows"][:2] == [[0, 0], [1, 1]]
    assert (body["rows_returned"], body["rows_shown"]) == (1000, 5)
    entry = last_entry(web_workspace)
    assert (entry.action, entry.query, entry.counts) == ("linked.query", RANGE, {"rows": 1000})
    refused = client.post("/api/sql", json={"query": "SELECT * FROM read_text('/etc/passwd')"})
    assert refused.status_code == 400 and "read_text" in refused.json()["detail"]
    assert last_entry(web_workspace).outcome == "refused"
    assert client.post("/api/sql", json={"query": RANGE, "rows": 501}).status_code == 422


def test_the_api_needs_a_signed_in_analyst_and_a_json_body(client, web_workspace):
    assert client.post("/api/sql", json={"query": BY_SEX}).status_code == 401
    sign_in(client, "pat")
    assert client.post("/api/sql", json={"query": BY_SEX}).status_code == 403
    assert last_entry(web_workspace).query == BY_SEX
    client.cookies.clear()
    sign_in(client, "ana")
    before = len(entries_of(web_workspace, "linked.query"))
    form = client.post("/api/sql", data={"query": BY_SEX})  # what another site's form could send
    assert form.status_code == 415
    assert len(entries_of(web_workspace, "linked.query")) == before


# ----- no download ---------------------------------------------------------------------------


def test_no_route_downloads_a_query_result(app, client):
    query_routes = {
        (method, route.path)
        for route in every_route(app.routes)
        for method in getattr(route, "methods", ())
        if "sql" in route.path or "query" in route.path
    }
    assert query_routes == {
        ("GET", "/analyst/sql"),
        ("POST", "/analyst/sql"),
        ("POST", "/analyst/sql/draft"),
        ("POST", "/api/sql"),
    }
    sign_in(client, "ana")
    response = run(client, BY_SEX)
    assert response.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in response.headers
    assert not re.search(r"<a [^>]*\bdownload\b", response.text)
    assert not re.search(r'href="[^"]*\.(csv|xlsx|parquet|zip)"', response.text)
