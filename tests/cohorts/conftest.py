import importlib.util
import sys
from pathlib import Path

import pytest

# The region is built by tests/risk/region.py, once per session for both folders.
_spec = importlib.util.spec_from_file_location(
    "risk_region", Path(__file__).parents[1] / "risk" / "region.py"
)
region_module = importlib.util.module_from_spec(_spec)
sys.modules["risk_region"] = region_module  # dataclasses look their module up here
_spec.loader.exec_module(region_module)


@pytest.fixture(scope="session")
def region(tmp_path_factory):
    return region_module.built_region(tmp_path_factory.getbasetemp())
