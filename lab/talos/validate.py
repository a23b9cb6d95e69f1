"""Machine config checks as a node of a given Talos version makes them, from the published JSON schema.

Deliberately independent of the collection's own validator (that would test our code with our
code): this module has its own checking code, and reads the schema of the node's version from the
repository's ``talos_schemas/<minor>.json`` -- Talos' published schema with only its documentation
strings removed, which a test compares with the upstream file whenever ../shared is present
(docs/lab-talos.md). Every YAML document is checked against its definition, after the preprocessing
facts.md names (drop ``persist`` and ``machine.install.bootloader``, Go's ``0o644`` file modes to integers).

Two failures, as Talos has them: keys the node's version does not know fail the *decoding*
(``unknown keys found during decoding`` -- what a config of a newer contract gets), everything else
fails *validation* with the schema's message and the path of the offending value.
"""
import json
import os

import jsonschema
import yaml

from . import SCHEMA_DIR


class ConfigError(Exception):
    """``kind`` is ``parse`` (decoding) or ``validation``; ``str()`` is Talos' message."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


_SCHEMAS = {}


def schema(version, schema_dir=SCHEMA_DIR):
    """The published schema of Talos ``version`` (v1.9.6 -> talos_schemas/v1.9.json, which names its tag)."""
    if version not in _SCHEMAS:
        path = os.path.join(schema_dir, '%s.json' % version.rsplit('.', 1)[0])
        with open(path, encoding='utf-8') as handle:
            loaded = json.load(handle)
        source = loaded.get('x-hybridops-source', '')
        if ' %s ' % version not in source:
            raise RuntimeError('%s is the schema of %r, not of Talos %s' % (path, source, version))
        _SCHEMAS[version] = loaded
    return _SCHEMAS[version]


def _definition_for(document, root):
    """The ``$defs`` name a document is checked against: v1alpha1 by ``version``, the others by apiVersion+kind."""
    if 'version' in document and 'kind' not in document:
        return 'v1alpha1.Config'
    kind, api_version = document.get('kind'), document.get('apiVersion')
    for name, definition in root['$defs'].items():
        props = definition.get('properties', {})
        if kind in props.get('kind', {}).get('enum', ()) and api_version in props.get('apiVersion', {}).get('enum', ()):
            return name
    raise ConfigError('parse', 'failed to parse config: unknown document kind %r (apiVersion %r)' % (kind, api_version))


def _octal_modes(value):
    if isinstance(value, dict):
        return dict((key, _octal_modes(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_octal_modes(item) for item in value]
    if isinstance(value, str) and value.startswith('0o') and value[2:].isdigit():
        return int(value[2:], 8)
    return value


def preprocess(document):
    document = _octal_modes(document)
    if 'version' in document and 'kind' not in document:
        document.pop('persist', None)
        install = (document.get('machine') or {}).get('install')
        if isinstance(install, dict):
            install.pop('bootloader', None)
    return document


def _resolve(node, root):
    while isinstance(node, dict) and '$ref' in node:
        node = root['$defs'][node['$ref'].rsplit('/', 1)[1]]
    return node


def _unknown(value, node, root):
    """The keys of ``value`` that the schema ``node`` does not declare, as a nested dict (Talos' decoder report)."""
    node = _resolve(node, root)
    if not isinstance(node, dict):
        return None
    if isinstance(value, list):
        found = [(_unknown(item, node.get('items', {}), root)) for item in value]
        return found if any(found) else None
    if not isinstance(value, dict) or node.get('type') not in ('object', None) or 'properties' not in node:
        return None
    found = {}
    for key, item in value.items():
        if key in node['properties']:
            inner = _unknown(item, node['properties'][key], root)
            if inner:
                found[key] = inner
        elif node.get('additionalProperties') is False and not node.get('patternProperties'):
            found[key] = item
    return found or None


def _path(error):
    parts = []
    for part in error.absolute_path:
        if isinstance(part, int):
            parts.append('[%d]' % part)
        else:
            parts.append(('.' if parts else '') + str(part))
    return ''.join(parts) or '(document)'


def _required(document):
    """What the schema cannot say (it has no ``required`` lists) but a node refuses at once."""
    machine = document.get('machine') or {}
    cluster = document.get('cluster') or {}
    errors = []
    if machine.get('type') not in ('controlplane', 'worker', 'init'):
        errors.append('machine.type: unknown machine type %r' % machine.get('type'))
    if not (machine.get('ca') or {}).get('crt'):
        errors.append('machine.ca.crt: the OS CA certificate is required')
    if machine.get('type') in ('controlplane', 'init') and not (machine.get('ca') or {}).get('key'):
        errors.append('machine.ca.key: a control plane needs the OS CA key')
    endpoint = (cluster.get('controlPlane') or {}).get('endpoint')
    if not endpoint or not str(endpoint).startswith('https://'):
        errors.append('cluster.controlPlane.endpoint: %r is not an https:// URL' % endpoint)
    return errors


def _multierror(errors):
    # hashicorp/go-multierror's text, which Talos returns for validation failures.
    head = '1 error occurred' if len(errors) == 1 else '%d errors occurred' % len(errors)
    return '%s:\n%s\n\n' % (head, '\n'.join('\t* ' + error for error in errors))


def documents(data):
    try:
        docs = [doc for doc in yaml.safe_load_all(data) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        raise ConfigError('parse', 'failed to parse config: yaml: line %s: %s'
                          % (mark.line + 1 if mark else '?', getattr(exc, 'problem', None) or 'invalid YAML')) from None
    if not docs or not all(isinstance(doc, dict) for doc in docs):
        raise ConfigError('parse', 'failed to parse config: every document must be a mapping')
    return docs


def check(data, version):
    """Parse and check machine config bytes for a node of ``version``; return the (raw) documents."""
    root = schema(version)
    docs = documents(data)
    if sum(1 for doc in docs if 'version' in doc and 'kind' not in doc) > 1:
        raise ConfigError('parse', 'failed to parse config: duplicate v1alpha1 document')
    errors = []
    for index, raw in enumerate(docs):
        document = preprocess(raw)
        name = _definition_for(document, root)
        unknown = _unknown(document, root['$defs'][name], root)
        if unknown:
            text = yaml.safe_dump(unknown, indent=4, default_flow_style=False, sort_keys=False)
            raise ConfigError('parse', 'failed to parse config: unknown keys found during decoding:\n' + text)
        validator = jsonschema.Draft202012Validator({'$ref': '#/$defs/' + name, '$defs': root['$defs']})
        label = '' if len(docs) == 1 else 'document %d (%s): ' % (index + 1, document.get('kind', 'v1alpha1'))
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
            errors.append('%s%s: %s' % (label, _path(error), error.message))
        if name == 'v1alpha1.Config':
            errors += [label + error for error in _required(document)]
    if not any('version' in doc and 'kind' not in doc for doc in docs):
        errors.append('the v1alpha1 document (machine and cluster) is missing')
    if errors:
        raise ConfigError('validation', 'configuration validation failed: ' + _multierror(errors))
    return docs
