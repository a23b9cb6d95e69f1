"""The API-server stand-in of one control plane: ``python -m lab.kube.apiserver CONFIG.json``.

Started by the node (lab/kube/agent.py) inside the node's network namespace once the node runs a
control-plane config and its etcd member is up; stopped when the node reboots or stops. It serves HTTPS
on the node address, port 6443, with a serving certificate from the cluster's Kubernetes CA and
client-certificate authentication against that CA; it stores everything in the local etcd member (so
all control planes serve one cluster), creates the objects kube-apiserver makes itself at start-up,
writes the lab's admin kubeconfig, and runs the controller stand-ins while it holds the leader lease.
"""
import asyncio
import base64
import fcntl
import json
import logging
import os
import signal
import ssl
import sys

import yaml
from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..talos import certs
from . import bootstrap, controllers, registry as registries, server, store as stores

LOG = logging.getLogger('lab.kube')


def serving_context(config):
    """TLS 1.2+, a serving certificate from the cluster CA, client certificates verified against it when sent."""
    with open(config['ca_crt'], 'rb') as handle:
        ca_pem = handle.read()
    with open(config['ca_key'], 'rb') as handle:
        ca_key_pem = handle.read()
    ca_cert = x509.load_pem_x509_certificate(ca_pem)
    ca_key = certs.load_pem_key(ca_key_pem)
    cert, key = certs.issue(ca_cert, ca_key, 'kube-apiserver', certs._sans(config['sans'], []),  # pylint: disable=protected-access
                            ExtendedKeyUsageOID.SERVER_AUTH)
    cert_pem, key_pem = certs.pem_pair(cert, key)
    tls_dir = config['tls_dir']
    crt_path, key_path = os.path.join(tls_dir, 'apiserver.crt'), os.path.join(tls_dir, 'apiserver.key')
    certs.write_private(crt_path, cert_pem)
    certs.write_private(key_path, key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(crt_path, key_path)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=ca_pem.decode('ascii'))
    return context


# ------------------------------------------------------------------ the lab's admin kubeconfig

def _lock(state_dir):
    fd = os.open(os.path.join(state_dir, '.env.lock'), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _replace(path, data):
    temp = '%s.%d.tmp' % (path, os.getpid())
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
    os.replace(temp, path)


def write_kubeconfig(config):
    """``<lab>/kubeconfig`` (0600): an admin kubeconfig of this cluster, and ``KUBECONFIG=`` in ``<lab>/env``.

    Written by whichever control plane's API comes up first, rewritten when the cluster (its CA or
    endpoint) changed; kept otherwise, so a client holding it keeps working.
    """
    state_dir = config['state_dir']
    if not os.path.isdir(state_dir):
        return None
    path = os.path.join(state_dir, 'kubeconfig')
    with open(config['ca_crt'], 'rb') as handle:
        ca_pem = handle.read()
    fd = _lock(state_dir)
    try:
        try:
            with open(path, encoding='utf-8') as handle:
                current = yaml.safe_load(handle) or {}
            cluster = current['clusters'][0]['cluster']
            if base64.b64decode(cluster['certificate-authority-data']) == ca_pem and cluster['server'] == config['endpoint']:
                path_ok = True
            else:
                path_ok = False
        except (OSError, KeyError, IndexError, TypeError, ValueError, yaml.YAMLError):
            path_ok = False
        if not path_ok:
            with open(config['ca_key'], 'rb') as handle:
                content = certs.kubeconfig(config['cluster_name'], config['endpoint'], ca_pem, handle.read())
            _replace(path, content)
            LOG.info('wrote the admin kubeconfig %s', path)
        env = os.path.join(state_dir, 'env')
        if os.path.exists(env):
            with open(env, encoding='utf-8') as handle:
                lines = [line for line in handle.read().splitlines() if not line.startswith('KUBECONFIG=')]
            _replace(env, ('\n'.join(lines + ['KUBECONFIG=%s' % path]) + '\n').encode())
    finally:
        os.close(fd)
    return path


# ------------------------------------------------------------------ main

async def _wait_for_etcd(store):
    while True:
        try:
            return await store.revision()
        except stores.Unavailable as exc:
            LOG.info('waiting for etcd: %s', exc)
            await asyncio.sleep(0.5)


async def _follow_crds(registry, start):
    """Keep the registry's CRDs current (every control plane serves the kinds of Established CRDs)."""
    while True:
        try:
            async for kind, _key, obj, prev, _revision in registry.store.watch(registries.CRD_PREFIX, start):
                if kind == 'DELETE':
                    registry.crd_event(prev, deleted=True)
                else:
                    registry.crd_event(obj)
                start = _revision + 1
        except stores.Unavailable as exc:
            LOG.info('CRD watch: %s', exc)
            await asyncio.sleep(1)
            try:
                start = await registry.load_crds() + 1
            except stores.Unavailable:
                pass


async def run(config):
    store = stores.Store(config.get('etcd', 'http://127.0.0.1:2379'))
    await store.start()
    await _wait_for_etcd(store)
    registry = registries.Registry(store, config['kube_version'])
    start = await registry.load_crds() + 1
    tasks = [asyncio.ensure_future(_follow_crds(registry, start))]
    healthy = {'etcd': True}

    async def health():
        while True:
            try:
                await store.revision()
                healthy['etcd'] = True
            except stores.Unavailable:
                healthy['etcd'] = False
            await asyncio.sleep(2)
    tasks.append(asyncio.ensure_future(health()))
    api = server.Api(registry, config['address'], config['kube_version'], ready=lambda: healthy['etcd'])
    runner = web.AppRunner(api.app(), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, config['address'], config.get('port', 6443), ssl_context=serving_context(config), reuse_address=True)
    await site.start()
    LOG.info('serving the Kubernetes API v%s on https://%s:%d', config['kube_version'], config['address'], config.get('port', 6443))
    await bootstrap.ensure(registry, config)
    write_kubeconfig(config)
    manager = controllers.ControllerManager(registry, config)
    tasks.append(asyncio.ensure_future(manager.run()))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await manager.stop()
    await runner.cleanup()
    await store.close()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m lab.kube.apiserver CONFIG.json')
    with open(argv[0], encoding='utf-8') as handle:
        config = json.load(handle)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s ' + config['name'] + ' apiserver %(levelname)s %(message)s')
    asyncio.run(run(config))


if __name__ == '__main__':
    main()
