#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_bootstrap
short_description: Bootstrap etcd on one Talos control plane, exactly once
version_added: 0.1.0
description:
  - Starts the cluster's etcd on the control plane O(node) with the Talos C(Bootstrap) call, the step
    C(talosctl bootstrap) performs, but only when no etcd cluster exists yet.
  - Looks first, asking O(node) and every node in O(control_planes) for their etcd members. When any
    of them lists members the cluster is bootstrapped and nothing is done, since bootstrapping a
    second time would start a second, empty etcd cluster.
  - Bootstraps only on positive evidence that no other control plane runs etcd - it is in maintenance
    mode, its etcd service waits for its bootstrap or join, it serves a certificate of another OS CA,
    or it is a worker - and refuses with that control plane's reason on anything else (a TLS failure, an
    invalid certificate, a refused call, a timeout).
  - Refuses to bootstrap while the etcd service of O(node) is in any state but waiting for bootstrap.
  - With O(wait=true), returns once etcd runs on O(node) and lists a started member.
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - grpclib
  - protobuf
  - cryptography
  - PyYAML
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.node
  - hybridops.talos.talos_api.wait
  - hybridops.talos.talos_api.action_group
options:
  control_planes:
    description:
      - Talos API addresses of the cluster's control planes (O(node) may be among them), asked for etcd
        members before bootstrapping.
      - Unreachable ones are reported in RV(unreachable) and do not stop the bootstrap only when
        O(allow_unreachable=true).
    type: list
    elements: str
    default: []
  allow_unreachable:
    description:
      - Bootstrap even when some O(control_planes) cannot be reached. Only safe when they are known to be
        unconfigured (for example a brand-new cluster whose nodes are still booting). Control planes that
        answer in a way that proves nothing still stop the bootstrap.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Looks at the members and reports whether it would bootstrap, without calling C(Bootstrap).
  diff_mode:
    support: none
    description: There is no configuration to compare.
  idempotent:
    support: full
    description: Once etcd has members the module only reports them.
"""

EXAMPLES = r"""
- name: Bootstrap etcd on the first control plane, once
  hybridops.talos.talos_bootstrap:
    node: "{{ hostvars[groups['talos_controlplane'][0]].talos_node_ip }}"
    talosconfig: ~/.local/share/hybridops-talos/hybrid/talosconfig
    control_planes: "{{ groups['talos_controlplane'] | map('extract', hostvars, 'talos_node_ip') | list }}"
  run_once: true
"""

RETURN = r"""
bootstrapped_by:
  description: V(this run) when this run bootstrapped etcd, else the node whose members showed it was done already.
  returned: success
  type: str
  sample: 192.0.2.1
members:
  description: The etcd members seen at the end.
  returned: success
  type: list
  elements: dict
  sample: [{id: 8e9e05c52164694d, hostname: vps-0, peer_urls: ["https://192.0.2.1:2380"], client_urls: [], is_learner: false}]
etcd_state:
  description: State of the etcd service of O(node) at the end, for example V(Running) or V(Preparing).
  returned: success
  type: str
unreachable:
  description: Control planes from O(control_planes) that could not be reached.
  returned: always
  type: list
  elements: str
duration:
  description: Seconds spent waiting for etcd to run.
  returned: when a bootstrap was waited for
  type: float
failure:
  description: The structured cause of a failure (C(reason), C(node), C(call), C(status), C(message), details).
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError, run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._retry import WaitTimeout, wait_for
from ansible_collections.hybridops.talos.plugins.module_utils._talos.etcd import (
    bootstrap_decision, etcd_service_state, look, lost_bootstrap_race, members_or_none, started)
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import (
    CONNECTION_ARGS, NODE_ARGS, WAIT_ARGS, Connection)


def bootstrap(module):
    params = module.params
    node = params['node']
    with Connection(params) as connection:
        target = look(node, connection.client(node))
        others = [look(other, connection.client(other)) for other in params['control_planes'] if other != node]
        state = etcd_service_state(connection.client(node)) if target.kind == 'waiting' else None
        decision = bootstrap_decision(target, others, state, params['allow_unreachable'])
        result = dict(changed=False, unreachable=decision.unreachable, members=decision.members)
        if decision.action == 'refuse':
            decision.error.result.update(result, etcd_state=state)
            raise decision.error
        if decision.action == 'done':
            result.update(bootstrapped_by=decision.by, etcd_state=etcd_service_state(connection.client(node)))
            return result
        result.update(changed=True, bootstrapped_by='this run', etcd_state=state)
        if module.check_mode:
            return result
        client = connection.client(node)
        try:
            client.bootstrap()
        except ModuleError as exc:
            if not lost_bootstrap_race(exc):
                raise
            result.update(changed=False, bootstrapped_by='another run')
        if params['wait']:
            result.update(wait_for_etcd(connection, node, params['wait_timeout'], result))
        return result


def wait_for_etcd(connection, node, timeout, result):
    """Wait until etcd runs on ``node`` and lists a started member (the first is this node's); the result keys."""
    def probe():
        members = members_or_none(connection.client(node))
        state = etcd_service_state(connection.client(node))
        return any(started(m) for m in members or ()) and state == 'Running', (members, state)
    try:
        (members, state), duration = wait_for('etcd running on %s' % node, probe, timeout)
    except WaitTimeout as exc:
        raise ModuleError('timeout', 'etcd was bootstrapped but %s' % exc, node=node, call='Bootstrap',
                          result=dict(result, duration=round(exc.duration, 2))) from None
    return dict(members=members, etcd_state=state, duration=round(duration, 2))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            control_planes=dict(type='list', elements='str', default=[]),
            allow_unreachable=dict(type='bool', default=False),
            **dict(CONNECTION_ARGS, **dict(NODE_ARGS, **WAIT_ARGS))
        ),
        supports_check_mode=True,
    )
    requires(module, *TALOS_API)
    run(module, bootstrap)


if __name__ == '__main__':
    main()
