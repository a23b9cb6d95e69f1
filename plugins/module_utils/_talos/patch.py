# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talos config patches: strategic merge and RFC 6902, with Talos' own semantics.

Strategic merge follows Talos' merge rules on plain data instead of Go types:
- a scalar in the patch overrides, except an empty string, a zero number or null (Go "zero values"
  are not merged); ``false`` always overrides;
- mappings merge key by key, lists append, except the fields a contract's :class:`MergeRules`
  (``merge_rules.py``) name: lists replaced whole, lists merged on a key, and (from contract v1.13)
  ``extraArgs`` maps whose keys are replaced whole;
- ``$patch: delete`` removes a key, a list element (matched on the element's first other key) or a
  whole named document; deletions of a patch document apply before its merge; a key that is not
  there fails with Talos' "lookup failed", except an unset field of a Go struct (Talos zeroes it);
- documents match on ``apiVersion`` + ``kind`` (+ ``name``); the legacy ``v1alpha1`` document has no
  kind; an unmatched patch document is appended.
RFC 6902 patches apply to single-document configs only, as in Talos.
"""

from __future__ import annotations

import copy
import json
import os

from .errors import TalosConfigError
from .yamlio import load_documents

LEGACY = ('v1alpha1', '', '')  # identity of the v1alpha1 document, which has `version` and no kind
MULTIDOC_JSONPATCH = 'JSON6902 patches are not supported for multi-document machine configuration'
JSON_PATCH_OPS = ('add', 'remove', 'replace', 'move', 'copy', 'test')


class Patch:
    """One loaded patch: ``kind`` is ``strategic`` (``documents``) or ``json6902`` (``operations``)."""

    def __init__(self, kind, label, documents=None, operations=None):
        self.kind = kind
        self.label = label
        self.documents = documents or []
        self.operations = operations or []


def identity(doc):
    """(apiVersion, kind, name) of a document; the legacy v1alpha1 document is ``LEGACY``."""
    if 'kind' not in doc and 'apiVersion' not in doc:
        return LEGACY
    return (str(doc.get('apiVersion', '')), str(doc.get('kind', '')), str(doc.get('name', '') or ''))


def describe(ident):
    if ident == LEGACY:
        return 'v1alpha1 machine config'
    api_version, kind, name = ident
    return '%s %s/%s' % (kind, api_version, name) if name else '%s %s' % (kind, api_version)


# --- loading ---------------------------------------------------------------------------------------

def load_patch(value, label, base_dir=None):
    """Turn a patch given as text, ``@file``, a mapping or a list into a :class:`Patch`."""
    if isinstance(value, str):
        text = value
        if value.startswith('@'):
            path = value[1:]
            if base_dir and not os.path.isabs(path):
                path = os.path.join(base_dir, path)
            try:
                with open(path, 'rb') as handle:
                    text = handle.read()
            except OSError as exc:
                raise TalosConfigError('cannot read %s from %s: %s.' % (label, path, exc.strerror), reason='patch_unreadable') from None
        docs = load_documents(text, label)
    elif isinstance(value, (dict, list)):
        docs = [copy.deepcopy(value)]
    else:
        raise TalosConfigError('%s must be YAML text, @file, a mapping or a list of RFC 6902 operations.' % label,
                               reason='patch_invalid')
    if not docs:
        raise TalosConfigError('%s is empty.' % label, reason='patch_invalid')
    if len(docs) == 1 and isinstance(docs[0], list):
        return Patch('json6902', label, operations=_check_operations(docs[0], label))
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise TalosConfigError('%s document %d is a %s: a strategic merge patch is a mapping, an RFC 6902 '
                                   'patch a list of operations.' % (label, index + 1, type(doc).__name__),
                                   reason='patch_invalid')
    return Patch('strategic', label, documents=docs)


def _check_operations(operations, label):
    for index, op in enumerate(operations):
        where = '%s operation %d' % (label, index + 1)
        if not isinstance(op, dict):
            raise TalosConfigError('%s is not a mapping with op and path.' % where, reason='patch_invalid')
        name = op.get('op')
        if name not in JSON_PATCH_OPS:
            raise TalosConfigError('%s has unknown op %s: use one of %s.' % (where, json.dumps(name), ', '.join(JSON_PATCH_OPS)),
                                   reason='patch_invalid')
        for field in ('path',) + (('from',) if name in ('move', 'copy') else ()):
            pointer = op.get(field)
            if not isinstance(pointer, str) or (pointer and not pointer.startswith('/')):
                raise TalosConfigError('%s (%s) has %s %s: a JSON pointer starts with "/".'
                                       % (where, name, field, json.dumps(pointer)), reason='patch_bad_path')
        if name in ('add', 'replace', 'test') and 'value' not in op:
            raise TalosConfigError('%s (%s %s) has no value.' % (where, name, op['path']), reason='patch_invalid')
    return operations


# --- applying --------------------------------------------------------------------------------------

def apply_patches(docs, patches, rules, normalise=None):
    """Apply patches in order to a list of documents (copied, never changed in place).

    ``rules`` are the contract's :class:`~.merge_rules.MergeRules`. ``normalise(docs)`` re-shapes
    documents the way Talos re-encodes them; it runs before every RFC 6902 patch (Talos applies those
    to the encoded bytes) and at the end.
    """
    docs = copy.deepcopy(docs)
    for patch in patches:
        if patch.kind == 'json6902':
            if len(docs) != 1:
                raise TalosConfigError('%s cannot be applied: %s.' % (patch.label, MULTIDOC_JSONPATCH), reason='patch_multidoc')
            if normalise:
                docs = normalise(docs)
            docs = [_json_patch(docs[0], patch.operations, patch.label)]
        else:
            for index, doc in enumerate(patch.documents):
                where = patch.label if len(patch.documents) == 1 else '%s document %d' % (patch.label, index + 1)
                docs = _strategic(docs, copy.deepcopy(doc), where, rules)
    return normalise(docs) if normalise else docs


def _strategic(docs, patch_doc, where, rules):
    ident = identity(patch_doc)
    deletes = []
    if _extract_deletes(patch_doc, [], 'doc', deletes, where):
        patch_doc = None
    elif ident == LEGACY and set(patch_doc) <= {'version'}:
        patch_doc = None
    for path, key, value in deletes:
        _apply_delete(docs, ident, path, key, value, where, rules)
    if patch_doc is None:
        return [doc for doc in docs if doc is not None]
    for index, doc in enumerate(docs):
        if doc is not None and identity(doc) == ident:
            docs[index] = _merge(doc, patch_doc, (), ident[:2], where, rules)
            break
    else:
        docs.append(patch_doc)
    return [doc for doc in docs if doc is not None]


def _extract_deletes(node, path, parent, out, where):
    """Remove ``$patch: delete`` markers from a patch document, collecting what they delete.

    Returns True when ``node`` itself is to be removed from its parent.
    """
    if isinstance(node, dict):
        if node.get('$patch') == 'delete':
            if parent == 'seq':
                others = [(k, v) for k, v in node.items() if k != '$patch']
                if not others:
                    raise TalosConfigError('%s: the $patch: delete list element at %s names no key to match on.'
                                           % (where, _dotted(path)), reason='patch_bad_path')
                key, value = others[0]
                out.append((path, key, _as_text(value)))
            else:
                if any(p.startswith('[') for p in path):
                    raise TalosConfigError('%s: cannot delete an inner key in %s: a list element is deleted whole.'
                                           % (where, _dotted(path)), reason='patch_bad_path')
                out.append((path, None, None))
            return True
        for key in list(node):
            if _extract_deletes(node[key], path + [str(key)], 'map', out, where):
                del node[key]
                if not node:
                    return True
        return False
    if isinstance(node, list):
        index = 0
        while index < len(node):
            if _extract_deletes(node[index], path + ['[%d]' % index], 'seq', out, where):
                del node[index]
                if not node:
                    return True
            else:
                index += 1
    return False


def _as_text(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return '' if value is None else str(value)


def _dotted(path):
    return '.'.join(path) if path else '(document root)'


def _apply_delete(docs, ident, path, key, value, where, rules):
    for index, doc in enumerate(docs):
        if doc is not None and identity(doc) == ident:
            break
    else:
        raise TalosConfigError('%s deletes %s in the %s, which the config does not have.'
                               % (where, _dotted(path), describe(ident)), reason='patch_bad_path')
    if not path:
        if ident == LEGACY:
            raise TalosConfigError("%s: can't delete the root of the v1alpha1 machine config." % where, reason='patch_bad_path')
        docs[index] = None
        return
    node = doc
    for depth, segment in enumerate(path[:-1]):
        if isinstance(node, list):
            raise TalosConfigError('%s: cannot delete %s: only a whole list element can be deleted.'
                                   % (where, _dotted(path)), reason='patch_bad_path')
        if not isinstance(node, dict) or node.get(segment) is None:
            raise TalosConfigError('%s: cannot delete %s in the %s: %s does not exist (lookup failed).'
                                   % (where, _dotted(path), describe(ident), _dotted(path[:depth + 1])), reason='patch_bad_path')
        node = node[segment]
    last = path[-1]
    if key is not None:
        if not isinstance(node, list):
            raise TalosConfigError('%s: cannot delete from %s: it is not a list.' % (where, _dotted(path[:-1])), reason='patch_bad_path')
        for position, element in enumerate(node):
            if isinstance(element, dict) and key in element and _as_text(element[key]) == value:
                del node[position]
                return
        raise TalosConfigError('%s: cannot delete the element of %s whose %s is %s: there is none (lookup failed).'
                               % (where, _dotted(path[:-1]), key, json.dumps(value)), reason='patch_bad_path')
    if not isinstance(node, dict):
        raise TalosConfigError('%s: cannot delete %s: its parent is not a mapping.' % (where, _dotted(path)), reason='patch_bad_path')
    # Talos zeroes a Go struct field, set or not; from a map (or a field it does not know) it deletes
    # only a key that is there, else "lookup failed" (configloader/internal/decoder/selector.go).
    fields = rules.struct_fields(ident[:2], path[:-1])
    if fields is not None and last in fields:
        node.pop(last, None)
        return
    if last not in node:
        what = 'key' if fields is None else 'field'
        raise TalosConfigError('%s: cannot delete %s in the %s: %s has no %s %s (lookup failed).'
                               % (where, _dotted(path), describe(ident), _dotted(path[:-1]), what, last),
                               reason='patch_bad_path')
    del node[last]


def _merge(left, right, path, kind, where, rules):
    if right is None:
        return left
    if left is None or rules.replaced(kind, path):
        return right
    if isinstance(right, dict):
        if not isinstance(left, dict):
            raise _mismatch(where, path, left, right)
        if rules.is_args(kind, path):
            left.update(_args(right))
            return left
        for key, value in right.items():
            child = path + (key,)
            current = left.get(key)
            if current is not None:
                left[key] = _merge(current, value, child, kind, where, rules)
            elif value is not None:
                left[key] = _new_field(value, child, kind, where, rules)
        return left
    if isinstance(right, list):
        if not isinstance(left, list):
            raise _mismatch(where, path, left, right)
        keyed = rules.keyed(kind, path)
        if keyed:
            return _merge_keyed(left, right, keyed, path, kind, where, rules)
        return left + right
    if isinstance(left, (dict, list)):
        raise _mismatch(where, path, left, right)
    if isinstance(right, bool) or right not in ('', 0):
        return right
    return left


def _new_field(value, path, kind, where, rules):
    """The value of a field the config does not have yet: the patch's own, but a keyed list still goes
    through its Merge (Talos calls it on the empty list when the parent exists), so the same item
    twice in one patch ends up once, and empty extraArgs values become "" as Talos decodes them."""
    keyed = rules.keyed(kind, path)
    if keyed and isinstance(value, list):
        return _merge_keyed([], value, keyed, path, kind, where, rules)
    if isinstance(value, dict) and rules.is_args(kind, path):
        return _args(value)
    return value


def _args(values):
    """A v1alpha1.Args patch (contract v1.13 on): every key replaces whole; null decodes as ""."""
    return {key: '' if value is None else value for key, value in values.items()}


def _merge_keyed(left, right, keyed, path, kind, where, rules):
    element_path = path + ('*',)
    for item in right:
        match = keyed.find(left, item) if isinstance(item, dict) else None
        if match is None:
            left.append(item)
        else:
            _merge(match, item, element_path, kind, where, rules)
    return left


def _mismatch(where, path, left, right):
    names = {dict: 'a mapping', list: 'a list'}
    return TalosConfigError('%s: cannot merge %s into %s at %s.' % (
        where, names.get(type(right), 'a scalar'), names.get(type(left), 'a scalar'), _dotted(list(path))),
        reason='patch_type_mismatch')


# --- RFC 6902 --------------------------------------------------------------------------------------

def _tokens(pointer):
    return [t.replace('~1', '/').replace('~0', '~') for t in pointer[1:].split('/')] if pointer else []


def _json_patch(doc, operations, label):
    for index, op in enumerate(operations):
        name = op['op']
        where = '%s operation %d (%s %s)' % (label, index + 1, name, op['path'])
        if name == 'add':
            doc = _pointer_set(doc, _tokens(op['path']), copy.deepcopy(op['value']), where, insert=True)
        elif name == 'replace':
            _pointer_get(doc, _tokens(op['path']), where)
            doc = _pointer_set(doc, _tokens(op['path']), copy.deepcopy(op['value']), where, insert=False)
        elif name == 'remove':
            _pointer_remove(doc, _tokens(op['path']), where)
        elif name in ('move', 'copy'):
            value = copy.deepcopy(_pointer_get(doc, _tokens(op['from']), where))
            if name == 'move':
                _pointer_remove(doc, _tokens(op['from']), where)
            doc = _pointer_set(doc, _tokens(op['path']), value, where, insert=True)
        elif _pointer_get(doc, _tokens(op['path']), where) != op['value']:
            raise TalosConfigError('%s: the test failed: the value differs.' % where, reason='patch_test_failed')
    return doc


def _pointer_get(doc, tokens, where):
    node = doc
    for depth, token in enumerate(tokens):
        node = _child(node, token, tokens[:depth + 1], where)
    return node


def _child(node, token, walked, where):
    if isinstance(node, dict):
        if token in node:
            return node[token]
    elif isinstance(node, list):
        if token.isdigit() and int(token) < len(node):
            return node[int(token)]
    raise TalosConfigError('%s: path /%s does not exist.' % (where, '/'.join(walked)), reason='patch_bad_path')


def _pointer_set(doc, tokens, value, where, insert):
    if not tokens:
        return value
    parent = _pointer_get(doc, tokens[:-1], where)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == '-' and insert:
            parent.append(value)
        elif last.isdigit() and (int(last) < len(parent) or (insert and int(last) == len(parent))):
            if insert:
                parent.insert(int(last), value)
            else:
                parent[int(last)] = value
        else:
            raise TalosConfigError('%s: list index %s is out of range.' % (where, last), reason='patch_bad_path')
    else:
        raise TalosConfigError('%s: /%s is not a mapping or a list.' % (where, '/'.join(tokens[:-1])), reason='patch_bad_path')
    return doc


def _pointer_remove(doc, tokens, where):
    if not tokens:
        raise TalosConfigError('%s: the document root cannot be removed.' % where, reason='patch_bad_path')
    parent = _pointer_get(doc, tokens[:-1], where)
    _child(parent, tokens[-1], tokens, where)
    if isinstance(parent, dict):
        del parent[tokens[-1]]
    else:
        del parent[int(tokens[-1])]
