# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mtu_budget
short_description: The MTU budget of the cluster per site - underlay, KubeSpan, Cilium, pods
version_added: 0.2.0
description:
  - Computes the MTU of every layer from the underlay MTU, the way the machine configs, the Cilium values and
    M(hybridops.talos.kubespan_verify) use them - KubeSpan (WireGuard) is the underlay MTU minus 80 on every node,
    Cilium's devices sit on KubeSpan and get the KubeSpan MTU, pods get that minus 50 (VXLAN).
  - Checks each site - a site whose underlay MTU is smaller than the cluster's leaves no room for the KubeSpan MTU the
    configs get - and an explicit Cilium MTU against the KubeSpan MTU. Each problem is a sentence with the numbers.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The cluster's underlay MTU, the smallest MTU on the way between the sites.
    type: int
    required: true
  nodes:
    description:
      - The nodes, each a dictionary with C(site) and optionally C(underlay_mtu) (that node's underlay MTU; the
        cluster's when missing or null).
    type: list
    elements: dict
    default: []
  cilium:
    description: Cilium's C(MTU) value when it is set explicitly; null means the KubeSpan MTU.
    type: int
"""

EXAMPLES = r"""
- name: Fail before any change when the MTUs do not fit together
  ansible.builtin.assert:
    that: _budget.ok
    fail_msg: "{{ _budget.problems | join(' ') }}"
  vars:
    _budget: "{{ 1450 | hybridops.talos.mtu_budget(nodes=[{'site': 'vps', 'underlay_mtu': 1450}, {'site': 'home'}]) }}"
"""

RETURN = r"""
_value:
  description: The budget.
  type: dict
  contains:
    underlay:
      description: The cluster's underlay MTU.
      type: int
    kubespan:
      description: The KubeSpan MTU of every node (underlay - 80).
      type: int
    cilium:
      description: Cilium's C(MTU) value (its devices' MTU).
      type: int
    pod:
      description: The MTU of pod routes (Cilium's MTU - 50).
      type: int
    sites:
      description: One row per site with C(site), C(underlay), C(kubespan), C(kubespan_max), C(cilium), C(pod), C(ok), C(problems).
      type: list
      elements: dict
    lines:
      description: The rows as a text table.
      type: list
      elements: str
    ok:
      description: Whether everything fits.
      type: bool
    problems:
      description: One sentence per problem, with the numbers.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.mtu import budget, budget_lines


def _int(value, what):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError('mtu_budget: %s %r is not a number' % (what, value)) from None


def mtu_budget(underlay, nodes=None, cilium=None):
    nodes = [dict(node, underlay_mtu=None if node.get('underlay_mtu') in (None, '') else _int(node['underlay_mtu'], 'underlay_mtu'))
             for node in nodes or []]
    report = budget(_int(underlay, 'the underlay MTU'), nodes, None if cilium in (None, '') else _int(cilium, 'cilium'))
    report['lines'] = budget_lines(report)
    return report


class FilterModule:
    def filters(self):
        return {'mtu_budget': mtu_budget}
