"""Real browser tests: headless Chromium (Debian's package, driven by Playwright) against the
service running in uvicorn, as a data protection officer and a practice would use it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from .helpers import CHROMIUM, OWN_LIST, PASSWORD, WORDED_LIST

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is absent: `make browser` installs Debian's chromium",
    ),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The server runs with its clock set in code to the day the test workspace was made for.
SERVE_AT_A_FIXED_TIME = (
    "from openphm import clock\n"
    "from openphm.cli import main\n"
    "clock._source = clock.fixed('2026-11-20T10:00:00')\n"
    "main()"
)
SCREENSHOTS = Path(os.environ.get("PHM_SCREENSHOTS", "/tmp/openphm-web-screenshots"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(workspace: Path, tmp_path_factory):
    """uvicorn serving a copy of `workspace` on 127.0.0.1, in its own process."""
    import shutil

    root = tmp_path_factory.mktemp("browser") / "ws"
    shutil.copytree(workspace, root)
    port = free_port()
    log = open(root.parent / "server.log", "w+")  # noqa: SIM115 (closed below)
    command = ["serve", str(root), "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_AT_A_FIXED_TIME, *command],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"phm serve stopped: {log.read()}") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", root
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def server(template_workspace, tmp_path_factory):
    yield from serve(template_workspace, tmp_path_factory)


@pytest.fixture(scope="module")
def region_server(region_template, tmp_path_factory):
    """The region taken through the real pipeline: analytics, risk and cohorts."""
    yield from serve(region_template, tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def new_page(browser, base: str):
    context = browser.new_context(base_url=base, accept_downloads=True)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    return page


@pytest.fixture
def page(browser, server):
    page = new_page(browser, server[0])
    yield page
    page.context.close()


@pytest.fixture
def region_page(browser, region_server):
    page = new_page(browser, region_server[0])
    yield page
    page.context.close()


def sign_in(page, name: str) -> None:
    page.goto("/sign-in")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")


def assert_styled_and_local(page, base: str) -> None:
    # The NHS.UK stylesheet really applied: the header is NHS blue.
    colour = page.eval_on_selector(".nhsuk-header", "e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(0, 94, 184)", colour
    assert page.evaluate("document.body.classList.contains('nhsuk-frontend-supported')")
    assert all(url.startswith(base) for url in page.requests), page.requests
    assert not [m for m in page.console if "Content Security Policy" in m], page.console


def follow_menu(page, text: str) -> None:
    """Follow a header menu link; NHS.UK's header moves links that do not fit the width into
    its "More" menu, which is opened first."""
    link = page.locator(f"a.nhsuk-header__navigation-link:has-text('{text}')").first
    if not link.is_visible():
        page.click(".nhsuk-header__menu-toggle")
    link.click()


def test_the_dpo_reads_the_audit_log_and_approves_a_release(page, server):
    base, _ = server
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, "dora")
    page.wait_for_url("**/dpo")
    assert "Days left" in page.content()
    page.screenshot(path=str(SCREENSHOTS / "dpo-status.png"), full_page=True)
    follow_menu(page, "Audit log")
    page.wait_for_url("**/dpo/audit")
    assert page.is_visible("text=Chain verified")
    page.screenshot(path=str(SCREENSHOTS / "dpo-audit.png"))
    follow_menu(page, "Releases")
    page.click("a:has-text('Review release')")  # approved only where every cell is seen
    page.click("button:has-text('Approve release')")
    page.wait_for_url("**/dpo/releases?approved=*")
    assert page.is_visible("text=approved and released")
    page.screenshot(path=str(SCREENSHOTS / "dpo-releases.png"), full_page=True)
    assert_styled_and_local(page, base)


def test_a_practice_downloads_its_own_cohort_list(page, server):
    base, _ = server
    sign_in(page, "pat")
    page.wait_for_url("**/practice/cohorts")
    assert page.is_visible("text=Cohort lists for Riverside Surgery (Y10001)")
    assert page.is_visible("text=frailty: moderate or severe")
    page.screenshot(path=str(SCREENSHOTS / "practice-cohorts.png"), full_page=True)
    with page.expect_download() as download:
        page.click(f"a[href='/practice/cohorts/{OWN_LIST}']")
    assert download.value.suggested_filename == OWN_LIST
    assert "Y10001-sealed-token-1" in Path(download.value.path()).read_text()
    with page.expect_download() as download:
        page.click(f"a[href='/practice/cohorts/{WORDED_LIST}']")
    text = Path(download.value.path()).read_text()
    assert text.startswith('"# Cohort list: Frail, or often admitted in an emergency')
    assert "Y10001-worded-token-1" in text and "limited_reserve" not in text
    assert "Y10002" not in page.content()
    assert_styled_and_local(page, base)


def test_the_analyst_sees_charts_drawn_without_the_internet(page, server):
    base, _ = server
    sign_in(page, "ana")
    page.wait_for_url("**/analyst/population")
    assert page.locator("svg.phm-chart").count() == 3
    page.screenshot(path=str(SCREENSHOTS / "analyst-population.png"), full_page=True)
    page.goto("/analyst/activity")
    page.screenshot(path=str(SCREENSHOTS / "analyst-activity.png"), full_page=True)
    assert_styled_and_local(page, base)


def test_the_analyst_sees_prevalence_risk_and_builds_a_cohort(region_page, region_server):
    base, root = region_server
    page = region_page
    sign_in(page, "ana")
    page.wait_for_url("**/analyst/population")
    follow_menu(page, "Registers")
    page.wait_for_url("**/analyst/registers")
    page.screenshot(path=str(SCREENSHOTS / "analyst-registers.png"), full_page=True)
    page.click("a:has-text('Hypertension')")
    page.wait_for_url("**/analyst/registers/hypertension")
    chart = page.locator("svg.phm-chart").first
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150  # drawn, not collapsed
    assert page.locator("svg.phm-chart rect.phm-bar").count() >= 5
    bar_colour = page.eval_on_selector(
        "svg.phm-chart rect.phm-bar", "e => getComputedStyle(e).fill"
    )
    assert bar_colour == "rgb(0, 94, 184)", bar_colour  # openphm.css applied to the SVG
    assert page.locator("svg.phm-chart path.phm-interval").count() >= 5
    page.screenshot(path=str(SCREENSHOTS / "analyst-prevalence.png"), full_page=True)
    for path in ("multimorbidity", "risk"):
        page.goto(f"/analyst/{path}")
        assert page.locator("svg.phm-chart").count() >= 2
        page.screenshot(path=str(SCREENSHOTS / f"analyst-{path}.png"), full_page=True)
    follow_menu(page, "Trends (SPC)")
    page.wait_for_url("**/analyst/trends")
    spc = page.locator("svg.phm-spc")
    box = spc.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200  # drawn, not collapsed
    assert "XmR chart" in (spc.locator("title").first.text_content() or "")
    assert page.locator("svg.phm-spc polyline.phm-series").count() == 1
    page.select_option("#measure", "gp_consultations")
    page.click("button:has-text('Show')")
    page.wait_for_url("**/analyst/trends?measure=gp_consultations*")
    assert page.is_visible("text=GP consultations per 1,000 registered people, by month")
    page.screenshot(path=str(SCREENSHOTS / "analyst-trends.png"), full_page=True)
    page.goto("/analyst/cohorts")
    page.fill("#name", "frail-high-risk")
    page.fill("#min_age", "65")
    page.fill("#top_risk_percent", "10")
    page.click("button:has-text('Preview')")
    assert page.is_visible("text=Size and make-up")
    page.screenshot(path=str(SCREENSHOTS / "analyst-cohort-preview.png"), full_page=True)
    page.click("button:has-text('Build and write practice lists')")
    assert page.is_visible("text=Cohort frail-high-risk built")
    assert list((root / "outputs" / "cohorts").glob("*/frail-high-risk.csv"))
    assert_styled_and_local(page, base)


@pytest.fixture(scope="module")
def trends_server(region_template, tmp_path_factory):
    """The region with a second analytics build, a month before its first, so that the
    measures have two reference dates to chart over refreshes."""
    import datetime as dt
    import shutil

    from openphm import clock
    from openphm.analytics import AnalyticsOptions, build
    from openphm.programme.workspace import Workspace

    root = tmp_path_factory.mktemp("trends") / "ws"
    shutil.copytree(region_template, root)
    con = Workspace.open(root).connect_linked()
    try:
        with clock.frozen_at("2026-11-20T09:30:00"):
            build(con, dt.date(2026, 9, 30), AnalyticsOptions(groupings=("practice",),
                                                               sii_simulations=10))  # fmt: skip
    finally:
        con.close()
    yield from serve(root, tmp_path_factory)


def assert_titled_with_axes(chart, title_words: str, *axes: str) -> None:
    """The chart is drawn (not collapsed), titled, and names each axis."""
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200
    title = chart.locator("title").first.text_content() or ""
    assert title_words in title, title
    labels = chart.locator("text").all_text_contents()
    for axis in axes:
        assert axis in labels, (axis, labels)


def test_the_analyst_sees_trends_spc_funnel_and_measures_over_refreshes(browser, trends_server):
    base, _ = trends_server
    page = new_page(browser, base)
    try:
        sign_in(page, "ana")
        page.wait_for_url("**/analyst/population")
        follow_menu(page, "Trends (SPC)")
        page.wait_for_url("**/analyst/trends")
        assert_titled_with_axes(
            page.locator("svg.phm-spc"), "XmR chart", "Month of data", "per 1,000 people a month"
        )
        # The ICB from programme.toml is one of the areas.
        assert page.locator("#area option", has_text="Integrated care board:").count() == 1
        page.click("a:has-text('Compare practices on a funnel plot')")
        page.wait_for_url("**/analyst/trends/compare?measure=emergency_admissions")
        funnel = page.locator("svg.phm-funnel")
        assert_titled_with_axes(
            funnel,
            "funnel plot",
            "Per 1,000 person-years",
            "Person-years registered (one mark per practice)",
        )
        assert funnel.locator("polyline.phm-limit--998").count() == 2  # upper and lower
        assert funnel.locator("polyline.phm-limit--95").count() == 2
        assert funnel.locator(".phm-point").count() >= 2
        caption = page.locator("table caption", has_text="by practice in the").first
        assert "person-years" in (caption.text_content() or "")  # the table beside the plot
        page.screenshot(path=str(SCREENSHOTS / "analyst-trends-compare.png"), full_page=True)
        month = page.locator("#period option").nth(1).get_attribute("value")
        page.select_option("#period", month)
        page.click("button:has-text('Show')")
        page.wait_for_url(f"**/analyst/trends/compare?*period={month}*")
        assert_titled_with_axes(
            page.locator("svg.phm-funnel"),
            f"in {month}",
            "Per 1,000 registered people",
            "Registered people (one mark per practice)",
        )
        page.goto("/analyst/trends")
        page.click("a:has-text('Measures over refreshes')")
        page.wait_for_url("**/analyst/trends/history")
        assert_titled_with_axes(page.locator("svg.phm-spc"), "XmR chart", "Reference date")
        assert page.is_visible("text=Only 2 points")  # under 12: the SPC module's warning
        assert page.locator("table caption", has_text="by reference date").count() == 1
        page.screenshot(path=str(SCREENSHOTS / "analyst-trends-history.png"), full_page=True)
        assert_styled_and_local(page, base)
    finally:
        page.context.close()


# ----- the airlock: queries, releases, the audit view, the certificate ---------------------------


@pytest.fixture(scope="module")
def airlock_server(template_workspace, tmp_path_factory):
    """A server of its own: these tests return, resubmit and approve the fixture's release."""
    yield from serve(template_workspace, tmp_path_factory)


@pytest.fixture
def airlock(browser, airlock_server):
    """A page factory: each person in a browser context of their own."""
    pages = []

    def opened():
        pages.append(new_page(browser, airlock_server[0]))
        return pages[-1]

    yield opened
    for page in pages:
        page.context.close()


def test_the_checker_reviews_returns_and_approves_a_release(airlock, airlock_server):
    base, _ = airlock_server
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    checker = airlock()
    sign_in(checker, "otto")
    checker.wait_for_url("**/dpo/releases")
    checker.click("a:has-text('Review release')")
    checker.wait_for_url("**/dpo/releases/*")
    # Suppressed and rounded cells are marked in words, not by colour alone.
    suppressed = checker.locator("td[data-outcome='suppressed']")
    rounded = checker.locator("td[data-outcome='rounded']")
    assert suppressed.count() >= 1 and rounded.count() >= 1
    assert set(suppressed.all_inner_texts()) == {"Suppressed"}
    assert all("(r)" in text for text in rounded.all_inner_texts())
    assert rounded.first.locator(".nhsuk-u-visually-hidden").inner_text().strip() == "(rounded)"
    assert checker.is_visible("text=OpenPHM disclosure rules")
    assert checker.is_visible("text=register prevalence by practice")
    checker.screenshot(path=str(SCREENSHOTS / "checker-review.png"), full_page=True)
    checker.fill("#return-comment", "Y10001's dementia count is small: group the registers")
    checker.click("button:has-text('Return to the analyst')")
    checker.wait_for_url("**/dpo/releases?returned=*")
    assert checker.is_visible("text=returned to its analyst")

    analyst = airlock()
    sign_in(analyst, "ana")
    follow_menu(analyst, "Releases")
    analyst.wait_for_url("**/analyst/releases")
    assert analyst.is_visible("text=group the registers")
    analyst.screenshot(path=str(SCREENSHOTS / "analyst-returned.png"), full_page=True)
    analyst.locator("textarea[name='comment']").first.fill("checked: grouped as asked")
    analyst.click("button:has-text('Resubmit release')")
    analyst.wait_for_url("**/analyst/releases?resubmitted=*")

    checker.goto("/dpo/releases")
    checker.click("a:has-text('Review release')")
    assert checker.is_visible("text=checked: grouped as asked")  # the history
    checker.click("button:has-text('Approve release')")
    checker.wait_for_url("**/dpo/releases?approved=*")
    assert checker.is_visible("text=approved and released")
    with checker.expect_download() as download:
        checker.click("a:has-text('Download')")
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert any(n.endswith("/results.json") for n in names)
    assert any(n.endswith("/checksums/prevalence.csv.txt") for n in names)
    assert_styled_and_local(checker, base)
    assert_styled_and_local(analyst, base)


def test_the_dpo_filters_the_audit_log(airlock, airlock_server):
    base, _ = airlock_server
    page = airlock()
    sign_in(page, "dora")
    page.wait_for_url("**/dpo")
    assert page.is_visible("text=Destruction timetable")
    follow_menu(page, "Audit log")
    page.wait_for_url("**/dpo/audit")
    page.select_option("#filter-action", "release.request")
    page.select_option("#filter-outcome", "ok")
    page.click("button:has-text('Filter the log')")
    page.wait_for_url("**/dpo/audit?*action=release.request*")
    actions = page.locator("table.nhsuk-table tbody tr td:nth-child(5)").all_inner_texts()
    assert actions and set(actions) == {"release.request"}
    assert page.locator("#filter-action").input_value() == "release.request"  # kept in the form
    page.screenshot(path=str(SCREENSHOTS / "dpo-audit-filtered.png"), full_page=True)
    with page.expect_download() as download:
        page.click("a:has-text('as CSV')")
    lines = Path(download.value.path()).read_text().splitlines()
    assert len(lines) == len(actions) + 1 and all("release.request" in line for line in lines[1:])
    assert_styled_and_local(page, base)


def test_the_analyst_queries_the_zone_and_saves_a_draft(airlock, airlock_server):
    base, _ = airlock_server
    page = airlock()
    sign_in(page, "ana")
    follow_menu(page, "Query (SQL)")
    page.wait_for_url("**/analyst/sql")
    page.fill("#query", "SELECT sex, count(*) AS people FROM people GROUP BY sex ORDER BY sex")
    page.click("button:has-text('Run query')")
    assert page.is_visible("text=2 rows returned")
    page.fill("#name", "people_by_sex")
    page.check("input[name='counts'][value='people']")
    page.fill("#description", "registered people by sex")
    page.click("button:has-text('Save as a draft')")
    assert page.is_visible("text=Draft people_by_sex saved")
    page.screenshot(path=str(SCREENSHOTS / "analyst-sql.png"), full_page=True)
    page.click("a:has-text('request a release')")
    assert page.is_visible("text=Draft people_by_sex")
    assert_styled_and_local(page, base)


@pytest.fixture(scope="module")
def closing_server(template_workspace, tmp_path_factory):
    yield from serve(template_workspace, tmp_path_factory)


def test_the_certificate_page_fits_a_phone(browser, closing_server):
    base, _ = closing_server
    context = browser.new_context(base_url=base, viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        sign_in(page, "dora")
        page.goto("/dpo/close")
        page.fill("#reason", "the programme's work is done")
        page.fill("#confirm", "destroy")
        page.click("button:has-text('Close the programme')")
        page.wait_for_url("**/dpo/certificate")
        assert page.is_visible("text=signature verifies")
        assert page.locator("pre").count() == 0
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the page is {width}px wide on a 360px screen"
        page.screenshot(path=str(SCREENSHOTS / "certificate-phone.png"), full_page=True)
    finally:
        context.close()
