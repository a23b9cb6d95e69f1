"""Set ids, the remote layout and the manifest (manifest.py), and which sets retention keeps (retention.py)."""
import datetime
import json

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._backup import manifest, retention
from ansible_collections.hybridops.talos.plugins.module_utils._backup.errors import BackupError

UTC = datetime.timezone.utc


def test_set_ids_sort_by_time_and_never_collide():
    moment = datetime.datetime(2026, 7, 14, 2, 15, 0, tzinfo=UTC)
    ids = {manifest.new_set_id(moment) for _attempt in range(50)}
    assert len(ids) > 1 and all(i.startswith('20260714T021500Z-') for i in ids)
    assert manifest.set_time(ids.pop()) == moment
    assert manifest.set_time('backups') is None and manifest.set_time('20260714T021500Z') is None


@pytest.mark.parametrize('name', ['../x', 'a/../b', '/abs', 'a/b/c', '', '.hidden', 'a b'])
def test_item_names_that_could_escape_the_set_are_refused(name):
    with pytest.raises(BackupError):
        manifest.object_name(name)


def test_cluster_names_must_make_a_folder():
    assert manifest.check_cluster_name('prod-1') == 'prod-1'
    for name in ('', 'a/b', '..', 'x' * 64):
        with pytest.raises(BackupError):
            manifest.check_cluster_name(name)


def test_the_fingerprint_names_a_cluster_without_its_id():
    fingerprint = manifest.cluster_fingerprint('cluster-id-secret')
    assert fingerprint == manifest.cluster_fingerprint('cluster-id-secret') != manifest.cluster_fingerprint('other')
    assert 'cluster-id-secret' not in fingerprint and len(fingerprint) == 32


ITEM = dict(name='etcd.snapshot', kind='etcd_snapshot', object='etcd.snapshot.age', size=10, sha256='a' * 64,
            encrypted_size=20, encrypted_sha256='b' * 64, checks=dict(integrity_hash='ok'), extra='dropped')


def built():
    return manifest.build('20260714T021500Z-3f9a', 'prod', 'f' * 32, ['age1x'], [ITEM], [dict(name='vault/raft.snap', reason='r')],
                          verified=dict(method='m'))


def test_a_manifest_round_trips_and_keeps_only_known_item_fields():
    data = manifest.dump(built())
    loaded = manifest.load(data, 'here')
    assert loaded['created'] == '2026-07-14T02:15:00Z' and loaded['verified_on_remote'] == dict(method='m')
    assert 'extra' not in loaded['items'][0] and manifest.item(loaded, 'etcd.snapshot')['size'] == 10
    assert manifest.item(loaded, 'nothing') is None
    assert manifest.dump(loaded) == data  # stable bytes: sorted keys


@pytest.mark.parametrize('change, why', [
    (lambda m: m.update(kind='other'), 'not a backup set manifest'),
    (lambda m: m.update(format=2), 'has format 2'),
    (lambda m: m.pop('cluster_fingerprint'), 'has no cluster_fingerprint'),
    (lambda m: m['items'][0].pop('sha256'), 'without sha256'),
    (lambda m: m['items'].append(dict(m['items'][0])), 'twice'),
    (lambda m: m['items'][0].update(object='../x.age'), 'another object name'),
])
def test_a_manifest_restore_cannot_rely_on_is_refused(change, why):
    data = built()
    change(data)
    with pytest.raises(BackupError) as refused:
        manifest.load(json.dumps(data), 'remote:x/manifest.json')
    assert why in str(refused.value) and refused.value.reason == 'bad_manifest'


def test_a_manifest_that_is_not_json_is_refused():
    with pytest.raises(BackupError, match='is not JSON'):
        manifest.load(b'\x00garbage', 'there')


def daily_sets(days, per_day=1, start=datetime.datetime(2026, 7, 31, 3, 0, tzinfo=UTC)):
    sets = {}
    for day in range(days):
        for run in range(per_day):
            moment = start - datetime.timedelta(days=day, hours=run)
            sets['%s-%04x' % (moment.strftime('%Y%m%dT%H%M%SZ'), day * 10 + run)] = moment
    return sets


def test_retention_keeps_the_newest_set_of_each_period():
    sets = daily_sets(100, per_day=2)
    kept, deleted = retention.plan(sets, dict(daily=7, weekly=4, monthly=3))
    days = {sets[s].date() for s in kept}
    assert len([s for s in kept if any(r.startswith('daily') for r in kept[s])]) == 7
    assert len([s for s in kept if any(r.startswith('weekly') for r in kept[s])]) == 4
    assert sorted({sets[s].strftime('%Y-%m') for s in kept if any(r.startswith('monthly') for r in kept[s])}) == ['2026-05', '2026-06', '2026-07']
    # Of each day only its newest set; the newest of all is marked as such.
    assert all(sets[s] == max(m for m in sets.values() if m.date() == sets[s].date()) for s in kept)
    newest = max(sets, key=sets.get)
    assert kept[newest][0] == 'newest' and 'daily 2026-07-31' in kept[newest]
    assert len(days) == len(kept) and len(kept) + len(deleted) == len(sets)
    assert deleted == sorted(deleted)


def test_retention_never_removes_the_newest_set():
    sets = daily_sets(5)
    kept, deleted = retention.plan(sets, dict(daily=0, weekly=0, monthly=0))
    assert list(kept) == [max(sets, key=sets.get)] and len(deleted) == 4
    assert retention.plan({}, dict(daily=1)) == ({}, [])


def test_unfinished_folders_go_only_after_the_grace_period():
    now = datetime.datetime(2026, 7, 31, 12, 0, tzinfo=UTC)
    partial = {'old': now - datetime.timedelta(hours=30), 'young': now - datetime.timedelta(hours=2), 'not-a-set': None}
    assert retention.stale_partials(partial, now, 24) == ['old']
