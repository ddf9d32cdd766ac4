"""Analysts query the linked zone read-only, and nothing else can be reached from a query."""

from __future__ import annotations

import pytest

from openphm.linked.query import QueryError, run_sql, tables


@pytest.fixture
def populated(workspace):
    con = workspace.connect_linked()
    con.execute(
        "CREATE TABLE linked.people AS SELECT md5(range::VARCHAR) || md5(range::VARCHAR) "
        "AS pseudonym, CASE WHEN range % 2 = 0 THEN 'F' ELSE 'M' END AS sex FROM range(40)"
    )
    con.close()
    return workspace


def test_an_analyst_can_count_people_by_sex(populated):
    result = run_sql(populated, "SELECT sex, count(*) AS n FROM people GROUP BY sex ORDER BY sex")
    assert result.to_dict("records") == [{"sex": "F", "n": 20}, {"sex": "M", "n": 20}]


def test_tables_lists_rows_and_columns(populated):
    info = {t.name: t for t in tables(populated)}
    assert info["people"].rows == 40 and info["people"].columns == ["pseudonym", "sex"]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY people TO '/tmp/exfiltrated.csv'",
        "ATTACH '/tmp/other.duckdb' AS other",
        "SET enable_external_access = true",
        "DELETE FROM people",
        "CREATE TABLE linked.mine AS SELECT 1",
    ],
)
def test_a_query_cannot_reach_outside_or_change_the_zone(populated, query):
    with pytest.raises(QueryError):
        run_sql(populated, query)
    assert run_sql(populated, "SELECT count(*) AS n FROM people")["n"][0] == 40


def test_phm_sql_is_for_analysts_and_writes_csv(cli, populated):
    query = "SELECT count(*) AS n FROM people"
    refused = cli(["sql", populated.root, query, "--role", "processor-engineer"])
    assert refused.exit_code == 2 and "may not linked.query" in refused.output
    result = cli(["sql", populated.root, query, "--csv", "--role", "analyst"])
    assert result.exit_code == 0 and result.output.splitlines() == ["n", "40"]
