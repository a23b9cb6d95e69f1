"""The lab's Flux stand-in (lab/kube/flux.py) on a small in-memory registry: what it writes into the status."""
import asyncio
import copy

from lab.kube import errors, flux

GIT = {'apiVersion': 'source.toolkit.fluxcd.io/v1', 'kind': 'GitRepository',
       'metadata': {'name': 'repo', 'namespace': 'flux-system', 'generation': 1},
       'spec': {'url': 'ssh://git@git.example.net/ops/gitops.git', 'ref': {'branch': 'main'}, 'secretRef': {'name': 'key'}}}
KS = {'apiVersion': 'kustomize.toolkit.fluxcd.io/v1', 'kind': 'Kustomization',
      'metadata': {'name': 'root', 'namespace': 'flux-system', 'generation': 1},
      'spec': {'sourceRef': {'kind': 'GitRepository', 'name': 'repo'}, 'path': './', 'prune': True, 'interval': '10m'}}


class Registry:
    """Objects by (kind, namespace, name); ``update`` of the status subresource replaces the status."""

    def __init__(self, *objects):
        self.objects = {(o['kind'], o['metadata'].get('namespace'), o['metadata']['name']): copy.deepcopy(o) for o in objects}
        self.writes = 0

    def resource_for(self, api_version, kind):
        return flux.catalog.Resource(api_version.rpartition('/')[0], api_version.rpartition('/')[2], kind, kind.lower() + 's', True)

    async def get(self, resource, namespace, name):
        found = self.objects.get((resource.kind, namespace, name))
        if found is None:
            raise errors.ApiError(404, 'NotFound', '%s not found' % name)
        return copy.deepcopy(found)

    async def update(self, resource, namespace, name, body, manager, subresource=None):
        assert subresource == 'status' and manager == 'lab'
        self.objects[(resource.kind, namespace, name)]['status'] = body['status']
        self.writes += 1


def controllers(available=1):
    return [{'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name, 'namespace': 'flux-system'},
             'status': {'availableReplicas': available}} for name in ('source-controller', 'kustomize-controller')]


def reconcile(registry, hook, key):
    ctx = flux.hooks.CustomContext(registry, 'lab')
    asyncio.run(hook(ctx, copy.deepcopy(registry.objects[key])))
    return registry.objects[key].get('status') or {}


def ready(status):
    return [(c['status'], c['reason']) for c in status.get('conditions') or () if c['type'] == 'Ready']


def test_nothing_is_reconciled_while_the_controller_does_not_run():
    registry = Registry(GIT, *controllers(available=0))
    assert reconcile(registry, flux.git_repository, ('GitRepository', 'flux-system', 'repo')) == {}


def test_a_missing_deploy_key_secret_is_an_authentication_failure():
    registry = Registry(GIT, *controllers())
    status = reconcile(registry, flux.git_repository, ('GitRepository', 'flux-system', 'repo'))
    assert ready(status) == [('False', 'AuthenticationFailed')]
    assert 'secrets "key" not found' in status['conditions'][0]['message']


def test_an_ssh_secret_without_known_hosts_is_named():
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'key', 'namespace': 'flux-system'}, 'data': {'identity': 'eA=='}}
    registry = Registry(GIT, secret, *controllers())
    status = reconcile(registry, flux.git_repository, ('GitRepository', 'flux-system', 'repo'))
    assert ready(status) == [('False', 'AuthenticationFailed')] and "'known_hosts' is required" in status['conditions'][0]['message']


def test_a_repository_with_its_key_is_ready_and_the_kustomization_follows_it_once():
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'key', 'namespace': 'flux-system'},
              'data': {'identity': 'eA==', 'known_hosts': 'eA=='}}
    registry = Registry(GIT, KS, secret, *controllers())
    key = ('Kustomization', 'flux-system', 'root')
    assert ready(reconcile(registry, flux.kustomization, key)) == [('False', 'ArtifactFailed')]  # the source is not Ready yet
    status = reconcile(registry, flux.git_repository, ('GitRepository', 'flux-system', 'repo'))
    assert ready(status) == [('True', 'Succeeded')] and status['artifact']['revision'].startswith('main@sha1:')
    status = reconcile(registry, flux.kustomization, key)
    assert ready(status) == [('True', 'ReconciliationSucceeded')] and status['lastAppliedRevision'] == 'main@sha1:' + \
        status['lastAppliedRevision'].split(':', 1)[1]
    writes = registry.writes
    reconcile(registry, flux.git_repository, ('GitRepository', 'flux-system', 'repo'))
    reconcile(registry, flux.kustomization, key)
    assert registry.writes == writes  # nothing new to say: no write
