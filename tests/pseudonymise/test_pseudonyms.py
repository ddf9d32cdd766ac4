import hashlib
import hmac
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openphm.pseudonymise import pseudonyms
from openphm.pseudonymise.pseudonyms import (
    UNMATCHED_PREFIX,
    PseudonymInputError,
    linkage_pseudonyms,
    recipient_key,
    recipient_pseudonyms,
    unmatched_pseudonyms,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
nhs_numbers = st.integers(0, 9_999_999_999).map(lambda n: f"{n:010d}")


def reference(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


@settings(max_examples=50)
@given(st.binary(min_size=32, max_size=32), st.lists(nhs_numbers, min_size=1, max_size=50))
def test_a_linkage_pseudonym_is_the_hmac_sha256_of_the_nhs_number(key, numbers):
    assert linkage_pseudonyms(numbers, key).to_pylist() == [reference(key, n) for n in numbers]


def test_row_order_and_nulls_survive_hashing_in_chunks(monkeypatch):
    monkeypatch.setattr(pseudonyms, "_CHUNK_VALUES", 1_000)  # several chunks
    numbers = [f"{n:010d}" for n in range(0, 3_500 * 7919, 7919)]
    numbers[999] = numbers[2_000] = None
    got = linkage_pseudonyms(numbers, KEY).to_pylist()
    assert len(got) == 3_500
    assert got[999] is None and got[2_000] is None
    assert [got[i] for i in (0, 998, 1_000, 2_001, 3_499)] == [
        reference(KEY, numbers[i]) for i in (0, 998, 1_000, 2_001, 3_499)
    ]


def test_a_pseudonym_cannot_be_computed_without_the_key():
    ours = linkage_pseudonyms(["4010232137"], KEY)[0].as_py()
    assert ours != linkage_pseudonyms(["4010232137"], OTHER_KEY)[0].as_py()
    assert ours != hashlib.sha256(b"4010232137").hexdigest()  # an unkeyed hash is not it
    with pytest.raises(ValueError, match="32 bytes"):
        linkage_pseudonyms(["4010232137"], b"")


def test_the_same_nhs_number_gets_the_same_pseudonym_from_every_source():
    from_gp = linkage_pseudonyms(["4010232137", "9434765919"], KEY).to_pylist()
    from_hospital = linkage_pseudonyms(["9434765919", None, "4010232137"], KEY).to_pylist()
    assert from_hospital == [from_gp[1], None, from_gp[0]]


def test_unnormalised_numbers_are_refused_without_echoing_them():
    with pytest.raises(PseudonymInputError) as refused:
        linkage_pseudonyms(["401 023 2137", "4010232137"], KEY)
    assert "1 NHS numbers" in str(refused.value)
    assert "401" not in str(refused.value)


def test_a_key_never_appears_in_an_error():
    secret = os.urandom(31)
    with pytest.raises(ValueError) as refused:
        linkage_pseudonyms(["4010232137"], secret)
    assert secret.hex() not in str(refused.value) and repr(secret) not in str(refused.value)


@settings(max_examples=50)
@given(
    st.lists(nhs_numbers, min_size=1, max_size=20),
    st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=20),
)
def test_an_unmatched_records_pseudonym_never_equals_a_real_persons(numbers, record_ids):
    real = set(linkage_pseudonyms(numbers, KEY).to_pylist())
    unmatched = unmatched_pseudonyms(
        record_ids, source="admitted-care", provider="RR8", linkage_key=KEY
    ).to_pylist()
    assert all(p.startswith(UNMATCHED_PREFIX) and len(p) == 65 for p in unmatched)
    assert not real & set(unmatched)
    # Real pseudonyms are pure hex, which the prefix is not: disjoint whatever the hashes.
    assert all(len(p) == 64 and set(p) <= set("0123456789abcdef") for p in real)


def test_unmatched_pseudonyms_tell_sources_providers_and_records_apart():
    def one(source, provider, record):
        return unmatched_pseudonyms([record], source=source, provider=provider, linkage_key=KEY)[0]

    # Without unambiguous field boundaries "RR8"+"1" and "RR"+"81" would collide.
    assert one("admitted-care", "RR8", "1") != one("admitted-care", "RR", "81")
    assert one("admitted-care", "RR8", "1") != one("outpatients", "RR8", "1")
    assert one("admitted-care", "RR8", "1") == one("admitted-care", "RR8", "1")


ICB_SECRET, COUNCIL_SECRET = bytes(range(32)), bytes(range(1, 33))


def test_two_recipients_pseudonyms_for_the_same_person_differ_and_cannot_be_joined():
    people = linkage_pseudonyms(["4010232137", "9434765919"], KEY)
    for_icb = recipient_pseudonyms(people, KEY, "ICB analytics", ICB_SECRET).to_pylist()
    council = recipient_pseudonyms(people, KEY, "Council public health", COUNCIL_SECRET)
    assert not set(for_icb) & set(council.to_pylist())
    assert not set(for_icb) & set(people.to_pylist())
    icb_key = recipient_key(KEY, "ICB analytics", ICB_SECRET)
    assert icb_key != recipient_key(KEY, "Council public health", COUNCIL_SECRET)
    # Each recipient's pseudonym is the HMAC of the linkage pseudonym under its own key.
    assert for_icb == [reference(icb_key, p) for p in people.to_pylist()]


def test_without_the_recipients_secret_its_pseudonyms_cannot_be_computed_again():
    people = linkage_pseudonyms(["4010232137"], KEY)
    issued = recipient_pseudonyms(people, KEY, "ICB analytics", ICB_SECRET).to_pylist()
    # Same linkage key, same name, any other secret: nothing matches what was issued.
    guessed = recipient_pseudonyms(people, KEY, "ICB analytics", bytes(32)).to_pylist()
    assert issued != guessed


def test_a_recipient_can_tell_an_unmatched_record_from_a_person():
    unmatched = unmatched_pseudonyms(["A1"], source="community", provider="RY6", linkage_key=KEY)
    released = recipient_pseudonyms(unmatched, KEY, "ICB analytics", ICB_SECRET)[0].as_py()
    assert released.startswith(UNMATCHED_PREFIX) and len(released) == 65


def test_an_unmatched_pseudonym_is_the_hmac_of_netstrings_under_its_own_derived_key():
    key = pseudonyms.derive_key(KEY, b"openphm/unmatched-record/v1")
    message = b"9:community,3:RY6,7:\xc3\xa9-12/3,"  # the record id's length is in bytes
    expected = "u" + hmac.new(key, message, hashlib.sha256).hexdigest()
    got = unmatched_pseudonyms(["é-12/3"], source="community", provider="RY6", linkage_key=KEY)
    assert got.to_pylist() == [expected]


def test_no_numbers_give_no_pseudonyms():
    # nothing may have landed, or retention may have destroyed all of it
    assert linkage_pseudonyms([], KEY).to_pylist() == []
