"""The true-risk model: emergency admissions and deaths drawn year by year from hazards that
depend on age, conditions, frailty, deprivation, prior emergency use and unobserved proneness.

Because outcomes are drawn from a known hazard, each person's true probability of an emergency
admission in a year is known, and so is the best AUC any risk model can reach (the oracle AUC).
The formula and coefficients are in docs/synthetic-region.md; keep the two in step. Writes test
data only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm.synth import calibration as cal
from openphm.synth.conditions import (
    deprivation_factor,
    extra_deficits,
    frailty_category,
    onset_dates,
    prevalence,
)
from openphm.synth.population import YEAR
from openphm.synth.timeline import NEVER, Timeline, day_number

# log hazard ratios (per year of age; per condition; per frailty category; most vs least
# deprived decile; per log(1 + emergency admissions in the previous 12 months); per log proneness)
EMERGENCY = {
    "age": 0.028,
    "infant": 1.0,
    "under5": 0.4,
    "frailty": (0.0, 0.35, 0.7, 1.05),
    "deprivation": 0.45,
    "prior": 0.45,
    "proneness": 0.5,
    "conditions": {
        "hypertension": 0.1,
        "diabetes": 0.25,
        "asthma": 0.2,
        "copd": 0.7,
        "atrial_fibrillation": 0.3,
        "heart_failure": 0.7,
        "ckd": 0.3,
        "dementia": 0.5,
        "depression": 0.2,
        "smi": 0.5,
        "chd": 0.3,
        "stroke_tia": 0.3,
        "epilepsy": 0.4,
        "learning_disability": 0.4,
        "cancer": 0.4,
        "osteoporosis": 0.2,
        "rheumatoid_arthritis": 0.2,
        "pad": 0.3,
        "palliative_care": 1.0,
    },
}
DEATH = {
    "age": 0.095,
    "infant": 2.0,
    "under5": 0.0,
    "frailty": (0.0, 0.4, 0.8, 1.2),
    "deprivation": 0.3,
    "prior": 0.35,
    "proneness": 0.3,
    "conditions": {
        "diabetes": 0.2,
        "copd": 0.6,
        "atrial_fibrillation": 0.2,
        "heart_failure": 0.8,
        "ckd": 0.3,
        "dementia": 1.0,
        "smi": 0.6,
        "chd": 0.2,
        "stroke_tia": 0.3,
        "learning_disability": 0.8,
        "cancer": 0.9,
        "palliative_care": 2.0,
    },
}


def log_hazard(
    model: dict,
    people: pd.DataFrame,
    onset: np.ndarray,
    deficits: np.ndarray,
    day: np.ndarray,
    prior: np.ndarray,
) -> np.ndarray:
    """The model's linear predictor (without intercept) for each person as at `day`."""
    age = np.maximum((day - people["date_of_birth"].to_numpy()) / YEAR, 0.0)
    lp = (
        model["age"] * (age - 50)
        + model["infant"] * (age < 1)
        + model["under5"] * ((age >= 1) & (age < 5))
    )
    present = onset <= day.reshape(-1, 1)
    for j, condition in enumerate(cal.CONDITIONS):
        lp += model["conditions"].get(condition.name, 0.0) * present[:, j]
    lp += np.array(model["frailty"])[frailty_category(onset, deficits, day)]
    lp += np.log(deprivation_factor(people["imd_decile"].to_numpy(), model["deprivation"]))
    lp += model["prior"] * np.log1p(prior)
    lp += model["proneness"] * np.log(people["proneness"].to_numpy())
    return lp


def intercept(lp: np.ndarray, exposure_years: np.ndarray, rate: float) -> float:
    """The intercept that makes the exposure-weighted mean hazard equal `rate` per year."""
    return float(np.log(rate * exposure_years.sum() / (np.exp(lp) * exposure_years).sum()))


def intercept_for_events(lp: np.ndarray, exposure_years: np.ndarray, rate: float) -> float:
    """The intercept that makes the expected number of people with an event (at most one
    each, as deaths) equal `rate` per person-year. Found by bisection: for the very old, the
    hazard saturates, so the mean hazard alone would give too few deaths."""
    wanted = rate * exposure_years.sum()
    low, high = -40.0, 10.0
    for _ in range(40):
        middle = (low + high) / 2
        expected = (-np.expm1(-np.exp(middle + lp) * exposure_years)).sum()
        low, high = (middle, high) if expected < wanted else (low, middle)
    return (low + high) / 2


@dataclass
class Outcomes:
    admission_person: np.ndarray  # emergency admissions, every year simulated
    admission_day: np.ndarray
    risk: pd.DataFrame  # person_id, the two true probabilities and the realised outcome


def simulate(
    rng: np.random.Generator,
    people: pd.DataFrame,
    onset: np.ndarray,
    deficits: np.ndarray,
    timeline: Timeline,
) -> Outcomes:
    """Draw deaths (written into people.death_date) and emergency admissions year by year."""
    n = len(people)
    entry = people["registration_start"].to_numpy().astype(np.int64)
    leave = people["leave_date"].to_numpy().astype(np.int64)
    prior = np.zeros(n)
    death = np.full(n, NEVER, dtype=np.int64)
    persons, days = [], []
    window_start = day_number(timeline.start)
    for year_start, year_end in timeline.years():
        s, e = day_number(year_start), day_number(year_end)
        begin = np.maximum(entry, s)
        at_risk = (begin < e) & (np.minimum(leave, death) > begin)
        lp_death = log_hazard(DEATH, people, onset, deficits, begin, prior)
        lp_em = log_hazard(EMERGENCY, people, onset, deficits, begin, prior)
        span = np.where(at_risk, (np.minimum(e, leave) - begin) / YEAR, 0.0)
        # The burn-in year before the window only gives the first year its prior use: nobody
        # dies in it, so everyone generated is registered at some time in the window.
        burn_in = e <= window_start
        a_death = intercept_for_events(lp_death[at_risk], span[at_risk], cal.DEATHS_PER_1000 / 1000)
        h_death = np.exp(a_death + lp_death)
        dies = at_risk & ~burn_in & (rng.exponential(1.0, n) / h_death < span)
        death_day = begin + (rng.random(n) * span * YEAR).astype(np.int64)
        death = np.where(dies, death_day, death)
        exposure = np.where(at_risk, (np.minimum(np.minimum(e, leave), death) - begin) / YEAR, 0.0)
        hazard = np.exp(
            intercept(lp_em[at_risk], exposure[at_risk], cal.EMERGENCY_ADMISSIONS_PER_1000 / 1000)
            + lp_em
        )
        count = rng.poisson(hazard * exposure)
        person = np.repeat(np.arange(n), count)
        persons.append(person)
        days.append(
            begin[person] + (rng.random(len(person)) * exposure[person] * YEAR).astype(np.int64)
        )
        prior_hazard, prior_at_risk, prior_begin = hazard, at_risk, begin
        prior = count.astype(float)
    people["death_date"] = death.astype(np.int32)
    _cancel_moves_after_death(people)
    risk = _true_risk(
        people, onset, deficits, timeline, prior, prior_hazard, prior_at_risk & (prior_begin == s)
    )
    return Outcomes(np.concatenate(persons), np.concatenate(days).astype(np.int32), risk)


def _cancel_moves_after_death(people: pd.DataFrame) -> None:
    """Someone who died before the date they were to move practice never moved: they stay
    registered at the practice they were at, and die there. (Only movers: someone who never
    moved has no previous practice, and keeps their own.)"""
    died_first = (people["previous_practice"].to_numpy() >= 0) & (
        people["death_date"].to_numpy() < people["move_date"].to_numpy()
    )
    people.loc[died_first, "practice"] = people.loc[died_first, "previous_practice"]
    people.loc[died_first, "previous_practice"] = -1
    people.loc[died_first, "move_date"] = NEVER
    for column in ("previous_postcode", "previous_address_line_1"):
        people.loc[died_first, column] = None


def _true_risk(people, onset, deficits, timeline, last_year_count, last_year_hazard, in_at_start):
    """True 12-month probabilities from the end date and from 12 months before it."""
    end = day_number(timeline.end)
    day = np.full(len(people), end, dtype=np.int64)
    present = (people["registration_start"].to_numpy() <= end) & (
        np.minimum(people["leave_date"].to_numpy(), people["death_date"].to_numpy()) > end
    )
    lp = log_hazard(EMERGENCY, people, onset, deficits, day, last_year_count)
    rate = cal.EMERGENCY_ADMISSIONS_PER_1000 / 1000
    h_end = np.exp(intercept(lp[present], np.ones(present.sum()), rate) + lp)
    return pd.DataFrame(
        {
            "person_id": people["person_id"].to_numpy(),
            "p_emergency_from_previous_year": np.where(
                in_at_start, 1 - np.exp(-last_year_hazard), np.nan
            ),
            "emergency_admissions_in_last_year": np.where(in_at_start, last_year_count, np.nan),
            "p_emergency_from_end": np.where(present, 1 - np.exp(-h_end), np.nan),
        }
    )


PROBE_PEOPLE = 200_000


def survivor_boost(seed: int, people: pd.DataFrame, timeline: Timeline) -> np.ndarray:
    """How much to raise each condition's target so that prevalence among the people still
    registered at the end date (after the model's deaths) meets it: a trial run of conditions
    and outcomes on up to PROBE_PEOPLE people, with its own random stream."""
    probe_rng = np.random.default_rng([seed, 1])
    probe = people.iloc[:PROBE_PEOPLE].copy()
    end = day_number(timeline.end)
    onset = onset_dates(probe_rng, probe, end)
    simulate(probe_rng, probe, onset, extra_deficits(probe_rng, probe, end), timeline)
    target = np.array([c.prevalence for c in cal.CONDITIONS])
    return target / np.maximum(prevalence(probe, onset, end), 1e-6)
