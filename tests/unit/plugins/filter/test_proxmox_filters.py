"""The proxmox_nodes role's filters as Jinja sees them: registered names, results and one-sentence errors."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hybridops.talos.plugins.filter import proxmox_api_options, proxmox_vm_state


def test_the_filters_are_registered_under_their_plugin_names():
    assert proxmox_vm_state.FilterModule().filters() == {'proxmox_vm_state': proxmox_vm_state.proxmox_vm_state}
    assert proxmox_api_options.FilterModule().filters() == {
        'proxmox_api_options': proxmox_api_options.proxmox_api_options}


def test_vm_state_errors_become_filter_errors():
    vm = {'name': 'home-w-0', 'role': 'worker', 'node': 'pve1', 'vmid': 102, 'ip': '10.10.0.20'}
    settings = {'cores': 4, 'memory': 8192, 'disk': 'scsi0', 'disk_size': 40, 'role_tags': {'worker': 'talos-worker'},
                'extra_tags': [], 'subnet': '10.10.0.0/24', 'gateway': '10.10.0.1', 'nameserver': '10.10.0.1'}
    with pytest.raises(AnsibleFilterError, match='VM home-w-0 has no disk scsi0'):
        proxmox_vm_state.proxmox_vm_state(vm, {'config': {}}, settings)
    with pytest.raises(AnsibleFilterError, match="lack 'gateway'"):
        proxmox_vm_state.proxmox_vm_state(vm, {'config': {'scsi0': 'x:1,size=40G'}},
                                          {k: v for k, v in settings.items() if k != 'gateway'})


@pytest.mark.parametrize('url, user, token_id, expected', [
    ('https://pve.example.org:8006', 'provision@pve', 'ansible', ('pve.example.org', 8006, 'provision@pve', 'ansible')),
    ('https://pve.example.org', 'provision@pve', 'ansible', ('pve.example.org', 8006, 'provision@pve', 'ansible')),
    ('https://10.0.0.5:443/', '', 'provision@pve!ansible', ('10.0.0.5', 443, 'provision@pve', 'ansible')),
    ('https://pve:8006/api2/json', 'provision@pve', 'provision@pve!ansible', ('pve', 8006, 'provision@pve', 'ansible')),
])
def test_api_options_from_the_inventorys_url_and_token_forms(url, user, token_id, expected):
    options = proxmox_api_options.proxmox_api_options(url, user, token_id)
    assert (options['api_host'], options['api_port'], options['api_user'], options['api_token_id']) == expected


@pytest.mark.parametrize('url, user, token_id, message', [
    ('pve.example.org:8006', 'u@pve', 't',
     "proxmox_nodes_api_url (PROXMOX_URL) must be an https:// URL such as https://pve.example.org:8006, "
     "got 'pve.example.org:8006'."),
    ('http://pve:8006', 'u@pve', 't', 'must be an https:// URL'),
    ('https://pve:notaport', 'u@pve', 't', 'must be an https:// URL'),
    ('https://pve/pve/', 'u@pve', 't', 'community.proxmox takes no credentials, path or query in it'),
    ('https://root:pw@pve', 'u@pve', 't', "takes no credentials, path or query in it, got 'https://***@pve'."),
    ('http://root:pw@pve', 'u@pve', 't',
     "must be an https:// URL such as https://pve.example.org:8006, got 'http://***@pve'."),
    ('https://pve', 'u@pve', 'other@pve!t',
     "proxmox_nodes_api_token_id (PROXMOX_TOKEN_ID) 'other@pve!t' belongs to other@pve, not to "
     "proxmox_nodes_api_user (PROXMOX_USER) u@pve."),
    ('https://pve', '', 't', 'the Proxmox API token needs a user and a name'),
    ('https://pve', 'u@pve', 'u@pve!', 'the Proxmox API token needs a user and a name'),
])
def test_api_options_refuse_what_community_proxmox_cannot_use(url, user, token_id, message):
    with pytest.raises(AnsibleFilterError) as caught:
        proxmox_api_options.proxmox_api_options(url, user, token_id)
    assert message in str(caught.value)
    assert 'root:pw' not in str(caught.value)  # a password in the URL is never echoed
