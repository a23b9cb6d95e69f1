# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: proxmox_vm_state
short_description: What a planned Proxmox VM needs compared with the VM as it is
version_added: 0.1.0
description:
  - Computes the desired settings of one VM planned for the P(hybridops.talos.proxmox_nodes#role) role (its own
    values over the defaults) and compares them with the VM's configuration as Proxmox VE stores it, in PVE's own
    terms (see P(hybridops.talos.proxmox_config_diff#filter)).
  - Reads the size of the system disk in whatever unit PVE wrote it (C(K), C(M), C(G), C(T)).
  - Fails, naming the VM and its disks, when the VM has no system disk with a size.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description:
      - The planned VM, as in O(hybridops.talos.proxmox_nodes#role:main:proxmox_nodes_vms)
        (C(name), C(role), C(node), C(vmid), C(ip), optionally C(cores), C(memory), C(disk_size), C(tags)).
    type: dict
    required: true
  current:
    description:
      - The VM as it is, with C(status) and C(config), for example one entry of C(proxmox_vms) from
        M(community.proxmox.proxmox_vm_info) with O(community.proxmox.proxmox_vm_info#module:config=current).
    type: dict
    required: true
  settings:
    description:
      - The defaults and the shared settings.
      - C(cores), C(memory) (MiB) and C(disk_size) (GiB) of VMs that name none; C(disk), the system disk
        (for example C(scsi0)); C(role_tags), the tag of each role; C(extra_tags); C(subnet), the CIDR of the
        static addresses; C(gateway) and C(nameserver) for the cloud-init drive.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Compare a VM with its plan
  ansible.builtin.set_fact:
    vm_state: >-
      {{ {'name': 'home-w-0', 'role': 'worker', 'node': 'pve1', 'vmid': 620, 'ip': '10.10.0.20'}
         | hybridops.talos.proxmox_vm_state(vm_info.proxmox_vms | first, {
             'cores': 4, 'memory': 8192, 'disk': 'scsi0', 'disk_size': 40,
             'role_tags': {'controlplane': 'talos-controlplane', 'worker': 'talos-worker'}, 'extra_tags': [],
             'subnet': '10.10.0.0/24', 'gateway': '10.10.0.1', 'nameserver': '10.10.0.1'}) }}
"""

RETURN = r"""
_value:
  description: What the VM needs.
  type: dict
  contains:
    name:
      description: The VM name.
      type: str
    vmid:
      description: The VMID.
      type: int
    node:
      description: The PVE node.
      type: str
    status:
      description: The VM status now, for example V(running) or V(stopped); V(unknown) when not given.
      type: str
    changes:
      description:
        - The settings that differ, with their desired values (keys C(cores), C(memory), C(tags), C(ipconfig0),
          C(nameserver), C(agent)); empty when the VM is as planned.
      type: dict
    disk_gib:
      description: The size of the system disk now, in GiB.
      type: float
    want_disk_gib:
      description: The planned size of the system disk, in GiB.
      type: int
    grow_disk:
      description: Whether the system disk is smaller than planned (PVE only grows disks).
      type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hybridops.talos.plugins.module_utils._pveconfig import vm_state


def proxmox_vm_state(vm, current, settings):
    try:
        return vm_state(vm, current, settings)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError('proxmox_vm_state: the planned VM or the settings lack %s.' % exc) from None


class FilterModule:
    def filters(self):
        return {'proxmox_vm_state': proxmox_vm_state}
