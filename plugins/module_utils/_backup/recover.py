# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The etcd recovery of talos_etcd_recover, step by step (see restore.py for the checks it starts with)."""

from __future__ import annotations

import time

from . import restore, stream, verify
from .errors import BackupError
from .manifest import item as manifest_item
from .._talos.api.errors import TalosApiError
from .._talos.etcd import member_dicts
from .._retry import WaitTimeout, wait_for

WIPE = ('EPHEMERAL',)


def preflight(reader, manifest, clients):
    """Everything that must hold before a node is touched; returns the etcd service state per control plane."""
    entry = manifest_item(manifest, restore.ETCD_SNAPSHOT)
    if entry is None:
        raise BackupError('verification_failed', 'set %s has no etcd snapshot.' % manifest['set_id'])
    live = restore.live_fingerprint(clients)
    if live is None:
        raise BackupError('unreachable', 'no control plane answered with its machine config, so nothing tells whether set %s '
                          'belongs to this cluster: bring the control planes up (re-create lost ones from their configs) first.'
                          % manifest['set_id'])
    if live != manifest['cluster_fingerprint']:
        raise BackupError('wrong_cluster', 'set %s belongs to another cluster (fingerprint %s) than the control planes run '
                          '(%s): refusing to restore it here.' % (manifest['set_id'], manifest['cluster_fingerprint'], live))
    healthy = restore.healthy_etcd(clients)
    if healthy:
        raise BackupError('etcd_healthy', 'etcd is healthy (%s): a restore would replace everything written since set %s, '
                          'so it is refused while the cluster works.' % (healthy, manifest['set_id']))
    # The snapshot that will be uploaded, checked end to end before anything is reset.
    reader.decrypt(manifest, restore.ETCD_SNAPSHOT)
    states = restore.etcd_service_states(clients)
    lost = sorted(address for address, state in states.items() if state in ('unreachable', 'absent'))
    if lost:
        raise BackupError('unreachable', 'the control planes %s do not answer (or run no etcd): re-create them from their '
                          'machine configs before restoring.' % ', '.join(lost))
    return states


def reset_broken(clients, states):
    """Reset every control plane whose etcd is not waiting (Preparing): wipe EPHEMERAL, no graceful leave, reboot."""
    broken = sorted(address for address, state in states.items() if state != 'Preparing')
    for address in broken:
        clients[address].reset(wipe_labels=WIPE, graceful=False, reboot=True)
    return broken


def wait_preparing(clients, timeout):
    def probe():
        try:
            states = restore.etcd_service_states(clients)
        except TalosApiError as exc:
            return False, exc.message
        return all(state == 'Preparing' for state in states.values()), states
    return wait_for('etcd Preparing on every control plane', probe, timeout)


def upload_and_bootstrap(reader, manifest, client, transfer_timeout):
    """Stream the snapshot from the set into EtcdRecover (checked again on the way), then Bootstrap with recover."""
    entry = manifest_item(manifest, restore.ETCD_SNAPSHOT)
    what = '%s of set %s' % (restore.ETCD_SNAPSHOT, manifest['set_id'])
    check = verify.check_for(entry['kind'], what)

    def chunks(source):
        for chunk in source:
            check.feed(chunk)
            yield chunk
    with stream.DecryptedDownload(reader.remote, '%s/%s' % (manifest['set_id'], entry['object']), reader.identity, what) as source:
        sent = client.etcd_recover(chunks(source), timeout=transfer_timeout)
        source.close()
    facts = check.finish()
    if facts['sha256'] != entry['sha256'] or sent != entry['size']:
        raise BackupError('verification_failed', 'the snapshot uploaded to %s differs from the manifest of set %s (sha256 %s): '
                          'not bootstrapping from it.' % (client.target, manifest['set_id'], facts['sha256'][:16]))
    client.bootstrap(recover_etcd=True)
    return sent


def wait_recovered(clients, recover_on, timeout):
    """Wait until the recovered member runs and every control plane has joined with one leader."""
    expected = len(clients)

    def probe():
        try:
            states = restore.etcd_service_states(clients)
            if states[recover_on] == 'Failed':
                raise BackupError('recover_failed', 'etcd failed on %s while recovering from the snapshot: see the node\'s '
                                  'etcd service logs (talosctl -n %s logs etcd).' % (recover_on, recover_on))
            if not all(state == 'Running' for state in states.values()):
                return False, states
            members = member_dicts(clients[recover_on].etcd_member_list())
            leaders = {client.etcd_status().leader for client in clients.values()}
        except TalosApiError as exc:
            return False, exc.message
        done = len(members) == expected and len(leaders) == 1 and 0 not in leaders
        return done, dict(members=members, leaders=len(leaders), states=states)
    return wait_for('the etcd members of every control plane', probe, timeout, first=1.0)


def run(reader, manifest, checks, clients, probes, recover_on, check_mode, timeout, transfer_timeout):
    """``checks`` read the cluster before anything changes (through the endpoints, if any); ``clients`` reach each
    node directly and retry a failed connection (for the calls), ``probes`` too but do not retry (polling while nodes
    reboot)."""
    started = time.monotonic()
    states = preflight(reader, manifest, checks)
    result = dict(changed=True, set_id=manifest['set_id'], recovered_on=recover_on, etcd_states=states,
                  reset=sorted(a for a, s in states.items() if s != 'Preparing'))
    if check_mode:
        return result
    try:
        reset_broken(clients, states)
        wait_preparing(probes, timeout)
        result['uploaded'] = upload_and_bootstrap(reader, manifest, clients[recover_on], transfer_timeout)
        seen, _duration = wait_recovered(probes, recover_on, timeout)
    except WaitTimeout as exc:
        raise BackupError('timeout', 'the restore of set %s stopped: %s' % (manifest['set_id'], exc)) from None
    result.update(members=seen['members'], duration=round(time.monotonic() - started, 2))
    return result
