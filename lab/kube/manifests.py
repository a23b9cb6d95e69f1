"""Talos' manifest application on a control plane: the bootstrap manifests Talos owns and the config's
``cluster.inlineManifests`` (and ``cluster.extraManifests`` given inline), applied through the API when the
control plane's API comes up and again when the config's manifests change.

As Talos does (platform.md §1): an object that exists is left alone — never updated, never deleted; a
missing one is created (field manager ``talos``), so an object deleted by hand comes back at the next
boot of a control plane. Namespaces and CRDs go first; an object whose kind is not served yet (a
custom resource before its CRD is Established) is retried until it is.

The bootstrap manifests in the lab: CoreDNS (unless ``cluster.coreDNS.disabled``), kube-proxy (unless
``cluster.proxy.disabled``) and flannel when ``cluster.network.cni.name`` is ``flannel`` (Talos' default),
as small objects with Talos' names, labels, tolerations and images — what our code and the scheduler see.
"""
import asyncio
import logging

import yaml

from .client import ApiStatus, ApiUnreachable, Client

LOG = logging.getLogger('lab.kube')
ORDER = {'Namespace': 0, 'CustomResourceDefinition': 1}


def _critical_tolerations():
    return [{'key': 'CriticalAddonsOnly', 'operator': 'Exists'},
            {'key': 'node-role.kubernetes.io/control-plane', 'operator': 'Exists', 'effect': 'NoSchedule'}]


def coredns(cluster):
    dns = (cluster.get('network') or {}).get('dnsDomain') or 'cluster.local'
    image = (cluster.get('coreDNS') or {}).get('image') or 'registry.k8s.io/coredns/coredns:v1.12.0'
    labels = {'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS'}
    corefile = ('.:53 {\n    errors\n    health {\n        lameduck 5s\n    }\n    ready\n    kubernetes %s in-addr.arpa ip6.arpa {\n'
                '        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n        ttl 30\n    }\n    prometheus :9153\n'
                '    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache 30\n    loop\n    reload\n'
                '    loadbalance\n}\n' % dns)
    return [
        {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': {'name': 'coredns', 'namespace': 'kube-system'}},
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'system:coredns'},
         'rules': [{'apiGroups': [''], 'resources': ['endpoints', 'services', 'pods', 'namespaces'], 'verbs': ['list', 'watch']},
                   {'apiGroups': ['discovery.k8s.io'], 'resources': ['endpointslices'], 'verbs': ['list', 'watch']}]},
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding', 'metadata': {'name': 'system:coredns'},
         'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'system:coredns'},
         'subjects': [{'kind': 'ServiceAccount', 'name': 'coredns', 'namespace': 'kube-system'}]},
        {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'coredns', 'namespace': 'kube-system'}, 'data': {'Corefile': corefile}},
        {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'coredns', 'namespace': 'kube-system', 'labels': labels},
         'spec': {'replicas': 2, 'selector': {'matchLabels': {'k8s-app': 'kube-dns'}},
                  'strategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': 1}},
                  'template': {'metadata': {'labels': labels},
                               'spec': {'priorityClassName': 'system-cluster-critical', 'serviceAccountName': 'coredns',
                                        'tolerations': _critical_tolerations(), 'nodeSelector': {'kubernetes.io/os': 'linux'},
                                        'containers': [{'name': 'coredns', 'image': image, 'args': ['-conf', '/etc/coredns/Corefile'],
                                                        'ports': [{'name': 'dns', 'containerPort': 53, 'protocol': 'UDP'},
                                                                  {'name': 'dns-tcp', 'containerPort': 53, 'protocol': 'TCP'},
                                                                  {'name': 'metrics', 'containerPort': 9153, 'protocol': 'TCP'}],
                                                        'volumeMounts': [{'name': 'config-volume', 'mountPath': '/etc/coredns', 'readOnly': True}]}],
                                        'dnsPolicy': 'Default',
                                        'volumes': [{'name': 'config-volume', 'configMap': {
                                            'name': 'coredns', 'items': [{'key': 'Corefile', 'path': 'Corefile'}]}}]}}}},
        {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'kube-dns', 'namespace': 'kube-system', 'labels': labels},
         'spec': {'clusterIP': '10.96.0.10', 'selector': {'k8s-app': 'kube-dns'},
                  'ports': [{'name': 'dns', 'port': 53, 'protocol': 'UDP'}, {'name': 'dns-tcp', 'port': 53, 'protocol': 'TCP'},
                            {'name': 'metrics', 'port': 9153, 'protocol': 'TCP'}]}},
    ]


def _daemonset(name, labels, image, kube_version):
    return {'apiVersion': 'apps/v1', 'kind': 'DaemonSet', 'metadata': {'name': name, 'namespace': 'kube-system', 'labels': labels},
            'spec': {'selector': {'matchLabels': labels},
                     'template': {'metadata': {'labels': labels},
                                  'spec': {'hostNetwork': True, 'priorityClassName': 'system-node-critical',
                                           'tolerations': [{'operator': 'Exists'}],
                                           'containers': [{'name': name, 'image': image % kube_version}]}}}}


def bootstrap_manifests(config, kube_version):
    cluster = config.get('cluster') or {}
    docs = []
    if not (cluster.get('coreDNS') or {}).get('disabled'):
        docs += coredns(cluster)
    if not (cluster.get('proxy') or {}).get('disabled'):
        docs.append(_daemonset('kube-proxy', {'k8s-app': 'kube-proxy'}, 'registry.k8s.io/kube-proxy:v%s', kube_version))
    cni = ((cluster.get('network') or {}).get('cni') or {}).get('name') or 'flannel'
    if cni == 'flannel':
        docs.append(_daemonset('kube-flannel', {'k8s-app': 'flannel', 'tier': 'node'}, 'ghcr.io/siderolabs/flannel:v0.26.1%s', ''))
    return docs


def inline_manifests(config):
    docs = []
    for manifest in (config.get('cluster') or {}).get('inlineManifests') or ():
        try:
            docs += [doc for doc in yaml.safe_load_all(manifest.get('contents') or '') if isinstance(doc, dict)]
        except yaml.YAMLError as exc:
            LOG.warning('inline manifest %s is not YAML: %s', manifest.get('name'), exc)
    return docs


def all_manifests(config, kube_version):
    docs = bootstrap_manifests(config, kube_version) + inline_manifests(config)
    return sorted(docs, key=lambda d: ORDER.get(d.get('kind'), 2))


async def apply(client, docs):
    """Create the missing objects; returns the documents still waiting (kind not served yet, API errors)."""
    waiting = []
    for doc in docs:
        api_version, kind = doc.get('apiVersion', ''), doc.get('kind', '')
        meta = doc.get('metadata') or {}
        try:
            found = await client.resource(api_version, kind)
            if found is None:
                waiting.append(doc)
                continue
            plural, namespaced = found
            namespace = (meta.get('namespace') or 'default') if namespaced else None
            try:
                await client.request('GET', Client.path(api_version, plural, namespace, meta.get('name')))
                continue
            except ApiStatus as exc:
                if exc.code != 404:
                    raise
            await client.request('POST', Client.path(api_version, plural, namespace) + '?fieldManager=talos', doc)
            LOG.info('manifest: created %s %s', kind, meta.get('name'))
        except ApiStatus as exc:
            if exc.code == 409:
                continue
            LOG.warning('manifest %s %s: %s', kind, meta.get('name'), exc)
            waiting.append(doc)
        except ApiUnreachable:
            waiting.append(doc)
    return waiting


async def apply_until_done(client, docs):
    """Retry (with a growing pause) until every object exists, as Talos' manifest controller does."""
    pause = 0.5
    while docs:
        docs = await apply(client, docs)
        if docs:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
