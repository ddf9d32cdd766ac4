"""Issue 26, item 5: the web's population pyramid and `phm measures` count the same people by
the same definitions (openphm.linked.population), on the same workspace. The measures'
denominators of an all-age prevalence are the registered population at the reference date by
group; the population page's figures, put through the same disclosure control, must be what
those denominators give, and its age bands the measures' own (0-4 … 90+)."""

from __future__ import annotations

import json

import pandas as pd

from openphm.disclosure import control_table
from openphm.disclosure.releases import rules_for
from openphm.linked.population import AGE_BANDS

from .helpers import sign_in

MEASURE = "prevalence_hypertension"  # all ages: its denominator is everyone registered


def _denominators(cli, ws, group_by: str) -> pd.DataFrame:
    result = cli(["measures", ws.root, "--measure", MEASURE, "--group-by", group_by, "--json",
                  "--role", "analyst"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = pd.DataFrame(json.loads(result.output)["measures"])
    rows = rows[rows["statistic"] == "crude"]
    return rows.assign(people=rows["denominator"].round().astype("int64"))[
        ["group_value", "people"]
    ]


def test_the_population_page_counts_whom_phm_measures_counts(client, web_workspace, cli):
    sign_in(client, "ana")
    page = client.get("/api/population").json()
    rules = rules_for(web_workspace)
    for key, column in (("ethnicity", "ethnic_group"), ("imd", "imd_decile")):
        counted = _denominators(cli, web_workspace, column).rename(columns={"group_value": column})
        counted = counted[counted["people"] > 0].sort_values(column, key=_natural)
        expected = control_table(
            counted.reset_index(drop=True), groups=[column], counts=["people"],
            totals_over=[column], rules=rules,
        ).table  # fmt: skip
        shown = pd.DataFrame(page[key]["rows"])  # with groups of nobody, which measures lack
        merged = expected.merge(shown, on=column, suffixes=("_measures", "_page"))
        assert len(merged) == len(expected), key
        published = merged["people_measures"].astype("Int64")
        assert published.equals(merged["people_page"].astype("Int64")), merged


def test_the_pyramid_has_the_measures_age_bands_and_their_people(client, web_workspace, cli):
    sign_in(client, "ana")
    rows = pd.DataFrame(client.get("/api/population").json()["age_sex"]["rows"])
    assert list(dict.fromkeys(rows["age_band"])) == list(AGE_BANDS)
    assert AGE_BANDS[-1] == "90+" and len(AGE_BANDS) == 19  # ESP2013's bands
    counted = _denominators(cli, web_workspace, "age_band").set_index("group_value")["people"]
    assert set(counted.index) <= set(AGE_BANDS)
    published = rows.pivot(index="age_band", columns="sex", values="people")
    for band, true in counted.items():
        men, women = published.loc[band, "M"], published.loc[band, "F"]
        if pd.isna(men) or pd.isna(women):
            continue  # hidden: 1-7, or protecting another cell
        # Each cell is its true count rounded to the nearest 5 (the fixture's people are all
        # M or F), so their sum is within 5 of the band's true count.
        assert abs(men + women - true) <= 5, (band, men, women, true)


def _natural(values: pd.Series) -> pd.Series:
    return values.map(lambda v: (0, int(v)) if str(v).isdigit() else (1, 0))
