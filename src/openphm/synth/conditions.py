"""Long-term conditions (QOF registers) with onset dates, and frailty. Writes test data only.

A person's chance of a condition is  k * exp(age_slope * (min(age, peak) - 50))
* exp(deprivation * (10 - IMD decile) / 9) * proneness, for ages the register counts; k is set so
that the region's prevalence at the end date equals the QOF figure in `calibration`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth import calibration as cal
from openphm.synth import coding
from openphm.synth.population import YEAR
from openphm.synth.timeline import NEVER

MAX_CHANCE = 0.9
MEAN_YEARS_SINCE_ONSET = 7.0
# Electronic Frailty Index (Clegg et al. 2016): deficits present out of 36, and the cut-offs of
# its four categories. The deficits are those of `analytics.definitions.EFI_DEFICITS`; which
# condition is which deficit, and the other deficits, are in `synth.coding`.
EFI_DEFICITS = 36
FRAILTY_CUTS = (0.12, 0.24, 0.36)
FRAILTY_CATEGORIES = ("fit", "mild", "moderate", "severe")
# Other deficits (not conditions, not polypharmacy) per person: Poisson with mean
# OTHER_DEFICITS_MEAN * sqrt(proneness) * exp(OTHER_DEFICITS_AGE_SLOPE * (age - 75)), from 50.
OTHER_DEFICITS_MEAN = 3.3
OTHER_DEFICITS_AGE_SLOPE = 0.07
OTHER_DEFICITS_FROM_AGE = 50
# Each other deficit is first recorded at a day drawn uniformly from the last this many years
# before the end date (and after the person's 50th birthday).
DEFICIT_RECORDED_WITHIN_YEARS = 5.0


def deprivation_factor(imd_decile: np.ndarray, log_ratio: float) -> np.ndarray:
    """Rate ratio against the least deprived decile: exp(log_ratio) in the most deprived."""
    return np.exp(log_ratio * (10 - imd_decile) / 9)


def _shape(condition: cal.Condition, age: np.ndarray, people: pd.DataFrame) -> np.ndarray:
    shape = np.exp(condition.age_slope * (np.minimum(age, condition.peak_age) - 50))
    shape *= deprivation_factor(people["imd_decile"].to_numpy(), condition.deprivation)
    shape *= people["proneness"].to_numpy()
    return np.where(age >= condition.min_age, shape, 0.0)


def scaled_chance(prevalence: float, shape: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Chances k * shape, capped at MAX_CHANCE, averaging `prevalence` over the eligible; a few
    fixed-point steps find k despite the cap."""
    k = prevalence / shape[eligible].mean()
    for _ in range(4):
        achieved = np.minimum(k * shape[eligible], MAX_CHANCE).mean()
        k *= prevalence / achieved
    return np.minimum(k * shape, MAX_CHANCE)


def onset_dates(
    rng: np.random.Generator, people: pd.DataFrame, end: int, boost: np.ndarray | None = None
) -> np.ndarray:
    """Onset day of each condition (columns in `calibration.CONDITIONS` order), NEVER if none.
    Onsets fall before the end date, after the register's minimum age. `boost` multiplies each
    condition's target, to make up for the people with it who die before the end date."""
    boost = np.ones(len(cal.CONDITIONS)) if boost is None else boost
    dob = people["date_of_birth"].to_numpy()
    age = (end - dob) / YEAR
    onset = np.full((len(people), len(cal.CONDITIONS)), NEVER, dtype=np.int32)
    for j, condition in enumerate(cal.CONDITIONS):
        chance = scaled_chance(
            condition.prevalence * boost[j],
            _shape(condition, age, people),
            age >= condition.register_age,
        )
        has = rng.random(len(people)) < chance
        years_before = np.minimum(
            rng.exponential(MEAN_YEARS_SINCE_ONSET, size=len(people)),
            np.maximum(age - condition.min_age, 0.05),
        )
        onset[has, j] = (end - years_before[has] * YEAR).astype(np.int32)
    return onset


def extra_deficits(rng: np.random.Generator, people: pd.DataFrame, end: int) -> np.ndarray:
    """Frailty deficits other than the conditions and polypharmacy, as at the end date: a
    bit mask per person, bit i for `coding.OTHER_DEFICITS[i]`. How many is Poisson (at most
    all of them); which, uniformly among them."""
    age = (end - people["date_of_birth"].to_numpy()) / YEAR
    mean = (
        OTHER_DEFICITS_MEAN
        * np.sqrt(people["proneness"].to_numpy())
        * np.exp(OTHER_DEFICITS_AGE_SLOPE * (age - 75))
    )
    kinds = len(coding.OTHER_DEFICITS)
    count = np.minimum(rng.poisson(np.where(age >= OTHER_DEFICITS_FROM_AGE, mean, 0.0)), kinds)
    mask = np.zeros(len(people), dtype=np.uint32)
    some = np.flatnonzero(count > 0)
    # A uniform subset of `count` of them (selection sampling, Knuth's algorithm S): take
    # deficit i with chance (still to take) / (deficits left).
    need = count[some]
    chosen = np.zeros(len(some), dtype=np.uint32)
    for i in range(kinds):
        take = rng.random(len(some)) * (kinds - i) < need
        chosen |= take.astype(np.uint32) << np.uint32(i)
        need = need - take
    mask[some] = chosen
    return mask


def condition_deficits(onset: np.ndarray, day: int | np.ndarray) -> np.ndarray:
    """How many eFI deficits the conditions present at `day` are (asthma and COPD are one)."""
    present = onset <= np.asarray(day).reshape(-1, 1)
    count = np.zeros(len(onset), dtype=np.int16)
    for members in coding.CONDITION_DEFICIT_MEMBERS:
        count += present[:, list(members)].any(axis=1)
    return count


def efi_deficits(onset: np.ndarray, deficits: np.ndarray, day: int | np.ndarray) -> np.ndarray:
    """Deficits present at `day`: the conditions' and the other deficits (`deficits`, a mask).
    Polypharmacy is not among them: see `synth.frailty`."""
    return condition_deficits(onset, day) + np.bitwise_count(deficits).astype(np.int16)


def category(deficit_count: np.ndarray) -> np.ndarray:
    """eFI category (0 fit .. 3 severe) of a number of deficits out of 36 (the cut-offs
    compared as whole deficits: mild from 5, moderate from 9, severe from 13)."""
    bounds = np.ceil(np.array(FRAILTY_CUTS) * EFI_DEFICITS - 1e-9)
    return np.searchsorted(bounds, deficit_count, side="right").astype(np.int8)


def frailty_category(onset: np.ndarray, deficits: np.ndarray, day: int | np.ndarray) -> np.ndarray:
    """eFI category (0 fit .. 3 severe) as at `day`, from the conditions present then and the
    other deficits (not polypharmacy): the frailty the hazards and activity rates see."""
    return category(efi_deficits(onset, deficits, day))


def prevalence(people: pd.DataFrame, onset: np.ndarray, end: int) -> np.ndarray:
    """Each condition's prevalence among people registered at the end date, within the ages
    its register counts (as QOF reports it)."""
    present = (people["registration_start"].to_numpy() <= end) & (
        np.minimum(people["leave_date"], people["death_date"]).to_numpy() > end
    )
    age = (end - people["date_of_birth"].to_numpy()) / YEAR
    return np.array(
        [
            (onset[present & (age >= c.register_age), j] <= end).mean()
            for j, c in enumerate(cal.CONDITIONS)
        ]
    )
