"""The Proxmox VE stand-in (fakepve) as the lab seeds it, driven by `proxmoxer` over verified TLS."""
import pytest
import requests
from proxmoxer import ResourceException

from lab_fixtures import proxmox

pytestmark = pytest.mark.lab

SEED = {'home-cp-0': ('talos-controlplane', '10.10.0.10'), 'home-w-0': ('talos-worker', '10.10.0.20'),
        'home-w-1': ('talos-worker', '10.10.0.21')}


def test_two_nodes_and_a_zfs_storage(pve_root):
    nodes = sorted(n['node'] for n in pve_root.nodes.get())
    assert nodes[:2] == ['pve1', 'pve2']
    for node in nodes:
        storages = dict((s['storage'], s) for s in pve_root.nodes(node).storage.get())
        assert storages['local-zfs']['type'] == 'zfspool' and storages['local-zfs']['active'] == 1
    assert pve_root.storage('local-zfs').get()['pool'] == 'rpool/data'


def test_talos_template_is_a_template(pve_auditor):
    guests = pve_auditor.cluster.resources.get(type='vm')
    templates = [g for g in guests if g['template'] == 1]
    assert {t['node'] for t in templates} == {'pve1', 'pve2'}
    assert all('talos-template' in t['tags'].split(';') for t in templates)


def test_seed_vms_run_with_tags_and_static_addresses(pve_auditor):
    guests = dict((g['name'], g) for g in pve_auditor.cluster.resources.get(type='vm'))
    for name, (tag, address) in SEED.items():
        guest = guests[name]
        assert guest['status'] == 'running' and guest['template'] == 0
        assert guest['tags'] == tag
        config = pve_auditor.nodes(guest['node']).qemu(guest['vmid']).config.get()
        assert config['ipconfig0'] == 'ip=%s/24,gw=10.10.0.1' % address
        assert config['scsi0'].startswith('local-zfs:') and config['agent'] == '1'
    assert guests['home-w-1']['node'] == 'pve2'


def test_guest_agent_is_silent_as_in_maintenance_mode(pve_auditor):
    with pytest.raises(ResourceException) as caught:
        pve_auditor.nodes('pve1').qemu(101).agent('network-get-interfaces').get()
    assert 'guest agent is not running' in str(caught.value)


def test_auditor_token_reads_but_cannot_write(pve_auditor):
    assert pve_auditor.access.permissions.get()['/'].keys() >= {'VM.Audit', 'Sys.Audit', 'Datastore.Audit'}
    assert 'VM.Allocate' not in pve_auditor.access.permissions.get()['/']
    with pytest.raises(ResourceException) as caught:
        pve_auditor.nodes('pve1').qemu(101).config.put(description='not allowed')
    assert caught.value.status_code == 403


def test_root_token_clones_the_template_onto_zfs(pve_root):
    vmid = int(pve_root.cluster.nextid.get())
    upid = pve_root.nodes('pve1').qemu(9000).clone.post(newid=vmid, name='lab-clone-test', full=1, storage='local-zfs')
    try:
        status = pve_root.nodes('pve1').tasks(upid).status.get()
        assert status['status'] == 'stopped' and status['exitstatus'] == 'OK'
        config = pve_root.nodes('pve1').qemu(vmid).config.get()
        assert config['scsi0'].startswith('local-zfs:vm-%d-disk-0' % vmid)
        assert config['tags'] == 'talos-template'
    finally:
        pve_root.nodes('pve1').qemu(vmid).delete()


def test_tls_is_verified_against_the_lab_ca(lab_env):
    # Without the lab CA the system bundle (REQUESTS_CA_BUNDLE on this machine) cannot verify the stand-in.
    with pytest.raises(requests.exceptions.SSLError):
        proxmox(lab_env, 'PROXMOX_USER', 'PROXMOX_TOKEN_ID', 'PROXMOX_TOKEN_SECRET', verify_ssl=True).version.get()


def test_wrong_token_secret_is_refused(lab_env):
    env = dict(lab_env, PROXMOX_TOKEN_SECRET='00000000-0000-0000-0000-000000000000')
    with pytest.raises(ResourceException) as caught:
        proxmox(env).version.get()
    assert caught.value.status_code == 401
