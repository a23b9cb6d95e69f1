# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Sealed Secrets controller's keys, read from and written back to the Kubernetes API.

The keys are Secrets of type ``kubernetes.io/tls`` in the controller's namespace, labelled
``sealedsecrets.bitnami.com/sealed-secrets-key`` (``active``, or ``compromised`` for retired keys that
still decrypt older SealedSecrets): all of them are backed up. A backup keeps only what a restore
needs (name, namespace, labels, annotations, type, data); a restore applies them server-side.

Only the kubeconfig's current context is used: the API server with its CA, and a client certificate
(what Talos' admin kubeconfig holds) or a bearer token.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import ssl
import urllib.parse

from .errors import BackupError
from .._talos.api.tls import _private_dir, _write_private
from .._talos.errors import TalosConfigError
from .._talos.kubeconfig import parse

KEY_LABEL = 'sealedsecrets.bitnami.com/sealed-secrets-key'
FIELD_MANAGER = 'hybridops-talos-restore'
TIMEOUT = 15


class KubeUnreachable(BackupError):
    """The API server did not answer at all (as opposed to answering with an error)."""


class Kube:
    """One API server from a kubeconfig file."""

    def __init__(self, kubeconfig):
        try:
            with open(kubeconfig, 'rb') as handle:
                text = handle.read()
        except OSError as exc:
            raise BackupError('bad_input', 'cannot read the kubeconfig %s: %s.' % (kubeconfig, exc.strerror)) from None
        try:
            parsed = parse(text, 'kubeconfig %s' % kubeconfig)
        except TalosConfigError as exc:
            raise BackupError('bad_input', str(exc)) from None
        user = next(u['user'] for u in parsed['data']['users']
                    if u['name'] == next(c['context']['user'] for c in parsed['data']['contexts'] if c['name'] == parsed['context']))
        url = urllib.parse.urlsplit(parsed['server'] or '')
        if url.scheme != 'https' or not url.hostname:
            raise BackupError('bad_input', 'the kubeconfig %s names no https API server.' % kubeconfig)
        self.server = parsed['server']
        self.host, self.port = url.hostname, url.port or 443
        self.token = user.get('token')
        self.context = self._context(parsed['ca'], user.get('client-certificate-data'), user.get('client-key-data'), kubeconfig)

    @staticmethod
    def _context(ca, cert, key, kubeconfig):
        context = ssl.create_default_context()
        try:
            if ca:
                context.load_verify_locations(cadata=base64.b64decode(ca).decode('ascii'))
            if cert and key:
                directory = _private_dir()  # ssl loads a client key only from a file: a 0700 RAM folder, at once removed
                try:
                    _write_private(os.path.join(directory, 'client.crt'), base64.b64decode(cert))
                    _write_private(os.path.join(directory, 'client.key'), base64.b64decode(key))
                    context.load_cert_chain(os.path.join(directory, 'client.crt'), os.path.join(directory, 'client.key'))
                finally:
                    shutil.rmtree(directory, ignore_errors=True)
        except (ssl.SSLError, ValueError, TypeError):
            raise BackupError('bad_input', 'the CA or client certificate of the kubeconfig %s cannot be used.' % kubeconfig) from None
        return context

    def request(self, method, path, body=None, content_type='application/json'):
        """(status, decoded JSON body) of one API call; KubeUnreachable when the server does not answer."""
        connection = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=TIMEOUT)
        headers = {'Accept': 'application/json'}
        if body is not None:
            headers['Content-Type'] = content_type
        if self.token:
            headers['Authorization'] = 'Bearer ' + self.token
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise KubeUnreachable('kube_unreachable', 'the Kubernetes API at %s did not answer (%s).'
                                  % (self.server, getattr(exc, 'strerror', None) or exc or type(exc).__name__)) from None
        finally:
            connection.close()
        try:
            return response.status, json.loads(data or b'{}')
        except ValueError:
            return response.status, {}

    def refused(self, what, status, body):
        raise BackupError('kube_failed', 'the Kubernetes API at %s refused to %s: %s %s.'
                          % (self.server, what, status, (body or {}).get('message') or 'no message'), status=status)

    def sealed_secrets_keys(self, namespace):
        """The labelled key Secrets of ``namespace`` as one JSON List (bytes), reduced to what a restore needs."""
        path = '/api/v1/namespaces/%s/secrets?labelSelector=%s' % (urllib.parse.quote(namespace), urllib.parse.quote(KEY_LABEL))
        status, body = self.request('GET', path)
        if status != 200:
            self.refused('list the Sealed Secrets keys in %s' % namespace, status, body)
        items = [dict(apiVersion='v1', kind='Secret', type=item.get('type'), data=item.get('data') or {},
                      metadata=dict((key, item['metadata'][key]) for key in ('name', 'namespace', 'labels', 'annotations')
                                    if item['metadata'].get(key)))
                 for item in body.get('items') or []]
        return json.dumps(dict(apiVersion='v1', kind='List', items=sorted(items, key=lambda i: i['metadata']['name'])),
                          sort_keys=True).encode('utf-8')

    def apply_secret(self, secret):
        """Server-side apply of one Secret (created, or made equal to the backed-up one)."""
        meta = secret['metadata']
        path = '/api/v1/namespaces/%s/secrets/%s?fieldManager=%s&force=true' % (
            urllib.parse.quote(meta['namespace']), urllib.parse.quote(meta['name']), FIELD_MANAGER)
        status, body = self.request('PATCH', path, json.dumps(secret).encode('utf-8'), 'application/apply-patch+yaml')
        if status not in (200, 201):
            self.refused('apply the Secret %s/%s' % (meta['namespace'], meta['name']), status, body)
        return status == 201
