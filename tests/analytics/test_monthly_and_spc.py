"""Activity month by month (analytics.monthly) counted by hand from a few people, and the XmR
chart's limits and Making Data Count rules (analytics.spc) against tables worked by hand from
the rules as NHS England publishes them."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from openphm.analytics import spc
from openphm.analytics.monthly import activity_months, months_of
from openphm.analytics.zone import Zone

from .linked import person, registered, zone_on

D = dt.date


def _rows(zone, reference=D(2026, 3, 31)):
    with zone.reading() as linked:
        frame = activity_months(Zone.over(linked), reference).to_pandas()
    frame["month"] = frame["month"].astype(str)
    return frame


def test_each_month_counts_the_events_of_people_registered_in_it(engine, tmp_path):
    zone = zone_on(
        engine,
        tmp_path,
        people=[
            person("a", practice="P1"),
            person("b", practice="P1", died=D(2026, 2, 10)),
            person("c", practice="P2"),
        ],
        registrations=[
            registered("a", practice="P1"),
            registered("b", practice="P1"),
            # c joined in February: not in January's denominator, nor are its January events.
            registered("c", start=D(2026, 2, 20), practice="P2"),
        ],
        apc_spells=[
            {"pseudonym": "a", "admission_date": D(2026, 1, 5), "emergency": True},
            {"pseudonym": "a", "admission_date": D(2026, 1, 25), "emergency": True},
            {"pseudonym": "b", "admission_date": D(2026, 2, 1), "emergency": True},
            {"pseudonym": "c", "admission_date": D(2026, 1, 3), "emergency": True},
            {
                "pseudonym": "c",
                "admission_date": D(2026, 3, 3),
                "emergency": False,
                "elective": True,
            },
        ],
    )
    rows = _rows(zone)
    emergency = rows[rows["measure"] == "emergency_admissions"]
    got = {(r.month, r.practice): (r.events, r.registered) for r in emergency.itertuples()}
    # The series starts at the first month any activity table holds (January 2026).
    assert got == {
        ("2026-01-01", "P1"): (2, 2),  # a twice; b registered, no event
        ("2026-02-01", "P1"): (1, 2),  # b, admitted before dying on the 10th
        ("2026-02-01", "P2"): (0, 1),  # c registered from the 20th
        ("2026-03-01", "P1"): (0, 1),  # b died in February: not in March's denominator
        ("2026-03-01", "P2"): (0, 1),  # c's March spell was elective
    }
    elective = rows[(rows["measure"] == "elective_admissions") & (rows["events"] > 0)]
    assert [(r.month, r.practice, r.events) for r in elective.itertuples()] == [
        ("2026-03-01", "P2", 1)
    ]


def test_the_months_end_at_the_reference_month_and_go_back_at_most_24():
    spans = months_of(D(2026, 10, 31), D(2020, 1, 1))
    assert len(spans) == 24
    assert spans[0] == (D(2024, 11, 1), D(2024, 11, 30))
    assert spans[-1] == (D(2026, 10, 1), D(2026, 10, 31))
    assert months_of(D(2026, 10, 31), D(2026, 8, 15))[0] == (D(2026, 8, 1), D(2026, 8, 31))


# XmR by hand: y = 10, 14, 12, 16, 13. Mean 65/5 = 13; moving ranges 4, 2, 4, 3, mean 13/4 =
# 3.25; limits 13 ± 2.66 × 3.25 = 13 ± 8.645; near limits 13 ± (2/3)(8.645) = 13 ± 5.76333.
def test_limits_by_hand():
    chart = spc.xmr([10, 14, 12, 16, 13])
    assert chart.mean == pytest.approx(13)
    assert chart.mean_moving_range == pytest.approx(3.25)
    assert (chart.lower, chart.upper) == (pytest.approx(4.355), pytest.approx(21.645))
    assert chart.near_upper == pytest.approx(18.763333, abs=1e-6)
    assert chart.variation == (spc.COMMON,) * 5
    assert "only 5 points" in chart.warning


# y = 4, 8 six times, then 30. Mean (72 + 30)/13 = 7.8462; moving ranges eleven 4s and 22,
# mean 66/12 = 5.5; upper limit 7.8462 + 14.63 = 22.476: 30 is outside; 8 and 4 alternate
# about the mean, so no run, trend or two-in-three fires anywhere else.
def test_one_point_outside_the_limits_is_special_cause_and_its_direction_says_which():
    values = [4, 8] * 6 + [30]
    chart = spc.xmr(values, spc.LOWER_IS_BETTER)
    assert chart.upper == pytest.approx(102 / 13 + 2.66 * 5.5)
    assert chart.outside == (False,) * 12 + (True,)
    assert chart.variation == (spc.COMMON,) * 12 + (spc.CONCERN,)
    assert spc.xmr(values, spc.HIGHER_IS_BETTER).variation[-1] == spc.IMPROVEMENT
    assert spc.xmr(values).variation[-1] == spc.NEUTRAL_HIGH
    assert "outside the process limits" in chart.summary and chart.warning == ""


@pytest.mark.parametrize(
    ("sides", "flagged"),
    [
        ([1] * 6 + [-1], [False] * 7),  # six on one side: not yet a shift
        ([1] * 7, [True] * 7),
        ([-1, 1, 1, 1, 1, 1, 1, 1], [False] + [True] * 7),
        ([1, 1, 1, 0, 1, 1, 1, 1], [False] * 8),  # a point on the mean breaks the run
    ],
)
def test_a_shift_is_seven_or_more_on_one_side(sides, flagged):
    import numpy as np

    assert spc._in_runs(np.array(sides), spc.RUN).tolist() == flagged


@pytest.mark.parametrize(
    ("values", "flagged"),
    [
        ([1, 2, 3, 4, 5, 6, 7], [True] * 7),  # seven points, six rises
        ([1, 2, 3, 4, 5, 6], [False] * 6),
        ([9, 7, 6, 5, 4, 3, 2, 1], [True] * 8),
        ([1, 2, 3, 3, 4, 5, 6, 7], [False] * 8),  # a flat step breaks the trend
        ([5, 1, 2, 3, 4, 5, 6, 7], [False] + [True] * 7),
    ],
)
def test_a_trend_is_seven_or_more_points_each_beyond_the_last(values, flagged):
    import numpy as np

    assert spc._in_trends(np.sign(np.diff(values)), spc.RUN).tolist() == flagged


def test_two_of_three_beyond_two_sigma_on_one_side():
    import numpy as np

    near = np.array([True, False, True, False, False])
    same = np.array([1, 1, 1, -1, 1])
    assert spc._two_in_three(near, same).tolist() == [True, False, True, False, False]
    across = np.array([1, -1, 1, -1, 1])  # the three are not all on one side
    assert spc._two_in_three(near, across).tolist() == [False] * 5


def test_a_series_with_a_missing_month_is_refused():
    with pytest.raises(ValueError, match="no missing value"):
        spc.xmr([1.0, float("nan"), 2.0])


def test_months_registered_agree_with_counting_each_person_each_month(engine, tmp_path):
    """Spells of registration (overlapping moves, back-to-back moves, gaps, deaths, births in
    the series, registrations ending before it, people with no practice, a group of their own)
    against the definition applied one person and one month at a time."""
    import random

    rng = random.Random(7)
    day = lambda lo, hi: lo + dt.timedelta(days=rng.randrange((hi - lo).days + 1))  # noqa: E731
    people, regs, spells = [], [], []
    for i in range(150):
        p = f"p{i:03d}"
        died = day(D(2024, 6, 1), D(2026, 6, 1)) if rng.random() < 0.2 else None
        entry = person(p, practice=rng.choice(["P1", "P2", "P3", None]), died=died)
        if rng.random() < 0.1:  # born during the series
            entry["birth_month"] = day(D(2024, 5, 1), D(2026, 2, 1)).replace(day=1)
        people.append(entry)
        start = day(D(2023, 1, 1), D(2025, 12, 1))
        for _ in range(rng.choice([1, 1, 2, 3])):
            end = day(start, D(2026, 6, 1)) if rng.random() < 0.6 else None
            regs.append(registered(p, start=start, end=end, practice="P9"))
            if end is None:
                break
            # the next registration overlaps, follows on the next day, or follows a gap
            start = end + dt.timedelta(days=rng.choice([-40, -3, 1, 1, 20, 70]))
        for _ in range(rng.randrange(6)):
            spells.append({"pseudonym": p, "admission_date": day(D(2024, 1, 1), D(2026, 3, 31)),
                           "emergency": True})  # fmt: skip
    regs.append(registered("nobody", start=D(2024, 1, 1)))  # not in people: never counted
    zone = zone_on(engine, tmp_path, people=people, registrations=regs, apc_spells=spells)
    rows = _rows(zone)
    got = {(r.month, None if pd.isna(r.practice) else r.practice): (r.events, r.registered)
           for r in rows[rows["measure"] == "emergency_admissions"].itertuples()}  # fmt: skip

    def held(p, month, month_end):
        who = next(x for x in people if x["pseudonym"] == p)
        alive = who["date_of_death"] is None or who["date_of_death"] >= month
        return alive and who["birth_month"] <= month_end and any(
            r["pseudonym"] == p and r["start_date"] <= month_end
            and (r["end_date"] is None or r["end_date"] >= month)
            for r in regs
        )  # fmt: skip

    want = {}
    for month, month_end in months_of(D(2026, 3, 31), D(2024, 1, 1)):
        for who in people:
            if held(who["pseudonym"], month, month_end):
                key = (str(month), who["practice"])
                events = sum(
                    1 for s in spells
                    if s["pseudonym"] == who["pseudonym"]
                    and month <= s["admission_date"] <= month_end
                )  # fmt: skip
                before = want.get(key, (0, 0))
                want[key] = (before[0] + events, before[1] + 1)
    assert got == want
    assert len(want) > 60  # every practice in most months
