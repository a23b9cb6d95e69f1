"""make bench-site: converge the 5-node lab with site.yml from nothing, then rerun it (the no-op).

Starts a lab of its own (state in .cache/bench-site-lab, free ports, namespace prefix bsl-, node
networks moved into 198.18.0.0/15), writes a static inventory of its nodes, runs
``playbooks/site.yml`` twice and prints wall times, tasks per host, Talos API calls per node (counted
from the simulated nodes' logs) and the final line

    RESULT site converge_s=<s> noop_s=<s> noop_changed=<n>

Target: noop_s <= 30 on this machine, noop_changed == 0. Exits 1 when a target is missed.
"""
import argparse
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
STATE = os.path.join(ROOT, '.cache', 'bench-site-lab')
REMAP = '203.0.113.0/24=198.18.31.0/24,172.31.1.1/32=198.18.31.254/32,10.10.0.0/24=198.18.32.0/24,10.11.0.0/16=10.131.0.0/16'
NOOP_TARGET_S = 30.0


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def lab(*args, env):
    return subprocess.run([sys.executable, '-m', 'lab'] + list(args), cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False, timeout=300)


def write_inventory(path):
    with open(os.path.join(STATE, 'talos-nodes.json'), encoding='utf-8') as handle:
        nodes = json.load(handle)['nodes']
    groups = {}
    for node in nodes:
        groups.setdefault('talos_%s' % node['role'], {}).setdefault('hosts', {})[node['name']] = {
            'talos_node_ip': node['address'], 'talos_role': node['role'], 'talos_site': node['site']}
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump({'talos': {'children': groups, 'vars': {'ansible_connection': 'local'}}}, handle)
    return [node['name'] for node in nodes]


def api_calls(names):
    """Talos API calls seen so far by each node, from its log."""
    counts = {}
    for name in names:
        path = os.path.join(STATE, 'talos', name, 'node.log')
        with open(path, encoding='utf-8', errors='replace') as handle:
            counts[name] = sum(1 for line in handle if ' api call ' in line)
    return counts


def site(inventory, secrets):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.venv', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    command = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, os.path.join(ROOT, 'playbooks', 'site.yml'),
               '-e', '@' + os.path.join(ROOT, 'examples', 'lab-vars.yml'), '-e', 'talos_cluster_secrets_dir=' + secrets]
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=1200)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit('bench-site: site.yml failed (rc %d):\n%s' % (proc.returncode, proc.stdout[-3000:] + proc.stderr[-2000:]))
    data = json.loads(proc.stdout[proc.stdout.index('{'):])
    tasks = collections.Counter()
    for play in data['plays']:
        for task in play['tasks']:
            for host in task['hosts']:
                tasks[host] += 1
    changed = sum(stats['changed'] for stats in data['stats'].values())
    return seconds, changed, tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench-site: the lab needs root (network namespaces)')
    env = dict(os.environ, LAB_STATE_DIR=STATE, LAB_HCLOUD_PORT=str(free_port()), LAB_PVE_PORT=str(free_port()),
               LAB_NETNS_PREFIX='bsl-', LAB_TALOS_REMAP=REMAP)
    lab('down', env=env)
    up = lab('up', env=env)
    if up.returncode != 0:
        sys.exit('bench-site: python -m lab up failed: %s' % (up.stderr or up.stdout))
    try:
        inventory = os.path.join(STATE, 'inventory.yml')
        names = write_inventory(inventory)
        secrets = os.path.join(STATE, 'secrets')
        shutil.rmtree(secrets, ignore_errors=True)
        converge_s, converge_changed, converge_tasks = site(inventory, secrets)
        calls_converge = api_calls(names)
        noop_s, noop_changed, noop_tasks = site(inventory, secrets)
        calls_total = api_calls(names)
    finally:
        lab('down', env=env)
    print('%-10s %14s %12s %16s %12s' % ('host', 'tasks:converge', 'tasks:noop', 'api calls:conv.', 'api calls:noop'))
    for name in names:
        print('%-10s %14d %12d %16d %12d' % (name, converge_tasks[name], noop_tasks[name], calls_converge[name],
                                             calls_total[name] - calls_converge[name]))
    print('converge: %.1f s, %d changed; no-op rerun: %.1f s, %d changed' % (converge_s, converge_changed, noop_s, noop_changed))
    print('RESULT site converge_s=%.1f noop_s=%.1f noop_changed=%d' % (converge_s, noop_s, noop_changed))
    if noop_changed or noop_s > NOOP_TARGET_S:
        sys.exit(1)


if __name__ == '__main__':
    main()
