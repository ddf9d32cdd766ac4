"""The tracing model's parameters, learnt from the records it is given: Splink used as it is
meant to be used, with our priors as the starting values and the fallback.

Reads nothing and writes nothing itself: it works on Splink linkers that `tracing.Session`
makes over the records (identifiable, landing zone) and on Splink's model JSON, which holds
comparison levels and their m and u probabilities, never a patient's value. Logs which
parameters were used and why, with counts only.

- u (how often each level happens between two different people) is estimated by random
  sampling of pairs of spine people, one from each of two halves, every run
  (`Session.estimate_u`: record-spine pairs would include the records' own people).
- m (how often it happens for the same person) is estimated by expectation maximisation (EM)
  on pairs that share one blocking key, so that the fields outside the key are free to vary;
  the keys are chosen so that every field is free in at least one session (date of birth,
  then postcode, then the names: `training_keys`). EM starts from the starting values: the
  priors (`tracing.comparison_levels`), or the model this source was traced with last period.
- λ, the probability that a record and a spine person picked at random are the same person,
  comes from the EM sessions as Splink derives it (the blocked share of matches, reversed
  through the blocking key's Bayes factor), and is capped at 1 / spine size: a record is one
  person, on the spine at most once.

A source too small to train on (fewer than MIN_RECORDS_TO_TRAIN records to trace) is traced
with the starting values as they are, with u sampled as always; a model that was trained is
kept by the caller (zone 2) as the next period's starting point.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# EM's estimate of a level that a few per cent of true matches fall in rests on the matches
# among the pairs trained on: a thousand records, most of them on the spine, give some tens
# of pairs for a 3% level. Fewer than that, and the estimates move more with chance than with
# the source's data; the starting values are the better guess.
MIN_RECORDS_TO_TRAIN = 1_000
# Records EM is trained on at most (a seeded sample of the source's records): some tens of
# pairs for a level 3% of matches fall in, and training then costs about the same at a million
# people as at a hundred thousand (at a million, 5,000 took twice as long: 4 s a source).
TRAINING_SAMPLE = 2_000
# No level is impossible among true matches: EM on data without, say, a single mistyped
# date of birth says m = 0, which would make the first such record unmatchable anywhere. Every
# level keeps at least this m (the rest renormalised): one true match in a thousand.
M_FLOOR = 0.001

# Blocking keys EM may train on, in order of preference, and the fields each holds fixed
# (Splink leaves a comparison untrained in a session when the key uses one of its columns;
# the address comparison reads the postcodes, so a postcode key holds it too).
TRAINING_KEYS: dict[tuple[str, ...], frozenset[str]] = {
    ("date_of_birth",): frozenset({"date_of_birth"}),
    # With sex, once an earlier session leaves sex free (`NARROWING`): half the pairs of the
    # postcode alone (82 people a postcode at a million people).
    ("postcode", "sex"): frozenset({"postcode", "address", "sex"}),
    ("postcode",): frozenset({"postcode", "address"}),
    ("family_name", "given_name_canonical"): frozenset({"family_name", "given_name"}),
}

# Fields a key may hold only to narrow its pairs, once an earlier session has left them free.
NARROWING = frozenset({"sex"})

PRIORS = "priors"
TRAINED, NOT_TRAINED = "trained", "starting values"


@dataclass(frozen=True)
class Model:
    """A tracing model: Splink's model JSON and where its parameters came from."""

    settings: dict[str, Any]
    parameters: str  # TRAINED, or NOT_TRAINED (the starting values, u sampled afresh)
    started_from: str  # PRIORS, or which earlier model (e.g. "admitted-care RZ1 202609")
    records: int  # records of the source this run (trained on up to TRAINING_SAMPLE of them)
    spine: int  # people on the spine
    reason: str = ""  # why it was or was not trained, in words
    training_keys: tuple[tuple[str, ...], ...] = field(default=())
    name: str = ""  # what it is the model of, once kept (e.g. "admitted-care RZ1 202609")

    @property
    def on_spine_share(self) -> float:
        """λ × spine size: the share of records the model expects to find on the spine."""
        return self.settings["probability_two_random_records_match"] * self.spine


def training_keys(fields: Sequence[str], *, moved: bool = False) -> list[tuple[str, ...]]:
    """The fewest keys, in order of preference, that leave every field free in some session.
    `moved`: the records' people are on the spine at another address (a practice's new
    registrations: people who moved here, on the spine at their old one), so no session blocks
    on the postcode. Pairs that share a new registration's postcode are its household, not
    itself; EM on them learnt "another person of the household" as a match (at a million
    people, an exact date of birth became weaker evidence than a different one, and fewer than
    a hundred of 5,701 new registrations were linked, when over 900 had moved practice)."""
    wanted, free, chosen = set(fields), set(), []
    for key, holds in TRAINING_KEYS.items():
        usable = all(_field_of(column) in wanted for column in key) and (
            NARROWING & set(key) <= free
        )
        usable = usable and not (moved and "postcode" in key)
        frees = wanted - holds
        if usable and frees - free:
            chosen.append(key)
            free |= frees
        if free == wanted:
            break
    return chosen


def starting_settings(
    priors: dict[str, Any], start: dict[str, Any] | None, share: float, n_spine: int
) -> dict[str, Any]:
    """The priors' settings with the start model's m probabilities wherever a level of the
    same comparison has the same label (a field the start model did not have keeps its
    priors), and λ for `share` of records on a spine of `n_spine`."""
    settings = copy.deepcopy(priors)
    if start is not None:
        theirs = {key: level for key, level in levels(start)}
        for key, level in levels(settings):
            if key in theirs and theirs[key].get("m_probability") is not None:
                level["m_probability"] = theirs[key]["m_probability"]
        _floor_m(settings)
    settings["probability_two_random_records_match"] = min(share, 1.0) / max(n_spine, 1)
    settings.pop("linker_uid", None)  # a fresh linker, with its own cache of tables
    return settings


def with_u(settings: dict[str, Any], u: dict[tuple[str, str], float]) -> dict[str, Any]:
    """`settings` with the sampled u probabilities set on the levels they were sampled for."""
    settings = copy.deepcopy(settings)
    for key, level in levels(settings):
        if key in u:
            level["u_probability"] = u[key]
    return settings


def in_dialect(settings: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The model `settings` in the SQL of `target` (the same priors made for another engine's
    dialect): target's comparisons with settings' m and u on every level, and its λ. The
    levels are matched by comparison and label, and must all be there: a model that does not
    fit the target's comparisons is a mistake, not something to score with."""
    converted = copy.deepcopy(target)
    theirs = dict(levels(settings))
    ours = dict(levels(converted))
    if set(theirs) != set(ours):
        raise ValueError("the model's levels are not the comparisons' levels")
    for key, level in ours.items():
        for parameter in ("m_probability", "u_probability"):
            if theirs[key].get(parameter) is not None:
                level[parameter] = theirs[key][parameter]
    converted["probability_two_random_records_match"] = settings[
        "probability_two_random_records_match"
    ]
    converted.pop("linker_uid", None)
    return converted


def train(make_linker: Callable[[dict[str, Any]], Any], settings: dict[str, Any],
          keys: Sequence[tuple[str, ...]], n_spine: int,
          records: str = "records") -> dict[str, Any] | None:  # fmt: skip
    """EM on a linker `make_linker` makes from `settings` (its records, the dataset named
    `records`, a sample of one source's; its spine the people who share a key with them; its
    u fixed), one session per key (`em_rule`); the model JSON, with m floored and λ capped,
    or None if no session could be trained.
    A session that fails leaves the model as the sessions before it made it: Splink's linker
    is not used again after a failure (a failed session can leave it without the comparisons
    the session held fixed, which scored a source without its postcode and address), the
    next session starts on a fresh one from the last good model."""
    trained, model, linker = 0, settings, None
    for key in keys:
        linker = linker or make_linker(model)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                em_rule(key, records),
                # Iterations over agreement patterns, not pairs: much faster, and term
                # frequencies still weigh every prediction.
                estimate_without_term_frequencies=True,
                populate_probability_two_random_records_match_from_trained_values=True,
            )
            model = linker.misc.save_model_to_json()
            model.pop("linker_uid", None)
            trained += 1
        except Exception as err:  # Splink raises several kinds; the log says which
            # A key with no pairs, one too few to converge, or an m so small it underflows:
            # the other sessions still count.
            key_name, kind = "+".join(key), type(err).__name__
            log.info("tracing: EM blocking on %s not trained (%s)", key_name, kind)
            linker = None
    if not trained:
        return None
    settings = copy.deepcopy(model)
    _floor_m(settings)
    lam = settings["probability_two_random_records_match"]
    settings["probability_two_random_records_match"] = min(lam, 1.0 / max(n_spine, 1))
    settings.pop("linker_uid", None)
    return settings


# The comparisons on which a trained model must find its matches agreeing more often than not
# (`implausible`): a person's own names and date of birth. The postcode and address are not
# among them: a source whose people moved is rightly learnt to disagree there.
AGREEING = ("given_name", "family_name", "date_of_birth")


def implausible(settings: dict[str, Any]) -> list[str]:
    """The comparisons of AGREEING on which the model's matches agree exactly less often than
    they disagree altogether (m of the exact level below m of "all other"): EM has then
    converged on pairs of two people (a household, neighbours), not on one person, and the
    model would link the wrong pairs and miss the right ones."""
    found = []
    for comparison in settings["comparisons"]:
        name = comparison["output_column_name"]
        carried = [
            level
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level") and level.get("m_probability") is not None
        ]
        if name not in AGREEING or len(carried) < 2:
            continue
        if carried[0]["m_probability"] < carried[-1]["m_probability"]:
            found.append(name)
    return found


def em_rule(key: Sequence[str], records: str) -> str:
    """Splink's blocking rule for an EM session on `key`: the pairs of a record (the dataset
    named `records`) and a spine person who agree on every column of it. The pairs are
    `block_on(*key)`'s, but Splink's EM joins the records and the spine together to itself
    and drops the spine-spine pairs only after the join: at a million people, 82 people a
    postcode, a sample's postcodes gave 6.7M spine-spine pairs to make and drop for 164,000
    record-spine pairs. Holding the left side to the records (Splink orders each pair's
    datasets by name, "records" before "spine") makes only the record-spine pairs."""
    agree = " AND ".join(f'l."{column}" = r."{column}"' for column in key)
    return f"l.source_dataset = '{records}' AND {agree}"


@dataclass(frozen=True)
class Change:
    comparison: str
    level: str
    m_before: float | None
    m_after: float | None
    u_before: float | None
    u_after: float | None

    @property
    def weight_change(self) -> float:
        """How far the level's match weight (log2 m/u) moved, in bits."""
        import math

        def weight(m, u):
            return math.log2(m / u) if m and u else 0.0

        return weight(self.m_after, self.u_after) - weight(self.m_before, self.u_before)


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Each level's m and u before and after, largest move in match weight first."""
    earlier = {key: level for key, level in levels(before)}
    found = [
        Change(
            key[0],
            key[1],
            earlier.get(key, {}).get("m_probability"),
            level.get("m_probability"),
            earlier.get(key, {}).get("u_probability"),
            level.get("u_probability"),
        )
        for key, level in levels(after)
    ]
    return sorted(found, key=lambda c: -abs(c.weight_change))


def levels(settings: dict[str, Any]) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    """((comparison, level label), level) for every level that carries parameters (not the
    null level, at which a field says nothing either way)."""
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                yield (comparison["output_column_name"], level["label_for_charts"]), level


def impossible(settings: dict[str, Any], comparison: str, labels: Sequence[str]) -> None:
    """Mark levels of `comparison` that this run's data cannot reach: their m is M_FLOOR and
    the comparison's other levels share the rest in the proportions they had. (EM leaves a
    level no pair falls in at its starting m, which would otherwise keep that share of true
    matches away from the levels that can happen.)"""
    for each in settings["comparisons"]:
        if each["output_column_name"] != comparison:
            continue
        for level in each["comparison_levels"]:
            if level.get("label_for_charts") in labels and level.get("m_probability") is not None:
                level["m_probability"] = 0.0
    _floor_m(settings)


def _floor_m(settings: dict[str, Any]) -> None:
    for comparison in settings["comparisons"]:
        carried = [
            level
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level") and level.get("m_probability") is not None
        ]
        for level in carried:
            level["m_probability"] = max(level["m_probability"], M_FLOOR)
        total = sum(level["m_probability"] for level in carried)
        for level in carried:
            level["m_probability"] /= total


def _field_of(column: str) -> str:
    return "given_name" if column == "given_name_canonical" else column
