"""The practice's journey in a real browser (issue 24, items 1, 3 and 5): headless Chromium
(Debian's, driven by Playwright) against the service in uvicorn. A practice opens a cohort list
with its private key and patient list on its own machine, and nothing of either reaches the
server (every request is captured and searched); its outcomes arrive in the zone as token and
outcome only; another practice's list is refused by URL; tokens sealed by the Python code open
in the page's JavaScript (all three versions), with the same refusals; and a key pair made in
the browser is one the command line reads."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from nacl.public import Box, PrivateKey, SealedBox

from openphm import clock
from openphm.governance.audit import Actor
from openphm.practice.keys import load_private_key, load_public_key
from openphm.practice.tokens import (
    BOX_VERSION,
    SEALED_BOX_VERSION,
    TokenError,
    encode_token,
    open_token,
    token_header,
    token_plaintext,
)
from openphm.practice.worklist import read_csv
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.tokens import seal_tokens

from .conftest import _risk_region
from .helpers import CHROMIUM, PASSWORD
from .test_browser import ARGS, SCREENSHOTS, serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is absent: `make browser` installs Debian's chromium",
    ),
]
COHORT = "browser-journey"
ANALYST = Actor("ana", "analyst")


@pytest.fixture(scope="module")
def browser():
    from openphm.web.assets import SODIUM, SODIUM_WRAPPERS

    assert (SODIUM / SODIUM_WRAPPERS).is_file(), "libsodium's JavaScript: run `make web-assets`"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def practice_server(region_template, tmp_path_factory):
    """The region (real tokens sealed to the practices' registered keys) with a cohort built
    as `phm cohort` builds it: (base URL, workspace root, the region's folder)."""
    from openphm.cohorts.build import run_cohort
    from openphm.cohorts.definition import CohortDefinition

    region = _risk_region().built_region(tmp_path_factory.getbasetemp()).region
    for base, root in serve(region_template, tmp_path_factory):
        definition = CohortDefinition(
            name=COHORT, purpose="prevention", top_risk_percent=20, description="Highest risk"
        )
        with clock.frozen_at("2026-11-20T09:30:00"):  # the day the server's clock reads
            run_cohort(Workspace.open(root), ANALYST, definition)
        yield base, root, region


@pytest.fixture(scope="module")
def key_server(template_workspace, tmp_path_factory):
    """The small template workspace: no practice has registered a key yet."""
    yield from serve(template_workspace, tmp_path_factory)


class Recorded:
    """Every request a page sends: method, URL, headers and body."""

    def __init__(self, page):
        self.requests = []
        page.on("request", lambda request: self.requests.append(request))

    def sent(self) -> list[tuple[str, bytes]]:
        """(where, bytes) of everything sent: URL, each header, the body."""
        out = []
        for r in self.requests:
            out.append((r.url, r.url.encode()))
            for name, value in r.headers.items():
                out.append((f"{r.url} header {name}", value.encode()))
            out.append((f"{r.url} body", r.post_data_buffer or b""))
        return out


def sign_in(page, name: str) -> None:
    page.goto("/sign-in")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")


def seen(page, text: str) -> None:
    """`text` is on the page (waiting for a posted form's answer to load)."""
    page.get_by_text(text).first.wait_for(timeout=10_000)


def expected_worklist(root: Path, folder: Path, ods: str, patients: Path) -> pd.DataFrame:
    """The worklist Python makes of the practice's list (openphm.practice.worklist), in list
    order, with each row's token: what the page must show."""
    listed = read_csv(root / "outputs" / "cohorts" / ods / f"{COHORT}.csv", ("token",), "list")
    key = load_private_key(folder / "practice.key")
    refs = []
    for token in listed["token"]:
        try:
            refs.append(open_token(token, key, ods_code=ods).patient_ref)
        except TokenError:
            refs.append(None)
    people = read_csv(patients, ("patient_ref",), "patients")
    rows = listed.assign(patient_ref=refs).dropna(subset=["patient_ref"])
    return rows.merge(people, on="patient_ref", how="inner")


def _laptop(browser, base):
    """A new browser context in a laptop's window (the screenshots are docs/web.md's, in
    docs/images), its page, the requests it makes, and the page's script errors."""
    context = browser.new_context(
        base_url=base, accept_downloads=True, viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    recorded = Recorded(page)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, recorded, errors


def test_a_practice_opens_its_list_in_the_browser_and_sends_outcomes_only(
    browser, practice_server, tmp_path
):
    base, root, region = practice_server
    ws = Workspace.open(root)
    ours, theirs = ws.config.programme.controllers[:2]
    folder = region / "practices" / ours
    # The practice's patient list, with one listed person's name written as a formula and
    # another's as markup: the page shows both as text and the CSV keeps the formula inert.
    patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    expected = expected_worklist(root, folder, ours, folder / "patients.csv")
    assert len(expected) >= 5
    first, second = expected["patient_ref"].iloc[:2]
    patients.loc[patients["patient_ref"] == first, "given_name"] = '=HYPERLINK("http://x")'
    patients.loc[patients["patient_ref"] == second, "family_name"] = "<b>Bold</b>"
    patient_file = tmp_path / "patients.csv"
    patients.to_csv(patient_file, index=False)
    expected = expected_worklist(root, folder, ours, patient_file)
    # Another practice's list, by URL: refused.
    (root / "outputs" / "cohorts" / theirs / "only-theirs.csv").write_text(
        (root / "outputs" / "cohorts" / theirs / f"{COHORT}.csv").read_text()
    )

    context, page, recorded, errors = _laptop(browser, base)
    try:
        sign_in(page, "pat")
        page.wait_for_url("**/practice/cohorts")
        page.click("a:has-text('Open Highest risk')")
        page.wait_for_url(f"**/practice/open/{COHORT}.csv")
        seen(page, "stay on this computer")
        page.set_input_files("#key-file", str(folder / "practice.key"))
        page.set_input_files("#patients-file", str(folder / "patients.csv"))
        page.screenshot(path=str(SCREENSHOTS / "practice-open-list.png"), full_page=True)
        page.click("button:has-text('Open the list')")
        page.wait_for_selector("#worklist:not([hidden])")
        page.evaluate("document.getElementById('worklist').scrollIntoView(); scrollBy(0, -16)")
        page.screenshot(path=str(SCREENSHOTS / "practice-worklist.png"))
        # Again with the patient list whose names are a formula and markup.
        page.set_input_files("#patients-file", str(patient_file))
        page.click("button:has-text('Open the list')")
        page.get_by_text('=HYPERLINK("http://x")').first.wait_for()
        rows = page.locator("#worklist-body tr")
        assert rows.count() == len(expected)
        shown = [
            rows.nth(i).locator("td").nth(1).inner_text().replace(" ", "")
            for i in range(rows.count())
        ]
        assert shown == list(expected["nhs_number"])  # the same people, in the same order
        assert rows.nth(0).locator("td").first.inner_text().startswith('=HYPERLINK("http://x")')
        assert "<b>Bold</b>" in rows.nth(1).locator("td").first.inner_text()
        assert page.locator("#worklist-body b").count() == 0  # text, never markup
        reasons = page.locator("#worklist-head th").all_inner_texts()
        assert reasons[:5] == ["Name", "NHS number", "Date of birth", "Why on the list", "Outcome"]
        assert reasons[-1] == "Your reference"
        assert "Why on the list" in reasons
        summary = page.inner_text("#worklist-summary")
        assert summary.startswith(f"{len(expected)} of ")
        # Printed, the worklist stands alone: no header, forms or outcome choices.
        page.emulate_media(media="print")
        assert page.is_hidden(".nhsuk-header") and page.is_hidden("#open-form")
        assert page.is_hidden("#outcome-0") and page.is_visible("#worklist-table")
        page.emulate_media(media="screen")

        with page.expect_download() as download:
            page.click("#save-csv")
        assert download.value.suggested_filename == f"{COHORT}-worklist.csv"
        text = Path(download.value.path()).read_text()
        lines = text.splitlines()
        assert lines[0].startswith('"# Cohort list: Highest risk') or lines[0].startswith(
            "# Cohort list: Highest risk"
        )
        table = list(
            csv.reader(io.StringIO("\n".join(x for x in lines if not x.startswith(('"#', "#")))))
        )
        assert table[0][:5] == ["nhs_number", "given_name", "family_name", "date_of_birth",
                                "patient_ref"]  # fmt: skip
        assert "token" not in table[0]
        assert [r[0] for r in table[1:]] == list(expected["nhs_number"])
        assert table[1][1] == '\'=HYPERLINK("http://x")'  # inert in a spreadsheet

        # Outcomes: token and outcome only, into the zone.
        page.select_option("#outcome-0", "contacted")
        page.select_option("#outcome-2", "declined")
        with page.expect_response("**/api/outcomes") as answer:
            page.click("#send-outcomes")
        assert answer.value.status == 200
        assert page.locator("#outcomes-sent").inner_text().startswith("2 outcomes recorded")
        posts = [r for r in recorded.requests if r.method == "POST" and "/sign-in" not in r.url]
        assert [r.url for r in posts] == [f"{base}/api/outcomes"]
        body = json.loads(posts[0].post_data)
        tokens = list(expected["token"])
        assert body == {
            "cohort": COHORT,
            "outcomes": [
                {"token": tokens[0], "outcome": "contacted"},
                {"token": tokens[2], "outcome": "declined"},
            ],
        }
        con = ws.connect_linked(read_only=True)
        try:
            kept = con.execute(
                "SELECT o.*, p.token FROM linked.cohort_outcomes o "
                "JOIN linked.people p USING (pseudonym) WHERE o.cohort = ? ORDER BY o.outcome",
                [COHORT],
            ).df()
            columns = [r[0] for r in con.execute("DESCRIBE linked.cohort_outcomes").fetchall()]
        finally:
            con.close()
        assert columns == ["cohort", "pseudonym", "practice", "outcome", "recorded_at"]
        assert list(kept["outcome"]) == ["contacted", "declined"]
        assert list(kept["token"]) == [tokens[0], tokens[2]]
        assert set(kept["practice"]) == {ours}

        # Another practice's list, by URL: refused and audited.
        refused = page.goto("/practice/open/only-theirs.csv")
        assert refused.status == 403
        assert page.request.get("/practice/cohorts/only-theirs.csv").status == 403
        entry = list(ws.audit.entries())[-1]
        assert (entry.action, entry.outcome, entry.user) == ("cohort.download", "refused", "pat")
        assert not errors, errors
    finally:
        context.close()

    # Nothing of the key, the patient list or any identifier was sent, by any request.
    key_text = (folder / "practice.key").read_text().strip()
    secrets = {"private key (base64)": key_text.encode()}
    secrets["private key (bytes)"] = base64.b64decode(key_text)
    secrets["private key (hex)"] = base64.b64decode(key_text).hex().encode()
    for row in expected.itertuples():
        for field in ("nhs_number", "given_name", "family_name", "date_of_birth", "patient_ref"):
            value = getattr(row, field)
            secrets[f"{field} of a listed person"] = value.encode()
            if field in ("given_name", "family_name"):
                secrets[f"{field} (URL-encoded)"] = value.replace(" ", "%20").encode()
    sent = recorded.sent()
    assert len(recorded.requests) >= 10
    assert all(r.url.startswith(f"{base}/") for r in recorded.requests)  # nothing elsewhere
    assert any(r.url == f"{base}/static/sodium/libsodium.mjs" for r in recorded.requests)
    for where, data in sent:
        for what, secret in secrets.items():
            assert secret not in data, f"{what} was sent: {where}"


def test_a_trust_opens_its_own_list_in_the_browser_and_no_practice_s(
    browser, practice_server, tmp_path
):
    """Issue 24, item 4, in the browser: the region's trust RZ1 registered its key before the
    link (tests/risk/region.py), so its patients' hospital numbers, as its extracts carry
    them, were sealed to it. A cohort for the trust is built; its user signs in, opens the list
    with the trust's key and its own patient-list export (`local_patient_id` first), and sees
    the people Python finds; nothing of the key or of any listed person is sent; a practice's
    list is refused to the trust by URL (403) and the trust's list to a practice."""
    from openphm.cohorts.build import run_cohort
    from openphm.cohorts.definition import CohortDefinition
    from openphm.governance.roles import Role
    from openphm.web.accounts import LocalAccounts

    base, root, region = practice_server
    ws = Workspace.open(root)
    trust = _risk_region().PROVIDER
    cohort = "browser-trust"
    definition = CohortDefinition(
        name=cohort, purpose="prevention", top_risk_percent=20, provider=trust,
        description="Highest risk seen at the trust",
    )  # fmt: skip
    with clock.frozen_at("2026-11-20T09:40:00"):
        run_cohort(Workspace.open(root), ANALYST, definition)
    LocalAccounts(root).add(
        "tess", PASSWORD, Role.PROVIDER, ws.config.programme.controllers, trust,
        providers=ws.config.list_providers(),
    )  # fmt: skip
    key_file = region / "providers" / trust / "keys" / "provider.key"
    patient_file = region / "providers" / trust / "patients.csv"
    # What Python makes of the trust's list: each token opened, joined by hospital number.
    listed = read_csv(root / "outputs" / "cohorts" / trust / f"{cohort}.csv", ("token",), "list")
    key = load_private_key(key_file)
    listed["local_patient_id"] = [open_token(t, key, ods_code=trust).patient_ref
                                  for t in listed["token"]]  # fmt: skip
    patients = pd.read_csv(patient_file, dtype=str, keep_default_na=False)
    expected = listed.merge(patients, on="local_patient_id", how="inner")
    assert len(expected) == len(listed) >= 5  # every one of its people is on its own list
    practice = ws.config.programme.controllers[0]  # pat's
    assert (root / "outputs" / "cohorts" / practice / f"{COHORT}.csv").is_file()

    context, page, recorded, errors = _laptop(browser, base)
    try:
        sign_in(page, "tess")
        page.wait_for_url("**/practice/cohorts")
        seen(page, "people your trust has seen")
        assert COHORT not in page.content()  # the practices' lists are not offered
        page.click("a:has-text('Open Highest risk seen at the trust')")
        page.wait_for_url(f"**/practice/open/{cohort}.csv")
        seen(page, "Your trust's private key")
        assert "local_patient_id" in page.inner_text("#patients-file-hint")
        page.set_input_files("#key-file", str(key_file))
        page.set_input_files("#patients-file", str(patient_file))
        page.click("button:has-text('Open the list')")
        page.wait_for_selector("#worklist:not([hidden])")
        page.evaluate("document.getElementById('worklist').scrollIntoView(); scrollBy(0, -16)")
        page.screenshot(path=str(SCREENSHOTS / "provider-worklist.png"))
        rows = page.locator("#worklist-body tr")
        assert rows.count() == len(expected)
        cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]
        assert [c[1].replace(" ", "") for c in cells] == list(expected["nhs_number"])
        assert [c[-1] for c in cells] == list(expected["local_patient_id"])  # its own ids
        assert page.inner_text("#worklist-summary").startswith(f"{len(expected)} of ")
        assert "your trust has seen" in page.inner_text("#worklist-table caption")
        # Saved, the worklist names the reference as `phm provider reidentify` does.
        with page.expect_download() as download:
            page.click("#save-csv")
        lines = Path(download.value.path()).read_text().splitlines()
        table = list(
            csv.reader(io.StringIO("\n".join(x for x in lines if not x.startswith(('"#', "#")))))
        )
        assert table[0][:5] == ["nhs_number", "given_name", "family_name", "date_of_birth",
                                "local_patient_id"]  # fmt: skip
        assert [r[4] for r in table[1:]] == list(expected["local_patient_id"])

        # A practice's list, by URL: refused to the trust, and audited.
        assert page.goto(f"/practice/open/{COHORT}.csv").status == 403
        assert page.request.get(f"/practice/cohorts/{COHORT}.csv").status == 403
        entry = list(ws.audit.entries())[-1]
        assert (entry.action, entry.outcome, entry.user) == ("cohort.download", "refused", "tess")
        assert not errors, errors
    finally:
        context.close()

    # The trust's list, by URL: refused to the practice whose patients are on it too.
    context = browser.new_context(base_url=base)
    page = context.new_page()
    try:
        sign_in(page, "pat")
        page.wait_for_url("**/practice/cohorts")
        assert cohort not in page.content() and "Highest risk seen at the trust" not in (
            page.content()
        )
        assert page.goto(f"/practice/open/{cohort}.csv").status == 403
        assert page.request.get(f"/practice/cohorts/{cohort}.csv").status == 403
        entry = list(ws.audit.entries())[-1]
        assert (entry.action, entry.outcome, entry.user) == ("cohort.download", "refused", "pat")
    finally:
        context.close()

    # Nothing of the trust's key or of any listed person was sent, by any request.
    key_text = key_file.read_text().strip()
    secrets = {
        "private key (base64)": key_text.encode(),
        "private key (bytes)": base64.b64decode(key_text),
        "private key (hex)": base64.b64decode(key_text).hex().encode(),
    }
    for row in expected.itertuples():
        for field in ("local_patient_id", "nhs_number", "given_name", "family_name",
                      "date_of_birth"):  # fmt: skip
            secrets[f"{field} of a listed person"] = getattr(row, field).encode()
    assert len(recorded.requests) >= 8
    assert all(r.url.startswith(f"{base}/") for r in recorded.requests)
    for where, data in recorded.sent():
        for what, secret in secrets.items():
            assert secret not in data, f"{what} was sent: {where}"


def _box_token(public_key, ods: str, ref: str) -> str:
    """A version 2 token (an unpadded box), as the programme sealed them from 1 to 2 December."""
    header = token_header(public_key, BOX_VERSION)
    ephemeral = PrivateKey.generate()
    nonce = bytes(range(24))
    box = Box(ephemeral, public_key).encrypt(token_plaintext(header, ods, ref), nonce)
    return encode_token(header, bytes(ephemeral.public_key) + nonce + box.ciphertext)


def _sealed_token(public_key, ods: str, ref: str) -> str:
    """A version 1 token (a sealed box)."""
    header = token_header(public_key, SEALED_BOX_VERSION)
    return encode_token(header, SealedBox(public_key).encrypt(token_plaintext(header, ods, ref)))


OPEN_IN_PAGE = """async ([keyText, tokens, ods]) => {
  const t = await import("/static/tokens.mjs");
  await t.ready();
  const key = t.readPrivateKey(keyText);
  const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  const opened = tokens.map((token) => {
    try {
      const p = t.openToken(token, key, ods);
      return {ods: p.odsCode, ref: p.patientRef};
    } catch (e) {
      return {kind: e.kind};
    }
  });
  return {keyId: hex(key.keyId), publicKey: hex(key.publicKey), opened};
}"""


def test_tokens_sealed_in_python_open_in_the_page_and_its_keys_open_in_python(browser, key_server):
    base, _ = key_server
    key = PrivateKey.generate()
    other = PrivateKey.generate()
    ods = "Y10001"
    refs = ["12442220", "ünïcode-ref", "x" * 47, "7"]
    v3 = seal_tokens(refs, ods_code=ods, public_key=key.public_key)
    v2 = [_box_token(key.public_key, ods, r) for r in refs]
    v1 = [_sealed_token(key.public_key, ods, r) for r in refs]
    raw = bytearray(base64.urlsafe_b64decode(v3[0] + "=" * (-len(v3[0]) % 4)))
    raw[-1] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    odd = [
        tampered,  # failed authentication
        seal_tokens(["1"], ods_code=ods, public_key=other.public_key)[0],  # another key
        seal_tokens(["1"], ods_code="Y10002", public_key=key.public_key)[0],  # another ODS
        v3[1][:-1] + ("B" if v3[1][-1] == "A" else "A"),  # not its one written form, or altered
        "not a token!",
        v3[2][:20],  # too short
    ]
    tokens = [*v3, *v2, *v1, *odd]
    expected = []
    for token in tokens:
        try:
            p = open_token(token, key, ods_code=ods)
            expected.append({"ods": p.ods_code, "ref": p.patient_ref})
        except TokenError as failure:
            expected.append({"kind": failure.kind})
    assert expected[:12] == [{"ods": ods, "ref": r} for r in refs] * 3
    assert {e.get("kind") for e in expected[12:]} == {
        "failed authentication", "for another practice", "malformed"
    }  # fmt: skip

    context = browser.new_context(base_url=base, accept_downloads=True)
    page = context.new_page()
    try:
        sign_in(page, "pat")
        page.wait_for_url("**/practice/cohorts")
        page.goto("/practice/key")  # a page whose policy lets libsodium's WebAssembly run
        key_text = base64.b64encode(bytes(key)).decode() + "\n"
        found = page.evaluate(OPEN_IN_PAGE, [key_text, tokens, ods])
        assert found["opened"] == expected
        assert found["publicKey"] == bytes(key.public_key).hex()
        from openphm.pseudonymise.practices import key_id

        assert found["keyId"] == key_id(key.public_key)

        # A key pair made in the page: the command line reads both halves, and they match.
        with page.expect_download() as download:
            page.click("#make-key")
        assert download.value.suggested_filename == "practice.key"
        made = Path(download.value.path())
        (made.parent / "practice.pub").write_text(page.input_value("#public_key") + "\n")
        private = load_private_key(made)
        public = load_public_key(made.parent / "practice.pub")
        assert bytes(private.public_key) == bytes(public)
        assert made.read_text().endswith("\n") and len(made.read_text().strip()) == 44
        seen(page, f"fingerprint {key_id(public)}")
    finally:
        context.close()


def test_a_practice_makes_and_registers_its_key_and_cannot_take_anothers(
    browser, key_server, tmp_path
):
    base, root = key_server
    ws = Workspace.open(root)
    # Y10002 has registered its key (by the engineer, as `phm practice register` does).
    from openphm.practice.keys import generate_keypair
    from openphm.pseudonymise.practices import key_id, register_practice

    theirs = generate_keypair(tmp_path / "Y10002")
    register_practice(ws, Actor("eng", "processor-engineer"), "Y10002", theirs.public_key)

    context = browser.new_context(
        base_url=base, accept_downloads=True, viewport={"width": 1000, "height": 760}
    )
    page = context.new_page()
    recorded = Recorded(page)
    try:
        sign_in(page, "pat")
        page.click("a:has-text('Practice key')")
        page.wait_for_url("**/practice/key")
        assert page.inner_text("#registered-key").startswith("None yet")
        # Another practice's key is refused (audited).
        page.fill("#public_key", theirs.public_key.read_text().strip())
        page.click("button:has-text('Register this public key')")
        seen(page, "already registered for practice Y10002")
        entry = list(ws.audit.entries())[-1]
        assert (entry.action, entry.outcome) == ("practice.register_own", "refused")
        assert not (root / "practices" / "Y10001.pub").exists()
        # A key pair made in the browser; its public half registered.
        with page.expect_download() as download:
            page.click("#make-key")
        first = Path(download.value.path()).read_text()
        page.screenshot(path=str(SCREENSHOTS / "practice-key.png"))
        page.click("button:has-text('Register this public key')")
        seen(page, "Registered: the programme now seals")
        registered = load_public_key(root / "practices" / "Y10001.pub")
        mine = load_private_key_text(first, tmp_path / "first.key")
        assert bytes(registered) == bytes(mine.public_key)
        entry = list(ws.audit.entries())[-1]
        assert (entry.action, entry.outcome, entry.user) == ("practice.register_own", "ok", "pat")
        # A second key pair: replacing needs the DPO, after a clear warning.
        with page.expect_download() as download:
            page.click("#make-key")
        second = load_private_key_text(Path(download.value.path()).read_text(), tmp_path / "2.key")
        page.click("button:has-text('Register this public key')")
        seen(page, "Replacing your key makes the lists already sent unreadable")
        page.evaluate("document.querySelector('h1').scrollIntoView()")
        page.screenshot(path=str(SCREENSHOTS / "practice-key-replace.png"))
        page.check("#confirm")
        page.click("button:has-text('Ask to replace our key')")
        seen(page, "is with the programme's data protection officer")
        assert bytes(load_public_key(root / "practices" / "Y10001.pub")) == bytes(registered)
        asked = load_public_key(root / "practices" / "requests" / "Y10001.pub")
        assert bytes(asked) == bytes(second.public_key)
        entry = list(ws.audit.entries())[-1]
        assert (entry.action, entry.outcome) == ("practice.request_replace", "ok")
        assert key_id(second.public_key) in entry.reason
    finally:
        context.close()
    # The DPO makes the replacement on the practice keys page; the request is then done.
    dpo = browser.new_context(base_url=base)
    page = dpo.new_page()
    try:
        sign_in(page, "dora")
        page.wait_for_url("**/dpo")
        page.goto("/dpo/practice-keys")
        seen(page, key_id(second.public_key))
        page.check("#confirm-Y10001")
        page.click('button:has-text("Replace Y10001\'s key")')
        seen(page, "Replaced practice Y10001's key")
    finally:
        dpo.close()
    assert bytes(load_public_key(root / "practices" / "Y10001.pub")) == bytes(second.public_key)
    assert not (root / "practices" / "requests" / "Y10001.pub").exists()
    entry = list(ws.audit.entries())[-1]
    assert (entry.action, entry.outcome, entry.user) == ("practice.replace_key", "ok", "dora")
    # No private half ever left the browser.
    for private in (mine, second):
        for form in (
            bytes(private),
            bytes(private).hex().encode(),
            base64.b64encode(bytes(private)),
        ):
            for where, data in recorded.sent():
                assert form not in data, f"a private key was sent: {where}"
    assert len(recorded.requests) >= 8


def load_private_key_text(text: str, path: Path) -> PrivateKey:
    path.write_text(text)
    return load_private_key(path)
