"""Trace records that have no usable NHS number against the registered population (the spine).

Reads landing-zone records and the spine; writes nothing (returns pairs for the caller to write
the traced NHS numbers back into the landing zone). Probabilistic matching with Splink: every
identifier is standardised first (`standardise`), candidate pairs come from a few blocking
rules, each candidate is scored, and a record takes its best spine match only when that match's
probability reaches the threshold and no other candidate ties with it. A record below the
threshold stays unmatched: it is never forced onto someone. docs/identity.md gives the
reasons for the threshold, rules, comparisons and priors.

Input fields (columns named as in FIELDS; any may be absent): given_name, family_name,
date_of_birth, sex, postcode, address, in any provider's coding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from openphm.identity import standardise

FIELDS = ("given_name", "family_name", "date_of_birth", "sex", "postcode", "address")
DEFAULT_THRESHOLD = 0.95
# Term-frequency adjustments: an exact match on a name or postcode is worth more the rarer the
# value, as counted over the spine and the records. No value counts as rarer than one in
# 100,000: a count of a few is too small to trust (a misspelling can make one).
TF_MINIMUM_U = 1e-5
PAIR_COLUMNS = ("record_id", "spine_id", "match_probability")
_RECORDS, _SPINE = "records", "spine"


class TracingError(ValueError):
    """Inputs tracing cannot work with (says which field or id, never a patient's value)."""


@dataclass(frozen=True)
class Level:
    """One comparison level: a Splink level and the prior m probability for a true match."""

    make: Callable[[], Any]
    m: float
    term_frequencies: bool = False  # adjust an exact level's weight by how common the value is


def trace(
    records: pd.DataFrame | Prepared,
    spine: pd.DataFrame | Prepared,
    *,
    record_id: str = "record_id",
    spine_id: str = "spine_id",
    threshold: float = DEFAULT_THRESHOLD,
    backend: str = "duckdb",
    estimate_u: bool = True,
    seed: int = 42,
    connection: Any = None,
) -> pd.DataFrame:
    """The best spine match for each record at or above `threshold`, as a frame of PAIR_COLUMNS.
    Records with no such match (or a tie between two people) are absent from the result.
    `connection`: the engine connection Splink works in (`phm link` passes a cursor of its own
    connection, so that what Splink spills is encrypted, in the linked zone's spill folder);
    by default a fresh in-memory one, which spills to the current folder."""
    if not 0.0 < threshold < 1.0:
        raise TracingError(
            f"the match-probability threshold must be between 0 and 1, not {threshold}"
        )
    left = prepared(records, record_id)
    right = prepared(spine, spine_id)
    fields = [f for f in FIELDS if left[f].notna().any() and right[f].notna().any()]
    rules = blocking_rules(fields)
    if not rules:
        raise TracingError(
            "tracing needs a date of birth, a postcode, or both names in records and spine"
        )
    if left.empty or right.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _PAIR_DTYPES.items()})
    scored = _score(left, right, fields, rules, backend, estimate_u, seed, threshold,
                    connection)  # fmt: skip
    return best_matches(scored, threshold)


@dataclass(frozen=True)
class Prepared:
    """Records or a spine already through `prepare`: `trace` and `exact_matches` take them as
    they are, so a caller running both standardises a million-person spine once, not twice."""

    frame: pd.DataFrame


def prepared(frame: pd.DataFrame | Prepared, id_column: str) -> pd.DataFrame:
    return frame.frame if isinstance(frame, Prepared) else prepare(frame, id_column)


def prepare(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Standardised identifiers with the derived columns the comparisons and blocking use."""
    if id_column not in frame.columns:
        raise TracingError(f"no id column '{id_column}'")
    ids = frame[id_column].astype("string")
    if ids.isna().any() or ids.duplicated().any():
        raise TracingError(f"id column '{id_column}' has blank or repeated ids")

    def column(field: str) -> pa.Array:
        if field in frame.columns:
            return pa.array(frame[field].astype("string"), type=pa.string(), from_pandas=True)
        return pa.nulls(len(frame), pa.string())

    given = standardise.given_names(column("given_name"))
    born = standardise.dates(column("date_of_birth"))
    postcode = standardise.postcodes(column("postcode"))
    table = pa.table(
        {
            "unique_id": pa.array(ids, type=pa.string(), from_pandas=True),
            "given_name": given,
            "given_name_canonical": standardise.canonical_given_names(given),
            "family_name": standardise.family_names(column("family_name")),
            "date_of_birth": born,
            "date_of_birth_swapped": standardise.day_month_swapped(born),
            "date_of_birth_unordered": standardise.day_month_unordered(born),
            "sex": standardise.sexes(column("sex")),
            "postcode": postcode,
            "address": standardise.addresses(column("address")),
        }
    )
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def blocking_rules(fields: Sequence[str]) -> list[Any]:
    """Candidate pairs: same date of birth (either way round), same postcode, or same family
    name and given name (nicknames resolved). A true match missed by all three differs in date
    of birth, postcode and a name at once, and would not reach the threshold anyway."""
    from splink import block_on

    rules = []
    if "date_of_birth" in fields:
        rules.append(block_on("date_of_birth_unordered"))
    if "postcode" in fields:
        rules.append(block_on("postcode"))
    if {"given_name", "family_name"} <= set(fields):
        rules.append(block_on("family_name", "given_name_canonical"))
    return rules


def comparison_levels() -> dict[str, list[Level]]:
    """Per field, the levels from most to least alike, each with its prior m probability (the
    share of true matches at that level; the rest fall to the last level). The u probabilities
    are estimated from the data by random sampling (or left at Splink's defaults)."""
    import splink.comparison_level_library as cll

    def jaro_winkler(column: str, at: float) -> Callable[[], Any]:
        return lambda: cll.JaroWinklerLevel(column, at)

    def exact(column: str) -> Callable[[], Any]:
        return lambda: cll.ExactMatchLevel(column)

    return {
        "given_name": [
            Level(exact("given_name"), 0.85, term_frequencies=True),
            Level(
                lambda: cll.ExactMatchLevel("given_name_canonical").configure(
                    label_for_charts="Same name once nicknames are resolved"
                ),
                0.05,
            ),
            Level(jaro_winkler("given_name", 0.92), 0.05),
            Level(jaro_winkler("given_name", 0.80), 0.03),
        ],
        "family_name": [
            Level(exact("family_name"), 0.88, term_frequencies=True),
            Level(jaro_winkler("family_name", 0.92), 0.05),
            Level(jaro_winkler("family_name", 0.80), 0.03),
        ],
        "date_of_birth": [
            Level(exact("date_of_birth"), 0.92),
            Level(
                lambda: cll.CustomLevel(
                    "date_of_birth_l = date_of_birth_swapped_r",
                    label_for_charts="Day and month swapped",
                ),
                0.03,
            ),
            Level(lambda: cll.LevenshteinLevel("date_of_birth", 1), 0.03),
            Level(
                lambda: cll.CustomLevel(
                    "substr(date_of_birth_l, 1, 4) = substr(date_of_birth_r, 1, 4)",
                    label_for_charts="Same year of birth",
                ),
                0.01,
            ),
        ],
        "sex": [Level(exact("sex"), 0.98)],
        "postcode": [
            Level(exact("postcode"), 0.75, term_frequencies=True),
            Level(
                lambda: cll.ExactMatchLevel(
                    _regex("postcode", standardise.POSTCODE_OUTCODE)
                ).configure(label_for_charts="Same outcode (postcode district)"),
                0.12,
            ),
            Level(
                lambda: cll.ExactMatchLevel(
                    _regex("postcode", standardise.POSTCODE_AREA)
                ).configure(label_for_charts="Same postcode area"),
                0.06,
            ),
        ],
        "address": [
            Level(exact("address"), 0.6),
            Level(jaro_winkler("address", 0.90), 0.15),
            Level(jaro_winkler("address", 0.75), 0.1),
        ],
    }


def no_evidence(field: str, fields: Sequence[str]) -> Any:
    """The level at which a field says nothing either way: missing on either side. The address
    also says nothing when both postcodes are known and differ: someone who moved has a new
    postcode and a new address, and the postcode comparison has already weighed the move.
    Splink adds the comparisons' weights as if independent given a match, so an address
    disagreement counted as well would charge one house move twice."""
    import splink.comparison_level_library as cll

    if field == "address" and "postcode" in fields:
        return cll.CustomLevel(
            "address_l IS NULL OR address_r IS NULL OR postcode_l <> postcode_r",
            label_for_charts="Address missing, or the postcodes differ",
        ).configure(is_null_level=True)
    return cll.NullLevel(field)


def best_matches(scored: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """From scored candidate pairs (record_id, spine_id, match_probability), each record's one
    best spine match at or above the threshold; a record whose top two candidates tie is left
    unmatched, since choosing between two people would be a guess."""
    above = scored[scored["match_probability"] >= threshold]
    ranked = above.sort_values(["record_id", "match_probability"], ascending=[True, False])
    # Each record's rows are now together, best first: a record's best row is its first, and
    # it ties when the record's next row scores the same. Compared row against next row, not
    # per record in Python (a groupby lambda took 4 s for a million-person region's records).
    record = ranked["record_id"].to_numpy(dtype=object)
    probability = ranked["match_probability"].to_numpy(dtype="float64")
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = record[1:] != record[:-1]
    tied = np.zeros(len(ranked), dtype=bool)
    tied[:-1] = ~first[1:] & (probability[:-1] - probability[1:] < 1e-12)
    best = ranked[first & ~tied]
    return best.loc[:, list(PAIR_COLUMNS)].astype(_PAIR_DTYPES).reset_index(drop=True)


def linkage_equity(
    records: pd.DataFrame, *, matched: str = "matched", by: Sequence[str]
) -> pd.DataFrame:
    """Match rate per group of each grouping column in turn (IMD decile, ethnic group, age band,
    sex, source…), beside the overall rate, so that a group the tracing serves worse shows up.
    Counts are unsuppressed: for the processor's quality review, not for publication."""
    missing = [c for c in [matched, *by] if c not in records.columns]
    if missing:
        raise TracingError(f"no column(s) {missing} to measure linkage equity by")
    flags = records[matched].astype(bool)
    overall = flags.mean() if len(flags) else float("nan")
    parts = []
    for column in by:
        groups = records.assign(_matched=flags).groupby(column, dropna=False)["_matched"]
        part = groups.agg(records="size", matched="sum").reset_index(names="group")
        part.insert(0, "grouped_by", column)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    table["match_rate"] = table["matched"] / table["records"]
    table["difference_from_overall"] = table["match_rate"] - overall
    return table


_PAIR_DTYPES = {"record_id": "string", "spine_id": "string", "match_probability": "float64"}


def _regex(column: str, pattern: str) -> Any:
    from splink import ColumnExpression

    return ColumnExpression(column).regex_extract(pattern)


def _settings(fields: Sequence[str], rules: list[Any], n_spine: int) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

    levels = comparison_levels()
    comparisons = []
    for field in fields:
        made = []
        for level in levels[field]:
            splink_level = level.make().configure(m_probability=level.m)
            if level.term_frequencies:
                splink_level.configure(tf_adjustment_column=field, tf_minimum_u_value=TF_MINIMUM_U)
            made.append(splink_level)
        rest = max(1e-6, 1.0 - sum(level.m for level in levels[field]))
        comparisons.append(
            cl.CustomComparison(
                comparison_levels=[
                    no_evidence(field, fields),
                    *made,
                    cll.ElseLevel().configure(m_probability=rest),
                ],
                output_column_name=field,
            )
        )
    return SettingsCreator(
        link_type="link_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        # Each record is one person, who appears at most once on the spine: one true pair in
        # n_spine candidates, before any evidence.
        probability_two_random_records_match=1.0 / max(n_spine, 1),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def _score(
    left: pd.DataFrame,
    right: pd.DataFrame,
    fields: Sequence[str],
    rules: list[Any],
    backend: str,
    estimate_u: bool,
    seed: int,
    threshold: float,
    connection: Any = None,
) -> pd.DataFrame:
    from splink import Linker

    db_api = _backend(backend, connection)
    n_left, n_right = len(left), len(right)
    if backend == "spark":  # typed, or Spark cannot infer a column with no value at all
        left, right = _spark_frame(db_api.spark, left), _spark_frame(db_api.spark, right)
    tables = [
        db_api.register(left, table_name=_RECORDS),
        db_api.register(right, table_name=_SPINE),
    ]
    # Splink's log lines carry model parameters and counts, not values; WARNING keeps the
    # command's own progress readable.
    linker = Linker(tables, _settings(fields, rules, n_right), log_level=logging.WARNING)
    if estimate_u:
        max_pairs = min(5e6, float(n_left) * n_right)
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    predictions = linker.inference.predict(
        threshold_match_probability=threshold, warning_mode="never"
    ).as_pandas_dataframe()
    if backend == "spark":
        _forget_in_spark(db_api.spark)
    records_on_left = predictions["source_dataset_l"] == _RECORDS
    return pd.DataFrame(
        {
            "record_id": predictions["unique_id_l"].where(
                records_on_left, predictions["unique_id_r"]
            ),
            "spine_id": predictions["unique_id_r"].where(
                records_on_left, predictions["unique_id_l"]
            ),
            "match_probability": predictions["match_probability"].astype("float64"),
        }
    )


def _duckdb(connection: Any = None) -> Any:
    from splink import DuckDBAPI

    return DuckDBAPI(connection if connection is not None else ":memory:")


def _spark(session: Any = None) -> Any:
    """Splink's Spark backend on `session` (from `engine.spark.session`, whose shuffle and
    spill files are encrypted and kept in its folder, and which loads Splink's similarity
    functions). Intermediate tables are persisted (memory, then that encrypted spill) instead
    of Splink's default, plain Parquet files, which would put names, dates of birth and
    postcodes on disk unencrypted."""
    if session is None:
        raise TracingError("tracing on spark needs a Spark session (openphm.engine.spark)")
    from splink import SparkAPI

    return SparkAPI(spark_session=session, break_lineage_method="persist")


def _spark_frame(session: Any, frame: pd.DataFrame) -> Any:
    """`prepare`'s frame (every column text) as a Spark DataFrame of string columns, crossing
    to the JVM as Arrow (1M rows of ten columns: 4.4 s, against 9.0 s row by row)."""
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(c, StringType(), True) for c in frame.columns])
    text = pa.schema([(c, pa.string()) for c in frame.columns])
    table = pa.Table.from_pandas(frame, preserve_index=False).cast(text)
    return session.createDataFrame(table, schema=schema)


def _forget_in_spark(session: Any) -> None:
    """Drop the session's views of the inputs and every table Splink made, and every cached
    row: nothing identifiable stays in a session once the pairs are out. Splink persists its
    intermediate frames apart from their views, so only clearing the whole cache reaches them;
    whatever else the session had cached is recomputed when next read."""
    for table in session.catalog.listTables():
        if table.isTemporary and (
            table.name.startswith("__splink__") or table.name in (_RECORDS, _SPINE)
        ):
            session.catalog.dropTempView(table.name)
    session.catalog.clearCache()


# One entry per engine, as Splink keeps one dialect per backend. Comparisons above use only SQL
# both dialects share; tests/spark checks that both give the same matches.
BACKENDS: dict[str, Callable[[Any], Any]] = {"duckdb": _duckdb, "spark": _spark}


def _backend(name: str, connection: Any = None) -> Any:
    if name not in BACKENDS:
        raise TracingError(f"tracing has no '{name}' backend; it runs on {sorted(BACKENDS)}")
    return BACKENDS[name](connection)
