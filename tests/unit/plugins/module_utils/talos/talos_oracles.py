"""Paths to the Talos oracles: ``../shared/oracles/talos`` beside the checkout (CI has it too)."""
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 5)))
ORACLES = os.path.join(os.path.dirname(ROOT), 'shared', 'oracles', 'talos')
FIXTURES = os.path.join(ORACLES, 'v1.9.6', 'fixtures')


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


def read_fixture(*parts):
    with open(fixture_path(*parts), 'rb') as handle:
        return handle.read()
