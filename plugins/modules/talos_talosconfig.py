#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_talosconfig
short_description: Write a talosconfig with a client certificate for one Talos role
version_added: 0.1.0
description:
  - Writes a talosconfig context whose client certificate is signed by the cluster's OS CA (from a Talos
    secrets bundle), with the role in the subject Organization and extended key usage client auth only
    (Talos refuses a client certificate that also allows server auth).
  - The certificate uses the OS CA's key type (Ed25519 for bundles Talos or this collection made).
  - An existing context is kept while it fits (same CA, signed by it, same role, endpoints and nodes, more than
    O(renew_before_hours) left); otherwise a new certificate is issued. Other contexts in the file are kept.
  - The file is written 0600 in a 0700 folder. No key appears in the result or diff.
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - cryptography
  - PyYAML
options:
  secrets:
    description:
      - The Talos secrets bundle (see M(hybridops.talos.talos_secrets)). Must be mode 0600, in a folder nobody else
        can read or enter (0700).
    type: path
    required: true
  secrets_age_identity:
    description: age identity file that decrypts O(secrets) when it is age-encrypted.
    type: path
  dest:
    description: The talosconfig file to write.
    type: path
    required: true
  context:
    description: Name of the talosconfig context to write; it becomes the current context.
    type: str
    default: talos
  role:
    description: The Talos API role of the certificate.
    type: str
    choices: [os:admin, os:operator, os:reader, os:etcd:backup]
    default: os:admin
  endpoints:
    description:
      - The C(endpoints) of the context (host or host:port, no scheme), which C(talosctl) connects to.
      - The modules of this collection read only the credentials of a talosconfig; they take their endpoints from
        their own O(hybridops.talos.talos_bootstrap#module:endpoints) option.
    type: list
    elements: str
    required: true
  nodes:
    description: The C(nodes) of the context, the default targets of C(talosctl).
    type: list
    elements: str
    default: []
  validity_hours:
    description: How long a new certificate is valid, in hours (Talos' default is one year).
    type: int
    default: 8760
  renew_before_hours:
    description: Issue a new certificate when the current one has less than this many hours left.
    type: int
    default: 720
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written; RV(ignore:changed) says whether a certificate would be issued.
  diff_mode:
    support: full
    description: The diff shows the talosconfig with the key and certificates replaced by C(<redacted>).
  idempotent:
    support: full
    description: A context that still fits is kept, so a second run reports RV(ignore:changed=false).
  action_group:
    support: none
    description: It does not reach the Talos API, so it is in no action group.
    membership: []
seealso:
  - module: hybridops.talos.talos_secrets
"""

EXAMPLES = r"""
- name: An admin talosconfig for the operator
  hybridops.talos.talos_talosconfig:
    secrets: ~/.local/share/hybridops-talos/hybrid/secrets.yaml
    dest: ~/.local/share/hybridops-talos/hybrid/talosconfig
    context: hybrid
    endpoints: [203.0.113.10, 203.0.113.11]

- name: A least-privilege talosconfig for etcd backups, valid for 30 days
  hybridops.talos.talos_talosconfig:
    secrets: ~/.local/share/hybridops-talos/hybrid/secrets.yaml
    dest: ~/.local/share/hybridops-talos/hybrid/talosconfig-backup
    context: hybrid-backup
    role: os:etcd:backup
    endpoints: [203.0.113.10]
    nodes: [203.0.113.10]
    validity_hours: 720
    renew_before_hours: 168
"""

RETURN = r"""
dest:
  description: The talosconfig file.
  returned: always
  type: str
context:
  description: The context written or kept.
  returned: success
  type: str
  sample: hybrid
role:
  description: The role in the certificate.
  returned: success
  type: str
  sample: os:admin
fingerprint:
  description: SHA-256 fingerprint of the client certificate.
  returned: success
  type: str
not_after:
  description: When the client certificate expires (UTC).
  returned: success
  type: str
  sample: "2026-11-26T20:00:00Z"
reasons:
  description: Why a new certificate was issued (empty when the context was kept).
  returned: success
  type: list
  elements: str
failure:
  description: The structured cause of a failure (C(reason), C(node), C(call), C(status), C(message), details).
  returned: failed
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import requires
from ansible_collections.hybridops.talos.plugins.module_utils._talos import files, redact
from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets as talos_secrets
from ansible_collections.hybridops.talos.plugins.module_utils._talos import talosconfig as tc
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError


def write_talosconfig(module):
    params = module.params
    dest = params['dest']
    if params['validity_hours'] <= 0 or params['renew_before_hours'] < 0 or params['renew_before_hours'] >= params['validity_hours']:
        raise TalosConfigError('validity_hours must be positive and more than renew_before_hours (%d and %d given).'
                               % (params['validity_hours'], params['renew_before_hours']), reason='bad_input')
    endpoints = tc.check_endpoints(params['endpoints'], 'endpoints')
    if not endpoints:
        raise TalosConfigError('endpoints is empty: give at least one Talos API endpoint.', reason='bad_input', option='endpoints')
    nodes = tc.check_endpoints(params['nodes'], 'nodes')
    data = files.read_file(params['secrets'], 'secrets bundle', private=True, age_identity=params['secrets_age_identity'],
                           secrets_folder=True)
    bundle = talos_secrets.parse_bundle(data, params['secrets'])
    secret_values = talos_secrets.secret_values(bundle)
    redact.register_secrets(module, secret_values)

    existing, before = None, None
    if os.path.exists(dest):
        files.check_private_file(dest, 'talosconfig')
        with open(dest, 'rb') as handle:
            before = handle.read()
        existing = tc.parse_talosconfig(before, dest)
        for context in existing['contexts'].values():
            if isinstance(context, dict) and context.get('key'):
                redact.register_secrets(module, {context['key']})
    current = (existing or {}).get('contexts', {}).get(params['context'])
    reasons = tc.why_renew(current, bundle, params['role'], endpoints, nodes, tc.hours(params['renew_before_hours']))
    if not reasons and existing.get('context') == params['context']:
        result = {'changed': False, 'dest': dest, 'context': params['context'], 'reasons': []}
        result.update(tc.describe_context(current))
        return result
    if reasons:
        context = tc.build_context(bundle, params['role'], endpoints, nodes, tc.hours(params['validity_hours']))
    else:
        context = current
        reasons = ['the current context was %s' % existing.get('context')]
    redact.register_secrets(module, {context['key']})
    after = tc.render_talosconfig(existing, params['context'], context)
    if not module.check_mode:
        files.write_private_file(dest, after, 'talosconfig')
    result = {'changed': True, 'dest': dest, 'context': params['context'], 'reasons': reasons}
    result.update(tc.describe_context(context))
    if module._diff:
        old_certs = {c.get('crt', '') for c in (existing or {}).get('contexts', {}).values() if isinstance(c, dict)}
        hidden = secret_values | {context['key'], context['crt']} | old_certs
        result['diff'] = redact.text_diff(dest, before.decode('utf-8', 'replace') if before else None,
                                          after.decode('utf-8'), hidden)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            secrets=dict(type='path', required=True, no_log=False),
            secrets_age_identity=dict(type='path', no_log=False),
            dest=dict(type='path', required=True),
            context=dict(type='str', default='talos'),
            role=dict(type='str', default='os:admin', choices=['os:admin', 'os:operator', 'os:reader', 'os:etcd:backup']),
            endpoints=dict(type='list', elements='str', required=True),
            nodes=dict(type='list', elements='str', default=[]),
            validity_hours=dict(type='int', default=8760),
            renew_before_hours=dict(type='int', default=720),
        ),
        supports_check_mode=True,
    )
    requires(module, 'cryptography', 'PyYAML')
    run(module, write_talosconfig)


if __name__ == '__main__':
    main()
