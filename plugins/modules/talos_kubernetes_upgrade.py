#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_kubernetes_upgrade
short_description: Move one Talos node to another Kubernetes version and wait until it runs it
version_added: 0.2.0
description:
  - Reads the node's Talos version and its running machine config, and from the kubelet image's tag the Kubernetes
    version it runs.
  - Refuses, before anything is written, a downgrade, a step of more than one minor version, and a version that the
    node's Talos release does not support (Talos' support matrix, for example Kubernetes 1.27 to 1.32 on Talos 1.9).
  - Sets the tag of the component images in the running config (C(cluster.apiServer), C(cluster.controllerManager),
    C(cluster.scheduler), C(cluster.proxy), C(machine.kubelet.image)) to V(v<kubernetes_version>), as
    C(talosctl upgrade-k8s) does, and applies the config without a reboot. Nothing else in the config changes, so it
    stays equal to what the C(talos_cluster) role renders with the new C(talos_cluster_kubernetes_version).
  - With O(wait=true), waits until the Node object reports the new kubelet version and Ready and, on a control plane,
    its own API server answers C(/version) with the new version. It fails naming the node when that does not happen in
    time.
  - A node whose images carry the target version already is left alone (changed=false, no call that writes).
  - One node only; the playbook C(hybridops.talos.upgrade-kubernetes) goes through the cluster, control planes first,
    and checks etcd between them.
  - Needs a talosconfig with the C(os:admin) role (the running config holds secrets).
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - grpclib
  - protobuf
  - cryptography
  - PyYAML
  - kubernetes
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.node
  - hybridops.talos.talos_api.wait
  - hybridops.talos.talos_api.action_group
options:
  kubernetes_version:
    description:
      - The Kubernetes release to run, such as V(1.32.4) (a leading V(v) is accepted).
    type: str
    required: true
  node_name:
    description:
      - The name of the node's Node object in Kubernetes (its hostname). Needed when O(wait=true).
    type: str
  kubeconfig:
    description:
      - A kubeconfig for the cluster, used to read the Node object and the API server versions. Needed when
        O(wait=true).
    type: path
attributes:
  check_mode:
    support: full
    description: Reads the node and reports which images would change, without applying anything.
  diff_mode:
    support: full
    description: Shows the image references before and after.
  idempotent:
    support: full
    description: A node whose images carry the version already is left alone.
"""

EXAMPLES = r"""
- name: Move vps-0 to Kubernetes 1.32.4
  hybridops.talos.talos_kubernetes_upgrade:
    node: 203.0.113.10
    node_name: vps-0
    kubernetes_version: 1.32.4
    talosconfig: secrets/talos/talosconfig
    kubeconfig: secrets/talos/kubeconfig
"""

RETURN = r"""
previous_version:
  description: The Kubernetes version the node's config asked for before.
  returned: success
  type: str
  sample: 1.31.7
version:
  description: The Kubernetes version the node's config asks for at the end (the previous one in check mode).
  returned: success
  type: str
  sample: 1.32.4
talos_version:
  description: The Talos version the node runs.
  returned: success
  type: str
  sample: v1.9.6
images:
  description: The images changed (or that would change in check mode), by config path, as C(before) and C(after).
  returned: success
  type: dict
  sample: {"machine.kubelet.image": {"before": "ghcr.io/siderolabs/kubelet:v1.31.7", "after": "ghcr.io/siderolabs/kubelet:v1.32.4"}}
duration:
  description: Seconds spent waiting for the node to report the new version.
  returned: when the node was changed and O(wait=true)
  type: float
failure:
  description:
    - The structured cause of a failure (C(reason), C(node), C(call), C(message)). C(reason) is V(refused) for a
      downgrade, a skipped minor or a version Talos does not support, V(timeout) when the node did not come up at the
      new version in time.
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError, run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._talos import k8s_upgrade as k8s
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import (
    CONNECTION_ARGS, NODE_ARGS, WAIT_ARGS, Connection, node_host)
from ansible_collections.hybridops.talos.plugins.module_utils._talos.yamlio import dump_documents, load_documents


def upgrade(module):
    params = module.params
    target = k8s.parse_version(params['kubernetes_version'])
    if params['wait'] and not module.check_mode and not (params['node_name'] and params['kubeconfig']):
        raise ModuleError('bad_input', 'node_name and kubeconfig are needed to wait for the node (or set wait=false).')
    node = params['node']
    with Connection(params) as connection:
        client = connection.client(node)
        talos_tag = client.version().version.tag
        docs = load_documents(client.running_config(), 'the running machine config of node %s' % node)
        doc = k8s.v1alpha1_of(docs)
        current = k8s.running_version(doc)
        why = k8s.refusal(current, target, talos_tag)
        if why:
            raise ModuleError('refused', why, node=node, sentence='Node %s: %s' % (node, why))
        changes = k8s.retag(doc, target)
        result = dict(changed=bool(changes), previous_version=k8s.text(current), talos_version=talos_tag,
                      version=k8s.text(current if module.check_mode or not changes else target),
                      images={path: dict(before=old, after=new) for path, (old, new) in changes.items()})
        if module._diff and changes:
            result['diff'] = dict(before=''.join('%s: %s\n' % (p, o) for p, (o, n) in sorted(changes.items())),
                                  after=''.join('%s: %s\n' % (p, n) for p, (o, n) in sorted(changes.items())),
                                  before_header='node %s' % node, after_header='node %s' % node)
        if not changes or module.check_mode:
            return result
        client.apply_configuration(dump_documents(docs).encode('utf-8'), mode='no_reboot')
    if params['wait']:
        from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KubeClient  # pylint: disable=import-outside-toplevel
        from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError  # pylint: disable=import-outside-toplevel
        kube = KubeClient(params['kubeconfig'], timeout=min(params['timeout'], 10.0))
        own_api = None
        if doc.get('machine', {}).get('type') in ('controlplane', 'init'):
            own_api = KubeClient(params['kubeconfig'], timeout=min(params['timeout'], 10.0))
            own_api.host = k8s.api_url(node_host(node))  # this control plane's API server, not the shared endpoint
        result['duration'] = round(k8s.wait_for_kubernetes(kube, own_api, params['node_name'], target, params['wait_timeout'],
                                                           (KubeError,)), 2)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubernetes_version=dict(type='str', required=True),
            node_name=dict(type='str'),
            kubeconfig=dict(type='path'),
            **dict(CONNECTION_ARGS, **dict(NODE_ARGS, **WAIT_ARGS))
        ),
        supports_check_mode=True,
    )
    requires(module, *TALOS_API)
    run(module, upgrade)


if __name__ == '__main__':
    main()
