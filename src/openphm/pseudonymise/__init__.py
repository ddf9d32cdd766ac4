"""Pseudonymisation: the only zone where key material is used (promise P2, P5).

Reads the landing zone's traced records and the key store's keys (passed in as bytes by the
caller; nothing here reads a key store); writes pseudonyms and sealed re-identification tokens
into the linked zone. Key bytes are never logged, printed or put in an error message.
"""
