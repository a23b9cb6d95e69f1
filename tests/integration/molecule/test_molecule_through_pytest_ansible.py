"""pytest-ansible drives a Molecule scenario, as a collection's CI would: ``molecule test -s preflight`` through
pytest-ansible's ``MoleculeScenario``. make test-molecule runs every scenario (in one shared lab); this shows that
the pytest tooling drives them too. preflight is the one scenario that needs no lab (shared_state off), so this test
holds no lab lock and adds about half a minute."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VENV_BIN = os.path.dirname(sys.executable)


def test_pytest_ansible_runs_the_preflight_scenario_to_a_pass(monkeypatch):
    from pytest_ansible.molecule import MoleculeScenario  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv('ANSIBLE_COLLECTIONS_PATH', os.path.join(ROOT, '.venv', 'collections'))
    monkeypatch.setenv('ANSIBLE_ROLES_PATH', os.path.join(ROOT, 'roles'))
    monkeypatch.setenv('ANSIBLE_PYTHON_INTERPRETER', sys.executable)
    monkeypatch.setenv('PATH', VENV_BIN + os.pathsep + os.environ.get('PATH', ''))
    scenario = MoleculeScenario(name='preflight', parent_directory=ROOT, test_id='preflight')
    completed = scenario.test()  # converge, idempotence (changed=0), verify; the output goes to pytest's capture
    assert completed.returncode == 0, 'molecule test -s preflight failed: its output is above'
