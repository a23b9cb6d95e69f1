# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each Talos RPC we make needs, so that errors can say why a call was refused.

Roles are the ``rules`` table of machined (talos-api-facts.json ``allowed_roles``, v1.9.6); a client
holds the roles written in its certificate's Organization field. ``idempotent`` calls are retried
when the node answers UNAVAILABLE; the others only when the connection failed before the request left.
"""

from __future__ import annotations

import collections

Call = collections.namedtuple('Call', 'roles idempotent control_plane_only')

_READERS = ('os:admin', 'os:operator', 'os:reader')
_ETCD_READERS = ('os:admin', 'os:operator', 'os:reader', 'os:etcd:backup')

CALLS = {
    'ApplyConfiguration': Call(('os:admin',), True, False),
    'Bootstrap': Call(('os:admin',), False, True),
    'EtcdSnapshot': Call(('os:admin', 'os:operator', 'os:etcd:backup'), True, True),
    'EtcdRecover': Call(('os:admin',), False, True),
    'EtcdMemberList': Call(_ETCD_READERS, True, True),
    'EtcdStatus': Call(_ETCD_READERS, True, True),
    'EtcdLeaveCluster': Call(('os:admin',), False, True),
    'EtcdRemoveMemberByID': Call(('os:admin',), False, True),
    'EtcdForfeitLeadership': Call(('os:admin',), False, True),
    'Version': Call(_READERS, True, False),
    'Kubeconfig': Call(('os:admin',), True, True),
    'Reset': Call(('os:admin',), False, False),
    'Reboot': Call(('os:admin', 'os:operator'), False, False),
    'Upgrade': Call(('os:admin',), False, False),
    'ServiceList': Call(_READERS, True, False),
    'HealthCheck': Call(_READERS, True, False),
    'Get': Call(_READERS, True, False),
    'List': Call(_READERS, True, False),
    'Watch': Call(_READERS, True, False),
}


def lookup(call):
    """The Call record of an RPC name; unknown names are treated as admin-only and not idempotent."""
    return CALLS.get(call, Call(('os:admin',), False, False))
