# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that relies on grpclib beyond its documented API.

grpclib connects a ``Channel`` lazily, inside the first request, so a failed connection and a
failed call look alike. The client needs them apart: a call whose connection failed never left,
so it may be retried whatever it does, and TLS problems get their own diagnosis. grpclib has no
public way to connect ahead of a request; its ``Channel.__connect__`` coroutine (what every request
awaits first) does exactly that and reconnects a channel whose connection was lost.
tests/unit/.../talos_api/test_channel_contract.py fails loudly when a grpclib release changes it.
"""

from __future__ import annotations

try:
    from grpclib.client import Channel
    from grpclib.encoding.proto import ProtoCodec
except ImportError:  # the modules check for grpclib (see _requires.py) before any client is used
    Channel = ProtoCodec = None


def open_channel(host, port, ssl_context):
    """A channel to ``host:port`` over TLS; call from a coroutine on the event loop that will use it."""
    return Channel(host, port, ssl=ssl_context, codec=ProtoCodec())


async def connect(channel):
    """Open the channel's HTTP/2 connection now (a no-op while it is open); raises what connecting raises."""
    await channel.__connect__()
