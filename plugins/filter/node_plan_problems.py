# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: node_plan_problems
short_description: List the problems of a planned node list before anything is created
version_added: 0.1.0
description:
  - Checks a list of planned nodes for duplicate names, static addresses that are not IP addresses,
    lie outside the subnet, are its network or broadcast address, or are shared by two nodes.
  - Returns one sentence per problem; an empty list means the plan is fine.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The planned nodes, each a dictionary with at least C(name).
    type: list
    elements: dict
    required: true
  subnet:
    description: The subnet in CIDR notation that the static addresses must lie in.
    type: str
    required: true
  key:
    description: The key of each node that holds its static address; nodes without it are skipped.
    type: str
    default: private_ip
"""

EXAMPLES = r"""
- name: Refuse address collisions before creating servers
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join(' ') }}"
  vars:
    _problems: "{{ servers | hybridops.talos.node_plan_problems('10.0.1.0/24') }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem, empty when the plan is fine.
  type: list
  elements: str
"""

from ansible_collections.hybridops.talos.plugins.module_utils._nodeplan import address_problems, duplicate_names


def node_plan_problems(nodes, subnet, key='private_ip'):
    problems = ['node name %s appears more than once.' % name for name in duplicate_names(nodes)]
    return problems + address_problems(nodes, subnet, key)


class FilterModule:
    def filters(self):
        return {'node_plan_problems': node_plan_problems}
