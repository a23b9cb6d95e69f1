"""The HTTP side of the API-server stand-in (aiohttp): paths, verbs, content types, query parameters,
Status bodies, tables, watches. The operations themselves live in registry.py."""
import asyncio
import json
import logging

import yaml
from aiohttp import web

from . import auth, discovery, errors, eviction, protobuf, proxy, selectors, store as stores, tables

LOG = logging.getLogger('lab.kube')
PATCH_TYPES = {'application/json-patch+json': 'json', 'application/merge-patch+json': 'merge',
               'application/strategic-merge-patch+json': 'strategic', 'application/apply-patch+yaml': 'apply',
               'application/apply-patch+json': 'apply'}
VERB_FOR = {'GET': 'get', 'POST': 'create', 'PUT': 'update', 'PATCH': 'patch', 'DELETE': 'delete'}


def _json(data, status=200, content_type='application/json'):
    return web.Response(body=json.dumps(data, separators=(',', ':')).encode(), status=status, headers={'Content-Type': content_type})


def _error(exc):
    return _json(exc.body(), exc.code)


def default_manager(request):
    agent = request.headers.get('User-Agent', '')
    return (agent.split('/')[0] or 'unknown')[:128]


def _wants_table(request):
    return 'as=Table' in request.headers.get('Accept', '')


class Target:
    """What a resource path names."""

    def __init__(self, resource, namespace, name, subresource):
        self.resource, self.namespace, self.name, self.subresource = resource, namespace, name, subresource


class Api:
    def __init__(self, registry, address, kube_version, ready=None):
        self.registry = registry
        self.address = address
        self.kube_version = kube_version
        self.openapi = discovery.OpenAPICache(registry, kube_version)
        self.ready = ready or (lambda: True)

    def app(self):
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route('*', '/{tail:.*}', self.handle)
        return app

    # ------------------------------------------------------------------ entry

    async def handle(self, request):
        peercert = request.transport.get_extra_info('peercert') if request.transport else None
        user, groups = auth.identity(peercert)
        try:
            return await self._dispatch(request, user, groups)
        except errors.ApiError as exc:
            return _error(exc)
        except stores.Unavailable as exc:
            LOG.warning('etcd unavailable: %s', exc)
            return _error(errors.timeout('etcdserver: request timed out'))
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # pylint: disable=broad-except
            LOG.exception('internal error on %s %s', request.method, request.path)
            return _error(errors.ApiError(500, 'InternalError', 'Internal error occurred: %s' % exc, {}))

    async def _dispatch(self, request, user, groups):
        path = request.path.rstrip('/') or '/'
        if path in ('/healthz', '/livez', '/readyz'):
            if not self.ready():
                return web.Response(text='[-]etcd failed: reason withheld\n%s check failed' % path[1:], status=500)
            return web.Response(text='ok')
        parts = [p for p in path.split('/') if p]
        if path == '/version' or path.startswith(('/api', '/openapi')) and (len(parts) <= 3 or parts[0] == 'openapi'):
            static = await self._static(request, path, parts, user, groups)
            if static is not None:
                return static
        if not parts or parts[0] not in ('api', 'apis'):
            return web.Response(text='404 page not found\n', status=404)
        if proxy.matches(parts):
            return await self._service_proxy(request, parts, user, groups)
        target = self._target(parts)
        if target is None:
            return web.Response(text='404 page not found\n', status=404)
        return await self._resource(request, target, user, groups)

    async def _check(self, user, groups, verb, group='', resource='', namespace=None, name=None, path=None, resource_obj=None):
        if not await auth.allowed(self.registry, user, groups, verb, group, resource, namespace, name, path):
            raise auth.forbidden(user, verb, resource_obj, resource, namespace, name, path)

    async def _service_proxy(self, request, parts, user, groups):
        """The service proxy (proxy.py): what the chosen pod's container answers, kube's Status where none can."""
        namespace, service = parts[3], parts[5]
        _scheme, name, _port = proxy.split_name(service)
        await self._check(user, groups, 'get', '', 'services/proxy', namespace, name)
        status, content_type, body = await proxy.proxy(self.registry, namespace, service, '/'.join(parts[7:]), request.method, request.query)
        return web.Response(body=body, status=status, headers={'Content-Type': content_type})

    # ------------------------------------------------------------------ discovery, version, OpenAPI

    async def _static(self, request, path, parts, user, groups):
        if path == '/version':
            await self._check(user, groups, 'get', path=path)
            return _json(discovery.version_info(self.kube_version))
        if parts[0] == 'openapi':
            await self._check(user, groups, 'get', path=path)
            return self._openapi(request, parts)
        if parts[0] not in ('api', 'apis') or len(parts) > 3 or (parts[0] == 'api' and len(parts) > 2):
            return None
        await self._check(user, groups, 'get', path=path)
        resources = self.registry.resources()
        accept = request.headers.get('Accept', '')
        if len(parts) == 1:
            if 'g=apidiscovery.k8s.io' in accept and ('v=v2;' in accept or 'v=v2beta1' in accept):
                v2 = 'v=v2;' in accept
                return _json(discovery.aggregated(resources, parts[0] == 'api', v2),
                             content_type=discovery.AGGREGATED_V2 if v2 else discovery.AGGREGATED_V2BETA1)
            if parts[0] == 'api':
                return _json(discovery.api_versions(self.address))
            return _json(discovery.group_list(resources))
        if parts[0] == 'api':
            found = discovery.resource_list(resources, '', parts[1])
        elif len(parts) == 2:
            found = discovery.group(resources, parts[1])
        else:
            found = discovery.resource_list(resources, parts[1], parts[2])
        if found is None:
            return web.Response(text='404 page not found\n', status=404)
        return _json(found)

    def _openapi(self, request, parts):
        if parts == ['openapi', 'v2']:
            # The schemas are served as OpenAPI v3 only; v2 is an empty document (kubectl reads v3, and finds no v2
            # schema for a kind it does not know, as for a kind a real server does not serve; docs/lab-kube.md).
            return web.Response(body=discovery.empty_openapi_v2(self.kube_version),
                                headers={'Content-Type': 'application/octet-stream'})
        if parts == ['openapi', 'v3']:
            return _json(self.openapi.root())
        found = self.openapi.document('/'.join(parts[2:]))
        if found is None:
            return web.Response(text='404 page not found\n', status=404)
        data, digest = found
        headers = {'Etag': '"%s"' % digest}
        if request.query.get('hash') == digest:
            headers['Cache-Control'] = 'public, immutable'
        return web.Response(body=data, content_type='application/json', headers=headers)

    # ------------------------------------------------------------------ resources

    def _target(self, parts):
        if parts[0] == 'api':
            if len(parts) < 3 or parts[1] != 'v1':
                return None
            group, version, rest = '', 'v1', parts[2:]
        else:
            if len(parts) < 4:
                return None
            group, version, rest = parts[1], parts[2], parts[3:]
        if not self.registry.group_known(group, version):
            return None
        namespace = None
        if rest[0] == 'namespaces' and len(rest) >= 3 and rest[2] not in ('status', 'finalize'):
            namespace, rest = rest[1], rest[2:]
        resource = self.registry.resource(group, version, rest[0])
        if resource is None:
            raise errors.no_resource()
        if namespace is not None and not resource.namespaced:
            raise errors.no_resource()
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if len(rest) > 3 or (subresource and subresource not in resource.subresources):
            raise errors.no_resource()
        return Target(resource, namespace, name, subresource)

    async def _resource(self, request, target, user, groups):
        method, query = request.method, request.query
        resource = target.resource
        watching = method == 'GET' and query.get('watch') in ('true', '1')
        if method == 'GET':
            verb = 'watch' if watching else ('get' if target.name else 'list')
        elif method == 'DELETE' and not target.name:
            verb = 'deletecollection'
        else:
            verb = VERB_FOR.get(method)
        if verb is None:
            raise errors.method_not_allowed()
        if method == 'POST' and target.subresource == 'eviction':
            await self._check(user, groups, 'create', resource.group, 'pods/eviction', target.namespace, target.name, resource_obj=resource)
            body = await self._body(request)
            return _json(await eviction.evict(self.registry, resource, target.namespace, target.name, body,
                                              query.get('dryRun') == 'All'), 201)
        if (method == 'POST' and target.name) or (method in ('PUT', 'PATCH') and not target.name):
            raise errors.method_not_allowed()
        sub_text = resource.plural + ('/' + target.subresource if target.subresource else '')
        await self._check(user, groups, verb, resource.group, sub_text, target.namespace, target.name, resource_obj=resource)
        namespace = target.namespace
        if resource.namespaced and namespace is None and method not in ('GET',) and not (method == 'DELETE' and not target.name):
            raise errors.no_resource()
        dry_run = query.get('dryRun') == 'All'
        field_validation = query.get('fieldValidation')
        manager = query.get('fieldManager') or default_manager(request)
        if watching:
            return await self._watch(request, target)
        if method == 'GET':
            if target.name:
                obj = await self.registry.get(resource, namespace, target.name)
                if target.subresource == 'scale':
                    return _json(_scale(resource, obj))
                if _wants_table(request):
                    return _json(tables.table(resource, [obj], {'resourceVersion': obj['metadata'].get('resourceVersion', '')},
                                              query.get('includeObject', 'Metadata')))
                return _json(obj)
            limit = int(query['limit']) if query.get('limit', '').isdigit() and int(query['limit']) > 0 else None
            listing = await self.registry.list(resource, namespace, query.get('labelSelector'), query.get('fieldSelector'), limit,
                                               query.get('continue'))
            if _wants_table(request):
                return _json(tables.table(resource, listing['items'], listing['metadata'], query.get('includeObject', 'Metadata')))
            return _json(listing)
        if method == 'POST':
            body = await self._body(request)
            obj = await self.registry.create(resource, namespace, body, manager, dry_run, field_validation)
            return _json(obj, 201)
        if method == 'PUT':
            body = await self._body(request)
            if target.subresource == 'scale':
                return _json(await self._put_scale(resource, namespace, target.name, body, manager, dry_run))
            obj = await self.registry.update(resource, namespace, target.name, body, manager, dry_run, field_validation, target.subresource)
            return _json(obj)
        if method == 'PATCH':
            return await self._patch(request, target, manager, dry_run, field_validation)
        if method == 'DELETE':
            options = await self._delete_options(request)
            if not target.name:
                return await self._delete_collection(request, target, options, dry_run)
            obj, gone = await self.registry.delete(resource, namespace, target.name, options, dry_run)
            if gone and resource.plural not in ('pods', 'namespaces') and resource.crd is None:
                details = {'name': target.name, 'kind': resource.plural, 'uid': obj['metadata'].get('uid')}
                if resource.group:
                    details['group'] = resource.group
                return _json({'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success', 'details': details})
            return _json(obj)
        raise errors.method_not_allowed()

    async def _body(self, request, yaml_ok=False):
        raw = await request.read()
        if 'protobuf' in request.content_type:
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as exc:
                raise errors.ApiError(415, 'UnsupportedMediaType', 'the lab reads protobuf bodies of a few kinds only (%s): '
                                      'send JSON' % exc, {}) from None
        if 'cbor' in request.content_type:
            raise errors.unsupported_media_type(request.content_type)
        try:
            if yaml_ok or 'yaml' in request.content_type:
                return yaml.safe_load(raw.decode() or '{}')
            return json.loads(raw or b'{}')
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request('the body of the request could not be decoded: %s' % exc) from None

    async def _patch(self, request, target, manager, dry_run, field_validation):
        patch_type = PATCH_TYPES.get(request.content_type)
        if patch_type is None:
            raise errors.unsupported_media_type(request.content_type)
        data = await self._body(request, yaml_ok=patch_type == 'apply')
        resource = target.resource
        if target.subresource == 'scale':
            obj = await self.registry.get(resource, target.namespace, target.name)
            scale = _scale(resource, obj)
            if patch_type == 'json':
                from .patch import json_patch  # pylint: disable=import-outside-toplevel
                scale = json_patch(scale, data)
            else:
                from .patch import merge_patch  # pylint: disable=import-outside-toplevel
                scale = merge_patch(scale, data)
            return _json(await self._put_scale(resource, target.namespace, target.name, scale, manager, dry_run))
        if patch_type == 'apply':
            if not request.query.get('fieldManager'):
                raise errors.bad_request('PATCH, application/apply-patch+yaml requires the fieldManager parameter to be set')
            exists = True
            try:
                await self.registry.get(resource, target.namespace, target.name)
            except errors.ApiError:
                exists = False
            obj = await self.registry.patch(resource, target.namespace, target.name, 'apply', data, manager, dry_run,
                                            request.query.get('force') == 'true', field_validation, target.subresource)
            return _json(obj, 200 if exists else 201)
        obj = await self.registry.patch(resource, target.namespace, target.name, patch_type, data, manager, dry_run,
                                        False, field_validation, target.subresource)
        return _json(obj)

    async def _put_scale(self, resource, namespace, name, scale, manager, dry_run):
        obj = await self.registry.get(resource, namespace, name)
        obj['spec']['replicas'] = int((scale.get('spec') or {}).get('replicas', 0))
        stored = await self.registry.update(resource, namespace, name, obj, manager, dry_run)
        return _scale(resource, stored)

    async def _delete_options(self, request):
        options = {}
        if request.can_read_body:
            body = await self._body(request)
            if isinstance(body, dict):
                options.update(body)
        for key in ('propagationPolicy', 'gracePeriodSeconds'):
            if key in request.query:
                options[key] = int(request.query[key]) if key == 'gracePeriodSeconds' else request.query[key]
        if 'gracePeriodSeconds' in options and options['gracePeriodSeconds'] is not None:
            options['gracePeriodSeconds'] = int(options['gracePeriodSeconds'])
        return options

    async def _delete_collection(self, request, target, options, dry_run):
        listing = await self.registry.list(target.resource, target.namespace, request.query.get('labelSelector'),
                                           request.query.get('fieldSelector'))
        for item in listing['items']:
            try:
                await self.registry.delete(target.resource, item['metadata'].get('namespace'), item['metadata']['name'], options, dry_run)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return _json({'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success'})

    # ------------------------------------------------------------------ watch

    async def _watch(self, request, target):
        query = request.query
        resource = target.resource
        labels = selectors.parse_labels(query.get('labelSelector'))
        fieldreqs = selectors.parse_fields(query.get('fieldSelector'), resource)
        if target.name:
            fieldreqs.append(('metadata.name', '=', target.name))
        as_table = _wants_table(request)
        include = query.get('includeObject', 'Metadata')
        response = web.StreamResponse(headers={'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private'})
        response.enable_chunked_encoding()
        await response.prepare(request)

        def matches(obj):
            return obj is not None and selectors.match_requirements(obj['metadata'].get('labels'), labels) and \
                selectors.match_fields(obj, fieldreqs)

        async def send(kind, obj):
            obj = self.registry._out(resource, obj)  # pylint: disable=protected-access
            if as_table:
                obj = tables.table(resource, [obj], {'resourceVersion': obj['metadata'].get('resourceVersion', '')}, include)
            await response.write(json.dumps({'type': kind, 'object': obj}, separators=(',', ':')).encode() + b'\n')

        version = query.get('resourceVersion')
        if not version or version == '0':
            items, revision = await self.registry.store.list(resource.prefix(target.namespace))
            for _key, obj, _rev in items:
                if matches(obj):
                    await send('ADDED', obj)
            start = revision + 1
        else:
            try:
                start = int(version) + 1
            except ValueError:
                raise errors.bad_request('invalid resource version: %s' % version) from None
        timeout = float(query['timeoutSeconds']) if query.get('timeoutSeconds', '').isdigit() else 1800.0

        async def pump():
            async for kind, _key, obj, prev, revision in self.registry.store.watch(resource.prefix(target.namespace), start):
                if kind == 'DELETE':
                    if matches(prev):
                        prev['metadata']['resourceVersion'] = str(revision)
                        await send('DELETED', prev)
                    continue
                now_match, was_match = matches(obj), matches(prev)
                if now_match and (prev is None or not was_match):
                    await send('ADDED', obj)
                elif now_match:
                    await send('MODIFIED', obj)
                elif was_match:
                    await send('DELETED', obj)

        async def closed():
            while request.transport is not None and not request.transport.is_closing():
                await asyncio.sleep(1)
        tasks = [asyncio.ensure_future(pump()), asyncio.ensure_future(closed())]
        try:
            done, _pending = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() and not isinstance(task.exception(), (stores.Unavailable, ConnectionResetError)):
                    LOG.warning('watch ended: %r', task.exception())
        finally:
            for task in tasks:
                task.cancel()
        try:
            await response.write_eof()
        except ConnectionResetError:
            pass
        return response


def _scale(resource, obj):
    meta = obj['metadata']
    status = obj.get('status') or {}
    selector = ((obj.get('spec') or {}).get('selector') or {})
    from .selectors import selector_text  # pylint: disable=import-outside-toplevel
    return {'kind': 'Scale', 'apiVersion': 'autoscaling/v1',
            'metadata': {k: meta[k] for k in ('name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp') if k in meta},
            'spec': {'replicas': (obj.get('spec') or {}).get('replicas', 0)},
            'status': {'replicas': status.get('replicas', 0), 'selector': selector_text(selector)}}
