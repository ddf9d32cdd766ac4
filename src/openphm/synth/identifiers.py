"""NHS numbers and the noise that other systems' copies of identifiers carry. Writes test data
only.

NHS numbers come from the range reserved for testing (999 000 0000 to 999 999 9999), which holds
909,091 valid numbers. A region larger than that continues into 998 and then 997, numbers that
have not been issued (checked November 2026); docs/synthetic-region.md says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from math import gcd

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from openphm.synth.names import NICKNAMES
from openphm.synth.timeline import NEVER

_WEIGHTS = np.arange(10, 1, -1)  # Modulus 11 weights of the first nine digits
_PREFIXES = (999, 998, 997)


def check_digit(first_nine: np.ndarray) -> np.ndarray:
    """Modulus 11 check digit of 9-digit numbers; 10 means the number cannot be issued."""
    digits = (first_nine[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    remainder = (digits * _WEIGHTS).sum(axis=1) % 11
    return np.where(remainder == 0, 0, 11 - remainder)


def nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` distinct valid NHS numbers (int64), test range first, in random order."""
    found: list[np.ndarray] = []
    for prefix in _PREFIXES:
        first_nine = prefix * 1_000_000 + rng.permutation(1_000_000).astype(np.int64)
        check = check_digit(first_nine)
        valid = check != 10
        found.append(first_nine[valid] * 10 + check[valid])
        if sum(len(f) for f in found) >= n:
            return np.concatenate(found)[:n]
    raise ValueError(f"a region of {n:,} people needs more NHS numbers than the generator has")


def invalid_nhs_numbers(rng: np.random.Generator, valid: np.ndarray) -> np.ndarray:
    """The same numbers with a wrong check digit: a keying error that Modulus 11 catches."""
    shift = rng.integers(1, 10, size=len(valid))
    return valid - valid % 10 + (valid % 10 + shift) % 10


def format_nhs_numbers(numbers: pa.Array, spaced: np.ndarray) -> pa.Array:
    """10-digit strings, some written `943 476 5919` as people and some systems write them."""
    text = pc.cast(numbers, pa.string())
    with_spaces = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, 3),
        pc.utf8_slice_codeunits(text, 3, 6),
        pc.utf8_slice_codeunits(text, 6, 10),
        " ",
    )
    return pc.if_else(pa.array(spaced), with_spaces, text)


_LOCAL_ID_SPACE = 26 * 10**7  # a letter and seven digits: K0412345


def _local_id_map(provider: str) -> tuple[int, int]:
    """The provider's own numbering: a multiplier prime to the id space and an offset, both
    from the ODS code, so each provider numbers the same people differently."""
    digest = int.from_bytes(hashlib.blake2b(provider.encode(), digest_size=8).digest(), "big")
    a = digest % _LOCAL_ID_SPACE | 1
    while gcd(a, _LOCAL_ID_SPACE) != 1:
        a += 2
    return a, (digest >> 32) % _LOCAL_ID_SPACE


def local_patient_ids(person: np.ndarray, provider: np.ndarray) -> pa.Array:
    """Each person's hospital number at each provider, as a trust's patient administration
    system gives it: a letter and seven digits (`K0412345`). Stable for a person at a provider,
    unrelated between providers, and one person's only (a bijection of person_id within a
    provider, for regions of up to 260 million people). No random draw: the rest of the
    region is the same with or without them."""
    person = np.asarray(person, dtype=np.int64)
    provider = np.asarray(provider, dtype=object)
    number = np.zeros(len(person), dtype=np.int64)
    for code in pd.unique(provider):
        a, b = _local_id_map(str(code))
        mine = provider == code
        number[mine] = (person[mine] * a + b) % _LOCAL_ID_SPACE
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), dtype=object)[number // 10**7]
    digits = pc.utf8_lpad(pa.array(number % 10**7).cast(pa.string()), 7, "0")
    return pc.binary_join_element_wise(pa.array(letters, pa.string()), digits, "")


def nickname(names: pd.Series) -> pd.Series:
    """The familiar form where one is common (Robert -> Bob); other names unchanged."""
    return names.map(NICKNAMES).fillna(names)


def typo(rng: np.random.Generator, names: pd.Series) -> pd.Series:
    """One keying error per name: a dropped letter or two neighbouring letters swapped."""
    out = names.copy()
    position = rng.integers(1, 5, size=len(names))
    swap = rng.random(len(names)) < 0.5
    for pos in range(1, 5):
        at = (position == pos) & (names.str.len() > pos + 1).to_numpy()
        head, here, nxt, tail = (
            names[at].str[:pos],
            names[at].str[pos],
            names[at].str[pos + 1],
            names[at].str[pos + 2 :],
        )
        swapped = head + nxt + here + tail
        dropped = head + nxt + tail
        out[at] = np.where(swap[at], swapped, dropped)
    return out


def _swap_day_month(dob: np.ndarray) -> np.ndarray:
    """The same date with day and month exchanged, where that is still a date."""
    as_date = dob.astype("datetime64[D]")
    year = as_date.astype("datetime64[Y]")
    month = (as_date.astype("datetime64[M]") - year.astype("datetime64[M]")).astype(int) + 1
    day = (as_date - as_date.astype("datetime64[M]")).astype(int) + 1
    swappable = (day <= 12) & (day != month)
    swapped = year.astype("datetime64[M]") + (day - 1)
    swapped = swapped.astype("datetime64[D]") + (month - 1)
    return np.where(swappable, swapped.astype(np.int64), dob), swappable


@dataclass(frozen=True)
class IdentityNoise:
    """How often each fault is put into a non-GP record's identifiers (a share of rows)."""

    nickname: float
    given_typo: float
    family_typo: float
    day_month_swapped: float
    sex_unknown: float
    postcode_blank: float
    stale_postcode: float  # after a move, rows still carrying the old postcode
    # Only in `high`, drawn after the others so that `nhs` regions stay as they were:
    second_typo: float = 0.0  # a second keying error in each name
    names_swapped: float = 0.0  # given and family name the other way round
    day_out: float = 0.0  # the date of birth a day out
    date_blank: float = 0.0
    given_blank: float = 0.0
    old_address: float = 0.0  # a postcode the person never had (an address from long ago)


IDENTITY_NOISE = {
    "low": IdentityNoise(0.01, 0.002, 0.002, 0.002, 0.001, 0.002, 0.1),
    # As NHS demographic data: the synthetic region's calibration (docs/synthetic-region.md).
    "nhs": IdentityNoise(0.04, 0.01, 0.01, 0.01, 0.005, 0.01, 0.3),
    # As linkage benchmarks' noisy files: several errors in many records.
    "high": IdentityNoise(0.15, 0.15, 0.15, 0.05, 0.02, 0.05, 0.5, second_typo=0.05,
                          names_swapped=0.05, day_out=0.08, date_blank=0.03, given_blank=0.02,
                          old_address=0.1),
}  # fmt: skip


def as_recorded(
    rng: np.random.Generator,
    people: pd.DataFrame,
    person: np.ndarray,
    day: np.ndarray,
    missing_nhs_rate: float,
    invalid_nhs_rate: float,
    noise: IdentityNoise = IDENTITY_NOISE["nhs"],
) -> pd.DataFrame:
    """The identifiers a hospital, council or registrar holds for `person` on `day`: blank and
    mistyped NHS numbers, nicknames, typos, half of a hyphenated surname, day and month swapped,
    and the old postcode for a while after a move; at `high` noise also second typos, names
    the other way round, a date of birth a day out or blank, a blank given name and postcodes
    of long-ago addresses."""
    n = len(person)
    nhs = people["nhs_number"].to_numpy()[person]
    u = rng.random(n)
    invalid = (u >= missing_nhs_rate) & (u < missing_nhs_rate + invalid_nhs_rate)
    nhs = np.where(invalid, invalid_nhs_numbers(rng, nhs), nhs)
    nhs_text = format_nhs_numbers(pa.array(nhs), rng.random(n) < 0.3).to_numpy(zero_copy_only=False)
    nhs_text = np.where(u < missing_nhs_rate, None, nhs_text)

    given = pd.Series(people["given_name"].to_numpy()[person])
    nick = rng.random(n) < noise.nickname
    given[nick] = nickname(given[nick])
    mistyped = rng.random(n) < noise.given_typo
    given[mistyped] = typo(rng, given[mistyped])

    family = pd.Series(people["family_name"].to_numpy()[person])
    hyphenated = family.str.contains("-", regex=False).to_numpy()
    v = rng.random(n)
    first_part = hyphenated & (v < 0.3)
    family[first_part] = family[first_part].str.split("-").str[0]
    spaced = hyphenated & (v >= 0.3) & (v < 0.4)
    family[spaced] = family[spaced].str.replace("-", " ", regex=False)
    mistyped = rng.random(n) < noise.family_typo
    family[mistyped] = typo(rng, family[mistyped])

    dob = people["date_of_birth"].to_numpy()[person].astype(np.int64)
    swapped, swappable = _swap_day_month(dob)
    dob = np.where(swappable & (rng.random(n) < noise.day_month_swapped), swapped, dob)

    sex = np.where(people["male"].to_numpy()[person], "1", "2").astype(object)
    sex[rng.random(n) < noise.sex_unknown] = "9"

    move = people["move_date"].to_numpy()[person]
    before_move = day < move
    stale = (~before_move) & (rng.random(n) < noise.stale_postcode)
    postcode = np.where(
        (before_move | stale) & pd.notna(people["previous_postcode"].to_numpy()[person]),
        people["previous_postcode"].to_numpy()[person],
        people["postcode"].to_numpy()[person],
    )
    postcode[rng.random(n) < noise.postcode_blank] = None
    recorded = pd.DataFrame(
        {
            "nhs_number": nhs_text,
            "given_name": given.to_numpy(),
            "family_name": family.to_numpy(),
            "date_of_birth": dob,
            "sex": sex,
            "postcode": postcode,
        }
    )
    return _more_faults(rng, recorded, people, noise) if noise.second_typo else recorded


def _more_faults(rng: np.random.Generator, recorded: pd.DataFrame, people: pd.DataFrame,
                 noise: IdentityNoise) -> pd.DataFrame:  # fmt: skip
    """The faults only `high` noise adds, each drawn independently of the others."""
    n = len(recorded)
    out = recorded.copy()
    for column in ("given_name", "family_name"):
        again = rng.random(n) < noise.second_typo
        out.loc[again, column] = typo(rng, out.loc[again, column])
    swap = rng.random(n) < noise.names_swapped
    out.loc[swap, ["given_name", "family_name"]] = out.loc[
        swap, ["family_name", "given_name"]
    ].to_numpy()
    out["date_of_birth"] += np.where(rng.random(n) < noise.day_out, rng.choice([-1, 1], n), 0)
    out.loc[rng.random(n) < noise.date_blank, "date_of_birth"] = NEVER  # written blank
    out.loc[rng.random(n) < noise.given_blank, "given_name"] = None
    old = rng.random(n) < noise.old_address
    out.loc[old, "postcode"] = rng.choice(people["postcode"].to_numpy(), old.sum())
    return out
