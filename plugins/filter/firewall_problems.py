# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: firewall_problems
short_description: Check the networks a Hetzner Cloud Firewall opens the Talos and Kubernetes APIs to
version_added: 0.1.0
description:
  - Checks the admin networks that may reach the Talos API (50000/tcp) and the Kubernetes API (6443/tcp)
    of the Hetzner servers.
  - An empty list is a problem (there is no default on purpose), so is an entry that is not a network in
    CIDR notation, and so is the whole internet (V(0.0.0.0/0) or V(::/0)) unless O(allow_world) is true,
    which turns it into a warning.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The admin networks in CIDR notation.
    type: list
    elements: str
    required: true
  allow_world:
    description: Accept V(0.0.0.0/0) and V(::/0), with a warning instead of a problem.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Refuse a firewall open to the world
  ansible.builtin.assert:
    that: _check.problems | length == 0
    fail_msg: "{{ _check.problems | join(' ') }}"
  vars:
    _check: "{{ ['198.51.100.0/24'] | hybridops.talos.firewall_problems }}"
"""

RETURN = r"""
_value:
  description: What is wrong and what deserves a warning, one sentence each.
  type: dict
  contains:
    problems:
      description: Reasons to stop before anything is created.
      type: list
      elements: str
    warnings:
      description: Things that are allowed but risky.
      type: list
      elements: str
"""

from ansible_collections.hybridops.talos.plugins.plugin_utils._provision import firewall_problems as _firewall_problems


def firewall_problems(admin_cidrs, allow_world=False):
    problems, warnings = _firewall_problems(admin_cidrs, allow_world)
    return {'problems': problems, 'warnings': warnings}


class FilterModule:
    def filters(self):
        return {'firewall_problems': firewall_problems}
