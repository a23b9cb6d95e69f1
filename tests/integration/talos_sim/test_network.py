"""The simulator's network: a namespace per node at the stand-ins' addresses, sites routed through the root namespace."""
import json
import os
import stat
import subprocess
import sys

import pytest

from lab_fixtures import run_unprivileged
from sim_support import listening
from talos_lab import PREFIX, talos_command

pytestmark = pytest.mark.lab


def _ip(*args):
    return json.loads(subprocess.run(['ip', '-j'] + list(args), capture_output=True, text=True, check=True).stdout or '[]')


def _gone(pid):
    """Exited (a zombie waiting for init to reap it counts as gone)."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
            return handle.read().rpartition(')')[2].split()[0] == 'Z'
    except OSError:
        return True


def test_up_is_fast_and_lists_every_node(sim):
    assert sim.up_seconds < 5
    names = [(n['name'], n['site'], n['role'], n['version']) for n in sim.record['nodes']]
    assert names == [('vps-0', 'vps', 'controlplane', 'v1.9.6'), ('vps-1', 'vps', 'controlplane', 'v1.9.6'),
                     ('home-cp-0', 'home', 'controlplane', 'v1.9.6'), ('home-w-0', 'home', 'worker', 'v1.9.6'),
                     ('home-w-1', 'home', 'worker', 'v1.13.9'), ('lab-pve-001', 'home', 'worker', 'v1.9.6')]
    # The seeds' addresses, moved into the test lab's networks with their host bits kept.
    expected = ['198.18.1.1', '198.18.1.2', '198.18.2.10', '198.18.2.20', '198.18.2.21', '198.19.0.3']
    assert [n['address'] for n in sim.record['nodes']] == expected
    assert stat.S_IMODE(os.stat(os.path.join(sim.state_dir, 'talos-nodes.json')).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(sim.state_dir, 'talos')).st_mode) == 0o700


def test_each_node_is_alone_in_its_namespace(sim):
    namespaces = {entry['name'] for entry in _ip('netns', 'list')}
    for node in sim.record['nodes']:
        assert node['netns'] == PREFIX + node['name'] and node['netns'] in namespaces
        links = _ip('-n', node['netns'], 'addr', 'show', 'dev', 'eth0')
        assert [a['local'] for a in links[0]['addr_info'] if a['family'] == 'inet'] == [node['address']]
        assert listening(node['address'])


def test_sites_meet_only_in_the_root_namespace(sim):
    bridges = {link['ifname'] for link in _ip('link', 'show', 'type', 'bridge')}
    assert {PREFIX + 'vps', PREFIX + 'home'} <= bridges
    # From a VPS node to a home node, the first hop is the root namespace's gateway on the VPS bridge.
    trace = subprocess.run(['ip', 'netns', 'exec', PREFIX + 'vps-0', 'ip', '-j', 'route', 'get', sim.address('home-cp-0')],
                           capture_output=True, text=True, check=True)
    assert json.loads(trace.stdout)[0]['gateway'] == '198.18.1.254'
    ping = subprocess.run(['ip', 'netns', 'exec', PREFIX + 'home-w-0', 'python3', '-c',
                           'import socket; socket.create_connection((%r, 50000), timeout=2)' % sim.address('vps-1')],
                          capture_output=True, text=True, check=False)
    assert ping.returncode == 0, ping.stderr


def test_second_up_changes_nothing(sim):
    pids = {name: open(os.path.join(sim.node_dir(name), 'node.pid'), encoding='ascii').read() for name in sim.nodes}
    proc = talos_command(sim.state_dir, 'up')
    assert proc.returncode == 0, proc.stderr
    assert {name: open(os.path.join(sim.node_dir(name), 'node.pid'), encoding='ascii').read() for name in sim.nodes} == pids
    status = talos_command(sim.state_dir, 'status')
    assert status.returncode == 0 and status.stdout.count('running') == 6


def test_down_removes_what_up_made(tmp_path):
    if os.geteuid() != 0:
        pytest.skip('needs root')
    state_dir = str(tmp_path / 'lab')
    options = dict(prefix='ltd-', remap='203.0.113.0/24=198.18.101.0/24,172.31.1.1/32=198.18.101.254/32,10.10.0.0/24=198.18.102.0/24')
    up = talos_command(state_dir, 'up', **options)
    assert up.returncode == 0, up.stderr
    pids = [int(open(os.path.join(state_dir, 'talos', name, 'node.pid'), encoding='ascii').read()) for name in ('vps-0', 'home-w-0')]
    assert all(os.path.exists('/proc/%d' % pid) for pid in pids)
    down = talos_command(state_dir, 'down', **options)
    assert down.returncode == 0, down.stderr
    assert not [entry for entry in _ip('netns', 'list') if entry['name'].startswith('ltd-')]
    assert not [link for link in _ip('link', 'show') if link['ifname'].startswith('ltd-')]
    assert all(_gone(pid) for pid in pids)
    assert not [route for route in _ip('route', 'show') if route.get('dst', '').startswith('198.18.10')]
    assert not os.path.exists(os.path.join(state_dir, 'talos-nodes.json'))


def test_says_it_needs_root(tmp_path):
    env = dict(os.environ, LAB_STATE_DIR=str(tmp_path / 'lab'), LAB_NETNS_PREFIX='ltr-')
    proc = run_unprivileged([sys.executable, '-m', 'lab.talos', 'up'], env)
    assert proc.returncode == 1, proc.stderr
    assert 'the Talos nodes need root' in proc.stderr
