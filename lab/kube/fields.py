"""Field ownership as kube-apiserver tracks it (structured-merge-diff): managedFields, server-side apply
and its conflicts.

A field set is a Python set of paths; a path is a tuple of FieldsV1 elements (``f:spec``,
``k:{"name":"app"}``, ``v:"value"``). ``members`` lists the paths of an object the way SMD's
``ToFieldSet`` does (leaves, list items, atomic values, map entries), with each path's value so two
objects can be compared. ``apply`` and ``update`` follow SMD's Updater: an apply merges the applied
configuration into the live object, removes what the applier owned before and nobody owns now, and
fails with the conflicting fields of other managers unless forced; an update hands changed fields to
its manager and takes them from the others.
"""
import copy
import datetime
import json

# Never owned by anyone (kube's strip-meta manager).
STRIPPED = {('f:apiVersion',), ('f:kind',), ('f:metadata', 'f:name'), ('f:metadata', 'f:namespace'),
            ('f:metadata', 'f:creationTimestamp'), ('f:metadata', 'f:selfLink'), ('f:metadata', 'f:uid'),
            ('f:metadata', 'f:generation'), ('f:metadata', 'f:managedFields'), ('f:metadata', 'f:resourceVersion'),
            ('f:metadata', 'f:deletionTimestamp'), ('f:metadata', 'f:deletionGracePeriodSeconds')}
LEAF, NODE = 'leaf', 'node'


class ApplyConflict(Exception):
    """Conflicts with other managers: ``conflicts`` is [(manager identity dict, path tuple)]."""

    def __init__(self, conflicts):
        super().__init__('conflicts')
        self.conflicts = conflicts


def _dumps(value):
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def item_key(item, keys, schema):
    values = {}
    for key in keys:
        values[key] = item.get(key, schema.key_default(key)) if isinstance(item, dict) else None
    return 'k:' + _dumps(values)


# ------------------------------------------------------------------ members

def members(obj, schema):
    """{path: (LEAF, value) | (NODE, None)} of ``obj``, without the fields nobody owns."""
    out = {}
    _walk(obj, schema, (), out)
    for path in list(out):
        if path in STRIPPED or path[:2] in STRIPPED:
            del out[path]
    return out


def _walk(value, schema, path, out):
    if isinstance(value, dict):
        if schema.map_atomic and path:
            out[path] = (LEAF, value)
            return
        for key, child in value.items():
            child_path = path + ('f:' + key,)
            child_schema = schema.field(key)
            _walk(child, child_schema, child_path, out)
            if child is None or (isinstance(child, dict) and not child):
                out[child_path] = (LEAF, child)
            elif not schema.declared(key):
                out.setdefault(child_path, (NODE, None))
    elif isinstance(value, list):
        kind = schema.list_type
        if kind == 'map' and schema.list_map_keys and all(isinstance(item, dict) for item in value):
            item_schema = schema.items()
            for item in value:
                item_path = path + (item_key(item, schema.list_map_keys, schema),)
                _walk(item, item_schema, item_path, out)
                out[item_path] = (NODE, None) if item else (LEAF, item)
        elif kind == 'set' and not any(isinstance(item, (dict, list)) for item in value):
            for item in value:
                out[path + ('v:' + _dumps(item),)] = (LEAF, item)
        else:
            out[path] = (LEAF, value)
    else:
        out[path] = (LEAF, value)


def compare(old, new):
    """(added, removed, modified) paths between two member maps."""
    added = set(new) - set(old)
    removed = set(old) - set(new)
    modified = {path for path in set(old) & set(new) if (old[path][0] == LEAF or new[path][0] == LEAF) and old[path] != new[path]}
    return added, removed, modified


# ------------------------------------------------------------------ FieldsV1

def to_fields_v1(paths):
    tree = {}
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        node.setdefault('.', {})  # marks a member; dropped below where the member has no children
    return _finish(tree)


def _finish(node):
    result = {}
    for key in sorted(node, key=lambda k: (k != '.', k)):
        if key == '.':
            continue
        child = node[key]
        result[key] = _finish(child)
        if '.' in child and len(child) > 1:
            result[key] = dict({'.': {}}, **result[key])
    return result


def from_fields_v1(tree, prefix=()):
    paths = set()
    for key, child in (tree or {}).items():
        if key == '.':
            continue
        path = prefix + (key,)
        if not child or '.' in child:
            paths.add(path)
        paths |= from_fields_v1(child, path)
    return paths


# ------------------------------------------------------------------ managers

def _identity(entry):
    identity = {'manager': entry.get('manager', ''), 'operation': entry.get('operation', '')}
    if entry.get('operation') != 'Apply':
        identity['apiVersion'] = entry.get('apiVersion', '')
    if entry.get('subresource'):
        identity['subresource'] = entry['subresource']
    return _dumps(identity)


def decode(managed_fields):
    """{identity: {'entry': dict without fields, 'set': paths}}."""
    result = {}
    for entry in managed_fields or ():
        if not isinstance(entry, dict) or not entry.get('manager') and not entry.get('fieldsV1'):
            continue
        meta = {k: v for k, v in entry.items() if k not in ('fieldsV1', 'fieldsType')}
        result[_identity(entry)] = {'entry': meta, 'set': from_fields_v1(entry.get('fieldsV1'))}
    return result


def encode(managers):
    entries = []
    for info in managers.values():
        if not info['set']:
            continue
        entry = dict(info['entry'])
        entry['fieldsType'] = 'FieldsV1'
        entry['fieldsV1'] = to_fields_v1(info['set'])
        entries.append(entry)
    entries.sort(key=lambda e: (e.get('operation') != 'Apply', e.get('time', ''), e.get('manager', '')))
    return entries


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _manager(managers, manager, operation, api_version, subresource):
    entry = {'manager': manager, 'operation': operation, 'apiVersion': api_version}
    if subresource:
        entry['subresource'] = subresource
    identity = _identity(entry)
    if identity not in managers:
        managers[identity] = {'entry': entry, 'set': set()}
    return identity


def _take(managers, skip, changed, removed, force, conflicts_out):
    for identity, info in managers.items():
        if identity == skip:
            continue
        conflict = info['set'] & changed
        if conflict:
            conflicts_out.extend((json.loads(identity), path) for path in sorted(conflict))
        if force or not conflict:
            info['set'] = info['set'] - conflict - removed


def _touch(managers, identity, before):
    info = managers[identity]
    if info['set'] != before or 'time' not in info['entry']:
        info['entry']['time'] = _now()


def update(live, new, schema, managed_fields, manager, api_version, subresource=None):
    """managedFields for an update (create, put, patch) of ``live`` (None on create) into ``new``."""
    managers = decode(managed_fields)
    old_members = members(live, schema) if live is not None else {}
    added, removed, modified = compare(old_members, members(new, schema))
    identity = _manager(managers, manager, 'Update', api_version, subresource)
    before = set(managers[identity]['set'])
    _take(managers, identity, added | modified, removed, True, [])
    managers[identity]['set'] = (managers[identity]['set'] - removed) | added | modified
    if managers[identity]['set']:
        _touch(managers, identity, before)
    return encode(managers)


# ------------------------------------------------------------------ apply

def merge(live, config, schema):
    """The applied configuration merged into the live object (config wins; lists by their list type)."""
    if isinstance(live, dict) and isinstance(config, dict) and not schema.map_atomic:
        result = dict(live)
        for key, value in config.items():
            result[key] = merge(live.get(key), value, schema.field(key)) if key in live else copy.deepcopy(value)
        return result
    if isinstance(live, list) and isinstance(config, list):
        kind, keys = schema.list_type, schema.list_map_keys
        if kind == 'map' and keys and all(isinstance(i, dict) for i in live + config):
            item_schema = schema.items()
            wanted = {item_key(item, keys, schema): item for item in config}
            result, seen = [], set()
            for item in live:
                key = item_key(item, keys, schema)
                seen.add(key)
                result.append(merge(item, wanted[key], item_schema) if key in wanted else item)
            result += [copy.deepcopy(item) for item in config if item_key(item, keys, schema) not in seen]
            return result
        if kind == 'set':
            return list(live) + [item for item in config if item not in live]
    return copy.deepcopy(config)


def strip_nulls(value):
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def remove_path(obj, path):
    """Remove the element at ``path`` from ``obj`` in place (missing paths are fine)."""
    node = obj
    for element in path[:-1]:
        node = _step(node, element)
        if node is None:
            return
    last = path[-1]
    if isinstance(node, dict) and last.startswith('f:'):
        node.pop(last[2:], None)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if _matches(item, last):
                node.pop(index)
                return


def _step(node, element):
    if isinstance(node, dict) and element.startswith('f:'):
        return node.get(element[2:])
    if isinstance(node, list):
        return next((item for item in node if _matches(item, element)), None)
    return None


def _matches(item, element):
    if element.startswith('k:'):
        wanted = json.loads(element[2:])
        return isinstance(item, dict) and all(item.get(k, 'TCP' if k == 'protocol' else None) == v for k, v in wanted.items())
    if element.startswith('v:'):
        return item == json.loads(element[2:])
    return False


def apply(live, config, schema, managed_fields, manager, api_version, force, subresource=None):
    """(new object, managedFields) for a server-side apply of ``config`` by ``manager`` onto ``live``
    (None: the object is created). Raises ApplyConflict unless ``force``."""
    config = strip_nulls(config)
    managers = decode(managed_fields)
    base = live if live is not None else {}
    merged = merge(base, config, schema)
    identity = _manager(managers, manager, 'Apply', api_version, subresource)
    managers[identity]['entry']['apiVersion'] = api_version
    last_set = set(managers[identity]['set'])
    config_set = set(members(config, schema))
    managers[identity]['set'] = config_set
    owned = set().union(*(info['set'] for info in managers.values()))
    for path in sorted(last_set - owned, key=len, reverse=True):
        if not any(other[:len(path)] == path for other in owned):
            remove_path(merged, path)
    added, removed, modified = compare(members(base, schema), members(merged, schema))
    conflicts = []
    _take(managers, identity, added | modified, removed, force, conflicts)
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    _touch(managers, identity, last_set)
    return merged, encode(managers)


# ------------------------------------------------------------------ messages

def path_text(path):
    """SMD's path notation: ``.spec.template.spec.containers[name="app"].image``."""
    parts = []
    for element in path:
        if element.startswith('f:'):
            parts.append('.' + element[2:])
        elif element.startswith('k:'):
            keys = json.loads(element[2:])
            parts.append('[%s]' % ','.join('%s=%s' % (k, json.dumps(v)) for k, v in sorted(keys.items())))
        elif element.startswith('v:'):
            parts.append('[=%s]' % element[2:])
    return ''.join(parts)


def _manager_text(identity):
    text = json.dumps(identity['manager'])
    if identity.get('subresource'):
        text += ' with subresource %s' % json.dumps(identity['subresource'])
    if identity.get('operation') == 'Update':
        text += ' using %s' % identity.get('apiVersion', '')
    return text


def conflict_message(conflicts):
    """kube-apiserver's message and causes for an apply conflict."""
    causes = [{'type': 'FieldManagerConflict', 'message': 'conflict with %s' % _manager_text(identity), 'field': path_text(path)}
              for identity, path in conflicts]
    if len(conflicts) == 1:
        identity, path = conflicts[0]
        return 'Apply failed with 1 conflict: conflict with %s: %s' % (_manager_text(identity), path_text(path)), causes
    by_manager = {}
    for identity, path in conflicts:
        # Sorted as kube sorts the encoded identities: Go marshals manager, operation, apiVersion, subresource in that order.
        key = json.dumps([identity.get(k) for k in ('manager', 'operation', 'apiVersion', 'subresource') if identity.get(k)])
        by_manager.setdefault(key, (identity, []))[1].append(path)
    lines = []
    for key in sorted(by_manager):
        identity, paths = by_manager[key]
        lines.append('conflicts with %s:' % _manager_text(identity))
        lines += ['- %s' % path_text(path) for path in paths]
    return 'Apply failed with %d conflicts: %s' % (len(conflicts), '\n'.join(lines)), causes
