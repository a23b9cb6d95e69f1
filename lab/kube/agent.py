"""What a Talos node runs for Kubernetes, in the node's process (lab/talos/node.py starts ``Agent(node).run()``).

Once the node runs a configured machine config:
* a control plane whose etcd member is up starts its API server (``python -m lab.kube.apiserver``, a child
  in the node's process group and network namespace) and applies Talos' manifests through it;
* every node runs the kubelet stand-in (kubelet.py), which registers the Node and runs its pods.
While the node reboots or is in maintenance mode all of it stops, as on a real node.

Credentials come from the cluster's Kubernetes CA (``cluster.ca``): a control plane has its key; a
worker gets its kubelet certificate signed through a configured control plane with the same CA (the
lab's stand-in for the kubelet's bootstrap-token CSR), as its Talos certificate comes through trustd.
"""
import asyncio
import base64
import datetime
import hashlib
import ipaddress
import json
import logging
import os
import sys
import uuid
from urllib.parse import urlparse

import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from .. import ROOT
from ..talos import certs
from . import kubelet as kubelets, manifests
from .client import Client

LOG = logging.getLogger('lab.kube')
DEFAULT_KUBERNETES = {'v1.9.6': '1.32.4', 'v1.13.9': '1.35.0'}
PORT = 6443


def _image_version(image, talos_version):
    tag = image.split('@', 1)[0].rsplit(':', 1)[-1] if ':' in image.split('@', 1)[0].rsplit('/', 1)[-1] else ''
    if tag.startswith('v') and tag[1:2].isdigit():
        return tag[1:].split('-')[0]
    return DEFAULT_KUBERNETES.get(talos_version, '1.32.4')


def kube_version(config, talos_version):
    """The Kubernetes version a node's kubelet runs: the kubelet image tag (``machine.kubelet.image``), else Talos'
    default. Talos applies a new kubelet image without a reboot (it restarts the kubelet), so this follows the config."""
    return _image_version(((config.get('machine') or {}).get('kubelet') or {}).get('image') or '', talos_version)


def apiserver_version(config, talos_version):
    """The version a control plane's API server reports on /version: the tag of ``cluster.apiServer.image`` (a new
    image restarts the API server, as Talos does without a reboot)."""
    return _image_version(((config.get('cluster') or {}).get('apiServer') or {}).get('image') or '', talos_version)


class View:
    """The node as the kubelet sees it (read live from the node's running config)."""

    def __init__(self, node):
        self.node = node
        self.boot_id = str(uuid.uuid4())
        self.booted = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')

    name = property(lambda self: self.node.name)
    address = property(lambda self: self.node.address)
    controlplane = property(lambda self: self.node.is_controlplane)
    config = property(lambda self: self.node.v1alpha1)
    talos_version = property(lambda self: self.node.version)
    kube_version = property(lambda self: kube_version(self.node.v1alpha1, self.node.version))
    machine_id = property(lambda self: hashlib.md5(self.node.node_id.encode()).hexdigest())


class Agent:
    def __init__(self, node):
        self.node = node
        self.dir = os.path.join(node.dir, 'kube')
        self.state_dir = os.path.dirname(node.cfg['lab_dir'])
        self.apiserver = None
        self.apiserver_config = None
        self.kubelet_task = None
        self.manifest_task = None
        self.manifest_key = None
        self.clients = {}
        self.credentials_for = None

    # ------------------------------------------------------------------ loop

    async def run(self):
        try:
            while True:
                try:
                    await self.tick()
                except Exception:  # pylint: disable=broad-except
                    LOG.exception('kube agent')
                await asyncio.sleep(0.5)
        finally:
            await self.stop()

    def _configured(self):
        node = self.node
        return node.stage == 'running' and not node.maintenance and bool((node.v1alpha1.get('cluster') or {}).get('ca'))

    async def tick(self):
        node = self.node
        if not self._configured():
            await self.stop()
            return
        ca = self.cluster_ca()
        if ca is None:
            return  # a worker before any control plane with this CA is configured
        self._credentials(*ca)
        member = node.member
        if node.is_controlplane and member is not None and member.running() and member.state == 'Running':
            await self._ensure_apiserver(ca)
        else:
            await self._stop_apiserver()
        if self.kubelet_task is None or self.kubelet_task.done():
            view = View(node)
            client = await self._client('kubelet')
            self.kubelet_task = asyncio.ensure_future(kubelets.Kubelet(view, client, self.state_dir, self._record).run())
        if node.is_controlplane and self.apiserver is not None:
            docs = manifests.all_manifests(node.v1alpha1, kube_version(node.v1alpha1, node.version))
            key = (id(self.apiserver), hashlib.sha256(json.dumps(docs, sort_keys=True).encode()).hexdigest())
            if key != self.manifest_key:
                self.manifest_key = key
                if self.manifest_task is not None:
                    self.manifest_task.cancel()
                self.manifest_task = asyncio.ensure_future(manifests.apply_until_done(await self._client('talos'), docs))

    async def stop(self):
        for task in (self.kubelet_task, self.manifest_task):
            if task is not None:
                task.cancel()
        self.kubelet_task = self.manifest_task = None
        self.manifest_key = None
        await self._stop_apiserver()
        for client in self.clients.values():
            await client.close()
        self.clients = {}

    def _record(self, text):
        LOG.info('kubelet: %s', text)

    # ------------------------------------------------------------------ credentials

    def cluster_ca(self):
        """(crt PEM, key PEM) of the cluster CA: the config's own, else a configured control plane's with the same crt."""
        ca = (self.node.v1alpha1.get('cluster') or {}).get('ca') or {}
        crt = base64.b64decode(ca['crt'])
        if ca.get('key'):
            return crt, base64.b64decode(ca['key'])
        node = self.node
        for peer in node.registry():
            if peer['name'] == node.name or peer.get('machine_type') not in ('controlplane', 'init'):
                continue
            try:
                with open(os.path.join(node.cfg['lab_dir'], peer['name'], 'config.yaml'), 'rb') as handle:
                    docs = list(yaml.safe_load_all(handle))
            except (OSError, yaml.YAMLError):
                continue
            peer_ca = ((next((d for d in docs if d and 'kind' not in d), {}).get('cluster') or {}).get('ca') or {})
            if peer_ca.get('key') and base64.b64decode(peer_ca['crt']) == crt:
                return crt, base64.b64decode(peer_ca['key'])
        return None

    def _credentials(self, crt, key):
        if self.credentials_for == crt:
            return
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        ca_cert, ca_key = x509.load_pem_x509_certificate(crt), certs.load_pem_key(key)
        certs.write_private(os.path.join(self.dir, 'ca.crt'), crt)
        certs.write_private(os.path.join(self.dir, 'ca.key'), key)
        for name, (common, orgs) in {'kubelet': ('system:node:%s' % self.node.name, ('system:nodes',)),
                                     'talos': ('talos', ('system:masters',))}.items():
            cert, private = certs.issue(ca_cert, ca_key, common, [], ExtendedKeyUsageOID.CLIENT_AUTH, organizations=orgs)
            cert_pem, key_pem = certs.pem_pair(cert, private)
            certs.write_private(os.path.join(self.dir, name + '.crt'), cert_pem)
            certs.write_private(os.path.join(self.dir, name + '.key'), key_pem)
        self.credentials_for = crt
        for client in self.clients.values():
            asyncio.ensure_future(client.close())
        self.clients = {}
        for task in (self.kubelet_task, self.manifest_task):
            if task is not None:
                task.cancel()

    def servers(self):
        """API servers to try, the way KubePrism balances: this control plane first, then the others, then the endpoint."""
        node = self.node
        found = ['https://%s:%d' % (node.address, PORT)] if node.is_controlplane else []
        for peer in node.discovery():
            if peer.get('machine_type') in ('controlplane', 'init') and peer['name'] != node.name:
                found.append('https://%s:%d' % (peer['address'], PORT))
        endpoint = ((node.v1alpha1.get('cluster') or {}).get('controlPlane') or {}).get('endpoint')
        if endpoint:
            parsed = urlparse(endpoint)
            found.append('https://%s:%d' % (parsed.hostname, parsed.port or 443))
        return list(dict.fromkeys(found))

    async def _client(self, name):
        if name not in self.clients:
            with open(os.path.join(self.dir, 'ca.crt'), 'rb') as handle:
                ca = handle.read()
            client = Client(self.servers, ca, os.path.join(self.dir, name + '.crt'), os.path.join(self.dir, name + '.key'),
                            user_agent='kubelet/v1.32 (linux/amd64)' if name == 'kubelet' else 'talos/%s' % self.node.version)
            await client.start()
            self.clients[name] = client
        return self.clients[name]

    # ------------------------------------------------------------------ the API server process

    def _apiserver_config(self, ca):
        node, cluster = self.node, self.node.v1alpha1.get('cluster') or {}
        endpoint = (cluster.get('controlPlane') or {}).get('endpoint') or 'https://%s:%d' % (node.address, PORT)
        service_cidr = ((cluster.get('network') or {}).get('serviceSubnets') or ['10.96.0.0/12'])[0]
        dns = (cluster.get('network') or {}).get('dnsDomain') or 'cluster.local'
        sans = [node.address, '127.0.0.1', '::1', 'localhost', urlparse(endpoint).hostname, node.name,
                str(ipaddress.ip_network(service_cidr, strict=False).network_address + 1),
                'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.' + dns]
        sans += [str(s) for s in (cluster.get('apiServer') or {}).get('certSANs') or ()]
        return {'name': node.name, 'address': node.address, 'port': PORT, 'etcd': 'http://127.0.0.1:2379',
                'kube_version': apiserver_version(node.v1alpha1, node.version), 'tls_dir': self.dir,
                'ca_crt': os.path.join(self.dir, 'ca.crt'), 'ca_key': os.path.join(self.dir, 'ca.key'),
                'sans': list(dict.fromkeys(s for s in sans if s)), 'state_dir': self.state_dir,
                'cluster_name': cluster.get('clusterName') or 'talos', 'endpoint': endpoint, 'service_cidr': service_cidr,
                'ca_fingerprint': hashlib.sha256(ca[0]).hexdigest()}

    async def _ensure_apiserver(self, ca):
        config = self._apiserver_config(ca)
        if self.apiserver is not None and self.apiserver.returncode is None and config == self.apiserver_config:
            return
        await self._stop_apiserver()
        path = os.path.join(self.dir, 'apiserver.json')
        certs.write_private(path, json.dumps(config, indent=1).encode())
        log = os.open(os.path.join(self.node.dir, 'apiserver.log'), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.apiserver = await asyncio.create_subprocess_exec(sys.executable, '-m', 'lab.kube.apiserver', path, cwd=ROOT,
                                                                  stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            os.close(log)
        self.apiserver_config = config
        LOG.info('started the Kubernetes API server (pid %d)', self.apiserver.pid)

    async def _stop_apiserver(self):
        proc, self.apiserver = self.apiserver, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
