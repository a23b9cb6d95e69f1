#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_secrets
short_description: Create or adopt a Talos secrets bundle, and never overwrite one
version_added: 0.1.0
description:
  - Makes sure a Talos secrets bundle exists at O(path), in the layout C(talosctl gen secrets) writes, so
    C(talosctl) can read it too.
  - When O(path) is missing, the bundle is generated (an Ed25519 OS CA, ECDSA P-256 etcd, Kubernetes and
    aggregator CAs valid for ten years, an RSA-4096 service-account key for config contracts from v1.7 on,
    tokens in Talos' formats), or adopted from an existing bundle file (O(adopt_from)), rebuilt from an
    existing control-plane machine config (O(adopt_from_machineconfig)) or from the config a running control
    plane runs, read over the Talos API (O(adopt_from_cluster)).
  - An existing bundle is never regenerated or overwritten. It is checked (fields, token formats, every CA
    certificate against its key, file mode 0600); when an adoption source is given and holds different
    secrets, the module fails instead of replacing anything.
  - The file is written 0600 inside a 0700 folder; with O(age_recipients) it is encrypted with C(age).
  - No secret value appears in the result, a diff, a warning or an error.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.action_group
requirements:
  - cryptography
  - PyYAML
  - the C(age) binary, for O(age_recipients) and encrypted bundles
options:
  path:
    description:
      - Where the secrets bundle lives, for example C(~/.local/share/hybridops-talos/<cluster>/secrets.yaml) (where the
        C(hybridops.talos.talos_cluster) role keeps it). Keep it outside the playbook folder and any repository.
      - Its folder is created 0700 when missing; an existing folder that others can read or enter is refused, when
        the bundle is read as well as when it is written.
    type: path
    required: true
  state:
    description:
      - V(present) makes sure the bundle exists. Deleting the secrets of a cluster is not offered on purpose.
    type: str
    choices: [present]
    default: present
  contract:
    description:
      - Talos config contract the bundle is generated for, for example V(v1.9). From V(v1.7) on the
        service-account key is RSA-4096, before that ECDSA P-256.
    type: str
    default: v1.9
  adopt_from:
    description:
      - An existing secrets bundle file (for example from C(talosctl gen secrets)) to adopt when O(path) is
        missing. It is checked before it is copied. May be age-encrypted (see O(age_identity)).
    type: path
  adopt_from_machineconfig:
    description:
      - An existing control-plane machine config to rebuild the bundle from when O(path) is missing, for a
        cluster whose secrets were made elsewhere. A worker config is refused (it holds no CA keys).
    type: path
  adopt_from_cluster:
    description:
      - Rebuild the bundle from the machine config the control plane O(node) runs, read over the Talos API with the
        C(os:admin) certificate of O(talosconfig), as C(talosctl gen secrets --from-controlplane-config) does from a
        file. When O(path) exists, it must hold exactly those secrets, or the module fails.
      - Never generates a new bundle. A cluster that cannot be read is a failure, not a reason to make new CAs.
      - Reading the bundle back changes nothing in the cluster, so it reports RV(ignore:changed=false).
    type: bool
    default: false
  node:
    description:
      - The Talos API address of a control plane, V(host) or V(host:port), for O(adopt_from_cluster); reached
        directly, or through O(endpoints) when they are given. A worker is refused (its config holds no CA keys).
    type: str
  age_recipients:
    description:
      - age recipients (public keys) to encrypt the bundle for at rest. Needs the C(age) binary.
    type: list
    elements: str
    default: []
  age_identity:
    description:
      - age identity file that decrypts an encrypted bundle, to check it or compare it with an adoption source.
    type: path
attributes:
  check_mode:
    support: full
    description: In check mode the bundle is built and checked but not written.
  diff_mode:
    support: full
    description: The diff shows the bundle layout with every secret value replaced by C(<redacted>).
  idempotent:
    support: full
    description: A second run finds the bundle and reports RV(ignore:changed=false).
notes:
  - Keep the bundle out of version control; back it up encrypted (it can rebuild every node config).
seealso:
  - module: hybridops.talos.talos_machineconfig
  - module: hybridops.talos.talos_talosconfig
"""

EXAMPLES = r"""
- name: Create the cluster secrets once (never overwritten afterwards)
  hybridops.talos.talos_secrets:
    path: ~/.local/share/hybridops-talos/hybrid/secrets.yaml
    contract: v1.9

- name: Adopt the existing two-controller cluster from one of its control-plane configs
  hybridops.talos.talos_secrets:
    path: ~/.local/share/hybridops-talos/adopted/secrets.yaml
    adopt_from_machineconfig: "{{ playbook_dir }}/adopt/vps-0-controlplane.yaml"

- name: Read the bundle back from the running cluster (a job that has only the admin talosconfig)
  hybridops.talos.talos_secrets:
    path: ~/.local/share/hybridops-talos/hybrid/secrets.yaml
    adopt_from_cluster: true
    node: 203.0.113.10
    talosconfig: "{{ lookup('ansible.builtin.env', 'TALOSCONFIG') }}"

- name: Adopt a bundle made by talosctl gen secrets, stored encrypted with age
  hybridops.talos.talos_secrets:
    path: ~/.local/share/hybridops-talos/encrypted/secrets.yaml.age
    adopt_from: "{{ playbook_dir }}/adopt/secrets.yaml"
    age_recipients:
      - "{{ talos_age_recipient }}"  # for example age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
    age_identity: "{{ playbook_dir }}/age/talos.key"
"""

RETURN = r"""
path:
  description: Where the bundle is.
  returned: always
  type: str
  sample: /srv/ops/secrets/talos/secrets.yaml
source:
  description:
    - Where the bundle came from in this run; V(existing) when it was already there.
  returned: success
  type: str
  sample: generated
encrypted:
  description: Whether the file is age-encrypted.
  returned: success
  type: bool
  sample: false
verified:
  description: Whether the bundle was read and checked (an encrypted bundle without O(age_identity) is not).
  returned: success
  type: bool
  sample: true
cas:
  description: Public facts about each CA of the bundle (no secret), by bundle name.
  returned: when verified
  type: dict
  sample:
    os: {fingerprint: "sha256:3b0c...", subject: "O=talos", not_after: "2035-11-24T20:00:00Z", key_type: Ed25519}
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
from ansible_collections.hybridops.talos.plugins.module_utils._talos.contracts import parse_version
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, Connection


def redacted_layout(bundle):
    return redact.redact(talos_secrets.dump_bundle(bundle).decode('utf-8'), talos_secrets.secret_values(bundle))


def build(module):
    params = module.params
    if params['adopt_from']:
        data = files.read_file(params['adopt_from'], 'secrets bundle', private=False, age_identity=params['age_identity'])
        return talos_secrets.parse_bundle(data, params['adopt_from']), 'bundle'
    if params['adopt_from_machineconfig']:
        data = files.read_file(params['adopt_from_machineconfig'], 'machine config', private=False,
                               age_identity=params['age_identity'])
        return talos_secrets.bundle_from_machineconfig(data, params['adopt_from_machineconfig']), 'machineconfig'
    if params['adopt_from_cluster']:
        return from_cluster(params), 'cluster'
    return talos_secrets.generate_bundle(parse_version(params['contract'], 'contract')[:2]), 'generated'


def from_cluster(params):
    """The bundle in the config the control plane ``node`` runs (COSI MachineConfig, os:admin only)."""
    with Connection(params) as connection:
        data = connection.client(params['node']).running_config()
    return talos_secrets.bundle_from_machineconfig(data, 'the config running on %s' % params['node'])


def ensure_bundle(module):
    params = module.params
    path = params['path']
    result = {'changed': False, 'path': path}
    if params['adopt_from_cluster'] and (params['adopt_from'] or params['adopt_from_machineconfig']):
        raise TalosConfigError('adopt_from_cluster cannot be combined with adopt_from or adopt_from_machineconfig: '
                               'choose one source for the bundle.', reason='bad_input', option='adopt_from_cluster')
    adopting = bool(params['adopt_from'] or params['adopt_from_machineconfig'] or params['adopt_from_cluster'])
    if os.path.exists(path):
        files.check_secrets_folder(path, 'secrets bundle')
        files.check_private_file(path, 'secrets bundle')
        with open(path, 'rb') as handle:
            raw = handle.read()
        encrypted = files.is_age(raw)
        if encrypted and not params['age_identity']:
            if adopting:
                raise TalosConfigError('secrets bundle %s is age-encrypted: give age_identity to compare it with the '
                                       'adoption source.' % path, reason='age_identity_missing')
            module.warn('secrets bundle %s is age-encrypted and no age_identity was given: it was kept without being checked.' % path)
            result.update(source='existing', encrypted=True, verified=False)
            return result
        data = files.age_decrypt(raw, params['age_identity'], 'secrets bundle %s' % path) if encrypted else raw
        bundle = talos_secrets.parse_bundle(data, path)
        redact.register_secrets(module, talos_secrets.secret_values(bundle))
        if adopting:
            wanted, _source = build(module)
            redact.register_secrets(module, talos_secrets.secret_values(wanted))
            if not talos_secrets.bundles_equal(bundle, wanted):
                raise TalosConfigError('secrets bundle %s already exists and holds other secrets than the adoption source: '
                                       'it is never overwritten; move it away yourself if the cluster really changed.' % path,
                                       reason='bundle_differs')
        result.update(source='existing', encrypted=encrypted, verified=True, cas=talos_secrets.ca_summary(bundle))
        return result

    bundle, source = build(module)
    redact.register_secrets(module, talos_secrets.secret_values(bundle))
    data = talos_secrets.dump_bundle(bundle)
    encrypted = bool(params['age_recipients'])
    if not module.check_mode:
        if encrypted:
            data = files.age_encrypt(data, params['age_recipients'], 'secrets bundle %s' % path)
        files.write_private_file(path, data, 'secrets bundle', strict_dir=True)
    # A copy of what the cluster already runs with changes nothing in the cluster (see adopt_from_cluster).
    result.update(changed=source != 'cluster', source=source, encrypted=encrypted, verified=True,
                  cas=talos_secrets.ca_summary(bundle))
    if module._diff and source != 'cluster':
        result['diff'] = {'before': '', 'after': redacted_layout(bundle), 'before_header': '%s (absent)' % path,
                          'after_header': path}
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            state=dict(type='str', choices=['present'], default='present'),
            contract=dict(type='str', default='v1.9'),
            adopt_from=dict(type='path'),
            adopt_from_machineconfig=dict(type='path'),
            age_recipients=dict(type='list', elements='str', default=[]),
            age_identity=dict(type='path', no_log=False),
            adopt_from_cluster=dict(type='bool', default=False),
            node=dict(type='str'),
            **CONNECTION_ARGS
        ),
        # adopt_from_cluster is a boolean: mutually_exclusive would count an explicit false as a chosen source.
        mutually_exclusive=[('adopt_from', 'adopt_from_machineconfig')],
        required_if=[('adopt_from_cluster', True, ('node',))],
        supports_check_mode=True,
    )
    requires(module, 'cryptography', 'PyYAML')
    run(module, ensure_bundle)


if __name__ == '__main__':
    main()
