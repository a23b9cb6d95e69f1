# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Vault Raft snapshot, streamed from ``GET /v1/sys/storage/raft/snapshot`` (header X-Vault-Token).

The token needs ``read`` on ``sys/storage/raft/snapshot``. The snapshot is only served when Vault keeps
its data in integrated storage (Raft), not when Raft is only its HA storage. Restoring one is Vault's
own ``POST`` to the same path (``vault operator raft snapshot restore``): see docs/backup-restore.md.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, open_url

from .errors import BackupError

SNAPSHOT_PATH = '/v1/sys/storage/raft/snapshot'
CHUNK = 1024 * 1024


def _context(ca_file):
    try:
        return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    except (OSError, ssl.SSLError) as exc:
        raise BackupError('bad_input', 'the Vault CA file %s cannot be used: %s.' % (ca_file, getattr(exc, 'strerror', None) or exc)) from None


def _vault_errors(exc):
    try:
        return '; '.join(json.loads(exc.read() or b'{}').get('errors') or []) or exc.reason
    except ValueError:
        return exc.reason


def snapshot_chunks(address, token, ca_file=None, timeout=60):
    """Yield the snapshot in pieces; raises BackupError naming what Vault said."""
    url = urllib.parse.urljoin(address.rstrip('/') + '/', SNAPSHOT_PATH.lstrip('/'))
    if urllib.parse.urlsplit(url).scheme not in ('https', 'http'):
        raise BackupError('bad_input', 'the Vault address %s is not an http(s) URL.' % address)
    _context(ca_file)  # a CA file that cannot be used is bad input, said before anything is sent
    try:
        # The snapshot as Vault sends it (a gzip'd tar): no decompression, no netrc credentials.
        response = open_url(url, headers={'X-Vault-Token': token}, timeout=timeout, ca_path=ca_file, decompress=False,
                            use_netrc=False)
    except urllib.error.HTTPError as exc:
        why = _vault_errors(exc)
        if exc.code == 403:
            why += ' (the token needs read on sys/storage/raft/snapshot)'
        raise BackupError('vault_failed', 'Vault at %s refused the Raft snapshot: %s %s.' % (address, exc.code, why), status=exc.code) from None
    except (urllib.error.URLError, OSError, UrlsConnectionError) as exc:
        raise BackupError('vault_unreachable', 'Vault at %s did not answer: %s.'
                          % (address, getattr(exc, 'reason', None) or exc)) from None
    with response:
        while True:
            chunk = response.read(CHUNK)
            if not chunk:
                return
            yield chunk
