"""Every Talos unit test validates with the schemas the collection ships (talos_schemas/, checked against
the published ones by tests/unit/test_oracle_copies.py), found through the collection's environment variable."""
import pytest

from talos_oracles import SHIPPED_SCHEMAS


@pytest.fixture(autouse=True)
def _schema_dir(monkeypatch):
    monkeypatch.setenv('HYBRIDOPS_TALOS_SCHEMA_DIR', SHIPPED_SCHEMAS)
