"""KubeSpan peer states in the lab (lab/talos/kubespan.py): Talos' rules read from ``wg show``'s whole seconds."""
import pytest

from lab.talos.kubespan import next_endpoint, state_of, whole_second

ENDPOINT = '198.18.22.12:51820'


def state_at(now, handshake, change, last_used=ENDPOINT):
    """The state as ``Manager._refresh`` computes it: ``handshake`` in whole seconds (``wg show``), ``change`` exact."""
    return state_of(None if handshake is None else now - handshake, None if change is None else now - whole_second(change),
                    last_used)


@pytest.mark.parametrize('handshake, expected', [(100, 'up'), (101, 'up'), (99, 'down'), (None, 'down')])
def test_a_handshake_in_the_second_of_the_endpoint_change_counts_as_after_it(handshake, expected):
    # Endpoint set at 100.7, handshake at 100.9: wg shows 100. Read as older than the change, the peer would be down
    # from 115.7 on, until the next handshake (WireGuard rekeys after 2 minutes) - what CI saw after `lab heal`.
    assert state_at(120.0, handshake, 100.7) == expected


@pytest.mark.parametrize('now, handshake, expected', [
    (105.0, None, 'unknown'),   # within 15 s of the change, no handshake yet
    (105.0, 100, 'up'),
    (105.0, 90, 'unknown'),     # a handshake before the change says nothing about the new endpoint
    (130.0, 90, 'down'),        # 15 s after the change and still no handshake since
    (500.0, 300, 'up'),         # long after the change: up while the last handshake is under 275 s old
    (500.0, 200, 'down'),
])
def test_talos_timeline(now, handshake, expected):
    assert state_at(now, handshake, 100.3) == expected


def test_a_peer_never_given_an_endpoint_is_unknown_not_down():
    assert state_of(None, 30.0, None) == 'unknown'
    assert state_of(None, None, None) == 'unknown'


def test_whole_second_rounds_down():
    assert whole_second(100.999) == 100.0
    assert whole_second(100.0) == 100.0


def test_next_endpoint_rotates_and_keeps_a_single_one_in_use():
    assert next_endpoint([], None, None) is None
    assert next_endpoint([ENDPOINT], None, None) == ENDPOINT
    assert next_endpoint([ENDPOINT], ENDPOINT, ENDPOINT) is None
    assert next_endpoint([ENDPOINT], ENDPOINT, '198.18.21.254:40000') == ENDPOINT  # roamed away: set it again
    assert next_endpoint(['a:1', 'b:2'], 'a:1', 'a:1') == 'b:2'
    assert next_endpoint(['a:1', 'b:2'], 'b:2', 'b:2') == 'a:1'
    assert next_endpoint(['a:1', 'b:2'], 'gone:3', None) == 'a:1'
