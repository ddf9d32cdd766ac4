"""Tracing shows how well it could read what it was given: a field mostly unreadable (a
column mapped by mistake, a format no one expected) is named, never silently dropped."""

from __future__ import annotations

import pandas as pd

from openphm.identity.quality import parse_rates, warnings


def test_parse_rates_count_values_sent_and_values_read_per_field():
    sent = pd.DataFrame(
        {
            "postcode": ["LS6 2QT", "ls62qt", "Leeds", None, " "],
            "date_of_birth": ["1961-03-07", "07/03/1961", "31/02/1961", "", None],
            "sex": ["M", "Female", "9", "Unknown", "Q"],
        }
    )
    rates = {r.field: r for r in parse_rates(sent, ["postcode", "date_of_birth", "sex"])}
    assert (rates["postcode"].sent, rates["postcode"].readable) == (3, 2)
    assert (rates["date_of_birth"].sent, rates["date_of_birth"].readable) == (3, 2)
    # "not known" codes are read, as unknown; Q is no code at all.
    assert (rates["sex"].sent, rates["sex"].readable) == (5, 4)
    assert all(r.records == 5 for r in rates.values())


def test_a_field_mostly_unreadable_is_named_with_what_to_check():
    towns = pd.DataFrame({"postcode": ["Leeds", "Bradford", "Halifax"], "given_name": list("ABC")})
    rates = parse_rates(towns, ["postcode", "given_name", "family_name"])
    assert warnings(rates, "check --map") == [
        "postcode: 0% in UK shape, check --map",
        "family_name: no values in 3 records, check --map",
    ]


def test_a_field_mostly_read_raises_no_warning():
    sent = pd.DataFrame({"postcode": ["LS6 2QT"] * 9 + ["France"]})
    [rate] = parse_rates(sent, ["postcode"])
    assert rate.rate == 0.9 and warnings([rate], "check --map") == []


def test_another_countrys_postcodes_are_warned_of_and_said_to_be_compared_as_written():
    australian = pd.DataFrame({"postcode": ["3212", "2642", "4223", "2135"]})
    [line] = warnings(parse_rates(australian, ["postcode"]), "check --map")
    assert line == (
        "postcode: 0% in UK shape, check --map (100% look like another country's postcodes: "
        "compared as written, exactly or one character apart)"
    )
