"""`lab up` is all or nothing: failing part-way it stops what it started; over a half-running lab it starts afresh.

Each test runs a lab of its own (state directory, ports, namespace prefix and networks), beside the main one.
The failure is injected the way the lab documents it: LAB_TALOS_READY_TIMEOUT=0 gives the Talos nodes no
time to listen, so `up` fails after the Hetzner and Proxmox stand-ins answered and the nodes were started.
"""
import json
import os
import socket
import subprocess

import pytest

from lab_fixtures import lab_command

pytestmark = pytest.mark.lab

PREFIX = 'lfu-'
REMAP = '203.0.113.0/24=198.18.51.0/24,172.31.1.1/32=198.18.51.254/32,10.10.0.0/24=198.18.52.0/24,10.11.0.0/16=10.161.0.0/16'


@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.skip('the lab needs root')


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _port_free(port):
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(('127.0.0.1', port))
            return True
        except OSError:
            return False


def _lab(tmp_path, *args, **env):
    ports = ('--hcloud-port', str(_free_port()), '--pve-port', str(_free_port()))
    environment = dict(os.environ, LAB_STATE_DIR=str(tmp_path / 'lab'), LAB_NETNS_PREFIX=PREFIX, LAB_TALOS_REMAP=REMAP, **env)
    return lab_command(*(args + (ports if args[0] == 'up' else ())), env=environment, timeout=240), ports, environment


def _processes_of(state_dir):
    """Pids of live processes whose command line names the lab's state directory (stand-ins and nodes do)."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                cmdline = handle.read()
            with open('/proc/%s/stat' % entry, encoding='ascii', errors='replace') as handle:
                zombie = handle.read().rpartition(')')[2].split()[0] == 'Z'
        except OSError:
            continue
        if state_dir.encode() in cmdline and not zombie:
            found.append(int(entry))
    return found


def _ours(kind):
    """Namespaces or links named with this test's prefix."""
    args = ['netns', 'list'] if kind == 'netns' else ['link', 'show']
    listed = json.loads(subprocess.run(['ip', '-j'] + args, capture_output=True, text=True, check=True).stdout or '[]')
    return [item.get('name') or item.get('ifname') for item in listed
            if (item.get('name') or item.get('ifname') or '').startswith(PREFIX)]


def test_up_failing_at_the_talos_nodes_stops_everything_it_started(tmp_path):
    state_dir = str(tmp_path / 'lab')
    proc, ports, _env = _lab(tmp_path, 'up', LAB_TALOS_READY_TIMEOUT='0')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # It got as far as the stand-ins and the nodes, and says what failed and what it stopped.
    assert 'lab up in' in proc.stdout
    assert 'did not listen on port 50000 within 0 s' in proc.stderr
    assert 'stopped everything it had started (stand-ins: hcloud (pid' in proc.stderr and 'pve (pid' in proc.stderr
    assert _processes_of(state_dir) == []
    assert _ours('netns') == [] and _ours('link') == []
    assert all(_port_free(int(port)) for port in ports[1::2])
    # Only the logs stay: no env, inventory, pid or node files for anything to mistake for a running lab.
    left = sorted(os.path.relpath(os.path.join(parent, name), state_dir)
                  for parent, _dirs, names in os.walk(state_dir) for name in names)
    assert left and all(name.endswith('.log') for name in left), left
    assert 'hcloud.log' in left and 'pve.log' in left
    assert os.path.join('talos', 'vps-0', 'node.log') in left  # the nodes had been started


def test_up_over_a_half_running_lab_starts_it_afresh(tmp_path):
    state_dir = tmp_path / 'lab'
    first, _ports, env = _lab(tmp_path, 'up', LAB_TALOS='0')
    try:
        assert first.returncode == 0, first.stderr
        pids = {name: int((state_dir / (name + '.pid')).read_text()) for name in ('hcloud', 'pve')}
        os.kill(pids['pve'], 9)  # the Proxmox stand-in dies; the Hetzner one still runs
        again = lab_command('up', '--hcloud-port', _ports[1], '--pve-port', _ports[3], env=env, timeout=240)
        assert again.returncode == 0, again.stderr
        assert 'the lab is partly running (hcloud running, pve not running, files running); removing it and starting afresh' in again.stderr, again.stderr
        new = {name: int((state_dir / (name + '.pid')).read_text()) for name in ('hcloud', 'pve')}
        assert new['hcloud'] != pids['hcloud'] and new['pve'] != pids['pve']
        assert pids['hcloud'] not in _processes_of(str(state_dir))
        assert lab_command('status', env=env).returncode == 0
    finally:
        down = lab_command('down', env=env)
    assert down.returncode == 0, down.stderr
    assert _processes_of(str(state_dir)) == []
