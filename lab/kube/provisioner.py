"""Dynamic provisioning in the lab: what a CSI controller pod and its ``csi-provisioner`` sidecar do together.

The controller containers of the Hetzner and Proxmox charts (csi.py) run :func:`run`: every second it looks for claims
of its driver's StorageClasses that need a volume, and for released volumes to delete, as external-provisioner does:

* a claim of a ``WaitForFirstConsumer`` class is provisioned once the scheduler has annotated it with
  ``volume.kubernetes.io/selected-node``, in that node's topology; an ``Immediate`` class's claim at once, in the first
  topology its class allows;
* the volume is created **through the real API with the driver's own credentials**: the Hetzner token from the
  controller's ``HCLOUD_TOKEN`` (the Secret it references) against ``HCLOUD_ENDPOINT``; the Proxmox token from the
  plugin's config Secret (``clusters[]`` of the node's region) against that cluster's URL;
* then a PersistentVolume ``pvc-<claim uid>`` with the claim in ``claimRef`` and node affinity on the driver's topology
  keys; the lab's PV controller (controllers.py) binds the two;
* a ``Released`` volume of its driver with reclaim policy ``Delete`` is deleted at the API, then the PersistentVolume.

Failures are the claim's ``ProvisioningFailed`` events and the container's log, and are retried, as the sidecar does.

**Reaching the stand-ins.** The container runs in its node's network namespace. Where the configured endpoint is a
loopback address (the lab's stand-ins listen on every address of the machine), it connects to the node's default
gateway, the machine itself, as a pod of a kind cluster reaches its host through ``host.docker.internal``; TLS is
still checked against the host name of the configured URL unless the config says ``insecure``.
"""
import asyncio
import base64
import ipaddress
import json
import math
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request

import yaml

from .client import ApiStatus, ApiUnreachable, Client

GIB = 1024 ** 3
SELECTED_NODE = 'volume.kubernetes.io/selected-node'
PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by'
FSTYPE = 'csi.storage.k8s.io/fstype'
PASS_SECONDS = 1.0
HCLOUD_MIN_GB = 10  # hcloud-csi-driver MinVolumeSize: smaller requests get 10 GB
PROXMOX_VMID = 9999  # the plugin's controllerVmID: the owner its disks are named after


class ProvisionError(Exception):
    """A volume that could not be made now; the message becomes the claim's ProvisioningFailed event."""


def _size_gib(claim, minimum=1):
    text = str((((claim.get('spec') or {}).get('resources') or {}).get('requests') or {}).get('storage') or '1Gi')
    return max(minimum, math.ceil(quantity_bytes(text) / GIB))


def quantity_bytes(text):
    """``10Gi`` / ``5G`` / ``1073741824`` -> bytes (the suffixes a claim's request uses)."""
    suffixes = {'Ki': 1024, 'Mi': 1024 ** 2, 'Gi': GIB, 'Ti': 1024 ** 4, 'k': 1000, 'M': 1000 ** 2, 'G': 1000 ** 3, 'T': 1000 ** 4}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * suffixes[suffix]
    return float(text)


def _default_gateway():
    """The node's default gateway (this process is in the node's network namespace, so /proc/net/route is its table)."""
    with open('/proc/net/route', encoding='ascii') as handle:
        for line in handle.readlines()[1:]:
            fields = line.split()
            if fields[1] == '00000000' and int(fields[3], 16) & 2:
                return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, 'little'))
    return None


def reach(url):
    """(url to connect to, host name for TLS): a loopback host is the machine, which is the node's gateway."""
    parts = urllib.parse.urlsplit(url)
    try:
        loopback = ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        loopback = parts.hostname == 'localhost'
    gateway = _default_gateway() if loopback else None
    if not gateway:
        return url, parts.hostname
    netloc = gateway + (':%d' % parts.port if parts.port else '')
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), parts.hostname


def http(method, url, headers, body=None, insecure=False, timeout=10):
    """One blocking HTTP request (run in a thread): (status, parsed JSON body or None)."""
    target, server_name = reach(url)
    data = None
    if body is not None:
        data = json.dumps(body).encode() if headers.get('Content-Type') == 'application/json' else \
            urllib.parse.urlencode(body).encode()
    request = urllib.request.Request(target, data=data, method=method, headers=dict(headers, Host=urllib.parse.urlsplit(url).netloc))
    context = None
    if target.startswith('https:'):
        context = _unverified() if insecure else _named_context(server_name)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, {'message': raw.decode('utf-8', 'replace')[:200]}
    except (OSError, ValueError) as exc:
        raise ProvisionError('%s %s: %s' % (method, url.split('?', 1)[0], getattr(exc, 'reason', exc))) from None


def _unverified():
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _named_context(server_name):
    """The system's trust, checked against the configured host although the socket goes to the gateway."""
    class Named(ssl.SSLContext):
        def wrap_socket(self, *args, **kwargs):  # pylint: disable=signature-differs
            kwargs['server_hostname'] = server_name
            return super().wrap_socket(*args, **kwargs)
    named = Named(ssl.PROTOCOL_TLS_CLIENT)
    named.load_default_certs()
    return named


# ----------------------------------------------------------------------------- Hetzner


class Hetzner:
    """hcloud-csi-driver's controller: volumes at /volumes in the selected node's location."""
    driver = 'csi.hetzner.cloud'
    topology_keys = ('csi.hetzner.cloud/location',)

    def __init__(self, ctx):
        self.ctx = ctx
        env = {e['name']: e for e in ctx.container.get('env') or ()}
        self.endpoint = ((env.get('HCLOUD_ENDPOINT') or {}).get('value') or 'https://api.hetzner.cloud/v1').rstrip('/')
        self.default_location = (env.get('HCLOUD_VOLUME_DEFAULT_LOCATION') or {}).get('value')
        self.token_ref = env.get('HCLOUD_TOKEN') or {}

    async def _token(self):
        if self.token_ref.get('value'):
            return self.token_ref['value']
        ref = (self.token_ref.get('valueFrom') or {}).get('secretKeyRef') or {}
        namespace = self.ctx.pod['metadata']['namespace']
        try:
            secret = await self.ctx.client.request('GET', Client.path('v1', 'secrets', namespace, ref.get('name')))
        except ApiStatus as exc:
            raise ProvisionError('secret %s/%s: %s' % (namespace, ref.get('name'), exc)) from None
        return base64.b64decode((secret.get('data') or {}).get(ref.get('key'), '')).decode()

    async def _call(self, method, path, body=None):
        headers = {'Authorization': 'Bearer %s' % await self._token(), 'Content-Type': 'application/json'}
        return await asyncio.to_thread(http, method, self.endpoint + path, headers, body)

    def topology(self, labels, allowed):
        location = labels.get(self.topology_keys[0]) if labels is not None else (allowed.get(self.topology_keys[0]) or [self.default_location])[0]
        if not location:
            raise ProvisionError('no location: the selected node has no %s label (its node plugin has not registered)'
                                 % self.topology_keys[0])
        return {self.topology_keys[0]: location}

    async def create(self, name, claim, topology, parameters):
        size = _size_gib(claim, HCLOUD_MIN_GB)
        location = topology[self.topology_keys[0]]
        status, body = await self._call('POST', '/volumes', {'name': name, 'size': size, 'location': location,
                                                             'labels': {'pvc-namespace': claim['metadata']['namespace']}})
        if status == 409:  # made on an earlier pass whose PersistentVolume was not written
            status, body = await self._call('GET', '/volumes?name=%s' % urllib.parse.quote(name))
            found = (body or {}).get('volumes') or []
            if status != 200 or not found:
                raise ProvisionError('volume %s exists but cannot be read back (%s)' % (name, status))
            volume = found[0]
        elif status != 201:
            raise ProvisionError('rpc error: code = %s desc = %s' % (status, ((body or {}).get('error') or {}).get('message')))
        else:
            volume = body['volume']
        return str(volume['id']), volume['size'], {'storage.kubernetes.io/csiProvisionerIdentity': self.driver}

    async def delete(self, handle):
        status, body = await self._call('DELETE', '/volumes/%s' % handle)
        if status not in (204, 404):
            raise ProvisionError('delete volume %s: %s %s' % (handle, status, ((body or {}).get('error') or {}).get('message')))


# ----------------------------------------------------------------------------- Proxmox


class Proxmox:
    """proxmox-csi-plugin's controller: a disk vm-9999-<name> on the class's PVE storage of the selected node."""
    driver = 'csi.proxmox.sinextra.dev'
    topology_keys = ('topology.kubernetes.io/region', 'topology.kubernetes.io/zone')

    def __init__(self, ctx):
        self.ctx = ctx

    async def _clusters(self):
        volume = next((v for v in self.ctx.pod['spec'].get('volumes') or () if v.get('name') == 'cloud-config'), {})
        name = (volume.get('secret') or {}).get('secretName')
        args = ' '.join(self.ctx.container.get('args') or ())
        key = args.split('--cloud-config=/etc/proxmox/', 1)[-1].split()[0] if '--cloud-config=' in args else 'config.yaml'
        namespace = self.ctx.pod['metadata']['namespace']
        try:
            secret = await self.ctx.client.request('GET', Client.path('v1', 'secrets', namespace, name))
        except ApiStatus as exc:
            raise ProvisionError('config secret %s/%s: %s' % (namespace, name, exc)) from None
        config = yaml.safe_load(base64.b64decode((secret.get('data') or {}).get(key, '')).decode()) or {}
        return config.get('clusters') or []

    async def _call(self, cluster, method, path, body=None):
        url = cluster['url'].rstrip('/')
        if not url.endswith('/api2/json'):
            url += '/api2/json'
        headers = {'Authorization': 'PVEAPIToken=%s=%s' % (cluster.get('token_id'), cluster.get('token_secret')),
                   'Content-Type': 'application/x-www-form-urlencoded'}
        return await asyncio.to_thread(http, method, url + path, headers, body, bool(cluster.get('insecure')))

    async def _cluster(self, region):
        cluster = next((c for c in await self._clusters() if c.get('region') == region), None)
        if cluster is None:
            raise ProvisionError('no cluster of region %s in the plugin config' % region)
        return cluster

    def topology(self, labels, allowed):
        if labels is None:
            labels = {key: (allowed.get(key) or [None])[0] for key in self.topology_keys}
        missing = [key for key in self.topology_keys if not labels.get(key)]
        if missing:
            raise ProvisionError('the selected node has no %s label' % ' and '.join(missing))
        return {key: labels[key] for key in self.topology_keys}

    async def create(self, name, claim, topology, parameters):
        region, zone = (topology[key] for key in self.topology_keys)
        storage = parameters.get('storage')
        if not storage:
            raise ProvisionError('the StorageClass has no storage parameter')
        cluster = await self._cluster(region)
        size = _size_gib(claim)
        disk = 'vm-%d-%s' % (PROXMOX_VMID, name)
        status, body = await self._call(cluster, 'POST', '/nodes/%s/storage/%s/content' % (zone, storage),
                                        {'vmid': PROXMOX_VMID, 'filename': disk, 'size': '%dG' % size})
        if status != 200 and 'already exists' not in json.dumps(body):
            raise ProvisionError('create %s on %s/%s: %s %s' % (disk, zone, storage, status, (body or {}).get('message') or body))
        return '%s/%s/%s/%s' % (region, zone, storage, disk), size, {'storage': storage}

    async def delete(self, handle):
        region, zone, storage, disk = handle.split('/', 3)
        cluster = await self._cluster(region)
        status, body = await self._call(cluster, 'DELETE', '/nodes/%s/storage/%s/content/%s:%s' % (zone, storage, storage, disk))
        if status != 200 and 'does not exist' not in json.dumps(body):
            raise ProvisionError('delete %s: %s %s' % (handle, status, (body or {}).get('message') or body))


# ----------------------------------------------------------------------------- the sidecar's loop


def _allowed(storage_class):
    """{key: [values]} of the class's first allowedTopologies term."""
    terms = storage_class.get('allowedTopologies') or [{}]
    return {e.get('key'): list(e.get('values') or ()) for e in terms[0].get('matchLabelExpressions') or ()}


def persistent_volume(backend, claim, storage_class, handle, size, attributes, topology):
    meta = claim['metadata']
    parameters = storage_class.get('parameters') or {}
    return {'apiVersion': 'v1', 'kind': 'PersistentVolume',
            'metadata': {'name': 'pvc-%s' % meta['uid'], 'annotations': {PROVISIONED_BY: backend.driver}},
            'spec': {'capacity': {'storage': '%dGi' % size}, 'accessModes': list(claim['spec'].get('accessModes') or ['ReadWriteOnce']),
                     'persistentVolumeReclaimPolicy': storage_class.get('reclaimPolicy') or 'Delete',
                     'storageClassName': storage_class['metadata']['name'], 'volumeMode': claim['spec'].get('volumeMode') or 'Filesystem',
                     'claimRef': {'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim', 'namespace': meta['namespace'],
                                  'name': meta['name'], 'uid': meta['uid'], 'resourceVersion': meta.get('resourceVersion')},
                     'csi': {'driver': backend.driver, 'volumeHandle': handle, 'fsType': parameters.get(FSTYPE, 'ext4'),
                             'volumeAttributes': attributes},
                     'nodeAffinity': {'required': {'nodeSelectorTerms': [{'matchExpressions': [
                         {'key': key, 'operator': 'In', 'values': [value]} for key, value in sorted(topology.items())]}]}}}}


async def _event(ctx, claim, kind, reason, message):
    meta = claim['metadata']
    body = {'apiVersion': 'v1', 'kind': 'Event', 'metadata': {'generateName': meta['name'] + '.', 'namespace': meta['namespace']},
            'involvedObject': {'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim', 'namespace': meta['namespace'],
                               'name': meta['name'], 'uid': meta['uid']},
            'type': kind, 'reason': reason, 'message': message, 'count': 1,
            'source': {'component': '%s_%s' % (ctx.pod['metadata']['name'], 'csi-provisioner')}}
    try:
        await ctx.client.request('POST', Client.path('v1', 'events', meta['namespace']), body)
    except ApiStatus:
        pass


async def _provision(ctx, backend, claim, storage_class, failed):
    meta = claim['metadata']
    selected = (meta.get('annotations') or {}).get(SELECTED_NODE)
    labels = None
    if storage_class.get('volumeBindingMode') == 'WaitForFirstConsumer':
        if not selected:
            return  # the scheduler has not chosen a node yet
        node = await ctx.client.request('GET', Client.path('v1', 'nodes', name=selected))
        labels = node['metadata'].get('labels') or {}
    name = 'pvc-%s' % meta['uid']
    try:
        topology = backend.topology(labels, _allowed(storage_class))
        handle, size, attributes = await backend.create(name, claim, topology, storage_class.get('parameters') or {})
    except ProvisionError as exc:
        message = 'failed to provision volume with StorageClass "%s": %s' % (storage_class['metadata']['name'], exc)
        if failed.get(meta['uid']) != message:  # one event per distinct failure, as the sidecar's backoff makes it
            failed[meta['uid']] = message
            ctx.write(message)
            await _event(ctx, claim, 'Warning', 'ProvisioningFailed', message)
        return
    failed.pop(meta['uid'], None)
    body = persistent_volume(backend, claim, storage_class, handle, size, attributes, topology)
    try:
        await ctx.client.request('POST', Client.path('v1', 'persistentvolumes'), body)
    except ApiStatus as exc:
        if exc.code != 409:
            raise
    ctx.write('successfully provisioned volume %s (%s) for claim %s/%s' % (name, handle, meta['namespace'], meta['name']))
    await _event(ctx, claim, 'Normal', 'ProvisioningSucceeded', 'Successfully provisioned volume %s' % name)


async def _reclaim(ctx, backend, volume):
    try:
        await backend.delete(volume['spec']['csi']['volumeHandle'])
    except ProvisionError as exc:
        ctx.write('failed to delete volume %s: %s' % (volume['metadata']['name'], exc))
        return
    try:
        await ctx.client.request('DELETE', Client.path('v1', 'persistentvolumes', name=volume['metadata']['name']))
    except ApiStatus as exc:
        if exc.code != 404:
            raise
    ctx.write('deleted volume %s' % volume['metadata']['name'])


async def one_pass(ctx, backend, failed):
    classes = {c['metadata']['name']: c for c in (await ctx.client.request('GET', Client.path('storage.k8s.io/v1', 'storageclasses')))['items']
               if c.get('provisioner') == backend.driver}
    volumes = (await ctx.client.request('GET', Client.path('v1', 'persistentvolumes')))['items']
    made = {v['metadata']['name'] for v in volumes}
    for claim in (await ctx.client.request('GET', Client.path('v1', 'persistentvolumeclaims')))['items']:
        spec = claim.get('spec') or {}
        storage_class = classes.get(spec.get('storageClassName'))
        if storage_class is None or spec.get('volumeName') or claim['metadata'].get('deletionTimestamp'):
            continue
        if 'pvc-%s' % claim['metadata']['uid'] not in made:
            await _provision(ctx, backend, claim, storage_class, failed)
    for volume in volumes:
        spec = volume.get('spec') or {}
        if ((spec.get('csi') or {}).get('driver') == backend.driver and (volume.get('status') or {}).get('phase') == 'Released'
                and not volume['metadata'].get('deletionTimestamp')
                and spec.get('persistentVolumeReclaimPolicy') == 'Delete'
                and (volume['metadata'].get('annotations') or {}).get(PROVISIONED_BY) == backend.driver):
            await _reclaim(ctx, backend, volume)


async def run(ctx, backend_class):
    """The controller's life: a provisioning pass every second until the pod goes (API errors are retried)."""
    backend = backend_class(ctx)
    failed = {}
    while True:
        try:
            await one_pass(ctx, backend, failed)
        except (ApiStatus, ApiUnreachable, OSError, asyncio.TimeoutError) as exc:
            ctx.write('provisioner: %s (retrying)' % exc)
        except Exception as exc:  # pylint: disable=broad-except
            ctx.write('provisioner: unexpected %s: %s (retrying)' % (type(exc).__name__, exc))
        await asyncio.sleep(PASS_SECONDS)
