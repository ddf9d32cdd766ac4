"""The region's people and practices: who lives where (real LSOAs, made-up postcodes), their
age, sex, ethnicity, names, NHS numbers and addresses, and their registrations (people are
born, register, move practice and address, and leave). Deaths come later, from the outcome
model. Writes test data only; reads shared reference data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm import reference
from openphm.synth import calibration as cal
from openphm.synth.geography import POSTCODES_PER_LSOA, region_lsoas
from openphm.synth.identifiers import nhs_numbers
from openphm.synth.names import LOCALITY_SUFFIXES, STREET_SUFFIXES, pools, zipf_weights
from openphm.synth.timeline import NEVER, Timeline, day_number

YEAR = 365.25
STAYS_IN_CATCHMENT = 0.9  # people mostly register with a practice near home
MOVER_SHARE = 0.06  # move house and practice within the region during the window
LEAVER_SHARE = 0.03  # leave the region (and their practice) during the window
HYPHENATED_SHARE = 0.02
MEAN_YEARS_REGISTERED = 10.0


def make_practices(rng: np.random.Generator, count: int) -> pd.DataFrame:
    """Practices with ODS-like codes (a letter and five digits) and unequal list sizes; even
    positions send GP flavour A, odd flavour B."""
    numbers = 10000 + rng.choice(90000, size=count, replace=False)
    weight = rng.lognormal(0.0, 0.45, size=count)
    return pd.DataFrame(
        {
            "ods_code": [f"P{n}" for n in numbers],
            "flavour": ["A" if i % 2 == 0 else "B" for i in range(count)],
            "weight": weight / weight.sum(),
        }
    )


def _catchments(lsoas: pd.DataFrame, practices: pd.DataFrame) -> np.ndarray:
    """Each LSOA's nearest practice: neighbouring LSOAs (by name within an authority) are cut
    into runs holding shares of the population proportional to practice size."""
    order = lsoas.sort_values(["la_code", "lsoa_name"]).index.to_numpy()
    share = lsoas.loc[order, "total_population"].to_numpy(float)
    midpoint = (np.cumsum(share) - share / 2) / share.sum()
    bounds = np.cumsum(practices["weight"].to_numpy())[:-1]
    catchment = np.empty(len(lsoas), dtype=np.int32)
    catchment[order] = np.searchsorted(bounds, midpoint)
    return catchment


def _ages_and_sex(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    share = np.array(cal.AGE_BAND_SHARE) / sum(cal.AGE_BAND_SHARE)
    band = rng.choice(len(share), size=n, p=share)
    low = np.array([lo for lo, _ in cal.AGE_BANDS])[band]
    width = np.array([hi - lo + 1 for lo, hi in cal.AGE_BANDS])[band]
    age = low + rng.random(n) * width
    male = rng.random(n) < np.array(cal.MALE_SHARE)[band]
    return age, male


def _ethnicity(rng: np.random.Generator, n: int) -> pd.DataFrame:
    groups = list(cal.ETHNICITY_16_SHARE)
    share = np.array([cal.ETHNICITY_16_SHARE[g][1] for g in groups])
    group16 = np.array(groups)[rng.choice(len(groups), size=n, p=share / share.sum())]
    codes = reference.codelist("ethnicity")
    codes["grouping_16_id"] = codes["grouping_16_id"].astype(int)
    by_group = codes.groupby("grouping_16_id")["code"].apply(lambda s: s.to_numpy(dtype=object))
    pick = rng.random(n)
    code = np.empty(n, dtype=object)
    for group, group_codes in by_group.items():
        at = group16 == group
        code[at] = group_codes[(pick[at] * len(group_codes)).astype(int)]
    code[rng.random(n) < cal.ETHNICITY_UNRECORDED] = None
    name = {g: grp for g, (grp, _) in cal.ETHNICITY_16_SHARE.items()}
    return pd.DataFrame(
        {"ethnicity_group": pd.Series(group16).map(name).to_numpy(), "ethnicity_code": code}
    )


def _names(rng: np.random.Generator, male: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pool = pools()
    n = len(male)
    given = np.where(
        male,
        pool["male"][rng.choice(len(pool["male"]), n, p=zipf_weights(len(pool["male"])))],
        pool["female"][rng.choice(len(pool["female"]), n, p=zipf_weights(len(pool["female"])))],
    )
    weight = pool["family_weight"] / pool["family_weight"].sum()
    family = pool["family"][rng.choice(len(weight), n, p=weight)]
    second = pool["family"][rng.choice(len(weight), n, p=weight)]
    hyphenated = rng.random(n) < HYPHENATED_SHARE
    family[hyphenated] = family[hyphenated] + "-" + second[hyphenated]
    return given, family


def _addresses(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    pool = pools()["family"]
    streets = (
        pool[rng.integers(len(pool), size=4000)]
        + " "
        + np.array(STREET_SUFFIXES, dtype=object)[rng.integers(len(STREET_SUFFIXES), size=4000)]
    )
    house = rng.integers(1, 240, size=n).astype(str).astype(object)
    line1 = house + " " + streets[rng.integers(len(streets), size=n)]
    localities = (
        pool[rng.integers(len(pool), size=n)]
        + " "
        + np.array(LOCALITY_SUFFIXES, dtype=object)[rng.integers(len(LOCALITY_SUFFIXES), size=n)]
    )
    line2 = np.where(rng.random(n) < 0.25, localities, None)
    return line1, line2


def _postcodes(rng: np.random.Generator, lsoa_index: np.ndarray) -> np.ndarray:
    lookup = reference.postcode_lsoa().sort_values(["lsoa_code", "postcode"])
    postcodes = lookup["postcode"].to_numpy(dtype=object)
    # region_lsoas() is in LSOA code order, as is the lookup sorted above: LSOA i's postcodes
    # are rows i*K to i*K+K-1.
    return postcodes[
        lsoa_index * POSTCODES_PER_LSOA + rng.integers(POSTCODES_PER_LSOA, size=len(lsoa_index))
    ]


def make_people(
    rng: np.random.Generator, n: int, timeline: Timeline, practices: pd.DataFrame
) -> pd.DataFrame:
    """Everyone registered with a practice in the region at some time in the history window."""
    lsoas = region_lsoas()
    catchment = _catchments(lsoas, practices)
    population = lsoas["total_population"].to_numpy(float)
    lsoa = rng.choice(len(lsoas), size=n, p=population / population.sum())
    practice = np.where(
        rng.random(n) < STAYS_IN_CATCHMENT,
        catchment[lsoa],
        rng.choice(len(practices), size=n, p=practices["weight"].to_numpy()),
    ).astype(np.int32)

    end, start = day_number(timeline.end), day_number(timeline.start)
    age, male = _ages_and_sex(rng, n)
    dob = (end - age * YEAR).astype(np.int32)
    given, family = _names(rng, male)
    line1, line2 = _addresses(rng, n)

    people = pd.DataFrame(
        {
            "person_id": np.arange(n, dtype=np.int64),
            "nhs_number": nhs_numbers(rng, n),
            "given_name": given,
            "family_name": family,
            "male": male,
            "date_of_birth": dob,
            "address_line_1": line1,
            "address_line_2": line2,
            "town": lsoas["la_name"].to_numpy(dtype=object)[lsoa],
            "lsoa_index": lsoa.astype(np.int32),
            "lsoa_code": lsoas["lsoa_code"].to_numpy(dtype=object)[lsoa],
            "imd_decile": lsoas["imd_decile"].to_numpy()[lsoa].astype(np.int8),
            "postcode": _postcodes(rng, lsoa),
            "practice": practice,
        }
    )
    people = pd.concat([people, _ethnicity(rng, n)], axis=1)
    # Multimorbidity proneness: one unobserved factor shared by every condition and outcome,
    # so conditions cluster in the same people as they do in life.
    people["proneness"] = rng.lognormal(-0.18, 0.6, size=n)
    _registrations(rng, people, start, end, len(practices))
    return people


def _registrations(
    rng: np.random.Generator, people: pd.DataFrame, start: int, end: int, n_practices: int
) -> None:
    """Registration start, moves within the region and departures from it (in place)."""
    n = len(people)
    dob = people["date_of_birth"].to_numpy()
    years = rng.exponential(MEAN_YEARS_REGISTERED, size=n)
    registered = np.maximum(end - (years * YEAR).astype(np.int64), dob + rng.integers(7, 43, n))
    people["registration_start"] = registered.astype(np.int32)

    settled = registered < end - 90
    window_day = lambda: np.maximum(  # noqa: E731 - a draw repeated for movers and leavers
        registered + 30, start + (rng.random(n) * (end - start)).astype(np.int64)
    )
    mover = settled & (rng.random(n) < MOVER_SHARE)
    move = window_day()
    mover &= move < end
    people["move_date"] = np.where(mover, move, NEVER).astype(np.int32)
    old = (people["practice"].to_numpy() + rng.integers(1, max(n_practices, 2), n)) % n_practices
    people["previous_practice"] = np.where(mover & (n_practices > 1), old, -1).astype(np.int32)
    people.loc[people["previous_practice"] < 0, "move_date"] = NEVER
    moved = people["move_date"].to_numpy() < NEVER
    other_lsoa = rng.permutation(people["lsoa_index"].to_numpy())
    people["previous_postcode"] = np.where(moved, _postcodes(rng, other_lsoa), None)
    people["previous_address_line_1"] = np.where(
        moved, rng.permutation(people["address_line_1"].to_numpy()), None
    )

    leaver = settled & ~moved & (rng.random(n) < LEAVER_SHARE)
    leave = window_day()
    leaver &= leave < end
    people["leave_date"] = np.where(leaver, leave, NEVER).astype(np.int32)
    people["leave_reason"] = np.where(leaver, np.where(rng.random(n) < 0.8, "moved", "other"), None)
    people["death_date"] = NEVER
