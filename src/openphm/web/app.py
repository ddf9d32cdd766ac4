"""The FastAPI application: sessions and security headers around every request, sign-in and
sign-out, the pages of each role (analyst, practice, dpo modules) and the JSON API (api)."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from openphm.governance.audit import Actor
from openphm.governance.roles import Refused, Role
from openphm.programme.workspace import ProgrammeClosedError, Workspace
from openphm.web import analyst, api, assets, cohorts, dpo, practice
from openphm.web.accounts import Authenticator, LocalAccounts
from openphm.web.deps import (
    NotSignedIn,
    WebRefused,
    actor_of,
    check_csrf,
    open_workspace,
    render,
    session_of,
)
from openphm.web.security import (
    COOKIE,
    DEFAULT_IDLE_MINUTES,
    LOCK_MINUTES,
    MAX_NAME_LENGTH,
    SessionStore,
    SignInThrottle,
    security_headers,
)

STATIC_PREFIXES = ("/assets/", "/static/")
HOME = {
    Role.ANALYST: "/analyst/population",
    Role.PRACTICE: "/practice/cohorts",
    Role.DATA_PROTECTION_OFFICER: "/dpo",
    Role.OUTPUT_CHECKER: "/dpo/releases",
    Role.PROCESSOR_ENGINEER: "/engineer",
}


def create_app(
    workspace: Path,
    *,
    idle_minutes: float = DEFAULT_IDLE_MINUTES,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    """The web service for one programme's workspace."""
    root = Path(workspace).absolute()
    Workspace.open(root)  # fail at start-up, with the workspace's own message, if it is wrong
    app = FastAPI(
        title="OpenPHM",
        summary="Disclosure-controlled figures, cohort lists and governance for one programme.",
        docs_url=None,  # the interactive docs load their scripts from a CDN: not here
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.root = root
    app.state.sessions = SessionStore(idle_minutes)
    app.state.throttle = SignInThrottle()
    app.state.authenticator = authenticator or LocalAccounts(root)
    app.mount("/assets", StaticFiles(directory=assets.TARGET, check_dir=False), name="assets")
    app.mount("/static", StaticFiles(directory=assets.STATIC), name="static")

    @app.middleware("http")
    async def sessions_and_headers(request: Request, call_next):
        store: SessionStore = request.app.state.sessions
        static = request.url.path.startswith(STATIC_PREFIXES)
        nonce = secrets.token_urlsafe(16)
        request.state.nonce = nonce
        if not static:
            request.state.session = store.load(request.cookies.get(COOKIE))
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
        response.headers.update(security_headers(nonce, data_page=not static))
        return response

    _handlers(app)
    _sign_in_routes(app)
    for module in (analyst, cohorts, practice, dpo, api):
        app.include_router(module.router)
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _handlers(app: FastAPI) -> None:
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
        ws = open_workspace(request)
        throttle: SignInThrottle = request.app.state.throttle
        address = request.client.host if request.client else "unknown"
        authenticator = request.app.state.authenticator
        if len(username) > MAX_NAME_LENGTH:  # no account has such a name: nothing to count
            return render(request, "sign_in.jinja", 401, title="Sign in", error=True)
        # The name only if it is an account: a password typed into the name box must not
        # reach the audit log. Never the password.
        named = username if authenticator.is_account(username) else "(unknown name)"
        token = throttle.attempt(username, address)
        if token is None:
            if throttle.first_refusal(username, address):
                ws.audit.record(
                    Actor(named, "none"),
                    "web.sign_in",
                    outcome="refused",
                    reason=f"too many failed sign-ins: locked for up to {LOCK_MINUTES} "
                    "minutes (later refusals in this lock are not recorded one by one)",
                )
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
            ws.audit.record(
                Actor(named, "none"),
                "web.sign_in",
                outcome="failed",
                reason="wrong user name or password",
            )
            return render(
                request, "sign_in.jinja", 401, title="Sign in", error=True, username=username
            )
        throttle.succeeded(username, address, token)
        session = request.app.state.sessions.sign_in(session_of(request), user)
        request.state.session = session
        ws.audit.record(actor_of(user), "web.sign_in")
        return RedirectResponse(HOME[user.role], status_code=303)

    @app.post("/sign-out", include_in_schema=False, dependencies=[Depends(check_csrf)])
    def sign_out(request: Request):
        session = session_of(request)
        if session.user is not None:
            open_workspace(request).audit.record(actor_of(session.user), "web.sign_out")
        store: SessionStore = request.app.state.sessions
        store.drop(session)
        request.state.session = store.new()
        return RedirectResponse("/sign-in", status_code=303)

    @app.get("/engineer", include_in_schema=False)
    def engineer(request: Request):
        from openphm.web.deps import user_of

        user_of(request)
        return render(request, "engineer.jinja", title="Processor engineer")
