"""A practice's key on the web (issue 24, item 5): `/practice/key` shows the key registered
for the signed-in practice, makes a new key pair in the browser (static/practice_key.mjs: the
private half is saved to the user's machine as practice.key, in the format `phm practice
keygen` writes, and never sent here) and registers the public half.

The practice is the account's, never the request's. A practice's first key is registered at once
(`practice.register_own`); a different key where one is registered is, after a warning that the
lists already sent become unreadable with the new key until the next link seals them again, a
request the data protection officer makes with `phm practice register --replace`
(`practice.request_replace`): replacing stays the DPO's decision. Another practice's key is
always refused. Every action and refusal is audited (pseudonymise.practices).
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends, Form, Request
from nacl.public import PublicKey

from openphm.errors import UserFacingError
from openphm.pseudonymise.practices import (
    FOLDER,
    REQUESTS,
    key_id,
    register_own_key,
    registered_keys,
    request_replacement,
    requested_key,
)
from openphm.web.deps import Context, authorised, check_csrf, render, viewed

router = APIRouter(prefix="/practice", include_in_schema=False)


def _page(request: Request, ctx: Context, status: int = 200, **shown):
    ods = ctx.user.ods
    registered = registered_keys(ctx.ws).get(ods)
    requested = requested_key(ctx.ws, ods)
    request.state.wasm = True  # libsodium's WebAssembly makes the key pair (web.security)
    return render(
        request,
        "practice_key.jinja",
        status,
        title="Your practice's key",
        ods=ods,
        registered=key_id(registered) if registered is not None else None,
        requested=key_id(requested) if requested is not None else None,
        request_path=f"{FOLDER}/{REQUESTS}/{ods}.pub",
        workspace=str(ctx.ws.root),
        **shown,
    )


@router.get("/key")
def key_page(request: Request, ctx: Context = Depends(authorised("cohort.inbox"))):
    viewed(request, ctx)
    return _page(request, ctx)


def _public_key(text: str) -> PublicKey | None:
    """The public key in practice.pub's text (base64 of 32 bytes), or None."""
    try:
        raw = base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    return PublicKey(raw) if len(raw) == 32 else None


@router.post("/key", dependencies=[Depends(check_csrf)])
def register_key(
    request: Request,
    public_key: str = Form(""),
    confirm: str = Form(""),
    ctx: Context = Depends(authorised("practice.register_own")),
):
    ods = ctx.user.ods
    key = _public_key(public_key)
    if key is None:
        ctx.ws.audit.record(
            ctx.actor, "practice.register_own", outcome="refused",
            reason="the text offered is not a practice public key",
        )  # fmt: skip
        problem = "That is not a practice public key: paste the whole of practice.pub."
        return _page(request, ctx, 400, problem=problem, offered=public_key[:200])
    registered = registered_keys(ctx.ws).get(ods)
    try:
        if registered is None or bytes(registered) == bytes(key):
            done = register_own_key(ctx.ws, ctx.actor, ods, key)
            return _page(request, ctx, done=done.fingerprint, unchanged=done.unchanged)
        if confirm != "replace":
            # The warning first: nothing is recorded until the user confirms.
            return _page(
                request, ctx, replacing=key_id(key), old=key_id(registered), offered=public_key
            )
        request_replacement(ctx.ws, ctx.actor, ods, key)
    except UserFacingError as err:  # another practice's key, say: refused and audited
        return _page(request, ctx, 400, problem=str(err), offered=public_key[:200])
    return _page(request, ctx, asked=key_id(key))


dpo_router = APIRouter(prefix="/dpo", include_in_schema=False)


def _keys_page(request: Request, ctx: Context, status: int = 200, **shown):
    from openphm.cohorts.words import practice_words

    registered = registered_keys(ctx.ws)
    rows = []
    for ods in ctx.ws.config.programme.controllers:
        requested = requested_key(ctx.ws, ods)
        rows.append(
            {
                "ods": ods,
                "practice": practice_words(ctx.ws.config, ods),
                "registered": key_id(registered[ods]) if ods in registered else None,
                "requested": key_id(requested) if requested is not None else None,
            }
        )
    return render(
        request, "dpo_practice_keys.jinja", status, title="Practice keys", rows=rows, **shown
    )


@dpo_router.get("/practice-keys")
def practice_keys(request: Request, ctx: Context = Depends(authorised("practice.replace_key"))):
    """Every controller practice's registered key and any replacement it asked for."""
    viewed(request, ctx)
    return _keys_page(request, ctx)


@dpo_router.post("/practice-keys", dependencies=[Depends(check_csrf)])
def replace_key(
    request: Request,
    ods: str = Form(""),
    confirm: str = Form(""),
    ctx: Context = Depends(authorised("practice.replace_key")),
):
    """The DPO replaces a practice's key with the one it asked for, as `phm practice register
    --replace` does (the same function, the same refusals, audited)."""
    from openphm.pseudonymise.practices import register_practice

    ods = ods.strip().upper()
    if ods not in ctx.ws.config.programme.controllers or requested_key(ctx.ws, ods) is None:
        # In fixed words: the code posted is the caller's text.
        ctx.ws.audit.record(
            ctx.actor, "practice.replace_key", outcome="refused",
            reason="no new key asked for by the practice named",
        )  # fmt: skip
        return _keys_page(request, ctx, 400, problem="That practice has asked for no new key.")
    if confirm != "replace":
        problem = (
            f"Tick the box to confirm that {ods}'s lists already sent become unreadable with "
            "the new key until they are sealed again."
        )
        return _keys_page(request, ctx, 400, problem=problem)
    path = ctx.ws.root / FOLDER / REQUESTS / f"{ods}.pub"
    try:
        done = register_practice(ctx.ws, ctx.actor, ods, path, replace=True)
    except UserFacingError as err:  # another practice's key since, say: refused and audited
        return _keys_page(request, ctx, 400, problem=str(err))
    return _keys_page(request, ctx, replaced=ods, fingerprint=done.fingerprint)
