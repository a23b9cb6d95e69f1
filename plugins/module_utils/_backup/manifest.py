# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layout of backup sets on the remote and the manifest that makes a set count.

A set lives in ``<remote>/<cluster>/<set id>/``: one ``<item>.age`` object per item and, written last,
``manifest.json``. The manifest is plain JSON (no secret in it: names, sizes, sha256 sums, versions,
members, public age recipients), so a backup host without the age identity can list sets and apply
retention. A folder without a manifest is an unfinished or failed run, never a set. The cluster is
named by its fingerprint, a hash of Talos' ``cluster.id``: the id itself is a secret of the bundle.

Set ids are UTC timestamps with a random suffix (``20260714T021500Z-3f9a``): they sort by time, and
two runs in the same second still get different folders.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import secrets

from .errors import BackupError

FORMAT = 1
KIND = 'hybridops.talos/backup-set'
MANIFEST = 'manifest.json'
SET_ID_RE = re.compile(r'^(\d{8}T\d{6}Z)-([0-9a-f]{4})$')
ITEM_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$')
CLUSTER_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$')
ITEM_FIELDS = ('name', 'kind', 'object', 'size', 'sha256', 'encrypted_size', 'encrypted_sha256')


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def stamp(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def new_set_id(now=None):
    return '%s-%s' % ((now or utcnow()).astimezone(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ'), secrets.token_hex(2))


def set_time(set_id):
    """When a set was started, from its id; None for a name that is not a set id."""
    match = SET_ID_RE.match(set_id or '')
    if not match:
        return None
    return datetime.datetime.strptime(match.group(1), '%Y%m%dT%H%M%SZ').replace(tzinfo=datetime.timezone.utc)


def cluster_fingerprint(cluster_id):
    """What names a cluster in a manifest: the id (a secret of the bundle) hashed, never the id itself."""
    return hashlib.sha256(b'hybridops.talos cluster ' + cluster_id.encode('utf-8')).hexdigest()[:32]


def check_cluster_name(cluster):
    if not CLUSTER_RE.match(cluster or ''):
        raise BackupError('bad_input', 'the cluster name %r cannot name a folder on the remote: use letters, digits, '
                                       '".", "_" and "-" (at most 63).' % (cluster,))
    return cluster


def object_name(item_name):
    """The remote object of an item: its name with ``.age``."""
    if not ITEM_NAME_RE.match(item_name) or '..' in item_name:
        raise BackupError('bad_input', 'the item name %r cannot name an object on the remote.' % (item_name,))
    return item_name + '.age'


def build(set_id, cluster, fingerprint, recipients, items, left_out, etcd=None, versions=None, verified=None, created=None):
    """The manifest of a set whose items were uploaded and verified on the remote."""
    return dict(format=FORMAT, kind=KIND, set_id=set_id, cluster=cluster, cluster_fingerprint=fingerprint,
                verified_on_remote=verified or {},
                created=stamp(created or set_time(set_id) or utcnow()), completed=stamp(utcnow()),
                recipients=list(recipients), versions=versions or {}, etcd=etcd or {},
                items=[dict((key, item[key]) for key in ITEM_FIELDS + ('checks',) if key in item) for item in items],
                left_out=list(left_out))


def dump(manifest):
    return (json.dumps(manifest, indent=2, sort_keys=True) + '\n').encode('utf-8')


def load(data, where):
    """A manifest read from ``where``, checked for the fields restore relies on."""
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError('bad_manifest', 'the manifest %s is not JSON (%s).' % (where, exc)) from None
    if not isinstance(manifest, dict) or manifest.get('kind') != KIND:
        raise BackupError('bad_manifest', 'the manifest %s is not a backup set manifest of this collection.' % where)
    if manifest.get('format') != FORMAT:
        raise BackupError('bad_manifest', 'the manifest %s has format %r; this collection reads format %d.'
                          % (where, manifest.get('format'), FORMAT))
    for key in ('set_id', 'cluster', 'cluster_fingerprint', 'items'):
        if not manifest.get(key):
            raise BackupError('bad_manifest', 'the manifest %s has no %s.' % (where, key))
    names = set()
    for item in manifest['items']:
        missing = [key for key in ITEM_FIELDS if item.get(key) in (None, '')]
        if missing:
            raise BackupError('bad_manifest', 'the manifest %s lists an item without %s.' % (where, ', '.join(missing)))
        if item['object'] != object_name(item['name']) or item['name'] in names:
            raise BackupError('bad_manifest', 'the manifest %s lists item %s twice or under another object name.'
                              % (where, item['name']))
        names.add(item['name'])
    return manifest


def item(manifest, name):
    """The manifest entry of item ``name``, or None."""
    return next((entry for entry in manifest['items'] if entry['name'] == name), None)
