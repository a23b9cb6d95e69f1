# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the ``hybrid`` inventory source's flat options into one checked settings dict per backend.

The options are flat (``hcloud_token``, ``proxmox_url`` ...) because only top-level options can
carry ``env:`` entries, which is how AWX injects credentials. Everything is checked here, before
any request, so a bad source fails with one sentence and no network traffic.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import urlsplit

from ._inventory_retry import InventorySourceError

SITE_PATTERN = re.compile(r'^[A-Za-z0-9_]+$')
# Hetzner label keys: optional DNS-subdomain prefix, then a name of at most 63 characters.
LABEL_KEY_PATTERN = re.compile(r'^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$')
TAG_PATTERN = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_+.-]*$')
MAX_WORKERS = 10  # requests keeps ten connections per host; more workers would only open and drop extra ones
HCLOUD_ADDRESSES = ('public_ipv4', 'public_ipv6', 'private_ipv4')


def _is_set(value):
    return value is not None and value != ''


def _enabled(explicit, configured, backend, missing):
    """None means "on when configured"; true insists on it (and its credentials); false turns it off."""
    if explicit is False:
        return False
    if explicit is True and missing:
        raise InventorySourceError('%s is enabled but %s %s not set.'
                                   % (backend, ', '.join(missing), 'is' if len(missing) == 1 else 'are'))
    return configured


def _site(value, option):
    if not isinstance(value, str) or not SITE_PATTERN.match(value):
        raise InventorySourceError('%s must be letters, digits and underscores (it becomes group site_<name>), got %r.'
                                   % (option, value))
    return value


def _retry(options):
    retries, backoff, max_delay = options.get('retries', 5), options.get('retry_backoff', 1.0), options.get('retry_max_delay', 30.0)
    if retries is None or retries < 0:
        raise InventorySourceError('retries must be 0 or more, got %r.' % (retries,))
    if backoff is None or backoff < 0 or max_delay is None or max_delay < 0:
        raise InventorySourceError('retry_backoff and retry_max_delay must be 0 or more seconds.')
    return {'retries': int(retries), 'backoff': float(backoff), 'max_delay': float(max_delay)}


def _mentions_label(selector, key):
    """True when a term of ``selector`` already tests ``key`` (``key``, ``key=v``, ``key in (...)`` ...)."""
    return re.search(r'(^|,)\s*%s\s*(==|!=|=|\s+in\s|\s+notin\s|,|$)' % re.escape(key), selector) is not None


def _hcloud(options):
    token, endpoint = options.get('hcloud_token'), options.get('hcloud_endpoint') or 'https://api.hetzner.cloud/v1'
    enabled = _enabled(options.get('hcloud_enabled'), _is_set(token), 'the Hetzner Cloud source (hcloud_enabled)',
                       [] if _is_set(token) else ['hcloud_token'])
    if not enabled:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise InventorySourceError('hcloud_endpoint must be an http(s) URL, got %r.' % (endpoint,))
    role_label = options.get('hcloud_role_label') or 'talos-role'
    if not LABEL_KEY_PATTERN.match(role_label):
        raise InventorySourceError('hcloud_role_label %r is not a valid Hetzner label key.' % (role_label,))
    address = options.get('hcloud_address') or 'public_ipv4'
    if address not in HCLOUD_ADDRESSES:
        raise InventorySourceError('hcloud_address must be one of %s, got %r.' % (', '.join(HCLOUD_ADDRESSES), address))
    selector = (options.get('hcloud_label_selector') or '').strip()
    if not _mentions_label(selector, role_label):
        # Server side: the user's selector AND "has the role label", so non-Talos servers never travel.
        selector = ','.join(part for part in (selector, role_label) if part)
    network = options.get('hcloud_network')
    return {
        'token': token,
        'endpoint': endpoint.rstrip('/'),
        'label_selector': selector,
        'role_label': role_label,
        'address': address,
        'network': str(network) if _is_set(network) else None,
        'site': _site(options.get('hcloud_site') or 'vps', 'hcloud_site'),
    }


def _proxmox_url(url):
    parts = urlsplit(url)
    if parts.scheme != 'https' or not parts.hostname:
        raise InventorySourceError('proxmox_url must be an https:// URL such as https://pve.example.org:8006, got %r.' % (url,))
    if parts.username or parts.password:
        raise InventorySourceError('proxmox_url must not carry credentials; use proxmox_user and the token options.')
    host = parts.hostname if ':' not in parts.hostname else '[%s]' % parts.hostname
    path = parts.path.strip('/')
    if path.endswith('api2/json'):
        path = path[:-len('api2/json')].strip('/')
    return {'host': host, 'port': parts.port or 8006, 'path_prefix': path or None,
            'url': 'https://%s:%d%s' % (host, parts.port or 8006, '/' + path if path else '')}


def _token_parts(user, token_id):
    """PVE token ids are ``USER@REALM!NAME``; accept the full id or the name alone beside proxmox_user."""
    if _is_set(token_id) and '!' in token_id:
        token_user, _sep, name = token_id.partition('!')
        if _is_set(user) and user != token_user:
            raise InventorySourceError('proxmox_token_id %r belongs to %s, not to proxmox_user %s.'
                                       % (token_id, token_user, user))
        return token_user, name
    return user, token_id


def _proxmox(options):
    url = options.get('proxmox_url')
    user, token_name = _token_parts(options.get('proxmox_user'), options.get('proxmox_token_id'))
    secret = options.get('proxmox_token_secret')
    named = {'proxmox_url': url, 'proxmox_user': user, 'proxmox_token_id': token_name, 'proxmox_token_secret': secret}
    missing = [name for name, value in named.items() if not _is_set(value)]
    enabled = _enabled(options.get('proxmox_enabled'), _is_set(url), 'the Proxmox VE source (proxmox_enabled)', missing)
    if not enabled:
        return None
    if missing:
        raise InventorySourceError('proxmox_url is set but %s %s not; the Proxmox source needs an API token.'
                                   % (', '.join(missing), 'is' if len(missing) == 1 else 'are'))
    tags = [str(tag).lower() for tag in (options.get('proxmox_tags') or [])]
    cp_tag = str(options.get('proxmox_controlplane_tag') or 'talos-controlplane').lower()
    worker_tag = str(options.get('proxmox_worker_tag') or 'talos-worker').lower()
    for tag in tags + [cp_tag, worker_tag]:
        if not TAG_PATTERN.match(tag):
            raise InventorySourceError('%r is not a valid Proxmox tag.' % (tag,))
    if set(tags) & {cp_tag, worker_tag}:
        raise InventorySourceError('proxmox_tags lists a role tag; VMs are already selected by %s or %s, '
                                   'and proxmox_tags narrows them to those carrying every listed tag.'
                                   % (cp_tag, worker_tag))
    if cp_tag == worker_tag:
        raise InventorySourceError('proxmox_controlplane_tag and proxmox_worker_tag must differ, both are %r.' % (cp_tag,))
    subnet = options.get('proxmox_vmid_subnet')
    if _is_set(subnet):
        try:
            subnet = ipaddress.ip_network(subnet, strict=True)
        except ValueError:
            raise InventorySourceError('proxmox_vmid_subnet must be a network in CIDR form such as 192.168.10.0/24, got %r.'
                                       % (subnet,)) from None
    workers = options.get('proxmox_workers', 8)
    if workers is None or not 1 <= workers <= MAX_WORKERS:
        raise InventorySourceError('proxmox_workers must be between 1 and %d, got %r.' % (MAX_WORKERS, workers))
    ca_file = options.get('proxmox_ca_file')
    validate = options.get('proxmox_validate_certs', True)
    settings = _proxmox_url(url)
    settings.update({
        'user': user,
        'token_name': token_name,
        'token_secret': secret,
        # requests: a CA file path verifies against it, False skips verification.
        'verify': ca_file if _is_set(ca_file) and validate is not False else bool(validate is not False),
        'tags': tags,
        'pool': options.get('proxmox_pool') or None,
        'controlplane_tag': cp_tag,
        'worker_tag': worker_tag,
        'vmid_subnet': subnet if _is_set(subnet) else None,
        'vmid_offset': int(options.get('proxmox_vmid_offset') or 0),
        'guest_agent': options.get('proxmox_guest_agent', True) is not False,
        'workers': int(workers),
        'site': _site(options.get('proxmox_site') or 'home', 'proxmox_site'),
    })
    return settings


def build_settings(options):
    """Checked settings ``{'hcloud': dict|None, 'proxmox': dict|None, 'retry': dict, 'timeout': float}``."""
    timeout = options.get('timeout', 30)
    if timeout is None or timeout <= 0:
        raise InventorySourceError('timeout must be a positive number of seconds, got %r.' % (timeout,))
    settings = {'hcloud': _hcloud(options), 'proxmox': _proxmox(options), 'retry': _retry(options),
                'timeout': float(timeout)}
    if settings['hcloud'] is None and settings['proxmox'] is None:
        raise InventorySourceError('no backend is configured: set hcloud_token (or HCLOUD_TOKEN) for Hetzner Cloud, '
                                   'proxmox_url (or PROXMOX_URL) and its token for Proxmox VE, or both.')
    return settings


def cache_identity(settings):
    """A digest of the non-secret settings that shape the result, so an edited source never reads a stale cache entry."""
    identity = {}
    for backend in ('hcloud', 'proxmox'):
        part = settings.get(backend)
        if part:
            identity[backend] = sorted((key, str(value)) for key, value in part.items()
                                       if key not in ('token', 'token_secret'))
    return hashlib.sha256(repr(sorted(identity.items())).encode('utf-8')).hexdigest()[:12]
