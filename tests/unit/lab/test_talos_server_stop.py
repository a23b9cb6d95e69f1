"""A simulated node's gRPC server leaves no connection behind when it stops, as a machine that reboots.

grpclib's own close() only stops listening: a client's open connection would go on being served by the
stopped server, and a rebooting node would answer on it (seen as etcd ``Preparing`` while the node was
still rebooting)."""
import asyncio

import pytest
from grpclib.client import Channel
from grpclib.exceptions import StreamTerminatedError
from grpclib.health.service import Health
from grpclib.health.v1 import health_pb2, health_grpc

from lab.talos.node import _Server


def test_a_stopped_server_serves_no_open_connection():
    async def scenario():
        server = _Server([Health()])
        await server.start('127.0.0.1', 0)
        port = server._server.sockets[0].getsockname()[1]  # pylint: disable=protected-access
        channel = Channel('127.0.0.1', port)
        stub = health_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        server.close()
        await server.wait_closed()
        with pytest.raises((StreamTerminatedError, ConnectionError, OSError)):
            await asyncio.wait_for(stub.Check(health_pb2.HealthCheckRequest()), 5)
        channel.close()
    asyncio.run(scenario())
