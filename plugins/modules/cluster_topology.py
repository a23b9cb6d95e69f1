#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_topology
short_description: Check a Talos cluster topology for etcd quorum and site failure modes
version_added: 0.1.0
description:
  - Reads the planned nodes of a cluster (name, role, site) and computes the etcd member count,
    the quorum, the number of member failures tolerated and a table of failure modes.
  - One failure-mode row per single node down and per whole site down, saying whether etcd keeps
    quorum, whether the Kubernetes API serves and whether public ingress stays up.
  - Fails on an unsafe etcd member count (zero, even, or more than seven control planes) unless
    O(allow_unsafe=true), in which case it warns instead.
  - Read-only and runs on the controller; it contacts no node and no API.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  nodes:
    description:
      - The nodes of the cluster.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Node name, unique in the cluster.
        type: str
        required: true
      role:
        description: Talos machine type of the node.
        type: str
        required: true
        choices: [controlplane, worker]
      site:
        description: Site the node runs at, for example V(vps) or V(home).
        type: str
        required: true
  ingress_sites:
    description:
      - Sites whose nodes serve public ingress.
      - When empty, every site may serve ingress and ingress is up while any node is up.
    type: list
    elements: str
    default: []
  allow_unsafe:
    description:
      - Accept an etcd member count that is zero, even or above seven, with a warning instead of a failure.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module only reads its input, so check mode behaves as a normal run.
  diff_mode:
    support: none
    description: Nothing changes, so there is no difference to show.
  idempotent:
    support: full
    description: The module never changes anything and always returns RV(ignore:changed=false).
  action_group:
    support: none
    description: It contacts no API, so it is in no action group.
    membership: []
"""

EXAMPLES = r"""
- name: Check the seed topology before changing anything
  hybridops.talos.cluster_topology:
    nodes:
      - {name: vps-0, role: controlplane, site: vps}
      - {name: vps-1, role: controlplane, site: vps}
      - {name: home-cp-0, role: controlplane, site: home}
      - {name: home-w-0, role: worker, site: home}
      - {name: home-w-1, role: worker, site: home}
    ingress_sites: [vps]
  register: topology

- name: Accept a two-control-plane topology for a short migration, with a warning
  hybridops.talos.cluster_topology:
    nodes:
      - {name: vps-0, role: controlplane, site: vps}
      - {name: home-cp-0, role: controlplane, site: home}
    allow_unsafe: true
"""

RETURN = r"""
etcd_members:
  description: Number of etcd members (control-plane nodes).
  returned: success
  type: int
  sample: 3
quorum:
  description: Members etcd needs to make progress, a strict majority.
  returned: success
  type: int
  sample: 2
tolerated_failures:
  description: Members that may fail while etcd keeps quorum.
  returned: success
  type: int
  sample: 1
sites:
  description: The sites of the nodes, sorted.
  returned: success
  type: list
  elements: str
  sample: [home, vps]
failure_modes:
  description: One row per failure scenario, single nodes first, then whole sites.
  returned: success
  type: list
  elements: dict
  contains:
    scenario:
      description: What fails, in words.
      type: str
      sample: site vps down
    kind:
      description: V(node) for a single node, V(site) for a whole site.
      type: str
      sample: site
    nodes_down:
      description: Names of the nodes down in this scenario, sorted.
      type: list
      elements: str
      sample: [vps-0, vps-1]
    etcd_members_up:
      description: etcd members still up.
      type: int
      sample: 1
    etcd_quorum:
      description: Whether etcd keeps quorum.
      type: bool
      sample: false
    kubernetes_api:
      description: Whether the Kubernetes API keeps serving (it needs etcd quorum).
      type: bool
      sample: false
    ingress:
      description: Whether a node at an ingress site is still up.
      type: bool
      sample: false
    notes:
      description: What the scenario means for an operator.
      type: str
      sample: "etcd loses quorum: 1 of 3 members up, 2 needed; ..."
summary:
  description: The failure-mode table as fixed-width text lines, for display.
  returned: success
  type: list
  elements: str
failure:
  description: The structured cause of a failure (C(reason) V(bad_input) or V(unsafe_topology), C(message)).
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._topology import analyse, render_table


def check_topology(module):
    result = analyse(module.params['nodes'], module.params['ingress_sites'], module.params['allow_unsafe'])
    for warning in result.pop('warnings'):
        module.warn(warning)
    return dict(changed=False, summary=render_table(result), **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                role=dict(type='str', required=True, choices=['controlplane', 'worker']),
                site=dict(type='str', required=True),
            )),
            ingress_sites=dict(type='list', elements='str', default=[]),
            allow_unsafe=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    run(module, check_topology)


if __name__ == '__main__':
    main()
