"""The web service: pages for analysts, output checkers, GP practices and the data protection
officer, and a JSON API, styled with the NHS.UK design system and loading nothing from the
internet.

Reads zones 3 (linked) and 4 (outputs) and the governance records (audit log, releases,
certificate, privacy notice) through their Python APIs; never the landing zone's data (the
destruction timetable reads its catalog's batch dates). Writes only user accounts
(WORKSPACE/web/users.json) and audit entries; saves drafts, takes every step of a release and
closes the programme only through the disclosure and governance modules that own those actions.
"""
