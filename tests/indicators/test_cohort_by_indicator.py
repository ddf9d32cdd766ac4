"""A cohort selects people by indicator and goes to practices as tokens by the existing route
(phm cohort): each member's reasons are their own flags in words with the date each became
due, and the cohort must be for the purpose its indicators were built for (P6). Built on each
engine (the `engine` fixture)."""

from __future__ import annotations

import pandas as pd
import pytest

from openphm.cohorts.build import LIST_COLUMNS, CohortError, run_cohort
from openphm.cohorts.definition import load_definition
from openphm.cohorts.words import date_words
from openphm.governance.audit import Actor
from openphm.programme.workspace import Workspace

from .conftest import END

ANALYST = Actor(user="test-analyst", role="analyst")
DEFINITION = """
name = "prescribing-safety"
description = "People a PINCER indicator flags"
purpose = "{purpose}"
indicators = ["pincer_gi_a", "pincer_mo_me"]
"""


@pytest.fixture(scope="module")
def scored(built):
    """The region's workspace with analytics and risk scores, as phm cohort needs."""
    from openphm.analytics import MEASURES, AnalyticsOptions, build
    from openphm.risk import open_zone, score, train

    ws = Workspace.open(built.workspace)
    con = ws.connect_linked()
    build(con, END, AnalyticsOptions(measures=MEASURES[:1], groupings=(), sii_simulations=10))
    con.close()
    with open_zone(ws) as con:
        trained = train(con)
        score(con, trained.model_id)
    return ws


def _definition(tmp_path, purpose):
    path = tmp_path / "cohort.toml"
    path.write_text(DEFINITION.format(purpose=purpose))
    return load_definition(path, ("safety-monitoring", "prevention"))


# Indicators, analytics, a risk model trained and scored, then the cohort and its lists: the
# programme end to end on the region, about 15 s of its own: the programme tier (`make
# test-programme`, which CI runs), not `make test`.
@pytest.mark.programme
def test_a_cohort_by_indicator_lists_each_member_with_their_own_reasons_and_due_dates(
    scored, tmp_path, engine
):
    definition = _definition(tmp_path, "safety-monitoring")
    built, paths = run_cohort(scored, ANALYST, definition, engine=engine)
    con = scored.connect_linked(read_only=True)
    try:
        flagged = con.sql(
            "SELECT pseudonym, indicator, reason, due_date FROM linked.person_indicators "
            "WHERE indicator IN ('pincer_gi_a', 'pincer_mo_me') AND pseudonym IN "
            "(SELECT pseudonym FROM linked.person_risk)"
        ).df()
    finally:
        con.close()
    assert set(built.members["pseudonym"]) == set(flagged["pseudonym"])
    assert len(flagged) > 0
    one = flagged.iloc[0]
    mine = built.members.set_index("pseudonym").loc[one["pseudonym"], "reasons"]
    due = date_words(pd.Timestamp(one["due_date"]).date())  # "1 September 2026"
    assert f"{one['reason']} (due {due})" in mine
    lists = pd.concat([pd.read_csv(p) for p in paths.values()])
    assert tuple(lists.columns) == LIST_COLUMNS
    assert len(lists) == len(built.members) - built.without_token


def test_a_cohort_for_another_purpose_than_its_indicators_is_refused(built, tmp_path):
    # Refused before anything is read of the analytics or the risk scores, so the region's
    # workspace needs neither.
    with pytest.raises(CohortError, match="built for safety-monitoring, not prevention"):
        run_cohort(Workspace.open(built.workspace), ANALYST, _definition(tmp_path, "prevention"))
