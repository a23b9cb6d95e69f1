# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restoring from a set: check the whole set first, then Talos' disaster-recovery sequence.

The sequence (Talos "disaster recovery", facts.md): reset the broken control planes' EPHEMERAL
partition, wait until every etcd service is ``Preparing``, upload the snapshot to **one** node with
EtcdRecover and Bootstrap it with ``recover_etcd``, then the others join. Before any of that the set is
decrypted and checked end to end, the cluster it belongs to is compared with the nodes' own, and a
healthy etcd is refused: a restore would throw away everything written since the set.
"""

from __future__ import annotations

from .errors import BackupError
from .manifest import cluster_fingerprint
from .._talos.api.errors import TalosApiError
from .._talos.etcd import CONNECTION_FAILURES, member_dicts, status_dict
from .._talos.files import check_private_file
from .._talos.yamlio import load_documents

ETCD_SNAPSHOT = 'etcd.snapshot'
SECRETS = 'talos/secrets.yaml'


def check_identity(path):
    """The age identity must exist and be private (it decrypts every secret of every set)."""
    import os  # pylint: disable=import-outside-toplevel
    if not path or not os.path.isfile(path):
        raise BackupError('bad_input', 'the age identity file %s does not exist.' % path)
    check_private_file(path, 'age identity file')
    return path


def verify_set(reader, manifest):
    """Decrypt and check every item; the secrets bundle must belong to the cluster the manifest names."""
    verified = []
    for entry in manifest['items']:
        facts = reader.decrypt(manifest, entry['name'])
        fingerprint = facts['checks'].get('cluster_fingerprint')
        if entry['kind'] == 'talos_secrets' and fingerprint and fingerprint != manifest['cluster_fingerprint']:
            raise BackupError('wrong_cluster', 'set %s holds the secrets bundle of another cluster than its manifest names '
                              '(fingerprint %s, not %s): the set was put together from two clusters.'
                              % (manifest['set_id'], fingerprint, manifest['cluster_fingerprint']))
        verified.append(dict(name=entry['name'], kind=entry['kind'], size=facts['size'], sha256=facts['sha256'], checks=facts['checks']))
    if not any(entry['kind'] == 'etcd_snapshot' for entry in manifest['items']):
        raise BackupError('verification_failed', 'set %s has no etcd snapshot.' % manifest['set_id'])
    return verified


# --- the live cluster ------------------------------------------------------------------------------

def live_fingerprint(clients):
    """The cluster fingerprint of the running control planes (their machine config's cluster.id), or None
    when none answers. Control planes that disagree are a reason to stop."""
    found = {}
    for address, client in clients.items():
        try:
            config = client.running_config()
        except TalosApiError as exc:
            if exc.reason in ('unreachable', 'unavailable', 'timeout'):
                continue
            raise
        main = next((d for d in load_documents(config, 'running config of %s' % address) if isinstance(d, dict) and 'kind' not in d), {})
        cluster_id = (main.get('cluster') or {}).get('id')
        if cluster_id:
            found[address] = cluster_fingerprint(cluster_id)
    if len(set(found.values())) > 1:
        raise BackupError('wrong_cluster', 'the control planes run configs of different clusters: %s.'
                          % ', '.join('%s %s' % item for item in sorted(found.items())))
    return next(iter(found.values()), None)


def etcd_service_states(clients):
    """{address: state of its etcd service, or the error text when the node cannot be asked}."""
    states = {}
    for address, client in clients.items():
        try:
            states[address] = next((s.state for s in client.service_list() if s.id == 'etcd'), 'absent')
        except TalosApiError as exc:
            if exc.reason in CONNECTION_FAILURES and exc.reason not in ('unreachable',):
                raise
            states[address] = 'unreachable'
    return states


def healthy_etcd(clients):
    """A description of a healthy etcd (a quorum of members answering with one leader), or None."""
    members = None
    statuses = {}
    for address, client in clients.items():
        try:
            if members is None:
                members = member_dicts(client.etcd_member_list())
            statuses[address] = status_dict(client.etcd_status())
        except TalosApiError:
            continue
    if not members:
        return None
    answering = [s for s in statuses.values() if not s['errors']]
    leaders = {s['leader'] for s in answering if s['leader'] not in ('0', '')}
    if len(answering) >= len(members) // 2 + 1 and len(leaders) == 1:
        return '%d of %d members answer and agree on leader %s' % (len(answering), len(members), leaders.pop())
    return None
