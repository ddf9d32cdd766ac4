"""OpenPHM: an NHS population health management programme, end to end.

The package layout follows the data flow in docs/ARCHITECTURE.md: providers' extracts land
(``landing``), identities are traced and replaced with codes (``identity``, ``pseudonymise``),
the de-identified population is linked (``linked``) and analysed (``analytics``), and only
disclosure-controlled outputs leave (``disclosure``, ``practice``). ``governance`` keeps the
audit log and the programme's lifecycle.
"""

__version__ = "0.1.0"
