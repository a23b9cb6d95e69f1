# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every module that reaches the backup remote shares (plugins/doc_fragments/backup_remote.py)."""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from .rclone import Remote

# Keep in step with plugins/doc_fragments/backup_remote.py.
REMOTE_ARGS = dict(
    remote=dict(type='str', required=True),
    rclone_config=dict(type='path', fallback=(env_fallback, ['RCLONE_CONFIG'])),
    cluster=dict(type='str', required=True),
)


def remote_for(params):
    return Remote(params['remote'], params['cluster'], params.get('rclone_config'))
