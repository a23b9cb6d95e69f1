#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_sealed_secrets_restore
short_description: Put the Sealed Secrets controller keys of a backup set back into the cluster
version_added: 0.1.0
description:
  - Decrypts the C(sealed-secrets/keys.json) item of a set made by M(hybridops.talos.backup_set) (checked against the
    manifest) and applies each key Secret to the Kubernetes API with server-side apply. A Secret that already holds the
    same type, labels and data is left alone.
  - The controller reads its keys when it starts; restart it afterwards (the result says how).
  - A set without the item (it was skipped at backup time) changes nothing and says why in RV(left_out).
requirements:
  - cryptography
  - PyYAML
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.backup_remote
options:
  set_id:
    description: The set to take the keys from; V(latest) (the default) is the newest set.
    type: str
    default: latest
  age_identity:
    description: The age identity file (private key, mode 0600) that decrypts the set.
    type: path
    required: true
  kubeconfig:
    description: Kubeconfig of the cluster to put the keys into.
    type: path
    required: true
attributes:
  check_mode:
    support: full
    description: Check mode compares the keys with the cluster's and writes nothing.
  diff_mode:
    support: none
    description: Key material is never shown.
  idempotent:
    support: full
    description: Keys already equal to the set's are not written again.
  action_group:
    description: Use C(group/hybridops.talos.backup) in O(ignore:module_defaults) to set the remote options once.
    support: full
    membership:
      - hybridops.talos.backup
"""

EXAMPLES = r"""
- name: Restore the Sealed Secrets keys of the newest set
  hybridops.talos.backup_sealed_secrets_restore:
    remote: gdrive:talos-backups
    cluster: prod
    age_identity: /secrets/backup-identity.txt
    kubeconfig: /secrets/prod/kubeconfig
"""

RETURN = r"""
keys:
  description: Namespace/name of every key Secret in the set, with C(created), C(updated) or C(unchanged).
  returned: always
  type: dict
left_out:
  description: Why nothing was restored, when the set has no keys.
  returned: when the set has no keys
  type: str
restart:
  description: The command that restarts the controller so that it loads the keys.
  returned: when keys were written
  type: str
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._backup.kube import Kube
from ansible_collections.hybridops.talos.plugins.module_utils._backup.manifest import item
from ansible_collections.hybridops.talos.plugins.module_utils._backup.options import REMOTE_ARGS, remote_for
from ansible_collections.hybridops.talos.plugins.module_utils._backup.restore import check_identity
from ansible_collections.hybridops.talos.plugins.module_utils._backup.sets import SetReader
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import requires

ITEM = 'sealed-secrets/keys.json'


def _same(current, wanted):
    labels = (current.get('metadata') or {}).get('labels') or {}
    return (current.get('type') == wanted.get('type') and current.get('data') == wanted.get('data')
            and all(labels.get(k) == v for k, v in (wanted['metadata'].get('labels') or {}).items()))


def restore_keys(module):
    params = module.params
    reader = SetReader(remote_for(params), check_identity(params['age_identity']))
    manifest = reader.choose(params['set_id'])
    if item(manifest, ITEM) is None:
        reason = next((s['reason'] for s in manifest.get('left_out', ()) if s['name'] == ITEM), 'it was not backed up')
        return dict(changed=False, keys={}, left_out='set %s has no Sealed Secrets keys: %s' % (manifest['set_id'], reason))
    pieces = []
    reader.decrypt(manifest, ITEM, pieces.append)
    secrets = json.loads(b''.join(pieces))['items']
    for secret in secrets:
        module.no_log_values.update(str(value) for value in (secret.get('data') or {}).values())
    kube = Kube(params['kubeconfig'])
    keys = {}
    for secret in secrets:
        meta = secret['metadata']
        status, current = kube.request('GET', '/api/v1/namespaces/%s/secrets/%s' % (meta['namespace'], meta['name']))
        name = '%s/%s' % (meta['namespace'], meta['name'])
        if status == 200 and _same(current, secret):
            keys[name] = 'unchanged'
            continue
        if status not in (200, 404):
            kube.refused('read the Secret %s' % name, status, current)
        keys[name] = 'created' if status == 404 else 'updated'
        if not module.check_mode:
            kube.apply_secret(secret)
    changed = any(state != 'unchanged' for state in keys.values())
    result = dict(changed=changed, keys=keys)
    if changed:
        namespaces = sorted({name.split('/')[0] for name in keys})
        result['restart'] = 'kubectl -n %s rollout restart deployment/sealed-secrets-controller' % namespaces[0]
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            set_id=dict(type='str', default='latest'),
            age_identity=dict(type='path', required=True, no_log=False),
            kubeconfig=dict(type='path', required=True),
            **REMOTE_ARGS
        ),
        supports_check_mode=True,
    )
    requires(module, 'cryptography', 'PyYAML')
    run(module, restore_keys)


if __name__ == '__main__':
    main()
