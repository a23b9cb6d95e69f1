# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: proxmox_vm_problems
short_description: List why planned Proxmox VMs cannot be created as asked
version_added: 0.1.0
description:
  - Compares planned VMs with what the Proxmox VE cluster has, before anything is written.
  - Reports an unknown storage, an unknown PVE node, a node without a Talos template (ZFS storage is
    local to a node, so each node needs its own template), a VMID that belongs to another VM, and a
    VM name that exists with another VMID.
  - Returns one sentence per problem; an empty list means the VMs can be created.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The planned VMs, each with C(name), C(node) and C(vmid).
    type: list
    elements: dict
    required: true
  guests:
    description: The cluster's VMs, as M(community.proxmox.proxmox_vm_info) lists them.
    type: list
    elements: dict
    required: true
  nodes:
    description: Names of the PVE nodes.
    type: list
    elements: str
    required: true
  storages:
    description: Names of the storages.
    type: list
    elements: str
    required: true
  storage:
    description: The storage the VMs' disks go to.
    type: str
    required: true
  template_tag:
    description: Tag of the Talos template VMs.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse VMs that cannot be created
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join(' ') }}"
  vars:
    _problems: >-
      {{ vms | hybridops.talos.proxmox_vm_problems(existing.proxmox_vms, ['pve1', 'pve2'],
                                                   ['local-zfs'], 'local-zfs', 'talos-template') }}
"""

RETURN = r"""
_value:
  description: One sentence per problem, empty when the VMs can be created.
  type: list
  elements: str
"""

from ansible_collections.hybridops.talos.plugins.module_utils._nodeplan import proxmox_vm_problems


class FilterModule:
    def filters(self):
        return {'proxmox_vm_problems': proxmox_vm_problems}
