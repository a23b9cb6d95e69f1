# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Re-shape a v1alpha1 document the way Talos re-encodes it after a patch.

Talos decodes a config into Go structs and encodes it again, so a patched config gains the fields
Go always writes (``machine.type``, ``machine.token``, ``machine.certSANs``, ``cluster``,
``cluster.controlPlane``, a VLAN's ``routes``, both halves of a certificate pair) and loses empty
lists, empty maps, empty strings and nulls of ``omitempty`` fields, while an empty struct such as
``machine.network: {}`` stays. Which value is a struct and which a map comes from the contract's
JSON schema. Inline manifests lose leading blank lines, as in Talos.
"""

from __future__ import annotations

from .patch import LEGACY, identity

_STAR = '*'
_CERT_PAIR = {'crt': '', 'key': ''}
# Fields Go writes even when empty (no `omitempty`), by path of the mapping that holds them.
ALWAYS = {
    (): {'version': 'v1alpha1', 'machine': None, 'cluster': None},
    ('machine',): {'type': '', 'token': '', 'certSANs': []},
    ('cluster',): {'controlPlane': None},
    ('machine', 'ca'): _CERT_PAIR,
    ('cluster', 'ca'): _CERT_PAIR,
    ('cluster', 'aggregatorCA'): _CERT_PAIR,
    ('cluster', 'etcd', 'ca'): _CERT_PAIR,
    ('cluster', 'serviceAccount'): {'key': ''},
    ('machine', 'network', 'interfaces', _STAR, 'vlans', _STAR): {'routes': []},
}


def resolve(schema, defs):
    """The schema node behind ``$ref`` (an empty one when there is none)."""
    while isinstance(schema, dict) and '$ref' in schema:
        schema = defs[schema['$ref'].rsplit('/', 1)[-1]]
    return schema if isinstance(schema, dict) else {}


def _is_struct(schema):
    return 'properties' in schema


def map_values_schema(schema):
    """The schema of the values of a map-typed object, or None for a struct or an unstructured object."""
    patterns = schema.get('patternProperties')
    if patterns:
        return next(iter(patterns.values()))
    extra = schema.get('additionalProperties')
    return extra if isinstance(extra, dict) else None


def _walk(node, schema, defs, path):
    schema = resolve(schema, defs)
    always = ALWAYS.get(path, {})
    if not isinstance(node, dict):
        return
    props = schema.get('properties', {})
    for key in list(node):
        value = node[key]
        sub = resolve(props.get(key), defs) if key in props else None
        if sub is None:
            continue
        if key in always:
            pass
        elif value is None or value == '' or (isinstance(value, (list, dict)) and not value and not _is_struct(sub)):
            del node[key]
            continue
        child_path = path + (key,)
        if isinstance(value, list):
            items = sub.get('items')
            for element in value:
                _walk(element, items or {}, defs, child_path + (_STAR,))
        elif isinstance(value, dict):
            if _is_struct(sub):
                _walk(value, sub, defs, child_path)
            else:
                values_schema = map_values_schema(sub)
                if values_schema is not None:
                    for element in value.values():
                        _walk(element, values_schema, defs, child_path + (_STAR,))
        if child_path == ('cluster', 'inlineManifests'):
            for manifest in value:
                if isinstance(manifest, dict) and isinstance(manifest.get('contents'), str):
                    manifest['contents'] = manifest['contents'].lstrip('\n')
    for key, default in always.items():
        if key not in node:
            node[key] = default.copy() if isinstance(default, (dict, list)) else default


def normalise_documents(docs, schema):
    """Normalise the v1alpha1 document of ``docs`` in place against ``schema`` and return ``docs``."""
    defs = schema['$defs']
    for doc in docs:
        if isinstance(doc, dict) and identity(doc) == LEGACY:
            _walk(doc, defs['v1alpha1.Config'], defs, ())
    return docs
