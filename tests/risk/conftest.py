import pytest

from .region import built_region


@pytest.fixture(scope="session")
def region(tmp_path_factory):
    return built_region(tmp_path_factory.getbasetemp())
