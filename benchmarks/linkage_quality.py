"""Whole-person linkage quality: does the linked zone keep each true person's records under one
pseudonym, and different people's records apart? Measured against a synthetic region's truth.

    phm bench --people 100000 --out DIR        # or any region linked into a workspace
    python benchmarks/linkage_quality.py DIR   # DIR/region and DIR/workspace
    python benchmarks/linkage_quality.py --region REGION --workspace WORKSPACE

Reads the linked zone as analysts see it (every non-GP table's pseudonym and submission_id),
the landing catalogue (which file each submission was) and the region's truth (records.parquet:
file, row, person_id; people.parquet: person_id, nhs_number). The truth NHS numbers are turned
into linkage pseudonyms with the workspace's linkage key: benchmark code holding the key, as
the tests do; nothing in src may.

The linked zone keeps no row numbers, so records are matched to truth rows within each landed
file: a linked row whose pseudonym is a truth row's own is paired with it; a row left
unmatched is paired with the truth row whose unmatched pseudonym it carries (computed, with the
key, from the record id that row landed with in zone 1: `untraced_pseudonyms`); the rest are
paired in order. Counts of right, wrong and unmatched records are exact, and so is whose each
unmatched record is. The pairwise figures are exact unless a file holds wrongly linked rows as
well as rows that never reached the zone (an objector's, a quarantined row): then whose those
few rows are is a guess. (Before unmatched rows were paired by their pseudonym, a file's
objectors' rows, removed from the zone, were paired by order with its unmatched rows, and
"of people on a GP list (records)" read 0 at a million people where it was not.)

Prints, over the non-GP records that reached the linked zone (records of objectors, superseded
or refused files and quarantined rows do not):
- per record: right person, another person's pseudonym (a wrong link), an unmatched pseudonym;
- pairs of records: under one pseudonym but two people (merged), one person's but under two
  pseudonyms (split); pairwise precision (pairs under one pseudonym that are one person) and
  recall (pairs of one person's records under one pseudonym), the latter also among people on a
  GP list, the only people tracing can find;
- the share of people on a GP list with non-GP records who have at least one of them under
  the pseudonym of their GP registration.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

from openphm.engine import connect
from openphm.governance.audit import Actor
from openphm.keystore import KeyName
from openphm.landing import catalog
from openphm.landing.read import current_tables
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.deidentify import LINKED_TABLE, RECORD_ID
from openphm.pseudonymise.pseudonyms import linkage_pseudonyms, unmatched_pseudonyms


def _files(ws: Workspace, region: Path) -> dict[str, str]:
    """Each landed submission's file, relative to the region (as the truth names it)."""
    return {
        s.submission_id: str(Path(s.file).resolve().relative_to(region.resolve()))
        for s in catalog.load(ws.zone("landing")).submissions
    }


def linked_records(ws: Workspace, region: Path) -> pd.DataFrame:
    """One row per non-GP linked record: file (relative to the region), pseudonym."""
    files = _files(ws, region)
    con = ws.connect_linked(read_only=True)
    try:
        union = " UNION ALL ".join(
            f"SELECT submission_id, pseudonym FROM linked.{LINKED_TABLE[t]}" for t in RECORD_ID
        )
        found = con.execute(union).df()
    finally:
        con.close()
    found["file"] = found.pop("submission_id").map(files)
    return found


def truth_records(ws: Workspace, region: Path) -> tuple[pd.DataFrame, set[str]]:
    """Every non-GP truth row (file, row, person_id, true pseudonym), and the pseudonyms of
    people registered at a practice (the spine tracing searches)."""
    records = pd.read_parquet(region / "truth" / "records.parquet")
    people = pd.read_parquet(region / "truth" / "people.parquet")
    key = ws.keystore.get(KeyName.LINKAGE)
    people["true"] = linkage_pseudonyms(list(people["nhs_number"]), key).to_pylist()
    con = ws.connect_linked(read_only=True)
    try:
        registered = set(
            con.execute("SELECT DISTINCT pseudonym FROM linked.registrations").df()["pseudonym"]
        )
    finally:
        con.close()
    records = records.merge(people[["person_id", "true"]], on="person_id")
    untraced = untraced_pseudonyms(ws, region, key)
    return records.merge(untraced, on=["file", "row"], how="left"), registered


def untraced_pseudonyms(ws: Workspace, region: Path, key: bytes) -> pd.DataFrame:
    """(file, row, untraced): the unmatched pseudonym each non-GP row of zone 1 gets if it is
    not traced, from its source kind, provider and record id as landed (as `phm link` makes
    them, resolve.unmatched); a row is its file's `source_row`."""
    files = _files(ws, region)
    con = connect()
    try:
        views = current_tables(ws, con, Actor(user="linkage-quality", role="processor-engineer"))
        landed = con.execute(
            " UNION ALL ".join(
                f"SELECT submission_id, source_row, source_kind, provider_ods, "
                f"{column}::VARCHAR AS record_id FROM {views[table]}"
                for table, column in RECORD_ID.items()
            )
        ).df()
    finally:
        con.close()
    parts = []
    for (source, provider), part in landed.groupby(["source_kind", "provider_ods"]):
        pseudonyms = unmatched_pseudonyms(
            pa.array(part["record_id"], pa.string()),
            source=source,
            provider=provider,
            linkage_key=key,
        )
        parts.append(
            pd.DataFrame(
                {
                    "file": part["submission_id"].map(files).to_numpy(),
                    "row": part["source_row"].astype("int64").to_numpy(),
                    "untraced": pseudonyms.to_pylist(),
                }
            )
        )
    columns = {"file": pd.Series(dtype=object), "row": pd.Series(dtype="int64"),
               "untraced": pd.Series(dtype=object)}  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns)


def pair_up(linked: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Linked rows beside truth rows of the same file: each unmatched row with the truth row
    whose unmatched pseudonym it carries, then equal pseudonyms, the rest in order (see the
    module note). Truth rows left over did not reach the zone (superseded or refused files,
    quarantined rows, objections)."""
    linked = linked.assign(n=linked.groupby(["file", "pseudonym"]).cumcount())
    # Unmatched rows first: they are exact, and a person's rows paired by pseudonym in order
    # would otherwise take the truth row of their one untraced record in that file.
    truth = truth.assign(u=truth.groupby(["file", "untraced"]).cumcount())
    untraced = linked.merge(
        truth, left_on=["file", "pseudonym", "n"], right_on=["file", "untraced", "u"]
    )
    linked = _without(linked, untraced[["file", "pseudonym", "n"]])
    truth = _without(truth, untraced[["file", "row"]])
    truth = truth.assign(n=truth.groupby(["file", "true"]).cumcount())
    right = linked.merge(truth, left_on=["file", "pseudonym", "n"], right_on=["file", "true", "n"])
    rest_linked = _without(linked, right[["file", "pseudonym", "n"]])
    rest_truth = _without(truth, right[["file", "true", "n"]])
    rest_linked = rest_linked.assign(k=rest_linked.groupby("file").cumcount())
    rest_truth = rest_truth.assign(k=rest_truth.groupby("file").cumcount())
    wrong = rest_linked.merge(rest_truth, on=["file", "k"], suffixes=("", "_t"))
    unpaired = len(rest_linked) - len(wrong)
    if unpaired:
        raise SystemExit(f"{unpaired} linked rows have no truth row in their file: wrong region?")
    columns = ["file", "pseudonym", "person_id", "true"]
    return pd.concat([untraced[columns], right[columns], wrong[columns]], ignore_index=True)


def _without(frame: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """`frame` less the rows that match one of `rows` on its columns."""
    kept = frame.merge(rows, how="left", indicator=True)
    return kept[kept["_merge"] == "left_only"].drop(columns="_merge")


def pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise(records: pd.DataFrame) -> dict[str, int]:
    """Pairs of records: predicted together (same pseudonym), truly together (same person),
    and both."""
    return {
        "together": pairs(records.groupby("pseudonym").size()),
        "one person": pairs(records.groupby("person_id").size()),
        "both": pairs(records.groupby(["pseudonym", "person_id"]).size()),
    }


def measure(region: Path, workspace: Path) -> tuple[dict[str, int], dict[str, float]]:
    """The figures of the module note: counts of records, and shares."""
    ws = Workspace.open(workspace)
    truth, registered = truth_records(ws, region)
    records = pair_up(linked_records(ws, region), truth)
    unmatched = records["pseudonym"].str.startswith("u")
    right = records["pseudonym"] == records["true"]
    wrong = ~right & ~unmatched
    on_list = records["true"].isin(registered)
    every, listed = pairwise(records), pairwise(records[on_list])
    with_gp = records.loc[on_list, "person_id"].nunique()
    gp_linked = records.loc[right & on_list, "person_id"].nunique()
    counts = {
        "records in the linked zone": len(records),
        "truth records not in the zone": len(truth) - len(records),
        "right person's pseudonym": int(right.sum()),
        "another person's pseudonym (wrong link)": int(wrong.sum()),
        "an unmatched pseudonym": int(unmatched.sum()),
        "  of people on a GP list (records)": int((unmatched & on_list).sum()),
        "pairs of records under one pseudonym": every["together"],
        "  of two different people": every["together"] - every["both"],
        "pairs of one person's records": every["one person"],
        "  under two pseudonyms": every["one person"] - every["both"],
        "  of people on a GP list (pairs)": listed["one person"],
        "    under two pseudonyms": listed["one person"] - listed["both"],
    }
    shares = {
        "record precision (right / given a real pseudonym)": right.sum()
        / max((~unmatched).sum(), 1),
        "record recall (right / all)": right.mean(),
        "record recall, people on a GP list": right[on_list].mean(),
        "pairwise precision": every["both"] / max(every["together"], 1),
        "pairwise recall": every["both"] / max(every["one person"], 1),
        "pairwise recall, people on a GP list": listed["both"] / max(listed["one person"], 1),
        "people on a GP list with a record under their GP pseudonym": gp_linked / max(with_gp, 1),
    }
    return counts, shares


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="a `phm bench --out` folder")
    parser.add_argument("--region", type=Path)
    parser.add_argument("--workspace", type=Path)
    args = parser.parse_args(argv)
    region = args.region or (args.out / "region" if args.out else None)
    workspace = args.workspace or (args.out / "workspace" if args.out else None)
    if region is None or workspace is None:
        parser.error("give a bench folder, or --region and --workspace")
    start = time.perf_counter()
    counts, shares = measure(region, workspace)
    for name, count in counts.items():
        print(f"{name:58s} {count:>10,}")
    for name, share in shares.items():
        print(f"{name:58s} {share:>10.5f}")
    print(f"(measured in {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
