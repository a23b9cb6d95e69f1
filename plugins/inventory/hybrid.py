# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: hybrid
short_description: Talos nodes on Hetzner Cloud and Proxmox VE as one inventory
version_added: 0.1.0
description:
  - Lists the Talos nodes of a hybrid cluster from Hetzner Cloud servers and Proxmox VE virtual machines
    in one inventory, with Talos-aware groups and variables.
  - Uses a YAML inventory source whose file name ends in C(hybrid.yml) or C(hybrid.yaml), for example
    C(talos.hybrid.yml). A file that names this plugin under another name is not read, with a warning that says why.
  - Hetzner Cloud is read with one paginated, server-side label-selected server list. Proxmox VE is read with one
    C(GET /cluster/resources?type=vm) call, then the configuration of each selected VM (for its static C(ipconfig0)
    address) through a bounded pool of workers.
  - A backend is used when its credentials are set (O(hcloud_token); O(proxmox_url) with its token), unless
    O(hcloud_enabled) or O(proxmox_enabled) say otherwise. Either backend may be absent, not both.
  - Every host is put in V(talos_controlplane) or V(talos_worker) and in V(site_<name>), and gets C(talos_role),
    C(talos_site), C(ansible_host), C(talos_node_ip), C(talos_private_ips) and backend facts (C(hcloud_id),
    C(hcloud_type), C(hcloud_location), C(hcloud_labels), C(hcloud_status); C(proxmox_vmid), C(proxmox_node),
    C(proxmox_status), C(proxmox_tags), C(proxmox_pool)). Values read from the APIs are marked unsafe.
  - Talos nodes have neither SSH nor Python, so every host gets C(ansible_connection=local) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}); plays over them run on the controller.
  - A machine that cannot become a host (no address, no or two roles, unreadable data) is skipped with a warning;
    the same host name on both backends is an error that names both machines.
  - A backend that cannot be read fails the run, unless O(allow_partial=true) lets the other backend's hosts be
    listed without it (see O(allow_partial)).
  - Only read requests are made, so a read-only Hetzner Cloud token and a Proxmox token with the C(PVEAuditor)
    role are enough. No request is made just to check a token.
author:
  - hybridops.talos contributors (@hybridops)
requirements:
  - hcloud (Python library, for the Hetzner Cloud part; the Proxmox VE part needs only the standard library)
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks the source as one for this plugin.
    type: str
    required: true
    choices: [hybridops.talos.hybrid]
  hcloud_enabled:
    description:
      - Whether to read Hetzner Cloud.
      - When unset, Hetzner Cloud is read if O(hcloud_token) is set. V(true) makes a missing token an error;
        V(false) ignores a token, for example one that AWX injects for other job templates.
    type: bool
  hcloud_token:
    description:
      - Hetzner Cloud API token. A read-only token is enough.
    type: str
    env:
      - name: HCLOUD_TOKEN
  hcloud_endpoint:
    description: Hetzner Cloud API endpoint.
    type: str
    default: https://api.hetzner.cloud/v1
    env:
      - name: HCLOUD_ENDPOINT
  hcloud_label_selector:
    description:
      - Hetzner Cloud label selector, applied by the API, for example V(cluster=prod).
      - The plugin always adds O(hcloud_role_label) to it, so only servers carrying a role label are listed.
    type: str
    default: ''
  hcloud_role_label:
    description: Label whose value, V(controlplane) or V(worker), is a server's Talos role.
    type: str
    default: talos-role
  hcloud_address:
    description:
      - Which server address becomes C(ansible_host) and C(talos_node_ip).
      - V(public_ipv6) takes the first address (C(::1)) of the server's IPv6 network.
    type: str
    default: public_ipv4
    choices: [public_ipv4, public_ipv6, private_ipv4]
  hcloud_network:
    description:
      - Name or ID of the private network whose address O(hcloud_address=private_ipv4) uses.
      - When unset, the first private network of the server is used. A name costs one extra request.
    type: str
  hcloud_site:
    description: Site of the Hetzner Cloud servers; the group is C(site_<name>).
    type: str
    default: vps
  proxmox_enabled:
    description:
      - Whether to read Proxmox VE.
      - When unset, Proxmox VE is read if O(proxmox_url) is set. V(true) makes missing credentials an error;
        V(false) ignores them.
    type: bool
  proxmox_url:
    description:
      - URL of the Proxmox VE API, for example V(https://pve.example.org:8006).
    type: str
    env:
      - name: PROXMOX_URL
  proxmox_user:
    description:
      - User the API token belongs to, for example V(inventory@pve).
    type: str
    env:
      - name: PROXMOX_USER
  proxmox_token_id:
    description:
      - Name of the API token, or the full token ID V(USER@REALM!NAME).
      - A token with the C(PVEAuditor) role on the VMs is enough.
    type: str
    env:
      - name: PROXMOX_TOKEN_ID
  proxmox_token_secret:
    description: Secret of the API token.
    type: str
    env:
      - name: PROXMOX_TOKEN_SECRET
  proxmox_ca_file:
    description:
      - PEM file of the CA that signed the Proxmox VE API certificate.
      - Preferred over O(proxmox_validate_certs=false) for self-signed clusters.
    type: path
    env:
      - name: PROXMOX_CA_FILE
  proxmox_validate_certs:
    description: Whether to verify the Proxmox VE API certificate.
    type: bool
    default: true
    env:
      - name: PROXMOX_VALIDATE_CERTS
  proxmox_tags:
    description: Only list VMs that carry every one of these tags (besides a role tag).
    type: list
    elements: str
    default: []
  proxmox_pool:
    description: Only list VMs in this resource pool.
    type: str
  proxmox_controlplane_tag:
    description: Tag that makes a VM a Talos control plane.
    type: str
    default: talos-controlplane
  proxmox_worker_tag:
    description: Tag that makes a VM a Talos worker.
    type: str
    default: talos-worker
  proxmox_vmid_subnet:
    description:
      - Network, in CIDR form, whose address number C(vmid - proxmox_vmid_offset) a VM without a static
        C(ipconfig0) address has, for example V(192.168.10.0/24) with VMID 110 and offset 100 giving
        V(192.168.10.10).
    type: str
  proxmox_vmid_offset:
    description: Subtracted from the VMID before it is used as address number in O(proxmox_vmid_subnet).
    type: int
    default: 0
  proxmox_guest_agent:
    description:
      - Whether to ask the QEMU guest agent for an address as a last resort, when a running VM with the agent
        enabled has neither a static C(ipconfig0) nor a VMID-derived address.
      - The agent does not run while Talos is in maintenance mode; prefer static addressing.
    type: bool
    default: true
  proxmox_workers:
    description: How many VM configurations are read at the same time (1 to 10).
    type: int
    default: 8
  proxmox_site:
    description: Site of the Proxmox VE virtual machines; the group is C(site_<name>).
    type: str
    default: home
  allow_partial:
    description:
      - What to do when both backends are configured and one of them cannot be read (unreachable, timed out,
        rate limited or failing beyond the retry budget, refusing the token, answering nonsense).
      - V(false) fails the run, naming the backend and the reason.
      - V(true) warns and goes on with the other backend, so that a scheduled check of the reachable site still
        runs during an outage of the other one. The site of the unreadable backend keeps its group C(site_<name>)
        and gets the group variable C(hybrid_inventory_error), the one-sentence reason; the group C(all) gets
        C(hybrid_inventory_errors), a mapping of each such site to its reason. The site's hosts are the ones
        the inventory cache still holds for this source (O(cache=true), within O(cache_timeout)), with their
        variables as last read; without a cache entry the group is empty. A warm cache answers without any
        request, so a job that must read the APIs every time runs with C(--flush-cache) or
        a C(refresh_inventory) meta task, and falls back on the cache only when a backend is down.
      - A run in which every configured backend fails still fails, and so do bad options and a host name used on
        both backends. A run with an unreadable backend never writes the inventory cache, so the cache keeps the
        last complete listing.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for one API answer.
    type: float
    default: 30
  retries:
    description:
      - Retry budget of one inventory run, per backend, for answers worth retrying (HTTP 429 rate limiting,
        502 to 504). When it is spent the run fails and says so.
    type: int
    default: 5
  retry_backoff:
    description: Seconds before the first retry of a request; doubled for each further retry of it, with jitter.
    type: float
    default: 1.0
  retry_max_delay:
    description: Longest wait, in seconds, between two tries of a request.
    type: float
    default: 30.0
notes:
  - With O(cache=true) a cache hit makes no API request; C(meta refresh_inventory) and C(--flush-cache) read the
    APIs again. The cache holds the host list, never a token.
  - Ansible reports a source that no inventory plugin accepted only as "could not be verified"; this plugin adds a
    warning naming the file and the file name it expects.
seealso:
  - name: The hybrid inventory guide
    description: Options, AWX credential injection and performance notes.
    link: https://github.com/hybridops/talos/blob/main/docs/inventory.md
"""

EXAMPLES = r"""
# talos.hybrid.yml: both backends; credentials from HCLOUD_TOKEN, PROXMOX_URL, PROXMOX_USER,
# PROXMOX_TOKEN_ID, PROXMOX_TOKEN_SECRET and PROXMOX_CA_FILE, as AWX injects them.
plugin: hybridops.talos.hybrid
hcloud_label_selector: cluster=prod

---
# Proxmox VE only, VMs of one pool, workers addressed from their VMID when ipconfig0 is not static.
plugin: hybridops.talos.hybrid
hcloud_enabled: false
proxmox_url: https://pve.example.org:8006
proxmox_user: inventory@pve
proxmox_token_id: ansible
proxmox_ca_file: /etc/pki/pve-ca.pem
proxmox_pool: talos
proxmox_vmid_subnet: 192.168.10.0/24
proxmox_vmid_offset: 100

---
# Renamed sites, the private network address for Hetzner, a cache and constructed groups.
# allow_partial: a home outage leaves site_lab with its cached hosts and a reason instead of failing.
plugin: hybridops.talos.hybrid
allow_partial: true
hcloud_address: private_ipv4
hcloud_network: talos
hcloud_site: fsn
proxmox_site: lab
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible-inventory
keyed_groups:
  - key: hcloud_location | default('proxmox')
    prefix: location
groups:
  etcd: talos_role == 'controlplane'
"""

import os
import re
from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.template import trust_as_template

from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_hcloud import HcloudSource
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_merge import group_names, host_vars, merge
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_options import build_settings, cache_identity
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_proxmox import ProxmoxSource
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_retry import InventorySourceError, RetryBudget

# Like hetzner.hcloud (*hcloud.yml) and community.proxmox (*proxmox.yml): any name with this ending.
SOURCE_SUFFIXES = ('hybrid.yml', 'hybrid.yaml')
# The test the auto plugin makes (top-level "plugin:" names us), on the text: no YAML parse for every source.
NAMES_THIS_PLUGIN = re.compile(r"""^plugin:[ \t]*(['"]?)hybridops\.talos\.hybrid\1[ \t]*(#.*)?$""", re.MULTILINE)
PEEK_BYTES = 65536
BACKENDS = (('hcloud', HcloudSource), ('proxmox', ProxmoxSource))
# Options that may be given as templates (for example a lookup of a vaulted token).
TEMPLATED_OPTIONS = ('hcloud_token', 'hcloud_endpoint', 'proxmox_url', 'proxmox_user', 'proxmox_token_id',
                     'proxmox_token_secret', 'proxmox_ca_file')
OPTION_NAMES = TEMPLATED_OPTIONS + (
    'hcloud_enabled', 'hcloud_label_selector', 'hcloud_role_label', 'hcloud_address', 'hcloud_network', 'hcloud_site',
    'proxmox_enabled', 'proxmox_validate_certs', 'proxmox_tags', 'proxmox_pool', 'proxmox_controlplane_tag',
    'proxmox_worker_tag', 'proxmox_vmid_subnet', 'proxmox_vmid_offset', 'proxmox_guest_agent', 'proxmox_workers',
    'proxmox_site', 'timeout', 'retries', 'retry_backoff', 'retry_max_delay')


def names_this_plugin(path):
    """True when the YAML file at ``path`` says ``plugin: hybridops.talos.hybrid`` (its first 64 KiB are read)."""
    if not path.endswith(('.yml', '.yaml')):
        return False
    try:
        with open(path, 'rb') as handle:
            text = handle.read(PEEK_BYTES).decode('utf-8', errors='replace')
    except OSError:
        return False
    return NAMES_THIS_PLUGIN.search(text) is not None


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = 'hybridops.talos.hybrid'

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        if os.path.basename(path).endswith(SOURCE_SUFFIXES):
            return True
        if names_this_plugin(path):
            # Ansible itself only says the source "could not be verified", at the default verbosity without why.
            self.display.warning('hybrid inventory: %s names plugin hybridops.talos.hybrid but is not read, because the '
                                 'plugin reads only files whose name ends in hybrid.yml or hybrid.yaml; rename it, '
                                 'for example to talos.hybrid.yml.' % path)
        else:
            self.display.vvv('hybrid: skipping %s, its name ends neither in hybrid.yml nor hybrid.yaml' % path)
        return False

    def _option_values(self):
        options = {}
        for name in OPTION_NAMES:
            value = self.get_option(name)
            if name in TEMPLATED_OPTIONS and isinstance(value, str) and self.templar.is_template(value):
                value = self.templar.template(value)
            options[name] = value
        return options

    def _fetch(self, settings):
        """``(records, failures)``: the records of each configured backend that could be read, and the
        one-sentence reason of each that could not, both keyed by backend name."""
        retry = settings['retry']
        sources = {}
        for name, source_class in BACKENDS:
            if settings[name] is not None:
                budget = RetryBudget(retry['retries'], retry['backoff'], retry['max_delay'])
                sources[name] = source_class(settings[name], budget, settings['timeout'], self.display.vvv)
        found, failures, warnings = {}, {}, {}
        # Both backends at once: the Hetzner pages arrive while the Proxmox configs are read.
        # Warnings are collected and shown from this thread, in backend order.
        with ThreadPoolExecutor(max_workers=len(sources)) as pool:
            futures = {}
            for name, source in sources.items():
                warnings[name] = []
                futures[name] = pool.submit(source.records, warnings[name].append)
            for name, future in futures.items():
                try:
                    found[name] = future.result()
                except InventorySourceError as exc:
                    failures[name] = str(exc)
        for name in sources:
            for message in warnings[name]:
                self.display.warning(message)
        return found, failures

    def _last_known(self, cache_key, backend):
        """The hosts of ``backend`` that the inventory cache still holds for this source, or None."""
        if not self.get_option('cache'):
            return None
        cached = self._cache.get(cache_key)
        if not isinstance(cached, list):
            return None
        return [record for record in cached if record.get('source') == backend]

    def _read(self, settings, cache_key):
        """``(records, unavailable)`` of a live read. A backend that could not be read fails it, unless
        allow_partial keeps its site (hosts from the cache if any) with the reason in ``unavailable``."""
        found, failures = self._fetch(settings)
        if failures and (not self.get_option('allow_partial') or not found):
            raise InventorySourceError(' '.join(failures.values()))
        unavailable = {}
        for backend, reason in failures.items():
            site = settings[backend]['site']
            last = self._last_known(cache_key, backend)
            if last is None:
                keeps = 'is listed without hosts (%s)' % (
                    'the inventory cache holds no entry for this source' if self.get_option('cache')
                    else 'no inventory cache to take them from')
            else:
                keeps = 'keeps the %d hosts the inventory cache holds from the last complete read' % len(last)
            self.display.warning('hybrid inventory: %s With allow_partial, site %s %s.' % (reason, site, keeps))
            found[backend] = last or []
            unavailable[site] = reason
        return merge(*(found[name] for name, _source in BACKENDS if name in found)), unavailable

    def _mark_unavailable(self, unavailable):
        """The reason a site could not be read: on its group (so on its hosts) and, by site, on all."""
        for site, reason in unavailable.items():
            group = self.inventory.add_group('site_%s' % site)
            self.inventory.set_variable(group, 'hybrid_inventory_error', reason)
        self.inventory.set_variable('all', 'hybrid_inventory_errors', dict(unavailable))

    def _populate(self, records):
        strict = self.get_option('strict')
        compose, groups, keyed = self.get_option('compose'), self.get_option('groups'), self.get_option('keyed_groups')
        interpreter = trust_as_template('{{ ansible_playbook_python }}')
        for group in sorted({group for record in records for group in group_names(record)}):
            self.inventory.add_group(group)
        # No wrap_var: ansible-core 2.19 keeps values from an inventory plugin untrusted (never templated) itself.
        for record in records:
            name = self.inventory.add_host(record['name'])
            for group in group_names(record):
                self.inventory.add_child(group, name)
            for key, value in host_vars(record).items():
                self.inventory.set_variable(name, key, value)
            self.inventory.set_variable(name, 'ansible_connection', 'local')
            self.inventory.set_variable(name, 'ansible_python_interpreter', interpreter)
            if compose or groups or keyed:  # templating is the costly part of a large inventory: only when asked
                hostvars = self.inventory.get_host(name).get_vars()
                self._set_composite_vars(compose, hostvars, name, strict=strict)
                self._add_host_to_composed_groups(groups, hostvars, name, strict=strict)
                self._add_host_to_keyed_groups(keyed, hostvars, name, strict=strict)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            settings = build_settings(self._option_values())
        except InventorySourceError as exc:
            raise AnsibleError('hybrid inventory %s: %s' % (path, exc)) from None

        cache_key = '%s_%s' % (self.get_cache_key(path), cache_identity(settings))
        use_cache = self.get_option('cache')
        records, unavailable = None, {}
        if use_cache and cache:
            try:
                records = self._cache[cache_key]
                self.display.vvv('hybrid: %d hosts from the inventory cache, no API request' % len(records))
            except KeyError:
                records = None
        if records is None:
            try:
                records, unavailable = self._read(settings, cache_key)
            except InventorySourceError as exc:
                raise AnsibleError('hybrid inventory %s: %s' % (path, exc)) from None
            if use_cache and not unavailable:  # a partial read never replaces the last complete one
                self._cache[cache_key] = records
        self._populate(records)
        if unavailable:
            self._mark_unavailable(unavailable)
