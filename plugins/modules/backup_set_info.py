#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_set_info
short_description: List the backup sets of a cluster, pick one, and check that it restores
version_added: 0.1.0
description:
  - Lists the sets in C(<remote>/<cluster>/) (a folder counts as a set only once its C(manifest.json) was written) and
    reads the manifest of O(set_id), by default the newest set.
  - With O(verify=true), decrypts every item of that set with O(age_identity), streaming (nothing is written locally),
    checks each one as the backup did (the etcd snapshot's integrity hash and bbolt meta pages, the Vault snapshot's
    sums, the format of the rest) and compares its size and sha256 with the manifest. It also checks that the secrets
    bundle in the set belongs to the cluster the manifest names. Run it before any destructive step of a restore.
requirements:
  - cryptography
  - PyYAML
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.backup_remote
options:
  set_id:
    description: The set to read; V(latest) (the default) is the newest set.
    type: str
    default: latest
  verify:
    description: Decrypt and check every item of the set (needs O(age_identity)).
    type: bool
    default: false
  age_identity:
    description: The age identity file (private key, mode 0600) that decrypts the set.
    type: path
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
  action_group:
    description: Use C(group/hybridops.talos.backup) in O(ignore:module_defaults) to set the remote options once.
    support: full
    membership:
      - hybridops.talos.backup
"""

EXAMPLES = r"""
- name: Check the newest set before restoring it
  hybridops.talos.backup_set_info:
    remote: gdrive:talos-backups
    cluster: prod
    verify: true
    age_identity: /secrets/backup-identity.txt
  register: chosen
"""

RETURN = r"""
sets:
  description: The complete sets, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    set_id:
      description: Set id.
      type: str
    created:
      description: When the set was started (UTC).
      type: str
unfinished:
  description: Folders without a manifest (failed or running backups), never restored from.
  returned: always
  type: list
  elements: str
manifest:
  description: The manifest of the chosen set.
  returned: when there is a set
  type: dict
verified:
  description: Per item, what the check found after decrypting it.
  returned: when O(verify=true)
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._backup.manifest import stamp
from ansible_collections.hybridops.talos.plugins.module_utils._backup.options import REMOTE_ARGS, remote_for
from ansible_collections.hybridops.talos.plugins.module_utils._backup.restore import check_identity, verify_set
from ansible_collections.hybridops.talos.plugins.module_utils._backup.sets import SetReader
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import requires


def set_info(module):
    params = module.params
    if params['verify']:
        check_identity(params['age_identity'])
    remote = remote_for(params)
    complete, partial = remote.list_sets()
    result = dict(changed=False, unfinished=sorted(partial),
                  sets=[dict(set_id=name, created=stamp(complete[name])) for name in sorted(complete, key=complete.get)])
    if complete or params['set_id'] not in ('latest', ''):
        reader = SetReader(remote, params['age_identity'])
        result['manifest'] = reader.choose(params['set_id'])
        if params['verify']:
            result['verified'] = verify_set(reader, result['manifest'])
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            set_id=dict(type='str', default='latest'),
            verify=dict(type='bool', default=False),
            age_identity=dict(type='path', no_log=False),
            **REMOTE_ARGS
        ),
        required_if=[('verify', True, ('age_identity',))],
        supports_check_mode=True,
    )
    requires(module, 'cryptography', 'PyYAML')
    run(module, set_info)


if __name__ == '__main__':
    main()
