"""hybridops.talos.hcloud_nodes against the Hetzner stand-in, through the real hetzner.hcloud modules."""
import pytest
from hcloud import Client


pytestmark = pytest.mark.lab

SERVERS = [
    {'name': 'it-cp-0', 'role': 'controlplane', 'private_ip': '10.0.1.10'},
    {'name': 'it-cp-1', 'role': 'controlplane', 'private_ip': '10.0.1.11', 'location': 'nbg1'},
]


def writes(counters):
    """The API requests in a counter snapshot that are not reads."""
    return {k: v for k, v in counters['endpoints'].items() if not k.startswith('GET ')}


ADMIN = ['198.51.100.0/24']


def play(servers=None, **extra):
    role_vars = {'hcloud_nodes_cluster_name': 'it', 'hcloud_nodes_servers': SERVERS if servers is None else servers,
                 'hcloud_nodes_admin_cidrs': ADMIN}
    role_vars.update(extra)
    return [{'name': 'provision', 'hosts': 'localhost', 'gather_facts': False,
             'roles': [{'role': 'hybridops.talos.hcloud_nodes', 'vars': role_vars}]}]


def firewall_rules(firewall):
    return sorted((r.direction, r.protocol, r.port, tuple(r.source_ips)) for r in firewall.rules)


def expected_rules(admin, servers):
    nodes = tuple(sorted('%s/32' % s.public_net.ipv4.ip for s in servers))
    world = ('0.0.0.0/0', '::/0')
    return sorted([('in', 'tcp', '50000', tuple(admin)), ('in', 'tcp', '6443', tuple(admin)), ('in', 'tcp', '50001', nodes),
                   ('in', 'udp', '51820', world), ('in', 'icmp', None, world)])


def client(env):
    return Client(token=env['HCLOUD_TOKEN'], api_endpoint=env['HCLOUD_ENDPOINT'], poll_interval=0.1)


def test_create_then_unchanged_and_check_mode_honest(run_playbook, private_lab, private_control):
    hc = client(private_lab)
    private_control.reset_counters()
    check = run_playbook(play(), '--check', env=private_lab)
    assert check.rc == 0, check.stdout[-3000:]
    assert check.changed() > 0
    assert not writes(private_control.counters()), 'check mode wrote to the API'
    assert hc.servers.get_by_name('it-cp-0') is None

    first = run_playbook(play(), env=private_lab)
    assert first.rc == 0, first.stdout[-3000:]
    assert first.changed() > 0

    servers = {s.name: s for s in hc.servers.get_all(label_selector='cluster=it')}
    assert sorted(servers) == ['it-cp-0', 'it-cp-1']
    assert servers['it-cp-0'].labels == {'talos-role': 'controlplane', 'cluster': 'it'}
    assert servers['it-cp-1'].location.name == 'nbg1'
    assert [n.ip for n in servers['it-cp-0'].private_net] == ['10.0.1.10']
    assert [n.ip for n in servers['it-cp-1'].private_net] == ['10.0.1.11']
    group = hc.placement_groups.get_by_name('it-spread')
    assert group.type == 'spread' and sorted(group.servers) == sorted(s.id for s in servers.values())
    # Each server's public address is its own Primary IP, made before the server and kept after it.
    for name, server in servers.items():
        primary = hc.primary_ips.get_by_name(name + '-ipv4')
        assert primary.ip == server.public_net.ipv4.ip and primary.assignee_id == server.id and not primary.auto_delete
    # Closed by default: the APIs for the admin networks only, trustd for the cluster's own servers.
    firewall = hc.firewalls.get_by_name('it-talos')
    assert firewall_rules(firewall) == expected_rules(ADMIN, servers.values())
    assert sorted(a.server.id for a in firewall.applied_to) == sorted(s.id for s in servers.values())

    private_control.reset_counters()
    second = run_playbook(play(), env=private_lab)
    assert second.rc == 0 and second.changed() == 0, second.stdout[-3000:]
    assert not writes(private_control.counters()), 'the second run wrote to the API'

    again = run_playbook(play(), '--check', env=private_lab)
    assert again.rc == 0 and again.changed() == 0


BAD = [
    ({'servers': [dict(SERVERS[0], server_type='cpx31')]},
     'server it-cp-0: server type cpx31 is deprecated by Hetzner and will be removed; use cpx32 instead.'),
    ({'servers': [dict(SERVERS[0], server_type='cpx99')]}, 'server type cpx99 does not exist in the Hetzner catalog'),
    ({'servers': [dict(SERVERS[0], location='mars1')]}, 'location mars1 does not exist; known locations: fsn1'),
    ({'servers': SERVERS + [SERVERS[0]]}, 'node name it-cp-0 appears more than once.'),
    ({'servers': [SERVERS[0], dict(SERVERS[1], private_ip='10.0.1.10')]}, 'nodes it-cp-0 and it-cp-1 share the address 10.0.1.10.'),
    ({'servers': [dict(SERVERS[0], private_ip='10.9.0.1')]}, 'node it-cp-0 has private_ip 10.9.0.1 outside the subnet 10.0.1.0/24.'),
    ({'hcloud_nodes_image': '999'}, 'image 999 does not exist.'),
    ({'hcloud_nodes_image_selector': 'os=nothing'}, 'no snapshot matches the label selector os=nothing'),
    ({'hcloud_nodes_api_token': ''}, 'hcloud_nodes_api_token is empty: set it or the HCLOUD_TOKEN environment variable.'),
    ({'servers': []}, 'hcloud_nodes_servers is empty'),
    ({'servers': [{'name': 'x', 'role': 'master'}]}, 'value of role must be one of: controlplane, worker'),
    ({'hcloud_nodes_admin_cidrs': []}, 'admin_cidrs is empty: list the networks that may reach the Talos API'),
    ({'hcloud_nodes_admin_cidrs': ['198.51.100.0/24', '0.0.0.0/0']},
     'admin_cidrs contains 0.0.0.0/0, which opens the Talos API and the Kubernetes API to the whole internet'),
    ({'hcloud_nodes_admin_cidrs': ['office']}, "hcloud_nodes_admin_cidrs entry 'office' is not an IP network in CIDR notation."),
    ({'hcloud_nodes_user_data': {'it-cp-0': 'x' * 32769}},
     'server it-cp-0: its machine config is 32769 bytes, more than the 32 KiB (32768 bytes) Hetzner accepts'),
]


@pytest.mark.parametrize('args,message', BAD, ids=[m[:40] for _a, m in BAD])
def test_bad_input_fails_before_any_write(run_playbook, private_lab, private_control, args, message):
    args = dict(args)
    servers = args.pop('servers', None)
    private_control.reset_counters()
    run = run_playbook(play(servers, **args), json_output=False, env=private_lab)
    assert run.rc != 0
    assert message in run.stdout, run.stdout[-3000:]
    assert not writes(private_control.counters()), 'bad input led to a write'


def test_the_world_needs_the_explicit_flag_and_then_gets_a_warning(run_playbook, private_lab):
    world = ['0.0.0.0/0', '::/0']
    run = run_playbook(play([{'name': 'it-w-0', 'role': 'worker'}], hcloud_nodes_admin_cidrs=world,
                            hcloud_nodes_allow_world=True, hcloud_nodes_cluster_name='itw'), env=private_lab)
    assert run.rc == 0, run.failures()
    warned = [task['hosts']['localhost'] for play in run.data['plays'] for task in play['tasks']
              if task['task']['name'].endswith('Warn about a firewall open to the world') and 'localhost' in task['hosts']]
    assert warned and 'WARNING: hcloud_nodes_admin_cidrs contains 0.0.0.0/0, ::/0' in warned[0]['msg']
    firewall = client(private_lab).firewalls.get_by_name('itw-talos')
    assert ('in', 'tcp', '50000', tuple(world)) in firewall_rules(firewall)


def test_user_data_reaches_the_server_and_no_output(run_playbook, private_lab, private_control):
    canary = 'version: v1alpha1\n# canary-%s\n' % 'c4n4ry-user-data-0123456789'
    run = run_playbook(play([{'name': 'it-u-0', 'role': 'controlplane'}], hcloud_nodes_cluster_name='itu',
                            hcloud_nodes_user_data={'it-u-0': canary}), '-vvv', env=private_lab, json_output=False)
    assert run.rc == 0, run.stdout[-3000:]
    assert 'c4n4ry-user-data' not in run.stdout + run.stderr
    machine = next(m for m in private_control.machines() if m['name'] == 'it-u-0')
    assert machine['user_data'] == canary
