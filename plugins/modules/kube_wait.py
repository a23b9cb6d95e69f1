#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_wait
short_description: Wait until nodes are Ready and objects are rolled out, and say which is not and why
version_added: 0.2.0
description:
  - Polls the Kubernetes API until every node of O(nodes) is registered and C(Ready) and every object of
    O(objects) is ready by its kind's rule, then returns what it saw. It changes nothing.
  - "Rules: a Deployment is rolled out when every replica is updated and available for the generation it was given
    (as C(kubectl rollout status)); a DaemonSet when every scheduled pod is updated and available, and, with
    O(nodes), when a pod of it runs and is ready on each of those nodes; a Job when it is C(Complete); a
    CustomResourceDefinition when it is C(Established); a Flux object (or any object with a C(Ready) condition) when
    C(Ready) is true for its current generation; anything else when it exists."
  - When time runs out the task fails and names each node that is not Ready with the reason and message of its
    C(Ready) condition, and each object that is not ready with what was seen, including why its pods do not run
    (not schedulable and the scheduler's message, C(CrashLoopBackOff) with the last exit code and termination
    message, and so on).
  - Fails at once, without waiting out O(wait_timeout), when waiting cannot help - a Job that failed, a Deployment
    past its progress deadline, a Flux object that is C(Stalled), a kind the cluster does not serve.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.wait
  - hybridops.talos.kube_api.action_group
options:
  nodes:
    description:
      - Names of the nodes that must be registered and C(Ready). An empty list means every registered node (and at
        least one).
    type: list
    elements: str
    default: []
  check_nodes:
    description: Also wait for the nodes. With V(false) only O(objects) are waited for.
    type: bool
    default: true
  objects:
    description: The objects that must be ready.
    type: list
    elements: dict
    default: []
    suboptions:
      api_version:
        description: The object's C(apiVersion), for example V(apps/v1).
        type: str
        required: true
      kind:
        description: The object's kind.
        type: str
        required: true
      name:
        description: The object's name.
        type: str
        required: true
      namespace:
        description: The object's namespace, for namespaced kinds.
        type: str
  site_label:
    description: A node label whose value RV(nodes) reports as each node's C(site).
    type: str
    default: hybridops.io/site
attributes:
  check_mode:
    support: full
    description: Reads only, in check mode as in a normal run.
  diff_mode:
    support: none
    description: Nothing changes, so there is no difference to show.
  idempotent:
    support: full
    description: Never changes anything.
seealso:
  - module: hybridops.talos.kube_apply
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Wait until the five nodes are Ready and Cilium runs on each of them
  hybridops.talos.kube_wait:
    kubeconfig: ~/.local/share/hybridops-talos/prod/kubeconfig
    nodes: [vps-0, vps-1, home-cp-0, home-w-0, home-w-1]
    objects:
      - {api_version: apps/v1, kind: DaemonSet, namespace: kube-system, name: cilium}
      - {api_version: apps/v1, kind: Deployment, namespace: kube-system, name: cilium-operator}
    wait_timeout: 600
  register: cluster

- name: Wait for two Flux objects only
  hybridops.talos.kube_wait:
    check_nodes: false
    objects:
      - {api_version: source.toolkit.fluxcd.io/v1, kind: GitRepository, namespace: flux-system, name: flux-system}
      - {api_version: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, namespace: flux-system, name: flux-system}
"""

RETURN = r"""
nodes:
  description: Every node waited for, as last seen.
  returned: always, unless O(check_nodes=false)
  type: list
  elements: dict
  contains:
    name:
      description: The node's name.
      type: str
    ready:
      description: Whether its C(Ready) condition is true.
      type: bool
    roles:
      description: The roles of its C(node-role.kubernetes.io/<role>) labels, as C(kubectl get nodes) shows them.
      type: list
      elements: str
    site:
      description: The value of its O(site_label) label.
      type: str
    state:
      description: C(Ready), or the status, reason and message of its C(Ready) condition, or V(not registered).
      type: str
objects:
  description: Every object waited for, as last seen.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The object's kind.
      type: str
    name:
      description: The object's name.
      type: str
    namespace:
      description: The object's namespace.
      type: str
    ready:
      description: Whether it is ready by its kind's rule.
      type: bool
    state:
      description: What was seen, for example V(5 of 5 pods available) or V(not found).
      type: str
    pods:
      description: Why pods of a workload that is not ready do not run, one line per pod.
      type: list
      elements: str
duration:
  description: Seconds waited.
  returned: always
  type: float
failure:
  description: The structured cause of a failure; C(problems) lists every node and object that was not ready.
  returned: failed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._kube import wait as kube_wait
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient


def argument_spec():
    return dict(
        KUBE_ARGS,
        nodes=dict(type='list', elements='str', default=[]),
        check_nodes=dict(type='bool', default=True),
        objects=dict(type='list', elements='dict', default=[], options=dict(
            api_version=dict(type='str', required=True),
            kind=dict(type='str', required=True),
            name=dict(type='str', required=True),
            namespace=dict(type='str'),
        )),
        site_label=dict(type='str', default='hybridops.io/site'),
        wait_timeout=dict(type='int', default=300),
    )


def body(module):
    params = module.params
    client = KubeClient.from_params(params)
    targets = [kube_wait.target(entry) for entry in params['objects']]
    observation, seconds = kube_wait.wait(client, targets, expected_nodes=params['nodes'] or None,
                                          check_nodes=params['check_nodes'], timeout=params['wait_timeout'],
                                          site_label=params['site_label'])
    result = dict(changed=False, objects=observation.objects, duration=round(seconds, 1))
    if params['check_nodes']:
        result['nodes'] = observation.nodes
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, *KUBE_API)
    run(module, body)


if __name__ == '__main__':
    main()
