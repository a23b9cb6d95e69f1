# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """How a module reaches the Kubernetes API: a kubeconfig, as kubectl does."""

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of the kubeconfig with the cluster's address, CA and credentials, for example the admin kubeconfig that
        M(hybridops.talos.talos_kubeconfig) writes.
      - Defaults to E(KUBECONFIG), then C(~/.kube/config), as C(kubectl) looks for it. Several files separated by
        C(:) are merged as kubectl merges them.
    type: path
  context:
    description: Context of the kubeconfig to use; its current context when omitted.
    type: str
  request_timeout:
    description:
      - Seconds one API request may take. Requests that read, and server-side applies, are tried again up to four
        times after a connection failure or a transient answer (429, 502, 503, 504).
    type: float
    default: 30
requirements:
  - kubernetes (the Python client, for reading the kubeconfig)
  - PyYAML
"""

    WAIT = r"""
options:
  wait_timeout:
    description:
      - Seconds to wait at most. The module polls with waits that double from half a second up to 5 seconds, and
        fails with the last state it saw, per node and per object, when time runs out.
    type: int
    default: 300
"""

    ACTION_GROUP = r"""
attributes:
  action_group:
    description:
      - Use C(group/hybridops.talos.kubernetes) in O(ignore:module_defaults) to set O(kubeconfig), O(context) and
        O(request_timeout) once for every module of the collection that talks to the Kubernetes API.
    support: full
    membership:
      - hybridops.talos.kubernetes
"""
