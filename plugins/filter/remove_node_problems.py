# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: remove_node_problems
short_description: List why a node cannot be removed now, before anything is written
version_added: 0.2.0
description:
  - Used by C(playbooks/remove-node.yml) (the C(remove) entry point of the C(talos_cluster) role) before it drains
    anything.
  - For a control plane, judges etcd after its member is gone, from what M(hybridops.talos.talos_etcd_info) reported.
    Refused when no member would be left, or when fewer healthy members than the new quorum would be left.
    Also refused when an even member count would be left (it tolerates no more failures than one member fewer),
    unless O(allow_unsafe=true).
  - Refuses to delete a machine that is still in the plan, since C(site.yml) would create it again.
  - Returns one sentence per problem; an empty list means the node can be removed.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The node's inventory name.
    type: str
    required: true
  role:
    description: The node's Talos role, V(controlplane) or V(worker).
    type: str
    required: true
  etcd:
    description:
      - The result of M(hybridops.talos.talos_etcd_info) over the control planes (C(members), C(statuses)); only read
        for a control plane.
    type: dict
    default: {}
  address:
    description: The node's Talos API address, the key of its entry in C(statuses).
    type: str
    default: ''
  allow_unsafe:
    description: Accept leaving an even number of etcd members.
    type: bool
    default: false
  planned:
    description: The names of the machines in the plan.
    type: list
    elements: str
    default: []
  delete_machine:
    description: Whether the machine is to be deleted too.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Refuse a removal that would break etcd quorum
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join(' ') }}"
  vars:
    _problems: "{{ 'home-cp-0' | hybridops.talos.remove_node_problems(role='controlplane', etcd=etcd_info, address='10.10.0.10') }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem, empty when the node can be removed.
  type: list
  elements: str
"""


def _healthy_ids(statuses):
    return {s.get('member_id') for s in (statuses or {}).values()
            if isinstance(s, dict) and s.get('member_id') and not s.get('error') and not s.get('errors')}


def etcd_problems(name, etcd, address, allow_unsafe):
    members = etcd.get('members') or []
    statuses = etcd.get('statuses') or {}
    own = (statuses.get(address) or {}).get('member_id') or next((m.get('id') for m in members if m.get('hostname') == name), None)
    if own is None or own not in {m.get('id') for m in members}:
        return []  # not an etcd member (any more): nothing of etcd's to lose
    left = len(members) - 1
    if left == 0:
        return ['%s runs the last etcd member: removing it ends the cluster (restore.yml builds one from a backup).' % name]
    healthy = len(_healthy_ids(statuses) - {own})
    quorum = left // 2 + 1
    if healthy < quorum:
        unhealthy = sorted(m.get('hostname') or m.get('id') for m in members
                           if m.get('id') != own and m.get('id') not in _healthy_ids(statuses))
        return ['Removing %s would leave %d healthy of %d etcd members, fewer than the quorum of %d, and etcd would stop: bring '
                '%s back first.' % (name, healthy, left, quorum, ', '.join(unhealthy) or 'the other members')]
    if left % 2 == 0 and not allow_unsafe:
        return ['Removing %s would leave %d etcd members, an even count that tolerates no more failures than %d: add a control '
                'plane through site.yml first, or pass remove_node_allow_unsafe=true to accept it.' % (name, left, left - 1)]
    return []


def remove_node_problems(name, role, etcd=None, address='', allow_unsafe=False, planned=None, delete_machine=False):
    problems = []
    if not isinstance(name, str) or not name:
        return ['remove_node_name must name one node of the inventory.']
    if role == 'controlplane':
        problems += etcd_problems(name, etcd or {}, address, allow_unsafe)
    if delete_machine and name in (planned or ()):
        problems.append('%s is still in the plan: take it out of hcloud_nodes_servers or proxmox_nodes_vms first, or site.yml '
                        'would create it again.' % name)
    return problems


class FilterModule:
    def filters(self):
        return {'remove_node_problems': remove_node_problems}
