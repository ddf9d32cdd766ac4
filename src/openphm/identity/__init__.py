"""Identity: who each landed record belongs to, before anything is pseudonymised.

Reads the landing zone (identifiable extracts); writes traced NHS numbers back into it. NHS
numbers are normalised and checked (`nhs_numbers`); records whose NHS number is missing or
invalid are traced against the registered population by probabilistic matching (`tracing`).
Uses no key material: that is the pseudonymisation zone's alone. Never logs patient values.
"""
