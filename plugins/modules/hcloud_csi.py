#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hcloud_csi
short_description: Deploy the Hetzner Cloud CSI driver on the Hetzner nodes of a hybrid cluster, through Flux
version_added: 0.2.0
description:
  - Checks the Hetzner Cloud token (it must be allowed to write, since the driver creates volumes), the location
    and, when given, the network against the Hetzner API, and the chart version against the cluster's Kubernetes
    version, before anything is written.
  - Then applies, with server-side apply, the Secret O(secret_name) with the token, a Flux C(HelmRepository) for
    U(https://charts.hetzner.cloud) and a C(HelmRelease) of the pinned chart C(hcloud-csi), and the StorageClasses of
    O(storage_classes); and waits until the HelmRelease is ready, the C(CSIDriver) C(csi.hetzner.cloud) exists, the
    controller is available and the node plugin runs on every Hetzner node and on no other.
  - The chart's default affinity puts the node plugin on every node not labelled as a Hetzner dedicated server,
    Proxmox VMs included, where it crashes without Hetzner's metadata service. The values set here require the node
    label C(instance.hetzner.cloud/provided-by=cloud) (which M(hybridops.talos.talos_machineconfig) sets on Hetzner
    nodes) for the node plugin and the controller.
  - Each StorageClass binds volumes when a pod is scheduled (C(WaitForFirstConsumer)) and allows only the Hetzner
    locations as topology, so volumes and the pods that use them stay on Hetzner nodes. Hetzner volumes are at least
    10 GB; smaller claims get 10 GiB.
  - The token check sends C(POST /volumes) with an empty body. Hetzner refuses a read-only token with
    C(token_readonly) and a read-write one with C(invalid_input), and creates nothing.
  - O(state=absent) removes the HelmRelease (Flux uninstalls the chart), the HelmRepository, the StorageClasses this
    module made and the Secret. PersistentVolumes and the Hetzner volumes behind them are left alone and listed in
    RV(volumes_left).
  - Needs Flux (M(hybridops.talos.flux_install)); without its CRDs the task fails before it writes anything.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.wait
  - hybridops.talos.kube_api.action_group
options:
  state:
    description: Whether the driver should be deployed.
    type: str
    choices: [present, absent]
    default: present
  hcloud_token:
    description:
      - Hetzner Cloud API token with read and write permission; written to the Secret O(secret_name) and nowhere else.
      - Defaults to E(HCLOUD_TOKEN). Not needed for O(state=absent).
    type: str
  hcloud_endpoint:
    description:
      - Hetzner Cloud API endpoint; the driver is pointed at it too when it is not the public one.
      - Defaults to E(HCLOUD_ENDPOINT), then V(https://api.hetzner.cloud/v1).
    type: str
  location:
    description:
      - Hetzner location of the cluster's Hetzner nodes, for example V(fsn1); the controller creates volumes there
        unless the scheduler picked a node elsewhere. Required with O(state=present).
    type: str
  locations:
    description:
      - The Hetzner locations of the cluster's Hetzner nodes; volumes of the StorageClasses may be made in any of them
        (where the pod that uses one is scheduled). O(location) when omitted. Each must exist.
    type: list
    elements: str
  network:
    description: Name or ID of the Hetzner network of the nodes; checked, and stored in the Secret as C(network).
    type: str
  version:
    description:
      - Version of the C(hcloud-csi) chart. Only versions checked against the driver's version policy are taken -
        V(2.20.2) for Kubernetes 1.32 to 1.36, V(2.22.1) for 1.33 to 1.36.
    type: str
    default: 2.20.2
  chart_repository:
    description: URL of the Helm repository with the chart (a mirror on sites without internet).
    type: str
    default: https://charts.hetzner.cloud
  namespace:
    description: Namespace of the Secret, the HelmRelease and the driver.
    type: str
    default: kube-system
  flux_namespace:
    description: Namespace of the HelmRepository (Flux's).
    type: str
    default: flux-system
  release_name:
    description: Name of the HelmRelease and the Helm release; the chart names the controller and node plugin after it.
    type: str
    default: hcloud-csi
  secret_name:
    description: Name of the Secret with the token (the driver reads key C(token)).
    type: str
    default: hcloud
  interval:
    description: How often Flux reconciles the HelmRelease.
    type: str
    default: 30m0s
  storage_classes:
    description:
      - StorageClasses for Hetzner volumes; each binds when its first pod is scheduled and allows only Hetzner
        locations. An empty list makes none.
    type: list
    elements: dict
    default: [{name: hcloud-volumes}]
    suboptions:
      name:
        description: Name of the StorageClass.
        type: str
        required: true
      default:
        description:
          - Make it the cluster's default class. Refused while another StorageClass of the cluster holds the default,
            which the failure names.
        type: bool
        default: false
      reclaim_policy:
        description: What happens to the volume when its claim is deleted.
        type: str
        choices: [Delete, Retain]
        default: Delete
      fstype:
        description: File system of the volumes.
        type: str
        choices: [ext4, xfs]
        default: ext4
      allow_expansion:
        description: Whether claims may grow.
        type: bool
        default: true
      locations:
        description: Hetzner locations volumes of this class may be in; O(locations) when omitted.
        type: list
        elements: str
  field_manager:
    description: Field manager of the server-side applies.
    type: str
    default: hybridops.talos
  wait:
    description:
      - Wait until the driver runs where it should; with O(state=absent), until Flux has uninstalled the chart.
    type: bool
    default: true
attributes:
  check_mode:
    description: The Hetzner checks run; the Kubernetes writes are the API server's dry run, and nothing is waited for.
    support: full
  diff_mode:
    description: The objects before and after; the token shows as C(<redacted>).
    support: full
requirements:
  - hcloud (the Hetzner Cloud Python library)
notes:
  - The Hetzner cloud controller manager is not deployed; it deletes nodes it cannot find in Hetzner, which a hybrid
    cluster's Proxmox nodes are.
seealso:
  - module: hybridops.talos.flux_install
  - module: hybridops.talos.storage_placement
"""

EXAMPLES = r"""
- name: Deploy the Hetzner CSI driver with its default class name
  hybridops.talos.hcloud_csi:
    kubeconfig: "{{ kubeconfig }}"
    hcloud_token: "{{ vault_hcloud_token }}"
    location: fsn1

- name: A second class that keeps its volumes and is not the default
  hybridops.talos.hcloud_csi:
    kubeconfig: "{{ kubeconfig }}"
    hcloud_token: "{{ vault_hcloud_token }}"
    location: fsn1
    network: cluster-net
    storage_classes:
      - name: hcloud-volumes
        default: true
      - name: hcloud-retain-xfs
        reclaim_policy: Retain
        fstype: xfs

- name: Remove the driver (volumes stay)
  hybridops.talos.hcloud_csi:
    kubeconfig: "{{ kubeconfig }}"
    state: absent
  register: removed

- name: Say which volumes are left
  ansible.builtin.debug:
    var: removed.volumes_left
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
location:
  description: The Hetzner location the driver creates volumes in by default.
  returned: O(state=present)
  type: str
version:
  description: The chart version deployed.
  returned: O(state=present)
  type: str
default_class:
  description: The StorageClass that holds the cluster's default class after the task, or null when none does.
  returned: O(state=present)
  type: str
nodes:
  description: The Hetzner nodes the node plugin runs on.
  returned: O(state=present) and O(wait=true), not in check mode
  type: list
  elements: str
ready:
  description: What the wait saw last, per object.
  returned: O(state=present) and O(wait=true), not in check mode
  type: list
  elements: dict
volumes_left:
  description: PersistentVolumes of the driver that O(state=absent) left in place.
  returned: O(state=absent)
  type: list
  elements: str
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

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.hybridops.talos.plugins.module_utils import _flux, _hcloud_csi as csi
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._hcloud_api import HcloudCheck
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._kube import converge, wait as kube_wait
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient, Resource
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError

SECRETS = Resource('v1', 'Secret', 'secrets', True)
STORAGE_CLASSES = Resource('storage.k8s.io/v1', 'StorageClass', 'storageclasses', False)
PERSISTENT_VOLUMES = Resource('v1', 'PersistentVolume', 'persistentvolumes', False)
NODES = Resource('v1', 'Node', 'nodes', False)
PODS = Resource('v1', 'Pod', 'pods', True)
DAEMON_SETS = Resource('apps/v1', 'DaemonSet', 'daemonsets', True)


def argument_spec():
    return dict(
        KUBE_ARGS,
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        hcloud_token=dict(type='str', no_log=True, fallback=(env_fallback, ['HCLOUD_TOKEN'])),
        hcloud_endpoint=dict(type='str', fallback=(env_fallback, ['HCLOUD_ENDPOINT'])),
        location=dict(type='str'),
        locations=dict(type='list', elements='str'),
        network=dict(type='str'),
        version=dict(type='str', default=csi.DEFAULT_VERSION),
        chart_repository=dict(type='str', default=csi.CHART_REPOSITORY),
        namespace=dict(type='str', default='kube-system'),
        flux_namespace=dict(type='str', default='flux-system'),
        release_name=dict(type='str', default='hcloud-csi'),
        secret_name=dict(type='str', default='hcloud', no_log=False),
        interval=dict(type='str', default='30m0s'),
        storage_classes=dict(type='list', elements='dict', default=[{'name': 'hcloud-volumes'}], options=dict(
            name=dict(type='str', required=True),
            default=dict(type='bool', default=False),
            reclaim_policy=dict(type='str', choices=['Delete', 'Retain'], default='Delete'),
            fstype=dict(type='str', choices=['ext4', 'xfs'], default='ext4'),
            allow_expansion=dict(type='bool', default=True),
            locations=dict(type='list', elements='str'),
        )),
        field_manager=dict(type='str', default='hybridops.talos'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
    )


def check_input(params):
    """Everything that can be refused without asking anyone."""
    if params['state'] == 'absent':
        return
    for option in ('hcloud_token', 'location'):
        if not params[option]:
            raise _flux.refuse('bad_input', '%s is required with state=present%s.' % (
                option, ' (or set HCLOUD_TOKEN)' if option == 'hcloud_token' else ''), option=option)
    _flux.check_duration(params['interval'], 'interval')
    csi.check_storage_classes(params['storage_classes'])


def wait_for_driver(client, module, result):
    """The HelmRelease ready, the CSIDriver there, the controller available, the node plugin exactly on Hetzner nodes."""
    params = module.params
    controller, node_plugin = csi.workload_names(params['release_name'])
    targets = [kube_wait.Target('helm.toolkit.fluxcd.io/v2', 'HelmRelease', params['release_name'], params['namespace']),
               kube_wait.Target('storage.k8s.io/v1', 'CSIDriver', csi.DRIVER, None),
               kube_wait.Target('apps/v1', 'Deployment', controller, params['namespace']),
               kube_wait.Target('apps/v1', 'DaemonSet', node_plugin, params['namespace'])]
    ready = converge.wait_ready(client, targets, module, 'the Hetzner CSI driver')
    if ready is None:
        return
    result['ready'] = ready
    daemon_set = client.get(DAEMON_SETS, node_plugin, params['namespace']) or {}
    selector = ','.join('%s=%s' % item for item in sorted(((daemon_set.get('spec') or {}).get('selector') or {}).get('matchLabels', {}).items()))
    pods = client.list(PODS, params['namespace'], label_selector=selector or None)
    nodes = client.list(NODES)
    missing, extra = csi.misplaced(pods, nodes)
    if missing or extra:
        raise KubeError('misplaced', 'the Hetzner CSI node plugin %s' % '; and '.join(filter(None, (
            'does not run on the Hetzner node(s) %s' % ', '.join(missing) if missing else '',
            'runs on node(s) %s, which are not Hetzner servers (no label %s=cloud)' % (', '.join(extra), csi.PROVIDED_BY)
            if extra else ''))), call='Checking where the Hetzner CSI node plugin runs', missing=missing, extra=extra)
    result['nodes'] = sorted(csi.placed_on(pods, nodes))


def present(module, client, started):
    params = module.params
    kubernetes = client.version().get('gitVersion')
    version = csi.check_version(params['version'], kubernetes)
    converge.require_flux(client, converge.HELM_REPOSITORIES, converge.HELM_RELEASES)
    hetzner = HcloudCheck(params['hcloud_token'], params['hcloud_endpoint'])
    hetzner.require_read_write()
    location = hetzner.location(params['location'])
    locations = [hetzner.location(name) for name in params['locations'] or ()] or None
    network_id = hetzner.network(params['network']) if params['network'] else None
    default_class = csi.check_default_holder(params['storage_classes'], client.list(STORAGE_CLASSES))
    result, _outcomes = converge.apply_and_report(client, csi.objects(dict(params, version=version, locations=locations), location, network_id), module)
    result.update(location=location, version=version, default_class=default_class)
    wait_for_driver(client, module, result)
    result['duration'] = round(time.monotonic() - started, 2)
    return result


def wait_until_uninstalled(client, params, sleep=time.sleep):
    """Until Flux has uninstalled the chart and let the HelmRelease go (its finalizer), bounded by wait_timeout."""
    _controller, node_plugin = csi.workload_names(params['release_name'])
    deadline = time.monotonic() + params['wait_timeout']
    delay = 0.5
    while True:
        left = [what for what, obj in (
            ('HelmRelease %s/%s' % (params['namespace'], params['release_name']),
             client.get(converge.HELM_RELEASES, params['release_name'], params['namespace'])),
            ('DaemonSet %s/%s' % (params['namespace'], node_plugin), client.get(DAEMON_SETS, node_plugin, params['namespace'])))
            if obj is not None]
        if not left:
            return
        if time.monotonic() >= deadline:
            raise KubeError('not_removed', '%s still there after %d s: is Flux\'s helm-controller running?'
                            % (' and '.join(left), params['wait_timeout']), call='Waiting for Flux to uninstall the Hetzner CSI driver')
        sleep(delay)
        delay = min(5.0, delay * 2)


def absent(module, client, started):
    """Remove what present made, HelmRelease first so that Flux uninstalls the chart; leave volumes."""
    params = module.params
    ours = [sc for sc in client.list(STORAGE_CLASSES, label_selector='%s=hcloud_csi' % csi.MANAGED_BY)
            if sc.get('provisioner') == csi.DRIVER]
    doomed = [(converge.HELM_RELEASES, params['release_name'], params['namespace']),
              (converge.HELM_REPOSITORIES, 'hcloud', params['flux_namespace'])]
    doomed += [(STORAGE_CLASSES, sc['metadata']['name'], None) for sc in ours]
    doomed.append((SECRETS, params['secret_name'], params['namespace']))
    objects = []
    for resource, name, namespace in doomed:
        if client.resource(resource.api_version, resource.kind) is None:  # no Flux: no HelmRelease to remove
            continue
        if client.get(resource, name, namespace) is None:
            continue
        client.delete(resource, name, namespace, dry_run=module.check_mode)
        entry = dict(api_version=resource.api_version, kind=resource.kind, name=name, action='deleted')
        if namespace:
            entry['namespace'] = namespace
        objects.append(entry)
    if params['wait'] and not module.check_mode and any(o['kind'] == 'HelmRelease' for o in objects):
        wait_until_uninstalled(client, params)
    volumes = sorted(pv['metadata']['name'] for pv in client.list(PERSISTENT_VOLUMES)
                     if ((pv.get('spec') or {}).get('csi') or {}).get('driver') == csi.DRIVER)
    result = dict(changed=bool(objects), objects=objects, volumes_left=volumes)
    if module._diff:
        result['diff'] = [dict(before_header='%s %s' % (o['kind'], o['name']), after_header='%s %s (deleted)' % (o['kind'], o['name']),
                               before='present\n', after='') for o in objects]
    result['duration'] = round(time.monotonic() - started, 2)
    return result


def body(module):
    started = time.monotonic()
    check_input(module.params)
    client = KubeClient.from_params(module.params)
    if module.params['state'] == 'absent':
        return absent(module, client, started)
    return present(module, client, started)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, 'hcloud', *KUBE_API)
    run(module, body)


if __name__ == '__main__':
    main()
