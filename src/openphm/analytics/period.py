"""The one reference-date rule: the data's end, the default reference date, and the warning for
a date past the data's end. `phm analyse`, `phm indicators`, `phm risk score`, cohorts (which
take their dates from the risk scores and the analytics build) and the web pages all default
through `default_reference_date`, so the parts of the product agree.

- The data's end is the latest date of activity in any of DATA_END_TABLES (as the risk
  model's data span), never after today (a date in the future is a recording error, not
  data). Not the earliest source's end: a sparse source (admissions in a small programme)
  often has no row on the extract's last days by chance, and would pull the date back a
  month; a source that really stops early is named instead (`DataEnd.lagging`).
- The default reference date is the end of the last complete month of data: the data's end
  when it is a month's last day, else the last day of the month before.
- A reference date past the data's end gets a warning that says how many days of the window
  (and what share) have no data.

Reads the linked zone's activity tables (their date columns' maxima) only; no row about a
person leaves here.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from openphm import clock
from openphm.analytics.zone import LinkedZoneError

# (table, date column): the activity sources whose latest date bounds the data's end.
DATA_END_TABLES: tuple[tuple[str, str], ...] = (
    ("gp_events", "event_date"),
    ("consultations", "consultation_date"),
    ("apc_spells", "admission_date"),
    ("ec_attendances", "arrival_date"),
)


# A source whose latest date is this many days or more before the data's end is named as
# lagging: more than a month without a single row is a late extract, not chance.
LAGGING_DAYS = 31


@dataclass(frozen=True)
class DataEnd:
    """The data's end, the source it comes from, and every source's latest date."""

    day: dt.date
    bounded_by: str
    latest: dict[str, dt.date]

    @property
    def lagging(self) -> dict[str, dt.date]:
        """The sources that stop a month or more before the data's end (table → latest)."""
        return {t: d for t, d in self.latest.items() if (self.day - d).days >= LAGGING_DAYS}

    def lag_warning(self) -> str | None:
        if not self.lagging:
            return None
        named = ", ".join(f"{t} to {d}" for t, d in sorted(self.lagging.items()))
        return (
            f"some sources stop well before the data's end {self.day}: {named}; their "
            "activity after those dates is missing, so their counts in the window are low"
        )


def data_end(con, source: str = "linked") -> DataEnd | None:
    """The data's end in `source` (a catalogue attached to `con`), or None when no activity
    source holds a row."""
    present = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [source]
        ).fetchall()
    }
    latest: dict[str, dt.date] = {}
    for table, column in DATA_END_TABLES:
        if table not in present:
            continue
        (last,) = con.execute(f"SELECT max({column}) FROM {source}.main.{table}").fetchone()
        if last is not None:
            latest[table] = last if isinstance(last, dt.date) else last.date()
    return _bounded(latest)


def data_end_of_zone(zone) -> DataEnd | None:
    """`data_end` over an analytics `Zone` (DuckDB or Spark, through Ibis)."""
    import pandas as pd

    present = set(zone.tables())
    latest: dict[str, dt.date] = {}
    for table, column in DATA_END_TABLES:
        if table in present:
            last = zone.table(table)[column].max().to_pandas()
            if last is not None and not pd.isna(last):
                latest[table] = pd.Timestamp(last).date()
    return _bounded(latest)


def _bounded(latest: dict[str, dt.date]) -> DataEnd | None:
    if not latest:
        return None
    table = max(latest, key=lambda t: (latest[t], t))
    return DataEnd(min(latest[table], clock.today()), table, latest)


def last_complete_month_end(day: dt.date) -> dt.date:
    """`day` when it is the last day of its month, else the last day of the month before."""
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return day
    return day.replace(day=1) - dt.timedelta(days=1)


def default_reference_date(con, source: str = "linked") -> dt.date:
    """The end of the last complete month of data in `source`."""
    return reference_date_for(data_end(con, source))


def reference_date_for(end: DataEnd | None) -> dt.date:
    """The end of the last complete month of data, from the data's end already read."""
    if end is None:
        raise LinkedZoneError(
            "the linked zone has no activity yet, so it has no data's end to default the "
            "reference date to: run phm link first, or give --reference-date"
        )
    return last_complete_month_end(end.day)


@dataclass(frozen=True)
class Coverage:
    """How much of a window [start, reference date] the data covers."""

    reference_date: dt.date
    window_start: dt.date
    data_end: dt.date | None
    lagging: str | None = None  # DataEnd.lag_warning, when a source stops early

    @property
    def window_days(self) -> int:
        return (self.reference_date - self.window_start).days + 1

    @property
    def days_without_data(self) -> int:
        if self.data_end is None:
            return self.window_days
        return max(0, min((self.reference_date - self.data_end).days, self.window_days))

    @property
    def share_without_data(self) -> float:
        return self.days_without_data / self.window_days if self.window_days > 0 else 0.0

    def note(self) -> str:
        """One line for every output: the reference date and the data's end."""
        end = self.data_end.isoformat() if self.data_end else "no data"
        return f"as at {self.reference_date} (data to {end})"

    def warning(self) -> str | None:
        """None when the data reaches the reference date; else what the window lacks."""
        if self.days_without_data == 0:
            return None
        end = self.data_end.isoformat() if self.data_end else "(no activity data)"
        return (
            f"the reference date {self.reference_date} is after the data's end {end}: "
            f"{self.days_without_data:,} of the window's {self.window_days:,} days "
            f"({self.share_without_data:.1%}) have no data, so counts and rates over the "
            "window are low; leave out --reference-date to use the end of the last complete "
            "month of data"
        )


def coverage(con, reference_date: dt.date, window_start: dt.date | None = None,
             source: str = "linked") -> Coverage:  # fmt: skip
    """The coverage of [window_start, reference_date] (the reference date alone when no
    window) by `source`'s data."""
    return coverage_of(data_end(con, source), reference_date, window_start)


def coverage_of(end: DataEnd | None, reference_date: dt.date,
                window_start: dt.date | None = None) -> Coverage:  # fmt: skip
    """`coverage`, from the data's end already read."""
    return Coverage(reference_date, window_start or reference_date, end.day if end else None,
                    end.lag_warning() if end else None)  # fmt: skip
