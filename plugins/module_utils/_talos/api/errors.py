# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error the Talos API client raises, and how gRPC statuses become operator messages.

Messages name the node, the call and the cause in one sentence; ``failure`` carries the same facts
as data for module results. Neither ever holds key material or talosconfig content.
"""

from __future__ import annotations

from .calls import lookup
from ..._errors import ModuleError

MAX_SERVER_TEXT = 600  # a server message is quoted, not dumped: long validation reports are cut here


class TalosApiError(ModuleError):
    """A Talos API call (or its preparation) failed: the collection's one failure shape (see _errors.py).

    ``reason`` is a short stable code (``wrong_ca``, ``client_cert_expired``, ``permission_denied``,
    ``unknown_config_keys``, ``maintenance_mode``, ``unreachable`` ...), ``why`` the human cause.
    """

    @property
    def message(self):
        if self.call and self.node:
            return 'Talos API call %s to node %s failed: %s.' % (self.call, self.node, self.why)
        if self.node:
            return 'Talos API node %s: %s.' % (self.node, self.why)
        return '%s.' % self.why


def quote(text):
    """A server's error text, on one line and bounded in length."""
    text = ' '.join(str(text or '').split())
    if len(text) > MAX_SERVER_TEXT:
        text = text[:MAX_SERVER_TEXT] + ' ...'
    return text


def describe_status(status, text, call, roles=None):
    """(reason, why) for a gRPC status name and the server's message, for the RPC ``call``."""
    text = quote(text)
    lowered = text.lower()
    if status == 'PERMISSION_DENIED':
        if 'not authorized' in lowered or not text:
            needed = lookup(call).roles
            held = ', '.join(roles) if roles else 'none'
            prefix = 'the node refused it (%s): the client certificate holds the roles %s' % (text or 'permission denied', held)
            if roles and set(roles) & set(needed):
                if call in ('Get', 'List', 'Watch'):
                    return 'permission_denied', prefix + ', but sensitive resources (machine configs, identities) need os:admin'
                return 'permission_denied', prefix + ', which %s normally allows, so the node asks for more: use an os:admin certificate' % call
            return 'permission_denied', prefix + ', but %s needs one of %s' % (call, ', '.join(needed))
        return 'permission_denied', 'the node refused it: %s' % text
    if status == 'INVALID_ARGUMENT':
        if 'unknown keys' in lowered:
            return 'unknown_config_keys', ('the node rejected the machine config: %s (keys this Talos version does not know: '
                                           'was the config rendered for a newer Talos contract than the node runs?)' % text)
        return 'invalid_argument', 'the node rejected the request as invalid: %s' % text
    if status == 'UNIMPLEMENTED':
        if 'maintenance mode' in lowered or 'machine type is not set' in lowered:
            return 'maintenance_mode', 'the node is in maintenance mode (it has no machine config yet): %s' % text
        if 'only available on control plane' in lowered:
            return 'not_control_plane', 'the node is not a control plane: %s' % text
        return 'unimplemented', 'the node does not implement it: %s' % text
    if status == 'UNAVAILABLE':
        return 'unavailable', 'the node API is unavailable (%s)' % (text or 'no detail')
    if status == 'DEADLINE_EXCEEDED':
        return 'timeout', 'no answer before the deadline (%s)' % (text or 'deadline exceeded')
    return (status or 'unknown').lower(), '%s: %s' % (status or 'UNKNOWN', text or 'no detail')
