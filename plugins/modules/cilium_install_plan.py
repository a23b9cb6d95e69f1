#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cilium_install_plan
short_description: Decide from evidence whether the control-plane configs carry the Cilium install manifest
version_added: 0.2.0
description:
  - Reads the running machine configs of the control planes (Talos API) and, when needed, the Kubernetes API, and
    decides whether M(hybridops.talos.talos_machineconfig) puts the Cilium install manifest (C(cilium-install), an
    inline manifest whose Job runs C(cilium install)) into the control-plane configs. It changes nothing.
  - "Our manifest in any running control-plane config: this collection installed Cilium; the manifest stays
    (RV(install=true)), exactly as it is. A change to it is refused - Talos creates inline-manifest objects once and
    never updates them, so the change would silently do nothing - with the differences, pointing at Helm or Flux
    for changing a running Cilium."
  - "No control plane configured yet: a new cluster; RV(install=true)."
  - "Configured control planes without our manifest: a running C(kube-system/cilium) DaemonSet is someone else's
    Cilium and is left alone (RV(install=false), adoption); no Cilium at all means RV(install=true) (Talos applies a
    new inline manifest to a running cluster). When the Kubernetes API cannot tell, the module fails rather than
    guess."
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.action_group
options:
  mode:
    description:
      - V(auto) decides from the evidence as described. V(always) puts the manifest in unless a running config holds a
        different one. V(never) leaves it out (bring your own CNI).
    type: str
    choices: [auto, always, never]
    default: auto
  control_planes:
    description: Talos API addresses of every control plane (V(host) or V(host:port)).
    type: list
    elements: str
    required: true
  talosconfig:
    description:
      - talosconfig with an C(os:admin) client certificate (a running config holds secrets, so reading it needs
        C(os:admin)). Defaults to E(TALOSCONFIG), then C(~/.talos/config).
    type: path
  talos_context:
    description:
      - Context of O(talosconfig); its current one when omitted. O(context) is the kubeconfig's context in this
        module, which reaches both APIs.
    type: str
  endpoints:
    description:
      - Talos API endpoints (control planes) that proxy each call to its node, as
        O(hybridops.talos.talos_machineconfig#module:endpoints); when omitted, each control plane is reached on its
        own address. A control plane in maintenance mode is always reached directly.
    type: list
    elements: str
  timeout:
    description: Seconds one Talos API call may take (as O(hybridops.talos.talos_machineconfig#module:timeout)).
    type: float
    default: 30
  underlay_mtu:
    description: The cluster's underlay MTU; Cilium's MTU defaults to it minus 80 (the KubeSpan MTU).
    type: int
    default: 1500
  cilium:
    description:
      - The Cilium settings, as O(hybridops.talos.talos_machineconfig#module:cilium) takes them (its C(install) is
        ignored here).
    type: dict
    default: {}
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
  - module: hybridops.talos.talos_machineconfig
"""

EXAMPLES = r"""
- name: Decide whether the control planes carry the Cilium install manifest
  hybridops.talos.cilium_install_plan:
    control_planes: [203.0.113.10, 203.0.113.11, 10.10.0.10]
    talosconfig: ~/.local/share/hybridops-talos/prod/talosconfig
    kubeconfig: ~/.local/share/hybridops-talos/prod/kubeconfig
    underlay_mtu: 1450
    cilium:
      version: 1.18.3
  register: cilium_plan

- name: Render a control-plane config with or without it
  hybridops.talos.talos_machineconfig:
    secrets: ~/.local/share/hybridops-talos/prod/secrets.yaml
    role: controlplane
    cluster_name: prod
    endpoint: https://k8s.example.net:6443
    talos_version: v1.9.6
    kubernetes_version: 1.32.3
    underlay_mtu: 1450
    cilium:
      install: "{{ cilium_plan.install }}"
      version: 1.18.3
"""

RETURN = r"""
install:
  description: Whether the control-plane configs carry the install manifest.
  returned: success
  type: bool
installed_by:
  description: V(hybridops.talos) when our manifest installed the running Cilium, V(other) for a Cilium installed
    otherwise, null when none runs (yet).
  returned: success
  type: str
reason:
  description: The decision in one sentence.
  returned: success
  type: str
evidence:
  description: What was seen, one line per source.
  returned: always
  type: list
  elements: str
values:
  description: The Helm values the install manifest passes (or passed) to Cilium, nested, for a Flux HelmRelease.
  returned: success
  type: dict
version:
  description: The Cilium version.
  returned: success
  type: str
mtu:
  description: Cilium's MTU value.
  returned: success
  type: int
failure:
  description: The structured cause of a failure; for a changed manifest, C(differences) lists what changed.
  returned: failed
  type: dict
"""

import os

try:
    import yaml
except ImportError:  # _cilium.manifest reports it
    yaml = None

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils import _cilium
from ansible_collections.hybridops.talos.plugins.module_utils._cilium_plan import Evidence, PlanError, decide, manifest_of
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient, Resource
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.mtu import KUBESPAN_OVERHEAD
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.apply import MAINTENANCE_HINTS
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import Connection

DAEMONSETS = Resource('apps/v1', 'DaemonSet', 'daemonsets', True)
SECRETS = Resource('v1', 'Secret', 'secrets', True)


def argument_spec():
    return dict(
        KUBE_ARGS,
        mode=dict(type='str', choices=['auto', 'always', 'never'], default='auto'),
        control_planes=dict(type='list', elements='str', required=True),
        talosconfig=dict(type='path', fallback=(env_fallback, ['TALOSCONFIG'])),
        talos_context=dict(type='str'),
        endpoints=dict(type='list', elements='str'),
        timeout=dict(type='float', default=30.0),
        underlay_mtu=dict(type='int', default=1500),
        cilium=dict(type='dict', default={}),
    )


def _talos_evidence(params, evidence, yaml):
    # The shared Talos connection (endpoints proxy through apid); 'context' is the kubeconfig's in this module.
    talos = dict(talosconfig=params['talosconfig'], context=params['talos_context'], endpoints=params['endpoints'],
                 timeout=params['timeout'])
    with Connection(talos) as connection:
        _read_configs(params, connection, evidence, yaml)


def _in_maintenance(connection, address):
    """Whether ``address`` answers over the unauthenticated connection, which only maintenance mode accepts."""
    try:
        connection.insecure(address).machine_stage()
    except TalosApiError:
        return False
    return True


def _read_configs(params, connection, evidence, yaml):
    for address in params['control_planes']:
        try:
            text = connection.client(address).running_config()
        except TalosApiError as exc:
            # Through endpoints the proxy answers for the node in its own words: ask the node itself.
            if exc.reason in MAINTENANCE_HINTS or (params['endpoints'] and _in_maintenance(connection, address)):
                evidence['maintenance'].append(address)
            elif exc.reason in ('bad_talosconfig', 'missing_talosconfig', 'permission_denied'):
                raise KubeError(exc.reason, exc.why, call='Reading the running config of %s' % address) from None
            else:
                evidence['unreachable'].append(address)
            evidence['lines'].append('%s: %s' % (address, exc.message))
            continue
        contents = manifest_of(text.decode('utf-8', 'replace') if isinstance(text, bytes) else text, yaml)
        evidence['configured'].append(address)
        if contents is not None:
            evidence['carriers'].append(address)
            evidence['running'] = contents
            evidence['lines'].append('%s: its running config carries the %s manifest' % (address, _cilium.MANIFEST_NAME))
        else:
            evidence['lines'].append('%s: its running config has no %s manifest' % (address, _cilium.MANIFEST_NAME))


def _kube_evidence(params, evidence):
    path = params.get('kubeconfig')
    if not path or not all(os.path.exists(p) for p in path.split(os.pathsep) if p):
        evidence['kube_error'] = 'no kubeconfig at %s' % path
        evidence['lines'].append('Kubernetes: %s' % evidence['kube_error'])
        return
    try:
        client = KubeClient.from_params(params)
        daemonset = client.get(DAEMONSETS, 'cilium', 'kube-system')
        if daemonset is not None:
            evidence['daemonset'] = True
            releases = client.list(SECRETS, 'kube-system', label_selector='owner=helm,name=cilium')
            evidence['release'] = 'kube-system/cilium' if releases else None
    except KubeError as exc:
        evidence['kube_error'] = exc.message
        evidence['lines'].append('Kubernetes: %s' % exc.message)
        return
    evidence['lines'].append('Kubernetes: %s' % ('a kube-system/cilium DaemonSet runs' if evidence.get('daemonset') else
                                                 'no kube-system/cilium DaemonSet'))


def body(module):
    params = module.params
    options = dict(params['cilium'] or {})
    mtu = options.get('mtu') or params['underlay_mtu'] - KUBESPAN_OVERHEAD
    version = options.get('version') or _cilium.VERSION
    try:
        wanted = _cilium.manifest(version=version, cli_image=options.get('cli_image') or _cilium.CLI_IMAGE, mtu=mtu,
                                  extra=options.get('values') or {})
        values = _cilium.values(mtu, options.get('values') or {})
    except _cilium.CiliumError as exc:
        raise KubeError('bad_input', str(exc), option=exc.option) from None
    found = dict(carriers=[], configured=[], maintenance=[], unreachable=[], running=None, lines=[], daemonset=False,
                 release=None, kube_error=None)
    _talos_evidence(params, found, yaml)
    if params['mode'] == 'auto' and not found['carriers'] and found['configured']:
        _kube_evidence(params, found)
    evidence = Evidence(found['carriers'], found['configured'], found['maintenance'], found['unreachable'], found['running'],
                        found['daemonset'], found['kube_error'], found['release'])
    try:
        install, installed_by, reason = decide(params['mode'], evidence, wanted['contents'])
    except PlanError as exc:
        raise KubeError(exc.reason, str(exc), sentence=str(exc), result=dict(evidence=found['lines']), **exc.details) from None
    return dict(changed=False, install=install, installed_by=installed_by, reason=reason, evidence=found['lines'],
                values=values, version=version.lstrip('v'), mtu=mtu)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, *(KUBE_API + TALOS_API))
    run(module, body)


if __name__ == '__main__':
    main()
