"""The counts the analyst's risk page and the web's JSON API show, built by `phm risk score`
with the scores, so that a page view reads three small tables instead of ranking everyone
(aggregates only, before disclosure control: the web controls each as it reads it).

| table | one row per |
|---|---|
| figures_risk_deciles | tenth of the population by risk: people, sum, lowest and highest risk |
| figures_risk_bands | band of predicted risk: people |
| figures_risk_rising | the scoring: people scored twice, whose risk rose; its dates, model |
"""

from __future__ import annotations

DECILES = "figures_risk_deciles"
BANDS = "figures_risk_bands"
RISING = "figures_risk_rising"
TABLES = (DECILES, BANDS, RISING)
# Bands of predicted risk, in percent, lower bound included.
RISK_BANDS = [(0, 5), (5, 10), (10, 20), (20, 50), (50, 100)]
RISING_TOP_PERCENT = 5
RISING_POINTS = 5  # a rise of this many percentage points or more


def band_labels() -> list[str]:
    return [f"{low}-{high}%" for low, high in RISK_BANDS[:-1]] + [f"{RISK_BANDS[-1][0]}%+"]


def _band_sql() -> str:
    cases = " ".join(
        f"WHEN risk * 100 < {high} THEN '{low}-{high}%'" for low, high in RISK_BANDS[:-1]
    )
    return f"CASE {cases} ELSE '{RISK_BANDS[-1][0]}%+' END"


def build(con, scores: str, source: str) -> dict[str, int]:
    """Write the three tables into `source` from the table of scores `scores` (person_risk's
    columns); rows written per table."""
    into = f"{source}.main"
    # Tenths of the population by risk (NTILE), ties broken by pseudonym: scores from a few
    # trees tie in large groups, and cutting by percentile would leave a decile empty when one
    # tie spans its edge (the people, not the scores, are split in ten).
    con.execute(
        f"CREATE OR REPLACE TABLE {into}.{DECILES} AS "
        "SELECT decile, count(*) AS people, sum(risk) AS risk_sum, min(risk) AS low, "
        "max(risk) AS high FROM (SELECT risk, ntile(10) OVER (ORDER BY risk, pseudonym) "
        f"AS decile FROM {scores}) GROUP BY ALL ORDER BY decile"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {into}.{BANDS} AS "
        f"SELECT {_band_sql()} AS band, count(*) AS people FROM {scores} GROUP BY ALL"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {into}.{RISING} AS SELECT "
        "count(*) FILTER (WHERE previous_risk IS NOT NULL) AS scored_both_times, "
        "count(*) FILTER (WHERE risk_change > 0) AS risk_rose, "
        f"count(*) FILTER (WHERE risk_change * 100 >= {RISING_POINTS}) AS rose_by_points, "
        f"count(*) FILTER (WHERE rising_percentile > {100 - RISING_TOP_PERCENT}) AS top_rises, "
        "max(reference_date) AS reference_date, "
        "max(previous_reference_date) AS previous_reference_date, max(model_id) AS model_id "
        f"FROM {scores}"
    )
    return {t: con.execute(f"SELECT count(*) FROM {into}.{t}").fetchone()[0] for t in TABLES}
