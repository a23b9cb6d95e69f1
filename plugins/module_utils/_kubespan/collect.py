# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading every node's KubeSpan view at once: one thread and one Talos client per node.

Each client runs calls on an event loop of its own, so threads are the simple way to ask all nodes
in parallel: a 20-node mesh costs about one round trip, not twenty. A client is used by one thread
at a time (one node per task), and kept for the whole module run, so later readings reuse its connection.
"""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError

from .resources import MEMBERS, PEER_STATUSES, member, peer_status

try:
    from google.protobuf.message import DecodeError
except ImportError:  # the client reports the missing library before anything is decoded
    DecodeError = ValueError

MAX_THREADS = 32


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def observe_node(node, make_client, clock=utc_now):
    """What one node says about its KubeSpan peers and the cluster members, or why it said nothing.

    ``node`` is ``{name, address}`` (``name`` may be None: found later from the members);
    ``make_client(node)`` returns a client with ``list_resources``.
    """
    observation = dict(name=node.get('name'), address=node['address'])
    try:
        client = make_client(node)
        peers = [peer_status(resource) for resource in client.list_resources(*PEER_STATUSES)]
        members = [member(resource) for resource in client.list_resources(*MEMBERS)]
    except TalosApiError as exc:
        observation.update(reachable=False, error=exc.message, failure=exc.failure, observed_at=clock())
        return observation
    except (DecodeError, ValueError) as exc:
        error = ModuleError('bad_reply', 'it sent a KubeSpan resource that does not decode: %s' % exc, node=node['address'],
                            call='List')
        observation.update(reachable=False, error=error.message, failure=error.failure, observed_at=clock())
        return observation
    # The time the answer arrived: every age on this node's statuses is measured from it.
    observation.update(reachable=True, error=None, failure=None, peers=peers, members=members, observed_at=clock())
    return observation


def observe_all(nodes, make_client, clock=utc_now, max_threads=MAX_THREADS):
    """``observe_node`` for every node in parallel; results in the order of ``nodes``."""
    if not nodes:
        return []
    with ThreadPoolExecutor(max_workers=min(max_threads, len(nodes)), thread_name_prefix='kubespan-verify') as pool:
        return list(pool.map(lambda node: observe_node(node, make_client, clock), nodes))
