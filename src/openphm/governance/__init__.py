"""Governance: the audit log, roles, and (later) retention, releases and the programme's close.

Reads and writes the workspace's audit folder; never reads patient data. What an entry may hold
is fixed by `audit.AuditEntry`: who, in which role, did what, for which purpose, to which files
or tables, with how many rows. Never a patient value.
"""
