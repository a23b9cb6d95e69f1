# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a Proxmox VM's stored configuration with the desired one, in PVE's own terms.

community.proxmox.proxmox_kvm with ``update: true`` reports ``changed`` on every run, so the
proxmox_nodes role asks for an update only with the keys this module says differ.
"""

from __future__ import annotations

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
