# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Where the backup sets of a cluster live: a folder of an rclone remote."""

    DOCUMENTATION = r"""
options:
  remote:
    description:
      - The rclone remote and folder that holds the backup sets, for example V(gdrive:talos-backups) (Google Drive),
        V(labdav:backups) (the lab's WebDAV remote) or a local folder.
      - Each cluster's sets live below it in C(<cluster>/<set id>/).
    type: str
    required: true
  rclone_config:
    description:
      - The rclone config file that defines the remote and holds its credentials (read by rclone only).
      - Defaults to E(RCLONE_CONFIG), then rclone's own default (C(~/.config/rclone/rclone.conf)).
    type: path
  cluster:
    description: Name of the cluster, the folder of its sets on the remote.
    type: str
    required: true
requirements:
  - the C(rclone) and C(age) binaries on the controller (Debian packages C(rclone) and C(age))
"""
