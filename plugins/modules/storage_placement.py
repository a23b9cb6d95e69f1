#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_placement
short_description: Prove that each site's storage stays on that site in a hybrid cluster
version_added: 0.2.0
description:
  - Reads the nodes, C(CSINode) and C(CSIDriver) objects, StorageClasses and the CSI node plugins' pods, and checks
    the placement rules of a hybrid cluster, where a Hetzner volume cannot attach to a Proxmox VM and a Proxmox
    volume on local ZFS is bound to one PVE node.
  - Each CSI driver of O(drivers) must be installed, registered on every node of its sites and on no other, and
    its node plugin must have no pod elsewhere (the Hetzner chart's default affinity would put one on every Proxmox
    node, where it crashes).
  - Each StorageClass of such a driver must admit, through C(allowedTopologies) matched against node labels as the
    scheduler matches them, only nodes of the driver's sites, and at least one; so a claim of the class, and every
    pod that uses it, can only be scheduled on that site.
  - At most one StorageClass may be the default.
  - Returns the table of classes, sites and nodes; fails naming each broken rule and the object that breaks it.
    Changes nothing.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.action_group
options:
  drivers:
    description: The site-bound CSI drivers and the sites (values of O(site_label)) each belongs to.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the CSI driver, as StorageClasses name their provisioner, for example V(csi.hetzner.cloud).
        type: str
        required: true
      sites:
        description: The sites whose nodes the driver serves.
        type: list
        elements: str
        required: true
      node_plugin:
        description:
          - The driver's node plugin DaemonSet as V(namespace/name). Known for V(csi.hetzner.cloud)
            (V(kube-system/hcloud-csi-node)) and V(csi.proxmox.sinextra.dev) (V(csi-proxmox/proxmox-csi-plugin-node)).
        type: str
  site_label:
    description: Node label that names a node's site (M(hybridops.talos.talos_machineconfig) sets it).
    type: str
    default: hybridops.io/site
attributes:
  check_mode:
    description: The module only reads.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
seealso:
  - module: hybridops.talos.hcloud_csi
"""

EXAMPLES = r"""
- name: Check that Hetzner and Proxmox storage stay on their sites
  hybridops.talos.storage_placement:
    kubeconfig: "{{ kubeconfig }}"
    drivers:
      - name: csi.hetzner.cloud
        sites: [fsn]
      - name: csi.proxmox.sinextra.dev
        sites: [home]
  register: placement

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ placement.report }}"
"""

RETURN = r"""
changed:
  description: Always false; the module only reads.
  returned: always
  type: bool
table:
  description:
    - One entry per StorageClass - C(storage_class), C(provisioner), C(default), C(binding) (volume binding mode),
      C(sites) and C(nodes) (the nodes its volumes and their pods can go to).
  returned: always
  type: list
  elements: dict
report:
  description: The table as lines of text, with a header.
  returned: always
  type: list
  elements: str
violations:
  description: The broken rules, one sentence each; the task fails when there is any.
  returned: always
  type: list
  elements: str
failure:
  description: The structured cause of a failure.
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils import _placement
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient, Resource
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError

NODES = Resource('v1', 'Node', 'nodes', False)
PODS = Resource('v1', 'Pod', 'pods', True)
DAEMON_SETS = Resource('apps/v1', 'DaemonSet', 'daemonsets', True)
CSI_NODES = Resource('storage.k8s.io/v1', 'CSINode', 'csinodes', False)
CSI_DRIVERS = Resource('storage.k8s.io/v1', 'CSIDriver', 'csidrivers', False)
STORAGE_CLASSES = Resource('storage.k8s.io/v1', 'StorageClass', 'storageclasses', False)
KNOWN_NODE_PLUGINS = {'csi.hetzner.cloud': 'kube-system/hcloud-csi-node',
                      'csi.proxmox.sinextra.dev': 'csi-proxmox/proxmox-csi-plugin-node'}


def argument_spec():
    return dict(
        KUBE_ARGS,
        drivers=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            sites=dict(type='list', elements='str', required=True),
            node_plugin=dict(type='str'),
        )),
        site_label=dict(type='str', default='hybridops.io/site'),
    )


def plugin_pods(client, driver):
    """The pods of the driver's node plugin DaemonSet; None when there is none to look at."""
    where = driver.get('node_plugin') or KNOWN_NODE_PLUGINS.get(driver['name'])
    if not where:
        return None
    namespace, _sep, name = where.partition('/')
    if not name:
        raise KubeError('bad_input', 'node_plugin %r of driver %s is not namespace/name' % (where, driver['name']),
                        call='Checking the options', option='drivers')
    daemon_set = client.get(DAEMON_SETS, name, namespace)
    if daemon_set is None:
        return []
    selector = ','.join('%s=%s' % item for item in sorted(((daemon_set.get('spec') or {}).get('selector') or {})
                                                          .get('matchLabels', {}).items()))
    return client.list(PODS, namespace, label_selector=selector or None)


def body(module):
    params = module.params
    client = KubeClient.from_params(params)
    table, violations, warnings = _placement.judge(
        params['drivers'], client.list(NODES), client.list(CSI_NODES), client.list(CSI_DRIVERS), client.list(STORAGE_CLASSES),
        {d['name']: plugin_pods(client, d) for d in params['drivers']}, params['site_label'])
    for warning in warnings:
        module.warn(warning)
    result = dict(changed=False, table=table, report=_placement.render(table), violations=violations)
    if violations:
        raise KubeError('placement_violated', '%d placement rule(s) broken: %s' % (len(violations), '; '.join(violations)),
                        call='Checking where storage can go', result=result)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, *KUBE_API)
    run(module, body)


if __name__ == '__main__':
    main()
