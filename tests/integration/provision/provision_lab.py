"""What the provisioning tests share: the empty lab's plan, its handle, and a laptop-style playbook run.

The Hetzner stand-in hands out public addresses from 198.18.15.0/25 and the home VMs get static addresses in
198.18.16.0/24 (an address block reserved for tests), so the hybrid inventory and the nodes agree on every
address, beside the main lab.
"""
import importlib.util
import json
import os
import time

import yaml

from lab import state
from lab.control import HcloudControl

HERE = os.path.dirname(os.path.abspath(__file__))
# The playbook runner of tests/integration/conftest.py, loaded by path: `import conftest` would find another one.
_SPEC = importlib.util.spec_from_file_location('integration_conftest', os.path.join(HERE, os.pardir, 'conftest.py'))
integration = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(integration)

PREFIX = 'tpv-'
HOME_NET, HOME_GW = '198.18.16.0/24', '198.18.16.1'
VPS_GW = '198.18.15.254'

VPS_POOL = '198.18.15.0/25'


def _machines():
    """examples/lab-machines.yml (what make demo builds), moved into this lab's networks."""
    with open(os.path.join(ROOT, 'examples', 'lab-machines.yml'), encoding='utf-8') as handle:
        plan = yaml.safe_load(handle)
    home = plan['proxmox_nodes_subnet'].rsplit('.', 2)[0]  # 10.10 of 10.10.0.0/24
    plan['hcloud_nodes_admin_cidrs'] = [VPS_GW + '/32']
    plan['proxmox_nodes_subnet'], plan['proxmox_nodes_gateway'] = HOME_NET, HOME_GW
    plan['talos_cluster_maintenance_networks'] = [HOME_NET]  # the Hetzner pool stays outside, as on the internet
    for vm in plan['proxmox_nodes_vms']:
        vm['ip'] = vm['ip'].replace(home + '.0.', '198.18.16.')
    return plan


class EmptyLab:
    """The lab's env (credentials for the roles and the inventory), its files and its machines vars file."""

    def __init__(self, state_dir, env, cli_env):
        self.state_dir = state_dir
        self.env = env
        self.cli_env = cli_env  # what `python -m lab ...` needs to find this lab (its state folder, prefix, ports)
        self.inventory = os.path.join(state_dir, 'hybrid.yml')
        self.machines = os.path.join(state_dir, 'machines.yml')
        with open(self.machines, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(MACHINES, handle)
        self.control = HcloudControl(env['LAB_HCLOUD_CONTROL'])

    def nodes(self):
        return {n['name']: n for n in state.read_json('talos-nodes.json', state_dir=self.state_dir)['nodes']}

    def node_dir(self, name):
        return os.path.join(self.state_dir, 'talos', name)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SITE = os.path.join(ROOT, 'playbooks', 'site.yml')
LAB_VARS = os.path.join(ROOT, 'examples', 'lab-vars.yml')


def run(runner, playbook, lab, secrets_dir, *args, **extra_vars):
    """``ansible-playbook PLAYBOOK`` as an operator runs it from a laptop: lab vars, the machines, the hybrid inventory."""
    cli = ['-e', '@' + LAB_VARS, '-e', '@' + lab.machines, '-e', 'talos_cluster_secrets_dir=' + secrets_dir]
    for key, value in extra_vars.items():
        cli += ['-e', json.dumps({key: value})]
    return runner(playbook, *(cli + list(args)), inventory=lab.inventory, env=lab.env)


def wait_for(check, timeout=90, what='condition'):
    """Poll ``check`` until it returns something true (returned), backing off to 2 s; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %d s waiting for %s' % (timeout, what))
        time.sleep(delay)
        delay = min(2.0, delay * 1.5)


def total_changed(result):
    return sum(host.get('changed', 0) for host in result.stats.values())


def changed_tasks(result):
    return ['%s / %s' % (host, task['task']['name']) for play in result.data.get('plays', [])
            for task in play.get('tasks', []) for host, res in task['hosts'].items() if res.get('changed')]


def once(result, task_name):
    """The result of a run_once task, from whichever host ran it."""
    for play in result.data.get('plays', []):
        for task in play.get('tasks', []):
            name = task['task']['name']
            if (name == task_name or name.endswith(' : ' + task_name)) and task['hosts']:
                return next(iter(task['hosts'].values()))
    raise AssertionError('no task named %r ran: %r' % (task_name, result))


MACHINES = _machines()
