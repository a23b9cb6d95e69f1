"""The node's COSI resources (``cosi.resource.State`` Get/List), computed from the node's state on read.

Each type is registered once with its namespace, whether it is sensitive (``os:admin`` only), and a
producer ``node -> [(id, proto spec message or bytes, yaml-able spec)]``. Later parts register
more types the same way (KubeSpan peer statuses read from WireGuard: ``register(...)``).
A resource's version goes up whenever its spec bytes change, as COSI versions do.
"""
import datetime
import hashlib
import ipaddress

import yaml

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from . import kubespan
from .proto import (common_pb2, cosi_resource_pb2, definitions_cluster_pb2, definitions_etcd_pb2, definitions_kubespan_pb2,
                    definitions_runtime_pb2, definitions_v1alpha1_pb2, resource_config_pb2)

TYPES = {}


class ResourceType:
    def __init__(self, name, namespace, sensitive, producer, owner):
        self.name, self.namespace, self.sensitive, self.producer, self.owner = name, namespace, sensitive, producer, owner


def register(name, namespace, producer, sensitive=False, owner=''):
    TYPES[name.lower()] = ResourceType(name, namespace, sensitive, producer, owner)


def lookup(type_name):
    return TYPES.get((type_name or '').lower())


NAMESPACES = {'runtime', 'config', 'cluster', 'cluster-raw', 'etcd', 'kubespan', 'network', 'secrets', 'k8s', 'v1alpha1'}

_STAGES = {'unknown': 0, 'booting': 1, 'installing': 2, 'maintenance': 3, 'running': 4, 'rebooting': 5,
           'shutting down': 6, 'resetting': 7, 'upgrading': 8}
_MACHINE_TYPES = {'init': 1, 'controlplane': 2, 'worker': 3}


def _net_ip(address):
    return common_pb2.NetIP(ip=ipaddress.ip_address(address).packed)


# ----------------------------------------------------------------------------- producers

def _machine_status(node):
    conditions = node.unmet_conditions()
    spec = definitions_runtime_pb2.MachineStatusSpec(stage=_STAGES[node.stage])
    spec.status.ready = not conditions and node.stage == 'running'
    for name, reason in conditions:
        spec.status.unmet_conditions.add(name=name, reason=reason)
    unmet = [{'name': n, 'reason': r} for n, r in conditions]
    text = {'stage': node.stage, 'status': {'ready': spec.status.ready, 'unmetConditions': unmet}}
    return [('machine', spec, text)]


def _machine_configs(node):
    if node.config_bytes is None:
        return []

    # yaml_spec is usable only on v1.13 (annotation talos.dev/yaml-spec); v1.9.6 leaves it empty.
    def entry(ident, data):
        text = data.decode() if node.version != 'v1.9.6' else {}
        return (ident, resource_config_pb2.MachineConfigSpec(yaml_marshalled=data), text)
    result = [entry('v1alpha1', node.config_bytes)]
    if node.version != 'v1.9.6':
        result.append(entry('persistent', node.staged_bytes or node.config_bytes))
    return result


def _machine_type(node):
    kind = node.machine_type
    if kind is None:
        return []
    raw = bytes([0x08, _MACHINE_TYPES[kind]])  # resource.config.MachineTypeSpec{machine_type = 1}
    return [('machine-type', raw, kind)]


def _members(node):
    result = []
    for peer in node.discovery():
        spec = definitions_cluster_pb2.MemberSpec(
            node_id=peer['node_id'], addresses=[_net_ip(peer['address'])], hostname=peer['hostname'],
            machine_type=_MACHINE_TYPES.get(peer['machine_type'], 0), operating_system='Talos (%s)' % peer['version'])
        text = {'nodeId': peer['node_id'], 'addresses': [peer['address']], 'hostname': peer['hostname'],
                'machineType': peer['machine_type'], 'operatingSystem': 'Talos (%s)' % peer['version']}
        if peer['machine_type'] == 'controlplane':
            spec.control_plane.api_server_port = 6443
            text['controlPlane'] = {'port': 6443}
        result.append((peer['hostname'], spec, text))
    return result


def _affiliates(node):
    result = []
    for peer in node.discovery():
        spec = definitions_cluster_pb2.AffiliateSpec(
            node_id=peer['node_id'], addresses=[_net_ip(peer['address'])], hostname=peer['hostname'], nodename=peer['hostname'],
            machine_type=_MACHINE_TYPES.get(peer['machine_type'], 0), operating_system='Talos (%s)' % peer['version'])
        text = {'nodeId': peer['node_id'], 'addresses': [peer['address']], 'hostname': peer['hostname'],
                'nodename': peer['hostname'], 'operatingSystem': 'Talos (%s)' % peer['version'], 'machineType': peer['machine_type']}
        if peer['machine_type'] == 'controlplane':
            spec.control_plane.api_server_port = 6443
            text['controlPlane'] = {'port': 6443}
        result.append((peer['node_id'], spec, text))
    return result


def _etcd_members(node):
    member_id = node.etcd_member_id
    if member_id is None:
        return []
    hex_id = '%016x' % member_id
    return [('local', definitions_etcd_pb2.MemberSpec(member_id=hex_id), {'memberID': hex_id})]


def _services(node):
    result = []
    for service_id, state, healthy in node.services():
        if state != 'Running':
            continue  # Services resources exist only while the service runs.
        spec = definitions_v1alpha1_pb2.ServiceSpec(running=True, healthy=bool(healthy), unknown=healthy is None)
        result.append((service_id, spec, {'running': True, 'healthy': bool(healthy), 'unknown': healthy is None}))
    return result


register('MachineStatuses.runtime.talos.dev', 'runtime', _machine_status, owner='runtime.MachineStatusController')
register('MachineConfigs.config.talos.dev', 'config', _machine_configs, sensitive=True)
register('MachineTypes.config.talos.dev', 'config', _machine_type, owner='config.MachineTypeController')
register('Members.cluster.talos.dev', 'cluster', _members, owner='cluster.MemberController')
register('Affiliates.cluster.talos.dev', 'cluster', _affiliates, owner='cluster.AffiliateMergeController')
register('EtcdMembers.etcd.talos.dev', 'etcd', _etcd_members, owner='etcd.MemberController')
register('Services.v1alpha1.talos.dev', 'runtime', _services, owner='v1alpha1.ServiceController')


# ----------------------------------------------------------------------------- KubeSpan (kubespan.py: real WireGuard)

def _kubespan_peer_statuses(node):
    return kubespan.peer_statuses(node, common_pb2, definitions_kubespan_pb2)


def _kubespan_peer_specs(node):
    return kubespan.peer_specs(node, common_pb2, definitions_kubespan_pb2)


def _kubespan_identities(_node):
    # The identity holds the node's WireGuard private key: the lab never serves it, not even to os:admin.
    raise GRPCError(Status.PERMISSION_DENIED, 'the lab never serves KubeSpanIdentities: the WireGuard private key stays on the node')


register('KubeSpanPeerStatuses.kubespan.talos.dev', 'kubespan', _kubespan_peer_statuses, owner='kubespan.ManagerController')
register('KubeSpanPeerSpecs.kubespan.talos.dev', 'kubespan', _kubespan_peer_specs, owner='kubespan.PeerSpecController')
register('KubeSpanIdentities.kubespan.talos.dev', 'kubespan', _kubespan_identities, sensitive=True, owner='kubespan.IdentityController')


# ----------------------------------------------------------------------------- wire form

class Store:
    """Turns producer output into ``cosi.resource.Resource`` messages with stable versions and times."""

    def __init__(self):
        self._seen = {}  # (type, id) -> (digest, version, created, updated)

    def resources(self, node, rtype):
        out = []
        for ident, spec, text in rtype.producer(node):
            raw = spec if isinstance(spec, bytes) else spec.SerializeToString()
            out.append(self._wrap(rtype, ident, raw, text))
        return out

    def _wrap(self, rtype, ident, raw, text):
        key = (rtype.name, ident)
        digest = hashlib.sha256(raw).digest()
        now = datetime.datetime.now(datetime.timezone.utc)
        old = self._seen.get(key)
        if old is None:
            old = (digest, 1, now, now)
        elif old[0] != digest:
            old = (digest, old[1] + 1, old[2], now)
        self._seen[key] = old
        metadata = cosi_resource_pb2.Metadata(namespace=rtype.namespace, type=rtype.name, id=ident, version=str(old[1]),
                                              owner=rtype.owner, phase='running')
        metadata.created.FromDatetime(old[2])
        metadata.updated.FromDatetime(old[3])
        yaml_text = text if isinstance(text, str) else yaml.safe_dump(text, sort_keys=False)
        return cosi_resource_pb2.Resource(metadata=metadata, spec=cosi_resource_pb2.Spec(proto_spec=raw, yaml_spec=yaml_text))

    @staticmethod
    def tombstone(rtype, namespace, ident):
        metadata = cosi_resource_pb2.Metadata(namespace=namespace, type=rtype.name, id=ident, version='undefined', phase='running')
        return cosi_resource_pb2.Resource(metadata=metadata)
