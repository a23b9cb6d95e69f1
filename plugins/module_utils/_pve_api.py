# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Proxmox VE API client for modules, on ``proxmoxer`` (the library community.proxmox uses), built only
from module params with the environment variables the rest of the collection reads (``PROXMOX_HOST``,
``PROXMOX_PORT``, ``PROXMOX_USER``, ``PROXMOX_TOKEN_ID``, ``PROXMOX_TOKEN_SECRET``, ``PROXMOX_VALIDATE_CERTS``,
``PROXMOX_CA_FILE``). API tokens only. Every failure becomes one ModuleError that never quotes the token.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ._errors import ModuleError

try:
    import requests
    from proxmoxer import ProxmoxAPI
    from proxmoxer.core import ResourceException
    HAS_PROXMOXER = True
except ImportError:  # the module says so through requires(), before it connects
    HAS_PROXMOXER = False

# The names and environment variables of community.proxmox's connection options (our roles pass the same values),
# plus the CA file the hybrid inventory and the proxmox_nodes role take. Keep in step with the module's DOCUMENTATION.
PVE_ARGS = dict(
    api_host=dict(type='str', required=True, fallback=(env_fallback, ['PROXMOX_HOST'])),
    api_port=dict(type='int', default=8006, fallback=(env_fallback, ['PROXMOX_PORT'])),
    api_user=dict(type='str', fallback=(env_fallback, ['PROXMOX_USER'])),
    api_token_id=dict(type='str', required=True, no_log=False, fallback=(env_fallback, ['PROXMOX_TOKEN_ID'])),
    api_token_secret=dict(type='str', required=True, no_log=True, fallback=(env_fallback, ['PROXMOX_TOKEN_SECRET'])),
    validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['PROXMOX_VALIDATE_CERTS'])),
    ca_file=dict(type='path', fallback=(env_fallback, ['PROXMOX_CA_FILE'])),
)


class PveError(ModuleError):
    """A failed Proxmox VE API call; ``status`` is the HTTP status when PVE answered."""


def token_parts(user, token_id):
    """``(user, token name)`` from O(api_user) and O(api_token_id), which may be the full ``USER@REALM!NAME``."""
    token_user, separator, name = str(token_id or '').partition('!')
    if separator:
        if user and user != token_user:
            raise PveError('bad_input', 'api_token_id %s belongs to %s, not to api_user %s.' % (token_id, token_user, user),
                           option='api_token_id')
        return token_user, name
    if not user or not token_user:
        raise PveError('bad_input', 'The Proxmox API token needs a user and a name: set api_user (PROXMOX_USER) and '
                       'api_token_id (PROXMOX_TOKEN_ID), or give the full token ID USER@REALM!NAME.', option='api_user')
    return user, token_user


class PveApi:
    """``get``, ``post``, ``put``, ``delete`` of one API path; the ``data`` of PVE's answer."""

    def __init__(self, params, timeout=30):
        user, name = token_parts(params.get('api_user'), params.get('api_token_id'))
        self.host = params['api_host']
        self.port = params.get('api_port') or 8006
        verify = bool(params.get('validate_certs'))
        if verify and params.get('ca_file'):
            verify = params['ca_file']
        self.verify = verify
        self.timeout = timeout
        self.api = ProxmoxAPI(self.host, port=self.port, user=user, token_name=name,
                              token_value=params['api_token_secret'], verify_ssl=verify, timeout=timeout)

    @property
    def url(self):
        return 'https://%s:%d/api2/json' % (self.host if ':' not in self.host else '[%s]' % self.host, self.port)

    def call(self, method, api_path, what, **data):
        """``method`` (get, post, put, delete) on ``api_path``; ``what`` says what we were doing, for the error.
        (``path`` is a parameter of some PVE calls, such as the ACL's.)"""
        path = api_path
        try:
            return getattr(self.api(path.lstrip('/')), method)(**data)
        except ResourceException as exc:
            message = str(exc.status_message or '').strip() or 'HTTP %s' % exc.status_code
            detail = '%s' % (exc.content or '').strip()
            cause = message if not detail or detail in message else '%s: %s' % (message, detail)
            reason = 'pve_refused' if exc.status_code in (401, 403) else 'pve_error'
            raise PveError(reason, '%s failed: PVE answered %s %s' % (what, exc.status_code, cause.rstrip('.')),
                           call='%s %s' % (method.upper(), path), status=exc.status_code, api=self.url) from None
        except requests.exceptions.SSLError as exc:
            raise PveError('wrong_ca', '%s failed: the certificate of the PVE API at %s does not verify (give ca_file, '
                           'or validate_certs=false): %s' % (what, self.url, _first_line(exc)),
                           call='%s %s' % (method.upper(), path), api=self.url) from None
        except requests.exceptions.RequestException as exc:
            raise PveError('pve_unreachable', '%s failed: the PVE API at %s cannot be reached: %s' % (what, self.url, _first_line(exc)),
                           call='%s %s' % (method.upper(), path), api=self.url) from None

    def authenticates(self, user, name, secret):
        """Whether the token ``user!name`` with ``secret`` is accepted (GET /version as that token)."""
        api = ProxmoxAPI(self.host, port=self.port, user=user, token_name=name, token_value=secret,
                         verify_ssl=self.verify, timeout=self.timeout)
        try:
            api.version.get()
        except ResourceException as exc:
            if exc.status_code == 401:
                return False
            raise PveError('pve_error', 'Checking the token %s!%s failed: PVE answered %s %s'
                           % (user, name, exc.status_code, exc.status_message), call='GET /version', status=exc.status_code,
                           api=self.url) from None
        except requests.exceptions.RequestException as exc:
            raise PveError('pve_unreachable', 'Checking the token %s!%s failed: the PVE API at %s cannot be reached: %s'
                           % (user, name, self.url, _first_line(exc)), call='GET /version', api=self.url) from None
        return True

    def get(self, api_path, what, **data):
        return self.call('get', api_path, what, **data)

    def post(self, api_path, what, **data):
        return self.call('post', api_path, what, **data)

    def put(self, api_path, what, **data):
        return self.call('put', api_path, what, **data)

    def delete(self, api_path, what, **data):
        return self.call('delete', api_path, what, **data)


def _first_line(exc):
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
