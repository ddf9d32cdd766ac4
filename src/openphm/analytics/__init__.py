"""Population analytics on the linked zone (issue 6).

Reads zone 3 (linked: people, registrations, GP events, medications, consultations, hospital,
community, social care, deaths) and writes zone 3 analytics tables beside it: condition
registers, multimorbidity and frailty scores, segments, activity and cost per person, and
measures per group with confidence intervals, age-standardised rates and inequality indices.
Everything relational is written once with Ibis; the statistics are pure functions.

    from openphm import analytics
    summary = analytics.build(con, date(2026, 9, 30))      # every table, one reference date
    analytics.dsr(counts, populations, analytics.esp2013_weights())

Definitions (registers, scores, segments, measures) are data, in `definitions`;
docs/analytics.md explains every rule and formula.
"""

from openphm.analytics.build import TABLES, BuildSummary, build, read_measures
from openphm.analytics.codelists import Codelist, Codelists, read_codelist_csv
from openphm.analytics.definitions import (
    CMS_CONDITIONS,
    EFI_DEFICITS,
    MEASURES,
    REGISTERS,
    SEGMENTS,
    AnalyticsOptions,
    Measure,
    Register,
)
from openphm.analytics.measures import esp2013_weights
from openphm.analytics.stats import chi2_quantile, crude_rate, dsr, poisson_limits, sii, wilson

__all__ = [
    "CMS_CONDITIONS",
    "EFI_DEFICITS",
    "MEASURES",
    "REGISTERS",
    "SEGMENTS",
    "TABLES",
    "AnalyticsOptions",
    "BuildSummary",
    "Codelist",
    "Codelists",
    "Measure",
    "Register",
    "build",
    "chi2_quantile",
    "crude_rate",
    "dsr",
    "esp2013_weights",
    "poisson_limits",
    "read_codelist_csv",
    "read_measures",
    "sii",
    "wilson",
]
