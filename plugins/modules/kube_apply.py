#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_apply
short_description: Server-side apply of many Kubernetes objects at once, with honest changes and diffs
version_added: 0.2.0
description:
  - Applies Kubernetes objects with server-side apply under one field manager, the way
    C(kubectl apply --server-side) does, and reports per object whether it was V(created), V(updated) or
    V(unchanged).
  - Every kind is looked up before anything is written; a kind the cluster does not serve (a custom resource
    whose CustomResourceDefinition is missing) fails the task before any object is applied, unless its CRD is in
    the same task. Namespaces go first, then CRDs, then the rest in the order given; custom resources wait
    until their CRD from the same task is Established.
  - Only what changes counts as a change. C(resourceVersion), C(generation), C(managedFields), C(uid),
    C(creationTimestamp) and C(status) never make a change or a diff.
  - Check mode is the API server's own dry run (C(dryRun=All)), so defaulting, validation, admission and
    field-ownership conflicts are the real ones. A custom resource whose CRD is only being created in the same
    task cannot be dry-run; it is reported as V(created).
  - The values of Secrets never appear in results or diffs; a diff shows C(<redacted>), or
    C(<redacted, changed>) where a value changes.
  - For many objects it is faster than M(kubernetes.core.k8s) in a loop - one discovery request per API
    group-version instead of the whole API, the current state read with one list per kind and namespace, and the
    applies sent on up to eight connections at once (docs/kubernetes.md).
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.wait
  - hybridops.talos.kube_api.action_group
options:
  definitions:
    description:
      - The objects to apply, as mappings (C(apiVersion), C(kind), C(metadata.name) at least). A C(List) is
        unpacked. Mutually exclusive with O(src).
    type: list
    elements: raw
  src:
    description:
      - A YAML file with the objects to apply (several documents allowed), on the controller.
    type: path
  namespace:
    description: Namespace for namespaced objects that name none.
    type: str
  field_manager:
    description:
      - The field manager the fields are applied as. Fields this manager applied before and no longer applies are
        removed, unless another manager owns them too.
    type: str
    default: hybridops.talos
  force_conflicts:
    description:
      - Take over fields another field manager owns. Without it such a conflict fails the task and names the fields
        and their managers.
    type: bool
    default: false
  wait:
    description:
      - After applying, wait until every object is ready by its kind's rule (Deployments and DaemonSets rolled out,
        Jobs complete, CRDs established, Flux objects Ready), up to O(wait_timeout) seconds.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The API server's dry run; nothing is stored.
  diff_mode:
    support: full
    description: One diff per object that changes, without metadata noise, Secret values redacted.
  idempotent:
    support: full
    description: Applying the same objects again changes nothing and reports V(unchanged) for each.
seealso:
  - module: hybridops.talos.kube_wait
  - module: kubernetes.core.k8s
"""

EXAMPLES = r"""
- name: Apply a namespace and a ConfigMap in it
  hybridops.talos.kube_apply:
    kubeconfig: ~/.local/share/hybridops-talos/prod/kubeconfig
    definitions:
      - apiVersion: v1
        kind: Namespace
        metadata:
          name: tools
      - apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          namespace: tools
        data:
          level: info

- name: Apply the objects of a file and wait until they are ready
  hybridops.talos.kube_apply:
    src: "{{ playbook_dir }}/files/monitoring.yaml"
    namespace: monitoring
    wait: true
    wait_timeout: 600

- name: Label the worker nodes with their role, taking the field over from whoever set it
  hybridops.talos.kube_apply:
    force_conflicts: true
    definitions:
      - apiVersion: v1
        kind: Node
        metadata:
          name: home-w-0
          labels:
            node-role.kubernetes.io/worker: ""
"""

RETURN = r"""
objects:
  description: Every object applied, in the order given, with what happened to it.
  returned: success
  type: list
  elements: dict
  contains:
    api_version:
      description: The object's C(apiVersion).
      type: str
    kind:
      description: The object's kind.
      type: str
    namespace:
      description: The object's namespace, for namespaced objects.
      type: str
    name:
      description: The object's name.
      type: str
    action:
      description: V(created), V(updated) or V(unchanged) (in check mode what would happen).
      type: str
  sample:
    - {api_version: v1, kind: ConfigMap, namespace: tools, name: settings, action: created}
counts:
  description: How many objects were created, updated and left unchanged.
  returned: success
  type: dict
  sample: {created: 1, updated: 0, unchanged: 199}
duration:
  description: Seconds the task took, the wait included.
  returned: success
  type: float
ready:
  description: What the wait saw last, per object.
  returned: O(wait=true)
  type: list
  elements: dict
failure:
  description: The structured cause of a failure (C(reason), C(call), C(status), C(message), and the API's C(causes)).
  returned: failed
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._kube import manifests, wait as kube_wait
from ansible_collections.hybridops.talos.plugins.module_utils._kube.apply import Applier, diffs, results, summary
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError


def argument_spec():
    return dict(
        KUBE_ARGS,
        definitions=dict(type='list', elements='raw'),
        src=dict(type='path'),
        namespace=dict(type='str'),
        field_manager=dict(type='str', default='hybridops.talos'),
        force_conflicts=dict(type='bool', default=False),
        wait=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=300),
    )


def load(params):
    if params['src']:
        try:
            with open(params['src'], encoding='utf-8') as handle:
                text = handle.read()
        except OSError as exc:
            raise KubeError('missing_file', 'cannot read %s: %s' % (params['src'], exc.strerror), call='Reading the objects') from None
        objects, what = manifests.load_text(text, params['src']), params['src']
    else:
        objects, what = [], 'definitions'
        for item in params['definitions']:
            if isinstance(item, str):
                objects.extend(manifests.load_text(item, 'definitions'))
            elif isinstance(item, dict) and item.get('kind') == 'List' and isinstance(item.get('items'), list):
                objects.extend(item['items'])
            else:
                objects.append(item)
    return manifests.check(objects, params['namespace'], what)


def body(module):
    params = module.params
    started = time.monotonic()
    objects = load(params)
    client = KubeClient.from_params(params)
    outcomes = Applier(client, params['field_manager'], force=params['force_conflicts'], check_mode=module.check_mode).apply(objects)
    result = dict(changed=any(o.action != 'unchanged' for o in outcomes), objects=results(outcomes), counts=summary(outcomes))
    if module._diff:
        result['diff'] = diffs(outcomes)
    if params['wait'] and not module.check_mode:
        targets = [kube_wait.Target(o.obj['apiVersion'], o.obj['kind'], o.obj['metadata']['name'],
                                    o.obj['metadata'].get('namespace') if (o.after or {}).get('metadata', {}).get('namespace') else None)
                   for o in outcomes]
        observation, _seconds = kube_wait.wait(client, targets, check_nodes=False, timeout=params['wait_timeout'],
                                               what='the applied objects')
        result['ready'] = observation.objects
    result['duration'] = round(time.monotonic() - started, 2)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[('definitions', 'src')], required_one_of=[('definitions', 'src')])
    requires(module, *KUBE_API)
    run(module, body)


if __name__ == '__main__':
    main()
