"""Merging both backends: duplicate names, groups, host variables, retry budget."""
import pytest

from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_merge import group_names, host_vars, merge
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_retry import (
    InventorySourceError, RetryableError, RetryBudget, network_reason)


def record(name, source='hcloud', role='controlplane', site='vps', origin=None):
    return {'name': name, 'source': source, 'origin': origin or '%s machine %s' % (source, name), 'role': role,
            'site': site, 'address': '192.0.2.1', 'private_ips': ['10.0.0.1'], 'facts': {'%s_id' % source: 1}}


def test_merge_sorts_hosts_of_both_backends_by_name():
    merged = merge([record('vps-1'), record('vps-0')], [record('home-w-0', 'proxmox', 'worker', 'home')])
    assert [r['name'] for r in merged] == ['home-w-0', 'vps-0', 'vps-1']


def test_same_name_on_both_backends_is_an_error_naming_both_machines():
    with pytest.raises(InventorySourceError) as err:
        merge([record('node-a', origin="Hetzner server 7 'node-a'")],
              [record('node-a', 'proxmox', origin="Proxmox VM 120 'node-a' on node pve2")])
    assert "host name 'node-a' is used by both Hetzner server 7 'node-a' and Proxmox VM 120 'node-a' on node pve2" \
        in str(err.value)


def test_same_name_twice_on_one_backend_is_also_an_error():
    with pytest.raises(InventorySourceError, match="'w' is used by both"):
        merge([], [record('w', 'proxmox', origin='VM 1'), record('w', 'proxmox', origin='VM 2')])


def test_groups_are_role_and_site():
    assert group_names(record('a')) == ['talos_controlplane', 'site_vps']
    assert group_names(record('b', role='worker', site='home')) == ['talos_worker', 'site_home']


def test_host_vars_carry_talos_vars_and_backend_facts():
    assert host_vars(record('a')) == {'talos_role': 'controlplane', 'talos_site': 'vps', 'ansible_host': '192.0.2.1',
                                      'talos_node_ip': '192.0.2.1', 'talos_private_ips': ['10.0.0.1'],
                                      'hcloud_id': 1}


def test_retry_budget_retries_transient_answers_within_the_budget():
    sleeps, answers = [], iter([RetryableError('rate_limit_exceeded')] * 3 + ['ok'])

    def call():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer
    budget = RetryBudget(5, 1.0, 3.0, sleep=sleeps.append)
    assert budget.call(call, 'GET /servers') == 'ok'
    assert budget.spent == 3
    assert len(sleeps) == 3 and sleeps[2] <= 3.0 and 0.5 <= sleeps[0] <= 1.0


def test_retry_budget_is_shared_by_requests_and_fails_clearly_when_spent():
    budget = RetryBudget(2, 0, 0, sleep=lambda s: None)

    def storm():
        raise RetryableError('HTTP 429')
    with pytest.raises(InventorySourceError, match=r'GET /a still answered HTTP 429 after 2 retries.*budget'):
        budget.call(storm, 'GET /a')
    with pytest.raises(InventorySourceError, match='after 2 retries'):
        budget.call(storm, 'GET /b')  # nothing left for the second request


def test_network_reason_is_short():
    assert network_reason(OSError("HTTPConnectionPool(host='x'): [Errno 111] Connection refused")) == 'connection refused'
    assert network_reason(ValueError('odd')) == 'ValueError'
