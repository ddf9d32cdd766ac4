"""The PINCER prescribing-safety indicators, one specification table each: who is in the
denominator, who is flagged, and the date the flag became due, at 2026-10-31.

Windows at 2026-10-31: the last 3 months are 2026-08-01 to 2026-10-31; "more than 3 months ago"
ends 2026-07-31; 4 to 6 months ago is 2026-05-01 to 2026-07-31; the last 6 months start
2026-05-01; 7 to 12 months ago is 2025-10-31 to 2026-04-30 (2026-04-30 less 6 months is
2025-10-30, and the window starts the day after); the last 15 months start 2025-08-01, and "more
than 15 months ago" ends 2025-07-31. Each edge has a person a day inside and a day outside."""

import pytest

from .spec import expected, parse, reasons, run

SPECS = {
    "pincer_gi_a": """
person             | age | issued                            | denominator | flagged | due
nsaid_at_65        | 65  | nsaid 2026-08-01                  | yes | yes | 2026-08-01
nsaid_at_64        | 64  | nsaid 2026-08-01                  | no  | no  |
nsaid_day_before   | 70  | nsaid 2026-07-31                  | yes | no  |
nsaid_on_the_day   | 70  | nsaid 2026-10-31                  | yes | yes | 2026-10-31
nsaid_after        | 70  | nsaid 2026-11-01                  | yes | no  |
first_issue_due    | 70  | nsaid 2026-09-01, nsaid 2026-08-15 | yes | yes | 2026-08-15
with_ppi           | 70  | nsaid 2026-08-01, ppi 2026-10-31  | no  | no  |
ppi_before_window  | 70  | nsaid 2026-08-01, ppi 2026-07-31  | yes | yes | 2026-08-01
no_nsaid           | 80  | ppi 2026-07-01                    | yes | no  |
""",
    "pincer_gi_b": """
person               | recorded         | issued                           | denominator | flagged | due
ulcer_then_nsaid     | pep 2020-01-01   | nsaid 2026-09-01                 | yes | yes | 2026-09-01
bleed_then_nsaid     | gibleed 2026-07-31 | nsaid 2026-09-01               | yes | yes | 2026-09-01
ulcer_too_recent     | pep 2026-08-01   | nsaid 2026-09-01                 | no  | no  |
ulcer_with_ppi       | pep 2020-01-01   | nsaid 2026-09-01, ppi 2026-08-01 | no  | no  |
ulcer_nsaid_outside  | pep 2020-01-01   | nsaid 2026-07-31                 | yes | no  |
no_ulcer             |                  | nsaid 2026-09-01                 | no  | no  |
""",  # noqa: E501 (a table reads best on one line per person)
    "pincer_gi_d": """
person               | issued                                 | denominator | flagged | due
both                 | anticoag 2026-08-01, nsaid 2026-09-10  | yes | yes | 2026-09-10
nsaid_first          | nsaid 2026-08-05, anticoag 2026-10-01  | yes | yes | 2026-10-01
anticoag_only        | anticoag 2026-08-01                    | yes | no  |
anticoag_outside     | anticoag 2026-07-31, nsaid 2026-09-10  | no  | no  |
nsaid_outside        | anticoag 2026-08-01, nsaid 2026-07-31  | yes | no  |
with_ppi_still       | anticoag 2026-08-01, nsaid 2026-09-10, ppi 2026-09-10 | yes | yes | 2026-09-10
""",  # noqa: E501 (a table reads best on one line per person)
    "pincer_gi_e": """
person            | issued                                           | denominator | flagged | due
both              | anticoag 2026-08-01, antiplat 2026-08-20         | yes | yes | 2026-08-20
with_aspirin      | anticoag 2026-08-01, aspirin 2026-09-01          | yes | yes | 2026-09-01
with_ppi          | anticoag 2026-08-01, antiplat 2026-08-20, ppi 2026-10-31 | no | no |
antiplat_outside  | anticoag 2026-08-01, antiplat 2026-07-31         | yes | no  |
no_anticoag       | antiplat 2026-08-20                              | no  | no  |
""",
    "pincer_gi_f": """
person            | issued                                   | denominator | flagged | due
aspirin_and_other | aspirin 2026-08-01, antiplat 2026-10-31  | yes | yes | 2026-10-31
other_outside     | aspirin 2026-08-01, antiplat 2026-07-31  | yes | no  |
with_ppi          | aspirin 2026-08-01, antiplat 2026-08-01, ppi 2026-08-01 | no | no |
other_only        | antiplat 2026-08-01                      | no  | no  |
""",
    "pincer_as_g": """
person             | recorded                                    | issued           | denominator | flagged | due
asthma_on_nsbb     | asthma 2015-03-01                           | nsbb 2026-08-01  | yes | yes | 2026-08-01
asthma_too_recent  | asthma 2026-08-01                           | nsbb 2026-08-01  | no  | no  |
asthma_at_edge     | asthma 2026-07-31                           | nsbb 2026-08-01  | yes | yes | 2026-08-01
resolved           | asthma 2015-03-01, asthma_res 2020-01-01    | nsbb 2026-08-01  | no  | no  |
resolved_same_day  | asthma 2015-03-01, asthma_res 2015-03-01    | nsbb 2026-08-01  | no  | no  |
recurred           | asthma 2015-03-01, asthma_res 2020-01-01, asthma 2022-06-01 | nsbb 2026-08-01 | yes | yes | 2026-08-01
nsbb_outside       | asthma 2015-03-01                           | nsbb 2026-07-31  | yes | no  |
""",  # noqa: E501 (a table reads best on one line per person)
    "pincer_hf_i": """
person          | recorded         | issued            | denominator | flagged | due
hf_on_nsaid     | hf 2019-05-05    | nsaid 2026-10-01  | yes | yes | 2026-10-01
hf_too_recent   | hf 2026-08-01    | nsaid 2026-10-01  | no  | no  |
hf_no_nsaid     | hf 2019-05-05    | nsaid 2026-07-31  | yes | no  |
""",
    # On an ACE inhibitor (or ARB) or loop diuretic long term: issued on or before 2025-07-31
    # and in the last 6 months (from 2026-05-01). Monitoring: both tests in the last 15 months.
    "pincer_mo_ac": """
person              | age | issued                              | recorded                             | denominator | flagged | due
unmonitored         | 80  | acei 2024-01-01, acei 2026-09-01    |                                      | yes | yes | 2024-01-01
monitored           | 80  | acei 2024-01-01, acei 2026-09-01    | renal 2025-08-01, electro 2025-08-01 | yes | no  |
renal_only          | 80  | acei 2024-01-01, acei 2026-09-01    | renal 2026-01-01, electro 2025-07-31 | yes | yes | 2026-10-31
lapsed_earlier      | 80  | loop 2025-07-31, loop 2026-05-01    | renal 2025-03-10, electro 2025-03-10 | yes | yes | 2026-06-10
aged_74             | 74  | acei 2024-01-01, acei 2026-09-01    |                                      | no  | no  |
started_too_late    | 80  | acei 2025-08-01, acei 2026-09-01    |                                      | no  | no  |
stopped             | 80  | acei 2024-01-01, acei 2026-04-30    |                                      | no  | no  |
mixed_drugs         | 80  | acei 2024-01-01, loop 2026-09-01    |                                      | no  | no  |
""",  # noqa: E501 (a table reads best on one line per person)
    "pincer_mo_me": """
person            | issued                         | recorded                         | denominator | flagged | due
unmonitored       | met 2026-06-01, met 2026-09-01 |                                  | yes | yes | 2026-06-01
fbc_and_lft       | met 2026-06-01, met 2026-09-01 | fbc 2026-08-01, lft 2026-08-01   | yes | no  |
lft_lapsed        | met 2026-06-01, met 2026-09-01 | fbc 2026-08-01, lft 2026-07-31   | yes | yes | 2026-10-31
fbc_lapsed        | met 2026-05-01, met 2026-08-01 | fbc 2026-06-15, lft 2026-10-01   | yes | yes | 2026-09-15
new_starter       | met 2026-08-01, met 2026-09-01 |                                  | no  | no  |
started_too_early | met 2026-04-30, met 2026-09-01 |                                  | no  | no  |
stopped           | met 2026-06-01, met 2026-07-31 |                                  | no  | no  |
""",  # noqa: E501 (a table reads best on one line per person)
    "pincer_mo_li": """
person        | issued                           | recorded          | denominator | flagged | due
no_level      | lith 2026-07-31, lith 2026-10-31 |                   | yes | yes | 2026-07-31
level_inside  | lith 2026-07-31, lith 2026-10-31 | lithlev 2026-08-01 | yes | no |
level_outside | lith 2026-07-31, lith 2026-10-31 | lithlev 2026-07-31 | yes | yes | 2026-10-31
""",
    "pincer_mo_am": """
person          | issued                           | recorded       | denominator | flagged | due
no_tft          | amio 2025-10-31, amio 2026-05-01 |                | yes | yes | 2025-10-31
tft_inside      | amio 2025-12-01, amio 2026-06-01 | tft 2026-05-01 | yes | no  |
tft_outside     | amio 2025-12-01, amio 2026-06-01 | tft 2026-04-30 | yes | yes | 2026-10-30
started_late    | amio 2026-04-30, amio 2026-06-01 |                | yes | yes | 2026-04-30
too_early_only  | amio 2025-10-30, amio 2026-06-01 |                | no  | no  |
recent_stopped  | amio 2025-12-01, amio 2026-04-30 |                | no  | no  |
""",
}


@pytest.mark.parametrize("indicator", SPECS)
def test_each_pincer_indicator_flags_exactly_the_people_its_definition_names(
    indicator, engine, tmp_path
):
    rows = parse(SPECS[indicator])
    assert run("pincer", indicator, rows, engine=engine, where=tmp_path) == expected(rows)


def test_a_persons_reason_names_each_missing_test(engine, tmp_path):
    rows = parse(SPECS["pincer_mo_me"])
    got = reasons("pincer", "pincer_mo_me", rows, engine=engine, where=tmp_path)
    assert got["unmonitored"] == (
        "On methotrexate without monitoring in the last 3 months: no full blood count recorded "
        "in the last 3 months; no liver function test recorded in the last 3 months"
    )
    assert got["lft_lapsed"].endswith(": no liver function test recorded in the last 3 months")
