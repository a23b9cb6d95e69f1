"""The controller stand-ins: small versions of kube-controller-manager's, kube-scheduler's and the
apiextensions server's controllers, run by the API server that holds the leader lease in etcd (a key
with a 5 s lease, so another control plane takes over when the leader's node goes away).

One pass reads what it needs and writes through the registry (the same checks as any client), on every
change in etcd and at least once a second. What each does, and what it leaves out, is in
docs/lab-kube.md: CRDs (NamesAccepted/Established, cleanup on delete), namespaces (deleting the
content of a terminating namespace), node lifecycle (not-ready/unreachable taints and conditions from
the kubelet's Lease, pod CIDRs), Deployments (ReplicaSets by template hash), ReplicaSets, DaemonSets,
Jobs, the scheduler (scheduling.py), garbage collection (owner references, foreground/orphan) and the
custom-resource hooks (hooks.py).
"""
import asyncio
import copy
import datetime
import hashlib
import ipaddress
import json
import logging
import os
import time

from . import catalog, errors, faults as kube_faults, hooks, scheduling, store as stores, volumes

LOG = logging.getLogger('lab.kube')
LEADER_KEY = '/lab/leases/kube-controller-manager'
LEASE_TTL = 5
MANAGER = 'kube-controller-manager'
SCHEDULER = 'kube-scheduler'
HASH_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'
CRD_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io'
OWNER_KINDS = ('ReplicaSet', 'Deployment', 'DaemonSet', 'Job')


def _r(group, kind, plural, namespaced=True):
    return catalog.Resource(group, 'v1', kind, plural, namespaced)


PODS = _r('', 'Pod', 'pods')
NODES = _r('', 'Node', 'nodes', False)
NAMESPACES = _r('', 'Namespace', 'namespaces', False)
CSINODES = _r('storage.k8s.io', 'CSINode', 'csinodes', False)
DEPLOYMENTS = _r('apps', 'Deployment', 'deployments')
REPLICASETS = _r('apps', 'ReplicaSet', 'replicasets')
DAEMONSETS = _r('apps', 'DaemonSet', 'daemonsets')
JOBS = _r('batch', 'Job', 'jobs')
LEASES = _r('coordination.k8s.io', 'Lease', 'leases')
PVCS = _r('', 'PersistentVolumeClaim', 'persistentvolumeclaims')
PVS = _r('', 'PersistentVolume', 'persistentvolumes', False)
STORAGE_CLASSES = _r('storage.k8s.io', 'StorageClass', 'storageclasses', False)
CRDS = catalog.Resource('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', False)
for _resource in (PODS, NODES, NAMESPACES, DEPLOYMENTS, REPLICASETS, DAEMONSETS, JOBS, CRDS):
    _resource.subresources = ['status']


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def stamp(moment=None):
    return (moment or now()).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_time(text):
    for fmt in ('%Y-%m-%dT%H:%M:%S.%fZ', '%Y-%m-%dT%H:%M:%SZ'):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
        except (TypeError, ValueError):
            continue
    return None


def template_hash(template):
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return ''.join(HASH_ALPHABET[b % len(HASH_ALPHABET)] for b in digest[:10])


def owner_ref(obj, kind, api_version):
    return {'apiVersion': api_version, 'kind': kind, 'name': obj['metadata']['name'], 'uid': obj['metadata']['uid'],
            'controller': True, 'blockOwnerDeletion': True}


def owned_by(obj, owner):
    return any(ref.get('uid') == owner['metadata']['uid'] and ref.get('controller')
               for ref in obj['metadata'].get('ownerReferences') or ())


def is_ready(pod):
    return any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in (pod.get('status') or {}).get('conditions') or ())


def active(pod):
    return not pod['metadata'].get('deletionTimestamp') and (pod.get('status') or {}).get('phase') not in ('Succeeded', 'Failed')


def condition(conditions, kind):
    return next((c for c in conditions or () if c.get('type') == kind), None)


def set_condition(conditions, kind, status, reason, message, moment=None, update_time=False):
    """Conditions with ``kind`` set; lastTransitionTime moves only when the status changes."""
    result = [dict(c) for c in conditions or () if c.get('type') != kind]
    previous = condition(conditions, kind)
    entry = {'type': kind, 'status': status, 'reason': reason, 'message': message}
    changed = previous is None or previous.get('status') != status
    entry['lastTransitionTime'] = stamp(moment) if changed else previous.get('lastTransitionTime', stamp(moment))
    if update_time:
        entry['lastUpdateTime'] = stamp(moment) if changed or previous.get('reason') != reason else previous.get('lastUpdateTime', stamp())
    if previous is not None and all(previous.get(k) == v for k, v in entry.items()):
        entry = dict(previous)
    result.append(entry)
    return sorted(result, key=lambda c: c['type'])


class ControllerManager:
    def __init__(self, registry, config):
        self.registry = registry
        self.config = config
        self.state_dir = config.get('state_dir', '')
        self.name = config.get('name', 'apiserver')
        self.grace = float(os.environ.get('LAB_KUBE_NODE_GRACE_SECONDS', '40'))
        self.pod_cidr = ipaddress.ip_network(config.get('pod_cidr', '10.244.0.0/16'))
        self.dirty = asyncio.Event()
        self.leader = False
        self.lease = None
        self.tasks = []
        self.progress = {}  # deployment uid -> (signature, time of last progress)
        self.first_seen = {}  # node uid -> when this controller first saw it without a Lease
        # Pod GC's quarantine before it deletes the pods of a node that is gone (upstream: 40 s).
        self.pod_gc_quarantine = float(os.environ.get('LAB_KUBE_POD_GC_QUARANTINE_SECONDS', '40'))
        self.node_missing_since = {}  # node name -> when pods bound to it were first seen with the node gone

    # ------------------------------------------------------------------ leadership

    async def _elect(self):
        store = self.registry.store
        try:
            if self.lease is not None and not await store.keepalive(self.lease):
                self.lease = None
            if self.lease is None:
                self.lease = await store.grant(LEASE_TTL)
                self.leader = False
            holding = await store.acquire(LEADER_KEY, self.name, self.lease)
        except stores.Unavailable:
            holding = False
        if holding != self.leader:
            LOG.info('controllers: %s the leader lease', 'took' if holding else 'lost')
        self.leader = holding

    async def run(self):
        self.tasks.append(asyncio.ensure_future(self._watch()))
        while True:
            await self._elect()
            if self.leader:
                self.dirty.clear()
                try:
                    await self.reconcile()
                except stores.Unavailable as exc:
                    LOG.info('controllers: %s', exc)
                except Exception:  # pylint: disable=broad-except
                    LOG.exception('controllers: pass failed')
            try:
                await asyncio.wait_for(self.dirty.wait(), 1.0)
                await asyncio.sleep(0.05)  # let a burst of writes settle into one pass
            except asyncio.TimeoutError:
                pass

    async def stop(self):
        for task in self.tasks:
            task.cancel()

    async def _watch(self):
        start = None
        while True:
            try:
                if start is None:
                    start = await self.registry.store.revision() + 1
                async for _kind, key, _obj, _prev, revision in self.registry.store.watch('/registry/', start):
                    start = revision + 1
                    if not key.startswith('/registry/leases/'):
                        self.dirty.set()
            except stores.Unavailable:
                start = None
                await asyncio.sleep(1)

    # ------------------------------------------------------------------ helpers

    async def _list(self, resource, namespace=None):
        items, _rev = await self.registry.store.list(resource.prefix(namespace))
        return [obj for _key, obj, _r in items]

    async def _write(self, action, *args, **kwargs):
        try:
            return await action(*args, **kwargs)
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                LOG.warning('controllers: %s', exc.message)
            self.dirty.set()
        return None

    async def _status(self, resource, obj, status, manager=MANAGER):
        if obj.get('status') == status:
            return None
        new = copy.deepcopy(obj)
        new['status'] = status
        return await self._write(self.registry.update, resource, obj['metadata'].get('namespace'), obj['metadata']['name'], new,
                                 manager, subresource='status')

    async def _update(self, resource, obj, manager=MANAGER):
        return await self._write(self.registry.update, resource, obj['metadata'].get('namespace'), obj['metadata']['name'], obj, manager)

    async def _delete(self, resource, obj, policy='Background'):
        return await self._write(self.registry.delete, resource, obj['metadata'].get('namespace'), obj['metadata']['name'],
                                 {'propagationPolicy': policy, 'gracePeriodSeconds': 0 if resource is not PODS else None,
                                  'preconditions': {'uid': obj['metadata']['uid']}})

    async def _create_pod(self, owner, kind, api_version, template, extra_labels=None, node_name=None, tolerations=None):
        meta = template.get('metadata') or {}
        spec = copy.deepcopy(template.get('spec') or {})
        if node_name:
            spec['nodeName'] = node_name
        if tolerations is not None:
            spec['tolerations'] = tolerations
        body = {'apiVersion': 'v1', 'kind': 'Pod',
                'metadata': {'generateName': owner['metadata']['name'] + '-', 'namespace': owner['metadata']['namespace'],
                             'labels': dict(meta.get('labels') or {}, **(extra_labels or {})),
                             'ownerReferences': [owner_ref(owner, kind, api_version)]},
                'spec': spec}
        if meta.get('annotations'):
            body['metadata']['annotations'] = dict(meta['annotations'])
        return await self._write(self.registry.create, PODS, owner['metadata']['namespace'], body, MANAGER)

    # ------------------------------------------------------------------ one pass

    async def reconcile(self):
        crds = await self._list(CRDS)
        await self.crds(crds)
        namespaces = await self._list(NAMESPACES)
        await self.namespaces(namespaces)
        nodes = await self._list(NODES)
        await self.node_lifecycle(nodes, await self._list(LEASES, 'kube-node-lease'))
        nodes = await self._list(NODES)
        pods = await self._list(PODS)
        deployments, replicasets = await self._list(DEPLOYMENTS), await self._list(REPLICASETS)
        daemonsets, jobs = await self._list(DAEMONSETS), await self._list(JOBS)
        await self.garbage(pods, replicasets, deployments, daemonsets, jobs)
        await self.pod_gc(pods, nodes)
        await self.node_dependents(nodes, await self._list(CSINODES))
        await self.deployments(deployments, replicasets, pods)
        await self.replicasets(replicasets, pods)
        await self.daemonsets(daemonsets, nodes, pods)
        await self.jobs(jobs, pods)
        await self.persistent_volumes(await self._list(PVS), await self._list(PVCS), pods)
        await self.schedule(await self._list(PODS), nodes)
        await self.custom()

    # ------------------------------------------------------------------ CRDs

    async def crds(self, crds):
        for crd in crds:
            meta = crd['metadata']
            if meta.get('deletionTimestamp'):
                if CRD_FINALIZER in (meta.get('finalizers') or ()):
                    await self._crd_cleanup(crd)
                continue
            if CRD_FINALIZER not in (meta.get('finalizers') or ()):
                new = copy.deepcopy(crd)
                new['metadata']['finalizers'] = list(meta.get('finalizers') or ()) + [CRD_FINALIZER]
                await self._update(CRDS, new, 'kube-apiserver')
                continue
            spec = crd.get('spec') or {}
            status = copy.deepcopy(crd.get('status') or {})
            conditions = set_condition(status.get('conditions'), 'NamesAccepted', 'True', 'NoConflicts', 'no conflicts found')
            conditions = set_condition(conditions, 'Established', 'True', 'InitialNamesAccepted', 'the initial names have been accepted')
            names = dict(spec.get('names') or {})
            storage = [v['name'] for v in spec.get('versions') or () if v.get('storage')]
            status.update(conditions=conditions, acceptedNames=names,
                          storedVersions=sorted(set(status.get('storedVersions') or ()) | set(storage)))
            stored = await self._status(CRDS, crd, status, 'kube-apiserver')
            if stored is not None:
                self.registry.crd_event(stored)

    async def _crd_cleanup(self, crd):
        spec = crd.get('spec') or {}
        plural = (spec.get('names') or {}).get('plural', '')
        prefix = '/registry/%s/%s/' % (spec.get('group', ''), plural)
        items, _rev = await self.registry.store.list(prefix)
        for key, _obj, revision in items:
            try:
                await self.registry.store.delete(key, revision)
            except stores.Stale:
                self.dirty.set()
        if not items:
            new = copy.deepcopy(crd)
            new['metadata']['finalizers'] = [f for f in crd['metadata'].get('finalizers') or () if f != CRD_FINALIZER]
            await self._update(CRDS, new, 'kube-apiserver')
        else:
            self.dirty.set()

    # ------------------------------------------------------------------ namespaces

    async def namespaces(self, namespaces):
        for namespace in namespaces:
            if not namespace['metadata'].get('deletionTimestamp'):
                continue
            name = namespace['metadata']['name']
            remaining = 0
            seen = set()
            for resource in self.registry.resources():
                if not resource.namespaced or resource.prefix(name) in seen:
                    continue
                seen.add(resource.prefix(name))
                items, _rev = await self.registry.store.list(resource.prefix(name))
                for _key, obj, _r in items:
                    remaining += 1
                    if not obj['metadata'].get('deletionTimestamp'):
                        await self._write(self.registry.delete, resource, name, obj['metadata']['name'],
                                          {'propagationPolicy': 'Background', 'gracePeriodSeconds': 0})
            if remaining:
                self.dirty.set()
                continue
            new = copy.deepcopy(namespace)
            new.setdefault('spec', {})['finalizers'] = []
            await self._write(self.registry.update, NAMESPACES, None, name, new, 'kube-namespace-controller', subresource='finalize')

    # ------------------------------------------------------------------ nodes

    async def node_lifecycle(self, nodes, leases):
        renewed = {lease['metadata']['name']: parse_time((lease.get('spec') or {}).get('renewTime')) for lease in leases}
        used = {n.get('spec', {}).get('podCIDR') for n in nodes}
        moment = now()
        for node in nodes:
            name = node['metadata']['name']
            spec = node.get('spec') or {}
            status = node.get('status') or {}
            ready = condition(status.get('conditions'), 'Ready') or {}
            # As the node lifecycle controller: a node gets the grace period from when it was first seen, then from its Lease.
            last = renewed.get(name) or self.first_seen.setdefault(node['metadata']['uid'], moment)
            stale = (moment - last).total_seconds() > self.grace
            if stale and ready and ready.get('status') != 'Unknown':
                new_status = copy.deepcopy(status)
                new_status['conditions'] = [dict(c, status='Unknown', reason='NodeStatusUnknown', message='Kubelet stopped posting node status.',
                                                 lastTransitionTime=stamp(moment)) for c in status.get('conditions') or ()]
                await self._status(NODES, node, new_status)
                self.dirty.set()
                continue
            state = ready.get('status')
            lifecycle = ('node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable')
            wanted = [t for t in spec.get('taints') or () if t.get('key') not in lifecycle]
            if state == 'Unknown':
                wanted += [{'key': 'node.kubernetes.io/unreachable', 'effect': 'NoSchedule', 'timeAdded': stamp(moment)},
                           {'key': 'node.kubernetes.io/unreachable', 'effect': 'NoExecute', 'timeAdded': stamp(moment)}]
            elif state != 'True':
                wanted.append({'key': 'node.kubernetes.io/not-ready', 'effect': 'NoSchedule'})
            new = copy.deepcopy(node)
            new_spec = new.setdefault('spec', {})
            if _taint_keys(wanted) != _taint_keys(spec.get('taints')):
                keep = {(t['key'], t['effect']): t for t in spec.get('taints') or ()}
                new_spec['taints'] = [keep.get((t['key'], t['effect']), t) for t in wanted]
                if not new_spec['taints']:
                    new_spec.pop('taints')
            if not new_spec.get('podCIDR'):
                cidr = next((str(s) for s in self.pod_cidr.subnets(new_prefix=24) if str(s) not in used), None)
                if cidr:
                    used.add(cidr)
                    new_spec['podCIDR'], new_spec['podCIDRs'] = cidr, [cidr]
            if new != node:
                await self._update(NODES, new)

    # ------------------------------------------------------------------ garbage collection

    async def garbage(self, pods, replicasets, deployments, daemonsets, jobs):
        """Dependents (pods, ReplicaSets) whose controller owner is gone go; an owner deleted in the foreground
        waits for its dependents, one deleted with orphan propagation lets them go free first."""
        owners = {}
        for resource, objs in ((REPLICASETS, replicasets), (DEPLOYMENTS, deployments), (DAEMONSETS, daemonsets), (JOBS, jobs)):
            for obj in objs:
                owners[obj['metadata']['uid']] = (resource, obj)
        children = {}
        for resource, obj in [(PODS, p) for p in pods] + [(REPLICASETS, r) for r in replicasets]:
            refs = [r for r in obj['metadata'].get('ownerReferences') or () if r.get('kind') in OWNER_KINDS]
            if not refs:
                continue
            live = [owners[r['uid']] for r in refs if r.get('uid') in owners]
            if not live:
                if not obj['metadata'].get('deletionTimestamp'):
                    await self._delete(resource, obj)
                continue
            for _owner_resource, owner in live:
                children.setdefault(owner['metadata']['uid'], []).append(obj)
                owner_meta = owner['metadata']
                if not owner_meta.get('deletionTimestamp'):
                    continue
                if 'foregroundDeletion' in (owner_meta.get('finalizers') or ()) and not obj['metadata'].get('deletionTimestamp'):
                    await self._delete(resource, obj, 'Foreground')
                elif 'orphan' in (owner_meta.get('finalizers') or ()):
                    new = copy.deepcopy(obj)
                    remaining = [r for r in obj['metadata']['ownerReferences'] if r.get('uid') != owner_meta['uid']]
                    if remaining:
                        new['metadata']['ownerReferences'] = remaining
                    else:
                        new['metadata'].pop('ownerReferences')
                    await self._update(resource, new)
        for uid, (resource, owner) in owners.items():
            meta = owner['metadata']
            if not meta.get('deletionTimestamp'):
                continue
            finalizers = [f for f in meta.get('finalizers') or () if f not in ('foregroundDeletion', 'orphan') or children.get(uid)]
            if finalizers != list(meta.get('finalizers') or ()):
                new = copy.deepcopy(owner)
                new['metadata']['finalizers'] = finalizers
                await self._update(resource, new)

    # ------------------------------------------------------------------ workloads

    async def node_dependents(self, nodes, csinodes):
        """The garbage collector for what a Node owns: the kubelet makes each node's CSINode with an owner reference
        to its Node, so deleting the Node deletes the CSINode."""
        uids = {n['metadata']['uid'] for n in nodes}
        for obj in csinodes:
            refs = [r for r in obj['metadata'].get('ownerReferences') or () if r.get('kind') == 'Node']
            if refs and not any(r.get('uid') in uids for r in refs) and not obj['metadata'].get('deletionTimestamp'):
                await self._delete(CSINODES, obj)
                self.dirty.set()

    async def pod_gc(self, pods, nodes):
        """kube-controller-manager's pod garbage collector, for orphaned pods only: a pod bound to a node that no
        longer exists (remove-node.yml deletes the Node; nothing is left to confirm the pod's end) is force-deleted
        once the node has been gone for the quarantine."""
        existing = {n['metadata']['name'] for n in nodes}
        moment = time.monotonic()
        gone = {(p.get('spec') or {}).get('nodeName') for p in pods} - existing - {None}
        self.node_missing_since = {name: self.node_missing_since.get(name, moment) for name in gone}
        for pod in pods:
            name = (pod.get('spec') or {}).get('nodeName')
            if name in gone and moment - self.node_missing_since[name] >= self.pod_gc_quarantine:
                meta = pod['metadata']
                await self._write(self.registry.delete, PODS, meta['namespace'], meta['name'],
                                  {'gracePeriodSeconds': 0, 'preconditions': {'uid': meta['uid']}})
                self.dirty.set()

    async def deployments(self, deployments, replicasets, pods):
        for deployment in deployments:
            meta, spec = deployment['metadata'], deployment.get('spec') or {}
            if meta.get('deletionTimestamp'):
                continue
            template = spec.get('template') or {}
            wanted_hash = template_hash(template)
            replicas = spec.get('replicas', 1)
            owned = [rs for rs in replicasets if owned_by(rs, deployment)]
            current = next((rs for rs in owned if (rs['metadata'].get('labels') or {}).get('pod-template-hash') == wanted_hash), None)
            revisions = [int((rs['metadata'].get('annotations') or {}).get('deployment.kubernetes.io/revision', '0') or 0) for rs in owned]
            if current is None:
                revision = max(revisions, default=0) + 1
                labels = dict((template.get('metadata') or {}).get('labels') or {}, **{'pod-template-hash': wanted_hash})
                selector = copy.deepcopy(spec.get('selector') or {})
                selector.setdefault('matchLabels', {})['pod-template-hash'] = wanted_hash
                rs_template = copy.deepcopy(template)
                rs_template.setdefault('metadata', {})['labels'] = labels
                body = {'apiVersion': 'apps/v1', 'kind': 'ReplicaSet',
                        'metadata': {'name': '%s-%s' % (meta['name'], wanted_hash), 'namespace': meta['namespace'], 'labels': labels,
                                     'annotations': {'deployment.kubernetes.io/revision': str(revision),
                                                     'deployment.kubernetes.io/desired-replicas': str(replicas),
                                                     'deployment.kubernetes.io/max-replicas': str(replicas + 1)},
                                     'ownerReferences': [owner_ref(deployment, 'Deployment', 'apps/v1')]},
                        'spec': {'replicas': replicas, 'selector': selector, 'template': rs_template,
                                 'minReadySeconds': spec.get('minReadySeconds', 0)}}
                await self._write(self.registry.create, REPLICASETS, meta['namespace'], body, MANAGER)
                self.dirty.set()
                continue
            if (current.get('spec') or {}).get('replicas') != replicas:
                new = copy.deepcopy(current)
                new['spec']['replicas'] = replicas
                new['metadata'].setdefault('annotations', {})['deployment.kubernetes.io/desired-replicas'] = str(replicas)
                await self._update(REPLICASETS, new)
            for old in owned:
                if old is not current and (old.get('spec') or {}).get('replicas', 0) != 0:
                    new = copy.deepcopy(old)
                    new['spec']['replicas'] = 0
                    await self._update(REPLICASETS, new)
            await self._deployment_status(deployment, owned, current, pods)

    async def _deployment_status(self, deployment, owned, current, pods):
        spec = deployment.get('spec') or {}
        replicas = spec.get('replicas', 1)
        mine = [p for p in pods if active(p) and any(owned_by(p, rs) for rs in owned)]
        new_pods = [p for p in mine if owned_by(p, current)]
        ready = [p for p in mine if is_ready(p)]
        status = copy.deepcopy(deployment.get('status') or {})
        counts = {'replicas': len(mine), 'updatedReplicas': len(new_pods), 'readyReplicas': len(ready), 'availableReplicas': len(ready)}
        unavailable = max(0, replicas - len(ready))
        for key, value in counts.items():
            if value:
                status[key] = value
            else:
                status.pop(key, None)
        if unavailable:
            status['unavailableReplicas'] = unavailable
        else:
            status.pop('unavailableReplicas', None)
        status['observedGeneration'] = deployment['metadata'].get('generation', 1)
        max_unavailable = _percent((spec.get('strategy') or {}).get('rollingUpdate', {}).get('maxUnavailable', '25%'), replicas)
        available = len(ready) >= replicas - max_unavailable
        conditions = set_condition(status.get('conditions'), 'Available', 'True' if available else 'False',
                                   'MinimumReplicasAvailable' if available else 'MinimumReplicasUnavailable',
                                   'Deployment has minimum availability.' if available else 'Deployment does not have minimum availability.',
                                   update_time=True)
        complete = len(new_pods) == replicas and len(mine) == replicas and len(ready) == replicas
        uid = deployment['metadata']['uid']
        signature = (len(mine), len(new_pods), len(ready), current['metadata']['name'])
        previous = self.progress.get(uid)
        if previous is None or previous[0] != signature:
            self.progress[uid] = (signature, now())
        since = self.progress[uid][1]
        name = current['metadata']['name']
        if complete:
            progressing = ('True', 'NewReplicaSetAvailable', 'ReplicaSet "%s" has successfully progressed.' % name)
        elif (now() - since).total_seconds() > spec.get('progressDeadlineSeconds', 600):
            progressing = ('False', 'ProgressDeadlineExceeded', 'ReplicaSet "%s" has timed out progressing.' % name)
        else:
            progressing = ('True', 'ReplicaSetUpdated', 'ReplicaSet "%s" is progressing.' % name)
        status['conditions'] = set_condition(conditions, 'Progressing', *progressing, update_time=True)
        await self._status(DEPLOYMENTS, deployment, status)

    async def replicasets(self, replicasets, pods):
        for rs in replicasets:
            meta, spec = rs['metadata'], rs.get('spec') or {}
            if meta.get('deletionTimestamp'):
                continue
            mine = [p for p in pods if owned_by(p, rs) and active(p)]
            wanted = spec.get('replicas', 1)
            if len(mine) < wanted:
                for _index in range(wanted - len(mine)):
                    await self._create_pod(rs, 'ReplicaSet', 'apps/v1', spec.get('template') or {})
                self.dirty.set()
            elif len(mine) > wanted:
                # Unscheduled first, then not ready, then the newest: the controller's deletion order.
                ranked = sorted(mine, key=lambda p: (bool((p.get('spec') or {}).get('nodeName')), is_ready(p),
                                                     p['metadata'].get('creationTimestamp', '')), reverse=False)
                for pod in ranked[:len(mine) - wanted]:
                    await self._delete(PODS, pod)
            ready = sum(1 for p in mine if is_ready(p))
            status = {'replicas': len(mine), 'fullyLabeledReplicas': len(mine), 'readyReplicas': ready, 'availableReplicas': ready,
                      'observedGeneration': meta.get('generation', 1)}
            status = {k: v for k, v in status.items() if v or k in ('replicas', 'observedGeneration')}
            await self._status(REPLICASETS, rs, status)

    async def daemonsets(self, daemonsets, nodes, pods):
        for ds in daemonsets:
            meta, spec = ds['metadata'], ds.get('spec') or {}
            if meta.get('deletionTimestamp'):
                continue
            template = spec.get('template') or {}
            pod_spec = template.get('spec') or {}
            wanted_hash = template_hash(template)
            eligible = {n['metadata']['name'] for n in nodes if not n['metadata'].get('deletionTimestamp')
                        and scheduling.daemon_pod_fits(pod_spec, n)}
            mine = [p for p in pods if owned_by(p, ds)]
            by_node = {}
            for pod in mine:
                by_node.setdefault((pod.get('spec') or {}).get('nodeName'), []).append(pod)
            tolerations = list(pod_spec.get('tolerations') or [])
            for extra in scheduling.DAEMONSET_TOLERATIONS + ([scheduling.NETWORK_UNAVAILABLE] if pod_spec.get('hostNetwork') else []):
                if extra not in tolerations:
                    tolerations.append(extra)
            for node_name in sorted(eligible):
                on_node = [p for p in by_node.get(node_name, ()) if not p['metadata'].get('deletionTimestamp')]
                for pod in on_node:
                    if (pod.get('status') or {}).get('phase') == 'Failed' or \
                            (pod['metadata'].get('labels') or {}).get('controller-revision-hash') != wanted_hash:
                        await self._delete(PODS, pod)
                        self.dirty.set()
                current = [p for p in on_node if (p.get('status') or {}).get('phase') != 'Failed' and
                           (p['metadata'].get('labels') or {}).get('controller-revision-hash') == wanted_hash]
                if not on_node:
                    await self._create_pod(ds, 'DaemonSet', 'apps/v1', template, {'controller-revision-hash': wanted_hash},
                                           node_name=node_name, tolerations=tolerations)
                    self.dirty.set()
                for extra in current[1:]:
                    await self._delete(PODS, extra)
            for node_name, on_node in by_node.items():
                if node_name not in eligible:
                    for pod in on_node:
                        if not pod['metadata'].get('deletionTimestamp'):
                            await self._delete(PODS, pod)
            live = [p for p in mine if active(p) and (p.get('spec') or {}).get('nodeName') in eligible]
            scheduled = {(p.get('spec') or {}).get('nodeName') for p in live}
            ready = {(p.get('spec') or {}).get('nodeName') for p in live if is_ready(p)}
            updated = {(p.get('spec') or {}).get('nodeName') for p in live
                       if (p['metadata'].get('labels') or {}).get('controller-revision-hash') == wanted_hash}
            misscheduled = {(p.get('spec') or {}).get('nodeName') for p in mine if active(p)} - eligible
            status = {'desiredNumberScheduled': len(eligible), 'currentNumberScheduled': len(scheduled),
                      'numberMisscheduled': len(misscheduled), 'numberReady': len(ready), 'numberAvailable': len(ready),
                      'updatedNumberScheduled': len(updated), 'observedGeneration': meta.get('generation', 1)}
            if len(eligible) - len(ready):
                status['numberUnavailable'] = len(eligible) - len(ready)
            if not status['numberAvailable']:
                status.pop('numberAvailable')
            await self._status(DAEMONSETS, ds, status)

    async def jobs(self, jobs, pods):
        for job in jobs:
            meta, spec = job['metadata'], job.get('spec') or {}
            if meta.get('deletionTimestamp'):
                continue
            status = copy.deepcopy(job.get('status') or {})
            mine = [p for p in pods if owned_by(p, job)]
            running = [p for p in mine if active(p)]
            conditions = status.get('conditions') or []
            finished = any(c.get('type') in ('Complete', 'Failed') and c.get('status') == 'True' for c in conditions)
            if finished:
                for pod in running:
                    await self._delete(PODS, pod)
                await self._ttl(job, status)
                continue
            if spec.get('suspend'):
                continue
            succeeded = sum(1 for p in mine if (p.get('status') or {}).get('phase') == 'Succeeded')
            failed = sum(1 for p in mine if (p.get('status') or {}).get('phase') == 'Failed')
            restarts = sum(int(c.get('restartCount') or 0) for p in running for c in (p.get('status') or {}).get('containerStatuses') or ())
            if ((spec.get('template') or {}).get('spec') or {}).get('restartPolicy') != 'OnFailure':
                restarts = 0
            completions = spec.get('completions', 1)
            moment = now()
            status.setdefault('startTime', stamp(moment))
            started = parse_time(status['startTime']) or moment
            deadline = spec.get('activeDeadlineSeconds')
            if succeeded >= completions:
                conditions = set_condition(conditions, 'SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods')
                conditions = set_condition(conditions, 'Complete', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods')
                status['completionTime'] = stamp(moment)
            elif failed + restarts > spec.get('backoffLimit', 6):
                conditions = set_condition(conditions, 'FailureTarget', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')
                conditions = set_condition(conditions, 'Failed', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')
            elif deadline and (moment - started).total_seconds() > deadline:
                conditions = set_condition(conditions, 'FailureTarget', 'True', 'DeadlineExceeded', 'Job was active longer than specified deadline')
                conditions = set_condition(conditions, 'Failed', 'True', 'DeadlineExceeded', 'Job was active longer than specified deadline')
            else:
                wanted = min(spec.get('parallelism', 1), completions - succeeded) - len(running)
                for _index in range(max(0, wanted)):
                    await self._create_pod(job, 'Job', 'batch/v1', spec.get('template') or {})
                if wanted > 0:
                    self.dirty.set()
            done = any(c['type'] in ('Complete', 'Failed') for c in conditions)
            status.update({'active': 0 if done else len(running), 'ready': 0 if done else sum(1 for p in running if is_ready(p)),
                           'succeeded': succeeded, 'failed': failed + (restarts if done else 0), 'terminating': 0,
                           'uncountedTerminatedPods': {}})
            for key in ('active', 'succeeded', 'failed'):
                if not status[key]:
                    status.pop(key)
            if conditions:
                status['conditions'] = conditions
            await self._status(JOBS, job, status)

    async def _ttl(self, job, status):
        ttl = (job.get('spec') or {}).get('ttlSecondsAfterFinished')
        finished = parse_time(status.get('completionTime')) or parse_time(next(
            (c.get('lastTransitionTime') for c in status.get('conditions') or () if c.get('type') == 'Failed'), None))
        if ttl is not None and finished is not None and (now() - finished).total_seconds() >= ttl:
            await self._delete(JOBS, job)

    # ------------------------------------------------------------------ persistent volumes

    async def persistent_volumes(self, pvs, pvcs, pods):
        """kube-controller-manager's PV binder for volumes that name their claim (what a provisioner writes): bind the
        claim to it, keep both phases, and mark a volume whose claim is gone Released (its provisioner reclaims it).
        Then its protection controllers: a deleted claim goes once no pod uses it, a deleted volume once it is unbound."""
        claims = {(c['metadata']['namespace'], c['metadata']['name']): c for c in pvcs}
        in_use = {(p['metadata']['namespace'], name) for p in pods if (p.get('status') or {}).get('phase') not in ('Succeeded', 'Failed')
                  for name in volumes.claim_names(p.get('spec') or {})}
        for claim in pvcs:
            key = (claim['metadata']['namespace'], claim['metadata']['name'])
            if claim['metadata'].get('deletionTimestamp') and key not in in_use:
                await self._unprotect(PVCS, claim, 'kubernetes.io/pvc-protection')
        for pv in pvs:
            if pv['metadata'].get('deletionTimestamp') and (pv.get('status') or {}).get('phase') != 'Bound':
                await self._unprotect(PVS, pv, 'kubernetes.io/pv-protection')
                continue
            ref = (pv.get('spec') or {}).get('claimRef')
            claim = claims.get((ref.get('namespace'), ref.get('name'))) if ref else None
            if claim is not None and ref.get('uid') not in (None, claim['metadata']['uid']):
                claim = None
            if not ref:
                phase = 'Available'
            elif claim is None:
                phase = 'Released'
            else:
                phase = await self._bind_claim(claim, pv)
            if phase and (pv.get('status') or {}).get('phase') != phase:
                await self._status(PVS, pv, dict(pv.get('status') or {}, phase=phase), MANAGER)

    async def _unprotect(self, resource, obj, finalizer):
        if finalizer in (obj['metadata'].get('finalizers') or ()):
            new = copy.deepcopy(obj)
            new['metadata']['finalizers'] = [f for f in obj['metadata']['finalizers'] if f != finalizer]
            await self._update(resource, new)

    async def _bind_claim(self, claim, pv):
        name = pv['metadata']['name']
        bound_to = (claim.get('spec') or {}).get('volumeName')
        if bound_to and bound_to != name:
            return None  # the claim went to another volume: this one is not ours to settle here
        if not bound_to:
            new = copy.deepcopy(claim)
            new['spec']['volumeName'] = name
            new['metadata'].setdefault('annotations', {})['pv.kubernetes.io/bind-completed'] = 'yes'
            claim = await self._write(self.registry.update, PVCS, claim['metadata']['namespace'], claim['metadata']['name'], new,
                                      MANAGER)
            if claim is None:
                return None
        spec = pv.get('spec') or {}
        await self._status(PVCS, claim, dict(claim.get('status') or {}, phase='Bound', accessModes=list(spec.get('accessModes') or ()),
                                             capacity=dict(spec.get('capacity') or {})), MANAGER)
        return 'Bound'

    # ------------------------------------------------------------------ scheduler

    async def schedule(self, pods, nodes):
        faults = kube_faults.read(self.state_dir) if self.state_dir else []
        live_nodes = [n for n in nodes if not n['metadata'].get('deletionTimestamp')]
        load = {}
        for pod in pods:
            node_name = (pod.get('spec') or {}).get('nodeName')
            if node_name and active(pod):
                load[node_name] = load.get(node_name, 0) + 1
        storage = None
        for pod in pods:
            spec = pod.get('spec') or {}
            if spec.get('nodeName') or not active(pod) or spec.get('schedulerName', 'default-scheduler') != 'default-scheduler':
                continue
            starved = kube_faults.mode_for(pod, faults) == 'pending'
            needs = None
            if volumes.claim_names(spec):
                if storage is None:
                    storage = await self._storage_objects()
                needs = volumes.needs(pod, *storage)
            chosen, message = scheduling.choose(spec, live_nodes, load, starved, needs)
            if chosen and needs is not None and needs.waiting:
                # WaitForFirstConsumer: the claims learn the node, the pod waits until they are bound.
                await self._select_node(needs.waiting, chosen)
                continue
            if chosen:
                new = copy.deepcopy(pod)
                new['spec']['nodeName'] = chosen
                if await self._write(self.registry.update, PODS, pod['metadata']['namespace'], pod['metadata']['name'], new, SCHEDULER):
                    load[chosen] = load.get(chosen, 0) + 1
                continue
            status = copy.deepcopy(pod.get('status') or {})
            previous = condition(status.get('conditions'), 'PodScheduled')
            if previous and previous.get('message') == message:
                continue
            status['conditions'] = [c for c in status.get('conditions') or () if c.get('type') != 'PodScheduled'] + [
                {'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable', 'message': message, 'lastProbeTime': None,
                 'lastTransitionTime': stamp()}]
            status['phase'] = 'Pending'
            await self._status(PODS, pod, status, SCHEDULER)

    async def _storage_objects(self):
        """(claims by (namespace, name), volumes by name, classes by name) for the VolumeBinding filter."""
        claims = {(c['metadata']['namespace'], c['metadata']['name']): c for c in await self._list(PVCS)}
        pvs = {v['metadata']['name']: v for v in await self._list(PVS)}
        classes = {c['metadata']['name']: c for c in await self._list(STORAGE_CLASSES)}
        return claims, pvs, classes

    async def _select_node(self, claims, node_name):
        for claim in claims:
            annotations = claim['metadata'].get('annotations') or {}
            if annotations.get(volumes.SELECTED_NODE) == node_name:
                continue
            new = copy.deepcopy(claim)
            new['metadata'].setdefault('annotations', {})[volumes.SELECTED_NODE] = node_name
            await self._write(self.registry.update, PVCS, claim['metadata']['namespace'], claim['metadata']['name'], new, SCHEDULER)

    # ------------------------------------------------------------------ custom resources

    async def custom(self):
        controllers = hooks.custom_controllers()
        if not controllers:
            return
        context = hooks.CustomContext(self.registry, MANAGER)
        try:
            await self._custom(controllers, context)
        finally:
            for sweep in hooks.sweeps():
                try:
                    await sweep(context)
                except errors.ApiError as exc:
                    LOG.warning('sweep %s: %s', sweep.__name__, exc.message)

    async def _custom(self, controllers, context):
        for resource in self.registry.custom_resources():
            reconcile = controllers.get((resource.group, resource.kind))
            if reconcile is None or resource.version != _storage_version(resource):
                continue
            items, _rev = await self.registry.store.list(resource.prefix())
            for _key, obj, _r in items:
                try:
                    await reconcile(context, self.registry._out(resource, obj))  # pylint: disable=protected-access
                except errors.ApiError as exc:
                    LOG.warning('custom controller %s: %s', resource.kind, exc.message)


def _storage_version(resource):
    return next((v['name'] for v in resource.crd['spec']['versions'] if v.get('storage')), resource.version)


def _taint_keys(taints):
    return sorted((t.get('key'), t.get('effect'), t.get('value')) for t in taints or ())


def _percent(value, total):
    if isinstance(value, str) and value.endswith('%'):
        return int(total * int(value[:-1]) / 100)
    return int(value or 0)
