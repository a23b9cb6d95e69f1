# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: planned_nodes
short_description: The planned Talos nodes of the Hetzner server and Proxmox VM lists
version_added: 0.1.0
description:
  - Turns the server list of the P(hybridops.talos.hcloud_nodes#role) role and the VM list of the
    P(hybridops.talos.proxmox_nodes#role) role into one node list with name, role, site and addresses, the
    shape the preflight checks take, before any machine exists.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The planned Hetzner servers (C(hcloud_nodes_servers)).
    type: list
    elements: dict
    required: true
  proxmox_vms:
    description: The planned Proxmox VMs (C(proxmox_nodes_vms)).
    type: list
    elements: dict
    default: []
  addresses:
    description: The Hetzner servers' public IPv4 by name (the fact C(hcloud_nodes_addresses)).
    type: dict
    default: {}
  hcloud_site:
    description: The site of the Hetzner servers (the inventory's C(hcloud_site)).
    type: str
    default: vps
  proxmox_site:
    description: The site of the Proxmox VMs (the inventory's C(proxmox_site)).
    type: str
    default: home
"""

EXAMPLES = r"""
- name: Check the planned topology before anything exists
  ansible.builtin.include_role:
    name: hybridops.talos.preflight
  vars:
    preflight_nodes: "{{ hcloud_nodes_servers | hybridops.talos.planned_nodes(proxmox_nodes_vms) }}"
"""

RETURN = r"""
_value:
  description: One dictionary per node with C(name), C(role), C(site) and C(addresses).
  type: list
  elements: dict
"""

from ansible_collections.hybridops.talos.plugins.plugin_utils._provision import planned_nodes


class FilterModule:
    def filters(self):
        return {'planned_nodes': planned_nodes}
