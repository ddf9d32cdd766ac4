"""Writing extracts in the shapes of docs/extract-formats.md: file names, folders, column names
of each GP flavour and of secondary care, date formats, and the split into a baseline and a
monthly period. Writes test data only.

Files are appended to chunk by chunk (CSV), so a region of any size streams to disk; Parquet
output converts each finished CSV. The row number of every row of a non-GP extract is kept with
its person_id for truth/records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from openphm.synth.identifiers import local_patient_ids
from openphm.synth.registers import patient_ref
from openphm.synth.timeline import NEVER, Timeline, day_number

IDENTIFIERS = ["nhs_number", "given_name", "family_name", "date_of_birth", "sex", "postcode"]
# The extracts of hospital and community providers carry the provider's own id for the person
# after the record's id (docs/extract-formats.md): what a provider's cohort list is sealed with.
LOCAL_ID = "local_patient_id"


@dataclass(frozen=True)
class Table:
    kind: str  # the programme's source kind, and the first folder under extracts/
    name: str  # the table's name in file names
    columns: list[str]
    dates: list[str]
    flavour_b: dict[str, str] | None = None  # GP flavour B column names
    record_id: str | None = None  # non-GP: the provider's own row id, first column
    local_id: bool = False  # a hospital or community provider's: its local patient id second

    @property
    def is_gp(self) -> bool:
        return self.kind == "gp"


def _gp(name, columns, b_columns, dates):
    return Table("gp", name, columns, dates, dict(zip(columns, b_columns, strict=True)))


TABLES = {
    t.name: t
    for t in [
        _gp("patients",
            ["patient_ref", "nhs_number", "given_name", "family_name", "sex", "date_of_birth",
             "address_line_1", "address_line_2", "town", "postcode", "ethnicity_code"],
            ["PatientID", "NHSNumber", "Forename", "Surname", "Gender", "DateOfBirth",
             "AddressLine1", "AddressLine2", "Town", "Postcode", "EthnicityCode"],
            ["date_of_birth"]),
        _gp("registrations",
            ["patient_ref", "registration_start", "registration_end", "deregistration_reason"],
            ["PatientID", "RegistrationDate", "DeregistrationDate", "DeregistrationReason"],
            ["registration_start", "registration_end"]),
        _gp("events", ["patient_ref", "event_date", "snomed_code", "value", "unit"],
            ["PatientID", "EventDate", "SnomedCode", "NumericValue", "Unit"], ["event_date"]),
        _gp("medications", ["patient_ref", "issue_date", "dmd_code", "drug_name", "quantity"],
            ["PatientID", "IssueDate", "DmdCode", "DrugName", "Quantity"], ["issue_date"]),
        _gp("consultations",
            ["patient_ref", "consultation_date", "consultation_type", "staff_role"],
            ["PatientID", "ConsultationDate", "ConsultationType", "StaffRole"],
            ["consultation_date"]),
        _gp("objections", ["patient_ref", "recorded_date", "snomed_code"],
            ["PatientID", "RecordedDate", "SnomedCode"], ["recorded_date"]),
        Table("admitted-care", "apc",
              ["admission_date", "discharge_date", "admission_method", "primary_diagnosis",
               "secondary_diagnoses", "primary_procedure", "discharge_destination"],
              ["admission_date", "discharge_date"], record_id="spell_id",
              local_id=True),
        Table("emergency-care", "ecds",
              ["arrival_date", "department_type", "chief_complaint", "diagnosis",
               "discharge_destination"], ["arrival_date"], record_id="attendance_id",
              local_id=True),
        Table("outpatients", "opa",
              ["appointment_date", "treatment_function_code", "first_attendance",
               "attendance_status"], ["appointment_date"], record_id="appointment_id",
              local_id=True),
        Table("community", "community", ["contact_date", "service", "contact_type"],
              ["contact_date"], record_id="contact_id", local_id=True),
        Table("social-care", "socialcare",
              ["service_start", "service_end", "service_type", "primary_support_reason"],
              ["service_start", "service_end"], record_id="client_id"),
        Table("deaths", "deaths", ["date_of_death", "underlying_cause", "place_of_death"],
              ["date_of_death"], record_id="death_registration_id"),
    ]
}  # fmt: skip


def extract_path(table: Table, provider: str, period: str, resubmission: int = 1) -> str:
    """`extracts/<kind>/<ODS>/<ODS>_<table>_<YYYYMM>[_r<N>].csv`, relative to the region."""
    return file_path(table.kind, table.name, provider, period, resubmission)


def file_path(kind: str, token: str, provider: str, period: str, resubmission: int = 1) -> str:
    """`extracts/<kind>/<ODS>/<ODS>_<token>_<YYYYMM>[_r<N>].csv`: `token` is the contract's
    table name (`apc`), a layout's name (`hes-apc`) or a data set's table (`CYP001MPI`)."""
    suffix = f"_r{resubmission}" if resubmission > 1 else ""
    return f"extracts/{kind}/{provider}/{provider}_{token}_{period}{suffix}.csv"


def _dates(days: np.ndarray, day_first: bool) -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    array = pa.array(days.astype(np.int32), mask=days >= NEVER).cast(pa.date32())
    if day_first:
        return pc.strftime(array.cast(pa.timestamp("s")), format="%d/%m/%Y")
    return array.cast(pa.string())


def _strings(values: np.ndarray) -> pa.Array:
    if values.dtype.kind == "f":
        return pa.array(values, from_pandas=True).cast(pa.string())
    if values.dtype.kind in "iub":
        return pa.array(values).cast(pa.string())
    return pa.array(values, type=pa.string(), from_pandas=True)


_B_SEX = {"M": "Male", "F": "Female", "U": "Unknown"}


@dataclass
class ExtractWriter:
    root: Path
    timeline: Timeline
    flavour: dict[str, str]  # practice ODS code -> "A" or "B"
    current_practice: np.ndarray  # person_id -> ODS code of the practice they are with now
    written: dict[str, int] = field(default_factory=dict)  # relative path -> data rows
    _records: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)

    def write(self, table: Table, frame: pd.DataFrame, identifiers: pd.DataFrame | None = None):
        """Append rows to the files their provider and period say, in date order per chunk."""
        if len(frame) == 0:
            return
        baseline_end = day_number(self.timeline.baseline_end)
        day = frame["day"].to_numpy()
        monthly = day > baseline_end
        provider_code, providers = pd.factorize(frame["provider"].to_numpy(), sort=True)
        order = np.lexsort((day, monthly, provider_code))
        frame = frame.iloc[order].reset_index(drop=True)
        if identifiers is not None:
            identifiers = identifiers.iloc[order].reset_index(drop=True)
        key = provider_code[order] * 2 + monthly[order]
        bounds = np.flatnonzero(np.diff(key)) + 1
        columns = self._columns(table, frame, identifiers)
        b_columns = (
            self._columns(table, frame, identifiers, day_first=True) if table.is_gp else None
        )
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(frame)], strict=True):
            provider = providers[key[lo] // 2]
            period = self.timeline.monthly_period if key[lo] % 2 else self.timeline.baseline_period
            use_b = table.is_gp and self.flavour[provider] == "B"
            data = (b_columns if use_b else columns).slice(lo, hi - lo)
            if use_b:
                data = data.rename_columns([table.flavour_b[c] for c in data.column_names])
            path = extract_path(table, provider, period)
            self._append(path, data)
            if not table.is_gp:
                self._remember(path, frame["person"].to_numpy()[lo:hi])

    def write_rows(
        self,
        kind: str,
        token: str,
        provider: np.ndarray,
        monthly: np.ndarray,
        day: np.ndarray,
        person: np.ndarray,
        data: pa.Table,
    ) -> None:
        """Append rows already in a file's columns (a published layout's,
        openphm.synth.layouts) to the file of their provider and period (`monthly`: the
        monthly period, else the baseline), in date order per provider and period, the
        rows' own order kept among rows of one date; remembers each row's person."""
        if data.num_rows == 0:
            return
        provider_code, providers = pd.factorize(np.asarray(provider, dtype=object), sort=True)
        monthly = np.asarray(monthly, dtype=bool)
        order = np.lexsort((np.asarray(day), monthly, provider_code))
        data = data.take(pa.array(order))
        person = np.asarray(person)[order]
        key = provider_code[order] * 2 + monthly[order]
        bounds = np.flatnonzero(np.diff(key)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(key)], strict=True):
            code = providers[key[lo] // 2]
            period = self.timeline.monthly_period if key[lo] % 2 else self.timeline.baseline_period
            path = file_path(kind, token, code, period)
            self._append(path, data.slice(lo, hi - lo))
            self._remember(path, person[lo:hi])

    def next_ids(self, name: str, count: int, start: int = 1) -> np.ndarray:
        """`count` new numbers from the counter `name` (a record id's), in order."""
        first = self._ids.get(name, start)
        self._ids[name] = first + count
        return np.arange(first, first + count, dtype=np.int64)

    def _columns(self, table, frame, identifiers, day_first=False) -> pa.Table:
        arrays = {}
        if table.record_id:
            arrays[table.record_id] = self._record_ids(table, frame)
            if table.local_id:
                arrays[LOCAL_ID] = local_patient_ids(
                    frame["person"].to_numpy(), frame["provider"].to_numpy()
                )
            for name in IDENTIFIERS:
                values = identifiers[name].to_numpy()
                arrays[name] = (
                    _dates(values, False) if name == "date_of_birth" else _strings(values)
                )
        for name in table.columns:
            if name == "patient_ref" and name not in frame:
                person = frame["person"].to_numpy()
                previous = frame["provider"].to_numpy() != self.current_practice[person]
                values = patient_ref(person, previous)
            else:
                values = frame[name].to_numpy()
            if name in table.dates:
                arrays[name] = _dates(values, day_first)
            elif name == "sex" and day_first:
                arrays[name] = _strings(pd.Series(values).map(_B_SEX).to_numpy())
            else:
                arrays[name] = _strings(values)
        return pa.table(arrays)

    def plain_table(self, table: Table, frame: pd.DataFrame, columns: list[str]) -> pa.Table:
        """Some of a table's columns in flavour A form (ISO dates), in frame order."""
        return self._columns(table, frame.reset_index(drop=True), None).select(columns)

    def _record_ids(self, table: Table, frame: pd.DataFrame) -> pa.Array:
        if table.name == "socialcare":
            # The authority's own person id: stable for a person, unrelated to person_id.
            ids = (frame["client_id"].to_numpy().astype(np.int64) * 7919 + 104_729) % 10**8
            return pc.binary_join_element_wise("C", _strings(ids), "")
        start = self._ids.get(table.name, 1)
        self._ids[table.name] = start + len(frame)
        ids = np.arange(start, start + len(frame), dtype=np.int64)
        return pc.binary_join_element_wise(table.name.upper()[:3], _strings(ids), "")

    def _append(self, path: str, data: pa.Table) -> None:
        append_csv(self.root / path, data, new=path not in self.written)
        self.written[path] = self.written.get(path, 0) + data.num_rows

    def _remember(self, path: str, person: np.ndarray) -> None:
        first = self.written[path] - len(person) + 1
        self.add_records(path, np.arange(first, first + len(person)), person)

    def add_records(self, path: str, rows: np.ndarray, person: np.ndarray) -> None:
        self._records.append((path, rows.astype(np.int32), person.astype(np.int64)))

    def persons(self, path: str) -> np.ndarray:
        """person_id of each row of one non-GP extract, in row order."""
        parts = [(rows, person) for p, rows, person in self._records if p == path]
        rows = np.concatenate([r for r, _ in parts])
        return np.concatenate([p for _, p in parts])[np.argsort(rows)]

    def records(self) -> pa.Table:
        """file, row (1-based, header excluded), person_id for every non-GP extract row."""
        paths = [p for p, _, _ in self._records]
        files, index = np.unique(np.array(paths, dtype=object), return_inverse=True)
        lengths = [len(r) for _, r, _ in self._records]
        return pa.table(
            {
                "file": pa.DictionaryArray.from_arrays(
                    pa.array(np.repeat(index, lengths).astype(np.int32)), pa.array(files.tolist())
                ),
                "row": pa.array(np.concatenate([r for _, r, _ in self._records])),
                "person_id": pa.array(np.concatenate([p for _, _, p in self._records])),
            }
        )


def append_csv(target: Path, data: pa.Table, new: bool) -> None:
    """Start a CSV file (with its header) or add rows to it."""
    if new:
        target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb" if new else "ab") as handle:
        pacsv.write_csv(data, handle, pacsv.WriteOptions(include_header=new))


def read_extract(path: Path) -> pa.Table:
    """An extract as written (every column a string), CSV or Parquet."""
    if path.suffix == ".parquet":
        return pq.read_table(path)
    names = pacsv.open_csv(path).schema.names
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
        ),
    )


def convert_to_parquet(root: Path, paths: list[str]) -> list[str]:
    """Rewrite each CSV extract as Parquet (all columns strings); returns the new paths."""
    converted = []
    for path in paths:
        source = root / path
        target = source.with_suffix(".parquet")
        pq.write_table(read_extract(source), target)
        source.unlink()
        converted.append(str(Path(path).with_suffix(".parquet")))
    return converted
