"""Landing (zone 1): reads providers' extracts, writes zone 1 (landing).

Each source kind has one adapter (`adapters`) declaring its tables' columns and value rules;
`schema` compiles those declarations into DuckDB SQL checks; `readers` and `fhir` stream a
file's rows; `load` validates and lands them, quarantining what fails; `ingest` runs a whole
load atomically as one encrypted batch; `catalog` records submissions (no patient data);
`retention` destroys batches older than the programme allows (promise P8); `read` gives the
next stage views of the current rows. docs/landing.md describes it all.

Nothing is imported here, so that what the web service reaches of this package (the catalog
and retention, for the data protection officer's schedule) pulls in no loader
(tests/foundation/test_architecture.py).
"""
