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


def play(servers=None, **extra):
    role_vars = {'hcloud_nodes_cluster_name': 'it', 'hcloud_nodes_servers': SERVERS if servers is None else servers}
    role_vars.update(extra)
    return [{'name': 'provision', 'hosts': 'localhost', 'gather_facts': False,
             'roles': [{'role': 'hybridops.talos.hcloud_nodes', 'vars': role_vars}]}]


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
    firewall = hc.firewalls.get_by_name('it-talos')
    inbound = sorted((r.protocol, r.port) for r in firewall.rules if r.direction == 'in')
    assert inbound == [('icmp', None), ('tcp', '50000'), ('tcp', '50001'), ('tcp', '6443'), ('udp', '51820')]
    assert all(r.source_ips == ['0.0.0.0/0', '::/0'] for r in firewall.rules)
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
