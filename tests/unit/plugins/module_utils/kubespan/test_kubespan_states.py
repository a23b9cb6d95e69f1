# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talos' KubeSpan peer-state rules at their boundary times (EndpointConnectionTimeout 15 s, PeerDownInterval 275 s)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan import states
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.states import (
    DOWN, UNKNOWN, UP, age, as_time, derived_state, effective_state, peer_state)

NOW = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.timezone.utc)


def test_the_timings_are_talos_own():
    assert states.ENDPOINT_CONNECTION_TIMEOUT == 15.0
    assert states.PEER_DOWN_INTERVAL == 275.0


# (seconds since the endpoint changed, seconds since the last handshake, endpoint ever used, state)
RULES = [
    # Within 15 s of an endpoint change: up if a handshake happened after the change, else unknown.
    (0.0, None, True, UNKNOWN),
    (14.9, 14.8, True, UP),
    (14.9, 15.0, True, UNKNOWN),
    (14.9, 14.9, True, UNKNOWN),  # at the same instant is not "after"
    (14.9, 100.0, True, UNKNOWN),
    # At 15 s the second band starts: no handshake since the change is down.
    (15.0, 14.9, True, UP),
    (15.0, 15.1, True, DOWN),
    (15.0, None, True, DOWN),
    (15.1, 15.0, True, UP),
    (15.1, 15.2, True, DOWN),
    (274.9, 274.8, True, UP),
    (274.9, 275.0, True, DOWN),
    # From 275 s on, only the handshake's own age counts: younger than 275 s is up.
    (275.0, 274.9, True, UP),
    (275.0, 275.0, True, DOWN),
    (275.0, 275.1, True, DOWN),
    (275.1, 274.9, True, UP),
    (275.1, 275.0, True, DOWN),
    (275.1, 275.1, True, DOWN),
    (10000.0, 274.9, True, UP),
    (10000.0, 20.0, True, UP),  # a long-settled endpoint with a fresh handshake
    (None, 274.9, True, UP),  # endpoint never changed (zero time): long ago
    (None, 275.0, True, DOWN),
    (None, None, True, DOWN),
    # Down while no endpoint was ever used is unknown; up and unknown stay as they are.
    (15.0, None, False, UNKNOWN),
    (274.9, 275.0, False, UNKNOWN),
    (275.1, 275.1, False, UNKNOWN),
    (None, None, False, UNKNOWN),
    (275.1, 274.9, False, UP),
    (14.9, None, False, UNKNOWN),
]


@pytest.mark.parametrize('since_change, since_handshake, used, expected', RULES)
def test_peer_state_follows_talos_rules(since_change, since_handshake, used, expected):
    assert peer_state(since_handshake, since_change, used) == expected


@pytest.mark.parametrize('since_change, since_handshake, used, expected', RULES)
def test_derived_state_applies_the_rules_to_timestamps_at_the_given_clock(since_change, since_handshake, used, expected):
    def at(seconds):
        return None if seconds is None else NOW - datetime.timedelta(seconds=seconds)
    status = dict(last_handshake_time=at(since_handshake), last_endpoint_change=at(since_change),
                  last_used_endpoint='192.0.2.1:51820' if used else None)
    assert derived_state(status, NOW) == expected
    # The same status judged 300 s later is no longer up: the clock is an input, not a hidden global.
    if since_handshake is not None:
        assert derived_state(status, NOW + datetime.timedelta(seconds=300)) != UP


@pytest.mark.parametrize('value', [
    None,
    datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc),  # Go's zero time.Time
    datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc),  # an all-zero Timestamp
])
def test_zero_timestamps_mean_never(value):
    assert as_time(value) is None
    assert age(value, NOW) is None


def test_naive_timestamps_are_utc_and_ages_never_go_negative():
    assert age(datetime.datetime(2026, 11, 26, 11, 59, 0), NOW) == 60.0
    # A node clock slightly ahead of the controller's: the handshake is "now", not in the future.
    assert age(NOW + datetime.timedelta(seconds=3), NOW) == 0.0


@pytest.mark.parametrize('reported, derived, expected', [
    (UP, UP, UP), (DOWN, DOWN, DOWN), (UNKNOWN, UNKNOWN, UNKNOWN),
    (UP, DOWN, DOWN),  # a status no longer refreshed: the rules see what Talos has not yet written
    (DOWN, UP, DOWN),
    (UP, UNKNOWN, UNKNOWN),
    (UNKNOWN, UP, UNKNOWN),
    (UNKNOWN, DOWN, DOWN),
])
def test_effective_state_is_the_less_healthy_on_disagreement(reported, derived, expected):
    assert effective_state(reported, derived) == expected
