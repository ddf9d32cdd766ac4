"""The synthetic region in the published layouts (`phm synth --layouts real`: HES APC, OP and
A&E, CSDS v1.6) goes through the pipeline as the same region in the project's own tables does
(issue 21 item 5).

Two copies of one region (same seed), one in each set of layouts, are landed and linked. In
the real layouts every row of every file is loaded or quarantined, and what is quarantined is
exactly the injected faults. The linked zones are then compared person by person, each row's
person found from the true NHS numbers (truth/people) under each workspace's own key: the
same spells, attendances, appointments and contacts, with the same dates and codes, except
what a layout cannot carry (docs/synthetic-region.md, "Published layouts"):

- HES A&E has no chief complaint, and codes diagnosis and disposal in its own systems (the
  contract's SNOMED CT, mapped: openphm.synth.layouts.AE_DIAGNOSIS, AE_DISPOSAL);
- an unfinished HES spell has discharge destination 98 (not applicable), read as blank;
- a HES spell's secondary diagnoses are its episodes' other distinct diagnoses, so a code
  equal to the primary is not listed again among them;
- CSDS v1.6's service (its team type table) and consultation medium are not read: blank.

People a fault touched (a row of theirs the fault injector spoiled) are left out of the
comparison on both sides, as in test_truth_agrees: HES builds a spell from the episodes that
landed, so a held first episode leaves the second as a spell of its own.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from openphm import clock
from openphm.engine import connect
from openphm.governance.audit import Actor
from openphm.identity.quality import UNMATCHED_ALERT
from openphm.landing.ingest import LOADED, REFUSED, ingest
from openphm.landing.read import quarantine
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link
from openphm.pseudonymise.practices import register_practice
from openphm.synth import RegionOptions, generate_region
from openphm.synth.layouts import AE_DIAGNOSIS, AE_DISPOSAL

# Four regions written, landed and linked (about 140 s): end to end, in the programme tier.
pytestmark = pytest.mark.programme

NOW = "2026-11-03T10:00:00"
ENGINEER = Actor(user="test-engineer", role="processor-engineer")
PEOPLE = 3000
TABLES = ("apc_spells", "ec_attendances", "op_appointments", "community_contacts")


@pytest.fixture(autouse=True)
def programme_clock(monkeypatch):
    monkeypatch.setattr(clock, "_source", clock.fixed(NOW))


def _land_and_link(region: Path, workspace: Path):
    with clock.frozen_at(NOW):
        ws = Workspace.create(workspace, region / "programme.toml", ENGINEER)
        report = ingest(ws, [region / "extracts"], ENGINEER)
        for practice in ws.config.programme.controllers:
            key = region / "practices" / practice / "practice.pub"
            register_practice(ws, ENGINEER, practice, key)
        link(ws, ENGINEER)
    return ws, report


@pytest.fixture(scope="module", params=["valid-nhs", "default"])
def pair(request, tmp_path_factory):
    """One region in both sets of layouts, landed and linked: with every non-GP record's
    NHS number valid (so linkage is by the number alone), and with the default share
    missing or mistyped (so some records are traced, and HES's have no names to trace by)."""
    rates = (
        {"missing_nhs_rate": 0.0, "invalid_nhs_rate": 0.0} if request.param == "valid-nhs" else {}
    )
    root = tmp_path_factory.mktemp(f"layouts-{request.param}")
    out = {"name": request.param}
    for layouts in ("own", "real"):
        region = root / layouts
        options = RegionOptions(people=PEOPLE, practices=2, seed=11, layouts=layouts, **rates)
        generate_region(region, options)
        ws, report = _land_and_link(region, root / f"ws-{layouts}")
        out[layouts] = (region, ws, report)
    return out


def _faulted(region: Path) -> tuple[set[tuple[str, int]], set[int]]:
    """The (file, row) of every fault of a non-GP file, and the people of those rows."""
    faults = pd.read_csv(region / "truth" / "faults.csv")
    faults = faults[faults["row"].notna() & ~faults["file"].str.startswith("extracts/gp/")]
    rows = {(f, int(r)) for f, r in zip(faults["file"], faults["row"], strict=True)}
    records = pd.read_parquet(region / "truth" / "records.parquet")
    records["file"] = records["file"].astype(str)
    hit = records.merge(pd.DataFrame(list(rows), columns=["file", "row"]), on=["file", "row"])
    return rows, set(hit["person_id"])


def test_every_row_of_the_real_layouts_is_loaded_or_quarantined_as_the_faults_say(pair):
    _assert_reconciled(*pair["real"], suffix=".csv")


def test_a_region_in_the_real_layouts_as_parquet_lands_alike(tmp_path):
    options = RegionOptions(people=1000, practices=2, seed=3, layouts="real", format="parquet")
    generate_region(tmp_path / "region", options)
    ws, report = _land_and_link(tmp_path / "region", tmp_path / "ws")
    _assert_reconciled(tmp_path / "region", ws, report, suffix=".parquet")


def _assert_reconciled(region: Path, ws, report, suffix: str) -> None:
    """Every non-GP file landed but the outside trust's; its rows, as many as were written,
    loaded or quarantined; the rows quarantined exactly the injected faults'."""
    outcomes = [o for o in report.outcomes if "/gp/" not in o.path.as_posix()]
    kinds = {o.path.relative_to(region).parts[1] for o in outcomes}
    assert kinds == {"admitted-care", "emergency-care", "outpatients", "community",
                     "social-care", "deaths"}  # fmt: skip
    assert all(o.path.suffix == suffix for o in outcomes)
    refused = {o.path.relative_to(region).as_posix() for o in outcomes if o.status == REFUSED}
    assert refused == {f"extracts/emergency-care/RZ9/RZ9_hes-ae_202609{suffix}"}
    records = pd.read_parquet(region / "truth" / "records.parquet")
    written = records.groupby(records["file"].astype(str)).size()
    for o in outcomes:
        if o.status == REFUSED:
            continue
        assert o.status == LOADED, o.message
        name = o.path.relative_to(region).as_posix()
        assert o.counts.received == o.counts.loaded + o.counts.quarantined, name
        assert o.counts.received == written[name], name
    practices = set(ws.config.programme.controllers)
    held = {
        (h.file, row)
        for h in quarantine(ws, connect(), ENGINEER)
        for row in h.row_numbers
        if h.file.split("_")[0] not in practices
    }
    rows, _ = _faulted(region)
    assert held == {(Path(f).name, r) for f, r in rows}
    assert len(held) >= 5


def _persons(region: Path, ws) -> dict[str, int]:
    from openphm.keystore import KeyName
    from openphm.pseudonymise.pseudonyms import linkage_pseudonyms

    people = pd.read_parquet(region / "truth" / "people.parquet")
    key = ws.keystore.get(KeyName.LINKAGE)
    pseudonyms = linkage_pseudonyms(list(people["nhs_number"]), key).to_pylist()
    return dict(zip(pseudonyms, people["person_id"], strict=True))


def _rows(region: Path, ws, table: str, leave_out: set[int]) -> Counter:
    """Each linked row of `table` as (person_id or 'unmatched', its fields as both layouts
    can carry them)."""
    con = ws.connect_linked(read_only=True)
    try:
        frame = con.execute(f"SELECT * FROM linked.{table}").df()
    finally:
        con.close()
    person = frame["pseudonym"].map(_persons(region, ws))
    frame["person"] = person.astype("Int64").astype(object).where(person.notna(), "unmatched")
    frame = frame[~frame["person"].isin(leave_out)]
    out = Counter()
    for row in frame.to_dict("records"):
        out[_carried(table, row)] += 1
    return out


def _text(value) -> str | None:
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return None
    return str(value)


def _carried(table: str, row: dict) -> tuple:
    """What of a linked row both layouts carry, in the HES A&E codes for an attendance."""
    if table == "apc_spells":
        primary = _text(row["primary_diagnosis"])
        secondary = row["secondary_diagnoses"]
        secondary = [] if secondary is None or len(secondary) == 0 else list(secondary)
        finished = _text(row["discharge_date"]) is not None
        return (
            row["person"], row["provider"], _text(row["admission_date"]),
            _text(row["discharge_date"]), row["admission_method"], primary,
            tuple(sorted(set(secondary) - {primary})), _text(row["primary_procedure"]),
            _text(row["discharge_destination"]) if finished else None, _text(row["bed_days"]),
        )  # fmt: skip
    if table == "ec_attendances":
        diagnosis, disposal = _text(row["diagnosis"]), _text(row["discharge_destination"])
        return (
            row["person"], row["provider"], _text(row["arrival_date"]), row["department_type"],
            AE_DIAGNOSIS.get(diagnosis, diagnosis), AE_DISPOSAL.get(disposal, disposal),
        )  # fmt: skip
    if table == "op_appointments":
        return (
            row["person"], row["provider"], _text(row["appointment_date"]),
            row["treatment_function_code"], bool(row["first_attendance"]), bool(row["attended"]),
        )  # fmt: skip
    return (row["person"], row["provider"], _text(row["contact_date"]))


@pytest.mark.parametrize("table", TABLES)
def test_the_linked_zone_holds_the_same_records_person_by_person(pair, table):
    own_region, own_ws, _ = pair["own"]
    real_region, real_ws, _ = pair["real"]
    leave_out = _faulted(own_region)[1] | _faulted(real_region)[1]
    own = _rows(own_region, own_ws, table, leave_out)
    real = _rows(real_region, real_ws, table, leave_out)
    assert sum(own.values()) > 100, f"too few {table} to compare"
    merged = 0
    if table == "apc_spells":
        # HES has no spell id: a person's spells at one trust admitted on one day are one
        # spell (the layout's spell key), unless their records' identifiers differ. Each
        # such day is left out of the comparison.
        days = Counter(k[:3] for k in own.elements() if k[0] != "unmatched")
        same_day = {d for d, n in days.items() if n > 1}
        merged = sum(days[d] - 1 for d in same_day)
        assert len(same_day) <= 0.01 * days.total()
        real_days = Counter(k[:3] for k in real.elements())
        assert all(real_days[d] <= days[d] for d in same_day)
    own_total, real_total = own.total(), real.total()
    if merged:
        own = Counter({k: n for k, n in own.items() if k[:3] not in same_day})
        real = Counter({k: n for k, n in real.items() if k[:3] not in same_day})
    if pair["name"] == "valid-nhs":
        assert not any(k[0] == "unmatched" for k in own | real)
        assert real_total == own_total - merged
        assert real == own, (
            f"{table}: only in own {list((own - real).items())[:5]}, "
            f"only in real {list((real - own).items())[:5]}"
        )
    else:
        # The same records reach the zone (less same-day spells merged), none linked to
        # another person; but a record without a valid NHS number is traced without names
        # (HES and CSDS carry none), so some are left unmatched, and an unmatched record of
        # an objector stays in the zone (nothing says whose it is).
        unmatched = sum(n for k, n in real.items() if k[0] == "unmatched")
        assert all(k[0] == "unmatched" for k in real - own), list((real - own).items())[:5]
        assert abs(real_total - (own_total - merged)) <= unmatched
        # Measured at this seed: admitted care 8 of 1,271 records, A&E 6 of 2,068,
        # outpatients 28 of 11,583; community 156 of 3,110 (a CSDS person's identifiers
        # are one MPI row for all their contacts of a month, so one untraced row leaves
        # all of them unmatched).
        bound = 0.10 if table == "community_contacts" else UNMATCHED_ALERT
        assert unmatched <= bound * real_total, (table, unmatched, real_total)


def test_what_the_layouts_cannot_carry_is_blank(pair):
    _, ws, _ = pair["real"]
    con = ws.connect_linked(read_only=True)
    try:
        complaints = con.execute(
            "SELECT count(*), count(chief_complaint) FROM linked.ec_attendances"
        ).fetchone()
        contacts = con.execute(
            "SELECT count(*), count(service), count(contact_type) FROM linked.community_contacts"
        ).fetchone()
    finally:
        con.close()
    assert complaints[0] > 0 and complaints[1] == 0
    assert contacts[0] > 0 and contacts[1:] == (0, 0)


def test_each_trust_s_hes_apc_local_ids_reach_its_cohort_list_refs(pair):
    """HES APC carries the trust's own patient id (LOPATID, from 2013-14), so a trust sent
    HES gets cohort lists of its patients: every person its admitted-care files hold, by the
    region's truth, has a keyed local id of that trust in zone 3 (objectors excepted), and no
    one else does (HES OP and A&E, declared only in the pilot's columns, carry none)."""
    region, ws, _ = pair["real"]
    records = pd.read_parquet(region / "truth" / "records.parquet")
    records["file"] = records["file"].astype(str)
    faulted, _ = _faulted(region)
    con = ws.connect_linked(read_only=True)
    try:
        refs = con.execute("SELECT provider, pseudonym FROM linked._provider_refs").df()
        objectors = con.execute("SELECT pseudonym FROM linked._objectors").df()
    finally:
        con.close()
    persons = _persons(region, ws)
    person = refs["pseudonym"].map(persons)
    objecting = set(objectors["pseudonym"].map(persons).dropna().astype(int))
    for trust in ("RZ1", "RZ2"):
        files = records[records["file"].str.startswith(f"extracts/admitted-care/{trust}/")]
        files = files[[(f, r) not in faulted for f, r in zip(files["file"], files["row"],
                                                             strict=True)]]  # fmt: skip
        listed = set(person[refs["provider"] == trust].dropna().astype(int))
        seen = set(files["person_id"]) - objecting  # an objector's id is never added
        assert len(seen) > 100
        if pair["name"] == "valid-nhs":
            assert listed == seen
        else:  # an untraced record's local id stays with its own pseudonym, not a person
            assert listed <= seen
            assert len(listed) >= 0.97 * len(seen)
