"""The streamed checks of backup items (verify.py): what passes, and every way an item is refused."""
import gzip
import hashlib
import io
import json
import os
import struct
import tarfile

import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils._backup import verify
from ansible_collections.hybridops.talos.plugins.module_utils._backup.errors import BackupError
from ansible_collections.hybridops.talos.plugins.module_utils._backup.manifest import cluster_fingerprint
from ansible_collections.hybridops.talos.plugins.module_utils._talos.secrets import dump_bundle, generate_bundle

# A real `etcdctl snapshot save` (etcd 3.4, three keys): a bbolt database and the sha256 of it.
with open(os.path.join(os.path.dirname(__file__), 'fixtures', 'etcd-3.4.snapshot'), 'rb') as _handle:
    SNAPSHOT = _handle.read()


def run_check(kind, data, piece=7000):
    check = verify.check_for(kind, 'the item')
    for start in range(0, len(data), piece):
        check.feed(data[start:start + piece])
    return check.finish()


@pytest.mark.parametrize('piece', [1, 31, 32, 33, 4096, 10 ** 6])
def test_a_real_etcd_snapshot_passes_in_pieces_of_any_size(piece):
    facts = run_check('etcd_snapshot', SNAPSHOT, piece)
    assert facts['size'] == len(SNAPSHOT) and facts['sha256'] == hashlib.sha256(SNAPSHOT).hexdigest()
    assert facts['checks'] == dict(integrity_hash='ok', bbolt_meta='ok', page_size=4096, txid=facts['checks']['txid'])


def rehashed(database):
    return database + hashlib.sha256(database).digest()


@pytest.mark.parametrize('data, why', [
    (b'', 'it is empty'),
    (SNAPSHOT[:-1], 'is not that of an etcd snapshot with its integrity hash'),
    (SNAPSHOT[:-32], 'is not that of an etcd snapshot with its integrity hash'),  # a raw database copy
    (SNAPSHOT[:9000] + b'\x00' + SNAPSHOT[9001:], 'does not match the integrity hash'),
    (rehashed(SNAPSHOT[:8192]), 'counts 5 pages of 4096 bytes but holds only 8192 bytes (truncated)'),
    (rehashed(b'\x00' * 8192), 'neither bbolt meta page is valid'),
])
def test_a_damaged_etcd_snapshot_is_refused(data, why):
    with pytest.raises(BackupError) as refused:
        run_check('etcd_snapshot', data)
    assert refused.value.reason == 'verification_failed' and why in str(refused.value)
    assert str(refused.value).startswith('the item failed verification: ')


def test_one_damaged_meta_page_is_enough_as_bbolt_keeps_two():
    database = bytearray(SNAPSHOT[:-32])
    database[16] ^= 0xFF  # the magic of the first meta page
    assert run_check('etcd_snapshot', rehashed(bytes(database)))['checks']['bbolt_meta'] == 'ok'


def test_bbolt_meta_reads_the_fields_and_checks_the_checksum():
    meta = verify.bbolt_meta(SNAPSHOT[:4096])
    assert meta['page_size'] == 4096 and meta['pages'] == 5
    damaged = bytearray(SNAPSHOT[:4096])
    struct.pack_into('<Q', damaged, 16 + 48, meta['txid'] + 1)  # the txid, not covered by a new checksum
    assert verify.bbolt_meta(bytes(damaged)) is None


def vault_archive(members, sums=None, compress=True):
    sums = sums if sums is not None else ''.join('%s  %s\n' % (hashlib.sha256(data).hexdigest(), name) for name, data in members)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as archive:
        for name, data in list(members) + [('SHA256SUMS', sums.encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue()) if compress else buffer.getvalue()


MEMBERS = [('meta.json', b'{"Index": 7}\n'), ('state.bin', os.urandom(70000))]


def test_a_vault_snapshot_passes_when_its_sums_match():
    data = vault_archive(MEMBERS)
    assert run_check('vault_raft_snapshot', data, 333)['checks'] == dict(archive='ok', sha256sums='ok')


@pytest.mark.parametrize('data, why', [
    (vault_archive(MEMBERS, sums='0' * 64 + '  meta.json\n'), 'the SHA256SUMS entry of meta.json does not match'),
    (vault_archive(MEMBERS[:1]), 'the archive has no state.bin'),
    (vault_archive(MEMBERS + [('extra.bin', b'x')]), 'unexpected file extra.bin'),
    (vault_archive(MEMBERS)[:-40], 'ends early (truncated)'),
    (vault_archive(MEMBERS, compress=False), 'it is not gzip data'),
])
def test_a_damaged_vault_snapshot_is_refused(data, why):
    with pytest.raises(BackupError) as refused:
        run_check('vault_raft_snapshot', data)
    assert why in str(refused.value)


def test_the_secrets_bundle_names_its_cluster_by_fingerprint_only():
    bundle = generate_bundle((1, 9))
    facts = run_check('talos_secrets', dump_bundle(bundle))
    assert facts['checks'] == dict(format='talos secrets bundle', cluster_fingerprint=cluster_fingerprint(bundle['cluster']['id']))
    assert bundle['cluster']['id'] not in json.dumps(facts)


def test_an_age_encrypted_bundle_is_kept_as_it_is():
    facts = run_check('talos_secrets', b'-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n')
    assert facts['checks'] == dict(format='age-encrypted bundle, kept as it is')


@pytest.mark.parametrize('kind, data, why', [
    ('talos_secrets', b'cluster: {}\n', 'has no cluster.id'),
    ('talosconfig', b'context: a\ncontexts: {}\n', 'not a talosconfig'),
    ('talosconfig', b'contexts: {a: {ca: x, crt: y}}\n', 'context a lacks the CA, certificate or key'),
    ('machine_config', b'version: v1alpha1\n', 'has no v1alpha1 machine config document'),
    ('terraform_state', b'{"version": 4}', 'not a Terraform/OpenTofu state file'),
    ('terraform_state', b'not json', 'the item failed verification'),
    ('sealed_secrets_keys', b'{"kind": "List", "items": []}', 'holds no key Secrets'),
    ('talosconfig', b'  \n', 'it is empty'),
])
def test_small_items_must_parse_as_what_they_are(kind, data, why):
    with pytest.raises(BackupError) as refused:
        run_check(kind, data)
    assert why in str(refused.value)


def test_small_items_report_what_they_hold():
    config = yaml.safe_dump({'version': 'v1alpha1', 'machine': {'type': 'controlplane'}, 'cluster': {'id': 'abc'}}).encode()
    assert run_check('machine_config', config)['checks'] == dict(machine_type='controlplane', cluster_fingerprint=cluster_fingerprint('abc'))
    state = json.dumps({'version': 4, 'serial': 9, 'lineage': 'x-y'}).encode()
    assert run_check('terraform_state', state)['checks'] == dict(version=4, serial=9, lineage='x-y')
    keys = json.dumps({'items': [{'kind': 'Secret', 'data': {'tls.key': 'a', 'tls.crt': 'b'}}]}).encode()
    assert run_check('sealed_secrets_keys', keys)['checks'] == dict(keys=1)
    talosconfig = b'context: a\ncontexts: {a: {ca: x, crt: y, key: z}, b: {ca: x, crt: y, key: z}}\n'
    assert run_check('talosconfig', talosconfig)['checks'] == dict(contexts=['a', 'b'])


def test_a_small_item_has_a_size_limit(monkeypatch):
    monkeypatch.setattr(verify, 'SMALL_ITEM_LIMIT', 10)
    check = verify.check_for('talosconfig', 'the item')
    with pytest.raises(BackupError, match='larger than'):
        check.feed(b'x' * 11)


def test_unknown_kinds_are_only_hashed():
    assert run_check('something', b'abc') == dict(size=3, sha256=hashlib.sha256(b'abc').hexdigest(), checks={})
