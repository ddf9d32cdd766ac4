"""The default sensitive lists as shipped (openphm/reference/sensitive) and programme.toml's
[sensitive]: each code is well formed, is what its list says it is, and was found with its term
where its `source` says; a programme adds, replaces and turns off lists, and a bad setting is
refused naming the field."""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest

from openphm.programme.config import (
    SENSITIVE_SYSTEMS,
    ConfigError,
    SensitiveSettings,
    default_sensitive_lists,
    parse_config,
)
from openphm.pseudonymise.sensitive import lists_for
from openphm.reference import codelist, sensitive_codes

# What each list's terms must be about: a code whose published title says none of these is on
# the wrong list (or mistyped: a title found under another code).
TOPICS = {
    "sexually-transmitted-infections": r"syphilis|gonococcal|chlamydial|chancroid|granuloma "
    r"inguinale|trichomon|herpesviral|sexually transmitted|sexual mode of transmission|"
    r"neurosyphilis",
    "hiv": r"human immunodeficiency virus|\bHIV\b",
    "termination-of-pregnancy": r"abortion|termination of pregnancy|\bTOP\b|destruction of fetus",
    "assisted-conception": r"insemination|in.vitro fertili[sz]ation|assisted fertili[sz]ation|"
    r"artificial fertili[sz]ation|oocyte recovery",
    "gender-identity": r"gender identity",
}
# The WHO ICD-10 blocks the ICD-10 defaults come from (3-character categories in each).
BLOCKS = {
    "sexually-transmitted-infections": ("A50", "A64"),
    "hiv": ("B20", "B24"),
    "termination-of-pregnancy": ("O04", "O07"),
}
# The shipped OpenCodelists lists a `source` names (openphm/reference/codelists).
SHIPPED = {
    "nhsd-qof-dem": "qof-dem",
    "nhsd-qof-c19can": "qof-c19can",
    "nhsd-qof-c19haemcan": "qof-c19haemcan",
    "cms-hearing-loss": "cms-hearing-loss",
    "qof-preg": "qof-preg",
}


@pytest.fixture(scope="module")
def codes():
    return sensitive_codes()


def test_every_list_in_codes_csv_is_described_and_the_other_way_round(codes):
    described = default_sensitive_lists()
    assert list(described) == list(dict.fromkeys(codes["list"]))
    for item in described.values():
        assert item["title"] and item["basis"]
    readme = (resources.files("openphm.reference") / "sensitive" / "README.md").read_text()
    for name in described:
        assert f"`{name}`" in readme
    for source in set(codes["source"]):
        assert f"`{source}`" in readme, f"source {source} is not described in the README"


def test_every_code_is_well_formed_and_listed_once(codes):
    patterns = dict(SENSITIVE_SYSTEMS.values())
    for row in codes.itertuples():
        assert patterns[row.system].fullmatch(row.code), (row.list, row.code)
    assert not codes.duplicated(["list", "system", "code"]).any()
    assert not codes.duplicated(["system", "code"]).any()  # no code on two default lists


def test_every_term_is_about_its_list(codes):
    for row in codes.itertuples():
        assert re.search(TOPICS[row.list], row.term, re.IGNORECASE), (row.list, row.code, row.term)


def test_icd10_categories_cover_their_whole_block_as_published(codes):
    """A50-A64 is 13 categories (A61 and A62 do not exist in ICD-10), B20-B24 five, O04-O07
    four: the categories shipped are exactly the block's."""
    icd = codes[codes["system"] == "ICD-10"]
    expected = {
        "sexually-transmitted-infections": {f"A{n}" for n in (*range(50, 61), 63, 64)},
        "hiv": {f"B{n}" for n in range(20, 25)},
        "termination-of-pregnancy": {f"O0{n}" for n in range(4, 8)},
    }
    for name, (first, last) in BLOCKS.items():
        three = {c for c in icd.loc[icd["list"] == name, "code"] if len(c) == 3}
        in_block = {c for c in three if first <= c <= last}
        assert in_block == expected[name], name


def test_snomed_concepts_from_shipped_code_lists_have_the_same_term_there(codes):
    """Concepts whose source is a code list OpenPHM ships are checked against that file."""
    checked = 0
    for row in codes[codes["source"].isin(SHIPPED)].itertuples():
        shipped = codelist(SHIPPED[row.source])
        terms = dict(zip(shipped["code"], shipped["term"], strict=True))
        assert terms.get(row.code) == row.term, (row.source, row.code)
        checked += 1
    assert checked == 13


def test_no_snomed_concept_is_a_guess(codes):
    """Every SNOMED CT concept names a source; none is shipped without one (README)."""
    snomed = codes[codes["system"] == "SNOMED CT"]
    assert len(snomed) == 18
    assert snomed["source"].str.len().gt(0).all()


# ----- programme.toml ---------------------------------------------------------------------------


def _with(example_config, section: str):
    return parse_config(example_config.read_text() + "\n" + section, "programme.toml")


def test_by_default_every_default_list_is_in_force(example_config):
    lists = lists_for(_with(example_config, "").sensitive)
    assert lists.names == tuple(default_sensitive_lists())
    assert len(lists.codes) == len(sensitive_codes())
    assert lists.audit_reason() == ""


def test_a_programme_adds_codes_and_lists(example_config):
    config = _with(
        example_config,
        """
[[sensitive.lists]]
name = "hiv"
snomed = ["86406008"]

[[sensitive.lists]]
name = "sexual-health-clinic"
title = "Genitourinary medicine clinic codes"
icd10 = ["Z113"]
snomed = ["39704111000001102"]
""",
    )
    lists = lists_for(config.sensitive)
    assert lists.names[-1] == "sexual-health-clinic"
    assert ("hiv", "SNOMED CT", "86406008") in lists.codes
    assert ("sexual-health-clinic", "ICD-10", "Z113") in lists.codes
    assert ("hiv", "ICD-10", "B24") in lists.codes  # the defaults are still there


def test_a_programme_replaces_the_defaults_with_a_reason(example_config):
    config = _with(
        example_config,
        """
[sensitive]
defaults = false
reason = "the ICB's own lists, agreed with the DPO on 2026-10-01"

[[sensitive.lists]]
name = "local-termination"
opcs4 = ["Q14"]
""",
    )
    lists = lists_for(config.sensitive)
    assert lists.names == ("local-termination",)
    assert lists.codes == (("local-termination", "OPCS-4", "Q14"),)
    assert lists.off == tuple(default_sensitive_lists())
    assert "agreed with the DPO" in lists.audit_reason()


def test_a_programme_turns_one_list_off_with_a_reason(example_config):
    config = _with(
        example_config,
        '[sensitive]\noff = ["hiv"]\nreason = "HIV care is in scope of the programme (DPIA 4.2)"\n',
    )
    lists = lists_for(config.sensitive)
    assert "hiv" not in lists.names
    assert not [c for c in lists.codes if c[0] == "hiv"]
    assert lists.audit_reason() == (
        "sensitive lists off: hiv (reason: HIV care is in scope of the programme (DPIA 4.2))"
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[sensitive]\noff = ["hiv"]\n', "sensitive: turning default sensitive lists off"),
        ("[sensitive]\ndefaults = false\n", "needs a reason"),
        ('[sensitive]\noff = ["hvi"]\nreason = "x"\n', "'hvi' is not a default list"),
        ('[sensitive]\ndefaults = false\noff = ["hiv"]\nreason = "x"\n', "no default list is on"),
        ('[[sensitive.lists]]\nname = "x"\nicd10 = ["A54.1"]\n', "without the dot"),
        ('[[sensitive.lists]]\nname = "x"\nsnomed = ["0123456"]\n', "not a valid SNOMED CT code"),
        ('[[sensitive.lists]]\nname = "x"\nopcs4 = ["Q1"]\n', "not a valid OPCS-4 code"),
        ('[[sensitive.lists]]\nname = "x"\n', "has no codes"),
        ('[[sensitive.lists]]\nname = "Has Spaces"\nicd10 = ["A54"]\n', "lower-case letters"),
        ('[[sensitive.lists]]\nname = "a"\nicd10 = ["A54"]\n[[sensitive.lists]]\nname = "a"\n'
         'icd10 = ["A55"]\n', "a is given twice"),
        ("[sensitive]\ndefault = false\n", "sensitive.default: is not a setting OpenPHM knows"),
    ],
)  # fmt: skip
def test_a_bad_sensitive_setting_is_refused_naming_it(example_config, section, message):
    with pytest.raises(ConfigError) as refused:
        _with(example_config, section)
    assert message in str(refused.value)
    assert "programme.toml" in str(refused.value)


def test_the_example_programme_documents_the_section():
    """Its [sensitive] example, uncommented, is a valid setting."""
    text = (resources.files("openphm.programme") / "example_programme.toml").read_text()
    block = text[text.index("# [sensitive]") :]
    example = "\n".join(
        line.removeprefix("# ").split("  #")[0] for line in block.splitlines() if line != "#"
    )
    settings = SensitiveSettings.model_validate(tomllib.loads(example)["sensitive"])
    assert settings.off == ["hiv"] and settings.lists[0].icd10 == ["Z113"]
