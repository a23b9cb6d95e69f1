# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A synchronous client for one Talos node's API (gRPC over HTTP/2 over TLS on port 50000).

Two modes, as talosctl has them:

* authenticated: the talosconfig's OS CA verifies the node, its client certificate (whose
  Organization values are the caller's roles) authenticates us;
* insecure: a node in maintenance mode serves TLS but checks no client certificate, and its
  certificate comes from a CA made at boot, so nothing is verified (encrypted, not authenticated).

One node is the target. The client connects to one of its ``endpoints`` (the first that answers,
as talosctl fails over between the endpoints of a context); when the target ``node`` is not that
endpoint, the endpoint (a control plane) proxies the call one-to-one to it, through gRPC metadata
``node``. The client keeps one event loop and one TLS connection per endpoint for its whole life,
so a module run pays one handshake per node, however many calls it makes; ``close()`` (or a
``with`` block) ends them. A client is not shared between threads.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import ssl
import tarfile

from .calls import lookup
from .channel import connect, open_channel
from .credentials import certificate_info, check_validity, find_talosconfig, load_talosconfig
from .errors import TalosApiError, describe_status
from . import tls

from ..._requires import TALOS_API, check as check_libraries
from ..._retry import RetryPolicy
from ..proto import common_pb2
from ..proto import cosi_state_grpc, cosi_state_pb2
from ..proto import definitions_runtime_pb2, definitions_enums_pb2
from ..proto import machine_grpc, machine_pb2
from ..proto import resource_config_pb2

try:
    from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError
    from google.protobuf import empty_pb2
except ImportError:  # the modules check for grpclib and protobuf (see _requires.py) before any call
    GRPCError = ProtocolError = StreamTerminatedError = None

DEFAULT_PORT = 50000
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0

APPLY_MODES = ('reboot', 'auto', 'no_reboot', 'staged', 'try')


def split_endpoint(endpoint):
    """(host, port) of a talosconfig endpoint: host, host:port, [v6]:port or a bare IPv6 address."""
    endpoint = str(endpoint).strip()
    if not endpoint or '/' in endpoint:
        raise TalosApiError('bad_endpoint', 'the endpoint %r is not a host or host:port' % endpoint)
    if endpoint.startswith('['):
        host, _sep, rest = endpoint[1:].partition(']')
        port = rest[1:] if rest.startswith(':') else ''
    elif endpoint.count(':') == 1:
        host, port = endpoint.split(':')
    else:
        host, port = endpoint, ''
    if not port:
        return host, DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise TalosApiError('bad_endpoint', 'the endpoint %r has an invalid port' % endpoint)
    return host, int(port)


class _Attempt:
    """What one attempt got back: once data arrived, a retry could duplicate what the caller saw."""

    def __init__(self):
        self.received = False


class TalosClient:
    """One Talos node, reached through ``endpoints``; see the module docstring for the modes."""

    def __init__(self, endpoints, credentials=None, node=None, insecure=False, timeout=DEFAULT_TIMEOUT,
                 connect_timeout=DEFAULT_CONNECT_TIMEOUT, retry=None):
        if not insecure and credentials is None:
            raise TalosApiError('bad_talosconfig', 'talking to a configured node needs talosconfig credentials '
                                '(or insecure mode for a node in maintenance mode)')
        endpoints = [endpoints] if isinstance(endpoints, str) else list(endpoints or ())
        if not endpoints:
            raise TalosApiError('bad_endpoint', 'there is no endpoint to connect to')
        self.endpoints = [split_endpoint(endpoint) for endpoint in endpoints]
        self._current = 0
        self.credentials = None if insecure else credentials
        self.insecure = insecure
        # Maintenance mode serves calls locally and knows no proxying.
        self.node = None if insecure or not node else node
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry or RetryPolicy()
        self._context = None
        self._cert = None
        self._loop = None
        self._channels = {}

    @classmethod
    def from_talosconfig(cls, endpoints, talosconfig=None, context=None, **kwargs):
        """An authenticated client from a talosconfig file (default: where talosctl looks for it)."""
        return cls(endpoints, credentials=load_talosconfig(talosconfig or find_talosconfig(), context), **kwargs)

    @property
    def host(self):
        """The endpoint in use."""
        return self.endpoints[self._current][0]

    @property
    def port(self):
        return self.endpoints[self._current][1]

    @property
    def target(self):
        """The node the calls are about, for messages."""
        return self.node or self.host

    def close(self):
        """Close the connections and the event loop; a later call opens them again."""
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    # --- preparation -------------------------------------------------------------------------

    def _error(self, reason, why, call, **details):
        return TalosApiError(reason, why, node=self.target, call=call, endpoint='%s:%d' % (self.host, self.port), **details)

    def _prepare(self, call):
        check_libraries(*(('grpclib', 'protobuf') if self.insecure else TALOS_API))
        if self.insecure:
            if self._context is None:
                self._context = tls.insecure_context()
            return
        if self._cert is None:
            self._cert = certificate_info(self.credentials.crt)
        # Checked on every call, before connecting: a node refuses such a certificate with a bare TLS alert.
        check_validity(self._cert, node=self.target, call=call)
        if self._context is None:
            self._context = tls.authenticated_context(self.credentials, node=self.target)

    def _metadata(self):
        # A call about the endpoint itself needs no proxying.
        return {'node': self.node} if self.node and self.node != self.host else None

    # --- one call, with retries --------------------------------------------------------------

    def _run(self, call, invoke):
        self._prepare(call)
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._with_retries(call, invoke))

    async def _with_retries(self, call, invoke):
        delays = self.retry.delays()
        attempts = 0
        while True:
            attempts += 1
            attempt = _Attempt()
            try:
                return await self._on_any_endpoint(call, invoke, attempt)
            except TalosApiError as error:
                retry = (error.reason == 'unreachable'
                         or (error.reason == 'unavailable' and lookup(call).idempotent and not attempt.received))
                if not retry or attempts > len(delays):
                    if retry:
                        error.why += ' (%d attempts)' % attempts
                        error.details['attempts'] = attempts
                    raise
                await asyncio.sleep(delays[attempts - 1])

    async def _on_any_endpoint(self, call, invoke, attempt):
        """One attempt: the endpoint in use, then the others in order when it cannot be reached."""
        first, failures = self._current, []
        while True:
            try:
                return await self._once(call, invoke, attempt)
            except TalosApiError as error:
                if error.reason != 'unreachable' or len(self.endpoints) == 1:
                    raise
                failures.append(error.why)
                self._current = (self._current + 1) % len(self.endpoints)
                if self._current == first:
                    raise self._error('unreachable', 'cannot connect to any endpoint (%s)' % '; '.join(failures), call) from None

    def _drop_channel(self):
        """Forget the connection to the endpoint in use (lost or broken): the next attempt opens a new one."""
        channel = self._channels.pop(self._current, None)
        if channel is not None:
            channel.close()

    async def _once(self, call, invoke, attempt):
        channel = self._channels.get(self._current)
        if channel is None:
            channel = self._channels[self._current] = open_channel(self.host, self.port, self._context)
        # Connect first, on its own: a failure here means the request never left, so any call may
        # be retried, and TLS problems are told apart from problems of the call itself.
        try:
            await asyncio.wait_for(connect(channel), self.connect_timeout)
        except ssl.SSLCertVerificationError as exc:
            self._drop_channel()
            peer = await tls.peer_certificate(self.host, self.port, self.connect_timeout)
            reason, why = tls.describe_verify_failure(exc, peer, self.host)
            raise self._error(reason, why, call) from None
        except ssl.SSLError as exc:
            self._drop_channel()
            reason, why = tls.describe_tls_error(exc)
            raise self._error(reason, why, call) from None
        except (OSError, asyncio.TimeoutError) as exc:
            self._drop_channel()
            raise self._error('unreachable', 'cannot connect to %s:%d: %s'
                              % (self.host, self.port, _os_error_text(exc)), call) from None
        try:
            return await invoke(channel, attempt)
        except GRPCError as exc:
            reason, why = describe_status(exc.status.name, exc.message, call, self._roles())
            raise self._error(reason, why, call, status=exc.status.name) from None
        except (StreamTerminatedError, ProtocolError, ConnectionError, ssl.SSLError) as exc:
            self._drop_channel()
            # Under TLS 1.3 the node checks our certificate after our handshake is done, so a refusal
            # shows up here as a lost connection: look for the TLS error, else ask the node again.
            refused = None
            ssl_error = tls.find_ssl_error(exc)
            if ssl_error is not None:
                refused = tls.describe_tls_error(ssl_error)
            elif not attempt.received:
                refused = await tls.probe_client_certificate(self.host, self.port, self._context, self.connect_timeout)
            if refused is not None and self.insecure and refused[0] == 'client_cert_rejected':
                refused = ('configured_node', 'the node asks for a client certificate, so it has a machine config and is not '
                           'in maintenance mode: use the talosconfig instead of insecure mode')
            if refused is not None:
                raise self._error(refused[0], refused[1], call) from None
            raise self._error('unavailable', 'the connection was lost during the call (%s)' % (exc or type(exc).__name__),
                              call) from None
        except asyncio.TimeoutError:
            self._drop_channel()
            raise self._error('timeout', 'no answer within %s seconds' % self.timeout, call) from None

    def _roles(self):
        if self.insecure or self._cert is None:
            return None
        return self._cert.roles

    # --- helpers for invoke functions --------------------------------------------------------

    def _check_elements(self, reply, call):
        """Raise for the elements of a reply that carry a per-node error (``nodes`` fan-out replies)."""
        for element in getattr(reply, 'messages', ()):
            if element.metadata.error:
                raise self._error('node_error', 'the node answered with an error: %s' % element.metadata.error, call,
                                  hostname=element.metadata.hostname)
        return reply

    def _unary(self, call, stub_class, request):
        async def invoke(channel, attempt):
            method = getattr(stub_class(channel), call)
            reply = await method(request, timeout=self.timeout, metadata=self._metadata())
            attempt.received = True
            return self._check_elements(reply, call)
        return self._run(call, invoke)

    def _first(self, call, reply):
        if not reply.messages:
            raise self._error('bad_reply', 'the reply holds no message', call)
        return reply.messages[0]

    def _stream(self, call, stub_class, request, on_message):
        """Send one request, pass every reply message to ``on_message``; return how many there were."""
        async def invoke(channel, attempt):
            method = getattr(stub_class(channel), call)
            count = 0
            async with method.open(timeout=self.timeout, metadata=self._metadata()) as stream:
                await stream.send_message(request, end=True)
                try:
                    async for message in stream:
                        metadata = getattr(message, 'metadata', None)
                        if metadata is not None and metadata.error:
                            raise self._error('node_error', 'the node answered with an error: %s' % metadata.error, call)
                        attempt.received = True
                        count += 1
                        on_message(message)
                except GRPCError as exc:
                    # Talos' own client reads a CANCELLED status after data as the end of the stream.
                    if exc.status.name != 'CANCELLED' or not attempt.received:
                        raise
            return count
        return self._run(call, invoke)

    # --- machine.MachineService ----------------------------------------------------------------

    def version(self):
        """machine.Version of the node (tag, platform, features)."""
        return self._first('Version', self._unary('Version', machine_grpc.MachineServiceStub, empty_pb2.Empty()))

    def apply_configuration(self, data, mode='auto', dry_run=False, try_mode_timeout=None):
        """Apply machine config bytes; returns machine.ApplyConfiguration (mode, mode_details, warnings)."""
        if mode not in APPLY_MODES:
            raise TalosApiError('bad_input', 'apply mode %r is not one of %s' % (mode, ', '.join(APPLY_MODES)))
        request = machine_pb2.ApplyConfigurationRequest(
            data=data, mode=machine_pb2.ApplyConfigurationRequest.Mode.Value(mode.upper()), dry_run=dry_run)
        if try_mode_timeout is not None:
            request.try_mode_timeout.FromTimedelta(try_mode_timeout)
        reply = self._unary('ApplyConfiguration', machine_grpc.MachineServiceStub, request)
        return self._first('ApplyConfiguration', reply)

    def bootstrap(self, recover_etcd=False, recover_skip_hash_check=False):
        request = machine_pb2.BootstrapRequest(recover_etcd=recover_etcd, recover_skip_hash_check=recover_skip_hash_check)
        self._unary('Bootstrap', machine_grpc.MachineServiceStub, request)

    def etcd_member_list(self, query_local=False):
        """The etcd members as machine.EtcdMembers (``members``: id, hostname, peer/client URLs, learner)."""
        request = machine_pb2.EtcdMemberListRequest(query_local=query_local)
        return self._first('EtcdMemberList', self._unary('EtcdMemberList', machine_grpc.MachineServiceStub, request))

    def etcd_status(self):
        """machine.EtcdMemberStatus of the node's local etcd member."""
        reply = self._unary('EtcdStatus', machine_grpc.MachineServiceStub, empty_pb2.Empty())
        return self._first('EtcdStatus', reply).member_status

    def service_list(self):
        """The node's services as machine.ServiceInfo (id, state such as Preparing or Running, health)."""
        return list(self._first('ServiceList', self._unary('ServiceList', machine_grpc.MachineServiceStub,
                                                           empty_pb2.Empty())).services)

    def reset(self, wipe_labels=(), graceful=True, reboot=False, mode='all'):
        """Reset the node (Talos answers at once and resets afterwards); returns the actor id.

        ``wipe_labels`` names the system partitions to wipe (``EPHEMERAL``, ``STATE`` ...); none wipes
        what ``mode`` says (``all``, ``system_disk`` or ``user_disks``).
        """
        request = machine_pb2.ResetRequest(
            graceful=graceful, reboot=reboot, mode=machine_pb2.ResetRequest.WipeMode.Value(mode.upper()),
            system_partitions_to_wipe=[machine_pb2.ResetPartitionSpec(label=label, wipe=True) for label in wipe_labels])
        return self._first('Reset', self._unary('Reset', machine_grpc.MachineServiceStub, request)).actor_id

    def reboot(self, mode='default'):
        request = machine_pb2.RebootRequest(mode=machine_pb2.RebootRequest.Mode.Value(mode.upper()))
        return self._first('Reboot', self._unary('Reboot', machine_grpc.MachineServiceStub, request)).actor_id

    def upgrade(self, image, force=False):
        """Ask the node to install ``image`` and reboot into it; returns machine.Upgrade (``ack``, ``actor_id``).

        Talos answers once it has pulled and checked the image, before it installs and reboots. ``preserve`` is not
        sent: since Talos 1.8 the installer never wipes the disk, so it has no effect (platform.md section 6).
        """
        request = machine_pb2.UpgradeRequest(image=image, force=force)
        return self._first('Upgrade', self._unary('Upgrade', machine_grpc.MachineServiceStub, request))

    def kubeconfig(self):
        """The admin kubeconfig (YAML bytes), unpacked from the gzip'd tar Talos streams."""
        chunks = []
        self._stream('Kubeconfig', machine_grpc.MachineServiceStub, empty_pb2.Empty(), lambda data: chunks.append(data.bytes))
        return self._unpack_kubeconfig(b''.join(chunks))

    def _unpack_kubeconfig(self, archive):
        try:
            with tarfile.open(fileobj=io.BytesIO(archive), mode='r:gz') as tar:
                for member in tar:
                    if member.isfile() and member.name.lstrip('./') == 'kubeconfig':
                        return tar.extractfile(member).read()
        except (tarfile.TarError, gzip.BadGzipFile, EOFError, OSError) as exc:
            raise self._error('bad_reply', 'the kubeconfig stream is not a gzip tar archive (%s)' % exc, 'Kubeconfig') from None
        raise self._error('bad_reply', 'the kubeconfig archive holds no file named kubeconfig', 'Kubeconfig')

    def etcd_snapshot(self, sink):
        """Write the local etcd member's snapshot to the binary file object ``sink``; return its size."""
        written = []

        def on_message(data):
            try:
                sink.write(data.bytes)
            except OSError as exc:
                raise self._error('write_failed', 'cannot write the snapshot: %s' % (exc.strerror or exc), 'EtcdSnapshot') from None
            written.append(len(data.bytes))
        self._stream('EtcdSnapshot', machine_grpc.MachineServiceStub, machine_pb2.EtcdSnapshotRequest(), on_message)
        return sum(written)

    def etcd_recover(self, chunks, timeout=None):
        """Upload a snapshot for an etcd recovery (EtcdRecover), from an iterable of bytes; return the bytes sent.

        Then ``bootstrap(recover_etcd=True)`` on the same node restores it. ``timeout`` bounds the whole upload.
        """
        sent = []

        async def invoke(channel, attempt):
            method = machine_grpc.MachineServiceStub(channel).EtcdRecover
            async with method.open(timeout=timeout or self.timeout, metadata=self._metadata()) as stream:
                for chunk in chunks:
                    attempt.received = True  # data has left: never send the stream twice
                    await stream.send_message(common_pb2.Data(bytes=chunk))
                    sent.append(len(chunk))
                await stream.end()
                reply = await stream.recv_message()
            return self._check_elements(reply, 'EtcdRecover')
        self._run('EtcdRecover', invoke)
        return sum(sent)

    # --- cosi.resource.State ---------------------------------------------------------------------

    def get_resource(self, namespace, resource_type, resource_id):
        """One COSI resource (cosi.resource.Resource) by full type name, e.g. MachineStatuses.runtime.talos.dev."""
        request = cosi_state_pb2.GetRequest(namespace=namespace, type=resource_type, id=resource_id)
        return self._unary('Get', cosi_state_grpc.StateStub, request).resource

    def list_resources(self, namespace, resource_type):
        resources = []
        request = cosi_state_pb2.ListRequest(namespace=namespace, type=resource_type)
        self._stream('List', cosi_state_grpc.StateStub, request, lambda reply: resources.append(reply.resource))
        return resources

    def machine_stage(self):
        """The node's machine stage in lower case: maintenance, booting, running, rebooting ..."""
        resource = self.get_resource('runtime', 'MachineStatuses.runtime.talos.dev', 'machine')
        spec = definitions_runtime_pb2.MachineStatusSpec.FromString(resource.spec.proto_spec)
        name = definitions_enums_pb2.RuntimeMachineStage.Name(spec.stage)
        return name[len('MACHINE_STAGE_'):].lower().replace('_', ' ')

    def running_config(self):
        """The running machine config YAML exactly as it was submitted (needs os:admin: it holds secrets)."""
        resource = self.get_resource('config', 'MachineConfigs.config.talos.dev', 'v1alpha1')
        return resource_config_pb2.MachineConfigSpec.FromString(resource.spec.proto_spec).yaml_marshalled


def _os_error_text(exc):
    if isinstance(exc, asyncio.TimeoutError):
        return 'no answer within the connect timeout'
    if exc.errno:
        return os.strerror(exc.errno)  # asyncio's own text repeats the address
    return exc.strerror or str(exc) or type(exc).__name__
