# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Talos API server for the client's protocol tests: grpclib on 127.0.0.1 with real TLS.

It serves our generated service base classes over HTTP/2 with ALPN h2, takes the caller's roles from
the Organization values of the verified client certificate and enforces the roles of each call from
the interface facts (v1.9.6). In maintenance mode it checks no client certificate and answers as a
v1.9.6 maintenance server does. Not the lab simulator: just enough of a node to test the client.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import ssl
import tarfile
import tempfile
import threading

from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError
from grpclib.server import Server

from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import (
    common_pb2, cosi_resource_pb2, cosi_state_grpc, cosi_state_pb2, definitions_enums_pb2, definitions_runtime_pb2,
    machine_grpc, machine_pb2, resource_config_pb2)

# The lab simulator's rules, derived from the interface facts (tests/unit/test_oracle_copies.py checks them).
ROLES_PATH = os.path.join(os.path.dirname(__file__), *(['..'] * 6), 'lab', 'talos', 'api_roles.json')


def allowed_roles(tag='v1.9.6'):
    """{full method: set of roles} of Talos ``tag``."""
    with open(ROLES_PATH, encoding='utf-8') as handle:
        roles = json.load(handle)['roles'][tag]
    return {method: set(allowed) for method, allowed in roles.items()}


def kubeconfig_archive(content):
    """What Talos streams for Kubeconfig: a gzip'd tar holding one file named kubeconfig, mode 0600."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        info = tarfile.TarInfo('kubeconfig')
        info.size = len(content)
        info.mode = 0o600
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(buffer.getvalue())


class NodeState:
    """What the fake node knows and what it saw."""

    def __init__(self, maintenance=False):
        self.maintenance = maintenance
        self.tag = 'v1.9.6'
        self.roles = allowed_roles()
        self.unavailable_left = 0
        self.kubeconfig = b'apiVersion: v1\nkind: Config\nclusters: []\n'
        self.snapshot = os.urandom(300 * 1024)
        self.running_config = b'version: v1alpha1\nmachine:\n  type: controlplane\n'
        self.calls = []  # (method, node metadata or None)


def _peer_roles(stream):
    cert = stream.peer.cert()
    if not cert:
        return set()
    return {value for rdn in cert.get('subject', ()) for key, value in rdn if key == 'organizationName' and value}


async def _admit(state, stream, method):
    state.calls.append((method, stream.metadata.get('node')))
    roles = {'os:reader'} if state.maintenance else _peer_roles(stream)
    if not roles & state.roles[method]:
        raise GRPCError(Status.PERMISSION_DENIED, 'not authorized')
    if state.unavailable_left > 0:
        state.unavailable_left -= 1
        raise GRPCError(Status.UNAVAILABLE, 'connection error: desc = "transport: node is rebooting"')
    return await stream.recv_message()


def _unimplemented_base(base):
    """A subclass of a generated base class whose every call answers UNIMPLEMENTED, as Talos does for
    calls a server does not serve; the fake node overrides the calls it implements."""
    async def unimplemented(_self, stream):
        raise GRPCError(Status.UNIMPLEMENTED, 'method not implemented')
    return type('Unimplemented' + base.__name__, (base,), {name: unimplemented for name in base.__abstractmethods__})


class FakeMachine(_unimplemented_base(machine_grpc.MachineServiceBase)):

    def __init__(self, state):
        self.state = state

    async def Version(self, stream):
        await _admit(self.state, stream, '/machine.MachineService/Version')
        if self.state.maintenance:
            raise GRPCError(Status.UNIMPLEMENTED, 'API is not implemented in maintenance mode')
        await stream.send_message(machine_pb2.VersionResponse(messages=[machine_pb2.Version(
            version=machine_pb2.VersionInfo(tag=self.state.tag, arch='amd64'),
            platform=machine_pb2.PlatformInfo(name='metal', mode='metal'),
            features=machine_pb2.FeaturesInfo(rbac=True))]))

    async def EtcdMemberList(self, stream):
        await _admit(self.state, stream, '/machine.MachineService/EtcdMemberList')
        members = [machine_pb2.EtcdMember(id=0x1A2B3C4D5E6F7081 + index, hostname='cp-%d' % index,
                                          peer_urls=['https://10.5.0.%d:2380' % index]) for index in (1, 2, 3)]
        await stream.send_message(machine_pb2.EtcdMemberListResponse(messages=[machine_pb2.EtcdMembers(members=members)]))

    async def ApplyConfiguration(self, stream):
        request = await _admit(self.state, stream, '/machine.MachineService/ApplyConfiguration')
        if b'unknownKey' in request.data:
            raise GRPCError(Status.INVALID_ARGUMENT, 'failed to parse config: unknown keys found during decoding:\n'
                                                     'machine:\n    unknownKey: 1\n')
        details = 'Applied configuration without a reboot'
        if request.dry_run:
            details = 'Dry run summary:\n%s (skipped in dry-run).\nConfig diff:\n\nNo changes.' % details
        await stream.send_message(machine_pb2.ApplyConfigurationResponse(messages=[machine_pb2.ApplyConfiguration(
            mode=machine_pb2.ApplyConfigurationRequest.NO_REBOOT, mode_details=details)]))

    async def Kubeconfig(self, stream):
        await _admit(self.state, stream, '/machine.MachineService/Kubeconfig')
        archive = kubeconfig_archive(self.state.kubeconfig)
        # Several messages, so that the client has to put the bytes back together.
        step = max(1, len(archive) // 3)
        for start in range(0, len(archive), step):
            await stream.send_message(common_pb2.Data(bytes=archive[start:start + step]))

    async def EtcdSnapshot(self, stream):
        await _admit(self.state, stream, '/machine.MachineService/EtcdSnapshot')
        data = self.state.snapshot
        for start in range(0, len(data), 32 * 1024):
            await stream.send_message(common_pb2.Data(bytes=data[start:start + 32 * 1024]))

    async def ServiceList(self, stream):
        await _admit(self.state, stream, '/machine.MachineService/ServiceList')
        etcd = machine_pb2.ServiceInfo(id='etcd', state='Preparing', health=machine_pb2.ServiceHealth(unknown=True))
        etcd.health.last_change.FromSeconds(1700000000)
        await stream.send_message(machine_pb2.ServiceListResponse(messages=[machine_pb2.ServiceList(services=[etcd])]))


class FakeState(_unimplemented_base(cosi_state_grpc.StateBase)):

    def __init__(self, state):
        self.state = state

    async def Get(self, stream):
        request = await _admit(self.state, stream, '/cosi.resource.State/Get')
        metadata = cosi_resource_pb2.Metadata(namespace=request.namespace, type=request.type, id=request.id, version='3',
                                              phase='running')
        if (request.namespace, request.type, request.id) == ('config', 'MachineConfigs.config.talos.dev', 'v1alpha1'):
            # A sensitive type: admin only, whatever the call's own rule allows.
            if 'os:admin' not in _peer_roles(stream) or self.state.maintenance:
                raise GRPCError(Status.PERMISSION_DENIED, 'not authorized')
            spec = resource_config_pb2.MachineConfigSpec(yaml_marshalled=self.state.running_config)
            await stream.send_message(cosi_state_pb2.GetResponse(resource=cosi_resource_pb2.Resource(
                metadata=metadata, spec=cosi_resource_pb2.Spec(proto_spec=spec.SerializeToString()))))
            return
        if (request.namespace, request.type, request.id) != ('runtime', 'MachineStatuses.runtime.talos.dev', 'machine'):
            raise GRPCError(Status.NOT_FOUND, 'resource %s(%s/%s) doesn\'t exist' % (request.type, request.namespace, request.id))
        stage = (definitions_enums_pb2.MACHINE_STAGE_MAINTENANCE if self.state.maintenance
                 else definitions_enums_pb2.MACHINE_STAGE_RUNNING)
        spec = definitions_runtime_pb2.MachineStatusSpec(stage=stage)
        resource = cosi_resource_pb2.Resource(
            metadata=metadata,
            spec=cosi_resource_pb2.Spec(proto_spec=spec.SerializeToString()))
        await stream.send_message(cosi_state_pb2.GetResponse(resource=resource))


def server_context(server, client_ca=None):
    """TLS for the fake node: its certificate, ALPN h2, and client certificates verified against ``client_ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    directory = tempfile.mkdtemp(prefix='fake-node-')
    try:
        for name, data in (('crt', server.cert_pem), ('key', server.key_pem(talos_header=False))):
            with open(os.path.join(directory, name), 'wb') as handle:
                handle.write(data)
        context.load_cert_chain(os.path.join(directory, 'crt'), os.path.join(directory, 'key'))
    finally:
        for name in ('crt', 'key'):
            if os.path.exists(os.path.join(directory, name)):
                os.remove(os.path.join(directory, name))
        os.rmdir(directory)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=client_ca.cert_pem.decode('ascii'))
    context.set_alpn_protocols(['h2'])
    return context


class LoopServers:
    """grpclib servers on an event loop in a thread of their own, so that the synchronous client can call them.

    Subclasses start their servers in ``_start`` (on that loop) and add them to ``self._servers``.
    """

    def __init__(self, thread_name):
        self._servers = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=thread_name, daemon=True)

    async def _start(self):
        raise NotImplementedError

    async def _serve(self, services, address, context):
        """Start one server on a free port of ``address``; return the port."""
        server = Server(services, codec=ProtoCodec())
        await server.start(address, 0, ssl=context)
        self._servers.append(server)
        return server._server.sockets[0].getsockname()[1]  # pylint: disable=protected-access

    async def _stop(self):
        for server in self._servers:
            server.close()
            await server.wait_closed()

    def __enter__(self):
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc_info):
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


class FakeNode(LoopServers):
    """One fake node on 127.0.0.1."""

    def __init__(self, state, context):
        super().__init__('fake-talos-node')
        self.state = state
        self.context = context
        self.port = None

    async def _start(self):
        self.port = await self._serve([FakeMachine(self.state), FakeState(self.state)], '127.0.0.1', self.context)

    @property
    def endpoint(self):
        return '127.0.0.1:%d' % self.port
