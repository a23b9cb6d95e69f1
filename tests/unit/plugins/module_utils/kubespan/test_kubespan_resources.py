# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decoding KubeSpanPeerStatuses and Members resources from their protobuf spec, as a node sends them."""

from __future__ import annotations

import datetime
import ipaddress

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.resources import host_of, member, peer_status
from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import (
    common_pb2, cosi_resource_pb2, definitions_cluster_pb2, definitions_enums_pb2, definitions_kubespan_pb2)

UTC = datetime.timezone.utc


def resource(resource_id, spec):
    return cosi_resource_pb2.Resource(metadata=cosi_resource_pb2.Metadata(id=resource_id),
                                      spec=cosi_resource_pb2.Spec(proto_spec=spec.SerializeToString()))


def ip_port(text, port):
    return common_pb2.NetIPPort(ip=ipaddress.ip_address(text).packed, port=port)


def test_a_peer_status_decodes_with_times_endpoints_and_state():
    spec = definitions_kubespan_pb2.PeerStatusSpec(
        endpoint=ip_port('192.0.2.11', 51820), label='vps-cp-1', state=definitions_enums_pb2.PEER_STATE_UP,
        receive_bytes=1234, transmit_bytes=5678, last_used_endpoint=ip_port('2001:db8::11', 51820))
    spec.last_handshake_time.FromDatetime(datetime.datetime(2026, 11, 26, 11, 59, 40, tzinfo=UTC))
    spec.last_endpoint_change.FromDatetime(datetime.datetime(2026, 11, 26, 11, 0, 0, tzinfo=UTC))
    status = peer_status(resource('kq0s1PMcZ0+mVHxeAmBhVM0VrxNcQrXiq9d9zZR2i0k=', spec))
    assert status == dict(
        id='kq0s1PMcZ0+mVHxeAmBhVM0VrxNcQrXiq9d9zZR2i0k=', label='vps-cp-1', endpoint='192.0.2.11:51820', state='up',
        receive_bytes=1234, transmit_bytes=5678,
        last_handshake_time=datetime.datetime(2026, 11, 26, 11, 59, 40, tzinfo=UTC),
        last_used_endpoint='[2001:db8::11]:51820',
        last_endpoint_change=datetime.datetime(2026, 11, 26, 11, 0, 0, tzinfo=UTC))


def test_unset_and_zero_fields_mean_never():
    spec = definitions_kubespan_pb2.PeerStatusSpec(label='home-w-1', state=definitions_enums_pb2.PEER_STATE_DOWN,
                                                   last_used_endpoint=common_pb2.NetIPPort())
    # Go's zero time.Time, as Talos encodes a handshake that never happened.
    spec.last_handshake_time.FromDatetime(datetime.datetime(1, 1, 1, tzinfo=UTC))
    status = peer_status(resource('key', spec))
    assert status['state'] == 'down'
    assert status['endpoint'] is None and status['last_used_endpoint'] is None
    assert status['last_handshake_time'] is None and status['last_endpoint_change'] is None


def test_a_member_decodes_with_its_addresses_and_machine_type():
    spec = definitions_cluster_pb2.MemberSpec(
        node_id='8XuV9TZHW0BHvcgmo6Pxk5YMzJcmcClh2bWiIclfHqMD', hostname='home-cp-1',
        addresses=[common_pb2.NetIP(ip=ipaddress.ip_address('10.10.0.10').packed),
                   common_pb2.NetIP(ip=ipaddress.ip_address('fd00::10').packed)],
        machine_type=definitions_enums_pb2.TYPE_CONTROL_PLANE)
    assert member(resource('home-cp-1', spec)) == dict(name='home-cp-1', hostname='home-cp-1',
                                                       addresses=['10.10.0.10', 'fd00::10'], machine_type='controlplane')


def test_host_of_an_endpoint():
    assert host_of('192.0.2.1:51820') == '192.0.2.1'
    assert host_of('[2001:db8::1]:51820') == '2001:db8::1'
    assert host_of(None) is None
