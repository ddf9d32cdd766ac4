"""`phm trace`: match records without a usable NHS number against a spine, from CSV files.

Reads two identifiable CSV files (in the landing zone, or anywhere for a one-off trace); writes
a CSV of pairs. Prints counts only, never a patient's value.

Files inside a programme's workspace are the programme's data: tracing them needs the
processor-engineer role, is audited there (counts only), and the pairs must be written inside
the same workspace, so that retention and close destroy them with everything else. Files
outside any workspace are a data engineer's own one-off check, and nothing here records them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openphm.console import RoleOption

_EXISTING_CSV = {"exists": True, "dir_okay": False, "readable": True}


def register(app: typer.Typer) -> None:
    app.command("trace")(trace_command)


def trace_command(
    records: Annotated[Path, typer.Argument(help="CSV of records to trace.", **_EXISTING_CSV)],
    against: Annotated[
        Path,
        typer.Option(
            "--against", help="CSV of the spine (registered population).", **_EXISTING_CSV
        ),
    ],
    field_map: Annotated[
        str,
        typer.Option(
            "--map",
            help="FIELD=COLUMN,… naming each file's column for a field: given_name, family_name, "
            "date_of_birth, sex, postcode, address. Applies to both files unless --against-map.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="CSV of pairs to write.", dir_okay=False)],
    against_map: Annotated[
        str | None,
        typer.Option("--against-map", help="FIELD=COLUMN,… for the spine, if it differs."),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option("--id", help="Records' id column (default: the row number, from 1)."),
    ] = None,
    against_id: Annotated[
        str | None,
        typer.Option("--against-id", help="Spine's id column (default: the row number, from 1)."),
    ] = None,
    threshold: Annotated[
        float,
        typer.Option("--threshold", min=0.5, max=0.999999, help="Lowest match probability."),
    ] = 0.95,
    role: RoleOption = None,
) -> None:
    """Trace RECORDS.csv against a spine: write each record's best match above the threshold as
    record_id, spine_id, match_probability. Unmatched records are not written."""
    from rich.console import Console

    from openphm.identity.tracing import trace

    console = Console(stderr=True, highlight=False)
    programme = _programme_of(records, against, out, role)
    record_fields = parse_field_map(field_map, "--map")
    spine_fields = parse_field_map(against_map, "--against-map") if against_map else record_fields
    with console.status("Reading files…"):
        left = _read(records, record_fields, id_column, "--map", "--id", "record_id")
        right = _read(
            against, spine_fields, against_id, "--against-map", "--against-id", "spine_id"
        )
    with console.status(f"Tracing {len(left):,} records against {len(right):,} people…"):
        pairs = trace(left, right, threshold=threshold)
    out.parent.mkdir(parents=True, exist_ok=True)
    pairs.to_csv(out, index=False)
    if programme:
        ws, actor = programme
        ws.audit.record(
            actor,
            "identity.trace",
            reads=["landing"],
            writes=["landing"],
            counts={"records": len(left), "spine": len(right), "matched": len(pairs)},
        )
    console.print(
        f"Traced {len(left):,} records against {len(right):,} people: "
        f"[bold]{len(pairs):,} matched[/bold], {len(left) - len(pairs):,} left unmatched "
        f"(threshold {threshold}). Pairs written to {out}."
    )


def _programme_of(records: Path, against: Path, out: Path, role: str | None):
    """(workspace, actor) when either input lies inside a programme's workspace, after the
    role is authorised and the output is checked to stay inside it; else None."""
    from openphm.governance.roles import Refused, current_actor
    from openphm.programme.workspace import Workspace

    roots = {root for path in (records, against) if (root := _workspace_root(path))}
    if not roots:
        return None
    if len(roots) > 1:
        raise typer.BadParameter("the records and the spine are in two different workspaces")
    root = roots.pop()
    ws = Workspace.open(root)
    actor = current_actor(role)
    ws.authorise(actor, "identity.trace")
    if _workspace_root(out) != root:
        reason = (
            f"the pairs trace the programme's data, so they stay in its workspace ({root}), "
            "where retention and close destroy them; give --out a path inside it"
        )
        ws.audit.record(actor, "identity.trace", outcome="refused", reason=reason)
        raise Refused(reason)
    return ws, actor


def _workspace_root(path: Path) -> Path | None:
    for folder in Path(path).absolute().parents:
        if (folder / "workspace.json").is_file():
            return folder
    return None


def parse_field_map(text: str, option: str) -> dict[str, str]:
    """'given_name=Forename,sex=Gender' → {"given_name": "Forename", "sex": "Gender"}."""
    from openphm.identity.tracing import FIELDS

    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        field, equals, column = (piece.strip() for piece in item.partition("="))
        if not equals or not field or not column:
            raise typer.BadParameter(f"'{item}' is not FIELD=COLUMN", param_hint=option)
        if field not in FIELDS:
            raise typer.BadParameter(
                f"'{field}' is not a field tracing uses; use one of {', '.join(FIELDS)}",
                param_hint=option,
            )
        if field in mapping:
            raise typer.BadParameter(f"'{field}' is mapped twice", param_hint=option)
        mapping[field] = column
    if not mapping:
        raise typer.BadParameter(
            "map at least one field, e.g. date_of_birth=dob", param_hint=option
        )
    return mapping


def _read(path: Path, fields: dict[str, str], id_column: str | None, map_option: str,
          id_option: str, id_name: str):  # fmt: skip
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise typer.BadParameter(
            f"{path} is not a readable CSV file ({type(err).__name__})"
        ) from None
    wanted = {**fields, **({id_name: id_column} if id_column else {})}
    for field, column in wanted.items():
        if column not in frame.columns:
            option = id_option if field == id_name else map_option
            # The header is named only if it looks like one: in a file without a header row,
            # pandas takes the first patient's values as the column names.
            known = [c for c in frame.columns if c in wanted.values()]
            listed = ", ".join(frame.columns) if known else f"{len(frame.columns)} columns"
            raise typer.BadParameter(
                f"{path} has no column '{column}' (for {field}); it has: {listed}",
                param_hint=option,
            )
    chosen = pd.DataFrame({field: frame[column] for field, column in fields.items()})
    if id_column:
        ids = frame[id_column]
        if ids.isna().any() or ids.duplicated().any():
            raise typer.BadParameter(
                f"{path}: column '{id_column}' has blank or repeated ids", param_hint=id_option
            )
    else:
        ids = pd.Series(range(1, len(frame) + 1)).astype("string")
    chosen.insert(0, id_name, ids.to_numpy())
    return chosen
