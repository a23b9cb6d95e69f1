# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """How a module reaches the Talos API (gRPC with mutual TLS on port 50000); one meaning in every module.

    Keep in step with plugins/module_utils/_talos/node.py (CONNECTION_ARGS, NODE_ARGS, WAIT_ARGS) and
    docs/decisions/0006-talos-connection-options.md.
    """

    DOCUMENTATION = r"""
options:
  talosconfig:
    description:
      - Path of the talosconfig whose context holds the OS CA, the client certificate and its key.
      - Defaults to E(TALOSCONFIG), then E(TALOS_HOME)C(/config), then C(~/.talos/config), as C(talosctl) looks for it.
      - Only the credentials are read from it; the context's C(endpoints) and C(nodes) are not used, the task names
        its nodes and O(endpoints).
    type: path
  context:
    description: Context of the talosconfig to use; its current context when omitted.
    type: str
  endpoints:
    description:
      - Talos API endpoints to connect to, V(host) or V(host:port) (port 50000 by default), tried in order
        when one cannot be reached, as C(talosctl --endpoints) does. Each call about a node is proxied to that
        node by the endpoint (the gRPC metadata C(node) of C(talosctl --nodes)), so the endpoints must be
        control planes, and the controller needs no route to the other nodes.
      - When omitted, every node is reached directly on its own address.
      - A node in maintenance mode is always reached directly, since maintenance mode serves only the node itself.
    type: list
    elements: str
  timeout:
    description:
      - Seconds one Talos API call may take; connecting gets at most 10 seconds of it.
    type: float
    default: 30
"""

    NODE = r"""
options:
  node:
    description:
      - The Talos API address of the node the module acts on, V(host) or V(host:port) (port 50000 by default).
      - Reached directly, or through O(endpoints) when they are given.
    type: str
    required: true
"""

    WAIT = r"""
options:
  wait:
    description:
      - Wait until the outcome shows in the real state of the nodes (what each module waits for is in its
        description), polling with waits that double from a fraction of a second up to 5 seconds.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait at most with O(wait=true); the module then fails with the last state it saw.
    type: float
    default: 600
"""

    ACTION_GROUP = r"""
attributes:
  action_group:
    description:
      - Use C(group/hybridops.talos.talos) in O(ignore:module_defaults) to set the Talos API options
        (O(talosconfig), O(context), O(endpoints), O(timeout)) once for every module that reaches the Talos API.
    support: full
    membership:
      - hybridops.talos.talos
"""
