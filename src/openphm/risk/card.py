"""The model card: what the model was trained on, how well it does overall and per group, what
it reads, and what it cannot do. Aggregates only.

The card as stored (zone 3, linked.risk_models) keeps true counts; `publishable` rounds and
suppresses them with the programme's disclosure rules before the card reaches zone 4, and
drops the metrics of any group that is suppressed.
"""

from __future__ import annotations

import datetime as dt
from html import escape

import pandas as pd

from openphm.disclosure import DisclosureRules
from openphm.risk import model as models
from openphm.risk.features import FEATURES
from openphm.risk.plan import OUTCOME_MONTHS, TrainingPlan

OUTCOME = (
    f"at least one emergency admission (admission method 21–28) in the {OUTCOME_MONTHS} "
    "months after the reference date"
)
LIMITATIONS = (
    "Trained on this programme's population only; it has not been validated elsewhere.",
    "People who die or leave in the outcome year without an admission count as having none: "
    "for the very ill, risk of admission competes with risk of death.",
    "LSOA and so IMD decile are each person's latest known, not as at the reference date.",
    "Admissions to hospitals outside the programme's sources are not seen, in features or outcome.",
    "Ethnic group is used to report fairness, never as an input; sex and deprivation are "
    "inputs, as in the NHS models this follows.",
    "A score is a probability for a population, not a diagnosis: use it to offer review, "
    "never to withhold care.",
)


def build_card(
    model_id: str,
    trained_at: dt.datetime,
    plan: TrainingPlan,
    training,
    validation,
    booster,
    results: dict,
    seconds: dict,
) -> dict:
    limitations = list(LIMITATIONS)
    if plan.split != "temporal":
        limitations.insert(
            0,
            "Validated on held-out people at the training date, not on a "
            "later year (the data hold less than 36 months): drift between "
            "years is not measured.",
        )
    if plan.feature_history_months < 12:
        limitations.insert(
            0,
            f"Prior-activity features at the training date see only "
            f"{plan.feature_history_months} months of history.",
        )
    gain = models.importance(booster)
    return {
        "model_id": model_id,
        "trained_at": trained_at.isoformat(),
        "outcome": OUTCOME,
        "plan": {
            "history_start": plan.history_start.isoformat(),
            "data_end": plan.data_end.isoformat(),
            "train_date": plan.train_date.isoformat(),
            "validation_date": plan.validation_date.isoformat(),
            "split": plan.split,
            "description": plan.describe(),
            "feature_history_months": plan.feature_history_months,
        },
        "training": _counts(training),
        "validation": _counts(validation),
        "model": {
            "kind": "LightGBM gradient-boosted trees",
            "trees": booster.num_trees(),
            "parameters": models.PARAMS,
        },
        "baseline": {
            "kind": "logistic regression (scikit-learn), standardised inputs, counts on a log scale"
        },
        "features": [
            {"name": f.name, "label": f.label, "gain_share": gain[f.name]} for f in FEATURES
        ],
        "metrics": {"model": results["model"], "baseline": results["baseline"]},
        "groups": results["groups"]
        .astype(object)
        .where(results["groups"].notna(), None)
        .to_dict("records"),
        "calibration_bins": results["bins"].to_dict("records"),
        "seconds": seconds,
        "limitations": limitations,
    }


def _counts(frame: pd.DataFrame) -> dict:
    events = int(frame["outcome"].sum())
    return {
        "people": len(frame),
        "events": events,
        "outcome_rate": round(events / len(frame), 4) if len(frame) else None,
    }


def publishable(card: dict, rules: DisclosureRules) -> dict:
    """The card with every count rounded or suppressed, suppressed groups' metrics gone, and
    every observed rate recomputed from the published counts: a rate from the true counts,
    given to four places, would let a reader work the exact count back out."""
    out = {**card}
    for part in ("training", "validation"):
        c = card[part]
        people, events = rules.publish(c["people"]), rules.publish(c["events"])
        out[part] = {
            **c,
            "people": people,
            "events": events,
            "outcome_rate": _rate(events, people),
        }
    validation_rate = out["validation"]["outcome_rate"]
    out["metrics"] = {
        name: {**m, "observed_rate": validation_rate} if "observed_rate" in m else m
        for name, m in card["metrics"].items()
    }
    groups = []
    for g in card["groups"]:
        people, events = rules.publish(g["people"]), rules.publish(g["events"])
        non_events = rules.publish(g["people"] - g["events"])
        row = {"group_by": g["group_by"], "group": g["group"], "people": people, "events": events}
        if None not in (people, events, non_events):
            row |= {
                k: v for k, v in g.items() if k not in ("group_by", "group", "people", "events")
            }
            if "observed_rate" in row:
                row["observed_rate"] = _rate(events, people)
        groups.append(row)
    out["groups"] = groups
    bins = []
    for b in card["calibration_bins"]:
        people = rules.publish(b["people"])
        events = rules.publish(round(b["observed"] * b["people"]))
        bins.append({**b, "people": people, "observed": _rate(events, people)})
    out["calibration_bins"] = bins
    return out


def _rate(events: int | None, people: int | None) -> float | None:
    if events is None or not people:
        return None
    return round(events / people, 4)


def _f(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _n(value) -> str:
    return "suppressed" if value is None else f"{value:,}"


def markdown(card: dict) -> str:
    """The card as a page a clinician or DPO can read."""
    m, b = card["metrics"]["model"], card["metrics"]["baseline"]
    lines = [
        f"# Model card: {card['model_id']}",
        "",
        f"**Predicts** {card['outcome']}.  ",
        f"**Trained** {card['trained_at']}; {card['plan']['description']}.  ",
        f"**Data** {card['plan']['history_start']} to {card['plan']['data_end']}.",
        "",
        "| people | count | with the outcome | rate |",
        "|---|---|---|---|",
        *(
            f"| {part} | {_n(card[part]['people'])} | {_n(card[part]['events'])} | "
            f"{_f(card[part]['outcome_rate'])} |"
            for part in ("training", "validation")
        ),
        "",
        "## Validation metrics",
        "",
        "| model | AUC | average precision | calibration slope | calibration intercept | "
        "observed | mean predicted |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {name} | {_f(x['auc'])} | {_f(x['average_precision'])} | "
            f"{_f(x['calibration_slope'])} | {_f(x['calibration_intercept'])} | "
            f"{_f(x['observed_rate'])} | {_f(x['mean_predicted'])} |"
            for name, x in (("LightGBM", m), ("logistic regression", b))
        ),
        "",
        "## Per group (LightGBM, validation people)",
        "",
        "| group | value | people | with the outcome | AUC | average precision | "
        "calibration slope | observed | mean predicted |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {g['group_by']} | {g['group']} | {_n(g['people'])} | {_n(g['events'])} | "
            f"{_f(g.get('auc'))} | {_f(g.get('average_precision'))} | "
            f"{_f(g.get('calibration_slope'))} | {_f(g.get('observed_rate'))} | "
            f"{_f(g.get('mean_predicted'))} |"
            for g in card["groups"]
        ),
        "",
        "Groups with fewer than 20 people with or without the outcome have no metrics.",
        "",
        f"## Features ({card['model']['kind']}, {card['model']['trees']} trees)",
        "",
        "| feature | meaning | share of gain |",
        "|---|---|---|",
        *(
            f"| {f['name']} | {f['label']} | {f['gain_share']:.3f} |"
            for f in sorted(card["features"], key=lambda f: -f["gain_share"])
        ),
        "",
        "## Limitations",
        "",
        *(f"- {text}" for text in card["limitations"]),
        "",
    ]
    return "\n".join(lines)


def calibration_svg(bins: list[dict], title: str = "Calibration (validation people)") -> str:
    """Observed against predicted by tenth of predicted risk, with the diagonal. A tenth whose
    count was suppressed has no observed rate to plot and is left out."""
    bins = [b for b in bins if b["observed"] is not None]
    size, pad = 360, 48
    top = max([1e-3] + [max(b["mean_predicted"], b["observed"]) for b in bins]) * 1.05

    def xy(px, py):
        return pad + px / top * (size - 2 * pad), size - pad - py / top * (size - 2 * pad)

    points = " ".join("{:.1f},{:.1f}".format(*xy(b["mean_predicted"], b["observed"])) for b in bins)
    dots = "".join(
        '<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="#005eb8"/>'.format(
            *xy(b["mean_predicted"], b["observed"])
        )
        for b in bins
    )
    (x0, y0), (x1, y1) = xy(0, 0), xy(top, top)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'role="img" aria-label="{escape(title)}" font-family="Arial" font-size="11">'
        f"<title>{escape(title)}</title>"
        f'<rect x="{pad}" y="{pad}" width="{size - 2 * pad}" height="{size - 2 * pad}" '
        'fill="none" stroke="#768692"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="#aeb7bd" '
        'stroke-dasharray="4 3"/>'
        f'<polyline points="{points}" fill="none" stroke="#005eb8" stroke-width="1.5"/>{dots}'
        f'<text x="{size / 2}" y="{size - 12}" text-anchor="middle">mean predicted risk '
        f"(0 to {top:.2f})</text>"
        f'<text x="14" y="{size / 2}" text-anchor="middle" transform="rotate(-90 14 '
        f'{size / 2})">observed rate</text>'
        f'<text x="{size / 2}" y="24" text-anchor="middle" font-weight="bold">'
        f"{escape(title)}</text></svg>\n"
    )
