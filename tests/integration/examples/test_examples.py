"""Every file under examples/ runs as its comments say: the inventories against the lab, site.yml included."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.lab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VENV_BIN = os.path.dirname(sys.executable)

EXAMPLES = os.path.join(ROOT, 'examples')
SEED = {'vps-0': '203.0.113.1', 'vps-1': '203.0.113.2', 'home-cp-0': '10.10.0.10', 'home-w-0': '10.10.0.20',
        'home-w-1': '10.10.0.21'}
# Each example file and the test that runs it; a new example needs a test here.
COVERED = {'inventory/seed.yml': 'test_seed_inventory_converges_the_lab_with_site_yml',
           'inventory/prod.hybrid.yml': 'test_hybrid_source_reads_the_lab_with_credentials_from_the_environment',
           'lab-vars.yml': 'test_seed_inventory_converges_the_lab_with_site_yml',
           'lab-machines.yml': 'test_lab_machines_is_the_plan_the_provisioning_tests_build'}


def _inventory(source, env=None):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.venv', 'collections'), **(env or {}))
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-inventory'), '-i', source, '--list'], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _value(value):
    """A host variable as text: the plugin's values come marked unsafe (``{"__ansible_unsafe": ...}``)."""
    return value['__ansible_unsafe'] if isinstance(value, dict) and '__ansible_unsafe' in value else value


def _talos_view(listing):
    """{host: (role, site, address)} and the members of the Talos groups."""
    hostvars = listing['_meta']['hostvars']
    hosts = {name: tuple(_value(values[key]) for key in ('talos_role', 'talos_site', 'talos_node_ip'))
             for name, values in hostvars.items() if 'talos_role' in values}
    groups = {name: sorted(listing.get(name, {}).get('hosts', [])) for name in ('talos_controlplane', 'talos_worker')}
    return hosts, groups


def test_every_example_file_has_a_test():
    found = sorted(os.path.relpath(os.path.join(parent, name), EXAMPLES)
                   for parent, _dirs, names in os.walk(EXAMPLES) for name in names)
    assert found == sorted(COVERED)
    assert all(test in globals() for test in COVERED.values())


def test_seed_inventory_has_what_the_roles_read():
    hosts, groups = _talos_view(_inventory(os.path.join(EXAMPLES, 'inventory', 'seed.yml')))
    assert {name: address for name, (_role, _site, address) in hosts.items()} == SEED
    assert groups == {'talos_controlplane': ['home-cp-0', 'vps-0', 'vps-1'], 'talos_worker': ['home-w-0', 'home-w-1']}
    assert {name: role for name, (role, _site, _address) in hosts.items()} == {
        name: 'controlplane' if name in groups['talos_controlplane'] else 'worker' for name in SEED}


def test_hybrid_source_reads_the_lab_with_credentials_from_the_environment(lab_env):
    env = {'HCLOUD_TOKEN': lab_env['HCLOUD_TOKEN_READONLY'], 'HCLOUD_ENDPOINT': lab_env['HCLOUD_ENDPOINT'],
           'PROXMOX_URL': lab_env['PROXMOX_URL'], 'PROXMOX_USER': lab_env['PROXMOX_AUDITOR_USER'],
           'PROXMOX_TOKEN_ID': lab_env['PROXMOX_AUDITOR_TOKEN_ID'],
           'PROXMOX_TOKEN_SECRET': lab_env['PROXMOX_AUDITOR_TOKEN_SECRET'], 'PROXMOX_CA_FILE': lab_env['PROXMOX_CA_FILE']}
    hybrid, _groups = _talos_view(_inventory(os.path.join(EXAMPLES, 'inventory', 'prod.hybrid.yml'), env))
    seed, _groups = _talos_view(_inventory(os.path.join(EXAMPLES, 'inventory', 'seed.yml')))
    assert hybrid == seed  # the static example describes exactly what the plugin finds


def test_seed_inventory_converges_the_lab_with_site_yml(lab_env, run_playbook):
    # The seeded main lab starts its Hetzner servers unconfigured at their public addresses (as if made without
    # user data, which provision.yml never does): only here may they take a first config in maintenance mode.
    networks = json.dumps({'talos_cluster_maintenance_networks': ['10.10.0.0/16', '10.11.0.0/16', '203.0.113.0/24']})
    run = run_playbook(os.path.join(ROOT, 'playbooks', 'site.yml'), '-e', '@' + os.path.join(EXAMPLES, 'lab-vars.yml'),
                       '-e', networks, inventory=os.path.join(EXAMPLES, 'inventory', 'seed.yml'), timeout=900)
    assert run.rc == 0, run
    assert sorted(host for host in run.stats if host in SEED) == sorted(SEED)
    assert all(run.stats[host]['failures'] == 0 and run.stats[host]['unreachable'] == 0 for host in SEED)


def test_lab_machines_is_the_plan_the_provisioning_tests_build():
    """make demo builds examples/lab-machines.yml in the main lab; tests/integration/provision builds the same plan,
    moved into its own networks, from empty stand-ins (and checks the machines, nodes and firewall it makes)."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    path = os.path.join(ROOT, 'tests', 'integration', 'provision', 'provision_lab.py')
    spec = importlib.util.spec_from_file_location('provision_lab_for_examples', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(EXAMPLES, 'lab-machines.yml'), encoding='utf-8') as handle:
        plan = yaml.safe_load(handle)
    moved = module.MACHINES
    assert [(s['name'], s['role']) for s in plan['hcloud_nodes_servers']] == [(s['name'], s['role']) for s in moved['hcloud_nodes_servers']]
    assert [(v['name'], v['role'], v['vmid'], v['ip'].rsplit('.', 1)[1]) for v in plan['proxmox_nodes_vms']] == [
        (v['name'], v['role'], v['vmid'], v['ip'].rsplit('.', 1)[1]) for v in moved['proxmox_nodes_vms']]
