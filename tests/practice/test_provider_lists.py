"""A hospital provider's cohort list end to end, through the command line: the provider makes
its key pair and the programme registers it, `phm link` seals tokens of the provider's local
patient ids, `phm cohort` with `provider = "RZ1"` writes the provider's list, and `phm provider
reidentify` opens it against the provider's own patient-list export. The people who come back
are checked against the synthetic region's truth and against the practices' own lists of the
same cohort; a practice's key opens none of the provider's list, nor the provider's key any
practice's; and no local id or NHS number reaches the linked zone.

The region's hospital and community extracts carry each person's local patient id at that
provider (docs/extract-formats.md), and DIR/providers/RZ1/patients.csv is the trust's own
patient-list export.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from openphm import clock

NOW = "2026-11-03T10:00:00"
PROVIDER = "RZ1"
PROVIDER_NAME = "Synthetic Valley Hospitals NHS Trust"
# The extracts that carry local ids, and the column holding each row's date.
DATED = {"admitted-care": "admission_date", "emergency-care": "arrival_date",
         "outpatients": "appointment_date", "community": "contact_date"}  # fmt: skip
CRITERIA = 'purpose = "prevention"\nmin_age = 55\n'

# The journey runs the programme end to end through the command line (ingest, link, analytics,
# risk, cohorts, re-identification), about 45 s: the programme tier (`make test-programme`, which
# CI runs), not `make test`. The canary tests (tests/pseudonymise) keep a local id's sealing there.
pytestmark = pytest.mark.programme


def local_ids(region: Path) -> pd.DataFrame:
    """Every RZ1 row of the region's extracts as written: (file kind, person_id from the
    truth, date, local id, nhs_number as sent); a row the region's faults made unreadable is
    left out."""
    records = pd.read_parquet(region / "truth" / "records.parquet")
    records["file"] = records["file"].astype(str)
    seen = []
    for kind, date in DATED.items():
        for path in sorted((region / "extracts" / kind / PROVIDER).glob("*.csv")):
            with open(path, newline="", encoding="utf-8") as handle:
                header, *rows = list(csv.reader(handle))
            mine = records[records["file"] == str(path.relative_to(region))]
            person = dict(zip(mine["row"], mine["person_id"], strict=True))
            at = {name: i for i, name in enumerate(header)}
            seen += [
                (kind, person[n], row[at[date]], row[at["local_patient_id"]],
                 row[at["nhs_number"]])
                for n, row in enumerate(rows, start=1)
                if len(row) == len(header)
            ]  # fmt: skip
    return pd.DataFrame(seen, columns=["kind", "person_id", "date", "local_id", "nhs_number"])


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def journey(tmp_path_factory, cli):
    from openphm.analytics import MEASURES, AnalyticsOptions, build
    from openphm.programme.workspace import Workspace
    from openphm.risk import open_zone, score, train
    from openphm.synth import RegionOptions, generate_region

    root = tmp_path_factory.mktemp("provider-journey")
    region, ws = root / "region", root / "ws"
    with clock.frozen_at(NOW):
        generate_region(region, RegionOptions(people=1500, practices=2, seed=5))
        # The region's outside provider is a fault ingest refuses: not this test's subject.
        shutil.rmtree(region / "extracts" / "emergency-care" / "RZ9")
        toml = region / "programme.toml"
        toml.write_text(
            toml.read_text().replace(
                f'kind = "admitted-care"\nprovider = "{PROVIDER}"\n',
                f'kind = "admitted-care"\nprovider = "{PROVIDER}"\nname = "{PROVIDER_NAME}"\n',
            )
        )
        engineer = ["--role", "processor-engineer"]
        ok(cli(["init", ws, "--config", toml, *engineer]))
        ok(cli(["ingest", ws, region / "extracts", *engineer]))
        for practice in sorted((region / "practices").iterdir()):
            ok(cli(["practice", "register", ws, "--ods", practice.name,
                    "--public-key", practice / "practice.pub", *engineer]))  # fmt: skip
        keys = region / "providers" / PROVIDER / "keys"
        ok(cli(["provider", "keygen", keys]))
        registered = ok(cli(["provider", "register", ws, "--ods", PROVIDER,
                             "--public-key", keys / "provider.pub", *engineer]))  # fmt: skip
        linked = ok(cli(["link", ws, *engineer]))
        opened = Workspace.open(ws)
        con = opened.connect_linked()
        build(con, dt_end(region), AnalyticsOptions(measures=MEASURES[:1], groupings=(),
                                                    sii_simulations=10))  # fmt: skip
        con.close()
        with open_zone(opened) as con:
            score(con, train(con).model_id)
        for name, extra in (("older", ""), ("older-rz1", f'provider = "{PROVIDER}"\n')):
            path = root / f"{name}.toml"
            path.write_text(f'name = "{name}"\n{CRITERIA}{extra}')
            ok(cli(["cohort", ws, path, "--role", "analyst"]))
    return {"root": root, "region": region, "ws": ws, "rows": local_ids(region), "keys": keys,
            "patients": region / "providers" / PROVIDER / "patients.csv",
            "registered": registered, "linked": linked}  # fmt: skip


def dt_end(region: Path):
    """The region's last day: the day before its programme starts."""
    import datetime as dt
    import tomllib

    start = tomllib.loads((region / "programme.toml").read_text())["programme"]["start_date"]
    return start - dt.timedelta(days=1)


def reidentify(cli, command: str, cohort_list: Path, key: Path, patients: Path, out: Path):
    result = cli([command, "reidentify", cohort_list, "--key", key, "--patients", patients,
                  "--out", out])  # fmt: skip
    return result, pd.read_csv(out, dtype=str, keep_default_na=False, comment="#")


def practice_worklists(journey, cli) -> pd.DataFrame:
    """The same cohort's people as the practices re-identify them from their own lists."""
    found = []
    for practice in sorted((journey["region"] / "practices").iterdir()):
        result, rows = reidentify(
            cli, "practice", journey["ws"] / "outputs" / "cohorts" / practice.name / "older.csv",
            practice / "practice.key", practice / "patients.csv",
            journey["root"] / f"older-{practice.name}.csv",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        found.append(rows)
    return pd.concat(found)


def test_the_provider_re_identifies_exactly_the_cohort_s_people_it_saw(journey, cli):
    assert f"Registered the public key of provider {PROVIDER}" in journey["registered"]
    assert "to hospital providers' keys" in journey["linked"]
    folder = journey["ws"] / "outputs" / "cohorts" / PROVIDER
    about = json.loads((folder / "older-rz1.json").read_text())
    assert about["organisation"] == "provider" and about["practice_name"] == PROVIDER_NAME
    assert PROVIDER_NAME in about["scope"] and about["people"] > 20
    result, worklist = reidentify(
        cli, "provider", folder / "older-rz1.csv", journey["keys"] / "provider.key",
        journey["patients"], journey["root"] / "rz1-worklist.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(worklist) == about["people"]
    # Each person by the trust's own hospital number, as its extracts sent it.
    assert set(worklist["local_patient_id"]) <= set(journey["rows"]["local_id"])
    # Independently: the practices' lists of the same cohort, and the region's truth of who had
    # an RZ1 record in the analytics window (from the extracts as written).
    everyone = set(practice_worklists(journey, cli)["nhs_number"])
    rows = journey["rows"]
    start, end = about["seen_from"], about["data_as_at"]
    in_window = rows[(rows["date"] >= start) & (rows["date"] <= end)]
    truth = pd.read_parquet(journey["region"] / "truth" / "people.parquet")
    nhs_of = dict(zip(truth["person_id"], truth["nhs_number"].astype(str), strict=True))
    seen_any = {nhs_of[p] for p in in_window["person_id"]}
    # A record that carried its person's own NHS number is linked to them whatever tracing does
    # (admitted care and outpatients: no resubmission replaces their files here).
    sure = in_window[
        in_window["kind"].isin(["admitted-care", "outpatients"])
        & (in_window["nhs_number"].str.replace(" ", "") == in_window["person_id"].map(nhs_of))
    ]
    seen_surely = {nhs_of[p] for p in sure["person_id"]}
    listed = set(worklist["nhs_number"])
    assert len(listed) == len(worklist)  # one row per person
    assert everyone & seen_surely <= listed <= everyone & seen_any
    assert len(listed) < len(everyone)  # the provider's list is not everyone's


def test_no_practice_key_opens_the_provider_s_list_nor_the_provider_s_key_a_practice_s(
    journey, cli
):
    outputs = journey["ws"] / "outputs" / "cohorts"
    practice = sorted((journey["region"] / "practices").iterdir())[0]
    result, rows = reidentify(
        cli, "practice", outputs / PROVIDER / "older-rz1.csv", practice / "practice.key",
        practice / "patients.csv", journey["root"] / "wrong-1.csv",
    )  # fmt: skip
    assert result.exit_code == 1 and len(rows) == 0
    assert "sealed for another practice" in result.output
    result, rows = reidentify(
        cli, "provider", outputs / practice.name / "older.csv",
        journey["keys"] / "provider.key", journey["patients"], journey["root"] / "wrong-2.csv",
    )  # fmt: skip
    assert result.exit_code == 1 and len(rows) == 0
    assert "another organisation's key" in " ".join(result.output.split())


def test_no_local_id_or_nhs_number_reaches_the_linked_zone(journey):
    from openphm.programme.workspace import Workspace

    region = journey["region"]
    people = pd.read_parquet(region / "truth" / "people.parquet")
    hospital_numbers = set()  # every provider's, as the extracts carry them
    for own in (region / "providers").glob("*/patients.csv"):
        hospital_numbers |= set(pd.read_csv(own, dtype=str)["local_patient_id"])
    assert len(hospital_numbers) > 500
    canaries = set(hospital_numbers)
    canaries |= set(people["nhs_number"].astype(str))
    ws = Workspace.open(journey["ws"])
    con = ws.connect_linked(read_only=True)
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'linked' "
            "AND data_type = 'VARCHAR'"
        ).fetchall()
        assert ("_provider_refs", "token") in columns
        found = []
        for table, column in columns:
            values = {v for (v,) in con.execute(
                f'SELECT DISTINCT "{column}" FROM linked."{table}" WHERE "{column}" IS NOT NULL'
            ).fetchall()}  # fmt: skip
            found += [(table, column) for v in values & canaries]
        refs = con.execute(
            "SELECT count(*), count(token) FROM linked._provider_refs WHERE provider = ?",
            [PROVIDER],
        ).fetchone()
    finally:
        con.close()
    assert found == []
    assert refs[0] > 100 and refs[1] > 100  # the provider's people are known, by token only
    listed = (ws.zone("outputs") / "cohorts" / PROVIDER / "older-rz1.csv").read_text()
    assert not any(c in listed for c in hospital_numbers)


def test_the_provider_s_outcomes_come_back_as_token_and_outcome_for_its_own_list_only(journey):
    from openphm.cohorts.outcomes import OUTCOMES_TABLE, record_outcomes
    from openphm.governance.audit import Actor
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(journey["ws"])
    outputs = ws.zone("outputs") / "cohorts"
    mine = list(pd.read_csv(outputs / PROVIDER / "older-rz1.csv", dtype=str)["token"])
    practice = sorted(p.name for p in outputs.iterdir() if p.name != PROVIDER)[0]
    theirs = list(pd.read_csv(outputs / practice / "older.csv", dtype=str)["token"])
    with clock.frozen_at(NOW):
        counts = record_outcomes(
            ws, Actor("tess", "provider"), PROVIDER, "older-rz1",
            [(mine[0], "contacted"), (mine[1], "declined"), (theirs[0], "accepted")],
        )  # fmt: skip
        # The practice's own list for the same cohort name is not the provider's to record.
        elsewhere = record_outcomes(
            ws, Actor("tess", "provider"), PROVIDER, "older", [(theirs[0], "accepted")]
        )
    assert dict(counts) == {"contacted": 1, "declined": 1, "not_on_list": 1}
    assert dict(elsewhere) == {"not_on_list": 1}
    con = ws.connect_linked(read_only=True)
    try:
        kept = con.execute(f"SELECT * FROM linked.{OUTCOMES_TABLE}").df()
    finally:
        con.close()
    assert sorted(kept["outcome"]) == ["contacted", "declined"]
    assert set(kept["practice"]) == {PROVIDER} and set(kept["cohort"]) == {"older-rz1"}
    assert not set(kept.astype(str).to_numpy().ravel()) & set(mine)  # the token is not kept


def test_a_replaced_key_seals_the_provider_s_list_again_at_the_next_link(
    journey, cli, tmp_path, monkeypatch
):
    ws = tmp_path / "ws"
    shutil.copytree(journey["ws"], ws)
    new = tmp_path / "new-keys"
    with clock.frozen_at(NOW):
        ok(cli(["provider", "keygen", new]))
        ok(cli(["provider", "register", ws, "--ods", PROVIDER, "--public-key",
                new / "provider.pub", "--replace", "--yes",
                "--role", "data-protection-officer"]))  # fmt: skip
        linked = ok(cli(["link", ws, "--role", "processor-engineer"]))
        path = journey["root"] / "older-rz1.toml"
        ok(cli(["cohort", ws, path, "--role", "analyst"]))
    assert "to hospital providers' keys" in linked
    cohort_list = ws / "outputs" / "cohorts" / PROVIDER / "older-rz1.csv"
    result, opened = reidentify(cli, "provider", cohort_list, new / "provider.key",
                                journey["patients"], tmp_path / "new.csv")  # fmt: skip
    assert result.exit_code == 0, result.output
    before = pd.read_csv(journey["root"] / "rz1-worklist.csv", dtype=str, comment="#")
    assert set(opened["nhs_number"]) == set(before["nhs_number"])  # the same people
    result, old = reidentify(cli, "provider", cohort_list, journey["keys"] / "provider.key",
                             journey["patients"], tmp_path / "old.csv")  # fmt: skip
    assert result.exit_code == 1 and len(old) == 0  # the old key opens none of them
