"""GP practices' snapshot tables (patients, registrations) as at an extract date: each practice
lists everyone who has been registered with it, with the details it held for them then. Writes
test data only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth.timeline import NEVER

# A practice's reference for a patient: an affine bijection of person_id, so references are
# unique, stable and never reused, but do not reveal the person_id to a test that peeks.
_REF_MULTIPLIER, _REF_OFFSET, _REF_MODULUS = 48271, 12_345_678, 100_000_000
UNTRACED_AFTER_DAYS = 30  # a new registration may not have its NHS number yet


def patient_ref(person: np.ndarray, previous_practice: bool | np.ndarray = False) -> np.ndarray:
    """The practice's own patient reference (a second one for the practice a mover left)."""
    key = person.astype(np.int64) * 2 + np.asarray(previous_practice, dtype=np.int64)
    return (key * _REF_MULTIPLIER + _REF_OFFSET) % _REF_MODULUS


def _rows(people: pd.DataFrame, chunk: np.ndarray, day: int, practices: pd.DataFrame):
    """One row per (person, practice) registered on or before `day`: the current practice and,
    for movers, the practice they left."""
    p = people.iloc[chunk]
    move = p["move_date"].to_numpy().astype(np.int64)
    previous = p["previous_practice"].to_numpy()
    first = p["registration_start"].to_numpy().astype(np.int64)
    exit_day = np.minimum(p["leave_date"], p["death_date"]).to_numpy().astype(np.int64)
    codes = practices["ods_code"].to_numpy()

    current_start = np.where(previous >= 0, move, first)
    current = current_start <= day
    old = (previous >= 0) & (first <= day)
    end = np.concatenate(
        [np.where(exit_day <= day, exit_day, NEVER), np.where(move <= day, move, NEVER)]
    )
    reason = np.concatenate(
        [
            np.where(
                p["death_date"].to_numpy() <= day,
                "died",
                np.where(p["leave_date"].to_numpy() <= day, p["leave_reason"].to_numpy(), None),
            ),
            np.where(move <= day, "moved", None),
        ]
    )
    end = np.where(end <= day, end, NEVER)
    reason = np.where(end < NEVER, reason, None)
    rows = pd.DataFrame(
        {
            "person": np.concatenate([chunk, chunk]),
            "provider": np.concatenate(
                [codes[p["practice"].to_numpy()], codes[np.maximum(previous, 0)]]
            ),
            "patient_ref": np.concatenate([patient_ref(chunk), patient_ref(chunk, True)]),
            "registration_start": np.concatenate([current_start, first]),
            "registration_end": end,
            "deregistration_reason": reason,
            "at_previous": np.repeat([False, True], len(chunk)),
        }
    )
    return rows[np.concatenate([current, old])].reset_index(drop=True)


def snapshots(rng: np.random.Generator, people, chunk, day: int, practices):
    """(patients, registrations) as at `day`."""
    rows = _rows(people, chunk, day, practices)
    person = rows["person"].to_numpy()
    p = people
    previous = rows["at_previous"].to_numpy()
    moved_later = (p["previous_practice"].to_numpy()[person] >= 0) & (
        day < p["move_date"].to_numpy()[person]
    )
    old_address = previous | moved_later
    untraced = (day - rows["registration_start"].to_numpy() < UNTRACED_AFTER_DAYS) & (
        rng.random(len(rows)) < 0.5
    )
    patients = pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": rows["provider"],
            "patient_ref": rows["patient_ref"],
            "nhs_number": np.where(untraced, None, p["nhs_number"].to_numpy()[person].astype(str)),
            "given_name": p["given_name"].to_numpy()[person],
            "family_name": p["family_name"].to_numpy()[person],
            "sex": np.where(p["male"].to_numpy()[person], "M", "F"),
            "date_of_birth": p["date_of_birth"].to_numpy()[person],
            "address_line_1": np.where(
                old_address,
                p["previous_address_line_1"].to_numpy()[person],
                p["address_line_1"].to_numpy()[person],
            ),
            "address_line_2": np.where(old_address, None, p["address_line_2"].to_numpy()[person]),
            "town": p["town"].to_numpy()[person],
            "postcode": np.where(
                old_address,
                p["previous_postcode"].to_numpy()[person],
                p["postcode"].to_numpy()[person],
            ),
            "ethnicity_code": p["ethnicity_code"].to_numpy()[person],
        }
    )
    registrations = rows[
        [
            "person",
            "provider",
            "patient_ref",
            "registration_start",
            "registration_end",
            "deregistration_reason",
        ]
    ].assign(day=day)
    return patients, registrations
