# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a failed Kubernetes call becomes one sentence and one structured cause.

``KubeError`` is the collection's one failure shape (``_errors.ModuleError``): ``reason`` (a stable
code), ``why`` (the cause), ``call`` (what we were doing), ``status`` (the HTTP status when the API
answered) and details; ``message`` is the sentence, ``failure`` the data. The API server's own
``Status`` body gives the reason (``NotFound``, ``Conflict``, ``Invalid`` ...) and its message.
"""

from __future__ import annotations

import json

from .._errors import ModuleError

MAX_SERVER_TEXT = 800

# The API server's Status reasons, as our stable lower-case codes.
REASONS = {
    'NotFound': 'not_found', 'AlreadyExists': 'already_exists', 'Conflict': 'conflict', 'Invalid': 'invalid',
    'BadRequest': 'bad_request', 'Forbidden': 'forbidden', 'Unauthorized': 'unauthorized',
    'MethodNotAllowed': 'method_not_allowed', 'UnsupportedMediaType': 'unsupported_media_type',
    'Timeout': 'api_timeout', 'ServerTimeout': 'api_timeout', 'TooManyRequests': 'too_many_requests',
    'InternalError': 'api_internal_error', 'ServiceUnavailable': 'api_unavailable',
}


def quote(text):
    """A server's text on one line and bounded in length."""
    text = ' '.join(str(text or '').split())
    if len(text) > MAX_SERVER_TEXT:
        text = text[:MAX_SERVER_TEXT] + ' ...'
    return text


class KubeError(ModuleError):
    """Something a Kubernetes module could not do; never holds a secret value. The collection's one failure shape
    (``_errors.ModuleError``): ``node`` is the Kubernetes node when the cause is one."""

    @property
    def message(self):
        """A Kubernetes call is about the cluster, not a node: the sentence names the call even without a node."""
        if self.sentence or self.node or not self.call:
            return super().message
        why = str(self.why)
        return '%s failed: %s' % (self.call, why if why.endswith(('.', '?', '!')) else why + '.')


class ApiError(KubeError):
    """The API server answered with an error ``Status``."""

    def __init__(self, status, body, call=None):
        body = body if isinstance(body, dict) else {}
        self.body = body
        self.api_reason = body.get('reason') or ''
        causes = [dict(field=c.get('field'), reason=c.get('reason'), message=quote(c.get('message')))
                  for c in (body.get('details') or {}).get('causes') or ()]
        why = quote(body.get('message')) or 'HTTP %s' % status
        super().__init__(REASONS.get(self.api_reason, 'api_error'), why, call=call, status=status,
                         api_reason=self.api_reason or None, causes=causes)

    @classmethod
    def from_response(cls, status, data, call=None):
        try:
            body = json.loads(data.decode('utf-8', 'replace')) if data else {}
        except ValueError:
            body = {'message': data.decode('utf-8', 'replace') if isinstance(data, bytes) else str(data)}
        if not isinstance(body, dict) or body.get('kind') != 'Status':
            body = {'message': (body.get('message') if isinstance(body, dict) else None) or
                    (data.decode('utf-8', 'replace') if isinstance(data, bytes) else str(data))}
        return cls(status, body, call=call)
