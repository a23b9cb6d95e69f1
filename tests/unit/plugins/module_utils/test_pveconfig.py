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
