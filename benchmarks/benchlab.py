"""What the lab benchmarks share: a private lab (own state folder, free ports, own namespace prefix and
networks), a static inventory of its Talos nodes, and site.yml runs with their JSON results."""
import collections
import json
import os
import socket
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class PrivateLab:
    """``python -m lab`` with a state folder, ports, namespace prefix and networks of its own,
    so that a lab running for tests or the demo is left alone."""

    def __init__(self, state, prefix, remap, **extra_env):
        self.state = state
        self.env = dict(os.environ, LAB_STATE_DIR=state, LAB_HCLOUD_PORT=str(free_port()), LAB_PVE_PORT=str(free_port()),
                        LAB_NETNS_PREFIX=prefix, LAB_TALOS_REMAP=remap, **extra_env)

    def run(self, *args, timeout=300):
        return subprocess.run([sys.executable, '-m', 'lab'] + list(args), cwd=ROOT, env=self.env, capture_output=True,
                              text=True, check=False, timeout=timeout)

    def up(self, *args, name='bench'):
        self.run('down')
        proc = self.run('up', *args)
        if proc.returncode != 0:
            sys.exit('%s: python -m lab up failed: %s' % (name, proc.stderr or proc.stdout))

    def down(self):
        self.run('down')

    def nodes(self):
        with open(os.path.join(self.state, 'talos-nodes.json'), encoding='utf-8') as handle:
            return json.load(handle)['nodes']

    def write_inventory(self, path):
        """A static inventory of the Talos nodes (groups talos_controlplane / talos_worker); their names."""
        nodes = self.nodes()
        groups = {}
        for node in nodes:
            groups.setdefault('talos_%s' % node['role'], {}).setdefault('hosts', {})[node['name']] = {
                'talos_node_ip': node['address'], 'talos_role': node['role'], 'talos_site': node['site']}
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump({'talos': {'children': groups, 'vars': {'ansible_connection': 'local'}}}, handle)
        return [node['name'] for node in nodes]


def ansible_env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.venv', 'collections'),
                ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
                PATH=BIN + os.pathsep + os.environ.get('PATH', ''))


def playbook(name, inventory, *args, timeout=1200):
    """Run ansible-playbook with the JSON callback; (seconds, parsed output). Exits on failure."""
    command = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory] + list(args)
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, check=False, timeout=timeout)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit('%s: ansible-playbook failed (rc %d):\n%s' % (name, proc.returncode, proc.stdout[-3000:] + proc.stderr[-2000:]))
    return seconds, json.loads(proc.stdout[proc.stdout.index('{'):])


def site(name, inventory, secrets, *args):
    """playbooks/site.yml with the lab's variables; (seconds, changed, tasks per host, parsed output)."""
    seconds, data = playbook(name, inventory, os.path.join(ROOT, 'playbooks', 'site.yml'),
                             '-e', '@' + os.path.join(ROOT, 'examples', 'lab-vars.yml'),
                             '-e', 'talos_cluster_secrets_dir=' + secrets, *args)
    tasks = collections.Counter()
    for play in data['plays']:
        for task in play['tasks']:
            for host in task['hosts']:
                tasks[host] += 1
    changed = sum(stats['changed'] for stats in data['stats'].values())
    return seconds, changed, tasks, data


def task_result(data, task_name):
    """The result of the (run_once) task named ``task_name`` in a playbook's JSON output."""
    for play in data['plays']:
        for task in play['tasks']:
            if task['task']['name'].split(' : ')[-1] == task_name and task['hosts']:
                return next(iter(task['hosts'].values()))
    raise KeyError(task_name)
