# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One TLS connection per node for a client's life, failover between endpoints, and grpclib's connect hook.

Calls go through a TCP relay in front of a real gRPC/TLS fake node, which counts the connections.
"""

from __future__ import annotations

import asyncio
import inspect
import socket

import pytest

from grpclib.client import Channel

from ansible_collections.hybridops.talos.plugins.module_utils._retry import RetryPolicy
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api import channel
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import TalosClient
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.credentials import load_talosconfig
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError

from .relay import Relay

FAST = RetryPolicy(attempts=3, first=0.01, cap=0.02)


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_many_calls_share_one_connection_until_the_client_closes(pki, configured_node, write_talosconfig):
    credentials = load_talosconfig(write_talosconfig(pki.os_ca, pki.admin))
    with Relay(('127.0.0.1', configured_node.port)) as relay:
        with TalosClient('127.0.0.1:%d' % relay.port, credentials=credentials, retry=FAST) as client:
            for _call in range(5):
                assert client.version().version.tag == 'v1.9.6'
            client.etcd_member_list()
            client.service_list()
        assert relay.connections == 1
        # A closed client opens a new connection on its next call.
        client.version()
        client.close()
        assert relay.connections == 2


def test_a_lost_connection_is_replaced_on_the_next_call(pki, configured_node, write_talosconfig):
    credentials = load_talosconfig(write_talosconfig(pki.os_ca, pki.admin))
    with TalosClient(configured_node.endpoint, credentials=credentials, retry=FAST) as client:
        client.version()
        # The node (or a proxy) drops the connection between two calls.
        client._channels[0].close()  # pylint: disable=protected-access
        assert client.version().version.tag == 'v1.9.6'


def test_the_next_endpoint_is_tried_when_one_cannot_be_reached(pki, configured_node, write_talosconfig):
    credentials = load_talosconfig(write_talosconfig(pki.os_ca, pki.admin))
    endpoints = ['127.0.0.1:%d' % closed_port(), configured_node.endpoint]
    with TalosClient(endpoints, credentials=credentials, node='10.5.0.3', retry=FAST) as client:
        client.etcd_member_list()
        assert (client.host, client.port) == ('127.0.0.1', configured_node.port)
    # Proxied to the node named: the endpoint that answered got the node metadata.
    assert configured_node.state.calls[-1] == ('/machine.MachineService/EtcdMemberList', '10.5.0.3')


def test_no_endpoint_answering_names_every_one_tried(pki, write_talosconfig):
    credentials = load_talosconfig(write_talosconfig(pki.os_ca, pki.admin))
    ports = [closed_port(), closed_port()]
    client = TalosClient(['127.0.0.1:%d' % port for port in ports], credentials=credentials, retry=RetryPolicy(attempts=1))
    with pytest.raises(TalosApiError) as raised:
        client.version()
    error = raised.value
    assert error.reason == 'unreachable'
    assert 'cannot connect to any endpoint (cannot connect to 127.0.0.1:%d: Connection refused; cannot connect to ' \
           '127.0.0.1:%d: Connection refused)' % tuple(ports) in error.message


def test_grpclib_still_connects_a_channel_the_way_the_client_relies_on(pki, configured_node):
    """The one private grpclib hook the client uses (see channel.py): if this fails, grpclib changed it."""
    assert inspect.iscoroutinefunction(Channel.__connect__), 'grpclib.client.Channel.__connect__ is gone or changed'

    async def connect_twice():
        opened = channel.open_channel('127.0.0.1', configured_node.port, None)
        try:
            # Plain TCP to a TLS port: connecting succeeds, which is all __connect__ promises.
            first = await channel.connect(opened)
            second = await channel.connect(opened)
            return first is None and second is None, opened._protocol is not None  # pylint: disable=protected-access
        finally:
            opened.close()
    assert asyncio.run(connect_twice()) == (True, True)
