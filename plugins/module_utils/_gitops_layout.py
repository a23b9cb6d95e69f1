# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GitOps repository's files, as objects per path (gitops_repo; docs/services.md, "The repository").

::

    clusters/<name>/gateway-api.yaml     GitRepository + Kustomization of the Gateway API CRDs (first)
    clusters/<name>/infrastructure.yaml  Kustomizations infra-controllers, then infra-configs
    clusters/<name>/apps.yaml            Kustomization apps (after infra-configs)
    infrastructure/controllers/          HelmRepositories, infrastructure releases (cert-manager ...)
    infrastructure/configs/              ClusterIssuers, the Gateway, their sealed credentials
    apps/<service>/                      Namespace, HelmRelease, sealed credentials of each service

Each folder has a ``kustomization.yaml`` listing its files. Pure: the module writes and commits.
"""

from __future__ import annotations

HELM_API = 'helm.toolkit.fluxcd.io/v2'
SOURCE_API = 'source.toolkit.fluxcd.io/v1'
KUSTOMIZE_API = 'kustomize.toolkit.fluxcd.io/v1'
KUSTOMIZE_CONFIG_API = 'kustomize.config.k8s.io/v1beta1'
GATEWAY_API = 'gateway.networking.k8s.io/v1'
ISSUER_API = 'cert-manager.io/v1'
MANAGED_BY = {'app.kubernetes.io/managed-by': 'hybridops.talos'}
REMEDIATION = {'install': {'remediation': {'retries': 3}, 'createNamespace': False},
               'upgrade': {'remediation': {'retries': 3, 'remediateLastFailure': True}, 'cleanupOnFail': True}}


def _meta(name, namespace=None, **extra):
    meta = {'name': name}
    if namespace:
        meta['namespace'] = namespace
    meta['labels'] = dict(MANAGED_BY)
    meta.update(extra)
    return meta


def namespace(name, privileged=False):
    meta = _meta(name)
    if privileged:
        meta['labels']['pod-security.kubernetes.io/enforce'] = 'privileged'
    return {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': meta}


def helm_repository(name, url, flux_namespace):
    spec = {'interval': '12h', 'url': url}
    if url.startswith('oci://'):
        spec['type'] = 'oci'
    return {'apiVersion': SOURCE_API, 'kind': 'HelmRepository', 'metadata': _meta(name, flux_namespace), 'spec': spec}


def repository_name(service):
    return service['chart'].get('repository') or service['chart']['name']


def helm_release(service, by_name, flux_namespace):
    chart = service['chart']
    spec = {'interval': '30m', 'timeout': '10m', 'releaseName': service['name'],
            'chart': {'spec': {'chart': chart['name'], 'version': str(chart['version']), 'interval': '12h',
                               'sourceRef': {'kind': 'HelmRepository', 'name': repository_name(service),
                                             'namespace': flux_namespace}}},
            'install': dict(REMEDIATION['install'], crds='CreateReplace'),
            'upgrade': dict(REMEDIATION['upgrade'], crds='CreateReplace'),
            'values': service['rendered_values']}
    depends = [{'name': dep, 'namespace': by_name[dep]['namespace']} for dep in service.get('depends_on') or ()]
    if depends:
        spec['dependsOn'] = depends
    return {'apiVersion': HELM_API, 'kind': 'HelmRelease', 'metadata': _meta(service['name'], service['namespace']), 'spec': spec}


def flux_kustomization(name, path, params, depends_on=(), source=None, wait=True, prune=True):
    spec = {'interval': '10m', 'timeout': '10m', 'path': path, 'prune': prune, 'wait': wait,
            'sourceRef': source or {'kind': 'GitRepository', 'name': params['flux_source']}}
    if depends_on:
        spec['dependsOn'] = [{'name': d} for d in depends_on]
    return {'apiVersion': KUSTOMIZE_API, 'kind': 'Kustomization', 'metadata': _meta(name, params['flux_namespace']), 'spec': spec}


def kustomize_file(resources):
    return {'apiVersion': KUSTOMIZE_CONFIG_API, 'kind': 'Kustomization', 'resources': sorted(resources)}


def gateway_api_objects(params):
    repo = {'apiVersion': SOURCE_API, 'kind': 'GitRepository', 'metadata': _meta('gateway-api', params['flux_namespace']),
            'spec': {'interval': '24h', 'url': params['gateway_api_url'], 'ref': {'tag': params['gateway_api_version']},
                     'ignore': '/*\n!/config/crd/standard/\n'}}
    # No pruning: removing this Kustomization must not delete the CRDs, and with them every Gateway and route.
    crds = flux_kustomization('gateway-api', './config/crd/standard', params, source={'kind': 'GitRepository', 'name': 'gateway-api'},
                              prune=False)
    return [repo, crds]


def gateway(params):
    listeners = [{'name': 'http', 'protocol': 'HTTP', 'port': 80, 'allowedRoutes': {'namespaces': {'from': 'All'}}}]
    meta = _meta(params['gateway_name'], params['gateway_namespace'])
    if params.get('gateway_hostname'):
        listeners.append({'name': 'https', 'protocol': 'HTTPS', 'port': 443, 'hostname': params['gateway_hostname'],
                          'allowedRoutes': {'namespaces': {'from': 'All'}},
                          'tls': {'mode': 'Terminate', 'certificateRefs': [{'kind': 'Secret', 'name': params['gateway_name'] + '-tls'}]}})
        if params.get('acme_email'):
            # cert-manager's gateway-shim makes the certificate of the HTTPS listener from this annotation.
            meta['annotations'] = {'cert-manager.io/cluster-issuer': 'letsencrypt-http01'}
    return {'apiVersion': GATEWAY_API, 'kind': 'Gateway', 'metadata': meta,
            'spec': {'gatewayClassName': 'cilium', 'listeners': listeners}}


def cluster_issuers(params):
    """The ACME ClusterIssuers: HTTP-01 through the Gateway (or ingress-nginx), DNS-01 through PowerDNS (RFC2136)."""
    if not params.get('acme_email'):
        return []
    if params['ingress'] == 'gateway-api':
        http01 = {'gatewayHTTPRoute': {'parentRefs': [{'kind': 'Gateway', 'name': params['gateway_name'],
                                                       'namespace': params['gateway_namespace']}]}}
    else:
        http01 = {'ingress': {'ingressClassName': 'nginx'}}
    issuers = [_issuer('letsencrypt-http01', params, {'http01': http01})]
    if params.get('dns01_nameserver'):
        issuers.append(_issuer('letsencrypt-dns01', params, {'dns01': {'rfc2136': {
            'nameserver': params['dns01_nameserver'], 'tsigKeyName': params['dns01_tsig_key_name'],
            'tsigAlgorithm': params['dns01_tsig_algorithm'],
            'tsigSecretSecretRef': {'name': 'powerdns-tsig', 'key': 'secret'}}}}))
    return issuers


def _issuer(name, params, solver):
    return {'apiVersion': ISSUER_API, 'kind': 'ClusterIssuer', 'metadata': _meta(name),
            'spec': {'acme': {'email': params['acme_email'], 'server': params['acme_server'],
                              'privateKeySecretRef': {'name': name + '-account'}, 'solvers': [solver]}}}


def layout(services, params):
    """{relative path: [objects]} of every file but the sealed ones, and the folder each namespace's secrets go to."""
    cluster = 'clusters/%s' % params['cluster_name']
    files, secret_dirs = {}, {}
    by_name = {s['name']: s for s in services}
    flux_ns = params['flux_namespace']
    gateway_first = params['ingress'] == 'gateway-api'
    if gateway_first:
        files['%s/gateway-api.yaml' % cluster] = gateway_api_objects(params)
    files['%s/infrastructure.yaml' % cluster] = [
        flux_kustomization('infra-controllers', './infrastructure/controllers', params, ['gateway-api'] if gateway_first else ()),
        flux_kustomization('infra-configs', './infrastructure/configs', params, ['infra-controllers'])]
    files['%s/apps.yaml' % cluster] = [flux_kustomization('apps', './apps', params, ['infra-configs'], wait=False)]
    repos = {}
    for service in services:
        repos.setdefault(repository_name(service), service['chart']['url'])
    for name, url in repos.items():
        files['infrastructure/controllers/repository-%s.yaml' % name] = [helm_repository(name, url, flux_ns)]
    seen_ns = set()
    for service in services:
        ns_new = service['namespace'] not in seen_ns
        seen_ns.add(service['namespace'])
        if service.get('layer') == 'infrastructure':
            base = 'infrastructure/controllers/%s' % service['name']
            secret_dirs.setdefault(service['namespace'], 'infrastructure/configs')
        else:
            base = 'apps/%s' % service['name']
            secret_dirs.setdefault(service['namespace'], base)
        if ns_new:
            files['%s-namespace.yaml' % base if base.startswith('infrastructure') else '%s/namespace.yaml' % base] = [
                namespace(service['namespace'])]
        files['%s-release.yaml' % base if base.startswith('infrastructure') else '%s/release.yaml' % base] = [
            helm_release(service, by_name, flux_ns)]
    configs = cluster_issuers(params)
    if configs:
        files['infrastructure/configs/cluster-issuers.yaml'] = configs
    if gateway_first:
        files['infrastructure/configs/gateway.yaml'] = [namespace(params['gateway_namespace']), gateway(params)]
    return files, secret_dirs


def with_kustomize_files(paths):
    """Add each folder's kustomization.yaml (infrastructure/*, apps/, apps/<service>/) listing its files and folders."""
    listed = {}
    for path in paths:
        parts = path.split('/')
        if parts[0] == 'clusters':
            continue
        folder, leaf = '/'.join(parts[:-1]), parts[-1]
        listed.setdefault(folder, set()).add(leaf)
        if parts[0] == 'apps' and len(parts) == 3:
            listed.setdefault('apps', set()).add(parts[1])
    # infra-configs needs a kustomization.yaml even with nothing in it yet.
    listed.setdefault('infrastructure/configs', set())
    return {'%s/kustomization.yaml' % folder: [kustomize_file(leaves)] for folder, leaves in listed.items()}
