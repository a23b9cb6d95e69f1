# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A mesh of small Talos COSI servers for kubespan_verify, with peer statuses chosen per direction.

Each node is a real gRPC server (grpclib) on its own loopback address with real TLS: a server
certificate signed by an OS CA made at test time, client certificates required and their
Organization values taken as roles, as Talos does. It answers ``cosi.resource.State/List`` for
``KubeSpanPeerStatuses`` and ``Members`` from a scenario, with timestamps relative to the moment of
the call and counters that grow with time, and refuses the sensitive ``KubeSpanIdentities`` to
anyone but ``os:admin``. It records every type asked for, so tests can prove what was never read.
The lab's nodes run real WireGuard (tests/integration/talos_kubespan); these servers show the states
and ages real WireGuard cannot be made to show on demand.
"""

from __future__ import annotations

import datetime
import ipaddress
import time

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import (
    common_pb2, cosi_resource_pb2, cosi_state_grpc, cosi_state_pb2, definitions_cluster_pb2, definitions_enums_pb2,
    definitions_kubespan_pb2)
from api import fake_node

PEER_STATUSES = ('kubespan', 'KubeSpanPeerStatuses.kubespan.talos.dev')
MEMBERS = ('cluster', 'Members.cluster.talos.dev')
IDENTITIES = ('kubespan', 'KubeSpanIdentities.kubespan.talos.dev')
READ_ROLES = {'os:admin', 'os:operator', 'os:reader'}  # State/List in the roles table
STATES = {'unknown': definitions_enums_pb2.PEER_STATE_UNKNOWN, 'up': definitions_enums_pb2.PEER_STATE_UP,
          'down': definitions_enums_pb2.PEER_STATE_DOWN}


def healthy_view():
    """What a node says about a peer on a working link."""
    return dict(state='up', handshake=20.0, change=600.0, used=True, rx=50000, tx=60000, rate=2000)


def _ip_port(text):
    host, port = text.rsplit(':', 1)
    return common_pb2.NetIPPort(ip=ipaddress.ip_address(host.strip('[]')).packed, port=int(port))


def _resource(namespace, kind, ident, spec):
    return cosi_resource_pb2.Resource(
        metadata=cosi_resource_pb2.Metadata(namespace=namespace, type=kind, id=ident, version='1', phase='running'),
        spec=cosi_resource_pb2.Spec(proto_spec=spec.SerializeToString()))


class MeshNode:
    """One node: its name, address, what it says about each peer (``views``), the members it knows."""

    def __init__(self, name, address, views, members, started):
        self.name = name
        self.address = address
        self.views = views
        self.members = members  # {name: address}
        self.started = started
        self.asked = []  # (namespace, type) of every List
        self.proxied = 0  # calls that reached it through another node

    def peer_statuses(self):
        now = time.time()
        result = []
        for peer, view in self.views.items():
            endpoint = view.get('endpoint') or '%s:51820' % self.members.get(peer, '192.0.2.254')
            grown = int(view['rate'] * (now - self.started))
            spec = definitions_kubespan_pb2.PeerStatusSpec(
                endpoint=_ip_port(endpoint), label=peer, state=STATES[view['state']],
                receive_bytes=view['rx'] + (grown if view['rx'] else 0), transmit_bytes=view['tx'] + grown)
            if view['used']:
                spec.last_used_endpoint.CopyFrom(_ip_port(endpoint))
            for field, key in (('last_handshake_time', 'handshake'), ('last_endpoint_change', 'change')):
                if view[key] is not None:
                    getattr(spec, field).FromDatetime(datetime.datetime.fromtimestamp(now - view[key], datetime.timezone.utc))
            result.append(_resource(PEER_STATUSES[0], PEER_STATUSES[1], 'pubkey-%s=' % peer, spec))
        return result

    def member_resources(self):
        return [_resource(MEMBERS[0], MEMBERS[1], name, definitions_cluster_pb2.MemberSpec(
            node_id='id-' + name, hostname=name, addresses=[common_pb2.NetIP(ip=ipaddress.ip_address(address).packed)],
            machine_type=definitions_enums_pb2.TYPE_WORKER)) for name, address in self.members.items()]


def _roles(stream):
    cert = stream.peer.cert()
    return {value for rdn in (cert or {}).get('subject', ()) for key, value in rdn if key == 'organizationName' and value}


class _State(cosi_state_grpc.StateBase):

    def __init__(self, node, by_address):
        self.node = node
        self.by_address = by_address

    async def List(self, stream):
        request = await stream.recv_message()
        node = self.node
        target = stream.metadata.get('node')
        if target and target != node.address:
            # A control plane's apid proxies a call with "node" metadata 1:1 to that node.
            if target not in self.by_address:
                raise GRPCError(Status.UNAVAILABLE, 'connection error: desc = "transport: dial tcp %s:50000: connect: '
                                                    'connection refused"' % target)
            node = self.by_address[target]
            node.proxied += 1
        return await self._list(stream, node, request)

    async def _list(self, stream, node, request):
        node.asked.append((request.namespace, request.type))
        roles = _roles(stream)
        if not roles & READ_ROLES:
            raise GRPCError(Status.PERMISSION_DENIED, 'not authorized')
        kind = (request.namespace, request.type)
        if kind == PEER_STATUSES:
            resources = node.peer_statuses()
        elif kind == MEMBERS:
            resources = node.member_resources()
        elif kind == IDENTITIES:
            if 'os:admin' not in roles:
                raise GRPCError(Status.PERMISSION_DENIED, 'not authorized')
            resources = []
        else:
            raise GRPCError(Status.PERMISSION_DENIED, 'resource type "%s" is not supported' % request.type)
        for resource in resources:
            await stream.send_message(cosi_state_pb2.ListResponse(resource=resource))

    async def Get(self, stream):
        raise GRPCError(Status.UNIMPLEMENTED, 'method not implemented')

    async def Watch(self, stream):
        raise GRPCError(Status.UNIMPLEMENTED, 'method not implemented')


class Mesh(fake_node.LoopServers):
    """Servers for ``nodes`` ({name: (address, context, views)}) on one event loop in a thread of their own."""

    def __init__(self, members, nodes):
        super().__init__('kubespan-mesh')
        started = time.time()
        self.nodes = {name: MeshNode(name, address, views, members, started) for name, (address, _context, views) in nodes.items()}
        self.contexts = {name: context for name, (_address, context, _views) in nodes.items()}
        self.ports = {}

    async def _start(self):
        by_address = {node.address: node for node in self.nodes.values()}
        for name, node in self.nodes.items():
            self.ports[name] = await self._serve([_State(node, by_address)], node.address, self.contexts[name])

    def endpoint(self, name):
        return '%s:%d' % (self.nodes[name].address, self.ports[name])
