"""What every route shares: the signed-in user, the workspace, role checks that audit their
refusals, the CSRF check on every form, and rendering a page in the NHS.UK template."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader
from starlette.templating import Jinja2Templates

from openphm.governance.audit import Actor
from openphm.governance.roles import Role
from openphm.programme.workspace import Workspace
from openphm.web.accounts import User
from openphm.web.failures import ANONYMOUS, CSRF_REFUSED, FailureKind
from openphm.web.security import CSRF_FIELD, Session, csrf_ok

templates = Jinja2Templates(
    env=Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(str(Path(__file__).parent / "templates")),
                PackageLoader("nhsuk_frontend_jinja"),
            ]
        ),
        undefined=ChainableUndefined,
        autoescape=True,
    )
)

# The pages each role's menu offers; the role checks themselves are in each route.
NAVIGATION: dict[Role, list[tuple[str, str]]] = {
    Role.ANALYST: [
        ("Population", "/analyst/population"),
        ("Activity and inequality", "/analyst/activity"),
        ("Registers", "/analyst/registers"),
        ("Multimorbidity", "/analyst/multimorbidity"),
        ("Risk", "/analyst/risk"),
        ("Indicators", "/analyst/indicators"),
        ("Trends (SPC)", "/analyst/trends"),
        ("Cohort builder", "/analyst/cohorts"),
        ("Query (SQL)", "/analyst/sql"),
        ("Releases", "/analyst/releases"),
    ],
    Role.PRACTICE: [("Cohort lists", "/practice/cohorts"), ("Practice key", "/practice/key")],
    Role.DATA_PROTECTION_OFFICER: [
        ("Status", "/dpo"),
        ("Audit log", "/dpo/audit"),
        ("Releases", "/dpo/releases"),
        ("Accounts", "/dpo/accounts"),
        ("Practice keys", "/dpo/practice-keys"),
        ("Refreshes", "/refreshes"),
        ("Privacy notice", "/dpo/notice"),
        ("Close", "/dpo/close"),
    ],
    Role.OUTPUT_CHECKER: [("Releases", "/dpo/releases")],
    Role.PROCESSOR_ENGINEER: [("Refreshes", "/refreshes")],
    # A hospital provider's lists are served by the practices' pages (web.practice): the
    # account says whose lists they are.
    Role.PROVIDER: [("Cohort lists", "/practice/cohorts")],
}


class NotSignedIn(Exception):
    """No signed-in user: pages redirect to sign-in, the API answers 401."""


class WebRefused(PermissionError):
    """A request refused by the web service itself (already audited)."""


@dataclass(frozen=True)
class Context:
    user: User
    actor: Actor
    ws: Workspace


def session_of(request: Request) -> Session:
    return request.state.session


def user_of(request: Request) -> User:
    user = session_of(request).user
    if user is None:
        raise NotSignedIn()
    return user


def actor_of(user: User | None) -> Actor:
    return Actor(user.name, user.role.value) if user else ANONYMOUS


def client_address(request: Request) -> str:
    """The client's address (the proxy's X-Forwarded-For when `phm serve` trusts it)."""
    return request.client.host if request.client else "unknown"


def open_workspace(request: Request) -> Workspace:
    return Workspace.open(request.app.state.root)


def authorised(action: str):
    """A dependency: the signed-in user may take `action`, or 403 (refusal audited)."""

    def dependency(request: Request) -> Context:
        user = user_of(request)
        ws = open_workspace(request)
        actor = actor_of(user)
        ws.authorise(actor, action)
        return Context(user, actor, ws)

    return dependency


async def check_csrf(request: Request) -> None:
    """Every POST carries the session's CSRF token, or it is refused and audited."""
    form = await request.form()
    if not csrf_ok(session_of(request), form.get(CSRF_FIELD)):
        refuse(request, CSRF_REFUSED)


def refuse(request: Request, kind: FailureKind):
    """Audit a refusal in its fixed words, and raise: one entry each for a signed-in user,
    folded per client address before sign-in (web.failures), so no caller can bury the log."""
    user = session_of(request).user
    if user is None:
        request.app.state.failures.failed(kind, client_address(request))
    else:
        kind.record(open_workspace(request).audit, actor_of(user))
    raise WebRefused(kind.text)


def viewed(request: Request, ctx: Context, reads: tuple[str, ...] = ()) -> None:
    """Count a page view (web.views): one `web.view` entry per person, page and hour, named by
    the page's route, never by the URL the caller sent."""
    page = request.scope["route"].path
    request.app.state.views.viewed(ctx.actor, page, reads)


def render(request: Request, template: str, status_code: int = 200, **context):
    session = session_of(request)
    user = session.user
    nav = [
        {"text": text, "href": href, "current": request.url.path == href}
        for text, href in (NAVIGATION[user.role] if user else [])
    ]
    return templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf_token": session.csrf,
            "cspNonce": request.state.nonce,
            "assetPath": "/assets",
            "nav": nav,
            **context,
        },
        status_code=status_code,
    )
