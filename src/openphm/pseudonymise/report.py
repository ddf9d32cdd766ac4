"""The linkage reports in zone 3, read back for the processor (aggregates only, no person)."""

from __future__ import annotations

import pandas as pd

from openphm.pseudonymise.ledger import LINK_REPORT, LINKAGE_EQUITY


def link_report(ws) -> pd.DataFrame:
    return _read(ws, LINK_REPORT)


def linkage_equity(ws) -> pd.DataFrame:
    return _read(ws, LINKAGE_EQUITY)


def _read(ws, table: str) -> pd.DataFrame:
    con = ws.connect_linked(read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table}").df()
    finally:
        con.close()
