"""One simulated Talos node: its machine config, stage, etcd member and life cycle (apply, reboot).

State that a real node keeps on disk survives a restart of the process: the running config
(``config.yaml``), a staged one (``staged.yaml``), the node identity and etcd's data directory, all in
the node's 0700 directory (a reset wipes them: recovery.py). ``status.json`` is the node's entry in the
lab's discovery registry: the other nodes read it for cluster members and to find an etcd member to join.
"""
import asyncio
import base64
import difflib
import json
import logging
import os
import secrets

import yaml

from . import certs, etcd, upgrade, validate

LOG = logging.getLogger('lab.talos')
BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

FAILED_ETCD_BACKOFF = 5.0  # seconds before a failed etcd service is started again (Talos pauses too)

# v1alpha1 paths a node applies without a reboot (Talos' immediate-apply set, as documented for
# `apply-config --mode=no-reboot`); a change anywhere else needs a reboot.
IMMEDIATE = (
    ('debug',), ('cluster',), ('machine', 'time'), ('machine', 'certSANs'), ('machine', 'install'), ('machine', 'network'),
    ('machine', 'nodeLabels'), ('machine', 'nodeTaints'), ('machine', 'nodeAnnotations'), ('machine', 'sysfs'),
    ('machine', 'sysctls'), ('machine', 'logging'), ('machine', 'controlplane'), ('machine', 'kubelet'), ('machine', 'pods'),
    ('machine', 'kernel'), ('machine', 'registries'), ('machine', 'features', 'kubernetesTalosAPIAccess'),
    ('machine', 'features', 'hostDNS'), ('machine', 'seccompProfiles'), ('machine', 'udev'),
)


def _node_id():
    return ''.join(secrets.choice(BASE62) for dummy in range(43))


def _write_private(path, data):
    temp = path + '.tmp'
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data if isinstance(data, bytes) else data.encode())
    os.replace(temp, path)


def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except OSError:
        return None


def _strip(document, paths):
    """A copy of ``document`` without ``paths`` (tuples of keys)."""
    document = json.loads(json.dumps(document))
    for path in paths:
        parent = document
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    return document


def _changed_paths(old, new, prefix=''):
    if isinstance(old, dict) and isinstance(new, dict):
        paths = []
        for key in sorted(set(old) | set(new), key=str):
            paths += _changed_paths(old.get(key), new.get(key), '%s%s%s' % (prefix, '.' if prefix else '', key))
        return paths
    return [] if old == new else [prefix or '(document)']


def reboot_reason(old_docs, new_docs):
    """Why applying ``new_docs`` over ``old_docs`` needs a reboot, or None (Talos' CanApplyImmediate)."""
    old = next((validate.preprocess(d) for d in old_docs if 'kind' not in d), {})
    new = next((validate.preprocess(d) for d in new_docs if 'kind' not in d), {})
    paths = _changed_paths(_strip(old, IMMEDIATE), _strip(new, IMMEDIATE))
    if not paths:
        return None
    return "this config change can't be applied in immediate mode\ndiff: %s" % ', '.join(paths[:10])


def config_diff(old_bytes, new_bytes):
    """Talos' dry-run diff text: a unified diff of the two configs as documents, or ``No changes.``."""
    def canonical(data):
        if not data:
            return []
        docs = [doc for doc in yaml.safe_load_all(data) if doc is not None]
        return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False).splitlines(True)
    lines = list(difflib.unified_diff(canonical(old_bytes), canonical(new_bytes), fromfile='running', tofile='new'))
    return ''.join(lines) if lines else 'No changes.'


class Node:
    """The node's state; the gRPC handlers (api.py) ask it and tell it what to do."""

    def __init__(self, config):
        self.cfg = config
        self.name = config['name']
        self.address = config['address']
        self.version = config['version']  # the API behaviour the node follows (v1.9.6 or v1.13.9)
        self.dir = config['dir']
        self.tag = upgrade.installed_tag(self.dir, self.version)  # what Version reports: changes with upgrades
        self.upgrading = False
        self.tls_dir = os.path.join(self.dir, 'tls')
        os.makedirs(self.tls_dir, mode=0o700, exist_ok=True)
        persisted = json.loads(_read(self.path('identity.json')) or b'{}')
        if 'node_id' not in persisted:
            persisted['node_id'] = _node_id()
            _write_private(self.path('identity.json'), json.dumps(persisted))
        self.node_id = persisted['node_id']
        self.config_bytes = _read(self.path('config.yaml'))
        self.staged_bytes = _read(self.path('staged.yaml'))
        self.docs = validate.documents(self.config_bytes) if self.config_bytes else None
        self.stage = 'maintenance' if self.config_bytes is None else 'running'
        self.member = None
        self.etcd_member_id = None
        self.bootstrapped_here = False
        self.apply_lock = asyncio.Lock()
        self.etcd_lock = asyncio.Lock()
        self.transition = asyncio.Queue()
        self.try_task = None
        self.server_control = None  # set by the server loop: an object with restart(delay, reason)
        self.power_off = None  # set by the server loop: ends the node process (a reset without reboot)
        self.etcd_retry_at = 0.0
        self._sync_member()

    def path(self, name):
        return os.path.join(self.dir, name)

    # ------------------------------------------------------------------ config views

    @property
    def maintenance(self):
        return self.config_bytes is None

    @property
    def v1alpha1(self):
        return next((d for d in self.docs or () if 'kind' not in d), {})

    @property
    def machine_type(self):
        return (self.v1alpha1.get('machine') or {}).get('type') if self.docs else None

    @property
    def is_controlplane(self):
        return self.machine_type in ('controlplane', 'init')

    @property
    def cluster_id(self):
        return (self.v1alpha1.get('cluster') or {}).get('id') if self.docs else None

    @property
    def rbac(self):
        """v1.9.6 enforces roles only with machine.features.rbac; v1.13 always does."""
        if self.version != 'v1.9.6':
            return True
        return bool(((self.v1alpha1.get('machine') or {}).get('features') or {}).get('rbac'))

    @property
    def check_ext_key_usage(self):
        if self.version != 'v1.9.6':
            return True
        return bool(((self.v1alpha1.get('machine') or {}).get('features') or {}).get('apidCheckExtKeyUsage'))

    def os_ca(self):
        """(crt PEM, key PEM or None) of the OS CA from the running config."""
        ca = (self.v1alpha1.get('machine') or {}).get('ca') or {}
        return base64.b64decode(ca['crt']), base64.b64decode(ca['key']) if ca.get('key') else None

    def _sync_member(self):
        if self.is_controlplane and self.member is None:
            self.member = etcd.Member(self.name, self.address, self.dir, self.cluster_id or 'lab')
        if not self.is_controlplane:
            self.member = None

    # ------------------------------------------------------------------ TLS

    def server_context(self):
        """The TLS context for the current mode: maintenance certificate, or API certificate from the OS CA."""
        if self.maintenance:
            cert, key = certs.maintenance_pair([self.address], self.name)
            return certs.server_context(self.tls_dir, cert, key, None, self.version)
        ca_crt, ca_key = self.os_ca()
        if ca_key is None:
            ca_key = self._trustd_key(ca_crt)
        sans = (self.v1alpha1.get('machine') or {}).get('certSANs') or []
        cert, key = certs.api_pair(ca_crt, ca_key, [self.address], sans, self.name, self.version)
        return certs.server_context(self.tls_dir, cert, key, ca_crt, self.version)

    def _trustd_key(self, ca_crt):
        """A worker has no OS CA key: real Talos asks trustd on a control plane to sign its certificate.
        The lab's stand-in for trustd: a configured control plane of the same lab with the same OS CA."""
        for peer in self.registry():
            config = _read(os.path.join(self.cfg['lab_dir'], peer['name'], 'config.yaml'))
            if peer['name'] == self.name or not config or peer.get('machine_type') not in ('controlplane', 'init'):
                continue
            ca = ((next((d for d in yaml.safe_load_all(config) if d and 'kind' not in d), {}).get('machine') or {}).get('ca') or {})
            if ca.get('key') and base64.b64decode(ca['crt']) == ca_crt:
                return base64.b64decode(ca['key'])
        raise LookupError('no control plane with this OS CA is configured yet (trustd unreachable)')

    # ------------------------------------------------------------------ discovery registry

    def registry(self):
        """Every lab node's published status (status.json), including this node's."""
        try:
            with open(self.cfg['nodes_file'], encoding='utf-8') as handle:
                names = [n['name'] for n in json.load(handle)['nodes']]
        except (OSError, ValueError, KeyError):
            names = [self.name]
        result = []
        for name in names:
            data = _read(os.path.join(self.cfg['lab_dir'], name, 'status.json'))
            if data:
                try:
                    result.append(json.loads(data))
                except ValueError:
                    pass
        return result

    def discovery(self):
        """Cluster members: nodes that run a config of this node's cluster (what discovery reports). A node being
        reset has left (Talos removes its affiliate from the discovery service on reset, siderolabs/talos#6137)."""
        if not self.cluster_id:
            return []
        return [peer for peer in self.registry() if peer.get('cluster_id') == self.cluster_id
                and peer.get('stage') not in ('maintenance', 'resetting', 'shutting down')]

    def publish(self):
        status = {'name': self.name, 'hostname': self.name, 'node_id': self.node_id, 'address': self.address,
                  'version': self.tag, 'stage': self.stage, 'machine_type': self.machine_type or 'unknown',
                  'cluster_id': self.cluster_id, 'etcd': self.member.state if self.member else None}
        _write_private(self.path('status.json'), json.dumps(status))

    # ------------------------------------------------------------------ services

    def services(self):
        """[(id, state, healthy or None)] as ServiceList reports them."""
        if self.maintenance:
            return [('apid', 'Running', True), ('machined', 'Running', True), ('udevd', 'Running', True)]
        result = [('apid', 'Running', True), ('containerd', 'Running', True), ('cri', 'Running', True)]
        if self.member is not None:
            healthy = True if self.member.state == 'Running' else None
            state = 'Preparing' if self.member.state == 'Recovering' else self.member.state
            result.append(('etcd', state, healthy))
        result += [('kubelet', 'Running', True), ('machined', 'Running', True)]
        if self.is_controlplane:
            result.append(('trustd', 'Running', True))
        result.append(('udevd', 'Running', True))
        return result

    def unmet_conditions(self):
        if self.stage != 'running':
            return []
        if self.member is not None and self.member.state != 'Running':
            return [('serviceHealthCheck', 'etcd is %s' % self.member.state)]
        return []

    # ------------------------------------------------------------------ apply

    def dry_run_text(self, details, new_bytes):
        return 'Dry run summary:\n%s (skipped in dry-run).\nConfig diff:\n\n%s' % (details, config_diff(self.config_bytes, new_bytes))

    def set_config(self, data, docs):
        _write_private(self.path('config.yaml'), data)
        self.config_bytes, self.docs = data, docs
        self._sync_member()
        self.publish()

    def stage_config(self, data):
        _write_private(self.path('staged.yaml'), data)
        self.staged_bytes = data

    def take_staged(self):
        if self.staged_bytes is None:
            return
        data = self.staged_bytes
        self.set_config(data, validate.documents(data))
        os.remove(self.path('staged.yaml'))
        self.staged_bytes = None

    def schedule_revert(self, previous, timeout):
        """Try mode: put the previous config back after ``timeout`` unless another apply comes first."""
        self.cancel_revert()

        async def revert():
            await asyncio.sleep(timeout)
            LOG.info('try mode timed out: reverting to the previous config')
            self.set_config(previous, validate.documents(previous))
        self.try_task = asyncio.get_running_loop().create_task(revert())

    def cancel_revert(self):
        if self.try_task is not None:
            self.try_task.cancel()
            self.try_task = None

    # ------------------------------------------------------------------ etcd

    async def supervise_etcd(self):
        """Keep the control plane's etcd member going: restart it from its data after a reboot, or join
        the cluster once another control plane of the same cluster runs etcd (Talos waits the same way)."""
        while True:
            await asyncio.sleep(0.5)
            if self.stage != 'running' or self.member is None or self.member.running():
                await self._refresh_member_id()
                continue
            if self.member.state == 'Failed' and asyncio.get_running_loop().time() < self.etcd_retry_at:
                continue  # Talos restarts a failed service after a pause, not at once
            async with self.etcd_lock:
                if self.member.running() or self.member.state == 'Recovering':
                    continue
                try:
                    if self.member.has_data():
                        await self.member.start()
                    else:
                        peer = next((p for p in self.discovery() if p['name'] != self.name and p.get('etcd') == 'Running'), None)
                        if peer is None:
                            continue
                        LOG.info('joining the etcd cluster through %s', peer['name'])
                        await self.member.join(peer['address'])
                except etcd.EtcdError as exc:
                    LOG.warning('etcd: %s', exc)
                    if self.member.running():
                        await self.member.stop()
                    self.member.state = 'Failed'
                    self.etcd_retry_at = asyncio.get_running_loop().time() + FAILED_ETCD_BACKOFF
                self.publish()

    async def _refresh_member_id(self):
        if self.member is None or not self.member.running() or self.member.state != 'Running':
            if self.etcd_member_id is not None and (self.member is None or not self.member.running()):
                self.etcd_member_id = None
            return
        if self.etcd_member_id is None:
            try:
                status = await self.member.status()
                self.etcd_member_id = int(status['header']['member_id'])
            except (etcd.EtcdError, KeyError, ValueError):
                pass

    async def bootstrap(self):
        async with self.etcd_lock:
            await self.member.start()
            self.bootstrapped_here = True
        self.publish()
        await self._refresh_member_id()

    # ------------------------------------------------------------------ reboot

    async def reboot(self, seconds, before=None):
        """Go away for ``seconds`` (server closed, etcd stopped), then come back with a staged config applied."""
        self.stage = 'rebooting'
        self.publish()
        await self.server_control.stop()
        if self.member is not None:
            async with self.etcd_lock:
                await self.member.stop()
        self.etcd_member_id = None
        if before is not None:
            before()
        await asyncio.sleep(seconds)
        self.take_staged()
        self.stage = 'booting'
        self.publish()
        await self.server_control.start()
        self.stage = 'maintenance' if self.maintenance else 'running'
        self.publish()
