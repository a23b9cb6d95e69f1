"""Every Talos unit test finds the published schemas through the collection's environment variable."""
import pytest

from talos_oracles import ORACLES


@pytest.fixture(autouse=True)
def _schema_dir(monkeypatch):
    monkeypatch.setenv('HYBRIDOPS_TALOS_SCHEMA_DIR', ORACLES)
