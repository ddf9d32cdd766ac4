"""The web service: pages for analysts, GP practices and the data protection officer, and a
JSON API, styled with the NHS.UK design system and loading nothing from the internet.

Reads zones 3 (linked) and 4 (outputs) and the governance records (audit log, releases,
certificate, privacy notice) through their Python APIs; never the landing zone. Writes only
user accounts (WORKSPACE/web/users.json) and audit entries, and approves releases and closes the
programme only through the governance and disclosure modules that own those actions.
"""
