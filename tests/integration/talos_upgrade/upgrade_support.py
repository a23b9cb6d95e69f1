"""What the upgrade tests share: a simulator-only lab of their own (no Kubernetes, no cloud stand-ins beyond
what ``python -m lab.talos up`` needs), three control planes and one worker, and a talosconfig for them.
A module of its own: ``conftest`` names clash across test folders."""
import base64
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
# The simulator suite's helpers (test-time PKI, configs, lab command) are reused, not copied.
SIM_HELPERS = os.path.join(os.path.dirname(HERE), 'talos_sim')
if SIM_HELPERS not in sys.path:
    sys.path.insert(0, SIM_HELPERS)

from talos_lab import Cluster, talos_command  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

PLAYBOOK = os.path.join(ROOT, 'playbooks', 'upgrade-talos.yml')
PREFIX = 'upg-'
REMAP = '203.0.113.0/24=198.18.91.0/24,172.31.1.1/32=198.18.91.254/32,10.10.0.0/24=198.18.92.0/24,10.11.0.0/16=10.191.0.0/16'
REBOOT_SECONDS = 1.0
CONTROL_PLANES = ('vps-0', 'vps-1', 'home-cp-0')
WORKERS = ('home-w-0',)
START = 'v1.9.6'
TARGET = 'v1.9.7'
IMAGE = 'ghcr.io/siderolabs/installer:%s' % TARGET


def lab_env(state_dir):
    return dict(os.environ, LAB_STATE_DIR=state_dir, LAB_NETNS_PREFIX=PREFIX, LAB_TALOS_REMAP=REMAP)


class UpgradeLab:
    """The lab's nodes, an inventory and a talosconfig for them, and a client per node."""

    def __init__(self, state_dir, cluster):
        self.state_dir, self.cluster = state_dir, cluster
        with open(os.path.join(state_dir, 'talos-nodes.json'), encoding='utf-8') as handle:
            self.nodes = {n['name']: n for n in json.load(handle)['nodes']}
        self.talosconfig = os.path.join(state_dir, 'talosconfig')
        creds = cluster.credentials()
        context = {'endpoints': [self.address(n) for n in CONTROL_PLANES], 'nodes': [],
                   'ca': base64.b64encode(creds.ca).decode(), 'crt': base64.b64encode(creds.crt).decode(),
                   'key': base64.b64encode(creds.key).decode()}
        with open(os.open(self.talosconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
            yaml.safe_dump({'context': 'upgrade', 'contexts': {'upgrade': context}}, handle)
        self.inventory = os.path.join(state_dir, 'inventory.yml')
        groups = {'talos_controlplane': CONTROL_PLANES, 'talos_worker': WORKERS}
        with open(self.inventory, 'w', encoding='utf-8') as handle:
            yaml.safe_dump({'talos': {'children': {group: {'hosts': {name: {'talos_node_ip': self.address(name)} for name in names}}
                                                   for group, names in groups.items()},
                                      'vars': {'ansible_connection': 'local'}}}, handle)

    def address(self, name):
        return self.nodes[name]['address']

    def client(self, name):
        return self.cluster.client(self.address(name))

    def version(self, name):
        with self.client(name) as client:
            return client.version().version.tag

    def versions(self):
        return {name: self.version(name) for name in CONTROL_PLANES + WORKERS}

    def api_calls(self, name, call):
        """How many times node ``name`` served ``call`` (its log has one line per call)."""
        with open(os.path.join(self.state_dir, 'talos', name, 'node.log'), encoding='utf-8', errors='replace') as handle:
            return sum(1 for line in handle if line.rstrip().endswith('api call machine.MachineService/%s' % call))

    def fault(self, *args):
        import subprocess  # pylint: disable=import-outside-toplevel
        return subprocess.run([sys.executable, '-m', 'lab', 'fault'] + list(args), cwd=ROOT, env=lab_env(self.state_dir),
                              capture_output=True, text=True, timeout=60, check=False)
