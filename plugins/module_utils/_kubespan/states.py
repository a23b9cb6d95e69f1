# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talos' KubeSpan peer-state rules, applied the way Talos applies them (facts.md "KubeSpan").

Talos recomputes a peer's state every 30 s from three facts about it: when WireGuard last completed a
handshake, when Talos last switched the peer's endpoint, and whether any endpoint was ever used.
Re-applying the same rules on the controller's clock tells a fresh status from one that stopped
being refreshed, and explains every state in terms an operator can check.
"""

from __future__ import annotations

import datetime

# Seconds Talos gives a new endpoint before it may call the peer down (EndpointConnectionTimeout).
ENDPOINT_CONNECTION_TIMEOUT = 15.0
# Seconds without a handshake after which Talos calls a peer down (PeerDownInterval).
PEER_DOWN_INTERVAL = 275.0
# How often Talos refreshes the peer status resources (counters, state).
STATUS_REFRESH_INTERVAL = 30.0

UP = 'up'
DOWN = 'down'
UNKNOWN = 'unknown'
STATES = (UNKNOWN, UP, DOWN)  # index = the proto enum value KubespanPeerState

# Timestamps at or before this are Talos' "zero time" (never), whichever way it was encoded.
_NEVER_BEFORE = datetime.datetime(1970, 1, 2, tzinfo=datetime.timezone.utc)


def as_time(value):
    """An aware UTC datetime, or None for an unset or zero timestamp (Go's zero time, epoch 0)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    if value < _NEVER_BEFORE:
        return None
    return value


def age(moment, now):
    """Seconds from ``moment`` to ``now``; None when it never happened; never negative (clock skew)."""
    moment = as_time(moment)
    if moment is None:
        return None
    return max(0.0, (now - moment).total_seconds())


def peer_state(since_handshake, since_endpoint_change, endpoint_used):
    """The state Talos gives a peer, from ages in seconds (None = never happened).

    * within 15 s of an endpoint change: up if a handshake happened after the change, else unknown;
    * from 15 s to 275 s after the change: up if a handshake happened after the change, else down;
    * later: up if and only if the last handshake is younger than 275 s;
    * down while no endpoint was ever used is unknown: there was nothing to try yet.
    """
    never = float('inf')
    handshake = never if since_handshake is None else since_handshake
    change = never if since_endpoint_change is None else since_endpoint_change
    handshake_after_change = handshake < change
    if change < ENDPOINT_CONNECTION_TIMEOUT:
        state = UP if handshake_after_change else UNKNOWN
    elif change < PEER_DOWN_INTERVAL:
        state = UP if handshake_after_change else DOWN
    else:
        state = UP if handshake < PEER_DOWN_INTERVAL else DOWN
    if state == DOWN and not endpoint_used:
        state = UNKNOWN
    return state


def derived_state(status, now):
    """Talos' rules applied to one peer status (a dict from ``resources.peer_status``) at ``now``."""
    return peer_state(age(status.get('last_handshake_time'), now), age(status.get('last_endpoint_change'), now),
                      bool(status.get('last_used_endpoint')))


def effective_state(reported, derived):
    """One state for a peer: Talos' own when the rules agree with it, else the less healthy of the two.

    They disagree when the status was not refreshed (Talos refreshes every 30 s, or stopped doing it)
    or when the controller's clock and the node's differ.
    """
    if reported == derived:
        return reported
    if DOWN in (reported, derived):
        return DOWN
    return UNKNOWN
