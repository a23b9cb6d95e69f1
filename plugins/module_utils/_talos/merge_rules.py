# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talos' strategic-merge rules for one config contract, on plain data instead of Go types.

Talos merges decoded Go structs (``pkg/machinery/config/merge``): lists append unless the field has
the ``merge:"replace"`` tag or its type has its own ``Merge`` method, and a few map types merge key
by key their own way. Those exceptions are the tables below, each with the Go source it follows
(files under ``pkg/machinery/config/types/`` of siderolabs/talos, the same at v1.9.6 and v1.13.9
unless the table says otherwise). Paths are per document kind (apiVersion, kind); ``*`` stands for
any list element.

What the data cannot say by itself (is this mapping a Go struct, whose unset fields can always be
"deleted", or a map, where deleting a missing key fails with "lookup failed"?) comes from the
contract's JSON schema.
"""

from __future__ import annotations

from .normalise import map_values_schema, resolve
from .patch import LEGACY

LEGACY_KIND = LEGACY[:2]
NETWORK_RULE_KIND = ('v1alpha1', 'NetworkRuleConfig')
EXTENSION_SERVICE_KIND = ('v1alpha1', 'ExtensionServiceConfig')

# `merge:"replace"` fields: a patch replaces the list (or object) whole.
# v1alpha1/v1alpha1_types.go (podSubnets, serviceSubnets, auditPolicy), network/rule_config.go
# (ingress, portSelector.ports).
REPLACED = {
    LEGACY_KIND: frozenset({
        ('cluster', 'network', 'podSubnets'),
        ('cluster', 'network', 'serviceSubnets'),
        ('cluster', 'apiServer', 'auditPolicy'),
    }),
    NETWORK_RULE_KIND: frozenset({
        ('ingress',),
        ('portSelector', 'ports'),
    }),
}


class KeyedList:
    """A list type with its own Talos ``Merge``: an item that matches an existing one on its key is
    merged into it, any other item is appended. Items are matched against the list as it grows, so
    the same item twice in one patch ends up once.

    ``keys`` holds alternatives: the first key the item sets is the one it is matched on (a network
    device is matched on ``interface``, or else on its whole ``deviceSelector``). With a single key an
    unset key counts as its zero value, as Go compares it.
    """

    def __init__(self, *keys):
        self.keys = keys

    def match_key(self, item):
        """(key, value) the item is matched on, or None when it can match nothing."""
        if len(self.keys) == 1:
            return self.keys[0], zero_as_none(item.get(self.keys[0]))
        for key in self.keys:
            if item.get(key) not in (None, ''):
                return key, item[key]
        return None

    def find(self, items, item):
        match = self.match_key(item)
        if match is None:
            return None
        key, value = match
        for existing in items:
            if not isinstance(existing, dict):
                continue
            current = existing.get(key)
            if len(self.keys) == 1:
                current = zero_as_none(current)
            elif current is None:
                continue
            if current == value:
                return existing
        return None


def zero_as_none(value):
    """Go's zero values ("", 0, absent) compare equal; ``False`` is a value of its own."""
    if value is None or isinstance(value, bool):
        return value
    return None if value in ('', 0) else value


# v1alpha1/v1alpha1_types.go: NetworkDeviceList.Merge (interface, else deviceSelector),
# VlanList.Merge (vlanId), AdmissionPluginConfigList.Merge (name);
# runtime/extensions/service_config.go: ConfigFileList.Merge (mountPath).
KEYED = {
    LEGACY_KIND: {
        ('machine', 'network', 'interfaces'): KeyedList('interface', 'deviceSelector'),
        ('machine', 'network', 'interfaces', '*', 'vlans'): KeyedList('vlanId'),
        ('cluster', 'apiServer', 'admissionControl'): KeyedList('name'),
    },
    EXTENSION_SERVICE_KIND: {
        ('configFiles',): KeyedList('mountPath'),
    },
}

# From Talos 1.13 the components' extraArgs are v1alpha1.Args (v1alpha1/v1alpha1_types.go@v1.13.9,
# Args.Merge = maps.Copy): each key a patch names is replaced whole, a list value included, and an
# empty value ("" or null) replaces too, leaving the argument empty. Before (v1.9.6) they are plain
# map[string]string: merged key by key, where an empty string changes nothing.
ARGS_FROM = (1, 13)
ARGS = {
    LEGACY_KIND: frozenset({
        ('machine', 'kubelet', 'extraArgs'),
        ('cluster', 'apiServer', 'extraArgs'),
        ('cluster', 'controllerManager', 'extraArgs'),
        ('cluster', 'proxy', 'extraArgs'),
        ('cluster', 'scheduler', 'extraArgs'),
        ('cluster', 'etcd', 'extraArgs'),
    }),
}


class MergeRules:
    """The merge rules of one contract; ``schema`` (a ContractSchema) tells structs from maps."""

    def __init__(self, contract, schema=None):
        self.contract = tuple(contract)
        self._args = ARGS if self.contract >= ARGS_FROM else {}
        self._defs = schema.defs if schema is not None else {}
        self._roots = dict(schema.kinds) if schema is not None else {}
        self._fields = {}

    def replaced(self, kind, path):
        return path in REPLACED.get(kind, ())

    def keyed(self, kind, path):
        return KEYED.get(kind, {}).get(path)

    def is_args(self, kind, path):
        return path in self._args.get(kind, ())

    def struct_fields(self, kind, path):
        """The field names when the mapping at ``path`` is a Go struct; None for a map, an unstructured
        object (Talos' Unstructured is a map underneath) or a path the schema does not describe."""
        key = (kind, tuple(path))
        if key not in self._fields:
            self._fields[key] = self._lookup(kind, path)
        return self._fields[key]

    def _resolve(self, node):
        return resolve(node, self._defs) or None

    def _lookup(self, kind, path):
        root = self._roots.get(kind)
        node = self._resolve(self._defs.get(root)) if root else None
        for part in path:
            if node is None:
                return None
            if part.startswith('['):
                node = self._resolve(node.get('items'))
            elif 'properties' in node:
                node = self._resolve(node['properties'].get(part))
            else:
                node = self._resolve(map_values_schema(node))
        if node is None or 'properties' not in node:
            return None
        return frozenset(node['properties'])
