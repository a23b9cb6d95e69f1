"""playbooks/site.yml from nothing: the machines are created through the Hetzner and Proxmox stand-ins, the lab
turns them into Talos nodes, and the Talos stages configure them (real hetzner.hcloud and community.proxmox
modules, real gRPC and etcd on the nodes)."""
# pylint: disable=redefined-outer-name  # pytest fixtures as arguments
import os
import socket
import time

import pytest
from hcloud import Client

from lab_fixtures import lab_command
from provision_lab import ROOT, SITE, changed_tasks, run, total_changed
from lab.talos.userdata import maintenance_history

pytestmark = pytest.mark.lab

PROVISION = os.path.join(ROOT, 'playbooks', 'provision.yml')


def writes(counters):
    return {k: v for k, v in counters['endpoints'].items() if not k.startswith('GET ')}


BAD = [
    ({'hcloud_nodes_admin_cidrs': ['0.0.0.0/0']}, 'admin_cidrs contains 0.0.0.0/0, which opens the Talos API'),
    ({'talos_cluster_patches': [{'machine': {'network': {'kubespan': {'enabled': False}}}}]}, 'a patch turns KubeSpan off'),
    ({'proxmox_nodes_vms': [{'name': 'home-w-0', 'role': 'worker', 'node': 'pve1', 'vmid': 102, 'ip': '198.18.16.20'}]},
     '2 control planes is an even number'),
]


@pytest.mark.parametrize('extra,message', BAD, ids=['world', 'kubespan-off', 'even-etcd'])
def test_a_bad_plan_stops_before_anything_is_written(run_playbook, empty_lab, secrets_dir, extra, message):
    empty_lab.control.reset_counters()
    result = run(run_playbook, PROVISION, empty_lab, secrets_dir, **extra)
    assert result.rc != 0 and any(message in line for line in result.failures()), result
    assert not writes(empty_lab.control.counters()), 'a bad plan wrote to the Hetzner API'
    assert not os.path.exists(secrets_dir), 'a bad plan wrote the secrets'


def test_an_endpoint_at_home_stops_before_any_server_exists(run_playbook, empty_lab, secrets_dir):
    result = run(run_playbook, PROVISION, empty_lab, secrets_dir, talos_cluster_endpoint='https://198.18.16.10:6443')
    assert result.rc != 0, result
    assert any('points at 198.18.16.10, the address of home-cp-0' in line for line in result.failures()), result
    assert not empty_lab.control.machines(), 'a server was created'


def test_site_builds_the_cluster_from_nothing_then_changes_nothing(run_playbook, empty_lab, secrets_dir, built_cluster):
    built, _secrets = built_cluster
    assert built.rc == 0, built
    hc = Client(token=empty_lab.env['HCLOUD_TOKEN'], api_endpoint=empty_lab.env['HCLOUD_ENDPOINT'])
    servers = {s.name: s for s in hc.servers.get_all(label_selector='cluster=lab')}
    assert sorted(servers) == ['vps-0', 'vps-1']
    assert hc.networks.get_by_name('lab') and hc.placement_groups.get_by_name('lab-spread').type == 'spread'
    nodes = empty_lab.nodes()
    assert sorted(nodes) == ['home-cp-0', 'home-w-0', 'home-w-1', 'vps-0', 'vps-1']
    assert {n: nodes[n]['address'] for n in servers} == {n: s.public_net.ipv4.ip for n, s in servers.items()}

    # The firewall, exactly: the APIs only from the admin networks, trustd from the cluster's servers.
    world = ('0.0.0.0/0', '::/0')
    rules = sorted((r.direction, r.protocol, r.port, tuple(r.source_ips)) for r in hc.firewalls.get_by_name('lab-talos').rules)
    node_ips = tuple(sorted('%s/32' % s.public_net.ipv4.ip for s in servers.values()))
    assert rules == sorted([('in', 'tcp', '50000', ('198.18.15.254/32',)), ('in', 'tcp', '6443', ('198.18.15.254/32',)),
                            ('in', 'tcp', '50001', node_ips), ('in', 'udp', '51820', world), ('in', 'icmp', None, world)])

    # The servers booted from their user data: never in maintenance mode on their public address. The home
    # VMs were, on the home LAN, which is what they are for.
    for name in servers:
        assert maintenance_history(empty_lab.node_dir(name)) == [], '%s waited in maintenance mode' % name
    assert all(maintenance_history(empty_lab.node_dir(name)) for name in ('home-cp-0', 'home-w-0', 'home-w-1'))
    # ... and the apply stage found nothing to change on them.
    applied = [task for play in built.data['plays'] for task in play['tasks']
               if task['task']['name'].endswith('Render, validate and apply the machine config')]
    for name in servers:
        results = [task['hosts'][name] for task in applied if name in task['hosts'] and not task['hosts'][name].get('skipped')]
        assert results and not any(r['changed'] for r in results), '%s was changed by the apply stage' % name

    second = run(run_playbook, SITE, empty_lab, secrets_dir)
    assert second.rc == 0, second
    assert total_changed(second) == 0, changed_tasks(second)


def test_a_hetzner_server_without_user_data_is_not_configured_in_maintenance_mode(
        run_playbook, empty_lab, secrets_dir, built_cluster):  # pylint: disable=unused-argument
    """A server made elsewhere, without its config, waits in maintenance mode on its public address: the apply stage
    refuses to send it a config over that unauthenticated connection (only the home networks may)."""
    hc = Client(token=empty_lab.env['HCLOUD_TOKEN'], api_endpoint=empty_lab.env['HCLOUD_ENDPOINT'], poll_interval=0.1)
    from hcloud.images.domain import Image  # pylint: disable=import-outside-toplevel
    from hcloud.server_types.domain import ServerType  # pylint: disable=import-outside-toplevel
    created = hc.servers.create(name='vps-bare', server_type=ServerType(name='cpx32'), image=Image(id=300000001),
                                labels={'talos-role': 'worker', 'cluster': 'lab'})
    created.action.wait_until_finished()
    try:
        deadline = time.monotonic() + 60
        while not maintenance_history(empty_lab.node_dir('vps-bare')) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert maintenance_history(empty_lab.node_dir('vps-bare')), 'the bare server never came up'
        result = run(run_playbook, SITE, empty_lab, secrets_dir, '--skip-tags', 'provision,health')
        assert result.rc != 0
        refused = [line for line in result.failures() if line.startswith('vps-bare:')]
        assert refused and 'maintenance mode' in refused[0], result
        assert not os.path.exists(os.path.join(empty_lab.node_dir('vps-bare'), 'config.yaml')), 'it was configured'
    finally:
        hc.servers.delete(hc.servers.get_by_name('vps-bare')).wait_until_finished()


def test_a_controller_cut_off_the_home_network_manages_the_home_nodes_through_a_vps_control_plane(
        run_playbook, empty_lab, secrets_dir, built_cluster):  # pylint: disable=unused-argument
    """AWX in the cloud reaches no home LAN: with every packet from the controller to the home site dropped
    (nftables in the root namespace), site.yml still converges the whole cluster, every Talos call to a home node
    going through a Hetzner control plane's apid proxy (endpoint = control plane, node = home node)."""
    homes = {name: node['address'] for name, node in empty_lab.nodes().items() if name.startswith('home-')}
    fault = lab_command('fault', 'isolate', '--site', 'home', env=empty_lab.cli_env)
    assert fault.returncode == 0, fault.stderr
    try:
        for address in homes.values():
            with pytest.raises(OSError):  # the block holds: no direct way to the node's Talos API
                socket.create_connection((address, 50000), timeout=3).close()
        result = run(run_playbook, SITE, empty_lab, secrets_dir, talos_cluster_api_proxy=True)
        assert result.rc == 0, result
        assert total_changed(result) == 0, changed_tasks(result)
        # Not vacuous: every home node's config was compared (Talos' dry run) and the whole mesh was read.
        ran = {}
        for play in result.data['plays']:
            for task in play['tasks']:
                for host, res in task['hosts'].items():
                    if not res.get('skipped'):
                        ran.setdefault(task['task']['name'].split(' : ')[-1], {})[host] = res
        applied = dict(ran.get('Render, validate and apply the machine config', {}),
                       **ran.get('Render, validate and apply the machine config, one control plane at a time', {}))
        assert sorted(applied) == sorted(empty_lab.nodes()), sorted(applied)
        mesh = list(ran['Check that every KubeSpan link between the nodes is up'].values())
        assert [r['counts']['pairs_up'] for r in mesh] == [20], mesh
    finally:
        healed = lab_command('heal', env=empty_lab.cli_env)
        assert healed.returncode == 0, healed.stderr
