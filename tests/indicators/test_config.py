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


ICB_PROGRAMME = PROGRAMME.replace('"A81001", "A81002"]', '"A81001", "A81002", "A81003"]')


def test_one_icb_for_the_programme_holds_every_practice():
    config = parse_config(
        ICB_PROGRAMME
        + """
[indicators]
places = { "Valley" = ["A81001", "A81002"] }

[indicators.icbs.QWE]
name = "NHS Example Valley Integrated Care Board"
"""
    )
    icb = config.indicators.icbs["QWE"]
    assert icb.name == "NHS Example Valley Integrated Care Board" and icb.places == []
    assert config.indicators.icb_areas(["A81001", "A81002", "A81003"]) == dict.fromkeys(
        ["A81001", "A81002", "A81003"], "NHS Example Valley Integrated Care Board (QWE)"
    )


def test_icbs_per_place_hold_their_places_practices():
    config = parse_config(
        ICB_PROGRAMME
        + """
[indicators]
places = { "Valley" = ["A81001", "A81002"], "Hills" = ["A81003"] }

[indicators.icbs.QWE]
name = "NHS Valley ICB"
places = ["Valley"]

[indicators.icbs.QKK]
name = "NHS Hills ICB"
places = ["Hills"]
"""
    )
    assert config.indicators.icb_areas(["A81001", "A81002", "A81003"]) == {
        "A81001": "NHS Valley ICB (QWE)",
        "A81002": "NHS Valley ICB (QWE)",
        "A81003": "NHS Hills ICB (QKK)",
    }


@pytest.mark.parametrize(
    ("icbs", "said"),
    [
        ('[indicators.icbs.qwe]\nname = "X"\n',
         "indicators.icbs.qwe: 'qwe' is not an ICB's ODS code"),
        ('[indicators.icbs.QWE]\nname = "X"\n[indicators.icbs.QKK]\nname = "Y"\n'
         'places = ["Valley"]\n',
         "indicators.icbs.QWE.places: with more than one ICB, each names the places"),
        ('[indicators.icbs.QWE]\nname = "X"\nplaces = ["Nowhere"]\n',
         "indicators.icbs.QWE.places: 'Nowhere' is not one of indicators.places"),
        ('[indicators.icbs.QWE]\nname = "X"\nplaces = ["Valley"]\n[indicators.icbs.QKK]\n'
         'name = "Y"\nplaces = ["Valley"]\n',
         "indicators.icbs.QKK.places: 'Valley' is also in ICB QWE"),
        ('[indicators.icbs.QWE]\nname = ""\n', "indicators.icbs.QWE.name"),
        ('[indicators.icbs.QWE]\nname = "X"\ncolour = "blue"\n',
         "indicators.icbs.QWE.colour: is not a setting OpenPHM knows"),
    ],
)  # fmt: skip
def test_a_bad_icb_is_refused_naming_the_file_and_field(icbs, said):
    text = ICB_PROGRAMME + '[indicators]\nplaces = { "Valley" = ["A81001"] }\n\n' + icbs
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "/srv/phm/programme.toml")
    assert str(caught.value).startswith("/srv/phm/programme.toml has ")
    assert said in str(caught.value)


def test_indicator_rates_are_given_per_icb_made_of_places():
    import pandas as pd

    from openphm.indicators.rates import rates

    counts = pd.DataFrame(
        {
            "reference_date": ["2026-10-31"] * 3,
            "pack": ["pincer"] * 3,
            "purpose": ["safety-monitoring"] * 3,
            "indicator": ["x"] * 3,
            "practice": ["A81001", "A81002", "A81003"],
            "numerator": [10, 20, 5],
            "denominator": [100, 100, 50],
        }
    )
    areas = {
        "place": {"A81001": "Valley", "A81002": "Valley", "A81003": "Hills"},
        "icb": {"A81001": "V (QWE)", "A81002": "V (QWE)", "A81003": "H (QKK)"},
    }
    out = rates(counts, areas)
    icb = out[out["level"] == "icb"].set_index("area")
    assert icb.loc["V (QWE)", ["numerator", "denominator"]].tolist() == [30, 200]
    assert icb.loc["H (QKK)", ["numerator", "denominator"]].tolist() == [5, 50]
    assert icb.loc["V (QWE)", "average"] == 35 / 250
