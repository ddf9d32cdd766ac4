"""The engine: the one place that knows which database runs OpenPHM's relational work.

DuckDB is the embedded default (one machine, no server). Spark joins later behind the same
functions, one module per engine, as Splink keeps one dialect per backend. Stages do relational
work through Ibis on the backend this module returns, so their code does not change with the
engine. Opening an encrypted zone file needs its data key, which the caller passes in from the
key store; this module never fetches keys itself.
"""

from openphm.engine.duckdb import (
    EngineError,
    attach_encrypted,
    connect,
    ibis_backend,
)

__all__ = ["EngineError", "attach_encrypted", "connect", "ibis_backend"]
