import nhs_number
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from openphm.identity.nhs_numbers import (
    ISSUED_REGIONS,
    InvalidReason,
    check_nhs_numbers,
    normalise_nhs_numbers,
)

ALL_REGIONS = frozenset(nhs_number.REGIONS)


def rows(values, **kwargs):
    return check_nhs_numbers(values, **kwargs).to_pylist()


def test_an_nhs_number_is_read_with_or_without_spaces_or_hyphens():
    for sent in ["4010232137", "401 023 2137", "401-023-2137", " 4010232137 "]:
        assert rows([sent]) == [{"nhs_number": "4010232137", "status": "valid", "reason": None}]


def test_blank_and_absent_numbers_are_missing_not_invalid():
    assert [r["status"] for r in rows(["", "   ", None])] == ["missing"] * 3


def test_each_invalid_number_says_why():
    reasons = [r["reason"] for r in rows(["40102321J7", "401023213", "4010232138", "5000000005"])]
    assert reasons == [
        InvalidReason.NOT_DIGITS,
        InvalidReason.NOT_TEN_DIGITS,
        InvalidReason.CHECK_DIGIT,
        InvalidReason.RANGE_NOT_ISSUED,
    ]


def test_test_patients_numbers_are_refused_unless_asked_for():
    test_number = nhs_number.generate(for_region=nhs_number.REGION_SYNTHETIC)[0]
    assert rows([test_number])[0]["reason"] == InvalidReason.RANGE_NOT_ISSUED
    accepted = rows([test_number], regions=ISSUED_REGIONS | {"SYNTHETIC"})
    assert accepted[0]["status"] == "valid"


def test_a_chi_number_must_start_with_a_real_date():
    # 310299999 is 31 February: no check digit makes it a real CHI number.
    assert rows(["3102999990"])[0]["status"] == "invalid"


# From 10: the package checks ranges only when asked for a region, and 0000000000–0000000009
# are in none of its ranges, so we refuse them where its bare is_valid does not.
@given(st.lists(st.integers(10, 9_999_999_999), max_size=300))
def test_validity_agrees_with_the_nhs_number_package(numbers):
    values = [f"{n:010d}" for n in numbers]
    got = [r["status"] == "valid" for r in rows(values, regions=ALL_REGIONS)]
    assert got == [nhs_number.is_valid(v) for v in values]


@given(st.lists(st.text(alphabet="0123456789 -x", max_size=14), max_size=50))
def test_normalising_agrees_with_the_package_on_the_formats_it_accepts(values):
    normalised = normalise_nhs_numbers(values).to_pylist()
    for value, ours in zip(values, normalised, strict=True):
        theirs = nhs_number.standardise_format(value)
        if theirs:
            assert ours == theirs


def test_a_chunked_arrow_column_is_checked_in_order():
    column = pa.chunked_array([["4010232137", ""], ["4010232138"]])
    assert [r["status"] for r in rows(column)] == ["valid", "missing", "invalid"]
