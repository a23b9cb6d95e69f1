# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Proxmox VE side of the ``hybrid`` inventory: one cluster-wide list, then configs of the chosen VMs.

``GET /cluster/resources?type=vm`` returns every guest with name, node, status, tags and pool in
one call, so selection costs one request. Only the selected VMs' configs are read (for
``ipconfig0`` and the agent flag), through a bounded pool. The guest agent is asked only as a
last resort: it does not run while Talos is in maintenance mode. Only GETs, so a ``PVEAuditor``
token is enough.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor

from ._inventory_pve_client import PveClient, PveHttpError
from ._inventory_retry import InventorySourceError, OddHostError, RetryableError, network_reason

RETRYABLE_STATUS = (429, 502, 503, 504)
TAG_SEPARATORS = re.compile(r'[;,\s]+')


def parse_tags(value):
    """PVE stores tags as one string, ``;``-separated (older releases also wrote ``,`` or spaces)."""
    if not value:
        return []
    if isinstance(value, list):
        value = ';'.join(str(item) for item in value)
    return [tag.lower() for tag in TAG_SEPARATORS.split(str(value)) if tag]


def parse_property_string(value):
    """``ip=10.0.0.5/24,gw=10.0.0.1`` → dict; a bare first item (``virtio=MAC``-style flags) is kept as key."""
    result = {}
    for item in str(value or '').split(','):
        key, sep, val = item.partition('=')
        if key.strip():
            result[key.strip()] = val.strip() if sep else ''
    return result


def ipconfig_addresses(value):
    """Static addresses of one cloud-init ``ipconfigN`` value, IPv4 first; ``dhcp``/``auto`` give none."""
    config = parse_property_string(value)
    found = []
    for key in ('ip', 'ip6'):
        raw = config.get(key)
        if not raw or raw in ('dhcp', 'auto', 'manual'):
            continue
        try:
            found.append(str(ipaddress.ip_interface(raw).ip))
        except ValueError:
            raise OddHostError('%s=%s is not an address' % (key, raw)) from None
    return found


def vmid_address(vmid, subnet, offset=0):
    """The address a VMID maps to in ``subnet``: network address + (vmid - offset), a usable host address."""
    index = int(vmid) - int(offset)
    hosts = subnet.num_addresses - (2 if subnet.version == 4 and subnet.prefixlen < 31 else 0)
    if index < 1 or index > hosts:
        raise OddHostError('VMID %s minus offset %s does not fit in proxmox_vmid_subnet %s' % (vmid, offset, subnet))
    return str(subnet.network_address + index)


def agent_enabled(config):
    """``agent: 1`` or ``agent: enabled=1,fstrim_cloned_disks=1`` style values."""
    first = parse_property_string(config.get('agent'))
    return first.get('enabled') == '1' or '1' in first


def agent_address(answer):
    """The first global IPv4 (else IPv6) of ``agent/network-get-interfaces``, loopback and link-local skipped."""
    result = answer.get('result') if isinstance(answer, dict) else answer
    candidates = []
    for iface in result or []:
        for entry in (iface or {}).get('ip-addresses') or []:
            try:
                address = ipaddress.ip_address(entry.get('ip-address'))
            except ValueError:
                continue
            if not (address.is_loopback or address.is_link_local):
                candidates.append(address)
    candidates.sort(key=lambda a: a.version)
    return str(candidates[0]) if candidates else None


def role_of(tags, settings):
    """controlplane or worker from the role tags; OddHostError when both or neither are there."""
    roles = [role for role, tag in (('controlplane', settings['controlplane_tag']), ('worker', settings['worker_tag']))
             if tag in tags]
    if len(roles) != 1:
        raise OddHostError('it carries %s of the role tags %s and %s' % (
            'both' if roles else 'neither', settings['controlplane_tag'], settings['worker_tag']))
    return roles[0]


def select(resources, settings):
    """The QEMU guests to list: not templates, every ``proxmox_tags`` tag, the pool, and a role tag."""
    chosen = []
    role_tags = {settings['controlplane_tag'], settings['worker_tag']}
    for item in resources:
        if not isinstance(item, dict) or item.get('type') != 'qemu' or item.get('template'):
            continue
        tags = parse_tags(item.get('tags'))
        if not role_tags.intersection(tags) or not all(tag in tags for tag in settings['tags']):
            continue
        if settings['pool'] and item.get('pool') != settings['pool']:
            continue
        chosen.append(item)
    return chosen


def where(item):
    return "Proxmox VM %s '%s' on node %s" % (item.get('vmid'), item.get('name'), item.get('node'))


def normalise_vm(item, config, settings, agent=None):
    """One selected guest (resources entry + its config) as an inventory record, or OddHostError.

    ``agent`` is a callable returning the agent's address; it is only called when nothing static
    gives one and the VM runs with the agent enabled.
    """
    origin = where(item)
    if not item.get('name') or item.get('vmid') is None or not item.get('node'):
        raise OddHostError('%s: name, vmid or node is missing' % origin)
    tags = parse_tags(item.get('tags'))
    try:
        role = role_of(tags, settings)
        # Every ipconfigN feeds the private addresses; ipconfig0 alone gives the node address.
        static = {key: ipconfig_addresses(value) for key, value in config.items()
                  if re.match(r'^ipconfig\d+$', key)}
        address = (static.get('ipconfig0') or [None])[0]
        if address is None and settings['vmid_subnet'] is not None:
            address = vmid_address(item['vmid'], settings['vmid_subnet'], settings['vmid_offset'])
        if address is None and agent is not None and settings['guest_agent'] \
                and item.get('status') == 'running' and agent_enabled(config):
            address = agent()
    except OddHostError as exc:
        raise OddHostError('%s: %s' % (origin, exc)) from None
    if not address:
        raise OddHostError('%s has no address: no static ipconfig0%s%s' % (
            origin, ', no proxmox_vmid_subnet' if settings['vmid_subnet'] is None else '',
            ' and no guest agent answer' if settings['guest_agent'] else ''))
    private = [ip for key in sorted(static, key=lambda k: int(k[8:])) for ip in static[key]
               if ipaddress.ip_address(ip).is_private]
    return {
        'name': item['name'],
        'source': 'proxmox',
        'origin': origin,
        'role': role,
        'site': settings['site'],
        'address': address,
        'private_ips': private,
        'facts': {
            'proxmox_vmid': item['vmid'],
            'proxmox_node': item['node'],
            'proxmox_status': item.get('status'),
            'proxmox_tags': tags,
            'proxmox_pool': item.get('pool'),
        },
    }


class ProxmoxSource:
    """Lists the selected VMs; ``log`` receives -vvv progress lines."""

    def __init__(self, settings, budget, timeout, log):
        self.settings = settings
        self.budget = budget
        self.log = log
        self.requests = 0
        self._count_lock = threading.Lock()
        self.client = PveClient(settings, timeout)

    def _get(self, path, **params):
        describe = 'the Proxmox VE API at %s (GET %s)' % (self.settings['url'], path)

        def once():
            with self._count_lock:
                self.requests += 1
            try:
                return self.client.get(path, **params)
            except PveHttpError as exc:
                if exc.status in RETRYABLE_STATUS:
                    raise RetryableError('HTTP %s' % exc.status) from None
                if exc.status == 401:
                    raise InventorySourceError('%s refused the API token (401 %s); check proxmox_user, proxmox_token_id '
                                               'and proxmox_token_secret.' % (describe, exc.text)) from None
                raise InventorySourceError('%s failed: HTTP %s %s.' % (describe, exc.status, exc.text)) from None
            except ssl.SSLCertVerificationError:
                raise InventorySourceError('%s failed TLS verification; set proxmox_ca_file to the CA that signed its '
                                           'certificate.' % describe) from None
            except (OSError, http.client.HTTPException) as exc:
                raise InventorySourceError('%s is unreachable: %s.' % (describe, network_reason(exc))) from None
            except ValueError as exc:
                raise InventorySourceError('%s answered something that is not JSON: %s.' % (describe, exc)) from None
        return self.budget.call(once, describe)

    def _agent_address(self, item):
        path = '/nodes/%s/qemu/%s/agent/network-get-interfaces' % (item['node'], item['vmid'])
        try:
            return agent_address(self._get(path))
        except InventorySourceError as exc:
            # The agent is a last resort and may be down or forbidden (PVEAuditor): the host is skipped.
            raise OddHostError('the guest agent did not answer (%s)' % str(exc).rstrip('.')) from None

    def _record(self, item):
        config = self._get('/nodes/%s/qemu/%s/config' % (item['node'], item['vmid']))
        if not isinstance(config, dict):
            raise OddHostError('%s: its config is not a mapping' % where(item))
        return normalise_vm(item, config, self.settings, agent=lambda: self._agent_address(item))

    def cluster_name(self):
        """The PVE cluster's name (the Proxmox CSI region of its VMs); None for a node that is in no cluster."""
        status = self._get('/cluster/status')
        return next((entry.get('name') for entry in status if isinstance(entry, dict) and entry.get('type') == 'cluster'),
                    None) if isinstance(status, list) else None

    def records(self, warn):
        """Inventory records of the selected VMs; odd ones go to ``warn`` and are skipped."""
        resources = self._get('/cluster/resources', type='vm')
        if not isinstance(resources, list):
            raise InventorySourceError('the Proxmox VE API at %s answered GET /cluster/resources without a list.'
                                       % self.settings['url'])
        chosen = select(resources, self.settings)
        cluster = self.cluster_name() if chosen else None
        self.log('hybrid: Proxmox VE: %d guests, %d selected; reading their configs with %d workers'
                 % (len(resources), len(chosen), self.settings['workers']))
        outcomes = []

        def one(item):
            try:
                return self._record(item)
            except OddHostError as exc:
                return exc

        try:
            with ThreadPoolExecutor(max_workers=self.settings['workers']) as pool:
                # map keeps the cluster's order; an InventorySourceError in any worker is re-raised here.
                outcomes = list(pool.map(one, chosen))
        finally:
            self.client.close_all()
        records = []
        for outcome in outcomes:
            if isinstance(outcome, OddHostError):
                warn('hybrid inventory: skipping %s.' % outcome)
            else:
                if cluster:
                    outcome['facts']['proxmox_cluster'] = cluster
                records.append(outcome)
        self.log('hybrid: Proxmox VE: %d hosts from %d requests' % (len(records), self.requests))
        return records
