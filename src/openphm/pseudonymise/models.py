"""The tracing models `phm link` used, kept per source and period: each one the next period's
starting point, and the record of what changed (zone 2).

Reads and writes `WORKSPACE/landing/tracing/models.duckdb`, encrypted at rest under a key of
its own (`data/tracing-models`) in the processor's key store. Holds Splink's model JSON
(comparison levels with their m and u probabilities, λ) and counts about each run's tracing
(records, parse rates, threshold, the histogram of match probabilities); never a patient's
value, identifier or pseudonym.

Why encrypted and the processor's alone, though no identifier is in it: a model is statistics
of the records it was trained on, and a small source's (a few thousand records; a clinic's
share of typos, say) are statistics of few people. The processor's store is where the zone-2
material lives (the linkage key and what it derives); the analytics account never reads it.
Why not under the landing zone's 14-day retention: the promise is about identifiable data,
which a model is not, and a model must outlive its batch to be next month's starting point.
It lives in the landing folder, which only the processor's account can open
(`phm custody assign`), and goes at close with every other key and zone file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openphm import clock
from openphm.engine import attach_encrypted, connect
from openphm.identity.training import Model

KEY_NAME = "data/tracing-models"
FOLDER = "tracing"
FILE = "models.duckdb"
_TABLE = "store.tracing_models"
_DDL = f"""CREATE TABLE IF NOT EXISTS {_TABLE} (
    source VARCHAR, provider VARCHAR, period VARCHAR, saved VARCHAR, parameters VARCHAR,
    started_from VARCHAR, records BIGINT, spine BIGINT, reason VARCHAR,
    training_keys VARCHAR, model VARCHAR, quality VARCHAR)"""


# GP patients without a valid NHS number are traced together, whichever practice: new
# registrations, most of them people new to the area and on no list yet.
GP_SOURCE = ("gp", "all practices")


@dataclass(frozen=True)
class Kept:
    """One source's tracing in one run, as kept: its model and the run's quality figures."""

    source: str
    provider: str
    period: str
    saved: str
    model: Model
    quality: dict[str, Any]


class ModelStore:
    """The encrypted store of tracing models, opened for each read or write (it is small)."""

    def __init__(self, ws) -> None:
        self.path = ws.zone("landing") / FOLDER / FILE
        store = ws.keystore
        self._key = store.get(KEY_NAME) if store.has(KEY_NAME) else None
        self._keystore = store

    def latest(self, source: str, provider: str, period: str) -> Model | None:
        """The model this source was last traced with, for a period up to `period`."""
        if self._key is None or not self.path.exists():
            return None
        rows = self._query(
            f"SELECT * FROM {_TABLE} WHERE source = ? AND provider = ? AND period <= ? "
            "ORDER BY period DESC, saved DESC, rowid DESC LIMIT 1",
            [source, provider, period],
        )
        return rows[0].model if rows else None

    def kept(self) -> list[Kept]:
        """Every model kept, oldest first."""
        if self._key is None or not self.path.exists():
            return []
        return self._query(f"SELECT * FROM {_TABLE} ORDER BY saved, rowid")

    def save_all(self, entries: list[tuple[str, str, str, Model, dict[str, Any]]]) -> None:
        """Keep each (source, provider, period, model, quality), in one opening of the store
        (opening the encrypted file took about 80 ms, once per source)."""
        if not entries:
            return
        if self._key is None:
            self._key = self._keystore.create(KEY_NAME)
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        con = self._open()
        try:
            con.execute(_DDL)
            for source, provider, period, model, quality in entries:
                con.execute(
                    f"INSERT INTO {_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        source,
                        provider,
                        period,
                        clock.now().isoformat(timespec="microseconds"),
                        model.parameters,
                        model.started_from,
                        model.records,
                        model.spine,
                        model.reason,
                        json.dumps([list(k) for k in model.training_keys]),
                        json.dumps(model.settings),
                        json.dumps(quality),
                    ],
                )
        finally:
            con.close()

    def _query(self, sql: str, params: list | None = None) -> list[Kept]:
        con = self._open(read_only=True)
        try:
            if not con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'store'"
            ).fetchone()[0]:
                return []
            found = con.execute(sql, params or []).fetchall()
        finally:
            con.close()
        return [_kept(row) for row in found]

    def _open(self, read_only: bool = False):
        con = connect(temp_directory=Path(self.path.parent) / ".spill")
        attach_encrypted(con, self.path, "store", self._key, read_only=read_only)
        return con


def _kept(row: tuple) -> Kept:
    (source, provider, period, saved, parameters, started_from, records, spine, reason, keys,
     settings, quality) = row  # fmt: skip
    model = Model(
        json.loads(settings),
        parameters,
        started_from,
        records,
        spine,
        reason,
        tuple(tuple(k) for k in json.loads(keys)),
        name=f"{source} {provider} {period}",
    )
    return Kept(source, provider, period, saved, model, json.loads(quality))


def write_report(ws, actor, out: Path) -> tuple[Path, int]:
    """Write the quality report of the tracing models `phm link` kept, the latest of each
    source and provider with what changed from the one before, into `out`, and audit the
    reading (`phm trace report`). Returns the report's index page and how many sources it
    covers."""
    from openphm.identity import report, training

    latest: dict[tuple[str, str], Kept] = {}
    before: dict[tuple[str, str], Kept] = {}
    for entry in ModelStore(ws).kept():  # oldest first
        key = (entry.source, entry.provider)
        if key in latest:
            before[key] = latest[key]
        latest[key] = entry
    sources = [
        report.SourceQuality(
            f"{k.source} {k.provider} {k.period}",
            k.model,
            k.quality,
            training.changes(before[key].model.settings, k.model.settings) if key in before else (),
            new_registrations=key == GP_SOURCE,
        )
        for key, k in sorted(latest.items())
    ]
    index = report.write(out, f"Tracing in {ws.config.programme.name}", sources)
    ws.audit.record(actor, "identity.report", reads=("landing/tracing/models.duckdb",),
                    counts={"sources": len(sources)})  # fmt: skip
    return index, len(sources)
