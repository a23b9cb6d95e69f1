# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Taking a node out of service with Talos' Reset call (talos_reset): what the node is now, the reset, the wait.

A node is ``configured`` (it answers over mutual TLS with the cluster's credentials), in ``maintenance`` mode (it
answers only the unauthenticated connection: it has no machine config, as after a reset with reboot) or
``unreachable`` (powered off after a reset without reboot, or just out of reach: the module cannot tell which).
"""

from __future__ import annotations

from .._retry import NO_RETRY, WaitTimeout, wait_for
from .api.errors import TalosApiError
from .apply import MAINTENANCE_HINTS

WIPE_MODES = ('all', 'system_disk', 'user_disks')


def node_state(connection, node):
    """``configured``, ``maintenance`` or ``unreachable``; any other failure is raised (it proves nothing)."""
    try:
        connection.client(node, retry=NO_RETRY).version()
        return 'configured'
    except TalosApiError as exc:
        if exc.reason == 'unreachable':
            return 'unreachable'
        if exc.reason not in MAINTENANCE_HINTS:
            raise
        first = exc
    try:
        connection.insecure(node).version()
    except TalosApiError as exc:
        if exc.reason == 'unreachable':
            return 'unreachable'
        raise first from None
    return 'maintenance'


def reset_node(module, connection):
    """Reset ``node`` unless it is reset already; the result keys for the module."""
    params = module.params
    node = params['node']
    before = node_state(connection, node)
    result = dict(changed=False, node=node, state_before=before, state=before)
    if before == 'maintenance':
        return result  # no machine config left: reset already (or never configured)
    if before == 'unreachable':
        if params['missing_ok']:
            return result
        raise TalosApiError('unreachable', 'the node does not answer, so whether it was reset cannot be told; if it was '
                            'powered off by an earlier reset, run again with missing_ok=true', node=node, call='Version')
    result['changed'] = True
    if module.check_mode:
        return result
    connection.client(node).reset(graceful=params['graceful'], reboot=params['reboot'], mode=params['wipe_mode'])
    if not params['wait']:
        return result
    expected = 'maintenance' if params['reboot'] else 'unreachable'

    def probe():
        try:
            state = node_state(connection, node)
        except TalosApiError as exc:
            return False, exc.reason
        return state == expected, state
    what = 'back in maintenance mode' if params['reboot'] else 'powered off'
    try:
        state, duration = wait_for('the node %s after its reset' % what, probe, params['wait_timeout'])
    except WaitTimeout as exc:
        hint = ('; a graceful reset of a control plane stops when the node cannot leave etcd (would the rest lose quorum?), '
                'see its logs' if params['graceful'] else '')
        raise TalosApiError('timeout', 'the reset was asked for but %s%s' % (exc, hint), node=node, call='Reset',
                            result=dict(result, duration=round(exc.duration, 1))) from None
    result.update(state=state, duration=round(duration, 1))
    return result
