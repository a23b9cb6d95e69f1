#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_certificates_info
short_description: Report when the cluster's certificates expire, with warnings ahead of time
version_added: 0.2.0
description:
  - Reads the expiry of the CAs in the secrets bundle O(secrets), of the client certificates in the talosconfig
    and the kubeconfig O(kubeconfig) (the ones M(hybridops.talos.talos_talosconfig) and
    M(hybridops.talos.talos_kubeconfig) issue and renew), and of the serving certificates that the Talos API of each
    of O(nodes) and the Kubernetes API server of the kubeconfig present (verified against the talosconfig's and the
    kubeconfig's CA).
  - Warns for each certificate with less than O(warn_before_hours) left, and reports the expired ones. Talos
    renews its serving certificates itself, so one close to its end points at a node that stopped renewing; the
    client certificates are renewed by running M(hybridops.talos.talos_talosconfig) and
    M(hybridops.talos.talos_kubeconfig) again (the talos_cluster role does on every run).
  - A node that cannot be reached is listed in RV(unreachable), not failed. Serving certificates are read directly
    from each node, not through O(endpoints).
  - Only public facts are returned - subject, issuer, fingerprint, expiry; never a key.
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - cryptography
  - PyYAML
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.action_group
options:
  nodes:
    description: Talos API addresses (V(host) or V(host:port)) whose serving certificates to read.
    type: list
    elements: str
    default: []
  secrets:
    description: The secrets bundle whose CAs to read (0600 in a 0700 folder, or age-encrypted).
    type: path
  secrets_age_identity:
    description: age identity file for an encrypted O(secrets).
    type: path
  kubeconfig:
    description: A kubeconfig whose client certificate, and whose API server's serving certificate, to read.
    type: path
  warn_before_hours:
    description: Warn for certificates with fewer hours than this left (720 is 30 days).
    type: int
    default: 720
attributes:
  check_mode:
    support: full
    description: Only reads, so check mode behaves as a normal run.
  diff_mode:
    support: none
    description: Nothing changes.
  idempotent:
    support: full
    description: Never changes anything.
seealso:
  - module: hybridops.talos.talos_talosconfig
  - module: hybridops.talos.talos_kubeconfig
"""

EXAMPLES = r"""
- name: Read every certificate's expiry
  hybridops.talos.talos_certificates_info:
    talosconfig: "{{ secrets_dir }}/talosconfig"
    secrets: "{{ secrets_dir }}/secrets.yaml"
    kubeconfig: "{{ secrets_dir }}/kubeconfig"
    nodes: "{{ groups['talos_controlplane'] | map('extract', hostvars, 'talos_node_ip') | list }}"
  register: certs

- name: Stop a scheduled job when anything expires within a week
  ansible.builtin.assert:
    that: certs.certificates | selectattr('hours_left', 'lt', 168) | list | length == 0
    fail_msg: "{{ certs.expiring + certs.expired }}"
"""

RETURN = r"""
changed:
  description: Always false.
  returned: always
  type: bool
certificates:
  description:
    - One entry per certificate - C(name), C(kind) (ca, client or serving), C(where) (file or node), C(subject),
      C(issuer), C(fingerprint), C(not_after) (UTC) and C(hours_left); soonest to expire first.
  returned: always
  type: list
  elements: dict
expiring:
  description: The certificates with fewer than O(warn_before_hours) hours left, as V(name (where)).
  returned: always
  type: list
  elements: str
expired:
  description: The certificates past their end.
  returned: always
  type: list
  elements: str
unreachable:
  description: The servers whose certificate could not be read, and why.
  returned: always
  type: dict
failure:
  description: The structured cause of a failure.
  returned: failed
  type: dict
"""

import base64
import os
import ssl

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError, run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import requires
from ansible_collections.hybridops.talos.plugins.module_utils._talos import certinfo, files, kubeconfig as kc
from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets as talos_secrets
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import split_endpoint
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.credentials import find_talosconfig, load_talosconfig
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.tls import authenticated_context
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS
from ansible_collections.hybridops.talos.plugins.module_utils._talos.redact import register_secrets


def argument_spec():
    return dict(
        CONNECTION_ARGS,
        nodes=dict(type='list', elements='str', default=[]),
        secrets=dict(type='path', no_log=False),
        secrets_age_identity=dict(type='path', no_log=False),
        kubeconfig=dict(type='path'),
        warn_before_hours=dict(type='int', default=720),
    )


def kubeconfig_certificates(module, path, now, unreachable):
    found = []
    data = files.read_file(path, 'kubeconfig', private=True)
    parsed = kc.parse(data.decode('utf-8', 'replace'), 'the kubeconfig %s' % path)
    register_secrets(module, kc.secret_values(parsed['data']))
    client = kc.certificate(parsed['cert']) if parsed['cert'] else None
    if client is not None:
        found.append(certinfo.entry('Kubernetes client', 'client', path, client, now))
    server = parsed['server'] or ''
    if server.startswith('https://') and parsed['ca']:
        context = ssl.create_default_context(cadata=base64.b64decode(parsed['ca']).decode('ascii'))
        hostport = server[len('https://'):].split('/', 1)[0]
        host, port = split_endpoint(hostport)
        port = port if ':' in hostport.rpartition(']')[2] else 443
        cert, error = certinfo.serving_certificate(host, port, context, module.params['timeout'])
        if cert is None:
            unreachable[server] = error
        else:
            found.append(certinfo.entry('Kubernetes API server', 'serving', server, cert, now))
    return found


def body(module):
    params = module.params
    now = certinfo.now_utc()
    found, unreachable = [], {}
    if params['warn_before_hours'] < 0:
        raise ModuleError('bad_input', 'warn_before_hours must not be negative (%d given).' % params['warn_before_hours'],
                          option='warn_before_hours')
    if params['secrets']:
        data = files.read_file(params['secrets'], 'secrets bundle', private=True, age_identity=params['secrets_age_identity'],
                               secrets_folder=True)
        bundle = talos_secrets.parse_bundle(data, params['secrets'])
        register_secrets(module, talos_secrets.secret_values(bundle))
        found += certinfo.bundle_cas(bundle, params['secrets'], now)
    talosconfig = params['talosconfig'] or find_talosconfig()
    if params['nodes'] or params['talosconfig'] or os.path.exists(talosconfig):
        credentials = load_talosconfig(talosconfig, params['context'])
        found.append(certinfo.entry('Talos client', 'client', talosconfig,
                                    certinfo.pem_certificate(credentials.crt, 'the talosconfig client certificate'), now))
        for node in params['nodes']:
            host, port = split_endpoint(node)
            cert, error = certinfo.serving_certificate(host, port, authenticated_context(credentials, node), params['timeout'])
            if cert is None:
                unreachable[node] = error
            else:
                found.append(certinfo.entry('Talos API', 'serving', node, cert, now))
    if params['kubeconfig']:
        found += kubeconfig_certificates(module, params['kubeconfig'], now, unreachable)
    found.sort(key=lambda e: (e['hours_left'], e['name'], e['where']))
    expired, expiring = certinfo.judge(found, params['warn_before_hours'])
    for name in expired:
        module.warn('certificate %s has expired' % name)
    for name in expiring:
        module.warn('certificate %s expires within %d hours' % (name, params['warn_before_hours']))
    return dict(changed=False, certificates=found, expiring=expiring, expired=expired, unreachable=unreachable)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, 'cryptography', 'PyYAML')
    run(module, body)


if __name__ == '__main__':
    main()
