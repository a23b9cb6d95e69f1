# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""COSI resources of KubeSpan and cluster discovery, decoded into plain dicts.

Only non-sensitive types are read: peer statuses (``kubespan``) and members (``cluster``).
``KubeSpanIdentities`` holds the node's WireGuard private key and is never asked for.
"""

from __future__ import annotations

import datetime
import ipaddress

from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import definitions_cluster_pb2
from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import definitions_enums_pb2
from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import definitions_kubespan_pb2

from .states import STATES, as_time

PEER_STATUSES = ('kubespan', 'KubeSpanPeerStatuses.kubespan.talos.dev')
MEMBERS = ('cluster', 'Members.cluster.talos.dev')

_MACHINE_TYPES = {'TYPE_UNKNOWN': 'unknown', 'TYPE_INIT': 'init', 'TYPE_CONTROL_PLANE': 'controlplane', 'TYPE_WORKER': 'worker'}


def ip_text(raw):
    """common.NetIP bytes (4 or 16) as text; None when empty (Go's zero netip.Addr)."""
    if not raw:
        return None
    return str(ipaddress.ip_address(bytes(raw)))


def ip_port_text(message):
    """common.NetIPPort as ``ip:port`` (``[v6]:port``); None when the address is unset."""
    host = ip_text(message.ip)
    if host is None:
        return None
    if ':' in host:
        return '[%s]:%d' % (host, message.port)
    return '%s:%d' % (host, message.port)


def host_of(endpoint):
    """The address part of ``ip:port`` / ``[v6]:port`` text."""
    if not endpoint:
        return None
    if endpoint.startswith('['):
        return endpoint[1:endpoint.index(']')]
    return endpoint.rsplit(':', 1)[0]


def _time(spec, field):
    if not spec.HasField(field):
        return None
    return as_time(getattr(spec, field).ToDatetime(tzinfo=datetime.timezone.utc))


def peer_status(resource):
    """One ``KubeSpanPeerStatuses`` resource as a dict; ``id`` is the peer's WireGuard public key."""
    spec = definitions_kubespan_pb2.PeerStatusSpec.FromString(resource.spec.proto_spec)
    state = STATES[spec.state] if 0 <= spec.state < len(STATES) else 'unknown'
    return dict(
        id=resource.metadata.id,
        label=spec.label,
        endpoint=ip_port_text(spec.endpoint) if spec.HasField('endpoint') else None,
        state=state,
        receive_bytes=spec.receive_bytes,
        transmit_bytes=spec.transmit_bytes,
        last_handshake_time=_time(spec, 'last_handshake_time'),
        last_used_endpoint=ip_port_text(spec.last_used_endpoint) if spec.HasField('last_used_endpoint') else None,
        last_endpoint_change=_time(spec, 'last_endpoint_change'),
    )


def member(resource):
    """One ``Members`` resource as a dict; ``name`` is the member's Kubernetes node name (the resource id)."""
    spec = definitions_cluster_pb2.MemberSpec.FromString(resource.spec.proto_spec)
    type_name = definitions_enums_pb2.MachineType.Name(spec.machine_type) if spec.machine_type in (0, 1, 2, 3) else ''
    return dict(
        name=resource.metadata.id,
        hostname=spec.hostname,
        addresses=[text for text in (ip_text(address.ip) for address in spec.addresses) if text],
        machine_type=_MACHINE_TYPES.get(type_name, 'unknown'),
    )
