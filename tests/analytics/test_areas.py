"""Measures by the programme's areas above the practice (PCN, place, ICB; issue
27): each area's counts are the sums of its practices', the people of practices in no area of a
level make that level's "Not in" group (so each level adds up to the whole programme), and an
area's standardised rate equals the overall rate of a build over that area's people alone (an
independent route: no grouping at all)."""

import datetime as dt

import pandas as pd
import pytest

from openphm import analytics
from openphm.analytics import areas
from openphm.programme.config import Icb, IndicatorSettings

from .linked import REFERENCE, person, registered, zone_on

PRACTICES = ("P00001", "P00002", "P00003", "P00004")
# P00004 is in no PCN: its people are "Not in a PCN". Every practice is in the one place.
AREAS = {
    "pcn": {"P00001": "North PCN", "P00002": "North PCN", "P00003": "South PCN"},
    "place": {p: "City" for p in PRACTICES},
    "icb": {p: "Synthetic ICB (QZZ)" for p in PRACTICES},
}
# Ages that put three people of each practice in every one of the 19 ESP2013 bands.
AGES = tuple(range(2, 95, 5))
DIED = dt.date(2025, 12, 1)  # in the year before REFERENCE


def _people(practices=PRACTICES) -> dict[str, list[dict]]:
    people, registrations = [], []
    for p in practices:
        k = PRACTICES.index(p)
        for age in AGES:
            for i in range(3):
                # A third die in the window, more at the southern practices: rates to tell apart.
                dies = i == 0 or (k >= 2 and i == 1 and age % 2 == 0)
                key = f"{p}-{age}-{i}"
                people.append(person(key, age=age, practice=p, imd_decile=1 + (age + k) % 10,
                                     sex="MF"[i % 2], died=DIED if dies else None))  # fmt: skip
                registrations.append(registered(key, practice=p))
    return {"people": people, "registrations": registrations}


def _measures(zone) -> pd.DataFrame:
    return zone.sql("SELECT * FROM linked.measures").df()


@pytest.fixture(scope="module")
def by_area(engine, tmp_path_factory):
    zone = zone_on(engine, tmp_path_factory.mktemp("by-area"), **_people())
    options = analytics.AnalyticsOptions(hospital_scores=False, sii_simulations=10, areas=AREAS)
    zone.analyse(REFERENCE, options)
    return zone


def test_each_area_s_counts_are_the_sums_of_its_practices_and_each_level_adds_up(by_area):
    crude = _measures(by_area).query("statistic == 'crude'")
    practice = crude[crude["group_by"] == "practice"]
    for level, of in AREAS.items():
        got = crude[crude["group_by"] == level].set_index(["measure", "group_value"])
        summed = (
            practice.assign(group_value=practice["group_value"].map(of).fillna(areas.NOT_IN[level]))
            .groupby(["measure", "group_value"])[["numerator", "denominator"]]
            .sum()
        )
        assert len(got) == len(summed) > 0
        pd.testing.assert_frame_equal(
            got[["numerator", "denominator"]].sort_index(), summed.sort_index(), check_dtype=False
        )
    pcn = set(crude.loc[crude["group_by"] == "pcn", "group_value"])
    assert pcn == {"North PCN", "South PCN", "Not in a PCN"}
    mortality = crude[crude["measure"] == "mortality"].set_index(["group_by", "group_value"])
    # Hand count: North (2 practices) 19 ages x 1 death each; all 4 practices 76 + 20 more
    # (P00003 and P00004, ages 2, 12, ..., 92: 10 even ages each).
    assert mortality.loc[("pcn", "North PCN"), "numerator"] == 38
    assert mortality.loc[("pcn", "North PCN"), "denominator"] == 2 * 19 * 3
    assert mortality.loc[("place", "City"), "numerator"] == 76 + 20
    assert mortality.loc[("all", "all"), "numerator"] == 96


def test_an_area_s_standardised_rate_equals_a_build_over_its_people_alone(by_area, tmp_path):
    dsr = _measures(by_area).query("statistic == 'dsr'")
    north = dsr[(dsr["group_by"] == "pcn") & (dsr["group_value"] == "North PCN")]
    alone = zone_on(by_area.engine, tmp_path, **_people(("P00001", "P00002")))
    alone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10, areas={}))  # fmt: skip
    overall = _measures(alone).query("statistic == 'dsr' and group_by == 'all'")
    columns = ["numerator", "denominator", "value", "lower_95", "upper_95", "flag"]
    got = north.set_index("measure")[columns].sort_index()
    want = overall.set_index("measure")[columns].sort_index()
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    # Standardised, not flagged: every band of the area holds people and there are 38 deaths.
    assert got.loc["mortality", "flag"] == "" and got.loc["mortality", "value"] > 0


def test_a_programme_without_areas_has_no_area_rows(engine, tmp_path):
    zone = zone_on(engine, tmp_path, **_people(("P00001",)))
    zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10))  # fmt: skip
    assert not set(_measures(zone)["group_by"]) & set(areas.LEVELS)


def test_the_hierarchy_names_only_the_levels_programme_toml_draws():
    settings = IndicatorSettings(
        pcns={"North PCN": ["P00001", "P00002"]},
        icbs={"QZZ": Icb(name="Synthetic ICB")},
    )
    assert settings.hierarchy(["P00001", "P00002", "P00003"]) == {
        "pcn": {"P00001": "North PCN", "P00002": "North PCN"},
        "icb": {p: "Synthetic ICB (QZZ)" for p in ("P00001", "P00002", "P00003")},
    }
    assert IndicatorSettings().hierarchy(["P00001"]) == {}
