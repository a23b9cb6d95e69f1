"""The EXAMPLES of the Talos modules run as written, in one play, and a second run changes nothing."""
import ast
import os
import shutil
import subprocess

import yaml

from shared_oracles import oracle_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODULES = ('talos_secrets', 'talos_machineconfig', 'talos_talosconfig')


def examples(module):
    with open(os.path.join(ROOT, 'plugins', 'modules', module + '.py')) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == 'EXAMPLES':
            return yaml.safe_load(node.value.value)
    raise AssertionError('%s has no EXAMPLES' % module)


def private_copy(source, target):
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)


def test_every_example_runs_and_is_idempotent(run_playbook, tmp_path):
    # The adoption examples adopt Talos' own fixture bundle and config (oracles; skips without ../shared).
    fixtures = oracle_path('oracles', 'talos', 'v1.9.6', 'fixtures')
    private_copy(os.path.join(fixtures, 'decoder', 'controlplane.yaml'), str(tmp_path / 'adopt' / 'vps-0-controlplane.yaml'))
    private_copy(os.path.join(fixtures, 'secrets', 'secrets.yaml'), str(tmp_path / 'adopt' / 'secrets.yaml'))
    (tmp_path / 'age').mkdir()
    subprocess.run(['age-keygen', '-o', str(tmp_path / 'age' / 'talos.key')], check=True, capture_output=True)
    recipient = subprocess.run(['age-keygen', '-y', str(tmp_path / 'age' / 'talos.key')], check=True,
                               capture_output=True, text=True).stdout.strip()
    (tmp_path / 'files' / 'patches').mkdir(parents=True)
    (tmp_path / 'files' / 'patches' / 'worker-sysctls.yaml').write_text('machine:\n  sysctls:\n    vm.max_map_count: "262144"\n')
    # Reading the bundle back from a running cluster needs one: that example's path runs against the lab in
    # tests/integration/provision/test_provision_awx.py (a job with only the talosconfig), not here.
    tasks = [task for module in MODULES for task in examples(module)
             if not task.get('hybridops.talos.talos_secrets', {}).get('adopt_from_cluster')]
    plays = [{'name': 'examples', 'hosts': 'localhost', 'gather_facts': False,
              'vars': {'talos_age_recipient': recipient}, 'tasks': tasks}]
    # The examples keep secrets where the collection does by default, in ~/.local/share/hybridops-talos: this test's HOME.
    home = {'HOME': str(tmp_path / 'home'), 'XDG_DATA_HOME': ''}
    first = run_playbook(plays, env=home)
    assert first.rc == 0, first.stdout[-4000:]
    assert first.changed() == len(tasks) - 1  # the in-memory render writes nothing
    assert sorted(os.listdir(str(tmp_path / 'home' / '.local' / 'share' / 'hybridops-talos'))) == ['adopted', 'encrypted', 'hybrid']
    second = run_playbook(plays, env=home)
    assert second.rc == 0 and second.changed() == 0, second.stdout[-4000:]
