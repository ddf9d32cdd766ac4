"""The web's Population and Activity pages use the one reference-date rule (analytics.period)
and say so with the data's end, as phm analyse does."""

from __future__ import annotations

from openphm.analytics.period import data_end, last_complete_month_end

from .helpers import sign_in


def test_the_pages_are_as_at_the_end_of_the_last_complete_month_of_data(client, web_workspace):
    con = web_workspace.connect_linked(read_only=True)
    try:
        end = data_end(con).day
    finally:
        con.close()
    day = last_complete_month_end(end)
    assert sign_in(client, "ana").status_code == 303
    said = f"as at {day} (data to {end})"
    for page in ("/analyst/population", "/analyst/activity"):
        assert said in client.get(page).text, page
    answer = client.get("/api/population").json()
    assert (answer["reference_date"], answer["data_end"]) == (day.isoformat(), end.isoformat())
    assert day != web_workspace.config.programme.start_date  # no longer the programme's start
