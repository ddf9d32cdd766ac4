"""The data protection officer's pages: where the programme stands, what has been destroyed, the
audit log with its chain verified, the privacy notice, and the close with its certificate
(releases, which output checkers share, are web.releases')."""

from __future__ import annotations

import json
from collections import Counter

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from markupsafe import Markup, escape

from openphm import clock
from openphm.governance import certificate
from openphm.governance.lifecycle import CERTIFICATE_FILE, close_programme
from openphm.governance.notice import privacy_notice
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


def objections_applied(ws: Workspace) -> dict[str, int]:
    """Objections applied, from the audit log: every count whose name mentions an objection
    (e.g. objected_removed), summed per action that reported it."""
    totals: Counter[str] = Counter()
    for entry in ws.audit.entries():
        if entry.outcome != "ok":
            continue
        for name, value in entry.counts.items():
            if "object" in name:
                totals[f"{entry.action}: {name}"] += value
    return dict(totals)


@router.get("")
def status(request: Request, ctx: Context = Depends(authorised("governance.status"))):
    summary = programme_status(ctx.ws)
    objections = objections_applied(ctx.ws)
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
    )


@router.get("/audit")
def audit(request: Request, ctx: Context = Depends(authorised("audit.show"))):
    ctx.ws.authorise(ctx.actor, "audit.verify")
    verification = ctx.ws.audit.verify()
    entries = list(ctx.ws.audit.entries())
    if not verification.ok:  # a finding, one entry each; a clean check is part of the view
        ctx.ws.audit.record(
            ctx.actor,
            "audit.verify",
            outcome="failed",
            counts={"entries": verification.entries, "problems": len(verification.problems)},
        )
    viewed(request, ctx, ("audit",))
    return render(
        request,
        "dpo_audit.jinja",
        title="Audit log",
        verification=verification,
        rows=[e.row() for e in reversed(entries)],
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


@router.get("/certificate")
def certificate_page(request: Request, ctx: Context = Depends(authorised("governance.status"))):
    path = ctx.ws.zone("outputs") / CERTIFICATE_FILE
    body, problem = None, None
    if path.is_file():
        try:
            body = certificate.verify(path, ctx.ws.meta["signing_public_key"])
        except certificate.CertificateError as err:
            problem = str(err)
    return render(
        request,
        "dpo_certificate.jinja",
        title="Destruction certificate",
        body=body,
        problem=problem,
        raw=json.dumps(body, indent=2) if body else "",
    )


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
