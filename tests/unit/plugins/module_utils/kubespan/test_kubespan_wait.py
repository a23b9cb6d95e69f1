# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When re-checking a mesh that is not healthy may still find it healthy (kubespan_verify wait_timeout)."""

from __future__ import annotations

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.verify import verify, worth_waiting

from kubespan_mesh import FIVE, mesh, status


def judged(observations, **mtu):
    return verify(observations, mtu=mtu or None), observations


def test_a_healthy_mesh_needs_no_wait():
    assert worth_waiting(*judged(mesh())) is False


@pytest.mark.parametrize('broken', [
    dict(views={('vps-cp-1', 'home-w-1'): dict(state='unknown', handshake=None, change=5, used=False),
                ('home-w-1', 'vps-cp-1'): dict(state='unknown', handshake=None, change=5, used=False)}),
    dict(no_peer=[('vps-cp-1', 'home-w-1')], not_member=[('vps-cp-1', 'home-w-1')]),
    dict(unreachable=['home-w-2']),
], ids=['fresh-peers-unknown', 'not-yet-discovered', 'node-rebooting'])
def test_links_that_may_still_come_up_are_worth_waiting_for(broken):
    report, observations = judged(mesh(**broken))
    assert report['healthy'] is False
    assert worth_waiting(report, observations) is True


def test_no_node_answering_is_worth_waiting_for_only_while_every_failure_may_pass():
    observations = mesh(unreachable=['vps-cp-1', 'vps-cp-2'], names=['vps-cp-1', 'vps-cp-2'])
    assert worth_waiting(None, observations) is True
    observations[0]['failure'] = dict(reason='wrong_ca')
    assert worth_waiting(None, observations) is False


@pytest.mark.parametrize('reason', ['wrong_ca', 'client_cert_expired', 'permission_denied', 'maintenance_mode'])
def test_a_node_refusing_us_or_in_maintenance_mode_ends_the_wait(reason):
    observations = mesh(unreachable=['home-w-2'])
    observations[-1]['failure'] = dict(reason=reason)
    report = verify(observations)
    assert worth_waiting(report, observations) is False


def test_an_mtu_mismatch_or_an_unexpected_peer_does_not_fix_itself():
    report, observations = judged(mesh(), underlay=1450, kubespan=1420)
    assert report['mtu']['problems'] and worth_waiting(report, observations) is False
    report, observations = judged(mesh(extra_members={'vps-cp-1': ['old-node']}))
    assert report['extras'] and worth_waiting(report, observations) is False


def test_a_peer_that_left_discovery_is_worth_waiting_for_until_talos_drops_it():
    leaver = status(FIVE + ['vps-w-0'], 'vps-w-0')
    report, observations = judged(mesh(extra_peers={'home-cp-1': [leaver]}))
    assert worth_waiting(report, observations) is True
    # Still one of the node's discovery members: a node missing from the list given, which waiting cannot fix.
    report, observations = judged(mesh(extra_peers={'home-cp-1': [leaver]}, extra_members={'home-cp-1': ['vps-w-0']}))
    assert worth_waiting(report, observations) is False
