"""Hook points: what a container "does" in the lab, and controllers for custom resources.

**Containers.** Nothing runs in a lab pod: the kubelet stand-in (kubelet.py) decides each container's
life from its image. ``register_container(repository, hook)`` makes containers whose image repository
(the image without tag or digest, e.g. ``quay.io/cilium/cilium-cli``) matches run ``await hook(ctx)``:
the hook returns the container's exit code and may act on the cluster through ``ctx.client`` (an API
client with the node's credentials) — e.g. a ``cilium install`` Job that creates the Cilium DaemonSet.
Without a hook, a container of a pod that restarts ``Always`` runs until deleted, and one of a pod
that restarts ``OnFailure``/``Never`` (a Job's) exits 0 at once.

**Custom resources.** ``register_custom(group, kind, reconcile)`` makes the controller stand-in call
``await reconcile(ctx, obj)`` for every object of that kind whenever something changed (``ctx.registry``
writes through the API's own checks, ``ctx.manager`` is the field manager to use). The Flux stand-in that
marks HelmReleases Ready belongs here.

**HTTP.** ``register_http(repository, handler)``: what a container of that image answers on its HTTP port, for the
API server's service proxy (proxy.py): ``await handler(ctx)`` with an ``HttpContext`` returns ``(status, content type,
body bytes)``. Containers without one refuse the connection.

Hook modules are imported by name: the ones in ``MODULES`` plus ``LAB_KUBE_HOOK_MODULES`` (comma
separated), in every kubelet and controller process, so a hook registers itself at import.
"""
import importlib
import logging
import os

LOG = logging.getLogger('lab.kube')
MODULES = ('lab.kube.cilium', 'lab.kube.flux', 'lab.kube.csi', 'lab.kube.sealed')
_CONTAINERS = {}
_CUSTOM = {}
_HTTP = {}
_SWEEPS = []
_LOADED = False


class ContainerContext:
    """What a container hook gets: the pod, the container, the node and an API client.

    ``write(text)`` is the container's output (its log): a container with
    ``terminationMessagePolicy: FallbackToLogsOnError`` that exits non-zero gets the end of it as the
    termination message in its status, as the kubelet does.
    """

    def __init__(self, pod, container, node_name, node_address, client, log):
        self.pod, self.container = pod, container
        self.node_name, self.node_address = node_name, node_address
        self.client = client
        self.log = log  # log(text): appended to the lab's record of the container (kubelet.log)
        self.output = []
        # Whether the running container counts as ready; a hook that starts up first (a CSI node plugin registering
        # its driver) sets it False, then True once it serves, as a readiness probe would see it.
        self.ready = True

    def write(self, text):
        for line in str(text).splitlines() or ['']:
            self.output.append(line)
        del self.output[:-200]
        self.log('%s/%s: %s' % (self.pod['metadata']['name'], self.container['name'], text))


class HttpContext:
    """What an HTTP hook gets: the API server's registry (reads only), the pod and container the proxy chose, the
    request's method, path (after ``/proxy``) and query."""

    def __init__(self, registry, pod, container, method, path, query):
        self.registry, self.pod, self.container = registry, pod, container
        self.method, self.path, self.query = method, path, query


class CustomContext:
    def __init__(self, registry, manager):
        self.registry, self.manager = registry, manager


def repository(image):
    """``quay.io/cilium/cilium-cli:v0.16.0`` -> ``quay.io/cilium/cilium-cli``."""
    image = (image or '').split('@', 1)[0]
    last = image.rsplit('/', 1)
    if ':' in last[-1]:
        image = image[:len(image) - len(last[-1])] + last[-1].split(':', 1)[0]
    return image


def register_container(repo, hook):
    _CONTAINERS[repo] = hook


def register_custom(group, kind, reconcile):
    _CUSTOM[(group, kind)] = reconcile


def register_http(repo, handler):
    _HTTP[repo] = handler


def http_handler(image):
    load()
    return _HTTP.get(repository(image))


def register_sweep(sweep):
    """``await sweep(ctx)`` after the custom resources of each pass: for what no single object's reconcile sees (an
    object that is gone)."""
    _SWEEPS.append(sweep)


def sweeps():
    load()
    return list(_SWEEPS)


def container_hook(image):
    load()
    return _CONTAINERS.get(repository(image))


def custom_controllers():
    load()
    return dict(_CUSTOM)


def load():
    global _LOADED  # pylint: disable=global-statement
    if _LOADED:
        return
    _LOADED = True
    names = list(MODULES) + [n.strip() for n in os.environ.get('LAB_KUBE_HOOK_MODULES', '').split(',') if n.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            LOG.exception('hook module %s cannot be imported', name)
