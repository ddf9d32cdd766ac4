"""The practice's pages that run in its browser (issue 24, items 1 and 5), over HTTP: a list
opens only if it is the practice's own; WebAssembly is allowed only where libsodium runs; the
key page registers a practice's own first key and nothing else, and refuses every other case,
audited."""

from __future__ import annotations

import base64

import pytest
from nacl.public import PrivateKey

from .helpers import OTHER_LIST, OWN_LIST, csrf_from, sign_in


def last_entry(ws):
    return list(ws.audit.entries())[-1]


def public_text(key: PrivateKey) -> str:
    return base64.b64encode(bytes(key.public_key)).decode() + "\n"


def test_a_practice_opens_only_its_own_lists_and_only_that_page_runs_webassembly(
    client, web_workspace
):
    sign_in(client, "pat")
    inbox = client.get("/practice/cohorts")
    assert f'href="/practice/open/{OWN_LIST}"' in inbox.text
    assert "wasm-unsafe-eval" not in inbox.headers["content-security-policy"]
    page = client.get(f"/practice/open/{OWN_LIST}")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "'wasm-unsafe-eval'" in policy
    assert "unsafe-eval'" not in policy.replace("'wasm-unsafe-eval'", "")
    assert 'src="/static/practice.mjs"' in page.text
    assert f'data-list="/practice/cohorts/{OWN_LIST}"' in page.text
    # The files the user picks have no name: no form could post them.
    assert 'id="key-file" type="file"' in page.text and 'name="key' not in page.text
    for name in (OTHER_LIST, "..%2FY10002%2F" + OTHER_LIST, "..%2F..%2Fprogramme.toml"):
        refused = client.get(f"/practice/open/{name}")
        assert refused.status_code == 403, name
        entry = last_entry(web_workspace)
        assert (entry.action, entry.outcome, entry.user) == ("cohort.download", "refused", "pat")
    assert client.get("/sign-in").headers["content-security-policy"].count("wasm") == 0


def test_only_a_practice_opens_lists_or_registers_keys(client, web_workspace):
    sign_in(client, "ana")
    assert client.get(f"/practice/open/{OWN_LIST}").status_code == 403
    token = csrf_from(client.get("/account/password").text)
    posted = {"csrf_token": token, "public_key": public_text(PrivateKey.generate())}
    assert client.post("/practice/key", data=posted).status_code == 403
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.role) == (
        "practice.register_own", "refused", "analyst"
    )  # fmt: skip
    assert not (web_workspace.root / "practices" / "Y10001.pub").exists()


def test_the_key_page_registers_the_practice_s_own_first_key_and_refuses_the_rest(
    client, web_workspace
):
    sign_in(client, "pat")
    page = client.get("/practice/key")
    assert page.status_code == 200 and "None yet" in page.text
    assert "'wasm-unsafe-eval'" in page.headers["content-security-policy"]
    token = csrf_from(page.text)
    key = PrivateKey.generate()
    # No CSRF token: refused.
    assert client.post("/practice/key", data={"public_key": public_text(key)}).status_code == 403
    assert last_entry(web_workspace).action == "web.csrf"
    # Not a key: refused, audited, nothing written.
    answer = client.post("/practice/key", data={"csrf_token": token, "public_key": "hello"})
    assert answer.status_code == 400 and "not a practice public key" in answer.text
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome) == ("practice.register_own", "refused")
    # The practice's own first key: registered for the account's practice, whatever is posted.
    posted = {"csrf_token": token, "public_key": public_text(key), "ods": "Y10002"}
    answer = client.post("/practice/key", data=posted)
    assert answer.status_code == 200 and "Registered" in answer.text
    kept = (web_workspace.root / "practices" / "Y10001.pub").read_text()
    assert kept == public_text(key)  # as phm practice keygen writes practice.pub
    assert not (web_workspace.root / "practices" / "Y10002.pub").exists()
    # A different key: a warning, nothing recorded until confirmed; then only a request.
    new = PrivateKey.generate()
    posted = {"csrf_token": token, "public_key": public_text(new)}
    answer = client.post("/practice/key", data=posted)
    assert answer.status_code == 200 and "makes the lists already sent unreadable" in answer.text
    assert not (web_workspace.root / "practices" / "requests").exists()
    answer = client.post("/practice/key", data={**posted, "confirm": "replace"})
    assert "is with the programme's data protection officer" in answer.text
    assert (web_workspace.root / "practices" / "Y10001.pub").read_text() == public_text(key)
    assert (web_workspace.root / "practices" / "requests" / "Y10001.pub").read_text() == (
        public_text(new)
    )
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("practice.request_replace", "ok", "pat")


def test_the_dpo_replaces_a_key_a_practice_asked_for_and_no_one_else_can(client, web_workspace):
    sign_in(client, "pat")
    token = csrf_from(client.get("/practice/key").text)
    old, new = PrivateKey.generate(), PrivateKey.generate()
    client.post("/practice/key", data={"csrf_token": token, "public_key": public_text(old)})
    posted = {"csrf_token": token, "public_key": public_text(new), "confirm": "replace"}
    client.post("/practice/key", data=posted)
    assert client.get("/dpo/practice-keys").status_code == 403  # a practice may not replace
    client.post("/sign-out", data={"csrf_token": token})
    sign_in(client, "dora")
    page = client.get("/dpo/practice-keys")
    assert page.status_code == 200
    token = csrf_from(page.text)
    # Not confirmed, or a practice that asked for nothing: nothing replaced.
    answer = client.post("/dpo/practice-keys", data={"csrf_token": token, "ods": "Y10001"})
    assert answer.status_code == 400 and "Tick the box" in answer.text
    posted = {"csrf_token": token, "ods": "Y10002", "confirm": "replace"}
    assert client.post("/dpo/practice-keys", data=posted).status_code == 400
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome) == ("practice.replace_key", "refused")
    assert (web_workspace.root / "practices" / "Y10001.pub").read_text() == public_text(old)
    posted = {"csrf_token": token, "ods": "Y10001", "confirm": "replace"}
    answer = client.post("/dpo/practice-keys", data=posted)
    assert answer.status_code == 200 and "Replaced practice Y10001" in answer.text
    assert (web_workspace.root / "practices" / "Y10001.pub").read_text() == public_text(new)
    assert not (web_workspace.root / "practices" / "requests" / "Y10001.pub").exists()
    entry = last_entry(web_workspace)
    assert (entry.action, entry.outcome, entry.user) == ("practice.replace_key", "ok", "dora")


def test_libsodium_is_copied_to_import_its_core_from_beside_it(tmp_path):
    from openphm.web.assets import AssetError, install_sodium

    modules = tmp_path / "node_modules"
    wrappers = modules / "libsodium-wrappers" / "dist" / "modules-esm"
    core = modules / "libsodium" / "dist" / "modules-esm"
    wrappers.mkdir(parents=True)
    core.mkdir(parents=True)
    (modules / "libsodium" / "LICENSE").write_text("ISC")
    (core / "libsodium.mjs").write_text("export default 1;\n//# sourceMappingURL=x.map")
    (wrappers / "libsodium-wrappers.mjs").write_text('import e from"libsodium";let r=e;')
    target = tmp_path / "sodium"
    files = install_sodium(modules, target)
    assert sorted(f.name for f in files) == ["LICENSE", "libsodium-wrappers.mjs", "libsodium.mjs"]
    assert (target / "libsodium-wrappers.mjs").read_text() == (
        'import e from"./libsodium.mjs";let r=e;'
    )
    assert "sourceMappingURL" not in (target / "libsodium.mjs").read_text()
    # A build that imports its core some other way is refused, not copied half-working.
    (wrappers / "libsodium-wrappers.mjs").write_text('import e from "libsodium-sumo";')
    with pytest.raises(AssetError, match="does not import libsodium"):
        install_sodium(modules, target)
