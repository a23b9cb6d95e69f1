# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Hetzner CSI driver in a hybrid cluster: which chart for which Kubernetes, and the objects that deploy it.

Facts (docs/storage.md; hetznercloud/csi-driver docs/kubernetes/reference/version-policy.md and chart/values.yaml):

* The chart ``hcloud-csi`` from https://charts.hetzner.cloud; its version equals the driver's. The policy lists the
  last driver for each Kubernetes minor: 1.31 -> v2.18.1, 1.32 -> v2.20.2, 1.33 and later -> v2.20.2 or newer.
* The chart's default node affinity (``is-root-server NotIn [true]`` and ``provided-by NotIn [robot]``) lets the
  node plugin onto every unlabelled node, Proxmox VMs included, where it crashes without Hetzner's metadata service;
  the values below require ``instance.hetzner.cloud/provided-by=cloud`` instead, for the node plugin and the
  controller (which looks itself up in the Hetzner API) alike.
* The node plugin reports the topology key ``csi.hetzner.cloud/location``; the kubelet sets it as a node label. A
  StorageClass whose ``allowedTopologies`` names it can therefore only place volumes, and the pods that use them,
  on Hetzner nodes. ``WaitForFirstConsumer`` lets the scheduler pick the node before the volume's location.
* Hetzner volumes are at least 10 GB (the driver rounds smaller requests up to 10 GiB).
"""

from __future__ import annotations

import base64
import re

from ._flux import refuse
from ._placement import placed_on

CHART = 'hcloud-csi'
CHART_REPOSITORY = 'https://charts.hetzner.cloud'
DRIVER = 'csi.hetzner.cloud'
TOPOLOGY_KEY = 'csi.hetzner.cloud/location'
PROVIDED_BY = 'instance.hetzner.cloud/provided-by'
DEFAULT_ENDPOINT = 'https://api.hetzner.cloud/v1'
DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class'
MANAGED_BY = 'hybridops.io/managed-by'
MIN_VOLUME_GIB = 10

# chart version -> (oldest, newest) Kubernetes minor the driver's version policy supports it on.
SUPPORTED = {
    '2.20.2': ((1, 32), (1, 36)),
    '2.22.1': ((1, 33), (1, 36)),
}
DEFAULT_VERSION = '2.20.2'

HETZNER_NODES_ONLY = {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
    {'matchExpressions': [{'key': PROVIDED_BY, 'operator': 'In', 'values': ['cloud']}]}]}}}
# Hetzner control planes carry the control-plane taint; the controller must be able to run there.
CONTROL_PLANE_TOLERATION = {'key': 'node-role.kubernetes.io/control-plane', 'operator': 'Exists', 'effect': 'NoSchedule'}

_MINOR = re.compile(r'^v?(\d+)\.(\d+)')
_NAME = re.compile(r'^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$')


def _minor_text(minor):
    return '%d.%d' % minor


def check_version(version, kubernetes_version):
    """Refuse a chart version this module does not know, or one the cluster's Kubernetes is outside of."""
    version = str(version).lstrip('v')
    if version not in SUPPORTED:
        raise refuse('unsupported_version', 'Hetzner CSI chart %s is not one this module has checked against the driver\'s '
                     'version policy; use one of %s.' % (version, ', '.join(
                         '%s (Kubernetes %s-%s)' % (v, _minor_text(lo), _minor_text(hi)) for v, (lo, hi) in sorted(SUPPORTED.items()))),
                     option='version')
    match = _MINOR.match(str(kubernetes_version or ''))
    if not match:
        raise refuse('bad_version', 'The cluster reports Kubernetes version %r, which is not a version this module can compare.'
                     % kubernetes_version)
    minor = (int(match.group(1)), int(match.group(2)))
    oldest, newest = SUPPORTED[version]
    if not oldest <= minor <= newest:
        fits = [v for v, (lo, hi) in sorted(SUPPORTED.items()) if lo <= minor <= hi]
        hint = ' (use version %s)' % fits[-1] if fits else ''
        raise refuse('unsupported_kubernetes', 'Hetzner CSI %s supports Kubernetes %s to %s, and the cluster runs %s%s; '
                     'nothing was written.' % (version, _minor_text(oldest), _minor_text(newest), _minor_text(minor), hint),
                     version=version, kubernetes=_minor_text(minor))
    return version


def check_storage_classes(classes):
    """The StorageClass options, checked: names valid and unique, at most one default, known policy and fstype."""
    names = set()
    for index, item in enumerate(classes):
        name = item.get('name')
        if not isinstance(name, str) or not _NAME.match(name):
            raise refuse('bad_input', 'storage_classes[%d].name %r is not a valid StorageClass name.' % (index, name),
                         option='storage_classes')
        if name in names:
            raise refuse('bad_input', 'StorageClass %s is named twice in storage_classes.' % name, option='storage_classes')
        names.add(name)
    defaults = [c['name'] for c in classes if c.get('default')]
    if len(defaults) > 1:
        raise refuse('bad_input', 'Only one StorageClass can be the default, and storage_classes marks %s.'
                     % ' and '.join(defaults), option='storage_classes')
    return defaults[0] if defaults else None


def check_default_holder(classes, existing):
    """Refuse making one of ``classes`` the default while another StorageClass of the cluster already is."""
    ours = {c['name'] for c in classes}
    wanted = [c['name'] for c in classes if c.get('default')]
    holders = sorted(sc['metadata']['name'] for sc in existing
                     if ((sc['metadata'].get('annotations') or {}).get(DEFAULT_CLASS_ANNOTATION) == 'true'
                         and sc['metadata']['name'] not in ours))
    if wanted and holders:
        raise refuse('default_class_taken', 'StorageClass %s already holds the default class, so %s cannot take it: a cluster '
                     'with two defaults gives new claims either one. Unset default on %s, or remove the annotation %s '
                     'from %s first.' % (holders[0], wanted[0], wanted[0], DEFAULT_CLASS_ANNOTATION, holders[0]),
                     holder=holders[0])
    return holders[0] if holders else (wanted[0] if wanted else None)


def values(params, location):
    """The chart values: token from the Secret, the default location, every part on Hetzner nodes only, no chart classes."""
    controller = {
        'hcloudToken': {'existingSecret': {'name': params['secret_name'], 'key': 'token'}},
        'hcloudVolumeDefaultLocation': location,
        'affinity': HETZNER_NODES_ONLY,
        'tolerations': [CONTROL_PLANE_TOLERATION],
    }
    endpoint = (params.get('hcloud_endpoint') or DEFAULT_ENDPOINT).rstrip('/')
    if endpoint != DEFAULT_ENDPOINT:
        controller['extraEnvVars'] = [{'name': 'HCLOUD_ENDPOINT', 'value': endpoint}]
    # The classes are applied by this module (one default at most, removed by state=absent), not by the chart.
    return {'controller': controller, 'node': {'affinity': HETZNER_NODES_ONLY}, 'storageClasses': []}


def _b64(text):
    return base64.b64encode(str(text).encode('utf-8')).decode('ascii')


def secret(params, network_id=None):
    data = {'token': _b64(params['hcloud_token'])}
    if network_id is not None:
        data['network'] = _b64(network_id)  # what the Hetzner cloud controller reads, should one be added
    return {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
            'metadata': {'name': params['secret_name'], 'namespace': params['namespace']}, 'data': data}


def storage_class(item, locations):
    """One StorageClass: WaitForFirstConsumer, volumes only where the node plugin runs (Hetzner nodes)."""
    annotations = {DEFAULT_CLASS_ANNOTATION: 'true' if item.get('default') else 'false'}
    parameters = {'csi.storage.k8s.io/fstype': item.get('fstype') or 'ext4'}
    locations = item.get('locations') or locations
    return {
        'apiVersion': 'storage.k8s.io/v1', 'kind': 'StorageClass',
        'metadata': {'name': item['name'], 'annotations': annotations, 'labels': {MANAGED_BY: 'hcloud_csi'}},
        'provisioner': DRIVER,
        'parameters': parameters,
        'reclaimPolicy': item.get('reclaim_policy') or 'Delete',
        'volumeBindingMode': 'WaitForFirstConsumer',
        'allowVolumeExpansion': item.get('allow_expansion', True) is not False,
        'allowedTopologies': [{'matchLabelExpressions': [{'key': TOPOLOGY_KEY, 'values': list(locations)}]}],
    }


def objects(params, location, network_id=None):
    """Secret, HelmRepository, HelmRelease and StorageClasses, in the order they are applied."""
    locations = params.get('locations') or [location]
    return _objects(params, location, locations, network_id)


def _objects(params, location, locations, network_id):
    repository = {
        'apiVersion': 'source.toolkit.fluxcd.io/v1', 'kind': 'HelmRepository',
        'metadata': {'name': 'hcloud', 'namespace': params['flux_namespace']},
        'spec': {'url': params['chart_repository'], 'interval': '24h0m0s'},
    }
    release = {
        'apiVersion': 'helm.toolkit.fluxcd.io/v2', 'kind': 'HelmRelease',
        'metadata': {'name': params['release_name'], 'namespace': params['namespace']},
        'spec': {
            'interval': params['interval'],
            'releaseName': params['release_name'],
            'chart': {'spec': {'chart': CHART, 'version': str(params['version']).lstrip('v'),
                               'sourceRef': {'kind': 'HelmRepository', 'name': 'hcloud', 'namespace': params['flux_namespace']}}},
            'install': {'remediation': {'retries': 3}},
            'upgrade': {'remediation': {'retries': 3, 'remediateLastFailure': True}},
            'values': values(params, location),
        },
    }
    return [secret(params, network_id), repository, release] + [storage_class(c, locations) for c in params['storage_classes']]


def workload_names(release_name):
    """The chart's controller Deployment and node DaemonSet (the chart names them after the release)."""
    return '%s-controller' % release_name, '%s-node' % release_name


def misplaced(pods, nodes):
    """Where the node plugin runs wrong: ([Hetzner nodes without it], [other nodes with it])."""
    hetzner = {n['metadata']['name'] for n in nodes if (n['metadata'].get('labels') or {}).get(PROVIDED_BY) == 'cloud'}
    running = placed_on(pods, nodes)
    return sorted(hetzner - running), sorted(running - hetzner)
