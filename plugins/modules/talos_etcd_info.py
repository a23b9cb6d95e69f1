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
  - Asks O(endpoint) for the etcd member list (or, when it cannot answer, the first address of
    O(control_planes) that can) and every address in O(control_planes) for the status of
    its local member (C(EtcdMemberList), C(EtcdStatus)), and judges the health of the cluster. It is
    healthy when every member answers without errors, all agree on one leader and no learner is left unpromoted.
  - Read-only; the least Talos role that works is C(os:reader).
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.talos_api
options:
  control_planes:
    description: Addresses of the control planes whose local member status is read; O(endpoint) when empty.
    type: list
    elements: str
    default: []
  expected_members:
    description: The number of members the cluster should have; fewer or more counts as unhealthy.
    type: int
  fail_unhealthy:
    description: Fail with the list of problems when the cluster is not healthy, instead of only reporting it.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the cluster to become healthy, reading it again with capped backoff; V(0) reads once.
      - Members that joined moments ago need a while before their etcd runs.
    type: int
    default: 0
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
  action_group:
    description: Use C(group/hybridops.talos.talos) in O(ignore:module_defaults) to set the connection options once.
    support: full
    membership:
      - hybridops.talos.talos
"""

EXAMPLES = r"""
- name: Check that all three etcd members are healthy
  hybridops.talos.talos_etcd_info:
    endpoint: 192.0.2.1
    control_planes: [192.0.2.1, 192.0.2.2, 10.10.0.10]
    expected_members: 3
    fail_unhealthy: true
  register: etcd
"""

RETURN = r"""
members:
  description: The etcd members, sorted by hostname.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Member id in hexadecimal.
      type: str
    hostname:
      description: Node name of the member.
      type: str
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
    client_urls:
      description: Client URLs.
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.etcd import health, member_dicts, status_dict
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, client_for, fail
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.retry import NO_RETRY
from ansible_collections.hybridops.talos.plugins.module_utils._wait import WaitTimeout, wait_for


def read_cluster(params, retry=None):
    """Members, per-address statuses and the health verdict, read once."""
    extra = dict(retry=retry) if retry else {}
    members, failures = None, []
    # The member list from the first control plane that answers: others may be in maintenance mode.
    for address in [params['endpoint']] + [a for a in params['control_planes'] if a != params['endpoint']]:
        try:
            members = member_dicts(client_for(params, endpoint=address, node=address, **extra).etcd_member_list())
            break
        except TalosApiError as exc:
            failures.append(exc)
    if members is None:
        raise failures[0]
    statuses = {}
    for address in params['control_planes'] or [params['endpoint']]:
        try:
            statuses[address] = status_dict(client_for(params, endpoint=address, node=address, **extra).etcd_status())
        except TalosApiError as exc:
            statuses[address] = dict(error=exc.message)
    healthy, problems = health(statuses, members)
    if params['expected_members'] is not None and len(members) != params['expected_members']:
        healthy = False
        problems.append('etcd has %d members, %d expected' % (len(members), params['expected_members']))
    return dict(members=members, statuses=statuses, healthy=healthy, problems=problems)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            control_planes=dict(type='list', elements='str', default=[]),
            expected_members=dict(type='int'),
            fail_unhealthy=dict(type='bool', default=False),
            wait_timeout=dict(type='int', default=0),
            **CONNECTION_ARGS
        ),
        supports_check_mode=True,
    )
    params = module.params
    duration = 0.0
    try:
        if params['wait_timeout'] > 0:
            def probe():
                try:
                    seen = read_cluster(params, retry=NO_RETRY)
                except TalosApiError as exc:
                    return False, dict(members=[], statuses={}, healthy=False, problems=[exc.message])
                return seen['healthy'], seen
            try:
                cluster, duration = wait_for('etcd healthy', probe, params['wait_timeout'], first=0.5)
            except WaitTimeout as exc:
                cluster, duration = exc.last, exc.duration
        else:
            cluster = read_cluster(params)
    except TalosApiError as exc:
        fail(module, exc)
    leaders = {s.get('leader') for s in cluster['statuses'].values() if s.get('leader') not in (None, '0')}
    result = dict(changed=False, leader=leaders.pop() if len(leaders) == 1 else '', duration=round(duration, 2), **cluster)
    if params['fail_unhealthy'] and not cluster['healthy']:
        module.fail_json(msg='etcd is not healthy: %s.' % '; '.join(cluster['problems']), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
