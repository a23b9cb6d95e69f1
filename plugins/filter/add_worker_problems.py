# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: add_worker_problems
short_description: List why the named machines cannot be added as workers, before anything is written
version_added: 0.2.0
description:
  - Used by C(playbooks/add-worker.yml) before it creates or configures anything.
  - Each name must be a worker of the plan (the planned nodes from P(hybridops.talos.planned_nodes#filter) or any list of
    dictionaries with C(name) and C(role)).
  - Control planes are refused, named or only planned - a new control plane changes the etcd member count and its
    quorum, so it goes through C(site.yml), whose topology check guards quorum.
  - Returns one sentence per problem; an empty list means the workers can be added.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The names of the workers to add, a list or a comma-separated string.
    type: raw
    required: true
  plan:
    description: The planned nodes, each with C(name) and C(role) (V(controlplane) or V(worker)).
    type: list
    elements: dict
    required: true
  running:
    description: The names of the machines that exist already (the inventory's hosts).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse a control plane or an unplanned name before anything is created
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join(' ') }}"
  vars:
    _problems: "{{ add_worker_names | hybridops.talos.add_worker_problems(plan, running=groups['all']) }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem, empty when the workers can be added.
  type: list
  elements: str
"""


def worker_names(names):
    """The names as a list: a comma-separated string (-e add_worker_names=a,b) or a list."""
    if isinstance(names, str):
        return [name.strip() for name in names.split(',') if name.strip()]
    if isinstance(names, (list, tuple)) and all(isinstance(name, str) for name in names):
        return list(names)
    return None


def add_worker_problems(names, plan, running=None):
    wanted = worker_names(names)
    if not wanted:
        return ['add_worker_names must name at least one worker of the plan (a list, or names separated by commas).']
    planned = {node.get('name'): node for node in plan or ()}
    running = set(running or ())
    problems = []
    for name in wanted:
        node = planned.get(name)
        if node is None:
            problems.append('%s is not in the plan: add it to hcloud_nodes_servers or proxmox_nodes_vms with role worker first.' % name)
        elif node.get('role') != 'worker':
            problems.append('%s is a control plane: adding one changes the etcd member count and quorum, so control planes are '
                            'added through site.yml, whose topology check guards quorum; add-worker.yml adds workers only.' % name)
    waiting = sorted(n['name'] for n in plan or () if n.get('role') == 'controlplane' and n.get('name') not in running
                     and n.get('name') not in wanted)
    if waiting:
        problems.append('The plan has control plane(s) %s that do not run yet, which creating the workers would create too: '
                        'add control planes through site.yml, or take them out of the plan.' % ', '.join(waiting))
    return problems


class FilterModule:
    def filters(self):
        return {'add_worker_problems': add_worker_problems}
