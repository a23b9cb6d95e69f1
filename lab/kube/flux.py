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
  namespace) in ``spec.storageNamespace`` (default: its namespace) is looked up in Helm's storage (helm.py).
  **The charts of charts.py** (the Hetzner and Proxmox CSI charts, Sealed Secrets) are installed: their objects rendered from the
  chart's defaults and the HelmRelease's values, created in the target namespace, the release recorded
  (``InstallSucceeded``), re-rendered when the chart version or values change (``UpgradeSucceeded``, objects no
  longer rendered deleted), and uninstalled - objects and release records deleted - once the HelmRelease is gone.
  A chart's CRDs (``crds/``) are created when missing and otherwise left alone, as Helm does. For any other chart,
  no release is ``Ready=False`` (``InstallFailed``): **the lab installs no other chart**; a release of another chart is
  ``UpgradeFailed``; otherwise, as helm-controller does with a release it did not make or whose chart version or
  values differ from the HelmRelease's, it is upgraded: a new revision is recorded (the old one superseded),
  ``status.history`` names it and ``Ready=True`` (``UpgradeSucceeded``). **Nothing the chart renders changes**
  (the Cilium DaemonSet keeps its image when the version changes).
"""
import copy
import datetime
import hashlib
import json

from . import catalog, charts, errors, helm, hooks

CONTROLLERS = {'GitRepository': 'source-controller', 'Kustomization': 'kustomize-controller',
               'HelmRepository': 'source-controller', 'HelmRelease': 'helm-controller'}
FLUX_NAMESPACE = 'flux-system'
DEPLOYMENTS = catalog.Resource('apps', 'v1', 'Deployment', 'deployments', True)
SECRETS = catalog.Resource('', 'v1', 'Secret', 'secrets', True)
HELM_MANAGER = 'helm-controller'


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
    text = 'Unknown' if ready is None else ('True' if ready else 'False')
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
    target_ns = target or namespace
    if not deployed:
        rendered = charts.render(chart.get('chart'), release_name, target_ns, chart.get('version'), spec.get('values'))
        if rendered is None:
            await _set_status(ctx, obj, {}, False, 'InstallFailed', 'Helm install failed for release %s with chart %s@%s: the lab '
                              'installs no chart of that name' % (label, chart.get('chart'), chart.get('version')))
            return
        revision = (records[-1]['version'] + 1) if records else 1
        refs = await _apply_rendered(ctx, rendered, [])
        current = helm.record(release_name, storage, chart.get('chart'), chart.get('version'), spec.get('values') or {}, revision,
                              'Install complete')
        current['labRendered'] = refs
        await ctx.registry.create(SECRETS, storage, helm.secret(current), ctx.manager)
        digest = _config_digest(spec.get('values'))
        latest = _history_entry(current, storage, chart, digest, 'install')
        status = {'history': [latest], 'lastAttemptedRevision': chart.get('version'), 'lastAttemptedReleaseAction': 'install',
                  'helmChart': '%s/%s-%s' % (source_ns, namespace, meta['name']), 'lastAttemptedConfigDigest': digest,
                  'storageNamespace': storage}
        await _report(ctx, obj, status, current, label, chart, 'install')
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
        previous = current.get('labRendered')
        rendered = charts.render(chart.get('chart'), release_name, target_ns, chart.get('version'), spec.get('values'))
        current = helm.record(release_name, storage, chart.get('chart'), chart.get('version'), spec.get('values') or {}, revision,
                              'Upgrade complete', first_deployed=current['info'].get('first_deployed'))
        if previous is not None and rendered is not None:  # a release the lab rendered: render it again
            current['labRendered'] = await _apply_rendered(ctx, rendered, previous)
        await ctx.registry.create(SECRETS, storage, helm.secret(current), ctx.manager)
        latest = _history_entry(current, storage, chart, digest, 'upgrade')
        history = [latest] + history[:4]
    status = {'history': history, 'lastAttemptedRevision': chart.get('version'), 'lastAttemptedReleaseAction': 'upgrade',
              'helmChart': '%s/%s-%s' % (source_ns, namespace, meta['name']), 'lastAttemptedConfigDigest': digest,
              'storageNamespace': storage}
    if current.get('labRendered') is not None:
        await _report(ctx, obj, status, current, label, chart, latest.get('action', 'upgrade'))
        return
    message = 'Helm upgrade succeeded for release %s.v%d with chart %s@%s' % (
        label, latest['version'], chart.get('chart'), chart.get('version'))
    await _set_status(ctx, obj, status, True, 'UpgradeSucceeded', message)


def _timeout_seconds(text):
    total, number = 0.0, ''
    for char in str(text or '5m0s'):
        if char.isdigit() or char == '.':
            number += char
        else:
            total += float(number or 0) * {'h': 3600, 'm': 60, 's': 1}.get(char, 0)
            number = ''
    return total or 300.0


async def _not_ready(ctx, refs):
    """The first rendered Deployment or DaemonSet that is not ready yet, as kstatus names it; None when all are."""
    for api_version, kind, namespace, name in refs:
        if kind not in ('Deployment', 'DaemonSet'):
            continue
        obj = await _get(ctx.registry, ctx.registry.resource_for(api_version, kind), namespace, name)
        status, spec = (obj or {}).get('status') or {}, (obj or {}).get('spec') or {}
        if kind == 'Deployment':
            ready = (status.get('availableReplicas') or 0) >= spec.get('replicas', 1) and (status.get('updatedReplicas') or 0) >= spec.get('replicas', 1)
        else:
            ready = (status.get('numberReady') or 0) >= (status.get('desiredNumberScheduled') or 0) and 'desiredNumberScheduled' in status
        if obj is None or not ready:
            return '%s/%s/%s' % (kind, namespace, name)
    return None


async def _report(ctx, obj, status, current, label, chart, action):
    """helm-controller's wait (on by default): Ready once the rendered workloads are, Progressing until then, failed
    after spec.timeout (5m0s) from the last deploy."""
    verb = 'install' if action == 'install' else 'upgrade'
    ready = next((c for c in (obj.get('status') or {}).get('conditions') or () if c.get('type') == 'Ready'), {})
    history = (obj.get('status') or {}).get('history') or [{}]
    if ready.get('status') == 'True' and history[0].get('version') == current['version']:
        return  # Helm's wait is over for this revision: later restarts of its pods do not undo the release
    pending = await _not_ready(ctx, current.get('labRendered') or [])
    if pending is None:
        await _set_status(ctx, obj, status, True, '%sSucceeded' % verb.capitalize(), 'Helm %s succeeded for release %s.v%d with chart %s@%s'
                          % (verb, label, current['version'], chart.get('chart'), chart.get('version')))
        return
    timeout = _timeout_seconds((obj.get('spec') or {}).get('timeout'))
    deployed = datetime.datetime.strptime(current['info']['last_deployed'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    if (datetime.datetime.now(datetime.timezone.utc) - deployed).total_seconds() < timeout:
        await _set_status(ctx, obj, status, None, 'Progressing', "Running '%s' action with timeout of %s"
                          % (verb, (obj.get('spec') or {}).get('timeout') or '5m0s'))
        return
    await _set_status(ctx, obj, status, False, '%sFailed' % verb.capitalize(), 'Helm %s failed for release %s with chart %s@%s: '
                      'context deadline exceeded: resource %s not ready' % (verb, label, chart.get('chart'), chart.get('version'), pending))


def _history_entry(current, storage, chart, digest, action):
    return {'name': current['name'], 'namespace': storage, 'version': current['version'], 'status': 'deployed',
            'chartName': chart.get('chart'), 'chartVersion': chart.get('version'), 'appVersion': chart.get('version'),
            'configDigest': digest, 'digest': 'sha256:' + hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest(),
            'action': action, 'firstDeployed': current['info']['first_deployed'], 'lastDeployed': current['info']['last_deployed']}


def _ref(obj):
    meta = obj['metadata']
    return [obj['apiVersion'], obj['kind'], meta.get('namespace'), meta['name']]


async def _apply_rendered(ctx, rendered, previous):
    """Create or replace each rendered object (Helm's three-way merge is beyond the lab: the chart's copy wins), delete
    the ones the last revision rendered and this one does not; the references of what is there now."""
    refs = []
    for obj in rendered:
        resource = ctx.registry.resource_for(obj['apiVersion'], obj['kind'])
        if resource is None:
            continue
        namespace = obj['metadata'].get('namespace') if resource.namespaced else None
        existing = await _get(ctx.registry, resource, namespace, obj['metadata']['name'])
        if obj['kind'] == 'CustomResourceDefinition':
            # A chart's crds/: Helm creates them when missing and never updates or deletes them (not part of the release).
            if existing is None:
                await ctx.registry.create(resource, None, obj, HELM_MANAGER)
            continue
        if existing is None:
            await ctx.registry.create(resource, namespace, obj, HELM_MANAGER)
        else:
            body = copy.deepcopy(obj)
            body['metadata']['resourceVersion'] = existing['metadata']['resourceVersion']
            if 'status' in existing:
                body['status'] = existing['status']
            await ctx.registry.update(resource, namespace, obj['metadata']['name'], body, HELM_MANAGER)
        refs.append(_ref(obj))
    for ref in previous or ():
        if ref not in refs:
            await _delete_ref(ctx, ref)
    return refs


async def _delete_ref(ctx, ref):
    api_version, kind, namespace, name = ref
    resource = ctx.registry.resource_for(api_version, kind)
    if resource is None:
        return
    try:
        await ctx.registry.delete(resource, namespace if resource.namespaced else None, name)
    except errors.ApiError as exc:
        if exc.code != 404:
            raise


async def uninstall_orphans(ctx):
    """helm-controller's uninstall when a HelmRelease is deleted: for each release the lab rendered whose HelmRelease
    is gone, delete what it rendered and its release records."""
    releases = ctx.registry.resource_for('helm.toolkit.fluxcd.io/v2', 'HelmRelease')
    if releases is None:
        return
    wanted = set()
    for item in (await ctx.registry.list(releases))['items']:
        spec, meta = item.get('spec') or {}, item['metadata']
        target = spec.get('targetNamespace')
        wanted.add((spec.get('storageNamespace') or meta.get('namespace'),
                    spec.get('releaseName') or ('%s-%s' % (target, meta['name']) if target else meta['name'])))
    stored = (await ctx.registry.list(SECRETS, None, 'owner=helm'))['items']
    by_release = {}
    for secret in stored:
        if secret.get('type') == helm.TYPE:
            record = helm.read(secret)
            by_release.setdefault((secret['metadata']['namespace'], record['name']), []).append((record, secret))
    for (storage, name), entries in by_release.items():
        newest = max(entries, key=lambda entry: entry[0]['version'])[0]
        if (storage, name) in wanted or newest.get('labRendered') is None:
            continue
        for ref in newest['labRendered']:
            await _delete_ref(ctx, ref)
        for _record, secret in entries:
            await _delete_ref(ctx, ['v1', 'Secret', storage, secret['metadata']['name']])


hooks.register_custom('source.toolkit.fluxcd.io', 'HelmRepository', helm_repository)
hooks.register_custom('helm.toolkit.fluxcd.io', 'HelmRelease', helm_release)
hooks.register_custom('source.toolkit.fluxcd.io', 'GitRepository', git_repository)
hooks.register_custom('kustomize.toolkit.fluxcd.io', 'Kustomization', kustomization)
hooks.register_sweep(uninstall_orphans)
