#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_etcd_recover
short_description: Restore etcd of a Talos cluster from a backup set (Talos' disaster recovery)
version_added: 0.1.0
description:
  - Follows Talos' disaster-recovery sequence with the etcd snapshot of a set made by M(hybridops.talos.backup_set).
  - "Before anything changes: the set's manifest is read, the control planes' running machine configs must be of the
    cluster the set belongs to, etcd must B(not) be healthy (a restore would throw away everything written since the set),
    and the snapshot is decrypted and checked end to end (size, sha256, integrity hash)."
  - Then every control plane whose etcd service is not C(Preparing) is reset (EPHEMERAL wiped, no graceful leave,
    reboot); when every etcd service is C(Preparing), the snapshot is streamed from the set into C(EtcdRecover) on
    O(node) (checked again on the way) and that one node is bootstrapped with C(recover_etcd); the others join. The
    task ends when every control plane's etcd runs and all agree on one leader.
  - Needs an C(os:admin) talosconfig.
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
  node:
    description:
      - Talos API address of the control plane that recovers etcd from the snapshot (the only one bootstrapped),
        V(host) or V(host:port); it must be in O(control_planes).
    type: str
    required: true
  control_planes:
    description: Talos API addresses of every control plane of the cluster.
    type: list
    elements: str
    required: true
  endpoints:
    description:
      - Talos API endpoints for the checks made before anything changes (tried in order, each call proxied to its
        node), as in every module of the group; omitted, each control plane is reached directly.
      - From the first reset on, every call reaches its control plane directly, since a control plane that is being
        reset cannot proxy calls.
    type: list
    elements: str
  set_id:
    description: The set to restore; V(latest) (the default) is the newest set.
    type: str
    default: latest
  age_identity:
    description: The age identity file (private key, mode 0600) that decrypts the set.
    type: path
    required: true
  transfer_timeout:
    description: Seconds the upload of the snapshot may take.
    type: float
    default: 3600
  wait_timeout:
    description:
      - Seconds to wait for each phase (every etcd C(Preparing) after the resets; every member joined after the
        bootstrap); the module then fails with the last state it saw.
    type: float
    default: 600
attributes:
  check_mode:
    support: full
    description: Check mode runs every check (set, cluster, health, snapshot) and returns the nodes it would reset, and stops there.
  diff_mode:
    support: none
    description: Nothing to compare.
  idempotent:
    support: none
    description: A restore is refused once etcd is healthy again, so a rerun after success fails instead of restoring twice.
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
- name: Restore etcd from the newest set
  hybridops.talos.talos_etcd_recover:
    node: 192.0.2.1
    control_planes: [192.0.2.1, 192.0.2.2, 10.10.0.10]
    talosconfig: /secrets/prod/talosconfig
    remote: gdrive:talos-backups
    cluster: prod
    age_identity: /secrets/backup-identity.txt
"""

RETURN = r"""
set_id:
  description: The set that was restored.
  returned: always
  type: str
recovered_on:
  description: The control plane bootstrapped from the snapshot.
  returned: always
  type: str
etcd_states:
  description: The etcd service state of every control plane before the restore.
  returned: always
  type: dict
reset:
  description: The control planes reset (EPHEMERAL wiped) because their etcd was not waiting; in check mode, those it would reset.
  returned: always
  type: list
  elements: str
uploaded:
  description: Bytes of snapshot uploaded.
  returned: success, not in check mode
  type: int
members:
  description: The etcd members after the restore.
  returned: success, not in check mode
  type: list
  elements: dict
duration:
  description: Seconds the restore took.
  returned: success, not in check mode
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._backup import recover
from ansible_collections.hybridops.talos.plugins.module_utils._backup.errors import BackupError
from ansible_collections.hybridops.talos.plugins.module_utils._backup.options import REMOTE_ARGS, remote_for
from ansible_collections.hybridops.talos.plugins.module_utils._backup.restore import check_identity
from ansible_collections.hybridops.talos.plugins.module_utils._backup.sets import SetReader
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._retry import NO_RETRY
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, NODE_ARGS, WAIT_ARGS, Connection


def restore_etcd(module):
    params = module.params
    if params['node'] not in params['control_planes']:
        raise BackupError('bad_input', 'the recovering node %s is not one of control_planes (%s).'
                          % (params['node'], ', '.join(params['control_planes'])))
    reader = SetReader(remote_for(params), check_identity(params['age_identity']))
    manifest = reader.choose(params['set_id'])
    direct = dict(params, endpoints=None)  # control planes being reset cannot proxy
    with Connection(params) as checks, Connection(direct) as calls, Connection(direct, retry=NO_RETRY) as polls:
        nodes = params['control_planes']
        return recover.run(reader, manifest, dict((a, checks.client(a)) for a in nodes), dict((a, calls.client(a)) for a in nodes),
                           dict((a, polls.client(a)) for a in nodes), params['node'], module.check_mode,
                           params['wait_timeout'], params['transfer_timeout'])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            control_planes=dict(type='list', elements='str', required=True),
            set_id=dict(type='str', default='latest'),
            age_identity=dict(type='path', required=True, no_log=False),
            transfer_timeout=dict(type='float', default=3600.0),
            wait_timeout=WAIT_ARGS['wait_timeout'],
            **dict(NODE_ARGS, **dict(CONNECTION_ARGS, **REMOTE_ARGS))
        ),
        supports_check_mode=True,
    )
    requires(module, *TALOS_API)
    run(module, restore_etcd)


if __name__ == '__main__':
    main()
