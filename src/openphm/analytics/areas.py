"""The programme's areas above the practice (primary care network, place, integrated care
board) as groupings of the person-level tables: each practice's area at each level, from the
hierarchy programme.toml declares (`[indicators] pcns`, `places`, `icbs`; config
`IndicatorSettings.hierarchy`). The measures, the activity figures and the measures kept over
refreshes are broken down by each level the programme names, as indicator_rates is.

A person whose practice is in no area of a level (a practice programme.toml leaves out of every
PCN, or someone with no practice) is counted in that level's NOT_IN group, so each level's
groups add up to the whole programme."""

from __future__ import annotations

# Top down would be ICB, place, PCN; the tables list them as the pages show them after the
# practice: the nearest grouping first.
LEVELS: tuple[str, ...] = ("pcn", "place", "icb")
TITLES = {
    "pcn": "primary care network",
    "place": "place",
    "icb": "integrated care board",
}
HEADINGS = {"pcn": "PCN", "place": "Place", "icb": "ICB"}
NOT_IN = {
    "pcn": "Not in a PCN",
    "place": "Not in a place",
    "icb": "Not in an ICB",
}


def levels_of(areas: dict[str, dict[str, str]] | None) -> tuple[str, ...]:
    """The levels `areas` ({level: {practice: area}}) names any area of, in LEVELS order."""
    return tuple(level for level in LEVELS if (areas or {}).get(level))
