# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every diagnosis of a broken KubeSpan link, from what both ends say about each other."""

from __future__ import annotations

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan import diagnose
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.verify import failure_message, verify

from kubespan_mesh import FIVE, ago, later, mesh

A, B = 'vps-cp-1', 'home-cp-1'


def both(**fields):
    return {(A, B): dict(fields), (B, A): dict(fields)}


def link(report, a=A, b=B):
    found = [item for item in report['links'] if item['nodes'] in ([a, b], [b, a])]
    assert len(found) == 1
    return found[0]


def only_broken(report, reason, a=A, b=B):
    broken = [item for item in report['links'] if not item['ok']]
    assert [item['nodes'] for item in broken] == [[a, b]], report['broken_links']
    assert broken[0]['reason'] == reason, broken[0]
    return broken[0]['message']


def test_a_healthy_link_has_no_diagnosis():
    assert all(item['ok'] and 'reason' not in item for item in verify(mesh())['links'])


def test_every_reason_code_is_listed_once():
    assert len(set(diagnose.REASONS)) == len(diagnose.REASONS) == 14


def test_a_stopped_node_is_unreachable_and_its_peers_see_it_down():
    report = verify(mesh(unreachable=[B], views={(other, B): dict(state='down', handshake=400) for other in FIVE}))
    message = link(report)['message']
    assert link(report)['reason'] == 'node_unreachable'
    assert message.startswith('node home-cp-1 did not answer on its Talos API (Talos API call List to node 10.0.0.3 failed')
    assert 'vps-cp-1 sees it down (last handshake 400 s ago): home-cp-1 is probably stopped or cut off' in message
    assert len(report['broken_links']) == 4


def test_an_unreachable_api_of_a_node_that_is_up_in_the_mesh_points_at_port_50000():
    message = link(verify(mesh(unreachable=[B])))['message']
    assert 'vps-cp-1 sees it up (last handshake 20 s ago), so the node runs and only its API is unreachable' in message
    assert '50000/tcp' in message


def test_two_unreachable_nodes():
    report = verify(mesh(unreachable=[A, B]))
    assert link(report)['reason'] == 'node_unreachable'
    assert link(report)['message'].startswith('neither vps-cp-1 nor home-cp-1 answered on its Talos API')


def test_a_peer_unknown_to_discovery():
    report = verify(mesh(no_peer=[(A, B)], not_member=[(A, B)]))
    message = only_broken(report, 'unknown_to_discovery')
    assert message.startswith("vps-cp-1's discovery does not know home-cp-1: home-cp-1 is not registered")
    assert 'same cluster id' in message


def test_a_member_without_kubespan_peer():
    message = only_broken(verify(mesh(no_peer=[(B, A)])), 'no_kubespan_peer')
    assert message.startswith('home-cp-1 knows vps-cp-1 as a cluster member but has no KubeSpan peer for it')


def test_one_way_when_one_end_sees_down_and_the_other_up():
    report = verify(mesh(views={(A, B): dict(state='down', handshake=400, change=600)}))
    message = only_broken(report, 'one_way')
    assert ('vps-cp-1 sees home-cp-1 down (last handshake 400 s ago) while home-cp-1 sees vps-cp-1 up '
            '(last handshake 20 s ago)') in message
    assert 'packets from home-cp-1 to vps-cp-1 are probably lost' in message


def test_one_way_when_one_end_never_received_anything():
    report = verify(mesh(views={(A, B): dict(state='down', handshake=None, rx=0, change=100),
                                (B, A): dict(state='down', handshake=None, rx=1480, change=100)}))
    message = only_broken(report, 'one_way')
    assert 'vps-cp-1 has received nothing from home-cp-1 while home-cp-1 has received 1480 bytes from vps-cp-1' in message
    assert 'drops UDP from home-cp-1 to port 51820 of vps-cp-1' in message


def test_one_way_between_two_samples():
    views = both(state='down', handshake=400, change=600)
    first = mesh(views=views)
    second = later(first, 35, views={(A, B): dict(receive_bytes=first[0]['peers'][1]['receive_bytes'])})
    message = only_broken(verify(second, first), 'one_way')
    assert 'between the samples vps-cp-1 received nothing from home-cp-1 while home-cp-1 received 1000 bytes' in message


def test_no_inbound_51820_on_either_side():
    report = verify(mesh(views=both(state='down', handshake=None, rx=0, change=100)))
    message = only_broken(report, 'no_inbound_51820')
    assert message.startswith('vps-cp-1 and home-cp-1 never completed a WireGuard handshake')
    assert '(vps-cp-1 tried 10.0.0.3:51820, home-cp-1 tried 10.0.0.1:51820)' in message
    assert 'open inbound 51820/udp on at least one of them' in message


def test_no_endpoint_ever_used():
    report = verify(mesh(views=both(state='unknown', handshake=None, used=False, rx=0, change=None)))
    message = only_broken(report, 'no_endpoint')
    assert message.startswith('vps-cp-1 has never had an endpoint of home-cp-1 to try')


def test_packets_both_ways_but_never_a_handshake():
    report = verify(mesh(views=both(state='down', handshake=None, rx=900, change=100)))
    assert 'keys do not match' in only_broken(report, 'handshake_failing')


def test_connecting_right_after_an_endpoint_change():
    report = verify(mesh(views={(A, B): dict(state='unknown', handshake=400, change=5),
                                (B, A): dict(state='down', handshake=400, change=600)}))
    message = only_broken(report, 'connecting')
    assert message == ('vps-cp-1 switched to endpoint 10.0.0.3:51820 of home-cp-1 5 s ago and is waiting for a '
                       'handshake: check again in a minute')


def test_endpoint_rotating_behind_nat():
    report = verify(mesh(views={(A, B): dict(state='down', handshake=400, change=100, endpoint='198.51.100.7:40123'),
                                (B, A): dict(state='down', handshake=400, change=600)}))
    message = only_broken(report, 'endpoint_rotating')
    assert message.startswith('vps-cp-1 keeps switching the endpoint of home-cp-1 without a handshake '
                              '(now 198.51.100.7:40123, changed 100 s ago; last handshake 400 s ago)')
    assert 'behind NAT' in message and 'forward UDP 51820 to home-cp-1' in message


def test_endpoint_rotating_seen_between_two_samples():
    first = mesh(views=both(state='down', handshake=400, change=600))
    # Talos moved on to the next endpoint 30 s before the second sample.
    second = later(first, 35, views={(B, A): dict(endpoint='203.0.113.9:51820', last_endpoint_change=ago(-5))})
    message = only_broken(verify(second, first), 'endpoint_rotating')
    assert 'home-cp-1 keeps switching the endpoint of vps-cp-1' in message
    assert '203.0.113.9:51820, changed 30 s ago, 10.0.0.1:51820 at the first sample' in message


def test_stale_handshake_after_an_outage():
    message = only_broken(verify(mesh(views=both(state='down', handshake=400, change=600))), 'stale_handshake')
    assert message.startswith('no WireGuard handshake between vps-cp-1 and home-cp-1 for 400 s while the endpoints stay '
                              'the same')
    assert 'siderolabs/talos#13160' in message


def test_a_status_that_talos_calls_down_against_its_own_rules():
    report = verify(mesh(views=both(state='down', handshake=200, change=600)))
    assert only_broken(report, 'peer_down') == ('vps-cp-1 sees home-cp-1 down (last handshake 200 s ago) and home-cp-1 '
                                                'sees vps-cp-1 down (last handshake 200 s ago)')


def test_handshake_too_old_on_an_up_link():
    report = verify(mesh(views={(A, B): dict(handshake=200)}), handshake_max_age=180)
    message = only_broken(report, 'handshake_too_old')
    assert 'the last handshake of vps-cp-1 with home-cp-1 is 200 s old, more than 180 s' in message


def test_traffic_stalled_on_an_up_link():
    first = mesh()
    second = later(first, 35, views={(A, B): dict(receive_bytes=first[0]['peers'][1]['receive_bytes'],
                                                  transmit_bytes=first[0]['peers'][1]['transmit_bytes']),
                                     (B, A): dict(receive_bytes=first[2]['peers'][0]['receive_bytes'],
                                                  transmit_bytes=first[2]['peers'][0]['transmit_bytes'])})
    message = only_broken(verify(second, first), 'traffic_stalled')
    assert 'vps-cp-1 exchanged no traffic with home-cp-1 between the samples (received +0, sent +0 bytes)' in message


def _silent_between_samples(first, *directions):
    """Views for ``later`` that freeze the counters of these directions."""
    peers = {(o['name'], p['label']): p for o in first for p in o.get('peers', ())}
    return {d: dict(receive_bytes=peers[d]['receive_bytes'], transmit_bytes=peers[d]['transmit_bytes']) for d in directions}


def test_a_silent_link_to_an_address_learnt_through_nat_is_a_lost_nat_mapping():
    # vps-cp-1 answered home-cp-1 at the home router's address; the router forgot the mapping.
    first = mesh(views={(A, B): dict(roamed_to='198.51.100.7:40312')})
    second = later(first, 35, views=_silent_between_samples(first, (A, B), (B, A)))
    message = only_broken(verify(second, first), 'nat_mapping_lost')
    assert 'vps-cp-1 sends to home-cp-1 at 198.51.100.7:40312, learnt from its packets (Talos set 10.0.0.3:51820)' in message
    assert 'only once the last handshake is 275 s old' in message and 'forward UDP 51820' in message


def test_a_link_through_nat_that_passes_traffic_is_healthy():
    first = mesh(views={(A, B): dict(roamed_to='198.51.100.7:40312')})
    assert all(item['ok'] for item in verify(later(first, 35), first)['links'])


def test_a_silent_link_whose_endpoints_are_the_advertised_ones_is_only_stalled():
    first = mesh()
    assert only_broken(verify(later(first, 35, views=_silent_between_samples(first, (A, B), (B, A))), first),
                       'traffic_stalled')


def test_cutting_the_site_link_reports_exactly_the_six_cross_site_links():
    vps, home = FIVE[:2], FIVE[2:]
    views = {}
    for a in vps:
        for b in home:
            views[(a, b)] = views[(b, a)] = dict(state='down', handshake=400, change=600)
    report = verify(mesh(views=views))
    assert sorted(report['broken_links']) == sorted('%s <-> %s (stale_handshake)' % (a, b) for a in vps for b in home)


def test_the_failure_message_is_one_sentence_naming_the_broken_links():
    report = verify(mesh(views=both(state='down', handshake=None, rx=0, change=100)),
                    mtu=dict(underlay=1450, kubespan=1420))
    assert failure_message(report) == (
        'The KubeSpan mesh of 5 nodes is not healthy: 1 of 10 links broken: vps-cp-1 <-> home-cp-1 (no_inbound_51820); '
        'MTU: KubeSpan MTU 1420 does not match underlay MTU 1450 - 80 = 1370: packets of full size do not fit and are '
        'fragmented or dropped silently.')


def test_with_two_samples_a_zero_counter_after_a_restart_is_not_one_way():
    # home-cp-1 restarted: its counters start from zero, and the link is down both ways since.
    views = {(A, B): dict(state='down', handshake=400, change=600),
             (B, A): dict(state='down', handshake=400, change=600, rx=0, tx=0)}
    first = mesh(views=views)
    still = {(A, B): dict(receive_bytes=first[0]['peers'][1]['receive_bytes']), (B, A): dict(receive_bytes=0)}
    second = later(first, 35, views=still)
    assert only_broken(verify(second, first), 'stale_handshake')


def test_one_way_on_a_link_both_ends_still_call_up():
    # Talos keeps both ends up for 275 s after the last handshake; the counters tell the truth sooner.
    first = mesh()
    second = later(first, 35, views={(A, B): dict(receive_bytes=first[0]['peers'][1]['receive_bytes'])})
    message = only_broken(verify(second, first), 'one_way')
    assert 'between the samples vps-cp-1 received nothing from home-cp-1' in message
