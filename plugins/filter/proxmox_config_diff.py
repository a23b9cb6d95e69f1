# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: proxmox_config_diff
short_description: The settings of a Proxmox VM that differ from the desired ones
version_added: 0.1.0
description:
  - Compares a VM configuration as Proxmox VE stores it (for example the C(config) of
    M(community.proxmox.proxmox_vm_info)) with desired settings, in PVE's own terms.
  - Tags compare as a set (PVE reorders them), the agent as enabled or not, numbers as numbers.
  - Returns only the keys that differ, with their desired values, so an update touches nothing else.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The current VM configuration.
    type: dict
    required: true
  desired:
    description: Desired settings; keys C(cores), C(memory), C(tags) (list), C(ipconfig0), C(nameserver), C(agent) (bool).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Update only what differs
  community.proxmox.proxmox_kvm:
    vmid: 101
    node: pve1
    update: true
    cores: "{{ _changes.cores | default(omit) }}"
  vars:
    _changes: "{{ vm_config | hybridops.talos.proxmox_config_diff({'cores': 4, 'tags': ['talos-worker']}) }}"
"""

RETURN = r"""
_value:
  description: The keys that differ, with their desired values; empty when the VM is as desired.
  type: dict
"""

from ansible_collections.hybridops.talos.plugins.module_utils._pveconfig import config_diff


class FilterModule:
    def filters(self):
        return {'proxmox_config_diff': config_diff}
