# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upgrading one Talos node: the version an installer image carries, the decision, the call and the wait.

Talos answers ``MachineService.Upgrade`` as soon as it has pulled and checked the installer image, then
installs and reboots (platform.md section 6). So the answer proves nothing: the node has to go away and come
back, and only the version it then reports says whether the new version booted. A node whose new version
fails to boot comes back at the old one without any error, which is why a rollback is judged by that version.
"""

from __future__ import annotations

import re

from .api.errors import TalosApiError
from .._errors import ModuleError
from .._retry import NO_RETRY, WaitTimeout, wait_for

# A tag as Talos releases are tagged: v1.9.7, v1.10.0-beta.0. The image may add a digest after the tag.
_VERSION = re.compile(r'^v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$')
_IMAGE = re.compile(r'^(?P<repository>[^\s:@]+(?::\d+)?/[^\s:@]+):(?P<tag>[^\s:@/]+)(?:@sha256:[0-9a-f]{64})?$')
# Answers that mean the node's API is not serving right now (it is rebooting), as opposed to refusing us.
_AWAY = frozenset(['unreachable', 'unavailable', 'timeout'])


def parse_version(tag):
    """A Talos version tag as a tuple that sorts as releases do (a pre-release before its release); None if not one."""
    found = _VERSION.match(tag or '')
    if not found:
        return None
    major, minor, patch, pre = found.groups()
    # A release sorts after every pre-release of it; pre-release parts compare numerically when they are numbers.
    pre_key = (1,) if pre is None else (0,) + tuple((0, int(p), '') if p.isdigit() else (1, 0, p) for p in pre.split('.'))
    return (int(major), int(minor), int(patch), pre_key)


def image_version(image):
    """The version tag an installer image reference carries (``ghcr.io/siderolabs/installer:v1.9.7``,
    ``factory.talos.dev/installer/<schematic>:v1.9.7``, with or without ``@sha256:`` digest).

    Raises ModuleError(bad_input) when the reference has no tag of the form vX.Y.Z: without it the module
    cannot know which version the node should come back with, so it could not tell success from a rollback.
    """
    found = _IMAGE.match((image or '').strip())
    if not found:
        raise ModuleError('bad_input', 'image %r is not an image reference of the form registry/repository:vX.Y.Z' % image)
    tag = found.group('tag')
    if parse_version(tag) is None:
        raise ModuleError('bad_input', 'image %r has the tag %r, not a Talos version of the form vX.Y.Z' % (image, tag))
    return tag


def decide(current, target, allow_downgrade=False):
    """``'none'`` when the node runs ``target`` already, ``'upgrade'`` or ``'downgrade'`` otherwise.

    A downgrade needs ``allow_downgrade``: installing an older version by mistake is the costly error.
    """
    have, want = parse_version(current), parse_version(target)
    if have is None:
        raise ModuleError('unexpected_version', 'the node reports the version %r, which is not a Talos version tag' % current)
    if have == want:
        return 'none'
    if have < want:
        return 'upgrade'
    if not allow_downgrade:
        raise ModuleError('downgrade_refused', 'the node runs %s, newer than %s: set allow_downgrade to install an older '
                                               'version' % (current, target))
    return 'downgrade'


def current_version(client):
    return client.version().version.tag


def _away(error):
    return error.reason in _AWAY


def wait_for_return(client, node, previous, target, timeout, clock=None, sleep=None):
    """Wait until ``node`` has gone away and answers again; return (version it reports, seconds waited).

    Raises ModuleError(timeout) naming what was awaited. A version other than ``previous`` that answers before
    the node was seen away counts as back (the reboot was quicker than one poll).
    """
    timing = {} if clock is None else dict(clock=clock, sleep=sleep)
    seen = dict(away=False, version=previous, last='no answer yet')

    def probe():
        try:
            version = current_version(client)
        except TalosApiError as exc:
            if not _away(exc):
                # The node answers but refuses: waiting does not cure that, so say it at once.
                raise ModuleError(exc.reason, exc.why, node=node, call='Version', status=exc.status,
                                  sentence='Node %s answered Version with an error while coming back from the upgrade to '
                                           '%s: %s' % (node, target, exc.why)) from None
            seen.update(away=True, last='API unavailable (%s)' % exc.why)
            return False, dict(seen)
        seen.update(version=version, last='API answers, version %s' % version)
        return (seen['away'] or version != previous), dict(seen)

    client.retry = NO_RETRY  # the wait polls itself: a retrying call would hide the node going away
    try:
        state, duration = wait_for('node %s to reboot into %s' % (node, target), probe, timeout, first=0.2, cap=2.0, **timing)
    except WaitTimeout as exc:
        why = 'waited for the node %s (last seen: %s)' % ('to come back' if exc.last['away'] else 'to go down for the reboot',
                                                          exc.last['last'])
        raise ModuleError('timeout', why, node=node, call='Upgrade', waited=round(exc.duration, 2),
                          sentence='Upgrade of node %s to %s did not finish within %g seconds: %s.' % (node, target, timeout, why),
                          result=dict(duration=round(exc.duration, 2))) from None
    return state['version'], duration


def upgrade_node(module, connection):
    """The whole module run for ``module.params``; returns the result or raises ModuleError."""
    params = module.params
    node = params['node']
    target = image_version(params['image'])  # bad input is refused before any call
    client = connection.client(node)
    current = current_version(client)
    decision = decide(current, target, params['allow_downgrade'])
    result = dict(changed=decision != 'none', node=node, image=params['image'], previous_version=current, version=current,
                  target_version=target, decision=decision, duration=0.0)
    if module._diff:  # pylint: disable=protected-access
        result['diff'] = dict(before=dict(version=current), after=dict(version=target))
    if decision == 'none' or module.check_mode:
        return result
    reply = client.upgrade(params['image'], force=params['force'])
    result['actor_id'] = reply.actor_id
    if not params['wait']:
        return result
    version, duration = wait_for_return(client, node, current, target, params['wait_timeout'])
    result.update(version=version, duration=round(duration, 2))
    if version == target:
        return result
    result['changed'] = False  # the node runs what it ran before
    if version == current:
        why = 'the new version did not stay up and the node booted its previous version again'
        raise ModuleError('rolled_back', why, node=node, call='Upgrade', previous_version=current, target_version=target,
                          result=result, sentence='Node %s rolled back to %s after upgrade to %s: %s (look at its console '
                                                  'or talosctl dmesg).' % (node, current, target, why))
    raise ModuleError('unexpected_version', 'the node came back reporting %s' % version, node=node, call='Upgrade',
                      result=result, sentence='Node %s came back from the upgrade to %s reporting %s, neither the new nor the '
                                              'previous version.' % (node, target, version))
