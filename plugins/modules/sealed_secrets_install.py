#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sealed_secrets_install
short_description: Install the Sealed Secrets controller through Flux
version_added: 0.2.0
description:
  - Applies, with server-side apply, a Flux C(HelmRepository) for U(https://bitnami-labs.github.io/sealed-secrets) and a
    C(HelmRelease) of the pinned chart C(sealed-secrets) with C(fullnameOverride) set to O(controller_name), the name
    C(kubeseal) and M(hybridops.talos.sealed_secrets_cert) look for.
  - Then waits until the HelmRelease is ready, the controller Deployment is available and the controller has an active
    key (a C(kubernetes.io/tls) Secret labelled C(sealedsecrets.bitnami.com/sealed-secrets-key=active) in O(namespace),
    which the controller makes on its first start). Only the names of the key Secrets are returned, never their data.
  - O(state=absent) removes the HelmRelease (Flux uninstalls the chart) and the HelmRepository. The key Secrets and the
    SealedSecret CRD stay, as Helm leaves them; without the keys no SealedSecret in Git unseals again, so back them up
    (C(playbooks/backup.yml) does).
  - Needs Flux (M(hybridops.talos.flux_install)); without its CRDs the task fails before it writes anything.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.wait
  - hybridops.talos.kube_api.action_group
options:
  state:
    description: Whether the controller should be installed.
    type: str
    choices: [present, absent]
    default: present
  version:
    description: Version of the C(sealed-secrets) chart; only the 2.18 line (controller 0.36) is taken.
    type: str
    default: 2.18.0
  chart_repository:
    description: URL of the Helm repository with the chart (a mirror on sites without internet).
    type: str
    default: https://bitnami-labs.github.io/sealed-secrets
  namespace:
    description: Namespace of the HelmRelease, the controller and its keys; C(kubeseal) looks in V(kube-system).
    type: str
    default: kube-system
  flux_namespace:
    description: Namespace of the HelmRepository (Flux's).
    type: str
    default: flux-system
  release_name:
    description: Name of the HelmRelease and the Helm release.
    type: str
    default: sealed-secrets
  controller_name:
    description: Name of the controller's Deployment and Service (the chart's C(fullnameOverride)); C(kubeseal) looks for V(sealed-secrets-controller).
    type: str
    default: sealed-secrets-controller
  interval:
    description: How often Flux reconciles the HelmRelease.
    type: str
    default: 30m0s
  field_manager:
    description: Field manager of the server-side applies.
    type: str
    default: hybridops.talos
  wait:
    description:
      - Wait until the controller runs and has an active key; with O(state=absent), until Flux has uninstalled it.
    type: bool
    default: true
attributes:
  check_mode:
    description: The Kubernetes writes are the API server's dry run, and nothing is waited for.
    support: full
  diff_mode:
    description: The objects before and after.
    support: full
  idempotent:
    description: Applying the same objects again changes nothing and reports C(changed=false).
    support: full
seealso:
  - module: hybridops.talos.flux_install
  - module: hybridops.talos.sealed_secrets_cert
"""

EXAMPLES = r"""
- name: Install the Sealed Secrets controller
  hybridops.talos.sealed_secrets_install:
    kubeconfig: "{{ kubeconfig }}"
  register: sealed_secrets

- name: Say which key the controller seals with
  ansible.builtin.debug:
    msg: "Active keys: {{ sealed_secrets.active_keys | join(', ') }}"

- name: Remove the controller (its keys stay)
  hybridops.talos.sealed_secrets_install:
    kubeconfig: "{{ kubeconfig }}"
    state: absent
"""

RETURN = r"""
changed:
  description: Whether anything was created, updated or deleted (in check mode, would be).
  returned: always
  type: bool
objects:
  description: Each object with its C(kind), C(name), C(namespace) and C(action) (created, updated, unchanged, deleted).
  returned: success
  type: list
  elements: dict
counts:
  description: How many objects were created, updated and left unchanged.
  returned: O(state=present)
  type: dict
version:
  description: The chart version installed.
  returned: O(state=present)
  type: str
controller:
  description: Namespace and name of the controller's Deployment and Service.
  returned: O(state=present)
  type: dict
  sample: {namespace: kube-system, name: sealed-secrets-controller}
active_keys:
  description: Names of the controller's active key Secrets, oldest first (never their data).
  returned: O(state=present) and O(wait=true), not in check mode
  type: list
  elements: str
ready:
  description: What the wait saw last, per object.
  returned: O(state=present) and O(wait=true), not in check mode
  type: list
  elements: dict
duration:
  description: Seconds the task took.
  returned: success
  type: float
failure:
  description: The structured cause of a failure.
  returned: failed
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils import _flux, _sealed_secrets_controller as ctl
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._retry import WaitTimeout, wait_for
from ansible_collections.hybridops.talos.plugins.module_utils._kube import converge, wait as kube_wait
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient, Resource
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError

SECRETS = Resource('v1', 'Secret', 'secrets', True)
DEPLOYMENTS = Resource('apps/v1', 'Deployment', 'deployments', True)


def argument_spec():
    return dict(
        KUBE_ARGS,
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        version=dict(type='str', default=ctl.DEFAULT_VERSION),
        chart_repository=dict(type='str', default=ctl.CHART_REPOSITORY),
        namespace=dict(type='str', default='kube-system'),
        flux_namespace=dict(type='str', default='flux-system'),
        release_name=dict(type='str', default='sealed-secrets'),
        controller_name=dict(type='str', default=ctl.CONTROLLER_NAME),
        interval=dict(type='str', default='30m0s'),
        field_manager=dict(type='str', default='hybridops.talos'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
    )


def _poll(params, what, look):
    """``look()`` -> (found, state) until found, through the collection's bounded wait (_retry.wait_for)."""
    def probe():
        found, state = look()
        return bool(found), found or state
    try:
        found, _duration = wait_for(what, probe, params['wait_timeout'], first=0.5, cap=5.0)
    except WaitTimeout as exc:
        raise KubeError('not_ready', '%s after %d s' % (exc.last, params['wait_timeout']), call='Waiting for %s' % what) from None
    return found


def present(module, client, started):
    params = module.params
    version = ctl.check_version(params['version'])
    converge.require_flux(client, converge.HELM_REPOSITORIES, converge.HELM_RELEASES)
    result, _outcomes = converge.apply_and_report(client, ctl.objects(params, version), module)
    result.update(version=version, controller=dict(namespace=params['namespace'], name=params['controller_name']))
    targets = [kube_wait.Target('helm.toolkit.fluxcd.io/v2', 'HelmRelease', params['release_name'], params['namespace']),
               kube_wait.Target('apps/v1', 'Deployment', params['controller_name'], params['namespace'])]
    ready = converge.wait_ready(client, targets, module, 'the Sealed Secrets controller')
    if ready is not None:
        result['ready'] = ready

        def keys():
            names = ctl.key_names(client.list(SECRETS, params['namespace'], label_selector=ctl.ACTIVE_KEYS))
            return names, 'the controller has no active key in namespace %s (no Secret labelled %s)' % (params['namespace'], ctl.ACTIVE_KEYS)
        result['active_keys'] = _poll(params, 'the Sealed Secrets controller\'s key', keys)
    result['duration'] = round(time.monotonic() - started, 2)
    return result


def absent(module, client, started):
    """The HelmRelease first, so that Flux uninstalls the chart; the keys stay."""
    params = module.params
    objects = []
    for resource, name, namespace in ((converge.HELM_RELEASES, params['release_name'], params['namespace']),
                                      (converge.HELM_REPOSITORIES, ctl.REPOSITORY_NAME, params['flux_namespace'])):
        if client.resource(resource.api_version, resource.kind) is None or client.get(resource, name, namespace) is None:
            continue
        client.delete(resource, name, namespace, dry_run=module.check_mode)
        objects.append(dict(api_version=resource.api_version, kind=resource.kind, name=name, namespace=namespace, action='deleted'))
    if params['wait'] and not module.check_mode and objects:
        _poll(params, 'Flux to uninstall the Sealed Secrets controller', lambda: (
            client.get(DEPLOYMENTS, params['controller_name'], params['namespace']) is None,
            'Deployment %s/%s is still there' % (params['namespace'], params['controller_name'])))
    result = dict(changed=bool(objects), objects=objects)
    if module._diff:  # pylint: disable=protected-access
        result['diff'] = [dict(before_header='%s %s' % (o['kind'], o['name']), after_header='%s %s (deleted)' % (o['kind'], o['name']),
                               before='present\n', after='') for o in objects]
    result['duration'] = round(time.monotonic() - started, 2)
    return result


def body(module):
    started = time.monotonic()
    _flux.check_duration(module.params['interval'], 'interval')
    if module.params['state'] == 'present':
        ctl.check_version(module.params['version'])
    client = KubeClient.from_params(module.params)
    if module.params['state'] == 'absent':
        return absent(module, client, started)
    return present(module, client, started)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, *KUBE_API)
    run(module, body)


if __name__ == '__main__':
    main()
