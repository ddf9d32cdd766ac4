"""Indicators (issue 25): rule-based worklists of the people who would benefit, each flag with
its reason in words and the date it became due.

Reads zone 3 (the linked zone) and writes zone 3 tables beside the analytics (person_indicators,
indicator_counts, indicator_runs). Indicators are data (`definitions`; the packs `pincer`, ...),
compiled to Ibis by `engine`, so they run on DuckDB and on Spark.

    from openphm import indicators
    chosen = indicators.choose([("pincer", "safety-monitoring")])
    summary = indicators.build(con, date(2026, 10, 31), chosen)
"""

from openphm.indicators.build import (
    TABLES,
    Chosen,
    IndicatorSummary,
    build,
    choose,
    evaluate,
    read_flags,
)
from openphm.indicators.definitions import Indicator, Pack
from openphm.indicators.packs import PACKS, PackError

__all__ = [
    "PACKS",
    "TABLES",
    "Chosen",
    "Indicator",
    "IndicatorSummary",
    "Pack",
    "PackError",
    "build",
    "choose",
    "evaluate",
    "read_flags",
]
