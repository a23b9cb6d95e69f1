"""One simulated Talos node: ``ip netns exec <ns> python -m lab.talos.node CONFIG.json``.

Serves the Talos API on the node address, port 50000, and keeps its etcd member going. The server
is stopped and started again for what real Talos does with apid: leaving maintenance mode (new
certificate, client certificates now required) and reboots (the node is gone for a while).
"""
import asyncio
import json
import logging
import os
import signal
import sys
import weakref

from grpclib.encoding.proto import ProtoCodec
from grpclib.server import Server

from ..kube import agent as kube_agent
from . import api, kubespan, machine, userdata
from .launcher import POWERED_OFF

LOG = logging.getLogger('lab.talos')


class _Server(Server):
    """grpclib's server, which also drops its open connections when it stops. grpclib's close() only stops
    listening and cancels running calls: a client's open connection would still be served, so a node that
    reboots or powers off would go on answering on it. A real machine leaves no TCP connection behind."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._protocols = weakref.WeakSet()

    def _protocol_factory(self):
        protocol = super()._protocol_factory()
        self._protocols.add(protocol)
        return protocol

    def close(self):
        super().close()
        for protocol in list(self._protocols):
            transport = getattr(getattr(protocol, 'connection', None), '_transport', None)
            if transport is not None and not transport.is_closing():
                transport.abort()


class ServerControl:
    """Starts and stops the node's gRPC server; ``refresh`` re-issues the API certificate in place."""

    def __init__(self, node, rules):
        self.node, self.rules = node, rules
        self.server = None
        self.context = None

    async def start(self):
        while True:
            try:
                self.context = self.node.server_context()
                break
            except LookupError as exc:
                # A worker waits for trustd (a configured control plane) as real Talos does: apid stays down.
                LOG.info('API certificate not available yet: %s', exc)
                await asyncio.sleep(1)
        self.server = _Server(api.handlers(self.node, self.rules), codec=ProtoCodec())
        await self.server.start(self.node.address, self.node.cfg['port'], ssl=self.context, reuse_address=True)
        if self.node.maintenance:
            userdata.note_maintenance(self.node)
        LOG.info('serving the Talos API (%s) on %s:%d', 'maintenance' if self.node.maintenance else 'mTLS',
                 self.node.address, self.node.cfg['port'])

    async def stop(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    def refresh(self):
        """certSANs may have changed: new handshakes get a certificate for the new config."""
        self.node.server_context()  # writes api.crt and api.key for the running config
        self.context.load_cert_chain(os.path.join(self.node.tls_dir, 'api.crt'), os.path.join(self.node.tls_dir, 'api.key'))


async def run(config):
    node = machine.Node(config)
    userdata.boot(node)  # a cloud server's config comes from the metadata service, as on Hetzner
    control = ServerControl(node, api.load_rules())
    node.server_control = control
    node.publish()
    await control.start()
    supervisor = asyncio.get_running_loop().create_task(node.supervise_etcd())
    node.kubespan = kubespan.Manager(node)  # WireGuard when the config enables KubeSpan (kubespan.py)
    mesh = asyncio.get_running_loop().create_task(node.kubespan.run())
    kube = asyncio.get_running_loop().create_task(kube_agent.Agent(node).run())  # API server, kubelet (lab/kube/agent.py)
    stop = asyncio.Event()

    def power_off():
        # A reset without reboot ends the process, as the machine powers off; the marker tells the lab's machine
        # manager (machines.py) that the guest switched itself off, so that the hypervisor shows it off, not crashed.
        with open(os.path.join(config['dir'], POWERED_OFF), 'w', encoding='ascii') as handle:
            handle.write('off\n')
        stop.set()
    node.power_off = power_off
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    supervisor.cancel()
    mesh.cancel()
    kube.cancel()
    await asyncio.gather(kube, return_exceptions=True)
    await asyncio.to_thread(node.kubespan.stop)
    await control.stop()
    if node.member is not None:
        await node.member.stop()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m lab.talos.node CONFIG.json')
    with open(argv[0], encoding='utf-8') as handle:
        config = json.load(handle)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s ' + config['name'] + ' %(levelname)s %(message)s')
    asyncio.run(run(config))


if __name__ == '__main__':
    main()
