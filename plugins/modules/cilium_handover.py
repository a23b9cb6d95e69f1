#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cilium_handover
short_description: Hand a running Cilium to Flux - a HelmRelease that adopts its Helm release unchanged
version_added: 0.2.0
description:
  - Cilium installed by the Talos inline manifest (C(cilium install), a Helm release) cannot be changed through the
    Talos configs afterwards - inline manifests are create-only. This module hands it to Flux so that Cilium is
    changed and upgraded through Git from then on.
  - Reads the running Helm release O(name) in O(namespace) (Helm's C(helm.sh/release.v1) Secrets) and creates a
    C(HelmRepository) for O(chart_repository) in O(flux_namespace) and a C(HelmRelease) O(namespace)/O(name) with the
    running chart version and the running values, so helm-controller's adoption (an upgrade of the release it did
    not make) changes nothing in the cluster. Then waits until the HelmRelease is C(Ready).
  - Refuses, before anything is written, when no deployed release of that name runs, when it is not Cilium's chart,
    or when it is not O(version) - the hand-over never upgrades; upgrade through Git afterwards.
  - Create-only - once a HelmRelease O(namespace)/O(name) exists, Git owns it and this module leaves it untouched
    (C(changed=false), C(handed_over=true)), whoever changed it since.
  - With O(dest), the two objects are also written as YAML to commit to the GitOps repository.
  - Needs Flux's CRDs (M(hybridops.talos.flux_install)); without them the task fails before it writes anything.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.wait
  - hybridops.talos.kube_api.action_group
options:
  name:
    description: The Helm release to adopt, and the name of the HelmRelease (C(cilium install) names it V(cilium)).
    type: str
    default: cilium
  namespace:
    description: Where the release is stored and the HelmRelease is created (Cilium's namespace).
    type: str
    default: kube-system
  flux_namespace:
    description: Flux's namespace, where the HelmRepository is created.
    type: str
    default: flux-system
  version:
    description:
      - The Cilium version expected to run, for example V(1.18.3); another running version is refused. Omitted, the
        running version is adopted whatever it is.
    type: str
  chart_repository:
    description: The Helm repository Flux fetches Cilium's chart from.
    type: str
    default: https://helm.cilium.io/
  interval:
    description: How often helm-controller reconciles the HelmRelease (a Go duration).
    type: str
    default: 30m0s
  dest:
    description:
      - Also write the HelmRepository and the HelmRelease as YAML to this file on the controller (mode 0600, as the
        values may hold secrets), to commit to the GitOps repository.
    type: path
  field_manager:
    description: The field manager of the server-side apply.
    type: str
    default: hybridops.talos
  wait:
    description: Wait until the HelmRepository and the HelmRelease are Ready.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the release, then applies as the API server's dry run; O(dest) is not written.
  diff_mode:
    support: full
    description: One diff per object created.
  idempotent:
    support: full
    description: Once the HelmRelease exists nothing is changed.
seealso:
  - module: hybridops.talos.flux_install
  - module: hybridops.talos.flux_sync
"""

EXAMPLES = r"""
- name: Hand Cilium to Flux, and keep the objects for the GitOps repository
  hybridops.talos.cilium_handover:
    kubeconfig: ~/.local/share/hybridops-talos/prod/kubeconfig
    version: 1.18.3
    dest: ~/gitops/infrastructure/cilium.yaml
"""

RETURN = r"""
handed_over:
  description: Whether a HelmRelease for the release existed already (then nothing was changed).
  returned: success
  type: bool
release:
  description: The running Helm release that was adopted (name, namespace, revision, chart, version), values left out.
  returned: success and RV(handed_over=false)
  type: dict
objects:
  description: The objects applied, with the action taken on each.
  returned: success
  type: list
  elements: dict
counts:
  description: How many objects were created, updated and left unchanged.
  returned: success
  type: dict
managers:
  description: The field managers that wrote the existing HelmRelease (ours, then kustomize-controller once it is in Git).
  returned: RV(handed_over=true)
  type: list
  elements: str
dest:
  description: The file written for the GitOps repository.
  returned: O(dest) given
  type: str
ready:
  description: What the wait saw last, per object.
  returned: O(wait=true)
  type: list
  elements: dict
duration:
  description: Seconds the task took.
  returned: success
  type: float
failure:
  description:
    - The structured cause of a failure. C(reason) is V(no_release), V(not_cilium), V(version_mismatch), V(bad_release),
      V(kind_not_served) (Flux is not installed), V(not_ready) (the wait ran out) or an API error code.
  returned: failed
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils import _cilium_handover as handover
from ansible_collections.hybridops.talos.plugins.module_utils import _flux
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._kube import converge, manifests
from ansible_collections.hybridops.talos.plugins.module_utils._kube.apply import summary
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient, Resource
from ansible_collections.hybridops.talos.plugins.module_utils._talos.files import write_private_file

SECRETS = Resource('v1', 'Secret', 'secrets', True)
HELM_RELEASES = converge.HELM_RELEASES
HELM_REPOSITORIES = converge.HELM_REPOSITORIES


def argument_spec():
    return dict(
        KUBE_ARGS,
        name=dict(type='str', default='cilium'),
        namespace=dict(type='str', default='kube-system'),
        flux_namespace=dict(type='str', default='flux-system'),
        version=dict(type='str'),
        chart_repository=dict(type='str', default=handover.CHART_REPOSITORY),
        interval=dict(type='str', default='30m0s'),
        dest=dict(type='path'),
        field_manager=dict(type='str', default='hybridops.talos'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
    )


def body(module):
    params = module.params
    started = time.monotonic()
    _flux.check_duration(params['interval'], 'interval')
    client = KubeClient.from_params(params)
    converge.require_flux(client, HELM_REPOSITORIES, HELM_RELEASES)
    name, namespace = params['name'], params['namespace']
    existing = client.get(HELM_RELEASES, name, namespace)
    if existing is not None:
        # Who wrote its spec (status writers are the controllers, not owners).
        managers = sorted({m.get('manager') for m in existing['metadata'].get('managedFields') or ()
                           if m.get('manager') and m.get('subresource') != 'status'})
        return dict(changed=False, handed_over=True, managers=managers, objects=[], counts=summary([]),
                    duration=round(time.monotonic() - started, 2))
    release = handover.running_release(client.list(SECRETS, namespace, label_selector='owner=helm,name=%s' % name), name, namespace)
    handover.check_release(release, name, namespace, params['version'])
    docs = handover.objects(release, name, namespace, params['flux_namespace'], params['chart_repository'], params['interval'])
    result, _outcomes = converge.apply_and_report(client, docs, module)
    result.update(handed_over=False, release={k: release[k] for k in ('revision', 'chart', 'version')})
    result['release'].update(name=name, namespace=namespace)
    if params['dest']:
        result['dest'] = params['dest']
        if not module.check_mode:
            text = handover.git_file(docs, manifests.yaml.safe_dump)
            write_private_file(params['dest'], text.encode('utf-8'), 'the Cilium hand-over for Git')
    ready = converge.wait_ready(client, converge.targets_of(docs), module, 'Flux to adopt Cilium')
    if ready is not None:
        result['ready'] = ready
    result['duration'] = round(time.monotonic() - started, 2)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, *KUBE_API)
    run(module, body)


if __name__ == '__main__':
    main()
