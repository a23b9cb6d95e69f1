"""``PUT /nodes/{node}/qemu/{vmid}/resize`` for the Proxmox stand-in (fakepve 0.5 has it for containers only).

Follows PVE::API2::Qemu::resize_vm: an absolute size or ``+size``; growing only ("shrinking disks is
not supported"); a run as a task that rewrites ``size=`` of the drive in the VM configuration.
"""
from fakepve import FakePve
from fakepve.lxc import format_size, parse_size
from fakepve.model import PveError, TaskError
from fakepve.qemu import join_drive, split_drive
from fakepve.routing import ok

from lab.pve_access import AccessStore


class QemuResize(object):
    """Mixin of FakePve: the qemu disk resize endpoint."""

    def _routes_qemu_resize(self):
        return [('PUT', '/nodes/{node}/qemu/{vmid}/resize', self._qm_resize)]

    async def _qm_resize(self, v, user):
        vm = self.find(v['node'], v['vmid'])
        disk, text = v['disk'], str(v['size'])
        grow = text.startswith('+')
        request = parse_size(text.lstrip('+'))
        if request is None:
            raise PveError(400, "unable to parse size '{0}'".format(text))
        self.require(user, '/vms/{0}'.format(vm.vmid), 'VM.Config.Disk')

        def plan():
            value = vm.config.get(disk)
            if value is None:
                raise PveError(500, 'disk \'{0}\' does not exist'.format(disk))
            volume, props = split_drive(value)
            size = parse_size(props.get('size', '')) or 0
            new = size + request if grow else request
            if new < size:
                raise PveError(500, 'shrinking disks is not supported')
            return volume, props, new

        plan()

        async def body():
            try:
                volume, props, new = plan()
            except PveError as exc:
                raise TaskError(exc.message) from exc
            props['size'] = format_size(new)
            vm.config[disk] = join_drive(volume, props)
        return await self.task(vm.node, 'resize', vm.vmid, user, body, vm=vm)


class LabPve(AccessStore, QemuResize, FakePve):
    """fakepve with the endpoints the lab needs beyond its own.

    ``clustered`` False makes ``/cluster/status`` answer as a PVE node that never joined a cluster does: its
    node entry alone, with node ID 0 and no ``cluster`` entry.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.clustered = True
        self._access_init()

    async def start(self, certfile, keyfile, listen=None):
        """Listen on ``listen`` (e.g. every address, so the lab's nodes reach it through their gateway) while the URL
        keeps naming ``host``, the address the certificate is for."""
        advertised = self.host
        self.host = listen or advertised
        try:
            await super().start(certfile, keyfile)
        finally:
            self.host = advertised

    async def _cluster_status(self, request):
        if self.clustered:
            return await super()._cluster_status(request)
        name, state = sorted(self.nodes.items())[0]
        return ok([{'type': 'node', 'id': 'node/' + name, 'name': name, 'nodeid': 0, 'level': '', 'ip': '192.0.2.11',
                    'online': 1 if state.get('online', True) else 0, 'local': 1}])
