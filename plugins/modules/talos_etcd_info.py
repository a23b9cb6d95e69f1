#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_etcd_info
short_description: Read etcd membership and the health of every member from Talos control planes
version_added: 0.1.0
description:
  - Asks the control planes in O(nodes) for the etcd member list (the first that lists members answers
    for all) and each of them for the status of its local member (C(EtcdMemberList), C(EtcdStatus)), and
    judges the health of the cluster. It is healthy when every member has started (a member added but not
    started yet has no name or no client URLs), answers without errors, all agree on one leader and no
    learner is left unpromoted.
  - Says whether etcd was bootstrapped (RV(bootstrapped)) from positive evidence only; when no control plane
    lists members and one answers in a way that proves nothing (a TLS failure, a refused call), the module
    fails with that node's reason instead of guessing.
  - With O(wait=true), reads the cluster again until it is healthy or O(wait_timeout) passes; members that
    joined moments ago need a while before their etcd runs. It stops at once when the nodes refuse the
    talosconfig's certificate or the talosconfig cannot be used, since waiting cannot cure that.
  - Read-only; the least Talos role that works is C(os:reader).
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - grpclib
  - protobuf
  - cryptography
  - PyYAML
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.wait
  - hybridops.talos.talos_api.action_group
options:
  nodes:
    description:
      - Talos API addresses of the control planes to read, V(host) or V(host:port), reached directly or through
        O(endpoints).
    type: list
    elements: str
    required: true
  expected_members:
    description: The number of members the cluster should have; fewer or more counts as unhealthy.
    type: int
  fail_unhealthy:
    description: Fail with the list of problems when the cluster is not healthy, instead of only reporting it.
    type: bool
    default: false
  require_quorum:
    description:
      - The gate of every play that changes the cluster. Fail when etcd runs but fewer than a majority of its members
        answer (its quorum is lost, so the Kubernetes API accepts no write), with one sentence that names the members
        down and points at C(playbooks/restore.yml); warn, naming them, when the quorum holds with members down.
      - With O(wait=true) the wait ends as soon as the quorum holds; a cluster whose etcd does not run yet passes
        (nothing to guard, the bootstrap decides).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Only reads, so check mode behaves as a normal run.
  diff_mode:
    support: none
    description: Nothing changes.
  idempotent:
    support: full
    description: Never changes anything.
"""

EXAMPLES = r"""
- name: Check that all three etcd members are healthy
  hybridops.talos.talos_etcd_info:
    nodes: [192.0.2.1, 192.0.2.2, 10.10.0.10]
    expected_members: 3
    fail_unhealthy: true
  register: etcd

- name: Refuse to change anything while etcd has lost its quorum (warns when a member is down)
  hybridops.talos.talos_etcd_info:
    nodes: [192.0.2.1, 192.0.2.2, 10.10.0.10]
    require_quorum: true
    wait_timeout: 30

- name: Find out, without waiting, whether etcd runs already
  hybridops.talos.talos_etcd_info:
    nodes: [192.0.2.1, 192.0.2.2, 10.10.0.10]
    wait: false
  register: etcd_now
"""

RETURN = r"""
bootstrapped:
  description:
    - V(true) when a control plane lists etcd members; V(false) when every one showed it runs none (maintenance
      mode, etcd waiting for its bootstrap or join, a certificate of another OS CA, a worker); V(null) when none
      lists members and some could not be reached.
  returned: success
  type: bool
members:
  description: The etcd members, sorted by hostname; empty when etcd was not bootstrapped.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Member id in hexadecimal.
      type: str
    hostname:
      description: Node name of the member; empty while the member has not started.
      type: str
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
    client_urls:
      description: Client URLs; empty while the member has not started.
      type: list
      elements: str
    is_learner:
      description: Whether the member is a learner not yet promoted.
      type: bool
statuses:
  description: Per control-plane address, its local member status, or C(error) when it could not be read.
  returned: success
  type: dict
  sample: {"192.0.2.1": {member_id: 8e9e05c52164694d, leader: 8e9e05c52164694d, is_leader: true, raft_index: 12, errors: []}}
leader:
  description: Id of the leader all members agree on, empty when they do not agree.
  returned: success
  type: str
quorum:
  description:
    - Whether etcd has its quorum (a majority of the members answer and agree on one leader), and which members do
      not answer; null when etcd runs on no control plane.
  returned: success
  type: dict
  contains:
    members:
      description: How many members etcd has.
      type: int
    needed:
      description: How many must answer for the quorum (a majority).
      type: int
    answering:
      description: Hostnames of the members that answered without errors.
      type: list
      elements: str
    down:
      description: Hostnames (or ids) of the members that did not answer.
      type: list
      elements: str
    held:
      description: Whether the quorum holds.
      type: bool
  sample: {members: 3, needed: 2, answering: [home-cp-0, vps-0], down: [vps-1], held: true}
healthy:
  description: Whether the cluster is healthy.
  returned: success
  type: bool
problems:
  description: What makes the cluster unhealthy, one sentence each.
  returned: success
  type: list
  elements: str
duration:
  description: Seconds spent waiting for the cluster to become healthy.
  returned: success
  type: float
failure:
  description: The structured cause of a failure (C(reason), C(node), C(call), C(status), C(message), details).
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError, run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._retry import NO_RETRY, WaitTimeout, wait_for
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.etcd import (
    bootstrapped, health, look, quorum, quorum_lost_message, quorum_warning, status_dict)
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, WAIT_ARGS, Connection


# Failures that no amount of waiting cures: the wait ends at once with them.
HOPELESS = ('wrong_ca', 'client_cert_expired', 'client_cert_not_yet_valid', 'client_cert_rejected', 'permission_denied',
            'bad_talosconfig', 'bad_credentials', 'hostname_mismatch')


def read_cluster(params, connection):
    """Members, bootstrapped, per-address statuses and the health verdict, read once."""
    seen = []
    # The member list from the first control plane that lists members: others may be in maintenance mode.
    for address in params['nodes']:
        seen.append(look(address, connection.client(address)))
        if seen[-1].kind == 'members':
            break
    members = seen[-1].members
    cluster = dict(bootstrapped=bootstrapped(seen), members=members, statuses={})
    if not members:
        reasons = ['%s: %s' % (s.node, s.error.why if s.error else 'etcd waits for its bootstrap or join') for s in seen]
        # Waiting cannot help when every control plane refuses us (a talosconfig of another cluster, say).
        hopeless = all(s.error is not None and s.error.reason in HOPELESS for s in seen)
        return dict(cluster, healthy=False, hopeless=hopeless, quorum=None,
                    problems=['etcd runs on no control plane (%s)' % '; '.join(reasons)])
    for address in params['nodes']:
        try:
            cluster['statuses'][address] = status_dict(connection.client(address).etcd_status())
        except TalosApiError as exc:
            cluster['statuses'][address] = dict(error=exc.message)
    healthy, problems = health(cluster['statuses'], members)
    if params['expected_members'] is not None and len(members) != params['expected_members']:
        healthy = False
        problems.append('etcd has %d members, %d expected' % (len(members), params['expected_members']))
    return dict(cluster, healthy=healthy, hopeless=False, problems=problems, quorum=quorum(cluster['statuses'], members))


def settled(params, cluster):
    """Whether waiting is over: healthy, hopeless, or (as the gate of a change) the quorum holds or etcd runs nowhere."""
    if cluster['healthy'] or cluster['hopeless']:
        return True
    return params['require_quorum'] and (cluster['quorum'] is None and cluster['bootstrapped'] is not None
                                         or cluster['quorum'] is not None and cluster['quorum']['held'])


def etcd_info(module):
    params = module.params
    if not params['nodes']:
        raise ModuleError('bad_input', 'nodes is empty: give the Talos API addresses of the control planes')
    duration = 0.0
    with Connection(params, retry=NO_RETRY if params['wait'] else None) as connection:
        if params['wait']:
            def probe():
                try:
                    seen = read_cluster(params, connection)
                except TalosApiError as exc:
                    # Waiting does not cure a certificate or a talosconfig that the nodes refuse.
                    hopeless = exc.reason in HOPELESS
                    return hopeless, dict(bootstrapped=None, members=[], statuses={}, healthy=False, hopeless=hopeless,
                                          quorum=None, unknown=exc, problems=[exc.message])
                return settled(params, seen), seen
            try:
                cluster, duration = wait_for('etcd healthy', probe, params['wait_timeout'], first=0.5)
            except WaitTimeout as exc:
                cluster, duration = exc.last, exc.duration
        else:
            cluster = read_cluster(params, connection)
    cluster.pop('hopeless')
    unknown = cluster.pop('unknown', None)
    leaders = {s.get('leader') for s in cluster['statuses'].values() if s.get('leader') not in (None, '0')}
    result = dict(changed=False, leader=leaders.pop() if len(leaders) == 1 else '', duration=round(duration, 2), **cluster)
    if params['require_quorum'] and unknown is not None:
        # An answer that proves nothing (a refused call, an etcd error) is no evidence that the quorum holds.
        raise ModuleError('quorum_unknown', unknown.why, call=unknown.call, node=unknown.node, result=result,
                          sentence='Cannot tell whether etcd has its quorum, so nothing is changed: %s' % unknown.message)
    if params['require_quorum'] and cluster['quorum'] is not None:
        if not cluster['quorum']['held']:
            raise ModuleError('quorum_lost', quorum_lost_message(cluster['quorum']), call='EtcdStatus', result=result)
        warning = quorum_warning(cluster['quorum'])
        if warning:
            module.warn(warning)
    if params['fail_unhealthy'] and not cluster['healthy']:
        raise ModuleError('unhealthy', 'etcd is not healthy: %s' % '; '.join(cluster['problems']), call='EtcdStatus',
                          result=result)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='list', elements='str', required=True),
            expected_members=dict(type='int'),
            fail_unhealthy=dict(type='bool', default=False),
            require_quorum=dict(type='bool', default=False),
            **dict(CONNECTION_ARGS, **WAIT_ARGS)
        ),
        supports_check_mode=True,
    )
    requires(module, *TALOS_API)
    run(module, etcd_info)


if __name__ == '__main__':
    main()
