# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd as Talos shows it: members, per-node status and health, and bootstrapping exactly once."""

from __future__ import annotations

from .api.errors import TalosApiError

# Talos' etcd service sits in this state until Bootstrap (first node) or its join (the others).
WAITING_STATES = ('Preparing', 'Waiting', 'Initialized', 'Starting')
# Failures that say nothing about etcd: reaching or authenticating to the node failed.
CONNECTION_FAILURES = ('permission_denied', 'wrong_ca', 'client_cert_expired', 'client_cert_not_yet_valid',
                       'client_cert_rejected', 'bad_credentials', 'bad_talosconfig', 'hostname_mismatch',
                       'server_cert_invalid', 'tls_error', 'unreachable', 'missing_library', 'maintenance_mode',
                       'not_control_plane', 'configured_node')


def member_dicts(members_reply):
    """Plain dicts of an EtcdMembers reply, sorted by hostname."""
    members = [dict(id='%x' % m.id, hostname=m.hostname, peer_urls=list(m.peer_urls),
                    client_urls=list(m.client_urls), is_learner=m.is_learner) for m in members_reply.members]
    return sorted(members, key=lambda m: m['hostname'])


def status_dict(status):
    return dict(member_id='%x' % status.member_id, leader='%x' % status.leader, is_leader=status.member_id == status.leader,
                raft_index=status.raft_index, raft_term=status.raft_term, db_size=status.db_size,
                is_learner=status.is_learner, errors=list(status.errors))


def etcd_service_state(client):
    """State of the node's etcd service (Preparing, Running ...), or None when it has none (a worker)."""
    for service in client.service_list():
        if service.id == 'etcd':
            return service.state
    return None


def members_or_none(client):
    """The etcd members the node knows, or None while its etcd is not running yet."""
    try:
        return member_dicts(client.etcd_member_list())
    except TalosApiError as exc:
        if exc.reason in CONNECTION_FAILURES:
            raise
        state = etcd_service_state(client)
        if state in WAITING_STATES:
            return None
        raise


def health(statuses, members):
    """Whether every member answered without errors and all agree on one leader; with the reasons."""
    problems = []
    answered = {s['member_id'] for s in statuses.values() if s.get('member_id')}
    for member in members:
        if member['id'] not in answered:
            problems.append('member %s (%s) gave no status' % (member['hostname'], member['id']))
    for node, status in sorted(statuses.items()):
        if status.get('error'):
            problems.append('%s: %s' % (node, status['error']))
        elif status.get('errors'):
            problems.append('%s reports %s' % (node, '; '.join(status['errors'])))
    leaders = {s['leader'] for s in statuses.values() if s.get('leader') and s['leader'] != '0'}
    if len(leaders) != 1:
        problems.append('the members see %d leaders (%s)' % (len(leaders), ', '.join(sorted(leaders)) or 'none'))
    if any(m['is_learner'] for m in members):
        problems.append('learners not promoted yet: %s' % ', '.join(m['hostname'] for m in members if m['is_learner']))
    return not problems, problems
