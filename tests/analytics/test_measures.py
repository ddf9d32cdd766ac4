"""Measures on edge-case populations: an empty population gives an empty table of the
documented columns, never an error (pandas refuses to concatenate nothing)."""

import ibis
import pandas as pd

from openphm.analytics import measures
from openphm.analytics.definitions import Measure

PREVALENCE = Measure("prevalence_x", "X: recorded prevalence", "reg_x", "in_reference_population",
                     "proportion")  # fmt: skip


COLUMN_TYPES = {"age_band": "string", "imd_decile": "Int64", "reg_x": "int64",
                "in_reference_population": "int64"}  # fmt: skip


def people(rows: list[tuple[str, int, int, int]]):
    frame = pd.DataFrame(rows, columns=list(COLUMN_TYPES)).astype(COLUMN_TYPES)
    return ibis.memtable(frame)


def test_an_empty_population_gives_an_empty_measures_table():
    out = measures.compute(people([]), (PREVALENCE,), ("imd_decile",), simulations=10)
    assert out.empty
    assert list(out.columns) == list(measures.COLUMNS)
    assert out["value"].dtype == float
    assert out["measure"].dtype == "string"  # typed, so the empty table can be written


def test_no_measures_gives_an_empty_measures_table():
    out = measures.compute(people([("50-54", 1, 1, 1)]), (), ("imd_decile",), simulations=10)
    assert out.empty and list(out.columns) == list(measures.COLUMNS)


def test_one_person_gives_the_overall_and_decile_rows():
    out = measures.compute(people([("50-54", 3, 1, 1)]), (PREVALENCE,), ("imd_decile",),
                           simulations=10)  # fmt: skip
    crude = out[out["statistic"] == "crude"].set_index("group_by")
    assert crude.loc["all", "value"] == 100.0 and crude.loc["imd_decile", "group_value"] == "3"


def test_an_analytics_build_over_an_empty_linked_zone_writes_empty_typed_tables(engine, tmp_path):
    from openphm import analytics

    from .linked import REFERENCE, zone_on

    zone = zone_on(engine, tmp_path)
    summary = zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10))  # fmt: skip
    assert summary.rows["measures"] == 0 and summary.rows["analytics_population"] == 0
    columns = zone.sql("DESCRIBE linked.measures").fetchall()
    types = {name: kind for name, kind, *_ in columns}
    assert types["period_start"] == types["period_end"] == "DATE"


def test_groupings_summed_from_their_bundle_are_those_the_engine_sums_one_by_one(monkeypatch):
    """The groupings of a bundle (measures.BUNDLES) are added up from one aggregation by all
    of the bundle's columns; asked of the engine one grouping at a time (no bundles) the
    measures are the same: the same rows, counts to the bit, non-integer sums (person-years,
    means' values and squares) to 1e-12 relative. Groups include nulls ("Unknown")."""
    import numpy as np

    from openphm.analytics.definitions import AGE_BANDS_19

    rng = np.random.default_rng(7)
    size = 4000
    decile = pd.array(rng.integers(1, 11, size), dtype="Int64")
    decile[rng.random(size) < 0.05] = pd.NA
    quintile = (decile + 1) // 2
    frame = pd.DataFrame({
        "age_band": rng.choice(AGE_BANDS_19, size),
        "sex": rng.choice(["F", "M", None], size, p=[0.49, 0.49, 0.02]),
        "ethnic_group": rng.choice(["A", "B", "C", None], size),
        "segment": rng.choice(["Healthy", "Frailty", "Cancer"], size),
        "lsoa": rng.choice([f"E0{i:07d}" for i in range(40)] + [None], size),
        "imd_decile": decile,
        "imd_quintile": quintile,
        "core20": np.where(decile.isna(), "Unknown",
                           np.where(quintile.fillna(0) == 1, "Core20", "Rest")),
        "practice": rng.choice(["P1", "P2", "P3"], size),
        "reg_x": rng.integers(0, 2, size),
        "in_reference_population": rng.random(size) < 0.9,
        "in_window_population": True,
        "person_years": rng.random(size),
        "admissions": rng.poisson(0.4, size),
        "cost": rng.gamma(2.0, 317.3, size),
    })  # fmt: skip
    chosen = (
        PREVALENCE,
        Measure("rate_py_admissions", "a", "admissions", "person_years", "rate", 1000.0),
        Measure("mean_cost", "c", "cost", "in_window_population", "mean", 1.0,
                standardise=False, inequality=False),
    )  # fmt: skip
    groupings = ("practice", "age_band", "sex", "ethnic_group", "imd_decile", "imd_quintile",
                 "lsoa", "segment", "core20")  # fmt: skip

    def measured():
        out = measures.compute(ibis.memtable(frame), chosen, groupings, simulations=50)
        keys = ["measure", "statistic", "group_by", "group_value"]
        return out.sort_values(keys).reset_index(drop=True)

    bundled = measured()
    monkeypatch.setattr(measures, "BUNDLES", ())
    alone = measured()
    assert len(bundled) == len(alone) > 400
    numbers = ["numerator", "denominator", "value", "lower_95", "upper_95", "multiplier"]
    pd.testing.assert_frame_equal(bundled.drop(columns=numbers), alone.drop(columns=numbers))
    counts = bundled["measure"] == "prevalence_x"
    for c in ("numerator", "denominator"):
        assert (bundled.loc[counts, c] == alone.loc[counts, c]).all()
    for c in numbers:
        np.testing.assert_allclose(bundled[c], alone[c], rtol=1e-12, atol=0, equal_nan=True)
