#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_reset
short_description: Reset one Talos node, taking it out of the cluster, once
version_added: 0.2.0
description:
  - Calls Talos' C(Reset) on O(node), the step C(talosctl reset) performs, when the node still runs with its machine
    config; a node in maintenance mode (no config left) is reset already and is left alone.
  - A graceful reset (the default) of a control plane makes it leave etcd first, cordons and drains it, then wipes
    it; Talos stops the reset when the node cannot leave etcd.
  - Without O(reboot) the node powers off afterwards and stops answering; with it the node comes back in
    maintenance mode.
  - An unreachable node cannot be told apart from one an earlier reset powered off; it is refused unless
    O(missing_ok=true).
  - Used by C(playbooks/remove-node.yml), which drains the node and checks etcd quorum first.
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
  graceful:
    description:
      - Leave etcd (control planes) and drain before wiping, as C(talosctl reset --graceful).
    type: bool
    default: true
  reboot:
    description:
      - Reboot into maintenance mode after the wipe instead of powering off.
    type: bool
    default: false
  wipe_mode:
    description:
      - What to wipe, as C(talosctl reset --wipe-mode).
    type: str
    choices: [all, system_disk, user_disks]
    default: all
  missing_ok:
    description:
      - Treat a node that does not answer as reset already (powered off by an earlier reset) instead of failing.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Finds out what the node is now and reports whether it would be reset, without calling C(Reset).
  diff_mode:
    support: none
    description: There is no configuration to compare.
  idempotent:
    support: full
    description: A node in maintenance mode is reset already and reported unchanged.
"""

EXAMPLES = r"""
- name: Take a worker out of the cluster (it powers off)
  hybridops.talos.talos_reset:
    node: 10.10.0.22
    talosconfig: ~/.local/share/hybridops-talos/hybrid/talosconfig

- name: Wipe a node and leave it in maintenance mode for a new config
  hybridops.talos.talos_reset:
    node: 10.10.0.22
    reboot: true
    wait_timeout: 300
"""

RETURN = r"""
node:
  description: The node, as given.
  returned: always
  type: str
state_before:
  description: What the node was before, V(configured), V(maintenance) or V(unreachable).
  returned: success
  type: str
state:
  description: What the node is at the end (V(unreachable) once powered off, V(maintenance) after a reset with reboot).
  returned: success
  type: str
duration:
  description: Seconds spent waiting for the node after the reset.
  returned: when a reset was waited for
  type: float
failure:
  description: The structured cause of a failure (C(reason), C(node), C(call), C(status), C(message), details).
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, NODE_ARGS, WAIT_ARGS, Connection
from ansible_collections.hybridops.talos.plugins.module_utils._talos.reset import WIPE_MODES, reset_node


def reset(module):
    with Connection(module.params) as connection:
        return reset_node(module, connection)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            graceful=dict(type='bool', default=True),
            reboot=dict(type='bool', default=False),
            wipe_mode=dict(type='str', choices=list(WIPE_MODES), default='all'),
            missing_ok=dict(type='bool', default=False),
            **dict(CONNECTION_ARGS, **dict(NODE_ARGS, **WAIT_ARGS))
        ),
        supports_check_mode=True,
    )
    requires(module, *TALOS_API)
    run(module, reset)


if __name__ == '__main__':
    main()
