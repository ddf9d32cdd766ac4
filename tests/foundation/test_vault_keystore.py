"""The key store in HashiCorp Vault, through hvac as it is: the real client sends its real HTTP
requests, answered by a small stand-in for Vault's KV version 2 HTTP API (its documented paths,
check-and-set, LIST, 403 and 404), with one policy per token. No Vault server runs here."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import hvac
import pytest
import requests
from requests.adapters import BaseAdapter

from openphm.keystore import KeyCustodyError, KeyName, KeyStoreError, MissingKeyError
from openphm.keystore.vault import VaultKeyStore

URL = "http://vault.test:8200"
PREFIX = "openphm/example-valley"


class VaultKV2(BaseAdapter):
    """Vault's KV v2 engine mounted at secret/, over HTTP: {token: readable path prefixes}."""

    def __init__(self, policies: dict[str, tuple[str, ...]]) -> None:
        super().__init__()
        self.policies, self.secrets, self.requests = policies, {}, []

    def send(self, request, **kwargs):
        parts = urlparse(request.url).path.split("/")  # /v1/secret/<data|metadata>/<path…>
        kind, path = parts[3], "/".join(parts[4:])
        self.requests.append((request.method, kind, path))
        allowed = self.policies.get(request.headers.get("X-Vault-Token"), ())
        listed = path.rstrip("/") + "/" if request.method == "LIST" else path
        if not listed.startswith(allowed):
            return self._answer(
                request, 403, {"errors": ["1 error occurred:\n\t* permission denied"]}
            )
        body = json.loads(request.body) if request.body else {}
        if request.method in ("POST", "PUT") and kind == "data":
            if body.get("options", {}).get("cas") == 0 and path in self.secrets:
                mismatch = "check-and-set parameter did not match the current version"
                return self._answer(request, 400, {"errors": [mismatch]})
            self.secrets[path] = body["data"]
            return self._answer(request, 200, {"data": {"version": 1}})
        if request.method == "GET" and kind == "data":
            if path not in self.secrets:
                return self._answer(request, 404, {"errors": []})
            metadata = {"version": 1, "deletion_time": "", "destroyed": False}
            found = {"data": self.secrets[path], "metadata": metadata}
            return self._answer(request, 200, {"data": found})
        if request.method == "DELETE" and kind == "metadata":
            self.secrets.pop(path, None)
            return self._answer(request, 204, None)
        if request.method == "LIST" and kind == "metadata":
            inside = path.rstrip("/") + "/"
            keys = {k[len(inside) :].split("/")[0] for k in self.secrets if k.startswith(inside)}
            if not keys:
                return self._answer(request, 404, {"errors": []})
            return self._answer(request, 200, {"data": {"keys": sorted(keys)}})
        return self._answer(request, 405, {"errors": ["unsupported"]})

    @staticmethod
    def _answer(request, status: int, payload) -> requests.Response:
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url
        response._content = json.dumps(payload).encode() if payload is not None else b""
        response.headers["Content-Type"] = "application/json"
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def vault():
    return VaultKV2(
        {
            "processor-token": (f"{PREFIX}/processor/", f"{PREFIX}/destroyed/"),
            "analytics-token": (f"{PREFIX}/analytics/", f"{PREFIX}/destroyed/"),
            "schedule-token": (f"{PREFIX}/",),
        }
    )


def store_for(vault: VaultKV2, token: str) -> VaultKeyStore:
    session = requests.Session()
    session.mount(URL, vault)
    return VaultKeyStore(hvac.Client(url=URL, token=token, session=session), prefix=PREFIX)


def test_a_key_is_made_once_read_back_and_never_overwritten(vault):
    store = store_for(vault, "processor-token")
    key = store.create(KeyName.LINKAGE)
    assert len(key) == 32 and store.get(KeyName.LINKAGE) == key
    with pytest.raises(KeyStoreError, match="never reused"):
        store.create(KeyName.LINKAGE)
    assert store.names() == [KeyName.LINKAGE]
    assert f"{PREFIX}/processor/linkage" in vault.secrets


def test_each_token_holds_only_its_custodians_keys(vault):
    processor, analytics = store_for(vault, "processor-token"), store_for(vault, "analytics-token")
    processor.create(KeyName.landing_batch("20261103-a"))
    analytics.create(KeyName.LINKED_DATA)
    with pytest.raises(KeyCustodyError, match="held by the processor's engineering account"):
        analytics.get(KeyName.landing_batch("20261103-a"))
    assert analytics.names() == [KeyName.LINKED_DATA]  # the processor's path is not listed
    assert processor.names() == [KeyName.landing_batch("20261103-a")]


def test_a_destroyed_key_is_gone_with_every_version_and_its_name_never_reused(vault):
    schedule = store_for(vault, "schedule-token")
    batch = KeyName.landing_batch("20261103-a")
    schedule.create(batch)
    assert schedule.destroy(batch)
    assert f"{PREFIX}/processor/data__landing__20261103-a" not in vault.secrets
    assert ("DELETE", "metadata", f"{PREFIX}/processor/data__landing__20261103-a") in vault.requests
    with pytest.raises(MissingKeyError, match="was destroyed"):
        schedule.get(batch)
    with pytest.raises(KeyStoreError, match="never reused"):
        schedule.create(batch)
    assert schedule.destroyed() == [batch] and schedule.names() == []
    assert not schedule.destroy(batch)  # a second destroy says it was not there
