"""Zone 3, the linked zone: the de-identified linked population (docs/linked-model.md).

Analysts query it here, read-only and sandboxed: no key material is imported by this package,
no file outside the zone can be read or written from a query, and nothing leaves except through
a release (openphm.disclosure.releases).
"""
