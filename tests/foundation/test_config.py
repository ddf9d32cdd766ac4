"""programme.toml: a valid programme is accepted; every mistake is named field by field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from openphm.programme.config import ConfigError, Purpose, load_config, parse_config

MINIMAL = """
[programme]
name = "Test programme"
controllers = ["A81001"]
processor = { name = "CSU", ods_code = "0DE" }
start_date = 2026-11-02
purposes = ["prevention"]

[[sources]]
kind = "gp"
provider = "A81001"
"""


def problems_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return str(caught.value)


def test_the_example_programme_is_valid(example_config: Path):
    config = load_config(example_config)
    assert config.programme.duration_weeks == 20
    assert config.programme.end_date == dt.date(2027, 3, 22)
    assert len(config.sources) == 9


def test_defaults_are_twenty_weeks_fourteen_days_and_both_objections_honoured():
    config = parse_config(MINIMAL)
    assert config.programme.duration_weeks == 20
    assert config.programme.identifiable_retention_days == 14
    assert config.objections.type1 and config.objections.national_data_opt_out


def test_an_unknown_purpose_is_named_with_the_allowed_ones():
    message = problems_of(MINIMAL.replace('["prevention"]', '["prevention", "marketing"]'))
    assert "programme.purposes[1]" in message
    assert "'marketing'" in message
    for purpose in Purpose:
        assert purpose.value in message


def test_retention_longer_than_fourteen_days_is_refused():
    text = MINIMAL.replace("start_date", "identifiable_retention_days = 30\nstart_date")
    message = problems_of(text)
    assert "programme.identifiable_retention_days" in message
    assert "14" in message


def test_a_misspelt_setting_is_an_error_not_ignored():
    message = problems_of(MINIMAL.replace("start_date", "retention_days = 7\nstart_date"))
    assert "programme.retention_days" in message
    assert "not a setting" in message


def test_a_bad_ods_code_names_the_source():
    message = problems_of(MINIMAL + '\n[[sources]]\nkind = "deaths"\nprovider = "x 1"\n')
    assert "sources[1].provider" in message
    assert "ODS code" in message


def test_an_unknown_source_kind_lists_the_kinds():
    message = problems_of(MINIMAL.replace('kind = "gp"', 'kind = "dentist"'))
    assert "sources[0].kind" in message
    assert "admitted-care" in message


def test_a_gp_source_must_be_a_controller():
    message = problems_of(MINIMAL + '\n[[sources]]\nkind = "gp"\nprovider = "B82002"\n')
    assert "B82002" in message and "controllers" in message


def test_a_recipient_purpose_must_be_one_of_the_programmes():
    text = MINIMAL + (
        '\n[[recipients]]\nname = "Partner"\npurpose = "research"\nexpires = 2027-01-01\n'
    )
    message = problems_of(text)
    assert "recipients[0]" in message and "research" in message


def test_a_missing_field_is_named():
    message = problems_of(MINIMAL.replace("start_date = 2026-11-02\n", ""))
    assert "programme.start_date: is required" in message


def test_broken_toml_says_where(tmp_path: Path):
    path = tmp_path / "programme.toml"
    path.write_text("[programme\nname = 1")
    with pytest.raises(ConfigError, match=r"programme.toml is not valid TOML.*line 1"):
        load_config(path)


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nope.toml")
