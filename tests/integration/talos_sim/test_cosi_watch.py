"""COSI Watch as cosi-project's runtime serves it (the collection's client has no watch call: raw stub here)."""
import asyncio

import pytest
from grpclib.client import Channel
from grpclib.encoding.proto import ProtoCodec

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api import tls
from ansible_collections.hybridops.talos.plugins.module_utils._talos.proto import cosi_state_grpc, cosi_state_pb2

pytestmark = pytest.mark.lab


async def _watch(address, credentials, request, count):
    channel = Channel(address, 50000, ssl=tls.authenticated_context(credentials, node=address), codec=ProtoCodec())
    try:
        async with cosi_state_grpc.StateStub(channel).Watch.open() as stream:
            await stream.send_message(request, end=True)
            replies = [await asyncio.wait_for(stream.recv_message(), 5) for dummy in range(count)]
            await stream.cancel()
            return replies
    finally:
        channel.close()


def _events(replies):
    types = cosi_state_pb2.EventType
    return [[(types.Name(e.event_type), e.resource.metadata.id) for e in reply.event] for reply in replies]


def test_kind_watch_bootstraps_contents(sim, cluster, cp0):
    request = cosi_state_pb2.WatchRequest(namespace='runtime', type='MachineStatuses.runtime.talos.dev', api_version=1)
    request.options.bootstrap_contents = True
    replies = asyncio.run(_watch(sim.address('vps-0'), cluster.credentials(('os:reader',)), request, 3))
    assert _events(replies) == [[], [('CREATED', 'machine')], [('BOOTSTRAPPED', '')]]


def test_single_watch_of_a_missing_resource_sends_a_tombstone(sim, cluster, cp0):
    request = cosi_state_pb2.WatchRequest(namespace='runtime', type='MachineStatuses.runtime.talos.dev', id='nope', api_version=1)
    replies = asyncio.run(_watch(sim.address('vps-0'), cluster.credentials(('os:reader',)), request, 2))
    assert _events(replies) == [[], [('DESTROYED', 'nope')]]
