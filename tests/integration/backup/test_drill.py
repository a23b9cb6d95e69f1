"""The restore drill (``make drill-restore``): known keys written through etcd, backed up, etcd destroyed on all
three control planes, four bad sets refused before anything is reset, the real set restored, every key
compared, one member per control plane with quorum, and a second restore refused while etcd is healthy.

Prints ``RESULT restore keys=<n> identical=<n> tampered_refused=4``.
"""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import base64
import datetime
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._backup.manifest import cluster_fingerprint
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import TalosClient
from ansible_collections.hybridops.talos.plugins.module_utils._talos.secrets import dump_bundle, generate_bundle

from backup_support import ROOT, extra_vars, task_result

pytestmark = pytest.mark.lab

BACKUP = os.path.join(ROOT, 'playbooks', 'backup.yml')
RESTORE = os.path.join(ROOT, 'playbooks', 'restore.yml')
KEYS = 200
PREFIX = '/drill/'


def etcd(lab, node, path, body):
    request = urllib.request.Request('http://%s:2379/v3%s' % (lab.address(node), path), data=json.dumps(body).encode(), method='POST')
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def put(lab, key, value):
    etcd(lab, 'vps-0', '/kv/put', dict(key=b64(key), value=b64(value)))


def drill_keys(lab, node):
    """Every key below /drill/ as etcd on ``node`` serves it (a linearizable read: needs the quorum)."""
    found = etcd(lab, node, '/kv/range', dict(key=b64(PREFIX), range_end=b64(PREFIX[:-1] + '0')))
    return {base64.b64decode(kv['key']).decode(): base64.b64decode(kv['value']).decode() for kv in found.get('kvs', [])}


def admin(lab, node):
    return TalosClient.from_talosconfig(lab.address(node), os.path.join(lab.secrets_dir, 'talosconfig'))


def etcd_states(lab):
    return {node: next((s.state for s in admin(lab, node).service_list() if s.id == 'etcd'), None) for node in lab.controlplanes}


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # pylint: disable=broad-except  # nodes come and go while this waits
            last = exc
        time.sleep(0.5)
    raise AssertionError('%s not reached within %d s (last: %s)' % (what, timeout, last))


def destroy_etcd(lab):
    """The disaster: every control plane's etcd database overwritten while the machines are off."""
    for node in lab.controlplanes:
        assert lab.talos('stop', node).returncode == 0
    for node in lab.controlplanes:
        database = os.path.join(lab.node_dir(node), 'etcd', 'member', 'snap', 'db')
        with open(database, 'r+b') as handle:
            handle.write(os.urandom(os.path.getsize(database)))
    assert lab.talos('up').returncode == 0

    def all_failed():
        states = etcd_states(lab)
        return states if all(v == 'Failed' for v in states.values()) else None
    return wait_until(all_failed, 90, 'etcd failed on every control plane')


# --- bad sets, made from the real one on the remote's disk -----------------------------------------

def set_dir(lab, set_id):
    return os.path.join(lab.backup['LAB_BACKUP_REMOTE_DIR'], 'lab', set_id)


def copy_set(lab, set_id, suffix):
    """A copy of the set under an older id (so that ``latest`` stays the real set)."""
    moment = datetime.datetime.strptime(set_id.split('-')[0], '%Y%m%dT%H%M%SZ') - datetime.timedelta(minutes=len(suffix))
    copy_id = '%s-%s' % (moment.strftime('%Y%m%dT%H%M%SZ'), suffix)
    shutil.copytree(set_dir(lab, set_id), set_dir(lab, copy_id))
    with open(os.path.join(set_dir(lab, copy_id), 'manifest.json'), encoding='utf-8') as handle:
        manifest = json.load(handle)
    manifest['set_id'] = copy_id
    write_manifest(lab, copy_id, manifest)
    return copy_id, manifest


def write_manifest(lab, set_id, manifest):
    with open(os.path.join(set_dir(lab, set_id), 'manifest.json'), 'w', encoding='utf-8') as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)


def replace_item(lab, set_id, manifest, name, plaintext):
    """Put ``plaintext`` in as item ``name``, encrypted to the set's recipient, with a manifest to match."""
    target = os.path.join(set_dir(lab, set_id), name + '.age')
    encrypted = subprocess.run(['age', '-r', lab.backup['BACKUP_AGE_RECIPIENT']], input=plaintext, capture_output=True, check=True).stdout
    with open(target, 'wb') as handle:
        handle.write(encrypted)
    entry = next(i for i in manifest['items'] if i['name'] == name)
    entry.update(size=len(plaintext), sha256=hashlib.sha256(plaintext).hexdigest(), encrypted_size=len(encrypted),
                 encrypted_sha256=hashlib.sha256(encrypted).hexdigest())
    write_manifest(lab, set_id, manifest)


def decrypt(lab, set_id, name):
    return subprocess.run(['age', '-d', '-i', lab.backup['BACKUP_AGE_IDENTITY'], os.path.join(set_dir(lab, set_id), name + '.age')],
                          capture_output=True, check=True).stdout


def tampered_set(lab, set_id):
    copy_id, _manifest = copy_set(lab, set_id, 'bad1')
    path = os.path.join(set_dir(lab, copy_id), 'etcd.snapshot.age')
    with open(path, 'r+b') as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x01]))
    return copy_id


def truncated_set(lab, set_id):
    """The snapshot cut in half, but encrypted and listed consistently: only its own integrity check can tell."""
    copy_id, manifest = copy_set(lab, set_id, 'bad2')
    snapshot = decrypt(lab, copy_id, 'etcd.snapshot')
    replace_item(lab, copy_id, manifest, 'etcd.snapshot', snapshot[:len(snapshot) // 2])
    return copy_id


def other_cluster_set(lab, set_id):
    """A set whose manifest and secrets bundle are another cluster's."""
    copy_id, manifest = copy_set(lab, set_id, 'bad4')
    bundle = generate_bundle((1, 9))
    manifest['cluster_fingerprint'] = cluster_fingerprint(bundle['cluster']['id'])
    replace_item(lab, copy_id, manifest, 'talos/secrets.yaml', dump_bundle(bundle))
    return copy_id


# --- the drill -------------------------------------------------------------------------------------

def playbook(run_playbook, lab, path, *args, **extra):
    return run_playbook(path, *(extra_vars(lab.backup_vars(**extra)) + list(args)), inventory=lab.inventory,
                        env=lab.credentials_env())


def failed_msg(run):
    return ' '.join(str(line) for line in run.failures())


def resets(lab):
    return sum(lab.api_calls(node, 'Reset') for node in lab.controlplanes)


def test_the_restore_drill(run_playbook, converged, tmp_path, capsys):
    lab = converged
    written = {'%skey-%03d' % (PREFIX, i): secrets.token_hex(16) for i in range(KEYS)}
    for key, value in written.items():
        put(lab, key, value)

    backup = playbook(run_playbook, lab, BACKUP)
    assert backup.rc == 0, backup
    set_id = task_result(backup, 'Make a new backup set, verified on the remote')['set_id']
    put(lab, PREFIX + 'written-after-the-backup', 'gone after the restore')

    destroy_etcd(lab)
    bad = dict(tampered=tampered_set(lab, set_id), truncated=truncated_set(lab, set_id), other_cluster=other_cluster_set(lab, set_id))
    other_identity = str(tmp_path / 'other-identity.txt')
    subprocess.run(['age-keygen', '-o', other_identity], capture_output=True, check=True)

    refusals = {
        'tampered': (dict(talos_restore_set=bad['tampered']), 'etcd.snapshot of set %s failed age authentication' % bad['tampered']),
        'truncated': (dict(talos_restore_set=bad['truncated']), 'etcd.snapshot of set %s failed verification' % bad['truncated']),
        'wrong_identity': (dict(talos_restore_age_identity=other_identity), 'cannot be decrypted with this age identity'),
        'other_cluster': (dict(talos_restore_set=bad['other_cluster']),
                          'set %s belongs to another cluster' % bad['other_cluster']),
    }
    refused = 0
    resets_before = resets(lab)
    for case, (extra, message) in refusals.items():
        run = playbook(run_playbook, lab, RESTORE, '-e', 'restore_confirm=true', **extra)
        assert run.rc != 0 and message in failed_msg(run), (case, run)
        assert resets(lab) == resets_before, '%s: a node was reset' % case
        refused += 1
    # Without the confirmation (nobody can type here) nothing is reset either.
    unconfirmed = playbook(run_playbook, lab, RESTORE)
    assert unconfirmed.rc != 0 and 'Not confirmed' in failed_msg(unconfirmed), unconfirmed
    assert resets(lab) == resets_before
    # Still broken: each failed etcd service is started again every few seconds, and fails again.
    assert set(etcd_states(lab).values()) <= {'Failed', 'Starting'}
    for copy_id in bad.values():
        shutil.rmtree(set_dir(lab, copy_id))

    restore = playbook(run_playbook, lab, RESTORE, '-e', 'restore_confirm=true')
    assert restore.rc == 0, restore
    recovered = task_result(restore, 'Reset the broken control planes and recover etcd from the set')
    assert recovered['set_id'] == set_id and recovered['reset'] == sorted(lab.address(n) for n in lab.controlplanes)
    assert recovered['recovered_on'] == lab.address('home-cp-0')  # the group's first control plane
    assert resets(lab) == resets_before + 3
    health = task_result(restore, 'Check etcd health and quorum')
    assert health['healthy'] and sorted(m['hostname'] for m in health['members']) == lab.controlplanes

    identical = 0
    for node in lab.controlplanes:
        found = drill_keys(lab, node)
        assert PREFIX + 'written-after-the-backup' not in found
        identical = sum(1 for key, value in written.items() if found.get(key) == value)
        assert identical == KEYS and set(found) == set(written), node

    again = playbook(run_playbook, lab, RESTORE, '-e', 'restore_confirm=true')
    assert again.rc != 0 and 'etcd is healthy' in failed_msg(again), again
    assert resets(lab) == resets_before + 3

    with capsys.disabled():
        print('\nRESULT restore keys=%d identical=%d tampered_refused=%d' % (KEYS, identical, refused))
