"""The Hetzner stand-in driven by the real `hcloud` Python library."""
import pytest
import requests
from hcloud import APIException
from hcloud.actions.domain import ActionFailedException
from hcloud.firewalls.domain import FirewallResource, FirewallResourceLabelSelector, FirewallRule
from hcloud.images.domain import Image
from hcloud.locations.domain import Location
from hcloud.networks.domain import NetworkSubnet
from hcloud.placement_groups.domain import PlacementGroup
from hcloud.server_types.domain import ServerType

pytestmark = pytest.mark.lab

TALOS_PORTS = [('tcp', '50000'), ('tcp', '50001'), ('tcp', '6443'), ('udp', '51820'), ('icmp', None)]


def _wait(result):
    result.action.wait_until_finished()
    for action in result.next_actions or []:
        action.wait_until_finished()


@pytest.fixture
def server(hcloud_rw, agent):
    result = hcloud_rw.servers.create(name=agent, server_type=ServerType(name='cx23'), image=Image(name='debian-12'),
                                      location=Location(name='nbg1'), labels={'test': agent, 'talos-role': 'worker'})
    yield result
    if hcloud_rw.servers.get_by_name(agent) is not None:
        hcloud_rw.servers.delete(result.server).wait_until_finished()


def test_seed_control_planes_are_found_by_label(hcloud_ro):
    found = hcloud_ro.servers.get_all(label_selector='talos-role==controlplane,cluster=lab')
    assert sorted(s.name for s in found) >= ['vps-0', 'vps-1']
    vps0 = hcloud_ro.servers.get_by_name('vps-0')
    assert vps0.status == 'running'
    assert vps0.location.name == 'fsn1' and hcloud_ro.servers.get_by_name('vps-1').location.name == 'nbg1'
    assert all(loc.deprecation is None for loc in vps0.server_type.locations)
    assert vps0.public_net.ipv4.ip and vps0.private_net[0].ip.startswith('10.0.')
    assert vps0.placement_group.type == 'spread'


@pytest.mark.parametrize('selector, wanted, unwanted', [
    ('talos-role', {'vps-0', 'vps-1'}, set()),
    ('talos-role=controlplane', {'vps-0', 'vps-1'}, set()),
    ('talos-role!=controlplane', set(), {'vps-0', 'vps-1'}),
    ('!talos-role', set(), {'vps-0'}),
    ('talos-role in (controlplane,etcd)', {'vps-0'}, set()),
    ('talos-role notin (controlplane)', set(), {'vps-1'}),
    ('cluster==lab,talos-role in (controlplane)', {'vps-0', 'vps-1'}, set()),
])
def test_label_selector_grammar_is_applied_server_side(hcloud_ro, selector, wanted, unwanted):
    names = {s.name for s in hcloud_ro.servers.get_all(label_selector=selector)}
    assert wanted <= names
    assert not unwanted & names


def test_bad_label_selector_is_invalid_input(hcloud_ro):
    with pytest.raises(APIException) as caught:
        hcloud_ro.servers.get_all(label_selector='talos-role in (a')
    assert caught.value.code == 'invalid_input'


def test_pagination_meta_and_link_header(lab_env):
    headers = {'Authorization': 'Bearer ' + lab_env['HCLOUD_TOKEN_READONLY']}
    url = lab_env['HCLOUD_ENDPOINT'] + '/server_types'
    first = requests.get(url, params={'per_page': 5}, headers=headers, timeout=10)
    meta = first.json()['meta']['pagination']
    assert first.status_code == 200 and len(first.json()['server_types']) == 5
    assert meta['page'] == 1 and meta['previous_page'] is None and meta['next_page'] == 2
    assert meta['last_page'] == -(-meta['total_entries'] // 5)
    assert 'rel="next"' in first.headers['Link'] and 'rel="last"' in first.headers['Link']
    capped = requests.get(url, params={'per_page': 500}, headers=headers, timeout=10).json()
    assert capped['meta']['pagination']['per_page'] == 50


def test_library_walks_every_page(hcloud_ro):
    every = hcloud_ro.server_types.get_all()
    page, meta = hcloud_ro.server_types.get_list(page=2, per_page=4)
    assert len(every) == meta.pagination.total_entries
    assert [t.name for t in page] == [t.name for t in every[4:8]]


def test_deprecated_server_types_are_flagged(hcloud_ro, lab_env):
    cpx31 = hcloud_ro.server_types.get_by_name('cpx31')
    assert all(loc.deprecation is not None and loc.deprecation.unavailable_after for loc in cpx31.locations)
    assert all(loc.deprecation is None for loc in hcloud_ro.server_types.get_by_name('cpx32').locations)
    # The older top-level flags, read raw: the library warns when its deprecated properties are used.
    raw = requests.get(lab_env['HCLOUD_ENDPOINT'] + '/server_types', params={'name': 'cx22'}, timeout=10,
                       headers={'Authorization': 'Bearer ' + lab_env['HCLOUD_TOKEN_READONLY']}).json()['server_types'][0]
    assert raw['deprecated'] is True and raw['deprecation']['announced']


def test_create_runs_actions_to_success_and_server_to_running(hcloud_rw, server):
    assert server.action.status == 'running' and server.server.status == 'initializing'
    _wait(server)
    assert hcloud_rw.actions.get_by_id(server.action.id).status == 'success'
    created = hcloud_rw.servers.get_by_id(server.server.id)
    assert created.status == 'running' and created.public_net.ipv4.ip
    assert server.root_password


def test_duplicate_name_is_a_uniqueness_error(hcloud_rw, server):
    with pytest.raises(APIException) as caught:
        hcloud_rw.servers.create(name=server.server.name, server_type=ServerType(name='cx23'),
                                 image=Image(name='debian-12'))
    assert caught.value.code == 'uniqueness_error'


def test_labels_update_and_power_actions(hcloud_rw, server, agent):
    _wait(server)
    bound = hcloud_rw.servers.get_by_id(server.server.id)
    bound.update(labels={'test': agent, 'talos-role': 'controlplane'})
    assert hcloud_rw.servers.get_by_id(bound.id).labels['talos-role'] == 'controlplane'
    bound.shutdown().wait_until_finished()
    assert hcloud_rw.servers.get_by_id(bound.id).status == 'off'
    bound.power_on().wait_until_finished()
    assert hcloud_rw.servers.get_by_id(bound.id).status == 'running'
    bound.reboot().wait_until_finished()
    bound.power_off().wait_until_finished()
    assert hcloud_rw.servers.get_by_id(bound.id).status == 'off'


def test_injected_action_error_fails_the_action(hcloud_rw, hcloud_control, server):
    _wait(server)
    hcloud_control.fault('action_error', command='stop_server', resource=server.server.id, message='hypervisor said no')
    action = hcloud_rw.servers.get_by_id(server.server.id).power_off()
    with pytest.raises(ActionFailedException):
        action.wait_until_finished()
    failed = hcloud_rw.actions.get_by_id(action.id)
    assert failed.status == 'error' and failed.error['message'] == 'hypervisor said no'
    assert hcloud_rw.servers.get_by_id(server.server.id).status == 'running'


def test_network_attach_gives_a_private_address(hcloud_rw, server, agent):
    _wait(server)
    network = hcloud_rw.networks.create(name=agent, ip_range='10.77.0.0/16')
    try:
        network.add_subnet(NetworkSubnet(type='cloud', ip_range='10.77.1.0/24',
                                         network_zone='eu-central')).wait_until_finished()
        hcloud_rw.servers.get_by_id(server.server.id).attach_to_network(network).wait_until_finished()
        private = hcloud_rw.servers.get_by_id(server.server.id).private_net
        (address,) = [p.ip for p in private if p.network.id == network.id]
        assert address.startswith('10.77.1.') and address != hcloud_rw.networks.get_by_id(network.id).subnets[0].gateway
        assert [s.id for s in hcloud_rw.networks.get_by_id(network.id).servers] == [server.server.id]
    finally:
        if hcloud_rw.servers.get_by_id(server.server.id).private_net:
            hcloud_rw.servers.get_by_id(server.server.id).detach_from_network(network).wait_until_finished()
        hcloud_rw.networks.delete(network)


def test_firewall_rules_apply_to_server_and_selector(hcloud_rw, server, agent):
    _wait(server)
    rules = [FirewallRule(direction='in', protocol=proto, port=port, source_ips=['0.0.0.0/0', '::/0'])
             for proto, port in TALOS_PORTS]
    created = hcloud_rw.firewalls.create(
        name=agent, rules=rules[:2],
        resources=[FirewallResource(type='label_selector', label_selector=FirewallResourceLabelSelector('test=' + agent))])
    for action in created.actions:
        action.wait_until_finished()
    firewall = hcloud_rw.firewalls.get_by_id(created.firewall.id)
    try:
        applied = firewall.applied_to[0].applied_to_resources
        assert [r.server.id for r in applied] == [server.server.id]
        for action in firewall.set_rules(rules):
            action.wait_until_finished()
        got = hcloud_rw.firewalls.get_by_id(firewall.id).rules
        assert [(r.protocol, r.port) for r in got] == TALOS_PORTS
        for action in firewall.apply_to_resources([FirewallResource(type='server', server=server.server)]):
            action.wait_until_finished()
        assert firewall.id in [f.firewall.id for f in hcloud_rw.servers.get_by_id(server.server.id).public_net.firewalls]
        for action in firewall.remove_from_resources(hcloud_rw.firewalls.get_by_id(firewall.id).applied_to):
            action.wait_until_finished()
        assert hcloud_rw.firewalls.get_by_id(firewall.id).applied_to == []
    finally:
        hcloud_rw.firewalls.delete(firewall)


def test_firewall_rule_without_port_is_refused(hcloud_rw, agent):
    with pytest.raises(APIException) as caught:
        hcloud_rw.firewalls.create(name=agent, rules=[FirewallRule(direction='in', protocol='tcp', source_ips=['0.0.0.0/0'])])
    assert caught.value.code == 'invalid_input'


def test_spread_placement_group(hcloud_rw, server, agent):
    _wait(server)
    group = hcloud_rw.placement_groups.create(name=agent, type='spread').placement_group
    try:
        hcloud_rw.servers.get_by_id(server.server.id).add_to_placement_group(
            PlacementGroup(id=group.id)).wait_until_finished()
        assert hcloud_rw.placement_groups.get_by_id(group.id).servers == [server.server.id]
        assert hcloud_rw.servers.get_by_id(server.server.id).placement_group.id == group.id
    finally:
        hcloud_rw.servers.get_by_id(server.server.id).remove_from_placement_group().wait_until_finished()
        hcloud_rw.placement_groups.delete(group)


def test_ssh_keys(hcloud_rw, agent):
    lab_key = hcloud_rw.ssh_keys.get_by_name('lab')
    assert lab_key.fingerprint.count(':') == 15
    with pytest.raises(APIException) as caught:
        hcloud_rw.ssh_keys.create(name=agent, public_key=lab_key.public_key)
    assert caught.value.code == 'uniqueness_error'


def test_delete_removes_the_server(hcloud_rw, server):
    _wait(server)
    action = hcloud_rw.servers.delete(server.server)
    action.wait_until_finished()
    assert action.command == 'delete_server'
    assert hcloud_rw.servers.get_by_name(server.server.name) is None
    with pytest.raises(APIException) as caught:
        hcloud_rw.servers.get_by_id(server.server.id)
    assert caught.value.code == 'not_found'


def test_read_only_token_reads_but_cannot_write(hcloud_ro, agent):
    assert hcloud_ro.servers.get_by_name('vps-0') is not None
    with pytest.raises(APIException) as caught:
        hcloud_ro.servers.create(name=agent, server_type=ServerType(name='cx23'), image=Image(name='debian-12'))
    assert caught.value.code == 'token_readonly'
    assert caught.value.message == 'The token is only allowed to perform GET requests'
    assert hcloud_ro.servers.get_by_name(agent) is None


def test_unknown_token_is_unauthorized(lab_env):
    from hcloud import Client
    client = Client(token='not-a-lab-token', api_endpoint=lab_env['HCLOUD_ENDPOINT'])
    with pytest.raises(APIException) as caught:
        client.servers.get_all()
    assert caught.value.code == 'unauthorized'


def test_rate_limit_headers_come_from_the_bucket(lab_env):
    headers = {'Authorization': 'Bearer ' + lab_env['HCLOUD_TOKEN_READONLY']}
    answer = requests.get(lab_env['HCLOUD_ENDPOINT'] + '/locations', headers=headers, timeout=10)
    assert answer.headers['RateLimit-Limit'] == '3600'
    assert 0 < int(answer.headers['RateLimit-Remaining']) < 3600
    assert int(answer.headers['RateLimit-Reset']) > 0


def test_a_primary_ip_exists_before_its_server_and_outlives_it(hcloud_rw, hcloud_control, agent):
    from hcloud.servers.domain import ServerCreatePublicNetwork  # pylint: disable=import-outside-toplevel
    created = hcloud_rw.primary_ips.create(type='ipv4', name=agent + '-ipv4', location=Location(name='nbg1'),
                                           labels={'test': agent})
    primary = created.primary_ip
    assert primary.ip and primary.assignee_id is None and primary.auto_delete is False
    result = hcloud_rw.servers.create(name=agent, server_type=ServerType(name='cx23'), image=Image(name='debian-12'),
                                      location=Location(name='nbg1'), user_data='#cloud-config\n',
                                      public_net=ServerCreatePublicNetwork(ipv4=primary, enable_ipv6=False))
    _wait(result)
    server = hcloud_rw.servers.get_by_id(result.server.id)
    assert server.public_net.ipv4.ip == primary.ip and server.public_net.primary_ipv4.id == primary.id
    assert hcloud_rw.primary_ips.get_by_id(primary.id).assignee_id == server.id
    # The API never shows user data again; the lab's machines read it from the control endpoint.
    assert next(m for m in hcloud_control.machines() if m['id'] == server.id)['user_data'] == '#cloud-config\n'
    hcloud_rw.servers.delete(server).wait_until_finished()
    kept = hcloud_rw.primary_ips.get_by_id(primary.id)
    assert kept.assignee_id is None and kept.ip == primary.ip
    hcloud_rw.primary_ips.delete(kept)
    assert hcloud_rw.primary_ips.get_by_name(agent + '-ipv4') is None


def test_a_server_ip_is_a_primary_ip_that_goes_with_it(hcloud_rw, server):
    _wait(server)
    address = hcloud_rw.servers.get_by_id(server.server.id).public_net.primary_ipv4
    assert hcloud_rw.primary_ips.get_by_id(address.id).auto_delete is True
    hcloud_rw.servers.delete(server.server).wait_until_finished()
    with pytest.raises(APIException) as error:
        hcloud_rw.primary_ips.get_by_id(address.id)
    assert error.value.code == 'not_found'


def test_user_data_over_32_kib_is_invalid_input(hcloud_rw, agent):
    with pytest.raises(APIException) as error:
        hcloud_rw.servers.create(name=agent, server_type=ServerType(name='cx23'), image=Image(name='debian-12'),
                                 location=Location(name='nbg1'), user_data='x' * (32 * 1024 + 1))
    assert error.value.code == 'invalid_input' and 'user_data' in str(error.value.details)
    assert hcloud_rw.servers.get_by_name(agent) is None
