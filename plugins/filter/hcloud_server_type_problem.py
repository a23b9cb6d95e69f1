# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: hcloud_server_type_problem
short_description: Say why a Hetzner server type cannot be used, naming a current alternative
version_added: 0.1.0
description:
  - Looks a server type up in the Hetzner catalog (the result of M(hetzner.hcloud.server_type_info)).
  - Returns an empty string when the type exists and is not deprecated; otherwise one sentence that
    says what is wrong and, for a deprecated type, names the smallest current type of the same
    architecture and CPU type with at least as many cores and as much memory.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The server type catalog, a list of server type dictionaries.
    type: list
    elements: dict
    required: true
  name:
    description: The server type to check, for example V(cpx31).
    type: str
    required: true
  location:
    description: The location the server goes to; a type deprecated only there counts as deprecated.
    type: str
"""

EXAMPLES = r"""
- name: Refuse a deprecated server type
  ansible.builtin.assert:
    that: _problem == ''
    fail_msg: "{{ _problem }}"
  vars:
    _problem: "{{ catalog.hcloud_server_type_info | hybridops.talos.hcloud_server_type_problem('cpx31') }}"
"""

RETURN = r"""
_value:
  description: Empty when the type can be used, else one sentence, for example
    C(server type cpx31 is deprecated by Hetzner and will be removed; use cpx32 instead.)
  type: str
"""

from ansible_collections.hybridops.talos.plugins.module_utils._nodeplan import server_type_problem


class FilterModule:
    def filters(self):
        return {'hcloud_server_type_problem': server_type_problem}
