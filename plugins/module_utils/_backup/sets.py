# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing one backup set, and reading one back.

``SetWriter`` streams each item into the set's folder (stream.py), then checks the remote: every
object listed and its sha256 given back equal to what was sent. Only then does it write the manifest,
which makes the set count; a failure anywhere removes the folder, so a set that fails is not kept.

``SetReader`` finds sets and decrypts their items through the same checks, for a restore.
"""

from __future__ import annotations

from . import manifest as manifests
from . import stream, verify
from .errors import BackupError
from .manifest import MANIFEST


class SetWriter:
    def __init__(self, remote, recipients, set_id=None):
        self.remote = remote
        self.recipients = stream.check_recipients(recipients)
        self.set_id = set_id or manifests.new_set_id()
        self.items = []
        self.verified = None

    @property
    def path(self):
        return self.remote.path(self.set_id)

    def add(self, name, kind, what, feed):
        """Upload one item: ``feed(write)`` calls ``write(chunk)`` for every piece of its plaintext."""
        relative = '%s/%s' % (self.set_id, manifests.object_name(name))
        with stream.EncryptedUpload(self.remote, relative, self.recipients, verify.check_for(kind, what)) as upload:
            feed(upload.write)
            facts = upload.finish()
        facts.update(name=name, kind=kind, object=manifests.object_name(name))
        self.items.append(facts)
        return facts

    def verify_remote(self):
        """Every object listed with the size and sha256 that was sent; returns how the sums were obtained."""
        found, method = self.remote.hashes(self.set_id)
        for item in self.items:
            got = found.get(item['object'])
            if got is None:
                raise BackupError('verification_failed', 'the remote does not list %s of set %s after the upload.'
                                  % (item['object'], self.set_id))
            if got != item['encrypted_sha256']:
                raise BackupError('verification_failed', 'the remote gives back another sha256 for %s of set %s than was '
                                  'sent (%s, not %s).' % (item['object'], self.set_id, got[:16], item['encrypted_sha256'][:16]))
        extra = sorted(set(found) - {item['object'] for item in self.items})
        if extra:
            raise BackupError('verification_failed', 'the set folder %s holds objects this run did not write: %s.'
                              % (self.path, ', '.join(extra)))
        self.verified = dict(method=method, at=manifests.stamp(manifests.utcnow()), objects=len(self.items))
        return self.verified

    def publish(self, manifest):
        """Write the manifest last and read it back: from now on the set counts."""
        data = manifests.dump(manifest)
        relative = '%s/%s' % (self.set_id, MANIFEST)
        self.remote.write(relative, data, 'the manifest of set %s' % self.set_id)
        if self.remote.read(relative, 'the manifest of set %s' % self.set_id) != data:
            raise BackupError('verification_failed', 'the manifest of set %s reads back different from what was written.' % self.set_id)

    def discard(self):
        """Remove whatever this run wrote (best effort: the run is failing already)."""
        try:
            self.remote.purge(self.set_id, 'the failed set %s' % self.set_id)
            return True
        except BackupError:
            return False


class SetReader:
    def __init__(self, remote, identity=None):
        self.remote = remote
        self.identity = identity

    def choose(self, set_id=None):
        """The manifest of ``set_id`` (default: the newest set with a manifest)."""
        complete, _partial = self.remote.list_sets()
        if set_id in (None, '', 'latest'):
            if not complete:
                raise BackupError('no_set', 'there is no backup set of cluster %s on %s.' % (self.remote.cluster, self.remote.remote))
            set_id = max(complete, key=lambda name: (complete[name], name))
        elif set_id not in complete:
            raise BackupError('no_set', 'there is no complete backup set %s of cluster %s on %s (a folder without a '
                              'manifest is an unfinished run).' % (set_id, self.remote.cluster, self.remote.remote))
        where = self.remote.path(set_id, MANIFEST)
        found = manifests.load(self.remote.read('%s/%s' % (set_id, MANIFEST), 'the manifest of set %s' % set_id), where)
        if found['set_id'] != set_id or found['cluster'] != self.remote.cluster:
            raise BackupError('bad_manifest', 'the manifest %s names set %s of cluster %s: it was copied from elsewhere.'
                              % (where, found['set_id'], found['cluster']))
        return found

    def decrypt(self, manifest, name, sink=None):
        """Decrypt item ``name`` of a set through its check and compare it with the manifest; return the facts."""
        entry = manifests.item(manifest, name)
        if entry is None:
            raise BackupError('no_item', 'set %s has no item %s.' % (manifest['set_id'], name))
        what = '%s of set %s' % (name, manifest['set_id'])
        facts = stream.download(self.remote, '%s/%s' % (manifest['set_id'], entry['object']), self.identity,
                                verify.check_for(entry['kind'], what), sink)
        if facts['size'] != entry['size'] or facts['sha256'] != entry['sha256']:
            raise BackupError('verification_failed', '%s decrypts to %d bytes with sha256 %s, but the manifest recorded %d '
                              'bytes with sha256 %s.' % (what, facts['size'], facts['sha256'][:16], entry['size'], entry['sha256'][:16]))
        return facts
