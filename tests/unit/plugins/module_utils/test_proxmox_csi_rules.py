"""The pure rules of the Proxmox CSI access: privilege diffs, storage checks, the cluster check, config.yaml, tokens."""
import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils import _proxmox_csi as csi
from ansible_collections.hybridops.talos.plugins.module_utils._pve_api import PveError, token_parts

FIVE = {'VM.Audit', 'VM.Config.Disk', 'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.Audit'}
STORAGES = [{'storage': 'local-zfs', 'type': 'zfspool', 'content': 'images,rootdir'},
            {'storage': 'local', 'type': 'dir', 'content': 'iso,vztmpl,backup'},
            {'storage': 'backup', 'type': 'pbs', 'content': 'backup'},
            {'storage': 'share', 'type': 'cifs', 'content': 'images'},
            {'storage': 'ceph', 'type': 'rbd', 'content': 'images'}]


def test_the_role_holds_exactly_the_five_privileges_of_the_plugins_install_docs():
    assert set(csi.PRIVILEGES) == FIVE and len(csi.PRIVILEGES) == 5


@pytest.mark.parametrize('current, add, remove', [
    (None, sorted(FIVE), []),
    (FIVE, [], []),
    (FIVE - {'Datastore.Audit'} | {'VM.Allocate'}, ['Datastore.Audit'], ['VM.Allocate']),
    (set(), sorted(FIVE), []),
])
def test_the_privilege_diff_names_what_to_add_and_remove(current, add, remove):
    assert csi.privilege_diff(current) == {'add': add, 'remove': remove}


@pytest.mark.parametrize('answer', [
    {'VM.Audit': 1, 'VM.Config.Disk': 1, 'Datastore.Allocate': 1, 'Datastore.AllocateSpace': 1, 'Datastore.Audit': 1,
     'VM.Allocate': 0},
    'VM.Audit,VM.Config.Disk,Datastore.Allocate,Datastore.AllocateSpace,Datastore.Audit',
    'VM.Audit VM.Config.Disk Datastore.Allocate Datastore.AllocateSpace Datastore.Audit',
])
def test_privileges_read_from_every_form_pve_answers_in(answer):
    assert csi.split_privileges(answer) == FIVE


@pytest.mark.parametrize('storages', [['local-zfs'], ['local-zfs', 'ceph']])
def test_supported_storages_holding_images_pass(storages):
    csi.check_storages(storages, STORAGES)


@pytest.mark.parametrize('storage, reason, words', [
    ('nowhere', 'missing_storage', ['nowhere does not exist', 'local-zfs']),
    ('backup', 'unsupported_storage', ['backup is of type pbs']),
    ('share', 'unsupported_storage', ['share is of type cifs']),
    ('local', 'unsupported_storage', ['local (dir) does not hold disk images']),
])
def test_a_storage_the_plugin_cannot_use_is_refused_in_one_sentence_naming_it(storage, reason, words):
    with pytest.raises(csi.CsiError) as raised:
        csi.check_storages(['local-zfs', storage], STORAGES)
    assert raised.value.reason == reason and raised.value.failure['storage'] == storage
    message = raised.value.message
    assert message.endswith('nothing was written.') and '\n' not in message
    assert all(word in message for word in words), message


def test_no_storage_at_all_is_refused():
    with pytest.raises(csi.CsiError, match='storages is empty'):
        csi.check_storages([], STORAGES)


CLUSTER = [{'type': 'cluster', 'name': 'home', 'nodes': 2}, {'type': 'node', 'name': 'pve1'}, {'type': 'node', 'name': 'pve2'}]
STANDALONE = [{'type': 'node', 'name': 'pve1', 'nodeid': 0, 'local': 1}]


def test_the_region_defaults_to_the_cluster_name():
    assert csi.check_clustered(CLUSTER, None) == 'home'
    assert csi.check_clustered(CLUSTER, 'home') == 'home'


def test_a_region_other_than_the_cluster_name_is_refused():
    with pytest.raises(csi.CsiError, match='region elsewhere is not the name of the PVE cluster'):
        csi.check_clustered(CLUSTER, 'elsewhere')


def test_a_node_that_never_joined_a_cluster_is_refused_with_the_way_out():
    with pytest.raises(csi.CsiError) as raised:
        csi.check_clustered(STANDALONE, 'home')
    assert raised.value.reason == 'not_clustered' and 'pvecm create' in raised.value.message and 'pve1' in raised.value.message


def test_config_yaml_is_the_plugins_cluster_list_and_reads_back():
    text = csi.render_config('https://pve.example.org:8006/api2/json', False, 'kubernetes-csi@pve!csi', 'sec-ret', 'home')
    assert yaml.safe_load(text) == {'clusters': [{'url': 'https://pve.example.org:8006/api2/json', 'insecure': False,
                                                  'token_id': 'kubernetes-csi@pve!csi', 'token_secret': 'sec-ret',
                                                  'region': 'home'}]}
    assert csi.read_config(text)['token_id'] == 'kubernetes-csi@pve!csi'


@pytest.mark.parametrize('text', ['', 'not: [valid', 'clusters: []', 'clusters: nope', '- a'])
def test_what_is_no_config_reads_as_none(text):
    assert csi.read_config(text) is None


TOKEN_ID = 'kubernetes-csi@pve!csi'


@pytest.mark.parametrize('token, stored, expected', [
    (None, None, (True, False)),
    ({'tokenid': 'csi'}, None, (True, True)),
    ({'tokenid': 'csi'}, {'token_id': 'other@pve!csi', 'token_secret': 'x'}, (True, True)),
    ({'tokenid': 'csi'}, {'token_id': TOKEN_ID, 'token_secret': ''}, (True, True)),
    ({'tokenid': 'csi'}, {'token_id': TOKEN_ID, 'token_secret': 'x'}, (False, False)),
])
def test_a_token_whose_secret_is_not_in_the_secret_is_made_again(token, stored, expected):
    create, recreate, why = csi.token_verdict(token, stored, TOKEN_ID)
    assert (create, recreate) == expected
    assert (why is None) == (not create)
    if recreate:
        assert 'only when it creates it' in why


def test_the_token_user_comes_from_the_full_id_or_api_user():
    assert token_parts(None, 'root@pam!ansible') == ('root@pam', 'ansible')
    assert token_parts('root@pam', 'ansible') == ('root@pam', 'ansible')
    with pytest.raises(PveError, match='belongs to other@pve'):
        token_parts('root@pam', 'other@pve!x')
    with pytest.raises(PveError, match='needs a user and a name'):
        token_parts(None, 'ansible')
