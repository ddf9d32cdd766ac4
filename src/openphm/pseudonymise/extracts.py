"""Recipient extracts: record-level data for a named recipient, for its stated purpose only.

Reads zone 3 (the linked zone) and the recipient's secret from the key store; writes zone 4
(`outputs/extracts/<recipient>/<date>/`). It lives in zone 2 because it computes the
recipient's own pseudonyms, which needs the linkage key. Each extract is:
- minimised: only the field groups the recipient's entry in programme.toml names;
- pseudonymised per recipient: two recipients' extracts cannot be joined to each other;
- k-anonymous on the quasi-identifiers (openphm.disclosure.kanonymity), event dates generalised
  to the month, diagnoses to three characters;
- refused once the recipient's access has expired (its secret is then destroyed).

Two formats of the same cells: `csv` (the default: people.csv and one file per field group) and
`omop` (OMOP CDM v5.4 tables in `<date>/omop/`, made by openphm.pseudonymise.omop from exactly
the frames the CSV format writes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from openphm import clock
from openphm.disclosure.kanonymity import LADDER, anonymise
from openphm.errors import UserFacingError
from openphm.governance.audit import Actor
from openphm.keystore import KeyName, KeyStoreError
from openphm.programme.config import RECIPIENT_FIELD_GROUPS
from openphm.pseudonymise import omop
from openphm.pseudonymise.pseudonyms import recipient_pseudonyms

if TYPE_CHECKING:
    from openphm.programme.config import Recipient
    from openphm.programme.workspace import Workspace

# What each field group a recipient may be given holds: a linked table, and its columns as
# released (generalised where the detail would identify).
FIELD_GROUPS: dict[str, tuple[str, dict[str, str]]] = {
    "consultations": (
        "consultations",
        {
            "consultation_month": "strftime(consultation_date, '%Y-%m')",
            "consultation_type": "consultation_type",
            "staff_role": "staff_role",
        },
    ),
    "clinical coding": (
        "gp_events",
        {"event_month": "strftime(event_date, '%Y-%m')", "snomed_code": "snomed_code"},
    ),
    "medications": (
        "medications",
        {"issue_month": "strftime(issue_date, '%Y-%m')", "dmd_code": "dmd_code"},
    ),
    "hospital activity": (
        "apc_spells",
        {
            "admission_month": "strftime(admission_date, '%Y-%m')",
            "emergency": "emergency",
            "elective": "elective",
            "primary_diagnosis_3": "left(primary_diagnosis, 3)",
            "bed_days": "bed_days",
        },
    ),
    "emergency care": (
        "ec_attendances",
        {"arrival_month": "strftime(arrival_date, '%Y-%m')", "department_type": "department_type"},
    ),
    "outpatients": (
        "op_appointments",
        {
            "appointment_month": "strftime(appointment_date, '%Y-%m')",
            "treatment_function_code": "treatment_function_code",
            "attended": "attended",
        },
    ),
    "community": (
        "community_contacts",
        {"contact_month": "strftime(contact_date, '%Y-%m')", "service": "service"},
    ),
    "social care": (
        "social_care_services",
        {"start_month": "strftime(service_start, '%Y-%m')", "service_type": "service_type"},
    ),
}


# Every group programme.toml accepts has a mapping here, and nothing else.
assert tuple(FIELD_GROUPS) == RECIPIENT_FIELD_GROUPS


FORMATS = ("csv", "omop")


class ExtractError(UserFacingError):
    """An extract that may not, or cannot, be made as asked."""


@dataclass(frozen=True)
class Extract:
    folder: Path
    manifest: dict


def recipient_named(ws: Workspace, name: str) -> Recipient:
    for recipient in ws.config.recipients:
        if recipient.name == name or recipient.slug == name:
            return recipient
    known = ", ".join(r.name for r in ws.config.recipients) or "none"
    raise ExtractError(f"{name!r} is not one of the programme's recipients ({known})")


def make_extract(ws: Workspace, actor: Actor, name: str, *, format: str = "csv") -> Extract:
    """Write one extract for the named recipient into the outputs zone, as CSV files or as
    OMOP CDM tables (`format`)."""
    recipient = recipient_named(ws, name)
    ws.authorise(actor, "extract.recipient", purpose=recipient.purpose.value)
    if format not in FORMATS:
        raise ExtractError(f"{format!r} is not an extract format; use one of: {', '.join(FORMATS)}")
    ws.require_open()
    today = clock.today()
    if recipient.expires < today:
        raise ExtractError(
            f"{recipient.name}'s access expired on {recipient.expires}; its key was destroyed"
        )
    secret = _secret(ws, recipient)
    linkage_key = ws.keystore.get(KeyName.LINKAGE)
    con = ws.connect_linked(read_only=True)
    try:
        people = _people(con, today)
        sensitive = "segment" if "segment" in people.columns else None
        result = anonymise(people, ws.config.disclosure.k_anonymity, sensitive=sensitive)
        codes = recipient_pseudonyms(
            pa.array(result.people["pseudonym"], pa.string()), linkage_key, recipient.name, secret
        ).to_pylist()
        mapping = pd.DataFrame({"pseudonym": result.people["pseudonym"], "person": codes})
        folder = ws.zone("outputs") / "extracts" / recipient.slug / today.isoformat()
        if format == "omop":
            folder = folder / "omop"
        folder.mkdir(parents=True, exist_ok=True)
        people = _people_frame(result.people, codes)
        con.register("kept", mapping)
        if format == "csv":
            written = {"people": _write(folder / "people.csv", people)}
            for group in recipient.fields:
                written[group] = _write(folder / _file_name(group), _group_frame(con, group))
        else:
            tables = _omop(folder, today, people, con, recipient.fields)
            written = tables.pop("files")
        con.unregister("kept")
    finally:
        con.close()
    manifest = {
        "recipient": recipient.name,
        "purpose": recipient.purpose.value,
        "made": clock.now().isoformat(timespec="seconds"),
        "expires": recipient.expires.isoformat(),
        "fields": ["demographics (generalised)", *recipient.fields],
        "k_anonymity": {
            "k": result.k,
            "generalisation": _describe(result.level),
            "people_suppressed": result.suppressed,
            "smallest_group": result.smallest_group,
        },
        "l_diversity": {"sensitive": sensitive, "l": result.l_diversity},
        "files": {name: info for name, info in written.items()},
    }
    if format == "omop":
        manifest = {"format": "omop", **manifest, "omop": tables}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    ws.audit.record(
        actor,
        "extract.recipient",
        purpose=recipient.purpose.value,
        reads=("linked",),
        writes=(str(folder.relative_to(ws.root)),),
        counts={
            "people": len(result.people),
            "people_suppressed": result.suppressed,
            "k": result.k,
            **{f"rows.{name}": info["rows"] for name, info in written.items() if "rows" in info},
        },
    )
    return Extract(folder, manifest)


def _secret(ws: Workspace, recipient: Recipient) -> bytes:
    name = KeyName.recipient(recipient.slug)
    if name in ws.keystore.destroyed():
        raise ExtractError(f"{recipient.name}'s key was destroyed; no more extracts for it")
    try:
        return ws.keystore.get(name) if ws.keystore.has(name) else ws.keystore.create(name)
    except KeyStoreError as err:
        raise ExtractError(str(err)) from None


def _people(con, today) -> pd.DataFrame:
    """The registered population on the day of the extract (pseudonym, sex, age,
    ethnic_group, imd_quintile, and segment when analytics built one): who is counted and how
    old they are by zone 3's one definition of each (openphm.linked.population), as the
    analytics and the web's pages count them."""
    from openphm.engine import ibis_backend
    from openphm.linked import population as counted

    backend = ibis_backend(con)
    zone = ("linked", "main")
    people = backend.table("people", database=zone)
    registered = counted.registered_population(
        people, backend.table("registrations", database=zone), today
    )
    frame = registered.select(
        "pseudonym",
        "sex",
        age=counted.age(registered.birth_month, today),
        ethnic_group=registered.ethnic_group,
        imd_quintile=((registered.imd_decile + 1) // 2).cast("int32"),
    )
    if "person_segments" in backend.list_tables(database=zone):
        segments = backend.table("person_segments", database=zone).select("pseudonym", "segment")
        frame = frame.left_join(segments, "pseudonym").drop("pseudonym_right")
    return frame.order_by("pseudonym").to_pyarrow().to_pandas()


def _people_frame(kept: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    frame = kept.loc[:, ["sex", "age_band", "ethnic_group", "imd_quintile"]].assign(person=codes)
    return frame.loc[:, ["person", "sex", "age_band", "ethnic_group", "imd_quintile"]]


def _file_name(group: str) -> str:
    return f"{group.replace(' ', '-')}.csv"


def _group_frame(con, group: str) -> pd.DataFrame:
    table, columns = FIELD_GROUPS[group]
    select = ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
    return con.execute(
        f"SELECT k.person, {select} FROM linked.{table} t JOIN kept k USING (pseudonym) "
        "ORDER BY k.person"
    ).df()


def _omop(folder: Path, today, people: pd.DataFrame, con, groups) -> dict:
    """The same frames as the CSV format, written as OMOP CDM tables."""
    writer = omop.Writer(folder, today)
    try:
        writer.people(people)
        for group in groups:
            writer.group(group, _group_frame(con, group))
        return writer.finish()
    except BaseException as err:
        # No half-made extract is left to be handed over.
        writer.close()
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # the date's folder, unless a CSV extract is in it
            folder.parent.rmdir()
        if isinstance(err, omop.OmopError):
            raise ExtractError(str(err)) from None
        raise


def _write(path: Path, frame: pd.DataFrame) -> dict:
    frame.to_csv(path, index=False)
    return {
        "file": path.name,
        "rows": len(frame),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def _describe(level: int) -> str:
    step = LADDER[level]
    withheld = ", ".join(step.get("withhold", ())) or "nothing"
    return f"age in {step['age_years']}-year bands; withheld: {withheld}"
