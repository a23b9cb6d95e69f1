"""talos_secrets, talos_machineconfig and talos_talosconfig through real ansible-playbook runs."""
import base64
import os
import shutil
import stat
import subprocess

import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets
from shared_oracles import oracle_path

NODE = dict(cluster_name='hybrid', cluster_endpoint='https://k8s.example.net:6443', talos_version='v1.9.6',
            kubernetes_version='1.32.3', site='vps', underlay_mtu=1450)


def fixture(*parts):
    """A Talos v1.9.6 fixture from the oracles; the test skips when ../shared is absent."""
    return oracle_path('oracles', 'talos', 'v1.9.6', 'fixtures', *parts)


def fixture_secrets():
    return fixture('secrets', 'secrets.yaml')


def play(*tasks, name='talos'):
    return [{'name': name, 'hosts': 'localhost', 'gather_facts': False, 'tasks': list(tasks)}]


def task(name, module, **args):
    entry = {'name': name, 'hybridops.talos.%s' % module: args}
    return entry


def secrets_task(path, **args):
    return task('secrets', 'talos_secrets', path=path, **args)


def config_task(name, bundle, dest, role, **args):
    return task(name, 'talos_machineconfig', secrets=bundle, dest=dest, role=role, **dict(NODE, **args))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def copy_private(source, target):
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    return target


def test_secrets_configs_and_talosconfig_are_made_once_then_unchanged(run_playbook, tmp_path):
    bundle = str(tmp_path / 'secrets' / 'secrets.yaml')
    tasks = [secrets_task(bundle),
             config_task('controlplane', bundle, str(tmp_path / 'out' / 'cp.yaml'), 'controlplane', hostname='vps-0'),
             config_task('worker', bundle, str(tmp_path / 'out' / 'w.yaml'), 'worker', hostname='home-w-0', site='home'),
             task('talosconfig', 'talos_talosconfig', secrets=bundle, dest=str(tmp_path / 'out' / 'talosconfig'),
                  context='hybrid', endpoints=['203.0.113.10'])]
    first = run_playbook(play(*tasks))
    assert first.rc == 0, first.stdout[-3000:]
    assert first.changed() == 4
    assert first.result('secrets')['source'] == 'generated'
    assert first.result('controlplane')['kubespan_mtu'] == 1370
    assert mode(bundle) == 0o600 and mode(os.path.dirname(bundle)) == 0o700
    for name in ('cp.yaml', 'w.yaml', 'talosconfig'):
        assert mode(str(tmp_path / 'out' / name)) == 0o600
    second = run_playbook(play(*tasks))
    assert second.rc == 0 and second.changed() == 0, second.stdout[-3000:]
    assert second.result('controlplane')['sha256'] == first.result('controlplane')['sha256']
    talosconfig = yaml.safe_load((tmp_path / 'out' / 'talosconfig').read_text())
    assert talosconfig['context'] == 'hybrid' and talosconfig['contexts']['hybrid']['endpoints'] == ['203.0.113.10']


def test_check_mode_reports_changes_and_writes_nothing(run_playbook, tmp_path):
    bundle = str(tmp_path / 'secrets' / 'secrets.yaml')
    run = run_playbook(play(secrets_task(bundle)), '--check', '--diff')
    assert run.rc == 0 and run.result('secrets')['changed'] is True
    assert not os.path.exists(bundle)
    assert '<redacted>' in run.result('secrets')['diff']['after']


def test_adopting_the_existing_bundle_gives_configs_with_exactly_its_secrets(run_playbook, tmp_path):
    bundle = str(tmp_path / 'secrets' / 'secrets.yaml')
    cp = str(tmp_path / 'out' / 'cp.yaml')
    run = run_playbook(play(secrets_task(bundle, adopt_from=fixture_secrets()),
                            config_task('controlplane', bundle, cp, 'controlplane')))
    assert run.rc == 0, run.stdout[-3000:]
    assert run.result('secrets')['source'] == 'bundle'
    with open(fixture_secrets(), 'rb') as handle:
        expected = yaml.safe_load(handle)
    with open(cp, 'rb') as handle:
        rebuilt = secrets.bundle_from_machineconfig(handle.read(), cp)
    assert secrets.bundles_equal(rebuilt, expected)
    again = run_playbook(play(secrets_task(bundle, adopt_from=fixture_secrets())))
    assert again.rc == 0 and again.changed() == 0


def test_rebuilding_the_bundle_from_a_control_plane_config_adopts_the_cluster(run_playbook, tmp_path):
    cp = copy_private(fixture_secrets(), str(tmp_path / 'orig' / 'secrets.yaml'))
    config = str(tmp_path / 'orig' / 'vps-0.yaml')
    made = run_playbook(play(config_task('controlplane', cp, config, 'controlplane')))
    assert made.rc == 0, made.stdout[-3000:]
    adopted = str(tmp_path / 'adopted' / 'secrets.yaml')
    run = run_playbook(play(secrets_task(adopted, adopt_from_machineconfig=config)))
    assert run.rc == 0 and run.result('secrets')['source'] == 'machineconfig', run.stdout[-3000:]
    with open(adopted, 'rb') as left, open(cp, 'rb') as right:
        assert secrets.bundles_equal(yaml.safe_load(left), yaml.safe_load(right))


def test_a_cluster_with_both_encryption_secrets_is_adopted_with_both(run_playbook, tmp_path):
    """A cluster moved from aescbc to secretbox keeps both keys (Talos' API server reads old Secrets with aescbc)."""
    with open(fixture('decoder', 'controlplane.yaml'), 'rb') as handle:
        config = yaml.safe_load(handle)
    config['cluster']['secretboxEncryptionSecret'] = base64.b64encode(b'secretbox-key-0123456789abcdefgh').decode()
    source = str(tmp_path / 'orig' / 'cp.yaml')
    os.makedirs(os.path.dirname(source), mode=0o700)
    with open(source, 'w') as handle:
        yaml.safe_dump(config, handle)
    os.chmod(source, 0o600)
    bundle = str(tmp_path / 'secrets' / 'secrets.yaml')
    cp = str(tmp_path / 'out' / 'cp.yaml')
    tasks = [secrets_task(bundle, adopt_from_machineconfig=source),
             config_task('controlplane', bundle, cp, 'controlplane', hostname='vps-0')]
    run = run_playbook(play(*tasks))
    assert run.rc == 0, run.stdout[-3000:]
    with open(bundle, 'rb') as handle:
        adopted = yaml.safe_load(handle)['secrets']
    assert adopted['aescbcencryptionsecret'] == config['cluster']['aescbcEncryptionSecret']
    assert adopted['secretboxencryptionsecret'] == config['cluster']['secretboxEncryptionSecret']
    with open(cp, 'rb') as handle:
        rendered = yaml.safe_load(handle)['cluster']
    for key in ('aescbcEncryptionSecret', 'secretboxEncryptionSecret'):
        assert rendered[key] == config['cluster'][key]
    assert config['cluster']['aescbcEncryptionSecret'] not in run.stdout
    again = run_playbook(play(*tasks))
    assert again.rc == 0 and again.changed() == 0, again.stdout[-3000:]


OPEN_APID = {'apiVersion': 'v1alpha1', 'kind': 'NetworkRuleConfig', 'name': 'apid-ingress',
             'portSelector': {'ports': [50000], 'protocol': 'tcp'}, 'ingress': [{'subnet': '0.0.0.0/0'}]}


@pytest.mark.parametrize('talos_version', ['v1.9.6', 'v1.13.9'])
def test_a_node_patch_narrows_a_firewall_rule_and_overlapping_ports_are_refused(run_playbook, tmp_path, talos_version):
    bundle = copy_private(fixture_secrets(), str(tmp_path / 's' / 'b.yaml'))
    narrow = dict(OPEN_APID, ingress=[{'subnet': '10.0.0.0/16'}])
    del narrow['portSelector']
    dest = str(tmp_path / 'w.yaml')
    run = run_playbook(play(config_task('render', bundle, dest, 'worker', talos_version=talos_version,
                                        cluster_patches=[OPEN_APID], node_patches=[narrow])))
    assert run.rc == 0, run.stdout[-3000:]
    with open(dest) as handle:
        rule = [doc for doc in yaml.safe_load_all(handle) if doc.get('kind') == 'NetworkRuleConfig'][0]
    assert rule['ingress'] == [{'subnet': '10.0.0.0/16'}] and rule['portSelector']['ports'] == [50000]
    overlapping = dict(OPEN_APID, portSelector={'ports': ['50000-50010', 50005], 'protocol': 'tcp'})
    refused = str(tmp_path / 'refused.yaml')
    failed = run_playbook(play(config_task('render', bundle, refused, 'worker', talos_version=talos_version,
                                           node_patches=[overlapping])))
    assert failed.rc != 0 and not os.path.exists(refused)
    assert ('(NetworkRuleConfig v1alpha1/apid-ingress) is refused by Talos: invalid port range: 50005-50005, '
            'overlaps with 50000-50010.') in failed.result('render')['msg']


def test_an_existing_bundle_is_never_overwritten_by_another(run_playbook, tmp_path):
    bundle = str(tmp_path / 'secrets' / 'secrets.yaml')
    assert run_playbook(play(secrets_task(bundle))).rc == 0
    with open(bundle, 'rb') as handle:
        before = handle.read()
    run = run_playbook(play(secrets_task(bundle, adopt_from=fixture_secrets())))
    assert run.rc != 0
    assert 'already exists and holds other secrets than the adoption source' in run.result('secrets')['msg']
    with open(bundle, 'rb') as handle:
        assert handle.read() == before


# The playbook path of bad input; every case is tested in-process in tests/unit/plugins/modules/test_argument_handling.py.
BAD_MODULE_INPUTS = [
    ('missing secrets file', lambda tmp: config_task('c', str(tmp / 'nope.yaml'), str(tmp / 'c.yaml'), 'worker'),
     'secrets bundle %s does not exist'),
    ('unknown talos role', lambda tmp: task('c', 'talos_talosconfig', secrets=str(tmp / 'b.yaml'), dest=str(tmp / 'tc'),
                                            endpoints=['a'], role='os:root'), 'value of role must be one of'),
]


@pytest.mark.parametrize('case, make_task, message', BAD_MODULE_INPUTS, ids=[c[0] for c in BAD_MODULE_INPUTS])
def test_bad_module_input_fails_with_a_clear_message(run_playbook, tmp_path, case, make_task, message):
    entry = make_task(tmp_path)
    for args in entry.values():
        if isinstance(args, dict) and args.get('dest') is None:
            args.pop('dest', None)
    run = run_playbook(play(entry))
    assert run.rc != 0, case
    msg = run.result(entry['name'])['msg']
    assert (message % str(tmp_path / 'nope.yaml') if '%s' in message else message) in msg


def test_return_content_works_under_no_log(run_playbook, tmp_path):
    bundle = copy_private(fixture_secrets(), str(tmp_path / 's' / 'b.yaml'))
    entry = config_task('render', bundle, None, 'worker', return_content=True)
    entry['hybridops.talos.talos_machineconfig'].pop('dest')
    entry['no_log'] = True
    entry['register'] = 'rendered'
    check = {'name': 'content is the config', 'ansible.builtin.assert': {
        'that': ["(rendered.content | from_yaml).machine.type == 'worker'"], 'quiet': True}}
    run = run_playbook(play(entry, check))
    assert run.rc == 0, run.stdout[-3000:]
    assert 'oamejv.9tk1nhuwnlc2nghf' not in run.stdout


def test_relative_patch_file_is_found_beside_the_playbook(run_playbook, tmp_path):
    bundle = copy_private(fixture_secrets(), str(tmp_path / 's' / 'b.yaml'))
    (tmp_path / 'files').mkdir()
    (tmp_path / 'files' / 'labels.yaml').write_text('machine:\n  nodeLabels:\n    example.org/from-file: "yes"\n')
    dest = str(tmp_path / 'w.yaml')
    run = run_playbook(play(config_task('render', bundle, dest, 'worker', node_patches=['@labels.yaml'])))
    assert run.rc == 0, run.stdout[-3000:]
    with open(dest) as handle:
        assert yaml.safe_load(handle)['machine']['nodeLabels']['example.org/from-file'] == 'yes'


def test_age_encrypted_bundle_is_written_and_read_with_the_identity(run_playbook, tmp_path):
    identity = str(tmp_path / 'age.key')
    subprocess.run(['age-keygen', '-o', identity], check=True, capture_output=True)
    recipient = subprocess.run(['age-keygen', '-y', identity], check=True, capture_output=True, text=True).stdout.strip()
    bundle = str(tmp_path / 'secrets' / 'secrets.yaml.age')
    tasks = [secrets_task(bundle, age_recipients=[recipient], age_identity=identity),
             dict(config_task('render', bundle, str(tmp_path / 'cp.yaml'), 'controlplane'))]
    tasks[1]['hybridops.talos.talos_machineconfig']['secrets_age_identity'] = identity
    run = run_playbook(play(*tasks))
    assert run.rc == 0, run.stdout[-3000:]
    with open(bundle, 'rb') as handle:
        assert handle.read().startswith(b'-----BEGIN AGE ENCRYPTED FILE-----')
    again = run_playbook(play(*tasks))
    assert again.rc == 0 and again.changed() == 0, again.stdout[-3000:]
    missing = [dict(config_task('render', bundle, str(tmp_path / 'cp2.yaml'), 'controlplane'))]
    failed = run_playbook(play(*missing))
    assert 'is age-encrypted: give the age identity file' in failed.result('render')['msg']


def canary_bundle(path):
    """A valid bundle whose non-key secrets are recognisable words, to search for in output."""
    with open(fixture_secrets(), 'rb') as handle:
        bundle = yaml.safe_load(handle)
    bundle['cluster']['secret'] = base64.b64encode(b'CANARY-cluster-secret-0123456789'[:32]).decode()
    bundle['secrets']['bootstraptoken'] = 'canary.bootstrapcanary1'
    bundle['trustdinfo']['token'] = 'canary.trustdcanary0001'
    bundle['secrets']['secretboxencryptionsecret'] = base64.b64encode(b'CANARY-secretbox-secret-01234567').decode()
    bundle['secrets']['aescbcencryptionsecret'] = base64.b64encode(b'CANARY-aescbc-secret-0123456789a').decode()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, 'w') as handle:
        yaml.safe_dump(bundle, handle)
    os.chmod(path, 0o600)
    return bundle


def test_no_secret_value_appears_in_any_output_even_at_vvvv(run_playbook, tmp_path):
    bundle_path = str(tmp_path / 's' / 'secrets.yaml')
    bundle = canary_bundle(bundle_path)
    out = str(tmp_path / 'out')
    tasks = [
        secrets_task(bundle_path),
        config_task('controlplane', bundle_path, out + '/cp.yaml', 'controlplane', hostname='vps-0'),
        config_task('worker', bundle_path, out + '/w.yaml', 'worker', hostname='w-0'),
        task('talosconfig', 'talos_talosconfig', secrets=bundle_path, dest=out + '/talosconfig', endpoints=['203.0.113.10']),
        dict(config_task('changed config', bundle_path, out + '/cp.yaml', 'controlplane', hostname='vps-1'),
             ignore_errors=True),
        dict(config_task('schema failure', bundle_path, out + '/bad.yaml', 'controlplane',
                         node_patches=[{'machine': {'ca': {'key': 42}}}]), ignore_errors=True),
        dict(secrets_task(str(tmp_path / 's2' / 'secrets.yaml'), adopt_from_machineconfig=out + '/cp.yaml'), ignore_errors=True),
    ]
    run = run_playbook(play(*tasks), '-vvvv', '--diff', json_output=False)
    output = run.stdout + run.stderr
    assert run.rc == 0, output[-3000:]
    with open(out + '/talosconfig', 'rb') as handle:
        client_key = yaml.safe_load(handle)['contexts']['talos']['key']
    planted = secrets.secret_values(bundle) | {client_key, base64.b64decode(client_key).decode().strip()}
    planted |= {'canary.bootstrapcanary1', 'canary.trustdcanary0001', 'CANARY-cluster-secret', 'CANARY-secretbox',
                'CANARY-aescbc'}
    leaked = sorted(value[:24] for value in planted if value in output)
    assert not leaked, 'secret values in the output: %s' % leaked
    assert '<redacted>' in output and 'changed=' in output  # the diffs were shown, redacted
