# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What goes into a backup set, and where each item comes from.

``plan_items`` turns the module's options into a list of items (name, kind, where from, and a
``feed(write)`` that streams it) plus the items that are left out and why. Nothing is read until an
item is fed, except the small looks that decide what is there (etcd member health, the Kubernetes
API for the Sealed Secrets keys), so check mode can say what a run would upload.
"""

from __future__ import annotations

import glob
import os

from .errors import BackupError
from .kube import Kube, KubeUnreachable, KEY_LABEL
from .vault import snapshot_chunks
from .._talos.api.errors import TalosApiError
from .._talos.etcd import member_dicts, quorum, quorum_lost_message, quorum_warning, status_dict

CHUNK = 1024 * 1024


def file_feed(path):
    def feed(write):
        with open(path, 'rb') as handle:
            while True:
                chunk = handle.read(CHUNK)
                if not chunk:
                    return
                write(chunk)
    return feed


def bytes_feed(data):
    def feed(write):
        write(data)
    return feed


def chunks_feed(make_chunks):
    def feed(write):
        for chunk in make_chunks():
            write(chunk)
    return feed


def _item(name, kind, what, source, feed, size=None):
    return dict(name=name, kind=kind, what=what, source=source, size=size, feed=feed)


def _file_item(name, kind, what, path):
    if not os.path.isfile(path):
        raise BackupError('missing_item', '%s %s does not exist.' % (what, path))
    return _item(name, kind, what, path, file_feed(path), os.path.getsize(path))


# --- etcd ------------------------------------------------------------------------------------------

def choose_member(client_for_node, control_planes, warn=None):
    """The control plane to take the snapshot from, and what etcd looks like.

    Every control plane is asked for its local member's status; the cluster must have its quorum (a
    majority of members answering and agreeing on one leader). A degraded cluster is still backed up,
    with a warning that names the members down: that is when a backup matters. A follower is preferred,
    to keep the extra read off the leader.
    """
    members, statuses, failures = None, {}, []
    for address in control_planes:
        client = client_for_node(address)
        if members is None:
            try:
                members = member_dicts(client.etcd_member_list())
            except TalosApiError as exc:
                failures.append(exc)
        try:
            statuses[address] = status_dict(client.etcd_status())
        except TalosApiError as exc:
            statuses[address] = dict(error=exc.message)
            failures.append(exc)
    if members is None:
        raise failures[0]
    state = quorum(statuses, members)
    if not state['held']:
        raise BackupError('quorum_lost', quorum_lost_message(state, 'no consistent snapshot can be taken and no set was made'))
    warning = quorum_warning(state)
    if warn is not None and warning:
        warn(warning)
    answering = {address: status for address, status in statuses.items() if 'error' not in status and not status['errors']}
    leader = next(iter({status['leader'] for status in answering.values() if status['leader'] not in ('0', '')}))
    by_id = {member['id']: member['hostname'] for member in members}
    followers = [address for address, status in answering.items() if not status['is_leader'] and not status['is_learner']]
    chosen = (followers or list(answering))[0]
    return dict(snapshot_from=chosen, snapshot_member=by_id.get(answering[chosen]['member_id'], chosen),
                db_size=answering[chosen]['db_size'], leader=leader, leader_name=by_id.get(leader, ''),
                members=[dict(id=m['id'], hostname=m['hostname']) for m in members],
                unanswered=sorted(set(statuses) - set(answering)))


def talos_versions(client_for_node, control_planes, configured):
    """{node: Talos version} from the API; the configured version when the credential may not ask
    (a backup credential with only os:etcd:backup cannot call Version)."""
    found = {}
    for address in control_planes:
        try:
            found[address] = client_for_node(address).version().version.tag
        except TalosApiError as exc:
            if exc.reason == 'permission_denied':
                return dict(talos=configured or 'unknown', talos_source='configured (the credential may not call Version)')
            found[address] = 'unknown (%s)' % exc.reason
    return dict(talos=found, talos_source='Talos API')


def etcd_item(client_for_node, member):
    def feed(write):
        class Sink:  # the client writes the streamed snapshot into a file-like object
            @staticmethod
            def write(chunk):
                write(chunk)
        client_for_node(member['snapshot_from'], streaming=True).etcd_snapshot(Sink())
    return _item('etcd.snapshot', 'etcd_snapshot', 'the etcd snapshot from %s' % member['snapshot_member'],
                 'EtcdSnapshot on %s' % member['snapshot_from'], feed, member['db_size'])


# --- everything else -------------------------------------------------------------------------------

def machine_config_items(folder, client_for_node, running_nodes):
    items = []
    if folder:
        paths = sorted(glob.glob(os.path.join(folder, '*.yaml')))
        if not paths:
            raise BackupError('missing_item', 'the machine configs folder %s holds no *.yaml file.' % folder)
        for path in paths:
            items.append(_file_item('machineconfig/%s' % os.path.basename(path), 'machine_config',
                                    'the machine config %s' % os.path.basename(path), path))
    for address in running_nodes or ():
        def feed(write, address=address):
            write(client_for_node(address).running_config())
        items.append(_item('machineconfig/%s.running.yaml' % address, 'machine_config',
                           'the running machine config of %s' % address, 'MachineConfigs on %s' % address, feed))
    return items


def sealed_secrets_item(params, warn):
    """(item or None, skip reason or None) for the Sealed Secrets keys; see the module's O(sealed_secrets)."""
    mode, kubeconfig = params['sealed_secrets'], params['kubeconfig']
    if mode == 'skip':
        return None, 'sealed_secrets=skip'
    if not kubeconfig:
        if mode == 'required':
            raise BackupError('bad_input', 'sealed_secrets=required needs the kubeconfig option.')
        return None, 'no kubeconfig given, so no Kubernetes API to read the keys from'
    namespace = params['sealed_secrets_namespace']
    try:
        data = Kube(kubeconfig).sealed_secrets_keys(namespace)
    except KubeUnreachable as exc:
        if mode == 'required':
            raise
        warn('The Sealed Secrets keys are not in this set: %s' % exc)
        return None, str(exc).rstrip('.')
    if data.count(b'"kind": "Secret"') == 0:
        if mode == 'required':
            raise BackupError('missing_item', 'the namespace %s has no Secret labelled %s (is the Sealed Secrets controller '
                              'installed there?).' % (namespace, KEY_LABEL))
        return None, 'no Secret labelled %s in namespace %s' % (KEY_LABEL, namespace)
    return _item('sealed-secrets/keys.json', 'sealed_secrets_keys', 'the Sealed Secrets keys',
                 'Secrets labelled %s in %s' % (KEY_LABEL, namespace), bytes_feed(data), len(data)), None


def vault_item(params):
    if not params['vault_address']:
        return None, 'no vault_address given'
    if not params['vault_token']:
        raise BackupError('bad_input', 'vault_address is set but there is no vault_token (or VAULT_TOKEN) to read the snapshot with.')
    return _item('vault/raft.snap', 'vault_raft_snapshot', 'the Vault Raft snapshot', params['vault_address'],
                 chunks_feed(lambda: snapshot_chunks(params['vault_address'], params['vault_token'], params['vault_ca_file']))), None


def terraform_items(paths):
    items = []
    for index, path in enumerate(paths or ()):
        items.append(_file_item('terraform/%d-%s' % (index + 1, os.path.basename(path)), 'terraform_state',
                                'the Terraform state %s' % path, path))
    return items
