"""What kube-apiserver creates itself when it starts (each control plane tries; the first one wins):
the system namespaces, the ``kubernetes`` Service, the system PriorityClasses and the bootstrap RBAC
roles our objects refer to (``cluster-admin`` bound to ``system:masters``, ``admin``, ``edit``, ``view``)."""
import ipaddress
import logging

from . import catalog, errors, store as stores

LOG = logging.getLogger('lab.kube')
MANAGER = 'kube-apiserver'


def _r(group, kind, plural, namespaced):
    return catalog.Resource(group, 'v1', kind, plural, namespaced)


def objects(config):
    service_ip = str(ipaddress.ip_network(config.get('service_cidr', '10.96.0.0/12'), strict=False).network_address + 1)
    rbac = 'rbac.authorization.k8s.io'
    read = ['get', 'list', 'watch']
    everything = ['pods', 'services', 'endpoints', 'configmaps', 'secrets', 'persistentvolumeclaims', 'serviceaccounts',
                  'deployments', 'daemonsets', 'replicasets', 'statefulsets', 'jobs', 'cronjobs', 'ingresses', 'networkpolicies',
                  'poddisruptionbudgets', 'horizontalpodautoscalers', 'events', 'leases', 'roles', 'rolebindings']
    groups = ['', 'apps', 'batch', 'networking.k8s.io', 'policy', 'autoscaling', 'coordination.k8s.io', 'events.k8s.io', rbac]
    aggregate = {'apiVersion': '%s/v1' % rbac, 'kind': 'ClusterRole'}
    return [
        (_r('', 'Namespace', 'namespaces', False), None, {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': name}})
        for name in ('default', 'kube-system', 'kube-public', 'kube-node-lease')
    ] + [
        (_r('', 'Service', 'services', True), 'default', {
            'apiVersion': 'v1', 'kind': 'Service',
            'metadata': {'name': 'kubernetes', 'namespace': 'default', 'labels': {'component': 'apiserver', 'provider': 'kubernetes'}},
            'spec': {'clusterIP': service_ip, 'ports': [{'name': 'https', 'port': 443, 'protocol': 'TCP', 'targetPort': 6443}]}}),
        (catalog.Resource('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', False), None, {
            'apiVersion': 'scheduling.k8s.io/v1', 'kind': 'PriorityClass', 'metadata': {'name': 'system-node-critical'},
            'value': 2000001000, 'description': 'Used for system critical pods that must not be moved from their current node.'}),
        (catalog.Resource('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', False), None, {
            'apiVersion': 'scheduling.k8s.io/v1', 'kind': 'PriorityClass', 'metadata': {'name': 'system-cluster-critical'},
            'value': 2000000000, 'description': 'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.'}),
        (_r(rbac, 'ClusterRole', 'clusterroles', False), None, dict(aggregate, metadata={'name': 'cluster-admin'}, rules=[
            {'apiGroups': ['*'], 'resources': ['*'], 'verbs': ['*']}, {'nonResourceURLs': ['*'], 'verbs': ['*']}])),
        (_r(rbac, 'ClusterRole', 'clusterroles', False), None, dict(aggregate, metadata={'name': 'admin'}, rules=[
            {'apiGroups': groups, 'resources': everything, 'verbs': ['*']}])),
        (_r(rbac, 'ClusterRole', 'clusterroles', False), None, dict(aggregate, metadata={'name': 'edit'}, rules=[
            {'apiGroups': groups, 'resources': [r for r in everything if r not in ('roles', 'rolebindings')],
             'verbs': ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']}])),
        (_r(rbac, 'ClusterRole', 'clusterroles', False), None, dict(aggregate, metadata={'name': 'view'}, rules=[
            {'apiGroups': groups, 'resources': [r for r in everything if r not in ('secrets', 'roles', 'rolebindings')], 'verbs': read}])),
        (_r(rbac, 'ClusterRoleBinding', 'clusterrolebindings', False), None, {
            'apiVersion': '%s/v1' % rbac, 'kind': 'ClusterRoleBinding', 'metadata': {'name': 'cluster-admin'},
            'roleRef': {'apiGroup': rbac, 'kind': 'ClusterRole', 'name': 'cluster-admin'},
            'subjects': [{'apiGroup': rbac, 'kind': 'Group', 'name': 'system:masters'}]}),
    ]


async def ensure(registry, config):
    for resource, namespace, body in objects(config):
        for _attempt in range(20):
            try:
                await registry.create(resource, namespace, body, MANAGER)
                break
            except errors.ApiError as exc:
                if exc.code == 409:
                    break
                if exc.code == 404:  # the namespace is being made by another control plane
                    continue
                LOG.warning('bootstrap %s %s: %s', resource.kind, body['metadata']['name'], exc.message)
                break
            except stores.Unavailable as exc:
                LOG.info('bootstrap waits for etcd: %s', exc)
                import asyncio  # pylint: disable=import-outside-toplevel
                await asyncio.sleep(0.5)
