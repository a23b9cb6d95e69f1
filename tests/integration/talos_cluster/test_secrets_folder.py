"""Where the talos_cluster role keeps a cluster's secrets: outside the playbook folder and the collection.

Runs the role's secrets entry point (no Talos node needed) with HOME and XDG_DATA_HOME pointed at
the test's own folder, and proves that a secrets folder others can read or enter is refused when
the bundle is read again, not only when it is first written.
"""
import os
import stat

import yaml

PLAY = [{'name': 'secrets', 'hosts': 'talos_controlplane', 'gather_facts': False, 'tasks': [
    {'name': 'secrets', 'ansible.builtin.import_role': {'name': 'hybridops.talos.talos_cluster', 'tasks_from': 'secrets'}}]}]


def inventory(tmp_path):
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump({'talos_controlplane': {'hosts': {'cp-0': {
        'talos_node_ip': '192.0.2.1', 'talos_role': 'controlplane', 'ansible_connection': 'local'}}}}))
    return str(path)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_default_secrets_folder_is_in_the_users_data_folder(run_playbook, tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    run = run_playbook(PLAY, inventory=inventory(tmp_path), env={'HOME': str(home), 'XDG_DATA_HOME': '', 'TALOSCONFIG': ''})
    assert run.rc == 0, run.failures()
    folder = home / '.local' / 'share' / 'hybridops-talos' / 'talos'
    assert sorted(os.listdir(folder)) == ['reader.talosconfig', 'secrets.yaml', 'talosconfig']
    assert mode(folder) == 0o700 and all(mode(folder / name) == 0o600 for name in os.listdir(folder))
    # Nothing beside the playbook.
    assert not (tmp_path / 'secrets').exists()
    again = run_playbook(PLAY, inventory=inventory(tmp_path), env={'HOME': str(home), 'XDG_DATA_HOME': '', 'TALOSCONFIG': ''})
    assert again.rc == 0 and again.changed('cp-0') == 0, again.failures()


def test_xdg_data_home_is_honoured(run_playbook, tmp_path):
    data = tmp_path / 'data'
    run = run_playbook(PLAY, '-e', 'talos_cluster_name=hybrid', inventory=inventory(tmp_path),
                       env={'HOME': str(tmp_path / 'home'), 'XDG_DATA_HOME': str(data)})
    assert run.rc == 0, run.failures()
    assert mode(data / 'hybridops-talos' / 'hybrid' / 'secrets.yaml') == 0o600


def test_a_secrets_folder_others_can_enter_is_refused_on_the_next_read(run_playbook, tmp_path):
    env = {'HOME': str(tmp_path / 'home'), 'XDG_DATA_HOME': ''}
    assert run_playbook(PLAY, inventory=inventory(tmp_path), env=env).rc == 0
    folder = tmp_path / 'home' / '.local' / 'share' / 'hybridops-talos' / 'talos'
    with open(folder / 'secrets.yaml', 'rb') as handle:
        bundle = handle.read()
    os.chmod(folder, 0o755)
    run = run_playbook(PLAY, inventory=inventory(tmp_path), env=env)
    assert run.rc != 0
    failed = run.failures()
    assert len(failed) == 1 and 'has mode 0755: secrets live in a 0700 folder that nobody else can read or enter' in failed[0]
    with open(folder / 'secrets.yaml', 'rb') as handle:
        assert handle.read() == bundle
