# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Kubernetes API client, built only from module params (``kubeconfig`` falls back to ``KUBECONFIG``).

The ``kubernetes`` Python client reads the kubeconfig (contexts, client certificates, tokens, exec
plugins, proxies); requests then go over urllib3, the transport that client uses, as plain JSON.
That keeps the layer independent of the generated client's changing call signatures and lets it
discover only the group-versions it touches (one request each) instead of the whole API, which is
what makes applying many objects fast (decisions/0009).
"""

from __future__ import annotations

import collections
import json
import os
import time
from urllib.parse import quote as url_quote, urlencode

from ansible.module_utils.basic import env_fallback

from .errors import ApiError, KubeError

try:
    import urllib3
    from kubernetes import client as k8s_client, config as k8s_config
    from kubernetes.config.config_exception import ConfigException
    HAS_KUBERNETES = True
except ImportError:  # the module says so through requirements, before it connects
    HAS_KUBERNETES = False

# Keep in step with plugins/doc_fragments/kube_api.py.
KUBE_ARGS = dict(
    kubeconfig=dict(type='path', fallback=(env_fallback, ['KUBECONFIG'])),
    context=dict(type='str'),
    request_timeout=dict(type='float', default=30.0),
)

USER_AGENT = 'hybridops.talos'
# Transient answers worth another try of an idempotent call, and the waits before the tries.
RETRY_STATUSES = (429, 502, 503, 504)
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
IDEMPOTENT = ('GET', 'HEAD', 'PUT', 'DELETE')

Resource = collections.namedtuple('Resource', 'api_version kind plural namespaced')


def resource_path(resource, namespace=None, name=None, subresource=None):
    """The REST path of a resource, a namespace's collection of it, or one object."""
    base = '/api/%s' % resource.api_version if '/' not in resource.api_version else '/apis/%s' % resource.api_version
    if resource.namespaced and namespace:
        base += '/namespaces/%s' % url_quote(namespace, safe='')
    base += '/' + resource.plural
    if name:
        base += '/' + url_quote(name, safe='')
    if subresource:
        base += '/' + subresource
    return base


def default_kubeconfig():
    return os.path.join(os.path.expanduser('~'), '.kube', 'config')


class KubeClient:
    """Requests to one cluster with the credentials of one kubeconfig context."""

    def __init__(self, kubeconfig=None, context=None, timeout=30.0):
        if not HAS_KUBERNETES:
            raise KubeError('missing_library', 'the kubernetes Python library is not installed (pip install kubernetes)')
        self.kubeconfig = kubeconfig or default_kubeconfig()
        self.timeout = timeout
        paths = [p for p in self.kubeconfig.split(os.pathsep) if p]
        missing = [p for p in paths if not os.path.exists(p)]
        if missing or not paths:
            raise KubeError('missing_kubeconfig', 'kubeconfig %s does not exist: give the kubeconfig option or set '
                            'KUBECONFIG' % (missing[0] if missing else self.kubeconfig), call='Reading the kubeconfig')
        self.configuration = k8s_client.Configuration()
        try:
            k8s_config.load_kube_config(config_file=self.kubeconfig, context=context,
                                        client_configuration=self.configuration, persist_config=False)
        except (ConfigException, ValueError, TypeError, KeyError) as exc:
            raise KubeError('bad_kubeconfig', 'kubeconfig %s cannot be used%s: %s' % (
                self.kubeconfig, ' with context %s' % context if context else '', exc), call='Reading the kubeconfig') from None
        self.host = self.configuration.host.rstrip('/')
        self.pool = self._pool()
        self._served = {}

    @classmethod
    def from_params(cls, params):
        return cls(params.get('kubeconfig'), params.get('context'), params.get('request_timeout') or 30.0)

    def _pool(self):
        cfg = self.configuration
        options = dict(num_pools=4, maxsize=16, cert_reqs='CERT_REQUIRED' if cfg.verify_ssl else 'CERT_NONE',
                       ca_certs=cfg.ssl_ca_cert, cert_file=cfg.cert_file, key_file=cfg.key_file)
        if getattr(cfg, 'tls_server_name', None):
            options['server_hostname'] = cfg.tls_server_name
        if cfg.assert_hostname is not None:
            options['assert_hostname'] = cfg.assert_hostname
        if cfg.proxy:
            return urllib3.ProxyManager(cfg.proxy, proxy_headers=cfg.proxy_headers, **options)
        return urllib3.PoolManager(**options)

    def _headers(self, content_type):
        headers = {'Accept': 'application/json', 'User-Agent': USER_AGENT}
        if content_type:
            headers['Content-Type'] = content_type
        token = self.configuration.get_api_key_with_prefix('authorization')
        if token:
            headers['Authorization'] = token
        return headers

    # ------------------------------------------------------------------ requests

    def request(self, method, path, query=None, body=None, content_type='application/json', call=None, retry=None):
        """JSON of the answer; raises ApiError for an error Status, KubeError when the API cannot be reached.

        Idempotent calls (and ``retry=True`` ones, such as a server-side apply) are tried again after a
        connection failure or a transient status (429, 502-504), up to four more times.
        """
        call = call or '%s %s' % (method, path)
        url = self.host + path
        pairs = [(k, v) for k, v in (query or {}).items() if v is not None]
        if pairs:
            url += '?' + urlencode(pairs)
        data = None if body is None else json.dumps(body).encode('utf-8')
        again = method in IDEMPOTENT if retry is None else retry
        delays = list(RETRY_DELAYS) if again else []
        while True:
            try:
                response = self.pool.request(method, url, body=data, headers=self._headers(content_type if data else None),
                                             timeout=urllib3.Timeout(connect=min(10.0, self.timeout), read=self.timeout),
                                             retries=False, preload_content=True)
            except urllib3.exceptions.HTTPError as exc:
                if delays:
                    time.sleep(delays.pop(0))
                    continue
                raise KubeError('api_unreachable', 'the Kubernetes API at %s cannot be reached: %s' % (self.host, _cause(exc)),
                                call=call, api=self.host) from None
            if response.status in RETRY_STATUSES and delays:
                time.sleep(delays.pop(0))
                continue
            if response.status >= 400:
                raise ApiError.from_response(response.status, response.data, call=call)
            if not response.data:
                return {}
            try:
                return json.loads(response.data.decode('utf-8'))
            except ValueError:
                raise KubeError('bad_answer', 'the API answered %s with something that is not JSON' % path, call=call) from None

    def get_raw(self, path, call=None):
        """The body of a GET that answers something other than JSON (a service proxy's PEM), as bytes.

        Connection failures are tried again as for ``request``; an error status is raised at once (a 503 from a
        service proxy means nothing is ready behind it, which the caller's wait judges)."""
        call = call or 'GET %s' % path
        delays = list(RETRY_DELAYS)
        headers = dict(self._headers(None), Accept='*/*')
        while True:
            try:
                response = self.pool.request('GET', self.host + path, headers=headers, retries=False, preload_content=True,
                                             timeout=urllib3.Timeout(connect=min(10.0, self.timeout), read=self.timeout))
            except urllib3.exceptions.HTTPError as exc:
                if delays:
                    time.sleep(delays.pop(0))
                    continue
                raise KubeError('api_unreachable', 'the Kubernetes API at %s cannot be reached: %s' % (self.host, _cause(exc)),
                                call=call, api=self.host) from None
            if response.status >= 400:
                raise ApiError.from_response(response.status, response.data, call=call)
            return response.data

    def version(self):
        return self.request('GET', '/version', call='Reading the Kubernetes version')

    # ------------------------------------------------------------------ discovery

    def served(self, api_version, refresh=False):
        """``{kind: Resource}`` of a group-version, from its discovery document; empty when it is not served."""
        if refresh or api_version not in self._served:
            path = '/api/%s' % api_version if '/' not in api_version else '/apis/%s' % api_version
            try:
                listing = self.request('GET', path, call='Discovering %s' % api_version)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                listing = {}
            found = {}
            for entry in listing.get('resources') or ():
                if '/' not in entry.get('name', ''):
                    found[entry['kind']] = Resource(api_version, entry['kind'], entry['name'], bool(entry.get('namespaced')))
            self._served[api_version] = found
        return self._served[api_version]

    def resource(self, api_version, kind):
        """The Resource of a kind, or None when the cluster does not serve it (discovery refreshed once on a miss)."""
        found = self.served(api_version).get(kind)
        if found is None:
            found = self.served(api_version, refresh=True).get(kind)
        return found

    def require(self, api_version, kind, why=None):
        found = self.resource(api_version, kind)
        if found is None:
            raise KubeError('kind_not_served', 'the cluster does not serve %s %s%s' % (
                kind, api_version, why or ': is its CustomResourceDefinition installed?'),
                call='Looking up %s %s' % (kind, api_version), kind=kind, api_version=api_version)
        return found

    # ------------------------------------------------------------------ objects

    def get(self, resource, name, namespace=None):
        """The object, or None when it does not exist."""
        try:
            return self.request('GET', resource_path(resource, namespace, name),
                                call='Reading %s %s' % (resource.kind, _where(namespace, name)))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, resource, namespace=None, label_selector=None, field_selector=None):
        """Every object of a kind (in ``namespace`` when given), following ``continue`` tokens."""
        items, token = [], None
        while True:
            answer = self.request('GET', resource_path(resource, namespace),
                                  query={'labelSelector': label_selector, 'fieldSelector': field_selector,
                                         'limit': 500, 'continue': token},
                                  call='Listing %s%s' % (resource.plural, ' in %s' % namespace if namespace else ''))
            for item in answer.get('items') or ():
                item.setdefault('apiVersion', resource.api_version)
                item.setdefault('kind', resource.kind)
                items.append(item)
            token = (answer.get('metadata') or {}).get('continue')
            if not token:
                return items

    def delete(self, resource, name, namespace=None, dry_run=False):
        """Delete one object (what it owns is collected in the background); False when it was already gone."""
        query = {'dryRun': 'All'} if dry_run else None
        try:
            self.request('DELETE', resource_path(resource, namespace if resource.namespaced else None, name), query=query,
                         call='Deleting %s %s' % (resource.kind, _where(namespace, name)))
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def apply(self, resource, obj, manager, force=False, dry_run=False):
        """Server-side apply of ``obj`` as field manager ``manager``; the object the server holds (or would hold)."""
        meta = obj.get('metadata') or {}
        namespace = meta.get('namespace') if resource.namespaced else None
        query = {'fieldManager': manager, 'force': 'true' if force else 'false', 'fieldValidation': 'Strict'}
        if dry_run:
            query['dryRun'] = 'All'
        return self.request('PATCH', resource_path(resource, namespace, meta.get('name')), query=query, body=obj,
                            content_type='application/apply-patch+yaml', retry=True,
                            call='Applying %s %s' % (resource.kind, _where(namespace, meta.get('name'))))


def _where(namespace, name):
    return '%s/%s' % (namespace, name) if namespace else str(name)


def _cause(exc):
    reason = getattr(exc, 'reason', None)
    return str(reason or exc)
