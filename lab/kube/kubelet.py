"""The kubelet stand-in of one node, in the node's process and network namespace, talking to the API
over the network with the node's client certificate (CN ``system:node:<name>``, O ``system:nodes``).

* **Registration**: the Node object as a Talos node's kubelet registers it: InternalIP and Hostname
  addresses, labels (Talos' own: ``kubernetes.io/hostname``, ``kubernetes.io/os``, ``kubernetes.io/arch``,
  ``node-role.kubernetes.io/control-plane`` and ``node.kubernetes.io/exclude-from-external-load-balancers``
  on control planes, plus ``machine.nodeLabels``, kept in step with the config), taints (the
  control-plane taint unless ``cluster.allowSchedulingOnControlPlanes``, plus ``machine.nodeTaints``),
  capacity and node info. The Lease is renewed every 10 s, the status posted when it changes (and every minute).
* **Ready**: ``Ready=False`` (``KubeletNotReady``, "container runtime network not ready:
  NetworkReady=false reason:NetworkPluginNotReady …") until a CNI runs on the node, which in the lab means
  a Running, Ready pod on this node of the DaemonSet ``kube-system/cilium`` (label ``k8s-app=cilium``) or
  of a flannel DaemonSet (``k8s-app=flannel``).
* **Pods** bound to the node: pods that need the pod network wait in ``ContainerCreating`` until the CNI
  runs; otherwise their containers start (Running, Ready) or, for Jobs and hooks, run to an exit code
  (hooks.py); failures restart with ``CrashLoopBackOff`` per the restart policy; a deleted pod's
  containers stop and the kubelet removes the pod. Workload faults (faults.py) apply here.
"""
import asyncio
import datetime
import ipaddress
import logging
import os

from . import faults as kube_faults, hooks
from .client import ApiStatus, ApiUnreachable, Client

LOG = logging.getLogger('lab.kube')
# As the kubelet: the Lease every 10 s (a quarter of the node grace period when the lab shortens it), the
# Node status when it changes and at least every minute (nodeStatusReportFrequency is 5 min).
GRACE_SECONDS = float(os.environ.get('LAB_KUBE_NODE_GRACE_SECONDS', '40'))
LEASE_SECONDS = min(10.0, GRACE_SECONDS / 4)
REPORT_SECONDS = 60.0
BACKOFF_SECONDS = 1.0
CNI_LABELS = (('k8s-app', 'cilium'), ('k8s-app', 'flannel'), ('app', 'flannel'))
NOT_READY_MESSAGE = ('container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin '
                     'returns error: cni plugin not initialized')


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def micro_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def node_labels(name, controlplane, config):
    labels = {'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
              'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64'}
    if controlplane:
        labels['node-role.kubernetes.io/control-plane'] = ''
        labels['node.kubernetes.io/exclude-from-external-load-balancers'] = ''
    labels.update({k: str(v) for k, v in ((config.get('machine') or {}).get('nodeLabels') or {}).items()})
    return labels


def node_taints(controlplane, config):
    taints = []
    if controlplane and not (config.get('cluster') or {}).get('allowSchedulingOnControlPlanes'):
        taints.append({'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'})
    for key, value in ((config.get('machine') or {}).get('nodeTaints') or {}).items():
        text, _sep, effect = str(value).rpartition(':')
        taints.append(dict({'key': key, 'effect': effect or 'NoSchedule'}, **({'value': text} if text else {})))
    return taints


def is_cni_pod(pod):
    labels = (pod.get('metadata') or {}).get('labels') or {}
    owner = next((o for o in (pod.get('metadata') or {}).get('ownerReferences') or () if o.get('kind') == 'DaemonSet'), None)
    return owner is not None and any(labels.get(k) == v for k, v in CNI_LABELS)


def _pod_ready(pod):
    return any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in (pod.get('status') or {}).get('conditions') or ())


class Container:
    """One container's life as the runtime would keep it: new -> running -> exited (-> backoff -> running ...)."""

    def __init__(self):
        self.phase, self.code, self.restarts = 'new', None, 0
        self.task, self.started, self.finished, self.next_start, self.last = None, None, None, 0.0, None
        self.context, self.message = None, None


class PodState:
    def __init__(self):
        self.containers = {}

    def container(self, name):
        return self.containers.setdefault(name, Container())

    def cancel(self):
        for container in self.containers.values():
            if container.task is not None:
                container.task.cancel()


class Kubelet:
    def __init__(self, view, client, state_dir, log=None):
        self.view = view  # name, address, controlplane, config (v1alpha1 dict), talos_version, kube_version
        self.client = client
        self.state_dir = state_dir
        self.pods = {}  # uid -> Containers
        self.last_status = self.last_lease = 0.0
        self.last_report = None
        self.registered = False
        self.cni_ready = False
        self.ip_counter = 1
        self.wake = asyncio.Event()
        self.record = log or (lambda text: LOG.info('%s', text))
        self.started_version = view.kube_version  # the kubelet-notready fault compares with it
        self.last_version = None

    # ------------------------------------------------------------------ node object

    def _node_status(self, ready):
        info = {'machineID': self.view.machine_id, 'systemUUID': self.view.machine_id, 'bootID': self.view.boot_id,
                'kernelVersion': '6.12.18-talos', 'osImage': 'Talos (%s)' % self.view.talos_version,
                'containerRuntimeVersion': 'containerd://2.0.3', 'kubeletVersion': 'v' + self.view.kube_version,
                'kubeProxyVersion': 'v' + self.view.kube_version, 'operatingSystem': 'linux', 'architecture': 'amd64'}
        stamp = now()
        conditions = [dict(type=kind, status='False', reason=reason, message=message, lastHeartbeatTime=stamp,
                           lastTransitionTime=self.view.booted)
                      for kind, reason, message in (('MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
                                                    ('DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
                                                    ('PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'))]
        conditions.append({'type': 'Ready', 'status': 'True' if ready else 'False',
                           'reason': 'KubeletReady' if ready else 'KubeletNotReady',
                           'message': 'kubelet is posting ready status' if ready else NOT_READY_MESSAGE,
                           'lastHeartbeatTime': stamp, 'lastTransitionTime': self.ready_since})
        resources = {'cpu': '2', 'memory': '4014836Ki', 'pods': '110', 'ephemeral-storage': '20470Mi'}
        return {'addresses': [{'type': 'InternalIP', 'address': self.view.address}, {'type': 'Hostname', 'address': self.view.name}],
                'capacity': dict(resources), 'allocatable': dict(resources, memory='3888860Ki'),
                'conditions': conditions, 'daemonEndpoints': {'kubeletEndpoint': {'Port': 10250}}, 'nodeInfo': info}

    async def register(self):
        config = self.view.config
        labels = node_labels(self.view.name, self.view.controlplane, config)
        taints = node_taints(self.view.controlplane, config)
        path = '/api/v1/nodes/' + self.view.name
        try:
            current = await self.client.request('GET', path)
        except ApiStatus as exc:
            if exc.code != 404:
                raise
            body = {'apiVersion': 'v1', 'kind': 'Node',
                    'metadata': {'name': self.view.name, 'labels': labels,
                                 'annotations': {'volumes.kubernetes.io/controller-managed-attach-detach': 'true'}},
                    'spec': {'taints': taints} if taints else {}}
            await self.client.request('POST', '/api/v1/nodes?fieldManager=kubelet', body)
            self.ready_since = now()
            self.record('registered node %s' % self.view.name)
            self.registered = True
            await self.post_status(force=True)
            return
        self.registered = True
        if not hasattr(self, 'ready_since'):
            ready = next((c for c in (current.get('status') or {}).get('conditions') or () if c.get('type') == 'Ready'), {})
            self.ready_since = ready.get('lastTransitionTime') or now()
        # Talos keeps machine.nodeLabels on the node object: labels it no longer lists stay (it only adds/updates).
        have = (current.get('metadata') or {}).get('labels') or {}
        changed = {k: v for k, v in labels.items() if have.get(k) != v}
        if changed:
            await self.client.request('PATCH', path + '?fieldManager=talos', {'metadata': {'labels': changed}},
                                      'application/merge-patch+json')

    async def post_status(self, force=False, node=None):
        """The Lease first (the node lifecycle controller judges by it), then the status when it changed here or the
        server's copy says otherwise (the node controller marked it Unknown), and at least every minute."""
        loop = asyncio.get_running_loop()
        if force or loop.time() - self.last_lease >= LEASE_SECONDS:
            await self._renew_lease()
            self.last_lease = loop.time()
        ready = next((c for c in ((node or {}).get('status') or {}).get('conditions') or () if c.get('type') == 'Ready'), {})
        drifted = node is not None and ready.get('status') != ('True' if self.cni_ready else 'False')
        # A new kubelet image (machine.kubelet.image) restarts the kubelet on Talos, which reports its version at once.
        moved = self.last_version != self.view.kube_version
        if force or drifted or moved or self.last_report != self.cni_ready or loop.time() - self.last_status >= REPORT_SECONDS:
            self.last_version = self.view.kube_version
            status = self._node_status(self.cni_ready)
            await self.client.request('PATCH', '/api/v1/nodes/%s/status?fieldManager=kubelet' % self.view.name, {'status': status},
                                      'application/strategic-merge-patch+json')
            self.last_status, self.last_report = loop.time(), self.cni_ready

    async def _renew_lease(self):
        path = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/' + self.view.name
        body = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                'metadata': {'name': self.view.name, 'namespace': 'kube-node-lease'},
                'spec': {'holderIdentity': self.view.name, 'leaseDurationSeconds': 40, 'renewTime': micro_now()}}
        await self.client.request('PATCH', path + '?fieldManager=kubelet&force=true', body, 'application/apply-patch+yaml')

    # ------------------------------------------------------------------ pods

    async def my_pods(self):
        listing = await self.client.request('GET', '/api/v1/pods', params={'fieldSelector': 'spec.nodeName=%s' % self.view.name})
        return listing.get('items') or []

    def _pod_ip(self, pod, node):
        if (pod.get('spec') or {}).get('hostNetwork'):
            return self.view.address
        cidr = (node.get('spec') or {}).get('podCIDR')
        if not cidr:
            return None
        self.ip_counter += 1
        return str(ipaddress.ip_network(cidr).network_address + 1 + (self.ip_counter % 250))

    async def sync_pods(self, node):
        pods = await self.my_pods()
        faults = kube_faults.read(self.state_dir)
        self.cni_ready = any(is_cni_pod(p) and (p.get('status') or {}).get('phase') == 'Running' and _pod_ready(p) for p in pods)
        if kube_faults.node_mode(self.view.name, faults) == 'kubelet-notready' and self.view.kube_version != self.started_version:
            self.cni_ready = False  # the fault: this kubelet does not come back healthy at its new version
        alive = set()
        for pod in pods:
            uid = pod['metadata']['uid']
            alive.add(uid)
            try:
                await self._sync_pod(pod, node, faults)
            except ApiStatus as exc:
                if exc.code not in (404, 409):
                    raise
        for uid in set(self.pods) - alive:
            self.pods.pop(uid).cancel()

    async def _sync_pod(self, pod, node, faults):
        meta, spec = pod['metadata'], pod.get('spec') or {}
        state = self.pods.setdefault(meta['uid'], PodState())
        if meta.get('deletionTimestamp'):
            state.cancel()
            await self.client.request('DELETE', Client.path('v1', 'pods', meta['namespace'], meta['name']),
                                      {'kind': 'DeleteOptions', 'apiVersion': 'v1', 'gracePeriodSeconds': 0,
                                       'preconditions': {'uid': meta['uid']}})
            self.pods.pop(meta['uid'], None)
            return
        if (pod.get('status') or {}).get('phase') in ('Succeeded', 'Failed'):
            return
        containers = spec.get('containers') or []
        if not spec.get('hostNetwork') and not self.cni_ready:
            waiting = [self._container_status(c, {'waiting': {'reason': 'ContainerCreating'}}, False, 0) for c in containers]
            await self._put_status(pod, 'Pending', waiting, None, False, node, network=False)
            return
        fault = kube_faults.mode_for(pod, faults)
        policy = spec.get('restartPolicy', 'Always')
        statuses, done = [], []
        for container in containers:
            one = state.container(container['name'])
            self._advance(pod, container, one, fault, policy)
            statuses.append(self._report(container, one, pod))
            if one.phase == 'exited':
                done.append(one.code)
        phase = ('Failed' if any(done) else 'Succeeded') if containers and len(done) == len(containers) else 'Running'
        ready = bool(containers) and all(status['ready'] for status in statuses)
        started = min((c.started for c in state.containers.values() if c.started), default=now())
        await self._put_status(pod, phase, statuses, started, ready, node, network=True)

    def _advance(self, pod, container, one, fault, policy):
        """Move one container along: start it, collect its exit, restart it after the back-off."""
        loop = asyncio.get_running_loop()
        hook = hooks.container_hook(container.get('image'))
        runs_to_end = hook is not None or policy != 'Always'
        if one.phase == 'running' and one.task is not None and one.task.done():
            task, one.task = one.task, None
            if task.cancelled() or task.exception() is not None:
                why = None if task.cancelled() else task.exception()
                where = '%s/%s' % (pod['metadata']['namespace'], pod['metadata']['name'])
                self.record('container %s of pod %s failed: %r' % (container['name'], where, why))
                one.code = 1
            else:
                one.code = int(task.result() or 0)
            one.phase, one.finished = 'exited', now()
            one.message = termination_message(container, one)
        if one.phase == 'running' and one.task is None and fault == 'crash':
            one.phase, one.code, one.finished = 'exited', 1, now()
        if one.phase in ('new', 'backoff') and loop.time() >= one.next_start:
            one.started = now()
            if fault == 'crash' or (fault == 'fail' and runs_to_end):
                one.phase, one.code, one.finished = 'exited', 1, now()
            elif not runs_to_end:
                one.phase = 'running'
            elif hook is None:
                one.phase, one.code, one.finished = 'exited', 0, now()
            else:
                ctx = hooks.ContainerContext(pod, container, self.view.name, self.view.address, self.client, self.record)
                ctx.ready = not getattr(hook, 'starts_unready', False)
                one.context, one.message = ctx, None
                one.task = asyncio.ensure_future(hook(ctx))
                one.phase = 'running'
        if one.phase == 'exited' and (policy == 'Always' or (policy == 'OnFailure' and one.code != 0)):
            one.last = {'terminated': _terminated(one)}
            one.restarts += 1
            one.phase, one.next_start = 'backoff', loop.time() + BACKOFF_SECONDS

    def _report(self, container, one, pod):
        if one.phase == 'running':
            # A hook may hold its container unready until it has done its start-up (hooks.ContainerContext.ready).
            ready = one.context.ready if one.context is not None and one.task is not None else True
            return self._container_status(container, {'running': {'startedAt': one.started}}, ready, one.restarts)
        if one.phase == 'exited':
            return self._container_status(container, {'terminated': _terminated(one)}, False, one.restarts)
        if one.phase == 'backoff':
            meta = pod['metadata']
            status = self._container_status(container, {'waiting': {
                'reason': 'CrashLoopBackOff', 'message': 'back-off %ds restarting failed container=%s pod=%s_%s(%s)' % (
                    BACKOFF_SECONDS, container['name'], meta['name'], meta['namespace'], meta['uid'])}}, False, one.restarts)
            status['lastState'] = one.last
            return status
        return self._container_status(container, {'waiting': {'reason': 'ContainerCreating'}}, False, one.restarts)

    @staticmethod
    def _container_status(container, state, ready, restarts):
        image = container.get('image', '')
        status = {'name': container['name'], 'image': image, 'imageID': '', 'ready': ready, 'restartCount': restarts,
                  'started': 'running' in state, 'state': state}
        if 'running' in state or 'terminated' in state:
            status['containerID'] = 'containerd://%s' % ('%064x' % (abs(hash((container['name'], image))) % (1 << 256)))
            status['imageID'] = image
        return status

    async def _put_status(self, pod, phase, statuses, started, ready, node, network):
        old = pod.get('status') or {}
        meta = pod['metadata']
        stamp = now()

        def condition(kind, value):
            previous = next((c for c in old.get('conditions') or () if c.get('type') == kind), None)
            text = 'True' if value else 'False'
            since = previous.get('lastTransitionTime') if previous and previous.get('status') == text else stamp
            return {'type': kind, 'status': text, 'lastProbeTime': None, 'lastTransitionTime': since}
        conditions = [condition('PodReadyToStartContainers', network), condition('Initialized', True),
                      condition('Ready', ready), condition('ContainersReady', ready), condition('PodScheduled', True)]
        status = {'phase': phase, 'conditions': conditions, 'hostIP': self.view.address,
                  'hostIPs': [{'ip': self.view.address}], 'containerStatuses': statuses, 'qosClass': 'BestEffort'}
        if started:
            status['startTime'] = old.get('startTime') or started
        ip = old.get('podIP')
        if network and not ip:
            ip = self._pod_ip(pod, node)
        if ip:
            status['podIP'] = ip
            status['podIPs'] = [{'ip': ip}]
        if _same(old, status):
            return
        await self.client.request('PATCH', Client.path('v1', 'pods', meta['namespace'], meta['name'], 'status') + '?fieldManager=kubelet',
                                  {'status': status}, 'application/merge-patch+json')

    # ------------------------------------------------------------------ loop

    async def run(self):
        """Register, then keep node status, lease and pods in step; returns when cancelled."""
        watcher = asyncio.ensure_future(self._watch_pods())
        try:
            while True:
                try:
                    if not self.registered:
                        await self.register()
                    node = await self.client.request('GET', '/api/v1/nodes/' + self.view.name)
                    was_ready = self.cni_ready
                    await self.sync_pods(node)
                    if was_ready != self.cni_ready:
                        self.ready_since = now()
                    await self.post_status(force=was_ready != self.cni_ready, node=node)
                except ApiStatus as exc:
                    if exc.code == 404 and self.registered:
                        self.registered = False  # the Node object was deleted: register again, as the kubelet does
                    else:
                        LOG.info('kubelet: %s', exc)
                except ApiUnreachable as exc:
                    LOG.info('kubelet: %s', exc)
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), min(LEASE_SECONDS, 2.0 if not self.pods else 1.0))
                except asyncio.TimeoutError:
                    pass
        finally:
            watcher.cancel()
            for state in self.pods.values():
                state.cancel()

    async def _watch_pods(self):
        while True:
            try:
                async for _kind, _obj in self.client.watch('/api/v1/pods', {'fieldSelector': 'spec.nodeName=%s' % self.view.name}):
                    self.wake.set()
            except (ApiUnreachable, ApiStatus):
                pass
            await asyncio.sleep(1)


def termination_message(container, one):
    """The kubelet's FallbackToLogsOnError: the end of the output (80 lines, 2048 bytes at most) of a container that
    failed; None otherwise."""
    if not one.code or one.context is None or container.get('terminationMessagePolicy') != 'FallbackToLogsOnError':
        return None
    text = '\n'.join(one.context.output[-80:])
    return text[-2048:] or None


def _terminated(one):
    state = {'exitCode': one.code, 'reason': 'Error' if one.code else 'Completed', 'startedAt': one.started,
             'finishedAt': one.finished}
    if one.message:
        state['message'] = one.message
    return state


def _same(old, new):
    def strip(status):
        result = dict(status)
        result['conditions'] = [{k: v for k, v in c.items() if k != 'lastTransitionTime'} for c in status.get('conditions') or ()]
        result['containerStatuses'] = [{k: v for k, v in c.items() if k != 'lastState'}
                                       for c in status.get('containerStatuses') or ()]
        return result
    return all(strip(old).get(k) == v for k, v in strip(new).items())
