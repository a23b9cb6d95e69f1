# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge the records of both backends and derive each host's groups and variables.

Records are plain JSON-able dicts (that is what the inventory cache stores): name, source,
origin (a human description for messages), role, site, address, private_ips, facts.
"""

from __future__ import annotations

from ._inventory_retry import InventorySourceError

ROLE_GROUPS = {'controlplane': 'talos_controlplane', 'worker': 'talos_worker'}


def merge(*record_lists):
    """All records in one list sorted by name; a name used twice is an error naming both machines."""
    seen = {}
    for records in record_lists:
        for record in records:
            other = seen.get(record['name'])
            if other is not None:
                raise InventorySourceError(
                    "host name '%s' is used by both %s and %s; rename one of them or narrow the selection."
                    % (record['name'], other['origin'], record['origin']))
            seen[record['name']] = record
    return [seen[name] for name in sorted(seen)]


def group_names(record):
    """The Talos groups of one host: its role group and its site group."""
    return [ROLE_GROUPS[record['role']], 'site_%s' % record['site']]


def host_vars(record):
    """The API-derived variables of one host (the plugin wraps them as unsafe)."""
    variables = {
        'talos_role': record['role'],
        'talos_site': record['site'],
        'ansible_host': record['address'],
        'talos_node_ip': record['address'],
        'talos_private_ips': list(record['private_ips']),
    }
    variables.update(record['facts'])
    return variables
