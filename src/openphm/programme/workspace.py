"""The workspace: a programme's home on disk, one place per zone.

```
WORKSPACE/
  workspace.json   format version, programme name, where the key store and inboxes are
  programme.toml   the validated configuration, as the programme was set up
  keys/            the local key store (unless another store is named): one folder per
                   custodian (processor/, analytics/, dpo/), each owner-only
  landing/         zone 1: identifiable extracts, encrypted, one file and key per batch
  linked/          zone 3: the de-identified linked population, encrypted (linked.duckdb)
  outputs/         zone 4: disclosure-controlled releases and cohort lists
  audit/           the hash-chained audit log
```

Creating a workspace writes everything into a temporary folder beside the target and renames
it into place, so a failure part-way leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from openphm import __version__, clock
from openphm.engine import attach_encrypted, connect, connect_linked, reading_linked
from openphm.errors import UserFacingError
from openphm.governance import certificate
from openphm.governance.audit import Actor, AuditLog
from openphm.governance.intents import recover
from openphm.governance.roles import Refused, authorise, current_actor, current_user
from openphm.keystore import CustodyKeyStore, KeyName, KeyStore, MissingKeyError, open_keystore
from openphm.keystore.custody import custodian_of
from openphm.programme.config import ProgrammeConfig, Source, load_config

FORMAT_VERSION = 1
META_FILE = "workspace.json"
CONFIG_FILE = "programme.toml"
ZONES = ("landing", "linked", "outputs")
LINKED_DB = "linked/linked.duckdb"
# Keys every open programme holds. After close they are destroyed, not missing.
REQUIRED_KEYS = (KeyName.LINKAGE, KeyName.SIGNING, KeyName.LINKED_DATA)


class WorkspaceError(UserFacingError):
    """A workspace that cannot be created or opened; the message says what to do."""


def _refused_key(audit: AuditLog, reason: str) -> None:
    """A key refused to this account by custody: recorded as an attempt, like a role refusal."""
    account = getpass.getuser()
    # An account kept out of the workspace altogether cannot write its log either.
    with contextlib.suppress(OSError):
        audit.record(Actor(account, "os-account"), "key.read", outcome="refused", reason=reason)


def _vault(settings: dict) -> KeyStore:
    """The key store in HashiCorp Vault that workspace.json's `vault` block names; the token
    is the account's own (VAULT_TOKEN, read by hvac), whose policy is its custody."""
    import hvac

    from openphm.keystore.vault import VaultKeyStore

    client = hvac.Client(url=settings["url"])
    return VaultKeyStore(
        client, prefix=settings["prefix"], mount_point=settings.get("mount", "secret")
    )


class ProgrammeClosedError(WorkspaceError):
    """The programme has closed and its patient data was destroyed."""


@dataclass
class Workspace:
    root: Path
    config: ProgrammeConfig
    keystore: KeyStore
    audit: AuditLog
    meta: dict

    # ----- creating and opening -------------------------------------------------------------

    @classmethod
    def create(
        cls, root: Path, config_path: Path, actor: Actor, *, keystore_dir: Path | None = None
    ) -> Workspace:
        """Create a workspace for the programme in `config_path`. Changes nothing on failure."""
        root = Path(root).absolute()
        config_path = Path(config_path).absolute()
        config = load_config(config_path)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise WorkspaceError(f"{root} already exists; choose a new folder for the workspace")
        if keystore_dir is not None and Path(keystore_dir).exists():
            raise WorkspaceError(f"key store {keystore_dir} already exists; name a new folder")
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
        try:
            cls._build(staging, config_path, config, actor, keystore_dir)
            if root.exists():
                root.rmdir()  # an empty folder the user made for us
            os.replace(staging, root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if keystore_dir is not None:
                shutil.rmtree(keystore_dir, ignore_errors=True)
            raise
        return cls.open(root)

    @staticmethod
    def _build(
        staging: Path,
        config_path: Path,
        config: ProgrammeConfig,
        actor: Actor,
        keystore_dir: Path | None,
    ) -> None:
        for zone in ZONES:
            (staging / zone).mkdir(mode=0o700)
        shutil.copyfile(config_path, staging / CONFIG_FILE)
        for source in config.sources:  # local layouts live beside programme.toml
            if source.layout.endswith(".toml"):
                shutil.copyfile(config_path.parent / source.layout, staging / source.layout)
        for name in config.cohorts.standing:  # so do local standing cohorts' definitions
            if name.endswith(".toml"):
                if not (config_path.parent / name).is_file():
                    raise WorkspaceError(
                        f"{config_path}: cohorts.standing names {name}, which is not a file "
                        f"beside it ({config_path.parent / name})"
                    )
                shutil.copyfile(config_path.parent / name, staging / name)
        store_dir = Path(keystore_dir).absolute() if keystore_dir else staging / "keys"
        keystore = CustodyKeyStore.initialise(store_dir)
        for name in REQUIRED_KEYS:
            keystore.create(name)
        con = connect()
        attach_encrypted(con, staging / LINKED_DB, "linked", keystore.get(KeyName.LINKED_DATA))
        con.execute(
            "CREATE TABLE linked.zone_info AS SELECT 'linked' AS zone, ? AS programme",
            [config.programme.name],
        )
        con.close()
        meta = {
            "format_version": FORMAT_VERSION,
            "created_by": f"openphm {__version__}",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "programme": config.programme.name,
            # Relative when the key store lives inside the workspace, so the folder can move.
            "keystore": "keys" if keystore_dir is None else str(store_dir),
            "inbox_root": str(config_path.parent),
            # Recorded now, so a destruction certificate can be checked against it after close.
            "signing_public_key": certificate.public_key(keystore.get(KeyName.SIGNING)),
        }
        (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        audit = AuditLog.initialise(staging / "audit")
        audit.record(
            actor,
            "workspace.init",
            writes=(CONFIG_FILE, *ZONES, "keys"),
            counts={"keys_created": len(REQUIRED_KEYS), "sources": len(config.sources)},
        )

    @classmethod
    def open(cls, root: Path) -> Workspace:
        root = Path(root).absolute()
        meta_path = root / META_FILE
        if not os.access(root, os.X_OK) and root.is_dir():
            raise WorkspaceError(
                f"this account ({getpass.getuser()}) may not open the workspace {root}: it is "
                "held by the programme's accounts (docs/ARCHITECTURE.md, threat model); "
                "analysts work through the web service"
            )
        if not meta_path.is_file():
            raise WorkspaceError(
                f"{root} is not an OpenPHM workspace (no {META_FILE}); create one with phm init"
            )
        meta = json.loads(meta_path.read_text())
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise WorkspaceError(
                f"{root} was made by a newer OpenPHM ({meta.get('created_by', 'unknown')}, "
                f"workspace format {version}); this is openphm {__version__}, which reads "
                f"format {FORMAT_VERSION}: upgrade OpenPHM to use it"
            )
        store_dir = Path(meta["keystore"])
        store_dir = store_dir if store_dir.is_absolute() else root / store_dir
        audit = AuditLog(root / "audit")
        keystore = (
            _vault(meta["vault"])
            if "vault" in meta
            else open_keystore(store_dir, on_refused=lambda reason: _refused_key(audit, reason))
        )
        visible = set(keystore.names()) | set(keystore.destroyed())
        hidden = set(keystore.hidden())
        for name in REQUIRED_KEYS:
            if name not in visible and custodian_of(name) not in hidden:
                raise MissingKeyError(
                    f"the key store for {root} is missing key {name!r}; nothing was changed. "
                    "Restore the key store from its backup"
                )
        config = load_config(root / CONFIG_FILE)
        ws = cls(root, config, keystore, audit, meta)
        # Settle what a killed command left half-recorded (governance.intents): completing the
        # record of a change already made, never making one. Opening only opens: nothing falls
        # due here (governance.schedule keeps the promises time brings, after a role check).
        recover(ws)
        return ws

    # ----- using ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return bool(self.meta.get("closed"))

    def require_open(self) -> None:
        """Refuse to touch patient data after close, or once the programme's end date is
        reached (its close is then due, and no stage may use the data meanwhile)."""
        self.require_not_closed()
        end = self.config.programme.end_date
        if clock.today() >= end:
            raise ProgrammeClosedError(
                f"the programme {self.config.programme.name!r} ended on {end}: its data may no "
                "longer be used, and its close is due (the data protection officer's scheduled "
                "job, `phm schedule run`, destroys it)"
            )

    def require_not_closed(self) -> None:
        """Refuse what needs the programme's data after close, saying when and why."""
        if self.closed:
            closed = self.meta["closed"]
            raise ProgrammeClosedError(
                f"the programme {self.config.programme.name!r} closed on {closed['at']}: all "
                f"its patient data was destroyed (certificate: {closed['certificate']})"
            )

    def authorise(
        self, actor: Actor, action: str, *, purpose: str | None = None, query: str = ""
    ) -> None:
        authorise(self.audit, actor, action, purpose=purpose, query=query)

    def inbox(self, source: Source) -> Path:
        """Where a source's extracts arrive (relative inboxes resolve against programme.toml)."""
        path = Path(source.inbox or ".")
        return path if path.is_absolute() else Path(self.meta["inbox_root"]) / path

    def zone(self, name: str) -> Path:
        if name not in ZONES:
            raise WorkspaceError(f"{name!r} is not a zone; zones are {', '.join(ZONES)}")
        return self.root / name

    def connect_linked(self, *, read_only: bool = False, alias: str = "linked"):
        """A DuckDB connection with the linked zone's file attached as `alias` (normally
        `linked`; stages that build a scratch `linked` catalogue of their own attach it under
        another name): the zone of record, whichever engine the programme runs on. The engine
        fetches the linked data key (`engine.duckdb.connect_linked`)."""
        self.require_open()
        return connect_linked(self, read_only=read_only, alias=alias)

    def reading_linked(self):
        """Zone 3 attached read-only as `linked` for one short read, on the process's one
        reading instance (`engine.duckdb.reading_linked`): what the web's page views use, at a
        tenth of the cost of a connection of its own."""
        self.require_open()
        return reading_linked(self)


def open_as(
    root: Path, role: str | None, action: str | None = None, *, purpose: str | None = None
) -> tuple[Workspace, Actor]:
    """Open the workspace at `root` as the person at the keyboard (the operating-system
    account) in `role` (the command line's --role or PHM_ROLE), and, given an `action`,
    authorise it: a role that may not is refused, and the refusal audited, before anything
    else happens. The one preamble of every command; returns the workspace and the actor."""
    ws = Workspace.open(root)
    actor = current_actor(role)
    if action is not None:
        ws.authorise(actor, action, purpose=purpose)
    return ws, actor


def workspace_root(path: Path) -> Path | None:
    """The programme workspace that holds `path` (symlinks and `..` resolved first), or None."""
    path = Path(path).resolve()
    for folder in (path, *path.parents):
        if (folder / "workspace.json").is_file():
            return folder
    return None


def refuse_files_inside(paths, role: str | None, action: str, why: str) -> None:
    """Refuse `action` on any of `paths` that lies inside a programme's workspace, and record
    the refusal in that programme's audit log: a tool for files outside any programme must not
    write plaintext that neither retention nor close knows of. `why` says where that
    programme's data is handled instead."""
    for path in paths:
        root = workspace_root(path)
        if root is None:
            continue
        ws = Workspace.open(root)
        reason = f"{path} is inside the programme workspace {root}: {why}"
        actor = current_actor(role) if role else Actor(current_user(), "none")
        ws.audit.record(actor, action, outcome="refused", reason=reason)
        raise Refused(reason)
