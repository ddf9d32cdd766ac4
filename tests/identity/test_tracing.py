import pandas as pd
import pyarrow as pa
import pytest

from openphm.identity import standardise
from openphm.identity.tracing import (
    TracingError,
    best_matches,
    blocking_keys,
    crowded_postcodes,
    linkage_equity,
    prepare,
    trace,
)

from .people import region


@pytest.fixture(scope="module")
def small_region():
    return region(2000, 300, seed=7)


def spine_with(person: dict) -> pd.DataFrame:
    # A house each: people.py gives everyone at a postcode one address (a household of 15),
    # and u, sampled from pairs of these people, would then say that two people at one
    # postcode never have different addresses.
    background = one_address_each(region(500, 1, seed=3).spine)
    return pd.concat([background, pd.DataFrame([person])], ignore_index=True)


def one_address_each(spine: pd.DataFrame) -> pd.DataFrame:
    """`spine` with each person at a house number of their own on their street."""
    return spine.assign(
        address=[f"{i + 1} {a.split(' ', 1)[-1]}" for i, a in enumerate(spine["address"])]
    )


ROBERT = {
    "spine_id": "TARGET",
    "given_name": "ROBERT",
    "family_name": "ASHWORTH",
    "date_of_birth": "1961-03-07",
    "sex": "M",
    "postcode": "LS6 2QT",
    "address": "14 OTLEY ROAD",
}


def test_tracing_finds_a_person_despite_a_nickname_and_swapped_day_and_month():
    record = {
        "record_id": "r1",
        "given_name": "Bob",
        "family_name": "Ashworth",
        "date_of_birth": "1961-07-03",  # day and month swapped
        "sex": "1",
    }  # no postcode: the names and date of birth must carry the match
    pairs = trace(pd.DataFrame([record]), spine_with(ROBERT))
    assert pairs["spine_id"].tolist() == ["TARGET"]
    assert pairs["match_probability"].iloc[0] >= 0.95


def test_tracing_leaves_a_stranger_unmatched():
    stranger = {**ROBERT, "record_id": "r1", "given_name": "Zenobia", "sex": "F"}
    stranger |= {"date_of_birth": "1988-11-23", "postcode": "HX1 1AA"}
    del stranger["spine_id"]
    assert trace(pd.DataFrame([stranger]), spine_with(ROBERT)).empty


def moved(person: dict, **changes) -> dict:
    """A record of `person` after a house move to another area (new postcode and address)."""
    record = {k: v for k, v in person.items() if k != "spine_id"}
    return {**record, "record_id": "r1", "postcode": "HX7 5AB", "address": "2 MOOR VIEW"} | changes


def probability(record: dict, spine: pd.DataFrame) -> float:
    [p] = trace(pd.DataFrame([record]), spine, threshold=1e-9)["match_probability"]
    return p


def test_a_house_move_counts_once_against_a_match():
    # The new postcode already weighs the move; the new address that comes with it adds no
    # further doubt, so it scores as if the address were missing.
    spine = spine_with(ROBERT)
    assert probability(moved(ROBERT), spine) == pytest.approx(
        probability(moved(ROBERT, address=None), spine), rel=1e-12
    )
    # At the same postcode, a different address (another household) still counts against.
    same_postcode = moved(ROBERT, postcode=ROBERT["postcode"])
    assert probability(same_postcode, spine) < probability(
        {**same_postcode, "address": ROBERT["address"]}, spine
    )


def test_a_record_at_the_persons_previous_postcode_counts_for_the_match():
    # A hospital not told of a move still has the old address. The spine knows it from the
    # person's registration at their previous practice: a record there is evidence for them,
    # where a postcode the spine does not know is evidence against.
    old = "HX7 5AB"
    record = moved(ROBERT)  # at HX7 5AB, with no address (as `phm link` sends records)
    record["address"] = None
    knows = spine_with({**ROBERT, "previous_postcode": old})
    unknown = spine_with({**ROBERT, "previous_postcode": "WF1 2AA"})  # moved from elsewhere
    missing = {**record, "postcode": None}
    assert probability(record, knows) > probability(missing, knows) > probability(record, unknown)
    # And only the person's own previous postcode: someone else's is no evidence for them.
    stranger = {**record, "postcode": "WF1 2AA", "record_id": "r1"}
    assert probability(stranger, knows) < probability(missing, knows)


def test_a_spine_without_previous_postcodes_scores_as_before():
    # The level cannot happen, so it takes no share of the matches: a record's score is the
    # same whether the spine has the column, all empty, or not at all.
    spine = spine_with(ROBERT)
    record = moved(ROBERT, postcode="LS6 2QT", given_name="Rob")
    assert probability(record, spine.assign(previous_postcode=None)) == pytest.approx(
        probability(record, spine), rel=1e-12
    )


def test_a_mistyped_postcode_is_not_a_move_so_the_address_still_counts(small_region):
    # Each known person's record with their own address and their postcode's last two letters
    # swapped (LS6 2QT → LS6 2TQ): the address then counts, for the match.
    spine = one_address_each(small_region.spine)
    truth = small_region.truth.dropna()
    people = spine.set_index("spine_id").loc[truth.to_numpy()]
    people = people[people["postcode"].notna()]
    people = people[people["postcode"].str[-1] != people["postcode"].str[-2]]
    typos = pd.DataFrame(
        {
            "record_id": [f"T{i}" for i in range(len(people))],
            **{f: people[f].to_numpy() for f in ("given_name", "family_name", "sex", "address")},
            "postcode": (
                people["postcode"].str[:-2]
                + people["postcode"].str[-1]
                + people["postcode"].str[-2]
            ).to_numpy(),
        }
    )  # no date of birth: the rest must carry the match

    def scores(records):
        return trace(records, spine, threshold=1e-9).set_index("record_id")["match_probability"]

    with_address, without = scores(typos), scores(typos.assign(address=None))
    assert (with_address.reindex(without.index) > without).mean() > 0.9
    # Another postcode far off is a move: the address that comes with it adds nothing.
    robert = spine_with(ROBERT)
    far = moved(ROBERT, address=ROBERT["address"])
    assert probability(far, robert) == pytest.approx(
        probability({**far, "address": None}, robert), rel=1e-12
    )


def test_another_countrys_postcodes_are_compared_as_written(small_region):
    # The region with every postcode turned into a 4-digit code (as Australia's), one per UK
    # postcode: tracing uses them as it uses UK postcodes, less the district and area.
    def compact(frame):
        return frame["postcode"].str.upper().str.replace(" ", "")

    codes = pd.concat([compact(small_region.spine), compact(small_region.records)])
    number = {code: f"{1000 + i}" for i, code in enumerate(codes.dropna().unique())}
    spine = small_region.spine.assign(postcode=compact(small_region.spine).map(number))
    records = small_region.records.assign(postcode=compact(small_region.records).map(number))
    as_written, uk = standardise.postcode_column(pa.array(records["postcode"]))
    assert not uk and as_written.null_count == records["postcode"].isna().sum()

    def recall(records, spine):
        pairs = trace(records, spine).set_index("record_id")["spine_id"]
        found = pairs.reindex(small_region.truth.index)
        assert not (found.notna() & (found != small_region.truth).fillna(True)).any()
        return (found == small_region.truth).sum() / small_region.truth.notna().sum()

    # Without dates of birth, so that the postcode has work to do.
    records = records.drop(columns="date_of_birth")
    dropped = recall(records.drop(columns="postcode"), spine.drop(columns="postcode"))
    assert recall(records, spine) > dropped + 0.05


def test_a_postcode_column_is_read_as_uk_postcodes_unless_mostly_another_countrys():
    def read(values):
        found, uk = standardise.postcode_column(pa.array(values, pa.string()))
        return found.to_pylist(), uk

    assert read(["3212", "2642 ", "4223", "ls62qt"]) == (["3212", "2642", "4223", "LS6 2QT"], False)
    assert read(["90210-1234", "K1A 0B1"]) == (["902101234", "K1A0B1"], False)
    # Mostly UK: a foreign one among them is unreadable, as before.
    assert read(["LS6 2QT", "HX1 1AA", "3212"]) == (["LS6 2QT", "HX1 1AA", None], True)
    # A town mapped by mistake has no digit: read as UK postcodes, so none, and warned of.
    assert read(["Leeds", "Bradford", None]) == ([None, None, None], True)
    assert read([None, ""]) == ([None, None], True)


def test_a_rare_family_name_is_stronger_evidence_than_a_common_one():
    background = spine_with(ROBERT)
    common = background["family_name"].value_counts().index[0]  # about 1 in 10 of them
    rare = {**ROBERT, "spine_id": "RARE", "family_name": "QUILLFEATHER"}
    usual = {**ROBERT, "spine_id": "USUAL", "family_name": common, "date_of_birth": "1950-01-03"}
    spine = pd.concat([background, pd.DataFrame([rare, usual])], ignore_index=True)
    # Traced together, so that both meet the same u probabilities: only the name's own
    # frequency can set them apart.
    records = pd.DataFrame([moved(rare, record_id="rare"), moved(usual, record_id="usual")])
    doubt = 1 - trace(records, spine).set_index("record_id")["match_probability"]
    assert 0 < doubt["rare"] < doubt["usual"] / 10


def test_two_equally_good_candidates_leave_a_record_unmatched():
    scored = pd.DataFrame(
        {
            "record_id": ["r1", "r1", "r2", "r2"],
            "spine_id": ["twin_a", "twin_b", "s1", "s2"],
            "match_probability": [0.99, 0.99, 0.999, 0.97],
        }
    )
    assert best_matches(scored, 0.95)[["record_id", "spine_id"]].values.tolist() == [["r2", "s1"]]


def test_tracing_is_precise_and_finds_nearly_everyone_on_a_synthetic_region(small_region):
    pairs = trace(small_region.records, small_region.spine)
    found = pairs.set_index("record_id")["spine_id"].reindex(small_region.truth.index)
    truth = small_region.truth
    right = (found == truth).fillna(False)
    wrong = found.notna() & ~right
    assert wrong.sum() == 0
    assert right.sum() / truth.notna().sum() >= 0.97
    assert found[truth.isna()].isna().all()  # strangers stay unmatched


def test_a_missing_id_or_too_few_fields_is_a_clear_error():
    records = pd.DataFrame({"record_id": ["r1"], "sex": ["M"]})
    with pytest.raises(TracingError, match="date of birth, a postcode"):
        trace(records, spine_with(ROBERT))
    with pytest.raises(TracingError, match="no id column 'record_id'"):
        trace(records.drop(columns="record_id"), spine_with(ROBERT))


def test_linkage_equity_shows_the_match_rate_of_each_group():
    traced = pd.DataFrame(
        {"matched": [True, True, False, True], "imd_decile": [1, 1, 1, 10], "sex": list("MFFM")}
    )
    table = linkage_equity(traced, by=["imd_decile", "sex"]).set_index(["grouped_by", "group"])
    assert table.loc[("imd_decile", 1), "match_rate"] == pytest.approx(2 / 3)
    assert table.loc[("imd_decile", 10), "records"] == 1
    assert table.loc[("sex", "F"), "difference_from_overall"] == pytest.approx(0.5 - 0.75)


def test_dates_in_common_formats_are_understood_and_others_are_missing():
    sent = ["1961-03-07", "07/03/1961", "19610307", "07-03-1961", "7.3.1961", "31/02/1961", "x"]
    assert standardise.dates(pa.array(sent)).to_pylist() == ["1961-03-07"] * 5 + [None, None]


def test_sex_and_postcode_codings_from_every_provider_agree():
    assert standardise.sexes(pa.array(["M", "Male", "1", "f", "2", "U", "9"])).to_pylist() == [
        *"MMMFF",
        None,
        None,
    ]
    assert standardise.postcodes(pa.array(["ls62qt", "LS6 2QT", "nonsense"])).to_pylist() == [
        "LS6 2QT",
        "LS6 2QT",
        None,
    ]


def test_in_phm_link_splink_leaves_no_table_of_names_behind_in_the_connection(tmp_path):
    from openphm.engine import connect
    from openphm.identity.tracing import Prepared, Source, prepare
    from openphm.pseudonymise.resolve import _trace

    people = region(300, 40, seed=3)
    con = connect(temp_directory=tmp_path / ".spill")
    records = prepare(people.records, "record_id")
    sources = [Source(("hospital",), records["unique_id"])]
    [traced] = _trace(con, Prepared(records), people.spine, sources, 0.95)
    assert len(traced.pairs) > 0
    left = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '__splink__%'"
    ).fetchone()[0]
    assert left == 0
    assert not (tmp_path.parent / ".tmp").exists()


# Each record below shares only one blocking key with its person on the spine, and none with
# anyone before the key was added: it was never compared, whatever the evidence.


def test_names_written_the_other_way_round_are_compared():
    record = {
        "record_id": "r1",
        "given_name": "Ashworth",
        "family_name": "Robert",
        "date_of_birth": "1961-03-08",  # a day out: no date of birth key either way round
        "postcode": "LS6 2QX",  # a letter wrong, none swapped: no postcode key
    }  # no sex: the initials key cannot pair it
    candidates = trace(pd.DataFrame([record]), spine_with(ROBERT), threshold=1e-9)
    assert candidates["spine_id"].tolist() == ["TARGET"]
    # Compared, it is the model (here the priors, a source of one record, and the u of this
    # spine of 501 people) that decides: likelier right than wrong. (Whether it is linked
    # depends on the spine's size: one in 501 here, one in a million in a region.)
    assert candidates["match_probability"].iloc[0] > 0.5


def test_a_postcode_with_two_characters_swapped_is_compared_and_matched():
    record = {
        "record_id": "r1",
        "given_name": "Robert",
        "family_name": "Ashworht",  # a typo: the names key cannot pair it
        "sex": "M",
        "postcode": "LS6 2TQ",  # LS6 2QT, its last two letters swapped
    }  # no date of birth
    pairs = trace(pd.DataFrame([record]), spine_with(ROBERT))
    assert pairs["spine_id"].tolist() == ["TARGET"]


def test_the_same_address_is_compared_and_matched():
    record = {
        "record_id": "r1",
        "given_name": "Robert",
        "family_name": "Ashwoth",
        "sex": "M",
        "address": "14 Otley Road",
    }  # no date of birth, no postcode
    pairs = trace(pd.DataFrame([record]), spine_with(ROBERT))
    assert pairs["spine_id"].tolist() == ["TARGET"]
    assert trace(pd.DataFrame([{**record, "address": "9 Moor View"}]), spine_with(ROBERT)).empty


def test_the_blocking_keys_for_swapped_names_and_postcodes_are_the_same_either_way():
    keys = standardise.characters_sorted(pa.array(["3728", "3782", "LS6 2QT", "LS6 2TQ", None]))
    assert keys.to_pylist() == ["2378", "2378", "26LQST", "26LQST", None]
    given, family = pa.array(["MARY", "SMITH", None]), pa.array(["SMITH", "MARY", "SMITH"])
    assert standardise.names_unordered(given, family).to_pylist() == [
        "MARY SMITH", "MARY SMITH", None
    ]  # fmt: skip


def test_the_people_a_record_meets_at_its_postcode_are_counted_over_the_records():
    spine = pd.DataFrame(
        {
            "spine_id": ["a", "b", "c", "d"],
            "postcode": ["LS6 2QT", "LS6 2QT", "LS6 2QT", "HX1 1AA"],
            "sex": ["M", "M", "F", "M"],
        }
    )
    records = pd.DataFrame(
        {
            "record_id": ["r1", "r2", "r3", "r4"],
            "postcode": ["ls62qt", "LS6 2QT", "WF1 2AA", None],
            "sex": ["1", "F", "M", "M"],
        }
    )
    left, right = prepare(records, "record_id"), prepare(spine, "spine_id")
    # r1 meets two men, r2 one woman, r3 no one; r4 has no postcode and is not counted.
    assert crowded_postcodes(left, right, ["postcode", "sex"]) == pytest.approx(1.0)
    # Without sex, everyone at the postcode: 3, 3 and 0.
    assert crowded_postcodes(left, right, ["postcode"]) == pytest.approx(2.0)


def test_in_crowded_postcodes_the_postcode_pairs_only_with_a_name_or_the_year_of_birth():
    fields = ["given_name", "family_name", "date_of_birth", "sex", "postcode"]
    assert ("postcode", "sex") in blocking_keys(fields)
    crowded = blocking_keys(fields, crowded=True)
    assert ("postcode", "sex") not in crowded
    assert {("postcode", "family_name"), ("postcode", "given_name_canonical"),
            ("postcode", "birth_year")} <= set(crowded)  # fmt: skip


def test_in_a_crowded_postcode_a_person_is_still_found_by_family_name(caplog):
    # Sixty men at Robert's postcode (more than CROWDED_POSTCODE): his record has his given
    # name mistyped at its first letter and his date of birth wrong but for the year, so
    # only his family name at his postcode pairs him with himself.
    background = one_address_each(region(500, 1, seed=3).spine)
    men = background.index[background["sex"] == "M"][:60]
    background.loc[men, "postcode"] = ROBERT["postcode"]
    spine = pd.concat([background, pd.DataFrame([ROBERT])], ignore_index=True)
    record = {
        "record_id": "r1",
        "given_name": "Hobert",
        "family_name": "Ashworth",
        "date_of_birth": "1961-11-23",
        "sex": "M",
        "postcode": ROBERT["postcode"],
    }
    records = pd.DataFrame([record])
    with caplog.at_level("INFO", logger="openphm.identity.tracing"):
        pairs = trace(records, spine, threshold=1e-9)
    assert "meets" in caplog.text
    assert "TARGET" in pairs["spine_id"].tolist()


def test_records_carry_no_previous_postcode():
    record = {**moved(ROBERT), "previous_postcode": "LS6 2QT"}
    with pytest.raises(TracingError, match="only the spine has one"):
        trace(pd.DataFrame([record]), spine_with(ROBERT))


def test_a_spine_of_one_person_is_refused_not_a_crash():
    # u is learned from pairs of two different spine people; one person makes none. Before
    # the refusal, λ of 1 (one record in one person) reached Splink as infinite prior odds
    # and failed inside its SQL ("Referenced column inf").
    record = {**ROBERT, "record_id": "r1"}
    with pytest.raises(TracingError, match="the spine has one person"):
        trace(pd.DataFrame([record]), pd.DataFrame([ROBERT]))


def test_no_comparison_reads_a_column_only_blocking_uses():
    # u is sampled without them (`Session._halves`); a comparison that read one would fail.
    from openphm.identity.tracing import BLOCKING_ONLY, FIELDS, _priors

    for crowded in (False, True):
        settings = _priors(list(FIELDS), 1_000, crowded).create_settings_dict("duckdb")
        conditions = " ".join(
            level["sql_condition"]
            for comparison in settings["comparisons"]
            for level in comparison["comparison_levels"]
        )
        assert not [c for c in BLOCKING_ONLY if c in conditions]
        rules = " ".join(
            r["blocking_rule"] for r in settings["blocking_rules_to_generate_predictions"]
        )
        assert [c for c in BLOCKING_ONLY if c in rules]  # the test reads what it should
