"""Paths to the Talos oracles (``../shared/oracles/talos`` beside the checkout; CI has it) and to the schemas
the collection ships. A test that reads a fixture skips, naming the missing folder, when ../shared is absent."""
import os

from shared_oracles import ROOT, oracle_path

SHIPPED_SCHEMAS = os.path.join(ROOT, 'talos_schemas')


def oracles():
    return oracle_path('oracles', 'talos')


def fixture_path(*parts):
    return oracle_path('oracles', 'talos', 'v1.9.6', 'fixtures', *parts)


def read_fixture(*parts):
    with open(fixture_path(*parts), 'rb') as handle:
        return handle.read()
