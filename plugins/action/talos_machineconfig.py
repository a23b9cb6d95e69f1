# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of talos_machineconfig: point it at the shipped schemas, resolve @file patches.

The module runs from a temporary payload that carries no data files, so this plugin passes the
folder of the collection's Talos schemas (``talos_schemas/`` at the collection root, committed and
shipped in the artifact, see docs/decisions/0004) and turns relative ``@file`` patch paths into absolute ones,
looked up like any other file of the play (role ``files/``, playbook folder).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATCH_OPTIONS = ('cluster_patches', 'role_patches', 'node_patches')


class ActionModule(ActionBase):
    """Fill schema_dir and absolute patch paths, then run the module."""

    def _patch_path(self, value):
        if not isinstance(value, str) or not value.startswith('@') or os.path.isabs(os.path.expanduser(value[1:])):
            return value
        try:
            return '@' + self._find_needle('files', value[1:])
        except AnsibleError:
            return value  # the module reports the missing file in its own words

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if not args.get('schema_dir'):
            args['schema_dir'] = os.environ.get('HYBRIDOPS_TALOS_SCHEMA_DIR') or os.path.join(COLLECTION_ROOT, 'talos_schemas')
        for option in PATCH_OPTIONS:
            if isinstance(args.get(option), list):
                args[option] = [self._patch_path(value) for value in args[option]]
        result.update(self._execute_module(module_name='hybridops.talos.talos_machineconfig', module_args=args,
                                           task_vars=task_vars))
        return result
