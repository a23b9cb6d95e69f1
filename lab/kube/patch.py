"""The three patch formats of PATCH requests: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
Kubernetes' strategic merge patch, driven by the schema's patch strategies and merge keys.

Strategic merge covers what ``kubectl apply`` (client-side) and ``kubectl patch`` send: maps merge,
``null`` deletes, lists with strategy ``merge`` merge by their merge key (or as sets of scalars), other
lists are replaced; the directives ``$patch: replace|delete|merge``, ``$retainKeys``,
``$deleteFromPrimitiveList/<field>`` and ``$setElementOrder/<field>``.
"""
import copy
import json


class PatchError(Exception):
    """The patch cannot be applied; ``str`` is the message the server answers with (422)."""


class BadPatch(Exception):
    """The patch is not well-formed (400)."""


# ------------------------------------------------------------------ JSON patch

def _pointer(path):
    if path == '':
        return []
    if not path.startswith('/'):
        raise PatchError('JSON pointer %r does not start with /' % path)
    return [part.replace('~1', '/').replace('~0', '~') for part in path[1:].split('/')]


def _container(doc, parts, op, path):
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value' % (op, path))
    return node


def _index(node, part, op, path, allow_end=False):
    if part == '-' and allow_end:
        return len(node)
    if not part.isdigit() or int(part) > len(node) - (0 if allow_end else 1):
        raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value' % (op, path))
    return int(part)


def _get(doc, path, op):
    parts = _pointer(path)
    if not parts:
        return doc
    node = _container(doc, parts, op, path)
    last = parts[-1]
    if isinstance(node, dict) and last in node:
        return node[last]
    if isinstance(node, list):
        return node[_index(node, last, op, path)]
    raise PatchError('%s operation does not apply: doc is missing key: %s: missing value' % (op, path))


def _remove(doc, path, op='remove'):
    parts = _pointer(path)
    node = _container(doc, parts, op, path)
    last = parts[-1]
    if isinstance(node, dict):
        if last not in node:
            raise PatchError('%s operation does not apply: doc is missing key: %s: missing value' % (op, path))
        return node.pop(last)
    return node.pop(_index(node, last, op, path))


def _add(doc, path, value, op='add'):
    parts = _pointer(path)
    if not parts:
        return value
    node = _container(doc, parts, op, path)
    last = parts[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list):
        node.insert(_index(node, last, op, path, allow_end=True), value)
    else:
        raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value' % (op, path))
    return doc


def json_patch(doc, operations):
    if not isinstance(operations, list):
        raise BadPatch('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
    doc = copy.deepcopy(doc)
    for operation in operations:
        if not isinstance(operation, dict) or 'op' not in operation:
            raise BadPatch('invalid JSON patch operation: %s' % json.dumps(operation))
        op, path = operation['op'], operation.get('path', '')
        if op == 'add':
            doc = _add(doc, path, copy.deepcopy(operation.get('value')))
        elif op == 'remove':
            _remove(doc, path)
        elif op == 'replace':
            _get(doc, path, 'replace')
            parts = _pointer(path)
            if not parts:
                doc = copy.deepcopy(operation.get('value'))
            else:
                node = _container(doc, parts, 'replace', path)
                key = parts[-1] if isinstance(node, dict) else _index(node, parts[-1], 'replace', path)
                node[key] = copy.deepcopy(operation.get('value'))
        elif op in ('move', 'copy'):
            value = _get(doc, operation.get('from', ''), op)
            if op == 'move':
                _remove(doc, operation['from'], op)
            doc = _add(doc, path, copy.deepcopy(value), op)
        elif op == 'test':
            if _get(doc, path, 'test') != operation.get('value'):
                raise PatchError('testing value %s failed: test failed' % path)
        else:
            raise BadPatch('Unexpected kind: %s' % op)
    return doc


# ------------------------------------------------------------------ merge patch

def merge_patch(doc, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = merge_patch(result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# ------------------------------------------------------------------ strategic merge patch

ORDER = '$setElementOrder/'
DELETE_PRIMITIVE = '$deleteFromPrimitiveList/'


def strategic_merge(doc, patch, schema):
    """``doc`` (a dict) with the strategic merge ``patch`` applied, following ``schema`` (lab.kube.schema)."""
    if not isinstance(patch, dict):
        raise BadPatch('strategic merge patch must be a JSON object')
    return _merge_map(copy.deepcopy(doc) if isinstance(doc, dict) else {}, patch, schema)


def _merge_map(original, patch, schema):
    directive = patch.get('$patch')
    if directive == 'replace':
        return _strip_directives({k: v for k, v in patch.items() if k != '$patch'})
    if directive == 'delete':
        return None
    if directive not in (None, 'merge'):
        raise PatchError('Unknown patch type: %s in map: %s' % (directive, json.dumps(patch)))
    retain = patch.get('$retainKeys')
    for key, value in patch.items():
        if key in ('$patch', '$retainKeys') or key.startswith(ORDER):
            continue
        if key.startswith(DELETE_PRIMITIVE):
            field = key[len(DELETE_PRIMITIVE):]
            if isinstance(original.get(field), list):
                original[field] = [item for item in original[field] if item not in (value or [])]
            continue
        if value is None:
            original.pop(key, None)
            continue
        child = schema.field(key)
        current = original.get(key)
        if isinstance(value, dict) and isinstance(current, dict) and not child.map_atomic:
            merged = _merge_map(current, value, child)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, dict):
            merged = _merge_map({}, value, child)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list):
            original[key] = _merge_list(current if isinstance(current, list) else [], value, child)
        else:
            original[key] = value
    for key, order in patch.items():
        if key.startswith(ORDER) and isinstance(original.get(key[len(ORDER):]), list):
            field = key[len(ORDER):]
            original[field] = _reorder(original[field], order, schema.field(field).patch_merge_key)
    if retain is not None:
        for key in list(original):
            if key not in retain:
                del original[key]
    return original


def _strip_directives(value):
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items()
                if not (k.startswith('$') and (k in ('$patch', '$retainKeys') or k.startswith(ORDER) or k.startswith(DELETE_PRIMITIVE)))}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _merge_list(original, patch, schema):
    strategy = schema.patch_strategy
    if 'merge' not in strategy:
        return [_strip_directives(item) for item in patch if not (isinstance(item, dict) and item.get('$patch'))]
    key = schema.patch_merge_key
    if not key or not all(isinstance(item, dict) for item in patch):
        # A set of scalars: union, in order.
        result = list(original)
        for item in patch:
            if item not in result:
                result.append(item)
        return result
    if any(item.get('$patch') == 'replace' for item in patch):
        return [_strip_directives(item) for item in patch if item.get('$patch') != 'replace']
    result = list(original)
    item_schema = schema.items()
    for item in patch:
        if key not in item:
            raise PatchError('map: %s does not contain declared merge key: %s' % (json.dumps(item), key))
        position = next((i for i, have in enumerate(result) if isinstance(have, dict) and have.get(key) == item[key]), None)
        if item.get('$patch') == 'delete':
            if position is not None:
                result.pop(position)
            continue
        if position is None:
            result.append(_strip_directives(item))
        else:
            merged = _merge_map(result[position], item, item_schema)
            if merged is None:
                result.pop(position)
            else:
                result[position] = merged
    return result


def _reorder(items, order, key):
    """``$setElementOrder``: the listed elements first, in that order; others keep their relative order after."""
    def identity(item):
        if key and isinstance(item, dict):
            return json.dumps(item.get(key))
        return json.dumps(item, sort_keys=True)
    ranked = {identity(entry): index for index, entry in enumerate(order or ())}
    listed = sorted((item for item in items if identity(item) in ranked), key=lambda item: ranked[identity(item)])
    return listed + [item for item in items if identity(item) not in ranked]
