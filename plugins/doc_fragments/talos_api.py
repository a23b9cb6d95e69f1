# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """How a module reaches one Talos node's API (gRPC with mutual TLS on port 50000)."""

    DOCUMENTATION = r"""
options:
  endpoint:
    description:
      - Address of the Talos API to connect to, V(host) or V(host:port) (port 50000 by default).
      - Usually the node itself. Bootstrap and maintenance-mode calls must reach the node directly,
        never through a load balancer.
    type: str
    required: true
  node:
    description:
      - Node the call is about, when it differs from O(endpoint); the endpoint (a control plane) proxies the call.
    type: str
  talosconfig:
    description:
      - Path of the talosconfig with the OS CA, client certificate and key.
      - Defaults to E(TALOSCONFIG), then C(~/.talos/config), as C(talosctl) looks for it.
    type: path
  context:
    description: Context of the talosconfig to use; its current context when omitted.
    type: str
  timeout:
    description: Seconds one API call may take.
    type: float
    default: 30
"""

    WAIT = r"""
options:
  wait:
    description: Wait until the change is visible in the node's real state before returning.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait at most; the module then fails with the last state it saw.
    type: int
    default: 300
"""
