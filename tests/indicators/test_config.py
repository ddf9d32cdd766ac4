"""programme.toml's [indicators]: packs only for the programme's own purposes (P6), and PCNs
and places made of the programme's practices, each practice in one of each."""

import pytest

from openphm.programme.config import ConfigError, parse_config

PROGRAMME = """
[programme]
name = "Test programme"
controllers = ["A81001", "A81002"]
processor = { name = "CSU", ods_code = "0DE" }
start_date = 2026-11-02
purposes = ["safety-monitoring", "prevention"]

[[sources]]
kind = "gp"
provider = "A81001"
"""


def problems_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return str(caught.value)


def test_packs_are_chosen_with_the_purpose_each_is_used_for():
    config = parse_config(
        PROGRAMME
        + """
[indicators]
packs = [{ name = "pincer", purpose = "safety-monitoring" }]
pcns = { "North PCN" = ["A81001"], "South PCN" = ["A81002"] }
places = { "Valley" = ["A81001", "A81002"] }
"""
    )
    assert [(p.name, p.purpose.value) for p in config.indicators.packs] == [
        ("pincer", "safety-monitoring")
    ]
    assert config.indicators.pcns == {"North PCN": ["A81001"], "South PCN": ["A81002"]}


def test_without_an_indicators_section_no_pack_is_built():
    assert parse_config(PROGRAMME).indicators.packs == []


def test_a_pack_for_a_purpose_the_programme_does_not_have_is_refused():
    problems = problems_of(
        PROGRAMME
        + """
[indicators]
packs = [{ name = "pincer", purpose = "research" }]
"""
    )
    assert "indicators.packs[0]: purpose 'research' is not one of the programme's purposes" in (
        problems
    )


def test_a_practice_in_two_pcns_or_outside_the_programme_is_refused():
    twice = problems_of(
        PROGRAMME
        + """
[indicators]
pcns = { "North" = ["A81001"], "South" = ["A81001"] }
"""
    )
    assert "A81001 is in both 'North' and 'South'" in twice
    stranger = problems_of(
        PROGRAMME
        + """
[indicators]
places = { "Valley" = ["B99999"] }
"""
    )
    assert "indicators.places.Valley: B99999 is not among programme.controllers" in stranger
