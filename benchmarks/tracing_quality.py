"""Tracing quality and time on synthetic regions, side by side in one run.

    python benchmarks/tracing_quality.py --people 50000 [--practices 5] [--seed 1]
                                         [--work /tmp/tracing-quality] [--noise nhs high]

For each noise level (`phm synth --identity-noise`), a region is made (or reused from
--work), and its records that need tracing (non-GP rows whose NHS number is missing or fails
its check) are traced against its spine (the GP patients with a valid NHS number, one row per
person, the practice they are registered with now) twice:

- OpenPHM: `pseudonymise.resolve.trace_records`, the code `phm link` runs (exact pass, then a
  model per source trained on its records, the threshold from the rule), on the same tables a
  link builds; nothing is tuned to the truth.
- plain Splink: the same records and spine, the same fields (given and family name, date of
  birth, sex, postcode), as a careful user would give them to Splink (names upper case, dates
  as ISO, sex as M/F, postcodes upper case), with the library's comparisons
  (`NameComparison`, `DateOfBirthComparison`, `ExactMatch`, `PostcodeComparison`), blocking on
  date of birth, postcode, or both names, u by random sampling (5M pairs), m by EM on date of
  birth and on postcode; each record's best candidate; its F1 at the best threshold, found
  with the truth (so: plain Splink's best unsupervised F1, a figure no user could pick).

Precision is right links over links made; recall is right links over the records whose true
person is on the spine (a record of someone not on any list cannot be traced). Times are wall
seconds of the tracing alone (records and spine already in memory).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from openphm.pseudonymise import gp, resolve
from openphm.synth import RegionOptions, generate_region
from openphm.synth.extracts import TABLES

FIELDS = ["given_name", "family_name", "date_of_birth", "sex", "postcode"]


def load(region: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(records: the non-GP rows of the current files that need tracing, landing-shaped;
    spine rows: the latest GP patient lists with each patient's registration end; truth:
    file, row, nhs_number of those records). Rows with a valid NHS number are dropped file by
    file, so a million-person region's six million rows never sit in memory at once."""
    from openphm.identity.nhs_numbers import ISSUED_REGIONS, check_nhs_numbers

    records = []
    for path in sorted(region.glob("extracts/*/*/*.csv")):
        kind, provider = path.parts[-3], path.parts[-2]
        if kind == "gp" or provider == "RZ9":  # RZ9: a trust outside the programme
            continue
        if (path.parent / path.name.replace(".csv", "_r2.csv")).exists():
            continue  # the faulty file the _r2 resubmission replaces
        table = _read(path, ["nhs_number", *FIELDS])
        table = table.append_column("source_row", pa.array(np.arange(1, table.num_rows + 1)))
        checked = check_nhs_numbers(table["nhs_number"], regions=ISSUED_REGIONS | {"SYNTHETIC"})
        table = table.filter(checked["nhs_number"].is_null())
        relative = str(path.relative_to(region))
        records.append(
            table.to_pandas().assign(submission_id=relative, source_kind=kind,
                                     provider_ods=provider)
        )  # fmt: skip
    spine = []
    for folder in sorted((region / "extracts" / "gp").iterdir()):
        latest = max(p.name.rsplit("_", 1)[1] for p in folder.glob("*_patients_*.csv"))
        patients = _read(folder / f"{folder.name}_patients_{latest}")
        patients = _canonical(patients, "patients").to_pandas()
        registrations = _read(folder / f"{folder.name}_registrations_{latest}")
        registrations = _canonical(registrations, "registrations").to_pandas()
        last = registrations.groupby("patient_ref")[["registration_start", "registration_end"]]
        last = last.last()
        spine.append(
            patients.assign(
                provider_ods=folder.name,
                registration_start=_date(patients["patient_ref"].map(last["registration_start"])),
                registration_end=_date(patients["patient_ref"].map(last["registration_end"])),
            )
        )
    records = pd.concat(records, ignore_index=True)
    truth = pd.read_parquet(region / "truth" / "records.parquet")
    truth = truth.assign(file=truth["file"].astype(str))
    wanted = pd.MultiIndex.from_frame(records[["submission_id", "source_row"]])
    truth = truth[pd.MultiIndex.from_frame(truth[["file", "row"]]).isin(wanted)]
    people = pd.read_parquet(region / "truth" / "people.parquet")[["person_id", "nhs_number"]]
    truth = truth.merge(people, on="person_id")
    return records, pd.concat(spine, ignore_index=True), truth


def _date(values: pd.Series) -> pd.Series:
    """Dates as flavour A (ISO) or B (day/month/year) writes them."""
    iso = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    return iso.fillna(pd.to_datetime(values, format="%d/%m/%Y", errors="coerce"))


def _read(path: Path, columns: list[str] | None = None) -> pa.Table:
    names = pacsv.open_csv(path).schema.names
    return pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            include_columns=[c for c in (columns or names) if c in names],
            strings_can_be_null=True,
        ),
    )


def _canonical(table: pa.Table, name: str) -> pa.Table:
    """GP flavour B's column names as flavour A's."""
    back = {b: a for a, b in TABLES[name].flavour_b.items()}
    return table.rename_columns([back.get(c, c) for c in table.column_names])


def ours(records: pd.DataFrame, spine_rows: pd.DataFrame) -> tuple[pd.Series, float, list]:
    """OpenPHM's tracing as `phm link` runs it; (record → NHS number traced, seconds, per-
    source report)."""
    con = duckdb.connect()
    con.register("records_in", records)
    con.execute("CREATE TEMP TABLE records AS SELECT * FROM records_in")
    con.register("spine_in", spine_rows)
    con.execute("CREATE TEMP TABLE patients AS SELECT * FROM spine_in")
    resolve.check_numbers(con, ["records", "patients"], resolve.regions(True))
    # The spine as `phm link` makes it (`gp.spine`: each person from the practice they are
    # registered with now, with the postcode of their registration before), from the patient
    # lists as `gp.patients` marks them (`main`: the current registration, else the latest).
    con.execute(
        """CREATE TEMP TABLE gp_people AS
        SELECT p.*, c.nhs_number AS valid_nhs_number,
               row_number() OVER (
                   PARTITION BY c.nhs_number
                   ORDER BY p.registration_end IS NULL DESC, p.registration_end DESC,
                            p.registration_start DESC, p.provider_ods) = 1 AS main
        FROM patients p JOIN nhs_check c ON c.raw = p.nhs_number"""
    )
    gp.spine(con)
    start = time.perf_counter()
    report = resolve.trace_records(con, ["records"], gp_patients=False)
    seconds = time.perf_counter() - start
    traced = con.execute("SELECT * FROM traced").df().set_index("record_id")["nhs_number"]
    return traced, seconds, report.sources


def plain_splink(records: pd.DataFrame, spine: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Each record's best candidate from Splink alone (see the module's docstring), with the
    seconds it took."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, SettingsCreator, block_on

    def tidy(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
        dates = pd.to_datetime(frame["date_of_birth"], format="mixed", dayfirst=True,
                               errors="coerce")  # fmt: skip
        sex = frame["sex"].str.upper().map({"M": "M", "MALE": "M", "1": "M", "F": "F",
                                            "FEMALE": "F", "2": "F"})  # fmt: skip
        return pd.DataFrame(
            {
                "unique_id": frame[id_column],
                "given_name": frame["given_name"].str.upper(),
                "family_name": frame["family_name"].str.upper(),
                "date_of_birth": dates.dt.strftime("%Y-%m-%d"),
                "sex": sex,
                "postcode": frame["postcode"].str.upper(),
            }
        )

    left, right = tidy(records, "record_id"), tidy(spine, "spine_id")
    start = time.perf_counter()
    # Held to 6 GB (spilling beyond), as OpenPHM's link connection is held to 4 GB: at a
    # million people, unbounded, it took 20 GB of a 23 GB machine and was stopped.
    db = DuckDBAPI(duckdb.connect(config={"memory_limit": "6GB"}))
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("family_name"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("date_of_birth"),
            block_on("postcode"),
            block_on("given_name", "family_name"),
        ],
    )
    best = splink_best_candidates(db, left, right, settings)
    return best, time.perf_counter() - start


def splink_best_candidates(db, left: pd.DataFrame, right: pd.DataFrame, settings) -> pd.DataFrame:
    """Plain Splink as a careful user runs it: u by random sampling (5M pairs), m by EM on date
    of birth and on postcode, predictions from p = 0.01, each record's best spine candidate
    (record_id, spine_id, match_probability). Shared with public_linkage.py."""
    from splink import Linker, block_on

    linker = Linker([db.register(left, table_name="records"), db.register(right,
                    table_name="spine")], settings, log_level=logging.ERROR)  # fmt: skip
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    for rule in (block_on("date_of_birth"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pairs = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    records_on_left = pairs["source_dataset_l"] == "records"
    pairs["record_id"] = pairs["unique_id_l"].where(records_on_left, pairs["unique_id_r"])
    pairs["spine_id"] = pairs["unique_id_r"].where(records_on_left, pairs["unique_id_l"])
    best = pairs.sort_values("match_probability").groupby("record_id").tail(1)
    return best[["record_id", "spine_id", "match_probability"]]


def scores(found: pd.Series, truth: pd.Series, reachable: int) -> dict[str, float]:
    right = int((found == truth.reindex(found.index)).sum())
    precision = right / len(found) if len(found) else 1.0
    recall = right / reachable if reachable else 1.0
    f1 = 2 * precision * recall / (precision + recall) if right else 0.0
    return {"links": len(found), "wrong": len(found) - right, "precision": precision,
            "recall": recall, "f1": f1}  # fmt: skip


def best_f1(best: pd.DataFrame, truth: pd.Series, reachable: int) -> dict[str, float]:
    """Plain Splink's F1 at the threshold that maximises it (chosen with the truth)."""
    best = best.sort_values("match_probability", ascending=False)
    right = (best["spine_id"].to_numpy() == truth.reindex(best["record_id"]).to_numpy()).astype(int)
    tp = np.cumsum(right)
    k = np.arange(1, len(best) + 1)
    precision, recall = tp / k, tp / max(reachable, 1)
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    i = int(np.argmax(f1))
    return {"links": int(k[i]), "wrong": int(k[i] - tp[i]), "precision": float(precision[i]),
            "recall": float(recall[i]), "f1": float(f1[i]),
            "threshold": float(best["match_probability"].iloc[i])}  # fmt: skip


def run(args, noise: str) -> dict:
    region = args.work / f"{noise}-{args.people}-{args.seed}"
    if not (region / "truth").exists():
        began = time.perf_counter()
        generate_region(region, RegionOptions(people=args.people, practices=args.practices,
                                              seed=args.seed, identity_noise=noise))  # fmt: skip
        print(f"{noise}: region of {args.people:,} people made in "
              f"{time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
    records, spine_rows, truth = load(region)
    print(f"{noise}: {len(records):,} records to trace loaded; peak memory {_peak():.1f} GB",
          flush=True)  # fmt: skip
    traced, seconds, sources = ours(records, spine_rows)
    print(f"{noise}: OpenPHM traced in {seconds:.1f} s; peak memory {_peak():.1f} GB",
          flush=True)  # fmt: skip
    records["record_id"] = records["submission_id"] + "/" + records["source_row"].astype(str)
    truth = truth.assign(record_id=truth["file"] + "/" + truth["row"].astype(str))
    truth = truth.set_index("record_id")["nhs_number"]
    needing = records  # only the rows that need tracing were loaded
    spine_ids = set(spine_rows["nhs_number"].dropna().str.replace(" ", ""))
    on_spine = truth.reindex(needing["record_id"]).isin(spine_ids)
    reachable = int(on_spine.sum())
    result = {"noise": noise, "people": args.people, "spine": len(spine_ids),
              "records_to_trace": len(needing), "on_spine": reachable,
              "ours": {**scores(traced, truth, reachable), "seconds": seconds},
              "models": [f"{s.source} {s.provider}: {s.model.parameters}, "
                         f"{s.threshold.describe()}" for s in sources if s.model]}  # fmt: skip
    if not args.skip_plain:
        spine = (spine_rows.assign(spine_id=spine_rows["nhs_number"].str.replace(" ", ""))
                 .dropna(subset=["spine_id"]).drop_duplicates("spine_id"))  # fmt: skip
        best, plain_seconds = plain_splink(needing, spine)
        result["plain"] = {**best_f1(best, truth, reachable), "seconds": plain_seconds}
        result["time_ratio"] = seconds / plain_seconds
    return result


def _peak() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--practices", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tracing-quality"))
    parser.add_argument("--noise", nargs="+", default=["nhs", "high"])
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    for noise in args.noise:
        result = run(args, noise)
        o = result["ours"]
        print(f"\n{noise} noise, {result['people']:,} people: spine {result['spine']:,}, "
              f"{result['records_to_trace']:,} records to trace ({result['on_spine']:,} of "
              "people on the spine)")  # fmt: skip
        print(
            f"  OpenPHM       {o['seconds']:7.1f} s  precision {o['precision']:.5f}  recall "
            f"{o['recall']:.5f}  F1 {o['f1']:.5f}  ({o['links']:,} links, {o['wrong']} wrong)"
        )
        if "plain" in result:
            p = result["plain"]
            print(
                f"  plain Splink  {p['seconds']:7.1f} s  precision {p['precision']:.5f}  "
                f"recall {p['recall']:.5f}  F1 {p['f1']:.5f}  at its best threshold "
                f"{p['threshold']:.4f} ({p['links']:,} links, {p['wrong']} wrong)"
            )
            print(f"  time ratio {result['time_ratio']:.2f}x")
        for line in result["models"]:
            print(f"    {line}")
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
