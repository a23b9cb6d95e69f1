"""playbooks/backup.yml and the backup modules against the lab: real etcd snapshots over the Talos API,
real age and rclone, the lab's WebDAV remote and Vault stand-in."""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import base64
import datetime
import json
import os
import secrets
import ssl
import subprocess
import urllib.request

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from ansible_collections.hybridops.talos.plugins.module_utils._talos.secrets import secret_values

from backup_support import ROOT, extra_vars, task_result as task

pytestmark = pytest.mark.lab

BACKUP = os.path.join(ROOT, 'playbooks', 'backup.yml')
EXPECTED_ITEMS = ['etcd.snapshot', 'talos/secrets.yaml', 'talos/talosconfig', 'vault/raft.snap']
SEALED_KEY_LABEL = 'sealedsecrets.bitnami.com/sealed-secrets-key'


def backup(run, lab, *args, env=None, json_output=True, **extra):
    return run(BACKUP, *(extra_vars(lab.backup_vars(**extra)) + list(args)), inventory=lab.inventory,
               env=lab.credentials_env(**(env or {})), json_output=json_output)


def module(run_playbook, lab, name, args, *cli):
    plays = [{'name': 'one task', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [{'name': 'task', name: args}]}]
    return run_playbook(plays, *cli, inventory=lab.inventory)


def etcd_put(lab, key, value, node='vps-0'):
    """Write a key through etcd itself (its v3 JSON gateway on the node's client port)."""
    body = json.dumps(dict(key=base64.b64encode(key.encode()).decode(), value=base64.b64encode(value.encode()).decode()))
    request = urllib.request.Request('http://%s:2379/v3/kv/put' % lab.address(node), data=body.encode(), method='POST')
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def vault_snapshots(lab, corrupt):
    context = ssl.create_default_context(cafile=lab.backup['VAULT_CACERT'])
    request = urllib.request.Request(lab.backup['LAB_VAULT_CONTROL'] + '/snapshot?corrupt=%d' % corrupt, method='POST')
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        response.read()


def talosconfig_roles(path):
    with open(path, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    crt = x509.load_pem_x509_certificate(base64.b64decode(config['contexts'][config['context']]['crt']))
    return [attr.value for attr in crt.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def test_check_mode_says_what_it_would_upload_and_uploads_nothing(run_playbook, converged):
    before = converged.remote_sets()
    run = backup(run_playbook, converged, '--check')
    assert run.rc == 0, run
    made = task(run, 'Make a new backup set, verified on the remote')
    assert made['changed'] and made['set_id'] is None
    assert [item['name'] for item in made['would_upload']] == EXPECTED_ITEMS
    assert made['would_upload'][0]['source'].startswith('EtcdSnapshot on ')
    assert {s['name'] for s in made['left_out']} == {'machineconfig', 'sealed-secrets/keys.json'}
    assert converged.remote_sets() == before


def test_backup_makes_a_verified_set_with_the_least_role(run_playbook, converged, tmp_path):
    snapshots_before = sum(converged.api_calls(name, 'EtcdSnapshot') for name in converged.controlplanes)
    run = backup(run_playbook, converged)
    assert run.rc == 0, run
    made = task(run, 'Make a new backup set, verified on the remote')
    assert made['changed']
    set_id = made['set_id']
    assert [item['name'] for item in made['items']] == EXPECTED_ITEMS
    # Only os:etcd:backup: enough for the snapshot and the members, not for Version (the configured one is recorded).
    assert talosconfig_roles(os.path.join(converged.secrets_dir, 'backup.talosconfig')) == ['os:etcd:backup']
    assert made['versions']['talos'] == 'v1.9.6' and made['versions']['talos_source'].startswith('configured')
    assert sum(converged.api_calls(name, 'EtcdSnapshot') for name in converged.controlplanes) == snapshots_before + 1
    # A follower was read, not the leader.
    assert made['etcd']['snapshot_member'] != made['etcd']['leader_name']
    assert sorted(m['hostname'] for m in made['etcd']['members']) == ['home-cp-0', 'vps-0', 'vps-1']
    # On the remote: one object per item and the manifest, which was written last and records the check.
    files = converged.remote_sets()[set_id]
    assert files == sorted([name + '.age' for name in EXPECTED_ITEMS] + ['manifest.json'])
    manifest = made['manifest']
    assert manifest['verified_on_remote']['method'] == 'sha256 of every object read back'
    assert manifest['items'][0]['checks']['integrity_hash'] == 'ok'
    with open(os.path.join(converged.backup['LAB_BACKUP_REMOTE_DIR'], 'lab', set_id, 'manifest.json'), encoding='utf-8') as handle:
        assert json.load(handle) == manifest
    # The snapshot on the remote is age data that only the identity opens, and it is the etcd snapshot.
    encrypted = os.path.join(converged.backup['LAB_BACKUP_REMOTE_DIR'], 'lab', set_id, 'etcd.snapshot.age')
    with open(encrypted, 'rb') as handle:
        assert handle.read(21) == b'age-encryption.org/v1'
    plain = str(tmp_path / 'etcd.snapshot')
    subprocess.run(['age', '-d', '-i', converged.backup['BACKUP_AGE_IDENTITY'], '-o', plain, encrypted], check=True)
    status = subprocess.run(['etcdctl', 'snapshot', 'status', plain, '-w', 'json'], capture_output=True,
                            env=dict(os.environ, ETCDCTL_API='3'), check=False)
    assert status.returncode == 0 and json.loads(status.stdout)['totalKey'] > 0, status.stderr
    # Retention ran after the check and kept the new set.
    kept = task(run, 'Remove old sets (only after the new one is verified on the remote)')
    assert set_id in kept['kept'] and 'newest' in kept['kept'][set_id]

    again = backup(run_playbook, converged)
    assert again.rc == 0, again
    second = task(again, 'Make a new backup set, verified on the remote')
    assert second['changed'] and second['set_id'] != set_id
    # One set per day is kept for the daily rule: the first set of today made way for the second.
    assert task(again, 'Remove old sets (only after the new one is verified on the remote)')['deleted'] == [set_id]
    assert list(converged.remote_sets()) == [second['set_id']]


def test_the_set_restores_item_by_item(run_playbook, converged):
    run = module(run_playbook, converged, 'hybridops.talos.backup_set_info',
                 dict(remote=converged.backup['BACKUP_REMOTE'], rclone_config=converged.backup['RCLONE_CONFIG'], cluster='lab',
                      verify=True, age_identity=converged.backup['BACKUP_AGE_IDENTITY']))
    assert run.rc == 0, run
    info = run.result('task')
    assert not info['changed'] and len(info['sets']) == 1
    assert info['manifest']['set_id'] == info['sets'][-1]['set_id']
    checks = {item['name']: item['checks'] for item in info['verified']}
    assert checks['vault/raft.snap'] == {'archive': 'ok', 'sha256sums': 'ok'}
    assert checks['talos/secrets.yaml']['cluster_fingerprint'] == info['manifest']['cluster_fingerprint']


def planted_secrets(lab):
    """Every secret value a backup run touches: the bundle's, the talosconfigs' keys, the Vault token, the
    WebDAV password and the age identity."""
    with open(os.path.join(lab.secrets_dir, 'secrets.yaml'), encoding='utf-8') as handle:
        values = set(secret_values(yaml.safe_load(handle)))
    for name in ('talosconfig', 'backup.talosconfig'):
        with open(os.path.join(lab.secrets_dir, name), encoding='utf-8') as handle:
            for context in yaml.safe_load(handle)['contexts'].values():
                pem = base64.b64decode(context['key']).decode()
                values |= {context['key']} | {line for line in pem.splitlines() if len(line) >= 16 and not line.startswith('-----')}
    with open(os.path.join(lab.state_dir, 'backup', 'serve.json'), encoding='utf-8') as handle:
        values.add(json.load(handle)['webdav_pass'])
    with open(lab.backup['BACKUP_AGE_IDENTITY'], encoding='utf-8') as handle:
        values |= {line.strip() for line in handle if line.startswith('AGE-SECRET-KEY-')}
    values.add(lab.backup['VAULT_TOKEN'])
    return {value for value in values if len(value) >= 12}


def files_below(path):
    return sorted(os.path.join(d, f) for d, _dirs, files in os.walk(path) for f in files)


def test_no_secret_in_vvvv_output_the_manifest_or_files_left_behind(run_playbook, converged, tmp_path):
    canary = 'canary-in-etcd-' + secrets.token_hex(8)
    etcd_put(converged, '/canary', canary, node=converged.controlplanes[0])
    temp = tmp_path / 'tmp'
    temp.mkdir()
    shm_before = set(os.listdir('/dev/shm'))
    private_env = dict(TMPDIR=str(temp), ANSIBLE_LOCAL_TEMP=str(temp / 'ansible'), ANSIBLE_REMOTE_TEMP=str(temp / 'ansible'))
    run = backup(run_playbook, converged, '-vvvv', json_output=False, env=private_env)
    assert run.rc == 0, run.stdout[-3000:]
    verify = module(run_playbook, converged, 'hybridops.talos.backup_set_info',
                    dict(remote=converged.backup['BACKUP_REMOTE'], rclone_config=converged.backup['RCLONE_CONFIG'], cluster='lab',
                         verify=True, age_identity=converged.backup['BACKUP_AGE_IDENTITY']), '-vvvv')
    assert verify.rc == 0, verify
    planted = planted_secrets(converged) | {canary}
    output = run.stdout + run.stderr + verify.stdout + verify.stderr
    assert 'Make a new backup set' in output and '<redacted>' not in canary
    assert not sorted(value[:20] for value in planted if value in output), 'secret values in the -vvvv output'
    # The remote holds only age data and the manifest, neither with a secret in plain text.
    remote = os.path.join(converged.backup['LAB_BACKUP_REMOTE_DIR'], 'lab')
    for path in files_below(remote):
        with open(path, 'rb') as handle:
            data = handle.read()
        assert data.startswith(b'age-encryption.org/v1') or path.endswith('manifest.json'), path
        assert not [value[:20] for value in planted if value.encode() in data], path
    # Nothing left on local disk: no temporary file of ours, Ansible's or rclone's, and no key in /dev/shm.
    assert files_below(str(temp)) == []
    assert set(os.listdir('/dev/shm')) - shm_before == set()


def test_a_set_that_fails_verification_is_not_kept(run_playbook, converged):
    before = converged.remote_sets()
    vault_snapshots(converged, corrupt=1)
    try:
        run = backup(run_playbook, converged)
    finally:
        vault_snapshots(converged, corrupt=0)
    assert run.rc != 0
    failed = task(run, 'Make a new backup set, verified on the remote')
    assert 'the Vault Raft snapshot failed verification: the SHA256SUMS entry of state.bin does not match' in failed['msg']
    assert failed['failure']['removed'] is True
    # Nothing of the failed run stays on the remote: no new folder, so no set and no fragment.
    assert converged.remote_sets() == before


def core_api(kubeconfig):
    """The lab's Kubernetes API through the official Python client (not our code), as the cluster's admin."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return client.CoreV1Api(client.ApiClient(configuration))


def test_sealed_secrets_keys_go_into_the_set_and_back_into_the_cluster(run_playbook, converged):
    kubeconfig = os.path.join(converged.secrets_dir, 'kubeconfig')
    api = core_api(kubeconfig)
    # The API answers, but no controller key exists yet: auto leaves the item out and says why, required fails.
    run = backup(run_playbook, converged, '--check', talos_backup_kubeconfig=kubeconfig)
    assert run.rc == 0, run
    made = task(run, 'Make a new backup set, verified on the remote')
    reason = next(s['reason'] for s in made['left_out'] if s['name'] == 'sealed-secrets/keys.json')
    assert reason == 'no Secret labelled %s in namespace kube-system' % SEALED_KEY_LABEL
    required = backup(run_playbook, converged, '--check', talos_backup_kubeconfig=kubeconfig, talos_backup_sealed_secrets='required')
    assert required.rc != 0
    assert 'has no Secret labelled' in task(required, 'Make a new backup set, verified on the remote')['msg']

    # A key as the controller writes it (a kubernetes.io/tls Secret labelled active), beside a Secret that is no key.
    name = 'sealed-secrets-key' + secrets.token_hex(3)
    key = base64.b64encode(secrets.token_bytes(48)).decode()
    cert = base64.b64encode(b'-----BEGIN CERTIFICATE-----\n' + secrets.token_bytes(24) + b'\n-----END CERTIFICATE-----\n').decode()
    api.create_namespaced_secret('kube-system', dict(metadata=dict(name=name, labels={SEALED_KEY_LABEL: 'active'}),
                                                     type='kubernetes.io/tls', data={'tls.crt': cert, 'tls.key': key}))
    api.create_namespaced_secret('kube-system', dict(metadata=dict(name='not-a-key-' + name), data={'x': key}))
    run = backup(run_playbook, converged, '-v', talos_backup_kubeconfig=kubeconfig, talos_backup_sealed_secrets='required')
    assert run.rc == 0, run
    made = task(run, 'Make a new backup set, verified on the remote')
    assert 'sealed-secrets/keys.json' in [i['name'] for i in made['items']]
    assert key not in run.stdout

    # Lost from the cluster, the key comes back from the set; a second run changes nothing.
    api.delete_namespaced_secret(name, 'kube-system')
    args = dict(remote=converged.backup['BACKUP_REMOTE'], rclone_config=converged.backup['RCLONE_CONFIG'], cluster='lab',
                set_id=made['set_id'], age_identity=converged.backup['BACKUP_AGE_IDENTITY'], kubeconfig=kubeconfig)
    restored = module(run_playbook, converged, 'hybridops.talos.backup_sealed_secrets_restore', args, '-vvvv')
    assert restored.rc == 0, restored
    result = task(restored, 'task')
    assert result['keys'] == {'kube-system/' + name: 'created'} and result['changed'] is True
    assert 'rollout restart deployment/sealed-secrets-controller' in result['restart']
    assert key not in restored.stdout
    secret = api.read_namespaced_secret(name, 'kube-system')
    assert secret.type == 'kubernetes.io/tls' and secret.data == {'tls.crt': cert, 'tls.key': key}
    assert secret.metadata.labels[SEALED_KEY_LABEL] == 'active'
    again = task(module(run_playbook, converged, 'hybridops.talos.backup_sealed_secrets_restore', args), 'task')
    assert again['keys'] == {'kube-system/' + name: 'unchanged'} and again['changed'] is False


def test_sealed_secrets_are_left_out_with_the_reason_when_no_api_answers(run_playbook, converged, tmp_path):
    with open(os.path.join(converged.secrets_dir, 'kubeconfig'), encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    config['clusters'][0]['cluster']['server'] = 'https://127.0.0.1:9'  # nothing listens there
    kubeconfig = str(tmp_path / 'kubeconfig')
    with open(os.open(kubeconfig, os.O_WRONLY | os.O_CREAT, 0o600), 'w', encoding='utf-8') as handle:
        yaml.safe_dump(config, handle)
    run = backup(run_playbook, converged, '--check', talos_backup_kubeconfig=kubeconfig)
    assert run.rc == 0, run
    made = task(run, 'Make a new backup set, verified on the remote')
    reason = next(s['reason'] for s in made['left_out'] if s['name'] == 'sealed-secrets/keys.json')
    assert reason.startswith('the Kubernetes API at https://127.0.0.1:9 did not answer')
    assert any('Sealed Secrets keys are not in this set' in warning for warning in made.get('warnings', []))
    required = backup(run_playbook, converged, '--check', talos_backup_kubeconfig=kubeconfig, talos_backup_sealed_secrets='required')
    assert required.rc != 0
    assert 'did not answer' in task(required, 'Make a new backup set, verified on the remote')['msg']


def test_the_wrong_credential_is_refused_with_the_role_it_needs(run_playbook, converged):
    run = backup(run_playbook, converged, talos_backup_issue_talosconfig=False,
                 talos_backup_talosconfig=os.path.join(converged.secrets_dir, 'reader.talosconfig'))
    assert run.rc != 0
    msg = task(run, 'Make a new backup set, verified on the remote')['msg']
    assert 'EtcdSnapshot' in msg and 'os:etcd:backup' in msg


def test_retention_keeps_daily_weekly_monthly_and_never_the_last_good_set(run_playbook, converged):
    base = os.path.join(converged.backup['LAB_BACKUP_REMOTE_DIR'], 'lab')
    sets = sorted(name for name, files in converged.remote_sets().items() if 'manifest.json' in files)
    newest = sets[-1]
    now = datetime.datetime.now(datetime.timezone.utc)
    # Older sets, one a day for 20 days, as the remote lists them (a manifest makes a folder a set).
    for days in range(1, 21):
        name = (now - datetime.timedelta(days=days)).strftime('%Y%m%dT%H%M%SZ') + '-%04x' % days
        os.makedirs(os.path.join(base, name))
        with open(os.path.join(base, name, 'manifest.json'), 'w', encoding='utf-8') as handle:
            handle.write('{}')
    stale = (now - datetime.timedelta(days=3)).strftime('%Y%m%dT%H%M%SZ') + '-dead'
    fresh = now.strftime('%Y%m%dT%H%M%SZ') + '-beef'
    for name in (stale, fresh):
        os.makedirs(os.path.join(base, name))
    args = dict(remote=converged.backup['BACKUP_REMOTE'], rclone_config=converged.backup['RCLONE_CONFIG'], cluster='lab',
                verified_set=newest, keep_daily=3, keep_weekly=2, keep_monthly=1)
    check = module(run_playbook, converged, 'hybridops.talos.backup_retention', args, '--check')
    assert check.rc == 0, check
    planned = check.result('task')
    assert planned['changed'] and planned['unfinished_removed'] == [stale]
    assert len(os.listdir(base)) == len(sets) + 22  # check mode removed nothing

    run = module(run_playbook, converged, 'hybridops.talos.backup_retention', args)
    assert run.rc == 0, run
    result = run.result('task')
    assert result['deleted'] == planned['deleted'] and newest in result['kept']
    left = sorted(os.listdir(base))
    assert newest in left and fresh in left and stale not in left
    # Today's sets count as one day: 3 days and 2 weeks and 1 month, with overlaps, at most 6 sets.
    assert len([name for name in left if name != fresh]) <= 6

    again = module(run_playbook, converged, 'hybridops.talos.backup_retention', args)
    assert again.rc == 0 and not again.result('task')['changed']

    # Retention refuses to act for a set that is not the newest verified one.
    older = module(run_playbook, converged, 'hybridops.talos.backup_retention', dict(args, verified_set=result['deleted'][0]))
    assert older.rc != 0 and 'is not the newest complete set' in older.result('task')['msg']
