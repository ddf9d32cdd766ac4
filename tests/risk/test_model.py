"""The model, its metrics and card, and person_risk, on the small region (and the metrics on
data whose answer is known)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from openphm.analytics.zone import Zone
from openphm.risk import explain
from openphm.risk import model as models
from openphm.risk.card import calibration_svg, markdown, publishable
from openphm.risk.features import FEATURE_NAMES, LABELS
from openphm.risk.metrics import MIN_GROUP_EVENTS, all_metrics, group_metrics
from openphm.risk.plan import plan_training
from openphm.risk.store import latest_model, open_zone

from .region import END, PREVIOUS_REFRESH


def test_calibration_of_a_true_probability_is_slope_one_intercept_zero():
    rng = np.random.default_rng(1)
    p = rng.beta(1, 12, 200_000)
    y = rng.random(len(p)) < p
    m = all_metrics(y, p)
    assert abs(m["calibration_slope"] - 1) < 0.05
    assert abs(m["calibration_intercept"]) < 0.03
    too_extreme = 1 / (1 + np.exp(-2 * np.log(p / (1 - p))))
    assert all_metrics(y, too_extreme)["calibration_slope"] < 0.6


def test_group_metrics_leave_out_groups_too_small_to_measure():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"risk": rng.random(1000), "group": ["a"] * 900 + ["b"] * 100})
    frame["outcome"] = (rng.random(1000) < frame["risk"]).astype(int)
    frame.loc[frame["group"] == "b", "outcome"] = 0
    frame.loc[frame.index[-5:], "outcome"] = 1
    rows = group_metrics(frame, "group").set_index("group")
    assert np.isfinite(rows.loc["a", "auc"]) and np.isnan(rows.loc["b", "auc"])
    assert rows.loc["b", "events"] == 5


def test_a_24_month_region_trains_on_disjoint_people_before_its_last_12_months(region):
    with open_zone(region.open(), read_only=True) as con:
        plan = plan_training(con)
    assert plan.split == "person holdout"
    assert plan.train_date == plan.validation_date == dt.date(2025, 10, 31)
    assert plan.data_end == END and plan.feature_history_months == 12


def test_36_months_of_history_give_a_temporal_split():
    from openphm.engine import connect

    con = connect()
    con.execute("ATTACH ':memory:' AS zone3")
    for table, column in (
        ("consultations", "consultation_date"),
        ("apc_spells", "admission_date"),
        ("ec_attendances", "arrival_date"),
    ):
        con.execute(
            f"CREATE TABLE zone3.main.{table} AS SELECT * FROM (VALUES "
            f"(DATE '2023-11-01'), (DATE '2026-10-31')) t({column})"
        )
    plan = plan_training(con)
    assert plan.split == "temporal"
    assert (plan.train_date, plan.validation_date) == (dt.date(2024, 10, 31), dt.date(2025, 10, 31))


def test_the_card_holds_calibration_and_metrics_per_imd_quintile_ethnic_group_and_sex(region):
    with open_zone(region.open(), read_only=True) as con:
        model_id, _, card = latest_model(con)
    assert model_id == region.model_id
    for name in ("model", "baseline"):
        m = card["metrics"][name]
        assert 0.6 < m["auc"] < 1 and 0 < m["average_precision"] < 1
        assert np.isfinite(m["calibration_slope"]) and np.isfinite(m["calibration_intercept"])
    groups = pd.DataFrame(card["groups"])
    assert {"imd_quintile", "ethnic_group", "sex"} <= set(groups["group_by"])
    # Metrics wherever a group has enough people with and without the outcome, and only there
    # (on this small region some IMD quintiles fall short; sex never does).
    enough = (groups["events"] >= MIN_GROUP_EVENTS) & (
        groups["people"] - groups["events"] >= MIN_GROUP_EVENTS
    )
    assert (groups["auc"].notna() == enough).all()
    assert "sex" in set(groups[groups["auc"].notna()]["group_by"])
    assert len(card["calibration_bins"]) == 10
    assert card["training"]["people"] > 0 and card["limitations"]


def test_the_published_card_rounds_every_count(region):
    from openphm.disclosure import DisclosureRules

    with open_zone(region.open(), read_only=True) as con:
        _, _, card = latest_model(con)
    public = publishable(card, DisclosureRules())
    counts = [public[p][k] for p in ("training", "validation") for k in ("people", "events")]
    counts += [g[k] for g in public["groups"] for k in ("people", "events")]
    counts += [b["people"] for b in public["calibration_bins"]]
    assert all(c is None or c % 5 == 0 for c in counts)
    for g in public["groups"]:
        if g["people"] is None or g["events"] is None:
            assert "auc" not in g
    assert "Limitations" in markdown(public)
    assert calibration_svg(public["calibration_bins"]).startswith("<svg")


def test_everyone_scored_has_a_risk_and_the_features_it_was_scored_on(region):
    with open_zone(region.open(), read_only=True) as con:
        scores = con.execute("SELECT * FROM zone3.main.person_risk").df()
        features = con.execute("SELECT * FROM zone3.main.person_risk_features").df()
        history = con.execute(
            "SELECT reference_date, count(*) n FROM zone3.main."
            "person_risk_history GROUP BY 1 ORDER BY 1"
        ).df()
    assert scores["risk"].between(0, 1).all() and scores["pseudonym"].is_unique
    assert (pd.to_datetime(scores["reference_date"]).dt.date == END).all()
    assert set(features["pseudonym"]) == set(scores["pseudonym"])
    assert (features["model_id"] == scores["model_id"].iloc[0]).all()
    assert list(features.columns) == ["pseudonym", *FEATURE_NAMES, "model_id"]
    assert list(pd.to_datetime(history["reference_date"]).dt.date) == [PREVIOUS_REFRESH, END]


def test_members_are_explained_as_the_whole_population_would_be(region):
    """Drivers are computed for a cohort's members when it is built (risk.explain); they must be
    exactly those an explanation of everyone at scoring gives the same people."""
    with open_zone(region.open(), read_only=True) as con:
        text = latest_model(con)[1]
        features = con.execute("SELECT * FROM zone3.main.person_risk_features").df()
        everyone = models.drivers(models.load_gbm(text), features.loc[:, list(FEATURE_NAMES)])
        everyone.index = features["pseudonym"]
        some = features.sample(300, random_state=1)["pseudonym"]
        zone = Zone.over(con, database=("zone3", "main"))
        frame = (
            zone.table("person_risk")
            .select("pseudonym", "risk")
            .filter(lambda t: t.pseudonym.isin(list(some)))
            .left_join(explain.feature_columns(zone), "pseudonym")
            .drop("pseudonym_right")
            .to_pandas()
        )
        explained = explain.drivers(zone, frame).set_index("pseudonym")
    assert "risk" in explained and not any(c.startswith("feature__") for c in explained)
    expected = everyone.loc[explained.index]
    pd.testing.assert_frame_equal(
        explained[list(explain.DRIVER_COLUMNS)], expected, check_names=False, check_dtype=False
    )
    labels = pd.concat([everyone[c] for c in explain.DRIVER_COLUMNS]).dropna()
    assert set(labels) <= set(LABELS.values())
    # Exactly those with a feature that raises their score have a driver; that includes
    # everyone scored above the model's average (the contributions sum to the difference).
    # (A fixed share of people with a driver depended on the keyed split: 0.87 in one run.)
    x = features.loc[:, list(FEATURE_NAMES)]
    contrib = models.load_gbm(text).predict(x, pred_contrib=True)
    raised = (contrib[:, :-1] > 0).any(axis=1)
    assert (everyone["driver_1"].notna().to_numpy() == raised).all()
    above_average = contrib[:, :-1].sum(axis=1) > 0
    assert raised[above_average].all() and above_average.any()


def test_rising_risk_ranks_the_change_since_the_previous_refresh(region):
    with open_zone(region.open(), read_only=True) as con:
        scores = con.execute("SELECT * FROM zone3.main.person_risk").df()
    both = scores[scores["previous_risk"].notna()]
    assert len(both) > 0.8 * len(scores)
    assert np.allclose(both["risk_change"], both["risk"] - both["previous_risk"])
    top = both.sort_values("rising_percentile").iloc[-1]
    assert top["risk_change"] == both["risk_change"].max()
    assert scores.loc[scores["previous_risk"].isna(), "rising_percentile"].isna().all()


def test_phm_risk_card_writes_the_card_and_plot_to_outputs(region, cli):
    result = cli(["risk", "card", region.workspace, "--role", "analyst"])
    assert result.exit_code == 0, result.output
    folder = region.workspace / "outputs" / "risk"
    assert (folder / f"{region.model_id}.md").is_file()
    assert (folder / f"{region.model_id}-calibration.svg").read_text().startswith("<svg")
    # risk.stage.write_card audits what it read and wrote, and counts only
    log = (region.workspace / "audit" / "audit.jsonl").read_text().splitlines()
    entry = json.loads(log[-1])
    assert (entry["action"], entry["outcome"], entry["reads"], entry["writes"]) == (
        "risk.card", "ok", ["linked.risk_models"],
        [f"outputs/risk/{region.model_id}.md", f"outputs/risk/{region.model_id}-calibration.svg"],
    )  # fmt: skip
    assert list(entry["counts"]) == ["groups"] and entry["counts"]["groups"] > 0


def test_a_practice_may_not_train_or_score(region, cli):
    for command in ("train", "score"):
        result = cli(["risk", command, region.workspace, "--role", "practice"])
        assert result.exit_code == 2 and "may not" in result.output
