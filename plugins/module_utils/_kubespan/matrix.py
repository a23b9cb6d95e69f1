# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The N x (N-1) matrix: for every ordered pair (A, B), what A's KubeSpan says about B.

Input: one observation per node (``collect.observe_node``), optionally a first sample taken earlier
for the traffic counters. Peers are matched to nodes by their label (Talos labels a peer with the
node name), else by the address of their endpoint.
"""

from __future__ import annotations

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import split_endpoint
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError

from .resources import host_of
from .states import PEER_DOWN_INTERVAL, UP, age, derived_state, effective_state

UNREACHABLE = 'unreachable'  # the viewing node's API did not answer
MISSING = 'missing'  # the viewing node has no KubeSpan peer for the other

# Checks a cell can fail (its ``failed`` list).
NOT_UP = 'not_up'
STATUS_DISAGREES = 'status_disagrees'
HANDSHAKE_TOO_OLD = 'handshake_too_old'
NO_TRAFFIC = 'no_traffic'
# How an extra peer that left the viewer's discovery members ends its sentence: worth waiting for (verify.worth_waiting).
LEAVING = 'that has left discovery and is still being dropped'


def address_host(address):
    """The host part of a node address given as host, host:port or [v6]:port."""
    try:
        return split_endpoint(address)[0]
    except TalosApiError:
        return address


def resolve_names(observations):
    """Give every observation without a name the node name the members lists give its address.

    A node's own members list comes first; failing that, the one member that is not among its peers
    is the node itself. A node that did not answer is looked up in the others' members lists, and
    keeps its address as name when none of them knows it.
    """
    everyone = {}
    for observation in observations:
        for known in observation.get('members') or ():
            for host in known['addresses']:
                everyone.setdefault(host, set()).add(known['name'])
    for observation in observations:
        if observation.get('name'):
            continue
        host = address_host(observation['address'])
        name = None
        if observation.get('reachable'):
            matches = [m['name'] for m in observation['members'] if host in m['addresses']]
            if len(matches) == 1:
                name = matches[0]
            else:
                labels = {peer['label'] for peer in observation['peers']}
                others = [m['name'] for m in observation['members'] if m['name'] not in labels]
                if len(others) == 1:
                    name = others[0]
        elif len(everyone.get(host, ())) == 1:
            name = next(iter(everyone[host]))
        observation['name'] = name or observation['address']
    return observations


def _round(value):
    return None if value is None else round(value, 1)


def _delta(current, previous):
    if previous is None:
        return None
    # A smaller counter means the interface was re-created: count from zero.
    return current - previous if current >= previous else current


class _PeerIndex:
    """Finds the node a peer status is about."""

    def __init__(self, observations):
        self.names = {o['name'] for o in observations}
        self.by_host = {}
        for observation in observations:
            self.by_host.setdefault(address_host(observation['address']), observation['name'])
            for known in observation.get('members') or ():
                if known['name'] in self.names:
                    for host in known['addresses']:
                        self.by_host.setdefault(host, known['name'])

    def node_of(self, peer):
        if peer['label'] in self.names:
            return peer['label']
        for endpoint in (peer['endpoint'], peer['last_used_endpoint']):
            name = self.by_host.get(host_of(endpoint))
            if name:
                return name
        return None


def _cell(viewer, peer_name, status, observation, known_member, previous_status, handshake_max_age):
    cell = {'from': viewer, 'to': peer_name, 'known_member': known_member}
    if status is None:
        cell.update(state=MISSING, ok=False, failed=[NOT_UP],
                    problems=['%s has no KubeSpan peer for %s' % (viewer, peer_name)])
        return cell
    now = observation['observed_at']
    derived = derived_state(status, now)
    handshake_age = age(status['last_handshake_time'], now)
    cell.update(
        state=effective_state(status['state'], derived),
        reported_state=status['state'],
        derived_state=derived,
        peer_id=status['id'],
        endpoint=status['endpoint'],
        last_used_endpoint=status['last_used_endpoint'],
        last_handshake_age=_round(handshake_age),
        last_endpoint_change_age=_round(age(status['last_endpoint_change'], now)),
        receive_bytes=status['receive_bytes'],
        transmit_bytes=status['transmit_bytes'],
    )
    problems = []
    failed = []
    if cell['state'] != UP:
        failed.append(NOT_UP)
        problems.append('%s sees %s %s' % (viewer, peer_name, cell['state']))
    if status['state'] != derived:
        failed.append(STATUS_DISAGREES)
        problems.append("%s's status of %s says %s but Talos' rules give %s at %s (status not refreshed, or clocks differ)"
                        % (viewer, peer_name, status['state'], derived, now.strftime('%H:%M:%S')))
    if handshake_age is not None and handshake_age > handshake_max_age and cell['state'] == UP:
        failed.append(HANDSHAKE_TOO_OLD)
        problems.append('the last handshake of %s with %s is %d s old, more than %d s'
                        % (viewer, peer_name, handshake_age, handshake_max_age))
    if previous_status is not None:
        cell.update(receive_delta=_delta(status['receive_bytes'], previous_status['receive_bytes']),
                    transmit_delta=_delta(status['transmit_bytes'], previous_status['transmit_bytes']),
                    endpoint_changed=(previous_status['endpoint'] != status['endpoint']
                                      or previous_status['last_endpoint_change'] != status['last_endpoint_change']),
                    previous_endpoint=previous_status['endpoint'])
        if not cell['receive_delta'] or not cell['transmit_delta']:
            failed.append(NO_TRAFFIC)
            problems.append('%s exchanged no traffic with %s between the samples (received +%d, sent +%d bytes)'
                            % (viewer, peer_name, cell['receive_delta'], cell['transmit_delta']))
    cell.update(ok=not failed, failed=failed, problems=problems)
    return cell


def _extra_peer(viewer, peer, members):
    """The sentence for a peer of ``viewer`` that is not a checked node.

    A peer whose node is no longer among the viewer's discovery members is one that left (a reset node): Talos drops
    it from KubeSpan once it has processed the departure, so the sentence says it is leaving (see ``LEAVING``).
    """
    label = peer['label'] or peer['id']
    if peer['label'] and peer['label'] not in members:
        return '%s has a KubeSpan peer %s (endpoint %s) %s' % (viewer, label, peer['endpoint'] or 'none', LEAVING)
    return '%s has a KubeSpan peer %s (endpoint %s) that is not one of the checked nodes' % (viewer, label, peer['endpoint'] or 'none')


def build_matrix(observations, previous=None, handshake_max_age=PEER_DOWN_INTERVAL):
    """Cells for every ordered pair of distinct nodes, and the problems outside any pair.

    Returns ``(cells, extras)``: ``cells`` maps ``(from, to)`` to a cell dict; ``extras`` lists
    peers or members a node knows that are not among the checked nodes, one sentence each.
    ``previous`` is the first sample (same nodes, same order) when two were taken.
    """
    index = _PeerIndex(observations)
    names = [o['name'] for o in observations]
    previous_by_name = {}
    for earlier, later in zip(previous or (), observations):
        previous_by_name[later['name']] = earlier
    cells = {}
    extras = []
    for observation in observations:
        viewer = observation['name']
        if not observation.get('reachable'):
            for other in names:
                if other != viewer:
                    cells[(viewer, other)] = {'from': viewer, 'to': other, 'state': UNREACHABLE, 'ok': False,
                                              'known_member': None, 'failed': [NOT_UP], 'problems': ['%s did not answer' % viewer]}
            continue
        statuses = {}
        members = {m['name'] for m in observation['members']}
        for peer in observation['peers']:
            name = index.node_of(peer)
            if name is None or name == viewer:
                extras.append(_extra_peer(viewer, peer, members))
            else:
                statuses[name] = peer
        for extra in sorted(members - set(names)):
            extras.append("%s's discovery lists the member %s, which is not one of the checked nodes" % (viewer, extra))
        earlier = previous_by_name.get(viewer)
        earlier_statuses = {}
        if earlier is not None and earlier.get('reachable'):
            earlier_statuses = {index.node_of(peer): peer for peer in earlier['peers']}
        for other in names:
            if other == viewer:
                continue
            status = statuses.get(other)
            cells[(viewer, other)] = _cell(viewer, other, status, observation, other in members,
                                           earlier_statuses.get(other) if status is not None and earlier is not None else None,
                                           handshake_max_age)
    return cells, extras
