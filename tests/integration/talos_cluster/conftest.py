"""A full lab of its own (stand-ins and five simulated Talos nodes) for the site.yml tests.

It runs beside the main lab: own state directory and ports, its own namespace prefix, and the node
networks remapped into 198.18.0.0/15 (an address block reserved for benchmarks and tests), so the
addresses come from the lab's node list and the inventory is written from it.
"""
import json
import os
import socket

import pytest
import yaml

from lab_fixtures import lab_command
from lab import state

REMAPS = {
    'tca-': '203.0.113.0/24=198.18.11.0/24,172.31.1.1/32=198.18.11.254/32,10.10.0.0/24=198.18.12.0/24,10.11.0.0/16=10.111.0.0/16',
    'tcb-': '203.0.113.0/24=198.18.13.0/24,172.31.1.1/32=198.18.13.254/32,10.10.0.0/24=198.18.14.0/24,10.11.0.0/16=10.112.0.0/16',
}


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class TalosLab:
    """One private lab: its env, its nodes, and a static inventory of them."""

    def __init__(self, state_dir, env):
        self.state_dir = state_dir
        self.env = env
        with open(os.path.join(state_dir, 'talos-nodes.json'), encoding='utf-8') as handle:
            self.nodes = {n['name']: n for n in json.load(handle)['nodes']}
        self.inventory = os.path.join(state_dir, 'inventory.yml')
        hosts = {role: {n['name']: {'talos_node_ip': n['address'], 'talos_role': role, 'talos_site': n['site']}
                        for n in self.nodes.values() if n['role'] == role} for role in ('controlplane', 'worker')}
        with open(self.inventory, 'w', encoding='utf-8') as handle:
            yaml.safe_dump({'talos': {'children': {'talos_controlplane': {'hosts': hosts['controlplane']},
                                                   'talos_worker': {'hosts': hosts['worker']}},
                                      'vars': {'ansible_connection': 'local'}}}, handle)

    @property
    def kubernetes_endpoint(self):
        """What examples/lab-vars.yml sets talos_cluster_endpoint to: the address of the Hetzner control plane vps-0."""
        return 'https://%s:6443' % self.address('vps-0')

    def address(self, name):
        return self.nodes[name]['address']


@pytest.fixture(scope='module')
def talos_lab(tmp_path_factory, request):
    if os.geteuid() != 0:
        pytest.skip('the lab needs root')
    prefix = getattr(request.module, 'LAB_PREFIX', 'tca-')
    state_dir = str(tmp_path_factory.mktemp('talos-lab'))
    env = dict(os.environ, LAB_STATE_DIR=state_dir, LAB_HCLOUD_PORT=str(_free_port()), LAB_PVE_PORT=str(_free_port()),
               LAB_NETNS_PREFIX=prefix, LAB_TALOS_REMAP=REMAPS[prefix], LAB_TALOS_REBOOT_SECONDS='1',
               # Talos refreshes KubeSpan statuses every 30 s; 5 s keeps site.yml's wait for a fresh mesh short
               # and puts a refresh between any two readings 35 s apart, even on a loaded machine.
               LAB_TALOS_KUBESPAN_REFRESH='5')
    proc = lab_command('up', env=env, timeout=180)
    if proc.returncode != 0:
        lab_command('down', env=env)
        pytest.fail('python -m lab up failed: %s' % (proc.stderr or proc.stdout))
    try:
        yield TalosLab(state_dir, dict(state.read_env(os.path.join(state_dir, 'env'))))
    finally:
        lab_command('down', env=env)
