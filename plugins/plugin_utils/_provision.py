# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks that the firewall, KubeSpan and the Kubernetes endpoint of a planned cluster fit together.

Pure logic behind the filters ``firewall_problems``, ``endpoint_problems`` and ``kubespan_problems``
and their unit tests. The design: the Cloud Firewall opens the Talos API (50000/tcp) and the
Kubernetes API (6443/tcp) only to the operator's networks, so every other node reaches the control
planes over KubeSpan (51820/udp, open to the world); the Kubernetes endpoint names the Hetzner
control planes, never an address that only the home network can reach.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import yaml

WORLD = (ipaddress.ip_network('0.0.0.0/0'), ipaddress.ip_network('::/0'))


def _network(text):
    return ipaddress.ip_network(str(text).strip(), strict=False)


def firewall_problems(admin_cidrs, allow_world=False):
    """(problems, warnings) of the networks allowed to reach 50000/tcp and 6443/tcp."""
    if admin_cidrs is None or isinstance(admin_cidrs, (str, bytes)) or not list(admin_cidrs):
        return (['hcloud_nodes_admin_cidrs is empty: list the networks that may reach the Talos API (50000/tcp) and the Kubernetes '
                 'API (6443/tcp), for example the address of your office or VPN; there is no default on purpose.'], [])
    problems, warnings, world = [], [], []
    for entry in admin_cidrs:
        try:
            network = _network(entry)
        except ValueError:
            problems.append('hcloud_nodes_admin_cidrs entry %r is not an IP network in CIDR notation.' % (entry,))
            continue
        if network.prefixlen == 0:
            world.append(str(network))
    if world and not allow_world:
        problems.append('hcloud_nodes_admin_cidrs contains %s, which opens the Talos API and the Kubernetes API to the whole '
                        'internet: list your own networks, or set hcloud_nodes_allow_world=true if you really mean it.'
                        % ', '.join(world))
    elif world:
        warnings.append('hcloud_nodes_admin_cidrs contains %s: the Talos API (50000/tcp) and the Kubernetes API (6443/tcp) of every '
                        'Hetzner server are open to the whole internet (allowed by allow_world=true).' % ', '.join(world))
    return problems, warnings


def endpoint_host(endpoint):
    """The host of a Kubernetes endpoint URL (``https://host:port``); ValueError when it is not one."""
    parts = urlsplit(str(endpoint or '').strip())
    if parts.scheme != 'https' or not parts.hostname:
        raise ValueError('the Kubernetes endpoint %r is not an https:// URL with a host (for example '
                         'https://k8s.example.net:6443).' % (endpoint,))
    return parts.hostname


def _resolve(host):
    return sorted({info[4][0] for info in socket.getaddrinfo(host, 6443, proto=socket.IPPROTO_TCP)})


def endpoint_problems(endpoint, nodes, site='vps', resolve=_resolve):
    """Problems of the Kubernetes endpoint; empty when every address it names is a control plane's of ``site``.

    ``nodes`` are the planned or inventory nodes, each ``{name, role, site, addresses}`` (public and
    private addresses). An endpoint that names another node (a home one) is refused with the node's name,
    since nodes and clients outside the home network could not reach it.
    """
    owners = {}
    for node in sorted(nodes or (), key=lambda n: (n.get('role') != 'controlplane' or n.get('site') != site, n.get('name', ''))):
        kind = 'controlplane' if node.get('role') == 'controlplane' and node.get('site') == site else 'other'
        for address in node.get('addresses') or ():
            if address:
                owners.setdefault(str(address), (kind, node.get('name', '?')))
    try:
        host = endpoint_host(endpoint)
    except ValueError as exc:
        return [str(exc)]
    wanted = sorted(address for address, (kind, _name) in owners.items() if kind == 'controlplane')
    try:
        addresses = [str(ipaddress.ip_address(host))]
        named = host
    except ValueError:
        named = '%s (resolved on the controller)' % host
        try:
            addresses = resolve(host)
        except (OSError, UnicodeError) as exc:
            return ['the Kubernetes endpoint %s does not resolve (%s): create DNS records that point it at the control '
                    'planes of site %s (%s) and run again.' % (host, exc, site, ', '.join(wanted) or 'none planned')]
    problems = []
    for address in addresses:
        kind, name = owners.get(address, (None, None))
        if kind == 'controlplane':
            continue
        if kind == 'other':
            problems.append('the Kubernetes endpoint %s points at %s, the address of %s, not of a control plane of site %s: '
                            'nodes and clients outside that node\'s network (AWX in the cloud, the other site) cannot reach '
                            'it; point it at the control planes of site %s (%s).'
                            % (named, address, name, site, site, ', '.join(wanted) or 'none planned'))
        else:
            problems.append('the Kubernetes endpoint %s points at %s, which is no control plane of this cluster; point it at '
                            'the control planes of site %s (%s).' % (named, address, site, ', '.join(wanted) or 'none planned'))
    return problems


def _get(document, *path):
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _documents(patches):
    for patch in patches or ():
        if isinstance(patch, dict):
            yield patch
        elif isinstance(patch, str) and not patch.startswith('@'):
            try:
                for document in yaml.safe_load_all(patch):
                    if isinstance(document, dict):
                        yield document
            except yaml.YAMLError:
                continue  # the renderer says what is wrong with it


def kubespan_problems(patches, firewall_closed=True):
    """Problems when patches turn KubeSpan or discovery off while the firewall lets only the operator in.

    Patches given as mappings or as YAML text are read (strategic merge; RFC 6902 lists and ``@file``
    patches are not): with 6443/tcp and 50001/tcp closed to the world, nodes outside the operator's
    networks reach the control planes only over KubeSpan.
    """
    if not firewall_closed:
        return []
    problems = []
    for patch in _documents(patches):
        if _get(patch, 'machine', 'network', 'kubespan', 'enabled') is False or (
                patch.get('kind') == 'KubeSpanConfig' and patch.get('enabled') is False):
            problems.append('a patch turns KubeSpan off, but the Cloud Firewall lets 6443/tcp and 50001/tcp in only from '
                            'admin_cidrs: nodes outside those networks could not reach the control planes; keep KubeSpan on.')
        if _get(patch, 'cluster', 'discovery', 'enabled') is False:
            problems.append('a patch turns cluster discovery off, which KubeSpan needs to find its peers; the nodes outside '
                            'admin_cidrs could then not reach the control planes through the closed firewall.')
    return problems


def planned_nodes(hcloud_servers, proxmox_vms, addresses=None, hcloud_site='vps', proxmox_site='home'):
    """The planned nodes ``{name, role, site, addresses}`` of the two provisioning roles' server and VM lists.

    ``addresses`` maps Hetzner server names to their public IPv4 (the Primary IPs made before the servers);
    a Hetzner server's planned private address and a VM's static address (without its prefix length) follow.
    """
    nodes = []
    for server in hcloud_servers or ():
        found = [(addresses or {}).get(server.get('name')), server.get('private_ip')]
        nodes.append({'name': server.get('name'), 'role': server.get('role'), 'site': hcloud_site,
                      'addresses': [str(a).split('/', 1)[0] for a in found if a]})
    for vm in proxmox_vms or ():
        nodes.append({'name': vm.get('name'), 'role': vm.get('role'), 'site': proxmox_site,
                      'addresses': [str(vm['ip']).split('/', 1)[0]] if vm.get('ip') else []})
    return nodes


def in_networks(address, networks):
    """Whether ``address`` (``host`` or ``host:port``) lies in one of ``networks`` (CIDR); False for a DNS name."""
    host = str(address or '').strip()
    if host.startswith('['):
        host = host[1:].partition(']')[0]
    elif host.count(':') == 1:
        host = host.partition(':')[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in _network(network) for network in networks or ())
