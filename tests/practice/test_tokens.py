import base64

import pytest
from nacl.public import Box, PrivateKey, SealedBox

from openphm.practice.keys import generate_keypair, load_private_key, load_public_key
from openphm.practice.tokens import (
    BOX_VERSION,
    PAD_TO,
    SEALED_BOX_VERSION,
    TOKEN_VERSION,
    MalformedToken,
    ReidentifiedPatient,
    TokenForAnotherPractice,
    TokenTampered,
    key_id,
    open_token,
    open_tokens,
    padded,
)
from openphm.pseudonymise.tokens import seal_tokens

PRACTICE_A = PrivateKey.generate()
PRACTICE_B = PrivateKey.generate()


def seal(refs, key=PRACTICE_A, ods="A81001"):
    return seal_tokens(refs, ods_code=ods, public_key=key.public_key)


def flip(token: str, position: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_the_practice_opens_its_own_token(tmp_path):
    pair = generate_keypair(tmp_path)
    [token] = seal_tokens(["P123"], ods_code="A81001", public_key=load_public_key(pair.public_key))
    opened = open_token(token, load_private_key(pair.private_key), ods_code="A81001")
    assert opened == ReidentifiedPatient("A81001", "P123")


def test_practice_b_cannot_open_practice_as_token():
    [token] = seal(["P123"])
    with pytest.raises(TokenForAnotherPractice):
        open_token(token, PRACTICE_B)


def test_a_tampered_token_fails_authentication():
    [token] = seal(["P123"])
    for position in (20, 40, -1):  # ephemeral key, ciphertext, authenticator
        with pytest.raises(TokenTampered):
            open_token(flip(token, position), PRACTICE_A)


def test_a_token_whose_header_was_changed_fails():
    [token] = seal(["P123"])
    with pytest.raises(TokenTampered, match="header was altered"):
        open_token(flip(token, 0), PRACTICE_A)  # the version byte, 3 → 2: a version still read
    with pytest.raises(MalformedToken):
        open_token(encode(bytes([9]) + raw(token)[1:]), PRACTICE_A)  # a version never written
    with pytest.raises(TokenForAnotherPractice):
        open_token(flip(token, 3), PRACTICE_A)  # the key id


def test_a_token_naming_another_practice_that_shares_the_key_is_refused():
    [token] = seal(["P123"], ods="B82002")
    with pytest.raises(TokenForAnotherPractice, match="B82002"):
        open_token(token, PRACTICE_A, ods_code="A81001")


def test_sealing_the_same_patient_twice_gives_two_different_tokens():
    first, second = seal(["P123", "P123"])
    assert first != second
    assert open_token(first, PRACTICE_A) == open_token(second, PRACTICE_A)


def test_tokens_come_back_in_order():
    refs = [f"P{i}" for i in range(45_000)]
    tokens = seal(refs)
    assert [open_token(tokens[i], PRACTICE_A).patient_ref for i in (0, 20_000, 44_999)] == [
        refs[0],
        refs[20_000],
        refs[44_999],
    ]


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_one_run_shares_an_ephemeral_key_and_two_runs_do_not():
    first, second = seal(["P1", "P2"])
    [later] = seal(["P1"])
    ephemeral = slice(9, 41)  # after the version byte and the key id
    nonce = slice(41, 65)
    assert raw(first)[ephemeral] == raw(second)[ephemeral] != raw(later)[ephemeral]
    assert raw(first)[nonce] != raw(second)[nonce]
    assert open_token(first, PRACTICE_A) == open_token(later, PRACTICE_A)


def test_the_ephemeral_key_or_nonce_changed_in_transit_fails_authentication():
    [token] = seal(["P123"])
    for position in (9, 40, 41, 64):  # first and last byte of the ephemeral key and the nonce
        with pytest.raises(TokenTampered):
            open_token(flip(token, position), PRACTICE_A)
    # A low-order point as the ephemeral key (an all-zero shared secret) is refused too.
    zeroed = raw(token)[:9] + bytes(32) + raw(token)[41:]
    with pytest.raises(TokenTampered):
        open_token(encode(zeroed), PRACTICE_A)


def test_a_version_1_sealed_box_token_still_opens():
    """Cohort lists sent before version 2 carry sealed boxes; the practice can still open them."""
    header = bytes([SEALED_BOX_VERSION]) + key_id(PRACTICE_A.public_key)
    plaintext = header + bytes([6]) + b"A81001" + b"P123"
    token = encode(header + SealedBox(PRACTICE_A.public_key).encrypt(plaintext))
    assert open_token(token, PRACTICE_A, ods_code="A81001") == ReidentifiedPatient("A81001", "P123")
    with pytest.raises(TokenForAnotherPractice):
        open_token(token, PRACTICE_B)
    with pytest.raises(TokenTampered):
        open_token(flip(token, 30), PRACTICE_A)


def test_a_truncated_token_is_malformed_not_tampered():
    [token] = seal(["P123"])
    with pytest.raises(MalformedToken, match="too short"):
        open_token(encode(raw(token)[:70]), PRACTICE_A)


def test_failures_are_counted_by_kind_never_guessed():
    mine, theirs = seal(["P1", "P2"])[0], seal(["P9"], key=PRACTICE_B)[0]
    opened = open_tokens([mine, theirs, flip(mine, 40), "not a token"], PRACTICE_A)
    assert opened.patients[0] == ReidentifiedPatient("A81001", "P1")
    assert opened.patients[1:] == [None, None, None]
    assert opened.failures == {
        "for another practice": 1,
        "failed authentication": 1,
        "malformed": 1,
    }


def test_a_patient_without_a_reference_gets_no_token():
    with pytest.raises(ValueError, match="A81001"):
        seal(["P1", ""])


def forge(plaintext: bytes, key=PRACTICE_A, header: bytes | None = None) -> str:
    """A version 2 token of any plaintext, as anyone holding the practice's public key can
    make one."""
    header = header or bytes([2]) + key_id(key.public_key)
    ephemeral = PrivateKey.generate()
    nonce = bytes(range(24))
    box = Box(ephemeral, key.public_key).encrypt(plaintext, nonce).ciphertext
    return encode(header + bytes(ephemeral.public_key) + nonce + box)


def test_a_forged_token_with_no_patient_inside_is_malformed_and_the_list_still_opens():
    header = bytes([2]) + key_id(PRACTICE_A.public_key)
    forged = [
        forge(header),  # the header alone
        forge(header + bytes([6]) + b"A81001"),  # no patient reference
        forge(header + bytes([40]) + b"A81001P1"),  # an ODS length past the end
        forge(header + bytes([0]) + b"P1"),  # no ODS code
    ]
    for token in forged:
        with pytest.raises(MalformedToken):
            open_token(token, PRACTICE_A)
    [good] = seal(["P1"])
    opened = open_tokens([*forged, good], PRACTICE_A)
    assert opened.patients[-1] == ReidentifiedPatient("A81001", "P1")
    assert opened.failures == {"malformed": 4}


def test_a_version_2_token_relabelled_as_version_1_fails_authentication():
    [token] = seal(["P123"])
    downgraded = bytes([SEALED_BOX_VERSION]) + raw(token)[1:]
    with pytest.raises(TokenTampered):
        open_token(encode(downgraded), PRACTICE_A)


def test_a_token_whose_sealed_header_differs_from_its_outer_header_fails():
    outer = bytes([2]) + key_id(PRACTICE_A.public_key)
    inner = bytes([2]) + key_id(PRACTICE_B.public_key)
    token = forge(inner + bytes([6]) + b"A81001" + b"P1", header=outer)
    with pytest.raises(TokenTampered, match="header was altered"):
        open_token(token, PRACTICE_A)


def test_only_the_written_form_of_a_token_opens():
    """Python's base64 decoder skips characters outside the alphabet and the spare bits of the
    last character: without the check, these strings would all open as the same patient."""
    [token] = seal(["P123"])
    assert open_token(token, PRACTICE_A) == ReidentifiedPatient("A81001", "P123")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare = len(token) % 4  # 2 or 3 characters in the last group: 4 or 2 spare bits
    assert spare in (2, 3), "the test needs a token whose length leaves spare bits"
    last = alphabet.index(token[-1])
    other = alphabet[last ^ 1]  # the lowest bit of the last character is always spare
    variants = [
        token[:-1] + other,
        token[:10] + "!" + token[10:],
        token[:10] + "\n" + token[10:],
        token + "=" * (-len(token) % 4),
    ]
    for variant in variants:
        with pytest.raises(MalformedToken):
            open_token(variant, PRACTICE_A)


def test_a_token_whose_key_has_its_ignored_top_bit_set_is_refused():
    """X25519 ignores the top bit of a public key: set in a token's ephemeral key, the token
    would be another string that opens as the same patient."""
    [token] = seal(["P123"])
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[9 + 31] |= 0x80  # header (version, key id), then the key's last byte
    altered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(MalformedToken, match="X25519"):
        open_token(altered, PRACTICE_A)


def test_every_token_of_a_list_has_the_same_length_whatever_its_patient_reference():
    """Unpadded, a token's length was its reference's length plus a constant: a list whose
    references differ in length (two clinical systems' numbering) told rows apart."""
    refs = ["1", "P123", "EMIS-00012345", "a" * 30, "Zoë Ref", "x" * 47]
    tokens = seal(refs, ods="A81001")
    assert len({len(token) for token in tokens}) == 1
    assert [open_token(t, PRACTICE_A).patient_ref for t in tokens] == refs
    # Past a padding block a token grows by a block: it shows only that the reference is long.
    [long] = seal(["x" * 48], ods="A81001")
    assert len(raw(long)) == len(raw(tokens[0])) + PAD_TO


def test_a_version_2_token_sealed_before_padding_still_opens():
    """Cohort lists sent before version 3 carry unpadded boxes; the practice can still open
    them, and they are read without looking for padding."""
    header = bytes([BOX_VERSION]) + key_id(PRACTICE_A.public_key)
    ref = "P123\u0080"  # its UTF-8 ends in 0x80, the padding's mark
    token = forge(header + bytes([6]) + b"A81001" + ref.encode())
    assert open_token(token, PRACTICE_A) == ReidentifiedPatient("A81001", ref)


def test_a_padded_token_whose_padding_is_not_as_sealed_is_malformed():
    header = bytes([TOKEN_VERSION]) + key_id(PRACTICE_A.public_key)
    plaintext = header + bytes([6]) + b"A81001" + b"P123"
    forged = [
        plaintext,  # no padding at all
        plaintext + bytes(PAD_TO - len(plaintext)),  # zeros with no 0x80 mark
        padded(plaintext) + bytes(PAD_TO),  # a whole block of zeros too many
        padded(plaintext)[:-1],  # not a multiple of the block
    ]
    for body in forged:
        with pytest.raises(MalformedToken, match="padding"):
            open_token(forge(body, header=header), PRACTICE_A)
    opened = open_token(forge(padded(plaintext), header=header), PRACTICE_A)
    assert opened == ReidentifiedPatient("A81001", "P123")
