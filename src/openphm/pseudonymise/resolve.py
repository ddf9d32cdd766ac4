"""From identifiers to pseudonyms (promise P2): NHS numbers checked, tracing, linkage and
unmatched pseudonyms.

Reads temporary tables of landing rows (identifiable, in memory or encrypted spill files) and
the linkage key handed over by `link`; writes temporary tables:

- `nhs_check(raw, nhs_number)`: every NHS number as sent that is valid, normalised;
- `spine`: the registered population with a valid NHS number, one row per number;
- `traced(record_id, nhs_number)`: records without a valid number that tracing matched (the
  exact pass, openphm.identity.exact, then Splink for the rest);
- `gp_traced(ref_pseudonym, nhs_number)`: the same for GP patients listed without a valid
  number (a new registration the practice has not traced yet), traced with the records;
- `nhs_pseudonym(nhs_number, pseudonym)`: the linkage pseudonym of every valid number.

A record that tracing cannot match above the threshold is never forced onto anyone: it keeps an
unmatched pseudonym of its own, from its source kind, provider and the provider's record id.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from openphm.identity import quality
from openphm.identity.exact import exact_matches
from openphm.identity.nhs_numbers import ISSUED_REGIONS, check_nhs_numbers
from openphm.identity.quality import FieldRate
from openphm.identity.report import histogram
from openphm.identity.standardise import text_column
from openphm.identity.threshold import Threshold
from openphm.identity.tracing import (
    CANDIDATES_FROM,
    FIELDS,
    Prepared,
    Source,
    Traced,
    best_matches,
    prepare,
    trace_sources,
)
from openphm.identity.training import Change, Model
from openphm.pseudonymise.models import GP_SOURCE, ModelStore
from openphm.pseudonymise.pseudonyms import linkage_pseudonyms, unmatched_pseudonyms

SYNTHETIC = "SYNTHETIC"  # the `nhs_number.REGIONS` name of the reserved 999 test range


def regions(accept_test_nhs_numbers: bool) -> frozenset[str]:
    return ISSUED_REGIONS | {SYNTHETIC} if accept_test_nhs_numbers else ISSUED_REGIONS


def check_numbers(con, tables: list[str], accepted: frozenset[str]) -> int:
    """Create `nhs_check` from every distinct NHS number in `tables`; the count of valid ones."""
    union = " UNION ".join(
        f"SELECT nhs_number AS raw FROM {t} WHERE nhs_number IS NOT NULL" for t in tables
    )
    raw = con.execute(f"SELECT DISTINCT raw FROM ({union})").fetch_arrow_table().column(0)
    checked = check_nhs_numbers(raw, regions=accepted)["nhs_number"]
    valid = pc.is_valid(checked)
    found = pa.table({"raw": raw, "nhs_number": checked}).filter(valid)
    put(con, "nhs_check", found)
    return found.num_rows


def trace_records(
    con,
    tables: list[str],
    *,
    threshold: float | None = None,
    engine=None,
    folder: Path | None = None,
    gp_patients: bool = True,
    models: ModelStore | None = None,
    periods: dict[str, str] | None = None,
) -> TracingReport:
    """Match the rows of `tables` (non-GP landing rows) with no valid NHS number, and (unless
    `gp_patients` is false) the GP patients in `gp_people` listed without one, against
    `spine`; create `traced` and `gp_traced`. Each source (provider and kind; the GP
    patients together) is traced with a model of its own, starting from the one `models`
    kept for it last (or the priors) and kept there afterwards under its period (the latest
    of its submissions' `periods`). Returns what was traced per source, with how well each
    field could be read. Splink runs on `engine` (the programme's; None: DuckDB, in the
    link's connection), keeping any files in `folder` (the landing zone's)."""
    wanted = ", ".join(f for f in FIELDS if f != "address")
    selects = [
        f"SELECT submission_id || '/' || source_row AS record_id, source_kind AS source, "
        f"provider_ods AS provider, submission_id AS submission, given_name, family_name, "
        f"date_of_birth::VARCHAR AS date_of_birth, sex, postcode, NULL::VARCHAR AS address "
        f"FROM {t} WHERE nhs_number IS NULL OR nhs_number NOT IN (SELECT raw FROM nhs_check)"
        for t in tables
    ]
    if gp_patients:
        selects.append(
            f"SELECT '{_GP}' || ref_pseudonym AS record_id, '{GP_SOURCE[0]}' AS source, "
            f"'{GP_SOURCE[1]}' AS provider, submission_id AS submission, given_name, "
            "family_name, date_of_birth::VARCHAR AS date_of_birth, sex, postcode, "
            "concat_ws(' ', address_line_1, address_line_2, town) AS address "
            "FROM gp_people WHERE valid_nhs_number IS NULL"
        )
    # In a fixed order: DuckDB returns rows in the order its threads finish, and the records
    # EM trains on and the spine's halves u is sampled from are drawn by position, so an order
    # that varied from run to run traced a few hundred records differently at a million people.
    union = " UNION ALL ".join(selects)
    # As Arrow, not NumPy objects: a million-person spine took seconds to convert and then
    # to convert again to strings for standardising.
    records = _frame(con, f"{union} ORDER BY record_id") if selects else pd.DataFrame()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracing-prepare") as pool:
        # The records standardised while the spine is read and standardised: DuckDB and
        # Arrow's kernels let go of Python's lock, so on two cores the records cost little
        # more than the wait for the spine (at a million people, 0.9 s of 3.3 s).
        standardised = pool.submit(prepare, records, "record_id") if len(records) else None
        spine = _frame(
            con,
            f"SELECT spine_id, {wanted}, address, previous_postcode FROM spine ORDER BY spine_id",
        )
        ready = standardised is not None and len(spine) > 0
        right = Prepared(prepare(spine, "spine_id")) if ready else None
        left = Prepared(standardised.result()) if standardised is not None else None
    pairs = pd.DataFrame({"record_id": pd.Series(dtype="string"), "spine_id": []})
    results: list[Traced] = []
    if left is not None and right is not None:
        # Standardised once for both passes (`tracing.Prepared`).
        exact = exact_matches(left, right)
        # As plain objects: pandas' isin on Arrow-backed strings loops in Python (2.6 s here).
        ids = records["record_id"].astype(object)
        to_score = ~ids.isin(exact["record_id"].astype(object))
        sources = []
        for (source, provider), part in records.groupby(["source", "provider"], sort=True):
            period = max((periods or {}).get(s, "") for s in part["submission"].unique())
            start = models.latest(source, provider, period) if models else None
            # GP patients without a number are new registrations: a person who moved practice
            # is on the spine at their previous address.
            moved = (source, provider) == GP_SOURCE
            sources.append(Source((source, provider, period), ids[part.index],
                                  ids[part.index][to_score[part.index]], start, moved))  # fmt: skip
        results = _trace(con, left, right, sources, threshold, engine, folder)
        pairs = pd.concat([exact, *(traced.pairs for traced in results)])
    put(con, "found", pairs, "record_id::VARCHAR AS record_id, spine_id::VARCHAR AS nhs_number")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE traced AS SELECT * FROM found "
        f"WHERE NOT starts_with(record_id, '{_GP}')"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE gp_traced AS SELECT "
        f"substr(record_id, {len(_GP) + 1}) AS ref_pseudonym, nhs_number FROM found "
        f"WHERE starts_with(record_id, '{_GP}')"
    )
    con.execute("DROP TABLE found")
    report = _report(records, pairs, results)
    if models is not None:
        models.save_all(
            [
                (source.source, source.provider, source.period, source.model, source.quality())
                for source in report.sources
                if source.model is not None
            ]
        )
    return report


def _frame(con, sql: str) -> pd.DataFrame:
    return con.execute(sql).fetch_arrow_table().to_pandas(types_mapper=pd.ArrowDtype)


@dataclass(frozen=True)
class SourceTracing:
    """One source's records that needed tracing in a run: how many, how many were traced,
    how well each identifier could be read (counts only), and the model it was traced with."""

    source: str
    provider: str
    period: str
    records: int
    traced: int
    rates: list[FieldRate]
    model: Model | None = None  # None when there was no spine to trace against
    changes: list[Change] = field(default_factory=list)
    threshold: Threshold | None = None
    histogram: list[int] = field(default_factory=list)  # best candidates per 0.05 of p

    def warnings(self) -> list[str]:
        check = (
            "check the practices' patient lists"
            if (self.source, self.provider) == GP_SOURCE
            else f"check {self.provider}'s {self.source} extract"
        )
        return quality.warnings(self.rates, check)

    def quality(self) -> dict:
        """The run's figures as kept beside the model: counts and shares only."""
        return {
            "records": self.records,
            "traced": self.traced,
            "parse_rates": [asdict(rate) for rate in self.rates],
            "threshold": asdict(self.threshold) if self.threshold else None,
            "histogram": self.histogram,
        }


@dataclass(frozen=True)
class TracingReport:
    records: int  # non-GP records that needed tracing
    sources: list[SourceTracing]


def _report(records: pd.DataFrame, pairs: pd.DataFrame, results: list[Traced]) -> TracingReport:
    if not len(records):
        return TracingReport(0, [])
    wanted = [f for f in FIELDS if f != "address"]
    found = pd.Series(
        pc.is_in(
            text_column(records["record_id"]), value_set=text_column(pairs["record_id"])
        ).to_numpy(zero_copy_only=False),
        index=records.index,
    )
    by_name = {traced.name[:2]: traced for traced in results}
    sources = []
    for (source, provider), part in records.groupby(["source", "provider"], sort=True):
        traced = by_name.get((source, provider))
        # Hospital and other extracts carry no address (docs/extract-formats.md).
        fields = FIELDS if (source, provider) == GP_SOURCE else wanted
        counts = (len(part), int(found[part.index].sum()), quality.parse_rates(part, fields))
        if traced is None:
            sources.append(SourceTracing(source, provider, "", *counts))
        else:
            best = best_matches(traced.candidates, CANDIDATES_FROM)["match_probability"]
            sources.append(SourceTracing(source, provider, traced.name[2], *counts,
                                         traced.model, traced.changes(), traced.threshold,
                                         histogram(best.to_numpy())))  # fmt: skip
    gp = int(records["record_id"].str.startswith(_GP).sum())
    return TracingReport(len(records) - gp, sources)


_GP = "gp:"  # GP patients' record ids: their reference's pseudonym, which no row id resembles


def _trace(con, records: Prepared, spine: Prepared, sources: list[Source],
           threshold: float | None, engine=None,
           folder: Path | None = None) -> list[Traced]:  # fmt: skip
    """Splink on `engine` (None: DuckDB), where the engine traces (`Engine.tracing`): on
    DuckDB in a cursor of the link's connection, so that its spill files go to the linked
    zone's encrypted spill folder, not a fresh database's "./.tmp", and its tables
    (predictions, the term frequencies of names and postcodes) are dropped as soon as the
    pairs are out; on Spark in a session whose files live in `folder` (a folder of the landing
    zone, whose data it reads), deleted afterwards. The identifiers never leave the zone."""
    from openphm.engine import engine_for

    engine = engine_for(engine)
    with engine.tracing(folder, con) as connection:
        return trace_sources(records, spine, sources, threshold=threshold, engine=engine,
                             connection=connection)  # fmt: skip


def pseudonymise_numbers(con, linkage_key: bytes) -> None:
    """Create `nhs_pseudonym`: the linkage pseudonym of every valid NHS number in scope."""
    numbers = con.execute("SELECT DISTINCT nhs_number FROM nhs_check").fetch_arrow_table()
    numbers = numbers.column(0).combine_chunks()
    pseudonyms = linkage_pseudonyms(numbers, linkage_key)  # none, if nothing is in scope
    put(con, "nhs_pseudonym", pa.table({"nhs_number": numbers, "pseudonym": pseudonyms}))


def unmatched(con, ids: str, linkage_key: bytes, into: str) -> None:
    """Create `into` (source_kind, provider, record_id, pseudonym) from the query `ids` of
    (source_kind, provider, record_id): one unmatched pseudonym per record."""
    # Sorted by group, each group is one slice: filtering the whole table once per provider
    # cost a scan per group (about 100 scans of every GP patient at a million people).
    found = con.execute(
        f"SELECT DISTINCT * FROM ({ids}) ORDER BY source_kind, provider"
    ).fetch_arrow_table()
    groups = (
        found.select(["source_kind", "provider"])
        .group_by(["source_kind", "provider"], use_threads=False)
        .aggregate([([], "count_all")])
        .to_pylist()
    )
    parts, start = [], 0
    for group in groups:
        part = found.slice(start, group["count_all"])
        start += group["count_all"]
        pseudonyms = unmatched_pseudonyms(
            part["record_id"],
            source=group["source_kind"],
            provider=group["provider"],
            linkage_key=linkage_key,
        )
        parts.append(part.append_column("pseudonym", pseudonyms))
    schema = found.schema.append(pa.field("pseudonym", pa.string()))
    put(con, into, pa.concat_tables(parts) if parts else schema.empty_table())


def put(con, name: str, data, columns: str = "*") -> None:
    """Copy an Arrow table or DataFrame into the temporary table `name`."""
    con.register(f"_{name}_in", data)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns} FROM _{name}_in")
    finally:
        con.unregister(f"_{name}_in")
