# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Hetzner Cloud side of the ``hybrid`` inventory: one paginated, label-selected server list.

Requests go through the ``hcloud`` library's client (auth, endpoint, error envelope), page by page
with ``per_page=50`` (the API maximum), filtered server side by the label selector. Read-only:
only GETs, so a read-only token is enough, and nothing is called "to check the token".
"""

from __future__ import annotations

import ipaddress

from ._inventory_retry import InventorySourceError, OddHostError, RetryableError, network_reason

try:
    import requests
    from hcloud import Client, APIException
    HAS_HCLOUD = True
except ImportError:
    HAS_HCLOUD = False

PER_PAGE = 50
ROLES = ('controlplane', 'worker')
# Answers worth another try (the same set the hcloud library retries, plus plain HTTP statuses).
RETRYABLE_CODES = ('rate_limit_exceeded', 'timeout', 'bad_gateway', 'conflict', 429, 502, 503, 504)


def _private_networks(raw):
    nets = []
    for entry in raw.get('private_net') or []:
        if isinstance(entry, dict) and entry.get('ip'):
            nets.append((entry.get('network'), entry['ip']))
    return nets


def _location(raw):
    location = raw.get('location') or (raw.get('datacenter') or {}).get('location') or {}
    return location.get('name') if isinstance(location, dict) else None


def _address(raw, settings, network_id):
    public = raw.get('public_net') or {}
    kind = settings['address']
    if kind == 'public_ipv4':
        return ((public.get('ipv4') or {}).get('ip')), 'no public IPv4 address'
    if kind == 'public_ipv6':
        network = (public.get('ipv6') or {}).get('ip')
        if not network:
            return None, 'no public IPv6 network'
        # Hetzner assigns a /64; the server itself answers on its first address (::1).
        return str(ipaddress.ip_network(network, strict=False)[1]), None
    nets = _private_networks(raw)
    if network_id is not None:
        nets = [net for net in nets if net[0] == network_id]
    return (nets[0][1] if nets else None), 'no private IPv4 address%s' % (
        ' in network %s' % settings['network'] if settings['network'] else '')


def normalise_server(raw, settings, network_id=None):
    """One server of ``GET /servers`` as an inventory record; OddHostError says why it cannot be one."""
    if not isinstance(raw, dict) or not raw.get('name') or raw.get('id') is None:
        raise OddHostError('a Hetzner server without a name or id in the API answer')
    where = "Hetzner server %s '%s'" % (raw['id'], raw['name'])
    labels = raw.get('labels') or {}
    if not isinstance(labels, dict):
        raise OddHostError('%s: its labels are not a mapping' % where)
    role = labels.get(settings['role_label'])
    if role not in ROLES:
        raise OddHostError('%s: label %s=%s is neither controlplane nor worker' % (where, settings['role_label'], role))
    try:
        address, missing = _address(raw, settings, network_id)
    except (ValueError, TypeError, AttributeError):
        raise OddHostError('%s: its addresses cannot be read' % where) from None
    if not address:
        raise OddHostError('%s has %s (hcloud_address=%s)' % (where, missing, settings['address']))
    return {
        'name': raw['name'],
        'source': 'hcloud',
        'origin': where,
        'role': role,
        'site': settings['site'],
        'address': address,
        'private_ips': [ip for _network, ip in _private_networks(raw)],
        'facts': {
            'hcloud_id': raw['id'],
            'hcloud_type': (raw.get('server_type') or {}).get('name'),
            'hcloud_location': _location(raw),
            'hcloud_datacenter': (raw.get('datacenter') or {}).get('name'),
            'hcloud_labels': dict(labels),
            'hcloud_status': raw.get('status'),
        },
    }


def without_library_retries(client):
    """Switch off the hcloud library's own retries; True when done.

    ``Client.request`` retries 429, 502, 504 and timeouts by itself, up to five times with up to 60 s of
    sleep each, which would hide the explicit per-run budget (option retries). hcloud-python has no
    public setting for it (its docs say the retry policy may change in any release), so this is the
    one place that touches its private ``ClientBase._retry_max_retries``; a unit test fails when a
    new release moves it.
    """
    base = getattr(client, '_client', None)
    if base is None or not isinstance(getattr(base, '_retry_max_retries', None), int):
        return False
    base._retry_max_retries = 0  # pylint: disable=protected-access
    return True


class HcloudSource:
    """Lists the selected servers; ``log`` receives -vvv progress lines."""

    def __init__(self, settings, budget, timeout, log):
        if not HAS_HCLOUD:
            raise InventorySourceError('the Hetzner Cloud source needs the Python libraries hcloud and requests '
                                       'on the controller (pip install hcloud).')
        self.settings = settings
        self.budget = budget
        self.log = log
        self.requests = 0
        self.client = Client(token=settings['token'], api_endpoint=settings['endpoint'],
                             application_name='hybridops.talos', timeout=timeout)
        if not without_library_retries(self.client):
            log('hybrid: this hcloud library has no known switch for its own retries; they add to option retries')

    def _get(self, path, params):
        describe = 'the Hetzner Cloud API at %s (GET %s)' % (self.settings['endpoint'], path)

        def once():
            self.requests += 1
            try:
                return self.client.request('GET', path, params=params)
            except APIException as exc:
                if exc.code in RETRYABLE_CODES:
                    raise RetryableError(str(exc.code)) from None
                if exc.code in ('unauthorized', 401):
                    raise InventorySourceError('%s refused the token (unauthorized); check hcloud_token or HCLOUD_TOKEN.'
                                               % describe) from None
                raise InventorySourceError('%s failed: %s.' % (describe, exc.message)) from None
            except requests.exceptions.RequestException as exc:
                raise InventorySourceError('%s is unreachable: %s.' % (describe, network_reason(exc))) from None
            except ValueError as exc:  # an answer that is not the API's JSON
                raise InventorySourceError('%s answered something that is not JSON: %s.' % (describe, exc)) from None
        return self.budget.call(once, describe)

    def network_id(self):
        """The id of hcloud_network: as given when numeric, else one lookup by name."""
        network = self.settings['network']
        if network is None:
            return None
        if network.isdigit():
            return int(network)
        found = self._get('/networks', {'name': network}).get('networks') or []
        if not found:
            raise InventorySourceError('hcloud_network %r does not exist in this Hetzner Cloud project.' % network)
        return found[0]['id']

    def servers(self):
        """Every server matching the label selector, following ``meta.pagination.next_page``."""
        selector = self.settings['label_selector']
        servers, page = [], 1
        while page:
            answer = self._get('/servers', {'label_selector': selector, 'page': page, 'per_page': PER_PAGE})
            batch = answer.get('servers')
            if not isinstance(batch, list):
                raise InventorySourceError('the Hetzner Cloud API at %s answered GET /servers without a server list.'
                                           % self.settings['endpoint'])
            servers.extend(batch)
            page = ((answer.get('meta') or {}).get('pagination') or {}).get('next_page')
            self.log('hybrid: Hetzner Cloud page %s: %d servers (label_selector=%s)' % (
                answer.get('meta', {}).get('pagination', {}).get('page', '?'), len(batch), selector))
        return servers

    def records(self, warn):
        """Inventory records of the selected servers; odd ones go to ``warn`` and are skipped."""
        network_id = self.network_id()
        records = []
        for raw in self.servers():
            try:
                records.append(normalise_server(raw, self.settings, network_id))
            except OddHostError as exc:
                warn('hybrid inventory: skipping %s.' % exc)
        self.log('hybrid: Hetzner Cloud: %d hosts from %d requests' % (len(records), self.requests))
        return records
