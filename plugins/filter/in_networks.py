# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: in_networks
short_description: Whether an address lies in one of the given networks
version_added: 0.1.0
description:
  - Tells whether a node address (V(host) or V(host:port)) lies in one of the networks, for example whether a node may
    take its first config over Talos' unauthenticated maintenance connection (only on the home networks).
  - A DNS name is in no network.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The address, V(host) or V(host:port).
    type: str
    required: true
  networks:
    description: The networks in CIDR notation.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse an insecure apply outside the home networks
  ansible.builtin.debug:
    msg: "{{ '10.10.0.20' | hybridops.talos.in_networks(['10.10.0.0/24']) }}"
"""

RETURN = r"""
_value:
  description: True when the address lies in one of the networks.
  type: bool
"""

from ansible_collections.hybridops.talos.plugins.plugin_utils._provision import in_networks


class FilterModule:
    def filters(self):
        return {'in_networks': in_networks}
