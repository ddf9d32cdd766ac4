"""Tracing learns from the records it is given: u by random sampling, m by expectation
maximisation with every field free in some session, λ estimated; our priors are where it
starts, and what it uses when a source is too small to train on."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from openphm.identity import training
from openphm.identity.tracing import Prepared, Source, prepare, trace_sources

from .people import region


def _source(records: pd.DataFrame, start=None) -> tuple[Prepared, list[Source]]:
    left = prepare(records, "record_id")
    return Prepared(left), [Source(("hospital", "RZ1"), left["unique_id"], start=start)]


def _m(model: training.Model, comparison: str, label: str) -> float:
    levels = dict(training.levels(model.settings))
    return levels[(comparison, label)]["m_probability"]


def _mistyped(people, share: float, seed: int) -> pd.DataFrame:
    """The records, keyed carelessly as linkage benchmarks' noisy records are: independently,
    `share` of them with a letter of the given name replaced, of the family name, the day of
    birth one out, no postcode."""
    rng = np.random.default_rng(seed)
    out = people.records.copy()
    known = people.truth.loc[out["record_id"]].notna().to_numpy()

    def some() -> np.ndarray:
        return rng.random(len(out)) < share

    for column in ("given_name", "family_name"):
        hit = some()
        out.loc[hit, column] = out.loc[hit, column].str.slice_replace(2, 3, "Q")
    hit = some() & known
    born = pd.to_datetime(
        people.spine.set_index("spine_id")
        .loc[people.truth.loc[out.loc[hit, "record_id"]], "date_of_birth"]
        .to_numpy()
    )
    shifted = born + pd.to_timedelta(np.where(born.day < 28, 1, -1), unit="D")
    out.loc[hit, "date_of_birth"] = shifted.strftime("%Y-%m-%d")
    out.loc[some(), "postcode"] = None
    return out


@pytest.fixture(scope="module")
def noisy():
    people = region(6000, 1500, seed=21)
    return people, _mistyped(people, 0.4, seed=21)


class _Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture(scope="module")
def noisy_traced(noisy):
    """The noisy records traced as they are, once for the tests that read that run (a trace
    takes seconds), and what was logged meanwhile: as caplog.at_level(INFO, "openphm.identity")
    would keep it, a handler on the root logger at INFO."""
    people, records = noisy
    kept, root, ours = _Kept(), logging.getLogger(), logging.getLogger("openphm.identity")
    level = ours.level
    root.addHandler(kept)
    ours.setLevel(logging.INFO)
    try:
        [traced] = trace_sources(*_source(records)[:1], people.spine, _source(records)[1])
    finally:
        ours.setLevel(level)
        root.removeHandler(kept)
    return traced, kept.records


@pytest.fixture(scope="module")
def two_hundred():
    """200 records against a spine of 3,000, traced once with their UK postcodes as written."""
    people = region(3000, 200, seed=4)
    [traced] = trace_sources(*_source(people.records)[:1], people.spine, _source(people.records)[1])
    return people, traced


def _recall(pairs: pd.DataFrame, truth: pd.Series) -> float:
    found = pairs.set_index("record_id")["spine_id"].reindex(truth.index)
    return float((found == truth).fillna(False).sum() / truth.notna().sum())


def test_a_source_with_enough_records_is_trained_on_them_and_the_log_says_so(noisy, noisy_traced):
    people, _ = noisy
    traced, records = noisy_traced
    model = traced.model
    assert model.parameters == training.TRAINED and model.started_from == training.PRIORS
    assert "trained by EM on 1,500 of 1,500 records" in model.reason
    assert model.training_keys == (("date_of_birth",), ("postcode", "sex"))
    # It learnt that this source mistypes names far more often than the priors say.
    assert _m(model, "family_name", "Exact match on family_name") < 0.75
    logged = " ".join(r.getMessage() for r in records)
    assert "tracing hospital RZ1: trained by EM" in logged
    assert not any(name in logged for name in people.spine["family_name"].unique())


def test_training_finds_records_the_priors_miss_and_links_no_one_wrongly(
    noisy, noisy_traced, monkeypatch
):
    people, records = noisy
    trained, _ = noisy_traced
    monkeypatch.setattr(training, "MIN_RECORDS_TO_TRAIN", 10**9)
    [priors] = trace_sources(*_source(records)[:1], people.spine, _source(records)[1])
    assert priors.model.parameters == training.NOT_TRAINED
    truth = people.truth
    for traced in (trained, priors):
        found = traced.pairs.set_index("record_id")["spine_id"]
        assert (found == truth.loc[found.index]).all()  # no wrong link either way
    assert _recall(trained.pairs, truth) > _recall(priors.pairs, truth) + 0.03


def test_a_source_too_small_to_train_on_uses_the_starting_values_and_says_why(two_hundred):
    _, traced = two_hundred
    assert traced.model.parameters == training.NOT_TRAINED
    assert traced.model.reason.startswith("too small to train on: 200 records to trace")
    assert _m(traced.model, "family_name", "Exact match on family_name") == pytest.approx(0.88)
    assert len(traced.pairs) > 150


def test_a_source_starts_from_its_previous_model(noisy_traced):
    first, _ = noisy_traced
    earlier = training.Model(**{**first.model.__dict__, "name": "hospital RZ1 202609"})
    small = region(6000, 300, seed=22)
    left, sources = _source(_mistyped(small, 0.4, seed=22), start=earlier)
    [later] = trace_sources(left, small.spine, sources)
    assert later.model.parameters == training.NOT_TRAINED
    assert later.model.started_from == "hospital RZ1 202609"
    label = ("family_name", "Exact match on family_name")
    assert _m(later.model, *label) == pytest.approx(_m(earlier, *label), rel=1e-3)
    assert later.model.on_spine_share == pytest.approx(earlier.on_spine_share)


def test_every_field_is_free_to_vary_in_some_training_session():
    fields = ["given_name", "family_name", "date_of_birth", "sex", "postcode", "address"]
    for present in (fields, [f for f in fields if f != "postcode"], fields[:4]):
        keys = training.training_keys(present)
        free = set()
        for key in keys:
            free |= set(present) - training.TRAINING_KEYS[key]
        assert free == set(present), present
    # Sex narrows the postcode's session once the date of birth's has left it free; without
    # a date of birth the postcode's session is the first, and holds the postcode alone.
    assert training.training_keys(fields) == [("date_of_birth",), ("postcode", "sex")]
    no_date = [f for f in fields if f != "date_of_birth"]
    assert training.training_keys(no_date) == [
        ("postcode",), ("family_name", "given_name_canonical")
    ]  # fmt: skip
    no_sex = [f for f in fields if f != "sex"]
    assert training.training_keys(no_sex) == [("date_of_birth",), ("postcode",)]


def test_new_registrations_are_not_trained_on_pairs_that_share_their_postcode():
    """A practice's new registrations (`moved`): a person who moved practice is on the spine at
    their old address, so the pairs sharing the new one are the household and neighbours. At a
    million people EM on them made an exact date of birth weaker evidence than a different one
    (m 0.001 against 0.968) and linked fewer than a hundred of 5,701 new registrations, 1,117 of
    whom were on the spine; with the names' session instead, 1,073 of them, 5 linked to someone
    of the same names and date of birth (docs/identity.md, "New registrations")."""
    fields = ["given_name", "family_name", "date_of_birth", "sex", "postcode", "address"]
    keys = training.training_keys(fields, moved=True)
    assert keys == [("date_of_birth",), ("family_name", "given_name_canonical")]
    free = set()
    for key in keys:
        free |= set(fields) - training.TRAINING_KEYS[key]
    assert free == set(fields)
    no_date = [f for f in fields if f != "date_of_birth"]
    assert all("postcode" not in key for key in training.training_keys(no_date, moved=True))


def test_no_level_is_impossible_for_a_true_match_and_lambda_never_exceeds_one_per_person():
    priors = {
        "probability_two_random_records_match": 0.5,
        "comparisons": [
            {
                "output_column_name": "sex",
                "comparison_levels": [
                    {"label_for_charts": "null", "is_null_level": True},
                    {"label_for_charts": "Exact match on sex", "m_probability": 1.0},
                    {"label_for_charts": "All other comparisons", "m_probability": 0.0},
                ],
            }
        ],
    }
    settings = training.starting_settings(priors, priors, share=3.0, n_spine=1000)
    m = {label: level["m_probability"] for (_, label), level in training.levels(settings)}
    assert m["All other comparisons"] == pytest.approx(training.M_FLOOR / (1 + training.M_FLOOR))
    assert sum(m.values()) == pytest.approx(1.0)
    assert settings["probability_two_random_records_match"] == pytest.approx(1 / 1000)


def test_what_changed_is_listed_largest_move_first():
    def model(m_exact, u_exact):
        return {
            "comparisons": [
                {
                    "output_column_name": "family_name",
                    "comparison_levels": [
                        {"label_for_charts": "exact", "m_probability": m_exact,
                         "u_probability": u_exact},
                        {"label_for_charts": "else", "m_probability": 1 - m_exact,
                         "u_probability": 1 - u_exact},
                    ],
                }
            ]
        }  # fmt: skip

    changed = training.changes(model(0.9, 0.01), model(0.6, 0.01))
    assert [c.level for c in changed] == ["else", "exact"]
    assert changed[0].weight_change == pytest.approx(np.log2(0.4 / 0.99) - np.log2(0.1 / 0.99))


def test_a_failed_em_session_leaves_the_model_of_the_sessions_before_it():
    # Splink's linker can be left without the comparisons a failed session held fixed; the
    # next session must start on a fresh linker from the last good model, and the model
    # returned is the last good one, whole.
    made = []

    class Linker:
        def __init__(self, settings):
            self.settings = {**settings, "comparisons": list(settings["comparisons"])}
            self.training, self.misc = self, self
            made.append(self)

        def estimate_parameters_using_expectation_maximisation(self, rule, **_):
            column = rule  # training.em_rule's SQL
            self.settings["comparisons"] = self.settings["comparisons"][:1]  # as Splink may
            if "postcode" in column:
                raise ValueError("m_probability value 4.8764e-320 is below the minimum")
            self.settings["trained_on"] = [*self.settings.get("trained_on", []), column]
            self.settings["comparisons"] = list(start["comparisons"])

        def save_model_to_json(self):
            return {**self.settings, "comparisons": list(self.settings["comparisons"])}

    level = {"label_for_charts": "exact", "m_probability": 0.9}
    start = {
        "comparisons": [
            {"output_column_name": f, "comparison_levels": [dict(level)]}
            for f in ("given_name", "postcode", "address")
        ],
        "probability_two_random_records_match": 0.5,
    }
    keys = [("date_of_birth",), ("postcode",), ("family_name", "given_name_canonical")]
    model = training.train(Linker, start, keys, n_spine=100)
    assert [c["output_column_name"] for c in model["comparisons"]] == [
        "given_name", "postcode", "address"
    ]  # fmt: skip
    assert len(made) == 2  # a fresh linker after the failure
    assert len(model["trained_on"]) == 2  # date of birth, then the names
    assert model["probability_two_random_records_match"] == 0.01  # capped at 1 / spine


def test_postcodes_compared_as_written_give_the_district_levels_no_share_of_matches(two_hundred):
    # Another country's postcodes have no district or area, so those levels cannot happen;
    # left at their priors (12% and 6% of matches) they would take that share from the
    # levels that can (exact, one character apart).
    people, uk = two_hundred
    number = {c: f"{1000 + i}" for i, c in enumerate(people.spine["postcode"].dropna().unique())}
    records = people.records.assign(postcode=people.records["postcode"].map(number))
    spine = people.spine.assign(postcode=people.spine["postcode"].map(number))
    [written] = trace_sources(*_source(records)[:1], spine, _source(records)[1])
    district = ("postcode", "Same outcode (postcode district)")
    assert _m(written.model, *district) < 2 * training.M_FLOOR  # the floor, renormalised
    # UK postcodes keep the district's prior, shared out again only because this spine knows
    # no previous postcodes (that level's 3% of matches go to the levels that can happen).
    assert _m(uk.model, *district) == pytest.approx(0.12 / (1 - 0.03 + training.M_FLOOR))
    exact = ("postcode", "Exact match on postcode")
    assert _m(written.model, *exact) > _m(uk.model, *exact) + 0.1


def test_em_on_record_spine_pairs_only_trains_the_model_splinks_own_rule_trains(monkeypatch):
    # em_rule holds the left side to the records so that Splink makes no spine-spine pair;
    # the pairs, and so the model, are those of Splink's block_on on the same key.
    from splink import block_on

    people = region(3000, 1200, seed=5)
    left, sources = _source(people.records)
    [ours] = trace_sources(left, people.spine, sources)
    monkeypatch.setattr(training, "em_rule", lambda key, records: block_on(*key))
    [splinks] = trace_sources(left, people.spine, sources)
    assert ours.model.parameters == splinks.model.parameters == training.TRAINED
    theirs = dict(training.levels(splinks.model.settings))
    for key, level in training.levels(ours.model.settings):
        assert level["m_probability"] == pytest.approx(theirs[key]["m_probability"], rel=1e-9)
    assert ours.model.settings["probability_two_random_records_match"] == pytest.approx(
        splinks.model.settings["probability_two_random_records_match"], rel=1e-9
    )
    assert ours.pairs.equals(splinks.pairs)


def test_a_model_whose_matches_disagree_on_the_date_of_birth_is_not_used(
    noisy, monkeypatch, caplog
):
    """EM converged on pairs of two people (what the GP source's postcode session learnt at a
    million people: m 0.001 for an exact date of birth, 0.968 for a different one) is refused,
    and the source is traced with its starting values, saying why."""
    people, records = noisy
    train = training.train

    def households(*args, **kwargs):
        model = train(*args, **kwargs)
        for comparison in model["comparisons"]:
            if comparison["output_column_name"] == "date_of_birth":
                carried = [c for c in comparison["comparison_levels"] if not c.get("is_null_level")]
                carried[0]["m_probability"], carried[-1]["m_probability"] = 0.001, 0.968
        return model

    monkeypatch.setattr(training, "train", households)
    left, sources = _source(records)
    with caplog.at_level(logging.WARNING, logger="openphm.identity"):
        [traced] = trace_sources(left, people.spine, sources)
    assert traced.model.parameters == training.NOT_TRAINED
    assert "disagree on date_of_birth more often than they agree" in traced.model.reason
    assert _m(traced.model, "date_of_birth", "Exact match on date_of_birth") == pytest.approx(0.92)
    assert "starting values used" in caplog.text
    truth = people.truth
    found = traced.pairs.set_index("record_id")["spine_id"]
    assert (found == truth.loc[found.index]).all()


def test_a_sound_model_is_plausible_and_a_households_is_not():
    settings = {
        "comparisons": [
            {
                "output_column_name": name,
                "comparison_levels": [
                    {"is_null_level": True, "sql_condition": "x IS NULL"},
                    {"m_probability": exact},
                    {"m_probability": 0.05},
                    {"m_probability": other},
                ],
            }
            for name, exact, other in (
                ("given_name", 0.9, 0.05),
                ("family_name", 0.335, 0.615),
                ("date_of_birth", 0.001, 0.949),
                ("postcode", 0.001, 0.949),  # a mover's postcode: rightly different
            )
        ]
    }
    assert training.implausible(settings) == ["family_name", "date_of_birth"]
    settings["comparisons"] = settings["comparisons"][:1] + settings["comparisons"][3:]
    assert training.implausible(settings) == []


def _parameters(model: training.Model) -> list[float]:
    settings = model.settings
    levels = [lv.get(p) or 0.0 for _, lv in training.levels(settings)
              for p in ("m_probability", "u_probability")]  # fmt: skip
    return [settings["probability_two_random_records_match"], *levels]


class _InTurn:
    """An executor that runs each task when it is submitted, in the caller's thread: tracing
    as it was before models were trained beside scoring."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, task, *args):
        from concurrent.futures import Future

        done = Future()
        done.set_result(task(*args))
        return done


def test_training_beside_scoring_links_exactly_as_training_first(noisy, monkeypatch):
    """Each source's model is trained in a thread of its own while the source before it is
    scored: the models and links must be those of training every model first."""
    from openphm.identity import tracing

    people, records = noisy
    left = prepare(records, "record_id")
    ids = left["unique_id"]
    sources = [Source(("hospital", f"RZ{i}"), ids[i::3]) for i in range(3)]
    monkeypatch.setattr(training, "MIN_RECORDS_TO_TRAIN", 300)  # 500 records a source
    beside = trace_sources(Prepared(left), people.spine, sources)
    monkeypatch.setattr(tracing, "ThreadPoolExecutor", _InTurn)
    in_turn = trace_sources(Prepared(left), people.spine, sources)
    # The same model to the last few bits: DuckDB adds floating-point numbers in the order its
    # threads finish, so two runs in turn differ there too (λ 1.5696302827365833e-4, then
    # ...814); the links are the same exactly.
    for threaded, sequential in zip(beside, in_turn, strict=True):
        assert threaded.model.parameters == sequential.model.parameters == training.TRAINED
        assert _parameters(threaded.model) == pytest.approx(_parameters(sequential.model), rel=1e-9)
        pd.testing.assert_frame_equal(threaded.pairs, sequential.pairs)
    assert sum(len(t.pairs) for t in beside) > 0.9 * people.truth.notna().sum()
