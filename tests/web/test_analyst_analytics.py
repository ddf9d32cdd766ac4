"""The analyst's pages over analytics, risk and cohorts, on the small region taken through the
real pipeline: each page and API answers an analyst and refuses a practice (audited), and no
count from 1 to 7 is ever shown."""

from __future__ import annotations

import re

import pytest

from .helpers import counts_on, csrf_from, sign_in

PAGES = [
    "/analyst/registers",
    "/analyst/registers/hypertension",
    "/analyst/multimorbidity",
    "/analyst/risk",
    "/analyst/trends",
    "/analyst/trends?measure=ec_attendances",
]
APIS = [
    "/api/registers",
    "/api/multimorbidity",
    "/api/risk",
]
COUNT_KEYS = {"people", "events", "numerator", "denominator", "members"}


def counts_in(value, key=""):
    """Every count in an API answer, however deeply nested."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from counts_in(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from counts_in(v, key)
    elif key in COUNT_KEYS and value is not None:
        yield key, value


def last_entry(ws):
    return list(ws.audit.entries())[-1]


@pytest.mark.parametrize("path", [*PAGES, "/analyst/cohorts", *APIS])
def test_an_analyst_sees_each_page_and_a_practice_is_refused_and_audited(region_client, path):
    client, ws = region_client
    sign_in(client, "ana")
    assert client.get(path).status_code == 200
    client.cookies.clear()
    sign_in(client, "pat")
    response = client.get(path)
    assert response.status_code == 403
    entry = last_entry(ws)
    assert (entry.user, entry.outcome) == ("pat", "refused")


@pytest.mark.parametrize("path", PAGES)
def test_no_page_shows_a_count_from_1_to_7(region_client, path):
    client, _ = region_client
    sign_in(client, "ana")
    page = client.get(path).text
    counts = counts_on(page)
    assert len(counts) > 5
    assert not [c for c in counts if 1 <= c <= 7], "a count from 1 to 7 was shown"
    assert all(c % 5 == 0 for c in counts), "a count was not rounded to 5"


@pytest.mark.parametrize("path", APIS)
def test_no_api_answer_holds_a_count_from_1_to_7(region_client, path):
    client, _ = region_client
    sign_in(client, "ana")
    counts = list(counts_in(client.get(path).json()))
    assert len(counts) > 10
    assert all(isinstance(v, int) for _, v in counts)
    assert not [c for c in counts if 1 <= c[1] <= 7], "a count from 1 to 7 was published"
    assert all(v % 5 == 0 for _, v in counts), "a count was not rounded to 5"


def test_prevalence_has_a_gradient_chart_sii_and_hides_rates_of_hidden_counts(region_client):
    client, _ = region_client
    sign_in(client, "ana")
    page = client.get("/analyst/registers/hypertension").text
    assert "by IMD decile (1 most deprived), with 95% confidence intervals" in page
    assert "<svg" in page and "phm-interval" in page and "Slope index of inequality" in page
    registers = client.get("/api/registers").json()["registers"]
    for register in registers:
        for rows in register["by"].values():
            for row in rows:
                if row["numerator"] is None or row["denominator"] is None:
                    hidden = ("crude", "crude_lower_95", "crude_upper_95", "dsr")
                    assert all(row[k] is None for k in hidden), row
                else:  # the crude rate is the published counts' own
                    assert row["crude"] == pytest.approx(
                        100 * row["numerator"] / row["denominator"], abs=0.01
                    )
    # The palliative care register is small in this region: its cells are hidden.
    palliative = next(r for r in registers if r["measure"] == "prevalence_palliative_care")
    assert any(row["numerator"] is None for row in palliative["by"]["imd_decile"])


def test_the_risk_page_shows_the_spread_rising_risk_and_the_published_card(region_client):
    client, _ = region_client
    sign_in(client, "ana")
    page = client.get("/analyst/risk").text
    assert "Model card" in page and "Calibration (validation people)" in page
    assert "In the top 5% of rises" in page and page.count('class="phm-chart"') == 2
    answer = client.get("/api/risk").json()
    assert [r["decile"] for r in answer["deciles"]] == [*map(str, range(1, 11)), "Total"]
    means = [r["mean_risk_percent"] for r in answer["deciles"][:-1]]
    assert means == sorted(means)  # tenths of risk, lowest first
    assert answer["previous_reference_date"] == "2026-07-31"  # the region scored twice
    groups = {g["group_by"] for g in answer["model_card"]["groups"]}
    assert {"imd_quintile", "ethnic_group", "sex"} <= groups
    # Never a person-level row: no pseudonym, token or single score anywhere.
    text = client.get("/api/risk").text + page
    assert not re.search(r"[0-9a-f]{64}", text) and "pseudonym" not in text


COHORT = {
    "name": "older-high-risk",
    "description": "built on the web",
    "purpose": "prevention",
    "match": "all",
    "min_age": "50",
    "min_ltc": "1",
    "top_risk_percent": "20",
    "imd_quintiles": ["1", "2", "3", "4", "5"],
}


def test_the_cohort_builder_previews_size_and_make_up_and_writes_nothing(region_client):
    client, ws = region_client
    sign_in(client, "ana")
    token = csrf_from(client.get("/analyst/cohorts").text)
    response = client.post("/analyst/cohorts/preview", data={**COHORT, "csrf_token": token})
    assert response.status_code == 200, response.text
    assert "Size and make-up" in response.text and "By imd quintile" in response.text
    counts = counts_on(response.text)
    assert counts and not [c for c in counts if 1 <= c <= 7]
    assert not (ws.zone("outputs") / "cohorts").exists()
    entry = last_entry(ws)
    assert (entry.action, entry.purpose, entry.user) == ("cohort.preview", "prevention", "ana")


def test_the_cohort_builder_refuses_a_form_without_its_csrf_token(region_client):
    client, ws = region_client
    sign_in(client, "ana")
    for path in ("/analyst/cohorts/preview", "/analyst/cohorts/run"):
        response = client.post(path, data=COHORT)
        assert response.status_code == 403
        entry = last_entry(ws)
        assert (entry.action, entry.outcome) == ("web.csrf", "refused")
    assert not (ws.zone("outputs") / "cohorts").exists()


def test_the_cohort_builder_names_each_problem_in_a_definition(region_client):
    client, _ = region_client
    sign_in(client, "ana")
    token = csrf_from(client.get("/analyst/cohorts").text)
    bad = {"name": "Bad Name", "purpose": "prevention", "top_risk_percent": "0"}
    response = client.post("/analyst/cohorts/preview", data={**bad, "csrf_token": token})
    assert response.status_code == 400
    assert "name:" in response.text and "top_risk_percent:" in response.text
    none = {"name": "nothing", "purpose": "prevention"}
    response = client.post("/analyst/cohorts/preview", data={**none, "csrf_token": token})
    assert response.status_code == 400 and "choose at least one criterion" in response.text


def test_building_a_cohort_writes_a_list_per_practice_as_phm_cohort_does(region_client):
    import pandas as pd

    from openphm.cohorts.build import LIST_COLUMNS, build_cohort
    from openphm.cohorts.definition import CohortDefinition

    client, ws = region_client
    sign_in(client, "ana")
    token = csrf_from(client.get("/analyst/cohorts").text)
    response = client.post("/analyst/cohorts/run", data={**COHORT, "csrf_token": token})
    assert response.status_code == 200, response.text
    assert "Cohort older-high-risk built" in response.text
    fields = {k: v for k, v in COHORT.items() if k != "imd_quintiles"}
    definition = CohortDefinition(**fields, imd_quintiles=(1, 2, 3, 4, 5))
    con = ws.connect_linked(read_only=True)
    expected = build_cohort(con, definition).per_practice()
    con.close()
    assert len(expected) == 2  # both practices have members
    for ods, members in expected.items():
        listed = pd.read_csv(ws.zone("outputs") / "cohorts" / ods / "older-high-risk.csv")
        assert tuple(listed.columns) == LIST_COLUMNS and len(listed) == members
    entry = last_entry(ws)
    assert (entry.action, entry.purpose, entry.user) == ("cohort.build", "prevention", "ana")
    assert entry.counts["members"] == sum(expected.values())
    assert "linked.cohort_members" in entry.writes
    # The practice sees its own new list.
    client.cookies.clear()
    sign_in(client, "pat")
    names = [f["name"] for f in client.get("/api/cohorts").json()]
    assert "older-high-risk.csv" in names


def test_a_practice_cannot_build_a_cohort(region_client):
    client, ws = region_client
    sign_in(client, "pat")
    token = csrf_from(client.get("/practice/cohorts").text)
    response = client.post("/analyst/cohorts/run", data={**COHORT, "csrf_token": token})
    assert response.status_code == 403
    entry = last_entry(ws)
    assert (entry.action, entry.outcome, entry.user) == ("cohort.build", "refused", "pat")
    assert not (ws.zone("outputs") / "cohorts").exists()


@pytest.mark.parametrize(
    "path", ["/analyst/registers", "/analyst/registers/hypertension", "/analyst/multimorbidity",
             "/analyst/risk", "/analyst/trends"],
)  # fmt: skip
def test_each_page_of_built_figures_says_its_reference_date_and_the_data_s_end(region_client, path):
    client, ws = region_client
    con = ws.connect_linked(read_only=True)
    try:
        reference, end = con.execute(
            "SELECT reference_date, data_end FROM linked.analytics_runs"
        ).fetchone()
    finally:
        con.close()
    sign_in(client, "ana")
    page = client.get(path).text
    assert f"Figures as at {reference} (data to {end})." in page


def test_registers_and_activity_are_shown_by_the_programme_s_pcns_and_place(region_client):
    client, ws = region_client
    sign_in(client, "ana")
    pcns, places = set(ws.config.indicators.pcns), set(ws.config.indicators.places)
    register = next(r for r in client.get("/api/registers").json()["registers"]
                    if r["measure"] == "prevalence_hypertension")  # fmt: skip
    # The region's one ICB holds every practice: it is the programme's total, not a level.
    assert list(register["by"]) == ["imd_decile", "imd_quintile", "practice", "pcn", "place"]
    groups = {g: {row["group"] for row in rows} for g, rows in register["by"].items()}
    assert groups["pcn"] == pcns | {"Total"}  # every practice of the region is in a PCN
    assert groups["place"] == places | {"Total"}
    # Each table's total is the programme's, whichever grouping it is under, and its DSR too.
    totals = {g: next(r for r in rows if r["group"] == "Total")
              for g, rows in register["by"].items()}  # fmt: skip
    assert len({(t["numerator"], t["denominator"], t["dsr"]) for t in totals.values()}) == 1
    # A place of every practice is their total: its published counts are the Total's.
    (place,) = places
    row = next(r for r in register["by"]["place"] if r["group"] == place)
    assert (row["numerator"], row["denominator"]) == (totals["place"]["numerator"],
                                                      totals["place"]["denominator"])  # fmt: skip
    page = client.get("/analyst/registers/hypertension").text
    assert "recorded prevalence, by primary care network</caption>" in page
    activity = client.get("/analyst/activity").text
    # The window the build counted, in the title: the region's year to its end.
    assert "Activity and deaths from 2025-11-01 to 2026-10-31, by primary care network" in activity
    for name in pcns | places:
        assert f">{name}<" in activity


def test_a_pcn_s_hidden_practice_cannot_be_worked_out_from_the_pcn_s_total(region_client):
    """The practices and their PCNs are controlled as one table: wherever a practice's count
    is hidden, the PCN's count minus its other practices' published counts does not give it,
    because another cell of the same equation is hidden too."""
    client, ws = region_client
    sign_in(client, "ana")
    members = ws.config.indicators.pcns
    checked = 0
    for register in client.get("/api/registers").json()["registers"]:
        practices = {r["group"]: r for r in register["by"]["practice"]}
        for row in register["by"]["pcn"]:
            if row["group"] == "Total":
                continue
            for count in ("numerator", "denominator"):
                mine = [practices[p][count] for p in members[row["group"]] if p in practices]
                hidden = sum(v is None for v in mine)
                if hidden:
                    checked += 1
                    assert hidden >= 2 or row[count] is None, (register["measure"], row)
    assert checked > 0  # the region's small registers hide some practices' counts
