"""The PVE stand-in's access store (lab/pve_access.py) without a server: what a token holds, PVE's errors, cascades."""
import asyncio

import pytest
from fakepve.model import PveError

from lab.pve import seed
from lab.pve_resize import LabPve

FIVE = 'VM.Audit,VM.Config.Disk,Datastore.Allocate,Datastore.AllocateSpace,Datastore.Audit'
TOKENS = {'root@pam!lab': 'r', 'auditor@pve!inventory': 'a'}


@pytest.fixture
def pve():
    served = LabPve()
    seed(served, dict(TOKENS), 'auditor@pve', empty=True)
    return served


def call(handler, **values):
    return asyncio.run(handler(values, 'root@pam!lab'))


def csi_user(pve, privsep):
    call(pve._role_create, roleid='CSI', privs=FIVE)
    call(pve._user_create, userid='kubernetes-csi@pve')
    call(pve._acl_update, path='/', users='kubernetes-csi@pve', roles='CSI')
    return call(pve._token_create, userid='kubernetes-csi@pve', tokenid='csi', privsep=privsep)


def test_a_token_without_privilege_separation_holds_its_users_privileges_and_no_more(pve):
    answer = csi_user(pve, 0)
    assert answer['full-tokenid'] == 'kubernetes-csi@pve!csi' and answer['info']['privsep'] == 0
    assert pve.apitokens['kubernetes-csi@pve!csi'] == answer['value']
    token = 'kubernetes-csi@pve!csi'
    assert pve.allowed(token, '/storage/local-zfs', 'Datastore.AllocateSpace')
    assert pve.allowed(token, '/vms/101', 'VM.Config.Disk')
    assert not pve.allowed(token, '/vms/101', 'VM.Allocate') and not pve.allowed(token, '/access', 'Sys.Modify')


def test_a_separated_token_holds_only_what_both_it_and_its_user_are_granted(pve):
    csi_user(pve, 1)
    token = 'kubernetes-csi@pve!csi'
    assert not pve.allowed(token, '/storage/local-zfs', 'Datastore.AllocateSpace')
    call(pve._acl_update, path='/storage', tokens=token, roles='PVEAuditor')
    assert pve.allowed(token, '/storage/local-zfs', 'Datastore.Audit')
    assert not pve.allowed(token, '/storage/local-zfs', 'Datastore.AllocateSpace')


@pytest.mark.parametrize('handler, values, message', [
    ('_role_create', {'roleid': 'PVEAuditor'}, "role 'PVEAuditor' already exists"),
    ('_role_create', {'roleid': 'X', 'privs': 'VM.Fly'}, "invalid privilege 'VM.Fly'"),
    ('_role_update', {'roleid': 'PVEAuditor', 'privs': 'VM.Audit'}, "auto-generated role 'PVEAuditor' cannot be modified"),
    ('_role_delete', {'roleid': 'Nope'}, "role 'Nope' does not exist"),
    ('_user_create', {'userid': 'someone@nowhere'}, "auth domain 'nowhere' does not exist"),
    ('_user_create', {'userid': 'auditor@pve'}, "user 'auditor@pve' already exists"),
    ('_user_read', {'userid': 'nobody@pve'}, "no such user ('nobody@pve')"),
    ('_token_read', {'userid': 'auditor@pve', 'tokenid': 'nope'}, "no such token 'nope' for user 'auditor@pve'"),
    ('_token_create', {'userid': 'auditor@pve', 'tokenid': 'inventory'}, 'Token already exists.'),
    ('_acl_update', {'path': '/', 'users': 'nobody@pve', 'roles': 'PVEAuditor'}, "user 'nobody@pve' does not exist"),
])
def test_errors_are_pves(pve, handler, values, message):
    with pytest.raises(PveError) as raised:
        call(getattr(pve, handler), **values)
    assert raised.value.status == 500 and raised.value.message == message


def test_deleting_the_user_removes_its_tokens_and_acl_entries_and_deleting_a_role_its_entries(pve):
    csi_user(pve, 0)
    call(pve._user_delete, userid='kubernetes-csi@pve')
    assert 'kubernetes-csi@pve!csi' not in pve.apitokens
    assert [e['ugid'] for e in call(pve._acl_list)] == ['auditor@pve', 'auditor@pve!inventory']
    call(pve._role_create, roleid='Temp', privs='VM.Audit')
    call(pve._acl_update, path='/', users='auditor@pve', roles='Temp')
    call(pve._role_delete, roleid='Temp')
    assert all(e['roleid'] != 'Temp' for e in call(pve._acl_list))


def test_role_privileges_read_as_pve_shows_them(pve):
    call(pve._role_create, roleid='CSI', privs=FIVE)
    assert call(pve._role_read, roleid='CSI') == dict.fromkeys(sorted(FIVE.split(',')), 1)
    listed = next(r for r in call(pve._roles_list) if r['roleid'] == 'CSI')
    assert listed == {'roleid': 'CSI', 'special': 0, 'privs': ','.join(sorted(FIVE.split(',')))}
    call(pve._role_update, roleid='CSI', privs='VM.Allocate', append=1)
    assert 'VM.Allocate' in call(pve._role_read, roleid='CSI')


def test_the_seed_says_whether_the_nodes_are_clustered():
    clustered, standalone = LabPve(), LabPve()
    seed(clustered, dict(TOKENS), 'auditor@pve', empty=True)
    seed(standalone, dict(TOKENS), 'auditor@pve', empty=True, standalone=True)
    assert clustered.clustered and sorted(clustered.nodes) == ['pve1', 'pve2']
    assert not standalone.clustered and sorted(standalone.nodes) == ['pve1']
    assert [v.name for v in standalone.vms] == ['talos-template']
