"""The region's programme.toml: the practices as joint controllers, a processor, a start date
just after the region's end, every provider as a source (never the outside provider), the
purposes, one recipient and the objection policy. Writes test data only."""

from __future__ import annotations

import datetime as dt

from openphm.synth.extracts import TABLES

PROCESSOR = ("Synthetic Region PHM Processor", "YSP01")
PURPOSES = ["quality-improvement", "prevention", "service-planning", "safety-monitoring"]


def programme_toml(
    practices: list[str],
    providers: dict[str, list[str]],
    end: dt.date,
    data_format: str,
    layouts: dict[str, str] | None = None,
) -> str:
    """`providers` maps a table name (apc, ecds, ...) to the ODS codes that send it;
    `layouts` a table name to the published layout its sources send it in (none: the
    contract's own tables)."""
    layouts = layouts or {}
    start = end + dt.timedelta(days=1)
    lines = [
        "# Written by `phm synth`: a programme for the synthetic region (test data only).",
        "[programme]",
        'name = "Synthetic region population health management"',
        f"controllers = [{', '.join(repr(p) for p in practices)}]".replace("'", '"'),
        f"start_date = {start.isoformat()}",
        "duration_weeks = 20",
        "identifiable_retention_days = 14",
        "accept_test_nhs_numbers = true  # synthetic people have numbers from the 999 range",
        f"purposes = [{', '.join(f'{p!r}' for p in PURPOSES)}]".replace("'", '"'),
        "",
        "[programme.processor]",
        f'name = "{PROCESSOR[0]}"',
        f'ods_code = "{PROCESSOR[1]}"',
        "",
    ]
    sources = [("gp", p, "") for p in practices] + [
        (TABLES[table].kind, provider, layouts.get(table, ""))
        for table, codes in providers.items()
        for provider in codes
    ]
    names = practice_names(practices)
    for kind, provider, layout in sources:
        lines += [
            "[[sources]]",
            f'kind = "{kind}"',
            f'provider = "{provider}"',
            *([f'name = "{names[provider]}"'] if kind == "gp" else []),
            f'inbox = "extracts/{kind}/{provider}"',
            f'format = "{data_format}"',
            *([f'layout = "{layout}"'] if layout else []),
            "",
        ]
    lines += [
        "[[recipients]]",
        'name = "Integrated care board planning team"',
        'purpose = "service-planning"',
        f"expires = {(start + dt.timedelta(weeks=20)).isoformat()}",
        'fields = ["consultations", "clinical coding", "hospital activity"]',
        "",
        "[objections]",
        "type1 = true",
        "national_data_opt_out = true",
        "",
        *_indicators(practices),
    ]
    return "\n".join(lines)


# Invented practice names (the region's places are real LSOAs, its practices are not).
_PLACES = (
    "Riverside",
    "Millbrook",
    "Elm Grove",
    "Castle Street",
    "Hillview",
    "Parkside",
    "Station Road",
    "Orchard",
    "Beacon",
    "Marsh Lane",
    "Willow Bank",
    "Abbey Fields",
)
_KINDS = ("Surgery", "Medical Centre", "Health Centre", "Medical Practice")


def practice_names(practices: list[str]) -> dict[str, str]:
    """A made-up name per practice, in the order given, each different."""
    out = {}
    for i, code in enumerate(practices):
        place = _PLACES[i % len(_PLACES)]
        kind = _KINDS[(i // len(_PLACES)) % len(_KINDS)]
        rounds = i // (len(_PLACES) * len(_KINDS))
        out[code] = f"{place} {kind}" + (f" {rounds + 1}" if rounds else "")
    return out


# The indicator packs (openphm.indicators), each for the purpose it serves.
PACKS = [("pincer", "safety-monitoring"), ("care-gaps", "quality-improvement"),
         ("case-finding", "prevention"), ("hospital-use", "service-planning")]  # fmt: skip
PRACTICES_PER_PCN = 5
# The region's integrated care board: invented, as its practices are (no ICB has this code).
ICB_CODE, ICB_NAME = "QZZ", "Synthetic Integrated Care Board"


def _indicators(practices: list[str]) -> list[str]:
    """[indicators]: every pack; the practices in PCNs of five, in one place, in one ICB."""
    packs = ", ".join(f'{{ name = "{n}", purpose = "{p}" }}' for n, p in PACKS)
    pcns = {
        f"PCN {i // PRACTICES_PER_PCN + 1}": practices[i : i + PRACTICES_PER_PCN]
        for i in range(0, len(practices), PRACTICES_PER_PCN)
    }
    listed = ", ".join(
        f'"{name}" = [{", ".join(chr(34) + p + chr(34) for p in members)}]'
        for name, members in pcns.items()
    )
    everyone = ", ".join(f'"{p}"' for p in practices)
    return [
        "[indicators]",
        f"packs = [{packs}]",
        f"pcns = {{ {listed} }}",
        f'places = {{ "Synthetic region" = [{everyone}] }}',
        "",
        f"[indicators.icbs.{ICB_CODE}]",
        f'name = "{ICB_NAME}"',
        "",
    ]
