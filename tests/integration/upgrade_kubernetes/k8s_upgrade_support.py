"""What the Kubernetes upgrade suite shares: a lab of its own (simulated Talos nodes under the prefix ``k8u-`` and
networks 198.18.93.0/24 and 198.18.94.0/24, the Kubernetes stand-in inside them), two control planes and a worker
built with the collection's own modules (bring_up.yml) at START, and the playbook under test. A module of its own:
``conftest`` names clash across test folders."""
import json
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SIM_HELPERS = os.path.join(os.path.dirname(HERE), 'talos_sim')
if SIM_HELPERS not in sys.path:
    sys.path.insert(0, SIM_HELPERS)

from talos_lab import talos_command  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

PLAYBOOK = os.path.join(ROOT, 'playbooks', 'upgrade-kubernetes.yml')
BRING_UP = os.path.join(HERE, 'bring_up.yml')
PREFIX = 'k8u-'
REMAP = '203.0.113.0/24=198.18.93.0/24,172.31.1.1/32=198.18.93.254/32,10.10.0.0/24=198.18.94.0/24,10.11.0.0/16=10.193.0.0/16'
CONTROL_PLANES = ('vps-0', 'vps-1')
WORKERS = ('home-w-0',)
NODES = CONTROL_PLANES + WORKERS
# One minor inside what Talos 1.9 supports (1.27 to 1.32): 1.33 would be refused on the lab's v1.9.6 nodes.
START = '1.31.7'
TARGET = '1.32.4'
# A Cilium agent DaemonSet and nothing else: the lab's kubelet counts its Ready pod as the node's CNI.
CNI = {'apiVersion': 'apps/v1', 'kind': 'DaemonSet',
       'metadata': {'name': 'cilium', 'namespace': 'kube-system', 'labels': {'k8s-app': 'cilium'}},
       'spec': {'selector': {'matchLabels': {'k8s-app': 'cilium'}},
                'template': {'metadata': {'labels': {'k8s-app': 'cilium'}},
                             'spec': {'hostNetwork': True, 'tolerations': [{'operator': 'Exists'}],
                                      'containers': [{'name': 'cilium-agent', 'image': 'quay.io/cilium/cilium:v1.18.3'}]}}}}


def backup_command(state_dir, action, webdav_port=None, vault_port=None):
    """``python -m lab.backup ACTION`` for the lab in ``state_dir``: its backup remote and Vault stand-in."""
    env = dict(os.environ, LAB_STATE_DIR=state_dir)
    if webdav_port:
        env.update(LAB_WEBDAV_PORT=str(webdav_port), LAB_VAULT_PORT=str(vault_port))
    return subprocess.run([sys.executable, '-m', 'lab.backup', action], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


class K8sUpgradeLab:
    """The lab's node addresses, the inventory, the secrets, talosconfig and kubeconfig paths."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        with open(os.path.join(state_dir, 'talos-nodes.json'), encoding='utf-8') as handle:
            self.nodes = {n['name']: n for n in json.load(handle)['nodes']}
        self.secrets = os.path.join(state_dir, 'secrets.yaml')
        self.talosconfig = os.path.join(state_dir, 'talosconfig')
        self.kubeconfig = os.path.join(state_dir, 'kubeconfig')
        self.inventory = os.path.join(state_dir, 'inventory.yml')
        groups = {'talos_controlplane': CONTROL_PLANES, 'talos_worker': WORKERS}
        with open(self.inventory, 'w', encoding='utf-8') as handle:
            yaml.safe_dump({'talos': {'children': {group: {'hosts': {name: {'talos_node_ip': self.address(name)} for name in names}}
                                                   for group, names in groups.items()},
                                      'vars': {'ansible_connection': 'local'}}}, handle)

    def extra_vars(self, **values):
        """``-e`` JSON: the paths (localhost, not in the inventory, needs them too) and ``values``."""
        return json.dumps(dict(k8u_secrets=self.secrets, k8u_talosconfig=self.talosconfig, k8u_kubeconfig=self.kubeconfig,
                               **values))

    def address(self, name):
        return self.nodes[name]['address']

    def fault(self, *args):
        env = dict(os.environ, LAB_STATE_DIR=self.state_dir, LAB_NETNS_PREFIX=PREFIX, LAB_TALOS_REMAP=REMAP)
        return subprocess.run([sys.executable, '-m', 'lab', 'fault'] + list(args), cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    def api_calls(self, name, call):
        """How many times node ``name`` served ``call`` (its log has one line per call)."""
        with open(os.path.join(self.state_dir, 'talos', name, 'node.log'), encoding='utf-8', errors='replace') as handle:
            return sum(1 for line in handle if line.rstrip().endswith('api call machine.MachineService/%s' % call))

    def applies(self):
        return {name: self.api_calls(name, 'ApplyConfiguration') for name in NODES}

    # ---------------------------------------------------------------- the backup taken before the first node

    def backup_vars(self):
        """What backup.yml needs against this lab (the secrets and the admin talosconfig sit in the state folder)."""
        from lab import state  # pylint: disable=import-outside-toplevel
        env = dict(state.read_env(os.path.join(self.state_dir, 'backup', 'env')))
        return dict(talos_kubernetes_upgrade_skip_backup=False, talos_cluster_secrets_dir=self.state_dir,
                    talos_cluster_name='k8u', talos_backup_remote=env['BACKUP_REMOTE'],
                    talos_backup_rclone_config=env['RCLONE_CONFIG'], talos_backup_age_recipients=[env['BACKUP_AGE_RECIPIENT']],
                    talos_backup_retention=False)

    def backup_sets(self):
        from lab import state  # pylint: disable=import-outside-toplevel
        base = os.path.join(dict(state.read_env(os.path.join(self.state_dir, 'backup', 'env')))['LAB_BACKUP_REMOTE_DIR'], 'k8u')
        return sorted(os.listdir(base)) if os.path.isdir(base) else []
