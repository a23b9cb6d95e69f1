"""The data the product carries instead of reading ../shared equals what the scripts derive from the oracles.

talos_schemas/ (the collection validates machine configs with it; so does the lab's node simulator)
and lab/talos/api_roles.json (the simulator's per-call role rules) are committed, and so are the base machine configs of
the simulated clusters (tests/integration/talos_sim/base_configs). Each is checked
here against a fresh derivation from the upstream oracle; without ../shared these tests skip.
"""
import os
import subprocess
import sys

from shared_oracles import ROOT, oracle_path


def _derive(script, source, dest):
    subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', script), source, dest], check=True, capture_output=True)


def _read(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


def test_committed_talos_schemas_are_the_published_ones_without_documentation(tmp_path):
    _derive('derive_talos_schemas.py', oracle_path('oracles', 'talos'), str(tmp_path))
    shipped = os.path.join(ROOT, 'talos_schemas')
    derived = sorted(os.listdir(tmp_path))
    assert derived == sorted(name for name in os.listdir(shipped) if name.endswith('.json'))
    for name in derived:
        assert _read(os.path.join(shipped, name)) == _read(str(tmp_path / name)), (
            '%s differs from the published schema: run scripts/derive_talos_schemas.py and commit the result' % name)


def test_lab_role_rules_are_those_of_the_interface_facts(tmp_path):
    target = tmp_path / 'api_roles.json'
    _derive('derive_lab_api_roles.py', oracle_path('reference', 'talos-api-facts.json'), str(target))
    assert _read(os.path.join(ROOT, 'lab', 'talos', 'api_roles.json')) == _read(str(target)), (
        'lab/talos/api_roles.json differs from the interface facts: run scripts/derive_lab_api_roles.py and commit it')


def test_the_simulated_clusters_base_configs_are_talos_own():
    fixtures = oracle_path('oracles', 'talos', 'v1.9.6', 'fixtures', 'decoder')
    copies = os.path.join(ROOT, 'tests', 'integration', 'talos_sim', 'base_configs')
    for name in ('controlplane.yaml', 'worker.yaml'):
        assert _read(os.path.join(copies, name)) == _read(os.path.join(fixtures, name)), (
            'tests/integration/talos_sim/base_configs/%s differs from the upstream fixture: copy it again' % name)
