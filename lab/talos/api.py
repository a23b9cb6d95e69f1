"""The Talos API of a simulated node: ``machine.MachineService`` and ``cosi.resource.State`` on grpclib,
with the collection's generated base classes, answering as the node's Talos version does.

Authorization follows talos-api.md section 5: roles are the Organization values of the verified
client certificate, each call's rule comes from ``api_roles.json`` (derived from the interface facts), and a
node in maintenance mode gives every caller ``os:reader`` (v1.13) or serves only its small
maintenance API (v1.9.6). Calls not implemented here answer UNIMPLEMENTED, as Talos does.
"""
import asyncio
import datetime
import json
import logging
import os
import uuid

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from . import API_ROLES_FILE, certs, etcd, machine, proxy, recovery, resources, upgrade, validate
from .proto import common_pb2, cosi_state_grpc, cosi_state_pb2, machine_grpc, machine_pb2

LOG = logging.getLogger('lab.talos')
ALL_ROLES = {'os:admin', 'os:operator', 'os:reader', 'os:etcd:backup'}
MODES = machine_pb2.ApplyConfigurationRequest.Mode
CHUNK = 128 * 1024
# What the v1.9.6 maintenance server serves (internal/app/maintenance/server.go).
MAINTENANCE_V19 = {'ApplyConfiguration', 'Version', 'Upgrade', 'Reset', 'Get', 'List', 'Watch'}


def load_rules(path=API_ROLES_FILE):
    """{version: {method name: set of roles}} from the lab's rules file (derived from the interface facts)."""
    with open(path, encoding='utf-8') as handle:
        roles = json.load(handle)['roles']
    return {tag: {method: set(allowed) for method, allowed in table.items()} for tag, table in roles.items()}


def go_duration(seconds):
    """Go's time.Duration text for whole seconds: 1m0s, 30s, 1h0m0s."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return '%dh%dm%ds' % (hours, minutes, secs)
    if minutes:
        return '%dm%ds' % (minutes, secs)
    return '%ds' % secs


class Gate:
    """Role and mode checks shared by both services."""

    def __init__(self, node, rules):
        self.node = node
        self.rules = rules[node.version]

    def roles(self, stream):
        node = self.node
        if node.maintenance:
            return {'os:reader'}
        ssl_object = stream.peer._transport.get_extra_info('ssl_object')  # pylint: disable=protected-access
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return set()
        if node.check_ext_key_usage and not certs.client_only_usage(der):
            # Talos refuses such a certificate in the TLS handshake; here the connection is dropped.
            stream.peer._transport.abort()  # pylint: disable=protected-access
            raise GRPCError(Status.UNAVAILABLE, 'tls: client certificate ExtKeyUsage must be exactly ClientAuth')
        if not node.rbac:
            return set(ALL_ROLES)
        return proxy.forwarded_roles(stream, certs.peer_roles(der))

    async def admit(self, stream, service, name, cp_api=None):
        """Check the call; return (request, roles). ``cp_api`` names a control-plane-only API."""
        node = self.node
        # One line per call in node.log: benchmarks count the API calls a playbook makes per node.
        LOG.info('api call %s/%s', service, name)
        if node.maintenance and node.version == 'v1.9.6':
            if name not in MAINTENANCE_V19:
                raise GRPCError(Status.UNIMPLEMENTED, 'method %s not implemented' % name)
            if name in ('Version', 'Upgrade', 'Reset'):
                raise GRPCError(Status.UNIMPLEMENTED, 'API is not implemented in maintenance mode')
            return await stream.recv_message(), {'os:reader'}
        roles = self.roles(stream)
        allowed = self.rules.get('/%s/%s' % (service, name), {'os:admin'})
        if not roles & allowed:
            raise GRPCError(Status.PERMISSION_DENIED, 'not authorized')
        if cp_api:
            if node.maintenance:
                raise GRPCError(Status.UNIMPLEMENTED, 'machine type is not set, cannot use %s API' % cp_api)
            if not node.is_controlplane:
                raise GRPCError(Status.UNIMPLEMENTED, '%s is only available on control plane nodes' % cp_api)
        return await stream.recv_message(), roles


def _unimplemented(base):
    """The generated base class with every call answering UNIMPLEMENTED; subclasses override what they serve."""
    def make(name):
        async def unimplemented(_self, _stream):
            raise GRPCError(Status.UNIMPLEMENTED, 'method %s not implemented' % name)
        return unimplemented
    return type('Unimplemented' + base.__name__, (base,), {name: make(name) for name in base.__abstractmethods__})


class MachineService(_unimplemented(machine_grpc.MachineServiceBase)):
    SERVICE = 'machine.MachineService'

    def __init__(self, node, gate):
        self.node, self.gate = node, gate

    async def _admit(self, stream, name, cp_api=None):
        return await self.gate.admit(stream, self.SERVICE, name, cp_api)

    # ------------------------------------------------------------------ apply

    async def ApplyConfiguration(self, stream):
        node = self.node
        request, roles = await self._admit(stream, 'ApplyConfiguration')
        v19 = node.version == 'v1.9.6'
        if not v19 and not node.maintenance and 'os:admin' not in roles:
            raise GRPCError(Status.PERMISSION_DENIED, 'not authorized')
        if not v19 and node.apply_lock.locked():
            raise GRPCError(Status.FAILED_PRECONDITION, 'another apply configuration is already in progress')
        if not v19 and node.stage == 'rebooting':
            raise GRPCError(Status.FAILED_PRECONDITION, 'configuration was already applied and node is rebooting, '
                                                        'cannot apply more configuration changes until next reboot')
        async with node.apply_lock:
            try:
                docs = validate.check(request.data, node.version)
            except validate.ConfigError as exc:
                if node.maintenance and v19 and exc.kind == 'parse':
                    raise GRPCError(Status.UNKNOWN, str(exc)) from None
                raise GRPCError(Status.INVALID_ARGUMENT, str(exc)) from None
            if node.maintenance:
                reply = self._apply_maintenance(request, docs)
            else:
                reply = self._apply_configured(request, docs)
        await stream.send_message(machine_pb2.ApplyConfigurationResponse(messages=[reply]))

    def _apply_maintenance(self, request, docs):
        node = self.node
        if node.version == 'v1.9.6':
            if request.mode in (MODES.Value('NO_REBOOT'), MODES.Value('STAGED')):
                name = MODES.Name(request.mode).lower().replace('_', '-')
                raise GRPCError(Status.UNIMPLEMENTED, "apply configuration --mode='%s' is not supported in maintenance mode" % name)
            if request.dry_run:
                return machine_pb2.ApplyConfiguration(
                    mode_details='Dry run summary:\nNode is running in maintenance mode and does not have a config yet.')
            reply = machine_pb2.ApplyConfiguration()
        else:
            # v1.13 in maintenance: REBOOT and AUTO become NO_REBOOT; the generic texts.
            mode = request.mode
            if mode in (MODES.Value('REBOOT'), MODES.Value('AUTO')):
                mode = MODES.Value('NO_REBOOT')
            details = self._details(mode)
            if request.dry_run:
                return machine_pb2.ApplyConfiguration(mode=mode, mode_details=node.dry_run_text(details, request.data))
            reply = machine_pb2.ApplyConfiguration(mode=mode, mode_details=details)
        node.set_config(request.data, docs)
        LOG.info('config applied in maintenance mode: booting')
        _later(self._boot)
        return reply

    async def _boot(self):
        node = self.node
        node.stage = 'booting'
        node.publish()
        await node.server_control.stop()
        await asyncio.sleep(node.cfg.get('boot_seconds', 0.5))
        await node.server_control.start()
        node.stage = 'running'
        node.publish()

    @staticmethod
    def _details(mode, reason=None, try_timeout=None):
        name = MODES.Name(mode)
        if name == 'REBOOT':
            text = 'Applied configuration with a reboot'
            if reason:
                text += ': ' + reason
        elif name == 'STAGED':
            text = 'Staged configuration to be applied after the next reboot'
        else:
            text = 'Applied configuration without a reboot'
        if name == 'TRY':
            text += "\nThe config is applied in 'try' mode and will be automatically reverted back in %s" % go_duration(try_timeout)
        return text

    def _apply_configured(self, request, docs):
        node = self.node
        reason = machine.reboot_reason(node.docs, docs)
        mode = request.mode
        name = MODES.Name(mode)
        if name == 'AUTO':
            mode = MODES.Value('REBOOT') if reason else MODES.Value('NO_REBOOT')
        elif name in ('NO_REBOOT', 'TRY') and reason:
            raise GRPCError(Status.INVALID_ARGUMENT, reason)
        try_timeout = request.try_mode_timeout.ToTimedelta().total_seconds() if request.HasField('try_mode_timeout') else 60
        try_timeout = try_timeout or 60
        details = self._details(mode, reason if name == 'AUTO' else None, try_timeout)
        if request.dry_run:
            return machine_pb2.ApplyConfiguration(mode=mode, mode_details=node.dry_run_text(details, request.data))
        resolved = MODES.Name(mode)
        node.cancel_revert()
        if resolved == 'STAGED':
            node.stage_config(request.data)
        elif resolved == 'REBOOT':
            node.set_config(request.data, docs)
            _later(lambda: node.reboot(node.cfg['reboot_seconds']))
        else:
            previous = node.config_bytes
            node.set_config(request.data, docs)
            node.server_control.refresh()
            if resolved == 'TRY':
                node.schedule_revert(previous, try_timeout)
        return machine_pb2.ApplyConfiguration(mode=mode, mode_details=details)

    # ------------------------------------------------------------------ etcd

    async def Bootstrap(self, stream):
        node = self.node
        if node.version == 'v1.9.6' and not node.maintenance and not node.is_controlplane:
            await self._admit(stream, 'Bootstrap')
            raise GRPCError(Status.FAILED_PRECONDITION, 'bootstrap can only be performed on a control plane node')
        request, _roles = await self._admit(stream, 'Bootstrap', 'bootstrap')
        if node.stage != 'running':
            raise GRPCError(Status.FAILED_PRECONDITION, 'bootstrap is not available yet')
        if node.member.has_data() or node.member.running() or node.member.state == 'Recovering':
            raise GRPCError(Status.ALREADY_EXISTS, 'etcd data directory is not empty')
        if request.recover_etcd:
            # Talos starts the etcd service in recovery and answers; the restore runs in the service.
            node.member.state = 'Recovering'  # ServiceList shows Preparing: the service is in its pre-start step
            _later(lambda: recovery.recover(node, request.recover_skip_hash_check), delay=0)
        else:
            try:
                await node.bootstrap()
            except etcd.EtcdError as exc:
                raise GRPCError(Status.INTERNAL, 'failed to bootstrap etcd: %s' % exc) from None
        await stream.send_message(machine_pb2.BootstrapResponse(messages=[machine_pb2.Bootstrap()]))

    async def EtcdRecover(self, stream):
        """Client stream of the snapshot; written where the recovery reads it (the node's etcd.snapshot)."""
        message, _roles = await self._admit(stream, 'EtcdRecover', 'etcd recover')
        node = self.node
        if node.stage != 'running':
            raise GRPCError(Status.FAILED_PRECONDITION, 'etcd service is not ready for recovery yet')
        path = recovery.snapshot_path(node)
        uploaded = False
        try:
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'wb') as snapshot:
                while message is not None:
                    snapshot.write(message.bytes)
                    message = await stream.recv_message()
                snapshot.flush()
                os.fsync(snapshot.fileno())
            uploaded = True
        finally:
            if not uploaded and os.path.exists(path):
                os.remove(path)
        LOG.info('etcd recovery snapshot uploaded (%d bytes)', os.path.getsize(path))
        await stream.send_message(machine_pb2.EtcdRecoverResponse(messages=[machine_pb2.EtcdRecover()]))

    async def _etcd_base(self):
        """A client URL of a running member: the local one, else any member of the cluster (as Talos'
        etcd client dials every control plane)."""
        node = self.node
        if node.member.running() and node.member.state == 'Running':
            return node.member.local
        for peer in node.discovery():
            if peer.get('etcd') == 'Running':
                return etcd.client_url(peer['address'])
        raise GRPCError(Status.FAILED_PRECONDITION, 'etcd is not running on any control plane yet (etcd service is %s)' % node.member.state)

    async def EtcdMemberList(self, stream):
        request, _roles = await self._admit(stream, 'EtcdMemberList', 'member list')
        base = self.node.member.local if request.query_local else await self._etcd_base()
        try:
            listing = await etcd.call(base, '/cluster/member/list')
        except etcd.EtcdError as exc:
            raise GRPCError(Status.UNAVAILABLE, 'etcd: %s' % exc) from None
        members = [machine_pb2.EtcdMember(id=int(m['ID']), hostname=m.get('name', ''), peer_urls=m.get('peerURLs', []),
                                          client_urls=m.get('clientURLs', []), is_learner=bool(m.get('isLearner')))
                   for m in listing.get('members', ())]
        await stream.send_message(machine_pb2.EtcdMemberListResponse(messages=[machine_pb2.EtcdMembers(
            members=members, legacy_members=[m.hostname for m in members])]))

    async def EtcdStatus(self, stream):
        await self._admit(stream, 'EtcdStatus', 'etcd status')
        member = self.node.member
        if not member.running():
            raise GRPCError(Status.FAILED_PRECONDITION, 'etcd is not running on this node (etcd service is %s)' % member.state)
        try:
            status = await member.status()
        except etcd.EtcdError as exc:
            raise GRPCError(Status.UNAVAILABLE, 'etcd: %s' % exc) from None

        def number(key):
            return int(status.get(key) or 0)  # the gateway writes 64-bit numbers as strings
        result = machine_pb2.EtcdMemberStatus(
            protocol_version=status.get('version', ''), db_size=number('dbSize'), db_size_in_use=number('dbSizeInUse'),
            leader=number('leader'), raft_index=number('raftIndex'), raft_term=number('raftTerm'),
            raft_applied_index=number('raftAppliedIndex') or number('raftIndex'), errors=status.get('errors', []),
            is_learner=bool(status.get('isLearner')), member_id=int(status['header']['member_id']))
        if self.node.version != 'v1.9.6':
            result.storage_version = status.get('version', '')
        await stream.send_message(machine_pb2.EtcdStatusResponse(messages=[machine_pb2.EtcdStatus(member_status=result)]))

    async def EtcdSnapshot(self, stream):
        await self._admit(stream, 'EtcdSnapshot', 'etcd snapshot')
        member = self.node.member
        if not member.running():
            raise GRPCError(Status.FAILED_PRECONDITION, 'etcd is not running on this node (etcd service is %s)' % member.state)
        try:
            path = await member.snapshot()
        except etcd.EtcdError as exc:
            raise GRPCError(Status.INTERNAL, str(exc)) from None
        try:
            with open(path, 'rb') as handle:
                while True:
                    chunk = handle.read(CHUNK)
                    if not chunk:
                        break
                    await stream.send_message(common_pb2.Data(bytes=chunk))
        finally:
            os.remove(path)

    # ------------------------------------------------------------------ the rest

    async def Kubeconfig(self, stream):
        await self._admit(stream, 'Kubeconfig', 'kubeconfig')
        cluster = self.node.v1alpha1.get('cluster') or {}
        ca = cluster.get('ca') or {}
        if not ca.get('key'):
            raise GRPCError(Status.FAILED_PRECONDITION, 'the machine config has no Kubernetes CA key')
        content = certs.kubeconfig(cluster.get('clusterName', 'talos'), cluster['controlPlane']['endpoint'],
                                   certs.b64pem(ca['crt']), certs.b64pem(ca['key']))
        await stream.send_message(common_pb2.Data(bytes=certs.kubeconfig_archive(content)))

    async def Version(self, stream):
        await self._admit(stream, 'Version')
        node = self.node
        reply = machine_pb2.Version(version=machine_pb2.VersionInfo(tag=node.tag, arch='amd64', os='linux', go_version='go1.23'),
                                    platform=machine_pb2.PlatformInfo(name='metal', mode='metal'))
        if not node.maintenance:
            reply.features.rbac = node.rbac
        await stream.send_message(machine_pb2.VersionResponse(messages=[reply]))

    async def ServiceList(self, stream):
        await self._admit(stream, 'ServiceList')
        now = datetime.datetime.now(datetime.timezone.utc)
        services = []
        for service_id, state, healthy in self.node.services():
            info = machine_pb2.ServiceInfo(id=service_id, state=state, health=machine_pb2.ServiceHealth(
                unknown=healthy is None, healthy=bool(healthy)))
            info.health.last_change.FromDatetime(now)
            services.append(info)
        await stream.send_message(machine_pb2.ServiceListResponse(messages=[machine_pb2.ServiceList(services=services)]))

    async def Reset(self, stream):
        """Answer with an actor id at once, then reset in the background (machine.Node.reset), as Talos does."""
        request, _roles = await self._admit(stream, 'Reset')
        modes = machine_pb2.ResetRequest.WipeMode
        if request.user_disks_to_wipe:
            if request.mode == modes.Value('SYSTEM_DISK'):
                raise GRPCError(Status.UNKNOWN, "reset failed: invalid input, wipe mode SYSTEM_DISK doesn't support "
                                                "UserDisksToWipe parameter")
            raise GRPCError(Status.UNKNOWN, "reset user disk failed: device %s wasn't found" % request.user_disks_to_wipe[0])
        if request.system_partitions_to_wipe:
            if request.mode == modes.Value('USER_DISKS'):
                raise GRPCError(Status.UNKNOWN, "reset failed: invalid input, wipe mode USER_DISKS doesn't support "
                                                "SystemPartitionsToWipe parameter")
            for spec in request.system_partitions_to_wipe:
                if spec.label not in recovery.PARTITIONS:
                    raise GRPCError(Status.UNKNOWN, 'failed to get volume status with label "%s": resource '
                                                    "VolumeStatuses.block.talos.dev(runtime/%s@undefined) doesn't exist"
                                    % (spec.label, spec.label))
            labels = {spec.label for spec in request.system_partitions_to_wipe if spec.wipe}
        elif request.mode == modes.Value('USER_DISKS'):
            labels = set()
        else:
            labels = set(recovery.PARTITIONS)  # the whole system disk
        node = self.node
        _later(lambda: recovery.reset(node, labels, request.graceful, request.reboot))
        await stream.send_message(machine_pb2.ResetResponse(messages=[machine_pb2.Reset(actor_id=str(uuid.uuid4()))]))

    async def Upgrade(self, stream):
        """Answer the ack at once, then install and reboot in the background (upgrade.py), as Talos does."""
        request, _roles = await self._admit(stream, 'Upgrade')
        node = self.node
        tag = upgrade.check_request(node, request)
        node.upgrading = True
        rollback = upgrade.take_rollback_fault(node)
        LOG.info('upgrade to %s requested (%s)', tag, request.image)
        _later(lambda: upgrade.upgrade(node, tag, rollback))
        await stream.send_message(upgrade.reply(machine_pb2))

    async def Reboot(self, stream):
        await self._admit(stream, 'Reboot')
        node = self.node
        _later(lambda: node.reboot(node.cfg['reboot_seconds']))
        await stream.send_message(machine_pb2.RebootResponse(messages=[machine_pb2.Reboot(actor_id=str(uuid.uuid4()))]))


class StateService(_unimplemented(cosi_state_grpc.StateBase)):
    SERVICE = 'cosi.resource.State'

    def __init__(self, node, gate):
        self.node, self.gate = node, gate
        self.store = resources.Store()

    async def _type(self, stream, name):
        request, roles = await self.gate.admit(stream, self.SERVICE, name)
        rtype = resources.lookup(request.type)
        if rtype is None:
            raise GRPCError(Status.PERMISSION_DENIED, 'resource type "%s" is not supported' % request.type)
        if request.namespace not in resources.NAMESPACES:
            raise GRPCError(Status.PERMISSION_DENIED, 'namespace "%s" is not supported' % request.namespace)
        if rtype.sensitive and 'os:admin' not in roles:
            raise GRPCError(Status.PERMISSION_DENIED, 'not authorized')
        return request, rtype

    def _current(self, request, rtype):
        if request.namespace != rtype.namespace:
            return []
        return self.store.resources(self.node, rtype)

    async def Get(self, stream):
        request, rtype = await self._type(stream, 'Get')
        found = [r for r in self._current(request, rtype) if r.metadata.id == request.id]
        if not found:
            raise GRPCError(Status.NOT_FOUND, "resource %s(%s/%s@undefined) doesn't exist" % (rtype.name, request.namespace, request.id))
        await stream.send_message(cosi_state_pb2.GetResponse(resource=found[0]))

    async def List(self, stream):
        request, rtype = await self._type(stream, 'List')
        for resource in self._current(request, rtype):
            await stream.send_message(cosi_state_pb2.ListResponse(resource=resource))

    async def Watch(self, stream):
        request, rtype = await self._type(stream, 'Watch')
        single = request.HasField('id')
        if single and (request.options.bootstrap_contents or len(request.options.label_query)):
            raise GRPCError(Status.UNIMPLEMENTED, 'bootstrap_contents and label_query are not supported for a single resource watch')
        types = cosi_state_pb2.EventType
        await stream.send_message(cosi_state_pb2.WatchResponse())  # "watch established"
        seen = {}

        def snapshot():
            return dict((r.metadata.id, r) for r in self._current(request, rtype) if not single or r.metadata.id == request.id)
        current = snapshot()
        if single:
            resource = current.get(request.id)
            event = types.Value('CREATED') if resource else types.Value('DESTROYED')
            if resource is None:
                resource = self.store.tombstone(rtype, request.namespace, request.id)
            await stream.send_message(cosi_state_pb2.WatchResponse(event=[cosi_state_pb2.Event(resource=resource, event_type=event)]))
            seen = dict(current)
        elif request.options.bootstrap_contents:
            events = [cosi_state_pb2.Event(resource=r, event_type=types.Value('CREATED')) for r in current.values()]
            if request.api_version >= 1:
                events.append(cosi_state_pb2.Event(event_type=types.Value('BOOTSTRAPPED')))
            for event in events:
                await stream.send_message(cosi_state_pb2.WatchResponse(event=[event]))
            seen = dict(current)
        while True:
            await asyncio.sleep(0.5)
            current = snapshot()
            for ident, resource in current.items():
                old = seen.get(ident)
                if old is None:
                    event = cosi_state_pb2.Event(resource=resource, event_type=types.Value('CREATED'))
                elif old.metadata.version != resource.metadata.version:
                    event = cosi_state_pb2.Event(resource=resource, old=old, event_type=types.Value('UPDATED'))
                else:
                    continue
                await stream.send_message(cosi_state_pb2.WatchResponse(event=[event]))
            for ident in set(seen) - set(current):
                await stream.send_message(cosi_state_pb2.WatchResponse(event=[cosi_state_pb2.Event(
                    resource=seen[ident], event_type=types.Value('DESTROYED'))]))
            seen = current


def _later(make_coroutine, delay=0.1):
    """Run ``make_coroutine()`` shortly after the current reply has gone out."""
    loop = asyncio.get_running_loop()
    loop.call_later(delay, lambda: loop.create_task(make_coroutine()))


def handlers(node, rules):
    """The node's services; a call for another node (``node`` metadata) is forwarded there (proxy.py)."""
    gate = Gate(node, rules)
    return [proxy.Forwarding(service, node, gate) for service in (MachineService(node, gate), StateService(node, gate))]
