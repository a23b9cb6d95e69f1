"""Comparing a Proxmox VM's stored configuration with the desired one (pure logic)."""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils import _pveconfig as pve

STORED = {'cores': '4', 'memory': '8192', 'tags': 'talos-worker;lab', 'agent': '1',
          'ipconfig0': 'ip=10.10.0.20/24,gw=10.10.0.1', 'nameserver': '10.10.0.1',
          'scsi0': 'local-zfs:vm-102-disk-0,iothread=1,size=32G'}
DESIRED = {'cores': 4, 'memory': 8192, 'tags': ['lab', 'talos-worker'], 'agent': True,
           'ipconfig0': 'ip=10.10.0.20/24,gw=10.10.0.1', 'nameserver': '10.10.0.1'}


def test_same_config_in_other_spelling_has_no_difference():
    assert pve.config_diff(STORED, DESIRED) == {}
    assert pve.config_diff(dict(STORED, tags='lab,talos-worker', agent='enabled=1,fstrim_cloned_disks=1'), DESIRED) == {}


@pytest.mark.parametrize('key,value', [
    ('cores', 8), ('memory', 4096), ('tags', ['talos-controlplane']), ('agent', False),
    ('ipconfig0', 'ip=10.10.0.21/24,gw=10.10.0.1'), ('nameserver', '1.1.1.1'),
])
def test_each_difference_is_reported_alone(key, value):
    assert pve.config_diff(STORED, dict(DESIRED, **{key: value})) == {key: value}


def test_missing_config_reports_everything():
    assert pve.config_diff({}, DESIRED) == DESIRED


@pytest.mark.parametrize('disk,size', [
    ('local-zfs:vm-1-disk-0,size=32G', 32), ('local-zfs:vm-1-disk-0,iothread=1,size=1T', 1024),
    ('local-zfs:vm-1-disk-0,size=512M', 0.5), ('local-zfs:vm-1-disk-0', None), (None, None),
])
def test_disk_size(disk, size):
    assert pve.disk_size_gib(disk) == size


def test_ipconfig0_from_address_with_or_without_prefix():
    assert pve.ipconfig0('10.10.0.5', 24, '10.10.0.1') == 'ip=10.10.0.5/24,gw=10.10.0.1'
    assert pve.ipconfig0('10.10.0.5/16', 24, '10.10.0.1') == 'ip=10.10.0.5/24,gw=10.10.0.1'


SETTINGS = {'cores': 4, 'memory': 8192, 'disk': 'scsi0', 'disk_size': 40,
            'role_tags': {'controlplane': 'talos-controlplane', 'worker': 'talos-worker'}, 'extra_tags': ['lab'],
            'subnet': '10.10.0.0/24', 'gateway': '10.10.0.1', 'nameserver': '10.10.0.1'}
WORKER = {'name': 'home-w-0', 'role': 'worker', 'node': 'pve1', 'vmid': 102, 'ip': '10.10.0.20'}


def test_desired_config_takes_the_vms_own_values_over_the_defaults():
    assert pve.desired_config(WORKER, SETTINGS) == DESIRED | {'tags': ['talos-worker', 'lab']}
    own = pve.desired_config(dict(WORKER, cores=2, memory=4096, tags=['lab', 'gpu']), SETTINGS)
    assert (own['cores'], own['memory'], own['tags']) == (2, 4096, ['talos-worker', 'lab', 'gpu'])
    # A key present with None (an argument spec fills absent options so) also means "the default".
    assert pve.desired_config(dict(WORKER, cores=None), SETTINGS)['cores'] == 4


def test_desired_address_takes_the_prefix_of_the_subnet():
    wide = pve.desired_config(dict(WORKER, ip='10.10.3.4/24'), dict(SETTINGS, subnet='10.10.0.0/16'))
    assert wide['ipconfig0'] == 'ip=10.10.3.4/16,gw=10.10.0.1'


def test_vm_as_planned_needs_nothing():
    state = pve.vm_state(WORKER, {'status': 'running', 'config': dict(STORED, scsi0='local-zfs:vm-102,size=40G')},
                         SETTINGS)
    assert state == {'name': 'home-w-0', 'vmid': 102, 'node': 'pve1', 'status': 'running', 'changes': {},
                     'disk_gib': 40, 'want_disk_gib': 40, 'grow_disk': False}


@pytest.mark.parametrize('size,grow,have', [
    ('32G', True, 32), ('40G', False, 40), ('41G', False, 41), ('1T', False, 1024), ('40960M', False, 40),
    ('39936M', True, 39), ('41943040K', False, 40), ('2.5G', True, 2.5),
])
def test_the_disk_grows_only_when_smaller_whatever_unit_pve_wrote(size, grow, have):
    config = dict(STORED, scsi0='local-zfs:vm-102-disk-0,iothread=1,size=%s' % size)
    state = pve.vm_state(WORKER, {'status': 'stopped', 'config': config}, SETTINGS)
    assert (state['grow_disk'], state['disk_gib'], state['want_disk_gib']) == (grow, have, 40)


def test_the_vms_own_disk_size_wins_and_drift_is_reported():
    config = dict(STORED, scsi0='local-zfs:vm-102-disk-0,size=20G', cores='2')
    state = pve.vm_state(dict(WORKER, disk_size=20), {'config': config}, SETTINGS)
    assert state['grow_disk'] is False and state['status'] == 'unknown'
    assert state['changes'] == {'cores': 4}


def test_a_vm_without_the_system_disk_is_an_error_naming_its_disks():
    config = dict(STORED, virtio0='local-zfs:vm-102-disk-0,size=40G')
    del config['scsi0']
    with pytest.raises(ValueError, match=r'^VM home-w-0 has no disk scsi0 with a size \(proxmox_nodes_disk\); '
                                         r'its disks: virtio0\.$'):
        pve.vm_state(WORKER, {'config': config}, SETTINGS)
    with pytest.raises(ValueError, match='its disks: none'):
        pve.vm_state(WORKER, None, SETTINGS)
