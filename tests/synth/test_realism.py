"""The region looks like England: its people, their conditions and their use of services."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth import calibration as cal

from .conftest import read_all


def test_age_bands_are_within_one_point_of_ons_mid_2021(people):
    alive = people[people["registered_at_end"]]
    target = np.array(cal.AGE_BAND_SHARE) / sum(cal.AGE_BAND_SHARE)
    edges = [lo for lo, _ in cal.AGE_BANDS] + [120]
    got = pd.cut(alive["age"], edges, right=False).value_counts(normalize=True, sort=False)
    assert np.abs(got.to_numpy() - target).max() < 0.01


def test_sex_ratio_is_near_half_and_women_outnumber_men_in_old_age(people):
    assert abs((people["sex"] == "M").mean() - 0.49) < 0.015
    assert (people.loc[people["age"] >= 85, "sex"] == "F").mean() > 0.55


def test_ethnic_groups_are_within_one_point_of_census_2021(people):
    got = people["ethnicity_group"].value_counts(normalize=True)
    for group, share in cal.ETHNICITY_SHARE.items():
        assert abs(got[group] - share) < 0.01, group


def test_each_register_prevalence_is_near_qof(people):
    # Tolerance: 10% of the figure plus four standard errors of a 20,000-person sample.
    alive = people[people["registered_at_end"]]
    for c in cal.CONDITIONS:
        eligible = alive[alive["age"] >= c.register_age]
        got = eligible[f"onset_{c.name}"].notna().mean()
        tolerance = 0.1 * c.prevalence + 4 * np.sqrt(c.prevalence / len(eligible))
        assert abs(got - c.prevalence) < tolerance, (c.name, got, c.prevalence)


def test_conditions_rise_with_age_and_deprivation(people):
    hypertension = people["onset_hypertension"].notna()
    assert hypertension[people["age"] >= 65].mean() > 3 * hypertension[people["age"] < 45].mean()
    copd = people["onset_copd"].notna()
    assert copd[people["imd_decile"] <= 2].mean() > 1.5 * copd[people["imd_decile"] >= 9].mean()


def test_people_with_conditions_cluster_into_multimorbidity(people):
    onset = people.filter(like="onset_").notna()
    old = people["age"] >= 65
    counts = onset[old].sum(axis=1)
    independent = onset[old].mean().to_numpy()
    # More people with 4+ conditions than if conditions were independent of each other.
    simulated = (np.random.default_rng(0).random((20_000, len(independent))) < independent).sum(1)
    assert (counts >= 4).mean() > 1.3 * (simulated >= 4).mean()


def test_frailty_among_65s_is_like_the_efi_cohorts(people):
    # Clegg et al. 2016: fit ~50%, mild ~35%, moderate ~12%, severe ~3%.
    alive = people[people["registered_at_end"]]
    got = alive.loc[alive["age"] >= 65, "frailty"].value_counts(normalize=True)
    assert 0.40 < got["fit"] < 0.60
    assert 0.25 < got["mild"] < 0.45
    assert 0.07 < got["moderate"] < 0.18
    assert 0.01 < got["severe"] < 0.08


def test_utilisation_per_1000_person_years_is_near_england(region, person_years):
    def per_1000(frame):
        return len(frame) / person_years * 1000

    consultations = read_all(region, "extracts/gp/*/*_consultations_*.csv")
    attendances = read_all(region, "extracts/emergency-care/RZ[12]/*_20????.csv")
    spells = read_all(region, "extracts/admitted-care/*/*.csv").drop_duplicates()
    deaths = read_all(region, "extracts/deaths/*/*.csv")
    emergency = spells[spells["admission_method"].str.startswith("2")]
    assert abs(per_1000(consultations) / cal.GP_CONSULTATIONS_PER_1000 - 1) < 0.05
    assert abs(per_1000(attendances) / cal.EMERGENCY_ATTENDANCES_PER_1000 - 1) < 0.08
    assert abs(per_1000(emergency) / cal.EMERGENCY_ADMISSIONS_PER_1000 - 1) < 0.10
    # ~300 deaths in a 20,000-person region: a wider band.
    assert abs(per_1000(deaths) / cal.DEATHS_PER_1000 - 1) < 0.25


def test_emergency_admissions_are_steeper_with_age_frailty_and_deprivation(region, people):
    records = pd.read_parquet(region / "truth" / "records.parquet")
    apc = records[records["file"].str.contains("_apc_")]
    spells = read_all(region, "extracts/admitted-care/*/*.csv")
    assert len(spells) == len(apc)
    count = apc.groupby("person_id").size().reindex(people["person_id"], fill_value=0).to_numpy()
    rate = pd.Series(count, index=people.index)
    assert rate[people["age"] >= 75].mean() > 3 * rate[people["age"].between(20, 40)].mean()
    assert rate[people["frailty"] == "severe"].mean() > 2 * rate[people["frailty"] == "fit"].mean()
    assert rate[people["imd_decile"] <= 2].mean() > 1.2 * rate[people["imd_decile"] >= 9].mean()


def _auc(score: np.ndarray, outcome: np.ndarray) -> float:
    ranks = pd.Series(score).rank().to_numpy()
    positives = outcome.sum()
    negatives = len(outcome) - positives
    return (ranks[outcome].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def test_true_risk_predicts_the_last_year_and_its_oracle_auc_is_known(region):
    risk = pd.read_parquet(region / "truth" / "risk.parquet")
    known = risk.dropna(subset=["p_emergency_from_previous_year"])
    outcome = known["emergency_admissions_in_last_year"].to_numpy() > 0
    predicted = known["p_emergency_from_previous_year"].to_numpy()
    assert abs(predicted.mean() / outcome.mean() - 1) < 0.1
    assert 0.70 < _auc(predicted, outcome) < 0.95
    assert risk["p_emergency_from_end"].notna().mean() > 0.9
