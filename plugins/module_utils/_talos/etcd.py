# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd as Talos shows it: members, per-node status and health, and bootstrapping exactly once.

Bootstrapping twice starts a second, empty etcd cluster, so whether etcd runs somewhere is decided
from positive evidence only (see :func:`look` and :func:`bootstrap_decision`): a node that lists
members runs it; a node in maintenance mode, one whose etcd waits for its bootstrap or join, one
serving a certificate of another OS CA and a worker do not. Anything else (a TLS failure, a refused
call, a timeout) proves nothing, and the decision refuses with that node's reason.
"""

from __future__ import annotations

import collections

from .api.errors import TalosApiError
from .._errors import ModuleError

# Talos' etcd service sits in this state until Bootstrap (first node) or its join (the others).
WAITING_STATES = ('Preparing', 'Waiting', 'Initialized', 'Starting')
# Failures that say nothing about etcd: reaching or authenticating to the node failed.
CONNECTION_FAILURES = ('permission_denied', 'wrong_ca', 'client_cert_expired', 'client_cert_not_yet_valid',
                       'client_cert_rejected', 'bad_credentials', 'bad_talosconfig', 'hostname_mismatch',
                       'server_cert_invalid', 'tls_error', 'unreachable', 'missing_library', 'maintenance_mode',
                       'not_control_plane', 'configured_node')
# Failures that show the node runs no member of our etcd: no config yet, another OS CA, not a control plane.
NO_ETCD_EVIDENCE = ('maintenance_mode', 'wrong_ca', 'not_control_plane')

# What one control plane showed: ``kind`` is members, waiting (etcd waits for bootstrap or join),
# no_etcd (NO_ETCD_EVIDENCE), unreachable or unknown; ``error`` the TalosApiError behind the last three.
Seen = collections.namedtuple('Seen', 'node kind members error')


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


def look(node, client):
    """What ``node`` shows about etcd, as a :class:`Seen`; never raises for an answer it cannot read."""
    try:
        members = members_or_none(client)
    except TalosApiError as exc:
        if exc.reason in NO_ETCD_EVIDENCE:
            return Seen(node, 'no_etcd', [], exc)
        return Seen(node, 'unreachable' if exc.reason == 'unreachable' else 'unknown', [], exc)
    if members:
        return Seen(node, 'members', members, None)
    return Seen(node, 'waiting', [], None)


def started(member):
    """Whether a member has started: etcd lists a member it added but that never ran without name or client URLs."""
    return bool(member['hostname']) and bool(member['client_urls'])


def health(statuses, members):
    """Whether every member answered without errors and all agree on one leader; with the reasons."""
    problems = []
    for member in members:
        if not started(member):
            problems.append('member %s has not started yet (added, but without %s)'
                            % (member['hostname'] or member['id'], 'a name' if not member['hostname'] else 'client URLs'))
    answered = {s['member_id'] for s in statuses.values() if s.get('member_id')}
    for member in members:
        if member['id'] not in answered:
            problems.append('member %s (%s) gave no status' % (member['hostname'] or '(no name)', member['id']))
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


def quorum(statuses, members):
    """Whether etcd has its quorum, from the members and the per-address statuses (``status_dict`` or ``error``).

    A member counts as answering when its node gave a status without errors. The quorum holds when a majority of
    the members answer and they agree on one leader: below that, etcd (and so the Kubernetes API) accepts no write.
    ``down`` names the members that did not answer, by hostname (or id when a member never started).
    """
    answering_ids = {s['member_id'] for s in statuses.values() if s.get('member_id') and not s.get('error') and not s.get('errors')}
    leaders = {s['leader'] for s in statuses.values() if s.get('member_id') in answering_ids and s.get('leader') not in (None, '', '0')}
    names = {m['id']: m['hostname'] or m['id'] for m in members}
    answering = sorted(names[i] for i in answering_ids if i in names)
    down = sorted(name for member_id, name in names.items() if member_id not in answering_ids)
    needed = len(members) // 2 + 1
    return dict(members=len(members), needed=needed, answering=answering, down=down,
                held=len(answering) >= needed and len(leaders) == 1)


def _names(names):
    return names[0] if len(names) == 1 else '%s and %s' % (', '.join(names[:-1]), names[-1])


def quorum_lost_message(state, consequence='Kubernetes accepts no change and nothing was written'):
    """One sentence for a run that refuses because etcd lost its quorum, what that means (``consequence``), and the way out."""
    if not state['down']:
        # Every member answers, but they do not agree on one leader (an election under way, or a split).
        return ('etcd has no quorum: its %d members answer but do not agree on one leader, so %s: try again in a minute, '
                'and if it stays so, restore etcd from the last backup with playbooks/restore.yml (docs/backup-restore.md).'
                % (state['members'], consequence))
    return ('etcd has lost its quorum: %d of %d members answer (%s), %d are needed, and %s %s not answer, so %s: bring %s '
            'back, or restore etcd from the last backup with playbooks/restore.yml (docs/backup-restore.md).'
            % (len(state['answering']), state['members'], _names(state['answering']) if state['answering'] else 'none',
               state['needed'], _names(state['down']), 'does' if len(state['down']) == 1 else 'do', consequence,
               'it' if len(state['down']) == 1 else 'them'))


def quorum_warning(state):
    """One sentence when the quorum holds with members down (None when every member answers)."""
    if not state['down']:
        return None
    spare = len(state['answering']) - state['needed']
    return ('etcd member%s %s %s not answer: %d of %d members answer and the quorum of %d holds, %s; bring %s back or '
            'replace %s (docs/day2.md).'
            % ('' if len(state['down']) == 1 else 's', _names(state['down']), 'does' if len(state['down']) == 1 else 'do',
               len(state['answering']), state['members'], state['needed'],
               'one more loss stops every change' if spare == 0 else 'it survives %d more loss%s' % (spare, '' if spare == 1 else 'es'),
               'it' if len(state['down']) == 1 else 'them', 'it' if len(state['down']) == 1 else 'them'))


def bootstrapped(seen):
    """Whether etcd runs on one of the control planes ``seen`` (a list of Seen): True, False or None.

    True when one lists members; False when every one showed it runs none (NO_ETCD_EVIDENCE, or its
    etcd waits); None when none lists members and some could not be reached. A control plane whose
    answer proves nothing raises its error: nobody can tell, so the caller must not guess.
    """
    if any(s.kind == 'members' for s in seen):
        return True
    for entry in seen:
        if entry.kind == 'unknown':
            raise entry.error
    return None if any(s.kind == 'unreachable' for s in seen) else False


# What to do about a Bootstrap: ``action`` is bootstrap, done (etcd runs: ``by`` shows where) or refuse
# (``error`` says why); ``unreachable`` lists the control planes that could not be asked.
Decision = collections.namedtuple('Decision', 'action by members unreachable error')


def _refusal(node, why, cause=None):
    details = dict(cause=cause.failure) if cause is not None else {}
    return ModuleError('bootstrap_refused', why, node=node, call='Bootstrap',
                       sentence='Refusing to bootstrap etcd on %s: %s.' % (node, why), **details)


def bootstrap_decision(target, others, target_state, allow_unreachable=False):
    """Decide whether to bootstrap etcd on ``target`` (a Seen) from the other control planes' Seen.

    ``target_state`` is the state of the target's etcd service. Bootstrap only when nothing lists
    members, every other control plane showed it runs no etcd (or could not be reached and
    ``allow_unreachable`` says that is fine) and the target's etcd waits for its bootstrap.
    """
    unreachable = [s.node for s in others if s.kind == 'unreachable']
    for entry in [target] + list(others):
        if entry.kind == 'members':
            return Decision('done', entry.node, entry.members, unreachable, None)
    if target.kind in ('unknown', 'unreachable'):
        return Decision('refuse', None, [], unreachable, target.error)
    if target.kind == 'no_etcd':
        return Decision('refuse', None, [], unreachable,
                        _refusal(target.node, 'it shows no etcd of this cluster (%s)' % target.error.why, target.error))
    for entry in others:
        if entry.kind == 'unknown':
            return Decision('refuse', None, [], unreachable, _refusal(
                target.node, 'control plane %s could not show whether it runs etcd (%s), and a second bootstrap would '
                'start a second, empty cluster; fix that or leave it out of control_planes' % (entry.node, entry.error.why),
                entry.error))
    if unreachable and not allow_unreachable:
        return Decision('refuse', None, [], unreachable, _refusal(
            target.node, 'the control planes %s could not be asked whether etcd runs already, and a second bootstrap '
            'would start a second, empty cluster; set allow_unreachable=true only if they are known to be unconfigured'
            % ', '.join(unreachable)))
    if target_state not in WAITING_STATES:
        return Decision('refuse', None, [], unreachable, _refusal(
            target.node, 'its etcd service is %s, not waiting for bootstrap' % (target_state or 'absent (is it a control plane?)')))
    return Decision('bootstrap', None, [], unreachable, None)


def lost_bootstrap_race(error):
    """Whether a failed Bootstrap means another run (or an operator) bootstrapped etcd between our look and our call."""
    return isinstance(error, TalosApiError) and error.status == 'ALREADY_EXISTS'
