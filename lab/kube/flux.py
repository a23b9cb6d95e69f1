"""A Flux stand-in: what source- and kustomize-controller report, small (custom-resource hooks, hooks.py).

The controllers' Deployments from Flux's install manifest need no hook: their pods run like any other container
without one (kubelet.py), so the Deployments become available once the nodes are Ready and the pods are scheduled.
Each kind below is reconciled only while its controller's Deployment in ``flux-system`` has an available replica
(a controller that cannot be scheduled leaves its objects without a ``Ready`` condition, as on a real cluster),
and its status is written only when it says something new:

* **GitRepository** (source-controller): the ``secretRef`` Secret must exist; for ``ssh://`` URLs it must hold
  ``identity`` and ``known_hosts``, else ``Ready=False`` (``AuthenticationFailed``) with source-controller's
  message. Then ``Ready=True`` (``Succeeded``) with an artifact whose revision is
  ``<branch>@sha1:<digest of URL and branch>``. **Nothing is cloned**: the lab has no Git server, the revision is
  made up, and a wrong key, URL or host key is not noticed.
* **Kustomization** (kustomize-controller): ``Ready=True`` (``ReconciliationSucceeded``, "Applied revision: ...")
  once its source is Ready, ``Ready=False`` (``ArtifactFailed``) while the source is missing or not Ready.
  **Nothing from Git is applied.**

* **HelmRepository** (source-controller): ``Ready=True`` (``Succeeded``) with an artifact named after the URL.
  **Nothing is downloaded**: a wrong URL is not noticed.
* **HelmRelease** (helm-controller): ``Ready=False`` (``ArtifactFailed``) while its HelmRepository is missing or
  not Ready. Then the release ``spec.releaseName`` (default: the name, ``<targetNamespace>-<name>`` with a target
  namespace) in ``spec.storageNamespace`` (default: its namespace) is looked up in Helm's storage (helm.py):
  none is ``Ready=False`` (``InstallFailed``) - **the lab installs no chart**; a release of another chart is
  ``UpgradeFailed``; otherwise, as helm-controller does with a release it did not make or whose chart version or
  values differ from the HelmRelease's, it is upgraded: a new revision is recorded (the old one superseded),
  ``status.history`` names it and ``Ready=True`` (``UpgradeSucceeded``). **Nothing the chart renders changes**
  (the Cilium DaemonSet keeps its image when the version changes).
"""
import copy
import datetime
import hashlib
import json

from . import catalog, errors, helm, hooks

CONTROLLERS = {'GitRepository': 'source-controller', 'Kustomization': 'kustomize-controller',
               'HelmRepository': 'source-controller', 'HelmRelease': 'helm-controller'}
FLUX_NAMESPACE = 'flux-system'
DEPLOYMENTS = catalog.Resource('apps', 'v1', 'Deployment', 'deployments', True)
SECRETS = catalog.Resource('', 'v1', 'Secret', 'secrets', True)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _digest(*parts):
    return hashlib.sha1('\0'.join(str(p) for p in parts).encode()).hexdigest()


async def _get(registry, resource, namespace, name):
    try:
        return await registry.get(resource, namespace, name)
    except errors.ApiError as exc:
        if exc.code == 404:
            return None
        raise


async def _controller_runs(registry, kind):
    deployment = await _get(registry, DEPLOYMENTS, FLUX_NAMESPACE, CONTROLLERS[kind])
    return bool(deployment and (deployment.get('status') or {}).get('availableReplicas'))


def _ready(obj):
    return any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in (obj.get('status') or {}).get('conditions') or ())


async def _set_status(ctx, obj, status, ready, reason, message):
    """Write the status unless it says what it says already (timestamps kept from the last transition)."""
    old = obj.get('status') or {}
    generation = obj['metadata'].get('generation', 1)
    text = 'True' if ready else 'False'
    previous = next((c for c in old.get('conditions') or () if c.get('type') == 'Ready'), {})
    since = previous.get('lastTransitionTime') if previous.get('status') == text and previous.get('lastTransitionTime') else _now()
    condition = {'type': 'Ready', 'status': text, 'reason': reason, 'message': message, 'observedGeneration': generation,
                 'lastTransitionTime': since}
    new_status = dict(status, conditions=[condition], observedGeneration=generation)
    if new_status == old:
        return
    new = copy.deepcopy(obj)
    new['status'] = new_status
    resource = ctx.registry.resource_for(obj['apiVersion'], obj['kind'])
    await ctx.registry.update(resource, obj['metadata'].get('namespace'), obj['metadata']['name'], new, ctx.manager, subresource='status')


# ---------------------------------------------------------------------- sources

async def git_repository(ctx, obj):
    if not await _controller_runs(ctx.registry, 'GitRepository'):
        return
    meta, spec = obj['metadata'], obj.get('spec') or {}
    namespace, url = meta.get('namespace'), spec.get('url', '')
    ref = spec.get('ref') or {}
    branch = ref.get('branch') or 'master'
    secret_name = (spec.get('secretRef') or {}).get('name')
    if secret_name:
        secret = await _get(ctx.registry, SECRETS, namespace, secret_name)
        if secret is None:
            await _set_status(ctx, obj, {}, False, 'AuthenticationFailed',
                              "failed to get secret '%s/%s': secrets \"%s\" not found" % (namespace, secret_name, secret_name))
            return
        data = secret.get('data') or {}
        if url.startswith('ssh://'):
            missing = [key for key in ('identity', 'known_hosts') if not data.get(key)]
            if missing:
                await _set_status(ctx, obj, {}, False, 'AuthenticationFailed',
                                  "invalid '%s' auth option: '%s' is required" % ('ssh', missing[0]))
                return
    revision = '%s@sha1:%s' % (branch, _digest(url, branch))
    artifact = {'revision': revision, 'digest': 'sha256:' + hashlib.sha256(revision.encode()).hexdigest(),
                'path': 'gitrepository/%s/%s/%s.tar.gz' % (namespace, meta['name'], revision.rsplit(':', 1)[1]),
                'url': 'http://source-controller.flux-system.svc.cluster.local./gitrepository/%s/%s/latest.tar.gz' % (namespace, meta['name']),
                'lastUpdateTime': _now(), 'size': 0}
    old = (obj.get('status') or {}).get('artifact') or {}
    if old.get('revision') == revision:
        artifact = old
    await _set_status(ctx, obj, {'artifact': artifact}, True, 'Succeeded', "stored artifact for revision '%s'" % revision)


# ---------------------------------------------------------------------- kustomize

async def kustomization(ctx, obj):
    if not await _controller_runs(ctx.registry, 'Kustomization'):
        return
    namespace = obj['metadata'].get('namespace')
    ref = (obj.get('spec') or {}).get('sourceRef') or {}
    source_ns = ref.get('namespace') or namespace
    label = "%s/%s/%s" % (ref.get('kind'), source_ns, ref.get('name'))
    resource = ctx.registry.resource_for(ref.get('apiVersion') or 'source.toolkit.fluxcd.io/v1', ref.get('kind', ''))
    source = await _get(ctx.registry, resource, source_ns, ref.get('name')) if resource is not None else None
    if source is None:
        await _set_status(ctx, obj, {}, False, 'ArtifactFailed', "Source '%s' not found" % label)
        return
    artifact = (source.get('status') or {}).get('artifact') or {}
    if not _ready(source) or not artifact.get('revision'):
        await _set_status(ctx, obj, {}, False, 'ArtifactFailed', 'Source artifact not found, retrying in 30s')
        return
    revision = artifact['revision']
    await _set_status(ctx, obj, {'lastAppliedRevision': revision, 'lastAttemptedRevision': revision}, True, 'ReconciliationSucceeded',
                      'Applied revision: %s' % revision)


# ---------------------------------------------------------------------- helm

async def helm_repository(ctx, obj):
    if not await _controller_runs(ctx.registry, 'HelmRepository'):
        return
    url = (obj.get('spec') or {}).get('url', '')
    revision = 'sha256:' + hashlib.sha256(url.encode()).hexdigest()
    artifact = {'revision': revision, 'digest': revision, 'lastUpdateTime': _now(), 'size': 0,
                'path': 'helmrepository/%s/%s/index-%s.yaml' % (obj['metadata'].get('namespace'), obj['metadata']['name'], revision[7:]),
                'url': 'http://source-controller.flux-system.svc.cluster.local./helmrepository/%s/%s/index.yaml'
                       % (obj['metadata'].get('namespace'), obj['metadata']['name'])}
    old = (obj.get('status') or {}).get('artifact') or {}
    if old.get('revision') == revision:
        artifact = old
    await _set_status(ctx, obj, {'artifact': artifact, 'url': artifact['url']}, True, 'Succeeded',
                      "stored artifact: revision '%s'" % revision)


def _config_digest(values):
    return 'sha256:' + hashlib.sha256(json.dumps(values or {}, sort_keys=True).encode()).hexdigest()


async def helm_release(ctx, obj):
    if not await _controller_runs(ctx.registry, 'HelmRelease'):
        return
    meta, spec = obj['metadata'], obj.get('spec') or {}
    namespace = meta.get('namespace')
    chart = (spec.get('chart') or {}).get('spec') or {}
    ref = chart.get('sourceRef') or {}
    source_ns = ref.get('namespace') or namespace
    resource = ctx.registry.resource_for('source.toolkit.fluxcd.io/v1', ref.get('kind', ''))
    source = await _get(ctx.registry, resource, source_ns, ref.get('name')) if resource is not None else None
    if source is None or not _ready(source):
        await _set_status(ctx, obj, {}, False, 'ArtifactFailed', "HelmChart '%s/%s-%s' is not ready: %s '%s/%s' %s"
                          % (source_ns, namespace, meta['name'], ref.get('kind'), source_ns, ref.get('name'),
                             'not found' if source is None else 'is not ready'))
        return
    target = spec.get('targetNamespace')
    release_name = spec.get('releaseName') or ('%s-%s' % (target, meta['name']) if target else meta['name'])
    storage = spec.get('storageNamespace') or namespace
    label = '%s/%s' % (storage, release_name)
    stored = (await ctx.registry.list(SECRETS, storage, 'owner=helm,name=%s' % release_name))['items']
    records = sorted((helm.read(s) for s in stored if s.get('type') == helm.TYPE), key=lambda r: r['version'])
    deployed = [r for r in records if r['info']['status'] == 'deployed']
    if not deployed:
        await _set_status(ctx, obj, {}, False, 'InstallFailed', 'Helm install failed for release %s with chart %s@%s: the lab '
                          'installs no chart' % (label, chart.get('chart'), chart.get('version')))
        return
    current = deployed[-1]
    running_chart = current['chart']['metadata']
    if running_chart.get('name') != chart.get('chart'):
        await _set_status(ctx, obj, {}, False, 'UpgradeFailed', 'Helm upgrade failed for release %s with chart %s@%s: the release '
                          'runs chart %s' % (label, chart.get('chart'), chart.get('version'), running_chart.get('name')))
        return
    digest = _config_digest(spec.get('values'))
    history = (obj.get('status') or {}).get('history') or []
    latest = history[0] if history else {}
    if not (latest.get('version') == current['version'] and latest.get('chartVersion') == running_chart.get('version') == chart.get('version')
            and latest.get('configDigest') == digest):
        # Not made by this HelmRelease, or another chart version or values: helm-controller upgrades.
        revision = records[-1]['version'] + 1
        for old in deployed:
            old['info']['status'] = 'superseded'
            await ctx.registry.update(SECRETS, storage, 'sh.helm.release.v1.%s.v%d' % (release_name, old['version']),
                                      helm.secret(old), ctx.manager)
        current = helm.record(release_name, storage, chart.get('chart'), chart.get('version'), spec.get('values') or {}, revision,
                              'Upgrade complete', first_deployed=current['info'].get('first_deployed'))
        await ctx.registry.create(SECRETS, storage, helm.secret(current), ctx.manager)
        latest = {'name': release_name, 'namespace': storage, 'version': revision, 'status': 'deployed',
                  'chartName': chart.get('chart'), 'chartVersion': chart.get('version'), 'appVersion': chart.get('version'),
                  'configDigest': digest, 'digest': 'sha256:' + hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest(),
                  'action': 'upgrade', 'firstDeployed': current['info']['first_deployed'],
                  'lastDeployed': current['info']['last_deployed']}
        history = [latest] + history[:4]
    status = {'history': history, 'lastAttemptedRevision': chart.get('version'), 'lastAttemptedReleaseAction': 'upgrade',
              'helmChart': '%s/%s-%s' % (source_ns, namespace, meta['name']), 'lastAttemptedConfigDigest': digest,
              'storageNamespace': storage}
    message = 'Helm upgrade succeeded for release %s.v%d with chart %s@%s' % (
        label, latest['version'], chart.get('chart'), chart.get('version'))
    await _set_status(ctx, obj, status, True, 'UpgradeSucceeded', message)


hooks.register_custom('source.toolkit.fluxcd.io', 'HelmRepository', helm_repository)
hooks.register_custom('helm.toolkit.fluxcd.io', 'HelmRelease', helm_release)
hooks.register_custom('source.toolkit.fluxcd.io', 'GitRepository', git_repository)
hooks.register_custom('kustomize.toolkit.fluxcd.io', 'Kustomization', kustomization)
