# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: endpoint_problems
short_description: Check that the Kubernetes endpoint points at the Hetzner control planes
version_added: 0.1.0
description:
  - Checks the Kubernetes endpoint every node is configured with (an C(https://) URL with a DNS name or an
    address).
  - An address must be one of the addresses of the control planes of O(site) (the Hetzner site); a DNS name
    is resolved on the controller and every address it resolves to must be one. A name that does not
    resolve is a problem that names the addresses to point it at.
  - An address of another node (a home address) is refused with that node's name, since nodes and clients
    outside the home network could not reach it.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The Kubernetes endpoint, for example V(https://k8s.example.net:6443).
    type: str
    required: true
  nodes:
    description:
      - The planned or inventory nodes, each a dictionary with C(name), C(role) (V(controlplane) or V(worker)),
        C(site) and C(addresses) (its public and private addresses).
    type: list
    elements: dict
    required: true
  site:
    description: The site whose control planes the endpoint must name.
    type: str
    default: vps
"""

EXAMPLES = r"""
- name: Refuse an endpoint at home
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join(' ') }}"
  vars:
    _problems: >-
      {{ 'https://k8s.example.net:6443' | hybridops.talos.endpoint_problems([
           {'name': 'vps-0', 'role': 'controlplane', 'site': 'vps', 'addresses': ['203.0.113.10']},
           {'name': 'home-cp-0', 'role': 'controlplane', 'site': 'home', 'addresses': ['10.10.0.10']}]) }}
"""

RETURN = r"""
_value:
  description: One sentence per problem, empty when the endpoint names only Hetzner control planes.
  type: list
  elements: str
"""

from ansible_collections.hybridops.talos.plugins.plugin_utils._provision import endpoint_problems as _endpoint_problems


def endpoint_problems(endpoint, nodes, site='vps'):
    return _endpoint_problems(endpoint, nodes, site)


class FilterModule:
    def filters(self):
        return {'endpoint_problems': endpoint_problems}
