"""Constants and helpers the web tests share."""

from __future__ import annotations

import re
from pathlib import Path

from openphm.governance.roles import Role

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery"
# name: (role, ODS code)
ACCOUNTS = {
    "ana": (Role.ANALYST, None),
    "pat": (Role.PRACTICE, "Y10001"),
    "dora": (Role.DATA_PROTECTION_OFFICER, None),
    "otto": (Role.OUTPUT_CHECKER, None),
    "eng": (Role.PROCESSOR_ENGINEER, None),
}
OWN_LIST = "2026-11-20-frailty.csv"
OTHER_LIST = "2026-11-20-diabetes.csv"


def every_route(routes):
    """Every route of an app, including those of the routers it includes (which FastAPI
    0.165 keeps inside an included-router wrapper)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from every_route(route.original_router.routes)
        else:
            yield route


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client, name: str, password: str = PASSWORD):
    token = csrf_from(client.get("/sign-in").text)
    return client.post(
        "/sign-in", data={"username": name, "password": password, "csrf_token": token}
    )


async def asgi_get(app, path: str, address: str = "10.0.0.1") -> int:
    """GET `path` from the app with no cookie, straight through ASGI (a tenth of TestClient's
    cost per request, for tests that send thousands); the answer's status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": (address, 50000),
        "server": ("testserver", 80),
    }
    statuses = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]
