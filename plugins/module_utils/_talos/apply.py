# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying a machine config to one node, idempotently, through Talos' own dry run.

A dry run answers with a summary ending in the config diff or ``No changes.``: that is the
oracle for ``changed``, for check mode and for ``--diff``. A node in maintenance mode has no config
and takes it over an unauthenticated connection; afterwards it only answers with mutual TLS.
"""

from __future__ import annotations

import datetime

from .api.errors import TalosApiError
from .node import CONNECTION_ARGS, WAIT_ARGS
from .redact import redact
from .._retry import NO_RETRY, WaitTimeout, wait_for

APPLY_MODES = ('auto', 'no_reboot', 'reboot', 'staged', 'try', 'staged_if_needing_reboot')

# The Talos API options of talos_machineconfig state=applied; ``node`` is required for that state only.
APPLY_ARGS = dict(
    CONNECTION_ARGS,
    node=dict(type='str'),
    apply_mode=dict(type='str', choices=list(APPLY_MODES), default='auto'),
    try_timeout=dict(type='float', default=60.0),
    allow_maintenance=dict(type='bool', default=True),
    **WAIT_ARGS
)

# Failures of the authenticated client that may mean "this node is in maintenance mode": the node is then
# asked again over the unauthenticated connection, which only a node in maintenance mode accepts.
MAINTENANCE_HINTS = ('wrong_ca', 'server_cert_invalid', 'hostname_mismatch', 'client_cert_rejected', 'tls_error',
                     'maintenance_mode')
NO_CHANGES = 'No changes.'


class DryRun:
    """What a dry run said: whether anything would change, whether that needs a reboot, the diff."""

    def __init__(self, text):
        self.text = text or ''
        head, _sep, diff = self.text.partition('Config diff:')
        self.diff = diff.strip('\n')
        self.maintenance = 'maintenance mode' in head
        self.unchanged = self.diff.strip() == NO_CHANGES
        self.needs_reboot = 'with a reboot' in head

    def __repr__(self):
        return 'DryRun(unchanged=%r, needs_reboot=%r, maintenance=%r)' % (self.unchanged, self.needs_reboot, self.maintenance)


def _dry_run(client, data):
    return DryRun(client.apply_configuration(data, mode='auto', dry_run=True).mode_details)


def effective_mode(requested, dry_run):
    """The Talos apply mode to use for ``requested`` given what the dry run said."""
    if requested == 'staged_if_needing_reboot':
        return 'staged' if dry_run.needs_reboot else 'no_reboot'
    return requested


def _probe_configured(connection, node, data):
    """A wait probe: the node answers over mutual TLS and runs exactly ``data``."""
    def probe():
        try:
            seen = _dry_run(connection.client(node, retry=NO_RETRY), data)
        except TalosApiError as exc:
            return False, exc.reason
        return seen.unchanged, 'running a different config' if not seen.unchanged else 'running this config'
    return probe


def _maintenance_dry_run(connection, node, data, first):
    """The dry run over the unauthenticated connection; ``first`` is raised when the node is not in maintenance mode."""
    try:
        return _dry_run(connection.insecure(node), data)
    except TalosApiError:
        raise first from None  # the node is not in maintenance mode: the first failure is the one that matters


def apply_config(module, connection, data, secret_values):
    """Apply ``data`` (bytes) to ``module.params['node']``; return the result keys for the module."""
    params = module.params
    node = params['node']
    result = dict(node=node, changed=False)
    try:
        dry_run = _dry_run(connection.client(node), data)
        maintenance = False
    except TalosApiError as exc:
        # Through endpoints the proxy answers for the node, in its own words: ask the node itself.
        if exc.reason not in MAINTENANCE_HINTS and not params['endpoints']:
            raise
        dry_run = _maintenance_dry_run(connection, node, data, exc)
        maintenance = True
    result['maintenance'] = maintenance
    if maintenance and not params['allow_maintenance']:
        raise TalosApiError('maintenance_mode', 'the node is in maintenance mode (it has no machine config) but a '
                            'configured node was expected (allow_maintenance=false): was it reset or reinstalled?',
                            node=node, call='ApplyConfiguration')
    if not maintenance and dry_run.unchanged:
        return result
    result['changed'] = True
    mode = 'auto' if maintenance else effective_mode(params['apply_mode'], dry_run)
    result.update(mode=mode, needs_reboot=maintenance or dry_run.needs_reboot)
    if module._diff:
        # Talos' own unified diff of the running config against ours, secrets redacted.
        result['diff'] = dict(prepared='node %s is in maintenance mode: the whole config is new' % node
                              if maintenance else 'node %s (Talos dry run):\n%s' % (node, redact(dry_run.diff, secret_values)))
    if module.check_mode:
        return result
    client = connection.insecure(node) if maintenance else connection.client(node)
    try_timeout = datetime.timedelta(seconds=params['try_timeout']) if mode == 'try' else None
    reply = client.apply_configuration(data, mode=mode, try_mode_timeout=try_timeout)
    result['mode_details'] = redact(reply.mode_details, secret_values)
    result['warnings_from_node'] = list(reply.warnings)
    if params['wait'] and mode != 'staged':
        try:
            state, duration = wait_for('node %s running the new config' % node,
                                       _probe_configured(connection, node, data), params['wait_timeout'], first=0.5)
        except WaitTimeout as exc:
            raise TalosApiError('timeout', 'the config was applied but %s' % exc, node=node,
                                call='ApplyConfiguration', duration=round(exc.duration, 2)) from None
        result.update(duration=round(duration, 2), confirmed=state == 'running this config')
    return result
