# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module that talks to the Talos API shares: its options, and its clients for one run.

The options mean the same in every module (docs/decisions/0006-talos-connection-options.md) and are
documented once, in plugins/doc_fragments/talos_api.py: keep the two in step.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from .api.client import DEFAULT_CONNECT_TIMEOUT, TalosClient, split_endpoint
from .api.credentials import find_talosconfig, load_talosconfig

# How to reach the Talos API: credentials from a talosconfig, optional endpoints that proxy, a time limit per call.
CONNECTION_ARGS = dict(
    talosconfig=dict(type='path', fallback=(env_fallback, ['TALOSCONFIG'])),
    context=dict(type='str'),
    endpoints=dict(type='list', elements='str'),
    timeout=dict(type='float', default=30.0),
)

# The one node a module acts on.
NODE_ARGS = dict(
    node=dict(type='str', required=True),
)

# Waiting for the outcome to show in the real state: the same switch and limit in every module.
WAIT_ARGS = dict(
    wait=dict(type='bool', default=True),
    wait_timeout=dict(type='float', default=600.0),
)


def node_host(node):
    """The host part of a node address (``host`` or ``host:port``): what an endpoint proxies to."""
    return split_endpoint(node)[0]


class Connection:
    """The Talos API as one module run reaches it: one client, and so one TLS connection, per node.

    ``client(node)`` talks to ``node`` with the talosconfig's credentials, directly when no
    ``endpoints`` are given, else through the first of them that answers (which proxies the call).
    ``insecure(node)`` talks to a node in maintenance mode, always directly: maintenance mode
    serves only the node itself and authenticates nobody. Clients are kept for the whole run, so a
    wait that polls a node reuses its connection; ``close()`` (or a ``with`` block) ends them.
    """

    def __init__(self, params, retry=None, connect_timeout=DEFAULT_CONNECT_TIMEOUT):
        self.params = params
        self.retry = retry
        self.connect_timeout = min(connect_timeout, params['timeout'])
        self._credentials = None
        self._clients = {}

    @property
    def credentials(self):
        """The talosconfig's CA, certificate and key, read once (talosctl's lookup when no path is given)."""
        if self._credentials is None:
            path = self.params.get('talosconfig') or find_talosconfig()
            self._credentials = load_talosconfig(path, self.params.get('context'))
        return self._credentials

    def _make(self, node, insecure, retry):
        options = dict(timeout=self.params['timeout'], connect_timeout=self.connect_timeout, retry=retry or self.retry)
        if insecure:
            return TalosClient(node, insecure=True, **options)
        endpoints = self.params.get('endpoints') or [node]
        return TalosClient(endpoints, credentials=self.credentials, node=node_host(node), **options)

    def client(self, node, retry=None):
        """The authenticated client for ``node``; ``retry`` sets its retry policy from now on."""
        key = (node, False)
        if key not in self._clients:
            self._clients[key] = self._make(node, False, retry)
        elif retry is not None:
            self._clients[key].retry = retry
        return self._clients[key]

    def insecure(self, node):
        """The client for ``node`` in maintenance mode (encrypted, not authenticated)."""
        key = (node, True)
        if key not in self._clients:
            self._clients[key] = self._make(node, True, None)
        return self._clients[key]

    def close(self):
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()
