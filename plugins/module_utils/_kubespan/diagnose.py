# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a KubeSpan link between two nodes is broken, in words an operator can act on.

A link is judged from both ends at once: what A says about B and what B says about A. The first
rule that fits wins, from the most basic cause (a node did not answer) to the most specific.
"""

from __future__ import annotations

from .matrix import HANDSHAKE_TOO_OLD, MISSING, NO_TRAFFIC, UNREACHABLE
from .states import ENDPOINT_CONNECTION_TIMEOUT, PEER_DOWN_INTERVAL, STATUS_REFRESH_INTERVAL, DOWN, UP

# Reason codes, in the order the rules try them.
NODE_UNREACHABLE = 'node_unreachable'
UNKNOWN_TO_DISCOVERY = 'unknown_to_discovery'
NO_KUBESPAN_PEER = 'no_kubespan_peer'
ONE_WAY = 'one_way'
NO_ENDPOINT = 'no_endpoint'
NO_INBOUND_51820 = 'no_inbound_51820'
HANDSHAKE_FAILING = 'handshake_failing'
CONNECTING = 'connecting'
ENDPOINT_ROTATING = 'endpoint_rotating'
STALE_HANDSHAKE = 'stale_handshake'
PEER_DOWN = 'peer_down'
NAT_MAPPING_LOST = 'nat_mapping_lost'
TRAFFIC_STALLED = 'traffic_stalled'

REASONS = (NODE_UNREACHABLE, UNKNOWN_TO_DISCOVERY, NO_KUBESPAN_PEER, ONE_WAY, NO_ENDPOINT, NO_INBOUND_51820,
           HANDSHAKE_FAILING, CONNECTING, ENDPOINT_ROTATING, STALE_HANDSHAKE, PEER_DOWN, HANDSHAKE_TOO_OLD,
           NAT_MAPPING_LOST, TRAFFIC_STALLED)

# An endpoint change this recent, with no handshake since, is Talos still rotating through endpoints:
# it moves on from a down peer at each 30 s refresh.
_ROTATION_WINDOW = PEER_DOWN_INTERVAL + STATUS_REFRESH_INTERVAL


def _seconds(value):
    return '%d s' % round(value)


def _handshake_text(cell):
    if cell.get('last_handshake_age') is None:
        return 'no handshake ever'
    return 'last handshake %s ago' % _seconds(cell['last_handshake_age'])


def _never_received(cell):
    return cell.get('receive_bytes') == 0


def _unreachable(a, b, ab, ba, errors):
    errors = {name: error.rstrip('.') for name, error in errors.items()}
    if ab['state'] == UNREACHABLE and ba['state'] == UNREACHABLE:
        return ('neither %s nor %s answered on its Talos API (%s; %s), so the link between them cannot be judged: '
                'check that both nodes run and that port 50000/tcp is reachable from here' % (a, b, errors[a], errors[b]))
    silent, other, view = (a, b, ba) if ab['state'] == UNREACHABLE else (b, a, ab)
    text = 'node %s did not answer on its Talos API (%s); ' % (silent, errors[silent])
    if view['state'] == MISSING:
        return text + '%s has no KubeSpan peer for it either: check that %s runs and is registered in discovery' % (other, silent)
    if view['state'] == UP:
        return text + ('%s sees it up (%s), so the node runs and only its API is unreachable from here: '
                       'check port 50000/tcp from the controller' % (other, _handshake_text(view)))
    return text + ('%s sees it %s (%s): %s is probably stopped or cut off from the network'
                   % (other, view['state'], _handshake_text(view), silent))


def _missing(viewer, peer, cell):
    if not cell['known_member']:
        return UNKNOWN_TO_DISCOVERY, (
            "%s's discovery does not know %s: %s is not registered with the discovery service for this cluster; check "
            'that discovery is enabled on %s with the same cluster id and that it reaches the discovery service '
            '(443/tcp outbound)' % (viewer, peer, peer, peer))
    return NO_KUBESPAN_PEER, ('%s knows %s as a cluster member but has no KubeSpan peer for it: check that KubeSpan is '
                              'enabled on %s and that it publishes its KubeSpan identity' % (viewer, peer, peer))


def _one_way_by_growth(a, b, ab, ba):
    """One-way evidence from two samples: one end's receive counter grew, the other's did not."""
    if 'receive_delta' not in ab or 'receive_delta' not in ba:
        return None
    # Growth between samples is the better evidence: a counter can be zero because a node restarted.
    if bool(ab['receive_delta']) == bool(ba['receive_delta']):
        return None
    deaf, talker = (a, b) if not ab['receive_delta'] else (b, a)
    got = ba['receive_delta'] if deaf == a else ab['receive_delta']
    return deaf, talker, ('between the samples %s received nothing from %s while %s received %d bytes from %s'
                          % (deaf, talker, talker, got, deaf))


def _one_way(a, b, ab, ba):
    """(deaf, talker, evidence): ``deaf`` gets nothing from ``talker`` while the reverse direction works."""
    ab_up, ba_up = ab['state'] == UP, ba['state'] == UP
    if ab_up and ba_up:
        # Talos keeps both ends up until the last handshake is 275 s old, but keepalives make both
        # counters grow on a working link: growth on one side only shows a one-way loss long before.
        return _one_way_by_growth(a, b, ab, ba)
    if ab_up != ba_up:
        deaf, talker, view, other_view = (a, b, ab, ba) if not ab_up else (b, a, ba, ab)
        # Unknown is Talos still trying a new endpoint: too early to call it one-way.
        if view['state'] != DOWN:
            return None
        return deaf, talker, '%s sees %s down (%s) while %s sees %s up (%s)' % (
            deaf, talker, _handshake_text(view), talker, deaf, _handshake_text(other_view))
    if 'receive_delta' in ab and 'receive_delta' in ba:
        return _one_way_by_growth(a, b, ab, ba)
    if _never_received(ab) != _never_received(ba):
        deaf, talker = (a, b) if _never_received(ab) else (b, a)
        got = ba['receive_bytes'] if deaf == a else ab['receive_bytes']
        return deaf, talker, '%s has received nothing from %s while %s has received %d bytes from %s' % (
            deaf, talker, talker, got, deaf)
    return None


def _rotating(cell):
    """Whether the viewer is switching endpoints of a down peer (true for NAT that moves the peer)."""
    if cell['state'] == UP:
        return False
    if cell.get('endpoint_changed'):
        return True
    change = cell.get('last_endpoint_change_age')
    handshake = cell.get('last_handshake_age')
    return change is not None and change < _ROTATION_WINDOW and (handshake is None or handshake > change)


def diagnose_link(a, b, ab, ba, errors):
    """``(reason, message)`` for the link between nodes ``a`` and ``b``, or None when it is healthy.

    ``ab`` is what ``a`` says about ``b`` (a matrix cell), ``ba`` the reverse; ``errors`` maps
    the name of a node that did not answer to its error.
    """
    if ab['ok'] and ba['ok']:
        return None
    if UNREACHABLE in (ab['state'], ba['state']):
        return NODE_UNREACHABLE, _unreachable(a, b, ab, ba, errors)
    for viewer, peer, cell in ((a, b, ab), (b, a, ba)):
        if cell['state'] == MISSING:
            return _missing(viewer, peer, cell)
    one_way = _one_way(a, b, ab, ba)
    if one_way is not None:
        deaf, talker, evidence = one_way
        return ONE_WAY, ('traffic flows one way only: %s; packets from %s to %s are probably lost: look for a firewall rule or '
                         'NAT that drops UDP from %s to port 51820 of %s in that direction only'
                         % (evidence, talker, deaf, talker, deaf))
    if ab['state'] == UP and ba['state'] == UP:
        return _up_but_failing(a, b, ab, ba)
    if ab.get('last_handshake_age') is None and ba.get('last_handshake_age') is None:
        return _never_connected(a, b, ab, ba)
    for viewer, peer, cell in ((a, b, ab), (b, a, ba)):
        change = cell.get('last_endpoint_change_age')
        if (cell['state'] != UP and not cell.get('endpoint_changed') and change is not None
                and change < ENDPOINT_CONNECTION_TIMEOUT):
            return CONNECTING, ('%s switched to endpoint %s of %s %s ago and is waiting for a handshake: '
                                'check again in a minute' % (viewer, cell.get('endpoint'), peer, _seconds(change)))
    for viewer, peer, cell in ((a, b, ab), (b, a, ba)):
        if _rotating(cell):
            return ENDPOINT_ROTATING, _rotation_text(viewer, peer, cell)
    oldest = max((ab, ba), key=lambda cell: cell.get('last_handshake_age') or 0)
    if (oldest.get('last_handshake_age') or 0) >= PEER_DOWN_INTERVAL:
        return STALE_HANDSHAKE, (
            'no WireGuard handshake between %s and %s for %s while the endpoints stay the same (%s tries %s, %s tries %s): '
            'the path between them is broken, or was and the pair did not recover after the outage; check UDP 51820 '
            'both ways between them, and if the path works and the pair stays down (siderolabs/talos#13160), '
            'reboot one of the two nodes to restart its KubeSpan'
            % (a, b, _seconds(oldest['last_handshake_age']), a, ab.get('endpoint'), b, ba.get('endpoint')))
    return PEER_DOWN, '%s sees %s %s (%s) and %s sees %s %s (%s)' % (
        a, b, ab['state'], _handshake_text(ab), b, a, ba['state'], _handshake_text(ba))


def _never_connected(a, b, ab, ba):
    for viewer, peer, cell in ((a, b, ab), (b, a, ba)):
        if not cell.get('last_used_endpoint'):
            return NO_ENDPOINT, ('%s has never had an endpoint of %s to try: %s advertises no address %s can use; '
                                 'check the addresses %s publishes to discovery and the KubeSpan filters'
                                 % (viewer, peer, peer, viewer, peer))
    if _never_received(ab) and _never_received(ba):
        return NO_INBOUND_51820, (
            '%s and %s never completed a WireGuard handshake and neither has received anything from the other '
            '(%s tried %s, %s tried %s): UDP 51820 reaches neither node; open inbound 51820/udp on at least one '
            'of them (cloud firewall, home router port forward)' % (a, b, a, ab.get('endpoint'), b, ba.get('endpoint')))
    return HANDSHAKE_FAILING, (
        '%s and %s receive packets from each other but never completed a WireGuard handshake: their KubeSpan '
        'keys do not match (was a node reinstalled while the other still holds its old public key?)' % (a, b))


def _rotation_text(viewer, peer, cell):
    was = ''
    if cell.get('endpoint_changed') and cell.get('previous_endpoint') != cell.get('endpoint'):
        was = ', %s at the first sample' % cell.get('previous_endpoint')
    change = cell.get('last_endpoint_change_age')
    return ('%s keeps switching the endpoint of %s without a handshake (now %s%s%s; %s): the address %s knows for %s '
            'does not answer, as when %s sits behind NAT whose public address or port changed; forward UDP 51820 '
            'to %s or make sure %s can reach an open 51820/udp on %s'
            % (viewer, peer, cell.get('endpoint'), ', changed %s ago' % _seconds(change) if change is not None else '',
               was, _handshake_text(cell), viewer, peer, peer, peer, peer, viewer))


def _up_but_failing(a, b, ab, ba):
    old = [p for cell in (ab, ba) for code, p in zip(cell['failed'], cell['problems']) if code == HANDSHAKE_TOO_OLD]
    if old:
        return HANDSHAKE_TOO_OLD, ('the link is up but %s: it rekeys too rarely, or is about to be declared down'
                                   % '; '.join(old))
    roamed = [(viewer, peer, cell) for viewer, peer, cell in ((a, b, ab), (b, a, ba))
              if NO_TRAFFIC in cell['failed'] and _roamed(cell)]
    if roamed:
        return NAT_MAPPING_LOST, _roamed_text(roamed)
    quiet = [p for cell in (ab, ba) for code, p in zip(cell['failed'], cell['problems']) if code == NO_TRAFFIC]
    return TRAFFIC_STALLED, ('the link is up but %s: not even WireGuard keepalives arrive, so the tunnel is probably '
                             'dead and Talos has not noticed yet' % '; '.join(quiet))


def _roamed(cell):
    """Whether WireGuard left the endpoint Talos set for an address it learnt from the peer's own packets.

    WireGuard answers a peer wherever its packets come from (roaming): behind NAT, that is the router's
    public address and port, which live only as long as the router's mapping.
    """
    endpoint, used = cell.get('endpoint'), cell.get('last_used_endpoint')
    return bool(endpoint and used and endpoint != used)


def _roamed_text(roamed):
    sends = '; '.join('%s sends to %s at %s, learnt from its packets (Talos set %s)'
                      % (viewer, peer, cell['endpoint'], cell['last_used_endpoint']) for viewer, peer, cell in roamed)
    return ('the link is up but silent and %s: a NAT or firewall mapping that has expired or changed. Talos goes back '
            'to the advertised endpoint only once the last handshake is %s old; forward UDP 51820 to the node behind '
            'NAT so it keeps one public address and port, or reboot one of the two nodes to recover now'
            % (sends, _seconds(PEER_DOWN_INTERVAL)))
