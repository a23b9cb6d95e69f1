# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML the way Talos reads and writes it.

Talos decodes with Go's yaml.v3 (YAML 1.2 core schema) and encodes with four-space indentation and
indented sequences. PyYAML speaks YAML 1.1, so the loader here narrows it to what yaml.v3 resolves:
``yes``/``on`` stay strings, ``0o644`` is an integer, dates stay strings, and a key given twice is an
error instead of a silent overwrite. The dumper is deterministic: same data, same bytes.
"""

from __future__ import annotations

import re
import traceback

from .errors import TalosConfigError

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core itself needs PyYAML on the controller
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None

_BOOL = 'tag:yaml.org,2002:bool'
_INT = 'tag:yaml.org,2002:int'
_TIMESTAMP = 'tag:yaml.org,2002:timestamp'
_VALUE = 'tag:yaml.org,2002:value'

_BOOL_RE = re.compile(r'^(?:true|True|TRUE|false|False|FALSE)$')
_INT_RE = re.compile(r'^(?:[-+]?0o[0-7]+|[-+]?0[0-7]+|[-+]?(?:0|[1-9][0-9]*)|[-+]?0x[0-9a-fA-F]+)$')


if yaml is not None:
    # LibYAML's parser is much faster; construction and resolution stay in Python either way.
    _BaseLoader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)

    def _core_resolvers(base):
        resolvers = {}
        for first, entries in base.yaml_implicit_resolvers.items():
            kept = [(tag, regexp) for tag, regexp in entries if tag not in (_BOOL, _INT, _TIMESTAMP, _VALUE)]
            if kept:
                resolvers[first] = kept
        for tag, regexp, firsts in ((_BOOL, _BOOL_RE, 'tTfF'), (_INT, _INT_RE, '-+0123456789')):
            for first in firsts:
                resolvers.setdefault(first, []).append((tag, regexp))
        return resolvers

    class TalosLoader(_BaseLoader):  # pylint: disable=too-many-ancestors
        """A safe loader with yaml.v3's scalar resolution and duplicate-key detection."""

        yaml_implicit_resolvers = _core_resolvers(yaml.SafeLoader)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (list, dict)):
                    raise yaml.constructor.ConstructorError(None, None, 'a mapping key must be a scalar', key_node.start_mark)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, 'mapping key %r is given twice' % (key,), key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node):
            value = self.construct_scalar(node).replace('_', '')
            sign = -1 if value.startswith('-') else 1
            digits = value.lstrip('+-')
            if digits.startswith('0o'):
                return sign * int(digits[2:], 8)
            if digits.startswith('0x'):
                return sign * int(digits[2:], 16)
            if len(digits) > 1 and digits.startswith('0'):
                return sign * int(digits, 8)
            return sign * int(digits)

    TalosLoader.add_constructor(_INT, TalosLoader.construct_yaml_int)

    class TalosDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
        """Four-space indentation with indented sequences, literal blocks for multi-line strings."""

        yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeDumper.yaml_implicit_resolvers.items()}

        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)

    # Strings that yaml.v3 would read as integers must be quoted when written.
    for _first in '-+0123456789':
        TalosDumper.yaml_implicit_resolvers.setdefault(_first, []).append((_INT, _INT_RE))

    def _represent_str(dumper, value):
        if '\n' in value:  # the emitter falls back to a quoted style where a literal block cannot hold it
            return dumper.represent_scalar('tag:yaml.org,2002:str', value, style='|')
        return dumper.represent_scalar('tag:yaml.org,2002:str', value)

    TalosDumper.add_representer(str, _represent_str)


def _need_yaml():
    if yaml is None:
        raise TalosConfigError('the Python library PyYAML is needed on the controller: pip install PyYAML.',
                               reason='missing_library')


def load_documents(text, what):
    """Parse YAML text into a list of documents (empty documents dropped).

    ``what`` names the input in the error message, e.g. ``"node patch 2"``.
    """
    _need_yaml()
    if isinstance(text, bytes):
        try:
            text = text.decode('utf-8')
        except UnicodeDecodeError:
            raise TalosConfigError('%s is not UTF-8 text.' % what, reason='invalid_yaml') from None
    try:
        docs = list(yaml.load_all(text, Loader=TalosLoader))  # noqa: S506 - TalosLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        problem = getattr(exc, 'problem', None) or str(exc).splitlines()[0]
        where = ' at line %d column %d' % (mark.line + 1, mark.column + 1) if mark is not None else ''
        raise TalosConfigError('%s is not valid YAML%s: %s.' % (what, where, problem), reason='invalid_yaml') from None
    return [doc for doc in docs if doc is not None]


def dump_document(doc):
    _need_yaml()
    return yaml.dump(doc, Dumper=TalosDumper, default_flow_style=False, sort_keys=False, indent=4,
                     width=1 << 30, allow_unicode=True)


def dump_documents(docs):
    """Serialise documents the way Talos does: separated by ``---``, no leading marker."""
    return '---\n'.join(dump_document(doc) for doc in docs)
