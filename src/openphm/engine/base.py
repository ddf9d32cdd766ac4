"""The engine object: everything a stage asks of the engine that runs it, one class per engine
(`engine.duckdb.DuckDB`, `engine.spark.Spark`), as Splink keeps one database API per backend.

A stage holds an `Engine` (from `engine_for`: the programme's choice, or a name given on the
command line) and never asks which one it is:

- `reading(ws)`: zone 3 open for reading, as an Ibis backend or a DuckDB connection;
- `alongside(ws)`: the same, for a stage that also writes the zone file through a connection of
  its own (risk): None where the engine reads the file in place (that connection is the zone);
- `building(ws, tables, check)`: zone 3 open for building `tables`, written into the zone file
  whatever the engine (on a copy: brought back, under `check`, in one transaction);
- `scratch(zone, tables)`: a zone whose writes stay out of the zone (the risk features'
  analytics at a past date);
- `tracing(folder, connection)`: where Splink works outside zone 3, and `splink(connection)`,
  Splink's own backend there.

The zone of record is the DuckDB file `linked/linked.duckdb` on every engine; the linked data
key is fetched from the workspace's key store here, when a stage opens zone 3 (never the
linkage key: that stays in pseudonymise/).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from openphm.errors import UserFacingError

# The engines, by the names programme.toml's [engine] kind and --engine use; the first is the
# default.
ENGINES = ("duckdb", "spark")
DEFAULT = ENGINES[0]


class EngineError(UserFacingError):
    """The engine cannot open or use a zone."""


class Building:
    """Zone 3 open for a build: `backend` to build in (a DuckDB connection with the zone as
    `linked`, or an Ibis backend), and `taken`, what the build's `taken` read of the zone file
    as the build took it (a fingerprint; None when none was asked for). In place, it is read
    when first asked for, in the build's own connection; on a copy, before the copy."""

    def __init__(self, backend, take: Callable[[], Any] | None = None) -> None:
        self.backend = backend
        self._take = take
        self._taken: list[Any] = []

    @property
    def taken(self) -> Any:
        if self._take is None:
            return None
        if not self._taken:
            self._taken.append(self._take())
        return self._taken[0]


class Engine(ABC):
    """One engine (see the module's docstring). Engines are equal when they are the same
    engine on the same master."""

    name: ClassVar[str]
    # Splink's name for the engine's SQL dialect (settings dictionaries are written in it).
    splink_dialect: ClassVar[str]

    def __init__(self, master: str | None = None) -> None:
        self.master = master

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Engine) and (self.name, self.master) == (other.name, other.master)

    def __hash__(self) -> int:
        return hash((self.name, self.master))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.master!r})" if self.master else f"{self.name} engine"

    def __str__(self) -> str:
        return self.name

    @abstractmethod
    def reading(self, ws) -> contextlib.AbstractContextManager[Any]:
        """Zone 3 of workspace `ws`, read-only, for the length of the `with`."""

    @abstractmethod
    def alongside(
        self, ws, *, taken: Callable[[Any], Any] | None = None
    ) -> contextlib.AbstractContextManager[Building | None]:
        """Zone 3 for reading beside a connection to the zone file the caller opens afterwards
        (to write what it computes from it): the engine's own view of the zone as a `Building`
        (its `taken` read from the file just before the view was taken), or None where the
        engine reads the file in place, through that connection. Entered before the caller's
        connection is opened (a copy is taken from the file)."""

    @abstractmethod
    def building(
        self,
        ws,
        tables: Iterable[str],
        check: Callable[[Any, Any], None] | None = None,
        *,
        taken: Callable[[Any], Any] | None = None,
        record: str | None = None,
        say: Callable[[str], None] = lambda text: None,
    ) -> contextlib.AbstractContextManager[Building]:
        """Zone 3 open for building `tables`, which end up in the zone file.

        `taken(con)`: read what the build must know of the zone file as the build takes it (a
        fingerprint), on a DuckDB connection to the file; its value is `Building.taken` (in
        place, read only if the build asks for it).
        `check(con, taken)`: on an engine that builds on a copy, run in the transaction that
        brings `tables` back into the file, after the copy (a file changed since the copy
        was taken must not take them). `record`: the table among `tables` that says a build
        is whole; an engine that builds in place drops it first, so a build that fails part
        way leaves no record claiming its tables. `say`: progress, in words."""

    @abstractmethod
    def scratch(
        self, zone, tables: Iterable[str], *, source: str = "linked"
    ) -> contextlib.AbstractContextManager[Any]:
        """A zone whose writes stay out of `zone` (what `reading` or `alongside` gave, or a
        DuckDB connection with the zone attached as `source`): `tables` read through to the
        zone, every table written kept apart, dropped at the end of the `with` or the next
        scratch over the same connection."""

    @abstractmethod
    def tracing(
        self, folder=None, connection=None, *, shuffle_partitions: int | None = None
    ) -> contextlib.AbstractContextManager[Any]:
        """Where Splink works on identifiable records outside zone 3, for the length of the
        `with`: the connection to give `splink`. `folder`: where the engine may keep files
        (none: a temporary folder of its own), which the caller holds alone; `connection`: a
        connection of the caller's to work in (DuckDB: its spill is then the caller's)."""

    @abstractmethod
    def splink(self, connection) -> Any:
        """Splink's database API for this engine over `connection` (from `tracing`)."""

    def splink_table(self, db, frame):
        """`frame` (an Arrow table, every column text) as this engine's Splink registers it."""
        return frame

    def splink_lookup(self, db, table):
        """`table` (Arrow: text and numbers, such as tracing's term frequencies) as this
        engine's Splink registers a look-up table: Arrow, which DuckDB scans as it is (a
        pandas frame's strings it read as Python objects in every linker's SQL)."""
        return table

    def splink_training(self, db) -> tuple[Any, Engine]:
        """Splink's database API that tracing trains its models on (u by random sampling, m
        by EM), and the engine whose `splink_table` registers tables there: on every engine a
        DuckDB of tracing's own, in memory, not the one it scores on (`db`, from `splink`).
        - One place: random sampling (u) draws differently on each backend, so a model
          trained on Spark would differ from DuckDB's and the two engines would link
          differently near the threshold; trained in one place, one model links the same on
          either.
        - Its own: tracing trains the next source's model in a thread of its own while it
          scores a source (a DuckDB connection serves one thread at a time).
        What is trained on is bounded (u: up to 5M pairs of two different people of the
        spine; m: 2,000 records and the spine people who share a key with them), and the
        records are already in this process's memory. The database may not spill (no
        temporary folder): identifiable pairs never reach a disk unencrypted; it fails out
        of memory instead."""
        from splink import DuckDBAPI

        from openphm.engine.duckdb import DuckDB, memory_only

        return DuckDBAPI(memory_only()), DuckDB()

    def splink_done(self, db) -> None:  # noqa: B027 (most engines have nothing to forget)
        """Forget in `db` every table Splink made and every row it cached."""


def engine_for(choice=None, override=None) -> Engine:
    """The engine for `choice`: an `Engine` (as it is), an engine's name, a programme (a
    workspace, its configuration or its [engine] settings: the kind and the Spark master), or
    None (the default, DuckDB). `override`: a name or engine given instead of the programme's
    kind (`--engine`); a programme's Spark master still applies."""
    if isinstance(override, Engine):
        return override
    if isinstance(choice, Engine):
        return choice if override is None else _make(str(override), choice.master)
    if choice is None or isinstance(choice, str):
        return _make(override or choice or DEFAULT, None)
    settings = choice
    for attribute in ("config", "engine"):  # a workspace → its configuration → [engine]
        settings = getattr(settings, attribute, settings)
    return _make(str(override or settings.kind), settings.spark_master)


def check_engine(name: str) -> str:
    """`name` if it names an engine, else an EngineError listing them."""
    if name not in ENGINES:
        raise EngineError(f"{name!r} is not an engine; choose one of {', '.join(ENGINES)}")
    return name


def _make(name: str, master: str | None) -> Engine:
    if check_engine(name) == "spark":
        from openphm.engine.spark import Spark

        return Spark(master)
    from openphm.engine.duckdb import DuckDB

    return DuckDB()


def engine_of(zone) -> Engine:
    """The engine a zone (what `reading` or `alongside` gave, a scratch zone, or a DuckDB
    connection) is open on."""
    from openphm.engine import spark

    if isinstance(zone, spark.ZoneBackend | spark.ScratchZone):
        return spark.Spark()
    from openphm.engine.duckdb import DuckDB

    return DuckDB()
