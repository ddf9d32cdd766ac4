"""DIR/truth/: what really happened in the synthetic region, for tests only. The pipeline never
reads it. Writes test data only."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from openphm.synth import calibration as cal
from openphm.synth.conditions import EFI_DEFICITS, FRAILTY_CATEGORIES
from openphm.synth.faults import Fault
from openphm.synth.timeline import NEVER


def _dates(days: np.ndarray) -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    return pa.array(days.astype(np.int32), mask=days >= NEVER).cast(pa.date32())


def people_table(
    people: pd.DataFrame,
    onset: np.ndarray,
    efi_deficits: np.ndarray,
    frailty: np.ndarray,
    practices: pd.DataFrame,
) -> pa.Table:
    codes = practices["ods_code"].to_numpy()
    columns = {
        "person_id": pa.array(people["person_id"].to_numpy()),
        "nhs_number": pa.array(people["nhs_number"].to_numpy().astype(str)),
        "given_name": pa.array(people["given_name"].to_numpy(), pa.string(), from_pandas=True),
        "family_name": pa.array(people["family_name"].to_numpy(), pa.string(), from_pandas=True),
        "date_of_birth": _dates(people["date_of_birth"].to_numpy()),
        "sex": pa.array(np.where(people["male"].to_numpy(), "M", "F").astype(object)),
        "postcode": pa.array(people["postcode"].to_numpy(), pa.string(), from_pandas=True),
        "lsoa_code": pa.array(people["lsoa_code"].to_numpy(), pa.string(), from_pandas=True),
        "imd_decile": pa.array(people["imd_decile"].to_numpy().astype(np.int8)),
        "ethnicity_group": pa.array(
            people["ethnicity_group"].to_numpy(), pa.string(), from_pandas=True
        ),
        "practice": pa.array(codes[people["practice"].to_numpy()]),
        "previous_practice": pa.array(
            np.where(
                people["previous_practice"] >= 0, codes[people["previous_practice"].clip(0)], None
            ),
            pa.string(),
        ),
        "previous_postcode": pa.array(
            people["previous_postcode"].to_numpy(), pa.string(), from_pandas=True
        ),
        "registration_start": _dates(people["registration_start"].to_numpy()),
        "move_date": _dates(people["move_date"].to_numpy()),
        "leave_date": _dates(people["leave_date"].to_numpy()),
        "death_date": _dates(people["death_date"].to_numpy()),
        "efi_deficits": pa.array(efi_deficits.astype(np.int16)),
        "efi": pa.array(efi_deficits / EFI_DEFICITS),
        "frailty": pa.array(
            np.array(FRAILTY_CATEGORIES, dtype=object)[frailty], pa.string(), from_pandas=True
        ),
    }
    for j, condition in enumerate(cal.CONDITIONS):
        columns[f"onset_{condition.name}"] = _dates(onset[:, j])
    return pa.table(columns)


def objections_table(person: np.ndarray, day: np.ndarray, code: np.ndarray) -> pa.Table:
    """Each objector's latest code (and its date)."""
    frame = pd.DataFrame({"person_id": person, "day": day, "latest_code": code})
    latest = frame.sort_values(["person_id", "day"]).groupby("person_id").tail(1)
    return pa.table(
        {
            "person_id": pa.array(latest["person_id"].to_numpy()),
            "latest_code": pa.array(
                latest["latest_code"].to_numpy(), pa.string(), from_pandas=True
            ),
            "recorded_date": _dates(latest["day"].to_numpy()),
        }
    )


def indicators_table(flags: pd.DataFrame, timeline) -> pa.Table:
    """Who each indicator should flag at the end date and why (synth.indicator_truth)."""
    flags = flags.sort_values(["indicator", "person_id"]).reset_index(drop=True)
    return pa.table(
        {
            "person_id": pa.array(flags["person_id"].to_numpy().astype(np.int64)),
            "indicator": pa.array(flags["indicator"].astype(str).to_numpy()),
            "reason": pa.array(flags["reason"].astype(str).to_numpy()),
            "as_at": pa.array([timeline.end] * len(flags), pa.date32()),
        }
    )


def write(directory: Path, tables: dict[str, pa.Table], faults: list[Fault]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, directory / f"{name}.parquet")
    with open(directory / "faults.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["file", "row", "kind", "field"])
        for f in faults:
            out.writerow([f.file, "" if f.row is None else f.row, f.kind, f.field or ""])
