"""Checks of planned nodes: names, static addresses, Hetzner server types (pure logic)."""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils import _nodeplan as plan

DEPRECATION = {'announced': '2025-10-16T06:00:00+00:00', 'unavailable_after': '2027-01-01T00:00:00+00:00'}


def stype(name, cores, memory, deprecated=False, arch='x86', cpu='shared', locations=None):
    return {'name': name, 'cores': cores, 'memory': memory, 'architecture': arch, 'cpu_type': cpu,
            'deprecation': DEPRECATION if deprecated else None, 'locations': locations or []}


CATALOG = [
    stype('cpx31', 4, 8.0, deprecated=True), stype('cpx32', 4, 8.0), stype('cx33', 4, 8.0),
    stype('cpx42', 8, 16.0), stype('cax21', 4, 8.0, arch='arm'), stype('ccx13', 2, 8.0, cpu='dedicated'),
    stype('cx22', 2, 4.0, deprecated=True), stype('cx52', 16, 32.0, deprecated=True),
    stype('cpx22', 2, 4.0, locations=[{'name': 'fsn1', 'deprecation': None}, {'name': 'ash', 'deprecation': DEPRECATION}]),
]


def test_deprecated_type_names_same_family_alternative():
    assert plan.server_type_problem(CATALOG, 'cpx31') == (
        'server type cpx31 is deprecated by Hetzner and will be removed; use cpx32 instead.')


def test_alternative_keeps_architecture_and_cpu_type_and_size():
    assert plan.server_type_alternative(CATALOG, 'cx22') in ('cpx22',)
    assert plan.server_type_problem(CATALOG, 'cx52') == (
        'server type cx52 is deprecated by Hetzner and will be removed; no current type of that size exists.')


def test_current_type_has_no_problem():
    assert plan.server_type_problem(CATALOG, 'cpx32') == ''


def test_unknown_type_lists_current_ones():
    message = plan.server_type_problem(CATALOG, 'cpx99')
    assert message.startswith('server type cpx99 does not exist in the Hetzner catalog; current types: ')
    assert 'cpx31' not in message and 'cpx32' in message


def test_deprecated_only_in_one_location():
    assert plan.server_type_problem(CATALOG, 'cpx22', 'fsn1') == ''
    assert 'deprecated' in plan.server_type_problem(CATALOG, 'cpx22', 'ash')


GUESTS = [
    {'vmid': 9000, 'name': 'talos-template', 'node': 'pve1', 'template': 1, 'tags': 'talos-template'},
    {'vmid': 9001, 'name': 'talos-template-b', 'node': 'pve2', 'template': 1, 'tags': 'other;talos-template'},
    {'vmid': 9002, 'name': 'not-a-template', 'node': 'pve3', 'template': 0, 'tags': 'talos-template'},
    {'vmid': 101, 'name': 'home-cp-0', 'node': 'pve1', 'template': 0, 'tags': 'talos-controlplane'},
]
NODES_PVE = ['pve1', 'pve2', 'pve3']


def vm_problems(vms, storage='local-zfs'):
    return plan.proxmox_vm_problems(vms, GUESTS, NODES_PVE, ['local', 'local-zfs'], storage, 'talos-template')


def test_templates_per_node_by_tag():
    assert plan.proxmox_templates(GUESTS, 'talos-template') == {'pve1': 'talos-template', 'pve2': 'talos-template-b'}


def test_good_vms_and_existing_vm_with_its_own_vmid():
    assert vm_problems([{'name': 'w', 'node': 'pve2', 'vmid': 200}, {'name': 'home-cp-0', 'node': 'pve1', 'vmid': 101}]) == []


@pytest.mark.parametrize('vm,storage,message', [
    ({'name': 'w', 'node': 'pve9', 'vmid': 200}, 'local-zfs', 'VM w: PVE node pve9 does not exist; nodes: pve1, pve2, pve3.'),
    ({'name': 'w', 'node': 'pve3', 'vmid': 200}, 'local-zfs', 'VM w: PVE node pve3 has no template tagged talos-template'),
    ({'name': 'w', 'node': 'pve1', 'vmid': 101}, 'local-zfs', 'VM w: VMID 101 already belongs to VM home-cp-0.'),
    ({'name': 'home-cp-0', 'node': 'pve1', 'vmid': 300}, 'local-zfs', 'VM home-cp-0 already exists with VMID 101, not 300.'),
    ({'name': 'w', 'node': 'pve1', 'vmid': 200}, 'tank', 'storage tank does not exist; storages: local, local-zfs.'),
])
def test_vm_problems_named(vm, storage, message):
    problems = vm_problems([vm], storage)
    assert any(message in p for p in problems), problems
