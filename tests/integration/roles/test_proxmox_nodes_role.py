"""hybridops.talos.proxmox_nodes against the Proxmox stand-in, through the real community.proxmox modules."""
import pytest
from proxmoxer import ProxmoxAPI

pytestmark = pytest.mark.lab

VMS = [
    {'name': 'it-home-w-5', 'role': 'worker', 'node': 'pve2', 'vmid': 205, 'ip': '10.10.0.55',
     'cores': 2, 'memory': 4096, 'disk_size': 20},
    {'name': 'it-home-cp-5', 'role': 'controlplane', 'node': 'pve1', 'vmid': 206, 'ip': '10.10.0.56'},
]


def play(vms=None, **extra):
    role_vars = {'proxmox_nodes_vms': VMS if vms is None else vms}
    role_vars.update(extra)
    return [{'name': 'provision', 'hosts': 'localhost', 'gather_facts': False,
             'roles': [{'role': 'hybridops.talos.proxmox_nodes', 'vars': role_vars}]}]


def pve(env):
    user = env['PROXMOX_USER']
    return ProxmoxAPI(env['PROXMOX_HOST'], port=int(env['PROXMOX_PORT']), user=user,
                      token_name=env['PROXMOX_TOKEN_ID'], token_value=env['PROXMOX_TOKEN_SECRET'],
                      verify_ssl=env['PROXMOX_CA_FILE'])


def guests(api):
    """What a write would change, without the counters (uptime, cpu) that move on their own."""
    keys = ('vmid', 'node', 'status', 'template', 'tags', 'maxmem', 'maxcpu', 'maxdisk')
    return {vm['name']: {k: vm.get(k) for k in keys} for vm in api.cluster.resources.get(type='vm')}


def test_create_then_unchanged_and_check_mode_honest(run_playbook, private_lab):
    api = pve(private_lab)
    before = guests(api)
    check = run_playbook(play(), '--check', env=private_lab)
    assert check.rc == 0, check.stdout[-3000:]
    assert check.changed() > 0
    assert guests(api) == before, 'check mode changed the PVE cluster'

    first = run_playbook(play(), env=private_lab)
    assert first.rc == 0, first.stdout[-3000:]
    after = guests(api)
    worker = api.nodes('pve2').qemu(205).config.get()
    assert after['it-home-w-5']['node'] == 'pve2' and after['it-home-w-5']['status'] == 'running'
    assert (str(worker['cores']), str(worker['memory'])) == ('2', '4096')
    assert worker['tags'] == 'talos-worker'
    assert worker['ipconfig0'] == 'ip=10.10.0.55/24,gw=10.10.0.1'
    assert str(worker['agent']).split(',', maxsplit=1)[0] in ('1', 'enabled=1')
    assert 'local-zfs:' in worker['scsi0'] and 'size=20G' in worker['scsi0']
    cp = api.nodes('pve1').qemu(206).config.get()
    assert cp['tags'] == 'talos-controlplane' and 'size=40G' in cp['scsi0']
    assert str(cp['cores']) == '4' and str(cp['memory']) == '8192'

    second = run_playbook(play(), env=private_lab)
    assert second.rc == 0 and second.changed() == 0, second.stdout[-3000:]
    # The inventory's forms of the credentials work too: the full token ID and no PROXMOX_USER.
    inventory_style = dict(private_lab, PROXMOX_TOKEN_ID='%s!%s' % (private_lab['PROXMOX_USER'],
                                                                    private_lab['PROXMOX_TOKEN_ID']),
                           PROXMOX_USER='', PROXMOX_HOST='', PROXMOX_PORT='')
    again = run_playbook(play(), '--check', env=inventory_style)
    assert again.rc == 0 and again.changed() == 0, again

    # Drift made outside Ansible is put back, and only the drifted key is touched. (Tags change at
    # once on a running VM; CPU and memory changes would wait in PVE's pending section.)
    api.nodes('pve2').qemu(205).config.put(tags='talos-controlplane')
    drift_check = run_playbook(play(), '--check', json_output=False, env=private_lab)
    assert 'would set tags of VM it-home-w-5' in drift_check.stdout
    assert api.nodes('pve2').qemu(205).config.get()['tags'] == 'talos-controlplane'
    fixed = run_playbook(play(), env=private_lab)
    assert fixed.rc == 0 and fixed.changed() == 1
    assert api.nodes('pve2').qemu(205).config.get()['tags'] == 'talos-worker'


BAD = [
    ({'vms': [dict(VMS[0], node='pve9')]}, 'VM it-home-w-5: PVE node pve9 does not exist; nodes: pve1, pve2.'),
    ({'vms': [dict(VMS[0], vmid=101)]}, 'VM it-home-w-5: VMID 101 already belongs to VM home-cp-0.'),
    ({'vms': [dict(VMS[0], name='home-w-0', vmid=299)]}, 'VM home-w-0 already exists with VMID 102, not 299.'),
    ({'vms': [VMS[0], dict(VMS[1], vmid=205)]}, 'VMID 205, 205 is planned for more than one VM.'),
    ({'vms': [VMS[0], dict(VMS[1], ip='10.10.0.55')]}, 'nodes it-home-w-5 and it-home-cp-5 share the address 10.10.0.55.'),
    ({'vms': [dict(VMS[0], ip='192.168.9.9')]}, 'outside the subnet 10.10.0.0/24'),
    ({'proxmox_nodes_storage': 'tank'}, 'storage tank does not exist; storages:'),
    ({'proxmox_nodes_template_tag': 'nothing'}, 'has no template tagged nothing'),
    ({'proxmox_nodes_api_token_secret': ''}, 'missing Proxmox credentials: proxmox_nodes_api_token_secret'),
    ({'proxmox_nodes_api_url': ''}, 'missing Proxmox credentials: proxmox_nodes_api_url (or PROXMOX_URL).'),
    ({'proxmox_nodes_api_url': 'https://127.0.0.1:8006/pve'},
     "proxmox_nodes_api_url (PROXMOX_URL) must be https://host or https://host:port: community.proxmox takes no "
     "credentials, path or query in it, got 'https://127.0.0.1:8006/pve'."),
    ({'proxmox_nodes_api_token_id': 'other@pve!ansible'},
     "proxmox_nodes_api_token_id (PROXMOX_TOKEN_ID) 'other@pve!ansible' belongs to other@pve, not to"),
    ({'vms': []}, 'proxmox_nodes_vms is empty'),
    ({'vms': [dict(VMS[0], role='master')]}, 'value of role must be one of: controlplane, worker'),
]


@pytest.mark.parametrize('args,message', BAD, ids=[m[:40] for _a, m in BAD])
def test_bad_input_fails_before_any_write(run_playbook, private_lab, args, message):
    args = dict(args)
    vms = args.pop('vms', None)
    api = pve(private_lab)
    before = guests(api)
    run = run_playbook(play(vms, **args), json_output=False, env=private_lab)
    assert run.rc != 0
    assert message in run.stdout, run.stdout[-3000:]
    assert guests(api) == before
