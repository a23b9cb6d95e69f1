# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a module checks in the Hetzner Cloud API before it hands a token to something in the cluster.

hcloud-python does the talking. The token is never part of a message: failures name the endpoint and Hetzner's
error code and message, which do not repeat the token.
"""

from __future__ import annotations

from ._errors import ModuleError

try:
    from hcloud import APIException, Client
except ImportError:  # requires() in the module reports the missing library first
    APIException = Client = None

DEFAULT_ENDPOINT = 'https://api.hetzner.cloud/v1'


class HcloudCheck:
    def __init__(self, token, endpoint=None, timeout=30.0):
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip('/')
        self.client = Client(token=token, api_endpoint=self.endpoint, application_name='hybridops.talos', timeout=timeout)

    def _fail(self, reason, sentence, **details):
        return ModuleError(reason, sentence, sentence=sentence, endpoint=self.endpoint, **details)

    def _call(self, what, method, path, **kwargs):
        try:
            return self.client.request(method, path, **kwargs)
        except APIException as exc:
            if exc.code == 'unauthorized':
                raise self._fail('token_refused', 'The Hetzner Cloud API at %s refused the token (%s): is it a token of the '
                                 'project that holds the servers?' % (self.endpoint, exc.message), code=exc.code) from None
            raise
        except Exception as exc:  # requests' connection errors and timeouts
            raise self._fail('hcloud_unreachable', 'The Hetzner Cloud API at %s could not be reached while %s: %s'
                             % (self.endpoint, what, exc.__class__.__name__)) from None

    def require_read_write(self):
        """Refuse a read-only token: the CSI controller creates, attaches and deletes volumes with it.

        Hetzner has no endpoint that says what a token may do, so this sends a write that cannot succeed:
        ``POST /volumes`` with no name and no size. A read-only token is refused with ``token_readonly`` before
        the body is looked at; a read-write one gets ``invalid_input``; nothing is created either way."""
        try:
            self._call('checking the token', 'POST', '/volumes', json={})
        except APIException as exc:
            if exc.code == 'token_readonly':
                raise self._fail('token_readonly', 'The Hetzner Cloud token is read-only, and the CSI driver needs a read-write '
                                 'token to create, attach and delete volumes; nothing was written.', code=exc.code) from None
            if exc.code == 'invalid_input':
                return
            raise self._fail('hcloud_error', 'The Hetzner Cloud API at %s answered the token check with %s: %s'
                             % (self.endpoint, exc.code, exc.message), code=exc.code) from None
        raise self._fail('hcloud_error', 'The Hetzner Cloud API at %s accepted a volume with no name and no size, so whether '
                         'the token may write could not be told.' % self.endpoint)

    def location(self, name):
        """The location's name, refused with the known ones when Hetzner has no such location."""
        found = self._call('reading locations', 'GET', '/locations', params={'name': name}).get('locations') or []
        if found:
            return found[0]['name']
        known = sorted(item['name'] for item in self._call('reading locations', 'GET', '/locations').get('locations') or ())
        raise self._fail('unknown_location', 'Hetzner Cloud has no location %s (it has %s); nothing was written.'
                         % (name, ', '.join(known) or 'none'), option='location')

    def network(self, name_or_id):
        """The network's ID, by ID or name; refused when there is none."""
        text = str(name_or_id)
        if text.isdigit():
            try:
                return self._call('reading the network', 'GET', '/networks/%s' % text)['network']['id']
            except APIException as exc:
                if exc.code != 'not_found':
                    raise
        else:
            found = self._call('reading networks', 'GET', '/networks', params={'name': text}).get('networks') or []
            if found:
                return found[0]['id']
        raise self._fail('unknown_network', 'Hetzner Cloud has no network %s in this project; nothing was written.' % text,
                         option='network')
