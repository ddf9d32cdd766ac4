"""The same analytics on DuckDB and on Spark, over the same linked zone built by the real
pipeline, give the same registers, scores, segments, activity and measures: compared as
sorted tables, floating-point values within 1e-9 relative."""

from __future__ import annotations

import datetime as dt
import shutil
import time

import numpy as np
import pandas as pd
import pytest

from openphm.engine import export_linked, open_linked
from openphm.keystore import KeyName

pytestmark = pytest.mark.slow  # about 2 minutes: the Spark build alone is ~85 s on 2 cores

REFERENCE = dt.date(2026, 9, 30)
COMPARED = (
    "analytics_population",
    "person_registers",
    "person_scores",
    "person_segments",
    "person_activity",
    "measures",
)
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def built(linked_workspace, spark_session, tmp_path_factory):
    """Both engines' analytics tables, as pandas frames: {"duckdb": {...}, "spark": {...}}."""
    from openphm.analytics import AnalyticsOptions, build
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(linked_workspace.root)
    zone = tmp_path_factory.mktemp("differential") / "linked"
    zone.mkdir()
    shutil.copyfile(ws.zone("linked") / "linked.duckdb", zone / "linked.duckdb")
    key = ws.keystore.get(KeyName.LINKED_DATA)
    export_linked(zone, KeyName.LINKED_DATA, key)
    options = AnalyticsOptions(sii_simulations=200)
    out = {}
    for engine, session in (("duckdb", None), ("spark", spark_session)):
        with open_linked(engine, zone, KeyName.LINKED_DATA, key,
                         spark_session=session) as opened:  # fmt: skip
            started = time.perf_counter()
            build(opened.backend, REFERENCE, options)
            TIMINGS[engine] = time.perf_counter() - started
            out[engine] = {t: _frame(opened.backend, t) for t in COMPARED}
    return out


def _frame(backend, name: str) -> pd.DataFrame:
    frame = backend.table(name, database=("linked", "main")).to_pandas()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            frame[column] = values.astype("float64")
        else:  # dates, strings: compared as text, so date types of either engine agree
            frame[column] = values.map(
                lambda v: (
                    None
                    if _missing(v)
                    else str(v)[:10]
                    if isinstance(v, dt.date | pd.Timestamp)
                    else str(v)
                )
            )
    text = [c for c in frame.columns if frame[c].dtype == object]
    return frame.sort_values(text + [c for c in frame.columns if c not in text],
                             ignore_index=True)  # fmt: skip


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT


@pytest.mark.parametrize("table", COMPARED)
def test_duckdb_and_spark_build_the_same_table(built, table):
    ours, theirs = built["duckdb"][table], built["spark"][table]
    assert list(ours.columns) == list(theirs.columns)
    assert len(ours) == len(theirs) and len(ours) > 0
    for column in ours.columns:
        a, b = ours[column], theirs[column]
        if a.dtype == "float64":
            np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=0,
                                       equal_nan=True, err_msg=f"{table}.{column}")  # fmt: skip
        else:
            assert a.tolist() == b.tolist(), f"{table}.{column} differs"


def test_the_timings_are_reported(built, record_property):
    for engine, seconds in TIMINGS.items():
        record_property(f"analytics_seconds_{engine}", round(seconds, 2))
        print(f"analytics on {engine}: {seconds:.1f} s")
    assert set(TIMINGS) == {"duckdb", "spark"}
