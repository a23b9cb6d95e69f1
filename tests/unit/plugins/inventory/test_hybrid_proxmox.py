"""Proxmox VM → inventory record: tags, selection, ipconfig0, VMID-derived address, agent last resort."""
import ipaddress

import pytest

from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_options import build_settings
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_proxmox import (
    agent_address, agent_enabled, ipconfig_addresses, normalise_vm, parse_tags, select, vmid_address)
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_retry import OddHostError

PVE = {'proxmox_url': 'https://pve:8006', 'proxmox_user': 'root@pam', 'proxmox_token_id': 'a',
       'proxmox_token_secret': 's'}


def pve(**options):
    return build_settings(dict(PVE, **options))['proxmox']


def vm(**changes):
    item = {'type': 'qemu', 'vmid': 110, 'name': 'home-w-0', 'node': 'pve1', 'status': 'running',
            'tags': 'talos-worker;zfs', 'template': 0}
    item.update(changes)
    return item


@pytest.mark.parametrize('raw, tags', [
    ('talos-worker;zfs', ['talos-worker', 'zfs']),
    ('Talos-Worker,zfs', ['talos-worker', 'zfs']),
    ('a b', ['a', 'b']),
    ('', []),
    (None, []),
])
def test_parse_tags(raw, tags):
    assert parse_tags(raw) == tags


@pytest.mark.parametrize('value, addresses', [
    ('ip=192.168.1.20/24,gw=192.168.1.1', ['192.168.1.20']),
    ('ip=dhcp', []),
    ('ip=192.168.1.20/24,ip6=fd00::20/64', ['192.168.1.20', 'fd00::20']),
    ('ip6=auto', []),
    ('gw=192.168.1.1', []),
])
def test_ipconfig_addresses(value, addresses):
    assert ipconfig_addresses(value) == addresses


def test_ipconfig_with_garbage_is_odd():
    with pytest.raises(OddHostError, match='ip=banana is not an address'):
        ipconfig_addresses('ip=banana')


def test_vmid_address_counts_from_the_network_address_minus_offset():
    subnet = ipaddress.ip_network('192.168.10.0/24')
    assert vmid_address(110, subnet, 100) == '192.168.10.10'
    assert vmid_address(254, subnet) == '192.168.10.254'
    for vmid in (100, 255, 300):
        with pytest.raises(OddHostError, match='does not fit'):
            vmid_address(vmid, subnet, 100 if vmid == 100 else 0)


@pytest.mark.parametrize('value, enabled', [('1', True), ('enabled=1,fstrim_cloned_disks=1', True), ('0', False),
                                            ('enabled=0', False), (None, False)])
def test_agent_enabled(value, enabled):
    assert agent_enabled({'agent': value} if value is not None else {}) is enabled


def test_agent_address_skips_loopback_and_link_local_and_prefers_ipv4():
    answer = {'result': [
        {'name': 'lo', 'ip-addresses': [{'ip-address': '127.0.0.1'}, {'ip-address': '::1'}]},
        {'name': 'eth0', 'ip-addresses': [{'ip-address': 'fe80::1'}, {'ip-address': 'fd00::5'},
                                          {'ip-address': '192.168.1.5'}]}]}
    assert agent_address(answer) == '192.168.1.5'
    assert agent_address({'result': []}) is None


def test_select_keeps_role_tagged_qemu_guests_that_match_tags_and_pool():
    resources = [vm(), vm(vmid=111, template=1), vm(vmid=112, type='lxc'), vm(vmid=113, tags='zfs'),
                 vm(vmid=114, tags='talos-controlplane', pool='talos'), vm(vmid=115, pool='talos')]
    assert [i['vmid'] for i in select(resources, pve())] == [110, 114, 115]
    assert [i['vmid'] for i in select(resources, pve(proxmox_pool='talos'))] == [114, 115]
    assert [i['vmid'] for i in select(resources, pve(proxmox_tags=['zfs']))] == [110, 115]


def test_static_ipconfig0_is_the_address_and_every_static_private_address_is_listed():
    config = {'ipconfig0': 'ip=192.168.1.20/24,gw=192.168.1.1', 'ipconfig1': 'ip=10.10.0.20/24', 'agent': '1'}
    agent_calls = []
    record = normalise_vm(vm(), config, pve(proxmox_vmid_subnet='192.168.10.0/24'), agent=lambda: agent_calls.append(1))
    assert (record['name'], record['role'], record['site']) == ('home-w-0', 'worker', 'home')
    assert record['address'] == '192.168.1.20'
    assert record['private_ips'] == ['192.168.1.20', '10.10.0.20']
    assert record['facts'] == {'proxmox_vmid': 110, 'proxmox_node': 'pve1', 'proxmox_status': 'running',
                               'proxmox_tags': ['talos-worker', 'zfs'], 'proxmox_pool': None}
    assert agent_calls == []


def test_vmid_subnet_is_used_when_ipconfig0_is_dhcp_and_the_agent_is_not_asked():
    record = normalise_vm(vm(), {'ipconfig0': 'ip=dhcp', 'agent': '1'},
                          pve(proxmox_vmid_subnet='192.168.10.0/24', proxmox_vmid_offset=100),
                          agent=lambda: pytest.fail('agent asked although a VMID address exists'))
    assert record['address'] == '192.168.10.10'


def test_agent_is_the_last_resort_only_for_a_running_vm_with_the_agent_enabled():
    assert normalise_vm(vm(), {'agent': '1'}, pve(), agent=lambda: '192.168.1.77')['address'] == '192.168.1.77'
    for item, config, settings in ((vm(status='stopped'), {'agent': '1'}, pve()),
                                   (vm(), {'agent': '0'}, pve()),
                                   (vm(), {'agent': '1'}, pve(proxmox_guest_agent=False))):
        with pytest.raises(OddHostError, match="Proxmox VM 110 'home-w-0' on node pve1 has no address"):
            normalise_vm(item, config, settings, agent=lambda: pytest.fail('agent asked'))


@pytest.mark.parametrize('tags, message', [('talos-worker;talos-controlplane', 'both of the role tags'),
                                           ('zfs', 'neither of the role tags')])
def test_vm_with_two_or_no_role_tags_is_odd(tags, message):
    with pytest.raises(OddHostError, match=message):
        normalise_vm(vm(tags=tags), {'ipconfig0': 'ip=192.168.1.20/24'}, pve())


def test_custom_role_tags():
    record = normalise_vm(vm(tags='k8s-cp'), {'ipconfig0': 'ip=192.168.1.9/24'},
                          pve(proxmox_controlplane_tag='k8s-cp', proxmox_worker_tag='k8s-w', proxmox_site='lab'))
    assert (record['role'], record['site']) == ('controlplane', 'lab')
