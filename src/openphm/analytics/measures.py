"""Measures: each `definitions.Measure` per group, with crude values and confidence limits,
directly age-standardised values (ESP2013, Dobson limits), and the slope and relative index of
inequality across IMD deciles.

The person-level work is a few Ibis aggregations (numerator and denominator sums per group and
age band, for every measure at once): groupings of few values are asked of the engine together
(`BUNDLES`: the sums by all of a bundle's columns and age band in one pass over the people) and
each grouping's sums are added up from those, as the areas' are from the practices'; everything
after that runs on the small table of sums with the pure functions of `stats`. Nothing here
suppresses or rounds: the disclosure module does that to outputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.analytics import stats
from openphm.analytics.definitions import AGE_BANDS_19, Measure

OVERALL = "all"
COLUMNS = (
    "measure", "statistic", "group_by", "group_value", "numerator", "denominator", "value",
    "lower_95", "upper_95", "multiplier", "method", "flag",
)  # fmt: skip
_TEXT = ("measure", "statistic", "group_by", "group_value", "method", "flag")
# Column types of the table; the numeric ones are made float in every result.
_TYPES = {c: "string" if c in _TEXT else float for c in COLUMNS}
# Why a value is missing or to be read with care; empty when there is nothing to say.
EMPTY_BAND_FLAG = (
    "not standardised: {bands} age band(s) of the measure's ages have no population here "
    "(OHID's calculate_dsr needs every band's population above 0); see the crude value"
)
FEW_EVENTS_FLAG = "not standardised: fewer than 10 events (as OHID's phe_dsr)"


def esp2013_weights() -> np.ndarray:
    """The 19-band ESP2013 weights in AGE_BANDS_19 order (sum 100,000)."""
    from openphm import reference

    esp = reference.esp2013().groupby("age_band_19")["esp2013_weight"].sum()
    return esp.reindex(list(AGE_BANDS_19)).to_numpy(dtype=float)


# Groupings asked of the engine together: one pass over the people sums by every column of a
# bundle and age band, and each grouping's sums are added up from those (`bundled_sums`). A
# bundle's columns together take few values (at a million people: 1,326 combinations of sex,
# ethnic group, segment and age band; 17,477 of LSOA, its deprivation and age band), so the
# sums stay small; the overall and age-band sums come from the first bundle asked for. Sums
# add up, so this is what asking the engine for each grouping gives (to the last bit for
# counts; sums of non-integers in another order, as the engine's own differ between runs).
BUNDLES: tuple[tuple[str, ...], ...] = (
    ("sex", "ethnic_group", "segment"),
    ("lsoa", "imd_decile", "imd_quintile", "core20"),
)


def group_sums(person, measures: tuple[Measure, ...], grouping: str | None) -> pd.DataFrame:
    """Sums per (group, age band): n_<m>, d_<m> and, for means, s_<m> (sum of squares)."""
    return _labelled(_sums(person, measures, grouping), grouping)


def _sums(person, measures: tuple[Measure, ...], grouping: str | None) -> pd.DataFrame:
    """The engine's sums per (grouping, age band), as it returns them (nulls as nulls)."""
    return _sums_by(person, measures, [] if grouping in (None, "age_band") else [grouping])


def _sums_by(person, measures: tuple[Measure, ...], keys: list[str]) -> pd.DataFrame:
    """The engine's sums per `keys` and age band, as it returns them (nulls as nulls)."""
    aggs = {}
    for m in measures:
        counted = person[m.denominator].cast("float64") > 0
        value = person[m.numerator].cast("float64")
        aggs[f"n_{m.name}"] = value.sum(where=counted)
        aggs[f"d_{m.name}"] = person[m.denominator].cast("float64").sum()
        if m.kind == "mean":
            aggs[f"s_{m.name}"] = (value * value).sum(where=counted)
    return person.group_by([*keys, "age_band"]).agg(**aggs).to_pandas()


def bundled_sums(person, measures: tuple[Measure, ...], groupings) -> dict:
    """`group_sums` of each of `groupings` (None: overall) that is in a bundle with others
    (`BUNDLES`), from one aggregation per bundle; {grouping: sums}. The groupings in no
    bundle are left to the caller."""
    wanted = set(groupings)
    out: dict = {}
    for bundle in BUNDLES:
        columns = [c for c in bundle if c in wanted and c not in out]
        # The overall and age-band sums come with the first bundle asked for.
        extra = [g for g in (None, "age_band") if g in wanted and g not in out]
        if len(columns) + len(extra) < 2:
            continue
        sums = _sums_by(person, measures, columns)
        for grouping in (*extra, *columns):
            out[grouping] = _labelled(_added_up(sums, columns, grouping), grouping)
    return out


def _added_up(sums: pd.DataFrame, columns: list[str], grouping: str | None) -> pd.DataFrame:
    """The engine's sums by `columns` and age band added up to `grouping` and age band, shaped
    as `_sums` returns them (a null sum, where no person counted, counts as 0, as `_labelled`
    reads it)."""
    keys = ["age_band"] if grouping in (None, "age_band") else [grouping, "age_band"]
    values = sums.drop(columns=columns)
    if grouping not in (None, "age_band"):
        values.insert(0, grouping, sums[grouping])
    return values.groupby(keys, sort=False, dropna=False).sum().reset_index()


def _labelled(frame: pd.DataFrame, grouping: str | None) -> pd.DataFrame:
    frame = frame.copy()
    if grouping is None:
        frame.insert(0, "group_value", OVERALL)
    elif grouping == "age_band":
        frame.insert(0, "group_value", frame["age_band"])
    else:
        frame = frame.rename(columns={grouping: "group_value"})
    groups = frame["group_value"]
    if pd.api.types.is_numeric_dtype(groups):
        groups = groups.astype("Int64")
    frame["group_value"] = groups.astype("string").fillna("Unknown")
    return frame.fillna(0.0)


def area_sums(by_practice: pd.DataFrame, level: str, practices: dict[str, str]) -> pd.DataFrame:
    """`group_sums` by an area level (analytics.areas), from the engine's sums by practice
    (`_sums`): each practice's sums added into its area's, a practice in no area of the level
    (or no practice) into the level's NOT_IN group. Sums add up, so this is what summing the
    people by area gives (to the last bit for counts; a sum of squares of a mean's values may
    differ in its last bits, as the engine's own sums do between runs)."""
    from openphm.analytics.areas import NOT_IN

    mapping = {str(p): str(a) for p, a in practices.items()}
    practice = by_practice["practice"]
    if pd.api.types.is_numeric_dtype(practice):
        practice = practice.astype("Int64")
    area = practice.astype("string").map(mapping).fillna(NOT_IN[level]).astype(object)
    frame = by_practice.drop(columns="practice").assign(**{level: area})
    sums = frame.groupby([level, "age_band"], sort=False, dropna=False).sum().reset_index()
    return _labelled(sums, level)


def crude(by_group: pd.DataFrame, m: Measure, group_by: str) -> pd.DataFrame:
    """Crude value and limits per group, from sums already added up over age bands."""
    return pd.DataFrame(_crude(_arrays(by_group), by_group.index, m, group_by))


def _crude(sums: dict[str, np.ndarray], groups, m: Measure, group_by: str) -> dict:
    n, d = sums[f"n_{m.name}"], sums[f"d_{m.name}"]
    if m.kind == "proportion":
        value, lower, upper = (a * m.multiplier for a in stats.wilson(n, d))
        method = "Wilson score"
    elif m.kind == "rate":
        value, lower, upper = stats.crude_rate(n, d, m.multiplier)
        method = "Poisson: exact below 10 events, Byar's from 10"
    else:
        value, lower, upper = _mean_limits(n, d, sums[f"s_{m.name}"])
        method = "normal approximation"
    return _rows(m, "crude", group_by, groups, n, d, (value, lower, upper), method)


def bands_from(min_age: int) -> list[int]:
    """The positions in AGE_BANDS_19 of the bands a measure of ages `min_age`+ standardises
    over: the band holding `min_age` and every older one (17+ starts at 15-19)."""
    first = min(min_age, 90) // 5
    return list(range(first, len(AGE_BANDS_19)))


def standardised(by_band: pd.DataFrame, m: Measure, group_by: str, weights) -> pd.DataFrame:
    """Directly age-standardised value per group (ESP2013, 19 bands or those from the band of
    the measure's youngest age, Dobson limits). `by_band` has one row per group and a column
    per (sum, age band). A group with a band of no population in that range has no value
    (OHID's rule), nor one with fewer than 10 events; the `flag` column says which."""
    by_sum = {name: by_band[name].to_numpy() for name in by_band.columns.unique(0)}
    return pd.DataFrame(_standardised(by_sum, by_band.index, m, group_by, weights))


def _standardised(by_band: dict[str, np.ndarray], groups, m: Measure, group_by: str,
                  weights) -> dict:  # fmt: skip
    keep = bands_from(m.min_age)
    x = by_band[f"n_{m.name}"][:, keep]
    n = by_band[f"d_{m.name}"][:, keep]
    limits = stats.dsr_many(x, n, np.asarray(weights)[keep], multiplier=m.multiplier)
    empty = stats.empty_bands(n)
    few = x.sum(axis=1) < stats.DSR_MIN_COUNT
    flags = [
        EMPTY_BAND_FLAG.format(bands=e) if e else (FEW_EVENTS_FLAG if f else "")
        for e, f in zip(empty, few, strict=True)
    ]
    span = "19 bands" if not m.min_age else f"the {len(keep)} bands from {AGE_BANDS_19[keep[0]]}"
    method = f"DSR, ESP2013 {span}, Dobson limits (Byar's)"
    return _rows(m, "dsr", group_by, groups, x.sum(axis=1), n.sum(axis=1), limits,
                 method, flags)  # fmt: skip


def _rows(m, statistic, group_by, groups, n, d, limits, method, flags="") -> dict:
    """One part of the table, as columns (a table is made once, of every part: making one
    per measure and grouping, about a thousand at 1M people, took seconds)."""
    value, lower, upper = limits
    size = len(groups)
    repeat = lambda v: [v] * size  # noqa: E731
    return {
        "measure": repeat(m.name), "statistic": repeat(statistic), "group_by": repeat(group_by),
        "group_value": _labels(groups), "numerator": np.asarray(n),
        "denominator": np.asarray(d), "value": value, "lower_95": lower, "upper_95": upper,
        "multiplier": np.full(size, m.multiplier), "method": repeat(method),
        "flag": list(flags) if isinstance(flags, list) else repeat(flags),
    }  # fmt: skip


def _labels(groups) -> list[str]:
    return groups if isinstance(groups, list) else list(pd.Index(groups).astype(str))


def _arrays(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {name: frame[name].to_numpy() for name in frame.columns}


def inequality(crude_by_decile: pd.DataFrame, m: Measure, simulations: int) -> pd.DataFrame:
    """SII and RII of the crude value across IMD deciles 1 (most deprived) to 10."""
    known = crude_by_decile[crude_by_decile["group_value"].isin([str(i) for i in range(1, 11)])]
    known = known.assign(decile=known["group_value"].astype(int)).sort_values("decile")
    known = known[known["denominator"] > 0]
    if len(known) < 2:
        return pd.DataFrame(columns=list(COLUMNS))
    v, n, x = known["value"].to_numpy(), known["denominator"].to_numpy(), known["numerator"]
    if m.kind == "proportion":
        p = v / m.multiplier
        se = np.sqrt(np.maximum(p * (1 - p), 0) / n) * m.multiplier
    else:
        se = np.sqrt(x.to_numpy()) / n * m.multiplier
    result = stats.sii(v, se, n, simulations=simulations, seed=stats.seed_for(m.name))
    method = (f"weighted regression on cumulative rank; limits by {simulations:,} simulations "
              "seeded by the measure's name")  # fmt: skip
    return pd.DataFrame([
        (m.name, "sii", "imd_decile", OVERALL, x.sum(), n.sum(), result.sii,
         result.sii_lower, result.sii_upper, m.multiplier, method, ""),
        (m.name, "rii", "imd_decile", OVERALL, x.sum(), n.sum(), result.rii,
         result.rii_lower, result.rii_upper, 1.0, method, ""),
    ], columns=list(COLUMNS))  # fmt: skip


def compute(person, measures: tuple[Measure, ...], groupings: tuple[str, ...],
            simulations: int = stats.SII_SIMULATIONS,
            areas: dict[str, dict[str, str]] | None = None) -> pd.DataFrame:  # fmt: skip
    """Every measure, overall and per grouping: crude (+ limits), DSR where the measure is
    standardised (not per age band), and SII/RII across IMD deciles. A grouping that is a
    level of `areas` ({level: {practice: area}}, analytics.areas) is summed from the sums by
    practice (`area_sums`), not asked of the engine again; the groupings of a bundle
    (`BUNDLES`) from their bundle's sums (`bundled_sums`)."""
    weights = esp2013_weights()
    by_practice = None
    parts = []
    bundled = bundled_sums(person, measures, (None, *groupings))
    for grouping in (None, *groupings):
        if grouping in bundled:
            frame = bundled[grouping]
        elif grouping == "practice" or (areas and areas.get(grouping)):
            if by_practice is None:
                by_practice = _sums(person, measures, "practice")
            frame = (
                _labelled(by_practice, grouping)
                if grouping == "practice"
                else area_sums(by_practice, grouping, areas[grouping])
            )
        else:
            frame = group_sums(person, measures, grouping)
        label = grouping or OVERALL
        sums = frame.drop(columns="age_band").groupby("group_value", sort=True).sum()
        by_band = (
            frame.set_index(["group_value", "age_band"])
            .unstack("age_band", fill_value=0.0)
            .reindex(
                index=sums.index,
                columns=pd.MultiIndex.from_product([frame.columns[2:], AGE_BANDS_19]),
                fill_value=0.0,
            )
        )
        group_sums_of = _arrays(sums)
        band_sums_of = {name: by_band[name].to_numpy() for name in frame.columns[2:]}
        groups = _labels(sums.index)
        for m in measures:
            rows = _crude(group_sums_of, groups, m, label)
            parts.append(rows)
            if m.standardise and grouping != "age_band":
                parts.append(_standardised(band_sums_of, groups, m, label, weights))
            if m.inequality and grouping == "imd_decile":
                unequal = inequality(pd.DataFrame(rows), m, simulations)
                parts.append({c: unequal[c].tolist() for c in COLUMNS})
    # An empty population (or no measures) leaves nothing to concatenate, which pandas refuses;
    # the result is then an empty table of the same columns, typed so that it can be written.
    kept = [p for p in parts if len(p["measure"])]
    if not kept:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _TYPES.items()})
    out = pd.DataFrame({
        c: np.concatenate([p[c] for p in kept]) if _TYPES[c] is float
        else [v for p in kept for v in p[c]]
        for c in COLUMNS
    })  # fmt: skip
    return out.astype({c: t for c, t in _TYPES.items() if t is float})


def _mean_limits(total, n, squares):
    z = stats.z_value()
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        variance = np.where(n > 1, (squares - total * total / n) / (n - 1), np.nan)
        half = z * np.sqrt(np.maximum(variance, 0) / n)
    return mean, mean - half, mean + half
