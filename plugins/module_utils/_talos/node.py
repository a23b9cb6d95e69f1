# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module that talks to one Talos node shares: its options, its client, its failures."""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from .api.client import TalosClient
from .api.credentials import find_talosconfig
from .api.errors import TalosApiError

# Keep in step with plugins/doc_fragments/talos_api.py.
CONNECTION_ARGS = dict(
    endpoint=dict(type='str', required=True),
    node=dict(type='str'),
    talosconfig=dict(type='path', fallback=(env_fallback, ['TALOSCONFIG'])),
    context=dict(type='str'),
    timeout=dict(type='float', default=30.0),
)

WAIT_ARGS = dict(
    wait=dict(type='bool', default=True),
    wait_timeout=dict(type='int', default=300),
)


def client_for(params, endpoint=None, node=None, **kwargs):
    """An authenticated client for ``endpoint`` (default: the module's) from the module's talosconfig."""
    return TalosClient.from_talosconfig(endpoint or params['endpoint'], params.get('talosconfig') or find_talosconfig(),
                                        context=params.get('context'), node=node or params.get('node'),
                                        timeout=params['timeout'], **kwargs)


def insecure_client(endpoint, timeout, **kwargs):
    """A client for a node in maintenance mode: encrypted, but neither side is authenticated."""
    return TalosClient(endpoint, insecure=True, timeout=timeout, **kwargs)


def fail(module, exc, **result):
    """End the module with the error's one-sentence message and its structured cause."""
    if isinstance(exc, TalosApiError):
        module.fail_json(msg=exc.message, failure=exc.failure, **result)
    module.fail_json(msg=str(exc), failure=getattr(exc, 'failure', dict(message=str(exc))), **result)
