# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The N x (N-1) matrix from every node's peer statuses and members."""

from __future__ import annotations

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.matrix import (
    MISSING, UNREACHABLE, address_host, build_matrix, resolve_names)
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.verify import MeshInputError, verify

from kubespan_mesh import FIVE, NOW, ago, later, mesh, status


def test_a_healthy_five_node_mesh_has_twenty_up_directions_and_ten_healthy_links():
    report = verify(mesh())
    assert report['healthy'] is True
    assert report['counts'] == dict(nodes=5, pairs=20, pairs_up=20, pairs_ok=20, links=10, links_ok=10)
    assert report['matrix']['vps-cp-1'] == {name: 'up' for name in FIVE[1:]}
    assert [(cell['from'], cell['to']) for cell in report['pairs']][:4] == [('vps-cp-1', other) for other in FIVE[1:]]
    assert report['problems'] == [] and report['broken_links'] == []


def test_twenty_nodes_give_380_directions_and_190_links():
    names = ['n-%02d' % index for index in range(20)]
    report = verify(mesh(names))
    assert report['counts']['pairs'] == 380 and report['counts']['links'] == 190 and report['healthy']


def test_a_missing_peer_is_a_missing_cell_known_or_not_to_discovery():
    cells, extras = build_matrix(mesh(no_peer=[('vps-cp-1', 'home-w-1')], not_member=[('vps-cp-1', 'home-w-1')]))
    cell = cells[('vps-cp-1', 'home-w-1')]
    assert cell['state'] == MISSING and cell['ok'] is False and cell['known_member'] is False
    assert cells[('home-w-1', 'vps-cp-1')]['state'] == 'up'
    assert extras == []
    cells, _extras = build_matrix(mesh(no_peer=[('vps-cp-1', 'home-w-1')]))
    assert cells[('vps-cp-1', 'home-w-1')]['known_member'] is True


def test_an_extra_peer_and_an_extra_member_are_reported_outside_the_matrix():
    stranger = status(FIVE + ['old-node'], 'old-node', endpoint='10.0.0.99:51820')
    observations = mesh(extra_peers={'vps-cp-2': [stranger]}, extra_members={'home-cp-1': ['old-node'], 'vps-cp-2': ['old-node']})
    report = verify(observations)
    assert report['extras'] == [
        'vps-cp-2 has a KubeSpan peer old-node (endpoint 10.0.0.99:51820) that is not one of the checked nodes',
        "vps-cp-2's discovery lists the member old-node, which is not one of the checked nodes",
        "home-cp-1's discovery lists the member old-node, which is not one of the checked nodes"]
    assert report['healthy'] is False and report['counts']['links_ok'] == 10


def test_a_peer_that_left_discovery_is_reported_as_leaving():
    # A node just reset: it left every node's discovery members, and Talos has not dropped its peer yet.
    leaver = status(FIVE + ['vps-w-0'], 'vps-w-0', endpoint='203.0.113.3:51820')
    report = verify(mesh(extra_peers={'home-cp-1': [leaver]}))
    assert report['extras'] == ['home-cp-1 has a KubeSpan peer vps-w-0 (endpoint 203.0.113.3:51820) that has left discovery '
                                'and is still being dropped']
    assert report['healthy'] is False


def test_an_unreachable_node_has_a_grey_row_but_its_column_is_still_known():
    cells, _extras = build_matrix(mesh(unreachable=['home-w-2']))
    assert all(cells[('home-w-2', other)]['state'] == UNREACHABLE for other in FIVE[:-1])
    assert all(cells[(other, 'home-w-2')]['state'] == 'up' for other in FIVE[:-1])


def test_peers_are_matched_by_label_else_by_endpoint_address():
    observations = mesh(views={('vps-cp-1', 'home-w-1'): dict()})
    observations[0]['peers'][2]['label'] = ''  # an unlabelled peer: its endpoint 10.0.0.4 is home-w-1's address
    cells, extras = build_matrix(observations)
    assert cells[('vps-cp-1', 'home-w-1')]['state'] == 'up' and extras == []


def test_nodes_given_by_address_get_their_name_from_their_own_members():
    observations = resolve_names(mesh(anonymous=['home-cp-1', 'vps-cp-2']))
    assert [o['name'] for o in observations] == FIVE


def test_a_node_without_its_address_in_members_is_the_member_not_among_its_peers():
    observations = mesh(anonymous=['home-cp-1'])
    for member in observations[2]['members']:
        member['addresses'] = ['172.16.0.%d' % len(member['name'])]
    assert resolve_names(observations)[2]['name'] == 'home-cp-1'


def test_an_unreachable_anonymous_node_is_named_by_the_others_members():
    observations = resolve_names(mesh(anonymous=['home-w-2'], unreachable=['home-w-2']))
    assert observations[4]['name'] == 'home-w-2'


def test_an_unreachable_anonymous_node_nobody_knows_is_named_by_its_address():
    observations = mesh(anonymous=['home-w-2'], unreachable=['home-w-2'], not_member=[(name, 'home-w-2') for name in FIVE])
    assert resolve_names(observations)[4]['name'] == '10.0.0.5'


def test_two_addresses_of_the_same_node_are_refused():
    observations = mesh(anonymous=['home-w-2'])
    observations[4]['members'] = [dict(name='home-w-1', hostname='home-w-1', addresses=['10.0.0.5'], machine_type='worker')]
    with pytest.raises(MeshInputError, match='the addresses 10.0.0.4 and 10.0.0.5 are both node home-w-1'):
        verify(observations)


def test_handshake_age_and_derived_state_are_measured_at_the_time_the_node_answered():
    cells, _extras = build_matrix(mesh(views={('vps-cp-1', 'vps-cp-2'): dict(handshake=100, change=20)}))
    cell = cells[('vps-cp-1', 'vps-cp-2')]
    assert cell['last_handshake_age'] == 100.0 and cell['last_endpoint_change_age'] == 20.0
    # Talos wrote "up" but the handshake is older than the endpoint change: its own rules say down.
    assert cell['reported_state'] == 'up' and cell['derived_state'] == 'down' and cell['state'] == 'down'
    assert cell['failed'] == ['not_up', 'status_disagrees']


def test_handshake_older_than_the_limit_fails_an_up_direction():
    observations = mesh(views={('vps-cp-1', 'vps-cp-2'): dict(handshake=200)})
    cells, _extras = build_matrix(observations, handshake_max_age=180)
    assert cells[('vps-cp-1', 'vps-cp-2')]['state'] == 'up'
    assert cells[('vps-cp-1', 'vps-cp-2')]['failed'] == ['handshake_too_old']
    cells, _extras = build_matrix(observations)
    assert cells[('vps-cp-1', 'vps-cp-2')]['ok'] is True


def test_two_samples_give_traffic_deltas_and_flag_silent_directions():
    first = mesh()
    second = later(first, 35, views={('vps-cp-1', 'vps-cp-2'): dict(receive_bytes=5000)})
    cells, _extras = build_matrix(second, first)
    assert cells[('vps-cp-2', 'vps-cp-1')]['receive_delta'] == 1000
    quiet = cells[('vps-cp-1', 'vps-cp-2')]
    assert quiet['receive_delta'] == 0 and quiet['transmit_delta'] == 1000 and quiet['failed'] == ['no_traffic']


def test_a_counter_that_went_backwards_counts_from_zero():
    first = mesh()
    second = later(first, 35, views={('vps-cp-1', 'vps-cp-2'): dict(receive_bytes=300, transmit_bytes=200)})
    cell = build_matrix(second, first)[0][('vps-cp-1', 'vps-cp-2')]
    assert (cell['receive_delta'], cell['transmit_delta']) == (300, 200)


def test_observed_at_is_the_clock():
    observations = mesh(now=NOW)
    observations[0]['peers'][0]['last_handshake_time'] = ago(274.9)
    assert build_matrix(observations)[0][('vps-cp-1', 'vps-cp-2')]['state'] == 'up'
    observations[0]['observed_at'] = ago(-0.2)
    assert build_matrix(observations)[0][('vps-cp-1', 'vps-cp-2')]['state'] == 'down'


def test_address_host_strips_ports_and_brackets():
    assert address_host('192.0.2.1') == '192.0.2.1'
    assert address_host('192.0.2.1:50001') == '192.0.2.1'
    assert address_host('[2001:db8::1]:50000') == '2001:db8::1'
    assert address_host('not/an/address') == 'not/an/address'
