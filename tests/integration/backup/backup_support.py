"""What the backup tests share: the lab (BackupLab), its networks and how playbooks get their variables.
A module of its own: ``conftest`` names clash across test folders."""

import json
import os
import socket
import subprocess
import sys

import yaml

from lab import state

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PREFIX = 'bkp-'
REMAP = '203.0.113.0/24=198.18.71.0/24,172.31.1.1/32=198.18.71.254/32,10.10.0.0/24=198.18.72.0/24,10.11.0.0/16=10.171.0.0/16'
SITE = os.path.join(ROOT, 'playbooks', 'site.yml')
LAB_VARS = os.path.join(ROOT, 'examples', 'lab-vars.yml')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class BackupLab:
    """The lab's nodes, a static inventory of them, the backup services' env and the cluster's secrets."""

    def __init__(self, state_dir, env):
        self.state_dir, self.env = state_dir, env
        with open(os.path.join(state_dir, 'talos-nodes.json'), encoding='utf-8') as handle:
            self.nodes = {n['name']: n for n in json.load(handle)['nodes']}
        self.inventory = os.path.join(state_dir, 'inventory.yml')
        hosts = {role: {n['name']: {'talos_node_ip': n['address'], 'talos_role': role, 'talos_site': n['site']}
                        for n in self.nodes.values() if n['role'] == role} for role in ('controlplane', 'worker')}
        with open(self.inventory, 'w', encoding='utf-8') as handle:
            yaml.safe_dump({'talos': {'children': {'talos_controlplane': {'hosts': hosts['controlplane']},
                                                   'talos_worker': {'hosts': hosts['worker']}},
                                      'vars': {'ansible_connection': 'local'}}}, handle)
        self.secrets_dir = os.path.join(state_dir, 'secrets')
        self.backup = dict(state.read_env(os.path.join(state_dir, 'backup', 'env')))

    @property
    def controlplanes(self):
        return sorted(n for n, node in self.nodes.items() if node['role'] == 'controlplane')

    def address(self, name):
        return self.nodes[name]['address']

    def node_dir(self, name):
        return os.path.join(self.state_dir, 'talos', name)

    def talos(self, *args):
        """``python -m lab.talos ARGS`` for this lab (stop NODE, up ...)."""
        return subprocess.run([sys.executable, '-m', 'lab.talos'] + list(args), cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)

    def api_calls(self, name, call):
        """How many times node ``name`` served ``call`` (its log has one line per call)."""
        with open(os.path.join(self.node_dir(name), 'node.log'), encoding='utf-8', errors='replace') as handle:
            return sum(1 for line in handle if line.rstrip().endswith('api call machine.MachineService/%s' % call))

    def backup_vars(self, **extra):
        """Extra vars for backup.yml / restore.yml against this lab's remote."""
        values = dict(talos_cluster_name='lab', talos_cluster_secrets_dir=self.secrets_dir, talos_cluster_talos_version='v1.9.6',
                      talos_backup_remote=self.backup['BACKUP_REMOTE'], talos_backup_rclone_config=self.backup['RCLONE_CONFIG'],
                      talos_backup_age_recipients=[self.backup['BACKUP_AGE_RECIPIENT']],
                      talos_backup_vault_address=self.backup['VAULT_ADDR'], talos_backup_vault_ca_file=self.backup['VAULT_CACERT'],
                      talos_restore_remote=self.backup['BACKUP_REMOTE'], talos_restore_rclone_config=self.backup['RCLONE_CONFIG'],
                      talos_restore_age_identity=self.backup['BACKUP_AGE_IDENTITY'], talos_restore_wait_timeout=180)
        values.update(extra)
        return values

    def credentials_env(self, **extra):
        """The environment a credential injects (as AWX does): the Vault token."""
        return dict(VAULT_TOKEN=self.backup['VAULT_TOKEN'], **extra)

    def remote_sets(self):
        """{set folder: sorted file names} on the remote's disk."""
        base = os.path.join(self.backup['LAB_BACKUP_REMOTE_DIR'], 'lab')
        if not os.path.isdir(base):
            return {}
        return {name: sorted(os.path.relpath(os.path.join(d, f), os.path.join(base, name))
                             for d, _dirs, files in os.walk(os.path.join(base, name)) for f in files)
                for name in sorted(os.listdir(base))}


def extra_vars(values):
    """``-e`` arguments, one JSON object per variable (lists and dicts keep their types)."""
    args = []
    for key, value in values.items():
        args += ['-e', json.dumps({key: value})]
    return args


def task_result(run, name, host='localhost'):
    """The result of the task called ``name`` (role tasks are listed as ``role : name``) in a playbook run."""
    for play in run.data.get('plays', []):
        for entry in play.get('tasks', []):
            if entry['task']['name'].split(' : ')[-1] == name and host in entry['hosts']:
                return entry['hosts'][host]
    raise AssertionError('no task %r ran: %r' % (name, run))
