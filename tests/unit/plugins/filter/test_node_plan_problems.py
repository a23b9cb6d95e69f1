"""The node_plan_problems filter: names, static addresses and the subnet of planned nodes (pure logic)."""
import pytest

from ansible_collections.hybridops.talos.plugins.filter.node_plan_problems import node_plan_problems


NODES = [{'name': 'a', 'private_ip': '10.0.1.10'}, {'name': 'b', 'private_ip': '10.0.1.11'}, {'name': 'c'}]


def test_good_plan_has_no_problem():
    assert node_plan_problems(NODES, '10.0.1.0/24') == []


@pytest.mark.parametrize('nodes,subnet,message', [
    (NODES + [{'name': 'a'}], '10.0.1.0/24', 'node name a appears more than once.'),
    ([{'name': 'a', 'private_ip': '10.0.2.1'}], '10.0.1.0/24', 'node a has private_ip 10.0.2.1 outside the subnet 10.0.1.0/24.'),
    ([{'name': 'a', 'private_ip': 'ten'}], '10.0.1.0/24', "node a has private_ip 'ten', which is not an IP address."),
    ([{'name': 'a', 'private_ip': '10.0.1.255'}], '10.0.1.0/24', 'the network or broadcast address of 10.0.1.0/24'),
    (NODES + [{'name': 'd', 'private_ip': '10.0.1.10/24'}], '10.0.1.0/24', 'nodes a and d share the address 10.0.1.10.'),
    (NODES, 'not-a-net', "subnet 'not-a-net' is not a network in CIDR notation."),
])
def test_plan_problems_named(nodes, subnet, message):
    problems = node_plan_problems(nodes, subnet)
    assert any(message in p for p in problems), problems
