"""Releases in the browser: the airlock's pages (docs/releases.md).

An analyst requests a release from the zone's drafts (a purpose of the programme's, a title, what
each output shows, and for an output that fails a check the case for an exception), sees a
returned release with the checker's comments and resubmits it. An output checker or the data
protection officer lists the releases, opens one to see every cell of every output as it would
be released (suppressed and rounded cells marked in words, not colour alone), the rule set,
each output's description, checks and exception, and the history; then approves, returns or
rejects it with a comment. An approved release downloads as a zip of its CSV files,
results.json and checksums.

Every step is a function of openphm.disclosure (request_release, resubmit_release,
review_release, approve/return/reject_release, release_archive): who may take it (never the
requester; an exception only by the DPO), what it checks and what it records are theirs, not
this module's. Forms carry the session's CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from openphm.console import visible
from openphm.disclosure.checking import (
    approve_release,
    reject_release,
    release_archive,
    return_release,
    review_release,
)
from openphm.disclosure.outcomes import ROUNDED, SUPPRESSED
from openphm.disclosure.releases import (
    AWAITING,
    RELEASED,
    RETURNED,
    ReleaseError,
    ReleaseRefused,
    list_drafts,
    list_releases,
    release_folder,
    request_release,
    resubmit_release,
)
from openphm.governance.roles import Role, same_person
from openphm.programme.workspace import Workspace
from openphm.web.deps import Context, WebRefused, authorised, check_csrf, render, viewed

analyst_router = APIRouter(prefix="/analyst/releases", include_in_schema=False)
checker_router = APIRouter(prefix="/dpo/releases", include_in_schema=False)
download_router = APIRouter(prefix="/releases", include_in_schema=False)
# What the page a step redirects to says of it.
DONE = {
    "approved": "approved and released",
    "returned": "returned to its analyst",
    "rejected": "rejected",
    "requested": "requested: an output checker will review it",
    "resubmitted": "resubmitted for checking",
}


def _exists(ws: Workspace, release_id: str) -> None:
    try:
        release_folder(ws, release_id)
    except ReleaseError:
        raise HTTPException(404, "no such release") from None


def _refused_or(request: Request, err: ReleaseError, title: str, back: str):
    """A refusal (already audited by disclosure) is answered 403; any other reason the step
    cannot be taken, 409 with the reason and a way back."""
    if isinstance(err, ReleaseRefused):
        raise WebRefused(str(err)) from None
    return render(request, "release_problem.jinja", 409, title=title, reason=str(err), back=back)


# ----- the analyst -------------------------------------------------------------------------------


def _mine(ctx: Context) -> list[dict]:
    return [r for r in list_releases(ctx.ws) if same_person(r["requester"], ctx.user.name)]


def _analyst_page(request: Request, ctx: Context, status_code: int = 200, **context):
    con = ctx.ws.connect_linked(read_only=True)
    try:
        drafts = list_drafts(con)
    finally:
        con.close()
    mine = _mine(ctx)
    for release in mine:
        release["comments"] = [e for e in release["history"] if e.get("comment")]
    return render(
        request,
        "analyst_releases.jinja",
        status_code,
        title="Releases",
        drafts=drafts,
        purposes=[(p.value, p.label) for p in ctx.ws.config.programme.purposes],
        mine=list(reversed(mine)),
        returned=RETURNED,
        released=RELEASED,
        message=_message(request, mine),
        values=context.pop("values", {}),
        **context,
    )


def _message(request: Request, releases: list[dict]) -> str:
    """What the redirect after a step says, for a release that exists (never the caller's
    text as given)."""
    known = {r["id"] for r in releases}
    for key, words in DONE.items():
        release_id = request.query_params.get(key)
        if release_id in known:
            return f"Release {release_id} {words}."
    return ""


@analyst_router.get("")
def analyst_releases(request: Request, ctx: Context = Depends(authorised("release.request"))):
    ctx.ws.require_open()
    viewed(request, ctx, ("linked.release_drafts", "outputs/releases"))
    return _analyst_page(request, ctx)


def _named(form, prefix: str, names: list[str]) -> dict[str, str]:
    """Each named output's text from the form's `<prefix>-<name>` fields, if given."""
    found = {name: str(form.get(f"{prefix}-{name}") or "").strip() for name in names}
    return {name: text for name, text in found.items() if text}


@analyst_router.post("/request", dependencies=[Depends(check_csrf)])
async def request_a_release(
    request: Request, ctx: Context = Depends(authorised("release.request"))
):
    ctx.ws.require_open()
    form = await request.form()
    drafts = [str(d) for d in form.getlist("drafts")]
    purpose, title = str(form.get("purpose") or ""), str(form.get("title") or "").strip()
    problems = [] if drafts else ["choose at least one draft to release"]
    problems += [] if title else ["give the release a title"]
    if not problems:
        try:
            manifest = request_release(
                ctx.ws,
                ctx.actor,
                drafts,
                purpose=purpose,
                title=title,
                descriptions=_named(form, "describe", drafts),
                exceptions=_named(form, "exception", drafts),
            )
        except ReleaseError as err:
            problems = [str(err)]
        else:
            return RedirectResponse(
                f"/analyst/releases?requested={manifest['id']}", status_code=303
            )
    values = {k: form.getlist(k) if k == "drafts" else form.get(k) for k in form}
    return _analyst_page(request, ctx, 400, problems=problems, values=values)


@analyst_router.post("/{release_id}/resubmit", dependencies=[Depends(check_csrf)])
async def resubmit(
    request: Request, release_id: str, ctx: Context = Depends(authorised("release.resubmit"))
):
    ctx.ws.require_open()
    _exists(ctx.ws, release_id)
    form = await request.form()
    release = next(r for r in list_releases(ctx.ws) if r["id"] == release_id)
    names = [c["table"] for c in release["contents"]]
    try:
        resubmit_release(
            ctx.ws,
            ctx.actor,
            release_id,
            descriptions=_named(form, "describe", names),
            exceptions=_named(form, "exception", names),
            comment=str(form.get("comment") or "").strip(),
        )
    except ReleaseError as err:
        return _refused_or(request, err, "Cannot resubmit", "/analyst/releases")
    return RedirectResponse(f"/analyst/releases?resubmitted={release_id}", status_code=303)


# ----- the output checker and the DPO -----------------------------------------------------------


@checker_router.get("")
def releases(request: Request, ctx: Context = Depends(authorised("release.list"))):
    found = list_releases(ctx.ws)
    viewed(request, ctx, ("outputs/releases",))
    for release in found:
        release["rows"] = [
            [c["table"], c["rows"], suppressed(c), "yes" if c["exception"] else "no"]
            for c in release["contents"]
        ]
    return render(
        request,
        "dpo_releases.jinja",
        title="Releases",
        waiting=[r for r in found if r["status"] == AWAITING],
        releases=found,
        released=RELEASED,
        message=_message(request, found),
    )


def suppressed(item: dict) -> int:
    """Cells an output hides, whichever rule hid them."""
    kinds = ("primary_redactions", "secondary_redactions", "dominance_redactions")
    return sum(item.get(kind, 0) for kind in kinds)


def output_view(item: dict, cells) -> dict:
    """One output for the checker: what it is, and every cell as released, each marked by what
    disclosure control did to it (the file's own blank for a suppressed cell is shown in
    words)."""
    # By position, as the file's columns and rows (its column names may have been neutralised
    # for spreadsheets; ACRO's {column: {row: outcome}} keeps the table's order).
    marks = [list(column.values()) for column in item["outcome"].values()]
    rows = [
        [{"text": visible(value), "mark": marks[c][r]} for c, value in enumerate(values)]
        for r, values in enumerate(cells.itertuples(index=False))
    ]
    check = "; ".join(item["failures"])
    hidden = (
        f"{item['primary_redactions']} by the threshold, {item['secondary_redactions']} more "
        f"so that none can be worked out, {item.get('dominance_redactions', 0)} by dominance"
    )
    summary = [
        ("File", item["file"]),
        ("What it shows", item["description"]),
        ("Made by", _code(item["query"]) if item["query"] else "a draft saved from Python"),
        ("Disclosure checks", "passed" if item["check"] == "pass" else f"failed: {check}"),
        ("Exception asked", item["exception"] or "none"),
        ("Table rows", f"{item['rows']:,}"),
        ("Cells hidden", hidden),
        ("SHA-256", _code(item["sha256"])),
    ]
    columns = [visible(c) for c in cells.columns]
    return {**item, "summary": summary, "columns": columns, "cells": rows}


def _code(text: str) -> Markup:
    return Markup('<code class="phm-wrap">{}</code>').format(visible(text))


def _about(release: dict) -> list[tuple[str, str]]:
    approved = f" by {release['approved_by']}" if release["approved_by"] else ""
    return [
        ("Release", release["id"]),
        ("Purpose", release["purpose"]),
        ("Requested by", f"{release['requester']} on {release['requested_at']}"),
        ("Status", f"{release['status']}{approved}"),
    ]


def _rules(rules: dict) -> list[tuple[str, str]]:
    """The manifest's disclosure_rules, as a checker reads them."""
    p = rules.get("dominance_p_percent")
    shown = [
        ("Rule set", f"{rules['name']}, version {rules['version']}"),
        (
            "Counts hidden",
            f"1 to {rules['redact_up_to']}, and any cell that would let a hidden one be worked out",
        ),
        ("Other counts rounded", f"to the nearest {rules['round_to']}"),
        ("Sums hidden by dominance (p% rule)", f"p = {p}%" if p else "off"),
    ]
    return shown + ([("Relaxed because", rules["reason"])] if rules.get("reason") else [])


@checker_router.get("/{release_id}")
def review(request: Request, release_id: str, ctx: Context = Depends(authorised("release.review"))):
    _exists(ctx.ws, release_id)
    found = review_release(ctx.ws, ctx.actor, release_id)
    release = found.release
    exceptions = [c["table"] for c in release["contents"] if c["exception"]]
    return render(
        request,
        "dpo_release.jinja",
        title=f"Release {release_id}",
        r=release,
        about=_about(release),
        outputs=[output_view(item, found.tables[item["table"]]) for item in release["contents"]],
        rules=_rules(release["disclosure_rules"]),
        round_to=release["disclosure_rules"]["round_to"],
        own=same_person(release["requester"], ctx.user.name),
        exceptions=exceptions,
        may_approve_exceptions=ctx.user.role == Role.DATA_PROTECTION_OFFICER,
        awaiting=release["status"] == AWAITING,
        released=release["status"] == RELEASED,
        SUPPRESSED=SUPPRESSED,
        ROUNDED=ROUNDED,
    )


async def _decide(request: Request, release_id: str, ctx: Context, decide, done: str):
    _exists(ctx.ws, release_id)
    form = await request.form()
    comment = str(form.get("comment") or "")
    try:
        if done == "approved":
            decide(ctx.ws, ctx.actor, release_id)
        else:
            decide(ctx.ws, ctx.actor, release_id, comment)
    except ReleaseError as err:
        return _refused_or(request, err, "Cannot decide", f"/dpo/releases/{release_id}")
    return RedirectResponse(f"/dpo/releases?{done}={release_id}", status_code=303)


@checker_router.post("/{release_id}/approve", dependencies=[Depends(check_csrf)])
async def approve(
    request: Request, release_id: str, ctx: Context = Depends(authorised("release.approve"))
):
    return await _decide(request, release_id, ctx, approve_release, "approved")


@checker_router.post("/{release_id}/return", dependencies=[Depends(check_csrf)])
async def return_(
    request: Request, release_id: str, ctx: Context = Depends(authorised("release.return"))
):
    return await _decide(request, release_id, ctx, return_release, "returned")


@checker_router.post("/{release_id}/reject", dependencies=[Depends(check_csrf)])
async def reject(
    request: Request, release_id: str, ctx: Context = Depends(authorised("release.reject"))
):
    return await _decide(request, release_id, ctx, reject_release, "rejected")


# ----- download ----------------------------------------------------------------------------------


@download_router.get("/{release_id}/download")
def download(
    request: Request, release_id: str, ctx: Context = Depends(authorised("release.download"))
):
    """An approved release as a zip (its CSV files, results.json, checksums/), made in memory;
    recorded in its history and the audit log."""
    _exists(ctx.ws, release_id)
    try:
        archive = release_archive(ctx.ws, ctx.actor, release_id)
    except ReleaseError as err:
        return _refused_or(request, err, "Cannot download", "/")
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="release-{release_id}.zip"'},
    )


routers = (analyst_router, checker_router, download_router)
