#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_upgrade
short_description: Upgrade one Talos node to the version of an installer image and check that it stayed there
version_added: 0.2.0
description:
  - Reads the version the node runs (C(Version)). When it is the version in the tag of O(image) already, nothing
    is called and nothing changes.
  - Otherwise asks the node to upgrade (C(MachineService.Upgrade)). Talos answers once it has pulled and checked
    the installer image, then installs the new version and reboots into it.
  - With O(wait=true) (the default), waits until the node has gone away for the reboot and answers again, then
    reads its version. The new version means success. The previous version means the new one did not stay up and
    the node booted its previous version again, a rollback that Talos reports nowhere else; the module then fails
    and says so.
  - Upgrades only the Talos version of one node. It does not upgrade Kubernetes and does not look at etcd; the
    playbook C(hybridops.talos.upgrade-talos) upgrades a cluster one node at a time and checks etcd between
    control planes.
  - Needs a talosconfig with the C(os:admin) role.
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - grpclib
  - protobuf
  - cryptography
  - PyYAML
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.node
  - hybridops.talos.talos_api.wait
  - hybridops.talos.talos_api.action_group
options:
  image:
    description:
      - The installer image to upgrade to, with the Talos version as its tag, for example
        V(ghcr.io/siderolabs/installer:v1.9.7) or an Image Factory image
        V(factory.talos.dev/installer/<schematic>:v1.9.7). A C(@sha256:) digest after the tag is allowed.
      - The tag must be a Talos version (V(vX.Y.Z)); it is the version the node must report afterwards.
    type: str
    required: true
  allow_downgrade:
    description:
      - Allow O(image) to carry an older version than the node runs. Without it such an image is refused before
        any call.
    type: bool
    default: false
  force:
    description:
      - Passed to Talos as the request's C(force) field, which skips its etcd checks on a control plane. Leave it
        off unless you know why etcd refuses.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads the version and reports whether the node would be upgraded, without asking it to.
  diff_mode:
    support: full
    description: Shows the version before and after.
  idempotent:
    support: full
    description: A node that runs the version of O(image) already is left alone.
notes:
  - The wait polls C(Version) about once a second, so it sees the node go away even on a fast reboot; an upgrade
    that takes longer than O(wait_timeout) fails with what the module was waiting for.
"""

EXAMPLES = r"""
- name: Upgrade one node to Talos v1.9.7
  hybridops.talos.talos_upgrade:
    node: 192.0.2.11
    image: ghcr.io/siderolabs/installer:v1.9.7
    wait_timeout: 900

- name: Upgrade through an Image Factory image (extensions baked in), reaching the node through a control plane
  hybridops.talos.talos_upgrade:
    node: 10.10.0.21
    endpoints: [192.0.2.11]
    image: factory.talos.dev/installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.9.7
"""

RETURN = r"""
node:
  description: The node, as given in O(node).
  returned: success
  type: str
image:
  description: The installer image, as given in O(image).
  returned: success
  type: str
decision:
  description: V(none) when the node ran the target version already, else V(upgrade) or V(downgrade).
  returned: success
  type: str
previous_version:
  description: The version the node ran before.
  returned: success
  type: str
  sample: v1.9.6
target_version:
  description: The version in the tag of O(image).
  returned: success
  type: str
  sample: v1.9.7
version:
  description:
    - The version the node reports at the end. In check mode, with O(wait=false), and when nothing was to do, the
      version it ran before.
  returned: success
  type: str
  sample: v1.9.7
actor_id:
  description: The id Talos gave the upgrade request.
  returned: when the node was asked to upgrade
  type: str
duration:
  description: Seconds spent waiting for the node to reboot and answer again.
  returned: success
  type: float
failure:
  description:
    - The structured cause of a failure (C(reason), C(node), C(call), C(status), C(message), details). C(reason) is
      V(rolled_back) when the node came back at its previous version, V(timeout) when it did not come back in time.
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, NODE_ARGS, WAIT_ARGS, Connection
from ansible_collections.hybridops.talos.plugins.module_utils._talos.upgrade import upgrade_node


def upgrade(module):
    with Connection(module.params) as connection:
        return upgrade_node(module, connection)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type='str', required=True),
            allow_downgrade=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            **dict(CONNECTION_ARGS, **dict(NODE_ARGS, **WAIT_ARGS))
        ),
        supports_check_mode=True,
    )
    requires(module, *TALOS_API)
    run(module, upgrade)


if __name__ == '__main__':
    main()
