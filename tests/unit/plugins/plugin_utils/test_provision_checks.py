"""Firewall, endpoint and KubeSpan checks of a planned cluster (pure logic behind the provisioning filters)."""
import socket

import pytest

from ansible_collections.hybridops.talos.plugins.plugin_utils import _provision as provision
from ansible_collections.hybridops.talos.plugins.filter.firewall_problems import firewall_problems

NODES = [
    {'name': 'vps-0', 'role': 'controlplane', 'site': 'vps', 'addresses': ['203.0.113.10', '10.0.1.10']},
    {'name': 'vps-1', 'role': 'controlplane', 'site': 'vps', 'addresses': ['203.0.113.11']},
    {'name': 'vps-w-0', 'role': 'worker', 'site': 'vps', 'addresses': ['203.0.113.12']},
    {'name': 'home-cp-0', 'role': 'controlplane', 'site': 'home', 'addresses': ['10.10.0.10']},
    {'name': 'home-w-0', 'role': 'worker', 'site': 'home', 'addresses': ['10.10.0.20']},
]


def test_admin_networks_are_required_without_a_default():
    for empty in (None, [], ''):
        problems, warnings = provision.firewall_problems(empty)
        assert len(problems) == 1 and 'admin_cidrs is empty' in problems[0] and not warnings


def test_the_world_is_refused_unless_explicitly_allowed_then_warned():
    problems, warnings = provision.firewall_problems(['198.51.100.0/24', '0.0.0.0/0'])
    assert problems and '0.0.0.0/0' in problems[0] and 'allow_world=true' in problems[0] and not warnings
    problems, warnings = provision.firewall_problems(['::/0'], allow_world=True)
    assert not problems and len(warnings) == 1 and '::/0' in warnings[0]
    assert firewall_problems(['198.51.100.7/32', '2001:db8::/48']) == {'problems': [], 'warnings': []}


def test_an_admin_entry_that_is_no_network_is_named():
    problems, _warnings = provision.firewall_problems(['198.51.100.0/24', 'office'])
    assert problems == ["hcloud_nodes_admin_cidrs entry 'office' is not an IP network in CIDR notation."]


def test_endpoint_at_a_hetzner_control_plane_passes_public_or_private():
    assert provision.endpoint_problems('https://203.0.113.10:6443', NODES) == []
    assert provision.endpoint_problems('https://10.0.1.10:6443', NODES) == []


def test_endpoint_at_a_home_address_is_refused_with_the_node_name():
    problems = provision.endpoint_problems('https://10.10.0.10:6443', NODES)
    assert len(problems) == 1 and 'the address of home-cp-0' in problems[0] and '203.0.113.10, 203.0.113.11' in problems[0]


def test_endpoint_at_a_hetzner_worker_is_refused_too():
    problems = provision.endpoint_problems('https://203.0.113.12:6443', NODES)
    assert len(problems) == 1 and 'the address of vps-w-0, not of a control plane of site vps' in problems[0]


def test_endpoint_elsewhere_and_bad_urls_are_refused():
    assert 'no control plane of this cluster' in provision.endpoint_problems('https://192.0.2.99:6443', NODES)[0]
    for bad in ('http://203.0.113.10:6443', '203.0.113.10', '', None):
        assert 'is not an https:// URL' in provision.endpoint_problems(bad, NODES)[0]


def test_a_dns_name_must_resolve_only_to_control_planes():
    def resolver(table):
        def resolve(host):
            if host not in table:
                raise socket.gaierror(-2, 'Name or service not known')
            return table[host]
        return resolve
    names = {'k8s.example.net': ['203.0.113.10', '203.0.113.11'], 'mixed.example.net': ['203.0.113.10', '10.10.0.20']}

    def check(url):
        return provision.endpoint_problems(url, NODES, resolve=resolver(names))

    assert check('https://k8s.example.net:6443') == []
    mixed = check('https://mixed.example.net:6443')
    assert len(mixed) == 1 and 'home-w-0' in mixed[0] and 'resolved on the controller' in mixed[0]
    missing = check('https://new.example.net:6443')
    assert len(missing) == 1 and 'does not resolve' in missing[0] and '203.0.113.10, 203.0.113.11' in missing[0]


@pytest.mark.parametrize('patch', [
    {'machine': {'network': {'kubespan': {'enabled': False}}}},
    {'apiVersion': 'v1alpha1', 'kind': 'KubeSpanConfig', 'enabled': False},
    {'cluster': {'discovery': {'enabled': False}}},
])
def test_patches_that_turn_kubespan_or_discovery_off_are_refused_behind_a_closed_firewall(patch):
    assert len(provision.kubespan_problems([{'machine': {'nodeLabels': {'a': 'b'}}}, patch])) == 1
    assert provision.kubespan_problems([patch], firewall_closed=False) == []


def test_patches_as_yaml_text_are_read_and_json_patches_and_files_left_to_the_renderer():
    assert len(provision.kubespan_problems(['machine:\n  network:\n    kubespan:\n      enabled: false\n'])) == 1
    assert provision.kubespan_problems([[{'op': 'remove', 'path': '/machine/network/kubespan'}], '@patches/off.yaml',
                                        'machine: [unclosed']) == []


def test_the_plan_of_both_roles_becomes_one_node_list_with_addresses():
    from ansible_collections.hybridops.talos.plugins.filter.planned_nodes import planned_nodes
    servers = [{'name': 'vps-0', 'role': 'controlplane', 'private_ip': '10.0.1.10'}, {'name': 'vps-1', 'role': 'controlplane'}]
    vms = [{'name': 'home-w-0', 'role': 'worker', 'node': 'pve1', 'vmid': 620, 'ip': '10.10.0.20/24'}]
    nodes = planned_nodes(servers, vms, {'vps-0': '203.0.113.10'})
    assert nodes == [
        {'name': 'vps-0', 'role': 'controlplane', 'site': 'vps', 'addresses': ['203.0.113.10', '10.0.1.10']},
        {'name': 'vps-1', 'role': 'controlplane', 'site': 'vps', 'addresses': []},
        {'name': 'home-w-0', 'role': 'worker', 'site': 'home', 'addresses': ['10.10.0.20']}]
    assert provision.endpoint_problems('https://203.0.113.10:6443', nodes) == []


@pytest.mark.parametrize('address,expected', [
    ('10.10.0.20', True), ('10.10.0.20:50000', True), ('203.0.113.10', False), ('[2001:db8::1]:50000', False),
    ('k8s.example.net', False), ('', False)])
def test_an_address_is_in_the_home_networks_or_not(address, expected):
    assert provision.in_networks(address, ['10.10.0.0/24', 'fd00::/8']) is expected
