"""The charts the lab's helm-controller can install: small stand-ins of their templates (flux.py installs them).

Two CSI charts, rendered from their default values merged with a HelmRelease's ``spec.values`` the way Helm merges
(maps deep-merge, anything else replaces). Only what the cluster's behaviour depends on is rendered: the controller
Deployment, the node-plugin DaemonSet, the ``CSIDriver`` and the chart's StorageClasses, with the names, labels,
images, affinities, node selectors and tolerations of the real templates. ServiceAccounts, RBAC objects, Services and
probes are left out (the lab's API server lets the kubelets do anything, and nothing scrapes metrics).

* ``hcloud-csi`` (hetznercloud/csi-driver ``chart/`` at v2.20.2): the node plugin's **default** affinity is
  ``instance.hetzner.cloud/is-root-server NotIn [true]`` and ``instance.hetzner.cloud/provided-by NotIn [robot]``, so
  a node without those labels (a Proxmox VM) gets it; with no ``node.tolerations`` the template tolerates every
  NoSchedule and NoExecute taint. The controller's default affinity only *prefers* ``provided-by In [cloud]``.
  ``storageClasses`` defaults to one default class ``hcloud-volumes``.
* ``proxmox-csi-plugin`` (sergelogvinov/proxmox-csi-plugin ``charts/`` at 0.5.9): controller placement from the
  top-level ``nodeSelector``/``affinity``/``tolerations``, the node plugin's from ``node.*`` (its default tolerations do
  not include the control-plane taint); ``storageClass`` defaults to none.

And the Sealed Secrets chart (``sealed-secrets``, bitnami-labs/sealed-secrets ``helm/sealed-secrets`` 2.18.x): the
controller Deployment (one replica, container ``controller``, port ``http`` 8080, ``--key-prefix`` from ``secretName``),
its Service (port ``http``, the Deployment's selector) and the SealedSecret CRD the chart ships in ``crds/`` (Helm
creates it at install and never updates or deletes it). Its ServiceAccount, RBAC, metrics Service and probes are left out.
"""
import copy
import json
import os

HCLOUD_DRIVER = 'csi.hetzner.cloud'
PROXMOX_DRIVER = 'csi.proxmox.sinextra.dev'
HCLOUD_IMAGE = 'docker.io/hetznercloud/hcloud-csi-driver'
PROXMOX_CONTROLLER_IMAGE = 'ghcr.io/sergelogvinov/proxmox-csi-controller'
PROXMOX_NODE_IMAGE = 'ghcr.io/sergelogvinov/proxmox-csi-node'


def merge(defaults, values):
    """Helm's coalescing of user values over chart defaults: maps merge key by key, other values replace."""
    merged = copy.deepcopy(defaults)
    for key, value in (values or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        elif value is None:
            merged.pop(key, None)  # Helm deletes a key set to null
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def fullname(release, chart, values):
    """common.names.fullname: fullnameOverride, else the release name when it contains the chart name."""
    if values.get('fullnameOverride'):
        return values['fullnameOverride'][:63].rstrip('-')
    name = values.get('nameOverride') or chart
    return (release if name in release else '%s-%s' % (release, name))[:63].rstrip('-')


def _labels(chart, version, release, component=None):
    labels = {'app.kubernetes.io/name': chart, 'app.kubernetes.io/instance': release, 'app.kubernetes.io/managed-by': 'Helm',
              'helm.sh/chart': '%s-%s' % (chart, version)}
    if component:
        labels['app.kubernetes.io/component'] = component
    return labels


def _selector(chart, release, component):
    return {'app.kubernetes.io/name': chart, 'app.kubernetes.io/instance': release, 'app.kubernetes.io/component': component}


def _pod_spec(containers, affinity=None, node_selector=None, tolerations=None):
    spec = {'containers': containers}
    if affinity:
        spec['affinity'] = copy.deepcopy(affinity)
    if node_selector:
        spec['nodeSelector'] = copy.deepcopy(node_selector)
    if tolerations:
        spec['tolerations'] = copy.deepcopy(tolerations)
    return spec


def _workload(kind, name, namespace, labels, selector, pod_spec, replicas=None):
    obj = {'apiVersion': 'apps/v1', 'kind': kind, 'metadata': {'name': name, 'namespace': namespace, 'labels': labels},
           'spec': {'selector': {'matchLabels': selector},
                    'template': {'metadata': {'labels': dict(labels, **selector)}, 'spec': pod_spec}}}
    if replicas is not None:
        obj['spec']['replicas'] = replicas
    return obj


def _csidriver(name, labels, **spec):
    return {'apiVersion': 'storage.k8s.io/v1', 'kind': 'CSIDriver', 'metadata': {'name': name, 'labels': labels},
            'spec': dict({'attachRequired': True, 'podInfoOnMount': True, 'volumeLifecycleModes': ['Persistent']}, **spec)}


# ---------------------------------------------------------------------- hcloud-csi

HCLOUD_DEFAULTS = {
    'fullnameOverride': '', 'nameOverride': '',
    'controller': {
        'replicaCount': 1,
        'hcloudToken': {'value': '', 'file': '', 'existingSecret': {'name': 'hcloud', 'key': 'token'}},
        'hcloudVolumeDefaultLocation': '',
        'affinity': {'nodeAffinity': {'preferredDuringSchedulingIgnoredDuringExecution': [{'weight': 1, 'preference': {
            'matchExpressions': [{'key': 'instance.hetzner.cloud/provided-by', 'operator': 'In', 'values': ['cloud']}]}}]}},
        'nodeSelector': {}, 'tolerations': [], 'extraEnvVars': [],
    },
    'node': {
        'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [{'matchExpressions': [
            {'key': 'instance.hetzner.cloud/is-root-server', 'operator': 'NotIn', 'values': ['true']},
            {'key': 'instance.hetzner.cloud/provided-by', 'operator': 'NotIn', 'values': ['robot']}]}]}}},
        'nodeSelector': {}, 'tolerations': [], 'extraEnvVars': [],
    },
    'storageClasses': [{'name': 'hcloud-volumes', 'defaultStorageClass': True, 'reclaimPolicy': 'Delete'}],
}
# What the node DaemonSet template tolerates when node.tolerations is empty.
HCLOUD_NODE_TOLERATIONS = [{'effect': 'NoExecute', 'operator': 'Exists'}, {'effect': 'NoSchedule', 'operator': 'Exists'},
                           {'key': 'CriticalAddonsOnly', 'operator': 'Exists'}]


def _hcloud_token_env(controller):
    token = controller.get('hcloudToken') or {}
    if token.get('value'):
        return {'name': 'HCLOUD_TOKEN', 'value': token['value']}
    if token.get('file'):
        return {'name': 'HCLOUD_TOKEN_FILE', 'value': token['file']}
    secret = token.get('existingSecret') or {}
    return {'name': 'HCLOUD_TOKEN', 'valueFrom': {'secretKeyRef': {'name': secret.get('name'), 'key': secret.get('key')}}}


def hcloud_csi(release, namespace, version, user_values):
    values = merge(HCLOUD_DEFAULTS, user_values)
    chart, name = 'hcloud-csi', fullname(release, 'hcloud-csi', values)
    image = '%s:v%s' % (HCLOUD_IMAGE, version)
    controller, node = values['controller'], values['node']
    env = [_hcloud_token_env(controller)]
    if controller.get('hcloudVolumeDefaultLocation'):
        env.append({'name': 'HCLOUD_VOLUME_DEFAULT_LOCATION', 'value': controller['hcloudVolumeDefaultLocation']})
    env += [{'name': 'KUBE_NODE_NAME', 'valueFrom': {'fieldRef': {'fieldPath': 'spec.nodeName'}}}] + list(controller.get('extraEnvVars') or [])
    controller_containers = [
        {'name': 'csi-attacher', 'image': 'registry.k8s.io/sig-storage/csi-attacher:v4.11.0'},
        {'name': 'csi-resizer', 'image': 'registry.k8s.io/sig-storage/csi-resizer:v2.1.0'},
        {'name': 'csi-provisioner', 'image': 'registry.k8s.io/sig-storage/csi-provisioner:v6.2.0'},
        {'name': 'hcloud-csi-driver', 'image': image, 'command': ['/bin/hcloud-csi-driver-controller'], 'env': env},
    ]
    node_containers = [
        {'name': 'csi-node-driver-registrar', 'image': 'registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.16.0'},
        {'name': 'hcloud-csi-driver', 'image': image, 'command': ['/bin/hcloud-csi-driver-node'],
         'env': [{'name': 'KUBE_NODE_NAME', 'valueFrom': {'fieldRef': {'fieldPath': 'spec.nodeName'}}}] + list(node.get('extraEnvVars') or [])},
    ]
    objects = [
        _workload('Deployment', name + '-controller', namespace, _labels(chart, version, release, 'controller'),
                  _selector(chart, release, 'controller'),
                  _pod_spec(controller_containers, controller.get('affinity'), controller.get('nodeSelector'), controller.get('tolerations')),
                  replicas=controller.get('replicaCount', 1)),
        _workload('DaemonSet', name + '-node', namespace, dict(_labels(chart, version, release, 'node'), app='hcloud-csi'),
                  _selector(chart, release, 'node'),
                  _pod_spec(node_containers, node.get('affinity'), node.get('nodeSelector'), node.get('tolerations') or HCLOUD_NODE_TOLERATIONS)),
        _csidriver(HCLOUD_DRIVER, _labels(chart, version, release), fsGroupPolicy='File'),
    ]
    for item in values.get('storageClasses') or []:
        parameters = dict(item.get('extraParameters') or {})
        annotations = dict(item.get('annotations') or {})
        annotations['storageclass.kubernetes.io/is-default-class'] = 'true' if item.get('defaultStorageClass') else 'false'
        storage_class = {'apiVersion': 'storage.k8s.io/v1', 'kind': 'StorageClass',
                         'metadata': {'name': item['name'], 'labels': _labels(chart, version, release), 'annotations': annotations},
                         'provisioner': HCLOUD_DRIVER, 'volumeBindingMode': 'WaitForFirstConsumer', 'allowVolumeExpansion': True,
                         'reclaimPolicy': item.get('reclaimPolicy', 'Delete')}
        if parameters:
            storage_class['parameters'] = parameters
        objects.append(storage_class)
    return objects


# ---------------------------------------------------------------------- proxmox-csi-plugin

PROXMOX_DEFAULTS = {
    'fullnameOverride': '', 'nameOverride': '', 'replicaCount': 1,
    'existingConfigSecret': None, 'existingConfigSecretKey': 'config.yaml', 'config': {'clusters': []},
    'storageClass': [], 'nodeSelector': {}, 'tolerations': [], 'affinity': {},
    'node': {'nodeSelector': {}, 'affinity': {}, 'tolerations': [
        {'key': 'karpenter.sh/disrupted', 'operator': 'Exists', 'effect': 'NoSchedule'},
        {'key': 'node.kubernetes.io/unschedulable', 'operator': 'Exists', 'effect': 'NoSchedule'},
        {'key': 'node.kubernetes.io/disk-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'}]},
}


def proxmox_csi_plugin(release, namespace, version, user_values):
    values = merge(PROXMOX_DEFAULTS, user_values)
    chart, name = 'proxmox-csi-plugin', fullname(release, 'proxmox-csi-plugin', values)
    app = 'v0.19.1'  # the chart's appVersion at 0.5.9
    secret = values.get('existingConfigSecret') or name
    config_volume = {'name': 'cloud-config', 'secret': {'secretName': secret}}
    controller_containers = [
        {'name': 'proxmox-csi-plugin-controller', 'image': '%s:%s' % (PROXMOX_CONTROLLER_IMAGE, app),
         'args': ['--cloud-config=/etc/proxmox/%s' % values.get('existingConfigSecretKey', 'config.yaml')],
         'volumeMounts': [{'name': 'cloud-config', 'mountPath': '/etc/proxmox/'}]},
        {'name': 'csi-attacher', 'image': 'registry.k8s.io/sig-storage/csi-attacher:v4.10.0'},
        {'name': 'csi-provisioner', 'image': 'registry.k8s.io/sig-storage/csi-provisioner:v5.3.0'},
        {'name': 'csi-resizer', 'image': 'registry.k8s.io/sig-storage/csi-resizer:v1.14.0'},
    ]
    node_containers = [
        {'name': name + '-node', 'image': '%s:%s' % (PROXMOX_NODE_IMAGE, app),
         'env': [{'name': 'NODE_NAME', 'valueFrom': {'fieldRef': {'fieldPath': 'spec.nodeName'}}}]},
        {'name': 'csi-node-driver-registrar', 'image': 'registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.14.0'},
    ]
    controller_spec = _pod_spec(controller_containers, values.get('affinity'), values.get('nodeSelector'), values.get('tolerations'))
    controller_spec['volumes'] = [config_volume]
    node = values['node']
    objects = [
        _workload('Deployment', name + '-controller', namespace, _labels(chart, version, release, 'controller'),
                  _selector(chart, release, 'controller'), controller_spec, replicas=values.get('replicaCount', 1)),
        _workload('DaemonSet', name + '-node', namespace, _labels(chart, version, release, 'node'), _selector(chart, release, 'node'),
                  _pod_spec(node_containers, node.get('affinity'), node.get('nodeSelector'), node.get('tolerations'))),
        _csidriver(PROXMOX_DRIVER, _labels(chart, version, release), storageCapacity=True),
    ]
    for item in values.get('storageClass') or []:
        parameters = {'storage': item['storage'], 'csi.storage.k8s.io/fstype': item.get('fstype', 'ext4')}
        for key in ('cache', 'ssd'):
            if item.get(key) is not None:
                parameters[key] = str(item[key]).lower()
        objects.append({'apiVersion': 'storage.k8s.io/v1', 'kind': 'StorageClass',
                        'metadata': {'name': item['name'], 'labels': _labels(chart, version, release)},
                        'provisioner': PROXMOX_DRIVER, 'parameters': parameters, 'allowVolumeExpansion': True,
                        'reclaimPolicy': item.get('reclaimPolicy', 'Delete'),
                        'volumeBindingMode': item.get('volumeBindingMode', 'WaitForFirstConsumer')})
    return objects


# ---------------------------------------------------------------------- sealed-secrets

SEALED_SECRETS_IMAGE = 'docker.io/bitnami/sealed-secrets-controller'
SEALED_SECRETS_DEFAULTS = {
    'fullnameOverride': '', 'nameOverride': '', 'namespace': '', 'createController': True,
    'image': {'registry': 'docker.io', 'repository': 'bitnami/sealed-secrets-controller', 'tag': '', 'pullPolicy': 'IfNotPresent'},
    'secretName': 'sealed-secrets-key', 'updateStatus': True, 'keyrenewperiod': '', 'additionalNamespaces': [],
    'affinity': {}, 'nodeSelector': {}, 'tolerations': [], 'podLabels': {},
    'service': {'type': 'ClusterIP', 'port': 8080},
}
_SEALED_SECRETS_CRD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'sealedsecret-crd.json')


def sealed_secrets_app_version(version):
    """The image tag a chart version ships. platform.md pins chart 2.18.x to controller 0.36.x; the lab assumes the
    patch levels match (``image.tag`` overrides it, as in the chart)."""
    parts = str(version).split('.')
    if parts[:2] == ['2', '18'] and len(parts) == 3:
        return '0.36.%s' % parts[2]
    return None


def sealed_secrets_crd():
    with open(_SEALED_SECRETS_CRD, encoding='utf-8') as handle:
        return json.load(handle)['crd']


def sealed_secrets(release, namespace, version, user_values):
    values = merge(SEALED_SECRETS_DEFAULTS, user_values)
    chart = 'sealed-secrets'
    name = fullname(release, chart, values)
    target_ns = values.get('namespace') or namespace
    app = sealed_secrets_app_version(version)
    image = values['image']
    tag = image.get('tag') or app or version
    labels = {'app.kubernetes.io/name': values.get('nameOverride') or chart, 'helm.sh/chart': '%s-%s' % (chart, version),
              'app.kubernetes.io/instance': release, 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/version': app or version}
    selector = {'app.kubernetes.io/name': labels['app.kubernetes.io/name'], 'app.kubernetes.io/instance': release}
    objects = [sealed_secrets_crd()]
    if not values.get('createController'):
        return objects
    args = ['--update-status'] if values.get('updateStatus') else []
    if values.get('keyrenewperiod'):
        args += ['--key-renew-period', str(values['keyrenewperiod'])]
    args += ['--key-prefix', values.get('secretName') or 'sealed-secrets-key']
    if values.get('additionalNamespaces'):
        args += ['--additional-namespaces', ','.join(values['additionalNamespaces'])]
    container = {'name': 'controller', 'command': ['controller'], 'args': args,
                 'image': '%s/%s:%s' % (image['registry'], image['repository'], tag), 'imagePullPolicy': image.get('pullPolicy', 'IfNotPresent'),
                 'ports': [{'containerPort': 8080, 'name': 'http'}],
                 'volumeMounts': [{'mountPath': '/tmp', 'name': 'tmp'}]}
    pod_spec = _pod_spec([container], values.get('affinity'), values.get('nodeSelector'), values.get('tolerations'))
    pod_spec['serviceAccountName'] = name
    pod_spec['volumes'] = [{'name': 'tmp', 'emptyDir': {}}]
    deployment = _workload('Deployment', name, target_ns, labels, selector, pod_spec, replicas=1)
    deployment['spec']['template']['metadata']['labels'] = dict(selector, **(values.get('podLabels') or {}))
    service = {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': name, 'namespace': target_ns, 'labels': labels},
               'spec': {'type': values['service'].get('type', 'ClusterIP'), 'selector': selector,
                        'ports': [{'name': 'http', 'port': values['service'].get('port', 8080), 'targetPort': 'http'}]}}
    return objects + [deployment, service]


RENDERERS = {'hcloud-csi': hcloud_csi, 'proxmox-csi-plugin': proxmox_csi_plugin, 'sealed-secrets': sealed_secrets}


def render(chart, release, namespace, version, values):
    """The objects the chart makes, or None for a chart the lab does not know."""
    renderer = RENDERERS.get(chart)
    return renderer(release, namespace, str(version).lstrip('v'), values or {}) if renderer else None
