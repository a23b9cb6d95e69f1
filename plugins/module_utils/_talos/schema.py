# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate Talos config documents against the JSON schema Talos publishes for a contract.

Each YAML document is validated on its own against the schema definition for its kind (the
schema's top level is a ``oneOf`` over every kind, which gives useless messages). Before a v1alpha1
document is validated, a copy drops ``persist`` and ``machine.install.bootloader`` (Talos accepts
them, its schema does not list them) and turns ``0o644``-style file modes into integers.
Messages name the document and the path, never the offending value (it may be a secret).
"""

from __future__ import annotations

import copy
import json
import os
import re

from .contracts import CONTRACTS, contract_name
from .errors import TalosConfigError
from .patch import LEGACY, describe, identity

SCHEMA_DIR_ENV = 'HYBRIDOPS_TALOS_SCHEMA_DIR'
_OCTAL = re.compile(r'^0o[0-7]+$')
_CACHE = {}


def schema_path(contract, schema_dir=None):
    """Where the schema of ``contract`` is under ``schema_dir`` (or the environment variable)."""
    tag = CONTRACTS[contract]['schema_tag']
    base = schema_dir or os.environ.get(SCHEMA_DIR_ENV)
    if not base:
        raise TalosConfigError('no Talos config schema directory is set: give schema_dir or set %s to a directory '
                               'holding %s/config.schema.json.' % (SCHEMA_DIR_ENV, tag), reason='schema_missing')
    # <contract>.json is what scripts/derive_talos_schemas.py writes for the collection;
    # <tag>/config.schema.json is Talos' published layout (the oracles use it).
    for candidate in (os.path.join(base, '%s.json' % contract_name(contract)),
                      os.path.join(base, tag, 'config.schema.json')):
        if os.path.isfile(candidate):
            return candidate
    raise TalosConfigError('the Talos %s config schema is missing: put config.schema.json of Talos %s at %s.'
                           % (contract_name(contract), tag, os.path.join(base, tag, 'config.schema.json')),
                           reason='schema_missing')


class ContractSchema:
    """The schema of one contract, with one compiled validator per document kind."""

    def __init__(self, path):
        try:
            with open(path, 'rb') as handle:
                self.schema = json.load(handle)
        except (OSError, ValueError) as exc:
            raise TalosConfigError('cannot read the Talos config schema %s: %s.' % (path, exc), reason='schema_missing') from None
        self.defs = self.schema.get('$defs', {})
        self.kinds = {}
        for entry in self.schema.get('oneOf', []):
            name = entry['$ref'].rsplit('/', 1)[-1]
            props = self.defs[name].get('properties', {})
            if name == 'v1alpha1.Config':
                self.kinds[LEGACY[:2]] = name
            else:
                for api_version in props.get('apiVersion', {}).get('enum', []):
                    for kind in props.get('kind', {}).get('enum', []):
                        self.kinds[(api_version, kind)] = name
        self._validators = {}

    def validator(self, def_name):
        if def_name not in self._validators:
            from jsonschema import Draft202012Validator  # imported late: only rendering needs it

            root = {'$schema': self.schema.get('$schema'), '$defs': self.defs, '$ref': '#/$defs/%s' % def_name}
            self._validators[def_name] = Draft202012Validator(root)
        return self._validators[def_name]

    def validate(self, docs, contract):
        """Raise on the first document that does not match its schema definition."""
        seen = {}
        for index, doc in enumerate(docs):
            where = 'document %d' % (index + 1)
            if not isinstance(doc, dict):
                raise TalosConfigError('%s of the config is not a mapping.' % where, reason='schema_invalid')
            ident = identity(doc)
            if ident in seen:
                raise TalosConfigError('%s repeats the %s of document %d: Talos refuses a config with the same document '
                                       'twice.' % (where, describe(ident), seen[ident]), reason='schema_duplicate')
            seen[ident] = index + 1
            def_name = self.kinds.get(ident[:2])
            if def_name is None:
                raise TalosConfigError('%s is a %s, which config contract %s does not know.'
                                       % (where, describe(ident), contract_name(contract)), reason='schema_unknown_kind')
            if ident == LEGACY:
                doc = prepare_v1alpha1(doc)
            error = _first_error(self.validator(def_name), doc)
            if error is not None:
                raise TalosConfigError('%s (%s) does not match the Talos %s schema at %s: %s.'
                                       % (where, describe(ident), contract_name(contract), _path(error), _explain(error)),
                                       reason='schema_invalid', path=_path(error))


def load_schema(contract, schema_dir=None):
    path = schema_path(contract, schema_dir)
    if path not in _CACHE:
        _CACHE[path] = ContractSchema(path)
    return _CACHE[path]


def prepare_v1alpha1(doc):
    """The copy of a v1alpha1 document that the published schema can judge (see module doc)."""
    doc = copy.deepcopy(doc)
    doc.pop('persist', None)
    machine = doc.get('machine')
    if isinstance(machine, dict):
        install = machine.get('install')
        if isinstance(install, dict):
            install.pop('bootloader', None)
        for item in machine.get('files') or []:
            if isinstance(item, dict) and isinstance(item.get('permissions'), str) and _OCTAL.match(item['permissions']):
                item['permissions'] = int(item['permissions'][2:], 8)
    return doc


def _first_error(validator, doc):
    from jsonschema.exceptions import best_match

    errors = list(validator.iter_errors(doc))
    if not errors:
        return None
    return best_match(errors)


def _path(error):
    parts = []
    for part in error.absolute_path:
        if isinstance(part, int):
            parts.append('[%d]' % part)
        else:
            parts.append(('.' if parts else '') + str(part))
    return ''.join(parts) or '(document root)'


_TYPE_NAMES = {dict: 'a mapping', list: 'a list', str: 'a string', bool: 'a boolean', int: 'an integer',
               float: 'a number', type(None): 'null'}


def _explain(error):
    """Say what is wrong without quoting the value."""
    validator, expected = error.validator, error.validator_value
    if validator == 'additionalProperties' and isinstance(error.instance, dict):
        allowed = set(error.schema.get('properties', {}))
        unknown = sorted(str(k) for k in error.instance if k not in allowed)
        return 'unknown key%s %s' % ('s' if len(unknown) > 1 else '', ', '.join(unknown))
    if validator == 'type':
        return 'is %s, expected %s' % (_TYPE_NAMES.get(type(error.instance), 'a value'),
                                       expected if isinstance(expected, str) else ' or '.join(expected))
    if validator == 'enum':
        return 'must be one of %s' % ', '.join(json.dumps(v) for v in expected)
    if validator == 'required':
        return 'a required key is missing (%s)' % ', '.join(expected)
    if validator == 'pattern':
        return 'does not match the pattern %s' % expected
    if validator == 'format':
        return 'is not in %s format' % expected
    return 'fails the schema rule %s' % validator
