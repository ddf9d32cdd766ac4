"""Did an intervention change a cohort's use of services? Difference-in-differences against a
comparison group matched exactly on age band, sex, IMD quintile, segment and risk decile.

Reads zone 3 (cohort_members, person_risk_history, analytics_population, person_segments and
the activity tables); returns aggregates only, which `report` puts through disclosure control.
`evaluate_cohort` is `phm evaluate` as a stage (the command parses and prints): it evaluates,
adds what the practices recorded (cohorts.outcomes), writes the report to zone 4
(`outputs/evaluations/`) and audits counts only.

Method. Every person scored at the cohort's reference date falls in one stratum (age band ×
sex × IMD quintile × segment × tenth of risk). Cohort members in a stratum with no one outside
the cohort are left out (counted as unmatched); people outside the cohort are weighted so that
each stratum's comparison weight equals its number of members (exact matching, weights for the
effect on the treated). For each measure, a person's change is their rate per person-year in
the `months` after --from minus the `months` before; the estimate is the members' mean change
minus the comparison's weighted mean change, with a normal 95% interval.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from openphm.analytics.zone import Zone, date_literal
from openphm.cohorts.build import MEMBERS, CohortError
from openphm.risk.plan import add_months

MATCH_ON = ("age_band", "sex", "imd_quintile", "segment", "risk_decile")
# (measure, table, date column, boolean column the event must have)
MEASURES = (
    ("emergency_admissions", "apc_spells", "admission_date", "emergency"),
    ("ec_attendances", "ec_attendances", "arrival_date", None),
    ("gp_consultations", "consultations", "consultation_date", None),
    ("outpatient_attendances", "op_appointments", "appointment_date", "attended"),
)
ASSUMPTIONS = (
    "Parallel trends: without the intervention, members' rates would have changed as the "
    "matched comparison's did.",
    "Matching on age band, sex, IMD quintile, segment and risk decile at the cohort's reference "
    "date removes the differences that matter; anything else that led to selection is not "
    "adjusted for.",
    "Selecting on high or rising risk invites regression to the mean: matching on risk decile "
    "gives the comparison the same pull, which is why it is matched on.",
    "No spill-over: people outside the cohort were not touched by the intervention.",
    "Each period counts the full number of months for everyone: deaths and moves in a period "
    "are not censored, which biases both groups alike.",
)


@dataclass
class Evaluation:
    cohort: str
    start: dt.date
    months: int
    after_months: int  # fewer than `months` when the data end sooner
    treated: int
    matched: int
    comparison: int
    cells: pd.DataFrame  # group, period, measure, people, events, years, rate_per_1000_years
    estimates: pd.DataFrame  # measure, did_per_1000_years, lower_95, upper_95


def _people(zone: Zone, cohort: str) -> pd.DataFrame:
    if MEMBERS not in zone.tables():
        raise CohortError("no cohort has been built yet: run phm cohort first")
    members = zone.table(MEMBERS).filter(lambda t: t.cohort == cohort).to_pandas()
    if members.empty:
        raise CohortError(f"no cohort named {cohort!r}: build it with phm cohort first")
    day = members["reference_date"].iloc[0]
    history = zone.table("person_risk_history")
    scored = history.filter(history.reference_date == date_literal(pd.Timestamp(day).date()))
    pop = zone.table("analytics_population").select("pseudonym", "age_band", "sex", "imd_quintile")
    seg = zone.table("person_segments").select("pseudonym", "segment")
    frame = (
        scored.select("pseudonym", "risk").join(pop, "pseudonym").join(seg, "pseudonym").to_pandas()
    )
    frame["risk_decile"] = pd.qcut(frame["risk"].rank(method="first"), 10, labels=False)
    frame["imd_quintile"] = frame["imd_quintile"].astype("string").fillna("Unknown")
    frame["treated"] = frame["pseudonym"].isin(set(members["pseudonym"]))
    return frame


def _weights(frame: pd.DataFrame) -> pd.DataFrame:
    keys = list(MATCH_ON)
    sizes = frame.groupby([*keys, "treated"], dropna=False).size().unstack(fill_value=0)
    sizes = sizes.reindex(columns=[False, True], fill_value=0)
    sizes.columns = ["controls", "members"]
    frame = frame.merge(sizes.reset_index(), on=keys, how="left")
    matched = (frame["controls"] > 0) & (frame["members"] > 0)
    frame["weight"] = np.where(frame["treated"], 1.0, frame["members"] / frame["controls"])
    frame.loc[~matched, "weight"] = 0.0
    return frame


def _counts(zone: Zone, start: dt.date, months: int, after_end: dt.date) -> pd.DataFrame:
    before = date_literal(add_months(start, -months))
    begin, end = date_literal(start), date_literal(after_end)
    out = None
    for name, table, column, flag in MEASURES:
        t = zone.table(table)
        t = t.filter(t[column] >= before, t[column] <= end)
        ok = t[flag].fill_null(False) if flag else True
        counts = (
            t.group_by("pseudonym")
            .agg(
                **{
                    f"{name}_before": t.count(where=(t[column] < begin) & ok),
                    f"{name}_after": t.count(where=(t[column] >= begin) & ok),
                }
            )
            .to_pandas()
        )
        out = counts if out is None else out.merge(counts, on="pseudonym", how="outer")
    return out


def evaluate(con_or_backend, cohort: str, start: dt.date, months: int = 12) -> Evaluation:
    zone = Zone.over(con_or_backend)
    people = _weights(_people(zone, cohort))
    latest = max(zone.table(t).select(c).to_pandas()[c].max() for _, t, c, _ in MEASURES)
    after_end = min(add_months(start, months) - dt.timedelta(days=1), pd.Timestamp(latest).date())
    if after_end <= start:
        raise CohortError(f"the data end on {latest}: nothing after {start} to evaluate yet")
    after_years = ((after_end - start).days + 1) / 365.25
    before_years = months / 12
    frame = people.merge(_counts(zone, start, months, after_end), on="pseudonym", how="left")
    frame = frame.fillna({c: 0 for c in frame.columns if c.endswith(("_before", "_after"))})
    used = frame[frame["weight"] > 0]
    if not used["treated"].any():
        raise CohortError(
            f"no member of {cohort!r} has anyone outside the cohort in their stratum (age band, "
            "sex, IMD quintile, segment, risk decile): there is no like-for-like comparison "
            "group, so the cohort cannot be evaluated this way"
        )
    cells, estimates = [], []
    for name, *_ in MEASURES:
        change = used[f"{name}_after"] / after_years - used[f"{name}_before"] / before_years
        t, c = used["treated"], ~used["treated"]
        w = used.loc[c, "weight"]
        mean_t, mean_c = change[t].mean(), np.average(change[c], weights=w)
        var_t = change[t].var(ddof=1) / t.sum()
        var_c = float(np.sum(w**2 * (change[c] - mean_c) ** 2) / w.sum() ** 2)
        se = np.sqrt(var_t + var_c)
        did = (mean_t - mean_c) * 1000
        estimates.append(
            {
                "measure": name,
                "did_per_1000_years": did,
                "lower_95": did - 1960 * se,
                "upper_95": did + 1960 * se,
            }
        )
        for group, mask in (("cohort", t), ("comparison", c)):
            part = used[mask]
            weights = part["weight"]
            for period, years in (("before", before_years), ("after", after_years)):
                events = part[f"{name}_{period}"]
                cells.append(
                    {
                        "group": group,
                        "period": period,
                        "measure": name,
                        "people": len(part),
                        "events": int(events.sum()),
                        "years": years,
                        "rate_per_1000_years": float(
                            np.average(events, weights=weights) / years * 1000
                        ),
                    }
                )
    treated = int(people["treated"].sum())
    matched = int(used["treated"].sum())
    return Evaluation(
        cohort,
        start,
        months,
        round(after_years * 12),
        treated,
        matched,
        int((~used["treated"]).sum()),
        pd.DataFrame(cells),
        pd.DataFrame(estimates),
    )


def report(result: Evaluation, rules) -> tuple[str, pd.DataFrame]:
    """The method, assumptions and results as text, and the results table, with every count
    rounded or suppressed; a rate or estimate whose group is suppressed is withheld."""
    cells = result.cells.copy()
    cells["people"] = cells["people"].map(rules.publish)
    cells["events"] = cells["events"].map(rules.publish)
    hidden = cells["people"].isna() | cells["events"].isna()
    # A rate from the true counts would give a suppressed or rounded count straight back
    # (rate × person-years): the cohort's rate is recomputed from the published counts, and
    # the comparison group's (weighted by matching, so no count divides out of it) is shown to
    # one decimal place only.
    cohort = (cells["group"] == "cohort") & ~hidden
    cells.loc[cohort, "rate_per_1000_years"] = (
        cells.loc[cohort, "events"].astype(float)
        / cells.loc[cohort, "people"].astype(float)
        / cells.loc[cohort, "years"]
        * 1000
    )
    cells["rate_per_1000_years"] = cells["rate_per_1000_years"].astype(float).round(1)
    cells = cells.drop(columns="years")
    cells.loc[hidden, "rate_per_1000_years"] = np.nan
    cohort_hidden = rules.publish(result.matched) is None
    estimates = result.estimates.copy()
    if cohort_hidden:
        estimates.loc[:, ["did_per_1000_years", "lower_95", "upper_95"]] = np.nan
    n = rules.publish(result.matched)
    lines = [
        f"# Evaluation of cohort {result.cohort} from {result.start}",
        "",
        "Method: difference-in-differences of rates per 1,000 person-years in the "
        f"{result.months} months before {result.start} and the {result.after_months} months "
        "after it, against a comparison group matched exactly on age band, sex, IMD quintile, "
        "segment and risk decile at the cohort's reference date (weights for the effect on the "
        "treated; 95% intervals from the normal approximation).",
        "",
        f"Cohort members matched: {n if n is not None else 'suppressed'} "
        f"(of {rules.publish(result.treated) or 'a few'}); comparison people: "
        f"{rules.publish(result.comparison) or 'suppressed'}. Counts rounded to "
        f"{rules.multiple}, {rules.threshold} or fewer suppressed.",
        "",
        "| measure | difference-in-differences per 1,000 person-years | 95% interval |",
        "|---|---|---|",
        *(
            f"| {r.measure} | {_f(r.did_per_1000_years)} | {_f(r.lower_95)} to {_f(r.upper_95)} |"
            for r in estimates.itertuples()
        ),
        "",
        "Assumptions:",
        *(f"- {a}" for a in ASSUMPTIONS),
        "",
    ]
    return "\n".join(lines), cells.merge(estimates, on="measure", how="left")


def _f(value) -> str:
    return "suppressed" if value != value else f"{value:,.1f}"


@dataclass(frozen=True)
class Evaluated:
    result: Evaluation
    text: str  # the report as written: method, assumptions, controlled results, outcomes
    report: Path  # outputs/evaluations/<cohort>-from-<date>.md; its table is the .csv beside it


def evaluate_cohort(ws, actor, cohort: str, start: dt.date, months: int = 12) -> Evaluated:
    """`phm evaluate` as a stage: the difference-in-differences of `cohort`'s activity from
    `start`, with the outcomes its practices recorded per practice, both under the programme's
    disclosure rules, written to WORKSPACE/outputs/evaluations/ (.md and .csv) and audited
    (cohort.evaluate, counts only). The caller authorises (cohort.evaluate)."""
    from openphm.cohorts.outcomes import outcome_counts, outcome_lines
    from openphm.disclosure.releases import rules_for

    rules = rules_for(ws)
    con = ws.connect_linked(read_only=True)
    try:
        result = evaluate(con, cohort, start, months)
        outcomes = outcome_counts(con, cohort, rules)
    finally:
        con.close()
    text, table = report(result, rules)
    if outcomes is not None:
        text += (
            "\n\n## What the practices recorded\n\nPeople per practice and outcome, as the "
            "practices recorded them for this cohort's lists (disclosure-controlled):\n\n"
            + "\n".join(outcome_lines(outcomes))
            + "\n"
        )
    folder = ws.zone("outputs") / "evaluations"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{cohort}-from-{start}"
    (folder / f"{stem}.md").write_text(text)
    table.to_csv(folder / f"{stem}.csv", index=False)
    ws.audit.record(
        actor,
        "cohort.evaluate",
        reads=("linked",),
        writes=(f"outputs/evaluations/{stem}.md", f"outputs/evaluations/{stem}.csv"),
        counts={
            "cohort": result.treated,
            "matched": result.matched,
            "comparison": result.comparison,
        },
    )
    return Evaluated(result, text, folder / f"{stem}.md")
