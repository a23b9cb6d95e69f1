# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks that an item of a backup set is what it claims to be, fed as a stream.

Every check hashes the plaintext (sha256 and size, for the manifest) and, at ``finish()``, either
returns what it found or raises ``BackupError('verification_failed', ...)``. They take the bytes in
pieces as they stream past, so memory stays flat whatever the size:

* an etcd snapshot (``etcdctl snapshot save`` / Talos' EtcdSnapshot) is a bbolt database followed by
  the sha256 of that database; the check recomputes the hash, reads bbolt's two meta pages (magic,
  version, FNV-64a checksum) and checks that the file holds every page the newest meta page counts;
* a Vault Raft snapshot is a gzip'd tar of ``meta.json``, ``state.bin`` and ``SHA256SUMS`` (hashicorp
  raft-snapshot); the check inflates and untars it on the fly and compares the sums;
* small items (the secrets bundle, a talosconfig, machine configs, Terraform state, Sealed Secrets
  keys) are parsed whole, up to a size limit.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib

from .errors import BackupError
from .manifest import cluster_fingerprint
from .._talos.errors import TalosConfigError
from .._talos.files import is_age
from .._talos.yamlio import load_documents

SMALL_ITEM_LIMIT = 64 * 1024 * 1024
ETCD_HASH_SIZE = 32
BBOLT_MAGIC = 0xED0CDAED
BBOLT_VERSION = 2
BBOLT_META_FLAG = 0x04
BBOLT_PAGE_HEADER = 16
_FNV64_OFFSET = 0xcbf29ce484222325
_FNV64_PRIME = 0x100000001b3


def _bad(what, why):
    return BackupError('verification_failed', '%s failed verification: %s.' % (what, why))


class Digest:
    """sha256 and size of an item's bytes; the base of every check (no structure checked)."""

    kind = 'file'

    def __init__(self, what):
        self.what = what
        self.size = 0
        self._hash = hashlib.sha256()

    def feed(self, chunk):
        self._hash.update(chunk)
        self.size += len(chunk)

    def sha256(self):
        return self._hash.hexdigest()

    def finish(self):
        """Facts about the item for the manifest (``size``, ``sha256``, ``checks``); raises when it is not sound."""
        return dict(size=self.size, sha256=self.sha256(), checks={})


def fnv64a(data):
    value = _FNV64_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return value


def bbolt_meta(page):
    """The fields of a bbolt meta page (bytes from the page start), or None when it is not a valid one."""
    if len(page) < BBOLT_PAGE_HEADER + 64:
        return None
    flags = struct.unpack_from('<H', page, 8)[0]
    meta = page[BBOLT_PAGE_HEADER:BBOLT_PAGE_HEADER + 64]
    magic, version, page_size, _flags, root, _sequence, freelist, high_water, txid, checksum = struct.unpack('<IIIIQQQQQQ', meta)
    if not flags & BBOLT_META_FLAG or magic != BBOLT_MAGIC or version != BBOLT_VERSION or checksum != fnv64a(meta[:56]):
        return None
    return dict(page_size=page_size, root=root, freelist=freelist, pages=high_water, txid=txid)


class EtcdSnapshotCheck(Digest):
    """An etcd snapshot: bbolt database + sha256 of it. One pass: the hash of the database is the running
    hash, the hash of the whole file is a copy of it fed the trailing 32 bytes."""

    kind = 'etcd_snapshot'
    HEAD = 128 * 1024  # enough for both meta pages with bbolt's largest page size (64 KiB)

    def __init__(self, what):
        super().__init__(what)
        self._tail = b''
        self._head = bytearray()

    def feed(self, chunk):
        if len(self._head) < self.HEAD:
            self._head += chunk[:self.HEAD - len(self._head)]
        self.size += len(chunk)
        if len(chunk) >= ETCD_HASH_SIZE:
            self._hash.update(self._tail)
            view = memoryview(chunk)
            self._hash.update(view[:-ETCD_HASH_SIZE])
            self._tail = bytes(view[-ETCD_HASH_SIZE:])
        else:
            joined = self._tail + chunk
            self._hash.update(joined[:-ETCD_HASH_SIZE])
            self._tail = joined[-ETCD_HASH_SIZE:]

    def sha256(self):
        whole = self._hash.copy()
        whole.update(self._tail)
        return whole.hexdigest()

    def finish(self):
        body = self.size - ETCD_HASH_SIZE
        if self.size == 0:
            raise _bad(self.what, 'it is empty')
        if body <= 0 or body % 512:
            raise _bad(self.what, 'its size (%d bytes) is not that of an etcd snapshot with its integrity hash (a database '
                                  'of whole 512-byte blocks plus 32 bytes): it is truncated, or a raw database copy' % self.size)
        if self._hash.digest() != self._tail:
            raise _bad(self.what, 'the sha256 of its database does not match the integrity hash at its end (truncated or corrupt)')
        first = bbolt_meta(bytes(self._head))
        page_size = first['page_size'] if first else 4096
        second = bbolt_meta(bytes(self._head[page_size:page_size * 2]))
        metas = [m for m in (first, second) if m]
        if not metas:
            raise _bad(self.what, 'neither bbolt meta page is valid (magic, version or checksum)')
        newest = max(metas, key=lambda m: m['txid'])
        if newest['pages'] * newest['page_size'] > body:
            raise _bad(self.what, 'its database counts %d pages of %d bytes but holds only %d bytes (truncated)'
                       % (newest['pages'], newest['page_size'], body))
        return dict(size=self.size, sha256=self.sha256(),
                    checks=dict(integrity_hash='ok', bbolt_meta='ok', page_size=newest['page_size'], txid=newest['txid']))


class _TarStream:
    """A tar reader fed in pieces: calls ``on_member(name, size)`` and ``on_data(name, bytes)``."""

    def __init__(self, on_member, on_data):
        self.on_member, self.on_data = on_member, on_data
        self._buffer = bytearray()
        self._member = None
        self._left = 0
        self._padding = 0
        self.ended = False

    def feed(self, data):
        self._buffer += data
        while self._step():
            pass

    def _step(self):
        if self.ended:
            del self._buffer[:]
            return False
        if self._member is not None:
            if self._left:
                take = min(self._left, len(self._buffer))
                if not take:
                    return False
                self.on_data(self._member, bytes(self._buffer[:take]))
                del self._buffer[:take]
                self._left -= take
                return True
            if len(self._buffer) < self._padding:
                return False
            del self._buffer[:self._padding]
            self._member = None
            return True
        if len(self._buffer) < 512:
            return False
        header = bytes(self._buffer[:512])
        del self._buffer[:512]
        if header == b'\0' * 512:
            self.ended = True
            return False
        name = header[:100].split(b'\0', 1)[0].decode('utf-8', 'replace')
        size_field = header[124:136].split(b'\0', 1)[0].strip() or b'0'
        try:
            size = int(size_field, 8)
        except ValueError:
            raise BackupError('verification_failed', 'a tar header of the archive has no valid size.') from None
        self._member, self._left, self._padding = name, size, (-size) % 512
        self.on_member(name, size)
        return True


class VaultSnapshotCheck(Digest):
    """A Vault Raft snapshot: gzip'd tar of meta.json, state.bin and SHA256SUMS, the sums checked."""

    kind = 'vault_raft_snapshot'
    EXPECTED = ('meta.json', 'state.bin')
    SUMS_LIMIT = 64 * 1024

    def __init__(self, what):
        super().__init__(what)
        self._inflate = zlib.decompressobj(wbits=31)
        self._members = {}
        self._sums = bytearray()
        self._tar = _TarStream(self._on_member, self._on_data)
        self._error = None

    def _on_member(self, name, _size):
        if name not in self.EXPECTED + ('SHA256SUMS', 'SHA256SUMS.sealed'):
            raise _bad(self.what, 'unexpected file %s in the snapshot archive' % name)
        if name in self.EXPECTED:
            self._members[name] = hashlib.sha256()

    def _on_data(self, name, data):
        if name == 'SHA256SUMS':
            if len(self._sums) + len(data) > self.SUMS_LIMIT:
                raise _bad(self.what, 'its SHA256SUMS is implausibly large')
            self._sums += data
        elif name in self._members:
            self._members[name].update(data)

    def feed(self, chunk):
        super().feed(chunk)
        if self._error is None:
            try:
                self._tar.feed(self._inflate.decompress(chunk))
            except zlib.error as exc:
                self._error = _bad(self.what, 'it is not gzip data (%s)' % exc)
            except BackupError as exc:
                self._error = exc

    def finish(self):
        if self._error is None and not self._inflate.eof:
            self._error = _bad(self.what, 'its gzip stream ends early (truncated)')
        if self._error is not None:
            raise self._error
        sums = {}
        for line in bytes(self._sums).decode('ascii', 'replace').splitlines():
            match = re.match(r'^([0-9a-f]{64})  (\S+)$', line.strip())
            if match:
                sums[match.group(2)] = match.group(1)
        for name in self.EXPECTED:
            if name not in self._members:
                raise _bad(self.what, 'the archive has no %s' % name)
            if sums.get(name) != self._members[name].hexdigest():
                raise _bad(self.what, 'the SHA256SUMS entry of %s does not match its content' % name)
        return dict(size=self.size, sha256=self.sha256(), checks=dict(archive='ok', sha256sums='ok'))


class WholeItemCheck(Digest):
    """Small items, parsed whole at the end by ``parse(data)`` (returns the facts it found)."""

    def __init__(self, what):
        super().__init__(what)
        self._data = bytearray()

    def feed(self, chunk):
        super().feed(chunk)
        if len(self._data) + len(chunk) > SMALL_ITEM_LIMIT:
            raise BackupError('verification_failed', '%s is larger than %d MiB, too large for this kind of item.'
                              % (self.what, SMALL_ITEM_LIMIT // (1024 * 1024)))
        self._data += chunk

    def finish(self):
        data = bytes(self._data)
        if not data.strip():
            raise _bad(self.what, 'it is empty')
        try:
            checks = self.parse(data)
        except (TalosConfigError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise _bad(self.what, str(exc).rstrip('.')) from None
        return dict(size=self.size, sha256=self.sha256(), checks=checks)

    def parse(self, data):
        raise NotImplementedError


def _yaml_docs(data, what):
    return [doc for doc in load_documents(data, what) if doc is not None]


class SecretsBundleCheck(WholeItemCheck):
    kind = 'talos_secrets'

    def parse(self, data):
        if is_age(data):
            return dict(format='age-encrypted bundle, kept as it is')
        from .._talos.secrets import parse_bundle  # pylint: disable=import-outside-toplevel  # needs cryptography
        bundle = parse_bundle(data, self.what)
        return dict(format='talos secrets bundle', cluster_fingerprint=cluster_fingerprint(bundle['cluster']['id']))


class TalosconfigCheck(WholeItemCheck):
    kind = 'talosconfig'

    def parse(self, data):
        docs = _yaml_docs(data, self.what)
        contexts = docs[0].get('contexts') if len(docs) == 1 and isinstance(docs[0], dict) else None
        if not isinstance(contexts, dict) or not contexts:
            raise ValueError('it is not a talosconfig (no contexts)')
        for name, context in contexts.items():
            if not all((context or {}).get(key) for key in ('ca', 'crt', 'key')):
                raise ValueError('its context %s lacks the CA, certificate or key' % name)
        return dict(contexts=sorted(contexts))


class MachineConfigCheck(WholeItemCheck):
    kind = 'machine_config'

    def parse(self, data):
        main = next((doc for doc in _yaml_docs(data, self.what) if isinstance(doc, dict) and 'kind' not in doc), None)
        if not main or not isinstance(main.get('machine'), dict):
            raise ValueError('it has no v1alpha1 machine config document')
        cluster_id = (main.get('cluster') or {}).get('id')
        return dict(machine_type=main['machine'].get('type'), cluster_fingerprint=cluster_fingerprint(cluster_id) if cluster_id else None)


class TerraformStateCheck(WholeItemCheck):
    kind = 'terraform_state'

    def parse(self, data):
        state = json.loads(data)
        if not isinstance(state, dict) or 'version' not in state or 'lineage' not in state:
            raise ValueError('it is not a Terraform/OpenTofu state file (no version and lineage)')
        return dict(version=state['version'], serial=state.get('serial'), lineage=state['lineage'])


class SealedSecretsKeysCheck(WholeItemCheck):
    kind = 'sealed_secrets_keys'

    def parse(self, data):
        listing = json.loads(data)
        items = listing.get('items') if isinstance(listing, dict) else None
        if not isinstance(items, list) or not items:
            raise ValueError('it holds no key Secrets')
        for item in items:
            if item.get('kind') != 'Secret' or not (item.get('data') or {}).get('tls.key'):
                raise ValueError('an entry is not a Secret with a tls.key')
        return dict(keys=len(items))


CHECKS = {check.kind: check for check in (Digest, EtcdSnapshotCheck, VaultSnapshotCheck, SecretsBundleCheck,
                                          TalosconfigCheck, MachineConfigCheck, TerraformStateCheck, SealedSecretsKeysCheck)}


def check_for(kind, what):
    """A fresh check for an item kind (``etcd_snapshot``, ``talos_secrets`` ...)."""
    return CHECKS.get(kind, Digest)(what)
