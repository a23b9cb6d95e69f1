"""Paths to the Talos oracles: ``../shared/oracles/talos`` beside the checkout (CI has it too).

A clone without ``../shared`` still runs every test that does not need an oracle: the schemas then
come from the collection's own ``talos_schemas/`` (``make setup`` derives them), and a test that
reads an upstream fixture is skipped with a reason naming the missing folder.
"""
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 5)))
ORACLES = os.path.join(os.path.dirname(ROOT), 'shared', 'oracles', 'talos')
FIXTURES = os.path.join(ORACLES, 'v1.9.6', 'fixtures')
SHIPPED_SCHEMAS = os.path.join(ROOT, 'talos_schemas')
SCHEMA_DIR = ORACLES if os.path.isdir(ORACLES) else SHIPPED_SCHEMAS


def fixture_path(*parts):
    if not os.path.isdir(FIXTURES):
        pytest.skip('the Talos oracle fixtures are absent: %s does not exist' % FIXTURES)
    return os.path.join(FIXTURES, *parts)


def read_fixture(*parts):
    with open(fixture_path(*parts), 'rb') as handle:
        return handle.read()
