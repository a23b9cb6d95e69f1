"""Discovery (``/version``, ``/api``, ``/apis``, per group-version resource lists, aggregated discovery
v2/v2beta1) and OpenAPI v3 (``/openapi/v3`` and one document per group-version), built from the served
resources: the built-in table and the Established CRDs.

The OpenAPI documents carry what clients read from them: each resource's paths with the
``x-kubernetes-group-version-kind`` of its operations and the ``fieldValidation`` parameter of PATCH
(kubectl then leaves field validation to the server), and the schemas (kubernetes-validate's for
built-ins, the CRD's for custom resources) with their list types and merge keys (kubectl apply's
strategic merge patch reads them).
"""
import copy
import hashlib
import json

from .schema import OBJECT_META

AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'
AGGREGATED_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList'
GROUP_ORDER = ['', 'apiregistration.k8s.io', 'apps', 'events.k8s.io', 'authentication.k8s.io', 'authorization.k8s.io', 'autoscaling',
               'batch', 'certificates.k8s.io', 'networking.k8s.io', 'policy', 'rbac.authorization.k8s.io', 'storage.k8s.io',
               'admissionregistration.k8s.io', 'apiextensions.k8s.io', 'scheduling.k8s.io', 'coordination.k8s.io', 'node.k8s.io',
               'discovery.k8s.io']


def version_info(kube_version):
    major, minor = kube_version.lstrip('v').split('.')[:2]
    return {'major': major, 'minor': minor, 'gitVersion': 'v' + kube_version.lstrip('v'), 'gitCommit': '0' * 40,
            'gitTreeState': 'clean', 'buildDate': '2025-04-22T16:03:55Z', 'goVersion': 'go1.23.8', 'compiler': 'gc',
            'platform': 'linux/amd64'}


def _groups(resources):
    """{group: {version: [resources]}} in the server's group order."""
    grouped = {}
    for resource in resources:
        grouped.setdefault(resource.group, {}).setdefault(resource.version, []).append(resource)
    order = {name: index for index, name in enumerate(GROUP_ORDER)}
    return dict(sorted(grouped.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def _preferred(versions):
    def rank(version):
        stable = 'alpha' not in version and 'beta' not in version
        return (stable, 'beta' in version, version)
    return sorted(versions, key=rank, reverse=True)


def api_versions(address):
    return {'kind': 'APIVersions', 'versions': ['v1'],
            'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': '%s:6443' % address}]}


def group_list(resources):
    groups = []
    for group, versions in _groups(resources).items():
        if not group:
            continue
        ordered = _preferred(versions)
        entries = [{'groupVersion': '%s/%s' % (group, v), 'version': v} for v in ordered]
        groups.append({'name': group, 'versions': entries, 'preferredVersion': entries[0]})
    return {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': groups}


def group(resources, name):
    versions = _groups(resources).get(name)
    if not versions:
        return None
    entries = [{'groupVersion': '%s/%s' % (name, v), 'version': v} for v in _preferred(versions)]
    return {'kind': 'APIGroup', 'apiVersion': 'v1', 'name': name, 'versions': entries, 'preferredVersion': entries[0]}


def _verbs(resource):
    return ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']


def _sub_kind(resource, sub):
    if sub == 'scale':
        return {'group': 'autoscaling', 'version': 'v1', 'kind': 'Scale'}
    if sub == 'eviction':
        return {'group': 'policy', 'version': 'v1', 'kind': 'Eviction'}
    return {'group': resource.group, 'version': resource.version, 'kind': resource.kind}


def _sub_verbs(sub):
    return {'finalize': ['update'], 'eviction': ['create']}.get(sub, ['get', 'patch', 'update'])


def resource_list(resources, group_name, version):
    items = [r for r in resources if r.group == group_name and r.version == version]
    if not items:
        return None
    entries = []
    for resource in sorted(items, key=lambda r: r.plural):
        entry = {'name': resource.plural, 'singularName': resource.singular, 'namespaced': resource.namespaced,
                 'kind': resource.kind, 'verbs': _verbs(resource),
                 'storageVersionHash': hashlib.sha256(resource.group_resource.encode()).hexdigest()[:12]}
        if resource.short_names:
            entry['shortNames'] = resource.short_names
        if resource.categories:
            entry['categories'] = resource.categories
        entries.append(entry)
        for sub in resource.subresources:
            kind = _sub_kind(resource, sub)
            sub_entry = {'name': '%s/%s' % (resource.plural, sub), 'singularName': '', 'namespaced': resource.namespaced,
                         'kind': kind['kind'], 'verbs': _sub_verbs(sub)}
            if sub in ('scale', 'eviction'):
                sub_entry.update(group=kind['group'], version=kind['version'])
            entries.append(sub_entry)
    gv = '%s/%s' % (group_name, version) if group_name else version
    return {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': gv, 'resources': entries}


def aggregated(resources, legacy, accept_v2=True):
    """The APIGroupDiscoveryList of ``/api`` (legacy) or ``/apis``."""
    items = []
    for group_name, versions in _groups(resources).items():
        if bool(group_name) == legacy:
            continue
        version_entries = []
        for version in _preferred(versions):
            entries = []
            for resource in sorted(versions[version], key=lambda r: r.plural):
                kind = {'group': resource.group, 'version': resource.version, 'kind': resource.kind}
                entry = {'resource': resource.plural, 'responseKind': kind,
                         'scope': 'Namespaced' if resource.namespaced else 'Cluster', 'singularResource': resource.singular,
                         'verbs': _verbs(resource)}
                if resource.short_names:
                    entry['shortNames'] = resource.short_names
                if resource.categories:
                    entry['categories'] = resource.categories
                subs = [{'subresource': sub, 'responseKind': _sub_kind(resource, sub),
                         'verbs': _sub_verbs(sub)} for sub in resource.subresources]
                if subs:
                    entry['subresources'] = subs
                entries.append(entry)
            version_entries.append({'version': version, 'resources': entries, 'freshness': 'Current'})
        items.append({'metadata': {'name': group_name, 'creationTimestamp': None}, 'versions': version_entries})
    return {'kind': 'APIGroupDiscoveryList', 'apiVersion': 'apidiscovery.k8s.io/v2' if accept_v2 else 'apidiscovery.k8s.io/v2beta1',
            'metadata': {}, 'items': items}


# ------------------------------------------------------------------ OpenAPI v3

def _convert(node):
    """A kubernetes-validate (JSON schema) node as an OpenAPI v3 schema: refs into components, one type."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    if 'oneOf' in node and all(isinstance(o, dict) and 'type' in o for o in node['oneOf']):
        return {'type': 'string', 'format': 'int-or-string', 'x-kubernetes-int-or-string': True}
    result = {}
    for key, value in node.items():
        if key == 'description' or (key == 'additionalProperties' and value is False):
            continue
        if key == '$ref' and isinstance(value, str):
            result[key] = '#/components/schemas/' + value.rsplit('/', 1)[-1]
        elif key == 'type' and isinstance(value, list):
            result[key] = next((v for v in value if v != 'null'), 'object')
        elif key in ('properties',):
            result[key] = {name: _convert(sub) for name, sub in value.items()}
        else:
            result[key] = _convert(value)
    return result


def _refs(node, found):
    if isinstance(node, dict):
        ref = node.get('$ref')
        if isinstance(ref, str):
            found.add(ref.rsplit('/', 1)[-1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _closure(defs, roots):
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        found = set()
        _refs(defs[name], found)
        todo += list(found - seen)
    return seen


def _operations(resource, schema_name, gvk):
    def op(action, params=()):
        return {'operationId': '%s%s' % (action, resource.kind), 'x-kubernetes-action': action,
                'x-kubernetes-group-version-kind': gvk,
                'parameters': [{'name': p, 'in': 'query', 'schema': {'type': 'string', 'uniqueItems': True}} for p in params],
                'responses': {'200': {'description': 'OK', 'content': {'application/json': {
                    'schema': {'$ref': '#/components/schemas/' + schema_name}}}}}}
    write = ('dryRun', 'fieldManager', 'fieldValidation')
    item = {'get': op('get'), 'put': op('put', write), 'patch': op('patch', write + ('force',)), 'delete': op('delete', ('dryRun',))}
    collection = {'get': op('list'), 'post': op('post', write)}
    return item, collection


def openapi_document(registry, group_name, version, kube_version):
    resources = [r for r in registry.resources() if r.group == group_name and r.version == version]
    if not resources:
        return None
    defs = registry.defs
    schemas, paths = {}, {}
    base = '/apis/%s/%s' % (group_name, version) if group_name else '/api/v1'
    roots = {OBJECT_META}
    for resource in resources:
        gvk = {'group': resource.group, 'version': resource.version, 'kind': resource.kind}
        if resource.crd is None:
            schema_name = registry.kinds.get((resource.group, resource.version, resource.kind))
            if schema_name is None:
                continue
            roots.add(schema_name)
        else:
            schema_name = '.'.join(reversed(resource.group.split('.'))) + '.%s.%s' % (resource.version, resource.kind)
            raw = copy.deepcopy(registry.schema(resource).raw)
            raw.setdefault('properties', {})['metadata'] = {'$ref': '#/components/schemas/' + OBJECT_META}
            raw['x-kubernetes-group-version-kind'] = [gvk]
            schemas[schema_name] = raw
        item, collection = _operations(resource, schema_name, gvk)
        if resource.namespaced:
            paths['%s/namespaces/{namespace}/%s' % (base, resource.plural)] = collection
            paths['%s/namespaces/{namespace}/%s/{name}' % (base, resource.plural)] = item
        else:
            paths['%s/%s' % (base, resource.plural)] = collection
            paths['%s/%s/{name}' % (base, resource.plural)] = item
    for name in _closure(defs, roots):
        schemas[name] = _convert(defs[name])
    return {'openapi': '3.0.0', 'info': {'title': 'Kubernetes', 'version': 'v' + kube_version.lstrip('v')}, 'paths': paths,
            'components': {'schemas': schemas}}


class OpenAPICache:
    """The documents serialised once per set of served resources (CRDs change it)."""

    def __init__(self, registry, kube_version):
        self.registry, self.kube_version = registry, kube_version
        self.key, self.docs = None, {}

    def _refresh(self):
        key = tuple(sorted((r.group, r.version, r.plural, r.crd['metadata'].get('resourceVersion', '') if r.crd else '')
                           for r in self.registry.resources()))
        if key != self.key:
            self.key, self.docs = key, {}
        return key

    def _path(self, group_name, version):
        return 'apis/%s/%s' % (group_name, version) if group_name else 'api/v1'

    def document(self, path):
        """(bytes, hash) of ``api/v1`` or ``apis/<group>/<version>``, or None."""
        self._refresh()
        if path not in self.docs:
            parts = path.split('/')
            if parts[0] == 'api' and parts[1:] == ['v1']:
                doc = openapi_document(self.registry, '', 'v1', self.kube_version)
            elif parts[0] == 'apis' and len(parts) == 3:
                doc = openapi_document(self.registry, parts[1], parts[2], self.kube_version)
            else:
                doc = None
            if doc is None:
                return None
            data = json.dumps(doc, separators=(',', ':')).encode()
            self.docs[path] = (data, hashlib.sha512(data).hexdigest()[:64].upper())
        return self.docs[path]

    def root(self):
        self._refresh()
        paths = {}
        for group_name, versions in _groups(self.registry.resources()).items():
            for version in versions:
                path = self._path(group_name, version)
                found = self.document(path)
                if found:
                    paths[path] = {'serverRelativeURL': '/openapi/v3/%s?hash=%s' % (path, found[1])}
        return {'paths': paths}


def _field(number, text):
    data = text.encode() if isinstance(text, str) else text
    return bytes([number << 3 | 2, len(data)]) + data


def empty_openapi_v2(kube_version):
    """A gnostic OpenAPI v2 Document in protobuf with no paths or definitions: swagger (1) "2.0",
    info (2) {title (1), version (2)}."""
    return _field(1, '2.0') + _field(2, _field(1, 'Kubernetes') + _field(2, 'v' + kube_version.lstrip('v')))
