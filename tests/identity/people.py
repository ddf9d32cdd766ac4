"""Synthetic people for tracing tests and the identity benchmark: a spine (the registered
population) and provider records drawn from it with the errors real extracts carry (nicknames,
typos, day and month swapped, house moves, blanks, other providers' codings), plus strangers who
are on no list. Vectorised with NumPy so that a million-person spine takes seconds. The truth
(which spine person each record is, or none) comes back beside the records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker.providers.person.en_GB import Provider as Names

NICKNAMES = {"ROBERT": "BOB", "WILLIAM": "BILL", "ELIZABETH": "LIZ", "MARGARET": "MAGGIE",
             "JAMES": "JIM", "THOMAS": "TOM", "MICHAEL": "MIKE", "KATHERINE": "KATE",
             "RICHARD": "DICK", "EDWARD": "TED", "SUSAN": "SUE", "DAVID": "DAVE"}  # fmt: skip
_MALE = sorted({n.upper() for n in Names.first_names_male} | set(list(NICKNAMES)[:2]))
_FEMALE = sorted({n.upper() for n in Names.first_names_female} | {"ELIZABETH", "MARGARET"})
_FAMILY = sorted({n.upper() for n in Names.last_names})
_STREETS = ["HIGH STREET", "STATION ROAD", "CHURCH LANE", "MILL ROAD", "PARK AVENUE", "THE GREEN",
            "VICTORIA ROAD", "KINGS ROAD", "NEW STREET", "SCHOOL LANE", "QUEENS DRIVE"]  # fmt: skip
_AREAS = ["LS", "BD", "HX", "WF", "HD"]


@dataclass
class Region:
    spine: pd.DataFrame
    records: pd.DataFrame
    truth: pd.Series  # record_id → spine_id, or <NA> for a stranger


def spine(n: int, rng: np.random.Generator) -> pd.DataFrame:
    male = rng.random(n) < 0.5
    given = np.where(
        male,
        rng.choice(_MALE, n, p=_zipf(len(_MALE))),
        rng.choice(_FEMALE, n, p=_zipf(len(_FEMALE))),
    )
    born = np.datetime64("1925-01-01") + rng.integers(0, 365 * 98, n).astype("timedelta64[D]")
    n_postcodes = max(n // 15, 1)
    codes = np.array(
        [
            f"{rng.choice(_AREAS)}{rng.integers(1, 30)} {rng.integers(1, 10)}"
            f"{chr(65 + rng.integers(0, 26))}{chr(65 + rng.integers(0, 26))}"
            for _ in range(n_postcodes)
        ]
    )
    home = rng.integers(0, n_postcodes, n)
    return pd.DataFrame(
        {
            "spine_id": [f"S{i:07d}" for i in range(n)],
            "given_name": given,
            "family_name": rng.choice(_FAMILY, n, p=_zipf(len(_FAMILY))),
            "date_of_birth": pd.Series(born).dt.strftime("%Y-%m-%d").to_numpy(),
            "sex": np.where(male, "M", "F"),
            "postcode": codes[home],
            "address": [f"{h % 97 + 1} {_STREETS[h % len(_STREETS)]}" for h in home],
        }
    )


def region(n_spine: int, n_records: int, *, strangers: float = 0.1, seed: int = 1) -> Region:
    """Records drawn from a spine of n_spine people, a `strangers` share of them on no list."""
    rng = np.random.default_rng(seed)
    people = spine(n_spine, rng)
    n_known = int(n_records * (1 - strangers))
    known = people.iloc[rng.choice(n_spine, n_known, replace=False)].reset_index(drop=True)
    others = spine(n_records - n_known, np.random.default_rng(seed + 1000))
    drawn = pd.concat([known, others], ignore_index=True)
    truth = pd.Series(
        list(known["spine_id"]) + [pd.NA] * len(others), dtype="string", name="spine_id"
    )
    records = _with_errors(drawn.drop(columns="spine_id"), rng)
    records.insert(0, "record_id", [f"R{i:07d}" for i in range(len(records))])
    truth.index = records["record_id"]
    order = rng.permutation(len(records))
    return Region(people, records.iloc[order].reset_index(drop=True), truth)


def _with_errors(people: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = people.copy()
    n = len(out)

    def some(share: float) -> np.ndarray:
        return rng.random(n) < share

    nick = some(0.15) & out["given_name"].isin(list(NICKNAMES)).to_numpy()
    out.loc[nick, "given_name"] = out.loc[nick, "given_name"].map(NICKNAMES)
    typo = some(0.05)
    out.loc[typo, "family_name"] = [_typo(s, rng) for s in out.loc[typo, "family_name"]]
    born = pd.to_datetime(out["date_of_birth"])
    swap = some(0.05) & (born.dt.day <= 12).to_numpy() & (born.dt.day != born.dt.month).to_numpy()
    out["date_of_birth"] = np.where(
        swap, born.dt.strftime("%Y-%d-%m"), born.dt.strftime("%d/%m/%Y")
    )
    moved = some(0.1)
    out.loc[moved, "postcode"] = rng.permutation(out["postcode"].to_numpy())[moved]
    out.loc[moved, "address"] = "1 NEW BUILD CLOSE"
    out["given_name"] = out["given_name"].str.title()
    out["sex"] = np.where(some(0.5), out["sex"].map({"M": "1", "F": "2"}), out["sex"])
    out["postcode"] = np.where(some(0.3), out["postcode"].str.replace(" ", ""), out["postcode"])
    for column, share in [("date_of_birth", 0.03), ("postcode", 0.05), ("address", 0.3)]:
        out.loc[some(share), column] = ""
    return out


def _typo(word: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(1, max(len(word) - 1, 2)))
    return word[:i] + word[i + 1 :] if len(word) > 3 else word + "E"


def _zipf(k: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1) ** 0.8
    return weights / weights.sum()
