"""The data protection officer's pages: where the programme stands, what has been destroyed and
what the schedule destroys next, the privacy notice, and the close with its certificate (the
audit log is web.audit_view's; releases, which output checkers share, web.releases')."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse
from markupsafe import Markup, escape

from openphm import clock
from openphm.governance import certificate
from openphm.governance.lifecycle import CERTIFICATE_FILE, close_programme
from openphm.governance.notice import privacy_notice
from openphm.governance.schedule import timetable
from openphm.governance.withheld import withheld
from openphm.programme.workspace import ZONES, Workspace
from openphm.web.deps import Context, authorised, check_csrf, render, viewed

router = APIRouter(prefix="/dpo", include_in_schema=False)


def programme_status(ws: Workspace) -> dict:
    """Dates, days left, zone sizes (file counts and bytes only), keys held and destroyed."""
    programme = ws.config.programme
    zones = {}
    for zone in ZONES:
        files = [p for p in ws.zone(zone).rglob("*") if p.is_file()]
        zones[zone] = {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
    return {
        "programme": programme.name,
        "start_date": programme.start_date.isoformat(),
        "end_date": programme.end_date.isoformat(),
        "days_left": max((programme.end_date - clock.today()).days, 0),
        "closed": ws.meta.get("closed"),
        "identifiable_retention_days": programme.identifiable_retention_days,
        "zones": zones,
        "keys_held": sorted(ws.keystore.names()),
        "keys_destroyed": sorted(ws.keystore.destroyed()),
    }


# Counts that are a level (how many people the objection register holds after a run), not a
# flow: the latest is the answer, a sum over runs would count the same people again.
LEVELS = frozenset({"objectors"})
# What each objection count counts, saying whether it is people or rows.
OBJECTION_COUNTS = {
    "objectors": "people in the objection register (after the latest run)",
    "objected_removed": "rows removed{of}: objectors' records already linked",
    "objected_excluded": "rows left out{of} as they arrived: objectors' records",
    "objected_since_built": "people taken out of cohorts: they objected after it was built",
}


def objections_applied(ws: Workspace) -> dict[str, int]:
    """Objections applied, from the audit log: every count whose name mentions an objection
    (e.g. objected_removed), summed per action that reported it; a level (`objectors`, the
    register's size) is the latest reported, never a sum."""
    totals: Counter[str] = Counter()
    for entry in ws.audit.entries():
        if entry.outcome != "ok":
            continue
        for name, value in entry.counts.items():
            if "object" in name:
                key = f"{entry.action}: {name}"
                totals[key] = value if name in LEVELS else totals[key] + value
    return dict(totals)


def objection_rows(applied: dict[str, int]) -> list[list[str]]:
    """[reported by, what was counted (people or rows), count] for the DPO's page."""
    rows = []
    for key, value in applied.items():
        action, _, name = key.partition(": ")
        base, _, table = name.partition(".")
        words = OBJECTION_COUNTS.get(base, f"{name} (as that step counted it)")
        rows.append([action, words.format(of=f" from {table}" if table else ""), f"{value:,}"])
    return rows


def timetable_rows(ws: Workspace) -> tuple[list[list[str]], str]:
    """The schedule's destruction timetable (governance.schedule.timetable) as rows, or why it
    cannot be read here: with key custody the landing zone is the processor's alone, and the
    web service runs as the analytics account."""
    try:
        due = timetable(ws)
    except PermissionError:
        return [], (
            "This service's account cannot read the landing zone (key custody keeps it for the "
            "processor's account), so it cannot list when each landing batch falls due. "
            "`phm schedule show WORKSPACE --role data-protection-officer`, run as the schedule's "
            "account, lists them."
        )
    rows = [[d.what, d.when, d.how, "yes: the next scheduled run" if d.now else "no"] for d in due]
    return rows, ""


@router.get("")
def status(request: Request, ctx: Context = Depends(authorised("governance.status"))):
    summary = programme_status(ctx.ws)
    objections = objection_rows(objections_applied(ctx.ws))
    due, unreadable = timetable_rows(ctx.ws)
    kept = withheld(ctx.ws.audit)
    viewed(request, ctx)
    zone_rows = [
        [zone, z["files"], f"{z['bytes'] / 1e6:.1f}"] for zone, z in summary["zones"].items()
    ]
    return render(
        request,
        "dpo_status.jinja",
        title="Programme status",
        s=summary,
        zone_rows=zone_rows,
        objections=objections,
        due=due,
        unreadable=unreadable,
        sensitive=kept.rows(),
        sensitive_off=kept.reason,
    )


@router.get("/notice")
def notice(request: Request, ctx: Context = Depends(authorised("programme.notice"))):
    return render(
        request,
        "dpo_notice.jinja",
        title="Privacy notice",
        notice=markdown_to_html(privacy_notice(ctx.ws.config)),
    )


@router.get("/close")
def close_page(request: Request, ctx: Context = Depends(authorised("programme.close"))):
    if ctx.ws.closed:
        return RedirectResponse("/dpo/certificate", status_code=303)
    return render(
        request, "dpo_close.jinja", title="Close the programme", s=programme_status(ctx.ws)
    )


@router.post("/close", dependencies=[Depends(check_csrf)])
def close(
    request: Request,
    reason: str = Form(""),
    confirm: str = Form(""),
    ctx: Context = Depends(authorised("programme.close")),
):
    ctx.ws.require_not_closed()
    if confirm != "destroy" or not reason.strip():
        return render(
            request,
            "dpo_close.jinja",
            400,
            title="Close the programme",
            s=programme_status(ctx.ws),
            error=True,
            reason=reason,
        )
    close_programme(ctx.ws, ctx.actor, reason=reason.strip())
    return RedirectResponse("/dpo/certificate", status_code=303)


def _certificate_files(ws: Workspace) -> dict[str, Path]:
    """The certificate's two forms: the signed JSON and its printable HTML twin."""
    json_path = ws.zone("outputs") / CERTIFICATE_FILE
    return {"json": json_path, "html": json_path.with_suffix(".html")}


def _verified(path: Path, public_key: str) -> tuple[dict | None, str]:
    """The certificate's body if `path` verifies against the programme's key, else why not."""
    if not path.is_file():
        return None, f"{path.name} is not there"
    try:
        return certificate.verify(path, public_key), ""
    except certificate.CertificateError as err:
        return None, str(err)


@router.get("/certificate")
def certificate_page(request: Request, ctx: Context = Depends(authorised("governance.status"))):
    """The destruction certificate's content in the service's own layout, with both its forms
    verified (governance.certificate.verify) and offered for download."""
    files = _certificate_files(ctx.ws)
    key = ctx.ws.meta["signing_public_key"]
    body, problem = _verified(files["json"], key) if files["json"].is_file() else (None, "")
    html_problem = _verified(files["html"], key)[1] if body else ""
    viewed(request, ctx, ("outputs/destruction-certificate",))
    signed = json.loads(files["json"].read_text()) if body else {}
    return render(
        request,
        "dpo_certificate.jinja",
        title="Destruction certificate",
        c=body,
        problem=problem,
        html_problem=html_problem,
        signed=signed,
    )


@router.get("/certificate.{form}")
def certificate_file(
    request: Request, form: str, ctx: Context = Depends(authorised("governance.status"))
):
    """The certificate as signed (JSON) or printable (HTML, opened from the file: its own
    styles are inline, which this service's pages do not allow). One audit entry each."""
    path = _certificate_files(ctx.ws).get(form)
    if path is None or not path.is_file():
        raise HTTPException(404, "no such certificate")
    ctx.ws.audit.record(ctx.actor, "certificate.download", reads=(f"outputs/{path.name}",))
    media = "application/json" if form == "json" else "text/html"
    return FileResponse(path, media_type=media, filename=path.name)


def markdown_to_html(text: str) -> Markup:
    """The notice's Markdown (headings, paragraphs, bullet lists) as HTML, escaped."""
    html: list[str] = []
    in_list = False
    for line in text.splitlines():
        if line.startswith("- "):
            if not in_list:
                html.append("<ul>")
                in_list = True
            html.append(f"<li>{escape(line[2:])}</li>")
            continue
        if in_list:
            html.append("</ul>")
            in_list = False
        if line.startswith("## "):
            html.append(f"<h2>{escape(line[3:])}</h2>")
        elif line.startswith("# "):
            html.append(f"<h1>{escape(line[2:])}</h1>")
        elif line.strip():
            html.append(f"<p>{escape(line)}</p>")
    if in_list:
        html.append("</ul>")
    return Markup("\n".join(html))


# ----- accounts (the same functions as phm user …) -----------------------------------------

ACCOUNT_ACTIONS = {
    "disable": "web.user.disable",
    "enable": "web.user.enable",
    "unlock": "web.user.unlock",
    "reset-password": "web.user.reset_password",
}


def _accounts_page(request: Request, ctx: Context, status: int = 200, *, listed=True, **more):
    from openphm.web.account_admin import account_list

    accounts = account_list(ctx.ws, ctx.actor, audit=listed)
    return render(request, "dpo_accounts.jinja", status, title="Accounts",
                  accounts=accounts, me=ctx.user.name, **more)  # fmt: skip


@router.get("/accounts")
def accounts_page(request: Request, ctx: Context = Depends(authorised("web.user.list"))):
    return _accounts_page(request, ctx)


@router.post("/accounts/{action}", dependencies=[Depends(check_csrf)])
def account_action(
    request: Request,
    action: str,
    name: str = Form(""),
    password: str = Form(""),
    ctx: Context = Depends(authorised("web.user.list")),
):
    """Disable, enable, unlock or reset the password of the account `name`: the role is
    checked for the action itself too (audited if refused), then as `phm user` does it."""
    from openphm.web import account_admin
    from openphm.web.accounts import AccountError

    if action not in ACCOUNT_ACTIONS:
        raise HTTPException(404)
    ctx.ws.authorise(ctx.actor, ACCOUNT_ACTIONS[action])
    try:
        if action == "disable" and name == ctx.user.name:
            raise AccountError("you cannot disable your own account (another DPO can)")
        if action == "reset-password":
            account_admin.reset_password(ctx.ws, ctx.actor, name, password)
            done = f"Password of {name} reset: they must choose a new one at sign-in."
        elif action == "unlock":
            cleared = account_admin.unlock(ctx.ws, ctx.actor, name)
            done = f"Unlocked {name}: {cleared} failed sign-in(s) cleared."
        else:
            getattr(account_admin, action)(ctx.ws, ctx.actor, name)
            done = f"{action.capitalize()}d {name}."
    except AccountError as err:
        return _accounts_page(request, ctx, 400, listed=False, problem=str(err))
    return _accounts_page(request, ctx, listed=False, done=done)
