# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a Proxmox VM's stored configuration with the desired one, in PVE's own terms.

community.proxmox.proxmox_kvm with ``update: true`` reports ``changed`` on every run, so the
proxmox_nodes role asks for an update only with the keys this module says differ, and grows a disk
only when it is smaller than asked (``vm_state`` is what the role's filter returns for each VM).
"""

from __future__ import annotations

import ipaddress
import re


def _tags(value):
    """PVE stores tags joined by ';' (and accepts ',' or spaces on input); compare them as a set."""
    if isinstance(value, (list, tuple)):
        items = value
    else:
        items = re.split(r'[;, ]+', str(value or ''))
    return sorted({item.strip().lower() for item in items if item and item.strip()})


def _agent_enabled(value):
    # "1", "enabled=1", "1,fstrim_cloned_disks=1" all mean enabled.
    first = str(value or '0').split(',', maxsplit=1)[0]
    return first in ('1', 'enabled=1', 'true')


def disk_size_gib(disk_value):
    """The size of a disk entry such as ``local-zfs:vm-101-disk-0,size=32G`` in GiB (None if absent)."""
    match = re.search(r'(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)', str(disk_value or ''))
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2) or 'G'
    factor = {'K': 1.0 / (1024 * 1024), 'M': 1.0 / 1024, 'G': 1.0, 'T': 1024.0}[unit]
    return number * factor


def ipconfig0(address, prefix, gateway):
    ip = str(address).split('/', maxsplit=1)[0]
    return 'ip=%s/%s,gw=%s' % (ip, prefix, gateway)


def config_diff(current, desired):
    """Keys of ``desired`` whose value differs from ``current``, with the desired values.

    ``desired`` uses PVE keys: cores, memory, tags (list), ipconfig0, nameserver, agent (bool).
    """
    current = current or {}
    changes = {}
    for key, want in desired.items():
        have = current.get(key)
        if key == 'tags':
            same = _tags(have) == _tags(want)
        elif key == 'agent':
            same = _agent_enabled(have) == bool(want)
        elif key in ('cores', 'memory', 'sockets'):
            same = str(have) == str(want)
        else:
            same = (have or '') == (want or '')
        if not same:
            changes[key] = want
    return changes


def _or_default(value, default):
    """A VM's own setting, else the role default (None and a missing key both mean "not given")."""
    return default if value is None else value


def desired_config(vm, settings):
    """The PVE settings ``config_diff`` compares for one planned VM, its own values over the defaults.

    ``vm``: name, role, ip and optionally cores, memory, tags. ``settings``: cores, memory, role_tags
    (role -> tag), extra_tags, subnet (CIDR of the static addresses), gateway, nameserver.
    """
    tags = [settings['role_tags'][vm['role']]] + list(settings.get('extra_tags') or []) + list(vm.get('tags') or [])
    prefix = ipaddress.ip_network(settings['subnet'], strict=False).prefixlen
    return {
        'cores': _or_default(vm.get('cores'), settings['cores']),
        'memory': _or_default(vm.get('memory'), settings['memory']),
        'tags': list(dict.fromkeys(tags)),  # unique, first occurrence first
        'ipconfig0': ipconfig0(vm['ip'], prefix, settings['gateway']),
        'nameserver': settings['nameserver'],
        'agent': True,
    }


def vm_state(vm, current, settings):
    """What one planned VM needs, against the VM as it is (``current``: ``status`` and ``config``).

    Returns name, vmid, node, status, changes (``config_diff``), disk_gib (the size of
    ``settings['disk']`` now, in GiB, whatever unit PVE wrote), want_disk_gib and grow_disk (PVE
    can only grow a disk). A VM without that disk is a ValueError naming both.
    """
    current = current or {}
    config = current.get('config') or {}
    disk = settings['disk']
    have = disk_size_gib(config.get(disk))
    if have is None:
        raise ValueError('VM %s has no disk %s with a size (proxmox_nodes_disk); its disks: %s.' % (
            vm['name'], disk, ', '.join(sorted(key for key in config if re.match(r'^(scsi|virtio|sata|ide)\d+$', key)))
            or 'none'))
    want = int(_or_default(vm.get('disk_size'), settings['disk_size']))
    return {
        'name': vm['name'],
        'vmid': vm['vmid'],
        'node': vm['node'],
        'status': current.get('status') or 'unknown',
        'changes': config_diff(config, desired_config(vm, settings)),
        'disk_gib': int(have) if have == int(have) else have,
        'want_disk_gib': want,
        'grow_disk': have < want,
    }
