#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_retention
short_description: Remove old backup sets of a cluster, keeping daily, weekly and monthly ones
version_added: 0.1.0
description:
  - Keeps the newest set of each of the last O(keep_daily) days, O(keep_weekly) ISO weeks and O(keep_monthly) months
    that have sets (as C(restic forget) does), and removes the other sets of the cluster from the remote.
  - The newest set is always kept, so the last good set is never removed. With O(verified_set) (the set a backup just
    made) nothing is removed unless that set is the newest complete set and its manifest says it was verified on the
    remote.
  - Folders without a manifest (backups that failed, or still run) are removed once they are older than O(unfinished_grace_hours).
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.backup_remote
options:
  keep_daily:
    description: Days to keep one set of.
    type: int
    default: 7
  keep_weekly:
    description: ISO weeks to keep one set of.
    type: int
    default: 4
  keep_monthly:
    description: Months to keep one set of.
    type: int
    default: 6
  verified_set:
    description: Id of the set this run made; retention only runs when it is the newest complete, verified set.
    type: str
  unfinished_grace_hours:
    description: Age after which a folder without a manifest is removed.
    type: int
    default: 24
attributes:
  check_mode:
    support: full
    description: Check mode removes nothing and returns what would be removed.
  diff_mode:
    support: none
    description: The result lists what was kept and removed.
  idempotent:
    support: full
    description: A second run with the same sets removes nothing.
  action_group:
    description: Use C(group/hybridops.talos.backup) in O(ignore:module_defaults) to set the remote options once.
    support: full
    membership:
      - hybridops.talos.backup
"""

EXAMPLES = r"""
- name: Keep a week of daily sets, a month of weekly ones and half a year of monthly ones
  hybridops.talos.backup_retention:
    remote: gdrive:talos-backups
    cluster: prod
    verified_set: "{{ backup.set_id }}"
"""

RETURN = r"""
kept:
  description: The sets kept, each with why (C(newest), C(daily 2026-07-14) ...).
  returned: always
  type: dict
deleted:
  description: The sets removed (in check mode, those that would be).
  returned: always
  type: list
  elements: str
unfinished_removed:
  description: Folders without a manifest that were removed (in check mode, would be).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._backup import retention
from ansible_collections.hybridops.talos.plugins.module_utils._backup.errors import BackupError
from ansible_collections.hybridops.talos.plugins.module_utils._backup.manifest import utcnow
from ansible_collections.hybridops.talos.plugins.module_utils._backup.options import REMOTE_ARGS, remote_for
from ansible_collections.hybridops.talos.plugins.module_utils._backup.sets import SetReader
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run


def check_verified(remote, complete, set_id):
    """Refuse to remove anything unless ``set_id`` is the newest complete set and was verified on the remote."""
    newest = max(complete, key=lambda name: (complete[name], name)) if complete else None
    if set_id != newest:
        raise BackupError('not_verified', 'set %s is not the newest complete set on %s (%s is): no set is removed.'
                          % (set_id, remote.base, newest or 'there is none'))
    if not SetReader(remote).choose(set_id).get('verified_on_remote'):
        raise BackupError('not_verified', 'the manifest of set %s does not record a check on the remote: no set is removed.' % set_id)


def apply_retention(module):
    params = module.params
    if min(params['keep_daily'], params['keep_weekly'], params['keep_monthly'], params['unfinished_grace_hours']) < 0:
        raise BackupError('bad_input', 'keep_daily, keep_weekly, keep_monthly and unfinished_grace_hours cannot be negative.')
    remote = remote_for(params)
    complete, partial = remote.list_sets()
    if params['verified_set']:
        check_verified(remote, complete, params['verified_set'])
    kept, deleted = retention.plan(complete, dict(daily=params['keep_daily'], weekly=params['keep_weekly'],
                                                  monthly=params['keep_monthly']))
    unfinished = retention.stale_partials(partial, utcnow(), params['unfinished_grace_hours'])
    if not module.check_mode:
        for name in deleted:
            remote.purge(name, 'set %s' % name)
        for name in unfinished:
            remote.purge(name, 'the unfinished folder %s' % name)
    return dict(changed=bool(deleted or unfinished), kept=kept, deleted=deleted, unfinished_removed=unfinished)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            keep_daily=dict(type='int', default=7),
            keep_weekly=dict(type='int', default=4),
            keep_monthly=dict(type='int', default=6),
            verified_set=dict(type='str'),
            unfinished_grace_hours=dict(type='int', default=24),
            **REMOTE_ARGS
        ),
        supports_check_mode=True,
    )
    run(module, apply_retention)


if __name__ == '__main__':
    main()
