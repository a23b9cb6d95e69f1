"""The API's operations on objects (what kube-apiserver's generic registry does), used by the HTTP layer
and by the controller stand-ins alike, so both write through the same checks.

Every write: type and namespace checks, defaults, validation (kubernetes-validate for built-ins, the
CRD's structural schema for custom resources, metadata), status-subresource rules, generation, uid and
timestamps, managedFields, then a compare-and-swap transaction in etcd. A write that changes nothing is
not stored (the resourceVersion stays), as on a real server.
"""
import base64
import copy
import datetime
import json
import logging
import random
import string
import uuid

from . import catalog, defaults, errors, fields, patch as patches, schema as schemas, selectors, store as stores, validation

LOG = logging.getLogger('lab.kube')
CRD_PREFIX = '/registry/apiextensions.k8s.io/customresourcedefinitions/'
NAMESPACE = catalog.Resource('', 'v1', 'Namespace', 'namespaces', False)
RETRIES = 8
# Kinds whose strategy tracks metadata.generation (others, like ConfigMaps, have none).
GENERATION_GROUPS = {'apps', 'batch', 'apiextensions.k8s.io', 'networking.k8s.io', 'policy', 'autoscaling'}
PROTECTION = {('', 'PersistentVolumeClaim'): 'kubernetes.io/pvc-protection', ('', 'PersistentVolume'): 'kubernetes.io/pv-protection'}
IMMUTABLE = {('apps', 'Deployment'): ('selector',), ('apps', 'DaemonSet'): ('selector',), ('apps', 'ReplicaSet'): ('selector',),
             ('apps', 'StatefulSet'): ('selector',), ('batch', 'Job'): ('selector', 'template', 'completions')}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _comparable(obj):
    data = copy.deepcopy(obj)
    data.get('metadata', {}).pop('resourceVersion', None)
    return data


def _body_only(obj):
    return {k: v for k, v in obj.items() if k not in ('metadata', 'status', 'apiVersion', 'kind')}


def condition_true(obj, kind):
    return any(c.get('type') == kind and c.get('status') == 'True' for c in (obj.get('status') or {}).get('conditions') or ())


class Registry:
    def __init__(self, store, kube_version):
        self.store = store
        self.kube_version = kube_version
        self.builtins = {(r.group, r.version, r.plural): r for r in catalog.builtins()}
        self.defs = catalog.definitions(kube_version)
        self.kinds = catalog.kinds(kube_version)
        self.builtin_validator = validation.Builtin(kube_version)
        self.crds = {}  # name -> CRD object, as last seen in etcd
        self.listeners = []  # callables(resource, event type, object) for in-process watchers (controllers)

    # ------------------------------------------------------------------ resources

    def custom_resources(self):
        result = []
        for crd in self.crds.values():
            if not condition_true(crd, 'Established') or (crd.get('metadata') or {}).get('deletionTimestamp'):
                continue
            spec = crd.get('spec') or {}
            names = (crd.get('status') or {}).get('acceptedNames') or spec.get('names') or {}
            for version in spec.get('versions') or ():
                if not version.get('served', True):
                    continue
                subresources = ['status'] if 'status' in (version.get('subresources') or {}) else []
                if 'scale' in (version.get('subresources') or {}):
                    subresources.append('scale')
                result.append(catalog.Resource(spec.get('group', ''), version['name'], names.get('kind', ''), names.get('plural', ''),
                                               spec.get('scope') == 'Namespaced', names.get('shortNames') or (), subresources,
                                               names.get('categories') or (), names.get('singular'), crd=crd))
        return result

    def resources(self):
        return list(self.builtins.values()) + self.custom_resources()

    def resource(self, group, version, plural):
        found = self.builtins.get((group, version, plural))
        if found is not None:
            return found
        return next((r for r in self.custom_resources() if (r.group, r.version, r.plural) == (group, version, plural)), None)

    def resource_for(self, api_version, kind):
        group, _sep, version = api_version.rpartition('/')
        return next((r for r in self.resources() if (r.group, r.version, r.kind) == (group, version, kind)), None)

    def group_known(self, group, version):
        return any(r.group == group and r.version == version for r in self.resources())

    def schema(self, resource):
        if resource.crd is None:
            return schemas.builtin(self.defs, self.kinds[(resource.group, resource.version, resource.kind)])
        return schemas.custom(self.defs, self._crd_version(resource).get('schema', {}).get('openAPIV3Schema'))

    @staticmethod
    def _crd_version(resource):
        return next((v for v in resource.crd['spec']['versions'] if v['name'] == resource.version), {})

    def crd_event(self, crd, deleted=False):
        name = crd['metadata']['name']
        if deleted:
            self.crds.pop(name, None)
        else:
            self.crds[name] = crd

    async def load_crds(self):
        items, revision = await self.store.list(CRD_PREFIX)
        self.crds = {obj['metadata']['name']: obj for _key, obj, _rev in items}
        return revision

    # ------------------------------------------------------------------ helpers

    def _out(self, resource, obj):
        obj['apiVersion'], obj['kind'] = resource.api_version, resource.kind
        return obj

    async def _namespace_ready(self, resource, namespace, name):
        if not resource.namespaced:
            return
        found = await self.store.get(NAMESPACE.key(None, namespace))
        if found is None:
            raise errors.namespace_not_found(namespace)
        if (found[0].get('metadata') or {}).get('deletionTimestamp'):
            message = 'unable to create new content in namespace %s because it is being terminated' % namespace
            raise errors.forbidden(resource, name, '%s "%s" is forbidden: %s' % (resource.group_resource, name, message),
                                   [{'reason': 'NamespaceTerminating', 'message': message, 'field': 'metadata.namespace'}])

    def _check_type(self, resource, body, namespace):
        if not isinstance(body, dict):
            raise errors.bad_request('the body of the request was not a JSON object')
        if body.get('apiVersion') and body['apiVersion'] != resource.api_version:
            group = body['apiVersion'].rpartition('/')[0]
            if group != resource.group:
                raise errors.bad_request('the API version in the data (%s) does not match the expected API version (%s)'
                                         % (body['apiVersion'], resource.api_version))
        if body.get('kind') and body['kind'] != resource.kind:
            raise errors.bad_request('%s in version "%s" cannot be handled as a %s: no kind "%s" is registered for version "%s"'
                                     % (body['kind'], resource.version, resource.kind, body['kind'], resource.api_version))
        meta = body.setdefault('metadata', {})
        if not isinstance(meta, dict):
            raise errors.bad_request('metadata must be an object')
        if resource.namespaced:
            if meta.get('namespace') and meta['namespace'] != namespace:
                raise errors.bad_request('the namespace of the provided object does not match the namespace sent on the request')
            meta['namespace'] = namespace
        else:
            meta.pop('namespace', None)
        self._out(resource, body)

    def _validate(self, resource, obj, field_validation, name):
        """Prune/default/validate ``obj`` in place (returns it); raises 400 or 422 as the server would."""
        if resource.crd is not None:
            checked, unknown, causes = validation.Structural(self._crd_version(resource).get('schema', {}).get('openAPIV3Schema')).run(obj)
            obj.clear()
            obj.update(checked)
            if unknown and field_validation == 'Strict':
                raise errors.strict_decoding(resource, resource.version, unknown)
        else:
            defaults.apply(obj, resource, (obj.get('metadata') or {}).get('uid'))
            unknown, causes = self.builtin_validator.check(obj, resource.group, resource.version, resource.kind)
            if unknown:
                if field_validation == 'Strict':
                    raise errors.strict_decoding(resource, resource.version, unknown)
                if field_validation != 'Ignore':
                    # The real server drops unknown fields with a warning; the lab refuses them, so that a typo in
                    # a manifest fails a test instead of vanishing (docs/lab-kube.md).
                    causes = [validation.Cause(path, 'FieldValueInvalid', 'Invalid value: unknown field "%s"' % path)
                              for path in unknown] + causes
                else:
                    for path in unknown:
                        _drop(obj, path)
        causes = validation.metadata(obj, resource) + causes
        if resource.group == 'apiextensions.k8s.io' and resource.kind == 'CustomResourceDefinition':
            causes += _crd_causes(obj)
        if causes:
            raise errors.invalid(resource, name, causes)
        return obj

    def _immutable(self, resource, old, new):
        causes = []
        for field in IMMUTABLE.get((resource.group, resource.kind), ()):
            if (old.get('spec') or {}).get(field) != (new.get('spec') or {}).get(field):
                causes.append(validation.Cause('spec.%s' % field, 'FieldValueInvalid', 'Invalid value: %s: field is immutable'
                                               % validation.go_value((new.get('spec') or {}).get(field))))
        if causes:
            raise errors.invalid(resource, new['metadata']['name'], causes)

    def _finish_meta(self, resource, new, old):
        meta = new['metadata']
        if old is None:
            protection = PROTECTION.get((resource.group, resource.kind))
            if protection and protection not in (meta.get('finalizers') or ()):
                # The StorageObjectInUseProtection admission plugin: a claim in use, or a bound volume, outlives its delete.
                meta['finalizers'] = list(meta.get('finalizers') or ()) + [protection]
            meta['uid'] = meta.get('uid') or str(uuid.uuid4())
            meta['creationTimestamp'] = now()
            if resource.crd is not None or resource.group in GENERATION_GROUPS:
                meta['generation'] = 1
            else:
                meta.pop('generation', None)
            for key in ('resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink'):
                meta.pop(key, None)
            return
        old_meta = old['metadata']
        for key in ('uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds'):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if 'generation' not in old_meta:
            meta.pop('generation', None)
        else:
            meta['generation'] = old_meta['generation'] + (1 if _body_only(new) != _body_only(old) else 0)
        meta.pop('resourceVersion', None)

    def _subresource_merge(self, resource, new, old, subresource):
        """Main-resource writes keep the old status; /status writes keep everything but the status."""
        if subresource == 'finalize' and old is not None:
            merged = copy.deepcopy(old)
            merged.setdefault('spec', {})['finalizers'] = (new.get('spec') or {}).get('finalizers') or []
            merged['metadata']['managedFields'] = new['metadata'].get('managedFields')
            return merged
        if 'status' not in resource.subresources or old is None:
            if old is None and 'status' in resource.subresources and resource.crd is not None:
                new.pop('status', None)
            return new
        if subresource == 'status':
            merged = copy.deepcopy(old)
            merged['status'] = new.get('status')
            if merged['status'] is None:
                merged.pop('status')
            merged['metadata']['managedFields'] = new['metadata'].get('managedFields')
            return merged
        if 'status' in old:
            new['status'] = old['status']
        else:
            new.pop('status', None)
        return new

    # ------------------------------------------------------------------ reads

    async def get(self, resource, namespace, name):
        found = await self.store.get(resource.key(namespace, name))
        if found is None:
            raise errors.not_found(resource, name)
        return self._out(resource, found[0])

    async def list(self, resource, namespace=None, label=None, field=None, limit=None, cont=None):
        """A ``<Kind>List`` (items without apiVersion/kind for built-ins, as kube-apiserver sends them)."""
        labels = selectors.parse_labels(label)
        fieldreqs = selectors.parse_fields(field, resource)
        start_key, revision = None, None
        if cont:
            try:
                token = json.loads(base64.b64decode(cont))
                start_key, revision = token['start'], int(token['rv'])
            except (ValueError, KeyError, TypeError):
                raise errors.bad_request('continue key is not valid: illegal base64 data') from None
        items, read_at = await self.store.list(resource.prefix(namespace), revision)
        chosen = []
        for key, obj, _rev in items:
            if start_key and key < start_key:
                continue
            if not selectors.match_requirements(obj['metadata'].get('labels'), labels) or not selectors.match_fields(obj, fieldreqs):
                continue
            chosen.append((key, obj))
        meta = {'resourceVersion': str(revision or read_at)}
        if limit and len(chosen) > limit:
            rest = chosen[limit:]
            chosen = chosen[:limit]
            meta['continue'] = base64.b64encode(json.dumps({'v': 'meta.k8s.io/v1', 'rv': revision or read_at,
                                                            'start': rest[0][0]}).encode()).decode()
            meta['remainingItemCount'] = len(rest)
        result = []
        for _key, obj in chosen:
            if resource.crd is not None:
                self._out(resource, obj)
            else:
                obj.pop('apiVersion', None)
                obj.pop('kind', None)
            result.append(obj)
        return {'apiVersion': resource.api_version, 'kind': resource.kind + 'List', 'metadata': meta, 'items': result}

    # ------------------------------------------------------------------ writes

    async def create(self, resource, namespace, body, manager, dry_run=False, field_validation=None):
        body = copy.deepcopy(body)
        self._check_type(resource, body, namespace)
        meta = body['metadata']
        if not meta.get('name') and meta.get('generateName'):
            meta['name'] = meta['generateName'] + ''.join(random.choice('bcdfghjklmnpqrstvwxz2456789') for _index in range(5))
        name = meta.get('name') or ''
        await self._namespace_ready(resource, namespace, name)
        self._finish_meta(resource, body, None)
        if 'status' in resource.subresources and resource.crd is not None:
            body.pop('status', None)
        self._validate(resource, body, field_validation, name)
        body['metadata']['managedFields'] = fields.update(None, body, self.schema(resource), None, manager, resource.api_version)
        return await self._store_new(resource, namespace, body, dry_run)

    async def _store_new(self, resource, namespace, body, dry_run):
        name = body['metadata']['name']
        if dry_run:
            if await self.store.get(resource.key(namespace, name)) is not None:
                raise errors.already_exists(resource, name)
            return body
        try:
            revision = await self.store.create(resource.key(namespace, name), body)
        except stores.Stale:
            raise errors.already_exists(resource, name) from None
        body['metadata']['resourceVersion'] = str(revision)
        self._notify(resource, 'ADDED', body)
        return body

    async def _write(self, resource, namespace, old, old_rev, new, dry_run):
        """Store ``new`` over ``old`` (unless nothing changed); returns the stored object."""
        if _comparable(new) == _comparable(old):
            return self._out(resource, old)
        name = new['metadata']['name']
        if dry_run:
            return new
        meta = new['metadata']
        if meta.get('deletionTimestamp') and not meta.get('finalizers') and not (resource.plural == 'namespaces'
                                                                                 and (new.get('spec') or {}).get('finalizers')):
            # The last finalizer went: the object goes.
            revision = await self.store.delete(resource.key(namespace, name), old_rev)
            meta['resourceVersion'] = str(revision)
            self._notify(resource, 'DELETED', new)
            return new
        revision = await self.store.update(resource.key(namespace, name), new, old_rev)
        meta['resourceVersion'] = str(revision)
        self._notify(resource, 'MODIFIED', new)
        return new

    async def update(self, resource, namespace, name, body, manager, dry_run=False, field_validation=None, subresource=None):
        body = copy.deepcopy(body)
        self._check_type(resource, body, namespace)
        if body['metadata'].get('name') and body['metadata']['name'] != name:
            raise errors.bad_request('the name of the object (%s) does not match the name on the URL (%s)' % (body['metadata']['name'], name))
        body['metadata']['name'] = name
        found = await self.store.get(resource.key(namespace, name))
        if found is None:
            raise errors.not_found(resource, name)
        old, old_rev = self._out(resource, found[0]), found[1]
        wanted = body['metadata'].get('resourceVersion')
        if wanted and wanted != str(old_rev):
            raise errors.conflict(resource, name)
        new = self._prepare_update(resource, old, body, manager, field_validation, subresource)
        try:
            return await self._write(resource, namespace, old, old_rev, new, dry_run)
        except stores.Stale:
            raise errors.conflict(resource, name) from None

    def _prepare_update(self, resource, old, body, manager, field_validation, subresource, managed=None):
        if body['metadata'].get('managedFields') is None:
            body['metadata']['managedFields'] = old['metadata'].get('managedFields')
        body = self._subresource_merge(resource, body, old, subresource)
        self._finish_meta(resource, body, old)
        self._validate(resource, body, field_validation, body['metadata']['name'])
        if subresource != 'status':
            self._immutable(resource, old, body)
        if managed is None:
            managed = fields.update(old, body, self.schema(resource), body['metadata'].get('managedFields'), manager,
                                    resource.api_version, subresource)
        body['metadata']['managedFields'] = managed
        return body

    async def patch(self, resource, namespace, name, patch_type, data, manager, dry_run=False, force=False,
                    field_validation=None, subresource=None):
        """``patch_type``: json, merge, strategic or apply (``data`` already parsed)."""
        for _attempt in range(RETRIES):
            found = await self.store.get(resource.key(namespace, name))
            if found is None:
                if patch_type == 'apply':
                    return await self._apply_create(resource, namespace, name, data, manager, dry_run, field_validation)
                raise errors.not_found(resource, name)
            old, old_rev = self._out(resource, found[0]), found[1]
            if patch_type == 'apply':
                new = self._apply(resource, old, data, manager, force, field_validation, subresource)
            else:
                new = self._patched(resource, old, patch_type, data)
                wanted = (new.get('metadata') or {}).get('resourceVersion')
                if wanted and wanted != str(old_rev):
                    raise errors.conflict(resource, name)
                self._check_type(resource, new, namespace)
                new['metadata']['name'] = name
                new = self._prepare_update(resource, old, new, manager, field_validation, subresource)
            try:
                return await self._write(resource, namespace, old, old_rev, new, dry_run)
            except stores.Stale:
                continue
        raise errors.conflict(resource, name)

    def _patched(self, resource, old, patch_type, data):
        base = copy.deepcopy(old)
        try:
            if patch_type == 'json':
                return patches.json_patch(base, data)
            if patch_type == 'merge':
                return patches.merge_patch(base, data)
            if resource.crd is not None:
                raise errors.unsupported_media_type('application/strategic-merge-patch+json')
            return patches.strategic_merge(base, data, self.schema(resource))
        except patches.BadPatch as exc:
            raise errors.bad_request(str(exc)) from None
        except patches.PatchError as exc:
            raise errors.ApiError(422, 'Invalid', str(exc), {}) from None

    def _apply_config(self, resource, data, name):
        if not isinstance(data, dict):
            raise errors.bad_request('error decoding YAML: the applied configuration is not an object')
        if not data.get('apiVersion') or not data.get('kind'):
            raise errors.bad_request("error decoding YAML: Object 'Kind' is missing in %s" % json.dumps(data)[:200])
        if data['apiVersion'] != resource.api_version or data['kind'] != resource.kind:
            raise errors.bad_request('the API version in the data (%s) does not match the expected API version (%s)'
                                     % (data['apiVersion'], resource.api_version))
        meta = data.get('metadata') or {}
        if meta.get('name') and meta['name'] != name:
            raise errors.bad_request('the name of the object (%s) does not match the name on the URL (%s)' % (meta['name'], name))
        config = copy.deepcopy(data)
        config.setdefault('metadata', {})['name'] = name
        for key in ('managedFields', 'creationTimestamp', 'uid', 'generation', 'resourceVersion', 'selfLink', 'namespace'):
            config['metadata'].pop(key, None)
        return config

    async def _apply_create(self, resource, namespace, name, data, manager, dry_run, field_validation):
        config = self._apply_config(resource, data, name)
        await self._namespace_ready(resource, namespace, name)
        if 'status' in resource.subresources:
            config.pop('status', None)
        obj, managed = fields.apply(None, config, self.schema(resource), None, manager, resource.api_version, True)
        self._check_type(resource, obj, namespace)
        self._finish_meta(resource, obj, None)
        self._validate(resource, obj, field_validation, name)
        obj['metadata']['managedFields'] = managed
        return await self._store_new(resource, namespace, obj, dry_run)

    def _apply(self, resource, old, data, manager, force, field_validation, subresource):
        config = self._apply_config(resource, data, old['metadata']['name'])
        wanted = (data.get('metadata') or {}).get('resourceVersion')
        if wanted and wanted != old['metadata'].get('resourceVersion'):
            raise errors.conflict(resource, old['metadata']['name'])
        if 'status' in resource.subresources:
            if subresource == 'status':
                config = {'apiVersion': config['apiVersion'], 'kind': config['kind'], 'metadata': {'name': config['metadata']['name']},
                          'status': config.get('status') or {}}
            else:
                config.pop('status', None)
        live = copy.deepcopy(old)
        managed_before = live['metadata'].get('managedFields')
        try:
            merged, managed = fields.apply(live, config, self.schema(resource), managed_before, manager, resource.api_version,
                                           force, subresource)
        except fields.ApplyConflict as exc:
            message, causes = fields.conflict_message(exc.conflicts)
            raise errors.apply_conflict(message, causes) from None
        merged['metadata']['managedFields'] = managed
        return self._prepare_update(resource, old, merged, manager, field_validation, subresource, managed=managed)

    # ------------------------------------------------------------------ delete

    async def delete(self, resource, namespace, name, options=None, dry_run=False, preconditions=None):
        """Returns (object or None, immediately deleted)."""
        options = options or {}
        for _attempt in range(RETRIES):
            found = await self.store.get(resource.key(namespace, name))
            if found is None:
                raise errors.not_found(resource, name)
            obj, rev = self._out(resource, found[0]), found[1]
            pre = options.get('preconditions') or preconditions or {}
            if pre.get('uid') and pre['uid'] != obj['metadata'].get('uid'):
                raise errors.conflict(resource, name, 'Precondition failed: UID in precondition: %s, UID in object meta: %s'
                                      % (pre['uid'], obj['metadata'].get('uid')))
            if pre.get('resourceVersion') and pre['resourceVersion'] != str(rev):
                raise errors.conflict(resource, name)
            meta = obj['metadata']
            policy = options.get('propagationPolicy')
            finalizers = list(meta.get('finalizers') or ())
            if policy == 'Foreground' and 'foregroundDeletion' not in finalizers:
                finalizers.append('foregroundDeletion')
            elif policy == 'Orphan' and 'orphan' not in finalizers:
                finalizers.append('orphan')
            graceful = resource.plural == 'pods' and (obj.get('spec') or {}).get('nodeName') and options.get('gracePeriodSeconds') != 0
            terminating = resource.plural == 'namespaces'
            if finalizers or graceful or terminating:
                if meta.get('deletionTimestamp'):
                    return obj, False
                new = copy.deepcopy(obj)
                new['metadata']['deletionTimestamp'] = now()
                grace = (obj.get('spec') or {}).get('terminationGracePeriodSeconds', 30) if graceful else 0
                new['metadata']['deletionGracePeriodSeconds'] = int(options.get('gracePeriodSeconds') or grace)
                new['metadata']['finalizers'] = finalizers or None
                if new['metadata']['finalizers'] is None:
                    new['metadata'].pop('finalizers')
                if terminating:
                    new.setdefault('status', {})['phase'] = 'Terminating'
                if dry_run:
                    return new, False
                try:
                    revision = await self.store.update(resource.key(namespace, name), new, rev)
                except stores.Stale:
                    continue
                new['metadata']['resourceVersion'] = str(revision)
                self._notify(resource, 'MODIFIED', new)
                return new, False
            if dry_run:
                return obj, True
            try:
                revision = await self.store.delete(resource.key(namespace, name), rev)
            except stores.Stale:
                continue
            obj['metadata']['resourceVersion'] = str(revision)
            self._notify(resource, 'DELETED', obj)
            return obj, True
        raise errors.conflict(resource, name)

    # ------------------------------------------------------------------ in-process listeners

    def _notify(self, resource, kind, obj):
        for listener in list(self.listeners):
            try:
                listener(resource, kind, obj)
            except Exception:  # pylint: disable=broad-except
                LOG.exception('listener failed')


def _drop(obj, path):
    parts = path.replace('[', '.[').split('.')
    node = obj
    for part in parts[:-1]:
        if part.startswith('['):
            index = int(part[1:-1])
            node = node[index] if isinstance(node, list) and index < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def _crd_causes(crd):
    spec = crd.get('spec') or {}
    names = spec.get('names') or {}
    causes = []
    expected = '%s.%s' % (names.get('plural', ''), spec.get('group', ''))
    if crd['metadata'].get('name') != expected:
        causes.append(validation.Cause('metadata.name', 'FieldValueInvalid', 'Invalid value: %s: must be spec.names.plural+"."+spec.group'
                                       % json.dumps(crd['metadata'].get('name'))))
    versions = spec.get('versions') or []
    if not versions:
        causes.append(validation.Cause('spec.versions', 'FieldValueInvalid', 'Invalid value: null: must have exactly one version marked as storage version'))
    elif sum(1 for v in versions if v.get('storage')) != 1:
        causes.append(validation.Cause('spec.versions', 'FieldValueInvalid', 'Invalid value: %s: must have exactly one version marked as storage version'
                                       % json.dumps([{'name': v.get('name'), 'served': v.get('served'), 'storage': v.get('storage')} for v in versions])))
    for index, version in enumerate(versions):
        schema = (version.get('schema') or {}).get('openAPIV3Schema')
        if not schema:
            causes.append(validation.Cause('spec.versions[%d].schema.openAPIV3Schema' % index, 'FieldValueRequired',
                                           'Required value: schemas are required'))
        elif schema.get('type') != 'object':
            causes.append(validation.Cause('spec.validation.openAPIV3Schema.type', 'FieldValueRequired',
                                           'Required value: must not be empty at the root'))
    if not all(c in string.ascii_lowercase + string.digits + '-.' for c in spec.get('group', '')) or '.' not in spec.get('group', ''):
        causes.append(validation.Cause('spec.group', 'FieldValueInvalid', 'Invalid value: %s: should be a domain with at least one dot'
                                       % json.dumps(spec.get('group', ''))))
    return causes
