# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Observations of a KubeSpan mesh as ``collect.observe_node`` makes them, built for the unit tests.

By default every node sees every other up: a handshake 20 s ago, the endpoint unchanged for 10 minutes.
"""

from __future__ import annotations

import copy
import datetime

NOW = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.timezone.utc)
FIVE = ['vps-cp-1', 'vps-cp-2', 'home-cp-1', 'home-w-1', 'home-w-2']


def ago(seconds):
    return None if seconds is None else NOW - datetime.timedelta(seconds=seconds)


def address(names, name):
    return '10.0.0.%d' % (names.index(name) + 1)


def status(names, peer, state='up', handshake=20, change=600, used=True, rx=5000, tx=6000, endpoint=None, roamed_to=None):
    """``roamed_to``: WireGuard's current endpoint when it moved away from the one Talos set (NAT)."""
    endpoint = endpoint or '%s:51820' % address(names, peer)
    return dict(id='pubkey-%s=' % peer, label=peer, endpoint=roamed_to or endpoint, state=state, receive_bytes=rx,
                transmit_bytes=tx, last_handshake_time=ago(handshake), last_used_endpoint=endpoint if used else None,
                last_endpoint_change=ago(change))


def mesh(names=tuple(FIVE), views=None, unreachable=(), no_peer=(), not_member=(), extra_peers=None, extra_members=None,
         anonymous=(), now=NOW):
    """Observations, in the order of ``names``.

    ``views[(a, b)]`` overrides fields of what ``a`` says about ``b`` (keywords of ``status``);
    ``no_peer`` / ``not_member`` are (a, b) pairs where ``a`` has no peer status / no member for ``b``;
    ``anonymous`` are nodes given without a name (address only).
    """
    names = list(names)
    views = views or {}
    observations = []
    for name in names:
        observation = dict(name=None if name in anonymous else name, address=address(names, name), observed_at=now)
        if name in unreachable:
            observation.update(reachable=False, error='Talos API call List to node %s failed: cannot connect to %s:50000: '
                               'Connection refused.' % (address(names, name), address(names, name)),
                               failure=dict(reason='unreachable'))
            observations.append(observation)
            continue
        peers = [status(names, other, **views.get((name, other), {}))
                 for other in names if other != name and (name, other) not in no_peer]
        peers += copy.deepcopy((extra_peers or {}).get(name, []))
        members = [dict(name=other, hostname=other, addresses=[address(names, other)], machine_type='worker')
                   for other in names if (name, other) not in not_member]
        members += [dict(name=extra, hostname=extra, addresses=['10.9.9.9'], machine_type='worker')
                    for extra in (extra_members or {}).get(name, [])]
        observation.update(reachable=True, error=None, failure=None, peers=peers, members=members)
        observations.append(observation)
    return observations


def later(observations, seconds, views=None):
    """A second sample ``seconds`` after ``observations``: counters grown by 1000 unless ``views`` say otherwise."""
    result = copy.deepcopy(observations)
    for observation in result:
        observation['observed_at'] = observation['observed_at'] + datetime.timedelta(seconds=seconds)
        for peer in observation.get('peers', ()):
            peer['receive_bytes'] += 1000
            peer['transmit_bytes'] += 1000
            for key, value in (views or {}).get((observation['name'], peer['label']), {}).items():
                peer[key] = value
    return result
