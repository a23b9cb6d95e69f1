"""The built-in resources the stand-in serves, and their schemas from kubernetes-validate's bundle.

One row per resource: group, version, kind, plural, scope, short names, subresources, categories. Only
the stable (GA) version of each group is served, as a v1.32 cluster prefers it. The schemas are the
bundle's strict JSON schemas of the cluster's Kubernetes version (``kubernetes_validate/
kubernetes-json-schema/v<minor>.0-local-strict/_definitions.json``); they carry the list types, merge
keys and patch strategies that strategic merge and server-side apply need.
"""
import functools
import json
import os

import kubernetes_validate

# group, version, kind, plural, namespaced, short names, subresources, categories
_ROWS = (
    ('', 'v1', 'ConfigMap', 'configmaps', True, ('cm',), (), ()),
    ('', 'v1', 'Endpoints', 'endpoints', True, ('ep',), (), ()),
    ('', 'v1', 'Event', 'events', True, ('ev',), (), ()),
    ('', 'v1', 'LimitRange', 'limitranges', True, ('limits',), (), ()),
    ('', 'v1', 'Namespace', 'namespaces', False, ('ns',), ('status', 'finalize'), ()),
    ('', 'v1', 'Node', 'nodes', False, ('no',), ('status',), ()),
    ('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', True, ('pvc',), ('status',), ()),
    ('', 'v1', 'PersistentVolume', 'persistentvolumes', False, ('pv',), ('status',), ()),
    ('', 'v1', 'Pod', 'pods', True, ('po',), ('status', 'eviction'), ('all',)),
    ('', 'v1', 'PodTemplate', 'podtemplates', True, (), (), ()),
    ('', 'v1', 'ReplicationController', 'replicationcontrollers', True, ('rc',), ('status', 'scale'), ('all',)),
    ('', 'v1', 'ResourceQuota', 'resourcequotas', True, ('quota',), ('status',), ()),
    ('', 'v1', 'Secret', 'secrets', True, (), (), ()),
    ('', 'v1', 'ServiceAccount', 'serviceaccounts', True, ('sa',), (), ()),
    ('', 'v1', 'Service', 'services', True, ('svc',), ('status',), ('all',)),
    ('admissionregistration.k8s.io', 'v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', False, (), (), ('api-extensions',)),
    ('admissionregistration.k8s.io', 'v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', False, (), (),
     ('api-extensions',)),
    ('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', False, ('crd', 'crds'), ('status',),
     ('api-extensions',)),
    ('apiregistration.k8s.io', 'v1', 'APIService', 'apiservices', False, (), ('status',), ('api-extensions',)),
    ('apps', 'v1', 'ControllerRevision', 'controllerrevisions', True, (), (), ()),
    ('apps', 'v1', 'DaemonSet', 'daemonsets', True, ('ds',), ('status',), ('all',)),
    ('apps', 'v1', 'Deployment', 'deployments', True, ('deploy',), ('status', 'scale'), ('all',)),
    ('apps', 'v1', 'ReplicaSet', 'replicasets', True, ('rs',), ('status', 'scale'), ('all',)),
    ('apps', 'v1', 'StatefulSet', 'statefulsets', True, ('sts',), ('status', 'scale'), ('all',)),
    ('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', True, ('hpa',), ('status',), ('all',)),
    ('batch', 'v1', 'CronJob', 'cronjobs', True, ('cj',), ('status',), ('all',)),
    ('batch', 'v1', 'Job', 'jobs', True, (), ('status',), ('all',)),
    ('certificates.k8s.io', 'v1', 'CertificateSigningRequest', 'certificatesigningrequests', False, ('csr',), ('status', 'approval'), ()),
    ('coordination.k8s.io', 'v1', 'Lease', 'leases', True, (), (), ()),
    ('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', True, (), (), ()),
    ('events.k8s.io', 'v1', 'Event', 'events', True, ('ev',), (), ()),
    ('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', False, (), (), ()),
    ('networking.k8s.io', 'v1', 'Ingress', 'ingresses', True, ('ing',), ('status',), ()),
    ('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', True, ('netpol',), (), ()),
    ('node.k8s.io', 'v1', 'RuntimeClass', 'runtimeclasses', False, (), (), ()),
    ('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', True, ('pdb',), ('status',), ()),
    ('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', False, (), (), ()),
    ('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', False, (), (), ()),
    ('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', True, (), (), ()),
    ('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', True, (), (), ()),
    ('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', False, ('pc',), (), ()),
    ('storage.k8s.io', 'v1', 'CSIDriver', 'csidrivers', False, (), (), ()),
    ('storage.k8s.io', 'v1', 'CSINode', 'csinodes', False, (), (), ()),
    ('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', False, ('sc',), (), ()),
    ('storage.k8s.io', 'v1', 'VolumeAttachment', 'volumeattachments', False, (), ('status',), ()),
)

# Kubernetes versions the lab can serve: kubernetes-validate's bundle has schemas for these minors.
SCHEMA_ROOT = os.path.join(os.path.dirname(kubernetes_validate.__file__), 'kubernetes-json-schema')


class Resource:
    """One served resource (built-in or from a CRD)."""

    def __init__(self, group, version, kind, plural, namespaced, short_names=(), subresources=(), categories=(),
                 singular=None, crd=None):
        self.group, self.version, self.kind, self.plural = group, version, kind, plural
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.subresources = list(subresources)
        self.categories = list(categories)
        self.singular = singular or kind.lower()
        self.crd = crd  # the CRD object (dict) for custom resources

    @property
    def api_version(self):
        return '%s/%s' % (self.group, self.version) if self.group else self.version

    @property
    def group_resource(self):
        """``deployments.apps`` / ``pods``: how errors name the resource."""
        return '%s.%s' % (self.plural, self.group) if self.group else self.plural

    @property
    def qualified_kind(self):
        """``Deployment.apps`` / ``Pod``: how Invalid errors name the kind."""
        return '%s.%s' % (self.kind, self.group) if self.group else self.kind

    @property
    def storage_prefix(self):
        """etcd key prefix, as kube-apiserver lays it out: built-ins by resource, custom resources by group too."""
        if self.crd is not None or self.group == 'apiextensions.k8s.io':
            return '/registry/%s/%s/' % (self.group, self.plural)
        return '/registry/%s/' % self.plural

    def key(self, namespace, name):
        if self.namespaced:
            return '%s%s/%s' % (self.storage_prefix, namespace, name)
        return self.storage_prefix + name

    def prefix(self, namespace=None):
        if self.namespaced and namespace:
            return '%s%s/' % (self.storage_prefix, namespace)
        return self.storage_prefix

    def __repr__(self):
        return '<Resource %s %s>' % (self.api_version, self.plural)


def builtins():
    return [Resource(*row) for row in _ROWS]


def schema_dir(kube_version):
    """The bundle folder for ``kube_version`` (e.g. ``1.32.4``): the newest minor not newer than it,
    clamped to what the bundle has (older clusters get the oldest schemas; documented in docs/lab-kube.md)."""
    minor = _minor(kube_version)
    have = sorted((_minor(name[1:].split('-')[0]), name) for name in os.listdir(SCHEMA_ROOT) if name.endswith('-local-strict'))
    chosen = [name for found, name in have if found <= minor]
    return os.path.join(SCHEMA_ROOT, (chosen or [have[0][1]])[-1])


def _minor(version):
    parts = version.lstrip('v').split('.')
    return int(parts[0]), int(parts[1])


@functools.lru_cache(maxsize=2)
def definitions(kube_version):
    """{definition name: JSON schema} (strict: ``additionalProperties: false`` on every object)."""
    with open(os.path.join(schema_dir(kube_version), '_definitions.json'), encoding='utf-8') as handle:
        return json.load(handle)['$defs']


@functools.lru_cache(maxsize=2)
def kinds(kube_version):
    """{(group, version, kind): definition name}."""
    result = {}
    for name, schema in definitions(kube_version).items():
        for gvk in schema.get('x-kubernetes-group-version-kind', ()):
            result.setdefault((gvk['group'], gvk['version'], gvk['kind']), name)
    return result
