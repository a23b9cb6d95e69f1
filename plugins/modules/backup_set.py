#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_set
short_description: Make one encrypted, verified backup set of a Talos cluster on an rclone remote
version_added: 0.1.0
description:
  - Streams each item of the cluster through C(age) (to O(age_recipients), public keys only, so the identity never needs
    to be on the backup host) into C(rclone rcat), into a new folder C(<remote>/<cluster>/<set id>/). Nothing is written
    to local disk and memory does not grow with the size of an item.
  - "Items: the etcd snapshot (C(EtcdSnapshot) from a healthy member; the least Talos role that allows it is
    C(os:etcd:backup)), the Talos secrets bundle, the admin talosconfig, machine configs (rendered files, or the running
    ones read over the API), the Sealed Secrets controller keys (read from the Kubernetes API), a Vault Raft snapshot and
    Terraform/OpenTofu state files."
  - Every item is checked as it streams (the etcd snapshot's integrity hash and bbolt meta pages, the Vault snapshot's
    SHA256SUMS, the format of the small items); an item that fails is never completed on the remote. After the upload
    every object is listed and its sha256 read back from the remote and compared with what was sent; only then is
    C(manifest.json) written (set id, cluster fingerprint, versions, etcd members, every item with its sizes and sha256).
    A failure anywhere removes the set's folder and fails the task.
  - Every run makes a new set, so it always reports RV(ignore:changed=true).
requirements:
  - grpclib
  - protobuf
  - cryptography
  - PyYAML
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.backup_remote
options:
  nodes:
    description:
      - Talos API addresses of the control planes, V(host) or V(host:port). Each is asked for its etcd member's status
        (directly, or through O(endpoints)) and the snapshot is taken from a healthy follower.
    type: list
    elements: str
    required: true
  transfer_timeout:
    description: Seconds a streamed item (the etcd snapshot, a running config) may take; O(timeout) bounds the other calls.
    type: float
    default: 3600
  age_recipients:
    description: age public keys (C(age1...)) or SSH public keys the set is encrypted to.
    type: list
    elements: str
    required: true
  secrets:
    description: The Talos secrets bundle of the cluster (kept as it is, also when it is age-encrypted).
    type: path
    required: true
  admin_talosconfig:
    description: The admin talosconfig to keep in the set (a restore needs an C(os:admin) credential).
    type: path
  machine_configs:
    description: A folder of rendered machine configs (C(*.yaml)) to keep in the set.
    type: path
  running_configs:
    description:
      - Nodes whose running machine config is read over the API and kept in the set.
      - Reading a machine config needs C(os:admin); the C(os:etcd:backup) credential of a backup job cannot.
    type: list
    elements: str
    default: []
  kubeconfig:
    description: Kubeconfig of the cluster, to read the Sealed Secrets keys with.
    type: path
  sealed_secrets:
    description:
      - V(auto) keeps the Sealed Secrets keys when the Kubernetes API answers and has them, and reports the item as
        left out with the reason (and a warning) when it does not; V(required) fails instead; V(skip) leaves them out.
    type: str
    choices: [auto, required, skip]
    default: auto
  sealed_secrets_namespace:
    description: Namespace of the Sealed Secrets controller and its keys.
    type: str
    default: kube-system
  vault_address:
    description: Address of Vault (C(https://vault.example:8200)); the Raft snapshot is kept when set.
    type: str
  vault_token:
    description: Vault token with C(read) on C(sys/storage/raft/snapshot).
    type: str
  vault_ca_file:
    description: CA certificate file that verifies Vault's TLS certificate.
    type: path
  terraform_states:
    description: Terraform or OpenTofu state files to keep in the set.
    type: list
    elements: path
    default: []
  talos_version:
    description: The Talos version recorded in the manifest when the credential may not ask the nodes (C(os:etcd:backup) cannot).
    type: str
  kubernetes_version:
    description: The Kubernetes version recorded in the manifest.
    type: str
notes:
  - O(vault_token) falls back to E(VAULT_TOKEN) and O(vault_ca_file) to E(VAULT_CACERT), as the Vault CLI reads them.
attributes:
  check_mode:
    support: full
    description: Check mode asks etcd which member it would read and the Kubernetes API for the keys, uploads nothing,
      and returns RV(would_upload).
  diff_mode:
    support: none
    description: A new set has nothing to compare with.
  idempotent:
    support: none
    description: Every run makes a new set; retention (M(hybridops.talos.backup_retention)) removes old ones.
  action_group:
    description:
      - Use C(group/hybridops.talos.backup) in O(ignore:module_defaults) to set the remote options once, and
        C(group/hybridops.talos.talos) to set the Talos API options once.
    support: full
    membership:
      - hybridops.talos.backup
      - hybridops.talos.talos
"""

EXAMPLES = r"""
- name: Back up the cluster to Google Drive
  hybridops.talos.backup_set:
    talosconfig: /secrets/backup.talosconfig   # os:etcd:backup
    nodes: [192.0.2.1, 192.0.2.2, 10.10.0.10]
    remote: gdrive:talos-backups
    cluster: prod
    age_recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
    secrets: /secrets/prod/secrets.yaml
    admin_talosconfig: /secrets/prod/talosconfig
    kubeconfig: /secrets/prod/kubeconfig
  register: backup
"""

RETURN = r"""
set_id:
  description: Id of the new set (a UTC timestamp and a random suffix); V(null) in check mode.
  returned: always
  type: str
  sample: 20260714T021500Z-3f9a
set_path:
  description: The set's folder on the remote.
  returned: always
  type: str
items:
  description: The items of the set.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Item name, also the object name without C(.age).
      type: str
    kind:
      description:
        - What the item is, one of C(etcd_snapshot), C(talos_secrets), C(talosconfig), C(machine_config),
          C(sealed_secrets_keys), C(vault_raft_snapshot), C(terraform_state).
      type: str
    size:
      description: Plaintext size in bytes.
      type: int
    sha256:
      description: sha256 of the plaintext.
      type: str
    encrypted_size:
      description: Size of the encrypted object on the remote.
      type: int
left_out:
  description: Items that are not in the set, each with the reason (C(name), C(reason)).
  returned: always
  type: list
  elements: dict
would_upload:
  description: In check mode, the items a run would upload, where from and to.
  returned: check mode
  type: list
  elements: dict
etcd:
  description: The member the snapshot came from, the leader and the members.
  returned: always
  type: dict
versions:
  description: Talos and Kubernetes versions recorded in the manifest, with where they came from.
  returned: always
  type: dict
verified:
  description: How the remote's copy was checked (C(method)), when, and how many objects.
  returned: success
  type: dict
manifest:
  description: The manifest written to the set (no secret values in it).
  returned: success
  type: dict
duration:
  description: Seconds the run took.
  returned: success
  type: float
"""

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.hybridops.talos.plugins.module_utils._backup import create
from ansible_collections.hybridops.talos.plugins.module_utils._backup.options import REMOTE_ARGS, remote_for
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, Connection


def backup(module):
    params = dict(module.params)
    # A streamed item gets transfer_timeout for the whole call; every other call gets timeout.
    with Connection(params) as calls, Connection(dict(params, timeout=params['transfer_timeout'])) as streams:
        def client_for_node(address, streaming=False):
            return (streams if streaming else calls).client(address)
        params['remote_object'] = remote_for(params)
        return create.run(params, client_for_node, module.check_mode, module.warn)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='list', elements='str', required=True),
            transfer_timeout=dict(type='float', default=3600.0),
            age_recipients=dict(type='list', elements='str', required=True, no_log=False),
            secrets=dict(type='path', required=True, no_log=False),
            admin_talosconfig=dict(type='path'),
            machine_configs=dict(type='path'),
            running_configs=dict(type='list', elements='str', default=[]),
            kubeconfig=dict(type='path'),
            sealed_secrets=dict(type='str', choices=['auto', 'required', 'skip'], default='auto'),
            sealed_secrets_namespace=dict(type='str', default='kube-system', no_log=False),
            vault_address=dict(type='str'),
            vault_token=dict(type='str', no_log=True, fallback=(env_fallback, ['VAULT_TOKEN'])),
            vault_ca_file=dict(type='path', fallback=(env_fallback, ['VAULT_CACERT'])),
            terraform_states=dict(type='list', elements='path', default=[]),
            talos_version=dict(type='str'),
            kubernetes_version=dict(type='str'),
            **dict(CONNECTION_ARGS, **REMOTE_ARGS)
        ),
        supports_check_mode=True,
    )
    requires(module, *TALOS_API)
    run(module, backup)


if __name__ == '__main__':
    main()
