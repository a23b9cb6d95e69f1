# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of a planned node list that must pass before any machine is created.

Pure logic shared by the provisioning roles' filters and the unit tests.
"""

from __future__ import annotations

import ipaddress
import re


def address_problems(nodes, subnet, key='private_ip'):
    """Return one sentence per problem with the nodes' static addresses; an empty list when fine.

    Nodes without ``key`` are skipped (the backend assigns an address). ``subnet`` is a CIDR.
    """
    problems = []
    try:
        network = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return ['subnet %r is not a network in CIDR notation.' % (subnet,)]
    reserved = {network.network_address, network.broadcast_address}
    owners = {}
    for node in nodes or []:
        name = node.get('name', '?')
        raw = node.get(key)
        if raw in (None, ''):
            continue
        try:
            address = ipaddress.ip_address(str(raw).split('/', maxsplit=1)[0])
        except ValueError:
            problems.append('node %s has %s %r, which is not an IP address.' % (name, key, raw))
            continue
        if address not in network:
            problems.append('node %s has %s %s outside the subnet %s.' % (name, key, address, network))
        elif address in reserved:
            problems.append('node %s has %s %s, the network or broadcast address of %s.' % (name, key, address, network))
        if address in owners:
            problems.append('nodes %s and %s share the address %s.' % (owners[address], name, address))
        else:
            owners[address] = name
    return problems


def duplicate_names(nodes):
    """Names that appear more than once, sorted."""
    seen, dupes = set(), set()
    for node in nodes or []:
        name = node.get('name')
        if name in seen:
            dupes.add(name)
        seen.add(name)
    return sorted(d for d in dupes if d is not None)


def _is_deprecated(server_type, location=None):
    """Deprecated overall, or (since Hetzner's per-location catalog) in the given location."""
    if server_type.get('deprecated') or server_type.get('deprecation'):
        return True
    for entry in server_type.get('locations') or []:
        if location and entry.get('name') == location and entry.get('deprecation'):
            return True
    return False


def server_type_alternative(catalog, name, location=None):
    """The current server type closest to ``name``: same architecture and CPU type, at least as many
    cores and as much memory, cheapest by (cores, memory). '' when there is none or ``name`` is unknown.
    """
    by_name = {t.get('name'): t for t in catalog or []}
    wanted = by_name.get(name)
    if wanted is None:
        return ''
    candidates = [
        t for t in by_name.values()
        if not _is_deprecated(t, location)
        and t.get('architecture') == wanted.get('architecture')
        and t.get('cpu_type') == wanted.get('cpu_type')
        and t.get('cores', 0) >= wanted.get('cores', 0)
        and t.get('memory', 0) >= wanted.get('memory', 0)
    ]
    if not candidates:
        return ''
    # Prefer the same family (cpx31 -> cpx32) before another one of the same size.
    family = name.rstrip('0123456789')
    candidates.sort(key=lambda t: (t.get('cores', 0), t.get('memory', 0),
                                   t.get('name', '').rstrip('0123456789') != family, t.get('name', '')))
    return candidates[0]['name']


def server_type_problem(catalog, name, location=None):
    """One sentence when ``name`` cannot be used (unknown or deprecated); '' when it can."""
    by_name = {t.get('name'): t for t in catalog or []}
    if name not in by_name:
        current = sorted(t['name'] for t in by_name.values() if not _is_deprecated(t, location))
        return 'server type %s does not exist in the Hetzner catalog; current types: %s.' % (name, ', '.join(current))
    if _is_deprecated(by_name[name], location):
        alternative = server_type_alternative(catalog, name, location)
        hint = ('use %s instead' % alternative) if alternative else 'no current type of that size exists'
        return 'server type %s is deprecated by Hetzner and will be removed; %s.' % (name, hint)
    return ''


def _has_tag(guest, tag):
    return tag in re.split(r'[;, ]+', str(guest.get('tags') or ''))


def proxmox_templates(guests, tag):
    """``{pve node: template name}`` of the template VMs carrying ``tag`` (the first one per node)."""
    found = {}
    for guest in sorted(guests or [], key=lambda g: g.get('vmid', 0)):
        if guest.get('template') and _has_tag(guest, tag):
            found.setdefault(guest.get('node'), guest.get('name'))
    return found


def proxmox_vm_problems(vms, guests, nodes, storages, storage, template_tag):
    """One sentence per reason the planned VMs cannot be created as asked; empty when they can.

    ``guests`` is the cluster's VM list (``/cluster/resources?type=vm`` or proxmox_vm_info),
    ``nodes`` and ``storages`` the names PVE knows.
    """
    templates = proxmox_templates(guests, template_tag)
    by_vmid = {g.get('vmid'): g.get('name') for g in guests or []}
    by_name = {g.get('name'): g.get('vmid') for g in guests or []}
    problems = []
    if storage not in storages:
        problems.append('storage %s does not exist; storages: %s.' % (storage, ', '.join(sorted(storages))))
    for vm in vms or []:
        name, node, vmid = vm.get('name'), vm.get('node'), vm.get('vmid')
        if node not in nodes:
            problems.append('VM %s: PVE node %s does not exist; nodes: %s.' % (name, node, ', '.join(sorted(nodes))))
        elif node not in templates:
            problems.append('VM %s: PVE node %s has no template tagged %s (each node needs its own, as ZFS '
                            'storage is local to a node).' % (name, node, template_tag))
        if by_vmid.get(vmid) not in (None, name):
            problems.append('VM %s: VMID %s already belongs to VM %s.' % (name, vmid, by_vmid[vmid]))
        elif by_name.get(name) not in (None, vmid):
            problems.append('VM %s already exists with VMID %s, not %s.' % (name, by_name[name], vmid))
    return problems
