"""The lab's backup remote and Vault stand-in: ``python -m lab.backup up|down|status``.

``up`` starts one supervisor process (``python -m lab.backup.serve``) that runs the real ``rclone serve
webdav`` as the backup remote and a small Vault stand-in for the one endpoint backups read
(``GET /v1/sys/storage/raft/snapshot``), and writes ``<lab state>/backup/env`` with what a backup needs:
the rclone config and remote, the Vault address, token and CA, and a lab age key pair. See docs/backup-restore.md.
"""
import os

from .. import STATE_DIR


def backup_dir(state_dir=None):
    return os.path.join(state_dir or STATE_DIR, 'backup')
