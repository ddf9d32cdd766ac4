"""The FastAPI application: sessions and security headers around every request, sign-in and
sign-out, the pages of each role (analyst, practice, dpo modules) and the JSON API (api)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from pathlib import Path

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from openphm.governance.audit import Actor
from openphm.governance.roles import Refused, Role
from openphm.governance.schedule import keep_promises, scheduled_actor
from openphm.programme.workspace import ProgrammeClosedError, Workspace
from openphm.web import (
    analyst,
    api,
    assets,
    audit_view,
    cohorts,
    data_api,
    dpo,
    practice,
    practice_keys,
    refreshes,
    releases,
    sql,
    trends_pages,
)
from openphm.web.accounts import DISABLED, MUST_CHANGE, Authenticator, LocalAccounts
from openphm.web.deps import (
    NotSignedIn,
    WebRefused,
    actor_of,
    check_csrf,
    client_address,
    open_workspace,
    render,
    session_of,
    user_of,
)
from openphm.web.failures import (
    ACCOUNT_DISABLED,
    SIGN_IN_LOCKED,
    UNKNOWN_NAME,
    WRONG_PASSWORD,
    FailureKind,
    FailuresBeforeSignIn,
)
from openphm.web.folding import FoldedAudit
from openphm.web.security import (
    COOKIE,
    DEFAULT_IDLE_MINUTES,
    DEFAULT_SESSION_HOURS,
    LOCK_MINUTES,
    MAX_NAME_LENGTH,
    SessionStore,
    SignInThrottle,
    security_headers,
)
from openphm.web.sign_in_ledger import SignInLedger
from openphm.web.views import PageViews

STATIC_PREFIXES = ("/assets/", "/static/")
LOG = logging.getLogger("openphm.web")
HOME = {
    Role.ANALYST: "/analyst/population",
    Role.PRACTICE: "/practice/cohorts",
    Role.PROVIDER: "/practice/cohorts",
    Role.DATA_PROTECTION_OFFICER: "/dpo",
    Role.OUTPUT_CHECKER: "/dpo/releases",
    Role.PROCESSOR_ENGINEER: "/engineer",
}


def create_app(
    workspace: Path,
    *,
    idle_minutes: float = DEFAULT_IDLE_MINUTES,
    session_hours: float = DEFAULT_SESSION_HOURS,
    authenticator: Authenticator | None = None,
    schedule_minutes: float = 0,
) -> FastAPI:
    """The web service for one programme's workspace."""
    root = Path(workspace).absolute()
    # Opened first to fail at start-up, with the workspace's own message, if it is wrong.
    audit = Workspace.open(root).audit
    app = FastAPI(
        title="OpenPHM",
        summary="Disclosure-controlled figures, cohort lists and governance for one programme.",
        docs_url=None,  # the interactive docs load their scripts from a CDN: not here
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan,
    )
    app.state.root = root
    app.state.schedule_minutes = schedule_minutes
    app.state.failures = FailuresBeforeSignIn(audit)
    app.state.views = PageViews(audit)
    app.state.sessions = SessionStore(idle_minutes, session_hours)
    app.state.throttle = SignInThrottle(ledger=SignInLedger(root))
    app.state.authenticator = authenticator or LocalAccounts(root)
    app.mount("/assets", assets.Assets(directory=assets.TARGET, check_dir=False), name="assets")
    app.mount("/static", StaticFiles(directory=assets.STATIC), name="static")

    @app.middleware("http")
    async def sessions_and_headers(request: Request, call_next):
        store: SessionStore = request.app.state.sessions
        static = request.url.path.startswith(STATIC_PREFIXES)
        nonce = secrets.token_urlsafe(16)
        request.state.nonce = nonce
        if not static:
            request.state.session = store.load(request.cookies.get(COOKIE))
            moved = _account_standing(request)
            if moved is not None:
                return moved
        response = await call_next(request)
        if not static:
            value = store.cookie_value(request.state.session)
            if request.cookies.get(COOKIE) != value:
                response.set_cookie(
                    COOKIE,
                    value,
                    httponly=True,
                    samesite="strict",
                    secure=request.url.scheme == "https",
                    path="/",
                )
        # An error is never cached: a missing asset must not stay missing once installed.
        data_page = not static or response.status_code >= 400
        wasm = getattr(request.state, "wasm", False)  # set by the pages that run libsodium
        response.headers.update(security_headers(nonce, data_page=data_page, wasm=wasm))
        return response

    _handlers(app)
    _sign_in_routes(app)
    for router in (analyst.router, cohorts.router, sql.router, *releases.routers):
        app.include_router(router)
    for module in (practice, practice_keys, dpo, audit_view, api, data_api, trends_pages):
        app.include_router(module.router)
    app.include_router(practice_keys.dpo_router)
    app.include_router(refreshes.router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    """Folded failure and page-view counts are written as their interval passes even when no
    further event comes, and all of them at shutdown (web.folding says what a kill loses)."""
    folded: list[FoldedAudit] = [app.state.failures, app.state.views]
    tasks = [asyncio.create_task(_sweep(folded))]
    if app.state.schedule_minutes > 0:
        tasks.append(asyncio.create_task(_schedule(app.state.root, app.state.schedule_minutes)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for counts in folded:
            counts.flush()


async def _sweep(folded: list[FoldedAudit]) -> None:
    """Every failure interval (a minute): write what is due of each folded stream."""
    while True:
        await asyncio.sleep(folded[0].interval)
        for counts in folded:
            await asyncio.to_thread(counts.flush_due)  # audit writes wait for the disk


async def _schedule(root: Path, minutes: float) -> None:
    """The data protection officer's scheduled job, run by the service: at start, then every
    `minutes` (governance.schedule; docs/schedule.md)."""
    while True:
        await asyncio.to_thread(keep_promises_now, root)
        await asyncio.sleep(minutes * 60)


def keep_promises_now(root: Path) -> None:
    """One scheduled run. A failure (a key this account does not hold, a full disk) is logged
    by kind only and tried again next time: the service keeps serving."""
    try:
        ws = Workspace.open(root)
        keep_promises(ws, scheduled_actor())
    except Exception as err:  # the next run tries again; the timer is the other route
        LOG.warning("scheduled run of the programme's promises failed: %s", type(err).__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    async def server_error(request: Request, _exc):
        # Starlette sends this answer from outside every middleware (the error is then raised
        # again for the server to log), so it carries the security headers itself. It names
        # nothing of the error: that is for the server's log, not the caller.
        headers = security_headers(secrets.token_urlsafe(16), data_page=True)
        if _wants_json(request):
            return JSONResponse({"detail": "server error"}, status_code=500, headers=headers)
        text = "Something went wrong on the server. Try again, or tell its administrator."
        return PlainTextResponse(text, status_code=500, headers=headers)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _exc):
        if _wants_json(request):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse("/sign-in", status_code=303)

    @app.exception_handler(Refused)
    @app.exception_handler(WebRefused)
    async def refused(request: Request, exc):
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=403)
        return render(request, "refused.jinja", 403, title="Not allowed", reason=str(exc))

    @app.exception_handler(ProgrammeClosedError)
    async def closed(request: Request, exc):
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=410)
        return render(request, "closed.jinja", 410, title="Programme closed", reason=str(exc))


# Where a user whose password was reset may go before choosing a new one.
PASSWORD_PAGE = "/account/password"
_OPEN_TO_MUST_CHANGE = (PASSWORD_PAGE, "/sign-out", "/sign-in")


def _account_standing(request: Request):
    """Apply the account's standing to a signed-in session at every request: a disabled
    account's session ends (the user is signed out, audited once), and a reset password opens
    only the page to choose a new one. None to go on with the request; else the response."""
    session = request.state.session
    user = session.user
    if user is None:
        return None
    standing = request.app.state.authenticator.standing(user.name)
    if standing == DISABLED:
        store: SessionStore = request.app.state.sessions
        store.drop(session)
        request.state.session = store.anonymous()
        open_workspace(request).audit.record(
            actor_of(user), "web.sign_out", reason="the account was disabled: session ended"
        )
        if _wants_json(request):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse("/sign-in", status_code=303)
    if standing == MUST_CHANGE and request.url.path not in _OPEN_TO_MUST_CHANGE:
        if _wants_json(request):
            return JSONResponse({"detail": "choose a new password first"}, status_code=403)
        return RedirectResponse(PASSWORD_PAGE, status_code=303)
    return None


def _sign_in_failed(request: Request, kind: FailureKind, account: str | None) -> None:
    """One entry against the account a failed sign-in names (the throttle's lock on the name
    bounds how many), or, naming none, folded with its address's failures (web.failures)."""
    if account is None:
        request.app.state.failures.failed(kind, client_address(request))
    else:
        kind.record(open_workspace(request).audit, Actor(account, "none"))


def _sign_in_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def home(request: Request):
        user = session_of(request).user
        return RedirectResponse(HOME[user.role] if user else "/sign-in", status_code=303)

    @app.get("/sign-in", include_in_schema=False)
    def sign_in_page(request: Request):
        return render(
            request, "sign_in.jinja", title="Sign in", expired=session_of(request).expired
        )

    @app.post("/sign-in", include_in_schema=False, dependencies=[Depends(check_csrf)])
    def sign_in(request: Request, username: str = Form(""), password: str = Form("")):
        throttle: SignInThrottle = request.app.state.throttle
        address = client_address(request)
        authenticator = request.app.state.authenticator
        if len(username) > MAX_NAME_LENGTH:  # no account has such a name: nothing to count
            return render(request, "sign_in.jinja", 401, title="Sign in", error=True)
        # Only an account's name is ever audited: a password typed into the name box must not
        # reach the log, nor a script's made-up names. Never the password.
        account = username if authenticator.is_account(username) else None
        token = throttle.attempt(username, address, account=account is not None)
        if token is None:
            first = account is not None and throttle.first_refusal(username, address)
            _sign_in_failed(request, SIGN_IN_LOCKED, account if first else None)
            return render(
                request,
                "sign_in.jinja",
                429,
                title="Sign in",
                locked=LOCK_MINUTES,
                username=username,
            )
        user = authenticator.authenticate(username, password)
        if user is None:
            # The page says the same whatever the cause; the log says which, for an account.
            kind = WRONG_PASSWORD if account else UNKNOWN_NAME
            if account and authenticator.standing(account) == DISABLED:
                kind = ACCOUNT_DISABLED
            _sign_in_failed(request, kind, account)
            return render(
                request, "sign_in.jinja", 401, title="Sign in", error=True, username=username
            )
        throttle.succeeded(username, address, token)
        session = request.app.state.sessions.sign_in(session_of(request), user)
        request.state.session = session
        open_workspace(request).audit.record(actor_of(user), "web.sign_in")
        if authenticator.standing(user.name) == MUST_CHANGE:
            return RedirectResponse(PASSWORD_PAGE, status_code=303)
        return RedirectResponse(HOME[user.role], status_code=303)

    @app.get(PASSWORD_PAGE, include_in_schema=False)
    def password_page(request: Request):
        user = user_of(request)
        forced = request.app.state.authenticator.standing(user.name) == MUST_CHANGE
        return render(request, "account_password.jinja", title="Choose a new password",
                      forced=forced)  # fmt: skip

    @app.post(PASSWORD_PAGE, include_in_schema=False, dependencies=[Depends(check_csrf)])
    def change_password(
        request: Request,
        current: str = Form(""),
        new: str = Form(""),
        confirm: str = Form(""),
    ):
        from openphm.web.accounts import AccountError

        user = user_of(request)
        authenticator = request.app.state.authenticator
        if not isinstance(authenticator, LocalAccounts):
            raise WebRefused("passwords are kept by the identity provider, not here")
        problem = "the new password and its confirmation differ" if new != confirm else None
        if problem is None:
            try:
                authenticator.change_password(user.name, current, new)
            except AccountError as err:
                problem = str(err)
        ws = open_workspace(request)
        if problem is not None:
            ws.audit.record(actor_of(user), "web.user.change_password", outcome="failed",
                            reason=problem)  # fmt: skip
            forced = authenticator.standing(user.name) == MUST_CHANGE
            title = "Choose a new password"
            return render(request, "account_password.jinja", 400, title=title, forced=forced,
                          problem=problem)  # fmt: skip
        ws.audit.record(actor_of(user), "web.user.change_password", writes=("web/users.json",))
        return RedirectResponse(HOME[user.role], status_code=303)

    @app.post("/sign-out", include_in_schema=False, dependencies=[Depends(check_csrf)])
    def sign_out(request: Request):
        session = session_of(request)
        if session.user is not None:
            open_workspace(request).audit.record(actor_of(session.user), "web.sign_out")
        store: SessionStore = request.app.state.sessions
        store.drop(session)
        request.state.session = store.anonymous()
        return RedirectResponse("/sign-in", status_code=303)

    @app.get("/engineer", include_in_schema=False)
    def engineer(request: Request):
        from openphm.web.deps import user_of

        user_of(request)
        return render(request, "engineer.jinja", title="Processor engineer")
