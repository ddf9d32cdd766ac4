"""The synthetic region (`phm synth`): writes test data only.

Generates, deterministically from a seed, the identifiable extracts that a processor would
receive from one region's GP practices, trusts, community provider, local authority and death
registration, in the shapes of docs/extract-formats.md, with realistic noise and injected file
faults, plus a ground truth (DIR/truth/, the indicators' flags among it) for tests. Reads
shared reference data (`openphm.reference`) and nothing else; nothing here ever reads real
patient data.
"""

from pathlib import Path

from openphm.synth.region import RegionOptions, RegionSummary, generate_region

# The region's own codes for the indicator lists OpenPHM does not ship (codelists/README.md):
# `phm indicators WORKSPACE --codelists` this folder on a synthetic region.
CODELISTS = Path(__file__).parent / "codelists"

__all__ = ["CODELISTS", "RegionOptions", "RegionSummary", "generate_region"]
