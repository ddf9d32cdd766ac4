"""CSV files that people open in spreadsheets (releases): no cell can run as a formula.

Excel, LibreOffice and Google Sheets read a text cell that begins with =, +, -, @, a tab or a
carriage return as a formula: `=HYPERLINK("https://…?"&A2, "open")` sends a cell's value to a
web address when clicked, and DDE formulas can start programs. OWASP's advice (CSV Injection)
is to prefix such a cell with a single quote, which the spreadsheet shows as text; pandas'
quoting already keeps commas, quotes and line breaks inside their cells. Numbers are left as
they are: a negative number is a number, not a formula. Every CSV the product hands to people is
written through `write_csv`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A text value that a spreadsheet would run, prefixed with a single quote; any other value
    unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell and column name neutralised (a column named in a query can
    be a formula too)."""
    safe = frame.rename(columns=lambda name: neutralise(str(name)))
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise)
    return safe


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    spreadsheet_safe(frame).to_csv(path, index=False)


def csv_text(frame: pd.DataFrame) -> str:
    """The CSV `write_csv` would write, as text (a download made in memory)."""
    return spreadsheet_safe(frame).to_csv(index=False)
