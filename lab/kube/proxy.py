"""The API server's service proxy, small: ``/api/v1/namespaces/{ns}/services/{[scheme:]name[:port]}/proxy/{path}``.

A real API server resolves the Service's port, picks a ready endpoint and forwards the request to the pod. The lab has
no endpoints and nothing listens in a pod, so this resolves the same way from the objects and hands the request to the
HTTP hook of the chosen container's image (hooks.register_http), with kube-apiserver's answers where it cannot:

* the Service missing: 404 ``services "x" not found``;
* no port of that name or number: 503 ``no service port "p" found for service "x"``;
* no ready pod behind the Service's selector: 503 ``no endpoints available for service "x"``;
* a container without an HTTP hook: 503 ``error trying to reach service: dial tcp <pod IP>:<port>: connect: connection
  refused``.

Only ``GET`` is served (what ``kubeseal --fetch-cert`` and ``kubectl get --raw`` send). Authorization is ``get`` on
``services/proxy``.
"""
from . import catalog, errors, hooks

SERVICES = catalog.Resource('', 'v1', 'Service', 'services', True)
PODS = catalog.Resource('', 'v1', 'Pod', 'pods', True)


def matches(parts):
    """Whether the path's segments name a service proxy request."""
    return len(parts) >= 7 and parts[:3] == ['api', 'v1', 'namespaces'] and parts[4] == 'services' and parts[6] == 'proxy'


def split_name(text):
    """``http:name:port`` / ``name:port`` / ``name`` -> (scheme, name, port) as kube-apiserver splits it."""
    pieces = text.split(':')
    if len(pieces) == 3:
        return pieces[0], pieces[1], pieces[2]
    if len(pieces) == 2:
        return '', pieces[0], pieces[1]
    return '', text, ''


def _unavailable(message):
    return errors.ApiError(503, 'ServiceUnavailable', message, {})


def _ready(pod):
    if pod['metadata'].get('deletionTimestamp'):
        return False
    return any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in (pod.get('status') or {}).get('conditions') or ())


def _service_port(service, port):
    ports = (service.get('spec') or {}).get('ports') or []
    if not port:
        return ports[0] if len(ports) == 1 else None
    return next((p for p in ports if p.get('name') == port or str(p.get('port')) == port), None)


def _container(pod, target):
    for container in (pod.get('spec') or {}).get('containers') or ():
        for port in container.get('ports') or ():
            if target in (port.get('name'), port.get('containerPort'), str(port.get('containerPort'))):
                return container, port.get('containerPort')
    return None, target


async def proxy(registry, namespace, service_text, path, method, query):
    """(status, content type, body) of the request the proxy forwards; ApiError where kube-apiserver answers itself."""
    if method != 'GET':
        raise errors.method_not_allowed()
    _scheme, name, port = split_name(service_text)
    service = await registry.get(SERVICES, namespace, name)
    service_port = _service_port(service, port)
    if service_port is None:
        raise _unavailable('no service port %s found for service "%s"' % ('"%s"' % port if port else '""', name))
    selector = (service.get('spec') or {}).get('selector') or {}
    pods = []
    if selector:
        label = ','.join('%s=%s' % item for item in sorted(selector.items()))
        pods = [p for p in (await registry.list(PODS, namespace, label))['items'] if _ready(p)]
    if not pods:
        raise _unavailable('no endpoints available for service "%s"' % name)
    pod = sorted(pods, key=lambda p: p['metadata']['name'])[0]
    container, container_port = _container(pod, service_port.get('targetPort', service_port.get('port')))
    handler = hooks.http_handler(container.get('image')) if container else None
    if handler is None:
        raise _unavailable('error trying to reach service: dial tcp %s:%s: connect: connection refused'
                           % ((pod.get('status') or {}).get('podIP', ''), container_port))
    return await handler(hooks.HttpContext(registry, pod, container, method, '/' + path.lstrip('/'), dict(query)))
