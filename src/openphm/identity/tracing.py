"""Trace records that have no usable NHS number against the registered population (the spine).

Reads landing-zone records and the spine; writes nothing (returns pairs for the caller to write
the traced NHS numbers back into the landing zone). Probabilistic matching with Splink: every
identifier is standardised first (`standardise`), candidate pairs come from a few blocking
rules, each source's model is learnt from its own records (`training`, the priors as starting
values), each candidate is scored, and a record takes its best spine match only when that
match's probability reaches the source's threshold (`threshold`: the rule, from the model's
expected precision) and no other candidate ties with it. A record below the threshold stays
unmatched: it is never forced onto someone. docs/identity.md gives the reasons for the
threshold, rules, comparisons, priors and training.

Input fields (columns named as in FIELDS; any may be absent): given_name, family_name,
date_of_birth, sex, postcode, address, in any provider's coding.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from openphm.engine.base import EngineError
from openphm.identity import standardise, training
from openphm.identity import threshold as rule
from openphm.identity.threshold import Threshold
from openphm.identity.training import Model

log = logging.getLogger(__name__)

FIELDS = ("given_name", "family_name", "date_of_birth", "sex", "postcode", "address")
# Fields only a spine has: each person's postcode before they moved (`pseudonymise.gp.spine`).
SPINE_FIELDS = ("previous_postcode",)
# Term-frequency adjustments: an exact match on a name or postcode is worth more the rarer the
# value, as counted over the spine and the records. No value counts as rarer than one in
# 100,000: a count of a few is too small to trust (a misspelling can make one).
TF_MINIMUM_U = 1e-5
PAIR_COLUMNS = ("record_id", "spine_id", "match_probability")
# The postcode's levels that need a UK postcode's district (outcode) and area.
DISTRICT_LEVELS = ("Same outcode (postcode district)", "Same postcode area")
# The level for a record that carries the spine person's previous postcode (their address
# before they moved practice), which needs a spine that knows one.
PREVIOUS_LEVEL = "Same as the person's previous postcode"
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
    threshold: float | None = None,
    engine: Any = None,
    estimate_u: bool = True,
    seed: int = 42,
    connection: Any = None,
    start: Model | None = None,
) -> pd.DataFrame:
    """The best spine match for each record at or above the threshold (`threshold`, or the
    rule's: `identity.threshold`), as a frame of PAIR_COLUMNS. Records with no such match
    (or a tie between two people) are absent from the result.
    The records are one source: its model is trained on them (from `start`, or the priors)
    when there are enough of them (`training`). `engine`: the engine Splink runs on (an
    `openphm.engine.Engine` or its name; None: the default, DuckDB). `connection`: the
    connection Splink works in there, from `Engine.tracing` (`phm link` passes a cursor of its
    own DuckDB connection, so that what Splink spills is encrypted, in the linked zone's spill
    folder; a Spark session on Spark); on DuckDB by default a fresh in-memory one, which
    spills to the current folder."""
    left = prepared(records, record_id)
    source = Source(("records",), left["unique_id"], start=start)
    [traced] = trace_sources(Prepared(left), Prepared(prepared(spine, spine_id)), [source],
                             threshold=threshold, engine=engine, estimate_u=estimate_u,
                             seed=seed, connection=connection)  # fmt: skip
    return traced.pairs


@dataclass(frozen=True)
class Source:
    """The records of one source in a tracing run, traced with a model of their own: trained
    on all of `records` (ids), scoring `score` (default: all of them), starting from `start`
    (None: the priors)."""

    name: tuple[str, ...]
    records: Sequence[str]
    score: Sequence[str] | None = None
    start: Model | None = None
    moved: bool = False  # its people are on the spine at another address (`training_keys`)


@dataclass(frozen=True)
class Traced:
    """What tracing did with one source: its model, every scored record's candidates at or
    above CANDIDATES_FROM, and each record's one match at or above the threshold."""

    name: tuple[str, ...]
    model: Model
    candidates: pd.DataFrame  # PAIR_COLUMNS
    pairs: pd.DataFrame  # PAIR_COLUMNS
    threshold: Threshold
    before: dict[str, Any]  # the model it started from (the source's last, or the priors)

    def changes(self) -> list[training.Change]:
        """How each level's parameters moved from the model it started from."""
        return training.changes(self.before, self.model.settings)


def trace_sources(
    records: pd.DataFrame | Prepared,
    spine: pd.DataFrame | Prepared,
    sources: Sequence[Source],
    *,
    record_id: str = "record_id",
    spine_id: str = "spine_id",
    threshold: float | None = None,
    engine: Any = None,
    estimate_u: bool = True,
    seed: int = 42,
    connection: Any = None,
) -> list[Traced]:
    """Trace each source's records against the spine with a model of its own. The spine, its
    term frequencies and the u probabilities (random sampling of spine pairs) are
    shared; m and λ are each source's (`training`), and so is the threshold, chosen by the
    rule from the source's model (`identity.threshold`) unless `threshold` fixes one."""
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise TracingError(
            f"the match-probability threshold must be between 0 and 1, not {threshold}"
        )
    left = prepared(records, record_id)
    right = prepared(spine, spine_id)
    if left["previous_postcode"].notna().any():
        # A record is one sighting at one address; a previous postcode is the spine's
        # knowledge of a person (the level compares a record's postcode with it).
        raise TracingError("records carry no previous postcode: only the spine has one")
    fields = [f for f in FIELDS if left[f].notna().any() and right[f].notna().any()]
    if not blocking_keys(fields):
        raise TracingError(
            "tracing needs a date of birth, a postcode, or both names in records and spine"
        )
    if left.empty or right.empty:
        return [_nothing_to_trace(source, fields, len(right), threshold) for source in sources]
    if len(right) < 2:
        # u is how often two different people agree, learned from pairs of the spine's own
        # people; one person makes no pair, and a record paired with them may be them.
        raise TracingError(
            "the spine has one person: tracing learns how often two different people agree "
            "from pairs of the spine's people, so it needs at least two"
        )
    session = Session(left, right, fields, engine, connection, seed)
    try:
        return session.trace_all(sources, threshold, estimate_u=estimate_u)
    finally:
        session.close()


@dataclass(frozen=True)
class Prepared:
    """Records or a spine already through `prepare`: `trace` and `exact_matches` take them as
    they are, so a caller running both standardises a million-person spine once, not twice."""

    frame: pd.DataFrame


class _KeyCodes(NamedTuple):
    """One blocking key's values as codes (`Session._key_codes`): the distinct values of
    spine and records are 0 to `values` - 1, and `values` stands for none."""

    values: int
    spine: np.ndarray
    records: np.ndarray


class _TrainingData(NamedTuple):
    """What one source's model is trained on (`Session._training_data`): `records`, the
    source's count; no sample where that is too few to train on."""

    records: int
    sample: pd.DataFrame | None = None
    keys: Sequence[tuple[str, ...]] = ()
    near: pa.Table | None = None


def prepared(frame: pd.DataFrame | Prepared, id_column: str) -> pd.DataFrame:
    return frame.frame if isinstance(frame, Prepared) else prepare(frame, id_column)


def prepare(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Standardised identifiers with the derived columns the comparisons and blocking use."""
    if id_column not in frame.columns:
        raise TracingError(f"no id column '{id_column}'")
    ids = standardise.text_column(frame[id_column])
    if ids.null_count or pc.count_distinct(ids).as_py() != len(ids):
        raise TracingError(f"id column '{id_column}' has blank or repeated ids")

    def column(field: str) -> pa.Array:
        if field in frame.columns:
            return standardise.text_column(frame[field])
        return pa.nulls(len(frame), pa.string())

    given = standardise.given_names(column("given_name"))
    family = standardise.family_names(column("family_name"))
    born = standardise.dates(column("date_of_birth"))
    postcode, _ = standardise.postcode_column(column("postcode"))
    # Only a spine has one: the person's postcode at their previous registration, where they
    # lived before they moved (`pseudonymise.gp.spine`), standardised as a postcode is.
    previous = (
        standardise.postcode_column(column("previous_postcode"))[0]
        if "previous_postcode" in frame.columns
        else pa.nulls(len(frame), pa.string())
    )
    table = pa.table(
        {
            "unique_id": ids,
            "given_name": given,
            "given_name_canonical": standardise.canonical_given_names(given),
            "family_name": family,
            "date_of_birth": born,
            "date_of_birth_swapped": standardise.day_month_swapped(born),
            "date_of_birth_unordered": standardise.day_month_unordered(born),
            "birth_year": pc.utf8_slice_codeunits(born, 0, 4),
            "birth_year_month": pc.utf8_slice_codeunits(born, 0, 7),
            "initials": standardise.initials(given, family),
            "names_unordered": standardise.names_unordered(
                standardise.canonical_given_names(given), family
            ),
            "sex": standardise.sexes(column("sex")),
            "postcode": postcode,
            # The district and area, for the postcode's levels: computed once per record
            # here, not per pair compared (a regular expression on both sides of every pair
            # was most of the cost of sampling u).
            "postcode_outcode": _extract(postcode, standardise.POSTCODE_OUTCODE),
            "postcode_area": _extract(postcode, standardise.POSTCODE_AREA),
            "postcode_sorted": standardise.characters_sorted(postcode),
            "previous_postcode": previous,
            "address": standardise.addresses(column("address")),
        }
    )
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def blocking_keys(fields: Sequence[str], *, crowded: bool = False) -> list[tuple[str, ...]]:
    """Candidate pairs: same date of birth (either way round), same postcode (`crowded`: with
    the family name, the given name or the year of birth), same family and given name
    (nicknames resolved; either way round), same initials (either way round) with the same
    postcode but for two characters swapped, same initials, year and month of birth and sex,
    or the same address."""
    keys: list[tuple[str, ...]] = []
    if "date_of_birth" in fields:
        keys.append(("date_of_birth_unordered",))
    if "postcode" in fields and crowded:
        # Postcodes where each record meets more than CROWDED_POSTCODE people of its sex
        # (`crowded_postcodes`): the household, or the person with a name or the date of
        # birth (but for the year) wrong, not every neighbour. At a million people (82 a
        # postcode), of the 33,134 records scored, the postcode and sex made 1.39M of the
        # 3.58M pairs and alone paired no record with its person; these make 0.04M more
        # than the other keys do. On the `high` region at 50,000 people, 39 records reached
        # their person by the postcode and sex alone; 37 of them these reach (the other two
        # have no given name and no date of birth, too little to link).
        keys.extend(
            ("postcode", column)
            for field, column in (
                ("family_name", "family_name"),
                ("given_name", "given_name_canonical"),
                ("date_of_birth", "birth_year"),
            )
            if field in fields
        )
    elif "postcode" in fields:
        # With sex where both sides have it: half the pairs of the postcode alone, and of the
        # records the postcode alone pairs with their person (36 of 9,675 scored in the
        # `high` region at 50,000 people), all but one agree on sex.
        keys.append(POSTCODE_KEY if "sex" in fields else ("postcode",))
    if {"given_name", "family_name"} <= set(fields):
        keys.append(("names_unordered",))
        if "postcode" in fields:
            # Two characters of the postcode swapped (3728 for 3782), which the postcode's
            # own comparison counts as a typo: with the initials, so that the few other
            # postcodes of the same characters bring only the people of the same initials.
            keys.append(("postcode_sorted", "initials"))
        if {"date_of_birth", "sex"} <= set(fields):
            # For a typo in the day of birth of someone who moved and whose name is misspelt.
            # With the month: the year alone brought 37% of an outpatient extract's pairs at
            # a million people (531k of 1.43M), and none of its links.
            keys.append(("initials", "birth_year_month", "sex"))
    if "address" in fields:
        # As selective as the postcode (a household), and there when the postcode is
        # mistyped; `phm link` sends no addresses for records, so there it pairs no one.
        keys.append(("address",))
    return keys


def blocking_rules(fields: Sequence[str], *, crowded: bool = False) -> list[Any]:
    """Splink's rules for `blocking_keys`."""
    from splink import block_on

    return [block_on(*key) for key in blocking_keys(fields, crowded=crowded)]


# A record meeting more people than this at its postcode (of its sex, where known), on
# average over the records, is in crowded postcodes: blocking on the postcode alone then
# pairs each record with its neighbours, most of the pairs to score and almost none of the
# links (`blocking_keys`). The synthetic region at a million people: 42; at 50,000: 5.6;
# FEBRL: about 1; England: about 40 people a postcode, 20 of each sex, well above.
CROWDED_POSTCODE = 10
POSTCODE_KEY = ("postcode", "sex")


def crowded_postcodes(records: pd.DataFrame, spine: pd.DataFrame, fields: Sequence[str]) -> float:
    """How many spine people a record meets at its postcode (and sex, where both sides have
    it), on average over the records that have one."""
    key = POSTCODE_KEY if "sex" in fields else ("postcode",)
    people = pc.value_counts(_key_values(spine, key).drop_null())
    theirs = _key_values(records, key).drop_null()
    if not len(theirs) or not len(people):
        return 0.0
    found = pc.index_in(theirs, value_set=people.field("values"))
    counts = pc.take(people.field("counts"), found.drop_null())
    return float(pc.sum(counts).as_py() or 0) / len(theirs)


def comparison_levels() -> dict[str, list[Level]]:
    """Per field, the levels from most to least alike, each with its prior m probability (the
    share of true matches at that level; the rest fall to the last level). The u probabilities
    are estimated from the data by random sampling (or left at Splink's defaults)."""
    import splink.comparison_level_library as cll

    def jaro_winkler(column: str, at: float) -> Callable[[], Any]:
        return lambda: cll.JaroWinklerLevel(column, at)

    def exact(column: str) -> Callable[[], Any]:
        return lambda: cll.ExactMatchLevel(column)

    def swapped(sql: str) -> Callable[[], Any]:
        # Given and family name written the other way round: the two levels fire together.
        return lambda: cll.CustomLevel(sql, label_for_charts="Names the other way round")

    return {
        "given_name": [
            Level(exact("given_name"), 0.85, term_frequencies=True),
            Level(
                lambda: cll.ExactMatchLevel("given_name_canonical").configure(
                    label_for_charts="Same name once nicknames are resolved"
                ),
                0.05,
            ),
            Level(swapped("given_name_l = family_name_r"), 0.005),
            Level(jaro_winkler("given_name", 0.92), 0.05),
            Level(jaro_winkler("given_name", 0.80), 0.03),
        ],
        "family_name": [
            Level(exact("family_name"), 0.88, term_frequencies=True),
            Level(swapped("family_name_l = given_name_r"), 0.005),
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
            # A record with the address the person had before they moved (a hospital's
            # patient administration system is often not told): their old postcode is known
            # from their registration at their previous practice. Without this level such a
            # record was a postcode disagreement: at a million people, 792 records agreeing
            # exactly on both names, date of birth and sex with their person stayed untraced
            # (outpatients' "all other" level: -5.4 bits).
            Level(
                lambda: cll.CustomLevel(
                    "(postcode_l = previous_postcode_r) OR (previous_postcode_l = postcode_r)",
                    label_for_charts=PREVIOUS_LEVEL,
                ),
                0.03,
            ),
            Level(
                lambda: cll.ExactMatchLevel("postcode_outcode").configure(
                    label_for_charts=DISTRICT_LEVELS[0]
                ),
                0.12,
            ),
            Level(
                lambda: cll.ExactMatchLevel("postcode_area").configure(
                    label_for_charts=DISTRICT_LEVELS[1]
                ),
                0.06,
            ),
            # A typo outside the district (LS1 → L1), or in a postcode compared as written
            # (another country's: 3159 → 3150, 3728 → 3782), which has no district or area.
            Level(
                lambda: cll.DamerauLevenshteinLevel("postcode", 1).configure(
                    label_for_charts="One character different, or two swapped"
                ),
                0.02,
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
    also says nothing when both postcodes are known and differ by more than a typo (one
    character, or two swapped): someone who moved has a new postcode and a new address, and
    the postcode comparison has already weighed the move.
    Splink adds the comparisons' weights as if independent given a match, so an address
    disagreement counted as well would charge one house move twice."""
    import splink.comparison_level_library as cll

    if field == "address" and "postcode" in fields:
        # Differ: more than a typo apart (one character, or two swapped). A mistyped postcode
        # is not a move, and then the address is what says so.
        moved = cll.And(
            cll.Not(cll.ExactMatchLevel("postcode")),
            cll.Not(cll.DamerauLevenshteinLevel("postcode", 1)),
        )
        return cll.Or(cll.NullLevel("address"), moved).configure(
            is_null_level=True, label_for_charts="Address missing, or the postcodes differ"
        )
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


def _extract(values: pa.Array, pattern: str) -> pa.Array:
    """The pattern's first capture group, null where it does not match (never an empty
    string, which would equal another's)."""
    named = pattern.replace("(", "(?P<part>", 1)  # Arrow names the groups it extracts
    found = pc.struct_field(pc.extract_regex(values, named), [0])
    return pc.if_else(pc.equal(found, ""), pa.scalar(None, pa.string()), found)


def _priors(fields: Sequence[str], n_spine: int, crowded: bool = False) -> Any:
    """The model before any training: our comparisons with their prior m probabilities, and
    λ = 1 / spine size (every record's person on the spine, once)."""
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
        blocking_rules_to_generate_predictions=blocking_rules(fields, crowded=crowded),
        probability_two_random_records_match=1.0 / max(n_spine, 1),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


class Session:
    """One tracing run on one backend: the records and the spine (prepared), the fields both
    have, the term frequencies of names and postcodes over both, and the linkers made over
    them. Each linker gets the records it is about and only the spine people who share a
    blocking key with one of them: every pair Splink would score against the whole spine, at a
    fraction of the work. u is sampled once, over all the records and the whole spine."""

    def __init__(self, records: pd.DataFrame, spine: pd.DataFrame, fields: Sequence[str],
                 engine: Any, connection: Any, seed: int) -> None:  # fmt: skip
        if not records.index.equals(pd.RangeIndex(len(records))):
            # A subset's labels are its rows' positions here (`_near`).
            records = records.reset_index(drop=True)
        self.records, self.spine = records, spine
        self.engine = _engine(engine)
        self.fields, self.seed = list(fields), seed
        meets = crowded_postcodes(records, spine, fields) if "postcode" in fields else 0.0
        self.crowded = meets > CROWDED_POSTCODE
        if self.crowded:
            log.info(
                "tracing: a record meets %.0f people at its postcode on average (more than "
                "%d): the postcode pairs only with a name or the year of birth",
                meets,
                CROWDED_POSTCODE,
            )
        self.keys = blocking_keys(fields, crowded=self.crowded)
        try:
            self.db = self.engine.splink(connection)
        except EngineError as err:
            raise TracingError(str(err)) from None
        # Models are trained where the engine says (a DuckDB of tracing's own, so that both
        # engines train the same model, and in a thread of its own: `trace_all`) and score here.
        self.trainer, self.trainer_engine = self.engine.splink_training(self.db)
        self._ids = pd.Index(records["unique_id"].astype(object))
        # Per blocking key, each spine person's and each record's value as a code (`_codes`);
        # and the spine as one Arrow table, from which each linker's people are taken.
        self._codes: dict[tuple[str, ...], _KeyCodes] = {}
        self._spine_arrow: pa.Table | None = None
        self._caching = threading.Lock()  # the two above, filled by either thread
        self._made = itertools.count(1)
        frequencies = {
            column: _term_frequencies(records, spine, column)
            for column in ("given_name", "family_name", "postcode")
            if column in fields
        }
        # As each engine takes a look-up table: every linker's SQL joins these, and DuckDB
        # read a pandas frame's strings as Python objects each time (at a million people,
        # 2.5 s of tracing's 22 s).
        self._tf = {
            id(db): {
                column: db.register(
                    its_engine.splink_lookup(db, table), table_name=f"trace_tf_{column}"
                )
                for column, table in frequencies.items()
            }
            for db, its_engine in ((self.db, self.engine), (self.trainer, self.trainer_engine))
        }
        self.priors = self._priors_on(self.trainer)

    def _priors_on(self, db) -> dict[str, Any]:
        priors = _priors(self.fields, len(self.spine), self.crowded).create_settings_dict(
            db.sql_dialect.sql_dialect_str
        )
        if "postcode" in self.fields and not (
            self.records["postcode_outcode"].notna().any()
            and self.spine["postcode_outcode"].notna().any()
        ):
            # Postcodes compared as written (another country's) have no district or area.
            training.impossible(priors, "postcode", DISTRICT_LEVELS)
        if "postcode" in self.fields and not self.spine["previous_postcode"].notna().any():
            # A spine without previous postcodes (a file given to `phm trace`, a region where
            # no one has moved practice): no pair can reach the level.
            training.impossible(priors, "postcode", (PREVIOUS_LEVEL,))
        return priors

    def estimate_u(self) -> dict[tuple[str, str], float]:
        """u of every level, by random sampling of pairs of two different people: the spine
        split at random (seeded, so runs repeat) into two halves, each person of one paired
        with people of the other (`_halves`). Each comparison stops once every level of it
        has been seen U_COUNT times, within U_PAIRS pairs. A comparison with a level that no
        pair of the first U_FIRST_PAIRS fell in keeps what those gave, and that level gets the
        rule of three's 3 / (those of the pairs the comparison compares: `_compared`), the
        upper end of what its u could be: a level two
        different people almost never reach (two UK postcodes one character apart outside
        their district: 0 of 5M pairs at 50,000 people) is not looked for through all 5M
        pairs, which took most of the time of tracing, to give it at most a stronger weight.

        Not record-spine pairs: among those, one in about the spine's size is a true match
        (a record's own person), and for a level two different people reach less often than
        that (the same date of birth on a spine of 5,000: 3e-5 where the true matches add
        2e-4) u would be mostly the true matches' m, its weight several bits too weak
        (docs/identity.md, "Training"). A spine lists each person once, so every pair across
        its halves is two people."""
        left, right = self._halves()
        every = float(len(left)) * len(right)
        first = min(U_FIRST_PAIRS, every)
        u = self._sample_u(left, right, first, None)
        unseen = {comparison for (comparison, _), value in u.items() if value is None}
        more, seen = min(U_PAIRS, every), {c for c, _ in u} - unseen
        if more > first and seen:
            u.update(self._sample_u(left, right, more, seen))
        compared = self._compared(left, right, first, unseen) if unseen else {}
        return {
            (comparison, level): value or 3.0 / max(compared.get(comparison, first), 3.0)
            for (comparison, level), value in u.items()
        }

    def _compared(self, left: pa.Table, right: pa.Table, pairs: float,
                  comparisons: set[str]) -> dict[str, float]:  # fmt: skip
        """Of `pairs` random pairs of `left` and `right`, how many each of `comparisons`
        compares (not at its null level), estimated from as many pairs drawn here: the rule
        of three's denominator. Splink's u of a level is its share of the pairs compared, not
        of the pairs sampled: the address is compared only where the postcodes agree or are a
        typo apart (`no_evidence`), at a million people about one random pair in 10,000, so
        3 in the million pairs sampled would be a u far too small, and its weight far too
        strong, for a level no compared pair reached."""
        from openphm.engine import memory_only

        rng = np.random.default_rng(self.seed)
        n = int(pairs)
        on_left, on_right = rng.integers(0, len(left), n), rng.integers(0, len(right), n)
        found = {}
        with memory_only() as con:
            for comparison in self.priors["comparisons"]:
                name = comparison["output_column_name"]
                if name not in comparisons:
                    continue
                [null] = [c for c in comparison["comparison_levels"] if c.get("is_null_level")]
                condition = null["sql_condition"]
                columns = [c for c in left.column_names if f"{c}_l" in condition]
                sampled = pa.table(
                    {
                        **{f"{c}_l": left[c].combine_chunks().take(on_left) for c in columns},
                        **{f"{c}_r": right[c].combine_chunks().take(on_right) for c in columns},
                    }
                )
                con.register("sampled_pairs", sampled)
                [(share,)] = con.execute(
                    f"SELECT avg(CASE WHEN {condition} THEN 0.0 ELSE 1.0 END) FROM sampled_pairs"
                ).fetchall()
                con.unregister("sampled_pairs")
                found[name] = pairs * float(share or 0.0)
        return found

    def _halves(self) -> tuple[pa.Table, pa.Table]:
        """The spine in two halves at random (seeded; `trace_sources` refuses a spine of one
        person, who has no one to pair with). The first half lacks
        its postcode as often as the records do (the same share of its people, at random):
        whether the address is compared depends on the postcodes (`no_evidence`), and a record
        without one has its address compared with everyone's, not only with its neighbours',
        so its pairs must be among those u is sampled from, in their share. As Arrow tables,
        taken from the spine's (`_spine_table`): from pandas, 0.7 s at a million people."""
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(self.spine))
        half = len(self.spine) // 2
        # Without the columns only blocking reads, which sampling does not: taking them too
        # cost a third of the time of splitting a million people.
        spine = self._spine_table()
        spine = spine.drop_columns([c for c in BLOCKING_ONLY if c in spine.column_names])
        left = spine.take(np.sort(order[:half]))
        right = spine.take(np.sort(order[half:]))
        # The first half stands for the records, which carry no previous postcode: a level
        # that compares a record's postcode with a spine person's previous one is sampled in
        # one direction, as it is scored.
        none = pa.nulls(len(left), pa.string())
        left = left.set_column(left.schema.get_field_index("previous_postcode"),
                               "previous_postcode", none)  # fmt: skip
        missing = float(self.records["postcode"].isna().mean())
        if missing and left["postcode"].null_count < len(left):
            drop = pa.array(rng.random(len(left)) < missing)
            for column in [c for c in left.column_names if c.startswith("postcode")]:
                at = left.schema.get_field_index(column)
                left = left.set_column(at, column, pc.if_else(drop, none, left[column]))
        return left, right

    def _sample_u(self, left: pa.Table, right: pa.Table, pairs: float,
                  comparisons: set[str] | None) -> dict[tuple[str, str], float | None]:  # fmt: skip
        """Splink's u by random sampling of up to `pairs` pairs of `left` and `right`, for
        `comparisons` (None: all); None for a level no sampled pair fell in."""
        settings = training.starting_settings(self.priors, None, 1.0, len(self.spine))
        if comparisons is not None:
            settings["comparisons"] = [
                c for c in settings["comparisons"] if c["output_column_name"] in comparisons
            ]
        linker = self.linker(left, right, settings, training=True)
        linker.training.estimate_u_using_random_sampling(
            max_pairs=pairs, seed=self.seed, min_count_per_level=U_COUNT
        )
        sampled = linker.misc.save_model_to_json()
        return {key: level.get("u_probability") for key, level in training.levels(sampled)}

    def trace_all(self, sources: Sequence[Source], threshold: float | None, *,
                  estimate_u: bool = True) -> list[Traced]:  # fmt: skip
        """Sample u (`estimate_u`; without it, the levels have none), model each source
        (trained if it is big enough), score its records, and link each to its best
        candidate at or above the threshold (the rule's, unless one is given). Each source is
        scored apart (see below).
        The models are trained one after another in a thread of their own, on the trainer's
        database, which no other thread uses, while this one scores each source once its
        model is ready: training is much of it Python (Splink writing its SQL), scoring
        mostly DuckDB's or Spark's own threads, so on two cores the one hides much of the
        other (at a million people, 9 s of training went on beside 10 s of scoring). What a
        model is trained on (`_training_data`) needs no u, so that thread gathers it while
        this one samples u (at a million people, 2 s of the 13 s of training). Each model
        depends on its source alone, so the order of the work changes no result."""
        scoring = [
            self._subset(source.records if source.score is None else source.score)
            for source in sources
        ]
        # Each source is scored on its own. Scoring the sources that share a model in one pass
        # (a record's score depends only on the model) gave Spark 987 traced records where
        # DuckDB gave 1,067 on the same landed files (tests/spark/test_link_on_spark.py); the
        # cause was not found, so the sources are kept apart until it is.
        # The sources with the most records to score go first: each is scored while the
        # others train, and what is left once the last model is trained is a small source's
        # scoring. In the sources' order, at a million people, the two biggest were scored
        # last, 4 s after the last model.
        order = sorted(range(len(sources)), key=lambda i: -len(scoring[i]))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracing-training") as pool:
            gathered = {i: pool.submit(self._training_data, sources[i]) for i in order}
            # And the codes of the keys the records are scored on (`_near`), which then wait
            # for no one.
            for key in self.keys:
                pool.submit(self._key_codes, key)
            try:
                u = self.estimate_u() if estimate_u else {}
                starts = [self.starting(source, u) for source in sources]
                # One worker, first come first served: each source's data is gathered before
                # its model is trained.
                training = {
                    i: pool.submit(self.model, sources[i], starts[i], gathered[i]) for i in order
                }
                models, candidates = {}, {}
                for i in order:
                    records = scoring[i]
                    # The spine people the records could match need no model: found while it
                    # trains (4 s of this thread's 13 s at a million people).
                    near = self._near_rows(records) if len(records) else None
                    models[i] = training[i].result()
                    candidates[i] = (
                        self.score(models[i].settings, records, near)
                        if near is not None
                        else _no_pairs()
                    )
            except BaseException:
                pool.shutdown(cancel_futures=True)  # no source left waiting is trained
                raise
        return [
            self._link(sources[i], models[i], candidates[i], len(scoring[i]), threshold, starts[i])
            for i in range(len(sources))
        ]

    def _link(self, source: Source, model: Model, candidates: pd.DataFrame, scored: int,
              threshold: float | None, settings: dict[str, Any]) -> Traced:  # fmt: skip
        """Each of the source's scored records linked to its best candidate at or above the
        threshold (the rule's, unless one is given)."""
        best = best_matches(candidates, CANDIDATES_FROM)
        top = candidates.groupby("record_id")["match_probability"].max().to_numpy()
        # The source's records not scored were linked by exact match (`identity.exact`).
        certain = len(source.records) - scored if source.score is not None else 0
        chosen = (
            rule.choose(best["match_probability"].to_numpy(), top, certain)
            if threshold is None
            else rule.at(threshold, best["match_probability"].to_numpy(), top, certain=certain)
        )
        pairs = best[best["match_probability"] >= chosen.value].reset_index(drop=True)
        log.info("tracing %s: %s", " ".join(source.name), chosen.describe())
        before = source.start.settings if source.start else settings
        return Traced(source.name, model, candidates, pairs, chosen, before)

    def starting(self, source: Source, u: dict[tuple[str, str], float]) -> dict[str, Any]:
        """The source's starting values: its last model's m and λ, or the priors', with the
        u sampled this run."""
        start = source.start
        share = start.on_spine_share if start else 1.0
        settings = training.starting_settings(
            self.priors, start.settings if start else None, share, len(self.spine)
        )
        return training.with_u(settings, u)

    def _training_data(self, source: Source) -> _TrainingData:
        """What the source's model is trained on: a seeded sample of its records, and the
        spine people who share one of the training keys with one of them (none below
        MIN_RECORDS_TO_TRAIN: the model keeps its starting values)."""
        chosen = self._subset(source.records)
        if len(chosen) < training.MIN_RECORDS_TO_TRAIN:
            return _TrainingData(len(chosen))
        sample = chosen.sample(min(training.TRAINING_SAMPLE, len(chosen)), random_state=self.seed)
        keys = training.training_keys(self.fields, moved=source.moved)
        return _TrainingData(len(chosen), sample, keys, self._spine_rows(self._near(sample, keys)))

    def model(self, source: Source, settings: dict[str, Any],
              gathered: Future[_TrainingData]) -> Model:  # fmt: skip
        """The source's model: its starting values, trained by EM on what was `gathered` for
        it when it has enough records. Logs which was used and why (counts only)."""
        data = gathered.result()
        records = data.records
        start = source.start
        started_from = (start.name or "an earlier model") if start else training.PRIORS
        label = " ".join(source.name)
        if data.sample is None:
            reason = (
                f"too small to train on: {records:,} records to trace (fewer than "
                f"{training.MIN_RECORDS_TO_TRAIN:,}); traced with the starting values"
            )
            log.info("tracing %s: %s (%s)", label, reason, started_from)
            return Model(settings, training.NOT_TRAINED, started_from, records,
                         len(self.spine), reason)  # fmt: skip
        sample, keys, near = data.sample, data.keys, data.near
        trained = training.train(
            lambda model: self.linker(sample, near, model, training=True),
            settings,
            keys,
            len(self.spine),
        )
        on = "; ".join("+".join(k) for k in keys)
        if trained is None:
            reason = f"EM blocking on {on} found nothing to train on; starting values used"
            log.info("tracing %s: %s (%s)", label, reason, started_from)
            return Model(settings, training.NOT_TRAINED, started_from, records,
                         len(self.spine), reason, tuple(keys))  # fmt: skip
        if wrong := training.implausible(trained):
            reason = (
                f"EM blocking on {on} learnt matches that disagree on {', '.join(wrong)} more "
                "often than they agree (two people, not one); starting values used"
            )
            log.warning("tracing %s: %s (%s)", label, reason, started_from)
            return Model(settings, training.NOT_TRAINED, started_from, records,
                         len(self.spine), reason, tuple(keys))  # fmt: skip
        reason = f"trained by EM on {len(sample):,} of {records:,} records, blocking on {on}"
        log.info("tracing %s: %s, starting from %s", label, reason, started_from)
        return Model(trained, training.TRAINED, started_from, records, len(self.spine),
                     reason, tuple(keys))  # fmt: skip

    def _near_rows(self, records: pd.DataFrame) -> pa.Table:
        """The spine people `records` could be scored against: those sharing a value of a
        blocking key with one of them."""
        return self._spine_rows(self._near(records, self.keys))

    def score(self, settings: dict[str, Any], records: pd.DataFrame,
              near: pa.Table) -> pd.DataFrame:  # fmt: skip
        """Every candidate pair of `records` and `near` (`_near_rows`) at or above
        CANDIDATES_FROM, as PAIR_COLUMNS."""
        if self.trainer.sql_dialect.sql_dialect_str != self.db.sql_dialect.sql_dialect_str:
            # The trained model, in the scoring engine's SQL.
            settings = training.in_dialect(settings, self._priors_on(self.db))
        linker = self.linker(records, near, settings)
        predictions = linker.inference.predict(
            threshold_match_probability=CANDIDATES_FROM, warning_mode="never"
        ).as_pandas_dataframe()
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
        ).astype(_PAIR_DTYPES)

    def linker(self, records: pd.DataFrame | pa.Table, spine: pd.DataFrame | pa.Table,
               settings: dict[str, Any], *, training: bool = False):  # fmt: skip
        """A Splink linker over these records and spine people, with the session's term
        frequencies (over all records and the whole spine, not just these), where models are
        trained (`training`) or where they score."""
        from splink import Linker

        made = next(self._made)
        db, engine = (self.trainer, self.trainer_engine) if training else (self.db, self.engine)
        # A subset keeps its rows' labels, which DuckDB's scan of a pandas frame can offer
        # Splink as a column (`__index_level_0__`) that its SQL then cannot find: EM failed
        # on a sample with "Referenced column not found". Registered without them.
        records = engine.splink_table(db, _arrow(records))
        spine = engine.splink_table(db, _arrow(spine))
        tables = [
            db.register(records, table_name=f"trace_records_{made}",
                        dataset_display_name=_RECORDS),
            db.register(spine, table_name=f"trace_spine_{made}",
                        dataset_display_name=_SPINE),
        ]  # fmt: skip
        # Splink's log lines carry model parameters and counts, not values; ERROR keeps the
        # command's own progress readable (`training` logs which parameters were used).
        # Not validated: the settings are made here (`_priors`, `training`), and validating
        # them parses every comparison's SQL (0.1 s a linker, some dozens of linkers a run).
        linker = Linker(tables, settings, log_level=logging.ERROR, validate_settings=False)
        for column, frequencies in self._tf[id(db)].items():
            linker.table_management.register_term_frequency_lookup(frequencies, column)
        return linker

    def close(self) -> None:
        self.engine.splink_done(self.db)
        self.trainer_engine.splink_done(self.trainer)
        # The trainer's DuckDB is tracing's own (`Engine.splink_training`): closed now, with
        # the identifiable rows Splink made in it, not left to the garbage collector while
        # the link goes on.
        self.trainer.duckdb_con.close()

    def _subset(self, ids: Sequence[str]) -> pd.DataFrame:
        rows = self._ids.get_indexer(pd.Index(pd.Series(ids).astype(object)))
        return self.records.iloc[rows[rows >= 0]]

    def _near(self, records: pd.DataFrame, keys: Sequence[tuple[str, ...]]) -> np.ndarray:
        """Spine people who share at least one of `keys` with at least one of `records` (rows
        of the session's records: their labels are their positions there)."""
        near = np.zeros(len(self.spine), dtype=bool)
        rows = records.index.to_numpy()
        for key in keys:
            codes = self._key_codes(key)
            wanted = np.zeros(codes.values + 1, dtype=bool)
            wanted[codes.records[rows]] = True
            wanted[codes.values] = False  # no value
            near |= wanted[codes.spine]
        return near

    def _key_codes(self, key: tuple[str, ...]) -> _KeyCodes:
        """The values of `key`, the spine's and the records', coded once, for every source's
        look-ups after (by either thread). Each source probing the spine's values with its
        own took 3 s of tracing at a million people: for keys such as the names, most of a
        million values per source and key."""
        with self._caching:
            if key not in self._codes:
                # Spine and records coded together, in one pass: cheaper than coding the
                # spine and then looking the records up (a second hash of the spine's values).
                spine = _key_values(self.spine, key)
                both = pa.concat_arrays([spine, _key_values(self.records, key)])
                encoded = pc.dictionary_encode(both)
                size = len(encoded.dictionary)
                codes = pc.fill_null(encoded.indices, size).to_numpy(zero_copy_only=False)
                self._codes[key] = _KeyCodes(size, codes[: len(spine)], codes[len(spine) :])
            return self._codes[key]

    def _spine_rows(self, near: np.ndarray) -> pa.Table:
        """The spine people of `near`, taken from the spine as one Arrow table (taking them
        column by column from pandas took twice as long at a million people), and left as
        Arrow, which is what Splink's database registers (`_arrow`)."""
        return self._spine_table().filter(pa.array(near))

    def _spine_table(self) -> pa.Table:
        """The spine as one Arrow table, made once (by either thread)."""
        with self._caching:
            if self._spine_arrow is None:
                table = pa.Table.from_pandas(self.spine, preserve_index=False)
                self._spine_arrow = table.combine_chunks()
        return self._spine_arrow


# The columns `prepare` derives for blocking keys alone: no comparison reads them.
BLOCKING_ONLY = (
    "date_of_birth_unordered",
    "birth_year",
    "birth_year_month",
    "initials",
    "names_unordered",
    "postcode_sorted",
)

# u sampling stops early once every level has been seen this often (Splink's
# `min_count_per_level`, 100 by default). The rarest levels (names the other way round, day
# and month swapped) have u near 1e-5, so 100 sightings need all 5M pairs; 20 need about 2M,
# in half the time, with u's standard error about 22% (0.3 bits of match weight).
U_COUNT = 20
# Pairs sampled for u: up to 5M; a comparison with a level not seen once in the first million
# keeps the first million's estimates.
U_FIRST_PAIRS = 1e6
U_PAIRS = 5e6

# Candidates below this are not kept: a record whose best candidate is less likely than one
# in a thousand has, for the threshold and the quality report, no candidate at all.
CANDIDATES_FROM = 0.001


def _key_values(frame: pd.DataFrame, key: tuple[str, ...]) -> pa.Array:
    """One blocking key's value per row, null where any part is."""
    parts = [standardise.text_column(frame[column]) for column in key]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "\x1f")


def _term_frequencies(records: pd.DataFrame, spine: pd.DataFrame, column: str) -> pa.Table:
    """Each value's share of the non-null values of `column` over records and spine together,
    as Splink computes it (`tf_<column>`), for every linker of a session to share."""
    # Counted in Arrow: pandas' value_counts of a million and more values as Python objects
    # took most of a second per column.
    values = pa.chunked_array(
        [standardise.text_column(records[column]), standardise.text_column(spine[column])]
    )
    counts = pc.value_counts(values.drop_null())
    found = counts.field("counts").to_numpy().astype("float64")
    return pa.table({column: counts.field("values"), f"tf_{column}": found / found.sum()})


def _arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """A frame as an Arrow table, for Splink to register: its databases scan Arrow without a
    copy, where DuckDB's scan of a pandas frame of Arrow-backed columns went through Python
    objects. (A pandas frame's row labels are not carried: a subset's labels became a column
    Splink's SQL could not find, `__index_level_0__`.)"""
    if isinstance(frame, pa.Table):
        return frame
    return pa.Table.from_pandas(frame, preserve_index=False)


def _no_pairs() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _PAIR_DTYPES.items()})


def _nothing_to_trace(source: Source, fields: Sequence[str], n_spine: int,
                      threshold: float | None) -> Traced:  # fmt: skip
    settings = training.starting_settings(
        _priors(fields, n_spine).create_settings_dict(_engine(None).splink_dialect),
        None,
        1.0,
        n_spine,
    )
    model = Model(settings, training.NOT_TRAINED, training.PRIORS, len(source.records), n_spine,
                  "nothing to trace")  # fmt: skip
    nothing = np.zeros(0)
    chosen = (
        rule.choose(nothing, nothing) if threshold is None else rule.at(threshold, nothing, nothing)
    )
    return Traced(source.name, model, _no_pairs(), _no_pairs(), chosen, settings)


def _engine(engine: Any) -> Any:
    """The engine Splink runs on: one engine object per backend (`openphm.engine`), which
    gives Splink its database API there. Comparisons above use only SQL both engines' dialects
    share; tests/spark checks that both give the same matches."""
    from openphm.engine import engine_for

    try:
        return engine_for(engine)
    except EngineError as err:
        raise TracingError(f"tracing cannot run there: {err}") from None
