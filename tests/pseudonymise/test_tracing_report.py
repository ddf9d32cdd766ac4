"""`phm link` says, per source, how many records needed tracing, how many it traced and how
well it could read each identifier, so that an extract whose postcodes no one can read is
named instead of silently traced on what is left."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pandas as pd

from openphm.pseudonymise import resolve

_spec = importlib.util.spec_from_file_location(
    "tracing_people", Path(__file__).parents[1] / "identity" / "people.py"
)
people = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(people)


def _connection(records: pd.DataFrame, spine: pd.DataFrame):
    con = duckdb.connect()
    con.register("spine_in", spine)
    # The columns `gp.spine` makes; these people have no earlier registration.
    con.execute(
        "CREATE TEMP TABLE spine AS SELECT *, NULL::VARCHAR AS previous_postcode FROM spine_in"
    )
    con.execute("CREATE TEMP TABLE nhs_check (raw VARCHAR, nhs_number VARCHAR)")
    con.register("records_in", records)
    con.execute("CREATE TEMP TABLE apc AS SELECT * FROM records_in")
    return con


def test_link_reports_each_sources_tracing_and_names_an_unreadable_postcode_column():
    region = people.region(600, 80, seed=5)
    records = region.records.drop(columns=["address"]).assign(
        submission_id="S1",
        source_row=range(1, 81),
        source_kind="admitted-care",
        provider_ods=["RZ1"] * 40 + ["RZ2"] * 40,
        nhs_number=pd.Series([None] * 80, dtype="string"),
    )
    # RZ2's extract has the town where the postcode should be.
    records.loc[records["provider_ods"] == "RZ2", "postcode"] = "Halifax"
    con = _connection(records, region.spine)

    report = resolve.trace_records(con, ["apc"], gp_patients=False)

    assert report.records == 80
    by_provider = {s.provider: s for s in report.sources}
    assert set(by_provider) == {"RZ1", "RZ2"}
    assert [s.records for s in report.sources] == [40, 40]
    assert by_provider["RZ1"].warnings() == []
    assert by_provider["RZ2"].warnings() == [
        "postcode: 0% in UK shape, check RZ2's admitted-care extract"
    ]
    traced = con.execute("SELECT count(*) FROM traced").fetchone()[0]
    assert traced == sum(s.traced for s in report.sources) > 40
