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
  - Starts the cluster's etcd on one control-plane node with the Talos C(Bootstrap) call, the step
    C(talosctl bootstrap) performs, but only when no etcd cluster exists yet.
  - Looks first, asking the node and every node in O(control_planes) for their etcd members. When any
    of them already has members the cluster is bootstrapped and nothing is done, since bootstrapping a
    second time would start a second, empty etcd cluster.
  - Refuses to bootstrap while the node's etcd service is in any state but waiting for bootstrap.
  - With O(wait=true), returns once etcd runs and lists this node as a member.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.wait
options:
  control_planes:
    description:
      - Addresses of the other control-plane nodes, asked for etcd members before bootstrapping.
      - Unreachable ones are reported in RV(unreachable) and do not stop the bootstrap only when
        O(allow_unreachable=true).
    type: list
    elements: str
    default: []
  allow_unreachable:
    description:
      - Bootstrap even when some O(control_planes) cannot be asked. Only safe when they are known to be
        unconfigured (for example a brand-new cluster whose nodes are still booting).
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
  action_group:
    description: Use C(group/hybridops.talos.talos) in O(ignore:module_defaults) to set the connection options once.
    support: full
    membership:
      - hybridops.talos.talos
"""

EXAMPLES = r"""
- name: Bootstrap etcd on the first control plane, once
  hybridops.talos.talos_bootstrap:
    endpoint: "{{ hostvars[groups['talos_controlplane'][0]].talos_node_ip }}"
    talosconfig: "{{ playbook_dir }}/secrets/talosconfig"
    control_planes: "{{ groups['talos_controlplane'][1:] | map('extract', hostvars, 'talos_node_ip') | list }}"
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
  description: State of the node's etcd service at the end, for example V(Running) or V(Preparing).
  returned: success
  type: str
unreachable:
  description: Control planes from O(control_planes) that could not be asked.
  returned: success
  type: list
  elements: str
duration:
  description: Seconds spent waiting for etcd to run.
  returned: when a bootstrap was waited for
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.apply import MAINTENANCE_HINTS
from ansible_collections.hybridops.talos.plugins.module_utils._talos.etcd import (
    WAITING_STATES,
    etcd_service_state,
    members_or_none,
)
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, WAIT_ARGS, client_for, fail
from ansible_collections.hybridops.talos.plugins.module_utils._wait import WaitTimeout, wait_for


# Failures that mean the node is in maintenance mode or was configured with another CA.
NOT_OURS_YET = MAINTENANCE_HINTS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            control_planes=dict(type='list', elements='str', default=[]),
            allow_unreachable=dict(type='bool', default=False),
            **dict(CONNECTION_ARGS, **WAIT_ARGS)
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False, unreachable=[], members=[])
    try:
        client = client_for(params)
        members = members_or_none(client)
        if members:
            result.update(bootstrapped_by=params['endpoint'], members=members, etcd_state=etcd_service_state(client))
            module.exit_json(**result)
        for other in params['control_planes']:
            if other == params['endpoint']:
                continue
            try:
                theirs = members_or_none(client_for(params, endpoint=other, node=other))
            except TalosApiError as exc:
                if exc.reason in NOT_OURS_YET:
                    continue  # a node that does not trust our CA yet has no member of our etcd
                if exc.reason != 'unreachable':
                    raise
                result['unreachable'].append(other)
                continue
            if theirs:
                result.update(bootstrapped_by=other, members=theirs, etcd_state=etcd_service_state(client))
                module.exit_json(**result)
        if result['unreachable'] and not params['allow_unreachable']:
            module.fail_json(msg='Refusing to bootstrap etcd on %s: the control planes %s could not be asked whether etcd '
                                 'runs already, and a second bootstrap would start a second, empty cluster; set '
                                 'allow_unreachable=true only if they are known to be unconfigured.'
                                 % (params['endpoint'], ', '.join(result['unreachable'])), **result)
        state = etcd_service_state(client)
        if state not in WAITING_STATES:
            module.fail_json(msg='Refusing to bootstrap etcd on %s: its etcd service is %s, not waiting for bootstrap.'
                             % (params['endpoint'], state or 'absent (is it a control plane?)'), etcd_state=state, **result)
        result.update(changed=True, bootstrapped_by='this run', etcd_state=state)
        if module.check_mode:
            module.exit_json(**result)
        try:
            client.bootstrap()
        except TalosApiError as exc:
            # Another run (or an operator) bootstrapped it between our look and our call.
            if exc.status != 'ALREADY_EXISTS':
                raise
            result.update(changed=False, bootstrapped_by='another run')
        if params['wait']:
            def probe():
                now = members_or_none(client)
                state_now = etcd_service_state(client)
                return bool(now) and state_now == 'Running', (now, state_now)
            (members, state), duration = wait_for('etcd running on %s' % params['endpoint'], probe, params['wait_timeout'])
            result.update(members=members, etcd_state=state, duration=round(duration, 2))
    except WaitTimeout as exc:
        module.fail_json(msg='Bootstrapped etcd on %s, but %s' % (params['endpoint'], exc), duration=exc.duration, **result)
    except TalosApiError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
