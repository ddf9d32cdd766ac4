"""`phm trace`: match records without a usable NHS number against a spine, from CSV files;
`phm trace report`: the quality report of the models `phm link` kept; `phm trace review`:
precision and recall from a labelled clerical-review sample, recorded in the audit log.

Reads two identifiable CSV files (in the landing zone, or anywhere for a one-off trace); writes
a CSV of pairs and, with --report, a quality report and a sample for clerical review (which
holds the identifiers of the pairs sampled, for the person labelling them). Prints counts only,
never a patient's value.

Files inside a programme's workspace (after resolving symlinks and `..`) are the programme's
data and are refused, with the refusal audited there: `phm link` traces them and keeps the
result encrypted and under retention. Files outside any workspace are a data engineer's own
one-off check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import typer.core

from openphm.console import RoleOption
from openphm.identity.quality import unmatched_alert

_EXISTING_CSV = {"exists": True, "dir_okay": False, "readable": True}


class _TraceGroup(typer.core.TyperGroup):
    """`phm trace RECORDS.csv …` traces (the `run` command, named or not); `phm trace report`
    and `phm trace review` are the other commands."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def register(app: typer.Typer) -> None:
    trace_app = typer.Typer(
        cls=_TraceGroup,
        help="Trace records without a usable NHS number (phm trace RECORDS.csv …), report on "
        "the models phm link kept, and turn a clerical review into precision and recall.",
    )
    trace_app.command("run")(trace_command)
    trace_app.command("report")(report_command)
    trace_app.command("review")(review_command)
    app.add_typer(trace_app, name="trace")


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
            "date_of_birth, sex, postcode, address; COLUMN+COLUMN joins several (an address in "
            "lines). Applies to both files unless --against-map.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="CSV of pairs to write.", dir_okay=False)],
    against_map: Annotated[
        str | None,
        typer.Option(
            "--against-map",
            help="FIELD=COLUMN,… for the spine, if it differs; it may add "
            "previous_postcode (each person's postcode before they moved).",
        ),
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
        float | None,
        typer.Option(
            "--threshold",
            min=0.5,
            max=0.999999,
            help="Lowest match probability. Default: chosen from the trained model, the lowest "
            "at which the links are expected to be right 999 times in 1,000 (never below 0.95; "
            "docs/identity.md).",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="duckdb (default) or spark: Splink's Spark backend on a local Spark session "
            "whose files (encrypted spill) live in a temporary folder, deleted afterwards.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Folder for the quality report (index.html, Splink's charts, model.json) and "
            "review_sample.csv, pairs to label for `phm trace review` (it holds the pairs' "
            "identifiers: keep it with the input files).",
            file_okay=False,
        ),
    ] = None,
    role: RoleOption = None,
) -> None:
    """Trace RECORDS.csv against a spine: write each record's best match above the threshold as
    record_id, spine_id, match_probability. Unmatched records are not written."""
    from rich.console import Console

    from openphm.engine import engine_for
    from openphm.programme.workspace import workspace_root

    console = Console(stderr=True, highlight=False)
    _refuse_workspace_files(records, against, role)
    for path, option in ((out, "--out"), (report, "--report")):
        if path is not None and (root := workspace_root(path)) is not None:
            raise typer.BadParameter(
                f"{path} is inside the programme workspace {root}: what is written there would "
                "be plaintext that neither retention nor close knows of (and outputs/ is served "
                "to practices); write it outside any workspace",
                param_hint=option,
            )
    record_fields = parse_field_map(field_map, "--map")
    spine_fields = (
        parse_field_map(against_map, "--against-map", spine=True) if against_map else record_fields
    )
    with console.status("Reading files…"):
        left = _read(records, record_fields, id_column, "--map", "--id", "record_id")
        right = _read(
            against, spine_fields, against_id, "--against-map", "--against-id", "spine_id"
        )
    _show_parse_rates(console, left, record_fields, "records", "--map")
    spine_option = "--against-map" if against_map else "--map"
    _show_parse_rates(console, right, spine_fields, "spine", spine_option)
    with console.status(f"Tracing {len(left):,} records against {len(right):,} people…"):
        traced = _trace_on(engine_for(engine), left, right, threshold)
    pairs = traced.pairs
    out.parent.mkdir(parents=True, exist_ok=True)
    pairs.to_csv(out, index=False)
    model = traced.model
    console.print(f"Model: {model.reason}; expects {model.on_spine_share:.1%} of records on the "
                  f"spine. {traced.threshold.describe().capitalize()}.")  # fmt: skip
    console.print(
        f"Traced {len(left):,} records against {len(right):,} people: "
        f"[bold]{len(pairs):,} matched[/bold], {len(left) - len(pairs):,} left unmatched "
        f"(threshold {traced.threshold.value:.4f}). Pairs written to {out}."
    )
    alert = unmatched_alert("records", len(left), len(left) - len(pairs))
    if alert:
        console.print(f"[red]Alert:[/] {alert}")
    if report is not None:
        index = _write_report(report, traced, left, right, list(record_fields))
        console.print(f"Quality report: {index}; pairs to label: {report / 'review_sample.csv'} "
                      "(then `phm trace review`)", markup=False)  # fmt: skip


def _show_parse_rates(console, frame, fields: dict[str, str], label: str, option: str) -> None:
    """The share of each mapped field's values that could be read, and a warning for a
    field mostly unreadable (a column mapped by mistake, or a format no one expected)."""
    from openphm.identity.quality import parse_rates, warnings

    rates = parse_rates(frame, list(fields))
    shares = ", ".join(f"{r.field} {r.rate:.0%}" if r.sent else f"{r.field} -" for r in rates)
    console.print(f"Readable in the {label}: {shares}")
    for line in warnings(rates, f"check {option}"):
        console.print(f"[yellow]Warning:[/] {label}: {line}")


def _write_report(folder: Path, traced, left, right, fields: list[str]) -> Path:
    """The quality report, the model's JSON and a clerical-review sample, into `folder`."""
    import json
    from dataclasses import asdict

    from openphm.identity import report, review
    from openphm.identity.quality import parse_rates
    from openphm.identity.tracing import CANDIDATES_FROM, best_matches

    best = best_matches(traced.candidates, CANDIDATES_FROM)
    quality = {
        "records": len(left),
        "traced": len(traced.pairs),
        "parse_rates": [asdict(r) for r in parse_rates(left, fields)],
        "threshold": asdict(traced.threshold),
        "histogram": report.histogram(best["match_probability"].to_numpy()),
    }
    source = report.SourceQuality("records", traced.model, quality, traced.changes())
    index = report.write(folder, "Tracing: records against the spine", [source])
    (folder / "model.json").write_text(json.dumps(traced.model.settings, indent=2))
    shared = [f for f in fields if f in right.columns]
    sample = review.sample(best, traced.threshold.value, left.set_index("record_id"),
                           right.set_index("spine_id"), shared)  # fmt: skip
    sample.to_csv(folder / "review_sample.csv", index=False)
    return index


def report_command(
    workspace: Annotated[Path, typer.Argument(help="The programme's workspace.")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the report, outside any workspace.")
    ],
    role: RoleOption = None,
) -> None:
    """Write the quality report of the tracing models `phm link` kept, the latest of each
    source: Splink's match-weight and m/u charts (self-contained HTML), the match-probability
    histogram, the threshold and its expected precision and recall, parse rates and what
    changed from the source's model before. Counts and parameters only."""
    from openphm.programme.workspace import open_as, workspace_root
    from openphm.pseudonymise.models import write_report

    if (root := workspace_root(out)) is not None:
        raise typer.BadParameter(f"{out} is inside the programme workspace {root}: write the "
                                 "report outside any workspace", param_hint="--out")  # fmt: skip
    ws, actor = open_as(workspace, role, "identity.report")
    index, sources = write_report(ws, actor, out)
    typer.echo(f"Tracing report for {sources} source(s): {index}")


def review_command(
    sample: Annotated[
        Path, typer.Argument(help="The labelled review_sample.csv.", **_EXISTING_CSV)
    ],
    workspace: Annotated[
        Path, typer.Option("--workspace", help="The programme whose audit log records it.")
    ],
    role: RoleOption = None,
) -> None:
    """Turn a labelled clerical-review sample (label: match, non-match, or blank when unsure)
    into estimated precision and recall with 95% intervals, and record them in the audit log."""
    import pandas as pd

    from openphm.errors import UserFacingError
    from openphm.identity.review import ReviewError, record_review
    from openphm.programme.workspace import open_as

    ws, actor = open_as(workspace, role, "identity.review")
    try:
        found = record_review(ws, actor, sample)
    except (ReviewError, ValueError, TypeError, pd.errors.ParserError) as err:
        raise UserFacingError(f"{sample}: {err}") from None
    typer.echo(f"Clerical review: {found.describe()}. Recorded in the audit log.")


def _trace_on(engine, left, right, threshold: float | None):
    """The records traced as one source (their model trained on them if there are enough), on
    `engine`: where it keeps files, a temporary folder of its own, deleted afterwards."""
    from openphm.errors import UserFacingError
    from openphm.identity.tracing import (
        Prepared,
        Source,
        TracingError,
        prepare,
        trace_sources,
    )

    try:
        records = Prepared(prepare(left, "record_id"))
        sources = [Source(("records",), records.frame["unique_id"])]
        with engine.tracing(shuffle_partitions=4) as connection:
            [traced] = trace_sources(records, right, sources, threshold=threshold,
                                     engine=engine, connection=connection)  # fmt: skip
    except TracingError as err:
        # What the files cannot be traced for (a spine of one person, no field to block
        # on): a message to act on, not a traceback.
        raise UserFacingError(f"cannot trace: {err}") from None
    return traced


def _refuse_workspace_files(records: Path, against: Path, role: str | None) -> None:
    """Refuse, and audit, a trace of files inside a programme's workspace. The programme's
    data is traced by `phm link`, which keeps what it derives encrypted and under retention;
    pairs written here would be plaintext that neither retention nor close knows of."""
    from openphm.programme.workspace import refuse_files_inside

    refuse_files_inside(
        (records, against), role, "identity.trace",
        "its data is traced by `phm link`, which keeps the result encrypted and under "
        "retention; `phm trace` is for files outside any workspace",
    )  # fmt: skip


def parse_field_map(text: str, option: str, *, spine: bool = False) -> dict[str, str]:
    """'given_name=Forename,sex=Gender' → {"given_name": "Forename", "sex": "Gender"}. A
    spine's map (`spine`) may also name `previous_postcode`, each person's postcode before
    they moved, which only a register of people has (a record at it counts for them)."""
    from openphm.identity.tracing import FIELDS, SPINE_FIELDS

    known = (*FIELDS, *SPINE_FIELDS) if spine else FIELDS
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        field, equals, column = (piece.strip() for piece in item.partition("="))
        if not equals or not field or not all(_columns(column)):
            raise typer.BadParameter(f"'{item}' is not FIELD=COLUMN", param_hint=option)
        if field in SPINE_FIELDS and not spine:
            raise typer.BadParameter(
                f"'{field}' is the spine's only: give it in --against-map (with the spine's "
                "other fields)",
                param_hint=option,
            )
        if field not in known:
            raise typer.BadParameter(
                f"'{field}' is not a field tracing uses; use one of {', '.join(known)}",
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


def _columns(spec: str) -> list[str]:
    """'street+town' → ['street', 'town']: a field may be several columns, joined."""
    return [c.strip() for c in spec.split("+")]


def _joined(frame, spec: str):
    """The field's values: its column, or its columns' non-blank values joined by a space
    (an address in several lines); blank when all are."""
    columns = _columns(spec)
    if len(columns) == 1:
        return frame[columns[0]]
    joined = frame[columns[0]].str.cat([frame[c] for c in columns[1:]], sep=" ", na_rep="")
    joined = joined.str.replace(r"\s+", " ", regex=True).str.strip()
    return joined.mask(joined == "")


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
    named = {c for spec in wanted.values() for c in _columns(spec)}
    for field, spec in wanted.items():
        for column in _columns(spec):
            if column in frame.columns:
                continue
            option = id_option if field == id_name else map_option
            # The header is named only if it looks like one: in a file without a header row,
            # pandas takes the first patient's values as the column names.
            known = [c for c in frame.columns if c in named]
            listed = ", ".join(frame.columns) if known else f"{len(frame.columns)} columns"
            raise typer.BadParameter(
                f"{path} has no column '{column}' (for {field}); it has: {listed}",
                param_hint=option,
            )
    chosen = pd.DataFrame({field: _joined(frame, spec) for field, spec in fields.items()})
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
