#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: proxmox_csi_access
short_description: Least-privilege Proxmox VE access for the Proxmox CSI plugin, and its config Secret in Kubernetes
version_added: 0.2.0
description:
  - Creates what the Proxmox CSI plugin (sergelogvinov/proxmox-csi-plugin) needs in Proxmox VE, as its
    C(docs/install.md) does with C(pveum) - the role O(role) with exactly C(VM.Audit), C(VM.Config.Disk),
    C(Datastore.Allocate), C(Datastore.AllocateSpace) and C(Datastore.Audit) (a role with other privileges is set
    to these, and RV(pve) says which were added and removed), the user O(user), an ACL entry giving it the role
    on C(/), and the API token O(token_name) without privilege separation (C(privsep 0)).
  - Writes the token into the Kubernetes Secret O(namespace)/O(secret_name), key C(config.yaml), in the form the
    chart's C(existingConfigSecret) takes (C(clusters) with C(url), C(insecure), C(token_id), C(token_secret),
    C(region)), and labels the namespace C(pod-security.kubernetes.io/enforce=privileged) (created when absent).
  - PVE returns a token's secret only when it creates the token. The secret goes into the Secret and nowhere else -
    not into results, diffs, warnings, errors or logs. When the token exists but the Secret is missing or holds
    another token, the token is deleted and created again; RV(pve) says so and why.
  - The region written into the config is RV(region), the token's ID RV(token_id).
  - Before anything is written, each storage of O(storages) must exist, hold disk images and be of a type the plugin
    places disks on (C(dir), C(lvm), C(lvmthin), C(nfs), C(rbd), C(zfspool)), and the PVE nodes must be clustered.
    A single PVE node that never joined a cluster is refused - the plugin's docs require a cluster (a single node
    may cluster with itself with C(pvecm create <name>)) and its region is the cluster's name.
  - community.proxmox 1.4.0 has M(community.proxmox.proxmox_user) and M(community.proxmox.proxmox_access_acl) but no
    module for roles or API tokens, and a token's secret must be handed on in the same task that creates it; so
    this module does all four with C(proxmoxer), the library community.proxmox uses.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.action_group
options:
  api_host:
    description:
      - Host name or address of the Proxmox VE API (as community.proxmox takes it).
      - Defaults to E(PROXMOX_HOST).
    type: str
    required: true
  api_port:
    description: Port of the Proxmox VE API; defaults to E(PROXMOX_PORT), then 8006.
    type: int
    default: 8006
  api_user:
    description:
      - User of the API token, such as V(root@pam); defaults to E(PROXMOX_USER). May be left out when O(api_token_id)
        is the full V(USER@REALM!NAME).
    type: str
  api_token_id:
    description: The API token's name, or its full ID V(USER@REALM!NAME); defaults to E(PROXMOX_TOKEN_ID).
    type: str
    required: true
  api_token_secret:
    description: The API token's secret; defaults to E(PROXMOX_TOKEN_SECRET).
    type: str
    required: true
  validate_certs:
    description:
      - Verify the PVE API's certificate (with O(ca_file), or the system trust store). Defaults to
        E(PROXMOX_VALIDATE_CERTS), then V(true) (community.proxmox's default is V(false); ours is not).
    type: bool
    default: true
  ca_file:
    description: CA certificate that signed the PVE API's certificate; defaults to E(PROXMOX_CA_FILE).
    type: path
  role:
    description: Name of the PVE role; a built-in role (such as V(PVEAuditor)) is refused, since PVE does not let it change.
    type: str
    default: CSI
  user:
    description: The PVE user the plugin acts as (V(USER@REALM)).
    type: str
    default: kubernetes-csi@pve
  token_name:
    description: Name of the user's API token; the plugin's token ID is O(user)C(!)O(token_name).
    type: str
    default: csi
  region:
    description:
      - The region of the plugin's config, which must be the PVE cluster's name and the nodes'
        C(topology.kubernetes.io/region) label. Read from C(/cluster/status) when omitted; refused when it differs.
    type: str
  storages:
    description: The PVE storage IDs the StorageClasses will use; required with O(state=present).
    type: list
    elements: str
    default: []
  plugin_insecure:
    description:
      - The C(insecure) of the plugin's config. The plugin has no CA option, so when omitted it is V(true) when
        O(validate_certs=false) or O(ca_file) is set (a private CA the plugin cannot know), else V(false).
    type: bool
  namespace:
    description: Namespace of the plugin and its Secret.
    type: str
    default: csi-proxmox
  secret_name:
    description: Name of the Secret (the chart's C(existingConfigSecret)).
    type: str
    default: proxmox-csi-plugin
  field_manager:
    description: The field manager of the server-side apply.
    type: str
    default: hybridops.talos
  state:
    description:
      - V(present) creates or fixes the access and the Secret; V(absent) deletes the token, the ACL entry, the user,
        the role and the Secret (the namespace stays, with whatever else lives in it).
    type: str
    choices: [present, absent]
    default: present
requirements:
  - proxmoxer >= 2.0
  - requests
attributes:
  check_mode:
    support: full
    description: Nothing is written in PVE; the Kubernetes side is the API server's dry run.
  diff_mode:
    support: full
    description: The role's privileges, the user, the ACL entry, the token's ID and the Secret's metadata; never the secret.
  idempotent:
    support: full
    description: A second run changes nothing; the token is made again only when its secret is not in the Secret.
seealso:
  - module: hybridops.talos.kube_apply
  - module: community.proxmox.proxmox_user
  - module: community.proxmox.proxmox_access_acl
"""

EXAMPLES = r"""
- name: Give the Proxmox CSI plugin its PVE role, user, ACL entry and token, and its config Secret
  hybridops.talos.proxmox_csi_access:
    api_host: pve1.home.example.org
    api_user: root@pam
    api_token_id: ansible
    api_token_secret: "{{ vault_proxmox_token_secret }}"
    ca_file: /etc/pki/pve-ca.pem
    kubeconfig: ~/.local/share/hybridops-talos/prod/kubeconfig
    storages: [local-zfs]

- name: Remove them again
  hybridops.talos.proxmox_csi_access:
    kubeconfig: ~/.local/share/hybridops-talos/prod/kubeconfig
    state: absent
"""

RETURN = r"""
region:
  description: The region written into the plugin's config (the PVE cluster's name).
  returned: always
  type: str
  sample: home
token_id:
  description: The plugin's token ID (not its secret).
  returned: always
  type: str
  sample: kubernetes-csi@pve!csi
pve:
  description:
    - What happened to the C(role), C(user), C(acl) and C(token) - C(action) (V(created), V(updated), V(recreated),
      V(unchanged), V(deleted)) and, for the role, C(privileges), C(added) and C(removed); for a token made
      (again), C(why).
  returned: always
  type: dict
  sample: {role: {action: updated, name: CSI, added: [Datastore.Audit], removed: [VM.Allocate]},
           token: {action: recreated, id: kubernetes-csi@pve!csi, why: the Secret with its secret is missing}}
objects:
  description: The Kubernetes objects applied (or deleted) and what happened to each.
  returned: always
  type: list
  elements: dict
counts:
  description: How many Kubernetes objects were created, updated and left unchanged.
  returned: O(state=present)
  type: dict
  sample: {created: 0, updated: 0, unchanged: 2}
duration:
  description: Seconds the task took.
  returned: success
  type: float
failure:
  description: The structured cause of a failure (C(reason) such as C(unsupported_storage), C(missing_storage), C(not_clustered)).
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils import _proxmox_csi_access
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS
from ansible_collections.hybridops.talos.plugins.module_utils._pve_api import PVE_ARGS
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, PVE_API, requires


def argument_spec():
    return dict(
        KUBE_ARGS,
        **PVE_ARGS,
        role=dict(type='str', default='CSI'),
        user=dict(type='str', default='kubernetes-csi@pve'),
        token_name=dict(type='str', default='csi', no_log=False),
        region=dict(type='str'),
        storages=dict(type='list', elements='str', default=[]),
        plugin_insecure=dict(type='bool'),
        namespace=dict(type='str', default='csi-proxmox'),
        secret_name=dict(type='str', default='proxmox-csi-plugin', no_log=False),
        field_manager=dict(type='str', default='hybridops.talos'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, *(PVE_API + KUBE_API))
    run(module, _proxmox_csi_access.run)


if __name__ == '__main__':
    main()
