# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: proxmox_api_options
short_description: The community.proxmox connection options from the PROXMOX_URL-style settings of the inventory
version_added: 0.1.0
description:
  - Turns the Proxmox VE API URL, user and token ID, in the form the P(hybridops.talos.hybrid#inventory) inventory
    reads them (C(PROXMOX_URL), C(PROXMOX_USER), C(PROXMOX_TOKEN_ID)), into the options of the
    C(community.proxmox) modules (C(api_host), C(api_port), C(api_user), C(api_token_id)).
  - The token ID may be the token name or the full C(USER@REALM!NAME); the user is then taken from it.
  - Fails with one sentence on a URL that is not C(https://host[:port]) or a token ID of another user.
author:
  - hybridops.talos maintainers (@hybridops)
options:
  _input:
    description: The API URL, for example V(https://pve.example.org:8006); the port defaults to 8006.
    type: str
    required: true
  user:
    description: The user the token belongs to, for example V(provision@pve); may be empty with a full token ID.
    type: str
    required: true
  token_id:
    description: The token name, or the full token ID V(USER@REALM!NAME).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the VMs with the inventory's credentials
  community.proxmox.proxmox_vm_info:
    api_host: "{{ _api.api_host }}"
    api_port: "{{ _api.api_port }}"
    api_user: "{{ _api.api_user }}"
    api_token_id: "{{ _api.api_token_id }}"
    api_token_secret: "{{ lookup('ansible.builtin.env', 'PROXMOX_TOKEN_SECRET') }}"
  vars:
    _api: >-
      {{ lookup('ansible.builtin.env', 'PROXMOX_URL') | hybridops.talos.proxmox_api_options(
           lookup('ansible.builtin.env', 'PROXMOX_USER'), lookup('ansible.builtin.env', 'PROXMOX_TOKEN_ID')) }}
"""

RETURN = r"""
_value:
  description: The connection options of the C(community.proxmox) modules.
  type: dict
  contains:
    api_host:
      description: The host name or address of the API.
      type: str
    api_port:
      description: The port of the API.
      type: int
    api_user:
      description: The user of the token.
      type: str
    api_token_id:
      description: The token name alone, as C(community.proxmox) wants it.
      type: str
"""

import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

URL_NAME = 'proxmox_nodes_api_url (PROXMOX_URL)'


def _shown(url):
    """The URL for an error message, without any user:password in it."""
    return re.sub(r'//[^/@]*@', '//***@', str(url))


def proxmox_api_options(url, user, token_id):
    try:
        parts = urlsplit(str(url or ''))
        port = parts.port or 8006
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme != 'https' or not parts.hostname:
        raise AnsibleFilterError('%s must be an https:// URL such as https://pve.example.org:8006, got %r.'
                                 % (URL_NAME, _shown(url)))
    if parts.username or parts.password or parts.query or parts.path.strip('/') not in ('', 'api2/json'):
        raise AnsibleFilterError('%s must be https://host or https://host:port: community.proxmox takes no '
                                 'credentials, path or query in it, got %r.' % (URL_NAME, _shown(url)))
    token_user, separator, name = str(token_id or '').partition('!')
    if separator:
        if user and user != token_user:
            raise AnsibleFilterError('proxmox_nodes_api_token_id (PROXMOX_TOKEN_ID) %r belongs to %s, not to '
                                     'proxmox_nodes_api_user (PROXMOX_USER) %s.' % (token_id, token_user, user))
        user = token_user
    else:
        name = token_user
    if not user or not name:
        raise AnsibleFilterError('the Proxmox API token needs a user and a name: set proxmox_nodes_api_user '
                                 '(PROXMOX_USER) and proxmox_nodes_api_token_id (PROXMOX_TOKEN_ID), or the full '
                                 'token ID USER@REALM!NAME.')
    return {'api_host': parts.hostname, 'api_port': port, 'api_user': user, 'api_token_id': name}


class FilterModule:
    def filters(self):
        return {'proxmox_api_options': proxmox_api_options}
