"""A GP practice's pages: its own cohort lists (WORKSPACE/outputs/cohorts/<ODS code>/*.csv),
to download and open with `phm practice reidentify`, or to open in the page itself on the
practice's own machine (`/practice/open/<name>`: static/practice.mjs opens the tokens with the
practice's private key and joins its patient list in the browser; neither is ever sent here), and
the practice's key (`/practice/key`: made in the browser, its public half registered here).
Nothing about any other practice.

Each list is shown as a practice manager reads it: the practice's name and ODS code, the
cohort's purpose and criteria in words, how many people, when it was made and from which
data, dates as "6 December 2026" (from the <name>.json `cohorts.build` writes beside each
list; a list without one shows what its file gives). The CSV downloaded starts with the same
facts, one "# ..." line each, above the table (`phm practice reidentify` skips them and copies
them to the worklist).

The practice comes from the signed-in account, never from the URL, and a file is served only if
it is one of the names listed in that practice's own folder: a guessed name, another practice's
file or a path with `..` or `/` in it is refused and audited.

A hospital provider's user (role `provider`) is served by these same pages: its account names the
trust, whose lists are in the trust's own folder (outputs/cohorts/<trust ODS code>/), so it sees
and downloads only those, and no practice sees them. The words that differ for a provider are in
`organisation` and `provider_words`, at the end.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from openphm.cohorts.outcomes import OUTCOMES
from openphm.cohorts.words import OUTCOME_WORDS, date_words, practice_name, practice_words
from openphm.programme.workspace import Workspace
from openphm.web.deps import Context, authorised, refuse, render, viewed
from openphm.web.failures import FailureKind

router = APIRouter(prefix="/practice", include_in_schema=False)
COHORTS = "cohorts"
# In fixed words: the name asked for is the caller's text (the account says which practice).
NOT_OWN_LIST = FailureKind(
    "cohort.download", "refused", "asked for a file that is not one of the practice's own lists"
)


def cohort_folder(ws: Workspace, ods: str) -> Path:
    return ws.zone("outputs") / COHORTS / ods


def cohort_lists(ws: Workspace, ods: str) -> list[Path]:
    """The practice's own cohort list files (plain files only, no links)."""
    folder = cohort_folder(ws, ods)
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.suffix == ".csv" and p.is_file() and not p.is_symlink()
    )


def _people(path: Path) -> int:
    """Rows in a list file (its header aside): a list is small, one practice's people."""
    with path.open(newline="") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def describe(ws: Workspace, path: Path) -> dict:
    """What the practice reads about one of its lists."""
    about_file = path.with_suffix(".json")
    about = {}
    if about_file.is_file() and not about_file.is_symlink():
        try:
            about = json.loads(about_file.read_text())
        except (OSError, ValueError):
            about = {}
    ods = path.parent.name
    kind = about.get("organisation") or organisation(ws.config, ods)
    made = about.get("made") or dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat(
        timespec="seconds"
    )
    return {
        "name": path.name,
        "cohort": about.get("cohort", path.stem),
        "description": about.get("description", ""),
        "purpose": about.get("purpose", ""),
        "purpose_words": about.get("purpose_words", ""),
        "match": about.get("match", "all"),
        "criteria": list(about.get("criteria", [])),
        "practice": ods,
        "practice_name": about.get("practice_name")
        or practice_name(ws.config, ods)
        or ws.config.provider_name(ods),
        "organisation": kind,  # "practice" or "provider": whose list it is
        "scope": about.get("scope", ""),  # a provider's list: whom the provider saw, when
        "people": about["people"] if "people" in about else _people(path),
        "made": made,
        "made_words": date_words(made),
        "data_as_at": about.get("data_as_at"),
        "data_as_at_words": date_words(about["data_as_at"]) if about.get("data_as_at") else "",
    }


def preamble(about: dict) -> list[str]:
    """The facts at the head of a downloaded list, one line each, every one starting "#"."""
    practice = (
        f"{about['practice_name']} ({about['practice']})"
        if about["practice_name"]
        else about["practice"]
    )
    provider = about.get("organisation") == "provider"
    lines = [
        f"# Cohort list: {about['description'] or about['cohort']} ({about['cohort']})",
        f"# {'Provider' if provider else 'Practice'}: {practice}",
    ]
    if about["purpose_words"]:
        lines.append(f"# Purpose: {about['purpose_words']}")
    if about["criteria"]:
        which = "all" if about["match"] == "all" else "at least one"
        who = f"{about['scope']}, who meet" if about.get("scope") else "people who meet"
        lines.append(f"# Who is on it: {who} {which} of: " + "; ".join(about["criteria"]))
    lines.append(f"# People on the list: {about['people']:,}")
    made = f"# Made on {about['made_words']}"
    if about["data_as_at_words"]:
        made += f" from data up to {about['data_as_at_words']}"
    lines.append(made)
    lines.append(
        "# Each row is one of your patients: open the tokens with your practice's private key "
        "(in your browser on the practice's page, or phm practice reidentify). Reasons say why "
        "each person is on the list."
    )
    if provider:
        lines[-1] = provider_words(lines[-1])
    # One physical line each: a line break inside would end the "#" line early.
    return [" ".join(line.split()) for line in lines]


@router.get("/cohorts")
def inbox(request: Request, ctx: Context = Depends(authorised("cohort.inbox"))):
    lists = [describe(ctx.ws, p) for p in cohort_lists(ctx.ws, ctx.user.ods)]
    viewed(request, ctx)
    return render(
        request,
        "practice_cohorts.jinja",
        title="Cohort lists",
        files=lists,
        practice=whose_lists(ctx.ws.config, ctx.user.ods),
        organisation=organisation(ctx.ws.config, ctx.user.ods),
    )


def own_list(request: Request, ctx: Context, name: str) -> Path:
    """One of the signed-in practice's own list files by name, or refused (403, audited)."""
    own = {p.name: p for p in cohort_lists(ctx.ws, ctx.user.ods)}
    path = own.get(name)
    if path is None:
        refuse(request, NOT_OWN_LIST)
    return path


@router.get("/open/{name:path}")
def open_list(name: str, request: Request, ctx: Context = Depends(authorised("cohort.download"))):
    """The page that opens one of the practice's lists on the practice's own machine."""
    path = own_list(request, ctx, name)
    viewed(request, ctx)
    request.state.wasm = True  # libsodium's WebAssembly (web.security)
    return render(
        request,
        "practice_list.jinja",
        title="Open a cohort list",
        f=describe(ctx.ws, path),
        outcomes=[(o, OUTCOME_WORDS[o]) for o in OUTCOMES],
        worklist_name=f"{path.stem}-worklist.csv",
    )


@router.get("/cohorts/{name:path}")
def download(name: str, request: Request, ctx: Context = Depends(authorised("cohort.download"))):
    path = own_list(request, ctx, name)
    head = io.StringIO()
    writer = csv.writer(head, lineterminator="\n")
    for line in preamble(describe(ctx.ws, path)):
        writer.writerow([line])
    body = head.getvalue() + path.read_text(encoding="utf-8")
    ctx.ws.audit.record(
        ctx.actor, "cohort.download", reads=(f"outputs/{COHORTS}/{ctx.user.ods}/{path.name}",)
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _attachment(path.name)},
    )


def _attachment(name: str) -> str:
    """A Content-Disposition for `name`, as Starlette's FileResponse writes one."""
    quoted = quote(name)
    if quoted != name:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{name}"'


# ----- Hospital providers: the words that differ on their lists ------------------------------


def organisation(config, ods: str) -> str:
    """Whose lists a folder holds, in the page's words: "provider" for one of the programme's
    hospital or community providers, else "practice"."""
    return "provider" if ods in config.list_providers() else "practice"


def whose_lists(config, ods: str) -> str:
    """The page's heading: the practice's name and code, or the provider's."""
    if organisation(config, ods) == "provider":
        name = config.provider_name(ods)
        return f"{name} ({ods})" if name else ods
    return practice_words(config, ods)


def provider_words(line: str) -> str:
    """A practice's line of a list's head, as a provider reads it."""
    return line.replace("your practice's", "your provider's").replace(
        "phm practice reidentify", "phm provider reidentify"
    )
