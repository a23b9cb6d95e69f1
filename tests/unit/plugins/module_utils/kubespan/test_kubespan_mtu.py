# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MTU budget: KubeSpan = underlay - 80, Cilium VXLAN = KubeSpan - 50."""

from __future__ import annotations

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.mtu import check_mtu


def test_hetzner_private_network_budget_is_consistent():
    report, problems = check_mtu(underlay=1450, kubespan=1370, cilium=1320)
    assert problems == [] and report['ok'] is True
    assert (report['expected_kubespan'], report['expected_cilium']) == (1370, 1320)


def test_talos_default_kubespan_mtu_on_a_1500_underlay():
    report, problems = check_mtu(underlay=1500)
    assert problems == [] and report['kubespan'] == 1420 and report['expected_cilium'] == 1370


def test_the_default_1420_on_hetzner_private_network_is_too_big():
    _report, problems = check_mtu(underlay=1450, kubespan=1420)
    assert problems == ['KubeSpan MTU 1420 does not match underlay MTU 1450 - 80 = 1370: packets of full size do not '
                        'fit and are fragmented or dropped silently']


def test_a_smaller_mtu_works_but_wastes_bytes():
    _report, problems = check_mtu(underlay=1500, kubespan=1370, cilium=1320)
    assert problems == ['KubeSpan MTU 1370 does not match underlay MTU 1500 - 80 = 1420: it works but wastes 50 bytes '
                        'on every packet']


def test_cilium_must_leave_room_for_vxlan():
    _report, problems = check_mtu(underlay=1450, cilium=1370)
    assert problems == ['Cilium VXLAN MTU 1370 does not match KubeSpan MTU 1370 - 50 = 1320: packets of full size do not '
                        'fit and are fragmented or dropped silently']


def test_cilium_is_checked_against_the_given_kubespan_mtu_without_underlay():
    report, problems = check_mtu(kubespan=1420, cilium=1370)
    assert problems == [] and report['underlay'] is None


def test_every_node_must_use_the_cluster_mtu():
    _report, problems = check_mtu(underlay=1450, per_node={'home-w-1': 1420, 'vps-cp-1': 1370, 'home-w-2': None})
    assert problems == ['node home-w-1 has KubeSpan MTU 1420, the cluster 1370: every node must use the same MTU, or the '
                        'larger side sends packets the other cannot take']


def test_nothing_given_nothing_checked():
    report, problems = check_mtu()
    assert problems == [] and report['kubespan'] is None and report['expected_cilium'] is None


# ---------------------------------------------------------------------------- the budget per site

def test_the_budget_follows_the_layers_from_the_underlay():
    from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.mtu import budget
    report = budget(1500, [{'name': 'a', 'site': 'vps'}, {'name': 'b', 'site': 'home', 'underlay_mtu': 1500}])
    assert report['ok'] and (report['kubespan'], report['cilium'], report['pod']) == (1420, 1420, 1370)
    assert [row['site'] for row in report['sites']] == ['home', 'vps']


def test_a_site_with_a_smaller_underlay_fails_with_the_numbers():
    from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.mtu import budget
    report = budget(1500, [{'site': 'vps', 'underlay_mtu': 1450}, {'site': 'home'}])
    assert not report['ok']
    (problem,) = report['problems']
    assert 'site vps' in problem and '1450 - 80 = 1370' in problem and 'configs get 1420' in problem and 'to the smallest one' in problem


def test_an_explicit_cilium_mtu_must_match_kubespan():
    from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.mtu import budget
    assert budget(1450, cilium=1370)['ok']
    report = budget(1450, cilium=1420)
    assert not report['ok'] and 'Cilium MTU 1420' in report['problems'][0] and 'KubeSpan MTU 1370' in report['problems'][0]
    assert 'fragmented' in report['problems'][0]


def test_the_filter_takes_inventory_values_as_text():
    from ansible_collections.hybridops.talos.plugins.filter.mtu_budget import mtu_budget
    report = mtu_budget('1450', [{'site': 'vps', 'underlay_mtu': '1450'}, {'site': 'home', 'underlay_mtu': None}], cilium='')
    assert report['ok'] and report['pod'] == 1320 and report['lines'][0].split()[:2] == ['site', 'underlay']
