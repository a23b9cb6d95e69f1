"""apid's request forwarding (talos-api.md section 4): a call whose ``node`` metadata names another node.

A control plane passes such a call one-to-one to that node's API and the reply (or the error) back:
it dials the node with a client certificate of its own, signed by the OS CA and holding the role
``os:impersonator``, and sends the caller's roles along as ``talos-role`` metadata, which the target
trusts only from an impersonator. Workers hold no OS CA key, so they refuse with ``PERMISSION_DENIED
"no request forwarding"``, as Talos does. The fan-out form (``nodes`` metadata) is not simulated.
"""
import logging
import os
import ssl

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError, StreamTerminatedError

from . import certs

LOG = logging.getLogger('lab.talos')
IMPERSONATOR = 'os:impersonator'


def target_of(stream, node):
    """The node a call is for when it is not this one (None: serve it here); refuses what apid refuses."""
    if stream.metadata.get('nodes'):
        raise GRPCError(Status.UNIMPLEMENTED, 'the lab simulator does not fan out calls (nodes metadata): use node')
    targets = stream.metadata.getall('node', [])
    if len(targets) > 1:
        raise GRPCError(Status.INVALID_ARGUMENT, 'node metadata must be single-valued')
    if not targets or targets[0] in (node.address, node.name):
        return None
    return targets[0]


def forwarded_roles(stream, peer_roles):
    """The roles a call acts with: the caller's roles a forwarding control plane vouches for, else the certificate's."""
    if IMPERSONATOR not in peer_roles:
        return peer_roles
    return set(stream.metadata.getall('talos-role', []))


def _address(node, target):
    """A node name (as talosctl -n accepts) or an address: the address to dial."""
    for peer in node.registry():
        if target == peer.get('name'):
            return peer['address']
    return target


# One client context per OS CA: issuing a certificate for every forwarded call would only cost time.
_CONTEXTS = {}


def client_context(node):
    """TLS to another node's API as apid dials it: an os:impersonator certificate from the OS CA, the server
    verified against the OS CA. None on a worker, which has no OS CA key."""
    ca_crt, ca_key = node.os_ca()
    if ca_key is None:
        return None
    if ca_crt not in _CONTEXTS:
        _CONTEXTS[ca_crt] = _new_client_context(node, ca_crt, ca_key)
    return _CONTEXTS[ca_crt]


def _new_client_context(node, ca_crt, ca_key):
    cert, key = certs.issue(x509.load_pem_x509_certificate(ca_crt), certs.load_pem_key(ca_key), node.name, None,
                            ExtendedKeyUsageOID.CLIENT_AUTH, organizations=(IMPERSONATOR,), days=365)
    crt_pem, key_pem = certs.pem_pair(cert, key)
    crt_path, key_path = os.path.join(node.tls_dir, 'forward.crt'), os.path.join(node.tls_dir, 'forward.key')
    certs.write_private(crt_path, crt_pem)
    certs.write_private(key_path, key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca_crt.decode('ascii'))
    context.load_cert_chain(crt_path, key_path)
    context.set_alpn_protocols(certs.ALPN)
    return context


async def forward(stream, node, target, path, handler, roles):
    """Pass the call to ``target`` and its replies back, as the caller with ``roles``."""
    context = None if node.maintenance else client_context(node)
    if context is None:
        raise GRPCError(Status.PERMISSION_DENIED, 'no request forwarding')
    # Client-streaming calls (EtcdRecover) pass every message on, not only the first.
    streaming = handler.cardinality.client_streaming
    request = None if streaming else await stream.recv_message()
    address = _address(node, target)
    metadata = [('talos-role', role) for role in sorted(roles)] + [('proxyfrom', node.address)]
    LOG.info('api forward %s to %s', path, address)
    channel = Channel(address, node.cfg['port'], ssl=context, codec=ProtoCodec())
    try:
        async with channel.request(path, handler.cardinality, handler.request_type, handler.reply_type,
                                   deadline=stream.deadline, metadata=metadata) as upstream:
            if streaming:
                async for message in stream:
                    await upstream.send_message(message)
                await upstream.end()
            else:
                await upstream.send_message(request, end=True)
            while True:
                reply = await upstream.recv_message()
                if reply is None:
                    break
                await stream.send_message(reply)
    except (OSError, StreamTerminatedError) as exc:
        raise GRPCError(Status.UNAVAILABLE, 'connection error: desc = "transport: Error while dialing: dial tcp %s:%d: %s"'
                        % (address, node.cfg['port'], exc)) from None
    finally:
        channel.close()


class Forwarding:
    """A service of the simulator whose every call may be for another node (``node`` metadata)."""

    def __init__(self, service, node, gate):
        self.service, self.node, self.gate = service, node, gate

    def __mapping__(self):
        return {path: handler._replace(func=self._serve_or_forward(path, handler))
                for path, handler in self.service.__mapping__().items()}

    def _serve_or_forward(self, path, handler):
        async def serve_or_forward(stream):
            target = target_of(stream, self.node)
            if target is None:
                return await handler.func(stream)
            # The caller is checked here (certificate, roles) and again by the target, with the roles passed on.
            return await forward(stream, self.node, target, path, handler, self.gate.roles(stream))
        return serve_or_forward
