"""Every Talos unit test finds the schemas through the collection's environment variable: Talos'
published ones in the oracles, or the collection's own when ``../shared`` is absent."""
import pytest

from talos_oracles import SCHEMA_DIR


@pytest.fixture(autouse=True)
def _schema_dir(monkeypatch):
    monkeypatch.setenv('HYBRIDOPS_TALOS_SCHEMA_DIR', SCHEMA_DIR)
