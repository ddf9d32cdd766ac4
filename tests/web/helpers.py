"""Constants and helpers the web tests share."""

from __future__ import annotations

import re
from html.parser import HTMLParser
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


class NumericCells(HTMLParser):
    """The text of every numeric table cell (nhsuk-table__cell--numeric) of a page."""

    def __init__(self):
        super().__init__()
        self.cells: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        if tag == "td" and "nhsuk-table__cell--numeric" in (dict(attrs).get("class") or ""):
            self._in = True
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag == "td":
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.cells[-1] += data.strip()


def counts_on(page: str) -> list[int]:
    """Every whole number in a numeric cell (rates and intervals have decimals)."""
    parser = NumericCells()
    parser.feed(page)
    return [int(c.replace(",", "")) for c in parser.cells if re.fullmatch(r"\d[\d,]*", c)]


class Tables(HTMLParser):
    """Every table of a page by its caption: the text of each body row's cells."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._current: list[list[str]] | None = None
        self._cell: str | None = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "caption":
            self._in_caption, self._caption = True, ""
        elif tag == "tbody":
            self._current = self.tables.setdefault(self._caption or "", [])
        elif tag == "tr" and self._current is not None:
            self._current.append([])
        elif tag == "td" and self._current is not None:
            self._cell = ""
        elif self._cell is not None:  # a line break or a span: words either side stay apart
            self._cell += " "

    def handle_endtag(self, tag):
        if tag == "caption":
            self._in_caption = False
        elif tag == "td" and self._cell is not None:
            self._current[-1].append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "tbody":
            self._current = None

    def handle_data(self, data):
        if self._in_caption:
            self._caption += data
        elif self._cell is not None:
            self._cell += data


def tables_on(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return {" ".join(caption.split()): rows for caption, rows in parser.tables.items()}
