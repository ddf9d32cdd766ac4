"""Time every analyst page of the web service on a programme of N people, once built.

    python benchmarks/pages_bench.py --people 100000 [--work pages-bench] [--reuse] [--views 5]
    python benchmarks/pages_bench.py --people 1000000      # issue 27's figure (needs ~16 GB)

Makes a synthetic region of --people and runs the programme on it with the benchmark's own
stages (openphm.bench: synth, init, ingest, link, analyse, risk train and score, indicators;
each prints its seconds), then opens the web service on the workspace (FastAPI's TestClient,
in process: no network), signs an analyst in and, for each analyst page and JSON answer, views
it once to warm it (the first view opens the zone, loads templates) and then --views more
times, printing the median and the slowest of those in milliseconds. A page view is a signed-in
GET: authentication, the audit entry, reading, disclosure control and rendering included.

--reuse skips making and running the programme when --work already holds one (to time the
pages again after a change to the web, or with another version of OpenPHM on the same
workspace: PYTHONPATH=<its src> python benchmarks/pages_bench.py --reuse ...). Not part of the
test suite; docs/benchmarks.md keeps the figures.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

PASSWORD = "pages-bench password 1"
ANALYST = "bench-analyst"
PAGES = (
    "/analyst/population",
    "/analyst/activity",
    "/analyst/registers",
    "/analyst/registers/diabetes",
    "/analyst/multimorbidity",
    "/analyst/risk",
    "/analyst/indicators",
    "/analyst/indicators/{indicator}",
    "/analyst/trends",
    "/analyst/trends/compare",
    "/analyst/trends/history",
    "/api/population",
    "/api/activity?by=imd_decile",
    "/api/activity?by=practice",
    "/api/registers",
    "/api/multimorbidity",
    "/api/risk",
)


def build(work: Path, people: int, seed: int) -> Path:
    """The programme of a synthetic region of `people`, run to the end: its workspace."""
    from openphm.bench import stages
    from openphm.bench.indicators import indicators_stage
    from openphm.landing.bench import ingest_region
    from openphm.pseudonymise.bench import link_stage

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    region, workspace = work / "region", work / "workspace"
    steps = [
        ("synth", lambda: stages.synthesise(region, people, seed)),
        ("init", lambda: stages.init_workspace(region, workspace)),
        ("ingest", lambda: ingest_region(region, workspace)),
        ("link", lambda: link_stage(region, workspace)),
        ("analyse", lambda: stages.analyse(workspace)),
        ("risk", lambda: stages.risk(workspace)),
        ("indicators", lambda: indicators_stage(workspace)),
    ]
    for name, step in steps:
        started = time.perf_counter()
        step()
        print(f"{name:<12} {time.perf_counter() - started:8.1f} s", flush=True)
    return workspace


def analyst(workspace: Path) -> None:
    from openphm.governance.roles import Role
    from openphm.programme.workspace import Workspace
    from openphm.web.accounts import LocalAccounts

    accounts = LocalAccounts(workspace)
    if not accounts.is_account(ANALYST):
        controllers = Workspace.open(workspace).config.programme.controllers
        accounts.add(ANALYST, PASSWORD, Role.ANALYST, controllers, None)


def first_indicator(client) -> str:
    import re

    page = client.get("/analyst/indicators").text
    found = re.search(r'href="/analyst/indicators/([a-z0-9_]+)', page)
    return found.group(1) if found else "none"


def time_pages(workspace: Path, views: int) -> list[tuple[str, float, float, int]]:
    """(page, median ms, slowest ms, status) for each of PAGES."""
    import re

    from fastapi.testclient import TestClient

    from openphm.web.app import create_app

    rows = []
    with TestClient(create_app(workspace), follow_redirects=False) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text)
        answer = client.post("/sign-in", data={"username": ANALYST, "password": PASSWORD,
                                               "csrf_token": token.group(1)})  # fmt: skip
        if answer.status_code != 303:
            raise SystemExit(f"could not sign in as {ANALYST}: {answer.status_code}")
        indicator = first_indicator(client)
        for page in PAGES:
            path = page.format(indicator=indicator)
            status = client.get(path).status_code  # warm: the first view
            took = []
            for _ in range(views):
                started = time.perf_counter()
                client.get(path)
                took.append((time.perf_counter() - started) * 1000)
            rows.append((path, statistics.median(took), max(took), status))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=Path("pages-bench"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--views", type=int, default=5, help="timed views per page, after one")
    parser.add_argument("--reuse", action="store_true", help="time the workspace in --work")
    args = parser.parse_args()
    workspace = args.work / "workspace"
    if not (args.reuse and (workspace / "workspace.json").exists()):
        workspace = build(args.work, args.people, args.seed)
    analyst(workspace)
    rows = time_pages(workspace, args.views)
    print(f"\n{'page':<44} {'median ms':>10} {'slowest ms':>11} {'status':>7}")
    for path, median, slowest, status in rows:
        print(f"{path:<44} {median:10.1f} {slowest:11.1f} {status:7d}")
    worst = max(rows, key=lambda r: r[1])
    print(f"\nslowest page: {worst[0]} at {worst[1]:.1f} ms (median of {args.views} warm views)")


if __name__ == "__main__":
    main()
