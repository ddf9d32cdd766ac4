"""The links between the tables of a data set sent as several (MHSDS, CSDS), checked when its
files land: a care contact names its person (RecordNumber, in the MPI table) and its referral
(ServiceRequestID), which must be rows of the same export.

Reads and writes the batch being loaded (its canonical tables and quarantine), nothing else. An
export is the files of one source kind, provider, period and revision that land in one run, as
for a FHIR bulk export (landing.fhir.check_references): a data set's monthly submission is sent
as its tables together. The links are declared in the layouts (`[[links]]`,
openphm.programme.layouts); docs/extract-formats.md lists them per data set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openphm.landing.fhir import hold_rows
from openphm.landing.schema import literal
from openphm.programme.layouts import datasets

if TYPE_CHECKING:
    from openphm.landing.files import Extract


def _column(layout, canonical: str) -> str:
    """A field as the file names it, for the quarantine's field."""
    f = next(f for f in layout.fields if f.canonical == canonical)
    return layout.file_column(f.column)


def check_links(con, alias: str, loaded: list[tuple[Extract, str]]) -> set[str]:
    """Quarantine, in the batch `alias`, the rows of data set tables just landed (each extract
    with its submission id) whose links their export does not satisfy, naming the file, row
    and field; returns the submission ids whose rows changed. Tables are checked in the order
    they link (a person's table before the referrals that name it, before the contacts that
    name both), so a row held for its own link is no longer there for the rows naming it:

    0. rows of a table another links to whose key another of its rows has too (provider for
       provider, where the table keeps the provider): what names that key would be ambiguous,
       so all of them are held;
    1. a row whose link names no row of its export (its file did not land in this run, or the
       row named was quarantined);
    2. a date of the row before the date of birth of the person its link names."""
    exports: dict[tuple, dict[str, tuple[Extract, str]]] = {}
    for extract, sid in loaded:
        layout = extract.table.layout
        if layout is None or not layout.dataset:
            continue
        key = (extract.kind, extract.provider, extract.period, extract.revision, layout.dataset)
        exports.setdefault(key, {})[layout.name] = (extract, sid)
    changed: set[str] = set()
    for (_, provider, period, revision, dataset), files in exports.items():
        order = datasets()[dataset]
        targets = {link.to: link.key for t in order for link in t.links}
        for layout in order:
            if layout.name not in files:
                continue
            extract, sid = files[layout.name]
            table = f"{alias}.{extract.table.canonical}"
            has_provider = any(f.canonical == "provider" for f in layout.fields)

            def hold(field: str, reason: str, condition: str, extract=extract, sid=sid) -> None:
                if hold_rows(con, alias, extract, sid, field, reason, condition):
                    changed.add(sid)

            if layout.name in targets:
                key, me = targets[layout.name], extract.table.canonical
                same = f" AND d.provider IS NOT DISTINCT FROM {me}.provider" if has_provider else ""
                hold(
                    _column(layout, key),
                    f"is the {_column(layout, key)} of another row of the file too, so the rows "
                    "that name it would be ambiguous (every row with it is held)",
                    f"EXISTS (SELECT 1 FROM {table} d WHERE d.submission_id = {literal(sid)} "
                    f"AND d.{key} = {me}.{key}{same} AND d.source_row <> {me}.source_row)",
                )
            for link in layout.links:
                target = next(t for t in order if t.name == link.to)
                column = _column(layout, link.field)
                if link.to not in files:
                    suffix = f"_{period}" + (f"_r{revision}" if revision > 1 else "")
                    hold(
                        column,
                        f"names a {target.table} row, but its export's {target.table} file "
                        f"({provider}_{target.table}{suffix}) did not land in this run (a data "
                        "set's tables are ingested together)",
                        "true",
                    )
                    continue
                other_sid = files[link.to][1]
                other = f"{alias}.{files[link.to][0].table.canonical}"
                both = has_provider and any(f.canonical == "provider" for f in target.fields)
                match = f"o.{link.key} = {extract.table.canonical}.{link.field}" + (
                    f" AND o.provider IS NOT DISTINCT FROM {extract.table.canonical}.provider"
                    if both
                    else ""
                )
                hold(
                    column,
                    f"names no {target.table} row of its export (no row with that "
                    f"{_column(target, link.key)} landed in {files[link.to][0].path.name}, or it "
                    "was quarantined)",
                    f"NOT EXISTS (SELECT 1 FROM {other} o WHERE o.submission_id = "
                    f"{literal(other_sid)} AND {match})",
                )
                for date in link.dates if link.person else ():
                    hold(
                        _column(layout, date),
                        f"is before the date of birth ({_column(target, 'date_of_birth')}) of "
                        f"the person its {column} names",
                        f"{extract.table.canonical}.{date} < (SELECT o.date_of_birth FROM "
                        f"{other} o WHERE "
                        f"o.submission_id = {literal(other_sid)} AND {match})",
                    )
    return changed
