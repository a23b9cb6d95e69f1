# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: kubespan_problems
short_description: Refuse machine-config patches that turn KubeSpan off behind a closed firewall
version_added: 0.1.0
description:
  - With the Hetzner Cloud Firewall letting 6443/tcp and 50001/tcp in only from the admin networks, nodes
    outside those networks reach the control planes only over KubeSpan, which needs cluster discovery.
  - Returns one sentence for every patch (given as a mapping) that turns KubeSpan or discovery off.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The machine-config patches of the cluster and of each role.
    type: list
    elements: raw
    required: true
  firewall_closed:
    description: Whether the firewall is closed to the world for 6443/tcp and 50001/tcp (nothing to check otherwise).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Keep KubeSpan on behind the closed firewall
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join(' ') }}"
  vars:
    _problems: "{{ (talos_cluster_patches + talos_cluster_worker_patches) | hybridops.talos.kubespan_problems }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem, empty when KubeSpan and discovery stay on.
  type: list
  elements: str
"""

from ansible_collections.hybridops.talos.plugins.plugin_utils._provision import kubespan_problems


class FilterModule:
    def filters(self):
        return {'kubespan_problems': kubespan_problems}
