# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GETs to the Proxmox VE API with the standard library, one kept-alive connection per thread.

The inventory reads one config per selected VM (PVE has no bulk config endpoint), so the client's
own cost per request decides its wall time on a large cluster: ``proxmoxer`` over ``requests`` spends
about four times the CPU of ``http.client`` on each GET, which the worker threads cannot spread (one
GIL). See docs/decisions/0003-proxmox-inventory-http-client.md. Only API tokens; TLS verified with
the CA file given, the system store, or not at all; HTTPS proxies from the environment.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import threading
from urllib.parse import quote, unquote, urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

# A kept-alive connection the server closed meanwhile fails on its next use: once more on a new one.
STALE_CONNECTION = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class PveHttpError(Exception):
    """The API answered with an HTTP error; ``status`` and ``text`` (PVE's reason) describe it."""

    def __init__(self, status, text):
        super().__init__('HTTP %s %s' % (status, text))
        self.status = status
        self.text = text


def tls_context(verify):
    """``verify`` is a CA file path, True (system store) or False (no verification)."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


def https_proxy(host):
    """(host, port, Proxy-Authorization or None) of the HTTPS proxy the environment sets for ``host``, else None."""
    proxy = getproxies().get('https')
    if not proxy or proxy_bypass(host):
        return None
    parts = urlsplit(proxy if '://' in proxy else 'http://' + proxy)
    authorization = None
    if parts.username:
        pair = '%s:%s' % (unquote(parts.username), unquote(parts.password or ''))
        authorization = 'Basic ' + base64.b64encode(pair.encode()).decode('ascii')
    return parts.hostname, parts.port or 80, authorization


class PveClient:
    """``get(path, **params)`` returns the ``data`` of a PVE API answer; transport errors are OSError or
    http.client.HTTPException (ssl.SSLCertVerificationError for a certificate that does not verify)."""

    def __init__(self, settings, timeout):
        self.host = settings['host'].strip('[]')
        self.port = settings['port']
        self.prefix = '/' + settings['path_prefix'] if settings.get('path_prefix') else ''
        self.timeout = timeout
        self.context = tls_context(settings['verify'])
        self.proxy = https_proxy(self.host)
        self.headers = {'Authorization': 'PVEAPIToken=%s!%s=%s' % (settings['user'], settings['token_name'],
                                                                   settings['token_secret']),
                        'Accept': 'application/json'}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections = []

    def _connect(self):
        if self.proxy is None:
            connection = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.context)
        else:
            proxy_host, proxy_port, authorization = self.proxy
            connection = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=self.timeout, context=self.context)
            connection.set_tunnel(self.host, self.port, headers={'Proxy-Authorization': authorization} if authorization else None)
        with self._lock:
            self._connections.append(connection)
        return connection

    def _exchange(self, target):
        connection = getattr(self._local, 'connection', None)
        reused = connection is not None
        if connection is None:
            connection = self._local.connection = self._connect()
        try:
            connection.request('GET', target, headers=self.headers)
            response = connection.getresponse()
            return response.status, response.reason, response.read()
        except STALE_CONNECTION:
            self.close()
            if not reused:
                raise
            return self._exchange(target)
        except (OSError, http.client.HTTPException, socket.timeout):
            self.close()
            raise

    def get(self, path, **params):
        target = '%s/api2/json/%s' % (self.prefix, quote(path.lstrip('/')))
        if params:
            target += '?' + urlencode(params)
        status, reason, body = self._exchange(target)
        if status >= 400:
            raise PveHttpError(status, reason)
        answer = json.loads(body.decode('utf-8'))
        if not isinstance(answer, dict) or 'data' not in answer:
            raise ValueError('no "data" in the answer')
        return answer['data']

    def close(self):
        """Close this thread's connection."""
        connection = getattr(self._local, 'connection', None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def close_all(self):
        """Close every thread's connection (at the end of a listing)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
